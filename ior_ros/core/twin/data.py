"""
Collecting real transitions from a gymnasium environment (training and test data for the twin).

Seed 000 §III trains and tests the predict network on 60000 and 10000 samples. We collect the two
sets from *different episodes* (the test episodes are reset with other seeds), so the test error is
a held-out error, not an interpolation between neighbouring steps of the same trajectory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from ior_ros.core.errors import ConfigError
from ior_ros.core.progress import ProgressFn
from ior_ros.core.twin.buffers import TransitionBuffer, Transitions
from ior_ros.core.twin.twin import TwinSpec

__all__ = ['ActionFn', 'uniform_policy', 'collect_transitions']

ActionFn = Callable[[np.ndarray], np.ndarray]
"""``obs [d_s] → action [d_a]`` (environment units)."""


def uniform_policy(spec: TwinSpec, rng: np.random.Generator) -> ActionFn:
    """Actions drawn uniformly from the action box (the seed's untrained agent explores so)."""
    low = np.asarray(spec.act_low, dtype=np.float64)  # [d_a]
    high = np.asarray(spec.act_high, dtype=np.float64)  # [d_a]

    def act(obs: np.ndarray) -> np.ndarray:
        return rng.uniform(low, high).astype(np.float32)  # [d_a]
    return act


def collect_transitions(env: gym.Env[Any, Any], n: int, policy: ActionFn, seed: int,
                        on_step: ProgressFn | None = None) -> Transitions:
    """
    Run ``policy`` for ``n`` steps, resetting at every episode end.

    Args:
        env: the environment (1-D Box spaces).
        n: transitions to collect.
        policy: the behaviour policy.
        seed: seeds the first reset (later resets continue the environment's generator).
        on_step: progress callback, called with 1 per step.

    Returns:
        ``n`` transitions; ``terminated`` marks health-check ends, time-limit ends are not
        terminal.
    """
    if n < 1:
        raise ConfigError(f'collect_transitions: n = {n}, must be >= 1')
    spec = TwinSpec.from_env(env)
    buffer = TransitionBuffer(n, spec.obs_dim, spec.act_dim)
    obs, _ = env.reset(seed=seed)
    for _ in range(n):
        o = np.asarray(obs, dtype=np.float32)  # [d_s]
        action = spec.clip_action(np.asarray(policy(o), dtype=np.float32))  # [d_a]
        obs, reward, terminated, truncated, _ = env.step(action)
        buffer.add(o, action, float(reward), np.asarray(obs, dtype=np.float32), bool(terminated))
        if terminated or truncated:
            obs, _ = env.reset()
        if on_step is not None:
            on_step(1)
    return buffer.all()
