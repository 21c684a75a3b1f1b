"""
Coexistence of eMBB and bursty URLLC (seed 000 §IV): BS compute queue → air interface, three
schemes, and the joint choice of the compute split and the puncturing threshold.

This file simulates points (a scheme at a fixed compute split β and threshold M) and measures the
eMBB capacity; the configuration is :mod:`ior_ros.core.ran.coexistence_config`, the random sample
:mod:`ior_ros.core.ran.coexistence_sample`, the joint choice of β and M
:mod:`ior_ros.core.ran.coexistence_search`.

Pipeline of one run (all random inputs drawn once per seed in
:class:`~ior_ros.core.ran.coexistence_sample.CoexistenceSample`, so every scheme and every
parameter point sees the same arrivals and channels: common random numbers):

1. Traffic (:mod:`ior_ros.core.ran.traffic`): URLLC batches (compound Poisson) for the URLLC
   robot; eMBB packets (Poisson, total rate = requirement / packet size) split evenly over the
   eMBB robots.
2. Compute (:mod:`ior_ros.core.ran.compute_queue`): every packet is processed by the BS first.
3. Air (:mod:`ior_ros.core.ran.puncturing`): URLLC packets are punctured into the next
   mini-slot; eMBB packets join their robot's radio queue at the next slot boundary and are
   scheduled per slot.

Schemes (:class:`~ior_ros.core.ran.coexistence_config.Scheme`):

* ``proposed``: compute ``shared_exclusive`` (shared part β, preemptive-resume; eMBB-exclusive
  part 1 − β; eMBB uses all of it when no URLLC is present), air ``threshold_queue`` with M.
* ``putd`` (Li & Zhang, IEEE WCL 9(9) 2020): air ``threshold_drop`` (URLLC first; packets above M
  dropped at once, one transmission). [14] has no compute stage; by default PUTD gets the same
  compute stage as the proposed scheme (its own β, chosen under the same constraints), so the
  comparison isolates the air-interface rule, as the seed's discussion of Fig. 6b does;
  ``putd_compute='full_priority'`` gives it plain preemptive-resume priority (β = 1) instead.
* ``euad``: compute split into an exclusive URLLC part (β) and an exclusive eMBB part (no
  sharing), with active dropping: by default at the air interface, like PUTD (the packets above M
  are dropped at once, one transmission; ``euad_active_dropping='threshold'``), or, as an option,
  in the compute queue (a URLLC packet that has waited ``euad_urllc_max_wait_s`` is dropped and
  the air rule is the proposed one; ``'compute_wait'``). See docs/models/ran-coexistence.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ior_ros.core.errors import ModelError
from ior_ros.core.progress import ProgressFn
from ior_ros.core.ran.coexistence_config import (
    CoexistenceConfig,
    EuadDropping,
    PutdCompute,
    Scheme,
)
from ior_ros.core.ran.coexistence_sample import ChannelArrays, CoexistenceSample, channel_arrays
from ior_ros.core.ran.compute_queue import ComputeQueueResult, Discipline, simulate_compute_queue
from ior_ros.core.ran.puncturing import (
    AirResult,
    AirRule,
    UrllcOutcome,
    UrllcStream,
    simulate_air_batch,
)
from ior_ros.core.ran.schedulers import make_scheduler
from ior_ros.core.ran.traffic import batch_sizes_from_uniforms

__all__ = ['SchemePoint', 'CoexistenceMetrics', 'Prepared', 'prepare', 'in_window', 'air_rule',
           'Job', 'compute_for', 'simulate_jobs', 'evaluate_point',
           'embb_full_buffer_throughput_bps', 'max_protected_threshold']

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# --------------------------------------------------------------------------------------------
# one parameter point
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SchemePoint:
    """A scheme with its parameters: β (compute split) and M (threshold)."""

    scheme: Scheme
    shared_fraction: float
    max_urllc_per_minislot: int


@dataclass(frozen=True)
class CoexistenceMetrics:
    """Metrics of one simulated point (times in seconds, rates in bit/s)."""

    point: SchemePoint
    urllc_mean_delay_s: float
    urllc_p99_delay_s: float
    urllc_outage: float
    urllc_compute_mean_delay_s: float
    urllc_air_mean_delay_s: float
    urllc_compute_drop_fraction: float
    urllc_threshold_drop_fraction: float
    urllc_decoding_failure_fraction: float
    urllc_packets: int
    embb_throughput_bps: float
    embb_mean_delay_s: float
    embb_p99_delay_s: float
    embb_compute_mean_delay_s: float
    embb_radio_mean_delay_s: float
    embb_undelivered_fraction: float
    embb_packets: int
    prb_utilization: float
    punctured_fraction: float
    embb_bits_lost_to_puncturing_bps: float
    max_urllc_per_minislot_seen: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (scheme point flattened in)."""
        out: dict[str, Any] = {'scheme': self.point.scheme.value,
                               'shared_fraction': self.point.shared_fraction,
                               'max_urllc_per_minislot': self.point.max_urllc_per_minislot}
        for name in self.__dataclass_fields__:
            if name != 'point':
                out[name] = getattr(self, name)
        return out


def _compute_stage(point: SchemePoint, config: CoexistenceConfig, u_arr: FloatArray,
                   u_work: FloatArray, e_arr: FloatArray, e_work: FloatArray
                   ) -> ComputeQueueResult:
    beta = point.shared_fraction
    if point.scheme is Scheme.EUAD:
        max_wait = (config.scheme.euad_urllc_max_wait_s
                    if config.scheme.euad_active_dropping is EuadDropping.COMPUTE_WAIT else None)
        return simulate_compute_queue(u_arr, u_work, e_arr, e_work, Discipline.EUAD, beta,
                                      max_wait)
    if point.scheme is Scheme.PUTD and config.scheme.putd_compute is PutdCompute.FULL_PRIORITY:
        return simulate_compute_queue(u_arr, u_work, e_arr, e_work,
                                      Discipline.PREEMPTIVE_RESUME)
    return simulate_compute_queue(u_arr, u_work, e_arr, e_work, Discipline.SHARED_EXCLUSIVE,
                                  beta)


@dataclass
class Prepared:
    """Sample-derived arrays for one (requirement, batch size) setting; reused across points."""

    u_arr: FloatArray
    u_work: FloatArray
    e_arr: FloatArray
    e_work: FloatArray
    e_ue: IntArray
    channel: ChannelArrays
    compute_cache: dict[tuple[Any, ...], ComputeQueueResult] = field(default_factory=dict)


def prepare(config: CoexistenceConfig, sample: CoexistenceSample,
             channel: ChannelArrays | None = None) -> Prepared:
    traffic = config.traffic
    sizes = batch_sizes_from_uniforms(sample.urllc_batch_uniforms,
                                      traffic.urllc_mean_batch_size, traffic.batch_size_law)
    n_u = int(sizes.sum())
    if n_u > sample.urllc_unit_work.size:
        raise ModelError(f'the sample holds {sample.urllc_unit_work.size} URLLC work draws but '
                         f'{n_u} packets are needed; draw it with a larger max_urllc_mean_batch')
    u_arr = np.repeat(sample.urllc_batch_times_s, sizes)  # [n_u]
    u_work = sample.urllc_unit_work[:n_u] / config.compute.urllc_service_rate_per_s
    lam_e = traffic.embb_requirement_bps / traffic.embb_packet_bits
    if lam_e > 0:
        times = sample.embb_unit_times / lam_e
        n_e = int(np.searchsorted(times, sample.horizon_s, side='left'))
        if n_e >= times.size:
            raise ModelError('the sample holds too few eMBB arrivals for this requirement; draw '
                             'it with a larger max_embb_rate_per_s')
    else:
        times, n_e = sample.embb_unit_times, 0
    e_arr = times[:n_e]
    e_work = sample.embb_unit_work[:n_e] / config.compute.embb_service_rate_per_s
    return Prepared(u_arr, u_work, e_arr, e_work, sample.embb_ue[:n_e],
                     channel if channel is not None else channel_arrays(config, sample))


def in_window(t: FloatArray, config: CoexistenceConfig,
               horizon_s: float) -> npt.NDArray[np.bool_]:
    sim = config.simulation
    return np.asarray((t >= sim.warmup_s) & (t < horizon_s - sim.drain_s))


def air_rule(scheme: Scheme, config: CoexistenceConfig) -> AirRule:
    """The air-interface threshold rule of a scheme."""
    if scheme is Scheme.PUTD:
        return AirRule.THRESHOLD_DROP
    if scheme is Scheme.EUAD and config.scheme.euad_active_dropping is EuadDropping.THRESHOLD:
        return AirRule.THRESHOLD_DROP
    return AirRule.THRESHOLD_QUEUE


@dataclass(frozen=True)
class Job:
    """One point to simulate: the configuration (its traffic), its prepared arrays, the point."""

    config: CoexistenceConfig
    prep: Prepared
    point: SchemePoint


def compute_for(job: Job) -> ComputeQueueResult:
    key = (job.point.scheme, job.point.shared_fraction, job.config.scheme.putd_compute,
           job.config.scheme.euad_active_dropping, job.config.scheme.euad_urllc_max_wait_s)
    comp = job.prep.compute_cache.get(key)
    if comp is None:
        p = job.prep
        comp = _compute_stage(job.point, job.config, p.u_arr, p.u_work, p.e_arr, p.e_work)
        job.prep.compute_cache[key] = comp
    return comp


def simulate_jobs(jobs: Sequence[Job], sample: CoexistenceSample,
                  progress: ProgressFn | None = None) -> list[CoexistenceMetrics]:
    """
    Simulate several points together (one batched air-interface run). All jobs must share the
    radio configuration (they share the channel); their traffic, scheme, β and M may differ.

    Args:
        progress: called with the number of cell-slots simulated since its last call.
    """
    if not jobs:
        return []
    radio = jobs[0].config.radio
    retransmit = jobs[0].config.scheme.retransmit
    for job in jobs[1:]:
        if job.config.radio != radio or job.config.scheme.retransmit != retransmit:
            raise ModelError('simulate_jobs: every job must have the same radio configuration '
                             'and retransmission rule')
    n_slots, n_embb = sample.n_slots, radio.n_embb
    comps = [compute_for(job) for job in jobs]
    streams = []
    arrivals = np.zeros((len(jobs), n_slots, n_embb), dtype=np.int32)
    served_masks = []
    for b, (job, comp) in enumerate(zip(jobs, comps)):
        u_dep = comp.urllc.departure_s  # [n_u], NaN where dropped in compute
        served = np.isfinite(u_dep)
        served_masks.append(served)
        rule = air_rule(job.point.scheme, job.config)
        streams.append(UrllcStream(u_dep[served], job.point.max_urllc_per_minislot, rule))
        e_dep = comp.embb.departure_s  # [n_e]
        slot_of = np.ceil(e_dep / radio.slot_s).astype(np.int64)  # first slot that can carry it
        inside = slot_of < n_slots
        np.add.at(arrivals[b], (slot_of[inside], job.prep.e_ue[inside]), 1)
    bits, usnr, ok = jobs[0].prep.channel
    scheduler = make_scheduler(radio.scheduler, n_embb, batch_size=len(jobs), beta=radio.pf_beta,
                               slot_s=radio.slot_s)
    airs = simulate_air_batch(
        slot_s=radio.slot_s, minislots_per_slot=radio.minislots_per_slot, embb_slot_bits=bits,
        urllc_snr=usnr, urllc_success=ok, streams=streams, embb_arrival_packets=arrivals,
        embb_packet_bits=float(jobs[0].config.traffic.embb_packet_bits), scheduler=scheduler,
        choice=radio.puncture_choice, retransmit=retransmit, progress=progress)
    return [_metrics(job.point, job.config, sample, job.prep, comp, air, served)
            for job, comp, air, served in zip(jobs, comps, airs, served_masks)]


def _metrics(point: SchemePoint, config: CoexistenceConfig, sample: CoexistenceSample,
             prep: Prepared, comp: ComputeQueueResult, air: AirResult,
             u_served: npt.NDArray[np.bool_]) -> CoexistenceMetrics:
    radio, traffic, sim = config.radio, config.traffic, config.simulation
    horizon = sample.horizon_s
    # --- URLLC, per packet (arrival at the BS → delivery)
    n_u = prep.u_arr.size
    delivery = np.full(n_u, np.nan)
    delivery[u_served] = air.urllc_delivery_s
    outcome = np.full(n_u, -1, dtype=np.int16)  # -1: dropped in compute
    outcome[u_served] = air.urllc_outcome
    win_u = in_window(prep.u_arr, config, horizon)
    n_win_u = int(np.count_nonzero(win_u))
    ok = win_u & np.isfinite(delivery)
    delay_u = delivery[ok] - prep.u_arr[ok]
    comp_u = comp.urllc.departure_s[ok] - prep.u_arr[ok]

    def frac(mask: npt.NDArray[np.bool_]) -> float:
        return float(np.count_nonzero(mask & win_u)) / n_win_u if n_win_u else math.nan

    # --- eMBB packets: FIFO bits per robot
    e_dep = comp.embb.departure_s
    n_e = prep.e_arr.size
    e_delivery = np.full(n_e, np.nan)
    delivered_cum = np.cumsum(air.embb_delivered_bits, axis=0)  # [n_slots, n_embb]
    for ue in range(radio.n_embb):
        idx = np.nonzero(prep.e_ue == ue)[0]
        if idx.size == 0:
            continue
        order = idx[np.argsort(e_dep[idx], kind='stable')]
        end_bits = traffic.embb_packet_bits * np.arange(1, order.size + 1, dtype=float)
        slot = np.searchsorted(delivered_cum[:, ue], end_bits - 1e-3, side='left')
        done = slot < sample.n_slots
        e_delivery[order[done]] = (slot[done] + 1) * radio.slot_s
    win_e = in_window(prep.e_arr, config, horizon)
    n_win_e = int(np.count_nonzero(win_e))
    got = win_e & np.isfinite(e_delivery)
    undelivered = win_e & ~np.isfinite(e_delivery)
    # a packet not delivered by the horizon counts with its delay so far (a lower bound)
    e_delay = np.where(np.isfinite(e_delivery), e_delivery, horizon) - prep.e_arr
    e_delay_w = e_delay[win_e]
    e_comp = e_dep[got] - prep.e_arr[got]
    e_radio = e_delivery[got] - e_dep[got]
    # --- per-slot quantities after the warm-up
    s0 = int(math.ceil(sim.warmup_s / radio.slot_s))
    s1 = sample.n_slots
    span_s = (s1 - s0) * radio.slot_s
    ru_minislots = (s1 - s0) * radio.minislots_per_slot * radio.n_ru
    used = air.embb_ru_minislots[s0:s1].sum() + air.urllc_ru_minislots[s0:s1].sum()
    return CoexistenceMetrics(
        point=point,
        urllc_mean_delay_s=float(delay_u.mean()) if delay_u.size else math.nan,
        urllc_p99_delay_s=float(np.percentile(delay_u, 99)) if delay_u.size else math.nan,
        urllc_outage=1.0 - float(ok.sum()) / n_win_u if n_win_u else math.nan,
        urllc_compute_mean_delay_s=float(comp_u.mean()) if comp_u.size else math.nan,
        urllc_air_mean_delay_s=float((delay_u - comp_u).mean()) if delay_u.size else math.nan,
        urllc_compute_drop_fraction=frac(outcome == -1),
        urllc_threshold_drop_fraction=frac(outcome == UrllcOutcome.DROPPED_THRESHOLD.value),
        urllc_decoding_failure_fraction=frac(outcome == UrllcOutcome.DECODING_FAILED.value),
        urllc_packets=n_win_u,
        embb_throughput_bps=float(air.embb_delivered_bits[s0:s1].sum()) / span_s,
        embb_mean_delay_s=float(e_delay_w.mean()) if e_delay_w.size else math.nan,
        embb_p99_delay_s=float(np.percentile(e_delay_w, 99)) if e_delay_w.size else math.nan,
        embb_compute_mean_delay_s=float(e_comp.mean()) if e_comp.size else math.nan,
        embb_radio_mean_delay_s=float(e_radio.mean()) if e_radio.size else math.nan,
        embb_undelivered_fraction=(float(undelivered.sum()) / n_win_e if n_win_e else 0.0),
        embb_packets=n_win_e,
        prb_utilization=float(used) / ru_minislots,
        punctured_fraction=float(air.punctured_ru_minislots[s0:s1].sum()) / ru_minislots,
        embb_bits_lost_to_puncturing_bps=float(air.embb_lost_bits[s0:s1].sum()) / span_s,
        max_urllc_per_minislot_seen=air.max_urllc_per_minislot)


def evaluate_point(point: SchemePoint, config: CoexistenceConfig,
                   sample: CoexistenceSample) -> CoexistenceMetrics:
    """Simulate one scheme at fixed β and M on the sample."""
    return simulate_jobs([Job(config, prepare(config, sample), point)], sample)[0]


# --------------------------------------------------------------------------------------------
# eMBB capacity and the protection rule
# --------------------------------------------------------------------------------------------

def embb_full_buffer_throughput_bps(config: CoexistenceConfig, sample: CoexistenceSample,
                                    channel: ChannelArrays | None = None) -> float:
    """
    C_e: the eMBB throughput of the whole band with every robot backlogged and no URLLC (the
    scheduler of the config, the channel of the sample), averaged after the warm-up.
    """
    radio = config.radio
    bits, usnr, ok = channel if channel is not None else channel_arrays(config, sample)
    scheduler = make_scheduler(radio.scheduler, radio.n_embb, batch_size=1, beta=radio.pf_beta,
                               slot_s=radio.slot_s)
    air = simulate_air_batch(
        slot_s=radio.slot_s, minislots_per_slot=radio.minislots_per_slot, embb_slot_bits=bits,
        urllc_snr=usnr, urllc_success=ok,
        streams=[UrllcStream(np.zeros(0), 1, AirRule.THRESHOLD_QUEUE)],
        embb_arrival_packets=None, embb_packet_bits=float(config.traffic.embb_packet_bits),
        scheduler=scheduler)[0]
    s0 = int(math.ceil(config.simulation.warmup_s / radio.slot_s))
    return float(air.embb_delivered_bits[s0:].sum()) / ((sample.n_slots - s0) * radio.slot_s)


def max_protected_threshold(capacity_bps: float, requirement_bps: float, n_ru: int) -> int:
    """
    ``M_cap = max {M ∈ [0, n_ru] : C_e (1 − M / n_ru) ≥ R}``: the most RUs per mini-slot URLLC
    may take while eMBB keeps its requirement when every mini-slot is punctured that much.
    0 means no URLLC puncturing is compatible with the requirement.
    """
    if capacity_bps <= 0:
        return 0
    m = math.floor(n_ru * (1.0 - requirement_bps / capacity_bps) + 1e-9)
    return int(min(max(m, 0), n_ru))

