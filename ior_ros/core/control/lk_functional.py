"""
The delay-dependent Lyapunov–Krasovskii (LK) functional shared by certification, synthesis and the
closest-gain adjustment: its structure for each delay set, the matrices Π and Ψ (numpy or cvxpy),
the multiplier variables and constraints, and the per-axis reduction.

Why not seed 003's inequality (16): it is not an LMI (``Aᵀ P B K P`` is a product of unknowns), its
(2,2) block ``γ A_dᵀ P A_d`` is PSD so it is never strictly feasible, and the corrected Razumikhin
form is delay-independent and infeasible for any plant with an integrator under input delay
(``docs/reference/delay-robust-lmi.md`` §1; docs/models/control.md). We use instead, for
``x(k+1) = A0 x(k) + A1 x(k - d(k))`` (see :mod:`robot_models`), with ``δ(i) = x(i+1) - x(i)``
(Fridman & Shaked 2005; Gao & Chen, IEEE TAC 52(2) 2007; reciprocally convex bound of Park, Ko &
Jeong, Automatica 47(1) 2011)

    V(k) = x(k)ᵀ P x(k) + Σ_{i=k-h}^{k-1} x(i)ᵀ Q x(i)
           + h Σ_{j=-h}^{-1} Σ_{i=k+j}^{k-1} δ(i)ᵀ R δ(i),

``ξ = [x(k); x(k-d(k)); x(k-h)]`` with selectors ``E1, E2, E3``, ``Π = [A0 - I, A1, 0]`` (so
``δ(k) = Π ξ``) and ``F = [E1 - E2; E2 - E3]``, Jensen's inequality on both halves of the sum
and the reciprocally convex combination give ``ΔV <= ξᵀ Ψ ξ`` with

    Ψ = He(E1ᵀ P Π) + Πᵀ (P + h² R) Π + E1ᵀ Q E1 - E3ᵀ Q E3 - Fᵀ [[R, S], [Sᵀ, R]] F.

``Ψ ≺ 0``, ``[[R, S], [Sᵀ, R]] ⪰ 0``, ``P ≻ 0``, ``Q, R ⪰ 0`` prove stability for **every** delay
sequence ``d(k) ∈ [0, h]``, however fast it switches. The δ-form ``He(E1ᵀPΠ) + ΠᵀPΠ`` equals
``Π_Aᵀ P Π_A - E1ᵀ P E1`` but avoids the cancellation of ``AᵀPA - P`` at ``A ≈ I`` (10 ms
sampling). Constant-delay and interval ``[d1, d2]`` variants follow the same pattern.

**Decay rate λ.** ``x̃(k) = λ^{-k} x(k)`` gives ``x̃(k+1) = (A0/λ) x̃(k) + λ^{-d-1} A1 x̃(k-d)``;
Ψ is convex in the coefficient ``c`` of A1, so it is imposed at both ends
``c ∈ {λ^{-d1-1}, λ^{-d2-1}}``. For a constant delay the scaling is exact: a certificate implies
``ρ(𝒜(d)) < λ``.

The users: :mod:`~ior_ros.core.control.lk_certificate` (a), certification and floating-point
re-verification; :mod:`~ior_ros.core.control.lk_synthesis` (b), synthesis;
:mod:`~ior_ros.core.control.gain_adjustment` (c), the closest certified gain.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt

from ior_ros.core.control.robot_models import DelayedPlant, DelayForm, split_identical_axes
from ior_ros.core.errors import ModelError

__all__ = ['CertificateKind', 'LmiOptions', 'LkStructure', 'lk_structure']

FloatArray = npt.NDArray[np.float64]


class CertificateKind(str, Enum):
    """Which delay set a certificate covers."""

    INTERVAL = 'interval'
    """Every time-varying delay sequence with values in ``[min_delay_steps, max_delay_steps]``."""
    CONSTANT = 'constant'
    """One constant delay ``max_delay_steps`` (``min_delay_steps`` equal to it)."""


@dataclass(frozen=True)
class LmiOptions:
    """
    Numerical options of the LMIs.

    Attributes:
        epsilon: strictness, ``Ψ ⪯ -ε I`` with ``P ⪰ I``.
        solver: the cvxpy solver (Clarabel, an interior-point conic solver).
        per_axis: solve per axis when the plant and gain are identical decoupled blocks.
        p_max: upper bound ``P ⪯ p_max I`` in the adjustment's V-step (keeps the slack bounded).
    """

    epsilon: float = 1e-7
    solver: str = 'CLARABEL'
    per_axis: bool = True
    p_max: float = 1e3

    def __post_init__(self) -> None:
        if not (self.epsilon > 0.0 and math.isfinite(self.epsilon)):
            raise ModelError(f'epsilon = {self.epsilon!r}: must be a finite number > 0')
        if not self.p_max > 1.0:
            raise ModelError(f'p_max = {self.p_max!r}: must be > 1')


# --------------------------------------------------------------------------------------------
# Structure of the LK functional for each delay set


@dataclass(frozen=True)
class LkStructure:
    """Blocks of ξ, multipliers and vertices of one LK condition."""

    case: str  # 'zero', 'constant', 'interval0', 'interval'
    d1: int
    d2: int

    @property
    def blocks(self) -> int:
        return {'zero': 1, 'constant': 2, 'interval0': 3, 'interval': 4}[self.case]

    @property
    def delayed_block(self) -> int:
        """Index of the ξ block that A1 multiplies (x(k - d(k)))."""
        return {'zero': 0, 'constant': 1, 'interval0': 1, 'interval': 2}[self.case]

    @property
    def multipliers(self) -> tuple[str, ...]:
        return {'zero': ('P',), 'constant': ('P', 'Q', 'R'), 'interval0': ('P', 'Q', 'R', 'S'),
                'interval': ('P', 'Q', 'R', 'Q2', 'R2', 'S')}[self.case]

    def coefficients(self, decay_rate: float) -> list[float]:
        """The vertex values of ``c = λ^{-d-1}`` (one when λ = 1 or the delay is fixed)."""
        values = [decay_rate ** (-(self.d1 + 1)), decay_rate ** (-(self.d2 + 1))]
        return values[:1] if math.isclose(values[0], values[1], rel_tol=0, abs_tol=0) else values


def lk_structure(kind: CertificateKind, d1: int, d2: int) -> LkStructure:
    """The structure of the LK condition for delays in ``[d1, d2]`` (or constant ``d2``)."""
    if d2 == 0:
        return LkStructure('zero', 0, 0)
    if kind is CertificateKind.CONSTANT or d1 == d2:
        return LkStructure('constant', d2, d2)
    if d1 == 0:
        return LkStructure('interval0', 0, d2)
    return LkStructure('interval', d1, d2)


def selectors(n: int, blocks: int) -> list[FloatArray]:
    """``E_i`` ``[n, n·blocks]``: ``E_i ξ`` is block i of ξ."""
    eye = np.eye(n)
    out = []
    for i in range(blocks):
        e = np.zeros((n, n * blocks))  # [n, n·blocks]
        e[:, i * n:(i + 1) * n] = eye
        out.append(e)
    return out


def pi_matrix(plant: DelayedPlant, st: LkStructure, decay_rate: float, coefficient: float,
              gain: Any) -> Any:
    """
    ``Π_c``: ``[A0/λ - I, ..., c A1 (at the x(k-d(k)) block), ...]`` ``[n, n·blocks]``.

    ``gain`` may be a numpy matrix or a cvxpy variable (Π is affine in K).
    """
    n = plant.n_states
    eye = np.eye(n)
    if plant.delay_form is DelayForm.INPUT:
        first = plant.A / decay_rate - eye
        delayed = -coefficient * (plant.B @ gain)
    else:
        assert plant.A_d is not None
        first = (plant.A - plant.B @ gain) / decay_rate - eye
        delayed = coefficient * plant.A_d
    if st.case == 'zero':
        return first + delayed
    e = selectors(n, st.blocks)
    return first @ e[0] + delayed @ e[st.delayed_block]


def psi_matrix(st: LkStructure, mult: Mapping[str, Any], pi: Any, n: int) -> Any:
    """
    The LK difference matrix Ψ for numpy arrays or cvxpy expressions (same formula for both).

    ``pi`` is ``Π_c``; the multipliers are P, Q, R, S (and Q2, R2 for an interval ``[d1, d2]``).
    """
    e = selectors(n, st.blocks)
    p = mult['P']
    if st.case == 'zero':
        return p @ pi + pi.T @ p + pi.T @ p @ pi
    e1 = e[0]
    he = e1.T @ p @ pi + pi.T @ p @ e1
    if st.case == 'constant':
        e2 = e[1]
        d = st.d2
        f = e1 - e2
        return (he + pi.T @ (p + (d * d) * mult['R']) @ pi + e1.T @ mult['Q'] @ e1
                - e2.T @ mult['Q'] @ e2 - f.T @ mult['R'] @ f)
    if st.case == 'interval0':
        e2, e3 = e[1], e[2]
        h = st.d2
        f1, f2 = e1 - e2, e2 - e3
        r, s = mult['R'], mult['S']
        return (he + pi.T @ (p + (h * h) * r) @ pi + e1.T @ mult['Q'] @ e1
                - e3.T @ mult['Q'] @ e3
                - (f1.T @ r @ f1 + f1.T @ s @ f2 + f2.T @ s.T @ f1 + f2.T @ r @ f2))
    e2, e3, e4 = e[1], e[2], e[3]
    d1, d12 = st.d1, st.d2 - st.d1
    g = e1 - e2
    f1, f2 = e2 - e3, e3 - e4
    r1, r2, s = mult['R'], mult['R2'], mult['S']
    return (he + pi.T @ (p + (d1 * d1) * r1 + (d12 * d12) * r2) @ pi
            + e1.T @ mult['Q'] @ e1 - e2.T @ mult['Q'] @ e2 - g.T @ r1 @ g
            + e2.T @ mult['Q2'] @ e2 - e4.T @ mult['Q2'] @ e4
            - (f1.T @ r2 @ f1 + f1.T @ s @ f2 + f2.T @ s.T @ f1 + f2.T @ r2 @ f2))


def delay_weight(st: LkStructure, mult: Mapping[str, Any]) -> Any:
    """``Z - P``: the weight of ``δᵀ(·)δ`` in ΔV (``h² R`` or ``d1² R1 + d12² R2``)."""
    if st.case == 'zero':
        return 0.0 * mult['P']
    if st.case == 'interval':
        d1, d12 = st.d1, st.d2 - st.d1
        return (d1 * d1) * mult['R'] + (d12 * d12) * mult['R2']
    return (st.d2 * st.d2) * mult['R']


def rs_name(st: LkStructure) -> str:
    """The R multiplier paired with S in ``[[R, S], [Sᵀ, R]] ⪰ 0``."""
    return 'R2' if st.case == 'interval' else 'R'


# --------------------------------------------------------------------------------------------
# Numerics shared by the three problems


def sym(m: FloatArray) -> FloatArray:
    """The symmetric part ``(m + mᵀ) / 2``."""
    return 0.5 * (m + m.T)


def cvxpy_module() -> Any:
    """cvxpy, imported on first use."""
    import cvxpy as cp  # heavy: imported on first use
    return cp


def symmetric_expr(expr: Any) -> Any:
    """The symmetric part of a cvxpy expression (cvxpy needs it for ``>>``)."""
    return 0.5 * (expr + expr.T)


def solve_problem(problem: Any, options: LmiOptions) -> str:
    """Solve with the configured solver; the status (or the solver error) as text."""
    cp = cvxpy_module()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            problem.solve(solver=getattr(cp, options.solver, options.solver))
    except cp.error.SolverError as exc:
        return f'solver error: {exc}'
    return str(problem.status)


def solved(status: str) -> bool:
    """The status of a solution worth re-verifying."""
    return status in ('optimal', 'optimal_inaccurate')


def multiplier_variables(st: LkStructure, n: int) -> dict[str, Any]:
    """cvxpy variables of the structure's multipliers (S square, the others symmetric)."""
    cp = cvxpy_module()
    out: dict[str, Any] = {}
    for name in st.multipliers:
        out[name] = cp.Variable((n, n)) if name == 'S' else cp.Variable((n, n), symmetric=True)
    return out


def multiplier_constraints(st: LkStructure, mult: Mapping[str, Any], n: int) -> list[Any]:
    """``P ⪰ I``, ``Q, R ⪰ 0`` and ``[[R, S], [Sᵀ, R]] ⪰ 0``."""
    cp = cvxpy_module()
    cons: list[Any] = [mult['P'] >> np.eye(n)]
    for name in ('Q', 'Q2', 'R'):
        if name in mult and not (name == 'R' and st.case == 'interval0'):
            cons.append(mult[name] >> 0)
    if 'S' in mult:
        rn = rs_name(st)
        cons.append(symmetric_expr(cp.bmat([[mult[rn], mult['S']], [mult['S'].T, mult[rn]]])) >> 0)
    return cons


def expand_axes(mult: Mapping[str, FloatArray], copies: int) -> dict[str, FloatArray]:
    """Per-axis multipliers to the full plant, ``I_copies ⊗ M``."""
    eye = np.eye(copies)
    return {k: np.asarray(np.kron(eye, v), dtype=np.float64) for k, v in mult.items()}


def axis_problem(plant: DelayedPlant, gain: FloatArray,
                 options: LmiOptions) -> tuple[DelayedPlant, FloatArray, int]:
    """The per-axis plant and gain (and the number of copies), or the full ones."""
    if options.per_axis:
        split = split_identical_axes(plant, gain)
        if split is not None:
            axis = DelayedPlant(split.A, split.B, plant.sample_period_s, plant.delay_form,
                                split.A_d)
            return axis, split.K, split.copies
    return plant, gain, 1


def plant_axes(plant: DelayedPlant, axes: int | None,
               options: LmiOptions) -> tuple[DelayedPlant, int]:
    """The plant of one identical decoupled axis and the number of axes (or the plant, 1)."""
    if axes == 1 or not options.per_axis:
        return plant, 1
    probe = np.zeros((plant.n_inputs, plant.n_states))
    split = split_identical_axes(plant, probe)
    if split is None or (axes is not None and split.copies != axes):
        return plant, 1
    return DelayedPlant(split.A, split.B, plant.sample_period_s, plant.delay_form,
                        split.A_d), split.copies


def sym_inverse(matrix: FloatArray) -> FloatArray:
    """The inverse of the symmetric part."""
    return np.asarray(np.linalg.inv(sym(matrix)), dtype=np.float64)


def blockdiag(copies: int, block: FloatArray) -> FloatArray:
    """``I_copies ⊗ block``."""
    if copies == 1:
        return np.asarray(block, dtype=np.float64)
    return np.asarray(np.kron(np.eye(copies), block), dtype=np.float64)


def axis_block(matrix: FloatArray, copies: int) -> FloatArray:
    """The first diagonal block of an ``I_copies ⊗ M`` matrix."""
    size = matrix.shape[0] // copies
    return matrix[:size, :size]
