"""
(c) Adjustment: the certified gain closest to the nominal one, ``min ||K̂ - K||_F`` subject to
LMI (a) on ``[0, h]`` (a BMI).

Initialised by detuned LQR ``K(s) = dlqr(A, B, Q, sR)`` (log-grid scan, then bisection on s), then
V–K alternation (El Ghaoui, Oustry & AitRami, IEEE TAC 42(8) 1997): the V-step maximises the slack
t of ``Ψ ⪯ -tI`` for fixed K̂; the K-step minimises the distance for fixed ``(P, R)``, where the
Schur form ``[[Ψ0 + He(E1ᵀ P Π), Πᵀ Z], [Z Π, -Z]] ≺ 0`` with ``Z = P + h² R`` is affine in
``(K̂, Q, S)``. Every iterate is certified and re-verified; the distance never increases. Without
LQR weights the start is LMI (b) with the convex majorant of the distance
(:mod:`~ior_ros.core.control.lk_synthesis`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ior_ros.core.control.lk_certificate import LkCertificate, certify, solve_certificate
from ior_ros.core.control.lk_functional import (
    CertificateKind,
    LkStructure,
    LmiOptions,
    axis_block,
    axis_problem,
    blockdiag,
    cvxpy_module,
    delay_weight,
    lk_structure,
    pi_matrix,
    plant_axes,
    psi_matrix,
    rs_name,
    selectors,
    solve_problem,
    solved,
    sym,
    sym_inverse,
    symmetric_expr,
)
from ior_ros.core.control.lk_synthesis import DEFAULT_SIGMAS, synthesize, synthesize_axis
from ior_ros.core.control.lqr_design import LqrWeights, detuned_lqr
from ior_ros.core.control.robot_models import (
    DelayedPlant,
    check_gain,
    planar_double_integrator,
    split_identical_axes,
    validate_delay_steps,
)
from ior_ros.core.errors import ControlError, ModelError

__all__ = ['AdjustOptions', 'Adjustment', 'adjust']

FloatArray = npt.NDArray[np.float64]


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


def _v_step(plant: DelayedPlant, gain: FloatArray, st: LkStructure, decay: float,
            options: LmiOptions) -> dict[str, FloatArray] | None:
    raw, _ = solve_certificate(plant, gain, st, decay, options, maximize_slack=True)
    return raw


def _k_step(plant: DelayedPlant, nominal: FloatArray, st: LkStructure, decay: float,
            fixed: Mapping[str, FloatArray], options: LmiOptions) -> FloatArray | None:
    """
    K-step: ``min ||K̂ - K||_F`` with ``(P, R[, R2])`` fixed.

    With ``Z = P + W`` fixed (``W = h² R``), ``Ψ = Ψ0(Q, R, S) + He(E1ᵀ P Π) + Πᵀ Z Π`` and the
    Schur form ``[[Ψ0 + He(E1ᵀ P Π), Πᵀ Z], [Z Π, -Z]] ≺ 0`` is affine in ``(K̂, Q, S)``.
    """
    cp = cvxpy_module()
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
        rn = rs_name(st)
        cons.append(symmetric_expr(cp.bmat([[mult[rn], mult['S']], [mult['S'].T, mult[rn]]])) >> 0)
    z = sym(p + np.asarray(delay_weight(st, fixed)))  # [n, n], ≻ 0 since P ⪰ I
    n_xi = n * st.blocks
    e1 = selectors(n, st.blocks)[0]
    # Ψ0: the Q, R, S terms of Ψ, i.e. Ψ evaluated with P = 0 and Π = 0 (affine in Q, S)
    psi0 = psi_matrix(st, mult, np.zeros((n, n_xi)), n) if st.case != 'zero' else np.zeros((n, n))
    for c in st.coefficients(decay):
        pi = pi_matrix(plant, st, decay, c, k_hat)
        he = p @ pi + pi.T @ p if st.case == 'zero' else e1.T @ p @ pi + pi.T @ p @ e1
        lmi = symmetric_expr(cp.bmat([[psi0 + he, pi.T @ z], [z @ pi, -z]]))
        cons.append(lmi << -options.epsilon * np.eye(lmi.shape[0]))
    problem = cp.Problem(cp.Minimize(cp.norm(k_hat - nominal, 'fro')), cons)
    status = solve_problem(problem, options)
    if not solved(status) or k_hat.value is None:
        return None
    return np.asarray(k_hat.value, dtype=float)


def _vk(plant: DelayedPlant, nominal: FloatArray, start: LkCertificate, h: int, decay: float,
        options: LmiOptions, adjust_options: AdjustOptions,
        progress: Callable[[float], None] | None = None) -> tuple[LkCertificate, list[float]]:
    """V–K alternation on the (axis) plant from a certified start; returns the best certificate."""
    st = lk_structure(CertificateKind.INTERVAL, 0, h)
    best = start
    history = [float(np.linalg.norm(start.gain - nominal))]
    for _ in range(adjust_options.vk_iterations):
        fixed = _v_step(plant, best.gain, st, decay, options)
        if fixed is None:
            break
        fixed = {k: (v if k == 'S' else sym(v)) for k, v in fixed.items()}
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
    axis_plant, axis_nominal, copies = axis_problem(plant, k_nom, options)
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
            plant, blockdiag(copies, best_axis.gain), h, decay_rate, options)
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
    axis_plant, copies = plant_axes(plant, None, options)
    split = split_identical_axes(plant, nominal) if copies > 1 else None
    target = np.asarray(split.K if split is not None else nominal, dtype=np.float64)
    if split is None:
        axis_plant, copies = plant, 1
    st = lk_structure(CertificateKind.INTERVAL, 0, h)
    anchor = sym_inverse(axis_block(best.multipliers['P'], copies))
    for _ in range(rounds):
        found = synthesize_axis(axis_plant, st, decay, DEFAULT_SIGMAS, options, target, anchor)
        improved = False
        for _sigma, axis_gain in found:
            cert = _try_certify(plant, blockdiag(copies, axis_gain), h, decay, options)
            if cert is None:
                continue
            d = float(np.linalg.norm(cert.gain - nominal))
            if d < best_d - 1e-9:
                best, best_d, improved = cert, d, True
        if not improved:
            break
        anchor = sym_inverse(axis_block(best.multipliers['P'], copies))
    return best
