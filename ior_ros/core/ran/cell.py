"""
Slot-level simulator of one cell.

Model (one slot ``t``, one UE ``i``, one PRB ``j``):

* radio: the link model of :mod:`ior_ros.core.ran.link_budget` (``CellConfig.link``; one RB is
  one PRB): Rayleigh block fading ``g_ij(t)`` constant over ``link.coherence_slots`` slots and
  ``link.coherence_rbs`` adjacent PRBs, path loss ``PL_i`` of the UE's distance, Shannon rate
  per PRB ``r_ij = B log2(1 + γ̄_i g_ij)`` with ``γ̄_i = P 10^(-PL_i/10) / N``;
* traffic: full buffer, or Poisson packet arrivals per UE added at the start of each slot;
* scheduling: one of :mod:`ior_ros.core.ran.schedulers` per slot; each PRB to one UE; a UE
  delivers ``min(queue, Σ_j ρ_ij r_ij Δt)`` bits; the PF averages use the delivered rate.

The configuration is :class:`~ior_ros.core.ran.cell_config.CellConfig`; the choices are in
docs/models/ran-cell.md. The channel and traffic are drawn in vectorized chunks of slots first,
then the per-slot recursion runs in one of the engines of :mod:`ior_ros.core.ran.slot_engines`
(every engine computes the same numbers, bit for bit, for the same seed; the tests check it), so
the random stream and therefore the results do not depend on the engine. Independent replicas
of the cell, vectorized: :mod:`ior_ros.core.ran.cell_batched`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from ior_ros.core.errors import ModelError
from ior_ros.core.progress import ProgressFn
from ior_ros.core.ran.cell_config import CellConfig, Engine, Precision, TrafficKind
from ior_ros.core.ran.cell_metrics import CellMetrics, CellTrace, jain_fairness
from ior_ros.core.ran.schedulers import NO_UE, SchedulerKind
from ior_ros.core.ran.slot_engines import LoopState, resolve_engine, run_chunk

__all__ = ['simulate_cell', 'cell_chunks']

FloatArray = npt.NDArray[np.floating]
F64Array = npt.NDArray[np.float64]

_CHUNK_SLOTS = 2048
"""Slots drawn per vectorized chunk in :func:`simulate_cell` (fixed: part of the random stream)."""


def cell_chunks(config: CellConfig, n_slots: int,
                rng: np.random.Generator) -> Iterator[tuple[FloatArray, F64Array | None]]:
    """
    Yield ``(rates [L, n_ue, n_prb], arrivals_bits [L, n_ue] or None)`` chunks covering n_slots.

    Chunks hold a whole number of coherence blocks, so block fading continues across chunks.
    """
    link = config.link
    mean_snr = config.mean_snr
    cs, cf = link.coherence_slots, link.coherence_rbs
    chunk = cs * max(1, -(-_CHUNK_SLOTS // cs))
    f_blocks = -(-config.n_prb // cf)
    lam = config.arrival_packets_per_slot
    single = config.precision is Precision.SINGLE
    done = 0
    while done < n_slots:
        length = min(chunk, n_slots - done)
        t_blocks = -(-length // cs)
        # independent blocks first (the log is taken once per block), then repeated
        rates = link.rate_sampler(rng, mean_snr, (t_blocks, config.n_ue, f_blocks), 1,
                                  single)()  # [t_blocks, n_ue, f_blocks]
        if cs > 1 or cf > 1:
            rates = np.repeat(np.repeat(rates, cs, axis=0), cf, axis=2)
            rates = np.ascontiguousarray(rates[:length, :, :config.n_prb])  # [L, n_ue, n_prb]
        arrivals: F64Array | None = None
        if config.traffic is TrafficKind.POISSON:
            arrivals = np.asarray(rng.poisson(lam, size=(length, config.n_ue))
                                  * float(config.packet_bits), dtype=np.float64)  # [L, n_ue]
        yield rates, arrivals
        done += length


def simulate_cell(config: CellConfig, n_slots: int, rng: np.random.Generator, *,
                  trace: bool = False, engine: Engine | str = Engine.AUTO,
                  progress: ProgressFn | None = None) -> CellMetrics:
    """
    Simulate one cell for ``n_slots`` slots.

    Args:
        config: the cell.
        n_slots: number of slots (>= 1).
        rng: the only source of randomness (fading, then arrivals, chunk by chunk).
        trace: keep the per-slot assignment and delivered rates.
        engine: see the module docstring; every engine gives the same numbers.
        progress: called with the number of slots simulated since its last call.

    Returns:
        :class:`CellMetrics`.
    """
    if n_slots < 1:
        raise ModelError(f'n_slots = {n_slots}: must be >= 1')
    eng = resolve_engine(engine)
    kind = config.scheduler
    full_buffer = config.traffic is TrafficKind.FULL_BUFFER
    n_ue, n_prb = config.n_ue, config.n_prb
    state = LoopState(np.full(n_ue, config.pf_initial_avg_bps), np.zeros(n_ue),
                       np.zeros(1, dtype=np.int64))
    total_served = np.zeros(n_ue)
    total_arrived = np.zeros(n_ue)
    queue_area = np.zeros(n_ue)
    busy_prbs = 0
    traces_a: list[npt.NDArray[np.int16]] = []
    traces_s: list[F64Array] = []
    for rates, arrivals in cell_chunks(config, n_slots, rng):
        if not full_buffer:
            queue_before = state.queue.copy()
        assign, served = run_chunk(eng, kind, full_buffer, config.pf_beta, config.slot_s,
                                    rates, arrivals, state, config.pf_initial_avg_bps)
        total_served += served.sum(axis=0)
        busy_prbs += int(np.count_nonzero(assign != NO_UE))
        if arrivals is not None:
            total_arrived += arrivals.sum(axis=0)
            # backlog at the end of each slot: q0 + cumulative arrivals - cumulative delivered
            q_end = (queue_before[None, :] + np.cumsum(arrivals, axis=0)
                     - np.cumsum(served * config.slot_s, axis=0))  # [L, n_ue]
            queue_area += np.maximum(q_end, 0.0).sum(axis=0)
        if trace:
            traces_a.append(assign.astype(np.int16))
            traces_s.append(served)
        if progress is not None:
            progress(rates.shape[0])
    throughput = total_served / n_slots
    offered = mean_q = delay = None
    if not full_buffer:
        horizon_s = n_slots * config.slot_s
        offered = total_arrived / horizon_s
        mean_q = queue_area / n_slots
        with np.errstate(divide='ignore', invalid='ignore'):
            delay = np.where(offered > 0, mean_q / np.where(offered > 0, offered, 1.0), 0.0)
    cell_trace = None
    if trace:
        cell_trace = CellTrace(np.concatenate(traces_a), np.concatenate(traces_s))
    return CellMetrics(
        n_slots=n_slots, engine=_engine_label(eng, kind, full_buffer),
        throughput_bps=throughput,
        prb_utilization=busy_prbs / (n_slots * n_prb),
        jain_fairness=float(jain_fairness(throughput)), offered_bps=offered,
        mean_queue_bits=mean_q, mean_delay_s=delay,
        final_avg_throughput_bps=(state.avg.copy() if kind is SchedulerKind.PROPORTIONAL_FAIR
                                  else None),
        trace=cell_trace)


def _engine_label(engine: Engine, kind: SchedulerKind, full_buffer: bool) -> str:
    lean = kind is SchedulerKind.PROPORTIONAL_FAIR and full_buffer
    return Engine.REFERENCE.value if engine is Engine.NUMPY and not lean else engine.value

