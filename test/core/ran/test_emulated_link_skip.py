"""
EmulatedLink's fast path (pre-drawn slots, departures found at arrival, a lazy vectorised Lindley
recursion) against a slot-by-slot FIFO reference that serves the same pre-drawn slots bit by bit:
the same relayed packets leave in the same slots, the same packets are dropped, and the metrics
agree; the link gives the same results however its slots are grouped, and its draws do not
depend on the relayed packets.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from ior_ros.core.config import validate_config
from ior_ros.core.errors import ModelError
from ior_ros.core.ran import emulated_link
from ior_ros.core.ran.emulated_link import (
    BLOCK_SLOTS,
    DEPARTURE_TOLERANCE_BITS,
    LOOKAHEAD_SLOTS,
    SLICE_EMBB,
    SLICE_URLLC,
    SLICES,
    EmulatedLink,
    EmulatedLinkConfig,
    SlotDraws,
)

REPORT_EVERY = 100
Offers = dict[int, list[tuple[int, int, float | None]]]  # slot -> (slice, packet id, bits)
Changes = dict[int, Callable[[EmulatedLink], None]]  # slot -> what is done to the link


def _offers(seed: int, slots: int, video_bits: tuple[float, float] | None = None,
            huge_frame_at: int | None = None) -> Offers:
    """A command every 7 slots (URLLC), a state every 10 (eMBB), video frames every 33 slots
    (eMBB, sizes uniform in ``video_bits``); one frame of 3 Mbit at ``huge_frame_at``."""
    rng = np.random.default_rng(seed)
    out: Offers = {}
    pid = 0
    for t in range(slots):
        todo: list[tuple[int, int, float | None]] = []
        if t % 7 == 3:
            todo.append((SLICE_URLLC, pid, None))
            pid += 1
        if t % 10 == 0:
            todo.append((SLICE_EMBB, pid, None))
            pid += 1
        if video_bits is not None and t % 33 == 5:
            todo.append((SLICE_EMBB, pid, float(8 * int(rng.uniform(*video_bits) / 8))))
            pid += 1
        if t == huge_frame_at:
            todo.append((SLICE_EMBB, pid, 3e6))
            pid += 1
        if todo:
            out[t] = todo
    return out


def _run_link(config: EmulatedLinkConfig, seed: int, slots: int, offers: Offers,
              changes: Changes, slot_by_slot: bool) -> tuple[list[Any], dict[int, bool], list]:
    """Drive the link as the node does (advance to the next event) or one step() per slot."""
    link = EmulatedLink(config, np.random.default_rng(seed))
    events = sorted({*offers, *changes, *range(0, slots + 1, REPORT_EVERY)})
    deliveries, accepted, reports = [], {}, []
    for t in events:
        while link.slot < t:
            deliveries += link.step() if slot_by_slot else link.advance(t - link.slot)
        if t and t % REPORT_EVERY == 0:
            reports.append(link.report())
        if t in changes:
            changes[t](link)
        for slice_id, pid, bits in offers.get(t, []):
            accepted[pid] = link.offer(slice_id, pid, bits)
    return deliveries, accepted, reports


def _draws(config: EmulatedLinkConfig, seed: int, slots: int,
           changes: Changes) -> dict[int, SlotDraws]:
    """The slots' draws, read from a second link of the same seed that gets the same PRB and
    fault changes at the same slots but no packet."""
    twin = EmulatedLink(config, np.random.default_rng(seed))
    parts: dict[int, list[SlotDraws]] = {s: [] for s in SLICES}
    start = 0
    for t in [*sorted(changes), slots]:
        for s in SLICES:
            parts[s].append(twin.slot_draws(s, start, t - start))
        twin.advance(t - start)
        if t in changes:
            changes[t](twin)
        start = t
    return {s: SlotDraws(*(np.concatenate(field) for field in zip(*parts[s], strict=True)))
            for s in SLICES}


def _reference(config: EmulatedLinkConfig, draws: dict[int, SlotDraws], slots: int,
               offers: Offers, accepted: dict[int, bool], extra_s: dict[int, dict[int, float]]
               ) -> tuple[list[Any], list, int]:
    """
    Slot by slot, packet by packet, bits taken from the head of each FIFO queue. Relayed packets
    that fit but that the link lost count as injected losses (returned); one the reference
    drops for a full queue must have been lost by the link too.
    """
    slot_s = config.slot_s
    queues: dict[int, deque[list[float]]] = {s: deque() for s in SLICES}
    backlog = {s: 0.0 for s in SLICES}
    extra = {s: int(round(config.slice(s).extra_delay_s / slot_s)) for s in SLICES}
    fresh = {'served': 0.0, 'delay': 0.0, 'departed': 0, 'offered': 0, 'lost': 0}
    count = {s: dict(fresh) for s in SLICES}
    deliveries: list[Any] = []
    reports: list = []
    injected = 0
    for t in range(slots):
        for s, value in extra_s.get(t, {}).items():
            extra[s] = int(round(value / slot_s))
        for s, pid, bits in offers.get(t, []):
            size = float(config.slice(s).packet_bits) if bits is None else bits
            count[s]['offered'] += 1
            if backlog[s] + size > config.slice(s).max_queue_bits:
                assert not accepted[pid], f'packet {pid} fits nowhere but the link queued it'
                count[s]['lost'] += 1
            elif not accepted[pid]:
                injected += 1
                count[s]['lost'] += 1
            else:
                queues[s].append([pid, t, size, extra[s]])
                backlog[s] += size
        for s in SLICES:
            cfg, d, c, queue = config.slice(s), draws[s], count[s], queues[s]
            c['offered'] += int(d.arrivals[t])
            c['lost'] += int(d.arrivals[t] - d.admitted[t])
            for _ in range(int(d.admitted[t])):
                if backlog[s] + cfg.packet_bits > cfg.max_queue_bits:
                    c['lost'] += 1
                else:
                    queue.append([-1, t, float(cfg.packet_bits), extra[s]])
                    backlog[s] += cfg.packet_bits
            budget = float(d.capacity_bits[t])
            while queue and budget > 0.0:
                head = queue[0]
                take = min(head[2], budget)
                head[2] -= take
                budget -= take
                backlog[s] -= take
                c['served'] += take
                if head[2] > DEPARTURE_TOLERANCE_BITS:
                    break
                queue.popleft()
                # relayed: the extra delay when offered; background: when it leaves
                release = t + int(head[3] if head[0] >= 0 else extra[s])
                delay = (release - head[1] + 1) * slot_s
                c['delay'] += delay
                c['departed'] += 1
                if head[0] >= 0:
                    deliveries.append((int(head[0]), release, delay))
            if not queue:
                backlog[s] = 0.0
        if (t + 1) % REPORT_EVERY == 0:
            seconds = REPORT_EVERY * slot_s
            reports.append([(c['served'] / seconds, backlog[s],
                             c['delay'] / c['departed'] if c['departed'] else 0.0,
                             c['lost'] / c['offered'] if c['offered'] else 0.0)
                            for s, c in count.items()])
            count = {s: dict(fresh) for s in SLICES}
    return deliveries, reports, injected


def _prbs(**by_name: int) -> Callable[[EmulatedLink], None]:
    ids = {'urllc': SLICE_URLLC, 'embb': SLICE_EMBB}
    return lambda link: link.set_prbs({ids[k]: v for k, v in by_name.items()})


SCENARIOS: dict[str, tuple[dict[str, Any], Changes, dict[int, dict[int, float]], bool]] = {
    # the closed-loop load (config/closed_loop.yaml) on the default cell, with video
    'closed-loop-load': ({'urllc': {'background_bps': 2e6},
                          'embb': {'prbs': 40, 'packet_bits': 12000, 'background_bps': 2e7}},
                         {}, {}, False),
    # URLLC on 1 PRB near saturation with a small queue: tail drops on every stretch; injected
    # loss on both slices; a video frame bigger than the eMBB queue
    'tail-drops-and-loss': ({'urllc': {'prbs': 1, 'packet_bits': 3000, 'background_bps': 1.5e6,
                                       'max_queue_bits': 60_000, 'loss': 0.05,
                                       'extra_delay_s': 0.003},
                             'embb': {'prbs': 20, 'background_bps': 2e7, 'loss': 0.1,
                                      'max_queue_bits': 2e6}}, {}, {}, True),
    # PRBs change (to none and back) while packets are queued, loss and extra delay change
    'prb-and-fault-changes': (
        {'urllc': {'prbs': 2, 'packet_bits': 2000, 'background_bps': 2.4e6},
         'embb': {'prbs': 30, 'background_bps': 3e7}},
        {900: _prbs(urllc=0, embb=30), 1300: _prbs(urllc=3), 1900: _prbs(urllc=3, embb=12),
         2300: lambda link: link.set_fault(SLICE_URLLC, loss=0.3),
         2600: lambda link: link.set_fault(SLICE_EMBB, extra_delay_s=0.01),
         3100: _prbs(urllc=3, embb=12)},
        {2600: {SLICE_EMBB: 0.01}}, False),
}


#: VECTOR_MIN_SLOTS of each way of serving: every stretch by the loop over the pre-drawn values,
#: every one by the vectorised recursion, or the shipped mix
PATHS = {'loop': 10**9, 'vectorised': 1, 'mixed': emulated_link.VECTOR_MIN_SLOTS}


@pytest.mark.parametrize('path', list(PATHS))
@pytest.mark.parametrize('name', list(SCENARIOS))
def test_fast_path_departs_as_the_slot_by_slot_reference(name: str, path: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emulated_link, 'VECTOR_MIN_SLOTS', PATHS[path])
    cell, changes, extra_s, huge = SCENARIOS[name]
    config = validate_config(EmulatedLinkConfig, cell)
    slots, seed = 4000, 11
    offers = _offers(3, slots, video_bits=(20_000, 400_000), huge_frame_at=1234 if huge else None)
    deliveries, accepted, reports = _run_link(config, seed, slots, offers, changes, False)
    draws = _draws(config, seed, slots, changes)
    expected, expected_reports, injected = _reference(config, draws, slots, offers, accepted,
                                                      extra_s)
    lost = sum(not ok for ok in accepted.values())
    print(f'{name}, {path}: {len(deliveries)} delivered, {lost} of {len(accepted)} relayed lost '
          f'({injected} injected), longest delay {max(d[2] for d in expected) * 1e3:.0f} ms')
    assert len(expected) > 500
    assert deliveries == expected  # the same packets, in the same order, the same slots
    for got, want in zip(reports, expected_reports, strict=True):
        for report, (rate, queue, delay, loss) in zip(got, want, strict=True):
            assert report.rate_bps == pytest.approx(rate, rel=1e-9, abs=1e-6)
            assert report.queue_bits == pytest.approx(queue, rel=1e-9, abs=1e-2)
            assert report.delay_s == pytest.approx(delay, rel=1e-9, abs=1e-12)
            assert report.loss_ratio == pytest.approx(loss, rel=1e-12, abs=1e-12)
    if name == 'tail-drops-and-loss':
        assert injected > 0 and lost > injected  # both kinds of loss happened
        assert accepted[max(p for ps in offers.values() for _, p, b in ps if b == 3e6)] is False
        assert any(r[SLICE_URLLC].loss_ratio > 0.05 for r in reports)  # tail drops on top


@pytest.mark.parametrize('name', list(SCENARIOS))
def test_grouping_of_slots_changes_nothing(name: str) -> None:
    cell, changes, _, huge = SCENARIOS[name]
    config = validate_config(EmulatedLinkConfig, cell)
    offers = _offers(4, 2500, video_bits=(20_000, 400_000), huge_frame_at=700 if huge else None)
    grouped = _run_link(config, 5, 2500, offers, changes, slot_by_slot=False)
    stepped = _run_link(config, 5, 2500, offers, changes, slot_by_slot=True)
    assert grouped[0] and grouped[0] == stepped[0] and grouped[1] == stepped[1]
    assert repr(grouped[2]) == repr(stepped[2])  # every metric to the last bit (NaN included)
    other = _run_link(config, 6, 2500, offers, changes, slot_by_slot=False)
    assert other[0] != grouped[0]


def test_draws_do_not_depend_on_relayed_packets() -> None:
    config = validate_config(EmulatedLinkConfig, {'urllc': {'prbs': 1, 'background_bps': 1e6},
                                                  'embb': {'background_bps': 2e7}})
    busy = EmulatedLink(config, np.random.default_rng(8))
    quiet = EmulatedLink(config, np.random.default_rng(8))
    for t in range(0, 3000, 3):  # a huge frame makes the link look far ahead
        busy.offer(SLICE_URLLC, t, 2e6 if t == 300 else None)
        busy.advance(3)
        quiet.advance(3)
        if t == 1500:
            busy.report()
    assert busy.next_release_slot() is not None
    for s in SLICES:
        a, b = busy.slot_draws(s, 3000, 5000), quiet.slot_draws(s, 3000, 5000)
        for x, y in zip(a, b, strict=True):
            assert np.array_equal(x, y)


def test_departure_is_known_when_the_packet_is_offered() -> None:
    config = validate_config(EmulatedLinkConfig, {'urllc': {'prbs': 1, 'packet_bits': 40_000,
                                                            'extra_delay_s': 0.004}})
    link = EmulatedLink(config, np.random.default_rng(2))
    link.advance(17)
    assert link.offer(SLICE_URLLC, 1)
    due = link.next_release_slot()
    assert due is not None and due > 17 + 4  # ~25 slots of service plus 4 of extra delay
    need = np.cumsum(link.slot_draws(SLICE_URLLC, 17, 200).capacity_bits)
    assert due == 17 + int(np.searchsorted(need, 40_000 - DEPARTURE_TOLERANCE_BITS)) + 4
    early = link.advance(due - 17 - 4)  # up to its departure slot, not through it
    assert early == [] and link.next_release_slot() == due
    (delivery,) = link.advance(1)
    assert delivery.release_slot == due and link.next_release_slot() is None


def test_zero_prbs_hold_packets_until_prbs_come() -> None:
    config = validate_config(EmulatedLinkConfig, {'urllc': {'prbs': 0}})
    link = EmulatedLink(config, np.random.default_rng(4))
    assert link.offer(SLICE_URLLC, 1) and link.offer(SLICE_URLLC, 2)
    assert link.next_release_slot() is None and link.advance(5000) == []
    assert link.report()[SLICE_URLLC].queue_bits == 2000  # two packets of 1000 bit
    link.set_prbs({SLICE_URLLC: 5})
    assert link.next_release_slot() == 5000  # 2000 bit fit in one slot of 5 PRBs
    assert [d.packet_id for d in link.advance(1)] == [1, 2]


def test_departure_beyond_the_search_horizon() -> None:
    # 1 PRB serves ~1.6 kbit per slot: 150 Mbit take ~90 000 slots, beyond LOOKAHEAD_SLOTS
    config = validate_config(EmulatedLinkConfig, {'urllc': {'prbs': 1, 'max_queue_bits': 1e9}})
    link = EmulatedLink(config, np.random.default_rng(6))
    need = np.cumsum(link.slot_draws(SLICE_URLLC, 0, 3 * LOOKAHEAD_SLOTS).capacity_bits)
    departure = int(np.searchsorted(need, 150e6 - DEPARTURE_TOLERANCE_BITS))
    assert departure > LOOKAHEAD_SLOTS
    assert link.offer(SLICE_URLLC, 9, 150e6)
    assert link.next_release_slot() == LOOKAHEAD_SLOTS  # not before the horizon searched
    got = []
    while not got:
        due = link.next_release_slot()
        assert due is not None
        got = link.advance(due + 1 - link.slot)
    assert got[0].release_slot == departure and link.slot == departure + 1


def test_bad_calls_are_refused() -> None:
    link = EmulatedLink(EmulatedLinkConfig(), np.random.default_rng(0))
    with pytest.raises(ModelError, match='slots = -1'):
        link.advance(-1)
    for bits in (0, -8, float('nan'), float('inf')):
        with pytest.raises(ModelError, match='bits = .*: must be a finite number > 0'):
            link.offer(SLICE_EMBB, 1, bits)
    with pytest.raises(ModelError, match='slice id 3'):
        link.offer(3, 1)
    with pytest.raises(ModelError, match='count = -2'):
        link.slot_draws(SLICE_URLLC, 0, -2)
    link.advance(3 * BLOCK_SLOTS)
    link.report()
    with pytest.raises(ModelError, match='slot_draws from slot 0: slots before 3072 are no '
                                         'longer kept'):
        link.slot_draws(SLICE_URLLC, 0, 10)
