"""
(b) Synthesis of a gain certified on ``[0, h]`` (LK functional of
:mod:`~ior_ros.core.control.lk_functional`).

The change of variables ``X = P⁻¹``, ``Y = K X``, ``Q̄ = XQX`` … (congruence
``diag(X, X, X, X, W⁻¹)`` of the Schur form, ``W = h² R``) and the bound
``-X W̄⁻¹ X ⪯ σ² W̄ - 2σ X`` (any σ > 0) make it an LMI, with a line search over σ. Every candidate
is re-certified by LMI (a) (:mod:`~ior_ros.core.control.lk_certificate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ior_ros.core.control.lk_certificate import LkCertificate, certify
from ior_ros.core.control.lk_functional import (
    CertificateKind,
    LkStructure,
    LmiOptions,
    blockdiag,
    cvxpy_module,
    delay_weight,
    lk_structure,
    multiplier_variables,
    plant_axes,
    psi_matrix,
    rs_name,
    selectors,
    solve_problem,
    solved,
    sym,
    symmetric_expr,
)
from ior_ros.core.control.robot_models import (
    DelayedPlant,
    DelayForm,
    planar_double_integrator,
    validate_delay_steps,
)
from ior_ros.core.errors import ControlError

__all__ = ['SynthesisResult', 'synthesize', 'synthesize_max_decay', 'DEFAULT_SIGMAS',
           'synthesize_axis']

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class SynthesisResult:
    """A synthesised gain and its (re-verified, LMI (a)) certificate."""

    gain: FloatArray
    certificate: LkCertificate
    schur_scale: float
    """σ of the bound ``-X W̄⁻¹ X ⪯ σ² W̄ - 2σ X`` that worked."""


def _synthesis_problem(plant: DelayedPlant, st: LkStructure, decay_rate: float, sigma: float,
                       options: LmiOptions, target: FloatArray | None = None,
                       anchor: FloatArray | None = None) -> tuple[Any, Any, Any]:
    """
    LMI (b) for one σ (optionally minimising the convex majorant of ``||K - target||_F²``).

    Variables ``X = P⁻¹``, ``Y = K X`` and the barred multipliers ``Q̄ = XQX``, ``R̄``, ``S̄``::

        [[Ψ̄0 + He(E1ᵀ Π̄), Π̄ᵀ, Π̄ᵀ], [Π̄, -X, 0], [Π̄, 0, σ² W̄ - 2σ X]] ≺ 0,  W̄ = h² R̄,

    with ``Π̄ = [(A/λ - I) X, -c B Y, 0]`` (input delay) or ``[(A/λ - I) X - BY/λ, c A_d X, 0]``
    (state delay).
    """
    cp = cvxpy_module()
    n, m = plant.n_states, plant.n_inputs
    x = cp.Variable((n, n), symmetric=True)
    y = cp.Variable((m, n))
    bars = multiplier_variables(st, n)
    bars['P'] = np.zeros((n, n))
    eye = np.eye(n)
    cons: list[Any] = [x >> 1e-6 * eye]
    cons += [bars[name] >> 0 for name in ('Q', 'Q2') if name in bars]
    if 'S' in bars:
        rn = rs_name(st)
        cons.append(symmetric_expr(cp.bmat([[bars[rn], bars['S']], [bars['S'].T, bars[rn]]])) >> 0)
    if st.case in ('constant', 'interval'):
        cons.append(bars['R'] >> 0)
    n_xi = n * st.blocks
    e = selectors(n, st.blocks)
    psi0 = psi_matrix(st, bars, np.zeros((n, n_xi)), n) if st.case != 'zero' else None
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
            w_bar = delay_weight(st, bars)
            zeros = np.zeros((n, n))
            lmi = cp.bmat([
                [psi0 + he, pi_bar.T, pi_bar.T],
                [pi_bar, -x, zeros],
                [pi_bar, zeros, sigma * sigma * w_bar - 2.0 * sigma * x],
            ])
        sym = symmetric_expr(lmi)
        cons.append(sym << -options.epsilon * np.eye(sym.shape[0]))
    objective: Any = cp.Minimize(0)
    if target is not None and anchor is not None:
        # ||K - K0||_F² = ||(Y - K0 X) X⁻¹||² <= tr T when [[T, Y - K0 X], [·ᵀ, XD + DX - D²]] ⪰ 0,
        # since X² ⪰ XD + DX - D² (equality at X = D): majorisation-minimisation in D
        t = cp.Variable((m, m), symmetric=True)
        diff = y - target @ x
        lower = x @ anchor + anchor @ x - anchor @ anchor
        cons.append(symmetric_expr(cp.bmat([[t, diff], [diff.T, lower]])) >> 0)
        objective = cp.Minimize(cp.trace(t))
    return cp.Problem(objective, cons), x, y


def synthesize_axis(plant: DelayedPlant, st: LkStructure, decay_rate: float,
                    sigmas: Sequence[float], options: LmiOptions,
                    target: FloatArray | None = None,
                    anchor: FloatArray | None = None) -> list[tuple[float, FloatArray]]:
    gains = []
    for sigma in sigmas:
        problem, x, y = _synthesis_problem(plant, st, decay_rate, sigma, options, target, anchor)
        status = solve_problem(problem, options)
        if solved(status) and x.value is not None and y.value is not None:
            xv = sym(np.asarray(x.value))
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
    st = lk_structure(CertificateKind.INTERVAL, 0, h)
    axis_plant, copies = plant_axes(plant, axes, options)
    tried = 0
    for sigma, axis_gain in synthesize_axis(axis_plant, st, decay_rate, sigmas, options):
        tried += 1
        gain = blockdiag(copies, axis_gain)
        try:
            cert = certify(gain, h, decay_rate, plant=plant, options=options)
        except ControlError:
            continue
        return SynthesisResult(cert.gain, cert, sigma)
    raise ControlError(f'synthesis failed for h={h} (decay rate {decay_rate:g}): LMI (b) gave '
                       f'{tried} candidate gain(s) over {len(sigmas)} values of σ and LMI (a) '
                       'certified none')


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
