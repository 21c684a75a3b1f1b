"""
The gate's NumPy policy (ior_ros/core/rl/numpy_policy.py, SacAgent.deterministic_policy) against
the torch actor: every activation the configuration allows, one state or a batch, and the weights
read live (a training step changes the next answer).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ior_ros.core.rl.soft_actor_critic import SacAgent, SacConfig

D_S, D_A = 11, 3


@pytest.mark.parametrize('activation', ['relu', 'silu', 'tanh', 'sigmoid', 'leaky_relu'])
def test_numpy_policy_matches_the_torch_actor(activation: str) -> None:
    agent = SacAgent(D_S, D_A, [-1.0, -2.0, 0.0], [1.0, 2.0, 4.0],
                     SacConfig(hidden_sizes=(64, 64), activation=activation),
                     torch.Generator().manual_seed(5))
    obs = np.random.default_rng(3).normal(0, 1, (16, D_S)).astype(np.float32)
    expected = agent.act(obs, deterministic=True)
    np.testing.assert_allclose(agent.deterministic_policy(obs), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(agent.deterministic_policy(obs[0]), expected[0], rtol=1e-5,
                               atol=1e-5)
    with torch.no_grad():  # live weights: a changed actor answers differently at once
        agent.actor.head.bias.add_(0.5)
    np.testing.assert_allclose(agent.deterministic_policy(obs), agent.act(obs, deterministic=True),
                               rtol=1e-5, atol=1e-5)
    assert not np.allclose(agent.deterministic_policy(obs), expected)
