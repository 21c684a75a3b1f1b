"""The robot tracking environment (issue 3's robot for the twin)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ior_ros.core.control.robot_models import planar_double_integrator
from ior_ros.core.control.tracking_sim import FigureEight
from ior_ros.core.errors import ConfigError, DimensionError
from ior_ros.core.rl.envs import ROBOT_TRACKING_ID, make_env, termination_fn_for
from ior_ros.core.twin.data import collect_transitions, uniform_policy
from ior_ros.core.twin.envs import RobotTrackingEnv, TrackingDivergence
from ior_ros.core.twin.twin import DigitalTwin, TwinSpec
from ior_ros.core.twin.world_model import WorldModelConfig

QUIET = {'disturbance_std_mps2': 0.0, 'noise_std_mps2': 0.0}


def reference_state(env: RobotTrackingEnv, k: int) -> np.ndarray:
    ref = FigureEight(env.config.amplitude_m, env.config.period_s).sample(
        [env._t0 + k * env.config.sample_period_s])
    p, v = ref.position_m[0], ref.velocity_mps[0]
    return np.array([p[0], v[0], p[1], v[1]])


def test_noise_free_step_is_the_delayed_double_integrator() -> None:
    env = RobotTrackingEnv(command_delay_steps=2, **QUIET)
    obs, _ = env.reset(seed=4)
    plant = planar_double_integrator(0.01)
    x = obs[:4].astype(np.float64) + reference_state(env, 0)
    sent = [np.array([1.0, -2.0]), np.array([0.5, 3.0]), np.array([-4.0, 0.0])]
    # the two commands in flight at the start, then the sent ones: step k applies history[k]
    history = [obs[6:8].astype(np.float64), obs[8:10].astype(np.float64), *sent]
    for k, u in enumerate(sent):
        obs, reward, terminated, _, _ = env.step(u.astype(np.float32))
        x = plant.A @ x + plant.B @ history[k]
        error = x - reference_state(env, k + 1)
        np.testing.assert_allclose(obs[:4], error, atol=1e-5)
        np.testing.assert_allclose(obs[6:], np.concatenate(history[k + 1:k + 3]), atol=1e-6)
        assert reward == pytest.approx(-(error[0] ** 2 + error[2] ** 2) - 1e-3 * float(u @ u),
                                       rel=1e-4)
        assert not terminated
    phase = 2 * np.pi / 10.0 * (env._t0 + 3 * 0.01)
    np.testing.assert_allclose(obs[4:6], [np.sin(phase), np.cos(phase)], atol=1e-6)


def test_divergence_is_the_termination_and_the_twin_knows_it() -> None:
    env = make_env(ROBOT_TRACKING_ID, command_delay_steps=1)  # registered by make_env
    check = termination_fn_for(env)
    assert isinstance(check, TrackingDivergence) and check.threshold_m == 1.0
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    ends = 0
    for _ in range(3000):
        nxt, _, terminated, truncated, info = env.step(rng.uniform(-5, 5, 2).astype(np.float32))
        assert bool(check(obs, np.zeros(2), nxt)[0]) == terminated
        assert terminated == (info['position_error_m'] > 1.0)
        if terminated or truncated:
            ends += int(terminated)
            nxt, _ = env.reset()
        obs = nxt
    assert ends >= 3  # random accelerations lose the path within a few hundred samples


def test_same_seed_same_episode() -> None:
    def roll() -> np.ndarray:
        env = RobotTrackingEnv(command_delay_steps=3)
        out = [env.reset(seed=11)[0]]
        out += [env.step(np.full(2, 0.3 * k, np.float32))[0] for k in range(20)]
        return np.array(out)
    np.testing.assert_array_equal(roll(), roll())


def test_bad_override_names_the_field() -> None:
    with pytest.raises(ConfigError, match='command_delay_steps'):
        RobotTrackingEnv(command_delay_steps=-1)


def test_twin_learns_the_robot_and_refuses_hopper(tmp_path: Path) -> None:
    env = RobotTrackingEnv(command_delay_steps=2)
    spec = TwinSpec.from_env(env)
    assert (spec.obs_dim, spec.act_dim) == (10, 2)
    rng = np.random.default_rng(0)
    train = collect_transitions(env, 3000, uniform_policy(spec, rng), seed=0)
    test = collect_transitions(env, 1000, uniform_policy(spec, rng), seed=1)
    twin = DigitalTwin(spec, WorldModelConfig(ensemble_size=2, hidden_sizes=(64, 64)),
                       env.termination_fn, torch.Generator().manual_seed(0))
    twin.fit(train, 800, rng)
    errors = twin.evaluate(test)  # the mean predictor scores 1.0
    assert errors.state_nmse < 0.01 and errors.delta_nmse < 0.05 and errors.reward_nmse < 0.4
    twin.save(tmp_path)
    with pytest.raises(DimensionError, match=r'twin models obs \[10\], action \[2\]'):
        DigitalTwin.load(tmp_path, expect=TwinSpec.from_env(make_env('Hopper-v5')))

