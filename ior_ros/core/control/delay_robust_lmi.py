"""
Delay-dependent Lyapunov–Krasovskii (LK) certificates, synthesis and closest-gain adjustment.

Why not seed 003's inequality (16): it is not an LMI (``Aᵀ P B K P`` is a product of unknowns), its
(2,2) block ``γ A_dᵀ P A_d`` is PSD so it is never strictly feasible, and the corrected Razumikhin
form is delay-independent and infeasible for any plant with an integrator under input delay
(``../shared/reference/delay-robust-lmi.md`` §1; docs/models/control.md). We use instead, for
``x(k+1) = A0 x(k) + A1 x(k - d(k))`` (see :mod:`robot_models`):

**(a) Certification** (Fridman & Shaked 2005; Gao & Chen, IEEE TAC 52(2) 2007; reciprocally convex
bound of Park, Ko & Jeong, Automatica 47(1) 2011). With ``δ(i) = x(i+1) - x(i)`` and

    V(k) = x(k)ᵀ P x(k) + Σ_{i=k-h}^{k-1} x(i)ᵀ Q x(i)
           + h Σ_{j=-h}^{-1} Σ_{i=k+j}^{k-1} δ(i)ᵀ R δ(i),

``ξ = [x(k); x(k-d(k)); x(k-h)]`` with selectors ``E1, E2, E3``, ``Π = [A0 - I, A1, 0]`` (so
``δ(k) = Π ξ``) and ``F = [E1 - E2; E2 - E3]``, Jensen's inequality on both halves of the sum
and the reciprocally convex combination give ``ΔV <= ξᵀ Ψ ξ`` with

    Ψ = He(E1ᵀ P Π) + Πᵀ (P + h² R) Π + E1ᵀ Q E1 - E3ᵀ Q E3 - Fᵀ [[R, S], [Sᵀ, R]] F.

``Ψ ≺ 0``, ``[[R, S], [Sᵀ, R]] ⪰ 0``, ``P ≻ 0``, ``Q, R ⪰ 0`` prove stability for **every** delay
sequence ``d(k) ∈ [0, h]``, however fast it switches. The δ-form ``He(E1ᵀPΠ) + ΠᵀPΠ`` equals
``Π_Aᵀ P Π_A - E1ᵀ P E1`` but avoids the cancellation of ``AᵀPA - P`` at ``A ≈ I`` (10 ms
sampling).
Constant-delay and interval ``[d1, d2]`` variants follow the same pattern (functions below).

**Decay rate λ.** ``x̃(k) = λ^{-k} x(k)`` gives ``x̃(k+1) = (A0/λ) x̃(k) + λ^{-d-1} A1 x̃(k-d)``;
Ψ is convex in the coefficient ``c`` of A1, so it is imposed at both ends
``c ∈ {λ^{-d1-1}, λ^{-d2-1}}``. For a constant delay the scaling is exact: a certificate implies
``ρ(𝒜(d)) < λ``.

**Normalisation and re-verification.** By homogeneity ``P ⪰ I`` and ``Ψ ⪯ -ε I``. Every certificate
returned is re-checked in floating point (eigenvalues of the assembled Ψ at every vertex and of P,
Q, R and the ``[[R, S], [Sᵀ, R]]`` block), so a solver tolerance cannot fake a "certified".

**(b) Synthesis** by the change of variables ``X = P⁻¹``, ``Y = K X``, ``Q̄ = XQX`` … (congruence
``diag(X, X, X, X, W⁻¹)`` of the Schur form, ``W = h² R``) and the bound
``-X W̄⁻¹ X ⪯ σ² W̄ - 2σ X`` (any σ > 0), with a line search over σ.

**(c) Adjustment**, ``min ||K̂ - K||_F`` subject to (a), a BMI: initialised by detuned LQR
``K(s) = dlqr(A, B, Q, sR)`` (log-grid scan, then bisection on s), then V–K alternation (El Ghaoui,
Oustry & AitRami, IEEE TAC 42(8) 1997): the V-step maximises the slack t of ``Ψ ⪯ -tI`` for fixed
K̂; the K-step minimises the distance for fixed ``(P, R)``, where the Schur form
``[[Ψ0 + He(E1ᵀ P Π), Πᵀ Z], [Z Π, -Z]] ≺ 0`` with ``Z = P + h² R`` is affine in ``(K̂, Q, S)``.
Every iterate is certified and re-verified; the distance never increases.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt

from ior_ros.core.control.lqr_design import LqrWeights, detuned_lqr
from ior_ros.core.control.robot_models import (
    DelayedPlant,
    DelayForm,
    as_matrix,
    check_gain,
    planar_double_integrator,
    split_identical_axes,
    validate_delay_steps,
)
from ior_ros.core.errors import ControlError, ModelError

__all__ = ['CertificateKind', 'LmiOptions', 'LkCertificate', 'certify', 'certify_constant',
           'certify_interval', 'is_certified', 'verify_certificate', 'certified_delay_bound',
           'SynthesisResult', 'synthesize', 'synthesize_max_decay', 'AdjustOptions',
           'Adjustment', 'adjust']

FloatArray = npt.NDArray[np.float64]

# Relative size of the floating-point round-off allowed when re-verifying eigenvalue signs.
_ROUNDOFF = 64.0 * float(np.finfo(float).eps)
# Required strictness of Ψ ≺ 0 in the re-verification: λ_max(Ψ) < -_STRICT · max(1, ||Ψ||).
_STRICT = 1e-12


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
class _Structure:
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


def _structure(kind: CertificateKind, d1: int, d2: int) -> _Structure:
    if d2 == 0:
        return _Structure('zero', 0, 0)
    if kind is CertificateKind.CONSTANT or d1 == d2:
        return _Structure('constant', d2, d2)
    if d1 == 0:
        return _Structure('interval0', 0, d2)
    return _Structure('interval', d1, d2)


def _selectors(n: int, blocks: int) -> list[FloatArray]:
    eye = np.eye(n)
    out = []
    for i in range(blocks):
        e = np.zeros((n, n * blocks))  # [n, n·blocks]
        e[:, i * n:(i + 1) * n] = eye
        out.append(e)
    return out


def _pi_expr(plant: DelayedPlant, st: _Structure, decay_rate: float, coefficient: float,
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
    e = _selectors(n, st.blocks)
    return first @ e[0] + delayed @ e[st.delayed_block]


def _psi(st: _Structure, mult: Mapping[str, Any], pi: Any, n: int) -> Any:
    """
    The LK difference matrix Ψ for numpy arrays or cvxpy expressions (same formula for both).

    ``pi`` is ``Π_c``; the multipliers are P, Q, R, S (and Q2, R2 for an interval ``[d1, d2]``).
    """
    e = _selectors(n, st.blocks)
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


def _delay_weight(st: _Structure, mult: Mapping[str, Any]) -> Any:
    """``Z - P``: the weight of ``δᵀ(·)δ`` in ΔV (``h² R`` or ``d1² R1 + d12² R2``)."""
    if st.case == 'zero':
        return 0.0 * mult['P']
    if st.case == 'interval':
        d1, d12 = st.d1, st.d2 - st.d1
        return (d1 * d1) * mult['R'] + (d12 * d12) * mult['R2']
    return (st.d2 * st.d2) * mult['R']


def _rs_name(st: _Structure) -> str:
    return 'R2' if st.case == 'interval' else 'R'


# --------------------------------------------------------------------------------------------
# Certificates and their floating-point re-verification


@dataclass(frozen=True, eq=False)
class LkCertificate:
    """
    A verified LK certificate for one gain and one delay set.

    Attributes:
        kind: interval (time-varying delays in ``[min, max]``) or constant delay.
        min_delay_steps, max_delay_steps: the delay set [samples].
        decay_rate: λ (1: plain stability).
        gain: ``K [m, n]``.
        multipliers: ``{'P', 'Q', 'R', 'S', 'Q2', 'R2'}`` as present, each ``[n, n]``.
        psi_max_eigenvalues: ``λ_max(Ψ)`` at each vertex of the decay scaling (all < 0).
        normalized_margin: ``-max λ_max(Ψ) / λ_max(P)`` (scale-free slack of the certificate).
    """

    kind: CertificateKind
    min_delay_steps: int
    max_delay_steps: int
    decay_rate: float
    gain: FloatArray
    multipliers: dict[str, FloatArray]
    psi_max_eigenvalues: tuple[float, ...]
    normalized_margin: float

    def to_dict(self) -> dict[str, Any]:
        """JSON form (matrices as nested lists)."""
        return {'kind': self.kind.value, 'min_delay_steps': self.min_delay_steps,
                'max_delay_steps': self.max_delay_steps, 'decay_rate': self.decay_rate,
                'gain': self.gain.tolist(),
                'multipliers': {k: v.tolist() for k, v in self.multipliers.items()},
                'psi_max_eigenvalues': list(self.psi_max_eigenvalues),
                'normalized_margin': self.normalized_margin}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], plant: DelayedPlant) -> LkCertificate:
        """
        Rebuild a certificate **and re-verify it** against ``plant``.

        Raises:
            ControlError: the stored matrices do not certify the stored gain.
            ModelError: a malformed document.
        """
        try:
            kind = CertificateKind(doc['kind'])
            d1 = validate_delay_steps(doc['min_delay_steps'], 'min_delay_steps')
            d2 = validate_delay_steps(doc['max_delay_steps'], 'max_delay_steps')
            decay = float(doc['decay_rate'])
            gain = check_gain(plant, doc['gain'])
            mult = {str(k): as_matrix(v, str(k)) for k, v in doc['multipliers'].items()}
        except (KeyError, TypeError) as exc:
            raise ModelError(f'malformed certificate: missing or bad field {exc}') from None
        return verify_certificate(plant, gain, kind, d1, d2, decay, mult)


def _sym(m: FloatArray) -> FloatArray:
    return 0.5 * (m + m.T)


def _psd_shift(m: FloatArray) -> float:
    """Smallest shift s >= 0 such that ``m + s I`` is PSD beyond round-off."""
    lam = float(np.min(np.linalg.eigvalsh(m)))
    tiny = _ROUNDOFF * max(1.0, float(np.linalg.norm(m, 2)))
    return 0.0 if lam >= -tiny else tiny - lam


def _check_multipliers(st: _Structure, mult: Mapping[str, FloatArray], n: int,
                       repair: bool) -> tuple[dict[str, FloatArray], str | None]:
    """Symmetrise; check (or repair by a tiny identity shift) the PSD constraints."""
    out: dict[str, FloatArray] = {}
    for name in st.multipliers:
        if name not in mult:
            return out, f'multiplier {name} missing'
        m = np.asarray(mult[name], dtype=float)
        if m.shape != (n, n):
            return out, f'multiplier {name} has shape {m.shape}, expected {(n, n)}'
        out[name] = m.copy() if name == 'S' else _sym(m)
    for name in ('Q', 'Q2', 'R', 'R2'):
        if name in out:
            shift = _psd_shift(out[name])
            if shift > 0.0:
                if not repair:
                    return out, f'{name} is not positive semidefinite'
                out[name] = out[name] + shift * np.eye(n)
    if 'S' in out:
        rn = _rs_name(st)
        for _ in range(3):
            block = np.block([[out[rn], out['S']], [out['S'].T, out[rn]]])
            shift = _psd_shift(_sym(block))
            if shift == 0.0:
                break
            if not repair:
                return out, f'[[{rn}, S], [Sᵀ, {rn}]] is not positive semidefinite'
            out[rn] = out[rn] + shift * np.eye(n)
        else:
            return out, f'[[{rn}, S], [Sᵀ, {rn}]] could not be made positive semidefinite'
    p_min = float(np.min(np.linalg.eigvalsh(out['P'])))
    if p_min <= _ROUNDOFF * max(1.0, float(np.linalg.norm(out['P'], 2))):
        return out, f'P is not positive definite (λ_min = {p_min:.3g})'
    return out, None


def _psi_strictness(plant: DelayedPlant, gain: FloatArray, st: _Structure, decay_rate: float,
                    mult: Mapping[str, FloatArray]) -> tuple[tuple[float, ...], bool]:
    n = plant.n_states
    eigs: list[float] = []
    ok = True
    for c in st.coefficients(decay_rate):
        psi = _sym(np.asarray(_psi(st, mult, _pi_expr(plant, st, decay_rate, c, gain), n)))
        lam = float(np.max(np.linalg.eigvalsh(psi)))
        eigs.append(lam)
        if not lam < -_STRICT * max(1.0, float(np.linalg.norm(psi, 2))):
            ok = False
    return tuple(eigs), ok


def verify_certificate(plant: DelayedPlant, gain: object, kind: CertificateKind,
                       min_delay_steps: int, max_delay_steps: int, decay_rate: float,
                       multipliers: Mapping[str, Any], repair: bool = False) -> LkCertificate:
    """
    Re-verify an LK certificate in floating point and return it.

    Checks ``λ_max(Ψ_c) < 0`` (strictly, beyond round-off) at every decay vertex, ``P ≻ 0`` and
    ``Q, R, [[R, S], [Sᵀ, R]] ⪰ 0``. With ``repair`` a PSD constraint violated by solver round-off
    is restored by a tiny identity shift *before* Ψ is checked, so what is returned is exact.

    Raises:
        ControlError: the matrices do not certify the gain (the message says which check failed).
    """
    k = check_gain(plant, gain)
    d1 = validate_delay_steps(min_delay_steps, 'min_delay_steps')
    d2 = validate_delay_steps(max_delay_steps, 'max_delay_steps')
    if d1 > d2:
        raise ModelError(f'min_delay_steps = {d1} > max_delay_steps = {d2}')
    if not 0.0 < decay_rate <= 1.0:
        raise ModelError(f'decay_rate = {decay_rate!r}: must be in (0, 1]')
    kind = CertificateKind(kind)
    st = _structure(kind, d1, d2)
    mult = {k2: np.asarray(v, dtype=float) for k2, v in multipliers.items()}
    checked, problem = _check_multipliers(st, mult, plant.n_states, repair)
    if problem is not None:
        raise ControlError(f'certificate for h={d2} fails re-verification: {problem}')
    eigs, ok = _psi_strictness(plant, k, st, decay_rate, checked)
    if not ok:
        raise ControlError(f'certificate for h={d2} fails re-verification: λ_max(Ψ) = '
                           f'{max(eigs):.3g} is not < 0 in floating point')
    margin = -max(eigs) / float(np.max(np.linalg.eigvalsh(checked['P'])))
    frozen = {}
    for name, value in checked.items():
        value = value.copy()
        value.setflags(write=False)
        frozen[name] = value
    k = k.copy()
    k.setflags(write=False)
    return LkCertificate(kind, d1, d2, float(decay_rate), k, frozen, eigs, margin)


# --------------------------------------------------------------------------------------------
# cvxpy problems


def _cp() -> Any:
    import cvxpy as cp  # heavy: imported on first use
    return cp


def _symmetric(expr: Any) -> Any:
    return 0.5 * (expr + expr.T)


def _solve(problem: Any, options: LmiOptions) -> str:
    cp = _cp()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            problem.solve(solver=getattr(cp, options.solver, options.solver))
    except cp.error.SolverError as exc:
        return f'solver error: {exc}'
    return str(problem.status)


def _ok(status: str) -> bool:
    return status in ('optimal', 'optimal_inaccurate')


def _variables(st: _Structure, n: int) -> dict[str, Any]:
    cp = _cp()
    out: dict[str, Any] = {}
    for name in st.multipliers:
        out[name] = cp.Variable((n, n)) if name == 'S' else cp.Variable((n, n), symmetric=True)
    return out


def _multiplier_constraints(st: _Structure, mult: Mapping[str, Any], n: int) -> list[Any]:
    cp = _cp()
    cons: list[Any] = [mult['P'] >> np.eye(n)]
    for name in ('Q', 'Q2', 'R'):
        if name in mult and not (name == 'R' and st.case == 'interval0'):
            cons.append(mult[name] >> 0)
    if 'S' in mult:
        rn = _rs_name(st)
        cons.append(_symmetric(cp.bmat([[mult[rn], mult['S']], [mult['S'].T, mult[rn]]])) >> 0)
    return cons


def certificate_problem(plant: DelayedPlant, gain: FloatArray, st: _Structure,
                        decay_rate: float, options: LmiOptions,
                        maximize_slack: bool = False) -> tuple[Any, dict[str, Any]]:
    """
    The cvxpy problem of LMI (a) for one (axis) plant and its multiplier variables.

    Feasibility with ``Ψ ⪯ -ε I``; with ``maximize_slack`` (the V-step) the slack t of
    ``Ψ ⪯ -t I`` is maximised under ``I ⪯ P ⪯ p_max I``.
    """
    cp = _cp()
    n = plant.n_states
    mult = _variables(st, n)
    cons = _multiplier_constraints(st, mult, n)
    slack = cp.Variable() if maximize_slack else None
    bound = -options.epsilon if slack is None else -slack
    for c in st.coefficients(decay_rate):
        psi = _symmetric(_psi(st, mult, _pi_expr(plant, st, decay_rate, c, gain), n))
        cons.append(psi << bound * np.eye(psi.shape[0]))
    if slack is not None:
        cons += [mult['P'] << options.p_max * np.eye(n), slack >= options.epsilon]
        return cp.Problem(cp.Maximize(slack), cons), mult
    return cp.Problem(cp.Minimize(0), cons), mult


def _solve_certificate(plant: DelayedPlant, gain: FloatArray, st: _Structure, decay_rate: float,
                       options: LmiOptions,
                       maximize_slack: bool = False) -> tuple[dict[str, FloatArray] | None, str]:
    """LMI (a) for one (axis) plant; returns raw multipliers (not yet verified) and the status."""
    problem, mult = certificate_problem(plant, gain, st, decay_rate, options, maximize_slack)
    status = _solve(problem, options)
    if not _ok(status) or mult['P'].value is None:
        return None, status
    return {k: np.asarray(v.value, dtype=float) for k, v in mult.items()}, status


def _expand(mult: Mapping[str, FloatArray], copies: int) -> dict[str, FloatArray]:
    eye = np.eye(copies)
    return {k: np.asarray(np.kron(eye, v), dtype=np.float64) for k, v in mult.items()}


def _axis_problem(plant: DelayedPlant, gain: FloatArray,
                  options: LmiOptions) -> tuple[DelayedPlant, FloatArray, int]:
    """The per-axis plant and gain (and the number of copies), or the full ones."""
    if options.per_axis:
        split = split_identical_axes(plant, gain)
        if split is not None:
            axis = DelayedPlant(split.A, split.B, plant.sample_period_s, plant.delay_form,
                                split.A_d)
            return axis, split.K, split.copies
    return plant, gain, 1


def _certify(plant: DelayedPlant | None, gain: object, kind: CertificateKind, d1: object,
             d2: object, decay_rate: float, options: LmiOptions | None) -> LkCertificate:
    plant = plant if plant is not None else planar_double_integrator()
    options = options or LmiOptions()
    k = check_gain(plant, gain)
    lo = validate_delay_steps(d1, 'min_delay_steps')
    hi = validate_delay_steps(d2, 'max_delay_steps')
    if lo > hi:
        raise ModelError(f'min_delay_steps = {lo} > max_delay_steps = {hi}')
    if not (0.0 < float(decay_rate) <= 1.0):
        raise ModelError(f'decay_rate = {decay_rate!r}: must be in (0, 1]')
    st = _structure(kind, lo, hi)
    axis_plant, axis_gain, copies = _axis_problem(plant, k, options)
    raw, status = _solve_certificate(axis_plant, axis_gain, st, float(decay_rate), options)
    what = (f'constant delay d={hi}' if st.case in ('constant', 'zero') and
            kind is CertificateKind.CONSTANT else f'delays in [{lo}, {hi}]')
    if raw is None:
        raise ControlError(f'no LK certificate for h={hi} ({what}, decay rate '
                           f'{float(decay_rate):g}): LMI (a) is {status}')
    full = _expand(raw, copies) if copies > 1 else raw
    try:
        return verify_certificate(plant, k, kind, lo, hi, float(decay_rate), full, repair=True)
    except ControlError as exc:
        raise ControlError(f'no LK certificate for h={hi} ({what}, decay rate '
                           f'{float(decay_rate):g}): the solver reported {status} but {exc}'
                           ) from None


def certify(gain: object, max_delay_steps: int, decay_rate: float = 1.0, *,
            plant: DelayedPlant | None = None, min_delay_steps: int = 0,
            options: LmiOptions | None = None) -> LkCertificate:
    """
    Certify ``u = -K x`` for every time-varying delay ``d(k) ∈ [min_delay_steps, h]`` (LMI (a)).

    Args:
        gain: ``K [m, n]``.
        max_delay_steps: h [samples].
        decay_rate: λ ∈ (0, 1]; ``λ < 1`` asks for decay at least as fast as ``λ^k``.
        plant: the delayed plant; the reference planar base (10 ms, input delay) when None.
        min_delay_steps: lower end of the interval (0 by default).
        options: numerical options.

    Returns:
        A re-verified :class:`LkCertificate`.

    Raises:
        ControlError: the LMI is infeasible (or its solution fails re-verification); the message
            names h and why.
        DimensionError / ModelError: bad gain shape, negative delay, decay rate outside (0, 1].
    """
    return _certify(plant, gain, CertificateKind.INTERVAL, min_delay_steps, max_delay_steps,
                    decay_rate, options)


def certify_interval(gain: object, min_delay_steps: int, max_delay_steps: int,
                     decay_rate: float = 1.0, *, plant: DelayedPlant | None = None,
                     options: LmiOptions | None = None) -> LkCertificate:
    """Certify for time-varying delays in ``[d1, d2]`` (see :func:`certify`)."""
    return _certify(plant, gain, CertificateKind.INTERVAL, min_delay_steps, max_delay_steps,
                    decay_rate, options)


def certify_constant(gain: object, delay_steps: int, decay_rate: float = 1.0, *,
                     plant: DelayedPlant | None = None,
                     options: LmiOptions | None = None) -> LkCertificate:
    """
    Certify for one constant delay d (the constant-delay LK condition; implies ``ρ(𝒜(d)) < λ``).
    """
    return _certify(plant, gain, CertificateKind.CONSTANT, delay_steps, delay_steps, decay_rate,
                    options)


def is_certified(gain: object, max_delay_steps: int, decay_rate: float = 1.0, *,
                 plant: DelayedPlant | None = None, options: LmiOptions | None = None) -> bool:
    """True when :func:`certify` succeeds (a ControlError means False)."""
    try:
        certify(gain, max_delay_steps, decay_rate, plant=plant, options=options)
    except ControlError:
        return False
    return True


def certified_delay_bound(gain: object, up_to_steps: int, decay_rate: float = 1.0, *,
                          plant: DelayedPlant | None = None,
                          options: LmiOptions | None = None) -> int:
    """
    The largest h <= ``up_to_steps`` with ``[0, h]`` certified (-1: not even h = 0).

    Bisection, which assumes that certifiability is monotone in h (a certificate on ``[0, h]``
    covers every smaller range; the LMI for a smaller h is feasible in every case we met).
    """
    top = validate_delay_steps(up_to_steps, 'up_to_steps')

    def ok(h: int) -> bool:
        return is_certified(gain, h, decay_rate, plant=plant, options=options)

    if ok(top):
        return top
    if not ok(0):
        return -1
    lo, hi = 0, top  # ok(lo), not ok(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


# --------------------------------------------------------------------------------------------
# (b) Synthesis


@dataclass(frozen=True, eq=False)
class SynthesisResult:
    """A synthesised gain and its (re-verified, LMI (a)) certificate."""

    gain: FloatArray
    certificate: LkCertificate
    schur_scale: float
    """σ of the bound ``-X W̄⁻¹ X ⪯ σ² W̄ - 2σ X`` that worked."""


def _synthesis_problem(plant: DelayedPlant, st: _Structure, decay_rate: float, sigma: float,
                       options: LmiOptions, target: FloatArray | None = None,
                       anchor: FloatArray | None = None) -> tuple[Any, Any, Any]:
    """
    LMI (b) for one σ (optionally minimising the convex majorant of ``||K - target||_F²``).

    Variables ``X = P⁻¹``, ``Y = K X`` and the barred multipliers ``Q̄ = XQX``, ``R̄``, ``S̄``::

        [[Ψ̄0 + He(E1ᵀ Π̄), Π̄ᵀ, Π̄ᵀ], [Π̄, -X, 0], [Π̄, 0, σ² W̄ - 2σ X]] ≺ 0,  W̄ = h² R̄,

    with ``Π̄ = [(A/λ - I) X, -c B Y, 0]`` (input delay) or ``[(A/λ - I) X - BY/λ, c A_d X, 0]``
    (state delay).
    """
    cp = _cp()
    n, m = plant.n_states, plant.n_inputs
    x = cp.Variable((n, n), symmetric=True)
    y = cp.Variable((m, n))
    bars = _variables(st, n)
    bars['P'] = np.zeros((n, n))
    eye = np.eye(n)
    cons: list[Any] = [x >> 1e-6 * eye]
    cons += [bars[name] >> 0 for name in ('Q', 'Q2') if name in bars]
    if 'S' in bars:
        rn = _rs_name(st)
        cons.append(_symmetric(cp.bmat([[bars[rn], bars['S']], [bars['S'].T, bars[rn]]])) >> 0)
    if st.case in ('constant', 'interval'):
        cons.append(bars['R'] >> 0)
    n_xi = n * st.blocks
    e = _selectors(n, st.blocks)
    psi0 = _psi(st, bars, np.zeros((n, n_xi)), n) if st.case != 'zero' else None
    for c in st.coefficients(decay_rate):
        if plant.delay_form is DelayForm.INPUT:
            first = (plant.A / decay_rate - eye) @ x
            delayed = -c * (plant.B @ y)
        else:
            assert plant.A_d is not None
            first = (plant.A / decay_rate - eye) @ x - (plant.B @ y) / decay_rate
            delayed = c * (plant.A_d @ x)
        if st.case == 'zero':
            pi_bar = first + delayed
            lmi = cp.bmat([[pi_bar + pi_bar.T, pi_bar.T], [pi_bar, -x]])
        else:
            pi_bar = first @ e[0] + delayed @ e[st.delayed_block]
            he = e[0].T @ pi_bar + pi_bar.T @ e[0]
            w_bar = _delay_weight(st, bars)
            zeros = np.zeros((n, n))
            lmi = cp.bmat([
                [psi0 + he, pi_bar.T, pi_bar.T],
                [pi_bar, -x, zeros],
                [pi_bar, zeros, sigma * sigma * w_bar - 2.0 * sigma * x],
            ])
        sym = _symmetric(lmi)
        cons.append(sym << -options.epsilon * np.eye(sym.shape[0]))
    objective: Any = cp.Minimize(0)
    if target is not None and anchor is not None:
        # ||K - K0||_F² = ||(Y - K0 X) X⁻¹||² <= tr T when [[T, Y - K0 X], [·ᵀ, XD + DX - D²]] ⪰ 0,
        # since X² ⪰ XD + DX - D² (equality at X = D): majorisation-minimisation in D
        t = cp.Variable((m, m), symmetric=True)
        diff = y - target @ x
        lower = x @ anchor + anchor @ x - anchor @ anchor
        cons.append(_symmetric(cp.bmat([[t, diff], [diff.T, lower]])) >> 0)
        objective = cp.Minimize(cp.trace(t))
    return cp.Problem(objective, cons), x, y


def _synthesize_axis(plant: DelayedPlant, st: _Structure, decay_rate: float,
                     sigmas: Sequence[float], options: LmiOptions,
                     target: FloatArray | None = None,
                     anchor: FloatArray | None = None) -> list[tuple[float, FloatArray]]:
    gains = []
    for sigma in sigmas:
        problem, x, y = _synthesis_problem(plant, st, decay_rate, sigma, options, target, anchor)
        status = _solve(problem, options)
        if _ok(status) and x.value is not None and y.value is not None:
            xv = _sym(np.asarray(x.value))
            if float(np.min(np.linalg.eigvalsh(xv))) > 0.0:
                gains.append((float(sigma), np.asarray(y.value) @ np.linalg.inv(xv)))
    return gains


DEFAULT_SIGMAS: tuple[float, ...] = tuple(float(v) for v in np.logspace(-3, 2, 11))


def synthesize(max_delay_steps: int, decay_rate: float = 1.0, *,
               plant: DelayedPlant | None = None, sigmas: Sequence[float] = DEFAULT_SIGMAS,
               options: LmiOptions | None = None, axes: int | None = None) -> SynthesisResult:
    """
    A gain certified on ``[0, h]`` by LMI (b) (change of variables, line search over σ).

    Feasibility alone is the objective, so the gain may be slow (at h = 30 it can be nearly
    marginal); use :func:`synthesize_max_decay` or :func:`adjust` for a useful gain. Every
    candidate is re-certified with LMI (a) and re-verified; the first that passes is returned.

    Args:
        axes: solve on one of ``axes`` identical decoupled blocks of the plant (the gain is then
            ``I ⊗ K_axis``); None: detect it from A and B.

    Raises:
        ControlError: no σ gave a gain that LMI (a) certifies (the message names h).
    """
    plant = plant if plant is not None else planar_double_integrator()
    options = options or LmiOptions()
    h = validate_delay_steps(max_delay_steps)
    st = _structure(CertificateKind.INTERVAL, 0, h)
    axis_plant, copies = _plant_axes(plant, axes, options)
    tried = 0
    for sigma, axis_gain in _synthesize_axis(axis_plant, st, decay_rate, sigmas, options):
        tried += 1
        gain = _blockdiag(copies, axis_gain)
        try:
            cert = certify(gain, h, decay_rate, plant=plant, options=options)
        except ControlError:
            continue
        return SynthesisResult(cert.gain, cert, sigma)
    raise ControlError(f'synthesis failed for h={h} (decay rate {decay_rate:g}): LMI (b) gave '
                       f'{tried} candidate gain(s) over {len(sigmas)} values of σ and LMI (a) '
                       'certified none')


def _plant_axes(plant: DelayedPlant, axes: int | None,
                options: LmiOptions) -> tuple[DelayedPlant, int]:
    if axes == 1 or not options.per_axis:
        return plant, 1
    probe = np.zeros((plant.n_inputs, plant.n_states))
    split = split_identical_axes(plant, probe)
    if split is None or (axes is not None and split.copies != axes):
        return plant, 1
    return DelayedPlant(split.A, split.B, plant.sample_period_s, plant.delay_form,
                        split.A_d), split.copies


def synthesize_max_decay(max_delay_steps: int, *, plant: DelayedPlant | None = None,
                         lowest_decay: float = 0.9, iterations: int = 12,
                         sigmas: Sequence[float] = DEFAULT_SIGMAS,
                         options: LmiOptions | None = None) -> SynthesisResult:
    """
    The gain with the fastest certified decay on ``[0, h]``: bisection on λ with LMI (b).

    Raises:
        ControlError: not even λ = 1 is feasible.
    """
    best = synthesize(max_delay_steps, 1.0, plant=plant, sigmas=sigmas, options=options)
    lo, hi = lowest_decay, 1.0  # hi feasible
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        try:
            best = synthesize(max_delay_steps, mid, plant=plant, sigmas=sigmas, options=options)
            hi = mid
        except ControlError:
            lo = mid
    return best


# --------------------------------------------------------------------------------------------
# (c) Closest certified gain


@dataclass(frozen=True)
class AdjustOptions:
    """
    Options of :func:`adjust`.

    Attributes:
        detune_grid: increasing input-weight factors s scanned for ``dlqr(A, B, Q, sR)``.
        bisection_steps: bisection steps on log s between the last uncertified and the first
            certified grid value.
        vk_iterations: maximum V–K alternation iterations (0: detuned LQR only).
        vk_tolerance: stop when an iteration shortens the distance by less than this fraction.
    """

    detune_grid: tuple[float, ...] = tuple(float(v) for v in np.logspace(0.25, 8, 32))
    bisection_steps: int = 6
    vk_iterations: int = 25
    vk_tolerance: float = 2e-3

    def __post_init__(self) -> None:
        grid = np.asarray(self.detune_grid, dtype=float)
        if grid.size == 0 or np.any(grid <= 0) or np.any(np.diff(grid) <= 0):
            raise ModelError('detune_grid must be increasing positive factors')
        if self.bisection_steps < 0 or self.vk_iterations < 0:
            raise ModelError('bisection_steps and vk_iterations must be >= 0')


@dataclass(frozen=True, eq=False)
class Adjustment:
    """
    The closest certified gain found for ``[0, h]``.

    Attributes:
        gain: ``K̂ [m, n]``.
        certificate: its re-verified LK certificate.
        distance: ``||K̂ - K||_F`` to the nominal gain.
        method: 'nominal' (K itself is certified), 'detuned_lqr', 'synthesis' or 'vk'.
        detune_factor: the input-weight factor s of the detuned LQR start (None if not used).
        distance_history: the distance after the start and after each accepted V–K iteration.
    """

    gain: FloatArray
    certificate: LkCertificate
    distance: float
    method: str
    detune_factor: float | None
    distance_history: tuple[float, ...] = field(default=())


def _try_certify(plant: DelayedPlant, gain: FloatArray, h: int, decay: float,
                 options: LmiOptions) -> LkCertificate | None:
    try:
        return certify(gain, h, decay, plant=plant, options=options)
    except ControlError:
        return None


def _detuned_start(plant: DelayedPlant, weights: LqrWeights, h: int, decay: float,
                   options: LmiOptions,
                   adjust_options: AdjustOptions) -> tuple[float, LkCertificate] | None:
    grid = [float(s) for s in adjust_options.detune_grid]
    previous = 1.0
    for s in grid:
        cert = _try_certify(plant, detuned_lqr(plant, weights, s), h, decay, options)
        if cert is None:
            previous = s
            continue
        lo, hi = math.log(previous), math.log(s)
        best = (s, cert)
        for _ in range(adjust_options.bisection_steps):
            mid = 0.5 * (lo + hi)
            trial = _try_certify(plant, detuned_lqr(plant, weights, math.exp(mid)), h, decay,
                                 options)
            if trial is None:
                lo = mid
            else:
                hi = mid
                best = (math.exp(mid), trial)
        return best
    return None


def _v_step(plant: DelayedPlant, gain: FloatArray, st: _Structure, decay: float,
            options: LmiOptions) -> dict[str, FloatArray] | None:
    raw, _ = _solve_certificate(plant, gain, st, decay, options, maximize_slack=True)
    return raw


def _k_step(plant: DelayedPlant, nominal: FloatArray, st: _Structure, decay: float,
            fixed: Mapping[str, FloatArray], options: LmiOptions) -> FloatArray | None:
    """
    K-step: ``min ||K̂ - K||_F`` with ``(P, R[, R2])`` fixed.

    With ``Z = P + W`` fixed (``W = h² R``), ``Ψ = Ψ0(Q, R, S) + He(E1ᵀ P Π) + Πᵀ Z Π`` and the
    Schur form ``[[Ψ0 + He(E1ᵀ P Π), Πᵀ Z], [Z Π, -Z]] ≺ 0`` is affine in ``(K̂, Q, S)``.
    """
    cp = _cp()
    n, m = plant.n_states, plant.n_inputs
    k_hat = cp.Variable((m, n))
    p = fixed['P']
    mult: dict[str, Any] = {'P': np.zeros((n, n))}
    for name in st.multipliers:
        if name in ('R', 'R2'):
            mult[name] = fixed[name]
        elif name == 'S':
            mult[name] = cp.Variable((n, n))
        elif name != 'P':
            mult[name] = cp.Variable((n, n), symmetric=True)
    cons: list[Any] = [mult[name] >> 0 for name in ('Q', 'Q2') if name in mult]
    if 'S' in mult:
        rn = _rs_name(st)
        cons.append(_symmetric(cp.bmat([[mult[rn], mult['S']], [mult['S'].T, mult[rn]]])) >> 0)
    z = _sym(p + np.asarray(_delay_weight(st, fixed)))  # [n, n], ≻ 0 since P ⪰ I
    n_xi = n * st.blocks
    e1 = _selectors(n, st.blocks)[0]
    # Ψ0: the Q, R, S terms of Ψ, i.e. Ψ evaluated with P = 0 and Π = 0 (affine in Q, S)
    psi0 = _psi(st, mult, np.zeros((n, n_xi)), n) if st.case != 'zero' else np.zeros((n, n))
    for c in st.coefficients(decay):
        pi = _pi_expr(plant, st, decay, c, k_hat)
        he = p @ pi + pi.T @ p if st.case == 'zero' else e1.T @ p @ pi + pi.T @ p @ e1
        lmi = _symmetric(cp.bmat([[psi0 + he, pi.T @ z], [z @ pi, -z]]))
        cons.append(lmi << -options.epsilon * np.eye(lmi.shape[0]))
    problem = cp.Problem(cp.Minimize(cp.norm(k_hat - nominal, 'fro')), cons)
    status = _solve(problem, options)
    if not _ok(status) or k_hat.value is None:
        return None
    return np.asarray(k_hat.value, dtype=float)


def _vk(plant: DelayedPlant, nominal: FloatArray, start: LkCertificate, h: int, decay: float,
        options: LmiOptions, adjust_options: AdjustOptions,
        progress: Callable[[float], None] | None = None) -> tuple[LkCertificate, list[float]]:
    """V–K alternation on the (axis) plant from a certified start; returns the best certificate."""
    st = _structure(CertificateKind.INTERVAL, 0, h)
    best = start
    history = [float(np.linalg.norm(start.gain - nominal))]
    for _ in range(adjust_options.vk_iterations):
        fixed = _v_step(plant, best.gain, st, decay, options)
        if fixed is None:
            break
        fixed = {k: (v if k == 'S' else _sym(v)) for k, v in fixed.items()}
        candidate = _k_step(plant, nominal, st, decay, fixed, options)
        if candidate is None:
            break
        cert = _try_certify(plant, candidate, h, decay, options)
        if cert is None:
            break
        distance = float(np.linalg.norm(cert.gain - nominal))
        if distance >= history[-1]:
            break
        improvement = (history[-1] - distance) / max(history[-1], 1e-12)
        best = cert
        history.append(distance)
        if progress is not None:
            progress(distance)
        if improvement < adjust_options.vk_tolerance:
            break
    return best, history


def adjust(nominal_gain: object, max_delay_steps: int, decay_rate: float = 1.0, *,
           plant: DelayedPlant | None = None, lqr_weights: LqrWeights | None = None,
           options: LmiOptions | None = None,
           adjust_options: AdjustOptions | None = None) -> Adjustment:
    """
    The certified gain closest to the nominal one: ``min ||K̂ - K||_F`` s.t. LMI (a) on ``[0, h]``.

    1. If K itself is certified, it is returned (distance 0).
    2. Start: the detuned LQR ``dlqr(A, B, Q, sR)`` with the smallest certified s on a log grid,
       refined by bisection (needs ``lqr_weights``); without weights, LMI (b) with the convex
       majorant of the distance (:func:`synthesize` family).
    3. V–K alternation from that start (every iterate certified and re-verified).

    The result is a local solution of the BMI (the fixed-P K-step is conservative).

    Raises:
        ControlError: no certified gain was found for h (the message names h and why).
    """
    plant = plant if plant is not None else planar_double_integrator()
    options = options or LmiOptions()
    adjust_options = adjust_options or AdjustOptions()
    k_nom = check_gain(plant, nominal_gain)
    h = validate_delay_steps(max_delay_steps)
    if not 0.0 < decay_rate <= 1.0:
        raise ModelError(f'decay_rate = {decay_rate!r}: must be in (0, 1]')
    cert = _try_certify(plant, k_nom, h, decay_rate, options)
    if cert is not None:
        return Adjustment(cert.gain, cert, 0.0, 'nominal', None, (0.0,))
    method = 'detuned_lqr'
    factor: float | None = None
    start: LkCertificate | None = None
    if lqr_weights is not None:
        found = _detuned_start(plant, lqr_weights, h, decay_rate, options, adjust_options)
        if found is not None:
            factor, start = found
    if start is None:
        method = 'synthesis'
        start = _closest_synthesis(plant, k_nom, h, decay_rate, options)
    if start is None:
        tried = (f'no detuned LQR gain dlqr(A, B, Q, sR) with s up to '
                 f'{adjust_options.detune_grid[-1]:g} and no LMI (b) synthesis'
                 if lqr_weights is not None else 'no LMI (b) synthesis')
        raise ControlError(f'no certified gain for h={h} (delays in [0, {h}], decay rate '
                           f'{decay_rate:g}): {tried} passed LMI (a)')
    start_distance = float(np.linalg.norm(start.gain - k_nom))
    start_method = method
    if adjust_options.vk_iterations == 0:
        return Adjustment(start.gain, start, start_distance, method, factor, (start_distance,))
    # V-K on one axis when plant, nominal and start gains are identical decoupled blocks
    axis_plant, axis_nominal, copies = _axis_problem(plant, k_nom, options)
    axis_start = start
    if copies > 1:
        split = split_identical_axes(plant, start.gain)
        axis_cert = None
        if split is not None and split.copies == copies:
            axis_cert = _try_certify(axis_plant, split.K, h, decay_rate, options)
        if axis_cert is None:  # not block structured: alternate on the full plant
            axis_plant, axis_nominal, copies = plant, k_nom, 1
        else:
            axis_start = axis_cert
    best_axis, history_axis = _vk(axis_plant, axis_nominal, axis_start, h, decay_rate, options,
                                  adjust_options)
    final: LkCertificate | None = start
    if len(history_axis) > 1:
        final = best_axis if copies == 1 else _try_certify(
            plant, _blockdiag(copies, best_axis.gain), h, decay_rate, options)
        method = 'vk'
    if final is None:  # the full-size re-certification failed (not expected): keep the start
        final, method = start, start_method
        history_axis = history_axis[:1]
    distances = tuple(float(math.sqrt(copies) * d) for d in history_axis)
    distance = float(np.linalg.norm(final.gain - k_nom))
    return Adjustment(final.gain, final, distance, method, factor, distances)


def _closest_synthesis(plant: DelayedPlant, nominal: FloatArray, h: int, decay: float,
                       options: LmiOptions, rounds: int = 4) -> LkCertificate | None:
    """Majorisation–minimisation with the convex majorant of the distance (LMI (b))."""
    try:
        first = synthesize(h, decay, plant=plant, options=options)
    except ControlError:
        return None
    best = first.certificate
    best_d = float(np.linalg.norm(best.gain - nominal))
    axis_plant, copies = _plant_axes(plant, None, options)
    split = split_identical_axes(plant, nominal) if copies > 1 else None
    target = np.asarray(split.K if split is not None else nominal, dtype=np.float64)
    if split is None:
        axis_plant, copies = plant, 1
    st = _structure(CertificateKind.INTERVAL, 0, h)
    anchor = _inverse(_axis_block(best.multipliers['P'], copies))
    for _ in range(rounds):
        found = _synthesize_axis(axis_plant, st, decay, DEFAULT_SIGMAS, options, target, anchor)
        improved = False
        for _sigma, axis_gain in found:
            cert = _try_certify(plant, _blockdiag(copies, axis_gain), h, decay, options)
            if cert is None:
                continue
            d = float(np.linalg.norm(cert.gain - nominal))
            if d < best_d - 1e-9:
                best, best_d, improved = cert, d, True
        if not improved:
            break
        anchor = _inverse(_axis_block(best.multipliers['P'], copies))
    return best


def _inverse(matrix: FloatArray) -> FloatArray:
    return np.asarray(np.linalg.inv(_sym(matrix)), dtype=np.float64)


def _blockdiag(copies: int, block: FloatArray) -> FloatArray:
    """``I_copies ⊗ block``."""
    if copies == 1:
        return np.asarray(block, dtype=np.float64)
    return np.asarray(np.kron(np.eye(copies), block), dtype=np.float64)


def _axis_block(matrix: FloatArray, copies: int) -> FloatArray:
    size = matrix.shape[0] // copies
    return matrix[:size, :size]
