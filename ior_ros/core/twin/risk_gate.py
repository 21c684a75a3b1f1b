"""
Risk gate: the twin vetoes an action before it reaches the physical environment (seed 000 §III).

Seed 000: "once we detect a reward reducing to a given value in the DT environment, we will not
output the corresponding action in the physical environment". For a proposed action ``a`` in state
``s`` the gate asks the twin for ``H`` (``horizon_steps``) predicted steps — the first with ``a``,
the rest with the agent's deterministic policy — and computes

    r̂_0, …, r̂_{H-1},  fall = any predicted termination within H,
    score = Σ_{h < H, before the fall} γ^h r̂_h  -  P · 1[fall]

It **vetoes** ``a`` when ``r̂_0 < reward_threshold`` (the seed's rule) or, with
``veto_on_termination``, when a fall is predicted within ``H`` steps.

What is sent instead (``fallback``, documented in docs/models/twin.md):

* ``best_of_k``: ``k`` actions drawn from the agent's stochastic policy plus the action box centre
  are scored in one batch and the highest score is sent (even if it too is predicted to fail: it is
  the least bad the twin knows of);
* ``zero``: the action box centre (zero torque for Hopper);
* ``safe_action``: a configured action vector;
* ``previous``: the last executed action (the centre when there is none);
* ``plan``: cross-entropy-method planning over ``planner.horizon_steps`` through the twin, warm
  started from the policy's own sequence (:mod:`ior_ros.core.twin.planner`, issue 14);
* ``controller``: the action of a given fallback controller (on the robot: the certified
  delay-robust gain schedule's command).

**Veto rules** (``rule``): ``reward_fall`` is the seed's rule above; ``risk`` vetoes when the
calibrated fall probability over ``risk_horizon_steps`` (:mod:`ior_ros.core.twin.fall_risk`:
``risk_particles`` sampled ensemble rollouts, the proposal then the policy) reaches
``risk_threshold`` (chosen on held-out episodes by ``ior twin gate-eval``). Control returns to the
agent as soon as its proposal passes again (the twin predicts recovery); the planner then forgets
its plan.

**When not to trust the twin**: with an ensemble, ``u`` = disagreement of the first prediction.
When ``u > max_uncertainty`` the gate does not act on the prediction (``untrusted='pass'``: the
proposal is sent, the decision is counted as untrusted) or falls back anyway
(``untrusted='fallback'``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Literal

import numpy as np
from pydantic import Field

from ior_ros.core.config import FrozenModel
from ior_ros.core.errors import ConfigError, DimensionError
from ior_ros.core.twin.fall_risk import estimate_fall_risk
from ior_ros.core.twin.planner import CemPlanner, PlannerConfig
from ior_ros.core.twin.twin import DigitalTwin, PolicyFn, TwinSpec

__all__ = ['RiskGateConfig', 'GateOutcome', 'GateDecision', 'RiskGate', 'CandidateSampler']

CandidateSampler = Callable[[np.ndarray, int], np.ndarray]
"""``(obs [d_s], k) → [k, d_a]`` candidate actions (environment units)."""


class RiskGateConfig(FrozenModel):
    """Veto rule and fallback of the risk gate."""

    enabled: bool = True
    """Gate active in the twin variants."""
    reward_threshold: float = 0.0
    """Veto when the predicted reward r̂_0 is below this (seed: 'a given value'; for Hopper a
    healthy step earns 1 + forward velocity, a falling step loses the +1)."""
    veto_on_termination: bool = True
    """Also veto when the twin predicts a fall within horizon_steps."""
    horizon_steps: int = Field(1, ge=1, le=50)
    """Predicted steps H (1 = the seed's one-step look-ahead)."""
    discount: float = Field(0.99, gt=0.0, le=1.0)
    """γ of the candidate score."""
    termination_penalty: float = Field(100.0, ge=0.0)
    """P subtracted from a candidate's score when it is predicted to fall."""
    fallback: Literal['best_of_k', 'zero', 'safe_action', 'previous', 'plan',
                      'controller'] = 'best_of_k'
    """What is sent instead of a vetoed action (plan: CEM through the twin; controller: a given
    fallback controller, e.g. the robot's certified gain schedule)."""
    candidates: int = Field(16, ge=1, le=1024)
    """k for best_of_k."""
    safe_action: tuple[float, ...] = ()
    """The action sent by fallback='safe_action' (act_dim values)."""
    max_uncertainty: float = Field(1.0, gt=0.0)
    """Above this disagreement the prediction is not trusted."""
    untrusted: Literal['pass', 'fallback'] = 'pass'
    """What an untrusted prediction leads to."""
    rule: Literal['reward_fall', 'risk'] = 'reward_fall'
    """Veto rule: the seed's (reward below threshold, fall within horizon_steps) or the calibrated
    fall probability (risk_threshold over risk_horizon_steps)."""
    risk_threshold: float = Field(0.5, gt=0.0, le=1.0)
    """rule=risk: veto when the predicted fall probability is at least this (choose it on
    held-out episodes: `ior twin gate-eval`)."""
    risk_horizon_steps: int = Field(10, ge=1, le=200)
    """rule=risk: look-ahead of the fall probability (steps)."""
    risk_particles: int = Field(8, ge=1, le=4096)
    """rule=risk: sampled ensemble rollouts behind the probability."""
    planner: PlannerConfig = PlannerConfig()
    """fallback=plan: the cross-entropy-method planner."""


class GateOutcome(Enum):
    """Why the gate sent what it sent."""

    PASSED = 'passed'
    VETOED_REWARD = 'vetoed_reward'
    VETOED_FALL = 'vetoed_fall'
    UNTRUSTED = 'untrusted'


@dataclass(frozen=True)
class GateDecision:
    """
    The gate's answer for one proposed action.

    Attributes:
        action: ``[d_a]`` the action to send.
        outcome: pass, veto (and why) or untrusted.
        proposed_reward: r̂_0 of the proposal.
        proposed_next_obs: ``[d_s]`` ŝ_1 of the proposal.
        proposed_terminated: the proposal's first step is predicted terminal.
        proposed_fall: a fall is predicted within the horizon.
        uncertainty: disagreement of the proposal's first prediction.
        sent_score: score of the sent action (the proposal's when it passed).
        fall_probability: rule=risk: the proposal's fall probability (NaN otherwise).
    """

    action: np.ndarray
    outcome: GateOutcome
    proposed_reward: float
    proposed_next_obs: np.ndarray
    proposed_terminated: bool
    proposed_fall: bool
    uncertainty: float
    sent_score: float
    fall_probability: float = float('nan')

    @property
    def vetoed(self) -> bool:
        """The proposal was replaced."""
        return self.outcome in (GateOutcome.VETOED_REWARD, GateOutcome.VETOED_FALL)


@dataclass(frozen=True)
class _Scores:
    first_reward: np.ndarray  # [N]
    first_next_obs: np.ndarray  # [N, d_s]
    first_terminated: np.ndarray  # [N]
    fall: np.ndarray  # [N]
    score: np.ndarray  # [N]
    uncertainty: np.ndarray  # [N]
    first_members: tuple[np.ndarray, np.ndarray] | None  # every member: [K, N], [K, N, d_s]


class RiskGate:
    """
    Vetoes actions the twin predicts to be harmful.

    Args:
        config: veto rule and fallback.
        spec: the twin's spec (action bounds, widths).
    """

    def __init__(self, config: RiskGateConfig, spec: TwinSpec, seed: int = 0) -> None:
        if config.fallback == 'safe_action' and len(config.safe_action) != spec.act_dim:
            raise ConfigError(f'gate.safe_action has {len(config.safe_action)} values; '
                              f'fallback=safe_action needs act_dim = {spec.act_dim}')
        self.config = config
        self.spec = spec
        self.rng = np.random.default_rng(seed)
        """Draws the ensemble members of the risk rollouts."""
        self.planner: CemPlanner | None = CemPlanner(
            config.planner, np.array(spec.act_low), np.array(spec.act_high)) \
            if config.fallback == 'plan' else None
        self._warm: np.ndarray | None = None  # [H, d_a] the policy's sequence of the last risk

    def score(self, twin: DigitalTwin, obs: np.ndarray, actions: np.ndarray,
              policy: PolicyFn | None) -> _Scores:
        """Roll ``N`` candidate ``actions`` ``[N, d_a]`` from one state ``obs`` ``[d_s]``."""
        cfg = self.config
        n = actions.shape[0]
        states = np.repeat(np.asarray(obs, dtype=np.float32)[None, :], n, axis=0)  # [N, d_s]
        first = twin.predict(states, actions)
        alive = ~first.terminated  # [N]
        score = first.reward.astype(np.float64).copy()  # [N]
        state = first.next_obs  # [N, d_s]
        if cfg.horizon_steps > 1:
            if policy is None:
                raise ConfigError('gate.horizon_steps > 1 needs a policy to roll the twin forward')
            for h in range(1, cfg.horizon_steps):
                step = twin.predict(state, self.spec.clip_action(policy(state)))
                score += np.where(alive, cfg.discount ** h * step.reward, 0.0)
                alive &= ~step.terminated
                state = step.next_obs
        fall = ~alive  # [N]
        score -= cfg.termination_penalty * fall
        members = None if first.member_reward is None or first.member_next_obs is None \
            else (first.member_reward, first.member_next_obs)
        return _Scores(first.reward, first.next_obs, first.terminated, fall, score,
                       first.uncertainty, members)

    def decide(self, twin: DigitalTwin, obs: np.ndarray, action: np.ndarray,
               policy: PolicyFn | None = None, sampler: CandidateSampler | None = None,
               previous_action: np.ndarray | None = None,
               controller: PolicyFn | None = None) -> GateDecision:
        """
        Pass or replace the proposed ``action`` ``[d_a]`` in state ``obs`` ``[d_s]``.

        Args:
            twin: the trained twin.
            policy: deterministic policy for horizon_steps > 1.
            sampler: draws candidate actions for best_of_k (required for it).
            previous_action: the last executed action (fallback='previous').
            controller: ``[B, d_s] → [B, d_a]`` fallback controller (fallback='controller').
        """
        cfg = self.config
        proposal = np.asarray(action, dtype=np.float32).reshape(-1)  # [d_a]
        if proposal.shape != (self.spec.act_dim,) or np.shape(obs) != (self.spec.obs_dim,):
            raise DimensionError(f'gate.decide: expected obs [{self.spec.obs_dim}] and action '
                                 f'[{self.spec.act_dim}], got {list(np.shape(obs))} and '
                                 f'{list(np.shape(action))}')
        s = self.score(twin, obs, proposal[None, :], policy)
        reward, fall, u = float(s.first_reward[0]), bool(s.fall[0]), float(s.uncertainty[0])
        probability = float('nan')
        if cfg.rule == 'risk':
            risk = estimate_fall_risk(twin, np.asarray(obs, np.float32)[None, :],
                                      proposal[None, :], policy, cfg.risk_horizon_steps,
                                      cfg.risk_particles, self.rng, cfg.discount,
                                      first_step=s.first_members)  # not computed again
            probability = float(risk.probability[0])
            self._warm = risk.policy_actions[0]
            low_reward = False
            fall = probability >= cfg.risk_threshold
            bad = fall
        else:
            low_reward = reward < cfg.reward_threshold
            bad = low_reward or (cfg.veto_on_termination and fall)
        untrusted = u > cfg.max_uncertainty

        def result(sent: np.ndarray, outcome: GateOutcome, sent_score: float) -> GateDecision:
            return GateDecision(sent, outcome, reward, s.first_next_obs[0], bool(
                s.first_terminated[0]), fall, u, sent_score, probability)

        if not cfg.enabled or not bad and not untrusted:
            if self.planner is not None:
                self.planner.reset()  # the agent is back in control
            return result(proposal, GateOutcome.PASSED, float(s.score[0]))
        if untrusted and cfg.untrusted == 'pass':
            return result(proposal, GateOutcome.UNTRUSTED, float(s.score[0]))
        outcome = GateOutcome.UNTRUSTED if untrusted else (
            GateOutcome.VETOED_REWARD if low_reward else GateOutcome.VETOED_FALL)
        sent, sent_score = self._fallback(twin, obs, policy, sampler, previous_action,
                                          controller, proposal)
        return result(sent, outcome, sent_score)

    def _fallback(self, twin: DigitalTwin, obs: np.ndarray, policy: PolicyFn | None,
                  sampler: CandidateSampler | None, previous_action: np.ndarray | None,
                  controller: PolicyFn | None = None,
                  proposal: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        cfg = self.config
        if cfg.fallback == 'plan':
            assert self.planner is not None
            warm = self._warm if self._warm is not None else (
                proposal if proposal is not None else self.spec.mid_action())[None, :]
            if self._warm is None and policy is not None and cfg.planner.horizon_steps > 1:
                warm = estimate_fall_risk(twin, np.asarray(obs, np.float32)[None, :], warm,
                                          policy, cfg.planner.horizon_steps, 1, self.rng,
                                          cfg.discount).policy_actions[0]
            plan = self.planner.plan(twin, np.asarray(obs, np.float32), warm, policy)
            return plan.action, plan.score
        if cfg.fallback == 'controller':
            if controller is None:
                raise ConfigError('gate.fallback = controller needs a fallback controller')
            sent = self.spec.clip_action(np.asarray(controller(
                np.asarray(obs, np.float32)[None, :]), dtype=np.float32).reshape(
                    -1, self.spec.act_dim)[0])
            return sent, float(self.score(twin, obs, sent[None, :], policy).score[0])
        if cfg.fallback == 'best_of_k':
            if sampler is None:
                raise ConfigError('gate.fallback = best_of_k needs a candidate sampler (a policy)')
            drawn = self.spec.clip_action(sampler(obs, cfg.candidates))  # [k, d_a]
            candidates = np.concatenate([drawn, self.spec.mid_action()[None, :]])  # [k + 1, d_a]
            scores = self.score(twin, obs, candidates, policy)
            best = int(np.argmax(scores.score))
            return candidates[best].copy(), float(scores.score[best])
        if cfg.fallback == 'zero':
            sent = self.spec.mid_action()
        elif cfg.fallback == 'safe_action':
            sent = self.spec.clip_action(np.asarray(cfg.safe_action, dtype=np.float32))
        else:
            sent = self.spec.mid_action() if previous_action is None else \
                self.spec.clip_action(np.asarray(previous_action, dtype=np.float32))
        return sent, float(self.score(twin, obs, sent[None, :], policy).score[0])
