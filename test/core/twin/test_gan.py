"""GAN: samples match a known 2-D Gaussian's mean and covariance; an untrained one does not."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ior_ros.core.errors import DimensionError
from ior_ros.core.twin.gan import GanConfig, MomentError, Wgan

MEAN = np.array([1.0, -2.0])
COV = np.array([[1.0, 0.8], [0.8, 2.0]])  # correlation 0.57
# a working GAN meets these; the untrained generator misses both by a wide margin
MEAN_TOL = 0.15  # data standard deviations
COV_TOL = 0.25  # of std_i std_j


def gaussian(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).multivariate_normal(MEAN, COV, size=n)


def within(error: MomentError) -> bool:
    return error.mean_error < MEAN_TOL and error.cov_error < COV_TOL


def test_untrained_generator_fails_the_tolerances() -> None:
    data = gaussian(4000, 0)
    gen = torch.Generator().manual_seed(0)
    gan = Wgan(2, GanConfig(), gen)
    gan.fit_normalization(data)
    assert not within(gan.moment_error(data, 4000, gen))


def test_wgan_matches_mean_and_covariance() -> None:
    # the seed's recipe: RMSprop 5e-5, batch 64, width 100, 4 generator blocks; weight clipping
    data = gaussian(4000, 1)
    gen = torch.Generator().manual_seed(1)
    gan = Wgan(2, GanConfig(), gen)
    gan.train(data, 250, np.random.default_rng(1), gen)
    error = gan.moment_error(data, 8000, gen)
    assert within(error), error
    samples = gan.sample(8000, gen)
    corr = np.corrcoef(samples, rowvar=False)[0, 1]
    assert corr == pytest.approx(0.8 / np.sqrt(2.0), abs=0.1)


def test_same_seed_same_samples() -> None:
    data = gaussian(500, 2)
    out = []
    for _ in range(2):
        gen = torch.Generator().manual_seed(5)
        gan = Wgan(2, GanConfig(hidden_size=16), gen)
        gan.train(data, 5, np.random.default_rng(5), gen)
        out.append(gan.sample(10, gen))
    np.testing.assert_array_equal(out[0], out[1])


def test_clipping_keeps_critic_weights_bounded() -> None:
    data = gaussian(500, 3)
    gen = torch.Generator().manual_seed(3)
    gan = Wgan(2, GanConfig(clip_value=0.01), gen)
    gan.train(data, 3, np.random.default_rng(3), gen)
    for param in gan.critic.parameters():
        assert float(param.detach().abs().max()) <= 0.01 + 1e-7


def test_gradient_penalty_variant_runs_and_is_finite() -> None:
    data = gaussian(500, 4)
    gen = torch.Generator().manual_seed(4)
    gan = Wgan(2, GanConfig(loss='wgan_gp', optimizer='adam', learning_rate=1e-4), gen)
    estimate = gan.train(data, 5, np.random.default_rng(4), gen)
    assert np.isfinite(estimate)
    assert np.all(np.isfinite(gan.sample(100, gen)))


def test_wrong_data_width_is_named() -> None:
    gan = Wgan(3, GanConfig(hidden_size=8))
    with pytest.raises(DimensionError, match=r'\[N >= 2, 3\].*\[10, 2\]'):
        gan.train(np.zeros((10, 2)), 1, np.random.default_rng(0))
