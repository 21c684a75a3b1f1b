"""
Configuration of the task-driven slicing model (seed 003, §III and §IV-A; Table I).

Every field carries its unit in the name and a docstring; choices the seed leaves open are
explained in ``docs/models/slicing.md`` (the key is named there). Defaults are Table I of seed 003
(10 MHz, noise -110 dBm, 20 dBm per PRB, K = 25, χ = 95 %, D_max = 20 ms, α = 0.1) plus the values
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

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from ior_ros.core.config import FrozenModel, format_validation_error
from ior_ros.core.errors import ConfigError
from ior_ros.core.rl.dual_agent_config import DualAgentConfig

__all__ = ['ArrivalWindow', 'DexterityMode', 'TaskConfig', 'SlicingEnvConfig',
           'make_slicing_config', 'TrainSettings', 'EvalSettings', 'SlicingRunConfig']


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


class TaskConfig(FrozenModel):
    """The robots behind the URLLC users and how their dexterity index is obtained."""

    mode: DexterityMode = DexterityMode.TRACKING
    """``tracking`` (closed loop, default) or ``fixed``."""
    fixed_di: float = Field(default=0.7, ge=0.0, le=1.0)
    """DI of every robot in ``fixed`` mode, and the initial DI in ``tracking`` mode [-]."""
    control_period_s: float = Field(default=0.01, gt=0.0)
    """Sampling interval T_s of the robots' controllers [s] (seed 003 Fig. 6 varies it); it
    must be a whole number of decision slots."""
    reference_speed_scale: float = Field(default=1.0, gt=0.0)
    """Speed of the figure-eight reference relative to the nominal one [-]; a faster reference
    is a harder task (seed 003 Fig. 7 uses three references to get three DI levels)."""
    reference_period_s: float = Field(default=8.0, gt=0.0)
    """Period of the nominal figure-eight reference [s]."""
    reference_amplitude_m: float = Field(default=1.0, gt=0.0)
    """Half-width of the figure-eight [m]."""
    di_window_s: float = Field(default=0.2, gt=0.0)
    """The tracking, orientation and curvature errors entering DI are averaged over this
    window [s]."""
    service_coefficient_pps: float = Field(default=1000.0, ge=0.0)
    """β of seed 003 eq. 4, ``μ = r/L - β DI`` [packets/s per unit DI]."""


class SlicingEnvConfig(FrozenModel):
    """
    The two-queue teleoperation cell of seed 003 (§III, Table I) and the Lagrangian reward
    (§IV-A, eqs. 10-14).
    """

    n_embb: int = Field(default=5, ge=1)
    """n_e: eMBB users (video feedback from the robots) [-]."""
    n_urllc: int = Field(default=5, ge=1)
    """n_u: URLLC users (operator-to-robot commands), one robot each [-]."""
    n_prb: int = Field(default=25, ge=2)
    """K: PRBs shared by all users (Table I); constraint 8d needs K >= n_e + n_u."""
    carrier_bandwidth_hz: float = Field(default=10e6, gt=0.0)
    """Channel bandwidth of Table I [Hz]; the PRB grid must fit in it."""
    prb_bandwidth_hz: float = Field(default=180e3, gt=0.0)
    """B of seed 003 eq. 1: one PRB of 12 subcarriers x 15 kHz [Hz] (docs/models/slicing.md
    explains why 180 kHz rather than 10 MHz / 25 = 400 kHz)."""
    noise_dbm: float = -110.0
    """Noise power σ² per PRB [dBm] (Table I)."""
    tx_power_per_prb_dbm: float = 20.0
    """Transmit power p_ij on each PRB [dBm] (Table I)."""
    path_loss_db: float = Field(default=0.0, ge=0.0)
    """Distance loss applied to every link [dB]; 0: the seed's normalised channel gains."""
    rayleigh_scale: float = Field(default=1.0, gt=0.0)
    """σ of the Rayleigh amplitude, |h|² ~ Exp(mean 2σ²) (seed 003 Figs. 4, 5; see
    ior_ros.core.ran.channel)."""
    slot_s: float = Field(default=1e-3, gt=0.0)
    """τ: decision slot of the upper level [s] (one NR slot at 15 kHz subcarrier spacing)."""
    episode_slots: int = Field(default=1000, ge=1)
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

    @field_validator('prb_bandwidth_hz')
    @classmethod
    def _grid_fits(cls, value: float, info: ValidationInfo) -> float:
        n_prb = info.data.get('n_prb')
        carrier = info.data.get('carrier_bandwidth_hz')
        if n_prb is not None and carrier is not None and n_prb * value > carrier * (1 + 1e-9):
            raise ValueError(f'n_prb x prb_bandwidth_hz = {n_prb * value:.6g} Hz exceeds '
                             f'carrier_bandwidth_hz = {carrier:.6g} Hz')
        return value

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

    steps: int = Field(default=60_000, ge=1)
    """Environment slots to train for (rounded up to whole episodes)."""
    seed: int = Field(default=0, ge=0)
    """Seeds the networks, exploration, replay sampling and the training channels."""
    checkpoint_every_episodes: int = Field(default=10, ge=1)
    """Episodes between checkpoints (a checkpoint is also written at the end)."""
    episode_slots: int | None = Field(default=None, ge=1)
    """Training episode length [slots]; None: ``env.episode_slots``."""


class EvalSettings(FrozenModel):
    """``ior eval slicing`` and the reproductions: held-out channel seeds."""

    episodes: int = Field(default=5, ge=1)
    """Evaluation episodes (one held-out seed each)."""
    episode_slots: int = Field(default=2000, ge=1)
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
