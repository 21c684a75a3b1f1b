"""
The delay-indexed gain schedule: certified gains ``K̂(h)``, ``h = 0..H``, with an O(1) lookup.

Each entry is the certified gain closest to the nominal LQR gain for the delay bound h
(:func:`~ior_ros.core.control.gain_adjustment.adjust`), stored with its LK certificate, the plant
and the exact lifted spectral radius of the gain; it is built offline by
:mod:`~ior_ros.core.control.schedule_build` and used online by
:mod:`~ior_ros.core.control.switching_policy`. A bound h with no certified gain keeps an entry with
``certified = false`` and the reason; it is never given to the controller.

**Online** (:meth:`GainSchedule.lookup`): an O(1) table lookup. The table is resolved at load time:
for each h it holds the certified gain with the *smallest* certified range ``h' >= h`` (certified
for h, since ``[0, h] ⊆ [0, h']``). Where none exists (h above every certified bound) the
configured fallback applies: the most conservative certified gain (largest range) or a stop
command — never an uncertified gain.

:data:`REFERENCE_SCHEDULE` is the schedule of the reference robot (``ControlConfig()`` defaults,
h = 0..30), shipped with the package and used by ``ior reproduce seed003-table2``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ior_ros.core.artifacts import ArtifactFormat, read_artifact, write_artifact
from ior_ros.core.control.control_config import FallbackPolicy
from ior_ros.core.control.lifted_stability import exact_delay_margin, spectral_radius_profile
from ior_ros.core.control.lk_certificate import LkCertificate
from ior_ros.core.control.lk_functional import CertificateKind
from ior_ros.core.control.robot_models import (
    DelayedPlant,
    as_matrix,
    check_gain,
    validate_delay_steps,
)
from ior_ros.core.errors import ControlError, ModelError

__all__ = ['ScheduleEntry', 'GainLookup', 'GainSchedule', 'SCHEDULE_ARTIFACT', 'SCHEDULE_FORMAT',
           'REFERENCE_SCHEDULE']

FloatArray = npt.NDArray[np.float64]

SCHEDULE_ARTIFACT = ArtifactFormat('ior_ros.gain_schedule', 1, 'schedule.json', 'json',
                                   'gain schedule', made_by='`ior control schedule`')
SCHEDULE_FORMAT = SCHEDULE_ARTIFACT.id

REFERENCE_SCHEDULE = Path(__file__).with_name('reference_schedule.json')
"""The certified schedule h = 0..30 of the reference robot (``ControlConfig()`` defaults)."""


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
    return LkCertificate(CertificateKind(doc['kind']), int(doc['min_delay_steps']),
                         int(doc['max_delay_steps']), float(doc['decay_rate']),
                         check_gain(plant, doc['gain']),
                         {str(k): as_matrix(v, str(k)) for k, v in doc['multipliers'].items()},
                         tuple(float(v) for v in doc.get('psi_max_eigenvalues', ())),
                         float(doc.get('normalized_margin', 0.0)))
