"""The confidence statements over seeds (ior_ros/experiments/statistics.py) against scipy's own
t intervals, and the bootstrap's behaviour on separated and overlapping samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ior_ros.experiments.statistics import difference_of_means, mean_band, ratio_of_means


def test_mean_band_is_the_t_interval_per_column() -> None:
    values = np.array([[1.0, 10.0], [2.0, 14.0], [4.0, 11.0], [3.0, 9.0], [5.0, 12.0]])
    low, high = mean_band(values)
    for column in range(2):
        x = values[:, column]
        expected = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
        assert (low[column], high[column]) == pytest.approx(expected)
    one_low, one_high = mean_band(values[:1])
    assert np.isnan(one_low).all() and np.isnan(one_high).all()  # one seed: no band


def test_difference_of_means_is_welchs_interval() -> None:
    a = [429.0, 401.0, 455.0, 420.0, 440.0]
    b = [475.0, 510.0, 468.0, 490.0]
    got = difference_of_means(a, b)
    expected = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert got.estimate == pytest.approx(np.mean(a) - np.mean(b))
    assert (got.low, got.high) == pytest.approx((expected.low, expected.high))
    assert got.separated() is False  # wholly below zero: a < b with confidence
    overlap = difference_of_means([429.0, 475.0], [443.0, 444.0])
    assert overlap.separated() is None
    assert math.isnan(difference_of_means([1.0], [2.0, 3.0]).low)


def test_ratio_of_means_bootstrap() -> None:
    high = [520.0, 560.0, 540.0, 530.0, 555.0]
    low = [400.0, 420.0, 390.0, 410.0, 405.0]
    got = ratio_of_means(high, low)
    assert got.estimate == pytest.approx(np.mean(high) / np.mean(low))
    assert got.low > 1.0 and got.low < got.estimate < got.high
    assert got.separated(1.0) is True
    assert ratio_of_means(high, low) == got  # a fixed generator: the same interval again
    mixed = ratio_of_means([300.0, 900.0, 500.0], [450.0, 600.0, 500.0])
    assert mixed.low < 1.0 < mixed.high and mixed.separated(1.0) is None
    assert mixed.text().startswith(f'{mixed.estimate:.2f} [')
