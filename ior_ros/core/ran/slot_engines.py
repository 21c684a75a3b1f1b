"""
The per-slot scheduler recursion of one cell over pre-drawn rates, in three engines that give the
same bits: ``numba`` (the recursion compiled), ``numpy`` (a lean per-slot loop, proportional fair
with full buffer) and ``reference`` (the public scheduler objects of
:mod:`ior_ros.core.ran.schedulers`). ``auto`` is numba when numba is importable, else numpy.

Every engine performs the same floating-point operations in the same order (metric in the rates'
precision, strict ``>`` over UEs in index order = lowest index on ties, sums over PRBs in index
order, the same EWMA expression); the tests check it on every scheduler and both traffic models.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ior_ros.core.errors import DimensionError, ModelError
from ior_ros.core.ran.cell_config import Engine
from ior_ros.core.ran.schedulers import (
    AVG_FLOOR_BPS,
    SchedulerKind,
    _served_unchecked,
    check_rates,
    make_scheduler,
)

__all__ = ['run_slots', 'numba_available', 'resolve_engine', 'run_chunk', 'LoopState',
           'check_slot_rates']

FloatArray = npt.NDArray[np.floating]
F64Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_KIND_CODE = {SchedulerKind.PROPORTIONAL_FAIR: 0, SchedulerKind.ROUND_ROBIN: 1,
              SchedulerKind.MAX_WEIGHT: 2}


def _slot_loop(rates: Any, arrivals: Any, full_buffer: bool, kind: int, beta: float,
               slot_s: float, avg: Any, queue: Any, pointer: Any, assign_out: Any,
               served_out: Any) -> None:  # pragma: no cover - compiled by numba
    """
    The per-slot recursion in plain loops, compiled by numba. Mirrors the numpy engines
    operation for operation (same metric precision, same tie-breaking, same accumulation order)
    so that every engine gives the same bits.

    Args (arrays are updated in place):
        rates: ``[L, n_ue, n_prb]`` float32/float64.
        arrivals: ``[L, n_ue]`` float64 bits (ignored with full buffer).
        kind: 0 proportional fair, 1 round robin, 2 max-weight.
        avg: ``[n_ue]`` PF averages; queue: ``[n_ue]`` backlog [bit]; pointer: ``[1]`` RR pointer.
        assign_out: ``[L, n_prb]``; served_out: ``[L, n_ue]``.
    """
    n_slots, n_ue, n_prb = rates.shape
    c = 1.0 - beta
    floor = AVG_FLOOR_BPS
    inv = np.empty(n_ue, dtype=rates.dtype)
    acc = np.empty(n_ue, dtype=rates.dtype)
    remaining = np.empty(n_ue, dtype=np.float64)
    for t in range(n_slots):
        if not full_buffer:
            for i in range(n_ue):
                queue[i] += arrivals[t, i]
                remaining[i] = queue[i]
        for i in range(n_ue):
            acc[i] = 0.0
        if kind == 1:
            cursor = pointer[0]
            last = -1
            for j in range(n_prb):
                bi = -1
                for k in range(n_ue):
                    i = (cursor + k) % n_ue
                    if full_buffer or remaining[i] > 0.0:
                        bi = i
                        break
                assign_out[t, j] = bi
                if bi >= 0:
                    acc[bi] += rates[t, bi, j]
                    if not full_buffer:
                        remaining[bi] -= np.float64(rates[t, bi, j]) * slot_s
                    cursor = (bi + 1) % n_ue
                    last = bi
            if last >= 0:
                pointer[0] = (last + 1) % n_ue
        else:
            for i in range(n_ue):
                if kind == 0:
                    inv[i] = 1.0 / max(avg[i], floor)
                elif full_buffer:
                    inv[i] = 1.0
                else:
                    inv[i] = queue[i]
            for j in range(n_prb):
                best = -1.0
                bi = -1
                for i in range(n_ue):
                    if full_buffer or remaining[i] > 0.0:
                        metric = rates[t, i, j] * inv[i]
                        if metric > best:
                            best = metric
                            bi = i
                assign_out[t, j] = bi
                if bi >= 0:
                    acc[bi] += rates[t, bi, j]
                    if not full_buffer:
                        remaining[bi] -= np.float64(rates[t, bi, j]) * slot_s
        for i in range(n_ue):
            served = np.float64(acc[i])
            if not full_buffer:
                delivered = min(queue[i], served * slot_s)
                queue[i] = queue[i] - delivered
                served = delivered / slot_s
            served_out[t, i] = served
            if kind == 0:
                avg[i] = beta * avg[i] + c * served


@functools.lru_cache(maxsize=1)
def _numba_kernel() -> Callable[..., None] | None:
    """The numba-compiled :func:`_slot_loop`, or None when numba is not installed."""
    try:
        import numba
    except ImportError:
        return None
    try:
        kernel: Callable[..., None] = numba.njit(cache=True, nogil=True)(_slot_loop)
    except Exception:  # pragma: no cover - e.g. no writable cache location
        kernel = numba.njit(cache=False, nogil=True)(_slot_loop)
    return kernel


def numba_available() -> bool:
    """True when the numba engine can be used."""
    return _numba_kernel() is not None


def _lean_pf_full_buffer(rates: FloatArray, beta: float, avg: F64Array,
                         assign_out: npt.NDArray[np.int64], served_out: F64Array) -> F64Array:
    """PF with full buffer, per slot in numpy with no checks (the ``numpy`` engine)."""
    n_ue, n_prb = rates.shape[1], rates.shape[2]
    ar = np.arange(n_prb)
    dtype = rates.dtype
    c = 1.0 - beta
    for r, a_out, s_out in zip(rates, assign_out, served_out, strict=True):
        inv = (1.0 / np.maximum(avg, AVG_FLOOR_BPS)).astype(dtype)  # [n_ue]
        a = np.argmax(r * inv[:, None], axis=0)  # [n_prb]
        acc = np.zeros(n_ue, dtype=dtype)  # [n_ue]
        np.add.at(acc, a, r[a, ar])
        served = acc.astype(np.float64)
        avg = beta * avg + c * served
        a_out[:] = a
        s_out[:] = served
    return avg


@dataclass
class LoopState:
    """The scheduler state carried from one chunk of slots to the next."""

    avg: F64Array
    queue: F64Array
    pointer: npt.NDArray[np.int64]


def run_chunk(engine: Engine, kind: SchedulerKind, full_buffer: bool, beta: float,
              slot_s: float, rates: FloatArray, arrivals: F64Array | None, state: LoopState,
              initial_avg_bps: float) -> tuple[npt.NDArray[np.int64], F64Array]:
    """
    Run ``rates [L, n_ue, n_prb]`` (and ``arrivals [L, n_ue]``) through the recursion in the
    given engine, updating ``state`` in place; returns (assignment ``[L, n_prb]``, served
    ``[L, n_ue]``).
    """
    n_slots, n_ue, n_prb = rates.shape
    assign = np.empty((n_slots, n_prb), dtype=np.int64)
    served = np.empty((n_slots, n_ue), dtype=np.float64)
    arr = arrivals if arrivals is not None else np.zeros((0, n_ue))
    if engine is Engine.NUMBA:
        kernel = _numba_kernel()
        assert kernel is not None
        kernel(rates, arr, full_buffer, _KIND_CODE[kind], beta, slot_s, state.avg,
               state.queue, state.pointer, assign, served)
        return assign, served
    if engine is Engine.NUMPY and kind is SchedulerKind.PROPORTIONAL_FAIR and full_buffer:
        state.avg = _lean_pf_full_buffer(rates, beta, state.avg, assign, served)
        return assign, served
    # reference: through the public scheduler objects, with the state carried in and out
    sched = make_scheduler(kind, n_ue, None, beta=beta, initial_avg_bps=initial_avg_bps,
                           slot_s=slot_s)
    if kind is SchedulerKind.PROPORTIONAL_FAIR:
        sched.avg_throughput_bps = state.avg  # type: ignore[attr-defined]
    elif kind is SchedulerKind.ROUND_ROBIN:
        sched.pointer = np.asarray(state.pointer[0], dtype=np.int64)  # type: ignore[attr-defined]
    for t in range(n_slots):
        queue = None
        if not full_buffer:
            assert arrivals is not None
            state.queue = state.queue + arrivals[t]
            queue = state.queue
        a = sched.assign(rates[t], queue)
        s = _served_unchecked(a, rates[t]).astype(np.float64)  # [n_ue]
        if queue is not None:
            delivered = np.minimum(queue, s * slot_s)
            state.queue = queue - delivered
            s = delivered / slot_s
        sched.update(a, s)
        assign[t] = a
        served[t] = s
    if kind is SchedulerKind.PROPORTIONAL_FAIR:
        state.avg = sched.avg_throughput_bps  # type: ignore[attr-defined]
    elif kind is SchedulerKind.ROUND_ROBIN:
        state.pointer[0] = int(sched.pointer)  # type: ignore[attr-defined]
    return assign, served


def resolve_engine(engine: Engine | str) -> Engine:
    """The engine to run (``auto`` resolved); ModelError for an unknown or unavailable one."""
    try:
        eng = Engine(engine)
    except ValueError:
        allowed = ', '.join(e.value for e in Engine)
        raise ModelError(f'engine = {engine!r}: must be one of {allowed}') from None
    if eng is Engine.AUTO:
        return Engine.NUMBA if numba_available() else Engine.NUMPY
    if eng is Engine.NUMBA and not numba_available():
        raise ModelError("engine = 'numba' but numba is not installed (pip install numba), "
                         "use 'numpy' or 'auto'")
    return eng


def run_slots(rates_bps: npt.ArrayLike, scheduler: SchedulerKind | str = 'proportional_fair',
              *, beta: float = 0.98, initial_avg_bps: float = 1.0,
              arrivals_bits: npt.ArrayLike | None = None, initial_queue_bits: npt.ArrayLike |
              None = None, slot_s: float = 1e-3,
              engine: Engine | str = Engine.AUTO) -> tuple[IntArray, F64Array]:
    """
    Run the scheduler recursion of one cell over pre-drawn rates.

    Args:
        rates_bps: ``[n_slots, n_ue, n_prb]`` achievable rates [bit/s] (float32 or float64;
            the metric is computed in that precision).
        scheduler: the scheduler kind.
        beta, initial_avg_bps: PF parameters.
        arrivals_bits: ``[n_slots, n_ue]`` bits arriving at the start of each slot; None for
            full buffer.
        initial_queue_bits: ``[n_ue]`` backlog before slot 0 (default 0).
        slot_s: slot length [s].
        engine: see the module docstring.

    Returns:
        (assignment ``[n_slots, n_prb]``, served_bps ``[n_slots, n_ue]``).
    """
    rates = check_slot_rates(rates_bps)
    n_slots, n_ue, _ = rates.shape
    kind = SchedulerKind(scheduler)
    eng = resolve_engine(engine)
    arrivals = None
    if arrivals_bits is not None:
        arrivals = np.ascontiguousarray(arrivals_bits, dtype=np.float64)
        if arrivals.shape != (n_slots, n_ue):
            raise DimensionError(f'arrivals_bits has shape {arrivals.shape} but rates_bps has '
                                 f'shape {rates.shape}; expected {(n_slots, n_ue)}')
    queue0 = np.zeros(n_ue) if initial_queue_bits is None else np.array(
        initial_queue_bits, dtype=np.float64)
    if queue0.shape != (n_ue,):
        raise DimensionError(f'initial_queue_bits has shape {queue0.shape}; expected ({n_ue},)')
    state = LoopState(np.full(n_ue, float(initial_avg_bps)), queue0,
                       np.zeros(1, dtype=np.int64))
    return run_chunk(eng, kind, arrivals is None, beta, slot_s, rates, arrivals, state,
                      initial_avg_bps)


def check_slot_rates(rates_bps: npt.ArrayLike) -> FloatArray:
    """``[n_slots, n_ue, n_prb]`` finite non-negative rates as a contiguous float array."""
    arr = np.asarray(rates_bps)
    if arr.ndim != 3 or 0 in arr.shape:
        raise DimensionError(f'rates_bps has shape {arr.shape}; expected [n_slots, n_ue, n_prb] '
                             f'with every axis >= 1')
    check_rates(arr)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return np.ascontiguousarray(arr)

