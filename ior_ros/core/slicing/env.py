"""
Task-driven slicing of a 5G cell between eMBB and URLLC teleoperation users (seed 003, upper
level).

Golmohammadi, Rayguru, Baidya, "A Hierarchical Optimization Framework Using Deep Reinforcement
Learning for Task-Driven Bandwidth Allocation in 5G Teleoperation", arXiv:2505.15977 (§III, §IV-A,
§IV-C). Every modelling choice the seed leaves open is in ``docs/models/slicing.md``.

## Description

K PRBs are shared every decision slot τ by n_e eMBB users (video feedback, queue G, eq. 6) and
n_u URLLC users (operator commands, queue F, eq. 5). The radio is the link model every radio
simulator of ``ior_ros.core.ran`` embeds (``config.link``, ``ior_ros.core.ran.link_budget``):
each PRB sees Rayleigh fading (by default independent per user, PRB and slot; block fading over
``link.coherence_slots`` slots and ``link.coherence_rbs`` PRBs), and the rate of user i is
Shannon per PRB (eq. 1, ``ior_ros.core.ran.rates.user_rates_bps``). URLLC commands arrive by the
modified Poisson law of eq. 2 (``ior_ros.core.ran.traffic``), are served at ``μ = r/L_u - β DI``
(eq. 4), and their first-in first-out delay D_ti is tracked exactly. Each URLLC user drives one
robot; in ``tracking`` mode the robot follows a figure-eight with commands that are D_ti old, and
its dexterity index DI (eq. 3) feeds back into the service rate: the loop PRBs -> rate -> delay
-> controller -> tracking errors -> DI -> service rate is closed
(``ior_ros.core.slicing.teleop_task``).

## Action space

``Box(-1, 1, (n_e + n_u,), float32)``: one entry per user, eMBB users first; entries ``[0, n_e)``
belong to the eMBB agent and ``[n_e, n_e + n_u)`` to the URLLC agent of Algorithm 1. The action is
mapped to PRBs by construction of constraints 8b-8d (``ior_ros.core.slicing.spaces``):

| step | result |
|---|---|
| ``w = softmax(action_logit_scale * a)`` | PRB shares |
| 1 PRB each + largest remainder of ``w (K - n)`` + carry | counts ``c_i >= 1``, ``Σ c_i = K`` |
| Hungarian assignment maximising ``Σ ρ_ij r_ij`` | ρ_ij, each PRB to exactly one user |

## Observation space

``Box(float32)`` of size ``2 (n_e + n_u) + 2 n_u``; the decision for slot t sees the queues and
delays after slot t-1 and the channel of slot t (CSI):

| index | feature | unit |
|---|---|---|
| ``[0, n_e)`` | eMBB queue G_i / ``embb_queue_reference_packets`` | -, in [0, clip] |
| ``[n_e, n)`` | URLLC queue F_i / ``urllc_queue_reference_packets`` | -, in [0, clip] |
| ``[n, n + n_u)`` | URLLC delay D_ti / D_max | s / s, in [0, clip] |
| ``[n + n_u, 2n + n_u)`` | (mean_j log2(1 + SNR_ij) - log2(P/N)) / 4 | bit/s/Hz, [-10, 10] |
| ``[2n + n_u, 2n + 2n_u)`` | dexterity index DI_i (eq. 3) | -, in [0, 1] |

## Rewards

``-L_a`` of eq. 13 (``ior_ros.core.slicing.reward``): ``-(ΔL + V h) + λ Σ y`` with the
sign-corrected delay constraint of eq. 12. ``info`` holds the two agents' parts
(``reward_embb``, ``reward_urllc``), the URLLC reward without the multiplier and the slack (so a
learner can recompute the reward for a new λ), the rates, PRB counts, queues, delays, violations
and DI.

## Starting state

Empty queues, DI from the task model, rates of the previous slot set to an equal PRB split, no
rounding carry.

## Episode end

Never terminated (a continuing task); truncated after ``episode_slots`` slots.

## Units

Queues in packets, rates in bit/s, delays in s, DI dimensionless. The reward is dimensionless.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import numpy.typing as npt
from gymnasium import spaces

from ior_ros.core.errors import DimensionError, ModelError
from ior_ros.core.ran.teleop_queues import (
    FifoDelayQueues,
    fluid_queue_update,
    urllc_service_pps,
)
from ior_ros.core.ran.traffic import modified_poisson_counts
from ior_ros.core.slicing.config import SlicingEnvConfig, make_slicing_config
from ior_ros.core.slicing.reward import (
    delay_constraint_slack,
    lyapunov,
    rate_cost,
    slot_reward,
)
from ior_ros.core.slicing.spaces import (
    ObservationLayout,
    action_to_prb_counts,
    assign_prbs,
)
from ior_ros.core.slicing.teleop_task import DexterityModel, make_dexterity_model

__all__ = ['SlotState', 'TeleopSlicingEnv', 'channel_feature']

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

CHANNEL_FEATURE_SCALE = 4.0
"""Divides the per-user spectral-efficiency feature (bit/s/Hz) in the observation."""
CHANNEL_FEATURE_BOUND = 10.0


class SlotState(NamedTuple):
    """What a scheduler may look at before deciding slot t (raw units, copies)."""

    slot: int
    """t."""
    prb_rates_bps: FloatArray
    """``[n, K]`` Shannon rate of PRB j for user i in slot t [bit/s] (eMBB users first)."""
    embb_queue_packets: FloatArray
    """``[n_e]`` G_i [packets]."""
    urllc_queue_packets: FloatArray
    """``[n_u]`` F_i [packets]."""
    urllc_delay_s: FloatArray
    """``[n_u]`` D_ti of the previous slot [s]."""
    dexterity: FloatArray
    """``[n_u]`` DI_i."""
    previous_rates_bps: FloatArray
    """``[n]`` rates of the previous slot [bit/s]."""
    lagrange_multiplier: float
    """λ_l."""


def channel_feature(prb_rates_bps: FloatArray, prb_bandwidth_hz: float,
                    snr_reference_db: float) -> FloatArray:
    """
    Per-user channel feature ``(mean_j log2(1 + SNR_ij) - log2(P/N)) / 4`` ``[n]``, from the
    per-PRB rates ``[n, K]``.
    """
    se = np.mean(prb_rates_bps, axis=1) / prb_bandwidth_hz  # [n] bit/s/Hz
    feature: FloatArray = np.clip((se - snr_reference_db / (10.0 * math.log10(2.0)))
                                  / CHANNEL_FEATURE_SCALE, -CHANNEL_FEATURE_BOUND,
                                  CHANNEL_FEATURE_BOUND)
    return feature


class TeleopSlicingEnv(gym.Env[npt.NDArray[np.float32], npt.NDArray[np.float32]]):
    """
    The seed-003 two-queue teleoperation cell as a gymnasium environment (see the module
    docstring for the spaces, reward and units).

    Args:
        config: a :class:`SlicingEnvConfig`, a mapping of its fields, or None for the defaults.
        dexterity_model: override the DI source (default: from ``config.task``).
        **overrides: field overrides applied on top of ``config``.

    Raises:
        ConfigError: an invalid configuration value (the message names the field).
    """

    metadata: dict[str, Any] = {'render_modes': []}

    def __init__(self, config: SlicingEnvConfig | Mapping[str, Any] | None = None, *,
                 dexterity_model: DexterityModel | None = None, **overrides: Any) -> None:
        super().__init__()
        cfg = make_slicing_config(config, **overrides) if (
            overrides or not isinstance(config, SlicingEnvConfig)) else config
        self.config: SlicingEnvConfig = cfg
        self.layout = ObservationLayout(cfg.n_embb, cfg.n_urllc)
        n = cfg.n_users
        low = np.zeros(self.layout.size, dtype=np.float32)
        high = np.full(self.layout.size, cfg.observation_clip, dtype=np.float32)
        low[self.layout.channel] = -CHANNEL_FEATURE_BOUND
        high[self.layout.channel] = CHANNEL_FEATURE_BOUND
        high[self.layout.dexterity] = 1.0
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(n,), dtype=np.float32)
        self._dexterity_model = (dexterity_model if dexterity_model is not None
                                 else make_dexterity_model(cfg))
        self._multiplier = float(cfg.lagrange_multiplier)
        path_loss = cfg.path_loss_db  # [n] dB
        self._path_loss_db = path_loss[:, None]  # [n, 1]
        # the feature's reference: P - N - PL of the median user (every user with a fixed loss)
        self._snr_reference_db = cfg.link.snr_db(float(np.median(path_loss)))
        self._gains = np.zeros((n, cfg.n_prb))  # [n, K] fading of the current block
        self._urllc = FifoDelayQueues(cfg.n_urllc, cfg.deadline_slots)
        self._embb_queue = np.zeros(cfg.n_embb)
        self._urllc_delay_s = np.zeros(cfg.n_urllc)
        self._dexterity = np.zeros(cfg.n_urllc)
        self._prev_rates = np.zeros(n)
        self._carry = np.zeros(n)  # [n] PRB rounding residue (slicing_spaces)
        self._prb_rates = np.zeros((n, cfg.n_prb))
        self._slot = 0
        self._channel_rng = np.random.default_rng(0)
        self._urllc_rng = np.random.default_rng(1)
        self._embb_rng = np.random.default_rng(2)
        self._task_rng = np.random.default_rng(3)

    # ------------------------------------------------------------------------------------------
    # properties

    @property
    def lagrange_multiplier(self) -> float:
        """λ_l of eq. 13 (>= 0); the trainer's dual ascent sets it."""
        return self._multiplier

    @lagrange_multiplier.setter
    def lagrange_multiplier(self, value: float) -> None:
        if not (math.isfinite(value) and value >= 0.0):
            raise ModelError(f'lagrange_multiplier = {value!r}: must be finite and >= 0')
        self._multiplier = float(value)

    @property
    def state(self) -> SlotState:
        """The raw state a scheduler decides slot t from (copies)."""
        return SlotState(self._slot, self._prb_rates.copy(), self._embb_queue.copy(),
                         self._urllc.lengths, self._urllc_delay_s.copy(),
                         self._dexterity.copy(), self._prev_rates.copy(), self._multiplier)

    # ------------------------------------------------------------------------------------------
    # gymnasium API

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None
              ) -> tuple[npt.NDArray[np.float32], dict[str, Any]]:
        """Start an episode; independent generators for channel, URLLC and eMBB traffic, robots."""
        super().reset(seed=seed)
        # child generators from draws (not Generator.spawn, whose counter is not part of the
        # bit generator's state, so a restored state would not reproduce the children)
        channel, urllc, embb, task = (np.random.default_rng(int(s)) for s in
                                      self.np_random.integers(0, 2**63 - 1, size=4))
        self._channel_rng, self._urllc_rng, self._embb_rng, self._task_rng = (channel, urllc,
                                                                               embb, task)
        cfg = self.config
        self._slot = 0
        self._carry = np.zeros(cfg.n_users)
        self._urllc.reset()
        self._embb_queue = np.zeros(cfg.n_embb)
        self._urllc_delay_s = np.zeros(cfg.n_urllc)
        self._dexterity = np.clip(np.asarray(self._dexterity_model.reset(self._task_rng),
                                             dtype=float), 0.0, 1.0)
        self._draw_channel()
        self._prev_rates = self._prb_rates.mean(axis=1) * (cfg.n_prb / cfg.n_users)
        return self._observation(), {'slot': 0, 'lagrange_multiplier': self._multiplier}

    def step(self, action: npt.NDArray[np.float32]
             ) -> tuple[npt.NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        """Map the action to PRBs (8b-8d by construction) and advance one slot."""
        a = np.asarray(action, dtype=float).reshape(-1)
        if a.shape != (self.config.n_users,):
            raise DimensionError(f'action has shape {np.shape(action)}; expected '
                                 f'({self.config.n_users},)')
        if not np.all(np.isfinite(a)):
            raise ModelError('action has NaN or infinite entries')
        counts = action_to_prb_counts(a, self.config.n_prb, self.config.action_logit_scale,
                                      self._carry if self.config.rounding_carry else None)
        owner = assign_prbs(counts, self._prb_rates)
        return self._advance(owner)

    def step_allocation(self, owner: IntArray
                        ) -> tuple[npt.NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        """
        Advance one slot with a given PRB -> user map (a baseline scheduler's decision).

        Args:
            owner: ``[K]`` user index per PRB (eMBB users first); every PRB must go to exactly one
                user (8b, 8c). 8d is not required here (a baseline may starve a user).
        """
        o = np.asarray(owner)
        if o.shape != (self.config.n_prb,) or not np.issubdtype(o.dtype, np.integer):
            raise DimensionError(f'owner has shape {o.shape} and dtype {o.dtype}; expected '
                                 f'({self.config.n_prb},) integers')
        if np.any((o < 0) | (o >= self.config.n_users)):
            raise ModelError(f'owner entries must be user indices in [0, {self.config.n_users})'
                             ' (constraints 8b, 8c: every PRB to exactly one user)')
        return self._advance(o.astype(np.int64))

    # ------------------------------------------------------------------------------------------
    # internals

    def _draw_channel(self) -> None:
        """The channel of slot ``self._slot``: new fading at the start of each coherence block."""
        link = self.config.link
        if self._slot % link.coherence_slots == 0:
            self._gains = link.draw_gains(self._channel_rng, 1, self.config.n_users,
                                          self.config.n_prb)[0]  # [n, K]
        snr = link.snr(self._gains, self._path_loss_db)  # [n, K]
        self._prb_rates = link.rate_bps(snr)  # [n, K] bit/s

    def _observation(self) -> npt.NDArray[np.float32]:
        cfg = self.config
        clip = cfg.observation_clip
        return self.layout.build(
            np.minimum(self._embb_queue / cfg.embb_queue_reference_packets, clip),
            np.minimum(self._urllc.lengths / cfg.urllc_queue_reference_packets, clip),
            np.minimum(self._urllc_delay_s / cfg.deadline_s, clip),
            channel_feature(self._prb_rates, cfg.link.rb_bandwidth_hz, self._snr_reference_db),
            self._dexterity)

    def _advance(self, owner: IntArray
                 ) -> tuple[npt.NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        cfg = self.config
        n_e = cfg.n_embb
        n = cfg.n_users
        tau = cfg.slot_s
        # eq. 1: r_i = Σ_j ρ_ij B log2(1 + SNR_ij)
        rates = np.bincount(owner, weights=self._prb_rates[owner, np.arange(cfg.n_prb)],
                            minlength=n).astype(np.float64)  # [n] bit/s
        counts = np.bincount(owner, minlength=n)  # [n]
        rates_e, rates_u = rates[:n_e], rates[n_e:]
        queues_before_e = self._embb_queue
        queues_before_u = self._urllc.lengths
        # eq. 2: commands in the window, at a rate that falls with the link's packet rate
        arrivals_u = modified_poisson_counts(
            cfg.urllc_base_arrival_rate_pps, cfg.arrival_sensitivity, self._prev_rates[n_e:],
            cfg.urllc_window_s, 0.0, self._urllc_rng,
            rate_unit_bps=cfg.urllc_packet_bits).astype(float)  # [n_u]
        arrivals_e = self._embb_rng.poisson(cfg.embb_arrival_rate_pps * tau,
                                               size=n_e).astype(float)  # [n_e]
        # eq. 4 and 5: URLLC service depends on DI
        service_u = urllc_service_pps(rates_u, cfg.urllc_packet_bits,
                                      cfg.task.service_coefficient_pps, self._dexterity) * tau
        step_u = self._urllc.step(self._slot, arrivals_u, service_u)
        # eq. 6
        self._embb_queue, served_e = fluid_queue_update(
            self._embb_queue, arrivals_e, rates_e * tau / cfg.embb_packet_bits)
        delay_s = step_u.delay_slots * tau  # [n_u]
        violations = step_u.delay_slots > cfg.deadline_slots  # [n_u]
        self._urllc_delay_s = delay_s
        # the robots: one controller sample every control period, with the current delay
        if (self._slot + 1) % cfg.control_period_slots == 0:
            self._dexterity = np.clip(np.asarray(
                self._dexterity_model.advance(delay_s), dtype=float), 0.0, 1.0)
        # eqs. 10-14
        lyap_e = lyapunov(self._embb_queue, cfg.embb_queue_reference_packets)
        lyap_u = lyapunov(step_u.lengths, cfg.urllc_queue_reference_packets)
        drift_e = lyap_e - lyapunov(queues_before_e, cfg.embb_queue_reference_packets)
        drift_u = lyap_u - lyapunov(queues_before_u, cfg.urllc_queue_reference_packets)
        cost = rate_cost(rates, cfg.rate_reference_bps, cfg.rate_epsilon)  # [n]
        backlog = step_u.lengths * cfg.urllc_packet_bits if cfg.delay_tail_backlog else None
        slack = delay_constraint_slack(rates_u, cfg.delay_tail_coefficient_per_bit,
                                       cfg.deadline_s, cfg.reliability, backlog)  # [n_u]
        parts = slot_reward(drift_e, drift_u, float(cost[:n_e].sum()), float(cost[n_e:].sum()),
                            float(slack.sum()), cfg.penalty_weight, self._multiplier)
        self._prev_rates = rates
        self._slot += 1
        truncated = self._slot >= cfg.episode_slots
        self._draw_channel()
        info: dict[str, Any] = {
            'slot': self._slot,
            'rates_bps': rates,
            'prb_counts': counts,
            'embb_queue_packets': self._embb_queue.copy(),
            'urllc_queue_packets': step_u.lengths,
            'urllc_delay_s': delay_s,
            'violations': violations,
            'urllc_arrivals': arrivals_u,
            'urllc_served': step_u.served,
            'urllc_late_packets': step_u.late,
            'embb_served': served_e,
            'urllc_service_pps': service_u / tau,
            'dexterity': self._dexterity.copy(),
            'lagrange_multiplier': self._multiplier,
            'reward_embb': parts.reward_embb,
            'reward_urllc': parts.reward_urllc,
            'reward_urllc_unconstrained': parts.reward_urllc_unconstrained,
            'constraint_slack': parts.slack,
            'lyapunov_embb': lyap_e,
            'lyapunov_urllc': lyap_u,
            'drift_embb': parts.drift_embb,
            'drift_urllc': parts.drift_urllc,
            'cost_embb': parts.cost_embb,
            'cost_urllc': parts.cost_urllc,
        }
        return self._observation(), float(parts.reward), False, truncated, info
