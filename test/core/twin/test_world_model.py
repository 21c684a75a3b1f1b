"""World model: learns a known linear system; normalization; held-out error; shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ior_ros.core.errors import DimensionError
from ior_ros.core.twin.buffers import Transitions
from ior_ros.core.twin.world_model import (
    WorldModel,
    WorldModelConfig,
    WorldModelTrainer,
    one_step_errors,
)

OBS, ACT = 4, 2


def linear_system(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                      np.ndarray]:
    a = np.eye(OBS) + 0.1 * rng.standard_normal((OBS, OBS))
    b = rng.standard_normal((OBS, ACT))
    c = rng.standard_normal(OBS)
    d = rng.standard_normal(ACT)
    return a, b, c, d


def sample(system: tuple[np.ndarray, ...], n: int, rng: np.random.Generator) -> Transitions:
    a, b, c, d = system
    s = rng.standard_normal((n, OBS)).astype(np.float32)
    u = rng.uniform(-1, 1, (n, ACT)).astype(np.float32)
    return Transitions(s, u, (s @ c + u @ d).astype(np.float32),
                       (s @ a.T + u @ b.T).astype(np.float32), np.zeros(n, bool))


def fit(config: WorldModelConfig, steps: int, seed: int = 0) -> tuple[WorldModel, object]:
    rng = np.random.default_rng(seed)
    system = linear_system(rng)
    train, test = sample(system, 4000, rng), sample(system, 1000, rng)
    model = WorldModel(OBS, ACT, config, torch.Generator().manual_seed(seed))
    WorldModelTrainer(model).fit(train, steps, rng)
    with torch.no_grad():
        p = model(torch.from_numpy(test.obs), torch.from_numpy(test.action))
    return model, one_step_errors(p.reward.mean(0).numpy(), p.next_obs.mean(0).numpy(), test)


def test_learns_linear_system_to_small_error() -> None:
    # the seed's widths (5 x 200), SiLU (our default activation), state differences
    _, errors = fit(WorldModelConfig(ensemble_size=1), steps=400)
    assert errors.reward_nmse < 2e-3
    assert errors.state_nmse < 2e-3
    assert errors.delta_nmse < 1e-2


def test_seed_sigmoid_network_also_learns_it() -> None:
    # the seed's exact network (sigmoid) learns more slowly but well below the mean predictor
    _, errors = fit(WorldModelConfig(ensemble_size=1, activation='sigmoid'), steps=400)
    assert errors.state_nmse < 0.05
    assert errors.reward_nmse < 0.1


def test_untrained_model_is_far_from_it() -> None:
    # the error measure is not trivially small: no training gives nMSE of order 1 or more
    _, errors = fit(WorldModelConfig(ensemble_size=1), steps=0)
    assert errors.reward_nmse > 0.5 and errors.delta_nmse > 0.5


def test_same_seed_same_model() -> None:
    m1, e1 = fit(WorldModelConfig(ensemble_size=2, hidden_sizes=(32, 32)), steps=30, seed=3)
    m2, e2 = fit(WorldModelConfig(ensemble_size=2, hidden_sizes=(32, 32)), steps=30, seed=3)
    for p1, p2 in zip(m1.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(p1, p2)
    assert e1 == e2


def test_normalization_statistics_are_the_data_moments(rng: np.random.Generator) -> None:
    data = sample(linear_system(rng), 500, rng)
    model = WorldModel(OBS, ACT, WorldModelConfig(ensemble_size=1, hidden_sizes=(8,)))
    model.fit_normalization(data)
    targets = np.concatenate([data.reward[:, None], data.next_obs - data.obs], axis=1)
    np.testing.assert_allclose(model.target_norm.mean.numpy(), targets.mean(0), atol=1e-5)
    np.testing.assert_allclose(model.target_norm.std.numpy(), targets.std(0), rtol=1e-5)
    inputs = np.concatenate([data.obs, data.action], axis=1)
    np.testing.assert_allclose(model.input_norm.mean.numpy(), inputs.mean(0), atol=1e-5)


def test_delta_prediction_adds_the_state(rng: np.random.Generator) -> None:
    model = WorldModel(OBS, ACT, WorldModelConfig(ensemble_size=3, hidden_sizes=(8,)))
    obs = torch.randn(5, OBS)
    with torch.no_grad():
        p = model(obs, torch.zeros(5, ACT))
    assert p.next_obs.shape == (3, 5, OBS) and p.reward.shape == (3, 5)
    delta = model.target_norm.denormalize(p.normalized)[..., 1:]
    torch.testing.assert_close(p.next_obs, obs.unsqueeze(0) + delta)


def test_one_step_errors_closed_form() -> None:
    obs = np.zeros((4, 1), np.float32)
    nxt = np.array([[0.0], [1.0], [2.0], [3.0]], np.float32)  # variance 1.25
    r = np.array([0.0, 0.0, 2.0, 2.0], np.float32)  # variance 1
    data = Transitions(obs, np.zeros((4, 1), np.float32), r, nxt, np.zeros(4, bool))
    errors = one_step_errors(r + 1.0, nxt + 0.5, data)
    assert errors.reward_nmse == pytest.approx(1.0)
    assert errors.state_nmse == pytest.approx(0.25 / 1.25)
    assert errors.delta_nmse == pytest.approx(0.25 / 1.25)


def test_wrong_shapes_are_named() -> None:
    model = WorldModel(OBS, ACT, WorldModelConfig(ensemble_size=1, hidden_sizes=(8,)))
    with pytest.raises(DimensionError, match=r'obs \[B, 4\].*\[3, 5\]'):
        model(torch.zeros(3, 5), torch.zeros(3, ACT))
