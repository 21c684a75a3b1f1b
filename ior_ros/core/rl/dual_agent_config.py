"""
Hyper-parameters of the dual-agent actor-critic with a Lagrange multiplier
(:mod:`ior_ros.core.rl.dual_agent`).

A module of its own, without torch, so that a configuration file holding them (e.g.
``config/slicing.yaml``, :class:`~ior_ros.core.slicing.config.SlicingRunConfig`) is read without
importing torch.
"""

from __future__ import annotations

from enum import Enum

from pydantic import Field

from ior_ros.core.config import FrozenModel, why

__all__ = ['ActorObjective', 'RewardForm', 'DualStatistic', 'DualAgentConfig']


class ActorObjective(str, Enum):
    """What each actor maximises."""

    TEAM = 'team'
    """``Q_1 + Q_2``: the whole Lagrangian (default)."""
    OWN = 'own'
    """Its own critic only (independent agents; a tug of war over a shared resource such as the
    slicing task's PRBs)."""


class RewardForm(str, Enum):
    """
    Which of two policy-equivalent rewards the agents learn from (the environment's training loop
    applies it: it knows the potential; for the slicing task
    :class:`~ior_ros.core.slicing.agents.DualAgentSlicer`).
    """

    DRIFT = 'drift'
    """The environment's reward as is (slicing: ``-(ΔL + V h) + λ Σ y``, seed 003 eq. 13)."""
    SHAPED = 'shaped'
    """The drift reward minus the potential-based shaping term ``L(s) - γ L(s')`` (Ng, Harada,
    Russell, ICML 1999; slicing: ``-((1 - γ) L(s') + V h) + λ Σ y``), which leaves the optimal
    policy unchanged and removes the large, cancelling drift terms from the targets."""


class DualStatistic(str, Enum):
    """Which violation rate the dual ascent on λ compares with the violation budget (1 - χ)."""

    WORST = 'worst'
    """The worst constrained unit's (slicing: URLLC user's; constraint 8a is per user;
    default)."""
    MEAN = 'mean'
    """The mean over the constrained units (slicing: URLLC users)."""


class DualAgentConfig(FrozenModel):
    """Hyper-parameters of the dual-agent TD3 (defaults: the seed-003 slicer's)."""

    actor_hidden: tuple[int, ...] = (64, 64)
    """Hidden widths of each actor."""
    critic_hidden: tuple[int, ...] = (128, 128)
    """Hidden widths of each critic."""
    actor_lr: float = Field(default=5e-4, gt=0.0)
    """Adam learning rate of the actors."""
    critic_lr: float = Field(default=1e-3, gt=0.0)
    """Adam learning rate of the critics."""
    gamma: float = Field(default=0.95, ge=0.0, lt=1.0)
    """Discount factor (horizon about 1/(1-γ) = 20 slots = D_max)."""
    polyak: float = Field(default=0.005, gt=0.0, le=1.0)
    """Target-network update rate τ."""
    batch_size: int = Field(default=128, ge=1, le=65536, json_schema_extra=why(
        'a minibatch and its gradients are held in memory at once'))
    """Transitions per gradient step."""
    buffer_size: int = Field(default=100_000, ge=1, le=10_000_000, json_schema_extra=why(
        'the replay buffers are allocated up front and saved in every checkpoint'))
    """Capacity of each agent's replay buffer [transitions]."""
    learning_starts: int = Field(default=2000, ge=0)
    """Slots of uniformly random actions before learning."""
    train_every: int = Field(default=2, ge=1)
    """Environment slots per gradient step."""
    exploration_noise: float = Field(default=0.2, ge=0.0)
    """Std of the Gaussian exploration noise at the start [action units]."""
    exploration_noise_final: float = Field(default=0.05, ge=0.0)
    """Std at the end of training (linear decay)."""
    target_noise: float = Field(default=0.2, ge=0.0)
    """TD3 target-policy smoothing std."""
    target_noise_clip: float = Field(default=0.5, ge=0.0)
    """Clip of the smoothing noise."""
    policy_delay: int = Field(default=2, ge=1)
    """Critic updates per actor update."""
    actor_objective: ActorObjective = ActorObjective.TEAM
    """``team`` (Q_1 + Q_2) or ``own``."""
    reward_form: RewardForm = RewardForm.DRIFT
    """``drift`` (default, the environment's reward) or ``shaped``; same optimal policy."""
    dual_lr: float = Field(default=1.0, ge=0.0)
    """η of the dual ascent on λ (the integral gain) [per unit of violation-rate excess]."""
    dual_proportional: float = Field(default=5.0, ge=0.0)
    """Proportional gain on the current excess (PID Lagrangian, Stooke et al. 2020): damps the
    oscillation of plain dual ascent; 0 gives plain dual ascent."""
    dual_statistic: DualStatistic = DualStatistic.WORST
    """``worst`` (the worst unit's violation rate, default) or ``mean`` over units."""
    dual_every: int = Field(default=1000, ge=1)
    """Slots between dual updates."""
    dual_window_slots: int = Field(default=2000, ge=1)
    """Slots over which the violation rate v̂ is measured."""
    multiplier_max: float = Field(default=50.0, gt=0.0)
    """Upper clip of λ (keeps the reward bounded)."""
