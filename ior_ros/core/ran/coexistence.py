"""
Coexistence of eMBB and bursty URLLC (seed 000 §IV): BS compute queue → air interface, three
schemes, and the joint choice of the compute split and the puncturing threshold.

Pipeline of one run (all random inputs drawn once per seed in :class:`CoexistenceSample`, so every
scheme and every parameter point sees the same arrivals and channels: common random numbers):

1. Traffic (:mod:`ior_ros.core.ran.traffic`): URLLC batches (compound Poisson) for the URLLC
   robot; eMBB packets (Poisson, total rate = requirement / packet size) split evenly over the
   eMBB robots.
2. Compute (:mod:`ior_ros.core.ran.compute_queue`): every packet is processed by the BS first.
3. Air (:mod:`ior_ros.core.ran.puncturing`): URLLC packets are punctured into the next
   mini-slot; eMBB packets join their robot's radio queue at the next slot boundary and are
   scheduled per slot.

Schemes (:class:`Scheme`):

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

Joint scheduling (seed 000 §IV step 4), per scheme, requirement R: minimize the mean URLLC delay
subject to (a) the eMBB throughput requirement and (b) a tolerable mean eMBB delay. How:

* (a) is a *protection* rule on M: even when every mini-slot is punctured M times, eMBB keeps
  ``C_e (1 − M / n_ru) ≥ R``, where ``C_e`` is the eMBB full-buffer throughput of the band
  (measured on the same channel sample). So ``M ≤ M_cap(R)``. Plus, the delivered eMBB throughput
  must reach ``(1 − throughput_tolerance) R`` in the simulation.
* (b) the mean eMBB delay (compute + radio queue) must be ≤ ``embb_max_delay_s``.
* URLLC delay falls as β and M grow (more compute for URLLC, fewer deferrals), while eMBB delay
  grows with both. A smaller M than the constraints need only defers or discards URLLC packets
  (it can lower the mean delay of the *delivered* packets only by losing the slow ones), so M is
  the largest value ≤ M_cap(R) for which some β is feasible, and β the largest feasible value of
  the grid. The β grid is scanned from the top: points whose compute-only eMBB delay (cheap,
  exact) plus the radio delay measured so far exceeds the limit are skipped, the others are
  checked by a full simulation (same sample). The chosen point is the simulated one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from ior_ros.core.config import FrozenModel
from ior_ros.core.errors import ConfigError, ModelError, QueueStabilityError
from ior_ros.core.progress import ProgressFn
from ior_ros.core.ran.cell import complete_path_loss
from ior_ros.core.ran.channel import (
    PathLossConfig,
    PathLossKind,
    block_fading_power_gain,
    path_loss_db,
)
from ior_ros.core.ran.compute_queue import ComputeQueueResult, Discipline, simulate_compute_queue
from ior_ros.core.ran.puncturing import (
    AirResult,
    AirRule,
    PunctureChoice,
    UrllcOutcome,
    UrllcStream,
    simulate_air_batch,
)
from ior_ros.core.ran.rates import fbl_error_probability, snr_linear
from ior_ros.core.ran.schedulers import SchedulerKind, make_scheduler
from ior_ros.core.ran.traffic import BatchSizeLaw, batch_sizes_from_uniforms, poisson_arrival_times

__all__ = ['Scheme', 'PutdCompute', 'EuadDropping', 'air_rule', 'RadioConfig', 'TrafficConfig',
           'ComputeConfig',
           'RequirementsConfig', 'SchemeConfig', 'SimulationConfig', 'CoexistenceConfig',
           'CoexistenceSample', 'draw_sample', 'SchemePoint', 'CoexistenceMetrics',
           'evaluate_point', 'embb_full_buffer_throughput_bps', 'max_protected_threshold',
           'OptimizationResult', 'optimize_scheme', 'optimize_many', 'run_coexistence', 'Job',
           'simulate_jobs', 'channel_arrays', 'compute_rate_limit', 'check_config']

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ChannelArrays = tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]


class Scheme(str, Enum):
    """The compared schemes."""

    PROPOSED = 'proposed'
    PUTD = 'putd'
    EUAD = 'euad'


class EuadDropping(str, Enum):
    """Where EUAD drops URLLC packets actively."""

    THRESHOLD = 'threshold'
    COMPUTE_WAIT = 'compute_wait'


class PutdCompute(str, Enum):
    """Compute stage given to PUTD (which has none of its own)."""

    SHARED_SPLIT = 'shared_split'
    FULL_PRIORITY = 'full_priority'


# --------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------

def _default_path_loss() -> PathLossConfig:
    return PathLossConfig(kind=PathLossKind.LOG_DISTANCE, carrier_hz=3.5e9, exponent=3.5)


class RadioConfig(FrozenModel):
    """
    Radio grid and channel. Defaults: the seed's 30 kHz subcarrier spacing, 1 ms slots with 4
    mini-slots, block length 200, noise −110 dBm, 12 "sub-carriers" read as 12 resource units of
    3 PRBs (see docs/models/ran-coexistence.md).
    """

    subcarrier_spacing_hz: float = Field(30e3, gt=0)
    """NR subcarrier spacing [Hz] (seed: 30 kHz)."""
    subcarriers_per_prb: int = Field(12, ge=1)
    """Subcarriers per PRB (TS 38.211: 12)."""
    prbs_per_ru: int = Field(3, ge=1)
    """PRBs per resource unit (RU); an RU in a mini-slot must hold one URLLC block."""
    n_ru: int = Field(12, ge=1)
    """Resource units in the band (the seed's "12 sub-carriers"; Fig. 6b: 10)."""
    slot_s: float = Field(1e-3, gt=0)
    """eMBB scheduling slot [s] (seed: 1 ms)."""
    minislots_per_slot: int = Field(4, ge=1)
    """Mini-slots per slot (seed: 4)."""
    symbols_per_minislot: int = Field(7, ge=1)
    """OFDM symbols per mini-slot (1 ms at 30 kHz = 28 symbols = 4 × 7)."""
    data_re_per_ru_minislot: int = Field(200, ge=1)
    """Data resource elements per RU-mini-slot = URLLC block length n (seed: 200)."""
    noise_dbm: float = -110.0
    """Noise power per RU [dBm] (seed: −110 dBm; thermal noise over 1.08 MHz with a 3.7 dB
    noise figure)."""
    tx_power_dbm_per_ru: float = 20.0
    """BS transmit power per RU [dBm] (30 dBm small cell over 12 RUs ≈ 19.2 dBm)."""
    path_loss: PathLossConfig = Field(default_factory=_default_path_loss)
    """Distance path loss (default log-distance, exponent 3.5, free space at 1 m, 3.5 GHz). Keys
    not given keep this default (see :func:`ior_ros.core.ran.cell.complete_path_loss`)."""

    @model_validator(mode='before')
    @classmethod
    def _complete_path_loss(cls, data: Any) -> Any:
        return complete_path_loss(data, _default_path_loss())
    embb_distances_m: list[Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: [230.0, 245.0, 260.0, 275.0, 290.0, 305.0, 320.0, 335.0],
        min_length=1)
    """Distance of each eMBB robot from the BS [m] (seed: 8 eMBB robots)."""
    urllc_distance_m: float = Field(280.0, gt=0)
    """Distance of the URLLC robot [m] (seed: 1 URLLC robot)."""
    rayleigh_scale: float = Field(1.0 / math.sqrt(2.0), gt=0)
    """Rayleigh amplitude scale σ (E|h|² = 2σ²; 1/√2: unit mean power)."""
    scheduler: SchedulerKind = SchedulerKind.PROPORTIONAL_FAIR
    """eMBB scheduler."""
    pf_beta: float = Field(0.98, gt=0, lt=1)
    """Proportional-fair averaging factor (time constant 1/(1−β) slots)."""
    puncture_choice: PunctureChoice = PunctureChoice.BEST_URLLC
    """Which RUs URLLC punctures."""

    @property
    def n_embb(self) -> int:
        """Number of eMBB robots."""
        return len(self.embb_distances_m)

    @property
    def ru_bandwidth_hz(self) -> float:
        """Bandwidth of one RU [Hz]."""
        return self.prbs_per_ru * self.subcarriers_per_prb * self.subcarrier_spacing_hz

    @property
    def minislot_s(self) -> float:
        """Mini-slot length [s]."""
        return self.slot_s / self.minislots_per_slot


class TrafficConfig(FrozenModel):
    """Packet sizes and arrival processes."""

    embb_requirement_bps: float = Field(11e6, ge=0)
    """Total eMBB throughput requirement [bit/s] = offered eMBB traffic (seed Fig. 6a: 11 Mb/s)."""
    embb_packet_bits: int = Field(12_000, ge=1)
    """eMBB packet size [bit] (1500-byte IP packet)."""
    urllc_packet_bits: int = Field(256, ge=1)
    """URLLC packet size [bit] (32 bytes, 3GPP TR 38.913)."""
    urllc_batch_rate_per_s: float = Field(250.0, ge=0)
    """URLLC batch arrival rate [1/s] (one control burst every 4 ms on average)."""
    urllc_mean_batch_size: float = Field(6.0, ge=1)
    """Mean URLLC packets per batch."""
    batch_size_law: BatchSizeLaw = BatchSizeLaw.ZERO_TRUNCATED_POISSON
    """Law of the batch size (zero-truncated Poisson: every batch holds >= 1 packet)."""


class ComputeConfig(FrozenModel):
    """BS compute: full-capacity service rates (exponential work)."""

    embb_service_rate_per_s: float = Field(1375.0, gt=0)
    """eMBB packets per second the whole compute processes (16.5 Mb/s of 1500-byte packets)."""
    urllc_service_rate_per_s: float = Field(20_000.0, gt=0)
    """URLLC packets per second the whole compute processes (50 µs per 32-byte packet)."""


class RequirementsConfig(FrozenModel):
    """Service requirements the joint scheduler must meet."""

    embb_max_delay_s: float = Field(10e-3, gt=0)
    """Tolerable mean eMBB delay, compute + radio [s] (10 ms: 5QI 80 packet delay budget,
    TS 23.501 Table 5.7.4-1)."""
    throughput_tolerance: float = Field(0.02, ge=0, le=1)
    """Delivered eMBB throughput must reach (1 − this) × requirement (finite-horizon backlog)."""
    urllc_max_outage: float = Field(1.0, ge=0, le=1)
    """Largest tolerated URLLC outage probability (1: no constraint, as in the seed)."""
    protect_embb_rate: bool = True
    """The eMBB throughput requirement is a guaranteed rate: the resources only eMBB holds carry
    it whatever URLLC does, in both stages: the eMBB compute part ``(1 − β) μ_e ≥ λ_e`` and the
    RUs left after M punctures per mini-slot ``C_e (1 − M / n_ru) ≥ R``. False: only the
    simulated mean delay and throughput count."""


class SchemeConfig(FrozenModel):
    """Scheme parameters; None means "chosen by the joint scheduler"."""

    shared_fraction: float | None = Field(None, gt=0, le=1)
    """β: shared part (proposed, PUTD) or URLLC part (EUAD) of the compute; None: optimized."""
    max_urllc_per_minislot: int | None = Field(None, ge=1)
    """M: most URLLC packets per mini-slot; None: optimized (largest M allowed by eMBB)."""
    shared_fraction_grid_step: float = Field(0.02, gt=0, le=0.5)
    """Resolution of the β grid, the same for every scheme."""
    euad_active_dropping: EuadDropping = EuadDropping.THRESHOLD
    """EUAD's active dropping: above M at the air interface (default) or by waiting time in the
    compute queue."""
    euad_urllc_max_wait_s: float = Field(1e-3, ge=0)
    """With ``compute_wait``: a URLLC packet waiting this long in the compute queue is dropped
    (1 ms: the URLLC latency budget of TR 38.913 is gone)."""
    putd_compute: PutdCompute = PutdCompute.SHARED_SPLIT
    """Compute stage of PUTD (see the module docstring)."""
    retransmit: bool = True
    """threshold_queue schemes resend a packet not decoded on its first chance."""


class SimulationConfig(FrozenModel):
    """Simulated time."""

    horizon_s: float = Field(10.0, gt=0)
    """Simulated time [s]."""
    warmup_s: float = Field(0.2, ge=0)
    """Start-up period left out of the statistics [s]."""
    drain_s: float = Field(0.1, ge=0)
    """Packets arriving in the last drain_s are left out (they may not be finished) [s]."""


class CoexistenceConfig(FrozenModel):
    """Everything `ior sim coexistence` needs (config/coexistence.yaml documents each key)."""

    schemes: list[Scheme] = Field(
        default_factory=lambda: [Scheme.PROPOSED, Scheme.PUTD, Scheme.EUAD], min_length=1)
    """Schemes to run."""
    seed: int = Field(0, ge=0)
    """Random seed (the same sample for every scheme)."""
    radio: RadioConfig = Field(default_factory=RadioConfig)
    traffic: TrafficConfig = Field(default_factory=TrafficConfig)
    compute: ComputeConfig = Field(default_factory=ComputeConfig)
    requirements: RequirementsConfig = Field(default_factory=RequirementsConfig)
    scheme: SchemeConfig = Field(default_factory=SchemeConfig)
    simulation: SimulationConfig = Field(default_factory=SimulationConfig)


def check_config(config: CoexistenceConfig) -> None:
    """
    Cross-field checks of a coexistence configuration (one clear error each).

    Raises:
        ConfigError: naming the field, its value and what is allowed.
    """
    radio, traffic, compute = config.radio, config.traffic, config.compute
    res = radio.prbs_per_ru * radio.subcarriers_per_prb * radio.symbols_per_minislot
    if radio.data_re_per_ru_minislot > res:
        raise ConfigError(f"field 'radio.data_re_per_ru_minislot' = "
                          f'{radio.data_re_per_ru_minislot}: must be <= the {res} resource '
                          'elements of one RU-mini-slot (prbs_per_ru x subcarriers_per_prb x '
                          'symbols_per_minislot)')
    sim = config.simulation
    if sim.warmup_s + sim.drain_s >= sim.horizon_s:
        raise ConfigError(f"field 'simulation.horizon_s' = {sim.horizon_s}: must be > "
                          f'warmup_s + drain_s = {sim.warmup_s + sim.drain_s}')
    if sim.horizon_s / radio.slot_s < 10:
        raise ConfigError(f"field 'simulation.horizon_s' = {sim.horizon_s}: must hold at least "
                          f'10 slots of {radio.slot_s} s')
    m = config.scheme.max_urllc_per_minislot
    if m is not None and m > radio.n_ru:
        raise ConfigError(f"field 'scheme.max_urllc_per_minislot' = {m}: must be <= "
                          f'radio.n_ru = {radio.n_ru}')
    beta = config.scheme.shared_fraction
    if beta is not None and beta >= 1.0 and Scheme.EUAD in config.schemes:
        raise ConfigError(f"field 'scheme.shared_fraction' = {beta}: EUAD needs an eMBB part, "
                          'so it must be < 1')
    load_u = (traffic.urllc_batch_rate_per_s * traffic.urllc_mean_batch_size
              / compute.urllc_service_rate_per_s)
    load_e = traffic.embb_requirement_bps / traffic.embb_packet_bits \
        / compute.embb_service_rate_per_s
    if load_u + load_e >= 1.0:
        raise QueueStabilityError(
            f'compute load = {load_u + load_e:.4g} (URLLC {load_u:.4g} + eMBB {load_e:.4g} from '
            'traffic.* and compute.*): must be < 1 for a stable compute queue')


# --------------------------------------------------------------------------------------------
# the random sample (common random numbers)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CoexistenceSample:
    """
    Every random input of a run, drawn once (common random numbers across schemes, parameters
    and the swept requirement or batch size).

    Attributes:
        horizon_s, n_slots: simulated time.
        urllc_batch_times_s: ``[n_b]`` batch instants.
        urllc_batch_uniforms: ``[n_b]`` uniforms that fix each batch's size by CDF inversion.
        urllc_unit_work: ``[n_u_max]`` Exp(1) draws: URLLC work = draw / μ_u.
        embb_unit_times: ``[n_e_max]`` unit-rate Poisson epochs: eMBB arrivals = epochs / λ_e.
        embb_unit_work: ``[n_e_max]`` Exp(1) draws: eMBB work = draw / μ_e.
        embb_ue: ``[n_e_max]`` robot of each eMBB packet.
        gain: ``[n_slots, n_embb + 1, n_ru]`` Rayleigh power gains (last row: URLLC robot).
        decode_uniforms: ``[n_slots, minislots, n_ru]`` uniforms for URLLC decoding.
    """

    horizon_s: float
    n_slots: int
    urllc_batch_times_s: FloatArray
    urllc_batch_uniforms: FloatArray
    urllc_unit_work: FloatArray
    embb_unit_times: FloatArray
    embb_unit_work: FloatArray
    embb_ue: IntArray
    gain: FloatArray
    decode_uniforms: FloatArray


def draw_sample(config: CoexistenceConfig, rng: np.random.Generator,
                max_embb_rate_per_s: float | None = None,
                max_urllc_mean_batch: float | None = None) -> CoexistenceSample:
    """
    Draw the sample for ``config`` (and for sweeps up to the given eMBB packet rate and mean
    batch size, so that one sample serves a whole figure).
    """
    radio, traffic, sim = config.radio, config.traffic, config.simulation
    horizon = sim.horizon_s
    n_slots = int(round(horizon / radio.slot_s))
    lam_e = traffic.embb_requirement_bps / traffic.embb_packet_bits
    lam_e_max = max(lam_e, max_embb_rate_per_s or 0.0)
    b_max = max(traffic.urllc_mean_batch_size, max_urllc_mean_batch or 0.0)
    batch_times = poisson_arrival_times(traffic.urllc_batch_rate_per_s, horizon, rng)
    batch_u = rng.random(batch_times.size)
    n_u_max = int(batch_times.size * b_max + 12.0 * math.sqrt(batch_times.size * b_max + 1.0)
                  + 100)
    u_work = rng.exponential(1.0, size=n_u_max)
    n_e_max = int(lam_e_max * horizon + 10.0 * math.sqrt(lam_e_max * horizon + 1.0) + 100)
    e_times = np.cumsum(rng.exponential(1.0, size=n_e_max))
    e_work = rng.exponential(1.0, size=n_e_max)
    e_ue = rng.integers(0, radio.n_embb, size=n_e_max).astype(np.int64)
    gain = block_fading_power_gain(rng, n_slots, radio.n_embb + 1, radio.n_ru,
                                   scale=radio.rayleigh_scale)
    decode_u = rng.random((n_slots, radio.minislots_per_slot, radio.n_ru))
    return CoexistenceSample(horizon, n_slots, batch_times, batch_u, u_work, e_times, e_work,
                             e_ue, gain, decode_u)


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
class _Prepared:
    """Sample-derived arrays for one (requirement, batch size) setting; reused across points."""

    u_arr: FloatArray
    u_work: FloatArray
    e_arr: FloatArray
    e_work: FloatArray
    e_ue: IntArray
    channel: ChannelArrays
    compute_cache: dict[tuple[Any, ...], ComputeQueueResult] = field(default_factory=dict)


def channel_arrays(config: CoexistenceConfig, sample: CoexistenceSample) -> ChannelArrays:
    """
    The sample's channel as the air interface needs it: ``(embb_slot_bits [n_slots, n_embb,
    n_ru], urllc_snr [n_slots, n_ru], urllc_success [n_slots, minislots, n_ru])``; a URLLC packet
    on an RU-mini-slot is decoded when the stored uniform is below ``1 − ε`` (finite-blocklength
    error probability of ``urllc_packet_bits`` in ``data_re_per_ru_minislot`` channel uses).
    """
    radio = config.radio
    dist = np.asarray([*radio.embb_distances_m, radio.urllc_distance_m])  # [n_embb + 1]
    pl = path_loss_db(dist, radio.path_loss)  # [n_embb + 1]
    snr = snr_linear(radio.tx_power_dbm_per_ru, sample.gain, radio.noise_dbm,
                     pl[None, :, None])  # [n_slots, n_embb + 1, n_ru]
    n_data = radio.data_re_per_ru_minislot
    embb_slot_bits = radio.minislots_per_slot * n_data * np.log2(1.0 + snr[:, :-1, :])
    urllc_snr = np.ascontiguousarray(snr[:, -1, :])  # [n_slots, n_ru]
    eps = fbl_error_probability(config.traffic.urllc_packet_bits, n_data, urllc_snr)
    success = sample.decode_uniforms < (1.0 - eps)[:, None, :]  # [n_slots, minislots, n_ru]
    return embb_slot_bits, urllc_snr, success


def _prepare(config: CoexistenceConfig, sample: CoexistenceSample,
             channel: ChannelArrays | None = None) -> _Prepared:
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
    return _Prepared(u_arr, u_work, e_arr, e_work, sample.embb_ue[:n_e],
                     channel if channel is not None else channel_arrays(config, sample))


def _in_window(t: FloatArray, config: CoexistenceConfig,
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
    prep: _Prepared
    point: SchemePoint


def _compute_for(job: Job) -> ComputeQueueResult:
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
    comps = [_compute_for(job) for job in jobs]
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
             prep: _Prepared, comp: ComputeQueueResult, air: AirResult,
             u_served: npt.NDArray[np.bool_]) -> CoexistenceMetrics:
    radio, traffic, sim = config.radio, config.traffic, config.simulation
    horizon = sample.horizon_s
    # --- URLLC, per packet (arrival at the BS → delivery)
    n_u = prep.u_arr.size
    delivery = np.full(n_u, np.nan)
    delivery[u_served] = air.urllc_delivery_s
    outcome = np.full(n_u, -1, dtype=np.int16)  # -1: dropped in compute
    outcome[u_served] = air.urllc_outcome
    win_u = _in_window(prep.u_arr, config, horizon)
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
    win_e = _in_window(prep.e_arr, config, horizon)
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
    return simulate_jobs([Job(config, _prepare(config, sample), point)], sample)[0]


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


# --------------------------------------------------------------------------------------------
# joint scheduling
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OptimizationResult:
    """The chosen point, its metrics, and what was tried."""

    scheme: Scheme
    metrics: CoexistenceMetrics
    feasible: bool
    threshold_cap: int
    embb_capacity_bps: float
    evaluated: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {'scheme': self.scheme.value, 'feasible': self.feasible,
                'threshold_cap': self.threshold_cap,
                'embb_capacity_bps': self.embb_capacity_bps,
                'metrics': self.metrics.as_dict(), 'evaluated': self.evaluated}


def _beta_grid(config: CoexistenceConfig, scheme: Scheme) -> list[float]:
    fixed = config.scheme.shared_fraction
    if scheme is Scheme.PUTD and config.scheme.putd_compute is PutdCompute.FULL_PRIORITY:
        return [1.0]
    if fixed is not None:
        if scheme is Scheme.EUAD and fixed >= 1.0:
            raise ConfigError(f"field 'scheme.shared_fraction' = {fixed}: EUAD needs a URLLC "
                              'part < 1')
        return [float(fixed)]
    step = config.scheme.shared_fraction_grid_step
    n = int(math.floor(1.0 / step + 1e-9))
    grid = [round(1.0 - i * step, 10) for i in range(n)]
    grid = [b for b in grid if b > 1e-9]
    if scheme is Scheme.EUAD:
        grid = [b for b in grid if b < 1.0 - 1e-9]
    return grid


def _feasible(m: CoexistenceMetrics, config: CoexistenceConfig) -> bool:
    """eMBB mean delay within the limit, eMBB queues keep up, URLLC outage within its limit."""
    req = config.requirements
    return bool(m.embb_mean_delay_s <= req.embb_max_delay_s
                and m.embb_undelivered_fraction <= req.throughput_tolerance
                and not m.urllc_outage > req.urllc_max_outage)


def _violation(m: CoexistenceMetrics, config: CoexistenceConfig) -> float:
    req = config.requirements
    return max(m.embb_mean_delay_s / req.embb_max_delay_s,
               m.embb_undelivered_fraction / max(req.throughput_tolerance, 1e-12),
               m.urllc_outage / max(req.urllc_max_outage, 1e-12))


@dataclass
class _Problem:
    """Search state of one (scheme, configuration) joint-scheduling problem."""

    scheme: Scheme
    config: CoexistenceConfig
    prep: _Prepared
    capacity_bps: float
    threshold_cap: int
    m_values: list[int]
    grid: list[float]
    first_unscreened: int
    protected: bool
    m_index: int = 0
    infeasible_below: int = -1
    feasible_from: int = -1
    results: dict[int, CoexistenceMetrics] = field(default_factory=dict)
    evaluated: list[dict[str, Any]] = field(default_factory=list)
    best_violating: CoexistenceMetrics | None = None
    best_violation: float = math.inf
    result: OptimizationResult | None = None

    def reset_search(self) -> None:
        """Start the search over β for the current M."""
        self.infeasible_below = self.first_unscreened - 1
        self.feasible_from = len(self.grid)
        self.results = {}

    def candidates(self, k: int) -> list[int]:
        """
        Grid indices to simulate next: k points spread over the undecided interval
        (infeasible_below, feasible_from), its first point (the largest undecided β) included.
        """
        lo, hi = self.infeasible_below + 1, self.feasible_from
        if lo >= hi:
            return []
        n = hi - lo
        if n <= k:
            return list(range(lo, hi))
        return sorted({lo + round(j * (n - 1) / (k - 1)) for j in range(k)}) if k > 1 else [lo]


def compute_rate_limit(config: CoexistenceConfig, scheme: Scheme) -> float:
    """
    Largest β for which the eMBB compute part alone carries the eMBB requirement:
    ``(1 − β) μ_e ≥ λ_e`` ⇒ ``β ≤ 1 − λ_e / μ_e`` (1 when the protection is off or the scheme
    has no eMBB part, as PUTD with ``full_priority``).
    """
    if not config.requirements.protect_embb_rate:
        return 1.0
    if scheme is Scheme.PUTD and config.scheme.putd_compute is PutdCompute.FULL_PRIORITY:
        return 1.0
    lam_e = config.traffic.embb_requirement_bps / config.traffic.embb_packet_bits
    return 1.0 - lam_e / config.compute.embb_service_rate_per_s


def _make_problem(scheme: Scheme, config: CoexistenceConfig, sample: CoexistenceSample,
                  channel: ChannelArrays, capacity_bps: float) -> _Problem:
    prep = _prepare(config, sample, channel)
    n_ru = config.radio.n_ru
    fixed_m = config.scheme.max_urllc_per_minislot
    if config.requirements.protect_embb_rate:
        m_cap = max_protected_threshold(capacity_bps, config.traffic.embb_requirement_bps, n_ru)
    else:
        m_cap = n_ru
    m_values = [fixed_m] if fixed_m is not None else list(range(max(m_cap, 1), 0, -1))
    full_grid = _beta_grid(config, scheme)
    beta_max = compute_rate_limit(config, scheme)
    # the URLLC compute part must be a stable queue: β μ_u > λ_b E[X]
    traffic = config.traffic
    beta_min = (traffic.urllc_batch_rate_per_s * traffic.urllc_mean_batch_size
                / config.compute.urllc_service_rate_per_s)
    grid = [b for b in full_grid if beta_min < b <= beta_max + 1e-12]
    protected = bool(grid) and m_values[0] <= m_cap
    if not grid:  # no β keeps URLLC stable and carries eMBB: report one point, infeasible
        grid = [min(full_grid, key=lambda b: abs(b - max(beta_min, min(beta_max, 1.0))))]
    # exact compute-only eMBB delay: a lower bound of the eMBB delay, so a β whose compute stage
    # alone exceeds the limit is infeasible without a radio simulation
    win = _in_window(prep.e_arr, config, sample.horizon_s)
    limit = config.requirements.embb_max_delay_s
    first = len(grid)
    for index, beta in enumerate(grid):
        comp = _compute_for(Job(config, prep, SchemePoint(scheme, beta, m_values[0])))
        soj = comp.embb.departure_s[win] - prep.e_arr[win]
        if (float(soj.mean()) if soj.size else 0.0) <= limit:
            first = index
            break
    problem = _Problem(scheme, config, prep, capacity_bps, m_cap, m_values, grid, first,
                       protected)
    problem.reset_search()
    return problem


def optimize_many(problems: Sequence[tuple[Scheme, CoexistenceConfig]],
                  sample: CoexistenceSample, channel: ChannelArrays | None = None,
                  capacity_bps: float | None = None, candidates_per_round: int = 4,
                  on_round: Callable[[int, int], None] | None = None,
                  progress: ProgressFn | None = None
                  ) -> list[OptimizationResult]:
    """
    Joint scheduling (module docstring) for several (scheme, configuration) problems that share
    the radio configuration, simulated together in batched rounds on one sample.

    For each problem and its current M, the largest feasible β of the grid is found by a k-ary
    search (k = ``candidates_per_round`` points per round, the largest undecided β always among
    them): feasibility is taken as monotone in β (eMBB delay grows with the URLLC share). β values
    whose exact compute-only eMBB delay already exceeds the limit are skipped unsimulated. With no
    feasible β, M steps down; with M exhausted, the problem closes as infeasible, reporting its
    least-violating point.

    Args:
        on_round: called with (round, number of points simulated) after every round.
        progress: called with the number of cell-slots simulated since its last call.
    """
    if not problems:
        return []
    first_config = problems[0][1]
    channel = channel if channel is not None else channel_arrays(first_config, sample)
    cap = (capacity_bps if capacity_bps is not None
           else embb_full_buffer_throughput_bps(first_config, sample, channel))
    states = [_make_problem(Scheme(s), c, sample, channel, cap) for s, c in problems]
    round_no = 0
    while True:
        jobs: list[Job] = []
        owners: list[tuple[_Problem, int]] = []
        for st in states:
            if st.result is not None:
                continue
            cand = st.candidates(candidates_per_round)
            while not cand:
                if st.feasible_from < len(st.grid):  # the search at this M is decided
                    met = st.results[st.feasible_from]
                    st.result = OptimizationResult(st.scheme, met, True, st.threshold_cap,
                                                   st.capacity_bps, st.evaluated)
                    break
                if st.m_index + 1 >= len(st.m_values):
                    _close_infeasible(st, sample)
                    break
                st.m_index += 1
                st.reset_search()
                cand = st.candidates(candidates_per_round)
            if st.result is not None:
                continue
            m = st.m_values[st.m_index]
            for index in cand:
                jobs.append(Job(st.config, st.prep, SchemePoint(st.scheme, st.grid[index], m)))
                owners.append((st, index))
        if not jobs:
            break
        metrics = simulate_jobs(jobs, sample, progress)
        round_no += 1
        for (st, index), job, met in zip(owners, jobs, metrics):
            ok = _feasible(met, st.config) and st.protected
            st.results[index] = met
            st.evaluated.append({'shared_fraction': job.point.shared_fraction,
                                 'max_urllc_per_minislot': job.point.max_urllc_per_minislot,
                                 'feasible': ok,
                                 'urllc_mean_delay_s': met.urllc_mean_delay_s,
                                 'embb_mean_delay_s': met.embb_mean_delay_s,
                                 'embb_throughput_bps': met.embb_throughput_bps,
                                 'urllc_outage': met.urllc_outage})
            if ok:
                st.feasible_from = min(st.feasible_from, index)
            violation = _violation(met, st.config)
            if violation < st.best_violation:
                st.best_violation, st.best_violating = violation, met
        for st in states:  # infeasible points below the smallest feasible index
            if st.result is None:
                bad = [i for i, met in st.results.items()
                       if i < st.feasible_from and not _feasible(met, st.config)]
                if bad:
                    st.infeasible_below = max(st.infeasible_below, max(bad))
        if on_round is not None:
            on_round(round_no, len(jobs))
    return [st.result for st in states if st.result is not None]


def _close_infeasible(st: _Problem, sample: CoexistenceSample) -> None:
    met = st.best_violating
    if met is None:  # not even the compute stage meets the delay limit: report the lowest β
        job = Job(st.config, st.prep, SchemePoint(st.scheme, st.grid[-1], st.m_values[-1]))
        met = simulate_jobs([job], sample)[0]
        st.evaluated.append({'shared_fraction': st.grid[-1],
                             'max_urllc_per_minislot': st.m_values[-1], 'feasible': False,
                             'urllc_mean_delay_s': met.urllc_mean_delay_s,
                             'embb_mean_delay_s': met.embb_mean_delay_s,
                             'embb_throughput_bps': met.embb_throughput_bps,
                             'urllc_outage': met.urllc_outage})
    st.result = OptimizationResult(st.scheme, met, False, st.threshold_cap, st.capacity_bps,
                                   st.evaluated)


def optimize_scheme(scheme: Scheme, config: CoexistenceConfig, sample: CoexistenceSample,
                    capacity_bps: float | None = None,
                    channel: ChannelArrays | None = None) -> OptimizationResult:
    """Joint choice of β and M for one scheme (see :func:`optimize_many`)."""
    return optimize_many([(Scheme(scheme), config)], sample, channel, capacity_bps)[0]


def run_coexistence(config: CoexistenceConfig,
                    on_round: Callable[[int, int], None] | None = None,
                    progress: ProgressFn | None = None) -> dict[str, Any]:
    """
    Run every scheme of the config on one sample (seed ``config.seed``), each with its jointly
    chosen β and M; returns the JSON-ready metrics document.
    """
    rng = np.random.default_rng(config.seed)
    sample = draw_sample(config, rng)
    channel = channel_arrays(config, sample)
    cap = embb_full_buffer_throughput_bps(config, sample, channel)
    check_config(config)
    results = optimize_many([(s, config) for s in config.schemes], sample, channel, cap,
                            on_round=on_round, progress=progress)
    return {'embb_capacity_bps': cap,
            'threshold_cap': max_protected_threshold(cap, config.traffic.embb_requirement_bps,
                                                     config.radio.n_ru),
            'schemes': {r.scheme.value: r.as_dict() for r in results}}
