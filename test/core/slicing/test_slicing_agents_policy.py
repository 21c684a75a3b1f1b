"""The dual-agent slicer: determinism, exact resume, dual ascent on the environment's λ; the numpy
policy equals the torch actors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ior_ros.core.errors import ConfigError, DimensionError
from ior_ros.core.rl.dual_agent_config import DualAgentConfig
from ior_ros.core.slicing.agents import DualAgentSlicer
from ior_ros.core.slicing.env import TeleopSlicingEnv
from ior_ros.core.slicing.policy import SlicingPolicy
from ior_ros.core.slicing.spaces import action_to_prb_counts

TINY = DualAgentConfig(actor_hidden=(16,), critic_hidden=(16,), batch_size=16, learning_starts=40,
                       buffer_size=1000, dual_every=50, dual_window_slots=50)


def make_agent(seed: int = 0, **agent: object) -> DualAgentSlicer:
    torch.set_num_threads(1)
    env = TeleopSlicingEnv(episode_slots=60, task={'mode': 'fixed', 'fixed_di': 0.6})
    return DualAgentSlicer(env, TINY.model_copy(update=agent), seed=seed)


def weights(agent: DualAgentSlicer) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for a in agent.learner.agents
            for p in list(a.actor.parameters()) + list(a.critic.parameters())]


def test_same_seed_same_training() -> None:
    a, b = make_agent(3), make_agent(3)
    stats_a = [a.run_episode(180) for _ in range(3)]
    stats_b = [b.run_episode(180) for _ in range(3)]
    assert stats_a == stats_b
    for x, y in zip(weights(a), weights(b)):
        np.testing.assert_array_equal(x, y)
    c = make_agent(4)
    c.run_episode(180)
    assert c.run_episode(180) != stats_a[1]


def test_resume_is_exact() -> None:
    straight = make_agent(1)
    for _ in range(3):
        straight.run_episode(180)
    first = make_agent(1)
    first.run_episode(180)
    blob = first.checkpoint_bytes()
    resumed = make_agent(1)
    resumed.load_checkpoint_bytes(blob)
    for _ in range(2):
        resumed.run_episode(180)
    assert resumed.total_steps == straight.total_steps
    assert resumed.episodes == straight.episodes == 3
    assert resumed.multiplier == straight.multiplier
    assert resumed.env.lagrange_multiplier == straight.env.lagrange_multiplier
    for x, y in zip(weights(straight), weights(resumed)):
        np.testing.assert_array_equal(x, y)


def test_dual_ascent_direction() -> None:
    agent = make_agent(0, dual_lr=1.0, dual_proportional=0.0)
    agent.learner._violations = [0.5] * 50  # far above 1 - χ = 0.05
    up = agent.dual_update()
    assert up == pytest.approx(0.45)
    assert agent.env.lagrange_multiplier == up  # the environment's reward uses the same λ
    agent.learner._violations = [0.0] * 50
    down = agent.dual_update()
    assert down == pytest.approx(0.40)
    for _ in range(20):
        agent.dual_update()
    assert agent.multiplier == 0.0  # projected onto λ >= 0
    assert agent.env.lagrange_multiplier == 0.0


def test_team_and_own_objectives_train() -> None:
    for objective in ('team', 'own'):
        agent = make_agent(0, actor_objective=objective)
        stats = agent.run_episode(120)
        stats = agent.run_episode(120)
        assert np.isfinite(stats.critic_loss) and np.isfinite(stats.actor_loss)


def test_numpy_policy_equals_torch_actors(tmp_path) -> None:
    agent = make_agent(2)
    agent.run_episode(120)
    policy = agent.policy({'note': 'test'})
    rng = np.random.default_rng(0)
    space = agent.env.observation_space
    assert policy.rounding_carry  # as the environment it was trained in
    policy.reset()
    carry = np.zeros(10)
    for _ in range(20):
        obs = rng.uniform(0, 2, space.shape).astype(np.float32)
        np.testing.assert_allclose(policy.action(obs), agent.act(obs), atol=1e-5)
        counts = policy.decide(obs)
        np.testing.assert_array_equal(
            counts, action_to_prb_counts(policy.action(obs), 25, 3.0, carry))
    stateless = SlicingPolicy(policy.embb_layers, policy.urllc_layers, 5, 5, 25, 3.0,
                              rounding_carry=False)
    obs = rng.uniform(0, 2, space.shape).astype(np.float32)
    for _ in range(3):
        np.testing.assert_array_equal(stateless.decide(obs),
                                      action_to_prb_counts(policy.action(obs), 25, 3.0))
    path = policy.save(tmp_path)
    loaded = SlicingPolicy.load(tmp_path)
    assert path.stat().st_size < 200_000
    assert loaded.metadata['note'] == 'test' and loaded.rounding_carry
    obs = rng.uniform(0, 2, space.shape).astype(np.float32)
    np.testing.assert_allclose(loaded.action(obs), agent.act(obs), atol=1e-5)
    loaded.reset()
    owner = loaded.allocate(obs, np.ones((10, 25)))
    loaded.reset()  # decide() advances the carry: start from the same state
    np.testing.assert_array_equal(np.bincount(owner, minlength=10), loaded.decide(obs))


def test_policy_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match='does not exist'):
        SlicingPolicy.load(tmp_path / 'missing')
    (tmp_path / 'policy.npz').write_bytes(b'not a zip')
    with pytest.raises(ConfigError, match='cannot be read'):
        SlicingPolicy.load(tmp_path)
    agent = make_agent(0)
    policy = agent.policy()
    with pytest.raises(DimensionError, match='observation'):
        policy.action(np.zeros(3))
    with pytest.raises(DimensionError, match='eMBB layer 0'):
        SlicingPolicy(policy.urllc_layers, policy.urllc_layers, 5, 5, 25, 3.0)
    # the actors are shared per user: the same weights serve another number of users
    nine = SlicingPolicy(policy.embb_layers, policy.urllc_layers, 4, 5, 25, 3.0)
    assert nine.decide(np.zeros(nine.layout.size)).sum() == 25
