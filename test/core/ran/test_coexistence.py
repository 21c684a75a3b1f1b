"""Coexistence simulator: pipeline invariants, the protection rules and the joint scheduler."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ior_ros.core.config import load_config
from ior_ros.core.errors import ConfigError, QueueStabilityError
from ior_ros.core.ran import coexistence as co
from ior_ros.core.ran import coexistence_config as cc
from ior_ros.core.ran import coexistence_sample as cs
from ior_ros.core.ran import coexistence_search as search
from ior_ros.core.ran.channel import PathLossKind
from ior_ros.core.ran.compute_queue import mxm1_mean_sojourn_s
from ior_ros.core.ran.puncturing import AirRule
from ior_ros.core.ran.traffic import batch_size_moments


def _config(*overrides: str) -> cc.CoexistenceConfig:
    return load_config(cc.CoexistenceConfig, None, ['simulation.horizon_s=2.0', *overrides])


@pytest.fixture(scope='module')
def setup():
    config = _config()
    sample = cs.draw_sample(config, np.random.default_rng(3))
    channel = cs.channel_arrays(config, sample)
    cap = co.embb_full_buffer_throughput_bps(config, sample, channel)
    return config, sample, channel, cap


def test_defaults_are_the_seed_setting() -> None:
    config = cc.CoexistenceConfig()
    radio = config.radio
    assert radio.subcarrier_spacing_hz == 30e3 and radio.data_re_per_ru_minislot == 200
    assert radio.minislots_per_slot == 4 and radio.slot_s == 1e-3
    assert radio.link.noise_dbm == -110 and radio.link.tx_power_dbm_per_rb == 20
    assert radio.n_ru == 12 and radio.n_embb == 8
    # 4 mini-slots of 7 symbols fill a 1 ms slot at 30 kHz (28 symbols)
    assert radio.minislots_per_slot * radio.symbols_per_minislot == 28
    assert radio.ru_bandwidth_hz == pytest.approx(1.08e6)
    assert radio.link.rb_bandwidth_hz == radio.ru_bandwidth_hz  # one RB of the link = one RU


def test_config_file_holds_the_defaults() -> None:
    from pathlib import Path
    path = Path(__file__).resolve().parents[3] / 'config' / 'coexistence.yaml'
    assert load_config(cc.CoexistenceConfig, path) == cc.CoexistenceConfig()


def test_point_metrics_are_consistent(setup) -> None:
    config, sample, channel, _ = setup
    met = co.evaluate_point(co.SchemePoint(cc.Scheme.PROPOSED, 0.3, 4), config, sample)
    mini = config.radio.minislot_s
    # air delay: wait for the next mini-slot boundary, then one (or two) mini-slots
    assert mini <= met.urllc_air_mean_delay_s <= 3 * mini
    assert met.urllc_mean_delay_s == pytest.approx(
        met.urllc_compute_mean_delay_s + met.urllc_air_mean_delay_s)
    assert 0.0 <= met.urllc_outage <= 1.0 and 0.0 <= met.prb_utilization <= 1.0
    assert met.urllc_outage == pytest.approx(
        met.urllc_compute_drop_fraction + met.urllc_threshold_drop_fraction
        + met.urllc_decoding_failure_fraction, abs=1e-3)
    # eMBB carries its offered load (11 Mb/s, within sampling noise)
    assert met.embb_throughput_bps == pytest.approx(11e6, rel=0.08)
    assert met.embb_undelivered_fraction < 0.02
    assert met.max_urllc_per_minislot_seen <= 4


def test_urllc_compute_stage_is_the_mxm1_queue(setup) -> None:
    config, sample, _, _ = setup
    beta = 0.3
    met = co.evaluate_point(co.SchemePoint(cc.Scheme.PUTD, beta, 12), config, sample)
    mean, second = batch_size_moments(config.traffic.urllc_mean_batch_size)
    closed = mxm1_mean_sojourn_s(config.traffic.urllc_batch_rate_per_s, mean, second,
                                 beta * config.compute.urllc_service_rate_per_s)
    assert met.urllc_compute_mean_delay_s == pytest.approx(closed, rel=0.15)


def test_more_compute_for_urllc_lowers_its_delay(setup) -> None:
    config, sample, _, _ = setup
    delays = [co.evaluate_point(co.SchemePoint(cc.Scheme.PROPOSED, b, 5), config,
                                sample).urllc_compute_mean_delay_s for b in (0.15, 0.3, 0.6)]
    assert delays[0] > delays[1] > delays[2]


def test_putd_differs_from_proposed_only_in_the_air(setup) -> None:
    config, sample, _, _ = setup
    prop = co.evaluate_point(co.SchemePoint(cc.Scheme.PROPOSED, 0.3, 3), config, sample)
    putd = co.evaluate_point(co.SchemePoint(cc.Scheme.PUTD, 0.3, 3), config, sample)
    assert prop.urllc_compute_drop_fraction == putd.urllc_compute_drop_fraction == 0.0
    # PUTD never waits a mini-slot, so its delivered packets are faster but more are lost
    assert putd.urllc_air_mean_delay_s < prop.urllc_air_mean_delay_s
    assert putd.urllc_outage > prop.urllc_outage


def test_same_seed_same_metrics() -> None:
    config = _config('simulation.horizon_s=1.0')
    a = co.evaluate_point(co.SchemePoint(cc.Scheme.EUAD, 0.2, 4), config,
                          cs.draw_sample(config, np.random.default_rng(8)))
    b = co.evaluate_point(co.SchemePoint(cc.Scheme.EUAD, 0.2, 4), config,
                          cs.draw_sample(config, np.random.default_rng(8)))
    assert a == b


def test_protected_threshold() -> None:
    assert co.max_protected_threshold(20e6, 11e6, 12) == 5  # 20 (1 - 5/12) = 11.67 >= 11
    assert co.max_protected_threshold(20e6, 2e6, 12) == 10
    assert co.max_protected_threshold(20e6, 20e6, 12) == 0
    assert co.max_protected_threshold(20e6, 0.0, 12) == 12
    config = cc.CoexistenceConfig()
    lam_e = 11e6 / 12_000
    assert search.compute_rate_limit(config, cc.Scheme.PROPOSED) == pytest.approx(1 - lam_e / 1375)
    off = config.model_copy(update={'requirements': config.requirements.model_copy(
        update={'protect_embb_rate': False})})
    assert search.compute_rate_limit(off, cc.Scheme.PROPOSED) == 1.0


def test_joint_choice_respects_the_constraints(setup) -> None:
    config, sample, channel, cap = setup
    results = search.optimize_many([(s, config) for s in cc.Scheme], sample, channel, cap)
    m_cap = co.max_protected_threshold(cap, 11e6, config.radio.n_ru)
    for res in results:
        met = res.metrics
        assert res.feasible
        assert met.embb_mean_delay_s <= config.requirements.embb_max_delay_s
        assert met.point.max_urllc_per_minislot == m_cap
        assert met.point.shared_fraction <= search.compute_rate_limit(config, res.scheme) + 1e-12
        # every larger β that was simulated at this M broke a constraint
        larger = [e for e in res.evaluated if e['shared_fraction'] > met.point.shared_fraction
                  and e['max_urllc_per_minislot'] == met.point.max_urllc_per_minislot]
        assert all(not e['feasible'] for e in larger)
    by = {r.scheme: r.metrics for r in results}
    # sharing lets the proposed scheme give URLLC more compute than EUAD's exclusive split
    assert by[cc.Scheme.PROPOSED].point.shared_fraction > by[cc.Scheme.EUAD].point.shared_fraction
    assert by[cc.Scheme.PROPOSED].urllc_mean_delay_s < by[cc.Scheme.EUAD].urllc_mean_delay_s


def test_infeasible_requirement_is_reported() -> None:
    config = _config('traffic.embb_requirement_bps=15.5e6')
    # 15.5 Mb/s of 1500-byte packets load the compute 0.94: the eMBB part (1 - beta) mu_e cannot
    # carry it with any beta that keeps the URLLC part stable
    sample = cs.draw_sample(config, np.random.default_rng(3))
    channel = cs.channel_arrays(config, sample)
    cap = co.embb_full_buffer_throughput_bps(config, sample, channel)
    res = search.optimize_scheme(cc.Scheme.PROPOSED, config, sample, cap, channel)
    assert not res.feasible
    assert res.metrics.embb_mean_delay_s > config.requirements.embb_max_delay_s \
        or res.threshold_cap < 1 or res.metrics.embb_undelivered_fraction > 0.02


@pytest.mark.parametrize('override, error, match', [
    ('radio.data_re_per_ru_minislot=300', ConfigError, 'data_re_per_ru_minislot'),
    ('scheme.max_urllc_per_minislot=13', ConfigError, 'max_urllc_per_minislot'),
    ('simulation.warmup_s=3.0', ConfigError, 'horizon_s'),
    ('traffic.embb_requirement_bps=18e6', QueueStabilityError, 'compute load'),
])
def test_cross_field_checks(override: str, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        cc.check_config(_config(override))


def test_scheme_air_rules() -> None:
    config = cc.CoexistenceConfig()
    assert co.air_rule(cc.Scheme.PROPOSED, config) is AirRule.THRESHOLD_QUEUE
    assert co.air_rule(cc.Scheme.PUTD, config) is AirRule.THRESHOLD_DROP
    assert co.air_rule(cc.Scheme.EUAD, config) is AirRule.THRESHOLD_DROP
    wait = _config('scheme.euad_active_dropping=compute_wait')
    assert co.air_rule(cc.Scheme.EUAD, wait) is AirRule.THRESHOLD_QUEUE


def test_euad_compute_wait_option_drops_in_compute(setup) -> None:
    _, sample, _, _ = setup
    config = _config('scheme.euad_active_dropping=compute_wait')
    met = co.evaluate_point(co.SchemePoint(cc.Scheme.EUAD, 0.12, 5), config, sample)
    assert met.urllc_compute_drop_fraction > 0
    assert not math.isnan(met.urllc_mean_delay_s)


def test_partial_path_loss_override_keeps_the_model() -> None:
    # only the exponent changes; kind, carrier and reference stay those of the coexistence default
    default = cc.CoexistenceConfig().radio.link.path_loss
    for key in ('radio.link.path_loss.exponent=3.0', 'radio.path_loss.exponent=3.0'):  # new, old
        config = _config(key)
        assert config.radio.link.path_loss == default.model_copy(update={'exponent': 3.0})
        assert config.radio.link.path_loss.kind is PathLossKind.LOG_DISTANCE
        assert config.radio.link.noise_dbm == -110.0


def test_old_radio_keys_map_to_the_same_link() -> None:
    old = _config('radio.noise_dbm=-110.0', 'radio.tx_power_dbm_per_ru=20.0',
                  'radio.rayleigh_scale=0.7071067811865475')
    assert old == _config()
    moved = _config('radio.noise_dbm=-100', 'radio.tx_power_dbm_per_ru=23')
    assert (moved.radio.link.noise_dbm_per_rb, moved.radio.link.tx_power_dbm_per_rb) == (-100, 23)


def test_the_link_bandwidth_is_one_ru_of_the_grid() -> None:
    # left out, it follows the grid; given, it must match
    assert _config('radio.prbs_per_ru=2').radio.link.rb_bandwidth_hz == 2 * 12 * 30e3
    assert _config('radio.link=physical').radio.link.rb_bandwidth_hz == 1.08e6
    with pytest.raises(ConfigError, match='bandwidth of one ru'):
        _config('radio.link.rb_bandwidth_hz=180000')
