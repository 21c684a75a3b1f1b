"""
Configuration of the task-driven slicing model (seed 003, §III and §IV-A; Table I).

Every field carries its unit in the name and a docstring; choices the seed leaves open are
explained in ``docs/models/slicing.md`` (the key is named there). Defaults are Table I of seed 003
(10 MHz, noise -110 dBm, 20 dBm per PRB: the ``seed003`` radio link of
``ior_ros.core.ran.link_budget``, K = 25, χ = 95 %, D_max = 20 ms, α = 0.1) plus the values
the seed does not give, calibrated so that Table III's per-user rates (about 18-20 Mb/s under
proportional fair) come out of the model.

Build a configuration with :func:`make_slicing_config` (or :func:`ior_ros.core.config.load_config`)
to get one :class:`~ior_ros.core.errors.ConfigError` naming the field for any bad value.

:class:`SlicingRunConfig` is everything ``config/slicing.yaml`` holds: this environment, the
learner's hyper-parameters (:class:`~ior_ros.core.rl.dual_agent_config.DualAgentConfig`), training
and held-out evaluation settings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from ior_ros.core.config import FrozenModel, format_validation_error, why
from ior_ros.core.control.control_config import ReferenceConfig, move_legacy_reference_keys
from ior_ros.core.errors import ConfigError
from ior_ros.core.ran.link_budget import LinkConfig, link_preset, upgrade_link_keys
from ior_ros.core.rl.dual_agent_config import DualAgentConfig

__all__ = ['ArrivalWindow', 'DexterityMode', 'TaskReferenceConfig', 'TaskConfig',
           'SlicingEnvConfig', 'make_slicing_config', 'TrainSettings', 'EvalSettings',
           'SlicingRunConfig']


class ArrivalWindow(str, Enum):
    """Length of the window over which seed 003 eq. 2 counts URLLC command arrivals per slot."""

    SLOT = 'slot'
    """``τ``: the count of one decision slot, so λ(u) is the command rate in packets/s."""
    SLOT_PLUS_DEADLINE = 'slot_plus_deadline'
    """``τ + D_max`` as eq. 5 writes ``A1(t) = P(t, τ + D_max)`` (inflates the rate by
    ``(τ + D_max)/τ``; see docs/models/slicing.md)."""


class DexterityMode(str, Enum):
    """Where the dexterity index DI of each URLLC robot comes from."""

    TRACKING = 'tracking'
    """Closed loop: DI (seed 003 eq. 3) from a figure-eight tracking simulation whose commands
    arrive with the URLLC delay of the robot's user."""
    FIXED = 'fixed'
    """Open loop: every robot has ``fixed_di`` (used to sweep DI directly)."""


class TaskReferenceConfig(ReferenceConfig):
    """The figure eight of the slicing task: the control package's reference, 8 s period."""

    period_s: float = Field(default=8.0, gt=0.0)
    """Period of the nominal figure eight [s]."""


class TaskConfig(FrozenModel):
    """The robots behind the URLLC users and how their dexterity index is obtained."""

    mode: DexterityMode = DexterityMode.TRACKING
    """``tracking`` (closed loop, default) or ``fixed``."""
    fixed_di: float = Field(default=0.7, ge=0.0, le=1.0)
    """DI of every robot in ``fixed`` mode, and the initial DI in ``tracking`` mode [-]."""
    control_period_s: float = Field(default=0.01, gt=0.0)
    """Sampling interval T_s of the robots' controllers [s] (seed 003 Fig. 6 varies it); it
    must be a whole number of decision slots."""
    reference: TaskReferenceConfig = TaskReferenceConfig()
    """The figure-eight the robots track (the control package's naming): half-width
    ``amplitude_m`` [m], nominal period ``period_s`` [s] (8 s here), ``speed_scale`` [-] (a
    faster reference is a harder task; seed 003 Fig. 7 uses three references to get three DI
    levels). Old keys ``reference_amplitude_m``, ``reference_period_s`` and
    ``reference_speed_scale`` are accepted."""
    di_window_s: float = Field(default=0.2, gt=0.0)
    """The tracking, orientation and curvature errors entering DI are averaged over this
    window [s]."""
    service_coefficient_pps: float = Field(default=1000.0, ge=0.0)
    """β of seed 003 eq. 4, ``μ = r/L - β DI`` [packets/s per unit DI]."""

    @model_validator(mode='before')
    @classmethod
    def _legacy_reference(cls, data: Any) -> Any:
        return move_legacy_reference_keys(data, {'reference_amplitude_m': 'amplitude_m',
                                                 'reference_period_s': 'period_s',
                                                 'reference_speed_scale': 'speed_scale'})


FloatArray = npt.NDArray[np.float64]

_ENV_LEGACY_KEYS: dict[str, Any] = {
    'prb_bandwidth_hz': 'rb_bandwidth_hz', 'noise_dbm': 'noise_dbm_per_rb',
    'tx_power_per_prb_dbm': 'tx_power_dbm_per_rb', 'rayleigh_scale': 'rayleigh_scale',
    'path_loss_db': lambda loss: {'path_loss': {'kind': 'fixed', 'fixed_loss_db': loss}}}
"""Old SlicingEnvConfig radio keys -> LinkConfig fields (deprecated; docs/models/ran.md)."""


class SlicingEnvConfig(FrozenModel):
    """
    The two-queue teleoperation cell of seed 003 (§III, Table I) and the Lagrangian reward
    (§IV-A, eqs. 10-14).
    """

    n_embb: int = Field(default=5, ge=1, le=100, json_schema_extra=why(
        'every user adds a queue, a channel per PRB and inputs to both actors; the seed has 5'))
    """n_e: eMBB users (video feedback from the robots) [-]."""
    n_urllc: int = Field(default=5, ge=1, le=100, json_schema_extra=why(
        'every user adds a queue, a channel per PRB and inputs to both actors; the seed has 5'))
    """n_u: URLLC users (operator-to-robot commands), one robot each [-]."""
    n_prb: int = Field(default=25, ge=2, le=1000, json_schema_extra=why(
        'the actions and channels grow with the PRBs; a 100 MHz NR carrier has 273'))
    """K: PRBs shared by all users (Table I); constraint 8d needs K >= n_e + n_u."""
    carrier_bandwidth_hz: float = Field(default=10e6, gt=0.0)
    """Channel bandwidth of Table I [Hz]; the PRB grid must fit in it."""
    link: LinkConfig = Field(default_factory=lambda: link_preset('seed003'))
    """The radio link, one RB = one PRB (:class:`~ior_ros.core.ran.link_budget.LinkConfig`, the
    model the cell and coexistence simulators embed). Default ``seed003`` (Table I): B of eq. 1
    = 180 kHz (12 subcarriers x 15 kHz; docs/models/slicing.md explains why not 10 MHz / 25),
    p_ij = 20 dBm and σ² = -110 dBm per PRB, the seed's normalised channel (path loss ``fixed``
    at 0 dB), Rayleigh σ = 1 (Figs. 4, 5 vary ``link.rayleigh_scale``), fading redrawn every
    slot and PRB. Keys not given keep these defaults; the old keys ``prb_bandwidth_hz``,
    ``noise_dbm``, ``tx_power_per_prb_dbm``, ``path_loss_db`` and ``rayleigh_scale`` are
    accepted (docs/models/ran.md)."""
    ue_distances_m: tuple[float, ...] | None = None
    """Distance of each user from the gNB [m], eMBB users first; needed only when
    ``link.path_loss`` depends on distance (None: the seed's distance-free channel)."""

    @model_validator(mode='before')
    @classmethod
    def _upgrade_link(cls, data: Any) -> Any:
        return upgrade_link_keys(data, default=link_preset('seed003'), legacy=_ENV_LEGACY_KEYS,
                                 legacy_base=link_preset('seed003'))
    slot_s: float = Field(default=1e-3, gt=0.0)
    """τ: decision slot of the upper level [s] (one NR slot at 15 kHz subcarrier spacing)."""
    episode_slots: int = Field(default=1000, ge=1, le=1_000_000, json_schema_extra=why(
        "an episode's per-slot statistics are kept until it ends"))
    """Slots per episode (truncation) [-]."""
    reliability: float = 0.95
    """χ_s: required fraction of slots with D_ti <= D_max, in (0, 1] (Table I)."""
    deadline_s: float = Field(default=0.02, gt=0.0)
    """D_max: URLLC delay deadline [s] (Table I)."""
    arrival_sensitivity: float = Field(default=0.1, ge=0.0, lt=1.0)
    """α of seed 003 eq. 2, ``λ(u) = λ0 - α r/L_u`` (dimensionless: both terms in packets/s)."""
    urllc_base_arrival_rate_pps: float = Field(default=4850.0, ge=0.0)
    """λ0 of seed 003 eq. 2: base command rate of each operator [packets/s]."""
    urllc_packet_bits: float = Field(default=4000.0, gt=0.0)
    """L_u: size of one URLLC command packet [bit]."""
    urllc_arrival_window: ArrivalWindow = ArrivalWindow.SLOT
    """Window of eq. 2's count per slot: ``slot`` (τ) or ``slot_plus_deadline`` (τ + D_max)."""
    embb_arrival_rate_pps: float = Field(default=1300.0, ge=0.0)
    """Poisson rate of each eMBB user's video packets (eq. 6's A2) [packets/s]."""
    embb_packet_bits: float = Field(default=12000.0, gt=0.0)
    """L_e: size of one eMBB packet [bit]."""
    delay_tail_coefficient_per_bit: float = Field(default=1e-5, gt=0.0)
    """α1 of seed 003 eq. 12: ``P(D > D_max) ≈ exp(-α1 r D_max)`` with r D_max in bits
    [1/bit]."""
    delay_tail_backlog: bool = True
    """Count the URLLC backlog in eq. 12's tail, ``exp(-α1 (r D_max - F L_u)^+)``: the bits the
    link can still carry within the deadline after the queue ahead (False: eq. 12 as printed,
    rate only)."""
    penalty_weight: float = Field(default=0.25, ge=0.0)
    """V of seed 003 eq. 11 (weight of the rate cost h against the Lyapunov drift) [-]."""
    rate_reference_bps: float = Field(default=20e6, gt=0.0)
    """Rates enter h(r) = Σ 1/((r/r_ref)² + ε) normalised by this [bit/s]."""
    rate_epsilon: float = Field(default=1e-3, gt=0.0)
    """ε of seed 003 eq. 7 (keeps h finite at r = 0) [-]."""
    urllc_queue_reference_packets: float = Field(default=100.0, gt=0.0)
    """URLLC queues enter the Lyapunov function L = ½ Σ (F/F_ref)² + ... normalised by this
    [packets]."""
    embb_queue_reference_packets: float = Field(default=100.0, gt=0.0)
    """eMBB queues enter L normalised by this [packets]."""
    lagrange_multiplier: float = Field(default=0.0, ge=0.0)
    """λ_l of seed 003 eq. 13 at the start (the trainer updates it by dual ascent) [-]."""
    action_logit_scale: float = Field(default=3.0, gt=0.0)
    """An action a in [-1, 1] becomes the softmax logit ``scale * a`` of a user's PRB share."""
    rounding_carry: bool = True
    """Carry each user's PRB rounding residue to the next slot (error feedback), so that the
    time-average PRB count equals the share; False: stateless largest-remainder rounding (equal
    shares then always round the same way). See docs/models/slicing.md."""
    observation_clip: float = Field(default=10.0, gt=0.0)
    """Normalised queues and delays are clipped to [0, clip] in the observation [-]."""
    task: TaskConfig = TaskConfig()
    """The robots and their dexterity index."""

    @field_validator('n_prb')
    @classmethod
    def _enough_prbs(cls, value: int, info: ValidationInfo) -> int:
        n_users = int(info.data.get('n_embb', 0)) + int(info.data.get('n_urllc', 0))
        if value < n_users:
            raise ValueError(f'must be >= n_embb + n_urllc = {n_users} (constraint 8d gives '
                             'every user at least one PRB)')
        return value

    @field_validator('link')
    @classmethod
    def _grid_fits(cls, value: LinkConfig, info: ValidationInfo) -> LinkConfig:
        n_prb = info.data.get('n_prb')
        carrier = info.data.get('carrier_bandwidth_hz')
        width = value.rb_bandwidth_hz
        if n_prb is not None and carrier is not None and n_prb * width > carrier * (1 + 1e-9):
            raise ValueError(f'n_prb x link.rb_bandwidth_hz = {n_prb * width:.6g} Hz exceeds '
                             f'carrier_bandwidth_hz = {carrier:.6g} Hz')
        return value

    @model_validator(mode='after')
    def _distances_for_the_path_loss(self) -> SlicingEnvConfig:
        if self.ue_distances_m is None:
            if self.link.path_loss.depends_on_distance:
                raise ValueError(f'link.path_loss.kind = {self.link.path_loss.kind.value} '
                                 'depends on distance: give ue_distances_m (one per user) or '
                                 "use kind 'fixed'")
        elif len(self.ue_distances_m) != self.n_users or any(
                not (math.isfinite(d) and d >= 0) for d in self.ue_distances_m):
            raise ValueError(f'ue_distances_m = {self.ue_distances_m}: give n_embb + n_urllc = '
                             f'{self.n_users} finite distances >= 0')
        return self

    @field_validator('reliability')
    @classmethod
    def _reliability_range(cls, value: float) -> float:
        if not (0.0 < value <= 1.0):
            raise ValueError('must be in (0, 1] (seed 003: χ_s is a fraction of time)')
        return value

    @field_validator('task')
    @classmethod
    def _control_period_in_slots(cls, value: TaskConfig, info: ValidationInfo) -> TaskConfig:
        slot = info.data.get('slot_s')
        if slot is not None:
            ratio = value.control_period_s / slot
            if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
                raise ValueError(f'task.control_period_s = {value.control_period_s} s must be a '
                                 f'whole number (>= 1) of slots of slot_s = {slot} s')
        return value

    @property
    def n_users(self) -> int:
        """n_e + n_u."""
        return self.n_embb + self.n_urllc

    @property
    def path_loss_db(self) -> FloatArray:
        """``[n_e + n_u]`` path loss of each user [dB] (eMBB users first)."""
        distances = (np.zeros(self.n_users) if self.ue_distances_m is None
                     else np.asarray(self.ue_distances_m, dtype=float))
        return self.link.path_loss_db(distances)

    @property
    def mean_snr(self) -> FloatArray:
        """``[n_e + n_u]`` mean SNR before fading of each user, γ̄_i (linear)."""
        return self.link.snr(1.0, self.path_loss_db)

    @property
    def deadline_slots(self) -> int:
        """D_max in slots (rounded down): a delay of more slots than this violates it."""
        return int(math.floor(self.deadline_s / self.slot_s + 1e-9))

    @property
    def control_period_slots(self) -> int:
        """Decision slots per controller sample."""
        return int(round(self.task.control_period_s / self.slot_s))

    @property
    def urllc_window_s(self) -> float:
        """Window of the eq. 2 count per slot [s]."""
        if self.urllc_arrival_window is ArrivalWindow.SLOT_PLUS_DEADLINE:
            return self.slot_s + self.deadline_s
        return self.slot_s


def make_slicing_config(base: SlicingEnvConfig | Mapping[str, Any] | None = None,
                        **overrides: Any) -> SlicingEnvConfig:
    """
    Build a validated :class:`SlicingEnvConfig` from a base (config or mapping) and keyword
    overrides.

    Raises:
        ConfigError: one line naming the field, the value and what is allowed.
    """
    if isinstance(base, SlicingEnvConfig):
        data: dict[str, Any] = base.model_dump()
    else:
        data = dict(base or {})
    data.update(overrides)
    try:
        return SlicingEnvConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, model=SlicingEnvConfig)) from None


class TrainSettings(FrozenModel):
    """``ior train slicing``: how long and how the run is saved."""

    steps: int = Field(default=60_000, ge=1, le=100_000_000, json_schema_extra=why(
        'training takes about a millisecond per slot: the limit is already more than a day'))
    """Environment slots to train for (rounded up to whole episodes)."""
    seed: int = Field(default=0, ge=0, le=2**32 - 1, json_schema_extra=why('a 32-bit seed'))
    """Seeds the networks, exploration, replay sampling and the training channels."""
    checkpoint_every_episodes: int = Field(default=10, ge=1)
    """Episodes between checkpoints (a checkpoint is also written at the end)."""
    episode_slots: int | None = Field(default=None, ge=1, le=1_000_000, json_schema_extra=why(
        "an episode's per-slot statistics are kept until it ends"))
    """Training episode length [slots]; None: ``env.episode_slots``."""


class EvalSettings(FrozenModel):
    """``ior eval slicing`` and the reproductions: held-out channel seeds."""

    episodes: int = Field(default=5, ge=1, le=1000, json_schema_extra=why(
        "every slot's URLLC delays are kept for the percentiles"))
    """Evaluation episodes (one held-out seed each)."""
    episode_slots: int = Field(default=2000, ge=1, le=1_000_000, json_schema_extra=why(
        "every slot's URLLC delays are kept for the percentiles"))
    """Slots per evaluation episode."""
    first_seed: int = Field(default=1_000_000, ge=0)
    """Episode k uses environment seed ``first_seed + k``; training never seeds these."""


class SlicingRunConfig(FrozenModel):
    """Everything ``config/slicing.yaml`` holds."""

    env: SlicingEnvConfig = SlicingEnvConfig()
    """The cell, traffic, robots and reward."""
    agent: DualAgentConfig = DualAgentConfig()
    """The dual-agent TD3 hyper-parameters."""
    train: TrainSettings = TrainSettings()
    """Training length, seed, checkpoints."""
    eval: EvalSettings = EvalSettings()
    """Held-out evaluation."""
