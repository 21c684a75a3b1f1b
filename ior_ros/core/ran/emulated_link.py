"""
The emulated air interface of the ``ran_emulator`` node: per packet, when it leaves the radio (or
that it is lost), given the PRBs of its slice, the channel and the queue in front of it.

Model (one UE per slice, downlink/uplink alike; docs/models/ran.md for the link):

* two slices, eMBB (:data:`SLICE_EMBB`, 0) and URLLC (:data:`SLICE_URLLC`, 1), as in
  msg/UeMetrics.msg; each is one first-in first-out queue of bits;
* in every slot of ``slot_s`` the slice is served ``c_t = Σ_j B_RB log2(1 + γ̄ g_j) · slot_s``
  bits over its ``n`` PRBs j (:class:`~ior_ros.core.ran.link_budget.LinkConfig`: γ̄ from the UE's
  distance, g_j an independent Rayleigh power gain per PRB and slot; seed 003 eq. 1);
* load: relayed packets (``packet_bits`` each, or the size the caller gives: a video frame's
  serialized bytes) plus background packets of ``packet_bits`` with Poisson arrivals
  (``background_bps``), which share the queue but are never delivered;
* order within slot t: the relayed packets offered during it, then its background arrivals,
  then its service. A packet that arrives in slot a and whose last bit is served in slot t has
  the air delay ``(t - a + 1) · slot_s``, as seed 003 eq. 5 counts arrivals before the slot's
  service (:class:`~ior_ros.core.ran.teleop_queues.FifoDelayQueues`); it is released
  ``extra_delay_s`` later (rounded to slots; the value in force when it was offered);
* a packet is lost on arrival with probability ``loss`` (fault injection; independent per
  packet), or when the backlog plus the packet would exceed ``max_queue_bits`` (tail drop; a
  packet bigger than the queue is always dropped).

How it runs without a Python loop over slots (issue 12 asks the in-process loop for 20× real
time):

* **Pre-drawn slot randomness.** What a slot draws does not depend on the relayed packets: the
  capacity ``c_t``, the SNR sum (for the metric) and the background arrivals before and after the
  injected loss. They are drawn per slice in vectorised blocks of :data:`BLOCK_SLOTS` slots, each
  block from its own generator keyed by (the caller's generator, slice, stream, first slot,
  epoch): a PRB change redraws the channel from its slot, a loss change the thinning of the
  arrivals (binomial, from the unchanged Poisson counts), and the epoch counts those changes.
  So a slot's numbers depend on the seed and on the PRB and loss history only, not on the
  relayed packets, on how far ahead the link had to look, or on how a caller groups slots
  (``advance(k)`` and ``k`` calls of ``step()`` give the same results).
* **Departures known at arrival.** In a FIFO queue a packet with W bits ahead of it (its own
  included) leaves in the first slot t >= a with ``c_a + … + c_t >= W``: nothing that arrives
  later overtakes it, and the queue cannot empty before it leaves. :meth:`EmulatedLink.offer`
  finds that slot at once (searching at most :data:`LOOKAHEAD_SLOTS` ahead; beyond that, or on a
  slice without PRBs, the search goes on when time gets there or PRBs come), and
  :meth:`EmulatedLink.set_prbs` searches again for the packets still queued.
* **Lazy Lindley recursion.** The backlog ``Q_t = max(0, Q_{t-1} + A_t - c_t)`` advances only
  when asked (an offer, a report, a PRB or fault change), vectorised: with
  ``S_t = Q_0 + Σ_{k<=t} (A_k - c_k)``, ``Q_t = S_t - min(0, min_{k<=t} S_k)``. The background
  packets' departures (for the mean-delay metric) come from the cumulative bits served
  (``searchsorted`` over their queue positions). Tail drops: where the drop-free recursion
  shows a slot whose backlog plus arrivals exceeds ``max_queue_bits``, the arrivals are admitted
  slot by slot over :data:`TAIL_WINDOW_SLOTS` slots from there, then the vectorised path resumes.

The same seed and the same calls give the same deliveries. The numbers are not those of the
earlier per-slot stepping (the draws come in another order); a slot-by-slot reference over the
same draws (:meth:`EmulatedLink.slot_draws`) gives the same departures
(test/core/ran/test_emulated_link_skip.py).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from ior_ros.core.config import FrozenModel
from ior_ros.core.errors import ModelError
from ior_ros.core.ran.channel import rayleigh_power_gain
from ior_ros.core.ran.link_budget import LinkConfig

__all__ = ['SLICE_EMBB', 'SLICE_URLLC', 'SLICES', 'BLOCK_SLOTS', 'LOOKAHEAD_SLOTS',
           'TAIL_WINDOW_SLOTS', 'VECTOR_MIN_SLOTS', 'DEPARTURE_TOLERANCE_BITS', 'SliceLinkConfig',
           'EmulatedLinkConfig', 'Delivery', 'SliceReport', 'SlotDraws', 'EmulatedLink']

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SLICE_EMBB = 0
"""eMBB slice id (msg/UeMetrics.msg SLICE_EMBB)."""
SLICE_URLLC = 1
"""URLLC slice id (msg/UeMetrics.msg SLICE_URLLC)."""
SLICES = (SLICE_EMBB, SLICE_URLLC)

BLOCK_SLOTS = 1024
"""Slots drawn at once per slice (and the longest stretch one vectorised pass covers)."""
LOOKAHEAD_SLOTS = 64 * BLOCK_SLOTS
"""Farthest a departure is searched ahead of the queue's present [slots]; a packet that needs
longer gets its departure when time gets nearer."""
TAIL_WINDOW_SLOTS = 256
"""Slots admitted one by one after a slot where the queue could overflow."""
VECTOR_MIN_SLOTS = 48
"""Stretches of at least this many slots are served by the vectorised recursion; shorter ones
(the few slots between two packets of a busy relay) by a loop over the pre-drawn values, which
is faster there than numpy's call overhead."""
DEPARTURE_TOLERANCE_BITS = 1e-3
"""A packet has left when at most this many of its bits are unserved: the rounding of sums of
capacities (tens of Mbit over a block) stays far below it."""

_NEVER = 2**62  # "no departure before this slot" of a slice without PRBs
_REBASE_BITS = float(2**32)  # queue positions are counted from a new origin beyond this
_CHANNEL, _ARRIVALS, _THINNING, _RELAYED_LOSS, _BURSTS = range(5)  # the keyed random streams


class SliceLinkConfig(FrozenModel):
    """One slice: its UE, its packets, its load and the faults injected into it."""

    prbs: int = Field(10, ge=0, le=275)
    """PRBs granted to the slice until a slice policy says otherwise (275: the largest NR
    carrier, TS 38.101-1 Table 5.3.2-1)."""
    distance_m: float = Field(100.0, gt=0, le=100e3)
    """Distance of the slice's UE from the gNB [m] (sets the mean SNR through the path loss)."""
    packet_bits: int = Field(1000, ge=8, le=100_000_000)
    """Size of one packet on the air [bit]: background packets, and relayed ones whose size the
    caller does not give."""
    background_bps: float = Field(0.0, ge=0, le=10e9)
    """Mean rate of the background traffic sharing the slice's queue [bit/s] (Poisson)."""
    burst_bps: float = Field(0.0, ge=0, le=10e9)
    """Extra background rate while a burst is on [bit/s] (0: no bursts). Bursts and gaps
    alternate with exponential lengths: the background is a two-state Markov-modulated Poisson
    process (MMPP-2, Heffes and Lucantoni, IEEE JSAC 1986), the usual model of bursty load."""
    burst_on_s: float = Field(0.5, gt=0, le=3600)
    """Mean length of a burst [s]."""
    burst_off_s: float = Field(5.0, gt=0, le=3600)
    """Mean gap between bursts [s] (the process starts in a gap)."""
    loss: float = Field(0.0, ge=0, le=1)
    """Probability that a packet is lost on arrival, on top of tail drops [1]."""
    extra_delay_s: float = Field(0.0, ge=0, le=60)
    """Delay added to every delivered packet after the air interface [s]."""
    max_queue_bits: float = Field(10e6, gt=0, le=1e12)
    """Queue capacity [bit]: a packet that would take the backlog beyond it is dropped."""


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


class SlotDraws(NamedTuple):
    """The pre-drawn randomness of consecutive slots of one slice (each array ``[slots]``)."""

    capacity_bits: FloatArray
    """Bits the slot can serve, ``Σ_j B_RB log2(1 + γ̄ g_j) · slot_s`` (0 without PRBs)."""
    snr_sum: FloatArray
    """``Σ_j γ̄ g_j`` over the slice's PRBs [1] (0 without PRBs)."""
    arrivals: IntArray
    """Background packets arriving (Poisson)."""
    admitted: IntArray
    """Of those, the ones the injected loss spares (tail drops come on top)."""


@dataclass
class _Relayed:
    packet_id: int
    arrival_slot: int
    end_bits: float  # queue position of its last bit (bits served before it leaves)
    extra_slots: int
    departure: int | None  # slot whose service takes its last bit; None: not found yet


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


def _lindley(q0: float, arriving_bits: FloatArray, capacity: FloatArray) -> FloatArray:
    """Backlog at the end of each slot ``[slots]``, from ``q0`` before the first slot's
    arrivals: ``Q_t = max(0, Q_{t-1} + A_t - c_t)`` in closed form (module docstring)."""
    s = q0 + np.cumsum(arriving_bits - capacity)  # [slots]
    out: FloatArray = s - np.minimum(np.minimum.accumulate(s), 0.0)
    return out


class _SliceQueue:
    """One slice: its pre-drawn slots, its backlog (advanced lazily) and its relayed packets."""

    def __init__(self, slice_id: int, config: EmulatedLinkConfig, entropy: int) -> None:
        cfg = config.slice(slice_id)
        self.slice_id = slice_id
        self.cfg = cfg
        self.link = config.link
        self.slot_s = config.slot_s
        self.entropy = entropy
        self.prbs = cfg.prbs
        self.loss = cfg.loss
        self.extra_slots = int(round(cfg.extra_delay_s / config.slot_s))
        self.mean_snr = float(config.link.mean_snr(cfg.distance_m))
        self.packet_bits = float(cfg.packet_bits)
        self.mean_arrivals = cfg.background_bps * config.slot_s / cfg.packet_bits  # per slot
        self.burst_arrivals = cfg.burst_bps * config.slot_s / cfg.packet_bits  # per slot, extra
        # burst schedule: switch slots, alternately the start of a burst and of a gap, drawn in
        # order from their own stream as far as the arrivals need them
        self.switches: list[int] = []
        self.burst_rng = self._stream(_BURSTS)
        if self.burst_arrivals > 0.0:
            self.mean_arrivals += 1e-300  # a queue with bursts to come is never idle
        # pre-drawn slots: channel for [chan_first, chan_first + len(cap)), arrivals likewise
        self.chan_first = 0
        self.cap: FloatArray = np.zeros(0)
        self.snr: FloatArray = np.zeros(0)
        self.chan_epoch = 0
        self.arr_first = 0
        self.raw: IntArray = np.zeros(0, dtype=np.int64)
        self.kept: IntArray = np.zeros(0, dtype=np.int64)
        self.loss_epoch = 0
        # the queue: slots before q_slot are served (served_bits in all); q_bits is the backlog
        # after them plus the relayed packets offered in slot q_slot. A packet's position is the
        # number of bits served when its last bit leaves.
        self.q_slot = 0
        self.q_bits = 0.0
        self.served_bits = 0.0
        # queued background packets by arrival slot: [arrival slot, position of the first, count]
        # (a slot's packets are adjacent in the queue: the slot's relayed packets come before)
        self.background: deque[list[Any]] = deque()
        self.relayed: deque[_Relayed] = deque()
        self.searched_until = _NEVER  # no departure of an unresolved packet before this slot
        self.loss_rng = self._stream(_RELAYED_LOSS)
        self.counters = _Counters()

    # ------------------------------------------------------------------ draws
    def _stream(self, *key: int) -> np.random.Generator:
        seq = np.random.SeedSequence([self.entropy, self.slice_id, *key])
        return np.random.Generator(np.random.PCG64(seq))

    def ensure_channel(self, until: int) -> None:
        """Draw the channel up to slot ``until`` (exclusive), block by block."""
        end = self.chan_first + self.cap.size
        if end >= until:
            return
        caps, snrs = [self.cap], [self.snr]
        while end < until:
            stop = (end // BLOCK_SLOTS + 1) * BLOCK_SLOTS  # the rest of end's block
            n = stop - end
            if self.prbs == 0:
                caps.append(np.zeros(n))
                snrs.append(np.zeros(n))
            else:
                rng = self._stream(_CHANNEL, end, self.chan_epoch)
                gains = rayleigh_power_gain(rng, (n, self.prbs), self.link.rayleigh_scale)
                snr = self.mean_snr * gains  # [n, prbs]
                caps.append(np.sum(self.link.rate_bps(snr), axis=1) * self.slot_s)  # [n]
                snrs.append(np.sum(snr, axis=1))  # [n]
            end = stop
        self.cap = np.concatenate(caps)
        self.snr = np.concatenate(snrs)

    def ensure_arrivals(self, until: int) -> None:
        """Draw the background arrivals up to slot ``until`` (exclusive), block by block."""
        end = self.arr_first + self.raw.size
        if end >= until:
            return
        raws, kepts = [self.raw], [self.kept]
        while end < until:
            block = end // BLOCK_SLOTS
            stop = (block + 1) * BLOCK_SLOTS
            if self.mean_arrivals == 0.0:
                raw = np.zeros(stop - end, dtype=np.int64)
            else:  # the whole block's counts, from its own key: a redraw gives the same ones
                lam = self._block_means(block * BLOCK_SLOTS)
                counts = self._stream(_ARRIVALS, block).poisson(lam, BLOCK_SLOTS)
                raw = counts[end - block * BLOCK_SLOTS:].astype(np.int64)
            if self.loss == 0.0 or not raw.any():
                kept = raw
            elif self.loss >= 1.0:
                kept = np.zeros_like(raw)
            else:
                rng = self._stream(_THINNING, end, self.loss_epoch)
                kept = rng.binomial(raw, 1.0 - self.loss).astype(np.int64)
            raws.append(raw)
            kepts.append(kept)
            end = stop
        self.raw = np.concatenate(raws)
        self.kept = np.concatenate(kepts)

    def _block_means(self, first: int) -> float | FloatArray:
        """Mean background arrivals per slot of the block that starts at ``first``: a number
        without bursts, else per slot (the base rate plus the burst rate while one is on)."""
        if self.burst_arrivals == 0.0:
            return self.mean_arrivals
        stop = first + BLOCK_SLOTS
        while not self.switches or self.switches[-1] < stop:
            mean_s = self.cfg.burst_off_s if len(self.switches) % 2 == 0 else self.cfg.burst_on_s
            last = self.switches[-1] if self.switches else 0
            gap = max(1, int(round(self.burst_rng.exponential(mean_s) / self.slot_s)))
            self.switches.append(last + gap)
        slots = np.arange(first, stop)
        on = np.searchsorted(np.asarray(self.switches), slots, side='right') % 2 == 1  # [n]
        return np.where(on, self.mean_arrivals + self.burst_arrivals, self.mean_arrivals)

    def draws(self, first: int, count: int) -> SlotDraws:
        if first < max(self.chan_first, self.arr_first):
            raise ModelError(f'slot_draws from slot {first}: slots before '
                             f'{max(self.chan_first, self.arr_first)} are no longer kept')
        self.ensure_channel(first + count)
        self.ensure_arrivals(first + count)
        c, a = first - self.chan_first, first - self.arr_first
        return SlotDraws(self.cap[c:c + count].copy(), self.snr[c:c + count].copy(),
                         self.raw[a:a + count].copy(), self.kept[a:a + count].copy())

    def redraw_channel_from(self, slot: int) -> None:
        """New PRBs from ``slot`` on: the channel drawn for it and later is drawn again."""
        self.cap = self.cap[:max(0, slot - self.chan_first)]
        self.snr = self.snr[:self.cap.size]
        self.chan_epoch += 1

    def redraw_arrivals_from(self, slot: int) -> None:
        """A new loss from ``slot`` on: the thinning of later arrivals is drawn again."""
        self.raw = self.raw[:max(0, slot - self.arr_first)]
        self.kept = self.kept[:self.raw.size]
        self.loss_epoch += 1

    # ------------------------------------------------------------------ queue
    def commit(self, to: int) -> None:
        """Serve the slots up to ``to`` (exclusive): the backlog, the background packets that
        leave, the counters."""
        while self.q_slot < to:
            start = self.q_slot
            stop = min(to, start + BLOCK_SLOTS)
            self.ensure_channel(stop)
            self.ensure_arrivals(stop)
            cap = self.cap[start - self.chan_first:stop - self.chan_first]  # [m]
            kept = self.kept[start - self.arr_first:stop - self.arr_first]  # [m]
            raw = self.raw[start - self.arr_first:stop - self.arr_first]  # [m]
            if self.q_bits == 0.0 and self.mean_arrivals == 0.0:  # nothing queued, none coming
                self._count_slots(start, stop, 0.0, 0, 0)
            elif stop - start < VECTOR_MIN_SLOTS:
                self._serve_loop(start, cap, kept, sum(raw.tolist()))
            else:
                self._serve_vectorised(start, cap, kept, raw)
        if self.served_bits > _REBASE_BITS:
            self._rebase()
        self._trim()

    def _serve_loop(self, start: int, cap: FloatArray, kept: IntArray, offered: int) -> None:
        """Serve a short stretch slot by slot (the same arithmetic as the vectorised path)."""
        bits = self.packet_bits
        limit = self.cfg.max_queue_bits
        q, served, background = self.q_bits, self.served_bits, self.background
        admitted = departed = delay_slots = 0
        t = start
        for count, c in zip(kept.tolist(), cap.tolist(), strict=True):
            if count:
                if q + count * bits > limit:  # tail drop: as many as fit, one after the other
                    room = limit - q
                    count = min(count, int(room // bits)) if room >= bits else 0
                if count:
                    background.append([t, served + q + bits, count])
                    q += count * bits
                    admitted += count
            if c < q:
                q -= c
                served += c
            else:
                served += q
                q = 0.0
            if not background:
                pass
            elif q == 0.0:  # the queue emptied: every background packet left
                for batch in background:
                    departed += batch[2]
                    delay_slots += batch[2] * (t - batch[0] + 1)
                background.clear()
            else:  # the background packets whose last bit has been served
                top = served + DEPARTURE_TOLERANCE_BITS
                while background:
                    batch = background[0]
                    if batch[1] > top:
                        break
                    gone = int((top - batch[1]) // bits) + 1
                    left = batch[2] - gone
                    if left > 0:
                        batch[1] += gone * bits
                        batch[2] = left
                    else:
                        gone = batch[2]
                        background.popleft()
                    departed += gone
                    delay_slots += gone * (t - batch[0] + 1)
                    if left > 0:
                        break
            t += 1
        self._account(start, t, q, served, offered, admitted, departed, delay_slots)

    def _serve_vectorised(self, start: int, cap: FloatArray, kept: IntArray,
                          raw: IntArray) -> None:
        """Serve a long stretch with the closed-form Lindley recursion (module docstring); up to
        the first slot that could overflow, or slot by slot over a window from there."""
        bits = self.packet_bits
        limit = self.cfg.max_queue_bits
        arriving = kept.astype(np.float64) * bits  # [m]
        backlog = _lindley(self.q_bits, arriving, cap)  # [m]
        if self.mean_arrivals > 0.0:
            before = np.concatenate(([self.q_bits], backlog[:-1]))  # [m] Q_{t-1}
            over = (before + arriving > limit) & (kept > 0)  # [m]
            if over.any():
                safe = int(np.argmax(over))  # slots before the first that could overflow
                if safe == 0:  # slot by slot for a while
                    window = min(TAIL_WINDOW_SLOTS, cap.size)
                    self._serve_loop(start, cap[:window], kept[:window],
                                     int(raw[:window].sum()))
                    return
                cap, kept, raw = cap[:safe], kept[:safe], raw[:safe]
                arriving, backlog = arriving[:safe], backlog[:safe]
        m = cap.size
        q0 = self.q_bits
        cum = np.cumsum(arriving)  # [m]
        served_by = q0 + cum - backlog  # [m] bits served from start to the end of each slot
        admitted = int(kept.sum())
        departed = delay_slots = 0
        batches = self.background
        if admitted or batches:
            origin = self.served_bits
            old = np.array(batches, dtype=np.float64).reshape(-1, 3)  # [b_old, 3]
            new_at = np.flatnonzero(kept)  # [b_new]
            slot = np.concatenate((old[:, 0], start + new_at))  # [b] arrival slots
            first = np.concatenate((old[:, 1] - origin,
                                    (q0 + cum - arriving)[new_at] + bits))  # [b] relative
            count = np.concatenate((old[:, 2], kept[new_at])).astype(np.int64)  # [b]
            total = np.cumsum(count)  # [b]
            of = np.repeat(np.arange(count.size), count)  # [packets] batch of each packet
            rank = np.arange(int(total[-1])) - (total - count)[of]  # [packets]
            ends = first[of] + bits * rank  # [packets] positions, relative to origin
            gone = np.searchsorted(ends, served_by + DEPARTURE_TOLERANCE_BITS, side='right')
            departed = int(gone[-1])  # gone: [m] background packets gone by each slot's end
            if departed:
                per_slot = np.diff(gone, prepend=0)  # [m]
                delay_slots = int(per_slot @ np.arange(start + 1, start + m + 1)) \
                    - int(slot[of[:departed]].sum())
            # the packets left, by batch again (the first one maybe partly gone)
            b = int(np.searchsorted(total, departed, side='right'))
            rest = np.stack((slot[b:], first[b:] + origin, count[b:].astype(np.float64)), axis=1)
            if rest.size and departed > (total[b - 1] if b else 0):
                gone_here = departed - int(total[b - 1] if b else 0)
                rest[0, 1] += gone_here * bits
                rest[0, 2] -= gone_here
            self.background = deque([int(a), first_end, int(n)]
                                    for a, first_end, n in rest.tolist())
        self._account(start, start + m, float(backlog[-1]), self.served_bits + float(
            served_by[-1]), int(raw.sum()), admitted, departed, delay_slots)

    def _account(self, start: int, stop: int, backlog: float, served: float, offered: int,
                 admitted: int, departed: int, delay_slots: int) -> None:
        """The state and counters after serving ``[start, stop)``."""
        c = self.counters
        c.delay_sum_s += (delay_slots + departed * self.extra_slots) * self.slot_s
        c.departed += departed
        self._count_slots(start, stop, served - self.served_bits, offered, offered - admitted)
        self.q_bits = backlog if backlog > DEPARTURE_TOLERANCE_BITS else 0.0
        self.served_bits = served
        if self.q_bits == 0.0:
            self.background.clear()  # nothing queued: crumbs of rounding left no packet

    def _rebase(self) -> None:
        """Count positions from a new origin (they stay small enough for exact comparisons)."""
        origin = self.served_bits
        for batch in self.background:
            batch[1] -= origin
        for r in self.relayed:
            r.end_bits -= origin
        self.served_bits = 0.0

    def _count_slots(self, start: int, stop: int, served: float, offered: int,
                     lost: int) -> None:
        c = self.counters
        c.served_bits += served
        snr = self.snr[start - self.chan_first:stop - self.chan_first]
        # a few slots: Python's sum is cheaper than numpy's call
        c.snr_sum += sum(snr.tolist()) if snr.size < VECTOR_MIN_SLOTS else float(np.sum(snr))
        c.snr_draws += self.prbs * (stop - start)
        c.slots += stop - start
        c.offered += offered
        c.lost += lost
        self.q_slot = stop

    def _trim(self) -> None:
        """Forget the draws of served slots (at most a block of them is kept)."""
        k = self.q_slot - self.chan_first
        if k >= BLOCK_SLOTS:
            self.chan_first = self.q_slot
            self.cap, self.snr = self.cap[k:], self.snr[k:]
        k = self.q_slot - self.arr_first
        if k >= BLOCK_SLOTS:
            self.arr_first = self.q_slot
            self.raw, self.kept = self.raw[k:], self.kept[k:]

    # ------------------------------------------------------------------ relayed packets
    def offer(self, packet_id: int, slot: int, bits: float) -> bool:
        self.commit(slot)
        c = self.counters
        c.offered += 1
        lost = self.loss > 0.0 and float(self.loss_rng.random()) < self.loss
        if lost or self.q_bits + bits > self.cfg.max_queue_bits:
            c.lost += 1
            return False
        self.q_bits += bits
        unresolved = bool(self.relayed) and self.relayed[-1].departure is None
        self.relayed.append(_Relayed(packet_id, slot, self.served_bits + self.q_bits,
                                     self.extra_slots, None))
        if not unresolved:  # FIFO: behind an unresolved packet it cannot be resolved either
            self.resolve()
        return True

    def resolve(self) -> None:
        """Find the departure slots of the queued relayed packets that have none (the queue
        must be committed to the present: the search starts at ``q_slot``)."""
        pending = [r for r in self.relayed if r.departure is None]
        if not pending or self.prbs == 0:  # none, or they wait for PRBs (set_prbs resolves)
            self.searched_until = _NEVER
            return
        origin = self.served_bits + DEPARTURE_TOLERANCE_BITS
        needs = [r.end_bits - origin for r in pending]  # bits to serve from q_slot, ascending
        pos, limit, done, served, length = self.q_slot, self.q_slot + LOOKAHEAD_SLOTS, 0, 0.0, 8
        while done < len(pending) and pos < limit:
            stop = min(pos + length, limit)
            self.ensure_channel(stop)
            cap = self.cap[pos - self.chan_first:stop - self.chan_first]
            if length < BLOCK_SLOTS:  # most packets leave within a few slots: no numpy there
                for i, c in enumerate(cap.tolist()):
                    served += c
                    while done < len(pending) and served >= needs[done]:
                        pending[done].departure = pos + i
                        done += 1
            else:  # the same running sum, vectorised (cumsum adds in the same order)
                cum = np.cumsum(np.concatenate(([served], cap)))[1:]  # [slots]
                where = np.searchsorted(cum, needs[done:], side='left')  # [pending left]
                found = int(np.searchsorted(where, cum.size, side='left'))
                for r, i in zip(pending[done:done + found], where[:found].tolist(), strict=True):
                    r.departure = pos + i
                done += found
                served = float(cum[-1])
            pos, length = stop, (BLOCK_SLOTS if length >= 64 else length * 8)
        self.searched_until = pos if done < len(pending) else _NEVER

    def run_to(self, target: int) -> list[tuple[int, Delivery]]:
        """The relayed packets whose last bit leaves before slot ``target``: (departure slot,
        delivery), in FIFO order."""
        while self.searched_until < target:  # unresolved packets whose departure may be due
            self.commit(max(self.q_slot, self.searched_until))
            self.resolve()
        out = []
        c = self.counters
        while self.relayed:
            departure = self.relayed[0].departure
            if departure is None or departure >= target:
                break
            r = self.relayed.popleft()
            release = departure + r.extra_slots
            delay = (release - r.arrival_slot + 1) * self.slot_s
            c.departed += 1
            c.delay_sum_s += delay
            out.append((departure, Delivery(r.packet_id, release, delay)))
        return out

    def next_release_slot(self) -> int | None:
        best: int | None = None
        for r in self.relayed:
            due = (r.departure if r.departure is not None else self.searched_until)
            if due >= _NEVER:
                continue
            if best is None or due + r.extra_slots < best:
                best = due + r.extra_slots
        return best

    def report(self) -> SliceReport:
        c = self.counters
        seconds = c.slots * self.slot_s
        self.counters = _Counters()
        return SliceReport(
            slice_id=self.slice_id, prbs=self.prbs,
            rate_bps=c.served_bits / seconds if seconds > 0 else 0.0,
            queue_bits=self.q_bits,
            delay_s=c.delay_sum_s / c.departed if c.departed else 0.0,
            sinr_db=10.0 * float(np.log10(c.snr_sum / c.snr_draws)) if c.snr_draws
            else float('nan'),
            loss_ratio=c.lost / c.offered if c.offered else 0.0)


class EmulatedLink:
    """
    The two slice queues of :class:`EmulatedLinkConfig` (module docstring: the model and how it
    runs).

    ``offer`` queues a packet in the slot in progress (or loses it) and finds when it will leave;
    ``advance(k)`` (``step()``: one slot) runs ``k`` slots and returns the relayed packets that
    left in them; ``next_release_slot`` says when the next one is due; ``report`` gives the
    metrics since the last report. PRBs and faults change between slots (:meth:`set_prbs`,
    :meth:`set_fault`).
    """

    def __init__(self, config: EmulatedLinkConfig, rng: np.random.Generator) -> None:
        self._config = config
        entropy = int(rng.integers(0, 2**63))  # the keyed streams all derive from it
        self._slot = 0
        self._queues = {s: _SliceQueue(s, config, entropy) for s in SLICES}

    @property
    def config(self) -> EmulatedLinkConfig:
        return self._config

    @property
    def slot(self) -> int:
        """Index of the slot in progress (packets offered now arrive in it)."""
        return self._slot

    def prbs(self, slice_id: int) -> int:
        """PRBs the slice has now."""
        return self._queues[self._check(slice_id)].prbs

    def mean_snr_db(self, slice_id: int) -> float:
        """Mean SNR of the slice's UE before fading [dB]."""
        return 10.0 * float(np.log10(self._queues[self._check(slice_id)].mean_snr))

    def set_prbs(self, prbs: dict[int, int]) -> None:
        """
        New PRBs, from the slot in progress on, for the slices named in ``prbs`` (a slice
        policy); the others keep theirs. The queued packets of a slice whose count changes get
        their departures again.

        Raises:
            ModelError: unknown slice, a negative count, or more PRBs than the carrier has.
        """
        new = {s: q.prbs for s, q in self._queues.items()}
        for slice_id, count in prbs.items():
            self._check(slice_id)
            if count < 0:
                raise ModelError(f'slice {slice_id}: prbs = {count}; must be >= 0')
            new[slice_id] = int(count)
        if sum(new.values()) > self._config.total_prbs:
            raise ModelError(f'slice PRBs {sorted(new.items())} add up to {sum(new.values())}, '
                             f'more than total_prbs = {self._config.total_prbs}')
        for s, count in new.items():
            queue = self._queues[s]
            if count == queue.prbs:
                continue  # the same PRBs: the draws stand
            queue.commit(self._slot)
            queue.prbs = count
            queue.redraw_channel_from(self._slot)
            for r in queue.relayed:
                r.departure = None
            queue.resolve()

    def set_fault(self, slice_id: int, *, loss: float | None = None,
                  extra_delay_s: float | None = None) -> None:
        """Change the injected loss probability [1] or extra delay [s] of a slice, from the slot
        in progress on (the extra delay of a packet is the one in force when it was offered)."""
        queue = self._queues[self._check(slice_id)]
        if loss is not None and not 0.0 <= loss <= 1.0:
            raise ModelError(f'loss = {loss}: must be in [0, 1]')
        if extra_delay_s is not None and not 0.0 <= extra_delay_s <= 60.0:
            raise ModelError(f'extra_delay_s = {extra_delay_s}: must be in [0, 60]')
        queue.commit(self._slot)
        if loss is not None and loss != queue.loss:
            queue.loss = loss
            queue.redraw_arrivals_from(self._slot)
        if extra_delay_s is not None:
            queue.extra_slots = int(round(extra_delay_s / self._config.slot_s))

    def offer(self, slice_id: int, packet_id: int, bits: float | None = None) -> bool:
        """
        A relayed packet (``packet_id`` >= 0) of ``bits`` on the air (default: the slice's
        ``packet_bits``) arrives in the slot in progress; False if it is lost (injected loss or
        a full queue), True if it is queued and will come out of :meth:`advance`.

        Raises:
            ModelError: unknown slice, a negative id, or ``bits`` not a number > 0.
        """
        queue = self._queues[self._check(slice_id)]
        if packet_id < 0:
            raise ModelError(f'packet_id = {packet_id}: must be >= 0')
        if bits is None:
            size = queue.packet_bits
        else:
            size = float(bits)
            if not (size > 0.0 and np.isfinite(size)):
                raise ModelError(f'bits = {bits!r}: must be a finite number > 0')
        return queue.offer(packet_id, self._slot, size)

    def advance(self, slots: int) -> list[Delivery]:
        """
        Run ``slots`` slots; the relayed packets whose last bit left in them, by departure slot
        (eMBB before URLLC within a slot, FIFO within a slice).

        Raises:
            ModelError: ``slots`` < 0.
        """
        if slots < 0:
            raise ModelError(f'slots = {slots}: must be >= 0')
        target = self._slot + slots
        left: list[tuple[int, Delivery]] = []
        for s in SLICES:
            left += self._queues[s].run_to(target)
        self._slot = target
        if len(left) > 1:
            left.sort(key=lambda item: item[0])  # stable: eMBB first within a slot
        return [delivery for _, delivery in left]

    def step(self) -> list[Delivery]:
        """Run one slot (``advance(1)``)."""
        return self.advance(1)

    def next_release_slot(self) -> int | None:
        """
        The earliest slot at whose end a queued relayed packet is due for release (a lower
        bound while a departure lies beyond the search horizon); None when none is queued or
        the queued ones wait for PRBs.
        """
        best = None
        for queue in self._queues.values():
            if queue.relayed:
                due = queue.next_release_slot()
                if due is not None and (best is None or due < best):
                    best = due
        return best

    def report(self) -> list[SliceReport]:
        """Metrics of both slices since the previous report (then the counters restart)."""
        out = []
        for s in SLICES:
            queue = self._queues[s]
            queue.commit(self._slot)
            out.append(queue.report())
        return out

    def slot_draws(self, slice_id: int, first: int, count: int) -> SlotDraws:
        """
        The pre-drawn randomness of slots ``[first, first + count)`` of a slice under its present
        PRBs and loss (for references and checks; drawing ahead changes nothing).

        Raises:
            ModelError: unknown slice, ``count`` < 0, or slots already forgotten (served more
                than a block ago).
        """
        if count < 0:
            raise ModelError(f'count = {count}: must be >= 0')
        return self._queues[self._check(slice_id)].draws(first, count)

    # ------------------------------------------------------------------------------------------

    def _check(self, slice_id: int) -> int:
        if slice_id not in SLICES:
            raise ModelError(f'slice id {slice_id}: allowed {SLICE_EMBB} (eMBB) or '
                             f'{SLICE_URLLC} (URLLC)')
        return slice_id
