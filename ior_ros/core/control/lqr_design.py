"""
Discrete-time LQR: the nominal (delay-free) gain of the robot.

For ``x(k+1) = A x(k) + B u(k)`` and the cost ``J = Σ x(k)ᵀ Q x(k) + u(k)ᵀ R u(k)``, the optimal
law is ``u = -K x`` with ``K = (R + Bᵀ S B)⁻¹ Bᵀ S A``, where S is the stabilising solution of the
discrete algebraic Riccati equation ``S = Aᵀ S A - Aᵀ S B (R + Bᵀ S B)⁻¹ Bᵀ S A + Q``
(Bertsekas, *Dynamic Programming and Optimal Control*, vol. 1, §4.1; solved with
:func:`scipy.linalg.solve_discrete_are`).

The gain adjustment (reference §6) starts from *detuned* LQR gains ``K(s) = dlqr(A, B, Q, s R)``,
``s >= 1``: a larger input weight gives a slower loop that tolerates more delay.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.linalg

from ior_ros.core.control.robot_models import DelayedPlant, as_matrix, planar_double_integrator
from ior_ros.core.errors import ControlError, DimensionError, ModelError

__all__ = ['LqrDesign', 'LqrWeights', 'dlqr', 'detuned_lqr', 'reference_lqr_weights',
           'reference_nominal_design']

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class LqrWeights:
    """
    LQR weights ``Q [n, n]`` (state) and ``R [m, m]`` (input).

    Raises:
        DimensionError: not square.
        ModelError: Q not symmetric PSD or R not symmetric positive definite.
    """

    Q: FloatArray
    R: FloatArray

    def __post_init__(self) -> None:
        q = as_matrix(self.Q, 'Q')
        r = as_matrix(self.R, 'R')
        for name, m in (('Q', q), ('R', r)):
            if m.shape[0] != m.shape[1]:
                raise DimensionError(f'{name} must be square, got shape {m.shape}')
            if not np.allclose(m, m.T, rtol=1e-10, atol=1e-12):
                raise ModelError(f'{name} must be symmetric')
        if float(np.min(np.linalg.eigvalsh(q))) < -1e-12 * max(1.0, float(np.max(np.abs(q)))):
            raise ModelError('Q must be positive semidefinite')
        if float(np.min(np.linalg.eigvalsh(r))) <= 0.0:
            raise ModelError('R must be positive definite')
        q.setflags(write=False)
        r.setflags(write=False)
        object.__setattr__(self, 'Q', q)
        object.__setattr__(self, 'R', r)

    def scaled_input(self, factor: float) -> LqrWeights:
        """The weights with ``R`` multiplied by ``factor`` (> 0)."""
        if not factor > 0.0:
            raise ModelError(f'input weight factor = {factor!r}: must be > 0')
        return LqrWeights(self.Q, self.R * factor)


@dataclass(frozen=True, eq=False)
class LqrDesign:
    """
    Result of a discrete LQR design.

    Attributes:
        gain: ``K [m, n]``; the law is ``u = -K x``.
        riccati: ``S [n, n]``, the stabilising DARE solution (cost-to-go ``xᵀ S x``).
        closed_loop_poles: eigenvalues of ``A - B K`` ``[n]`` (complex).
        weights: the weights used.
    """

    gain: FloatArray
    riccati: FloatArray
    closed_loop_poles: npt.NDArray[np.complex128]
    weights: LqrWeights


def _check_dims(plant: DelayedPlant, weights: LqrWeights) -> None:
    n, m = plant.n_states, plant.n_inputs
    if weights.Q.shape != (n, n):
        raise DimensionError(f'Q shape {weights.Q.shape} does not match A shape {plant.A.shape}')
    if weights.R.shape != (m, m):
        raise DimensionError(f'R shape {weights.R.shape} does not match B shape {plant.B.shape}: '
                             f'expected ({m}, {m})')


def dlqr(plant: DelayedPlant, weights: LqrWeights) -> LqrDesign:
    """
    Discrete LQR of ``(A, B)`` for the weights (the delay is ignored: the nominal design).

    Raises:
        DimensionError: weights not shaped like the plant.
        ControlError: the Riccati equation has no stabilising solution ((A, B) not stabilisable
            or (A, Q) with unobservable modes on the unit circle).
    """
    _check_dims(plant, weights)
    a, b = plant.A, plant.B
    try:
        s = scipy.linalg.solve_discrete_are(a, b, weights.Q, weights.R)
    except (np.linalg.LinAlgError, ValueError) as exc:
        raise ControlError(f'LQR: the discrete Riccati equation has no stabilising solution '
                           f'({exc})') from None
    s = 0.5 * (s + s.T)
    gain = np.linalg.solve(weights.R + b.T @ s @ b, b.T @ s @ a)  # [m, n]
    poles = np.asarray(np.linalg.eigvals(a - b @ gain), dtype=np.complex128)  # [n]
    if not np.all(np.isfinite(gain)) or float(np.max(np.abs(poles))) >= 1.0:
        raise ControlError('LQR: the Riccati solution does not stabilise the delay-free loop')
    gain.setflags(write=False)
    s.setflags(write=False)
    return LqrDesign(gain, s, poles, weights)


def detuned_lqr(plant: DelayedPlant, weights: LqrWeights,
                input_weight_factor: float) -> FloatArray:
    """``K(s) = dlqr(A, B, Q, s R)``: the LQR gain with the input weight multiplied by ``s``."""
    return dlqr(plant, weights.scaled_input(input_weight_factor)).gain


def reference_lqr_weights(axes: int = 2, position_weight: float = 900.0,
                          velocity_weight: float = 1.0, input_weight: float = 1.0) -> LqrWeights:
    """
    The reference robot's weights: ``Q = I ⊗ diag(q_p, q_v)``, ``R = r I`` (reference §7).
    """
    eye = np.eye(axes)
    q = np.asarray(np.kron(eye, np.diag([position_weight, velocity_weight])), dtype=np.float64)
    return LqrWeights(q, input_weight * eye)


def reference_nominal_design(sample_period_s: float = 0.01) -> LqrDesign:
    """Nominal LQR of the reference planar base (``K = I_2 ⊗ [28.85, 7.66]`` at 10 ms)."""
    return dlqr(planar_double_integrator(sample_period_s), reference_lqr_weights())
