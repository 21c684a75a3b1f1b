"""
Configuration of the eMBB/URLLC coexistence simulator (seed 000 §IV,
:mod:`ior_ros.core.ran.coexistence`): the resource grid and radio link, the traffic, the BS
compute, the service requirements, the schemes' parameters and the simulated time.
``config/coexistence.yaml`` holds every key with its default; the reasons are in
docs/models/ran-coexistence.md and docs/models/ran.md (the link).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import Enum
from typing import Annotated, Any

from pydantic import Field, model_validator

from ior_ros.core.config import FrozenModel, why
from ior_ros.core.errors import ConfigError, QueueStabilityError
from ior_ros.core.ran.link_budget import LinkConfig, link_preset, upgrade_link_keys
from ior_ros.core.ran.puncturing import PunctureChoice
from ior_ros.core.ran.schedulers import SchedulerKind
from ior_ros.core.ran.traffic import BatchSizeLaw

__all__ = ['Scheme', 'PutdCompute', 'EuadDropping', 'RadioConfig', 'TrafficConfig',
           'ComputeConfig', 'RequirementsConfig', 'SchemeConfig', 'SimulationConfig',
           'CoexistenceConfig', 'check_config', 'RADIO_LEGACY_KEYS']


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

RADIO_LEGACY_KEYS: dict[str, str] = {
    'noise_dbm': 'noise_dbm_per_rb', 'tx_power_dbm_per_ru': 'tx_power_dbm_per_rb',
    'path_loss': 'path_loss', 'rayleigh_scale': 'rayleigh_scale'}
"""Old RadioConfig keys -> LinkConfig fields (deprecated; docs/models/ran.md)."""

_GRID_DEFAULTS = {'prbs_per_ru': 3, 'subcarriers_per_prb': 12, 'subcarrier_spacing_hz': 30e3}


def _grid_link(data: Mapping[str, Any]) -> LinkConfig:
    """The seed-000 link with the RU bandwidth of the grid that ``data`` gives."""
    preset = link_preset('seed000')
    try:
        bandwidth = float(math.prod(float(data.get(k, v)) for k, v in _GRID_DEFAULTS.items()))
    except (TypeError, ValueError):  # a bad grid value: its own field reports it
        return preset
    return preset.model_copy(update={'rb_bandwidth_hz': bandwidth})


class RadioConfig(FrozenModel):
    """
    Radio grid and link. Defaults: the seed's 30 kHz subcarrier spacing, 1 ms slots with 4
    mini-slots, block length 200, 12 "sub-carriers" read as 12 resource units of 3 PRBs, and the
    ``seed000`` link (20 dBm and −110 dBm per RU; see docs/models/ran-coexistence.md).
    """

    subcarrier_spacing_hz: float = Field(30e3, gt=0)
    """NR subcarrier spacing [Hz] (seed: 30 kHz)."""
    subcarriers_per_prb: int = Field(12, ge=1)
    """Subcarriers per PRB (TS 38.211: 12)."""
    prbs_per_ru: int = Field(3, ge=1)
    """PRBs per resource unit (RU); an RU in a mini-slot must hold one URLLC block."""
    n_ru: int = Field(12, ge=1, le=1000, json_schema_extra=why(
        'every resource unit is scheduled on its own in every mini-slot'))
    """Resource units in the band (the seed's "12 sub-carriers"; Fig. 6b: 10)."""
    slot_s: float = Field(1e-3, gt=0)
    """eMBB scheduling slot [s] (seed: 1 ms)."""
    minislots_per_slot: int = Field(4, ge=1)
    """Mini-slots per slot (seed: 4)."""
    symbols_per_minislot: int = Field(7, ge=1)
    """OFDM symbols per mini-slot (1 ms at 30 kHz = 28 symbols = 4 × 7)."""
    data_re_per_ru_minislot: int = Field(200, ge=1)
    """Data resource elements per RU-mini-slot = URLLC block length n (seed: 200)."""
    link: LinkConfig = Field(default_factory=lambda: link_preset('seed000'))
    """The radio link, one RB = one RU (:class:`~ior_ros.core.ran.link_budget.LinkConfig`).
    Default ``seed000``: 20 dBm per RU (a 30 dBm small cell over 12 RUs ≈ 19.2 dBm), noise
    −110 dBm per RU (the seed's value: thermal noise over 1.08 MHz with a 3.7 dB noise figure),
    log-distance path loss with exponent 3.5 at 3.5 GHz, unit-mean Rayleigh fading per slot and
    RU. ``rb_bandwidth_hz`` is the RU bandwidth of the grid (computed when left out); keys not
    given keep these defaults."""

    @model_validator(mode='before')
    @classmethod
    def _upgrade_link(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        default = _grid_link(data)
        link = data.get('link')
        if isinstance(link, str):  # a preset: on this grid's RU
            data = {**data, 'link': {**link_preset(link).model_dump(),
                                     'rb_bandwidth_hz': default.rb_bandwidth_hz}}
        out = upgrade_link_keys(data, default=default, legacy=RADIO_LEGACY_KEYS,
                                legacy_base=default)
        if isinstance(out, Mapping) and out.get('link') is None:
            out = {**out, 'link': default}
        return out

    embb_distances_m: list[Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: [230.0, 245.0, 260.0, 275.0, 290.0, 305.0, 320.0, 335.0],
        min_length=1)
    """Distance of each eMBB robot from the BS [m] (seed: 8 eMBB robots)."""
    urllc_distance_m: float = Field(280.0, gt=0)
    """Distance of the URLLC robot [m] (seed: 1 URLLC robot)."""
    scheduler: SchedulerKind = SchedulerKind.PROPORTIONAL_FAIR
    """eMBB scheduler."""
    pf_beta: float = Field(0.98, gt=0, lt=1)
    """Proportional-fair averaging factor (time constant 1/(1−β) slots)."""
    puncture_choice: PunctureChoice = PunctureChoice.BEST_URLLC
    """Which RUs URLLC punctures."""

    @model_validator(mode='after')
    def _link_is_one_ru(self) -> RadioConfig:
        if not math.isclose(self.link.rb_bandwidth_hz, self.ru_bandwidth_hz, rel_tol=1e-9):
            raise ValueError(
                f'link.rb_bandwidth_hz = {self.link.rb_bandwidth_hz} Hz must be the bandwidth of '
                f'one RU, prbs_per_ru x subcarriers_per_prb x subcarrier_spacing_hz = '
                f'{self.ru_bandwidth_hz} Hz (leave it out to have it computed)')
        return self

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

    horizon_s: float = Field(10.0, gt=0, le=3600, json_schema_extra=why(
        'the simulation steps every mini-slot, per scheme and candidate split'))
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
    seed: int = Field(0, ge=0, le=2**32 - 1, json_schema_extra=why('a 32-bit seed'))
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
