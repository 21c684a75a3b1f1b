"""
Baselines for the seed-003 slicing problem: proportional fair, round robin, max-weight and the
per-slot drift-plus-penalty minimiser (no learning).

Every baseline maps the slot's :class:`~ior_ros.core.slicing.env.SlotState` to a PRB -> user map
``owner [K]`` that satisfies constraints 8b-8d of seed 003 (every PRB to exactly one user, at least
one PRB per user), so all methods solve the same problem as the learned slicer.

* **Proportional fair** (the seed's comparison, §V-B6): per PRB ``argmax_i r_ij / T_i`` with the
  throughput average T_i (β = 0.98), full buffer (queue-blind), through
  :class:`ior_ros.core.ran.schedulers.ProportionalFair`.
* **Round robin**: cyclic PRB assignment, blind to channel and queues
  (:class:`ior_ros.core.ran.schedulers.RoundRobin`).
* **Max-weight**: per PRB ``argmax_i Q_i r_ij`` with the backlog Q_i in bits (Tassiulas &
  Ephremides 1992; :class:`ior_ros.core.ran.schedulers.MaxWeight`).
* **Drift-plus-penalty** (Neely, *Stochastic Network Optimization with Application to
  Communication and Queueing Systems*, 2010, ch. 3): each slot, minimise the conditional
  expectation of the Lagrangian of seed 003 eq. 13, ``E[ΔL | Q] + V h(r) - λ Σ y(r)``, over the
  PRB counts
  (user i's rate taken as ``c_i`` times its mean PRB rate; the terms are separable and convex in
  ``c_i``, so taking the K - n smallest marginal costs after one PRB each is exact for that model),
  then the Hungarian assignment of :func:`ior_ros.core.slicing.spaces.assign_prbs`.

The schedulers of ``ior_ros.core.ran.schedulers`` may leave a PRB unused (no UE with data) or a
user without a PRB; :func:`repair_allocation` moves the fewest PRBs needed to satisfy 8c and 8d.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from ior_ros.core.errors import ConfigError, ModelError
from ior_ros.core.ran.schedulers import NO_UE, MaxWeight, ProportionalFair, RoundRobin
from ior_ros.core.slicing.config import SlicingEnvConfig
from ior_ros.core.slicing.env import SlotState
from ior_ros.core.slicing.spaces import assign_prbs

__all__ = ['SlicingBaseline', 'ProportionalFairSlicer', 'RoundRobinSlicer', 'MaxWeightSlicer',
           'DriftPlusPenaltySlicer', 'repair_allocation', 'make_baseline', 'BASELINES',
           'dpp_user_costs']

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def repair_allocation(owner: IntArray, prb_rates_bps: FloatArray) -> IntArray:
    """
    Make a scheduler's PRB map satisfy 8c and 8d with few changes.

    Unused PRBs (``NO_UE``) go to the user with the highest rate on them relative to its mean
    PRB rate. Then each user without a PRB takes, from the users holding two or more, the PRB
    where its own rate relative to the holder's is largest.

    Args:
        owner: ``[K]`` user per PRB or ``NO_UE``.
        prb_rates_bps: ``[n, K]``.

    Returns:
        ``[K]`` owner with every entry a user and every user at least one PRB.
    """
    rates = np.asarray(prb_rates_bps, dtype=float)
    n, n_prb = rates.shape
    if n > n_prb:
        raise ModelError(f'{n} users cannot each get one of {n_prb} PRBs (constraint 8d)')
    out = np.array(owner, dtype=np.int64, copy=True)
    relative = rates / np.maximum(rates.mean(axis=1, keepdims=True), 1e-30)  # [n, K]
    unused = out == NO_UE
    if np.any(unused):
        out[unused] = np.argmax(relative[:, unused], axis=0)
    counts = np.bincount(out, minlength=n)
    for user in np.flatnonzero(counts == 0):
        donors = counts[out] >= 2  # [K] PRBs whose holder can give one
        score = np.where(donors, relative[user] / np.maximum(relative[out, np.arange(n_prb)],
                                                            1e-30), -np.inf)
        j = int(np.argmax(score))
        counts[out[j]] -= 1
        out[j] = user
        counts[user] += 1
    return out


class SlicingBaseline(ABC):
    """A scheduler for the slicing environment: ``decide`` then ``observe`` each slot."""

    name: ClassVar[str]

    def __init__(self, config: SlicingEnvConfig) -> None:
        self.config = config

    def reset(self) -> None:
        """Forget the state of the previous episode (stateless baselines: nothing to do)."""
        return None

    @abstractmethod
    def decide(self, state: SlotState) -> IntArray:
        """The slot's PRB -> user map ``[K]`` (8b-8d hold)."""

    def observe(self, owner: IntArray, info: Mapping[str, Any]) -> None:
        """
        Update internal state from what the slot delivered (``info`` of the env step);
        stateless baselines ignore it.
        """
        return None


class ProportionalFairSlicer(SlicingBaseline):
    """Per-PRB proportional fair, full buffer (the seed's PF comparison)."""

    name = 'pf'

    def __init__(self, config: SlicingEnvConfig, beta: float = 0.98) -> None:
        super().__init__(config)
        self._pf = ProportionalFair(config.n_users, beta=beta, initial_avg_bps=1.0)

    def reset(self) -> None:
        """Throughput averages back to their initial value."""
        self._pf.reset()

    def decide(self, state: SlotState) -> IntArray:
        """``argmax_i r_ij / T_i`` per PRB, repaired to 8d."""
        owner = self._pf.assign(state.prb_rates_bps)
        return repair_allocation(owner, state.prb_rates_bps)

    def observe(self, owner: IntArray, info: Mapping[str, Any]) -> None:
        """T_i <- β T_i + (1 - β) r_i with the allocated rates (full buffer)."""
        self._pf.update(owner, np.asarray(info['rates_bps'], dtype=float))


class RoundRobinSlicer(SlicingBaseline):
    """Cyclic PRB assignment, full buffer."""

    name = 'rr'

    def __init__(self, config: SlicingEnvConfig) -> None:
        super().__init__(config)
        self._rr = RoundRobin(config.n_users)

    def reset(self) -> None:
        """Pointer back to user 0."""
        self._rr.reset()

    def decide(self, state: SlotState) -> IntArray:
        """The next users in turn, one PRB each (repaired to 8d when K < 2n)."""
        owner = self._rr.assign(state.prb_rates_bps)
        return repair_allocation(owner, state.prb_rates_bps)

    def observe(self, owner: IntArray, info: Mapping[str, Any]) -> None:
        """Advance the pointer."""
        self._rr.update(owner, np.asarray(info['rates_bps'], dtype=float))


def _backlog_bits(state: SlotState, config: SlicingEnvConfig) -> FloatArray:
    backlog: FloatArray = np.concatenate([state.embb_queue_packets * config.embb_packet_bits,
                                          state.urllc_queue_packets * config.urllc_packet_bits])
    return backlog


class MaxWeightSlicer(SlicingBaseline):
    """Per-PRB max-weight ``argmax_i Q_i r_ij`` with backlogs in bits."""

    name = 'maxweight'

    def __init__(self, config: SlicingEnvConfig) -> None:
        super().__init__(config)
        self._mw = MaxWeight(config.n_users)

    def decide(self, state: SlotState) -> IntArray:
        """Max-weight per PRB, repaired to 8c/8d (empty queues get the minimum)."""
        owner = self._mw.assign(state.prb_rates_bps, _backlog_bits(state, self.config))
        return repair_allocation(owner, state.prb_rates_bps)


def dpp_user_costs(state: SlotState, config: SlicingEnvConfig, max_count: int) -> FloatArray:
    """
    Expected per-user Lagrangian term for ``c = 1 .. max_count`` PRBs, ``[n, max_count]``.

    For user i with rate ``r = c · mean_j r_ij``: URLLC
    ``½ ((F + Ā - μ(r) τ)^+)² / F_ref² - ½ F² / F_ref² + V / ((r/r_ref)² + ε) - λ y(r)``
    with ``Ā`` the mean eq.-2 arrivals and ``μ`` eq. 4; eMBB the same with G, the Poisson mean and
    ``r τ / L_e`` (the variance of the arrivals does not depend on the decision and is dropped).
    """
    cfg = config
    n_e = cfg.n_embb
    c = np.arange(1, max_count + 1, dtype=float)  # [C]
    mean_prb = state.prb_rates_bps.mean(axis=1)  # [n]
    r = mean_prb[:, None] * c[None, :]  # [n, C]
    tau = cfg.slot_s
    cost: FloatArray = cfg.penalty_weight / ((r / cfg.rate_reference_bps) ** 2
                                             + cfg.rate_epsilon)  # [n, C]
    # eMBB drift
    g = state.embb_queue_packets[:, None]  # [n_e, 1]
    a_e = cfg.embb_arrival_rate_pps * tau
    g_next = np.maximum(g + a_e - r[:n_e] * tau / cfg.embb_packet_bits, 0.0)  # [n_e, C]
    cost[:n_e] += 0.5 * (g_next ** 2 - g ** 2) / cfg.embb_queue_reference_packets ** 2
    # URLLC drift (arrivals use the previous slot's rate, as the environment does)
    f = state.urllc_queue_packets[:, None]  # [n_u, 1]
    lam = np.maximum(cfg.urllc_base_arrival_rate_pps - cfg.arrival_sensitivity
                     * state.previous_rates_bps[n_e:] / cfg.urllc_packet_bits, 0.0)  # [n_u]
    a_u = (lam * cfg.urllc_window_s)[:, None]  # [n_u, 1]
    mu = np.maximum(r[n_e:] / cfg.urllc_packet_bits
                    - cfg.task.service_coefficient_pps * state.dexterity[:, None], 0.0)
    f_next = np.maximum(f + a_u - mu * tau, 0.0)  # [n_u, C]
    cost[n_e:] += 0.5 * (f_next ** 2 - f ** 2) / cfg.urllc_queue_reference_packets ** 2
    spare = r[n_e:] * cfg.deadline_s  # [n_u, C] bits within the deadline
    if cfg.delay_tail_backlog:
        spare = np.maximum(spare - f_next * cfg.urllc_packet_bits, 0.0)
    slack = (1.0 - cfg.reliability) - np.exp(-cfg.delay_tail_coefficient_per_bit * spare)
    cost[n_e:] -= state.lagrange_multiplier * slack
    return cost


class DriftPlusPenaltySlicer(SlicingBaseline):
    """The per-slot minimiser of seed 003's Lagrangian (eq. 13) without learning."""

    name = 'dpp'

    def decide(self, state: SlotState) -> IntArray:
        """Counts from the K - n smallest marginal costs, then the Hungarian assignment."""
        cfg = self.config
        spare = cfg.n_prb - cfg.n_users
        costs = dpp_user_costs(state, cfg, spare + 1)  # [n, spare + 1]
        counts = np.ones(cfg.n_users, dtype=np.int64)
        if spare > 0:
            marginal = np.diff(costs, axis=1)  # [n, spare]
            # convex per user: marginals increase, so the smallest ones form a prefix per user
            chosen = np.argsort(marginal, axis=None, kind='stable')[:spare]
            counts += np.bincount(chosen // spare, minlength=cfg.n_users)
        return assign_prbs(counts, state.prb_rates_bps)


BASELINES: dict[str, type[SlicingBaseline]] = {
    'pf': ProportionalFairSlicer,
    'rr': RoundRobinSlicer,
    'maxweight': MaxWeightSlicer,
    'dpp': DriftPlusPenaltySlicer,
}


def make_baseline(name: str, config: SlicingEnvConfig) -> SlicingBaseline:
    """A baseline by name: ``pf``, ``rr``, ``maxweight`` or ``dpp``."""
    try:
        cls = BASELINES[name]
    except KeyError:
        raise ConfigError(f"baseline {name!r}: must be one of {', '.join(BASELINES)}") from None
    return cls(config)
