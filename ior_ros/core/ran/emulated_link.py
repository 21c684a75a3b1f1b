"""
The emulated air interface of the ``ran_emulator`` node: per packet, when it leaves the radio (or
that it is lost), given the PRBs of its slice, the channel and the queue in front of it.

Model (one UE per slice, downlink/uplink alike; docs/models/ran.md for the link):

* two slices, eMBB (:data:`SLICE_EMBB`, 0) and URLLC (:data:`SLICE_URLLC`, 1), as in
  msg/UeMetrics.msg; each is one first-in first-out queue of bits;
* in every slot of ``slot_s`` the slice is served ``Σ_j B_RB log2(1 + γ̄ g_j) · slot_s`` bits over
  its ``n`` PRBs j (:class:`~ior_ros.core.ran.link_budget.LinkConfig`: γ̄ from the UE's distance,
  g_j an independent Rayleigh power gain per PRB and slot; seed 003 eq. 1);
* load: relayed packets plus background packets of the same size with Poisson arrivals
  (``background_bps``), which share the queue but are never delivered;
* a packet that arrives in slot a and whose last bit is served in slot t has the air delay
  ``(t - a + 1) · slot_s``, as seed 003 eq. 5 counts arrivals before the slot's service
  (:class:`~ior_ros.core.ran.teleop_queues.FifoDelayQueues`); it is released
  ``extra_delay_s`` later (fault injection; core network and processing);
* a packet is lost on arrival with probability ``loss`` (fault injection; independent draws), or
  when the queue already holds ``max_queue_bits`` (tail drop).

All randomness comes from one ``numpy.random.Generator`` seeded by the caller: the same seed and
the same calls give the same deliveries.

Idle stretches: while both queues are empty and neither slice has background traffic, a slot
only draws its fading gains (for the SNR metric). :meth:`EmulatedLink.skip` runs many such slots
in one vectorised draw that takes the same numbers from the generator in the same order and adds
the same terms to the counters in the same order, so skipping ``k`` idle slots and calling
:meth:`EmulatedLink.step` ``k`` times leave the link in the same state, bit for bit
(test/core/ran/test_emulated_link_skip.py).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from pydantic import Field, model_validator

from ior_ros.core.config import FrozenModel
from ior_ros.core.errors import ModelError
from ior_ros.core.ran.channel import rayleigh_power_gain
from ior_ros.core.ran.link_budget import LinkConfig

__all__ = ['SLICE_EMBB', 'SLICE_URLLC', 'SLICES', 'SliceLinkConfig', 'EmulatedLinkConfig',
           'Delivery', 'SliceReport', 'EmulatedLink']

SLICE_EMBB = 0
"""eMBB slice id (msg/UeMetrics.msg SLICE_EMBB)."""
SLICE_URLLC = 1
"""URLLC slice id (msg/UeMetrics.msg SLICE_URLLC)."""
SLICES = (SLICE_EMBB, SLICE_URLLC)


class SliceLinkConfig(FrozenModel):
    """One slice: its UE, its packets, its load and the faults injected into it."""

    prbs: int = Field(10, ge=0, le=275)
    """PRBs granted to the slice until a slice policy says otherwise (275: the largest NR
    carrier, TS 38.101-1 Table 5.3.2-1)."""
    distance_m: float = Field(100.0, gt=0, le=100e3)
    """Distance of the slice's UE from the gNB [m] (sets the mean SNR through the path loss)."""
    packet_bits: int = Field(1000, ge=8, le=100_000_000)
    """Size of one packet on the air [bit] (relayed and background packets alike)."""
    background_bps: float = Field(0.0, ge=0, le=10e9)
    """Mean rate of the background traffic sharing the slice's queue [bit/s] (Poisson)."""
    loss: float = Field(0.0, ge=0, le=1)
    """Probability that a packet is lost on arrival, on top of tail drops [1]."""
    extra_delay_s: float = Field(0.0, ge=0, le=60)
    """Delay added to every delivered packet after the air interface [s]."""
    max_queue_bits: float = Field(10e6, gt=0, le=1e12)
    """Queue capacity [bit]: a packet arriving at a fuller queue is dropped."""


class EmulatedLinkConfig(FrozenModel):
    """The emulated cell: slot length, carrier, link model and the two slices."""

    slot_s: float = Field(1e-3, ge=1e-5, le=0.1)
    """Slot length [s] (1 ms: NR numerology 0, TS 38.211 §4.3.2)."""
    total_prbs: int = Field(50, ge=1, le=275)
    """PRBs of the carrier; the slices' PRBs may not exceed it together."""
    link: LinkConfig = Field(default_factory=LinkConfig)
    """The radio link model (or a preset name: physical, seed003, seed000)."""
    embb: SliceLinkConfig = Field(default_factory=lambda: SliceLinkConfig(
        prbs=40, packet_bits=12_000))
    """The eMBB slice (robot state and video)."""
    urllc: SliceLinkConfig = Field(default_factory=lambda: SliceLinkConfig(
        prbs=10, packet_bits=800))
    """The URLLC slice (operator commands)."""

    @model_validator(mode='after')
    def _prbs_fit(self) -> EmulatedLinkConfig:
        if self.embb.prbs + self.urllc.prbs > self.total_prbs:
            raise ValueError(f'embb.prbs + urllc.prbs = {self.embb.prbs + self.urllc.prbs} '
                             f'exceeds total_prbs = {self.total_prbs}')
        return self

    def slice(self, slice_id: int) -> SliceLinkConfig:
        """The configuration of slice ``slice_id`` (:data:`SLICES`)."""
        return self.urllc if slice_id == SLICE_URLLC else self.embb


class Delivery(NamedTuple):
    """A relayed packet that left the radio."""

    packet_id: int
    """The id the caller gave to :meth:`EmulatedLink.offer`."""
    release_slot: int
    """Slot at whose end the packet is to be released (air delay plus ``extra_delay_s``)."""
    delay_s: float
    """Its total delay [s]: ``(release_slot - arrival_slot + 1) · slot_s`` rounded to slots."""


class SliceReport(NamedTuple):
    """What one slice did since the previous report (msg/UeMetrics.msg fields)."""

    slice_id: int
    prbs: int
    rate_bps: float
    """Bits served per second of the interval."""
    queue_bits: float
    """Backlog at the end of the interval."""
    delay_s: float
    """Mean delay of the packets (relayed and background) that left in the interval; 0 if none."""
    sinr_db: float
    """Mean SNR over the interval's PRB draws [dB] (no interference: SINR = SNR); NaN if the
    slice had no PRB."""
    loss_ratio: float
    """Packets lost / packets offered in the interval (0 if none was offered)."""


@dataclass
class _Packet:
    packet_id: int  # -1 for background
    arrival_slot: int
    bits_left: float


@dataclass
class _Counters:
    served_bits: float = 0.0
    delay_sum_s: float = 0.0
    departed: int = 0
    offered: int = 0
    lost: int = 0
    snr_sum: float = 0.0
    snr_draws: int = 0
    slots: int = 0


class EmulatedLink:
    """
    The two slice queues of :class:`EmulatedLinkConfig`, stepped one slot at a time.

    ``offer`` queues a packet in the current slot (or loses it); ``step`` serves the slot and
    returns the relayed packets that finished in it; ``report`` gives the metrics since the last
    report. Faults and PRBs can change between slots (:meth:`set_prbs`, :meth:`set_fault`).
    """

    def __init__(self, config: EmulatedLinkConfig, rng: np.random.Generator) -> None:
        self._config = config
        self._rng = rng
        self._slot = 0
        self._prbs = {s: config.slice(s).prbs for s in SLICES}
        self._loss = {s: config.slice(s).loss for s in SLICES}
        self._extra = {s: config.slice(s).extra_delay_s for s in SLICES}
        self._queues: dict[int, deque[_Packet]] = {s: deque() for s in SLICES}
        self._background = any(config.slice(s).background_bps > 0.0 for s in SLICES)
        self._queued_bits = {s: 0.0 for s in SLICES}
        self._counters = {s: _Counters() for s in SLICES}
        link = config.link
        self._mean_snr = {s: float(link.mean_snr(config.slice(s).distance_m)) for s in SLICES}

    @property
    def config(self) -> EmulatedLinkConfig:
        return self._config

    @property
    def slot(self) -> int:
        """Index of the slot in progress (packets offered now arrive in it)."""
        return self._slot

    def prbs(self, slice_id: int) -> int:
        """PRBs the slice has now."""
        return self._prbs[self._check(slice_id)]

    def mean_snr_db(self, slice_id: int) -> float:
        """Mean SNR of the slice's UE before fading [dB]."""
        return 10.0 * float(np.log10(self._mean_snr[self._check(slice_id)]))

    def set_prbs(self, prbs: dict[int, int]) -> None:
        """
        New PRBs for the slices named in ``prbs`` (a slice policy); the others keep theirs.

        Raises:
            ModelError: unknown slice, a negative count, or more PRBs than the carrier has.
        """
        new = dict(self._prbs)
        for slice_id, count in prbs.items():
            self._check(slice_id)
            if count < 0:
                raise ModelError(f'slice {slice_id}: prbs = {count}; must be >= 0')
            new[slice_id] = int(count)
        if sum(new.values()) > self._config.total_prbs:
            raise ModelError(f'slice PRBs {sorted(new.items())} add up to {sum(new.values())}, '
                             f'more than total_prbs = {self._config.total_prbs}')
        self._prbs = new

    def set_fault(self, slice_id: int, *, loss: float | None = None,
                  extra_delay_s: float | None = None) -> None:
        """Change the injected loss probability [1] or extra delay [s] of a slice."""
        self._check(slice_id)
        if loss is not None:
            if not 0.0 <= loss <= 1.0:
                raise ModelError(f'loss = {loss}: must be in [0, 1]')
            self._loss[slice_id] = loss
        if extra_delay_s is not None:
            if not 0.0 <= extra_delay_s <= 60.0:
                raise ModelError(f'extra_delay_s = {extra_delay_s}: must be in [0, 60]')
            self._extra[slice_id] = extra_delay_s

    def offer(self, slice_id: int, packet_id: int) -> bool:
        """
        A relayed packet (``packet_id`` >= 0) arrives in the current slot; False if it is lost
        (injected loss or a full queue), True if it is queued and will come out of :meth:`step`.
        """
        if packet_id < 0:
            raise ModelError(f'packet_id = {packet_id}: must be >= 0')
        return self._arrive(self._check(slice_id), packet_id)

    def step(self) -> list[Delivery]:
        """Add the slot's background arrivals, serve the slot, and move to the next slot."""
        slot_s = self._config.slot_s
        out: list[Delivery] = []
        for s in SLICES:
            cfg = self._config.slice(s)
            if cfg.background_bps > 0:
                mean = cfg.background_bps * slot_s / cfg.packet_bits
                for _ in range(int(self._rng.poisson(mean))):
                    self._arrive(s, -1)
            queue = self._queues[s]
            budget = self._service_bits(s, rate=bool(queue))
            counters = self._counters[s]
            counters.slots += 1
            extra_slots = int(round(self._extra[s] / slot_s))
            while queue and budget > 0.0:
                head = queue[0]
                take = min(head.bits_left, budget)
                head.bits_left -= take
                budget -= take
                counters.served_bits += take
                self._queued_bits[s] -= take
                if head.bits_left > 1e-9:
                    break
                queue.popleft()
                release = self._slot + extra_slots
                delay = (release - head.arrival_slot + 1) * slot_s
                counters.delay_sum_s += delay
                counters.departed += 1
                if head.packet_id >= 0:
                    out.append(Delivery(head.packet_id, release, delay))
            if not queue:
                self._queued_bits[s] = 0.0
        self._slot += 1
        return out

    def idle(self) -> bool:
        """True when both queues are empty and no background traffic can arrive (:meth:`skip`)."""
        return not self._background and not self._queues[SLICE_EMBB] and \
            not self._queues[SLICE_URLLC]

    def skip(self, slots: int) -> None:
        """
        Run ``slots`` idle slots at once: what as many calls of :meth:`step` do while nothing
        arrives (the same random draws in the same order, the same counters), without a Python
        loop over the slots' PRBs. Nothing leaves the radio in them.

        Raises:
            ModelError: ``slots`` < 0, or the link is not :meth:`idle`.
        """
        if slots < 0:
            raise ModelError(f'slots = {slots}: must be >= 0')
        if not self.idle():
            raise ModelError('skip needs empty queues and no background traffic; use step()')
        if slots == 0:
            return
        order = [s for s in SLICES if self._prbs[s] > 0]  # step() draws eMBB, then URLLC
        widths = [self._prbs[s] for s in order]
        if order:
            gains = rayleigh_power_gain(self._rng, (slots, sum(widths)),
                                        self._config.link.rayleigh_scale)
            first = 0
            for s, n in zip(order, widths, strict=True):
                per_slot = (self._mean_snr[s] * gains[:, first:first + n]).sum(axis=1)
                counters = self._counters[s]
                total = counters.snr_sum
                for value in per_slot.tolist():  # one addition per slot, as step() does
                    total += value
                counters.snr_sum = total
                counters.snr_draws += n * slots
                first += n
        for s in SLICES:
            self._counters[s].slots += slots
        self._slot += slots

    def report(self) -> list[SliceReport]:
        """Metrics of both slices since the previous report (then the counters restart)."""
        out = []
        slot_s = self._config.slot_s
        for s in SLICES:
            c = self._counters[s]
            seconds = c.slots * slot_s
            out.append(SliceReport(
                slice_id=s, prbs=self._prbs[s],
                rate_bps=c.served_bits / seconds if seconds > 0 else 0.0,
                queue_bits=max(self._queued_bits[s], 0.0),
                delay_s=c.delay_sum_s / c.departed if c.departed else 0.0,
                sinr_db=10.0 * float(np.log10(c.snr_sum / c.snr_draws)) if c.snr_draws
                else float('nan'),
                loss_ratio=c.lost / c.offered if c.offered else 0.0))
            self._counters[s] = _Counters()
        return out

    # ------------------------------------------------------------------------------------------

    def _check(self, slice_id: int) -> int:
        if slice_id not in SLICES:
            raise ModelError(f'slice id {slice_id}: allowed {SLICE_EMBB} (eMBB) or '
                             f'{SLICE_URLLC} (URLLC)')
        return slice_id

    def _arrive(self, s: int, packet_id: int) -> bool:
        cfg = self._config.slice(s)
        counters = self._counters[s]
        counters.offered += 1
        lost = self._loss[s] > 0.0 and float(self._rng.random()) < self._loss[s]
        if lost or self._queued_bits[s] + cfg.packet_bits > cfg.max_queue_bits:
            counters.lost += 1
            return False
        self._queues[s].append(_Packet(packet_id, self._slot, float(cfg.packet_bits)))
        self._queued_bits[s] += cfg.packet_bits
        return True

    def _service_bits(self, s: int, rate: bool = True) -> float:
        """Draw the slot's fading gains of slice ``s`` and count its SNR; the bits it can serve
        (0 without ``rate``: an empty queue needs no rate, the draws happen all the same)."""
        n = self._prbs[s]
        if n == 0:
            return 0.0
        link = self._config.link
        gains = rayleigh_power_gain(self._rng, (n,), link.rayleigh_scale)
        snr = self._mean_snr[s] * gains
        counters = self._counters[s]
        counters.snr_sum += float(np.sum(snr))
        counters.snr_draws += n
        if not rate:
            return 0.0
        return float(np.sum(link.rate_bps(snr))) * self._config.slot_s
