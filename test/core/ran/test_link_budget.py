"""The one radio link model (ior_ros.core.ran.link_budget) and its three embedders."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from ior_ros.core.config import load_config
from ior_ros.core.errors import ConfigError, DimensionError
from ior_ros.core.ran.cell import cell_chunks
from ior_ros.core.ran.cell_config import CellConfig
from ior_ros.core.ran.channel import PathLossConfig, PathLossKind, rayleigh_power_gain
from ior_ros.core.ran.coexistence_config import CoexistenceConfig, RadioConfig
from ior_ros.core.ran.coexistence_sample import channel_arrays, draw_sample
from ior_ros.core.ran.link_budget import (
    THERMAL_NOISE_DBM_PER_HZ,
    LinkConfig,
    link_preset,
    thermal_noise_dbm,
)
from ior_ros.core.slicing.config import SlicingEnvConfig, SlicingRunConfig, make_slicing_config
from ior_ros.core.slicing.env import TeleopSlicingEnv

REPO = Path(__file__).resolve().parents[3]
C_M_PER_S = 299_792_458.0
FSPL_1M_3G5_DB = 20.0 * math.log10(4.0 * math.pi * 3.5e9 / C_M_PER_S)  # 43.33 dB


# ------------------------------------------------------------------------------- link budget


def test_thermal_noise_by_hand() -> None:
    assert THERMAL_NOISE_DBM_PER_HZ == -174.0
    # one 180 kHz PRB with a 9 dB noise figure: -174 + 52.55 + 9
    assert thermal_noise_dbm(180e3, 9.0) == pytest.approx(-112.4473, abs=1e-4)
    assert LinkConfig().noise_dbm == pytest.approx(-174.0 + 10.0 * math.log10(180e3) + 9.0)
    # seed 000's -110 dBm per 1.08 MHz RU is thermal noise with a 3.7 dB noise figure
    assert thermal_noise_dbm(1.08e6, 3.7) == pytest.approx(-110.0, abs=0.05)
    # a given per-RB noise power wins over the noise figure
    assert LinkConfig(noise_dbm_per_rb=-110.0, noise_figure_db=3.0).noise_dbm == -110.0


def test_mean_snr_and_rate_by_hand() -> None:
    link = LinkConfig()  # 20 dBm per PRB, thermal + 9 dB, log-distance n = 3 at 3.5 GHz
    pl = FSPL_1M_3G5_DB + 30.0 * math.log10(100.0)
    noise = -174.0 + 10.0 * math.log10(180e3) + 9.0
    expected_db = 20.0 - pl - noise  # 29.12 dB at 100 m
    assert expected_db == pytest.approx(29.118, abs=1e-3)
    assert float(link.path_loss_db(100.0)) == pytest.approx(pl, abs=1e-9)
    assert float(link.mean_snr(100.0)) == pytest.approx(10.0 ** (expected_db / 10.0), rel=1e-12)
    assert link.snr_db(pl) == pytest.approx(expected_db, abs=1e-9)
    # instantaneous SNR = mean SNR x power gain; rate = B log2(1 + SNR)
    assert float(link.snr(0.5, pl)) == pytest.approx(0.5 * 10.0 ** (expected_db / 10.0))
    assert float(link.rate_bps(1.0)) == 180e3
    assert float(link.rate_bps(3.0)) == 2 * 180e3
    assert link.mean_power_gain == pytest.approx(1.0)


def test_the_papers_presets_by_hand() -> None:
    s3 = link_preset('seed003')
    # Table I: P/N = 20 dBm - (-110 dBm) = 130 dB with no path loss
    assert float(s3.mean_snr(123.0)) == pytest.approx(1e13)
    assert s3.mean_power_gain == 2.0 and s3.rb_bandwidth_hz == 180e3
    s0 = link_preset('seed000')
    # the cell-edge URLLC robot at 280 m: 130 dB - FSPL(1 m) - 35 log10(280) ~ 1 dB
    snr_db = 10.0 * math.log10(float(s0.mean_snr(280.0)))
    assert snr_db == pytest.approx(130.0 - FSPL_1M_3G5_DB - 35.0 * math.log10(280.0))
    assert snr_db == pytest.approx(1.0, abs=0.1)
    assert s0.rb_bandwidth_hz == 1.08e6 and s0.mean_power_gain == pytest.approx(1.0)
    assert link_preset('physical') == LinkConfig()
    # a preset by name wherever a LinkConfig is expected
    assert LinkConfig.model_validate('seed003') == s3
    with pytest.raises(ValidationError, match='unknown link preset'):
        LinkConfig.model_validate('seed999')


@pytest.mark.parametrize(('path_loss', 'expected_db'), [
    (PathLossConfig(kind=PathLossKind.NONE), [0.0, 0.0]),
    (PathLossConfig(kind=PathLossKind.FIXED, fixed_loss_db=80.0), [80.0, 80.0]),
    (PathLossConfig(kind=PathLossKind.LOG_DISTANCE, exponent=3.5),
     [FSPL_1M_3G5_DB + 35.0, FSPL_1M_3G5_DB + 70.0]),
    (PathLossConfig(kind=PathLossKind.FREE_SPACE), [FSPL_1M_3G5_DB + 20.0,
                                                    FSPL_1M_3G5_DB + 40.0]),
])
def test_path_loss_kinds_through_the_link(path_loss: PathLossConfig,
                                          expected_db: list[float]) -> None:
    link = LinkConfig(path_loss=path_loss, noise_dbm_per_rb=-100.0)
    np.testing.assert_allclose(link.path_loss_db([10.0, 100.0]), expected_db, atol=1e-9)
    np.testing.assert_allclose(link.mean_snr([10.0, 100.0]),
                               10.0 ** ((120.0 - np.asarray(expected_db)) / 10.0), rtol=1e-12)


def test_rate_samples_are_shannon_of_the_fading(rng: np.random.Generator) -> None:
    link = LinkConfig(rayleigh_scale=1.0)
    snr = np.array([100.0, 1.0])
    double = link.rate_sampler(np.random.default_rng(4), snr, (50, 2, 7), 1, False)()
    gains = rayleigh_power_gain(np.random.default_rng(4), (50, 2, 7), 1.0)
    np.testing.assert_array_equal(double, 180e3 * np.log2(1.0 + gains * snr[None, :, None]))
    single = link.rate_sampler(rng, snr, (2, 200_000), 0, True)()
    assert single.dtype == np.float32
    # E[log2(1 + γ g)] with g ~ Exp(2): the same law in both precisions
    wide = link.rate_sampler(rng, snr, (2, 200_000), 0, False)()
    np.testing.assert_allclose(single.mean(axis=1), wide.mean(axis=1), rtol=0.01)
    with pytest.raises(DimensionError, match='mean_snr'):
        link.rate_sampler(rng, snr, (3, 4), 0, True)


def test_block_fading_gains_follow_the_coherence(rng: np.random.Generator) -> None:
    link = LinkConfig(coherence_slots=3, coherence_rbs=2)
    g = link.draw_gains(rng, 6, 2, 4)  # [slots, ue, rb]
    assert np.all(g[0:3] == g[0]) and np.all(g[3:6] == g[3]) and not np.all(g[0] == g[3])
    assert np.all(g[:, :, 0] == g[:, :, 1]) and np.all(g[:, :, 2] == g[:, :, 3])


# ------------------------------------------------------------------------------- old keys


def test_old_keys_map_to_the_same_model() -> None:
    cell_old = CellConfig(prb_bandwidth_hz=180e3, tx_power_dbm=20.0, noise_dbm=-110.0,
                          rayleigh_scale=1.0, coherence_slots=1, coherence_prbs=1,
                          path_loss={'kind': 'log_distance', 'exponent': 3.0})
    assert cell_old == CellConfig(link={**link_preset('seed003').model_dump(),
                                        'path_loss': PathLossConfig()})
    radio_old = RadioConfig(noise_dbm=-110.0, tx_power_dbm_per_ru=20.0,
                            rayleigh_scale=1.0 / math.sqrt(2.0),
                            path_loss={'kind': 'log_distance', 'exponent': 3.5})
    assert radio_old == RadioConfig() and radio_old.link == link_preset('seed000')
    env_old = make_slicing_config(prb_bandwidth_hz=180e3, noise_dbm=-110.0,
                                  tx_power_per_prb_dbm=20.0, path_loss_db=0.0,
                                  rayleigh_scale=1.0)
    assert env_old == SlicingEnvConfig() and env_old.link == link_preset('seed003')
    # an old key beside the new section overrides that field (a --set on a new-form file)
    both = make_slicing_config(SlicingEnvConfig(), rayleigh_scale=0.5)
    assert both.link == link_preset('seed003').model_copy(update={'rayleigh_scale': 0.5})
    loss = make_slicing_config(path_loss_db=7.0).link.path_loss
    assert (loss.kind, loss.fixed_loss_db) == (PathLossKind.FIXED, 7.0)


def test_saved_configs_in_the_old_form_still_load() -> None:
    # the shipped policy (old keys) is the slicing.yaml cell (new keys)
    meta = json.loads((REPO / 'config/policies/seed003_slicing/policy.json').read_text())
    assert 'tx_power_per_prb_dbm' in meta['env_config']
    yaml_env = load_config(SlicingRunConfig, REPO / 'config/slicing.yaml').env
    assert make_slicing_config(meta['env_config']) == yaml_env
    assert 'link' in yaml_env.model_dump(mode='json')  # written in the new form
    coex = load_config(CoexistenceConfig, REPO / 'config/coexistence.yaml')
    assert coex == CoexistenceConfig()
    old_coex = coex.model_dump(mode='json')
    radio = old_coex['radio']
    link = radio.pop('link')
    radio.update(noise_dbm=link['noise_dbm_per_rb'], tx_power_dbm_per_ru=link[
        'tx_power_dbm_per_rb'], path_loss=link['path_loss'], rayleigh_scale=link['rayleigh_scale'])
    assert CoexistenceConfig.model_validate(old_coex) == coex


# ------------------------------------------------------------------------------- one model


def _shared_link() -> LinkConfig:
    return LinkConfig(rb_bandwidth_hz=1.08e6, path_loss=PathLossConfig(exponent=3.2),
                      rayleigh_scale=0.9)


def test_three_simulators_see_the_same_mean_snr_for_the_same_ue() -> None:
    link = _shared_link()
    d = (150.0, 250.0)
    expected = link.mean_snr(d)
    # cell: its mean SNR, and its double-precision rates are B log2(1 + γ̄ g)
    cell = CellConfig(n_ue=2, n_prb=4, ue_distances_m=d, link=link, precision='double')
    np.testing.assert_array_equal(cell.mean_snr, expected)
    rates, _ = next(cell_chunks(cell, 5, np.random.default_rng(1)))  # [5, 2, 4]
    gains = rayleigh_power_gain(np.random.default_rng(1), (5, 2, 4), 0.9)
    np.testing.assert_allclose((2.0 ** (rates / 1.08e6) - 1.0) / gains,
                               np.broadcast_to(expected[None, :, None], rates.shape), rtol=1e-9)
    # coexistence: the URLLC robot's SNR over the sample's gains, eMBB robot through its bits
    coex = CoexistenceConfig(radio={'link': link, 'embb_distances_m': [d[0]],
                                    'urllc_distance_m': d[1]},
                             simulation={'horizon_s': 0.05, 'warmup_s': 0.0, 'drain_s': 0.0})
    assert coex.radio.link == link
    sample = draw_sample(coex, np.random.default_rng(2))
    bits, urllc_snr, _ = channel_arrays(coex, sample)
    np.testing.assert_allclose(urllc_snr / sample.gain[:, -1, :], expected[1], rtol=1e-12)
    n_bits = coex.radio.minislots_per_slot * coex.radio.data_re_per_ru_minislot
    np.testing.assert_allclose((2.0 ** (bits[:, 0, :] / n_bits) - 1.0) / sample.gain[:, 0, :],
                               expected[0], rtol=1e-9)
    # slicing environment: its mean SNR, and the per-PRB rates of a slot over its gains
    env_cfg = make_slicing_config(n_embb=1, n_urllc=1, n_prb=4, carrier_bandwidth_hz=20e6,
                                  link=link, ue_distances_m=d)
    np.testing.assert_array_equal(env_cfg.mean_snr, expected)
    env = TeleopSlicingEnv(env_cfg, task={'mode': 'fixed'})
    env.reset(seed=3)
    snr = 2.0 ** (env.state.prb_rates_bps / 1.08e6) - 1.0  # [2, 4]
    np.testing.assert_allclose(snr / env._gains, np.broadcast_to(expected[:, None], (2, 4)),
                               rtol=1e-9)


def test_slicing_env_follows_the_link_coherence() -> None:
    env = TeleopSlicingEnv(link={'coherence_slots': 3}, episode_slots=10,
                           task={'mode': 'fixed'})
    env.reset(seed=0)
    rates = [env.state.prb_rates_bps]
    for _ in range(5):
        env.step(np.zeros(10, dtype=np.float32))
        rates.append(env.state.prb_rates_bps)
    assert np.array_equal(rates[0], rates[2]) and not np.array_equal(rates[2], rates[3])
    assert np.array_equal(rates[3], rates[5])


def test_slicing_env_needs_distances_for_a_distance_law() -> None:
    with pytest.raises(ConfigError, match='ue_distances_m'):
        make_slicing_config(link='physical')
    cfg = make_slicing_config(link='physical', ue_distances_m=[100.0] * 5 + [300.0] * 5,
                              carrier_bandwidth_hz=10e6)
    assert cfg.mean_snr[0] > cfg.mean_snr[-1]
    with pytest.raises(ConfigError, match='ue_distances_m'):
        make_slicing_config(ue_distances_m=[100.0])
