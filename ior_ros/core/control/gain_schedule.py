"""
The delay-indexed gain schedule and the switching policy.

**Offline** (:func:`build_schedule`): for every delay bound ``h = 0..H`` the certified gain closest
to the nominal LQR gain, ``K̂(h)`` (:func:`~ior_ros.core.control.delay_robust_lmi.adjust`), is
computed in parallel over h (worker processes) and stored with its LK certificate, the plant and
the exact lifted spectral radius of every gain. A bound h with no certified gain keeps an entry
with ``certified = false`` and the reason; it is never given to the controller.

**Online** (:meth:`GainSchedule.lookup`): an O(1) table lookup. The table is resolved at load time:
for each h it holds the certified gain with the *smallest* certified range ``h' >= h`` (certified
for h, since ``[0, h] ⊆ [0, h']``). Where none exists (h above every certified bound) the
configured fallback applies: the most conservative certified gain (largest range) or a stop
command — never an uncertified gain.

**Switching policy** (:class:`SwitchingPolicy`): the nominal gain stays in the loop while the
announced delay bound is within its certified range. When a violation comes, the nominal loop's
exact growth per sample ``ρ_nom(h)`` (spectral radius of the lifted matrix at the constant delay h)
gives the number of samples it tolerates, ``N_tol = log G_max / log ρ_nom(h)``. The policy switches
to ``K̂(h)`` when the violation is predicted to outlast that, i.e. when the growth accumulated in
this episode plus the predicted remaining growth exceeds ``log G_max``; the prediction is that an
episode lasts at least the current slot and at least as long again as it has lasted so far. After
the violation it keeps the robust gain until the delay has stayed within the nominal bound for the
dwell time, then switches back. Switching itself is not certified (reference §8).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ior_ros.core.artifacts import ArtifactFormat, read_artifact, write_artifact
from ior_ros.core.control.control_config import ControlConfig, FallbackPolicy
from ior_ros.core.control.delay_robust_lmi import AdjustOptions, LkCertificate, LmiOptions, adjust
from ior_ros.core.control.lifted_stability import (
    exact_delay_margin,
    growth_steps,
    spectral_radius_profile,
)
from ior_ros.core.control.lqr_design import LqrWeights, dlqr, reference_lqr_weights
from ior_ros.core.control.robot_models import (
    DelayedPlant,
    as_matrix,
    check_gain,
    planar_double_integrator,
    validate_delay_steps,
)
from ior_ros.core.errors import ControlError, ModelError
from ior_ros.core.progress import ProgressFn

__all__ = ['ScheduleEntry', 'GainLookup', 'GainSchedule', 'build_schedule',
           'schedule_from_config', 'schedule_fingerprint', 'default_workers', 'SwitchingMode',
           'PolicyDecision', 'SwitchingPolicy', 'SCHEDULE_ARTIFACT', 'SCHEDULE_FORMAT']

FloatArray = npt.NDArray[np.float64]

SCHEDULE_ARTIFACT = ArtifactFormat('ior_ros.gain_schedule', 1, 'schedule.json', 'json',
                                   'gain schedule', made_by='`ior control schedule`')
SCHEDULE_FORMAT = SCHEDULE_ARTIFACT.id


@dataclass(frozen=True, eq=False)
class ScheduleEntry:
    """
    One delay bound of the schedule.

    Attributes:
        max_delay_steps: h [samples]; the gain is certified for every delay sequence in [0, h].
        gain: ``K̂(h) [m, n]``; None when not certified.
        certified: whether a re-verified certificate exists.
        certificate: that certificate.
        distance_to_nominal: ``||K̂(h) - K||_F``.
        method: 'nominal', 'detuned_lqr', 'vk', 'synthesis' or 'failed'.
        detune_factor: input-weight factor s of the detuned LQR start.
        max_spectral_radius: exact ``max_{d <= h} ρ(𝒜(d))`` of the gain (independent check).
        exact_constant_margin_steps: the gain's exact constant-delay margin.
        reason: why the entry is not certified.
    """

    max_delay_steps: int
    gain: FloatArray | None
    certified: bool
    certificate: LkCertificate | None = None
    distance_to_nominal: float | None = None
    method: str = 'failed'
    detune_factor: float | None = None
    max_spectral_radius: float | None = None
    exact_constant_margin_steps: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the issue's ``entries[]`` item)."""
        return {
            'max_delay_steps': self.max_delay_steps,
            'gain': None if self.gain is None else self.gain.tolist(),
            'certified': self.certified,
            'method': self.method,
            'distance_to_nominal': self.distance_to_nominal,
            'detune_factor': self.detune_factor,
            'max_spectral_radius': self.max_spectral_radius,
            'exact_constant_margin_steps': self.exact_constant_margin_steps,
            'reason': self.reason,
            'certificate': None if self.certificate is None else self.certificate.to_dict(),
        }


class GainLookup(NamedTuple):
    """What the controller applies for a delay bound."""

    gain: FloatArray | None
    """``[m, n]``; None means: send a stop command."""
    source_delay_steps: int
    """The schedule entry the gain comes from (-1 for a stop command)."""
    certified_for_bound: bool
    """Whether the gain is certified for the requested bound."""


def default_workers() -> int:
    """``min(2, cpu count)``."""
    return max(1, min(2, os.cpu_count() or 1))


class GainSchedule:
    """
    Certified gains ``K̂(h)``, ``h = 0..H``, with O(1) lookup.

    Args:
        plant: the plant the gains were certified for.
        nominal_gain: the nominal LQR gain ``K``.
        entries: one per h = 0..H, in order.
        decay_rate: λ of every certificate.
        fallback: what :meth:`lookup` gives when no certified gain covers the bound.
        metadata: JSON-ready extras saved with the schedule (config, fingerprint, timings).
        nominal_profile_steps: the nominal gain's exact ρ is tabulated for d = 0..this.

    Raises:
        ModelError: entries not numbered 0..H, gains of the wrong shape.
    """

    def __init__(self, plant: DelayedPlant, nominal_gain: object,
                 entries: Sequence[ScheduleEntry], decay_rate: float = 1.0,
                 fallback: FallbackPolicy = FallbackPolicy.MOST_CONSERVATIVE,
                 metadata: Mapping[str, Any] | None = None,
                 nominal_profile_steps: int | None = None) -> None:
        self.plant = plant
        self.nominal_gain = check_gain(plant, nominal_gain)
        self.nominal_gain.setflags(write=False)
        self.entries: tuple[ScheduleEntry, ...] = tuple(entries)
        if not self.entries:
            raise ModelError('a gain schedule needs at least the entry h = 0')
        for index, entry in enumerate(self.entries):
            if entry.max_delay_steps != index:
                raise ModelError(f'schedule entries must be h = 0..H in order; entry {index} has '
                                 f'max_delay_steps = {entry.max_delay_steps}')
            if entry.certified and (entry.gain is None or entry.certificate is None):
                raise ModelError(f'entry h={index} is marked certified without gain/certificate')
            if entry.gain is not None:
                check_gain(plant, entry.gain)
        self.decay_rate = float(decay_rate)
        self.fallback = FallbackPolicy(fallback)
        self.metadata: dict[str, Any] = dict(metadata or {})
        top = self.max_delay_steps
        extra = nominal_profile_steps if nominal_profile_steps is not None else top + 10
        self.nominal_spectral_radius: FloatArray = spectral_radius_profile(
            plant.A, plant.B, self.nominal_gain, max(extra, top))  # [D + 1]
        self.nominal_spectral_radius.setflags(write=False)
        self._build_table()

    # ---- construction of the O(1) table
    def _build_table(self) -> None:
        top = self.max_delay_steps
        m, n = self.plant.n_inputs, self.plant.n_states
        certified = [e.max_delay_steps for e in self.entries if e.certified]
        self.certified_bounds: tuple[int, ...] = tuple(certified)
        self._gains = np.zeros((top + 2, m, n))  # [H + 2, m, n]; the last row: beyond H
        self._source = np.full(top + 2, -1, dtype=int)  # [H + 2]
        self._covered = np.zeros(top + 2, dtype=bool)  # [H + 2]
        most_conservative = certified[-1] if certified else -1
        next_certified = -1
        for h in range(top, -1, -1):
            if self.entries[h].certified:
                next_certified = h
            if next_certified >= 0:
                self._source[h] = next_certified
                self._covered[h] = True
            elif self.fallback is FallbackPolicy.MOST_CONSERVATIVE:
                self._source[h] = most_conservative
        if self.fallback is FallbackPolicy.MOST_CONSERVATIVE:
            self._source[top + 1] = most_conservative
        self._lookups: list[GainLookup] = []
        for h in range(top + 2):
            source = int(self._source[h])
            if source >= 0:
                gain = self.entries[source].gain
                assert gain is not None
                self._gains[h] = gain
                frozen = self._gains[h]
                frozen.setflags(write=False)
                self._lookups.append(GainLookup(frozen, source, bool(self._covered[h])))
            else:
                self._lookups.append(GainLookup(None, -1, False))
        self._gains.setflags(write=False)

    @property
    def max_delay_steps(self) -> int:
        """H."""
        return len(self.entries) - 1

    @property
    def nominal_certified_steps(self) -> int:
        """Largest h whose entry is the nominal gain itself (-1 if none)."""
        best = -1
        for entry in self.entries:
            if entry.method == 'nominal' and entry.certified:
                best = entry.max_delay_steps
        return best

    @property
    def most_conservative_steps(self) -> int:
        """Largest certified h (-1 if none)."""
        return self.certified_bounds[-1] if self.certified_bounds else -1

    def lookup(self, delay_bound_steps: int) -> GainLookup:
        """
        The gain for a delay bound, O(1).

        Bounds above H (or above every certified entry) get the configured fallback; a negative
        bound raises ModelError.
        """
        if delay_bound_steps < 0:
            raise ModelError(f'delay bound = {delay_bound_steps}: must be >= 0 samples')
        top = len(self._lookups) - 2
        return self._lookups[delay_bound_steps if delay_bound_steps <= top else top + 1]

    def with_fallback(self, fallback: FallbackPolicy) -> GainSchedule:
        """The same schedule with another fallback policy (entries are shared, not re-solved)."""
        if FallbackPolicy(fallback) is self.fallback:
            return self
        return GainSchedule(self.plant, self.nominal_gain, self.entries, self.decay_rate,
                            FallbackPolicy(fallback), self.metadata,
                            len(self.nominal_spectral_radius) - 1)

    def nominal_radius(self, delay_steps: int) -> float:
        """Exact ρ of the nominal loop at a constant delay (last tabulated value beyond)."""
        table = self.nominal_spectral_radius
        return float(table[min(max(delay_steps, 0), len(table) - 1)])

    # ---- persistence
    def to_dict(self) -> dict[str, Any]:
        """The JSON document (``schedule.json``)."""
        margin = exact_delay_margin(self.plant.A, self.plant.B, self.nominal_gain,
                                    len(self.nominal_spectral_radius) - 1)
        return {
            'format': SCHEDULE_FORMAT,
            'plant': self.plant.to_dict(),
            'nominal_gain': self.nominal_gain.tolist(),
            'decay_rate': self.decay_rate,
            'fallback': self.fallback.value,
            'nominal_delay_margin': {
                'certified_steps': self.nominal_certified_steps,
                'exact_constant_steps': margin.margin_steps,
                'first_unstable_steps': margin.first_unstable_steps,
                'growth_per_sample_at_first_unstable': margin.radius_at_first_unstable,
            },
            'nominal_spectral_radius': {
                'delay_steps': list(range(len(self.nominal_spectral_radius))),
                'values': self.nominal_spectral_radius.tolist(),
            },
            'entries': [entry.to_dict() for entry in self.entries],
            **{k: v for k, v in self.metadata.items() if k not in _RESERVED},
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], verify: bool = True) -> GainSchedule:
        """
        Rebuild a schedule; with ``verify`` every certificate is re-verified against the plant.

        Raises:
            ControlError: a certified entry whose certificate does not verify, or whose
                certificate is for another gain, range or decay rate.
            ModelError: a malformed document.
        """
        try:
            plant = DelayedPlant.from_dict(dict(doc['plant']))
            nominal = as_matrix(doc['nominal_gain'], 'nominal_gain')
            decay = float(doc.get('decay_rate', 1.0))
            fallback = FallbackPolicy(doc.get('fallback', FallbackPolicy.MOST_CONSERVATIVE.value))
            raw_entries = list(doc['entries'])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f'malformed gain schedule: {exc}') from None
        entries = []
        for raw in raw_entries:
            h = validate_delay_steps(raw.get('max_delay_steps'), 'entries[].max_delay_steps')
            gain = None if raw.get('gain') is None else check_gain(plant, raw['gain'])
            certified = bool(raw.get('certified', False))
            certificate = None
            if certified:
                if gain is None or raw.get('certificate') is None:
                    raise ControlError(f'schedule entry h={h} is marked certified but has no '
                                       'gain or certificate')
                if verify:
                    certificate = LkCertificate.from_dict(raw['certificate'], plant)
                    _check_certificate_matches(certificate, gain, h, decay)
                else:
                    certificate = _unverified_certificate(raw['certificate'], plant)
            entries.append(ScheduleEntry(
                h, gain, certified, certificate, _opt_float(raw.get('distance_to_nominal')),
                str(raw.get('method', 'failed')), _opt_float(raw.get('detune_factor')),
                _opt_float(raw.get('max_spectral_radius')),
                None if raw.get('exact_constant_margin_steps') is None
                else int(raw['exact_constant_margin_steps']), raw.get('reason')))
        metadata = {k: v for k, v in doc.items() if k not in _RESERVED}
        profile = doc.get('nominal_spectral_radius', {})
        steps = None
        if isinstance(profile, Mapping) and profile.get('values'):
            steps = len(profile['values']) - 1
        return cls(plant, nominal, entries, decay, fallback, metadata, steps)

    def save(self, path: str | Path) -> Path:
        """Write the JSON document atomically (``path``: the file, or a folder to hold it)."""
        return write_artifact(path, SCHEDULE_ARTIFACT, self.to_dict())

    @classmethod
    def load(cls, path: str | Path, verify: bool = True) -> GainSchedule:
        """
        Read and (by default) re-verify a schedule (``schedule.json`` or a folder holding it).

        Raises:
            ArtifactError: missing or unreadable file, another format or version.
            ModelError, ControlError: see :meth:`from_dict`.
        """
        return cls.from_dict(read_artifact(path, SCHEDULE_ARTIFACT).document, verify)


_RESERVED = frozenset({'format', 'plant', 'nominal_gain', 'decay_rate', 'fallback', 'entries',
                       'nominal_delay_margin', 'nominal_spectral_radius'})


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _check_certificate_matches(cert: LkCertificate, gain: FloatArray, h: int,
                               decay: float) -> None:
    if not np.array_equal(cert.gain, gain):
        raise ControlError(f'schedule entry h={h}: the certificate is for another gain')
    if cert.min_delay_steps != 0 or cert.max_delay_steps != h or cert.kind.value != 'interval':
        raise ControlError(f'schedule entry h={h}: the certificate covers '
                           f'[{cert.min_delay_steps}, {cert.max_delay_steps}] ({cert.kind.value}),'
                           f' not [0, {h}]')
    if cert.decay_rate > decay + 1e-15:
        raise ControlError(f'schedule entry h={h}: certificate decay rate {cert.decay_rate} is '
                           f"weaker than the schedule's {decay}")


def _unverified_certificate(doc: Mapping[str, Any], plant: DelayedPlant) -> LkCertificate:
    from ior_ros.core.control.delay_robust_lmi import CertificateKind
    return LkCertificate(CertificateKind(doc['kind']), int(doc['min_delay_steps']),
                         int(doc['max_delay_steps']), float(doc['decay_rate']),
                         check_gain(plant, doc['gain']),
                         {str(k): as_matrix(v, str(k)) for k, v in doc['multipliers'].items()},
                         tuple(float(v) for v in doc.get('psi_max_eigenvalues', ())),
                         float(doc.get('normalized_margin', 0.0)))


# --------------------------------------------------------------------------------------------
# Offline build


def _entry_job(plant_doc: dict[str, Any], nominal: list[list[float]], q: list[list[float]],
               r: list[list[float]], h: int, decay: float, lmi: LmiOptions,
               adjust_options: AdjustOptions) -> dict[str, Any]:
    """One h (runs in a worker process); returns the entry's JSON form."""
    plant = DelayedPlant.from_dict(plant_doc)
    weights = LqrWeights(np.array(q), np.array(r))
    try:
        result = adjust(np.array(nominal), h, decay, plant=plant, lqr_weights=weights,
                        options=lmi, adjust_options=adjust_options)
    except ControlError as exc:
        return ScheduleEntry(h, None, False, reason=str(exc)).to_dict()
    profile = spectral_radius_profile(plant.A, plant.B, result.gain, h)
    margin = exact_delay_margin(plant.A, plant.B, result.gain, h + 60)
    entry = ScheduleEntry(h, result.gain, True, result.certificate, result.distance,
                          result.method, result.detune_factor, float(np.max(profile)),
                          margin.margin_steps)
    return entry.to_dict()


def build_schedule(plant: DelayedPlant, nominal_gain: object, lqr_weights: LqrWeights,
                   max_delay_steps: int, decay_rate: float = 1.0, *,
                   options: LmiOptions | None = None,
                   adjust_options: AdjustOptions | None = None, workers: int | None = None,
                   progress: ProgressFn | None = None,
                   fallback: FallbackPolicy = FallbackPolicy.MOST_CONSERVATIVE,
                   metadata: Mapping[str, Any] | None = None,
                   extra_profile_steps: int = 10) -> GainSchedule:
    """
    Build ``K̂(h)`` for ``h = 0..H`` in parallel over h (worker processes).

    Each entry is :func:`adjust`'s closest certified gain; an infeasible h gives an uncertified
    entry with the ControlError's message as its reason. The result does not depend on the
    number of workers (each h is solved independently).

    Args:
        workers: processes (None: ``min(2, cpu)``); 1 runs in this process.
        progress: called with 1 each time an entry h is done (H + 1 calls).
    """
    top = validate_delay_steps(max_delay_steps)
    k = check_gain(plant, nominal_gain)
    options = options or LmiOptions()
    adjust_options = adjust_options or AdjustOptions()
    count = workers if workers is not None else default_workers()
    if count < 1:
        raise ModelError(f'workers = {count}: must be >= 1')
    args = [(plant.to_dict(), k.tolist(), lqr_weights.Q.tolist(), lqr_weights.R.tolist(), h,
             float(decay_rate), options, adjust_options) for h in range(top + 1)]
    results: dict[int, dict[str, Any]] = {}
    if count == 1:
        for job in args:
            results[job[4]] = _entry_job(*job)
            if progress is not None:
                progress(1)
    else:
        # the slowest bounds (just above the nominal margin) first
        with ProcessPoolExecutor(max_workers=count) as pool:
            futures = {pool.submit(_entry_job, *job): job[4] for job in args}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if progress is not None:
                    progress(1)
    doc = {'plant': plant.to_dict(), 'nominal_gain': k.tolist(), 'decay_rate': float(decay_rate),
           'fallback': FallbackPolicy(fallback).value,
           'entries': [results[h] for h in range(top + 1)],
           'nominal_spectral_radius': {'values': [0.0] * (top + extra_profile_steps + 1)},
           **dict(metadata or {})}
    # entries were verified in the workers; verify again here (cheap) so what we hold is checked
    return GainSchedule.from_dict(doc, verify=True)


def schedule_fingerprint(config: ControlConfig) -> str:
    """SHA-256 of everything that determines the schedule's gains (not the worker count)."""
    relevant = {
        'plant': config.plant.model_dump(mode='json'),
        'lqr': config.lqr.model_dump(mode='json'),
        'certificate': config.certificate.model_dump(mode='json'),
        'schedule': config.schedule.model_dump(mode='json', exclude={'workers', 'fallback'}),
    }
    text = json.dumps(relevant, sort_keys=True)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]


def lmi_options_from_config(config: ControlConfig) -> LmiOptions:
    """The LMI options of a configuration."""
    return LmiOptions(epsilon=config.certificate.epsilon, solver=config.certificate.solver,
                      per_axis=config.certificate.per_axis)


def adjust_options_from_config(config: ControlConfig) -> AdjustOptions:
    """The adjustment options of a configuration."""
    sched = config.schedule
    grid = tuple(float(v) for v in np.logspace(math.log10(sched.detune_min),
                                               math.log10(sched.detune_max),
                                               sched.detune_points))
    return AdjustOptions(detune_grid=grid, bisection_steps=sched.bisection_steps,
                         vk_iterations=sched.vk_iterations, vk_tolerance=sched.vk_tolerance)


def schedule_from_config(config: ControlConfig, max_delay_steps: int | None = None, *,
                         workers: int | None = None, progress: ProgressFn | None = None
                         ) -> GainSchedule:
    """
    Build the schedule of the reference robot described by ``config`` (``progress``: see
    :func:`build_schedule`).
    """
    plant = planar_double_integrator(config.plant.sample_period_s, config.plant.axes)
    weights = reference_lqr_weights(config.plant.axes, config.lqr.position_weight,
                                    config.lqr.velocity_weight, config.lqr.input_weight)
    nominal = dlqr(plant, weights).gain
    top = config.schedule.max_delay_steps if max_delay_steps is None else max_delay_steps
    metadata = {'config_fingerprint': schedule_fingerprint(config.model_copy(
        update={'schedule': config.schedule.model_copy(update={'max_delay_steps': top})})),
        'lqr_weights': {'Q': weights.Q.tolist(), 'R': weights.R.tolist()}}
    return build_schedule(plant, nominal, weights, top, config.certificate.decay_rate,
                          options=lmi_options_from_config(config),
                          adjust_options=adjust_options_from_config(config),
                          workers=workers if workers is not None else config.schedule.workers,
                          progress=progress, fallback=config.schedule.fallback,
                          metadata=metadata,
                          extra_profile_steps=config.schedule.extra_profile_steps)


# --------------------------------------------------------------------------------------------
# Switching policy


class SwitchingMode(str, Enum):
    """Which kind of gain the policy applies."""

    NOMINAL = 'nominal'
    SCHEDULED = 'scheduled'
    STOP = 'stop'


class PolicyDecision(NamedTuple):
    """The policy's choice for one interval."""

    mode: SwitchingMode
    gain: FloatArray | None
    """``[m, n]``; None: stop command."""
    delay_bound_steps: int
    """The bound the gain was looked up for."""
    certified_for_bound: bool
    """Whether the applied gain is certified for that bound (the nominal gain riding out a
    short violation is not)."""


class SwitchingPolicy:
    """
    Nominal gain by default; switch to ``K̂(h)`` when a violation is predicted to outlast what the
    nominal loop tolerates (module docstring); back after a dwell time.

    Args:
        schedule: the certified schedule (gives ``K̂(h)`` and the nominal ``ρ_nom(h)``).
        tolerated_growth: G_max > 1.
        dwell_steps: samples within the nominal bound before returning to the nominal gain.
        delay_margin_steps: added to the announced bound before the lookup.
        always_switch: switch at every violation (the plain schedule, no growth test).
    """

    def __init__(self, schedule: GainSchedule, tolerated_growth: float, dwell_steps: int,
                 delay_margin_steps: int = 0, always_switch: bool = False) -> None:
        if not tolerated_growth > 1.0:
            raise ModelError(f'tolerated_growth = {tolerated_growth!r}: must be > 1')
        self.schedule = schedule
        self.log_tolerance = math.log(tolerated_growth)
        self.tolerated_growth = float(tolerated_growth)
        self.dwell_steps = validate_delay_steps(dwell_steps, 'dwell_steps')
        self.margin = validate_delay_steps(delay_margin_steps, 'delay_margin_steps')
        self.always_switch = always_switch
        self.nominal_bound = schedule.nominal_certified_steps
        self.reset()

    def reset(self) -> None:
        """Back to the nominal gain, no violation history."""
        self._previous_bound = 0
        self._mode = SwitchingMode.NOMINAL
        self._episode_steps = 0
        self._episode_log_growth = 0.0
        self._calm_steps = 0
        self._held: PolicyDecision | None = None

    def tolerated_steps(self, delay_bound_steps: int) -> float:
        """``log G_max / log ρ_nom(h)``: samples the nominal loop tolerates at bound h."""
        return growth_steps(self.schedule.nominal_radius(delay_bound_steps),
                            self.tolerated_growth)

    def _nominal(self, bound: int) -> PolicyDecision:
        return PolicyDecision(SwitchingMode.NOMINAL, self.schedule.nominal_gain, bound,
                              bound <= self.nominal_bound)

    def _scheduled(self, bound: int) -> PolicyDecision:
        found = self.schedule.lookup(bound)
        if found.gain is None:
            return PolicyDecision(SwitchingMode.STOP, None, bound, False)
        return PolicyDecision(SwitchingMode.SCHEDULED, found.gain, bound,
                              found.certified_for_bound)

    def decide(self, delay_bound_steps: int, interval_steps: int) -> PolicyDecision:
        """
        The gain for the next ``interval_steps`` samples, whose delays are announced to stay
        below ``delay_bound_steps``.
        """
        announced = validate_delay_steps(delay_bound_steps, 'delay_bound_steps')
        steps = validate_delay_steps(interval_steps, 'interval_steps')
        # commands of the previous interval may still be in flight: cover both bounds
        bound = max(announced, self._previous_bound) + self.margin
        self._previous_bound = announced
        if bound <= self.nominal_bound:
            self._episode_steps = 0
            self._episode_log_growth = 0.0
            if self._mode is SwitchingMode.NOMINAL:
                return self._nominal(bound)
            self._calm_steps += steps
            if self._calm_steps >= self.dwell_steps or self._held is None:
                self._mode = SwitchingMode.NOMINAL
                self._held = None
                return self._nominal(bound)
            return self._held
        # a violation
        self._calm_steps = 0
        self._episode_steps += steps
        log_rate = math.log(max(self.schedule.nominal_radius(bound), 1e-300))
        if self._mode is SwitchingMode.NOMINAL and not self.always_switch:
            remaining = max(steps, self._episode_steps)  # persistence predictor
            predicted = self._episode_log_growth + remaining * max(log_rate, 0.0)
            if predicted <= self.log_tolerance:
                self._episode_log_growth += steps * max(log_rate, 0.0)
                return self._nominal(bound)
        decision = self._scheduled(bound)
        self._mode = decision.mode
        self._held = decision
        return decision
