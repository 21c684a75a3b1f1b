"""
Independent replicas of one cell (:mod:`ior_ros.core.ran.cell`), vectorized across replicas.

Replicas advance in blocks of 256, slot by slot, with rates laid out ``[n_ue, n_prb, replicas]``
so every numpy call works on a long contiguous axis. Proportional fair with full buffer uses a
dedicated step (one compiled pass per slot with numba, vectorized numpy calls without) that
equals the per-cell engines bit for bit on the same rates, ties included; other schedulers and
Poisson traffic go through the batched scheduler objects. The random draws are ordered
differently from :func:`~ior_ros.core.ran.cell.simulate_cell`, so replica k is another sample
path than a single-cell run with the same seed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from ior_ros.core.errors import DimensionError, ModelError
from ior_ros.core.progress import ProgressFn
from ior_ros.core.ran.cell_config import CellConfig, Precision, TrafficKind
from ior_ros.core.ran.cell_metrics import BatchedCellMetrics, jain_fairness
from ior_ros.core.ran.schedulers import (
    AVG_FLOOR_BPS,
    NO_UE,
    SchedulerKind,
    _served_unchecked,
    make_scheduler,
)
from ior_ros.core.ran.slot_engines import check_slot_rates

__all__ = ['run_slots_batched', 'simulate_cells_batched']

FloatArray = npt.NDArray[np.floating]
F64Array = npt.NDArray[np.float64]

_REPLICA_BLOCK = 256
"""Replicas advanced together in :func:`simulate_cells_batched` (fixed: part of the stream)."""


def _pf_full_buffer_step(rates: FloatArray, inv: FloatArray, metric: FloatArray,
                         winner: npt.NDArray[np.bool_]) -> FloatArray:
    """
    One PF slot for a block of replicas, vectorized, rates laid out ``[n_ue, n_prb, B]``.

    The winner of each PRB is found as ``metric == max over UEs`` (a fast reduction over the
    leading axis); exact ties, rare in float32, keep only the lowest UE index (numpy's argmax
    rule). The delivered rate sums the winner's rates over PRBs in index order in the rates'
    precision, exactly as :func:`ior_ros.core.ran.schedulers.served_rates_bps`.

    Returns:
        ``[n_ue, B]`` served rates (rates' dtype).
    """
    np.multiply(rates, inv, out=metric)  # [n_ue, n_prb, B]
    best = metric.max(axis=0)  # [n_prb, B]
    np.equal(metric, best, out=winner)  # [n_ue, n_prb, B]
    if np.count_nonzero(winner) != best.size:
        winner &= np.cumsum(winner, axis=0) == 1
    np.multiply(rates, winner, out=metric)
    return np.asarray(metric.sum(axis=1))  # [n_ue, B]


def _pf_block_loop(rates: Any, avg: Any, beta: float, served: Any, inv: Any, best: Any,
                   arg: Any, acc: Any) -> None:  # pragma: no cover - compiled by numba
    """
    One PF slot (full buffer) for a block of replicas in plain loops, compiled by numba: the
    fused form of :func:`_pf_full_buffer_step` plus the EWMA, with the same operations in the
    same order (metric in the rates' precision, strict ``>`` over UEs in index order = lowest
    index on ties, float sums over PRBs in index order), so the bits are the same.

    Args (updated in place): rates ``[n_ue, n_prb, B]``; avg ``[n_ue, B]`` float64; served
    ``[n_ue, B]`` float64 (out); scratch inv, acc ``[n_ue, B]`` and best ``[B]`` in the rates'
    dtype, arg ``[B]`` int64.
    """
    n_ue, n_prb, batch = rates.shape
    c = 1.0 - beta
    floor = AVG_FLOOR_BPS
    for i in range(n_ue):
        for b in range(batch):
            inv[i, b] = 1.0 / max(avg[i, b], floor)
            acc[i, b] = 0.0
    for j in range(n_prb):
        for b in range(batch):
            best[b] = -1.0
            arg[b] = 0
        for i in range(n_ue):
            for b in range(batch):
                metric = rates[i, j, b] * inv[i, b]
                if metric > best[b]:
                    best[b] = metric
                    arg[b] = i
        for b in range(batch):
            a = arg[b]
            acc[a, b] += rates[a, j, b]
    for i in range(n_ue):
        for b in range(batch):
            s = np.float64(acc[i, b])
            served[i, b] = s
            avg[i, b] = avg[i, b] * beta + s * c


@functools.lru_cache(maxsize=1)
def _numba_block_kernel() -> Callable[..., None] | None:
    """The numba-compiled :func:`_pf_block_loop`, or None when numba is not installed."""
    try:
        import numba
    except ImportError:
        return None
    try:
        kernel: Callable[..., None] = numba.njit(cache=True, nogil=True)(_pf_block_loop)
    except Exception:  # pragma: no cover - e.g. no writable cache location
        kernel = numba.njit(cache=False, nogil=True)(_pf_block_loop)
    return kernel


class _PfBlock:
    """
    The PF state of a block of replicas and its per-slot update, in place (rates laid out
    ``[n_ue, n_prb, B]``). The operations are those of ``schedulers._pf_assign_unchecked`` and
    ``schedulers._ewma_unchecked``, so the results equal the per-cell engines bit for bit. With
    numba installed the step runs as one compiled pass (:func:`_pf_block_loop`), else as
    vectorized numpy calls (``use_numba=False`` forces the latter).
    """

    def __init__(self, n_ue: int, n_prb: int, batch: int, dtype: type[np.floating], beta: float,
                 initial_avg_bps: float, use_numba: bool = True) -> None:
        self.beta = beta
        self.c = 1.0 - beta
        self.avg = np.full((n_ue, batch), float(initial_avg_bps))  # [n_ue, B]
        self.served = np.empty((n_ue, batch))  # [n_ue, B] delivered rate of the last slot
        self._work = np.empty((n_ue, batch))
        self._inv = np.empty((n_ue, 1, batch), dtype=dtype)
        self._kernel = _numba_block_kernel() if use_numba else None
        if self._kernel is not None:
            self._inv2 = np.empty((n_ue, batch), dtype=dtype)  # [n_ue, B]
            self._acc = np.empty((n_ue, batch), dtype=dtype)  # [n_ue, B]
            self._best = np.empty(batch, dtype=dtype)  # [B]
            self._arg = np.empty(batch, dtype=np.int64)  # [B]
        else:
            self._metric = np.empty((n_ue, n_prb, batch), dtype=dtype)
            self._winner = np.empty((n_ue, n_prb, batch), dtype=bool)

    def step(self, rates: FloatArray) -> F64Array:
        """One slot; returns ``[n_ue, B]`` delivered rates (a buffer reused next slot)."""
        if self._kernel is not None:
            self._kernel(rates, self.avg, self.beta, self.served, self._inv2, self._best,
                         self._arg, self._acc)
            return self.served
        np.maximum(self.avg, AVG_FLOOR_BPS, out=self._work)
        np.divide(1.0, self._work, out=self._work)
        self._inv[:, 0, :] = self._work  # cast to the rates' precision
        np.copyto(self.served,
                  _pf_full_buffer_step(rates, self._inv, self._metric, self._winner))
        # avg = beta * avg + (1 - beta) * served, evaluated as in _ewma_unchecked
        np.multiply(self.avg, self.beta, out=self.avg)
        np.multiply(self.served, self.c, out=self._work)
        np.add(self.avg, self._work, out=self.avg)
        return self.served


def run_slots_batched(rates_bps: npt.ArrayLike, *, beta: float = 0.98,
                      initial_avg_bps: float = 1.0, use_numba: bool = True) -> F64Array:
    """
    The vectorized PF recursion of :func:`simulate_cells_batched` (full buffer) over pre-drawn
    rates of independent cells.

    Args:
        rates_bps: ``[n_slots, batch, n_ue, n_prb]`` [bit/s].

        use_numba: the compiled block step when numba is installed (False: numpy calls; both
            give the same bits).

    Returns:
        ``[n_slots, batch, n_ue]`` delivered rates [bit/s] (float64); equal, bit for bit, to
        running :func:`run_slots` on each cell.
    """
    arr = np.asarray(rates_bps)
    if arr.ndim != 4:
        raise DimensionError(f'rates_bps has shape {arr.shape}; expected '
                             f'[n_slots, batch, n_ue, n_prb]')
    rates = check_slot_rates(arr.reshape(-1, arr.shape[2], arr.shape[3])).reshape(arr.shape)
    n_slots, batch, n_ue, n_prb = (int(rates.shape[k]) for k in range(4))
    block = _PfBlock(n_ue, n_prb, batch, rates.dtype.type, beta, initial_avg_bps, use_numba)
    out = np.empty((n_slots, batch, n_ue))
    for t in range(n_slots):
        r = np.ascontiguousarray(np.transpose(rates[t], (1, 2, 0)))  # [n_ue, n_prb, B]
        out[t] = block.step(r).T
    return out


def simulate_cells_batched(config: CellConfig, n_replicas: int, n_slots: int,
                           rng: np.random.Generator, *, progress: ProgressFn | None = None
                           ) -> BatchedCellMetrics:
    """
    Simulate ``n_replicas`` independent replicas of the cell, vectorized across replicas.

    Same model as :func:`simulate_cell` (same distributions, same scheduler recursion, same
    precision); the random draws are ordered differently, so replica k is not the same sample
    path as a :func:`simulate_cell` run. Replicas advance in blocks of 256, slot by slot, with
    rates laid out ``[n_ue, n_prb, replicas]`` so every numpy call works on a long contiguous
    axis. Proportional fair with full buffer uses a dedicated vectorized step; other schedulers
    and Poisson traffic go through the batched scheduler objects.

    Args:
        config: the cell.
        n_replicas, n_slots: replicas and slots per replica (>= 1 each).
        rng: the only source of randomness.
        progress: called with the number of cell-slots (replicas x slots) simulated since its
            last call.

    Returns:
        :class:`BatchedCellMetrics`.
    """
    if n_replicas < 1:
        raise ModelError(f'n_replicas = {n_replicas}: must be >= 1')
    if n_slots < 1:
        raise ModelError(f'n_slots = {n_slots}: must be >= 1')
    n_ue = config.n_ue
    throughput = np.empty((n_replicas, n_ue))
    util = np.empty(n_replicas)
    mean_q = np.empty((n_replicas, n_ue)) if config.traffic is TrafficKind.POISSON else None
    for start in range(0, n_replicas, _REPLICA_BLOCK):
        block = min(_REPLICA_BLOCK, n_replicas - start)
        tput, u, q = _simulate_block(config, block, n_slots, rng, progress)
        throughput[start:start + block] = tput
        util[start:start + block] = u
        if mean_q is not None and q is not None:
            mean_q[start:start + block] = q
    return BatchedCellMetrics(n_slots=n_slots, throughput_bps=throughput, prb_utilization=util,
                              jain_fairness=jain_fairness(throughput), mean_queue_bits=mean_q)


def _simulate_block(config: CellConfig, batch: int, n_slots: int, rng: np.random.Generator,
                    progress: ProgressFn | None
                    ) -> tuple[F64Array, F64Array, F64Array | None]:
    n_ue, n_prb = config.n_ue, config.n_prb
    cs, cf = config.link.coherence_slots, config.link.coherence_rbs
    f_blocks = -(-n_prb // cf)
    mean_snr = config.mean_snr
    dtype = config.dtype
    kind = config.scheduler
    full_buffer = config.traffic is TrafficKind.FULL_BUFFER
    fast = kind is SchedulerKind.PROPORTIONAL_FAIR and full_buffer
    beta = config.pf_beta
    lam = config.arrival_packets_per_slot
    total = np.zeros((n_ue, batch))  # [n_ue, B]
    busy = np.zeros(batch)
    queue_area = np.zeros((batch, n_ue))
    pf_block = (_PfBlock(n_ue, n_prb, batch, dtype, beta, config.pf_initial_avg_bps)
                if fast else None)
    queue = np.zeros((batch, n_ue))  # [B, n_ue]
    sched = None if fast else make_scheduler(kind, n_ue, batch, beta=beta,
                                             initial_avg_bps=config.pf_initial_avg_bps,
                                             slot_s=config.slot_s)
    rates: FloatArray = np.empty(0, dtype=dtype)
    draw_rates = config.link.rate_sampler(rng, mean_snr, (n_ue, f_blocks, batch), 0,
                                          config.precision is Precision.SINGLE)
    for t in range(n_slots):
        if t % cs == 0:
            blocks = draw_rates()
            rates = (blocks if cf == 1 else
                     np.ascontiguousarray(np.repeat(blocks, cf, axis=1)[:, :n_prb, :]))
        if pf_block is not None:
            total += pf_block.step(rates)
        else:
            assert sched is not None
            r_view = np.moveaxis(rates, 2, 0)  # [B, n_ue, n_prb]
            q_in = None
            if not full_buffer:
                queue = queue + rng.poisson(lam, size=(batch, n_ue)) * float(config.packet_bits)
                q_in = queue
            a = sched.assign(r_view, q_in)  # [B, n_prb]
            s = _served_unchecked(a, np.ascontiguousarray(r_view)).astype(np.float64)
            if q_in is not None:
                delivered = np.minimum(q_in, s * config.slot_s)
                queue = q_in - delivered
                s = delivered / config.slot_s
                queue_area += queue
            sched.update(a, s)
            total += s.T
            busy += np.count_nonzero(a != NO_UE, axis=1)
        if progress is not None and (t + 1) % 256 == 0:
            progress(256 * batch)
    if progress is not None and n_slots % 256:
        progress((n_slots % 256) * batch)
    if fast:
        busy[:] = n_slots * n_prb  # full buffer: every PRB is assigned
    tput = (total / n_slots).T  # [B, n_ue]
    util = busy / (n_slots * n_prb)
    return tput, util, (queue_area / n_slots if not full_buffer else None)
