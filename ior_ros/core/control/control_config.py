"""
Configuration of the delay-robust control area (``config/control.yaml`` mirrors these defaults).

Every choice the seed leaves open is a field here, documented in docs/models/control.md.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from enum import Enum
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from ior_ros.core.config import FrozenModel, why

__all__ = ['PlantConfig', 'LqrConfig', 'CertificateConfig', 'FallbackPolicy', 'ScheduleConfig',
           'SwitchingConfig', 'PlantModel', 'CurvatureMetric', 'ReferenceConfig',
           'TrackingConfig', 'DexterityConfig', 'ReproductionConfig', 'ControlConfig',
           'move_legacy_reference_keys', 'sdp_solvers']

PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]


class PlantConfig(FrozenModel):
    """The reference planar base (two double integrators, input delay)."""

    sample_period_s: PositiveFloat = 0.01
    """Sampling period T_s of the ZOH discretisation [s]."""
    axes: Annotated[int, Field(ge=1, le=3)] = 2
    """Number of identical decoupled axes (2: planar base)."""


class LqrConfig(FrozenModel):
    """Nominal LQR weights: ``Q = I ⊗ diag(q_p, q_v)``, ``R = r I``."""

    position_weight: PositiveFloat = 900.0
    """q_p [1/m²] (relative)."""
    velocity_weight: NonNegativeFloat = 1.0
    """q_v [s²/m²] (relative)."""
    input_weight: PositiveFloat = 1.0
    """r [s⁴/m²] (relative)."""


class CertificateConfig(FrozenModel):
    """The LK certificate (LMI (a))."""

    decay_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    """λ: certified decay ``|x(k)| <= c λ^k``; 1 = plain stability."""
    epsilon: Annotated[float, Field(gt=0.0, lt=1e-2)] = 1e-7
    """Strictness ε of ``Ψ ⪯ -ε I`` with ``P ⪰ I``."""
    per_axis: bool = True
    """Solve per axis when the plant and the gain are identical decoupled blocks (exact)."""
    solver: str = 'CLARABEL'
    """cvxpy solver for the LMIs: an installed one that handles semidefinite constraints
    (:func:`sdp_solvers`; CLARABEL and SCS with the default install)."""

    @field_validator('solver')
    @classmethod
    def _installed_sdp_solver(cls, value: str) -> str:
        name = value.strip().upper()
        if name == 'CLARABEL':  # a dependency of cvxpy itself: no need to import cvxpy here
            return name
        allowed = sdp_solvers()
        if name not in allowed:
            raise ValueError(f'{value!r} is not an installed cvxpy solver for semidefinite '
                             f'programs (LMIs); allowed: {", ".join(allowed)}')
        return name


@functools.cache
def sdp_solvers() -> tuple[str, ...]:
    """The installed cvxpy solvers that accept semidefinite constraints (the LMIs need them)."""
    from cvxpy.constraints.psd import PSD, SvecPSD
    from cvxpy.reductions.solvers.defines import INSTALLED_CONIC_SOLVERS, SOLVER_MAP_CONIC

    return tuple(name for name in INSTALLED_CONIC_SOLVERS
                 if name in SOLVER_MAP_CONIC and any(
                     kind in SOLVER_MAP_CONIC[name].SUPPORTED_CONSTRAINTS
                     for kind in (PSD, SvecPSD)))


class FallbackPolicy(str, Enum):
    """What the controller uses when no certified gain covers the delay bound."""

    MOST_CONSERVATIVE = 'most_conservative'
    """The certified gain with the largest delay range (never an uncertified gain)."""
    STOP = 'stop'
    """A stop command: the robot brakes locally (no network in the loop)."""


class ScheduleConfig(FrozenModel):
    """The offline gain schedule ``K̂(h)``, ``h = 0..H``."""

    max_delay_steps: Annotated[int, Field(ge=0, le=200)] = 30
    """H [samples]."""
    workers: Annotated[int, Field(ge=1, le=64)] | None = None
    """Worker processes for the build (None: min(2, cpu count))."""
    detune_min: PositiveFloat = 10.0 ** 0.25
    """Smallest input-weight factor s of the detuned LQR scan."""
    detune_max: PositiveFloat = 1e8
    """Largest s scanned."""
    detune_points: Annotated[int, Field(ge=2, le=400)] = 32
    """Points of the log grid of s."""
    bisection_steps: Annotated[int, Field(ge=0, le=40)] = 6
    """Bisection steps on log s after the scan."""
    vk_iterations: Annotated[int, Field(ge=0, le=500)] = 25
    """Maximum V–K alternation iterations (0: detuned LQR only)."""
    vk_tolerance: Annotated[float, Field(gt=0.0, lt=1.0)] = 2e-3
    """Stop V–K when an iteration shortens the distance by less than this fraction."""
    fallback: FallbackPolicy = FallbackPolicy.MOST_CONSERVATIVE
    """What to use when no certified gain covers the delay bound."""
    extra_profile_steps: Annotated[int, Field(ge=0, le=200)] = 10
    """The nominal gain's exact spectral radius is tabulated up to H + this [samples]."""

    @model_validator(mode='after')
    def _grid(self) -> ScheduleConfig:
        if self.detune_max <= self.detune_min:
            raise ValueError(f'detune_max = {self.detune_max} must exceed detune_min = '
                             f'{self.detune_min}')
        return self


class SwitchingConfig(FrozenModel):
    """When to leave the nominal gain (documented in docs/models/control.md)."""

    tolerated_growth: Annotated[float, Field(gt=1.0)] = 3.0
    """G_max: the nominal loop may ride out a violation while its exact growth ρ^N stays below."""
    dwell_time_s: NonNegativeFloat = 0.5
    """Time back within the nominal bound before switching back to the nominal gain [s]."""
    delay_margin_steps: Annotated[int, Field(ge=0, le=50)] = 0
    """Added to the announced delay bound before the schedule lookup [samples]."""


class PlantModel(str, Enum):
    """What the tracking simulation integrates."""

    DOUBLE_INTEGRATOR = 'double_integrator'
    """The design model itself (exact linearisation of the unicycle)."""
    UNICYCLE = 'unicycle'
    """The differential-drive kinematics with dynamic extension (local inversion at the robot)."""


class ReferenceConfig(FrozenModel):
    """
    The figure-eight reference every tracking model follows (one naming everywhere:
    ``reference: {amplitude_m, period_s, speed_scale}``;
    :class:`~ior_ros.core.control.figure_eight.FigureEight`).
    """

    amplitude_m: PositiveFloat = 1.0
    """Half-width a of the figure eight ``(a sin ωt, (a/2) sin 2ωt)`` [m]."""
    period_s: PositiveFloat = 10.0
    """Period of the nominal figure eight [s]."""
    speed_scale: PositiveFloat = 1.0
    """The figure eight is run this many times faster than nominal: ``ω = 2π speed_scale /
    period_s`` [-] (a faster reference is a harder task; seed 003 Fig. 7)."""


def move_legacy_reference_keys(data: Any, legacy: Mapping[str, str]) -> Any:
    """
    Accept the reference's older flat keys (config files, saved resolved configs, shipped
    policies): ``legacy`` maps an old key of ``data`` to its field of ``reference``. An old key
    given beside ``reference`` overrides that field (it is the more specific, e.g. a ``--set``).
    """
    if not isinstance(data, Mapping) or not any(key in data for key in legacy):
        return data
    reference = data.get('reference')
    if isinstance(reference, ReferenceConfig):
        reference = reference.model_dump()
    if reference is not None and not isinstance(reference, Mapping):
        return data  # validation names the bad 'reference'
    out = dict(data)
    merged = dict(reference or {})
    for old, new in legacy.items():
        if old in out:
            merged[new] = out.pop(old)
    out['reference'] = merged
    return out


class TrackingConfig(FrozenModel):
    """The teleoperated tracking run (reference §7, 'Tracking simulation')."""

    reference: ReferenceConfig = ReferenceConfig()
    """The figure eight (a = 1 m, period 10 s). Old keys ``amplitude_m``, ``period_s`` are
    accepted."""
    disturbance_std_mps2: NonNegativeFloat = 0.3
    """Standard deviation of the piecewise-constant acceleration disturbance [m/s²]."""
    disturbance_hold_s: PositiveFloat = 0.5
    """The disturbance is redrawn every this many seconds [s]."""
    noise_std_mps2: NonNegativeFloat = 0.05
    """Standard deviation of the per-sample acceleration noise [m/s²]."""
    slot_s: PositiveFloat = 0.5
    """Length of a network decision slot (one delay bound per slot) [s]."""
    n_slots: Annotated[int, Field(ge=1, le=100_000)] = 120
    """Slots per run."""
    nominal_delay_steps: tuple[int, int] = (2, 12)
    """Range of a nominal slot's delay bound [samples] (inclusive)."""
    violation_delay_steps: tuple[int, int] = (13, 30)
    """Range of a violation slot's delay bound [samples] (inclusive)."""
    delay_jitter_steps: Annotated[int, Field(ge=0, le=50)] = 2
    """Per-sample delay is the slot bound minus U{0..jitter} [samples]."""
    episode_slots: tuple[int, int] = (4, 10)
    """Length range of a persistent-congestion episode [slots] (inclusive)."""
    divergence_threshold_m: PositiveFloat = 1.0
    """A run whose position error exceeds this has diverged [m]."""
    plant_model: PlantModel = PlantModel.DOUBLE_INTEGRATOR
    """Integrated plant (the controller always uses the double-integrator design model)."""
    stop_brake_per_s: PositiveFloat = 2.0
    """Local braking gain of a stop command, ``a = -c v`` [1/s]."""
    min_speed_mps: PositiveFloat = 0.05
    """Below this speed heading and curvature are not evaluated [m/s]."""

    @model_validator(mode='before')
    @classmethod
    def _legacy_reference(cls, data: Any) -> Any:
        return move_legacy_reference_keys(data, {'amplitude_m': 'amplitude_m',
                                                 'period_s': 'period_s'})

    @model_validator(mode='after')
    def _ranges(self) -> TrackingConfig:
        for name in ('nominal_delay_steps', 'violation_delay_steps', 'episode_slots'):
            lo, hi = getattr(self, name)
            if lo < 0 or hi < lo:
                raise ValueError(f'{name} = ({lo}, {hi}): need 0 <= low <= high')
        if self.episode_slots[0] < 1:
            raise ValueError('episode_slots: episodes last at least one slot')
        if self.violation_delay_steps[0] <= self.nominal_delay_steps[1]:
            raise ValueError('violation_delay_steps must lie above nominal_delay_steps')
        return self


class CurvatureMetric(str, Enum):
    """What the 'curv' term of seed 003 eq. 3 measures."""

    PATH = 'path'
    """Mean absolute curvature of the executed path (the seed's literal wording; for the 1 m
    figure eight it is ≈ 1.9 1/m, which zeroes the term for any robot)."""
    EXCESS = 'excess'
    """Mean absolute difference between the executed and the reference path curvature (the
    curvature the robot adds; the default)."""


class DexterityConfig(FrozenModel):
    """Normalisation of seed 003 eq. 3 (the seed gives no units)."""

    tracking_error_scale_m: PositiveFloat = 0.10
    """Tracking error at which its term reaches 0 (the seed's '10', read as cm) [m]."""
    orientation_error_scale_deg: PositiveFloat = 180.0
    """Orientation error at which its term reaches 0 [deg]."""
    curvature_scale_per_m: PositiveFloat = 1.0
    """Curvature at which its term reaches 0 [1/m]."""
    tracking_weight: NonNegativeFloat = 0.4
    """Weight of the tracking term (seed: 0.4)."""
    orientation_weight: NonNegativeFloat = 0.3
    """Weight of the orientation term (seed: 0.3)."""
    curvature_weight: NonNegativeFloat = 0.3
    """Weight of the curvature term (seed: 0.3)."""
    curvature_metric: CurvatureMetric = CurvatureMetric.EXCESS
    """What 'curv' measures."""


class ReproductionConfig(FrozenModel):
    """``ior reproduce seed003-table2``."""

    violation_slots: list[Annotated[int, Field(ge=0, le=100_000)]] = Field(
        [5, 10, 20], max_length=100, json_schema_extra=why('every value is one column of runs'))
    """Violation slots per run (Table II's x axis)."""
    seeds: int = Field(20, ge=1, le=1000, json_schema_extra=why(
        'every cell runs the whole tracking simulation once per seed'))
    """Runs per cell in a full run."""
    quick_seeds: int = Field(6, ge=1, le=1000, json_schema_extra=why(
        'every cell runs the whole tracking simulation once per seed'))
    """Runs per cell with --quick."""


class ControlConfig(FrozenModel):
    """Everything the control commands and the seed 003 Table II reproduction use."""

    plant: PlantConfig = PlantConfig()
    lqr: LqrConfig = LqrConfig()
    certificate: CertificateConfig = CertificateConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    switching: SwitchingConfig = SwitchingConfig()
    tracking: TrackingConfig = TrackingConfig()
    dexterity: DexterityConfig = DexterityConfig()
    reproduction: ReproductionConfig = ReproductionConfig()
