"""DigitalTwin: generic over Box environments, save/load, incompatible spaces, TwinEnv."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from ior_ros.core.errors import ConfigError, DimensionError
from ior_ros.core.rl.envs import make_env
from ior_ros.core.twin.buffers import Transitions
from ior_ros.core.twin.data import collect_transitions, uniform_policy
from ior_ros.core.twin.twin import DigitalTwin, TwinEnv, TwinSpec
from ior_ros.core.twin.world_model import WorldModelConfig

SMALL = WorldModelConfig(ensemble_size=2, hidden_sizes=(64, 64))


class LinearEnv(gym.Env[np.ndarray, np.ndarray]):
    """A stand-in for a non-MuJoCo environment: s' = A s + B a, r = -|s|², Box spaces."""

    def __init__(self) -> None:
        self.observation_space = spaces.Box(-np.inf, np.inf, (3,), np.float32)
        self.action_space = spaces.Box(-2.0, 2.0, (2,), np.float32)
        self.a = np.array([[0.9, 0.1, 0.0], [0.0, 0.95, 0.1], [0.05, 0.0, 0.9]], np.float32)
        self.b = np.array([[0.1, 0.0], [0.0, 0.1], [0.05, 0.05]], np.float32)
        self.s = np.zeros(3, np.float32)
        self.t = 0

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.s = self.np_random.uniform(-1, 1, 3).astype(np.float32)
        self.t = 0
        return self.s.copy(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        reward = -float(self.s @ self.s)
        self.s = (self.a @ self.s + self.b @ action).astype(np.float32)
        self.t += 1
        return self.s.copy(), reward, False, self.t >= 50, {}


def fitted_twin(env: gym.Env[Any, Any], n: int = 3000, steps: int = 500) -> tuple[DigitalTwin,
                                                                                  Transitions]:
    spec = TwinSpec.from_env(env)
    rng = np.random.default_rng(0)
    data = collect_transitions(env, n, uniform_policy(spec, rng), seed=0)
    twin = DigitalTwin(spec, SMALL, generator=torch.Generator().manual_seed(0))
    twin.fit(data, steps, rng)
    test = collect_transitions(env, 500, uniform_policy(spec, rng), seed=99)
    return twin, test


def test_wraps_a_plain_gymnasium_env() -> None:
    twin, test = fitted_twin(LinearEnv())
    errors = twin.evaluate(test)
    assert errors.reward_nmse < 0.2 and errors.state_nmse < 0.01  # mean predictor: 1.0


def test_wraps_pendulum() -> None:
    twin, test = fitted_twin(make_env('Pendulum-v1'), steps=400)
    errors = twin.evaluate(test)
    assert errors.state_nmse < 0.05  # well below the mean predictor (1.0)


def test_wraps_the_slicing_environment_of_issue_4() -> None:
    slicing = pytest.importorskip('ior_ros.core.slicing.env')
    env = slicing.TeleopSlicingEnv()
    spec = TwinSpec.from_env(env)
    assert spec.obs_dim == env.observation_space.shape[0]
    twin, test = fitted_twin(env, n=600, steps=50)
    prediction = twin.predict(test.obs[:7], test.action[:7])
    assert prediction.next_obs.shape == (7, spec.obs_dim) and prediction.reward.shape == (7,)


def test_wraps_the_robot_model_of_issue_3() -> None:
    models = pytest.importorskip('ior_ros.core.control.robot_models')
    plant = models.planar_double_integrator()
    spec = TwinSpec.from_bounds(plant.n_states, act_low=[-1.0] * plant.n_inputs,
                                act_high=[1.0] * plant.n_inputs)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (3000, plant.n_states)).astype(np.float32)
    u = rng.uniform(-1, 1, (3000, plant.n_inputs)).astype(np.float32)
    x_next = (x @ plant.A.T + u @ plant.B.T).astype(np.float32)
    reward = -np.sum(x ** 2, axis=1).astype(np.float32)  # tracking cost of the state error
    data = Transitions(x, u, reward, x_next, np.zeros(3000, bool))
    twin = DigitalTwin(spec, SMALL, generator=torch.Generator().manual_seed(0))
    twin.fit(data.take(np.arange(2500)), 1500, rng)
    errors = twin.evaluate(data.take(np.arange(2500, 3000)))
    assert errors.state_nmse < 0.01 and errors.reward_nmse < 0.05


def test_save_load_round_trip(tmp_path: Path) -> None:
    twin, test = fitted_twin(LinearEnv(), n=500, steps=20)
    twin.evaluate(test)
    twin.save(tmp_path)
    loaded = DigitalTwin.load(tmp_path, expect=TwinSpec.from_env(LinearEnv()))
    a, b = twin.predict(test.obs, test.action), loaded.predict(test.obs, test.action)
    np.testing.assert_array_equal(a.next_obs, b.next_obs)
    np.testing.assert_array_equal(a.reward, b.reward)
    assert loaded.errors == twin.errors


def test_loading_into_incompatible_spaces_is_a_clear_error(tmp_path: Path) -> None:
    twin, _ = fitted_twin(LinearEnv(), n=300, steps=1)
    twin.save(tmp_path)
    hopper = TwinSpec.from_env(make_env('Hopper-v5'))
    with pytest.raises(DimensionError, match=r"twin models obs \[3\], action \[2\].*"
                                             r"obs \[11\], action \[3\] \(env 'Hopper-v5'\)"):
        DigitalTwin.load(tmp_path, expect=hopper)
    other_bounds = TwinSpec.from_bounds(3, act_low=[-1.0, -1.0], act_high=[1.0, 1.0])
    with pytest.raises(DimensionError, match='incompatible action bounds'):
        DigitalTwin.load(tmp_path, expect=other_bounds)
    with pytest.raises(ConfigError, match='no twin at'):
        DigitalTwin.load(tmp_path / 'missing')


def test_predict_rejects_wrong_widths() -> None:
    twin = DigitalTwin(TwinSpec.from_env(LinearEnv()), SMALL)
    with pytest.raises(DimensionError, match=r'obs \[B, 3\] and action \[B, 2\]'):
        twin.predict(np.zeros((4, 3)), np.zeros((4, 3)))


def test_non_box_spaces_are_refused() -> None:
    with pytest.raises(ConfigError, match='1-D Box'):
        TwinSpec.from_spaces(spaces.Discrete(3), spaces.Box(-1, 1, (1,)))


@pytest.mark.filterwarnings('ignore:.*Box observation space')
def test_twin_env_passes_the_gymnasium_checker() -> None:
    from gymnasium.utils.env_checker import check_env
    twin, test = fitted_twin(LinearEnv(), n=500, steps=50)
    env = TwinEnv(twin, test.obs[:20], max_episode_steps=10)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=1)
    total_steps = 0
    truncated = False
    while not truncated:
        obs, reward, terminated, truncated, info = env.step(np.zeros(2, np.float32))
        total_steps += 1
        assert 'uncertainty' in info and not terminated
    assert total_steps == 10
