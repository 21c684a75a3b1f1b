"""Traffic models: Poisson, compound-Poisson bursts, the modified Poisson of seed 003 eq. 2."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ior_ros.core.errors import ModelError
from ior_ros.core.ran import traffic as tr


def test_poisson_arrivals_are_a_poisson_process(rng: np.random.Generator) -> None:
    rate, horizon = 200.0, 500.0
    times = tr.poisson_arrival_times(rate, horizon, rng)
    assert np.all(np.diff(times) >= 0) and times[0] >= 0 and times[-1] < horizon
    # count ~ Poisson(λT): within 4 standard deviations
    assert abs(times.size - rate * horizon) < 4 * math.sqrt(rate * horizon)
    gaps = np.diff(times)
    assert gaps.mean() == pytest.approx(1 / rate, rel=0.02)
    # exponential gaps: Kolmogorov-Smirnov against Exp(1/λ)
    assert stats.kstest(gaps, 'expon', args=(0, 1 / rate)).pvalue > 1e-3


def test_poisson_counts_mean_and_variance(rng: np.random.Generator) -> None:
    counts = tr.poisson_counts(3.0, 0.5, 200_000, rng)
    assert counts.shape == (200_000,)
    assert counts.mean() == pytest.approx(1.5, rel=0.01)
    assert counts.var() == pytest.approx(1.5, rel=0.02)


def test_same_seed_same_arrivals() -> None:
    a = tr.compound_poisson_arrivals(100.0, 4.0, 10.0, np.random.default_rng(5))
    b = tr.compound_poisson_arrivals(100.0, 4.0, 10.0, np.random.default_rng(5))
    assert np.array_equal(a.times_s, b.times_s) and np.array_equal(a.batch_sizes, b.batch_sizes)


@pytest.mark.parametrize('mean', [1.0, 1.5, 4.0, 6.0, 12.0])
def test_truncated_parameter_gives_the_mean(mean: float) -> None:
    theta = tr.truncated_poisson_parameter(mean)
    if mean == 1.0:
        assert theta == 0.0
    else:
        assert theta / -math.expm1(-theta) == pytest.approx(mean, rel=1e-10)


def test_truncated_law_needs_mean_at_least_one() -> None:
    with pytest.raises(ModelError, match='mean_batch_size'):
        tr.truncated_poisson_parameter(0.5)


def test_zero_truncated_batches(rng: np.random.Generator) -> None:
    sizes = tr.draw_batch_sizes(400_000, 6.0, rng)
    assert sizes.min() >= 1
    mean, second = tr.batch_size_moments(6.0)
    assert sizes.mean() == pytest.approx(mean, rel=0.01)
    assert (sizes.astype(float) ** 2).mean() == pytest.approx(second, rel=0.01)
    theta = tr.truncated_poisson_parameter(6.0)
    # the pmf is Poisson(θ) restricted to k >= 1
    k = 5
    expected = stats.poisson.pmf(k, theta) / (1 - math.exp(-theta))
    assert np.mean(sizes == k) == pytest.approx(expected, abs=0.003)


def test_plain_poisson_batches_include_empty_ones(rng: np.random.Generator) -> None:
    sizes = tr.draw_batch_sizes(400_000, 2.0, rng, tr.BatchSizeLaw.POISSON)
    assert np.mean(sizes == 0) == pytest.approx(math.exp(-2.0), abs=0.003)
    assert sizes.mean() == pytest.approx(2.0, rel=0.01)


def test_batch_sizes_grow_with_the_mean_batch_by_batch(rng: np.random.Generator) -> None:
    u = rng.random(10_000)
    small = tr.batch_sizes_from_uniforms(u, 3.0)
    large = tr.batch_sizes_from_uniforms(u, 6.0)
    assert np.all(large >= small) and large.mean() > small.mean()


def test_compound_poisson_packet_rate_and_batches(rng: np.random.Generator) -> None:
    arrivals = tr.compound_poisson_arrivals(250.0, 6.0, 200.0, rng)
    # packet rate λ_b E[X]
    assert arrivals.n_packets / 200.0 == pytest.approx(1500.0, rel=0.02)
    # all packets of a batch arrive at the batch instant
    assert np.array_equal(arrivals.times_s,
                          arrivals.batch_times_s[arrivals.batch_of_packet])
    assert np.array_equal(np.bincount(arrivals.batch_of_packet,
                                      minlength=arrivals.batch_sizes.size),
                          arrivals.batch_sizes)
    assert np.all(np.diff(arrivals.times_s) >= 0)


def test_compound_poisson_counts_variance(rng: np.random.Generator) -> None:
    # compound Poisson: Var N(T) = λ_b T E[X²]
    counts = tr.compound_poisson_counts(100.0, 4.0, 0.01, 300_000, rng)
    mean, second = tr.batch_size_moments(4.0)
    assert counts.mean() == pytest.approx(100.0 * 0.01 * mean, rel=0.01)
    assert counts.var() == pytest.approx(100.0 * 0.01 * second, rel=0.02)


def test_modified_poisson_rate_and_clip() -> None:
    # seed 003 eq. 2: λ(u) = λ0 − α r_u (r_u in Mb/s by default), clipped at 0
    assert float(tr.modified_poisson_rate(10.0, 0.1, 20e6)) == pytest.approx(8.0)
    assert float(tr.modified_poisson_rate(10.0, 0.1, 200e6)) == 0.0
    rates = tr.modified_poisson_rate(10.0, 0.5, np.array([0.0, 4e6, 40e6]))
    assert np.allclose(rates, [10.0, 8.0, 0.0])


def test_modified_poisson_pmf_is_poisson_over_tau_plus_delay() -> None:
    k = np.arange(0, 60)
    pmf = tr.modified_poisson_pmf(k, 50.0, 0.1, 100e6, tau_s=0.2, delay_s=0.05)
    lam = 50.0 - 0.1 * 100.0
    assert np.allclose(pmf, stats.poisson.pmf(k, lam * 0.25))
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    clipped = tr.modified_poisson_pmf(np.array([0, 1]), 1.0, 0.1, 100e6, 0.2, 0.05)
    assert np.allclose(clipped, [1.0, 0.0])


def test_modified_poisson_counts_mean(rng: np.random.Generator) -> None:
    delay = np.full(100_000, 0.02)
    counts = tr.modified_poisson_counts(100.0, 0.1, 50e6, 0.01, delay, rng)
    assert counts.mean() == pytest.approx((100.0 - 5.0) * 0.03, rel=0.02)


@pytest.mark.parametrize('call, name', [
    (lambda: tr.poisson_arrival_times(-1.0, 1.0, np.random.default_rng(0)), 'rate_per_s'),
    (lambda: tr.poisson_counts(1.0, 0.0, 3, np.random.default_rng(0)), 'interval_s'),
    (lambda: tr.modified_poisson_rate(1.0, 0.1, -5.0), 'urllc_rate_bps'),
    (lambda: tr.modified_poisson_counts(1.0, 0.1, 1.0, 0.1, -1.0, np.random.default_rng(0)),
     'delay_s'),
    (lambda: tr.batch_sizes_from_uniforms(np.array([1.0]), 2.0), 'uniforms'),
])
def test_bad_input_names_the_argument(call, name: str) -> None:
    with pytest.raises(ModelError, match=name):
        call()


@pytest.mark.parametrize(('base', 'alpha', 'rate_bps', 'tau', 'delay', 'unit', 'block'), [
    (100.0, 0.1, 0.0, 0.005, 0.0, 800.0, 1024),  # the teleop_operator's defaults: mean 0.5
    (100.0, 0.1, 0.0, 0.005, 0.0, 800.0, 7),  # many block boundaries
    (50.0, 0.3, 40e6, 0.02, 0.003, 1e6, 1),  # a block of one: a numpy call per window
    (400.0, 0.0, 0.0, 0.05, 0.0, 1e6, 64),  # mean 20: numpy's other Poisson algorithm
    (1.0, 0.5, 10e6, 0.1, 0.0, 1e6, 16),  # λ clipped to 0: no arrivals
])
def test_the_counter_draws_the_numbers_of_one_call_per_window(
        base: float, alpha: float, rate_bps: float, tau: float, delay: float, unit: float,
        block: int) -> None:
    """Drawn in blocks, the counts are those of modified_poisson_counts called window by
    window on a generator of the same seed, number for number."""
    one_by_one = np.random.default_rng(11)
    expected = [int(tr.modified_poisson_counts(base, alpha, rate_bps, tau, delay, one_by_one,
                                               rate_unit_bps=unit)) for _ in range(3000)]
    counter = tr.ModifiedPoissonCounter(base, alpha, rate_bps, tau, np.random.default_rng(11),
                                        delay_s=delay, rate_unit_bps=unit, block=block)
    got = [counter.draw() for _ in range(3000)]
    assert got == expected
    assert all(type(k) is int for k in got[:10])
    mean = float(tr.modified_poisson_rate(base, alpha, rate_bps, unit)) * (tau + delay)
    assert counter.mean == mean


def test_the_counter_refuses_what_the_function_refuses() -> None:
    rng = np.random.default_rng(0)
    for make, field in [
        (lambda: tr.ModifiedPoissonCounter(-1.0, 0.1, 0.0, 0.01, rng), 'base_rate_per_s'),
        (lambda: tr.ModifiedPoissonCounter(1.0, -0.1, 0.0, 0.01, rng), 'alpha'),
        (lambda: tr.ModifiedPoissonCounter(1.0, 0.1, -5.0, 0.01, rng), 'urllc_rate_bps'),
        (lambda: tr.ModifiedPoissonCounter(1.0, 0.1, 0.0, math.inf, rng), 'tau_s'),
        (lambda: tr.ModifiedPoissonCounter(1.0, 0.1, 0.0, 0.01, rng, delay_s=-1.0), 'delay_s'),
        (lambda: tr.ModifiedPoissonCounter(1.0, 0.1, 0.0, 0.01, rng, block=0), 'block'),
    ]:
        with pytest.raises(ModelError, match=field):
            make()
