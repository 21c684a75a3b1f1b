"""
(a) Certification: the LMI of the LK functional (:mod:`~ior_ros.core.control.lk_functional`) for
one gain and one delay set, and the floating-point re-verification of every certificate.

**Normalisation and re-verification.** By homogeneity ``P ⪰ I`` and ``Ψ ⪯ -ε I``. Every certificate
returned is re-checked in floating point (eigenvalues of the assembled Ψ at every vertex and of P,
Q, R and the ``[[R, S], [Sᵀ, R]]`` block), so a solver tolerance cannot fake a "certified".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ior_ros.core.control.lk_functional import (
    CertificateKind,
    LkStructure,
    LmiOptions,
    axis_problem,
    cvxpy_module,
    expand_axes,
    lk_structure,
    multiplier_constraints,
    multiplier_variables,
    pi_matrix,
    psi_matrix,
    rs_name,
    solve_problem,
    solved,
    sym,
    symmetric_expr,
)
from ior_ros.core.control.robot_models import (
    DelayedPlant,
    as_matrix,
    check_gain,
    planar_double_integrator,
    validate_delay_steps,
)
from ior_ros.core.errors import ControlError, ModelError

__all__ = ['LkCertificate', 'verify_certificate', 'certificate_problem', 'certify',
           'certify_interval', 'certify_constant', 'is_certified', 'certified_delay_bound']

FloatArray = npt.NDArray[np.float64]

# Relative size of the floating-point round-off allowed when re-verifying eigenvalue signs.
_ROUNDOFF = 64.0 * float(np.finfo(float).eps)
# Required strictness of Ψ ≺ 0 in the re-verification: λ_max(Ψ) < -_STRICT · max(1, ||Ψ||).
_STRICT = 1e-12


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


def _psd_shift(m: FloatArray) -> float:
    """Smallest shift s >= 0 such that ``m + s I`` is PSD beyond round-off."""
    lam = float(np.min(np.linalg.eigvalsh(m)))
    tiny = _ROUNDOFF * max(1.0, float(np.linalg.norm(m, 2)))
    return 0.0 if lam >= -tiny else tiny - lam


def _check_multipliers(st: LkStructure, mult: Mapping[str, FloatArray], n: int,
                       repair: bool) -> tuple[dict[str, FloatArray], str | None]:
    """Symmetrise; check (or repair by a tiny identity shift) the PSD constraints."""
    out: dict[str, FloatArray] = {}
    for name in st.multipliers:
        if name not in mult:
            return out, f'multiplier {name} missing'
        m = np.asarray(mult[name], dtype=float)
        if m.shape != (n, n):
            return out, f'multiplier {name} has shape {m.shape}, expected {(n, n)}'
        out[name] = m.copy() if name == 'S' else sym(m)
    for name in ('Q', 'Q2', 'R', 'R2'):
        if name in out:
            shift = _psd_shift(out[name])
            if shift > 0.0:
                if not repair:
                    return out, f'{name} is not positive semidefinite'
                out[name] = out[name] + shift * np.eye(n)
    if 'S' in out:
        rn = rs_name(st)
        for _ in range(3):
            block = np.block([[out[rn], out['S']], [out['S'].T, out[rn]]])
            shift = _psd_shift(sym(block))
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


def _psi_strictness(plant: DelayedPlant, gain: FloatArray, st: LkStructure, decay_rate: float,
                    mult: Mapping[str, FloatArray]) -> tuple[tuple[float, ...], bool]:
    n = plant.n_states
    eigs: list[float] = []
    ok = True
    for c in st.coefficients(decay_rate):
        psi = sym(np.asarray(psi_matrix(st, mult, pi_matrix(plant, st, decay_rate, c, gain), n)))
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
    st = lk_structure(kind, d1, d2)
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
# The cvxpy problem and the certify family


def certificate_problem(plant: DelayedPlant, gain: FloatArray, st: LkStructure,
                        decay_rate: float, options: LmiOptions,
                        maximize_slack: bool = False) -> tuple[Any, dict[str, Any]]:
    """
    The cvxpy problem of LMI (a) for one (axis) plant and its multiplier variables.

    Feasibility with ``Ψ ⪯ -ε I``; with ``maximize_slack`` (the V-step) the slack t of
    ``Ψ ⪯ -t I`` is maximised under ``I ⪯ P ⪯ p_max I``.
    """
    cp = cvxpy_module()
    n = plant.n_states
    mult = multiplier_variables(st, n)
    cons = multiplier_constraints(st, mult, n)
    slack = cp.Variable() if maximize_slack else None
    bound = -options.epsilon if slack is None else -slack
    for c in st.coefficients(decay_rate):
        psi = symmetric_expr(psi_matrix(st, mult, pi_matrix(plant, st, decay_rate, c, gain), n))
        cons.append(psi << bound * np.eye(psi.shape[0]))
    if slack is not None:
        cons += [mult['P'] << options.p_max * np.eye(n), slack >= options.epsilon]
        return cp.Problem(cp.Maximize(slack), cons), mult
    return cp.Problem(cp.Minimize(0), cons), mult


def solve_certificate(plant: DelayedPlant, gain: FloatArray, st: LkStructure, decay_rate: float,
                      options: LmiOptions,
                      maximize_slack: bool = False) -> tuple[dict[str, FloatArray] | None, str]:
    """LMI (a) for one (axis) plant; returns raw multipliers (not yet verified) and the status."""
    problem, mult = certificate_problem(plant, gain, st, decay_rate, options, maximize_slack)
    status = solve_problem(problem, options)
    if not solved(status) or mult['P'].value is None:
        return None, status
    return {k: np.asarray(v.value, dtype=float) for k, v in mult.items()}, status


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
    st = lk_structure(kind, lo, hi)
    axis_plant, axis_gain, copies = axis_problem(plant, k, options)
    raw, status = solve_certificate(axis_plant, axis_gain, st, float(decay_rate), options)
    what = (f'constant delay d={hi}' if st.case in ('constant', 'zero') and
            kind is CertificateKind.CONSTANT else f'delays in [{lo}, {hi}]')
    if raw is None:
        raise ControlError(f'no LK certificate for h={hi} ({what}, decay rate '
                           f'{float(decay_rate):g}): LMI (a) is {status}')
    full = expand_axes(raw, copies) if copies > 1 else raw
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
