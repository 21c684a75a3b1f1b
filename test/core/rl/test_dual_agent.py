"""Generic dual-agent TD3 with a Lagrange multiplier: buffers, schedule, dual ascent, resume."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import torch
from stable_baselines3.common.torch_layers import create_mlp
from torch import nn

from ior_ros.core.errors import ModelError
from ior_ros.core.rl.dual_agent import DualAgentTD3, ReplayBuffer
from ior_ros.core.rl.dual_agent_config import DualAgentConfig

TINY = DualAgentConfig(actor_hidden=(16,), critic_hidden=(16,), batch_size=8, learning_starts=20,
                       buffer_size=500, train_every=1, dual_every=10, dual_window_slots=10)
OBS_DIM = 3
TARGET = np.array([0.5, -0.3, 0.2])  # agent 1 owns entry 0, agent 2 entries 1 and 2


def make_actor(k: int, hidden: Sequence[int]) -> nn.Module:
    return nn.Sequential(*create_mlp(OBS_DIM, 1 + k, list(hidden), squash_output=True))


def make_learner(seed: int = 0, **config: object) -> DualAgentTD3:
    return DualAgentTD3(OBS_DIM, (1, 2), make_actor, violation_budget=0.05,
                        config=TINY.model_copy(update=config), seed=seed)


OBSERVATIONS = np.random.default_rng(0).normal(size=(2001, OBS_DIM)).astype(np.float32)


def play(learner: DualAgentTD3, start: int, stop: int, total: int) -> list[object]:
    """Steps ``[start, stop)`` of a contextual bandit: each agent is rewarded for its entries'
    distance to TARGET; a violation is an entry of agent 2 more than 0.1 away (squared)."""
    out: list[object] = []
    for t in range(start, stop):
        obs, next_obs = OBSERVATIONS[t], OBSERVATIONS[t + 1]
        action = learner.explore(obs, total)
        error = (action - TARGET) ** 2
        violations = np.array([float(error[1] > 0.1), float(error[2] > 0.1)])
        out.append(learner.observe(obs, action, (-float(error[0]), -float(error[1:].sum())),
                                   next_obs, False, slack=0.0, violations=violations))
    return out


def test_replay_buffer_ring() -> None:
    buf = ReplayBuffer(3, obs_dim=2, action_dim=1, with_slack=True)
    for i in range(5):
        buf.add(np.full(2, i), [i], float(i), np.full(2, i + 1), False, slack=-i)
    assert buf.size == 3 and buf.position == 2
    assert sorted(buf.reward.tolist()) == [2.0, 3.0, 4.0]
    restored = ReplayBuffer(3, 2, 1, with_slack=True)
    restored.load_state_dict(buf.state_dict())
    np.testing.assert_array_equal(restored.slack, buf.slack)


def test_agents_own_their_columns() -> None:
    learner = make_learner()
    assert [a.columns for a in learner.agents] == [slice(0, 1), slice(1, 3)]
    assert learner.agents[0].buffer.slack is None and learner.agents[1].buffer.slack is not None
    action = learner.act(np.zeros(OBS_DIM))
    assert action.shape == (3,) and np.all(np.abs(action) <= 1.0)
    with pytest.raises(ModelError, match='action_sizes'):
        DualAgentTD3(OBS_DIM, (0, 2), make_actor, 0.05, TINY)


def test_schedule_random_then_learning() -> None:
    learner = make_learner()
    losses = play(learner, 0, 40, 40)
    assert learner.total_steps == 40
    # no update before learning_starts; then one per step (train_every = 1, batch 8 <= buffer)
    assert all(x is None for x in losses[:19]) and all(x is not None for x in losses[19:])
    assert learner.updates == 21
    # violations are counted from learning_starts on; the dual ascent ran at steps 30 and 40
    assert len(learner._violations) <= TINY.dual_window_slots
    assert learner.multiplier > 0.0  # random-ish actions violate far more than 5 %


def actor_weights(learner: DualAgentTD3) -> list[torch.Tensor]:
    return [p.detach().clone() for a in learner.agents
            for p in list(a.actor.parameters()) + list(a.critic.parameters())]


def test_same_seed_same_learning_and_exact_resume() -> None:
    straight = make_learner(3)
    play(straight, 0, 60, 60)
    again = make_learner(3)
    play(again, 0, 60, 60)
    for p, q in zip(actor_weights(straight), actor_weights(again)):
        assert torch.equal(p, q)
    first = make_learner(3)
    play(first, 0, 30, 60)
    resumed = make_learner(3)
    resumed.load_state_dict(first.state_dict())
    play(resumed, 30, 60, 60)
    assert resumed.total_steps == straight.total_steps == 60
    assert resumed.multiplier == straight.multiplier
    for p, q in zip(actor_weights(straight), actor_weights(resumed)):
        assert torch.equal(p, q)
    other = make_learner(4)
    play(other, 0, 60, 60)
    assert not all(torch.equal(p, q) for p, q in zip(actor_weights(straight),
                                                       actor_weights(other)))


def test_dual_ascent_direction_and_statistic() -> None:
    learner = make_learner(dual_lr=1.0, dual_proportional=0.0)
    learner._violations = [np.array([0.5, 0.0])] * 10
    assert learner.dual_update() == pytest.approx(0.45)  # worst unit: 0.5 - 0.05
    learner._violations = [np.array([0.0, 0.0])] * 10
    assert learner.dual_update() == pytest.approx(0.40)
    for _ in range(20):
        learner.dual_update()
    assert learner.multiplier == 0.0  # projected onto λ >= 0
    mean = make_learner(dual_lr=1.0, dual_proportional=0.0, dual_statistic='mean')
    mean._violations = [np.array([0.5, 0.0])] * 10
    assert mean.dual_update() == pytest.approx(0.20)  # mean over units: 0.25 - 0.05
    capped = make_learner(dual_lr=100.0, multiplier_max=2.0)
    capped._violations = [np.array([1.0, 1.0])] * 10
    assert capped.dual_update() == 2.0


def test_learns_the_bandit() -> None:
    learner = make_learner(0, learning_starts=100, buffer_size=2000, batch_size=32,
                           critic_hidden=(32, 32), actor_lr=3e-3, critic_lr=3e-3, policy_delay=1,
                           exploration_noise=0.3, exploration_noise_final=0.05, dual_lr=0.0,
                           dual_proportional=0.0, gamma=0.0)
    observations = np.random.default_rng(1).normal(size=(50, OBS_DIM))

    def mean_error() -> float:
        return float(np.mean([np.abs(learner.act(o) - TARGET) for o in observations]))

    before = mean_error()
    play(learner, 0, 800, 800)
    after = mean_error()
    assert after < 0.1 and after < before / 3  # 0.31 -> 0.05
