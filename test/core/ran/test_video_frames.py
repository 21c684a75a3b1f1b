"""Video frame sizes from the eMBB traffic model (core/ran/video_frames.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ior_ros.core.errors import ModelError
from ior_ros.core.ran.video_frames import lognormal_frame_bytes, mean_frame_bytes
from ior_ros.core.slicing.config import SlicingEnvConfig


def test_mean_frame_carries_the_embb_rate_of_the_slicing_model() -> None:
    env = SlicingEnvConfig()
    mean = mean_frame_bytes(env.embb_arrival_rate_pps, env.embb_packet_bits, 30.0)
    assert mean == 65_000.0  # 1300 packets/s x 12000 bit / 8 / 30 frames/s
    assert mean * 8 * 30 == env.embb_arrival_rate_pps * env.embb_packet_bits


@pytest.mark.parametrize('cv', [0.1, 0.3, 1.0])
def test_lognormal_sizes_have_the_mean_and_cv(rng: np.random.Generator, cv: float) -> None:
    sizes = lognormal_frame_bytes(rng, 65_000.0, cv, 200_000)
    assert sizes.dtype == np.int64 and sizes.shape == (200_000,) and sizes.min() >= 1
    assert sizes.mean() == pytest.approx(65_000.0, rel=4 * cv / math.sqrt(sizes.size) + 1e-4)
    assert sizes.std() / sizes.mean() == pytest.approx(cv, rel=0.03)
    sigma = math.sqrt(math.log1p(cv * cv))
    scale = 65_000.0 / math.sqrt(1.0 + cv * cv)  # e^μ
    assert stats.kstest(sizes[:5000], 'lognorm', args=(sigma, 0.0, scale)).pvalue > 1e-3


def test_zero_cv_gives_constant_frames_and_draws_nothing() -> None:
    rng = np.random.default_rng(1)
    before = rng.bit_generator.state
    assert lognormal_frame_bytes(rng, 1234.4, 0.0, 5).tolist() == [1234] * 5
    assert rng.bit_generator.state == before
    assert lognormal_frame_bytes(rng, 0.2, 0.0, 2).tolist() == [1, 1]  # at least one byte


def test_same_seed_same_sizes() -> None:
    a = lognormal_frame_bytes(np.random.default_rng([7, 1]), 500.0, 0.5, 100)
    b = lognormal_frame_bytes(np.random.default_rng([7, 1]), 500.0, 0.5, 100)
    assert np.array_equal(a, b)


@pytest.mark.parametrize(('call', 'name'), [
    (lambda: mean_frame_bytes(-1.0, 12000.0, 30.0), 'packet_rate_pps'),
    (lambda: mean_frame_bytes(1300.0, 0.0, 30.0), 'packet_bits'),
    (lambda: mean_frame_bytes(1300.0, 12000.0, 0.0), 'fps_hz'),
    (lambda: mean_frame_bytes(1300.0, 12000.0, math.nan), 'fps_hz'),
    (lambda: lognormal_frame_bytes(np.random.default_rng(0), 0.0, 0.3, 1), 'mean_bytes'),
    (lambda: lognormal_frame_bytes(np.random.default_rng(0), 1.0, -0.1, 1), 'cv'),
    (lambda: lognormal_frame_bytes(np.random.default_rng(0), 1.0, 0.3, -1), 'count'),
])
def test_bad_arguments_name_themselves(call, name: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelError, match=f'^{name} = '):
        call()
