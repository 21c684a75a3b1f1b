"""
The risk gate's planning fallback: cross-entropy-method model-predictive control through the twin.

When the gate vetoes the agent's action it needs an action that can still save the episode
(issue 14: zero torque or the best of a few policy samples, all one-step choices, did not). The
planner searches over *sequences* of ``H`` actions (``gate.fallback: plan``):

1. **Warm start**: the mean of the search distribution is the policy's own action sequence rolled
   through the twin (the gate's risk rollout already computed it,
   :attr:`~ior_ros.core.twin.fall_risk.RiskEstimate.policy_actions`), and the previous step's plan
   shifted by one step joins the first population (receding horizon);
2. ``iterations`` rounds: draw ``population`` sequences ``a ~ N(μ, σ²)`` (clipped to the action
   box), score them all in one batch, refit ``μ, σ`` to the ``elites`` best (``σ`` floored at
   ``min_std``);
3. send the first action of the best sequence seen.

**Score** of a sequence, evaluated by every member ``k`` of the ensemble on its own trajectory
(``members: all``) or by one member per candidate, assigned in turn (``members: one``, ``K`` times
cheaper):

    score = mean_k Σ_{h < H, before member k's fall} γ^h r̂_{k,h}  -  penalty · P̂(fall)

``P̂(fall)`` is the fraction of the member trajectories that fail the twin's termination function
within ``H`` (the same notion of fall as the gate's risk).

**Why CEM and not MPPI**: both sample Gaussian sequences around a warm start; MPPI averages all
samples with weights ``exp(score / λ)``, which needs a temperature ``λ`` matched to the score scale
— and the score jumps by ``penalty`` (100) between falling and non-falling candidates, so a fixed
``λ`` either ignores the reward or collapses onto one sample. CEM's elite refit is invariant to the
score's scale (only the ranking matters) and keeps the best sequence seen, so it never returns
something worse than the warm start by its own score.

Cost: every iteration is ``H`` batched forward passes of ``population × K`` (``members: all``) or
``population`` rows (``one``); no Python loop over candidates. The defaults fit Hopper's 8 ms
control period on one core (``benchmarks/bench_gate.py`` measures it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from ior_ros.core.config import FrozenModel
from ior_ros.core.errors import ConfigError, DimensionError
from ior_ros.core.twin.twin import DigitalTwin, PolicyFn

__all__ = ['PlannerConfig', 'PlanResult', 'CemPlanner', 'score_sequences']


class PlannerConfig(FrozenModel):
    """Cross-entropy-method planning through the twin (``gate.planner``)."""

    horizon_steps: int = Field(10, ge=1, le=100)
    """H: length of the planned action sequences (steps); at least the gate's risk horizon, or the
    planner cannot see the fall that caused the veto."""
    iterations: int = Field(2, ge=1, le=50)
    """CEM rounds per decision."""
    population: int = Field(24, ge=2, le=4096)
    """Sequences drawn per round."""
    elites: int = Field(5, ge=1, le=4096)
    """Best sequences the distribution is refitted to."""
    initial_std: float = Field(0.3, gt=0.0, le=2.0)
    """σ of the first round, as a fraction of the half action range."""
    min_std: float = Field(0.05, gt=0.0, le=2.0)
    """Floor of σ, same unit."""
    discount: float = Field(0.99, gt=0.0, le=1.0)
    """γ of the score."""
    fall_penalty: float = Field(100.0, ge=0.0)
    """Subtracted per unit of predicted fall probability."""
    members: Literal['one', 'all'] = 'one'
    """Each candidate scored by every ensemble member, or by one member assigned in turn."""
    parametrization: Literal['open_loop', 'policy_offset'] = 'policy_offset'
    """What a candidate is: H actions (open_loop), or H offsets added to the policy's action in
    the predicted state (policy_offset: the policy's feedback is kept, the search starts at the
    policy itself)."""
    seed: int = Field(0, ge=0, le=2**32 - 1)
    """Seed of the planner's sampling."""


@dataclass(frozen=True)
class PlanResult:
    """
    One planning decision.

    Attributes:
        action: ``[d_a]`` the first action of the best sequence.
        sequence: ``[H, d_a]`` the best sequence.
        score: its score; fall_probability: its predicted fall probability.
        candidates: sequences scored in all.
    """

    action: np.ndarray
    sequence: np.ndarray
    score: float
    fall_probability: float
    candidates: int


@torch.no_grad()
def score_sequences(twin: DigitalTwin, obs: np.ndarray, sequences: np.ndarray,
                    members: Literal['one', 'all'], discount: float,
                    fall_penalty: float, policy: PolicyFn | None = None) -> tuple[np.ndarray,
                                                                                  np.ndarray]:
    """
    Score ``N`` action sequences ``[N, H, d_a]`` from one state ``obs`` ``[d_s]``; with a
    ``policy`` the sequences are offsets added to the policy's action in each predicted state.

    Returns:
        ``(score [N], fall_probability [N])`` (module docstring).
    """
    spec = twin.spec
    seq = np.asarray(sequences, dtype=np.float32)
    if seq.ndim != 3 or seq.shape[2] != spec.act_dim or np.shape(obs) != (spec.obs_dim,):
        raise DimensionError(f'planner: expected obs [{spec.obs_dim}] and sequences '
                             f'[N, H, {spec.act_dim}], got {list(np.shape(obs))} and '
                             f'{list(seq.shape)}')
    model = twin.model
    k = model.members
    n, horizon, _ = seq.shape
    if members == 'all':
        per = n
        acts = np.broadcast_to(seq[None], (k, n, horizon, spec.act_dim))  # [K, N, H, d_a]
    else:
        per = -(-n // k)  # ceil(N / K) candidates per member
        padded = np.concatenate([seq, np.repeat(seq[:1], per * k - n, axis=0)])  # [K·per, H, d_a]
        # candidate i goes to member i mod K
        acts = padded.reshape(per, k, horizon, spec.act_dim).transpose(1, 0, 2, 3)
    state = torch.from_numpy(np.ascontiguousarray(np.broadcast_to(
        np.asarray(obs, np.float32), (k, per, spec.obs_dim))))  # [K, per, d_s]
    alive = np.ones((k, per), dtype=bool)
    ret = np.zeros((k, per))
    for h in range(horizon):
        step_act = acts[:, :, h]  # [K, per, d_a]
        if policy is not None:
            flat = state.numpy().reshape(k * per, spec.obs_dim)
            step_act = spec.clip_action(policy(flat).reshape(k, per, spec.act_dim) + step_act)
        a = torch.from_numpy(np.ascontiguousarray(step_act, dtype=np.float32))
        z = model.net(model.input_norm.normalize(torch.cat([state, a], dim=2)))  # [K, per, 1+d_s]
        y = model.target_norm.denormalize(z)
        reward = y[..., 0].numpy()  # [K, per]
        nxt = state + y[..., 1:] if model.config.predict_delta else y[..., 1:]  # [K, per, d_s]
        ret += np.where(alive, discount ** h * reward, 0.0)
        if twin.termination_fn is not None:
            flat_next = nxt.numpy().reshape(k * per, spec.obs_dim)
            down = np.asarray(twin.termination_fn(state.numpy().reshape(k * per, spec.obs_dim),
                                                  step_act.reshape(k * per, spec.act_dim),
                                                  flat_next), dtype=bool).reshape(k, per)
            alive &= ~down
        state = nxt
    if members == 'all':
        fall = (~alive).mean(axis=0)  # [N]
        value = ret.mean(axis=0)  # [N]
    else:
        fall = (~alive).T.reshape(-1)[:n].astype(float)  # back to candidate order
        value = ret.T.reshape(-1)[:n]
    return value - fall_penalty * fall, fall


class CemPlanner:
    """
    Cross-entropy-method MPC through the twin (module docstring).

    Args:
        config: planner settings.
        act_low, act_high: the action box (``[d_a]`` each).
    """

    def __init__(self, config: PlannerConfig, act_low: np.ndarray, act_high: np.ndarray) -> None:
        if config.elites > config.population:
            raise ConfigError(f'gate.planner.elites = {config.elites} exceeds population = '
                              f'{config.population}')
        if config.min_std > config.initial_std:
            raise ConfigError(f'gate.planner.min_std = {config.min_std} exceeds initial_std = '
                              f'{config.initial_std}')
        self.config = config
        self.low = np.asarray(act_low, dtype=np.float32)  # [d_a]
        self.high = np.asarray(act_high, dtype=np.float32)  # [d_a]
        self.half = (self.high - self.low) / 2.0  # [d_a]
        self.rng = np.random.default_rng(config.seed)
        self._previous: np.ndarray | None = None  # [H, d_a] last plan

    def reset(self) -> None:
        """Forget the previous plan (new episode, or the agent is back in control)."""
        self._previous = None

    def plan(self, twin: DigitalTwin, obs: np.ndarray, warm_start: np.ndarray,
             policy: PolicyFn | None = None) -> PlanResult:
        """
        Plan from ``obs`` ``[d_s]``, the search centred on ``warm_start`` ``[H', d_a]`` (the
        policy's sequence; cut or extended with its last action to ``H``). With
        ``parametrization: policy_offset`` the search is over offsets to ``policy`` (required),
        centred on zero, and ``warm_start`` only gives the shape.
        """
        cfg = self.config
        h = cfg.horizon_steps
        offsets = cfg.parametrization == 'policy_offset'
        if offsets and policy is None:
            raise ConfigError('gate.planner.parametrization = policy_offset needs the policy')
        warm = np.asarray(warm_start, dtype=np.float32)
        if warm.ndim != 2 or warm.shape[1] != self.low.shape[0] or len(warm) < 1:
            raise DimensionError(f'planner warm start: expected [H, {self.low.shape[0]}], got '
                                 f'{list(warm.shape)}')
        if len(warm) < h:
            warm = np.concatenate([warm, np.repeat(warm[-1:], h - len(warm), axis=0)])
        mean = np.zeros_like(warm[:h]) if offsets else np.clip(warm[:h], self.low, self.high)
        std = np.broadcast_to(cfg.initial_std * self.half, mean.shape).copy()  # [H, d_a]
        floor = cfg.min_std * self.half  # [d_a]
        best_seq, best_score, best_fall = mean, -np.inf, 1.0
        total = 0
        for iteration in range(cfg.iterations):
            fixed = [mean[None]]
            if iteration == 0 and self._previous is not None:
                shifted = np.concatenate([self._previous[1:], self._previous[-1:]])
                fixed.append(shifted[None])
            draws = cfg.population - len(fixed)
            noise = self.rng.standard_normal((max(draws, 0), h, mean.shape[1]))
            samples = np.concatenate([*fixed, mean[None] + std[None] * noise]).astype(np.float32)
            if not offsets:
                samples = np.clip(samples, self.low, self.high)  # [N, H, d_a]
            score, fall = score_sequences(twin, obs, samples, cfg.members, cfg.discount,
                                          cfg.fall_penalty, policy if offsets else None)
            total += len(samples)
            order = np.argsort(-score)
            if score[order[0]] > best_score:
                best_seq = samples[order[0]]
                best_score, best_fall = float(score[order[0]]), float(fall[order[0]])
            elite = samples[order[:cfg.elites]]  # [E, H, d_a]
            mean = elite.mean(axis=0)
            std = np.maximum(elite.std(axis=0), floor)
        self._previous = best_seq.copy()
        first = best_seq[0].copy()
        if offsets:
            assert policy is not None
            first = np.clip(np.asarray(policy(np.asarray(obs, np.float32)[None, :]))[0] + first,
                            self.low, self.high).astype(np.float32)
        return PlanResult(first, best_seq.copy(), best_score, best_fall, total)
