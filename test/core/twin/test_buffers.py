"""Real/twin buffers: FIFO ring, mixing ratio, state round trip."""

from __future__ import annotations

import numpy as np
import pytest

from ior_ros.core.errors import ConfigError, DimensionError
from ior_ros.core.twin.buffers import TransitionBuffer, Transitions, sample_mixed


def batch(start: int, n: int, obs_dim: int = 2, act_dim: int = 1) -> Transitions:
    ids = np.arange(start, start + n, dtype=np.float32)
    return Transitions(np.repeat(ids[:, None], obs_dim, 1), np.repeat(ids[:, None], act_dim, 1),
                       ids, np.repeat(ids[:, None] + 0.5, obs_dim, 1), ids % 2 == 0)


def test_ring_keeps_the_newest_in_order() -> None:
    buf = TransitionBuffer(5, 2, 1)
    buf.add_batch(batch(0, 3))
    buf.add_batch(batch(3, 4))
    assert buf.size == 5 and buf.total_added == 7
    np.testing.assert_array_equal(buf.all().reward, [2, 3, 4, 5, 6])
    buf.add(np.zeros(2), np.zeros(1), 99.0, np.ones(2), True)
    np.testing.assert_array_equal(buf.all().reward, [3, 4, 5, 6, 99])


def test_oversized_batch_keeps_the_tail() -> None:
    buf = TransitionBuffer(4, 2, 1)
    buf.add_batch(batch(0, 10))
    np.testing.assert_array_equal(buf.all().reward, [6, 7, 8, 9])


def test_mixed_batch_has_the_requested_twin_share(rng: np.random.Generator) -> None:
    real, twin = TransitionBuffer(100, 2, 1), TransitionBuffer(100, 2, 1)
    real.add_batch(batch(0, 50))  # rewards 0..49
    twin.add_batch(batch(1000, 100))  # rewards 1000..1099
    out, n_twin = sample_mixed(real, twin, 256, 0.25, rng)
    assert len(out) == 256 and n_twin == 64
    assert np.sum(out.reward >= 1000) == 64
    assert np.all(out.reward[:192] < 1000)


def test_mixed_batch_is_all_real_while_twin_is_empty(rng: np.random.Generator) -> None:
    real, twin = TransitionBuffer(10, 2, 1), TransitionBuffer(10, 2, 1)
    real.add_batch(batch(0, 5))
    out, n_twin = sample_mixed(real, twin, 32, 0.5, rng)
    assert n_twin == 0 and len(out) == 32
    out, n_twin = sample_mixed(real, None, 32, 0.5, rng)
    assert n_twin == 0


def test_twin_share_shrinks_to_what_the_twin_holds(rng: np.random.Generator) -> None:
    real, twin = TransitionBuffer(10, 2, 1), TransitionBuffer(10, 2, 1)
    real.add_batch(batch(0, 5))
    twin.add_batch(batch(100, 3))
    _, n_twin = sample_mixed(real, twin, 32, 0.5, rng)
    assert n_twin == 3


def test_sampling_is_reproducible() -> None:
    buf = TransitionBuffer(100, 2, 1)
    buf.add_batch(batch(0, 100))
    a = buf.sample(20, np.random.default_rng(7)).reward
    b = buf.sample(20, np.random.default_rng(7)).reward
    np.testing.assert_array_equal(a, b)


def test_state_round_trip() -> None:
    buf = TransitionBuffer(6, 2, 1)
    buf.add_batch(batch(0, 9))
    copy = TransitionBuffer(6, 2, 1)
    copy.load_state_dict(buf.state_dict())
    np.testing.assert_array_equal(copy.all().next_obs, buf.all().next_obs)
    assert copy.total_added == 9


def test_bad_inputs() -> None:
    buf = TransitionBuffer(4, 2, 1)
    with pytest.raises(DimensionError, match='obs/next_obs'):
        buf.add(np.zeros(3), np.zeros(1), 0.0, np.zeros(3), False)
    with pytest.raises(ConfigError, match='empty'):
        buf.sample(1, np.random.default_rng(0))
    with pytest.raises(ConfigError, match='twin_ratio'):
        sample_mixed(buf, None, 8, 1.5, np.random.default_rng(0))
    with pytest.raises(ConfigError, match='capacity'):
        TransitionBuffer(0, 2, 1)
