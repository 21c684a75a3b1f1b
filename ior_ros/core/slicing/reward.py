"""
The drift-plus-penalty Lagrangian of seed 003 §IV-A (eqs. 7, 10-14) as a per-slot reward.

* Lyapunov function (eq. 10), on queues normalised by reference lengths so that it is O(1):
  ``L = ½ Σ_i (F_i / F_ref)² + ½ Σ_i (G_i / G_ref)²``; drift ``ΔL = L(t+1) - L(t)``.
* Cost (eq. 7's summand): ``h(r) = Σ_i 1 / ((r_i / r_ref)² + ε)``; eq. 7 writes ``1/(r² + ε)``
  with r in bit/s, which makes the cost vanish (≈ 10⁻¹⁵) at the seed's rates; the normalisation by
  ``r_ref`` only rescales V.
* Delay constraint (eq. 12), **sign corrected**: the text asks for reliability
  ``P(D_ti > D_max) <= 1 - χ`` (8a) and approximates the tail by ``exp(-α1 r_i D_max)``. Eq. 12 as
  printed, ``exp(-α1 r D_max) - (1 - χ) >= 0``, would demand a tail *at least* 1 - χ, i.e. the
  opposite. We use the slack ``y_i = (1 - χ) - exp(-α1 r_i D_max)``, which is >= 0 exactly when the
  approximated reliability constraint holds, and keep eq. 13's ``- λ y``.
* Lagrangian (eq. 13): ``L_a = ΔL + V h - λ Σ_i y_i``; the reward is ``-L_a`` (minimising L_a over
  the allocation, eq. 14's inner problem). The dual variable λ >= 0 is raised by dual ascent when
  the measured violation rate exceeds 1 - χ (see :mod:`ior_ros.core.rl.dual_agent`).

The two agents of Algorithm 1 get the slice parts: eMBB ``r1 = -(ΔL_G + V h_e)``, URLLC
``r2 = -(ΔL_F + V h_u) + λ Σ y_i``; ``r1 + r2 = -L_a``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ior_ros.core.errors import ModelError

__all__ = ['SlotReward', 'lyapunov', 'rate_cost', 'delay_constraint_slack', 'slot_reward']

FloatArray = npt.NDArray[np.float64]


def lyapunov(queues: FloatArray, reference: float) -> float:
    """``½ Σ (Q_i / Q_ref)²`` (seed 003 eq. 10, one slice)."""
    q = np.asarray(queues, dtype=float) / reference
    return float(0.5 * np.dot(q, q))


def rate_cost(rates_bps: FloatArray, rate_reference_bps: float, epsilon: float) -> FloatArray:
    """Per-user ``1 / ((r_i / r_ref)² + ε)`` (seed 003 eq. 7's summand) ``[n]``."""
    x = np.asarray(rates_bps, dtype=float) / rate_reference_bps
    if np.any(x < 0):
        raise ModelError('rates_bps must be >= 0')
    cost: FloatArray = 1.0 / (x * x + epsilon)
    return cost


def delay_constraint_slack(rates_bps: FloatArray, tail_coefficient_per_bit: float,
                           deadline_s: float, reliability: float,
                           backlog_bits: FloatArray | None = None) -> FloatArray:
    """
    Sign-corrected seed 003 eq. 12: ``y_i = (1 - χ) - exp(-α1 r_i D_max)`` ``[n_u]``.

    ``y_i >= 0`` iff the approximated tail ``P(D > D_max) ≈ exp(-α1 r_i D_max)`` is at most
    ``1 - χ``, i.e. the reliability constraint 8a holds.

    With ``backlog_bits`` (the URLLC queue left after the slot, ``F_i L_u``), the exponent is the
    capacity still free within the deadline, ``α1 (r_i D_max - F_i L_u)^+``: a command arriving
    now waits behind the backlog, so a backlog that fills the deadline makes the tail 1 (our
    extension; with an empty queue it is eq. 12).
    """
    if not 0.0 < reliability <= 1.0:
        raise ModelError(f'reliability = {reliability!r}: must be in (0, 1]')
    r = np.asarray(rates_bps, dtype=float)
    spare = r * deadline_s
    if backlog_bits is not None:
        spare = np.maximum(spare - np.asarray(backlog_bits, dtype=float), 0.0)
    slack: FloatArray = (1.0 - reliability) - np.exp(-tail_coefficient_per_bit * spare)
    return slack


class SlotReward(NamedTuple):
    """The terms of the Lagrangian for one slot."""

    drift_embb: float
    """ΔL of the eMBB queues."""
    drift_urllc: float
    """ΔL of the URLLC queues."""
    cost_embb: float
    """h over the eMBB users."""
    cost_urllc: float
    """h over the URLLC users."""
    slack: float
    """Σ_i y_i over the URLLC users (>= 0: the approximated constraint holds on average)."""
    reward_embb: float
    """r1 = -(ΔL_G + V h_e)."""
    reward_urllc_unconstrained: float
    """-(ΔL_F + V h_u), the URLLC reward without the multiplier term."""
    reward_urllc: float
    """r2 = -(ΔL_F + V h_u) + λ Σ y_i."""
    reward: float
    """r1 + r2 = -L_a."""


def slot_reward(drift_embb: float, drift_urllc: float, cost_embb: float, cost_urllc: float,
                slack: float, penalty_weight: float, multiplier: float) -> SlotReward:
    """Assemble ``-L_a = -(ΔL + V h - λ Σ y)`` and its two agent parts."""
    if multiplier < 0:
        raise ModelError(f'multiplier = {multiplier!r}: a Lagrange multiplier must be >= 0')
    r1 = -(drift_embb + penalty_weight * cost_embb)
    r2u = -(drift_urllc + penalty_weight * cost_urllc)
    r2 = r2u + multiplier * slack
    return SlotReward(drift_embb, drift_urllc, cost_embb, cost_urllc, slack, r1, r2u, r2, r1 + r2)
