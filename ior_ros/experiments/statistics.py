"""
Confidence statements over independent runs (seeds) of a reproduction: the per-epoch 95 %
confidence band of a mean curve, the 95 % interval of a difference of two means, and of a ratio of
two means.

* Band of a mean over ``n`` seeds: Student's t interval ``x̄ ± t_{0.975, n−1} s / √n`` (``s`` the
  sample standard deviation). With one seed there is no band.
* Difference of two variants' means, seeds not paired (different variants share nothing but the
  seed number): Welch's t interval, with the Welch–Satterthwaite degrees of freedom (Welch,
  *Biometrika* 34, 1947).
* Ratio of two means (a reward ratio): percentile bootstrap, seeds resampled with replacement
  within each variant (Efron & Tibshirani, *An Introduction to the Bootstrap*, 1993, ch. 13),
  from a fixed generator so the same runs give the same interval.

A statement "A < B holds with 95 % confidence" is made when the whole interval lies on its side;
when the interval straddles zero (or one, for a ratio) the runs do not separate the variants.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ['Interval', 'mean_band', 'difference_of_means', 'ratio_of_means']


@dataclass(frozen=True)
class Interval:
    """An estimate and its 95 % interval (NaN bounds: not enough runs)."""

    estimate: float
    low: float
    high: float

    def separated(self, null: float = 0.0) -> bool | None:
        """True when the interval is wholly above ``null``, False when wholly below, None when it
        contains it (or cannot be computed)."""
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return None
        if self.low > null:
            return True
        if self.high < null:
            return False
        return None

    def text(self, digits: int = 2) -> str:
        """``'1.23 [0.91, 1.60]'``."""
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return f'{self.estimate:.{digits}f} [n/a]'
        return f'{self.estimate:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]'


def mean_band(values: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """
    Per-column t interval of the mean of ``values`` ``[n_seeds, E]``: ``(low [E], high [E])``
    (NaN with fewer than two seeds).
    """
    x = np.asarray(values, dtype=float)
    n = x.shape[0]
    mean = x.mean(axis=0)
    if n < 2:
        nan = np.full_like(mean, np.nan)
        return nan, nan.copy()
    half = stats.t.ppf(0.5 + level / 2.0, n - 1) * x.std(axis=0, ddof=1) / math.sqrt(n)
    return mean - half, mean + half


def difference_of_means(a: Sequence[float], b: Sequence[float],
                        level: float = 0.95) -> Interval:
    """Welch's interval of ``mean(a) − mean(b)`` (module docstring)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    estimate = float(x.mean() - y.mean())
    if x.size < 2 or y.size < 2:
        return Interval(estimate, math.nan, math.nan)
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = math.sqrt(vx + vy)
    if se == 0.0:
        return Interval(estimate, estimate, estimate)
    dof = (vx + vy) ** 2 / (vx ** 2 / (x.size - 1) + vy ** 2 / (y.size - 1))
    half = float(stats.t.ppf(0.5 + level / 2.0, dof)) * se
    return Interval(estimate, estimate - half, estimate + half)


def ratio_of_means(a: Sequence[float], b: Sequence[float], level: float = 0.95,
                   resamples: int = 10_000, seed: int = 0) -> Interval:
    """Percentile-bootstrap interval of ``mean(a) / mean(b)`` (module docstring); NaN bounds
    with fewer than two runs on either side or a resampled mean of ``b`` that is not positive."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    estimate = float(x.mean() / y.mean()) if y.mean() > 0 else math.nan
    if x.size < 2 or y.size < 2:
        return Interval(estimate, math.nan, math.nan)
    rng = np.random.default_rng(seed)
    mx = x[rng.integers(0, x.size, (resamples, x.size))].mean(axis=1)  # [R]
    my = y[rng.integers(0, y.size, (resamples, y.size))].mean(axis=1)  # [R]
    if np.any(my <= 0):
        return Interval(estimate, math.nan, math.nan)
    low, high = np.percentile(mx / my, [50 * (1 - level), 50 * (1 + level)])
    return Interval(estimate, float(low), float(high))
