"""
Our gymnasium ids (registered in one place, by make_env) and Hopper-v5's falls: counted from
terminations (health check), never from truncations.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from ior_ros.core.errors import ConfigError
from ior_ros.core.rl.envs import (
    ROBOT_TRACKING_ID,
    TELEOP_SLICING_ID,
    FallCounter,
    HopperHealth,
    make_env,
    register_envs,
    termination_fn_for,
)
from ior_ros.core.twin.twin import TwinSpec

PUSH = np.array([-1.0, -1.0, -1.0], np.float32)  # full negative torque: falls within a few steps
HOLD = np.zeros(3, np.float32)  # zero torque: stays up for ~140 steps from the seeded start


def test_forced_falls_are_counted_like_terminated_flags() -> None:
    env = FallCounter(make_env('Hopper-v5'))
    health = HopperHealth.from_env(env)
    env.reset(seed=0)
    terminated_flags = 0
    steps = 0
    while terminated_flags < 3:
        obs, _, terminated, truncated, info = env.step(PUSH)
        steps += 1
        assert info['fall'] == terminated
        # the observation-level health check agrees with the environment's termination
        assert bool(health(np.zeros(11), PUSH, obs)[0]) == terminated
        if terminated or truncated:
            terminated_flags += int(terminated)
            env.reset()
    assert env.counts.falls == 3 == env.counts.episodes
    assert env.counts.truncations == 0
    assert env.counts.steps == steps
    assert len(env.counts.returns) == 3


def test_truncation_is_not_a_fall() -> None:
    env = FallCounter(make_env('Hopper-v5', max_episode_steps=5))
    env.reset(seed=0)
    flags = [env.step(HOLD)[2:4] for _ in range(5)]
    assert flags[-1] == (False, True)  # (terminated, truncated)
    assert env.counts.falls == 0 and env.counts.truncations == 1 and env.counts.episodes == 1


def test_fall_on_the_last_allowed_step_counts_as_a_fall() -> None:
    probe = make_env('Hopper-v5')
    probe.reset(seed=3)
    fall_step = next(t for t in range(1, 1001) if probe.step(PUSH)[2])
    env = FallCounter(make_env('Hopper-v5', max_episode_steps=fall_step))
    env.reset(seed=3)
    for _ in range(fall_step):
        _, _, terminated, truncated, _ = env.step(PUSH)
    assert terminated and truncated
    assert env.counts.falls == 1 and env.counts.truncations == 0


def test_random_policy_falls_about_as_often_as_the_anchor() -> None:
    # anchors.md §3: a uniform random policy falls 44.7 times per 1000 steps on Hopper-v5
    env = FallCounter(make_env('Hopper-v5'))
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    for _ in range(2000):
        *_, terminated, truncated, _ = env.step(rng.uniform(-1, 1, 3).astype(np.float32))
        if terminated or truncated:
            env.reset()
    assert 35 <= env.counts.falls / 2 <= 55


def test_termination_function_only_for_hopper() -> None:
    assert isinstance(termination_fn_for(make_env('Hopper-v5')), HopperHealth)
    assert termination_fn_for(make_env('Pendulum-v1')) is None


def test_unknown_environment_id_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown environment id 'Hoper-v5'; did you mean "
                                          r'Hopper-v5'):
        make_env('Hoper-v5')
    with pytest.raises(ConfigError, match='unknown environment id'):
        make_env('NoSuchThing-v0')


def test_discrete_spaces_are_refused() -> None:
    with pytest.raises(ConfigError, match='action space must be a 1-D Box'):
        make_env('CartPole-v1')


def test_our_ids_are_registered_by_make_env() -> None:
    register_envs()
    register_envs()  # idempotent
    assert gym.registry[ROBOT_TRACKING_ID].entry_point == \
        'ior_ros.core.twin.envs:RobotTrackingEnv'
    assert gym.registry[TELEOP_SLICING_ID].entry_point == \
        'ior_ros.core.slicing.env:TeleopSlicingEnv'
    for env_id in (ROBOT_TRACKING_ID, TELEOP_SLICING_ID):
        del gym.registry[env_id]
    env = make_env(ROBOT_TRACKING_ID)  # registers again first
    assert env.spec is not None and env.spec.id == ROBOT_TRACKING_ID
    assert TELEOP_SLICING_ID in gym.registry


def test_slicing_environment_is_registered() -> None:
    env = make_env(TELEOP_SLICING_ID)
    spec = TwinSpec.from_env(env)
    assert spec.env_id == TELEOP_SLICING_ID and spec.act_dim == env.action_space.shape[0]
