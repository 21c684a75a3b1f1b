"""The robot tracking environment (the control package's robot, for the twin)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ior_ros.core.control.figure_eight import FigureEight
from ior_ros.core.control.robot_models import planar_double_integrator
from ior_ros.core.errors import ConfigError, DimensionError
from ior_ros.core.rl.envs import ROBOT_TRACKING_ID, make_env, termination_fn_for
from ior_ros.core.twin.data import collect_transitions, uniform_policy
from ior_ros.core.twin.envs import RobotTrackingEnv, TrackingDivergence
from ior_ros.core.twin.twin import DigitalTwin, TwinSpec
from ior_ros.core.twin.world_model import WorldModelConfig

QUIET = {'disturbance_std_mps2': 0.0, 'noise_std_mps2': 0.0}


def reference_state(env: RobotTrackingEnv, k: int) -> np.ndarray:
    ref = FigureEight.from_config(env.config.reference).sample(
        [env.state.time_offset_s + k * env.config.sample_period_s])
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
    phase = 2 * np.pi / 10.0 * (env.state.time_offset_s + 3 * 0.01)
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



def test_the_env_is_the_one_tracking_dynamics() -> None:
    """Replaying the episode's start, disturbances and actions through the bare transition gives
    the env's states and observations bit for bit."""
    from gymnasium.utils import seeding

    from ior_ros.core.control.tracking_dynamics import (
        in_flight_commands,
        initial_disturbance,
        initial_state,
        next_disturbance,
        tracking_error,
        transition,
    )
    d = 3
    env = RobotTrackingEnv(command_delay_steps=d)
    obs, _ = env.reset(seed=21)
    params = env.config.dynamics()
    rng = seeding.np_random(21)[0]
    t0 = float(rng.uniform(0.0, 10.0))
    offset = rng.normal(0.0, 0.05, size=2)
    sent = [t0 + j * 0.01 for j in range(-d, 0)]
    state = initial_state(params, 1, time_offset_s=t0, position_offset_m=offset,
                          in_flight_mps2=params.reference.state(sent)[1],
                          in_flight_delay_steps=np.full(d, d))
    hold = initial_disturbance(rng, params, 1)
    actions = np.random.default_rng(0).uniform(-2, 2, (200, 2)).astype(np.float32)
    for k, action in enumerate(actions):
        obs, *_ = env.step(action)
        disturbance = next_disturbance(hold, k, rng, params)
        hold = disturbance.hold_mps2
        state = transition(state, action[None].astype(np.float64), d, disturbance, params)
        np.testing.assert_array_equal(env.state.x, state.x)
        np.testing.assert_array_equal(obs[:4], tracking_error(state, params)[0].astype(np.float32))
        np.testing.assert_array_equal(obs[6:], in_flight_commands(state, d)[0].ravel()
                                      .astype(np.float32))


def test_old_reference_keys_still_configure_the_env() -> None:
    env = RobotTrackingEnv(amplitude_m=2.0, period_s=6.0)
    assert (env.config.reference.amplitude_m, env.config.reference.period_s) == (2.0, 6.0)
    obs, _ = env.reset(seed=0, options={'time_offset_s': 1.5})
    assert env.state.time_offset_s == 1.5
    np.testing.assert_allclose(obs[4:6], [np.sin(2 * np.pi * 1.5 / 6.0),
                                          np.cos(2 * np.pi * 1.5 / 6.0)], atol=1e-6)
