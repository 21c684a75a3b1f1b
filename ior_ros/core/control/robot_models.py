"""
Discrete-time robot models with a network delay.

Two loops are covered (see ``docs/reference/delay-robust-lmi.md`` §2 and seed 003 §IV-B):

* **input (network) delay**, the default: the remote controller's command reaches the actuator
  ``d(k)`` samples late, ``x(k+1) = A x(k) + B u(k)`` with ``u(k) = -K x(k - d(k))``, so the loop
  is ``x(k+1) = A0 x(k) + A1 x(k - d(k))`` with ``A0 = A`` and ``A1 = -B K``;
* **the seed's state delay** (seed 003 eq. 15), ``x(k+1) = A x(k) + A_d x(k - T_d) + B u(k)`` with
  ``u(k) = -K x(k)``: ``A0 = A - B K`` and ``A1 = A_d``.

The reference robot is a planar base modelled as two decoupled double integrators (acceleration
input) discretised with a zero-order hold at the sampling period ``T_s`` (default 10 ms)::

    A = I_2 ⊗ [[1, T_s], [0, 1]],   B = I_2 ⊗ [[T_s² / 2], [T_s]],   x = (p_x, v_x, p_y, v_y).

This is the exact input-output linearisation of a differential-drive (unicycle) base by dynamic
extension: with heading θ and speed v as states and (a, ω) as inputs,
``[p̈_x, p̈_y] = [[cos θ, -v sin θ], [sin θ, v cos θ]] [a, ω]``, invertible for v ≠ 0. The unicycle
functions below convert between the two and give the heading and the path curvature used by the
dexterity index (seed 003 eq. 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ior_ros.core.errors import DimensionError, ModelError

__all__ = ['DelayForm', 'DelayedPlant', 'DelayLoop', 'planar_double_integrator',
           'double_integrator_axis', 'seed_state_delay_plant', 'check_gain', 'as_matrix',
           'validate_delay_steps', 'validate_sample_period', 'split_identical_axes', 'AxisSplit',
           'UnicycleInputs', 'PathGeometry', 'path_geometry', 'unicycle_inputs',
           'unicycle_step']

FloatArray = npt.NDArray[np.float64]


class DelayForm(str, Enum):
    """Where the network delay acts."""

    INPUT = 'input'
    """On the command: ``u(k) = -K x(k - d(k))`` (teleoperation over a network)."""
    STATE = 'state'
    """On a state term, seed 003 eq. 15: ``x(k+1) = (A - BK) x(k) + A_d x(k - T_d)``."""


def as_matrix(value: object, name: str) -> FloatArray:
    """
    A finite 2-D float array (a copy); a 1-D input is read as a row vector.

    Raises:
        DimensionError: not 1-D or 2-D, or empty.
        ModelError: NaN or infinite entries.
    """
    try:
        array = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise ModelError(f'{name} must be a numeric matrix, got {value!r}') from None
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.size == 0:
        raise DimensionError(f'{name} must be a non-empty 2-D matrix, got shape {array.shape}')
    if not np.all(np.isfinite(array)):
        raise ModelError(f'{name} has NaN or infinite entries')
    return array


def validate_sample_period(sample_period_s: float) -> float:
    """Return ``sample_period_s`` as a float; ModelError unless it is finite and > 0."""
    value = float(sample_period_s)
    if not math.isfinite(value) or value <= 0.0:
        raise ModelError(f'sample_period_s = {sample_period_s!r}: must be a finite number > 0 s')
    return value


def validate_delay_steps(value: object, name: str = 'max_delay_steps') -> int:
    """Return a delay in samples as an int; ModelError unless it is an integer >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise ModelError(f'{name} = {value!r}: must be an integer number of samples >= 0')
    if int(value) < 0:
        raise ModelError(f'{name} = {value!r}: a delay cannot be negative (allowed: integer >= 0)')
    return int(value)


class DelayLoop(NamedTuple):
    """The closed loop ``x(k+1) = A0 x(k) + A1 x(k - d(k))``."""

    A0: FloatArray  # [n, n]
    A1: FloatArray  # [n, n]


@dataclass(frozen=True, eq=False)
class DelayedPlant:
    """
    A discrete-time linear plant and where the network delay acts.

    ``x(k+1) = A x(k) + A_d x(k - d) + B u(k)``; ``A_d`` is used only in the state-delay form.

    Attributes:
        A: state matrix ``[n, n]``.
        B: input matrix ``[n, m]``.
        sample_period_s: sampling period ``T_s`` [s].
        delay_form: input (network) delay or the seed's state delay.
        A_d: delayed-state matrix ``[n, n]`` (state-delay form only).

    Raises:
        DimensionError: A not square, B with a row count other than A's, A_d not shaped like A
            (the message names the matrices and both shapes).
        ModelError: sampling period <= 0, non-finite entries, state form without A_d.
    """

    A: FloatArray
    B: FloatArray
    sample_period_s: float = 0.01
    delay_form: DelayForm = DelayForm.INPUT
    A_d: FloatArray | None = None

    def __post_init__(self) -> None:
        a = as_matrix(self.A, 'A')
        if a.shape[0] != a.shape[1]:
            raise DimensionError(f'A must be square, got shape {a.shape}')
        b = as_matrix(self.B, 'B')
        if b.shape[0] == 1 and a.shape[0] > 1 and b.shape[1] == a.shape[0]:
            raise DimensionError(f'B shape {b.shape} does not match A shape {a.shape}: '
                                 f'B needs {a.shape[0]} rows (a column vector for one input)')
        if b.shape[0] != a.shape[0]:
            raise DimensionError(f'B shape {b.shape} does not match A shape {a.shape}: '
                                 f'B needs {a.shape[0]} rows')
        form = DelayForm(self.delay_form)
        a_d: FloatArray | None = None
        if self.A_d is not None:
            a_d = as_matrix(self.A_d, 'A_d')
            if a_d.shape != a.shape:
                raise DimensionError(f'A_d shape {a_d.shape} does not match A shape {a.shape}')
        if form is DelayForm.STATE and a_d is None:
            raise ModelError('the state-delay form (seed 003 eq. 15) needs A_d')
        for array in (a, b, a_d):
            if array is not None:
                array.setflags(write=False)
        object.__setattr__(self, 'A', a)
        object.__setattr__(self, 'B', b)
        object.__setattr__(self, 'A_d', a_d)
        object.__setattr__(self, 'delay_form', form)
        object.__setattr__(self, 'sample_period_s', validate_sample_period(self.sample_period_s))

    @property
    def n_states(self) -> int:
        """State dimension n."""
        return int(self.A.shape[0])

    @property
    def n_inputs(self) -> int:
        """Input dimension m."""
        return int(self.B.shape[1])

    def closed_loop(self, gain: object) -> DelayLoop:
        """
        ``(A0, A1)`` of the loop closed by ``u = -K x`` (see the module docstring).

        Raises:
            DimensionError: K is not ``[m, n]``.
        """
        k = check_gain(self, gain)
        if self.delay_form is DelayForm.INPUT:
            return DelayLoop(self.A.copy(), -self.B @ k)
        assert self.A_d is not None  # guaranteed by __post_init__
        return DelayLoop(self.A - self.B @ k, self.A_d.copy())

    def to_dict(self) -> dict[str, object]:
        """JSON form: ``{"A", "B", "sample_period_s", "delay"[, "A_d"]}``."""
        doc: dict[str, object] = {'A': self.A.tolist(), 'B': self.B.tolist(),
                                  'sample_period_s': self.sample_period_s,
                                  'delay': self.delay_form.value}
        if self.A_d is not None:
            doc['A_d'] = self.A_d.tolist()
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, object]) -> DelayedPlant:
        """Inverse of :meth:`to_dict` (ModelError naming a missing key)."""
        for key in ('A', 'B', 'sample_period_s'):
            if key not in doc:
                raise ModelError(f"plant description has no '{key}'")
        delay = str(doc.get('delay', 'input'))
        try:
            form = DelayForm(delay)
        except ValueError:
            raise ModelError(f"plant 'delay' = {delay!r}: allowed 'input' or 'state'") from None
        period = doc['sample_period_s']
        if not isinstance(period, (int, float)):
            raise ModelError(f'plant sample_period_s = {period!r}: must be a number')
        return cls(as_matrix(doc['A'], 'A'), as_matrix(doc['B'], 'B'), float(period), form,
                   as_matrix(doc['A_d'], 'A_d') if doc.get('A_d') is not None else None)


def check_gain(plant: DelayedPlant, gain: object) -> FloatArray:
    """
    The gain as a ``[m, n]`` float matrix; DimensionError naming K, A and B shapes otherwise.
    """
    k = as_matrix(gain, 'K')
    expected = (plant.n_inputs, plant.n_states)
    if k.shape != expected:
        raise DimensionError(f'K shape {k.shape} does not match A shape {plant.A.shape} and '
                             f'B shape {plant.B.shape}: expected K of shape {expected}')
    return k


def double_integrator_axis(sample_period_s: float = 0.01) -> tuple[FloatArray, FloatArray]:
    """
    One axis ``(position, velocity)`` with acceleration input, ZOH-discretised.

    ``A = [[1, T], [0, 1]]``, ``B = [[T²/2], [T]]`` (exact for a piecewise-constant input).
    """
    t = validate_sample_period(sample_period_s)
    a = np.array([[1.0, t], [0.0, 1.0]])  # [2, 2]
    b = np.array([[0.5 * t * t], [t]])  # [2, 1]
    return a, b


def planar_double_integrator(sample_period_s: float = 0.01, axes: int = 2) -> DelayedPlant:
    """
    The reference teleoperated base: ``axes`` decoupled double integrators, input delay.

    State ``(p_x, v_x, p_y, v_y)`` [m, m/s, m, m/s]; input ``(a_x, a_y)`` [m/s²].
    """
    if isinstance(axes, bool) or not isinstance(axes, int) or axes < 1:
        raise ModelError(f'axes = {axes!r}: must be an integer >= 1')
    a, b = double_integrator_axis(sample_period_s)
    eye = np.eye(axes)
    a_full = np.asarray(np.kron(eye, a), dtype=np.float64)  # [2·axes, 2·axes]
    b_full = np.asarray(np.kron(eye, b), dtype=np.float64)  # [2·axes, axes]
    return DelayedPlant(a_full, b_full, sample_period_s, DelayForm.INPUT)


def seed_state_delay_plant(a: object, b: object, a_d: object,
                           sample_period_s: float = 0.01) -> DelayedPlant:
    """Seed 003 eq. 15: ``x(k+1) = A x(k) + A_d x(k - T_d) + B u(k)`` with ``u = -K x(k)``."""
    return DelayedPlant(as_matrix(a, 'A'), as_matrix(b, 'B'), sample_period_s, DelayForm.STATE,
                        as_matrix(a_d, 'A_d'))


class AxisSplit(NamedTuple):
    """A plant made of ``copies`` identical decoupled blocks: ``M = I_copies ⊗ M_axis``."""

    copies: int
    A: FloatArray  # [n / copies, n / copies]
    B: FloatArray  # [n / copies, m / copies]
    K: FloatArray  # [m / copies, n / copies]
    A_d: FloatArray | None


def _kron_block(matrix: FloatArray, copies: int, tol: float) -> FloatArray | None:
    rows, cols = matrix.shape
    if rows % copies or cols % copies:
        return None
    r, c = rows // copies, cols // copies
    block = matrix[:r, :c]
    expected = np.kron(np.eye(copies), block)
    scale = max(1.0, float(np.max(np.abs(matrix))))
    if np.max(np.abs(expected - matrix)) > tol * scale:
        return None
    return block.copy()


def split_identical_axes(plant: DelayedPlant, gain: FloatArray,
                         tol: float = 1e-12) -> AxisSplit | None:
    """
    Detect ``A = I_p ⊗ A_a``, ``B = I_p ⊗ B_a``, ``K = I_p ⊗ K_a`` (and A_d) with the largest p.

    For identical decoupled axes and a block-diagonal gain, the LK certificate of the full loop
    exists iff the per-axis one does (take ``P = I_p ⊗ P_a``; conversely average the blocks), so
    the LMIs can be solved per axis, 5-6 times faster (reference §4, "Per-axis").
    """
    n, m = plant.n_states, plant.n_inputs
    for copies in range(math.gcd(n, m), 1, -1):
        a = _kron_block(plant.A, copies, tol)
        b = _kron_block(plant.B, copies, tol)
        k = _kron_block(gain, copies, tol)
        if a is None or b is None or k is None:
            continue
        a_d = None
        if plant.A_d is not None:
            a_d = _kron_block(plant.A_d, copies, tol)
            if a_d is None:
                continue
        return AxisSplit(copies, a, b, k, a_d)
    return None


class UnicycleInputs(NamedTuple):
    """Differential-drive inputs obtained from a planar acceleration."""

    longitudinal_acceleration_mps2: FloatArray  # [...]
    yaw_rate_radps: FloatArray  # [...]


class PathGeometry(NamedTuple):
    """Heading, speed and signed curvature of a planar path."""

    heading_rad: FloatArray  # [...]
    speed_mps: FloatArray  # [...]
    curvature_per_m: FloatArray  # [...] signed; NaN where the speed is below min_speed_mps


def path_geometry(velocity: object, acceleration: object,
                  min_speed_mps: float = 1e-3) -> PathGeometry:
    """
    Heading ``θ = atan2(v_y, v_x)`` and curvature ``κ = (v_x a_y - v_y a_x) / |v|³``.

    A unicycle moving with planar velocity ``v`` has heading θ and yaw rate ``ω = κ |v|``.

    Args:
        velocity: ``[..., 2]`` [m/s].
        acceleration: ``[..., 2]`` [m/s²].
        min_speed_mps: below this speed heading and curvature are undefined; κ is NaN there.
    """
    v = np.asarray(velocity, dtype=float)  # [..., 2]
    a = np.asarray(acceleration, dtype=float)  # [..., 2]
    if v.shape != a.shape or v.shape[-1:] != (2,):
        raise DimensionError(f'velocity shape {v.shape} and acceleration shape {a.shape} must '
                             'agree and end in 2')
    speed = np.hypot(v[..., 0], v[..., 1])  # [...]
    heading = np.arctan2(v[..., 1], v[..., 0])  # [...]
    cross = v[..., 0] * a[..., 1] - v[..., 1] * a[..., 0]  # [...]
    moving = speed >= min_speed_mps
    curvature = np.divide(cross, np.maximum(speed, 1e-300) ** 3, out=np.full_like(cross, np.nan),
                          where=moving)
    return PathGeometry(heading, speed, curvature)


def unicycle_inputs(heading_rad: object, speed_mps: object, acceleration: object,
                    min_speed_mps: float = 1e-3) -> UnicycleInputs:
    """
    Invert the dynamic extension: ``a = a_x cos θ + a_y sin θ``, ``ω = (a_y cos θ - a_x sin θ)/v``.

    The speed is floored at ``min_speed_mps`` (the linearisation is singular at v = 0).
    """
    theta = np.asarray(heading_rad, dtype=float)
    acc = np.asarray(acceleration, dtype=float)  # [..., 2]
    if acc.shape[-1:] != (2,):
        raise DimensionError(f'acceleration shape {acc.shape} must end in 2')
    speed = np.maximum(np.asarray(speed_mps, dtype=float), min_speed_mps)
    cos, sin = np.cos(theta), np.sin(theta)
    longitudinal = acc[..., 0] * cos + acc[..., 1] * sin
    yaw_rate = (acc[..., 1] * cos - acc[..., 0] * sin) / speed
    return UnicycleInputs(longitudinal, yaw_rate)


def unicycle_step(state: object, longitudinal_acceleration_mps2: object, yaw_rate_radps: object,
                  dt_s: float, substeps: int = 4) -> FloatArray:
    """
    Integrate the extended unicycle ``(p_x, p_y, θ, v)`` for ``dt_s`` with constant inputs (RK4).

    ``ṗ_x = v cos θ``, ``ṗ_y = v sin θ``, ``θ̇ = ω``, ``v̇ = a``.

    Args:
        state: ``[..., 4]``.
    """
    x = np.array(state, dtype=float)  # [..., 4]
    if x.shape[-1:] != (4,):
        raise DimensionError(f'unicycle state shape {x.shape} must end in 4 (p_x, p_y, θ, v)')
    acc = np.asarray(longitudinal_acceleration_mps2, dtype=float)
    omega = np.asarray(yaw_rate_radps, dtype=float)
    h = validate_sample_period(dt_s) / substeps

    def rate(s: FloatArray) -> FloatArray:
        out = np.empty_like(s)
        out[..., 0] = s[..., 3] * np.cos(s[..., 2])
        out[..., 1] = s[..., 3] * np.sin(s[..., 2])
        out[..., 2] = omega
        out[..., 3] = acc
        return out

    for _ in range(substeps):
        k1 = rate(x)
        k2 = rate(x + 0.5 * h * k1)
        k3 = rate(x + 0.5 * h * k2)
        k4 = rate(x + h * k3)
        x = x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return x
