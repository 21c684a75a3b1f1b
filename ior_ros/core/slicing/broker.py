"""
The slice broker: admits slice templates and splits the carrier's PRBs between the admitted slices
every policy period (the core of the ``slice_broker`` node; no ROS, no clock, no I/O).

Admission (:func:`admit`)
    Templates (:mod:`ior_ros.core.slicing.slice_templates`) are taken in order (priority, name).
    One is rejected, with a reason, when (1) the cell already carries an admitted slice of its
    kind (the emulated cell has one eMBB and one URLLC slice), (2) the admitted slices' min ratios
    plus its own would exceed 1 (TS 28.541: the min ratios of all RRM policies of a cell add up to
    at most 100 %), or (3) its guaranteed bit rate exceeds what its max ratio can carry:
    ``floor(max · K) · B_PRB · SE``, SE the spectral efficiency [bit/s/Hz] configured or, once
    the first metrics arrive, measured (``log2(1 + SINR)``, the Shannon rate of seed 003 eq. 1).
    Admission runs at start with the configured SE and once more on the first metrics with the
    measured SE, then stays fixed (a slice that flapped between admitted and rejected with the
    fading would be worse than either). A rejected slice gets 0 PRBs. States: ``admitted``
    (waiting for traffic), ``active`` (admitted and seen in the metrics), ``rejected``.

PRB bounds (TS 28.541 RRMPolicyRatio)
    With K PRBs a slice gets at most ``floor(max · K)``; at least ``floor(min · K)`` while it has
    data (a backlog or a delivered rate, or before any metrics), otherwise at least
    ``floor(dedicated · K)``. :func:`fit_counts` turns an allocator's wish into integers within
    these bounds that sum to at most K (K when the max ratios allow: unused PRBs help no one).

Allocators (``policy``): :mod:`ior_ros.core.slicing.slice_allocators` (static, pf, dpp, drl,
    puncturing); each gives a wish in PRBs, :func:`fit_counts` makes it feasible. The DPP
    virtual queue Z on URLLC delay-budget violations lives here, in :class:`Broker`, because it
    needs the measured delay: ``Z ← max(Z + 1{D > D_budget} - (1 - χ), 0)`` per period, D the
    larger of the cell's mean URLLC delay and the robot's command delay.

Closed-loop feedback (docs/models/slicing.md §10)
    The URLLC weight ``w_u = clip(1 + g ((DI_ref - DI)^+ / DI_ref + (e - e_ref)^+ / e_ref), 1,
    w_max)`` rises when the robot's dexterity index DI falls below ``di_reference`` or its
    tracking error e grows beyond ``error_reference_m``; g = ``di_gain`` (0: off). Every
    allocator scales the URLLC slice's claim by it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from pydantic import Field

from ior_ros.core.config import FrozenModel
from ior_ros.core.errors import ConfigError
from ior_ros.core.slicing.policy import SlicingPolicy
from ior_ros.core.slicing.slice_allocators import (
    Allocator,
    AllocatorName,
    CellView,
    DppAllocator,
    DppSettings,
    DrlAllocator,
    PfAllocator,
    PuncturingAllocator,
    StaticAllocator,
)
from ior_ros.core.slicing.slice_templates import SliceKind, SliceTemplate

__all__ = ['AllocatorName', 'BrokerConfig', 'SliceState', 'Admission', 'admit', 'prb_bounds',
           'fit_counts', 'SliceMetrics', 'BrokerMetrics', 'Allocation', 'SliceStatus',
           'CellView', 'urllc_weight', 'Broker']

_EPS = 1e-9


class BrokerConfig(FrozenModel):
    """The broker's cell, allocator and feedback settings (module docstring)."""

    total_prbs: int = Field(50, ge=1, le=275)
    """K: PRBs of the carrier (50: the ran_emulator's default; 275 the largest NR carrier)."""
    policy: AllocatorName = AllocatorName.DPP
    period_s: float = Field(0.1, ge=1e-3, le=60.0)
    """T: how long one allocation holds [s]."""
    prb_bandwidth_hz: float = Field(180e3, gt=0.0, le=10e6)
    """B_PRB: 12 subcarriers of 15 kHz (NR numerology 0, the emulator's link model)."""
    spectral_efficiency_bps_per_hz: float = Field(5.0, gt=0.0, le=30.0)
    """SE used by admission and the allocators until a slice reports its SINR [bit/s/Hz]."""
    di_gain: float = Field(0.0, ge=0.0, le=100.0)
    """g of the closed-loop URLLC weight; 0 switches the feedback off."""
    di_reference: float = Field(0.7, gt=0.0, le=1.0)
    """DI below which the URLLC weight rises (0.7: seed 003's fixed DI, config/slicing.yaml)."""
    error_reference_m: float = Field(0.05, gt=0.0, le=100.0)
    """Tracking error above which the URLLC weight rises [m]."""
    max_urllc_weight: float = Field(10.0, ge=1.0, le=1000.0)
    """w_max: the largest URLLC weight."""
    pf_beta: float = Field(0.9, ge=0.0, lt=1.0)
    """β of the PF averages per period (time constant 1 / (1 - β) periods)."""
    dpp_penalty_weight: float = Field(1.0, ge=0.0, le=1e6)
    """V of the drift-plus-penalty objective."""
    dpp_rate_reference_bps: float = Field(20e6, gt=0.0)
    """r_ref of the rate cost h for a slice whose guaranteed bit rate is 0 (config/slicing.yaml's
    rate_reference_bps)."""
    dpp_rate_epsilon: float = Field(1e-3, gt=0.0, le=1.0)
    """ε of the rate cost h (seed 003 eq. 7)."""
    dpp_queue_reference_bits: float = Field(1e5, gt=0.0)
    """Q_ref of a slice without a guaranteed bit rate: its backlog enters the drift divided by
    this [bit] (the others use GBR x delay budget)."""
    urllc_reliability: float = Field(0.95, gt=0.0, le=1.0)
    """χ: the share of periods whose URLLC delay must stay within the budget (Table I: 0.95)."""
    tail_coefficient_per_bit: float = Field(1e-5, gt=0.0)
    """α1 of the delay-tail approximation of seed 003 eq. 12 [1/bit]."""
    arrival_smoothing: float = Field(0.5, gt=0.0, le=1.0)
    """Weight of the newest sample in the arrival-rate estimate (1: newest only)."""


# ----------------------------------------------------------------------------------------------
# admission


class SliceState(str, Enum):
    """Lifecycle of a template in the broker."""

    ADMITTED = 'admitted'
    REJECTED = 'rejected'
    ACTIVE = 'active'


@dataclass(frozen=True)
class Admission:
    """The admission verdict of one template."""

    template: SliceTemplate
    admitted: bool
    reason: str
    """Why it was rejected (empty when admitted)."""


def prb_bounds(template: SliceTemplate, total_prbs: int) -> tuple[int, int, int]:
    """``(dedicated, min, max)`` PRB counts: ``floor(ratio · K)`` each."""
    r = template.prb_ratio
    return (math.floor(r.dedicated * total_prbs + _EPS), math.floor(r.min * total_prbs + _EPS),
            math.floor(r.max * total_prbs + _EPS))


def admit(templates: Sequence[SliceTemplate], total_prbs: int, prb_bandwidth_hz: float,
          spectral_efficiency: Mapping[SliceKind, float]) -> list[Admission]:
    """
    Admission in the order given (module docstring: the three reasons for a rejection).

    Args:
        spectral_efficiency: SE per slice kind [bit/s/Hz].
    """
    out: list[Admission] = []
    holder: dict[SliceKind, str] = {}
    min_sum = 0.0
    for t in templates:
        reason = ''
        se = spectral_efficiency[t.kind]
        capacity = prb_bounds(t, total_prbs)[2] * prb_bandwidth_hz * se
        if t.kind in holder:
            reason = (f'the cell carries one {t.kind.value} slice and {holder[t.kind]!r} '
                      'holds it')
        elif min_sum + t.prb_ratio.min > 1.0 + _EPS:
            reason = (f'min PRB ratios would add up to {min_sum + t.prb_ratio.min:.3g} > 1 '
                      f'(admitted: {min_sum:.3g}, this slice: {t.prb_ratio.min:.3g})')
        elif t.guaranteed_bitrate_bps > capacity + _EPS:
            reason = (f'guaranteed {t.guaranteed_bitrate_bps / 1e6:.3g} Mbit/s > '
                      f'{capacity / 1e6:.3g} Mbit/s that its max ratio {t.prb_ratio.max:g} '
                      f'carries ({prb_bounds(t, total_prbs)[2]} of {total_prbs} PRBs x '
                      f'{prb_bandwidth_hz / 1e3:g} kHz x {se:.3g} bit/s/Hz)')
        if not reason:
            holder[t.kind] = t.name
            min_sum += t.prb_ratio.min
        out.append(Admission(t, not reason, reason))
    return out


def fit_counts(wish: Sequence[float], low: Sequence[int], high: Sequence[int],
               total: int) -> list[int]:
    """
    Integer PRB counts within ``[low_i, high_i]`` summing to at most ``total`` and as close to
    ``wish`` as the bounds allow: every slice starts at its low bound, then each remaining PRB
    goes to the slice furthest below its wish that is still under its high bound (ties: the
    first); PRBs are handed out while any slice can take one (work conserving).

    Raises:
        ConfigError: the low bounds add up to more than ``total`` (admission prevents it).
    """
    counts = [int(lo) for lo in low]
    if sum(counts) > total:
        raise ConfigError(f'PRB lower bounds {counts} add up to more than total_prbs = {total}')
    hi = [max(int(h), lo) for h, lo in zip(high, counts, strict=True)]
    left = total - sum(counts)
    w = [float(x) if math.isfinite(x) else 0.0 for x in wish]
    while left > 0:
        best = -1
        for i, n in enumerate(counts):
            if n < hi[i] and (best < 0 or w[i] - n > w[best] - counts[best]):
                best = i
        if best < 0:
            break
        counts[best] += 1
        left -= 1
    return counts


# ----------------------------------------------------------------------------------------------
# inputs and outputs


#: largest magnitude a metric is taken at (1 Tbit/s, 1 Tbit of backlog, ~11 days of delay,
#: 10^12 dB): larger values are clipped so that squares stay finite
_METRIC_CAP = 1e12


def _clean(value: float | None, *, allow_negative: bool = False) -> float | None:
    """A finite number (non-negative unless allowed) clipped to ±:data:`_METRIC_CAP`, else None:
    what a peer sent is untrusted."""
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(x) or (x < 0.0 and not allow_negative):
        return None
    return min(max(x, -_METRIC_CAP), _METRIC_CAP)


@dataclass(frozen=True)
class SliceMetrics:
    """One cell slice over the last reporting interval (msg/UeMetrics.msg); None: unknown."""

    rate_bps: float | None = None
    queue_bits: float | None = None
    delay_s: float | None = None
    """Mean delay of the packets that left in the interval; 0 or None: no departure."""
    sinr_db: float | None = None

    def cleaned(self) -> SliceMetrics:
        """NaN, infinite and negative values (dB may be negative) replaced by None."""
        return SliceMetrics(_clean(self.rate_bps), _clean(self.queue_bits),
                            _clean(self.delay_s),
                            _clean(self.sinr_db, allow_negative=True))


@dataclass(frozen=True)
class BrokerMetrics:
    """What the broker sees before a decision: the cell's metrics and the robot's state."""

    slices: Mapping[int, SliceMetrics] = field(default_factory=dict)
    """Per cell slice id (0 eMBB, 1 URLLC); other ids are ignored."""
    interval_s: float | None = None
    """Length of the reporting interval [s]."""
    dexterity_index: float | None = None
    tracking_error_m: float | None = None
    command_delay_s: float | None = None
    """Largest one-way command delay measured by the robot since the last decision [s]."""


@dataclass(frozen=True)
class Allocation:
    """One decision: PRBs per template and per cell slice."""

    prbs: dict[str, int]
    """PRBs per template name (0 for a rejected template)."""
    slice_prbs: dict[int, int]
    """PRBs per cell slice id (0 and 1 always present)."""
    total_prbs: int
    policy: str
    urllc_weight: float
    virtual_queue: float

    def differs(self, other: Allocation | None, threshold_prbs: int) -> bool:
        """True when a slice's PRBs moved by at least ``threshold_prbs`` (or no previous)."""
        if other is None:
            return True
        return any(abs(n - other.slice_prbs.get(s, 0)) >= threshold_prbs
                   for s, n in self.slice_prbs.items())


@dataclass(frozen=True)
class SliceStatus:
    """What the broker reports per template (msg/SliceState.msg)."""

    template: SliceTemplate
    state: SliceState
    reason: str
    prbs: int
    target_rate_bps: float
    measured_rate_bps: float
    """NaN when not measured yet."""
    measured_delay_s: float
    """NaN when not measured yet."""


# ----------------------------------------------------------------------------------------------
# allocators


def urllc_weight(config: BrokerConfig, dexterity_index: float | None,
                 tracking_error_m: float | None) -> float:
    """The closed-loop URLLC weight (module docstring); 1 when the gain is 0 or nothing known."""
    if config.di_gain <= 0.0:
        return 1.0
    push = 0.0
    if dexterity_index is not None:
        push += max(config.di_reference - dexterity_index, 0.0) / config.di_reference
    if tracking_error_m is not None:
        push += max(tracking_error_m - config.error_reference_m, 0.0) / config.error_reference_m
    return float(min(max(1.0 + config.di_gain * push, 1.0), config.max_urllc_weight))


# ----------------------------------------------------------------------------------------------
# the broker


@dataclass
class _Slice:
    """Per-template bookkeeping."""

    template: SliceTemplate
    admission: Admission
    state: SliceState
    prbs: int = 0
    rate_bps: float | None = None
    queue_bits: float | None = None
    delay_s: float | None = None
    sinr_db: float | None = None
    arrival_bps: float | None = None


class Broker:
    """
    Admission plus one allocation per :meth:`step` (module docstring).

    Args:
        templates: in admission order (:func:`~ior_ros.core.slicing.slice_templates.
            load_templates` sorts them).
        config: the cell, allocator and feedback settings.
        policy: the deployable slicer; required by ``policy = drl``.

    Raises:
        ConfigError: ``drl`` without a policy, or no template.
    """

    def __init__(self, templates: Sequence[SliceTemplate], config: BrokerConfig,
                 policy: SlicingPolicy | None = None) -> None:
        if not templates:
            raise ConfigError('slice broker: no slice template')
        self.config = config
        self.virtual_queue = 0.0
        self._measured_admission = False
        self._seen_metrics = False
        self._slices = [_Slice(t, Admission(t, True, ''), SliceState.ADMITTED)
                        for t in templates]
        self._admit({k: config.spectral_efficiency_bps_per_hz for k in SliceKind})
        self._static = StaticAllocator()
        self.allocator: Allocator
        if config.policy is AllocatorName.DRL:
            if policy is None:
                raise ConfigError("policy 'drl' needs a slicing policy (policy_path)")
            self.allocator = DrlAllocator(policy)
        elif config.policy is AllocatorName.PF:
            self.allocator = PfAllocator(config.pf_beta)
        elif config.policy is AllocatorName.DPP:
            self.allocator = DppAllocator(DppSettings(
                config.dpp_penalty_weight, config.dpp_rate_reference_bps,
                config.dpp_rate_epsilon, config.dpp_queue_reference_bits,
                config.urllc_reliability, config.tail_coefficient_per_bit))
        elif config.policy is AllocatorName.PUNCTURING:
            self.allocator = PuncturingAllocator()
        else:
            self.allocator = self._static
        self.last: Allocation | None = None

    # ------------------------------------------------------------------------------------------

    def _admit(self, se: Mapping[SliceKind, float]) -> None:
        verdicts = admit([s.template for s in self._slices], self.config.total_prbs,
                         self.config.prb_bandwidth_hz, se)
        for s, verdict in zip(self._slices, verdicts, strict=True):
            s.admission = verdict
            if not verdict.admitted:
                s.state = SliceState.REJECTED
            elif s.state is SliceState.REJECTED:
                s.state = SliceState.ADMITTED

    def _se(self, s: _Slice) -> float:
        if s.sinr_db is None:
            return self.config.spectral_efficiency_bps_per_hz
        return math.log2(1.0 + 10.0 ** (min(s.sinr_db, 60.0) / 10.0))

    @property
    def admissions(self) -> list[Admission]:
        """The verdict per template, in admission order."""
        return [s.admission for s in self._slices]

    def _ingest(self, metrics: BrokerMetrics) -> list[float | None]:
        """Update per-slice measurements; the delivered rates per admitted slice."""
        interval = _clean(metrics.interval_s)
        by_kind: dict[SliceKind, SliceMetrics] = {}
        for slice_id, raw in metrics.slices.items():
            for kind in SliceKind:
                if kind.slice_id == slice_id and isinstance(raw, SliceMetrics):
                    by_kind[kind] = raw.cleaned()
        alpha = self.config.arrival_smoothing
        for s in self._slices:
            m = by_kind.get(s.template.kind)
            if m is None or not s.admission.admitted:
                continue
            if m.queue_bits is not None and m.rate_bps is not None:
                grown = 0.0
                if s.queue_bits is not None and interval:
                    grown = (m.queue_bits - s.queue_bits) / interval
                sample = max(m.rate_bps + grown, 0.0)
                s.arrival_bps = sample if s.arrival_bps is None else \
                    alpha * sample + (1.0 - alpha) * s.arrival_bps
            s.rate_bps = m.rate_bps if m.rate_bps is not None else s.rate_bps
            s.queue_bits = m.queue_bits if m.queue_bits is not None else s.queue_bits
            if m.delay_s:
                s.delay_s = m.delay_s
            if m.sinr_db is not None:
                s.sinr_db = m.sinr_db
                if isinstance(self.allocator, DrlAllocator):
                    self.allocator.note_sinr(s.template.kind, m.sinr_db)
            s.state = SliceState.ACTIVE
        if by_kind and not self._measured_admission:
            self._measured_admission = True
            measured = {k: self.config.spectral_efficiency_bps_per_hz for k in SliceKind}
            for s in self._slices:
                got = by_kind.get(s.template.kind)
                if got is not None and got.sinr_db is not None:
                    measured[s.template.kind] = math.log2(
                        1.0 + 10.0 ** (min(got.sinr_db, 60.0) / 10.0))
            self._admit(measured)
        return [by_kind[s.template.kind].rate_bps if s.template.kind in by_kind else None
                for s in self._slices if s.admission.admitted]

    def _update_virtual_queue(self, metrics: BrokerMetrics) -> None:
        urllc = [s for s in self._slices
                 if s.admission.admitted and s.template.kind is SliceKind.URLLC]
        if not urllc:
            return
        samples = []
        m = metrics.slices.get(SliceKind.URLLC.slice_id)
        if isinstance(m, SliceMetrics):
            d = m.cleaned().delay_s
            if d:
                samples.append(d)
        cmd = _clean(metrics.command_delay_s)
        if cmd is not None:
            samples.append(cmd)
        if samples:
            violated = max(samples) > urllc[0].template.delay_budget_s
            self.virtual_queue = max(self.virtual_queue + float(violated)
                                     - (1.0 - self.config.urllc_reliability), 0.0)

    def view(self, metrics: BrokerMetrics | None = None) -> CellView:
        """The allocators' view of the admitted slices now."""
        k = self.config.total_prbs
        admitted = [s for s in self._slices if s.admission.admitted]
        w_u = urllc_weight(self.config, _clean(metrics.dexterity_index) if metrics else None,
                           _clean(metrics.tracking_error_m) if metrics else None)
        low, high = [], []
        for s in admitted:
            ded, mn, mx = prb_bounds(s.template, k)
            busy = not self._seen_metrics or (s.queue_bits or 0.0) > 0.0 \
                or (s.rate_bps or 0.0) > 0.0
            low.append(mn if busy else ded)
            high.append(mx)
        return CellView(
            kinds=[s.template.kind for s in admitted], templates=[s.template for s in admitted],
            low=low, high=high,
            prb_rate_bps=[self.config.prb_bandwidth_hz * self._se(s) for s in admitted],
            queue_bits=[s.queue_bits or 0.0 for s in admitted],
            arrival_bps=[s.arrival_bps or 0.0 for s in admitted],
            delay_s=[s.delay_s for s in admitted],
            weight=[w_u if s.template.kind is SliceKind.URLLC else 1.0 for s in admitted],
            total_prbs=k, period_s=self.config.period_s, virtual_queue=self.virtual_queue,
            dexterity_index=_clean(metrics.dexterity_index) if metrics else None)

    def step(self, metrics: BrokerMetrics | None = None) -> Allocation:
        """
        One decision. Without metrics ever seen it is the static allocation (the template
        ratios); otherwise the configured allocator's, within every slice's PRB bounds.
        """
        delivered: list[float | None] = []
        if metrics is not None:
            delivered = self._ingest(metrics)
            if metrics.slices:
                self._seen_metrics = True
            self._update_virtual_queue(metrics)
        view = self.view(metrics)
        if self._seen_metrics:
            if metrics is not None:
                self.allocator.observe(view, delivered)
            wish = self.allocator.wish(view)
        else:
            wish = self._static.wish(view)
        counts = fit_counts(wish, view.low, view.high, view.total_prbs)
        by_kind = dict(zip(view.kinds, counts, strict=True))
        for s in self._slices:
            s.prbs = by_kind.get(s.template.kind, 0) if s.admission.admitted else 0
        allocation = Allocation(
            prbs={s.template.name: s.prbs for s in self._slices},
            slice_prbs={k.slice_id: by_kind.get(k, 0) for k in SliceKind},
            total_prbs=view.total_prbs, policy=self.config.policy.value,
            urllc_weight=view.weight[view.kinds.index(SliceKind.URLLC)]
            if SliceKind.URLLC in view.kinds else 1.0,
            virtual_queue=self.virtual_queue)
        self.last = allocation
        return allocation

    def statuses(self) -> list[SliceStatus]:
        """Per template: state, reason, PRBs, target and measured rate and delay."""
        nan = float('nan')
        return [SliceStatus(s.template, s.state, s.admission.reason, s.prbs,
                            s.template.guaranteed_bitrate_bps,
                            s.rate_bps if s.rate_bps is not None else nan,
                            s.delay_s if s.delay_s is not None else nan)
                for s in self._slices]
