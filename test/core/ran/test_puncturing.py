"""Air interface: the threshold rule, the two-mini-slot deadline, PUTD, eMBB loss accounting."""

from __future__ import annotations

import numpy as np
import pytest

from ior_ros.core.errors import DimensionError, ModelError
from ior_ros.core.ran import puncturing as pu
from ior_ros.core.ran import traffic as tr
from ior_ros.core.ran.schedulers import make_scheduler

SLOT_S = 1e-3
K_MINI = 4
MINI_S = SLOT_S / K_MINI


def _channel(rng: np.random.Generator, n_slots: int, n_ue: int, n_ru: int,
             p_success: float = 0.9):
    snr = rng.exponential(3.0, size=(n_slots, n_ue + 1, n_ru))
    bits = K_MINI * 200.0 * np.log2(1.0 + snr[:, :n_ue, :])  # [n_slots, n_ue, n_ru]
    urllc_snr = snr[:, -1, :]
    success = rng.random((n_slots, K_MINI, n_ru)) < p_success
    return bits, urllc_snr, success


def _bursty_ready(rng: np.random.Generator, horizon_s: float) -> np.ndarray:
    # batches of 6 on average, released almost at once: many packets per mini-slot
    arr = tr.compound_poisson_arrivals(300.0, 6.0, horizon_s, rng)
    return np.sort(arr.times_s + rng.exponential(20e-6, arr.n_packets))


def _run(rule: pu.AirRule, m: int, seed: int = 0, n_slots: int = 2000, n_ue: int = 4,
         n_ru: int = 8, full_buffer: bool = True, p_success: float = 0.9):
    rng = np.random.default_rng(seed)
    bits, urllc_snr, success = _channel(rng, n_slots, n_ue, n_ru, p_success)
    ready = _bursty_ready(rng, n_slots * SLOT_S * 0.98)
    arrivals = None if full_buffer else rng.poisson(0.4, size=(n_slots, n_ue))
    air = pu.simulate_air_interface(
        slot_s=SLOT_S, minislots_per_slot=K_MINI, embb_slot_bits=bits, urllc_snr=urllc_snr,
        urllc_success=success, urllc_ready_s=ready, embb_arrival_packets=arrivals,
        embb_packet_bits=12_000.0, scheduler_kind='proportional_fair',
        max_urllc_per_minislot=m, rule=rule)
    return air, ready, bits, urllc_snr, success


@pytest.mark.parametrize('rule', list(pu.AirRule))
@pytest.mark.parametrize('m', [1, 3, 8])
def test_never_more_than_m_per_minislot(rule: pu.AirRule, m: int) -> None:
    air, *_ = _run(rule, m)
    assert air.urllc_sent_per_minislot.max() <= m
    assert air.max_urllc_per_minislot == air.urllc_sent_per_minislot.max()
    # the burst really exceeds M sometimes, or the test would prove nothing
    assert air.max_urllc_per_minislot == m


@pytest.mark.parametrize('m', [1, 3, 8])
def test_no_packet_later_than_its_second_minislot(m: int) -> None:
    air, ready, *_ = _run(pu.AirRule.THRESHOLD_QUEUE, m)
    first = np.floor(ready / MINI_S) + 1  # the next mini-slot after the packet is ready
    ok = air.urllc_outcome == pu.UrllcOutcome.DELIVERED
    end = air.urllc_delivery_s[ok] / MINI_S
    assert np.all(np.isclose(end, first[ok] + 1) | np.isclose(end, first[ok] + 2))
    assert np.any(np.isclose(end, first[ok] + 2))  # the second chance is used
    assert np.all(air.urllc_transmissions <= 2)
    # a packet is dropped for the threshold only when its last chance came and went
    late = air.urllc_outcome == pu.UrllcOutcome.DROPPED_THRESHOLD
    assert np.all(np.isnan(air.urllc_delivery_s[late]))  # never delivered


def test_threshold_drops_fall_as_m_grows() -> None:
    drops = [np.sum(_run(pu.AirRule.THRESHOLD_QUEUE, m)[0].urllc_outcome
                    == pu.UrllcOutcome.DROPPED_THRESHOLD) for m in (1, 2, 4, 8)]
    assert drops[0] > drops[1] > drops[2] > drops[3]


@pytest.mark.parametrize('m', [1, 3])
def test_putd_drops_at_once_and_sends_once(m: int) -> None:
    air, ready, *_ = _run(pu.AirRule.THRESHOLD_DROP, m)
    first = np.floor(ready / MINI_S) + 1
    ok = air.urllc_outcome == pu.UrllcOutcome.DELIVERED
    assert np.allclose(air.urllc_delivery_s[ok] / MINI_S, first[ok] + 1)
    assert np.all(air.urllc_transmissions <= 1)
    dropped = air.urllc_outcome == pu.UrllcOutcome.DROPPED_THRESHOLD
    assert dropped.any() and np.all(air.urllc_transmissions[dropped] == 0)
    failed = air.urllc_outcome == pu.UrllcOutcome.DECODING_FAILED
    assert failed.any() and np.all(air.urllc_transmissions[failed] == 1)


def test_queue_rule_loses_fewer_packets_than_drop_rule() -> None:
    queue, *_ = _run(pu.AirRule.THRESHOLD_QUEUE, 3)
    drop, *_ = _run(pu.AirRule.THRESHOLD_DROP, 3)
    lost_q = np.mean(queue.urllc_outcome != pu.UrllcOutcome.DELIVERED)
    lost_d = np.mean(drop.urllc_outcome != pu.UrllcOutcome.DELIVERED)
    assert lost_q < lost_d


def test_embb_loses_exactly_the_punctured_resources() -> None:
    # one backlogged eMBB UE owns every RU, so a punctured RU-mini-slot costs exactly its bits
    air, ready, bits, urllc_snr, _ = _run(pu.AirRule.THRESHOLD_QUEUE, 3, n_ue=1, n_ru=6,
                                          n_slots=800)
    order = np.argsort(-urllc_snr, axis=1, kind='stable')  # best URLLC RU first
    expected_lost = np.zeros(bits.shape[0])
    for t in range(bits.shape[0]):
        for k in air.urllc_sent_per_minislot[t]:
            expected_lost[t] += bits[t, 0, order[t, :k]].sum() / K_MINI
    assert expected_lost.sum() > 0
    assert np.allclose(air.embb_lost_bits[:, 0], expected_lost)
    assert np.allclose(air.embb_delivered_bits[:, 0], bits[:, 0, :].sum(axis=1) - expected_lost)
    assert np.array_equal(air.punctured_ru_minislots, air.urllc_sent_per_minislot.sum(axis=1))


def test_idle_resources_cost_embb_nothing() -> None:
    # with light eMBB traffic some RUs are idle; idle_first puts URLLC there first
    rng = np.random.default_rng(3)
    n_slots, n_ue, n_ru = 1000, 4, 8
    bits, urllc_snr, success = _channel(rng, n_slots, n_ue, n_ru)
    ready = _bursty_ready(rng, 0.95)
    arrivals = rng.poisson(0.05, size=(n_slots, n_ue))
    res = {}
    for choice in pu.PunctureChoice:
        res[choice] = pu.simulate_air_interface(
            slot_s=SLOT_S, minislots_per_slot=K_MINI, embb_slot_bits=bits,
            urllc_snr=urllc_snr, urllc_success=success, urllc_ready_s=ready,
            embb_arrival_packets=arrivals, embb_packet_bits=12_000.0,
            scheduler_kind='round_robin', max_urllc_per_minislot=4,
            rule=pu.AirRule.THRESHOLD_QUEUE, choice=choice)
    idle, best = res[pu.PunctureChoice.IDLE_FIRST], res[pu.PunctureChoice.BEST_URLLC]
    assert idle.punctured_ru_minislots.sum() < best.punctured_ru_minislots.sum()
    assert idle.embb_lost_bits.sum() < best.embb_lost_bits.sum()


def test_decide_minislot_rule() -> None:
    order = [5, 2, 7, 0, 1, 3, 4, 6]
    dec = pu.decide_minislot([10, 11], [12, 13, 14], 3, order, pu.AirRule.THRESHOLD_QUEUE)
    assert dec.sent == [10, 11, 12] and dec.rus == [5, 2, 7]
    assert dec.deferred == [13, 14] and dec.dropped == []
    dec = pu.decide_minislot([10, 11, 12, 13], [14], 3, order, pu.AirRule.THRESHOLD_QUEUE)
    assert dec.sent == [10, 11, 12] and dec.dropped == [13] and dec.deferred == [14]
    dec = pu.decide_minislot([], [20, 21, 22, 23], 2, order, pu.AirRule.THRESHOLD_DROP)
    assert dec.sent == [20, 21] and dec.dropped == [22, 23] and dec.deferred == []


def test_example_decision_case_runs() -> None:
    run = pu.example_decision_case()
    dec = run()
    assert len(dec.sent) == 4 and dec.sent[:3] == [101, 102, 103]
    assert len(set(dec.rus)) == len(dec.rus)


def test_batch_equals_single_runs() -> None:
    rng = np.random.default_rng(9)
    n_slots, n_ue, n_ru = 600, 3, 6
    bits, urllc_snr, success = _channel(rng, n_slots, n_ue, n_ru)
    ready = [_bursty_ready(rng, 0.55), _bursty_ready(rng, 0.55)]
    arrivals = rng.poisson(0.5, size=(2, n_slots, n_ue))
    rules = [pu.AirRule.THRESHOLD_QUEUE, pu.AirRule.THRESHOLD_DROP]
    sched = make_scheduler('proportional_fair', n_ue, batch_size=2, slot_s=SLOT_S)
    batch = pu.simulate_air_batch(
        slot_s=SLOT_S, minislots_per_slot=K_MINI, embb_slot_bits=bits, urllc_snr=urllc_snr,
        urllc_success=success,
        streams=[pu.UrllcStream(ready[i], 2 + i, rules[i]) for i in range(2)],
        embb_arrival_packets=arrivals, embb_packet_bits=12_000.0, scheduler=sched)
    for i in range(2):
        single = pu.simulate_air_interface(
            slot_s=SLOT_S, minislots_per_slot=K_MINI, embb_slot_bits=bits, urllc_snr=urllc_snr,
            urllc_success=success, urllc_ready_s=ready[i], embb_arrival_packets=arrivals[i],
            embb_packet_bits=12_000.0, scheduler_kind='proportional_fair',
            max_urllc_per_minislot=2 + i, rule=rules[i])
        assert np.array_equal(single.urllc_outcome, batch[i].urllc_outcome)
        assert np.allclose(single.embb_delivered_bits, batch[i].embb_delivered_bits)


def test_same_inputs_same_outputs() -> None:
    a, *_ = _run(pu.AirRule.THRESHOLD_QUEUE, 3, seed=4, full_buffer=False)
    b, *_ = _run(pu.AirRule.THRESHOLD_QUEUE, 3, seed=4, full_buffer=False)
    assert np.array_equal(a.urllc_outcome, b.urllc_outcome)
    assert np.array_equal(a.embb_delivered_bits, b.embb_delivered_bits)


def test_bad_threshold_and_shapes() -> None:
    rng = np.random.default_rng(0)
    bits, urllc_snr, success = _channel(rng, 20, 2, 4)
    common = dict(slot_s=SLOT_S, minislots_per_slot=K_MINI, embb_slot_bits=bits,
                  urllc_snr=urllc_snr, urllc_ready_s=np.zeros(0), embb_arrival_packets=None,
                  embb_packet_bits=1.0, scheduler_kind='round_robin',
                  rule=pu.AirRule.THRESHOLD_QUEUE)
    with pytest.raises(ModelError, match='max_urllc_per_minislot = 0'):
        pu.simulate_air_interface(urllc_success=success, max_urllc_per_minislot=0, **common)
    with pytest.raises(ModelError, match='max_urllc_per_minislot = 5'):
        pu.simulate_air_interface(urllc_success=success, max_urllc_per_minislot=5, **common)
    with pytest.raises(DimensionError, match='urllc_success'):
        pu.simulate_air_interface(urllc_success=success[:, :2], max_urllc_per_minislot=1,
                                  **common)
