"""
Calibrated fall risk: the probability, under the twin's ensemble, that the agent falls within ``H``
steps if the proposed action is sent — and the threshold above which the risk gate vetoes.

Issue 5 found that a one-rollout, one-step veto comes too late: by the time the ensemble *mean*
predicts a fall it is inevitable under the agent's own policy. Here the risk is a probability over
a longer horizon, from *sampled* rollouts of the ensemble:

* ``P`` particles start from the state; the first step applies the proposed action, the next
  ``H - 1`` apply the agent's deterministic policy;
* at every step each particle draws one member of the ensemble uniformly and takes that member's
  prediction (the "TS∞" trajectory sampling of Chua et al., *Deep RL in a handful of trials using
  probabilistic dynamics models*, NeurIPS 2018): the spread of the particles grows where the
  members disagree, so the probability is graded (multiples of ``1/P``), not the
  ``{0, 1/K, …, 1}`` of one rollout per member;
* a particle *falls* at the first step whose predicted next state fails the twin's termination
  function (Hopper's health check; the robot's safe set); ``p_fall`` is the fraction of particles
  that fall within ``H``.

**Threshold** (:func:`choose_threshold`): chosen on held-out episodes of the ungated agent — never
on the evaluation episodes. Each step ``t`` of such an episode gets the label *a fall follows
within K steps* (:func:`fall_labels`; the ungated agent is deterministic and so is the simulator
after the reset, so the rest of the episode *is* what the proposal leads to) and the gate's
``p_fall``; the gate would veto when ``p_fall >= threshold``. Rules: ``f1`` (the threshold with
the highest F1, the default: a missed fall and a needless veto weigh the same) or
``recall_at_precision`` (the highest recall whose precision is at least a floor: for a robot where
a veto is cheap because the fallback is safe).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from ior_ros.core.errors import ConfigError, DimensionError
from ior_ros.core.twin.twin import DigitalTwin, PolicyFn

__all__ = ['RiskEstimate', 'member_predictions', 'estimate_fall_risk', 'fall_labels',
           'precision_recall', 'ThresholdChoice', 'ThresholdRule', 'choose_threshold']

ThresholdRule = Literal['f1', 'recall_at_precision']


@torch.no_grad()
def member_predictions(twin: DigitalTwin, obs: np.ndarray,
                       action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """
    Every member's prediction for the same batch.

    Args:
        obs: ``[B, d_s]``; action: ``[B, d_a]``.

    Returns:
        ``(reward [K, B], next_obs [K, B, d_s])``.
    """
    out = twin.model(torch.from_numpy(np.ascontiguousarray(obs, dtype=np.float32)),
                     torch.from_numpy(np.ascontiguousarray(action, dtype=np.float32)))
    return out.reward.numpy(), out.next_obs.numpy()


@dataclass(frozen=True)
class RiskEstimate:
    """
    The twin's risk for ``B`` (state, proposed action) pairs.

    Attributes:
        probability: ``[B]`` fraction of particles that fall within the horizon.
        expected_return: ``[B]`` mean over particles of ``Σ_h γ^h r̂_h`` up to the fall.
        fall_step: ``[B]`` mean step (1-based) at which the falling particles fell (NaN if none).
        policy_actions: ``[B, H, d_a]`` the action sequence of particle 0 (the proposal, then the
            policy's actions along the rollout): the planner's warm start.
    """

    probability: np.ndarray
    expected_return: np.ndarray
    fall_step: np.ndarray
    policy_actions: np.ndarray


def estimate_fall_risk(twin: DigitalTwin, obs: np.ndarray, action: np.ndarray,
                       policy: PolicyFn | None, horizon_steps: int, particles: int,
                       rng: np.random.Generator, discount: float = 0.99,
                       first_step: tuple[np.ndarray, np.ndarray] | None = None) -> RiskEstimate:
    """
    Fall probability within ``horizon_steps`` by sampled ensemble rollouts (module docstring).

    Args:
        twin: the trained twin (its termination function defines a fall; without one nothing
            falls).
        obs: ``[B, d_s]`` states; action: ``[B, d_a]`` the proposals.
        policy: the agent's deterministic policy for steps 2..H (required when H > 1).
        horizon_steps: H.
        particles: P rollouts per pair.
        rng: draws the member of every particle and step.
        discount: γ of the expected return.
        first_step: every member's prediction for the ``B`` pairs themselves, ``(reward [K, B],
            next_obs [K, B, d_s])``, when the caller has it already (the gate's one-step
            prediction, ``TwinPrediction.member_*``): the first step of every particle is one of
            them, so it is not computed again (the same draws, the same result).
    """
    o = np.atleast_2d(np.asarray(obs, dtype=np.float32))  # [B, d_s]
    a = np.atleast_2d(np.asarray(action, dtype=np.float32))  # [B, d_a]
    spec = twin.spec
    if o.shape[1] != spec.obs_dim or a.shape != (o.shape[0], spec.act_dim):
        raise DimensionError(f'fall risk: expected obs [B, {spec.obs_dim}] and action '
                             f'[B, {spec.act_dim}], got {list(o.shape)} and {list(a.shape)}')
    if horizon_steps < 1 or particles < 1:
        raise ConfigError(f'fall risk: horizon_steps = {horizon_steps} and particles = '
                          f'{particles} must both be >= 1')
    if horizon_steps > 1 and policy is None:
        raise ConfigError('fall risk over more than one step needs the agent policy')
    b = o.shape[0]
    if first_step is not None and (np.shape(first_step[0]) != (twin.model.members, b) or
                                   np.shape(first_step[1]) != (twin.model.members, b,
                                                               spec.obs_dim)):
        raise DimensionError(f'fall risk: first_step must be reward [{twin.model.members}, {b}] '
                             f'and next_obs [{twin.model.members}, {b}, {spec.obs_dim}], got '
                             f'{list(np.shape(first_step[0]))} and '
                             f'{list(np.shape(first_step[1]))}')
    members = twin.model.members
    n = b * particles
    state = np.repeat(o, particles, axis=0)  # [B·P, d_s] particle-major within each pair
    act = np.repeat(a, particles, axis=0)  # [B·P, d_a]
    rows = np.arange(n)
    alive = np.ones(n, dtype=bool)
    fell_at = np.full(n, np.nan)
    ret = np.zeros(n)
    actions = np.zeros((b, horizon_steps, spec.act_dim), dtype=np.float32)
    for h in range(horizon_steps):
        if h > 0:
            assert policy is not None
            act = spec.clip_action(policy(state))  # [B·P, d_a]
        actions[:, h] = act[::particles]
        if h == 0 and first_step is not None:  # [K, B] → every particle of its pair
            reward = np.repeat(np.asarray(first_step[0]), particles, axis=1)  # [K, B·P]
            nxt = np.repeat(np.asarray(first_step[1]), particles, axis=1)  # [K, B·P, d_s]
        else:
            reward, nxt = member_predictions(twin, state, act)  # [K, B·P], [K, B·P, d_s]
        pick = rng.integers(0, members, size=n)  # [B·P]
        r = reward[pick, rows]  # [B·P]
        before, state = state, nxt[pick, rows]  # [B·P, d_s]
        ret += np.where(alive, discount ** h * r, 0.0)
        if twin.termination_fn is not None:
            down = np.asarray(twin.termination_fn(before, act, state), dtype=bool)
            newly = alive & down
            fell_at[newly] = h + 1
            alive &= ~down
    fell = (~alive).reshape(b, particles)  # [B, P]
    steps = fell_at.reshape(b, particles)
    count = fell.sum(axis=1)  # [B]
    total = np.where(fell, steps, 0.0).sum(axis=1)  # [B]
    fall_step = np.full(b, np.nan)
    np.divide(total, count, out=fall_step, where=count > 0)
    return RiskEstimate(probability=fell.mean(axis=1), expected_return=ret.reshape(
        b, particles).mean(axis=1), fall_step=fall_step, policy_actions=actions)


def fall_labels(length: int, fell: bool, within_steps: int) -> np.ndarray:
    """
    Labels of the ``length`` actions of one episode: True where a fall follows within
    ``within_steps`` steps.

    The action at step ``t`` (0-based) leads to the transition ``t``; a fallen episode's last
    transition ``length - 1`` is the fall, so ``label_t = fell and length - t <= K`` (the action
    that itself causes the fall has ``length - t = 1``).
    """
    if within_steps < 1:
        raise ConfigError(f'label steps K = {within_steps}: must be >= 1')
    t = np.arange(length)
    out: np.ndarray = (length - t <= within_steps) & bool(fell)
    return out


def precision_recall(flagged: np.ndarray, label: np.ndarray) -> tuple[float, float]:
    """
    ``(precision, recall)`` of boolean flags against labels (``[N]`` each); precision is NaN
    without a flag, recall NaN without a positive label.
    """
    f = np.asarray(flagged, dtype=bool)
    y = np.asarray(label, dtype=bool)
    if f.shape != y.shape:
        raise DimensionError(f'precision_recall: flags {list(f.shape)} vs labels '
                             f'{list(y.shape)}')
    tp = float(np.count_nonzero(f & y))
    n_flag, n_pos = float(np.count_nonzero(f)), float(np.count_nonzero(y))
    return (tp / n_flag if n_flag else float('nan'), tp / n_pos if n_pos else float('nan'))


@dataclass(frozen=True)
class ThresholdChoice:
    """
    The chosen veto threshold and its held-out quality.

    Attributes:
        threshold: veto when ``p_fall >= threshold``.
        precision, recall, f1: on the held-out (calibration) steps.
        rule: how it was chosen; samples, positives: the calibration set.
        met_floor: rule ``recall_at_precision``: a threshold reached the precision floor (False:
            the best-F1 threshold was taken instead).
    """

    threshold: float
    precision: float
    recall: float
    f1: float
    rule: str
    samples: int
    positives: int
    met_floor: bool = True

    def as_dict(self) -> dict[str, float | int | str | bool]:
        """JSON form."""
        return {'threshold': self.threshold, 'precision': self.precision,
                'recall': self.recall, 'f1': self.f1, 'rule': self.rule,
                'samples': self.samples, 'positives': self.positives,
                'met_floor': self.met_floor}


def choose_threshold(risk: np.ndarray, label: np.ndarray, rule: ThresholdRule = 'f1',
                     precision_floor: float = 0.5) -> ThresholdChoice:
    """
    The veto threshold on held-out ``risk`` ``[N]`` (probabilities) and ``label`` ``[N]``.

    The candidates are the distinct positive risk values (a threshold of 0 would veto
    everything). Ties in the criterion go to the higher threshold (fewer vetoes). Without any
    positive label or positive risk, the threshold is 1.0 (veto only certain falls).

    Raises:
        ConfigError: a precision floor outside (0, 1], or an unknown rule.
    """
    p = np.asarray(risk, dtype=float)
    y = np.asarray(label, dtype=bool)
    if p.shape != y.shape or p.ndim != 1:
        raise DimensionError(f'choose_threshold: risk {list(p.shape)} and labels '
                             f'{list(y.shape)} must be equal 1-D shapes')
    if not 0.0 < precision_floor <= 1.0:
        raise ConfigError(f'precision floor = {precision_floor}: must be in (0, 1]')
    if rule not in ('f1', 'recall_at_precision'):
        raise ConfigError(f"threshold rule {rule!r}: allowed 'f1', 'recall_at_precision'")
    positives = int(np.count_nonzero(y))
    candidates = np.unique(p[p > 0.0])[::-1]  # descending: ties keep the higher threshold
    if positives == 0 or candidates.size == 0:
        return ThresholdChoice(1.0, float('nan'), float('nan'), float('nan'), rule, int(p.size),
                               positives, rule == 'f1')
    flags = p[None, :] >= candidates[:, None]  # [C, N]
    tp = np.count_nonzero(flags & y[None, :], axis=1).astype(float)  # [C]
    n_flag = np.count_nonzero(flags, axis=1).astype(float)  # [C] >= 1 (each candidate occurs)
    precision = tp / n_flag
    recall = tp / positives
    with np.errstate(invalid='ignore', divide='ignore'):
        f1 = np.where(tp > 0, 2 * precision * recall / (precision + recall), 0.0)
    met = True
    if rule == 'recall_at_precision':
        ok = precision >= precision_floor
        if np.any(ok):
            best = int(np.argmax(np.where(ok, recall, -1.0)))
        else:
            met = False
            best = int(np.argmax(f1))
    else:
        best = int(np.argmax(f1))
    return ThresholdChoice(float(candidates[best]), float(precision[best]), float(recall[best]),
                           float(f1[best]), rule, int(p.size), positives, met)
