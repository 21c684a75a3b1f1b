"""
Traffic models: Poisson (eMBB), compound-Poisson bursts (URLLC) and the modified Poisson law of
seed 003 eq. 2.

Every generator takes an explicit :class:`numpy.random.Generator`; nothing here reads a clock.

Models
------
* **Poisson** (eMBB; seed 000 §IV step 1): arrivals at rate λ [1/s]; inter-arrival times are
  exponential with mean 1/λ, the count in an interval of length T is Poisson(λT).
* **Compound Poisson** (bursty URLLC; seed 000 §IV step 1 after Yang et al., IEEE IoT-J 8(18),
  2021): *batches* arrive as a Poisson process of rate λ_b (exponential inter-batch times), and a
  batch carries X packets, all arriving at the batch instant. The seed says X "follows Poisson
  distribution" with a given mean b. Two laws are offered (:class:`BatchSizeLaw`):

  - ``zero_truncated_poisson`` (default): ``P(X = k) = θ^k e^{-θ} / (k! (1 - e^{-θ}))`` for
    k ≥ 1, with θ solved from ``θ / (1 - e^{-θ}) = b`` so that the mean packets per batch is
    exactly b. Every batch is a real arrival (an empty "batch" is not an event a receiver could
    see), and the packet rate is exactly ``λ_b · b``. Requires b ≥ 1 (b = 1: every batch holds one
    packet, the θ → 0 limit).
  - ``poisson``: X ~ Poisson(b) including X = 0 (an empty batch is a no-op). The packet rate is
    again ``λ_b · b`` but the mean size of the non-empty batches is ``b / (1 - e^{-b})``.

  Both laws have ``E[X²] / E[X] = 1 + θ`` (θ = b for the plain law), which the M^X/M/1 formulas of
  :mod:`ior_ros.core.ran.compute_queue` use.
* **Modified Poisson** (seed 003 §III-C, eq. 2): the teleoperation command rate falls with the
  URLLC data rate, ``λ(u) = λ0 − α r_u``, and the count in an interval of length ``τ + D_i`` is
  Poisson with mean ``λ(u) (τ + D_i)``. The seed does not give the unit of r_u next to α = 0.1;
  we read r_u in units of ``rate_unit_bps`` (default 1 Mb/s), so ``α r_u`` is in 1/s. A rate
  ``λ0 − α r_u < 0`` has no meaning for a Poisson law and is clipped to 0 (no arrivals); see
  docs/models/ran-coexistence.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq

from ior_ros.core.errors import ModelError

__all__ = ['BatchSizeLaw', 'BatchArrivals', 'poisson_arrival_times', 'poisson_counts',
           'truncated_poisson_parameter', 'batch_size_moments', 'batch_sizes_from_uniforms',
           'draw_batch_sizes',
           'compound_poisson_arrivals', 'compound_poisson_counts', 'modified_poisson_rate',
           'modified_poisson_pmf', 'modified_poisson_counts', 'ModifiedPoissonCounter']

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class BatchSizeLaw(str, Enum):
    """Law of the number of packets in a URLLC batch (see the module docstring)."""

    ZERO_TRUNCATED_POISSON = 'zero_truncated_poisson'
    POISSON = 'poisson'


def _check_rate(name: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0.0):
        raise ModelError(f'{name} = {value!r}: must be a finite number >= 0')


def _check_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0.0):
        raise ModelError(f'{name} = {value!r}: must be a finite number > 0')


def poisson_arrival_times(rate_per_s: float, horizon_s: float,
                          rng: np.random.Generator) -> FloatArray:
    """
    Arrival instants of a homogeneous Poisson process on ``[0, horizon_s)``.

    Drawn as a Poisson(λT) count of i.i.d. uniform points, sorted (the order-statistics property
    of the Poisson process), which is exact and vectorized.

    Returns:
        ``[n]`` sorted arrival times [s].
    """
    _check_rate('rate_per_s', rate_per_s)
    _check_positive('horizon_s', horizon_s)
    count = int(rng.poisson(rate_per_s * horizon_s))
    # [n]
    return np.sort(rng.uniform(0.0, horizon_s, size=count))


def poisson_counts(rate_per_s: float, interval_s: float, n_intervals: int,
                   rng: np.random.Generator) -> IntArray:
    """Per-interval (e.g. per-slot) arrival counts of a Poisson process: ``[n_intervals]``."""
    _check_rate('rate_per_s', rate_per_s)
    _check_positive('interval_s', interval_s)
    if n_intervals < 0:
        raise ModelError(f'n_intervals = {n_intervals}: must be >= 0')
    return rng.poisson(rate_per_s * interval_s, size=n_intervals).astype(np.int64)


def truncated_poisson_parameter(mean_batch_size: float) -> float:
    """
    θ of the zero-truncated Poisson law whose mean is ``mean_batch_size``:
    the root of ``θ / (1 − e^{−θ}) = b`` (0 for b = 1).

    Raises:
        ModelError: b < 1 (a zero-truncated law has mean >= 1).
    """
    b = float(mean_batch_size)
    if not (math.isfinite(b) and b >= 1.0):
        raise ModelError(f'mean_batch_size = {mean_batch_size!r}: the zero-truncated Poisson law '
                         'needs a mean >= 1')
    if b - 1.0 < 1e-12:
        return 0.0

    def excess(theta: float) -> float:
        return theta / -math.expm1(-theta) - b

    return float(brentq(excess, 1e-12, b + 1.0, xtol=1e-14, rtol=1e-14))


def batch_size_moments(mean_batch_size: float,
                       law: BatchSizeLaw = BatchSizeLaw.ZERO_TRUNCATED_POISSON
                       ) -> tuple[float, float]:
    """
    ``(E[X], E[X²])`` of the batch-size law (used by the M^X/M/1 closed form).

    For both laws ``E[X²] = E[X] (1 + θ)`` with θ the Poisson parameter.
    """
    law = BatchSizeLaw(law)
    if law is BatchSizeLaw.POISSON:
        _check_rate('mean_batch_size', mean_batch_size)
        b = float(mean_batch_size)
        return b, b * (1.0 + b)
    theta = truncated_poisson_parameter(mean_batch_size)
    b = float(mean_batch_size)
    return b, b * (1.0 + theta)


def batch_sizes_from_uniforms(uniforms: FloatArray, mean_batch_size: float,
                              law: BatchSizeLaw = BatchSizeLaw.ZERO_TRUNCATED_POISSON
                              ) -> IntArray:
    """
    Batch sizes by inverting the law's CDF at the given uniforms: ``X = min{k : F(k) > u}``.

    One uniform per batch, so the same uniforms give the sizes for every mean (common random
    numbers across a sweep of the batch size, and sizes that grow with the mean batch by batch).

    Args:
        uniforms: ``[n]`` numbers in [0, 1).
        mean_batch_size: b (>= 1 for the zero-truncated law, >= 0 for the plain one).
        law: the batch-size law.

    Returns:
        ``[n]`` sizes.
    """
    u = np.asarray(uniforms, dtype=float)
    if np.any((u < 0) | (u >= 1)):
        raise ModelError('uniforms: every value must be in [0, 1)')
    law = BatchSizeLaw(law)
    if law is BatchSizeLaw.POISSON:
        _check_rate('mean_batch_size', mean_batch_size)
        theta = float(mean_batch_size)
        k_min = 0
        norm = 1.0
    else:
        theta = truncated_poisson_parameter(mean_batch_size)
        if theta == 0.0:
            return np.ones(u.size, dtype=np.int64)
        k_min = 1
        norm = -math.expm1(-theta)
    if theta == 0.0:
        return np.zeros(u.size, dtype=np.int64)
    # CDF table up to where the tail is below 1e-15
    k_max = int(theta + 12.0 * math.sqrt(theta) + 30.0)
    k = np.arange(k_min, k_max + 1, dtype=float)  # [n_k]
    log_pmf = k * math.log(theta) - theta - np.array([math.lgamma(v + 1.0) for v in k])
    cdf = np.cumsum(np.exp(log_pmf) / norm)  # [n_k]
    cdf[-1] = 1.0
    return (np.searchsorted(cdf, u, side='right') + k_min).astype(np.int64)


def draw_batch_sizes(n_batches: int, mean_batch_size: float, rng: np.random.Generator,
                     law: BatchSizeLaw = BatchSizeLaw.ZERO_TRUNCATED_POISSON) -> IntArray:
    """``[n_batches]`` i.i.d. batch sizes (one uniform each, inverted by the law's CDF)."""
    if n_batches < 0:
        raise ModelError(f'n_batches = {n_batches}: must be >= 0')
    return batch_sizes_from_uniforms(rng.random(n_batches), mean_batch_size, law)


@dataclass(frozen=True)
class BatchArrivals:
    """
    Packet arrivals of a compound-Poisson stream.

    Attributes:
        times_s: ``[n_packets]`` packet arrival times [s], non-decreasing; the packets of one
            batch share their batch's instant and are listed in batch order.
        batch_of_packet: ``[n_packets]`` index of each packet's batch.
        batch_times_s: ``[n_batches]`` batch instants [s] (empty batches included for the plain
            Poisson law).
        batch_sizes: ``[n_batches]`` packets per batch.
    """

    times_s: FloatArray
    batch_of_packet: IntArray
    batch_times_s: FloatArray
    batch_sizes: IntArray

    @property
    def n_packets(self) -> int:
        """Number of packets."""
        return int(self.times_s.size)


def compound_poisson_arrivals(batch_rate_per_s: float, mean_batch_size: float,
                              horizon_s: float, rng: np.random.Generator,
                              law: BatchSizeLaw = BatchSizeLaw.ZERO_TRUNCATED_POISSON
                              ) -> BatchArrivals:
    """
    Bursty URLLC arrivals on ``[0, horizon_s)``: Poisson batch instants of rate λ_b with i.i.d.
    batch sizes of the given law and mean (seed 000 §IV step 1).

    The packet rate is ``λ_b · mean_batch_size`` for both laws.
    """
    _check_rate('batch_rate_per_s', batch_rate_per_s)
    batch_times = poisson_arrival_times(batch_rate_per_s, horizon_s, rng)  # [n_batches]
    sizes = draw_batch_sizes(batch_times.size, mean_batch_size, rng, law)  # [n_batches]
    batch_of_packet = np.repeat(np.arange(batch_times.size, dtype=np.int64), sizes)  # [n_pkt]
    return BatchArrivals(times_s=batch_times[batch_of_packet], batch_of_packet=batch_of_packet,
                         batch_times_s=batch_times, batch_sizes=sizes)


def compound_poisson_counts(batch_rate_per_s: float, mean_batch_size: float, interval_s: float,
                            n_intervals: int, rng: np.random.Generator,
                            law: BatchSizeLaw = BatchSizeLaw.ZERO_TRUNCATED_POISSON
                            ) -> IntArray:
    """
    Per-interval packet counts of the compound-Poisson stream: each interval holds a
    Poisson(λ_b T) number of batches, each of the given size law. Returns ``[n_intervals]``.
    """
    _check_rate('batch_rate_per_s', batch_rate_per_s)
    n_batches = poisson_counts(batch_rate_per_s, interval_s, n_intervals, rng)  # [n_intervals]
    sizes = draw_batch_sizes(int(n_batches.sum()), mean_batch_size, rng, law)  # [sum]
    owner = np.repeat(np.arange(n_intervals), n_batches)
    return np.bincount(owner, weights=sizes, minlength=n_intervals).astype(np.int64)


def modified_poisson_rate(base_rate_per_s: float, alpha: float,
                          urllc_rate_bps: float | FloatArray,
                          rate_unit_bps: float = 1e6) -> FloatArray:
    """
    Seed 003 §III-C: ``λ(u) = max(0, λ0 − α r_u)`` with r_u measured in ``rate_unit_bps``.

    The clip at 0 is ours: a negative Poisson mean is meaningless; 0 means no new commands.

    Returns:
        ``[...]`` arrival rate [1/s] (same shape as ``urllc_rate_bps``).
    """
    _check_rate('base_rate_per_s', base_rate_per_s)
    if not (math.isfinite(alpha) and 0.0 <= alpha):
        raise ModelError(f'alpha = {alpha!r}: must be a finite number >= 0 (seed 003: 0 < α < 1)')
    _check_positive('rate_unit_bps', rate_unit_bps)
    r = np.asarray(urllc_rate_bps, dtype=float)
    if np.any(r < 0) or not np.all(np.isfinite(r)):
        raise ModelError(f'urllc_rate_bps = {urllc_rate_bps!r}: must be finite and >= 0')
    return np.maximum(base_rate_per_s - alpha * r / rate_unit_bps, 0.0)


def modified_poisson_pmf(k: int | IntArray, base_rate_per_s: float, alpha: float,
                         urllc_rate_bps: float, tau_s: float, delay_s: float,
                         rate_unit_bps: float = 1e6) -> FloatArray:
    """
    Seed 003 eq. 2: ``P_i(k, τ + D_i) = (λ(u)(τ + D_i))^k e^{−λ(u)(τ + D_i)} / k!``.
    """
    _check_rate('tau_s', tau_s)
    _check_rate('delay_s', delay_s)
    lam = float(modified_poisson_rate(base_rate_per_s, alpha, urllc_rate_bps, rate_unit_bps))
    mean = lam * (tau_s + delay_s)
    k_arr = np.asarray(k, dtype=float)
    if np.any(k_arr < 0) or np.any(k_arr != np.floor(k_arr)):
        raise ModelError(f'k = {k!r}: must be integers >= 0')
    lgam = np.vectorize(math.lgamma)(k_arr + 1.0)
    if mean == 0.0:
        return np.asarray(np.where(k_arr == 0, 1.0, 0.0), dtype=float)
    return np.asarray(np.exp(k_arr * math.log(mean) - mean - lgam), dtype=float)


def modified_poisson_counts(base_rate_per_s: float, alpha: float,
                            urllc_rate_bps: float | FloatArray, tau_s: float,
                            delay_s: float | FloatArray, rng: np.random.Generator,
                            rate_unit_bps: float = 1e6) -> IntArray:
    """
    Draw arrival counts from seed 003 eq. 2, one per entry of the (broadcast) rate/delay arrays:
    ``k ~ Poisson(max(0, λ0 − α r_u) · (τ + D_i))``.

    Returns:
        ``[...]`` counts (broadcast shape of ``urllc_rate_bps`` and ``delay_s``).
    """
    _check_rate('tau_s', tau_s)
    delay = np.asarray(delay_s, dtype=float)
    if np.any(delay < 0) or not np.all(np.isfinite(delay)):
        raise ModelError(f'delay_s = {delay_s!r}: must be finite and >= 0')
    lam = modified_poisson_rate(base_rate_per_s, alpha, urllc_rate_bps, rate_unit_bps)
    mean = lam * (tau_s + delay)  # [...]
    return np.asarray(rng.poisson(mean), dtype=np.int64)


class ModifiedPoissonCounter:
    """
    Seed 003 eq. 2 drawn window after window at a fixed rate and window length: each
    :meth:`draw` is ``k ~ Poisson(max(0, λ0 − α r_u) · (τ + D))``, the number
    :func:`modified_poisson_counts` would draw with the same arguments and generator.

    The counts are drawn ``block`` at a time (one numpy call instead of one per window).
    numpy's ``Generator.poisson`` with a ``size`` draws its values one after the other from the
    stream, exactly as that many single calls do, so the sequence is the same number for number
    as calling :func:`modified_poisson_counts` once per window — provided the generator serves
    nothing else in between (it runs up to ``block`` draws ahead). test/core/ran/test_traffic.py
    checks the equality.

    Args:
        base_rate_per_s, alpha, urllc_rate_bps, tau_s, delay_s, rate_unit_bps: as
            :func:`modified_poisson_counts` (scalars; validated here, once).
        rng: the generator, used by this counter only.
        block: counts drawn per numpy call, >= 1.

    Raises:
        ModelError: the arguments :func:`modified_poisson_counts` refuses, or ``block`` < 1.
    """

    def __init__(self, base_rate_per_s: float, alpha: float, urllc_rate_bps: float,
                 tau_s: float, rng: np.random.Generator, *, delay_s: float = 0.0,
                 rate_unit_bps: float = 1e6, block: int = 1024) -> None:
        _check_rate('tau_s', tau_s)
        if not (math.isfinite(delay_s) and delay_s >= 0.0):
            raise ModelError(f'delay_s = {delay_s!r}: must be finite and >= 0')
        if block < 1:
            raise ModelError(f'block = {block!r}: must be an integer >= 1')
        lam = modified_poisson_rate(base_rate_per_s, alpha, urllc_rate_bps, rate_unit_bps)
        # the mean exactly as modified_poisson_counts computes it (0-d arrays, same operations)
        self.mean = float(lam * (tau_s + np.asarray(delay_s, dtype=float)))
        """``λ(u) (τ + D)``: the Poisson mean of one window."""
        self._rng = rng
        self._block = int(block)
        self._counts: list[int] = []
        self._next = 0

    def draw(self) -> int:
        """The count of the next window."""
        if self._next == len(self._counts):
            self._counts = self._rng.poisson(self.mean, size=self._block).tolist()
            self._next = 0
        count: int = self._counts[self._next]
        self._next += 1
        return count
