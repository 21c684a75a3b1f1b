"""
Air interface of seed 000 §IV step 3: eMBB scheduled per slot, URLLC punctured into mini-slots.

Resource grid
-------------
Time is cut into slots of ``slot_s`` (1 ms in the seed), each cut into ``minislots_per_slot``
mini-slots (4). Frequency is cut into ``n_ru`` resource units (RUs; the seed's "sub-carriers", see
docs/models/ran-coexistence.md). One RU in one mini-slot carries ``data_re_per_ru_minislot``
data resource elements (200, the seed's "channel block length"): exactly one URLLC packet, or
``200 · log2(1 + γ)`` eMBB bits (Shannon per resource element, seed 003 eq. 1).

eMBB
----
Per slot, a scheduler from :mod:`ior_ros.core.ran.schedulers` (proportional fair by default)
gives each RU to one eMBB UE that still needs bits (a UE stops competing once its RUs carry its
backlog); RUs nobody needs stay idle. A UE's transport block is ``min(queue, allocated bits)``.

URLLC puncturing (the proposed rule and PUTD)
---------------------------------------------
A URLLC packet that becomes ready (leaves the compute queue) at time t is sent in the *next*
mini-slot, the first one that starts after t, on one RU taken from the eMBB transmission (or an
idle RU). At most ``M`` URLLC packets go out per mini-slot. The seed's sentence on what happens
above M is cut off; we complete it as follows (see docs/models/ran-coexistence.md):

* ``threshold_queue`` (proposed; also EUAD): every packet has two mini-slots, its first chance
  and the one right after (its last chance). In a mini-slot the packets on their last chance go
  first (oldest first), then the new ones, up to M. New packets left over wait for the next
  mini-slot, their last chance; last-chance packets left over are dropped (outage). A packet whose
  first transmission is not decoded is sent again in its last-chance mini-slot (the "maximum
  number of transmissions" of the seed's outage definition is 2).
* ``threshold_drop`` (PUTD, Li & Zhang, IEEE WCL 9(9) 2020): only the next mini-slot; the
  packets above M are dropped at once, and a packet not decoded is lost (no queue, so no second
  transmission).

Which RUs are punctured: the k packets of a mini-slot take the k RUs with the best URLLC channel
(``best_urllc``, default; reliability first), or the idle RUs first and then the best remaining
(``idle_first``; spares eMBB). A URLLC packet sent on an RU with SNR γ is decoded with probability
``1 − ε`` where ``ε = Q((n C(γ) − D + ½ log2 n) / sqrt(n V(γ)))`` is the finite-blocklength error
probability (:func:`ior_ros.core.ran.rates.fbl_error_probability`) for D bits in n = 200 channel
uses.

eMBB loss: a punctured RU-mini-slot removes exactly its eMBB bits, ``200 · log2(1 + γ_eMBB)``,
from the UE's transport block (linear loss model of Anand, de Veciana, Shakkottai, IEEE/ACM ToN
28(2) 2020); the UE delivers ``max(0, min(queue, allocated) − lost)`` bits and the lost bits stay
in its queue.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
import numpy.typing as npt

from ior_ros.core.errors import DimensionError, ModelError
from ior_ros.core.progress import ProgressFn
from ior_ros.core.ran.schedulers import EmbbScheduler, SchedulerKind, make_scheduler

__all__ = ['AirRule', 'PunctureChoice', 'UrllcOutcome', 'MiniSlotDecision',
           'decide_minislot', 'puncture_ru_order', 'AirResult', 'UrllcStream',
           'simulate_air_batch', 'simulate_air_interface', 'example_decision_case']

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class AirRule(str, Enum):
    """What happens to URLLC packets above the per-mini-slot threshold M."""

    THRESHOLD_QUEUE = 'threshold_queue'
    THRESHOLD_DROP = 'threshold_drop'


class PunctureChoice(str, Enum):
    """Which RUs the URLLC packets of a mini-slot take."""

    BEST_URLLC = 'best_urllc'
    IDLE_FIRST = 'idle_first'


class UrllcOutcome(int, Enum):
    """Fate of a URLLC packet at the air interface."""

    PENDING = 0
    DELIVERED = 1
    DROPPED_THRESHOLD = 2
    """Above M in its last allowed mini-slot (PUTD: at once)."""
    DECODING_FAILED = 3
    """Its last allowed transmission was not decoded."""
    NOT_SIMULATED = 4
    """Became ready after the simulated horizon."""


@dataclass(frozen=True)
class MiniSlotDecision:
    """
    One mini-slot's URLLC decision.

    Attributes:
        sent: packets transmitted, in priority order.
        rus: the RU of each sent packet.
        deferred: new packets above M that wait for the next mini-slot (``threshold_queue``).
        dropped: packets dropped above M (last chance, or at once under ``threshold_drop``).
    """

    sent: list[int]
    rus: list[int]
    deferred: list[int]
    dropped: list[int]


def _decide(last_chance: list[int], new: list[int], max_packets: int, ru_order: Sequence[int],
            drop_rule: bool) -> tuple[list[int], list[int], list[int], list[int]]:
    """The threshold rule as a tuple (sent, rus, deferred, dropped); see decide_minislot."""
    if drop_rule:
        sent = new[:max_packets]
        return sent, list(ru_order[:len(sent)]), [], new[max_packets:]
    n_last = len(last_chance)
    if n_last >= max_packets:
        return (last_chance[:max_packets], list(ru_order[:max_packets]), list(new),
                last_chance[max_packets:])
    room = max_packets - n_last
    sent = last_chance + new[:room]
    return sent, list(ru_order[:len(sent)]), new[room:], []


def decide_minislot(last_chance: list[int], new: list[int], max_packets: int,
                    ru_order: Sequence[int], rule: AirRule) -> MiniSlotDecision:
    """
    The per-mini-slot threshold rule (hot path: plain lists, no numpy).

    Args:
        last_chance: packets on their last chance, oldest first (empty under ``threshold_drop``).
        new: packets on their first chance, oldest first.
        max_packets: M, at most this many packets go out.
        ru_order: RUs in puncturing preference order (``len >= M``).
        rule: the threshold rule.

    Returns:
        the decision (which packets go out on which RUs, which wait, which are dropped).
    """
    sent, rus, deferred, dropped = _decide(last_chance, new, max_packets, ru_order,
                                           rule is AirRule.THRESHOLD_DROP)
    return MiniSlotDecision(sent, rus, deferred, dropped)


def puncture_ru_order(urllc_snr: FloatArray, assignment: IntArray,
                      choice: PunctureChoice) -> list[int]:
    """
    RUs in the order URLLC takes them in one slot.

    Args:
        urllc_snr: ``[n_ru]`` URLLC SNR per RU.
        assignment: ``[n_ru]`` eMBB UE per RU (``-1``: idle).
        choice: the puncturing preference.
    """
    best = np.argsort(-urllc_snr, kind='stable')  # [n_ru]
    if choice is PunctureChoice.BEST_URLLC:
        return [int(r) for r in best]
    idle = assignment[best] < 0  # [n_ru]
    return [int(r) for r in np.concatenate((best[idle], best[~idle]))]


@dataclass(frozen=True)
class AirResult:
    """
    Outcome of :func:`simulate_air_interface`.

    Attributes:
        urllc_delivery_s: ``[n_u]`` end of the mini-slot that delivered each packet [s]; NaN if
            not delivered.
        urllc_outcome: ``[n_u]`` :class:`UrllcOutcome` codes.
        urllc_transmissions: ``[n_u]`` transmissions of each packet (0, 1 or 2).
        embb_delivered_bits: ``[n_slots, n_ue]`` eMBB bits delivered per slot.
        embb_lost_bits: ``[n_slots, n_ue]`` eMBB bits removed by puncturing.
        punctured_ru_minislots: ``[n_slots]`` RU-mini-slots taken from scheduled eMBB.
        urllc_ru_minislots: ``[n_slots]`` RU-mini-slots carrying URLLC (punctured or idle).
        embb_ru_minislots: ``[n_slots]`` RU-mini-slots carrying eMBB (not punctured).
        max_urllc_per_minislot: the most URLLC packets sent in one mini-slot.
        urllc_sent_per_minislot: ``[n_slots, minislots_per_slot]`` URLLC packets sent in each
            mini-slot (they take the first RUs of the slot's puncturing order).
    """

    urllc_delivery_s: FloatArray
    urllc_outcome: npt.NDArray[np.int8]
    urllc_transmissions: npt.NDArray[np.int8]
    embb_delivered_bits: FloatArray
    embb_lost_bits: FloatArray
    punctured_ru_minislots: IntArray
    urllc_ru_minislots: IntArray
    embb_ru_minislots: IntArray
    max_urllc_per_minislot: int
    urllc_sent_per_minislot: npt.NDArray[np.int16]


def _allocated_bits(assignment: IntArray, bits: FloatArray) -> FloatArray:
    """``[batch, n_ue]`` bits allocated to each UE by ``assignment`` ``[batch, n_ru]``."""
    batch = assignment.shape[0]
    n_ue = bits.shape[0]
    b_idx, r_idx = np.nonzero(assignment >= 0)
    ue = assignment[b_idx, r_idx]
    total = np.bincount(b_idx * n_ue + ue, weights=bits[ue, r_idx], minlength=batch * n_ue)
    return np.asarray(total, dtype=np.float64).reshape(batch, n_ue)


@dataclass(frozen=True)
class UrllcStream:
    """
    One configuration's URLLC input for :func:`simulate_air_batch`.

    Attributes:
        ready_s: ``[n_u]`` non-decreasing times the packets become ready [s].
        max_per_minislot: M.
        rule: the threshold rule.
    """

    ready_s: FloatArray
    max_per_minislot: int
    rule: AirRule


def simulate_air_batch(*, slot_s: float, minislots_per_slot: int, embb_slot_bits: FloatArray,
                       urllc_snr: FloatArray, urllc_success: BoolArray,
                       streams: Sequence[UrllcStream],
                       embb_arrival_packets: npt.NDArray[np.integer] | None,
                       embb_packet_bits: float, scheduler: EmbbScheduler,
                       choice: PunctureChoice = PunctureChoice.BEST_URLLC,
                       retransmit: bool = True,
                       progress: ProgressFn | None = None) -> list[AirResult]:
    """
    Slot-by-slot simulation of the air interface (module docstring) for a batch of independent
    configurations that share the channel (common random numbers) and differ in their traffic,
    threshold and rule. eMBB is scheduled for all configurations at once (the scheduler's batch
    mode); the URLLC threshold rule runs per configuration and per busy mini-slot.

    Args:
        slot_s: slot length [s].
        minislots_per_slot: mini-slots per slot.
        embb_slot_bits: ``[n_slots, n_ue, n_ru]`` eMBB bits an RU carries in a whole slot.
        urllc_snr: ``[n_slots, n_ru]`` URLLC SNR (linear) per RU.
        urllc_success: ``[n_slots, minislots_per_slot, n_ru]`` whether a URLLC packet sent on
            that RU-mini-slot is decoded (drawn by the caller from the FBL error probability).
        streams: ``[batch]`` URLLC input of each configuration.
        embb_arrival_packets: ``[batch, n_slots, n_ue]`` eMBB packets reaching each UE's radio
            queue before each slot starts; None: full buffer (every UE always backlogged).
        embb_packet_bits: eMBB packet size [bit].
        scheduler: the eMBB scheduler, built with ``batch_size = len(streams)``, ``slot_s`` and
            reset.
        choice: which RUs are punctured.
        retransmit: a packet not decoded on its first chance is sent again on its last chance
            (``threshold_queue`` only).
        progress: called now and then with the number of cell-slots simulated since the last
            call (for a progress bar).

    Returns:
        one :class:`AirResult` per configuration.
    """
    n_slots, n_ue, n_ru = embb_slot_bits.shape
    k_mini = int(minislots_per_slot)
    batch = len(streams)
    if urllc_snr.shape != (n_slots, n_ru):
        raise DimensionError(f'urllc_snr has shape {urllc_snr.shape}; expected '
                             f'{(n_slots, n_ru)} ([n_slots, n_ru])')
    if urllc_success.shape != (n_slots, k_mini, n_ru):
        raise DimensionError(f'urllc_success has shape {urllc_success.shape}; expected '
                             f'{(n_slots, k_mini, n_ru)} ([n_slots, minislots, n_ru])')
    if embb_arrival_packets is not None and embb_arrival_packets.shape != (batch, n_slots, n_ue):
        raise DimensionError(f'embb_arrival_packets has shape {embb_arrival_packets.shape}; '
                             f'expected {(batch, n_slots, n_ue)} ([batch, n_slots, n_ue])')
    if scheduler.state_shape != (batch, n_ue):
        raise DimensionError(f'the scheduler has state shape {scheduler.state_shape}; expected '
                             f'{(batch, n_ue)} (batch_size = len(streams))')
    if not (math.isfinite(slot_s) and slot_s > 0) or k_mini < 1:
        raise ModelError(f'slot_s = {slot_s!r}, minislots_per_slot = {k_mini}: must be > 0, >= 1')
    for st in streams:
        if not 1 <= st.max_per_minislot <= n_ru:
            raise ModelError(f'max_urllc_per_minislot = {st.max_per_minislot}: must be in '
                             f'[1, n_ru = {n_ru}]')
    choice = PunctureChoice(choice)
    mini_s = slot_s / k_mini
    # per-configuration URLLC state (plain lists: the hot path)
    drop_rule = [AirRule(st.rule) is AirRule.THRESHOLD_DROP for st in streams]
    caps = [int(st.max_per_minislot) for st in streams]
    retry = [retransmit and not d for d in drop_rule]
    first_chance: list[list[int]] = []
    delivery: list[list[float]] = []
    outcome: list[list[int]] = []
    transmissions: list[list[int]] = []
    nan = math.nan
    for st in streams:
        ready = np.asarray(st.ready_s, dtype=float)
        first_chance.append((np.floor(ready / mini_s).astype(np.int64) + 1).tolist())
        delivery.append([nan] * ready.size)
        outcome.append([UrllcOutcome.PENDING.value] * ready.size)
        transmissions.append([0] * ready.size)
    ptr = [0] * batch
    next_g = [fc[0] if fc else math.inf for fc in first_chance]
    last_chance: list[list[int]] = [[] for _ in range(batch)]
    max_sent = [0] * batch

    delivered_bits = np.zeros((batch, n_slots, n_ue))
    lost_bits = np.zeros((batch, n_slots, n_ue))
    punctured = np.zeros((batch, n_slots), dtype=np.int64)
    urllc_used = np.zeros((batch, n_slots), dtype=np.int64)
    embb_used = np.zeros((batch, n_slots), dtype=np.int64)
    sent_per_mini = np.zeros((batch, n_slots, k_mini), dtype=np.int16)

    full_buffer = embb_arrival_packets is None
    queue = np.zeros((batch, n_ue))
    best_order = np.argsort(-urllc_snr, axis=1, kind='stable')  # [n_slots, n_ru]
    code_delivered = UrllcOutcome.DELIVERED.value
    code_dropped = UrllcOutcome.DROPPED_THRESHOLD.value
    code_failed = UrllcOutcome.DECODING_FAILED.value

    for t in range(n_slots):
        bits = embb_slot_bits[t]  # [n_ue, n_ru]
        rates = np.broadcast_to(bits / slot_s, (batch, n_ue, n_ru))  # [batch, n_ue, n_ru]
        if full_buffer:
            assignment = scheduler.assign(rates)  # [batch, n_ru]
            tb = _allocated_bits(assignment, bits)  # [batch, n_ue]
        else:
            assert embb_arrival_packets is not None
            queue += embb_arrival_packets[:, t, :] * embb_packet_bits
            assignment = scheduler.assign(rates, queue)  # [batch, n_ru]; -1: nobody needs it
            tb = np.minimum(queue, _allocated_bits(assignment, bits))
        lost = np.zeros((batch, n_ue))
        g0 = t * k_mini
        g_end = g0 + k_mini
        active = [b for b in range(batch) if next_g[b] < g_end or last_chance[b]]
        if active:
            bits_l = bits.tolist()  # [n_ue][n_ru]
            assign_l = assignment.tolist()  # [batch][n_ru]
            ok_slot = urllc_success[t].tolist()  # [k_mini][n_ru]
            order_all = (best_order[t].tolist() if choice is PunctureChoice.BEST_URLLC
                         else None)
            for b in active:
                order = (order_all if order_all is not None
                         else puncture_ru_order(urllc_snr[t], assignment[b], choice))
                a_row = assign_l[b]
                fc = first_chance[b]
                n_fc = len(fc)
                p = ptr[b]
                lc = last_chance[b]
                out_b, del_b, tx_b = outcome[b], delivery[b], transmissions[b]
                lost_b = [0.0] * n_ue
                n_punct = n_urllc = 0
                for m in range(k_mini):
                    g = g0 + m
                    if p < n_fc and fc[p] == g:
                        q = p + 1
                        while q < n_fc and fc[q] == g:
                            q += 1
                        new = list(range(p, q))
                        p = q
                    elif lc:
                        new = []
                    else:
                        continue
                    sent, rus, deferred, dropped = _decide(lc, new, caps[b], order,
                                                           drop_rule[b])
                    for pk in dropped:
                        out_b[pk] = code_dropped
                    ok_row = ok_slot[m]
                    end_s = (g + 1) * mini_s
                    n_sent = len(sent)
                    sent_per_mini[b, t, m] = n_sent
                    if n_sent > max_sent[b]:
                        max_sent[b] = n_sent
                    first_from = min(len(lc), n_sent)  # sent[first_from:] are first tries
                    nxt = deferred
                    for i in range(n_sent):
                        pk = sent[i]
                        ru = rus[i]
                        tx_b[pk] += 1
                        ue = a_row[ru]
                        if ue >= 0:
                            lost_b[ue] += bits_l[ue][ru]
                            n_punct += 1
                        n_urllc += 1
                        if ok_row[ru]:
                            out_b[pk] = code_delivered
                            del_b[pk] = end_s
                        elif retry[b] and i >= first_from:
                            nxt.append(pk)
                        else:
                            out_b[pk] = code_failed
                    if len(nxt) > 1:
                        nxt.sort()
                    lc = nxt
                ptr[b] = p
                last_chance[b] = lc
                next_g[b] = fc[p] if p < n_fc else math.inf
                if n_urllc:
                    lost[b] = lost_b
                    punctured[b, t] = n_punct
                    urllc_used[b, t] = n_urllc
            lost /= k_mini  # an RU-mini-slot carries a k_mini-th of the slot's bits
        delivered = np.maximum(tb - lost, 0.0)  # [batch, n_ue]
        if not full_buffer:
            queue -= delivered
        delivered_bits[:, t, :] = delivered
        lost_bits[:, t, :] = np.minimum(lost, tb)
        embb_used[:, t] = np.count_nonzero(assignment >= 0, axis=1) * k_mini - punctured[:, t]
        scheduler.update(assignment, delivered / slot_s)
        if progress is not None and (t + 1) % 250 == 0:
            progress(250 * batch)
    if progress is not None and n_slots % 250:
        progress((n_slots % 250) * batch)

    results = []
    for b in range(batch):
        out = np.asarray(outcome[b], dtype=np.int8)
        out[out == UrllcOutcome.PENDING.value] = UrllcOutcome.NOT_SIMULATED.value
        results.append(AirResult(np.asarray(delivery[b], dtype=float), out,
                                 np.asarray(transmissions[b], dtype=np.int8),
                                 delivered_bits[b], lost_bits[b], punctured[b], urllc_used[b],
                                 embb_used[b], max_sent[b], sent_per_mini[b]))
    return results


def simulate_air_interface(*, slot_s: float, minislots_per_slot: int,
                           embb_slot_bits: FloatArray, urllc_snr: FloatArray,
                           urllc_success: BoolArray, urllc_ready_s: FloatArray,
                           embb_arrival_packets: npt.NDArray[np.integer] | None,
                           embb_packet_bits: float, scheduler_kind: SchedulerKind | str,
                           max_urllc_per_minislot: int, rule: AirRule,
                           choice: PunctureChoice = PunctureChoice.BEST_URLLC,
                           retransmit: bool = True, pf_beta: float = 0.98) -> AirResult:
    """
    One configuration of :func:`simulate_air_batch` (``embb_arrival_packets`` ``[n_slots,
    n_ue]``); builds its own scheduler of ``scheduler_kind``.
    """
    n_slots, n_ue, _ = embb_slot_bits.shape
    arrivals = None if embb_arrival_packets is None else embb_arrival_packets[None, :, :]
    scheduler = make_scheduler(scheduler_kind, n_ue, batch_size=1, beta=pf_beta, slot_s=slot_s)
    return simulate_air_batch(
        slot_s=slot_s, minislots_per_slot=minislots_per_slot, embb_slot_bits=embb_slot_bits,
        urllc_snr=urllc_snr, urllc_success=urllc_success,
        streams=[UrllcStream(np.asarray(urllc_ready_s, dtype=float), max_urllc_per_minislot,
                             rule)],
        embb_arrival_packets=arrivals, embb_packet_bits=embb_packet_bits, scheduler=scheduler,
        choice=choice, retransmit=retransmit)[0]


def example_decision_case() -> Callable[[], MiniSlotDecision]:
    """
    One representative mini-slot decision for the benchmark: 9 UEs (8 eMBB + 1 URLLC), 12 RUs,
    M = 4, 3 packets on their last chance and 5 new ones; the callable ranks the RUs by the URLLC
    channel (:func:`puncture_ru_order`; the simulator does this once per slot, vectorized), runs
    the threshold rule, accounts the eMBB bits lost per UE and reads the decoding outcome, as
    :func:`simulate_air_batch` does for each busy mini-slot.
    """
    rng = np.random.default_rng(7)
    n_ue, n_ru, k_mini = 8, 12, 4
    snr = rng.exponential(10.0, size=(n_ue, n_ru))  # [n_ue, n_ru]
    bits = (k_mini * 200.0 * np.log2(1.0 + snr)).tolist()  # [n_ue][n_ru]
    assignment_arr = rng.integers(0, n_ue, size=n_ru)  # [n_ru]
    assignment = assignment_arr.tolist()
    urllc_snr = rng.exponential(10.0, size=n_ru)  # [n_ru]
    success = (rng.random(n_ru) < 0.999).tolist()  # [n_ru]
    last_chance = [101, 102, 103]
    new = [104, 105, 106, 107, 108]

    def run() -> MiniSlotDecision:
        order = puncture_ru_order(urllc_snr, assignment_arr, PunctureChoice.BEST_URLLC)
        dec = decide_minislot(last_chance, new, 4, order, AirRule.THRESHOLD_QUEUE)
        lost = [0.0] * n_ue
        delivered = []
        for p, ru in zip(dec.sent, dec.rus):
            ue = assignment[ru]
            if ue >= 0:
                lost[ue] += bits[ue][ru] / k_mini
            if success[ru]:
                delivered.append(p)
        return dec

    return run
