"""The emulated air interface of the ran_emulator node (ior_ros.core.ran.emulated_link)."""

from __future__ import annotations

import numpy as np
import pytest

from ior_ros.core.config import validate_config
from ior_ros.core.errors import ConfigError, ModelError
from ior_ros.core.ran.emulated_link import (
    SLICE_EMBB,
    SLICE_URLLC,
    Delivery,
    EmulatedLink,
    EmulatedLinkConfig,
)


def _config(**urllc: object) -> EmulatedLinkConfig:
    return validate_config(EmulatedLinkConfig, {'urllc': {'prbs': 2, 'packet_bits': 2000,
                                                          **urllc}})


def _run(link: EmulatedLink, slots: int, every: int = 1) -> list[Delivery]:
    """Offer one URLLC packet every ``every`` slots; returns the deliveries."""
    out: list[Delivery] = []
    for t in range(slots):
        if t % every == 0:
            link.offer(SLICE_URLLC, t)
        out += link.step()
    return out


def _mean_delay(config: EmulatedLinkConfig, seed: int = 1, slots: int = 4000) -> float:
    deliveries = _run(EmulatedLink(config, np.random.default_rng(seed)), slots, every=5)
    return float(np.mean([d.delay_s for d in deliveries]))


def test_light_load_packet_leaves_in_its_slot() -> None:
    # 20 PRBs at ~29 dB carry ~35 kbit per 1 ms slot: an 800 bit packet is served at once
    link = EmulatedLink(validate_config(EmulatedLinkConfig, {}), np.random.default_rng(0))
    link.offer(SLICE_URLLC, 7)
    assert link.step() == [Delivery(7, 0, pytest.approx(1e-3))]


def test_delay_grows_with_load() -> None:
    light = _mean_delay(_config(background_bps=0.0))
    medium = _mean_delay(_config(background_bps=2e6))
    heavy = _mean_delay(_config(background_bps=2.6e6))
    assert light < medium < heavy
    assert heavy > 2 * light


def test_delay_falls_with_prbs() -> None:
    delays = [_mean_delay(_config(prbs=n, background_bps=2e6)) for n in (2, 4, 8)]
    assert delays[0] > delays[1] > delays[2]


def test_slot_delay_matches_service_time() -> None:
    # a packet needing k slots of service, alone in its queue, leaves after k slots
    config = _config(prbs=1, packet_bits=20_000)
    link = EmulatedLink(config, np.random.default_rng(3))
    rate_per_slot = float(np.mean(config.link.rate_bps(
        10 ** (link.mean_snr_db(SLICE_URLLC) / 10) * np.random.default_rng(4).exponential(
            1.0, 20000)))) * config.slot_s
    deliveries = _run(link, 20_000, every=100)
    mean_slots = np.mean([d.delay_s for d in deliveries]) / config.slot_s
    assert mean_slots == pytest.approx(20_000 / rate_per_slot + 0.5, rel=0.1)


@pytest.mark.parametrize('loss', [0.0, 0.3, 1.0])
def test_loss_rate_matches_config(loss: float) -> None:
    link = EmulatedLink(_config(loss=loss), np.random.default_rng(5))
    n = 5000
    kept = 0
    for i in range(n):
        kept += link.offer(SLICE_URLLC, i)
        link.step()
    assert kept / n == pytest.approx(1 - loss, abs=0.02)
    assert link.report()[SLICE_URLLC].loss_ratio == pytest.approx(loss, abs=0.02)


def test_extra_delay_is_added() -> None:
    link = EmulatedLink(_config(extra_delay_s=0.05), np.random.default_rng(6))
    base = EmulatedLink(_config(), np.random.default_rng(6))
    with_extra = [d.delay_s for d in _run(link, 500, every=10)]
    without = [d.delay_s for d in _run(base, 500, every=10)]
    assert np.allclose(np.array(with_extra) - np.array(without), 0.05)


def test_full_queue_drops() -> None:
    link = EmulatedLink(_config(prbs=0, max_queue_bits=10_000), np.random.default_rng(0))
    accepted = [link.offer(SLICE_URLLC, i) for i in range(8)]
    assert accepted == [True] * 5 + [False] * 3
    assert link.step() == []


def test_sized_packets_take_their_bits() -> None:
    # a video frame occupies its own size: 10 times the bits, about 10 times the slots; a frame
    # larger than the queue is dropped and counted as lost
    config = _config(prbs=1, max_queue_bits=500_000)
    link = EmulatedLink(config, np.random.default_rng(7))
    slots: dict[int, list[float]] = {4_000: [], 40_000: []}
    sizes = {}
    for k in range(60):
        size = 4_000 if k % 2 else 40_000
        assert link.offer(SLICE_URLLC, k, size)
        sizes[k] = size
        for d in link.advance(100):  # 1 PRB: ~1.6 kbit per slot, so the queue empties
            slots[sizes[d.packet_id]].append(d.delay_s / config.slot_s)
    small, large = np.mean(slots[4_000]), np.mean(slots[40_000])
    assert len(slots[4_000]) == len(slots[40_000]) == 30
    per_slot = np.mean(link.slot_draws(SLICE_URLLC, link.slot, 10_000).capacity_bits)
    assert large - small == pytest.approx(36_000 / per_slot, rel=0.1)  # ~22 slots more
    link.report()
    assert not link.offer(SLICE_URLLC, 99, 500_001)
    assert link.report()[SLICE_URLLC].loss_ratio == 1.0


def test_deterministic_from_seed() -> None:
    config = _config(background_bps=2e6, loss=0.1)
    a = _run(EmulatedLink(config, np.random.default_rng(42)), 2000, every=3)
    b = _run(EmulatedLink(config, np.random.default_rng(42)), 2000, every=3)
    c = _run(EmulatedLink(config, np.random.default_rng(43)), 2000, every=3)
    assert a == b
    assert a != c


def test_set_prbs_checks_the_carrier() -> None:
    link = EmulatedLink(_config(), np.random.default_rng(0))
    link.set_prbs({SLICE_URLLC: 10, SLICE_EMBB: 40})
    assert (link.prbs(SLICE_URLLC), link.prbs(SLICE_EMBB)) == (10, 40)
    with pytest.raises(ModelError, match='add up to 51, more than total_prbs = 50'):
        link.set_prbs({SLICE_URLLC: 11})
    with pytest.raises(ModelError, match='slice id 7'):
        link.set_prbs({7: 1})
    assert link.prbs(SLICE_URLLC) == 10


def test_report_metrics() -> None:
    link = EmulatedLink(_config(background_bps=1e6), np.random.default_rng(9))
    _run(link, 1000, every=10)
    urllc = link.report()[SLICE_URLLC]
    # 1 Mbit/s background + 100 packets/s × 2000 bit = 1.2 Mbit/s served
    assert urllc.rate_bps == pytest.approx(1.2e6, rel=0.1)
    assert urllc.delay_s >= 1e-3
    assert urllc.sinr_db == pytest.approx(link.mean_snr_db(SLICE_URLLC), abs=0.5)
    assert urllc.prbs == 2
    assert link.report()[SLICE_URLLC].rate_bps == 0.0  # counters restart


def test_config_refuses_too_many_prbs() -> None:
    with pytest.raises(ConfigError, match='exceeds total_prbs = 50'):
        validate_config(EmulatedLinkConfig, {'urllc': {'prbs': 20}, 'embb': {'prbs': 40}})


def test_bursts_modulate_the_background_as_an_mmpp() -> None:
    """MMPP-2 bursts: the long-run rate is base + burst × on / (on + off); arrivals come in
    episodes (per-second counts far more variable than Poisson's); the schedule is the seed's."""
    slot_s, bits = 1e-3, 1000
    cfg = validate_config(EmulatedLinkConfig, {'urllc': {
        'prbs': 10, 'packet_bits': bits, 'background_bps': 1e6, 'burst_bps': 4e6,
        'burst_on_s': 0.5, 'burst_off_s': 2.0}})
    link = EmulatedLink(cfg, np.random.default_rng(3))
    n = 400_000  # 400 s: ~160 episodes
    arrivals = link.slot_draws(SLICE_URLLC, 0, n).arrivals
    rate_bps = arrivals.sum() * bits / (n * slot_s)
    assert rate_bps == pytest.approx(1e6 + 4e6 * 0.5 / 2.5, rel=0.1)
    per_s = arrivals.reshape(-1, 1000).sum(axis=1)
    # Poisson at the mean rate: variance = mean; episodes of 5x the base rate: far more
    assert per_s.var() > 5 * per_s.mean()
    again = EmulatedLink(cfg, np.random.default_rng(3)).slot_draws(SLICE_URLLC, 0, 5000)
    assert np.array_equal(again.arrivals, arrivals[:5000])
    # without bursts the counts stay Poisson (variance ≈ mean)
    plain = validate_config(EmulatedLinkConfig, {'urllc': {
        'prbs': 10, 'packet_bits': bits, 'background_bps': 1.8e6}})
    flat = EmulatedLink(plain, np.random.default_rng(3)).slot_draws(SLICE_URLLC, 0, 100_000)
    counts = flat.arrivals.reshape(-1, 1000).sum(axis=1)
    assert counts.var() == pytest.approx(counts.mean(), rel=0.5)
