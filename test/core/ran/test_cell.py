"""Tests of the cell simulator (ior_ros.core.ran.cell, cell_config, cell_batched, fast_fading)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import stats

from ior_ros.core.config import load_config
from ior_ros.core.errors import ConfigError, ModelError
from ior_ros.core.ran.cell import cell_chunks, simulate_cell
from ior_ros.core.ran.cell_batched import simulate_cells_batched
from ior_ros.core.ran.cell_config import CellConfig, Precision, TrafficKind
from ior_ros.core.ran.cell_metrics import jain_fairness
from ior_ros.core.ran.channel import PathLossConfig, PathLossKind
from ior_ros.core.ran.fast_fading import fast_rayleigh_power_gain, fast_rayleigh_rates_bps
from ior_ros.core.ran.link_budget import LinkConfig, link_preset
from ior_ros.core.ran.rates import shannon_rate_bps, snr_linear
from ior_ros.core.ran.schedulers import NO_UE, SchedulerKind
from ior_ros.core.ran.slot_engines import numba_available

ENGINES = ['numpy', 'reference'] + (['numba'] if numba_available() else [])


# ------------------------------------------------------------------------------- config


def test_default_config_is_the_benchmark_cell_with_the_physical_link() -> None:
    cfg = CellConfig()
    assert (cfg.n_ue, cfg.n_prb) == (9, 25)
    assert cfg.link == LinkConfig()
    assert cfg.link.tx_power_dbm_per_rb == 20.0 and cfg.link.rb_bandwidth_hz == 12 * 15e3
    assert cfg.scheduler is SchedulerKind.PROPORTIONAL_FAIR
    d = cfg.distances_m
    # area medians of 9 equal-area rings of a 400 m disc
    np.testing.assert_allclose(d, 400.0 * np.sqrt((np.arange(9) + 0.5) / 9.0))
    assert np.all(np.diff(d) > 0) and d[-1] < 400.0
    # mean SNR by hand: 20 dBm - PL(d) - (-174 dBm/Hz + 10 log10(180 kHz) + 9 dB)
    pl = 20.0 * math.log10(4.0 * math.pi * 3.5e9 / 299_792_458.0) + 30.0 * np.log10(d)
    noise = -174.0 + 10.0 * math.log10(180e3) + 9.0
    np.testing.assert_allclose(cfg.mean_snr, 10.0 ** ((20.0 - pl - noise) / 10.0), rtol=1e-12)


def test_old_radio_keys_give_the_old_cell() -> None:
    # the keys before the link model; the fields they leave out keep the old defaults
    old = CellConfig(tx_power_dbm=20.0)
    assert old.link == LinkConfig(noise_dbm_per_rb=-110.0, rayleigh_scale=1.0)
    assert old.link == link_preset('seed003').model_copy(update={'path_loss': PathLossConfig()})
    full = CellConfig(prb_bandwidth_hz=360e3, tx_power_dbm=23.0, noise_dbm=-100.0,
                      rayleigh_scale=0.5, coherence_slots=4, coherence_prbs=5,
                      path_loss={'exponent': 3.5})
    assert full.link == LinkConfig(rb_bandwidth_hz=360e3, tx_power_dbm_per_rb=23.0,
                                   noise_dbm_per_rb=-100.0, rayleigh_scale=0.5,
                                   coherence_slots=4, coherence_rbs=5,
                                   path_loss=PathLossConfig(exponent=3.5))
    assert CellConfig.model_validate(full.model_dump()) == full  # the new form round-trips


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match='ue_distances_m has 2 entries'):
        CellConfig(ue_distances_m=(10.0, 20.0))
    with pytest.raises(ConfigError, match="'pf_beta' = 1.0"):
        load_config(CellConfig, overrides=['pf_beta=1.0'])
    with pytest.raises(ConfigError, match="unknown field 'n_ues'"):
        load_config(CellConfig, overrides=['n_ues=3'])
    with pytest.raises(ConfigError, match="'n_prb' = 0"):
        load_config(CellConfig, overrides=['n_prb=0'])
    path = tmp_path / 'cell.yaml'
    path.write_text('n_ue: 2\nue_distances_m: [50, 100]\nscheduler: round_robin\n')
    cfg = load_config(CellConfig, path)
    assert cfg.scheduler is SchedulerKind.ROUND_ROBIN
    np.testing.assert_array_equal(cfg.distances_m, [50.0, 100.0])


def test_bad_arguments_raise(rng: np.random.Generator) -> None:
    with pytest.raises(ModelError, match='n_slots = 0'):
        simulate_cell(CellConfig(), 0, rng)
    with pytest.raises(ModelError, match='n_replicas = 0'):
        simulate_cells_batched(CellConfig(), 0, 10, rng)
    with pytest.raises(ModelError, match="engine = 'gpu'"):
        simulate_cell(CellConfig(), 10, rng, engine='gpu')


# ------------------------------------------------------------------------------- fading draw


@pytest.mark.parametrize('scale', [1.0 / math.sqrt(2.0), 1.0, 3.0])
def test_fast_gain_is_exponential_with_mean_two_sigma_squared(rng: np.random.Generator,
                                                              scale: float) -> None:
    n = 400_000
    g = fast_rayleigh_power_gain(rng, (n,), scale).astype(np.float64)
    mean = 2.0 * scale * scale
    assert abs(g.mean() - mean) < 5.0 * mean / math.sqrt(n)
    assert stats.kstest(g, stats.expon(scale=mean).cdf).pvalue > 1e-3
    assert g.min() >= 0.0 and np.isfinite(g).all()


def test_fast_rates_are_shannon_of_the_fast_gains() -> None:
    snr = np.array([1000.0, 10.0, 0.5])
    g = fast_rayleigh_power_gain(np.random.default_rng(5), (3, 40, 6), 1.0)
    r = fast_rayleigh_rates_bps(np.random.default_rng(5), snr, (3, 40, 6), 0, 1.0, 180e3)
    assert r.dtype == np.float32
    expected = shannon_rate_bps(180e3, g.astype(np.float64) * snr[:, None, None])
    np.testing.assert_allclose(r, expected, rtol=2e-5, atol=1.0)


# ------------------------------------------------------------------------------- single cell


@pytest.mark.parametrize('kind', list(SchedulerKind))
@pytest.mark.parametrize('traffic', list(TrafficKind))
def test_engines_give_the_same_numbers(kind: SchedulerKind, traffic: TrafficKind) -> None:
    cfg = CellConfig(scheduler=kind, traffic=traffic, arrival_rate_bps=3e6)
    runs = [simulate_cell(cfg, 1500, np.random.default_rng(11), engine=e, trace=True)
            for e in ENGINES]
    for run in runs[1:]:
        np.testing.assert_array_equal(run.throughput_bps, runs[0].throughput_bps)
        assert run.trace is not None and runs[0].trace is not None
        np.testing.assert_array_equal(run.trace.assignment, runs[0].trace.assignment)
        assert run.prb_utilization == runs[0].prb_utilization


@pytest.mark.parametrize('precision', list(Precision))
def test_same_seed_same_numbers(precision: Precision) -> None:
    cfg = CellConfig(precision=precision, link={'coherence_slots': 3, 'coherence_rbs': 2})
    a = simulate_cell(cfg, 3000, np.random.default_rng(1))
    b = simulate_cell(cfg, 3000, np.random.default_rng(1))
    c = simulate_cell(cfg, 3000, np.random.default_rng(2))
    np.testing.assert_array_equal(a.throughput_bps, b.throughput_bps)
    assert not np.array_equal(a.throughput_bps, c.throughput_bps)


def test_pf_full_buffer_metrics(rng: np.random.Generator) -> None:
    m = simulate_cell(CellConfig(), 6000, rng, trace=True)
    assert m.prb_utilization == 1.0
    assert m.trace is not None
    assert m.trace.assignment.shape == (6000, 25) and m.trace.served_bps.shape == (6000, 9)
    assert np.all(m.trace.assignment >= 0)
    np.testing.assert_allclose(m.throughput_bps, m.trace.served_bps.mean(axis=0))
    assert m.jain_fairness == pytest.approx(float(jain_fairness(m.throughput_bps)))
    # PF: nearer UEs get more, but nobody starves and fairness is high
    assert np.all(np.diff(m.throughput_bps) < 0)
    assert m.jain_fairness > 0.85
    # cell throughput below the average best-PRB capacity bound
    d = m.to_dict()
    assert d['cell_throughput_bps'] == pytest.approx(m.throughput_bps.sum())


def test_single_and_double_precision_are_the_same_model() -> None:
    single = simulate_cell(CellConfig(), 20000, np.random.default_rng(3))
    double = simulate_cell(CellConfig(precision='double'), 20000, np.random.default_rng(4))
    np.testing.assert_allclose(single.throughput_bps, double.throughput_bps, rtol=0.02)


def test_round_robin_is_fair_in_prbs_and_pf_beats_it() -> None:
    rr = simulate_cell(CellConfig(scheduler='round_robin'), 9000, np.random.default_rng(5),
                       trace=True)
    assert rr.trace is not None
    counts = np.bincount(rr.trace.assignment.ravel(), minlength=9)
    np.testing.assert_array_equal(counts, np.full(9, 9000 * 25 // 9))
    pf = simulate_cell(CellConfig(), 9000, np.random.default_rng(5))
    assert pf.cell_throughput_bps > 1.05 * rr.cell_throughput_bps
    mr = simulate_cell(CellConfig(scheduler='max_weight'), 9000, np.random.default_rng(5))
    assert mr.cell_throughput_bps > pf.cell_throughput_bps
    assert mr.jain_fairness < pf.jain_fairness


def test_poisson_traffic_below_capacity_delivers_the_offered_load() -> None:
    cfg = CellConfig(traffic='poisson', arrival_rate_bps=2e6, packet_bits=4000)
    m = simulate_cell(cfg, 10000, np.random.default_rng(9))
    assert m.offered_bps is not None and m.mean_queue_bits is not None
    assert m.mean_delay_s is not None
    np.testing.assert_allclose(m.offered_bps, 2e6, rtol=0.05)
    # about half the full-buffer capacity offered: everything is delivered
    full = simulate_cell(CellConfig(), 10000, np.random.default_rng(9))
    assert 9 * 2e6 < 0.6 * full.cell_throughput_bps
    np.testing.assert_allclose(m.throughput_bps, m.offered_bps, rtol=0.01)
    # PRBs nobody needs stay idle
    assert 0.3 < m.prb_utilization < 0.95
    assert np.all(m.mean_delay_s >= 0) and np.all(m.mean_delay_s < 0.01)
    # Little's law by construction: backlog = rate × delay
    np.testing.assert_allclose(m.mean_queue_bits, m.offered_bps * m.mean_delay_s)


def test_block_fading_chunks_are_constant_within_blocks() -> None:
    cfg = CellConfig(link={'coherence_slots': 4, 'coherence_rbs': 5})
    chunks = list(cell_chunks(cfg, 4100, np.random.default_rng(0)))
    rates = np.concatenate([c[0] for c in chunks])  # [n_slots, n_ue, n_prb]
    assert rates.shape == (4100, 9, 25)
    blocks = rates.reshape(1025, 4, 9, 5, 5)
    assert np.all(blocks == blocks[:, :1, :, :, :1])
    # independent across blocks (float32 values may collide by chance, rarely)
    assert len(np.unique(blocks[:, 0, 0, :, 0])) > 0.99 * 1025 * 5


def test_zero_path_loss_gives_the_snr_of_table_i() -> None:
    cfg = CellConfig(link={**link_preset('seed003').model_dump(),
                           'path_loss': PathLossConfig(kind=PathLossKind.NONE)})
    np.testing.assert_allclose(cfg.mean_snr, float(snr_linear(20.0, 1.0, -110.0)))


# ------------------------------------------------------------------------------- batched


def test_batched_matches_single_cell_statistically() -> None:
    cfg = CellConfig()
    batched = simulate_cells_batched(cfg, 300, 2000, np.random.default_rng(21))
    assert batched.throughput_bps.shape == (300, 9)
    assert batched.n_replicas == 300
    np.testing.assert_array_equal(batched.prb_utilization, np.ones(300))
    single = simulate_cell(cfg, 60000, np.random.default_rng(22))
    np.testing.assert_allclose(batched.throughput_bps.mean(axis=0), single.throughput_bps,
                               rtol=0.02)
    np.testing.assert_allclose(batched.jain_fairness, jain_fairness(batched.throughput_bps))


def test_batched_same_seed_same_numbers() -> None:
    cfg = CellConfig(n_ue=3, n_prb=6)
    a = simulate_cells_batched(cfg, 260, 50, np.random.default_rng(1))
    b = simulate_cells_batched(cfg, 260, 50, np.random.default_rng(1))
    np.testing.assert_array_equal(a.throughput_bps, b.throughput_bps)


@pytest.mark.parametrize('kind', list(SchedulerKind))
def test_batched_generic_schedulers_and_poisson(kind: SchedulerKind) -> None:
    cfg = CellConfig(scheduler=kind, traffic='poisson', arrival_rate_bps=1e6, packet_bits=8000,
                     link={'coherence_slots': 2, 'coherence_rbs': 5})
    m = simulate_cells_batched(cfg, 20, 2000, np.random.default_rng(4))
    assert m.mean_queue_bits is not None and m.mean_queue_bits.shape == (20, 9)
    np.testing.assert_allclose(m.throughput_bps.mean(), 1e6, rtol=0.05)
    assert np.all((m.prb_utilization > 0) & (m.prb_utilization < 1))
    single = simulate_cell(cfg, 2000, np.random.default_rng(4), trace=True)
    assert single.trace is not None and np.any(single.trace.assignment == NO_UE)


def test_jain_fairness_closed_forms() -> None:
    assert float(jain_fairness([1.0, 1.0, 1.0])) == 1.0
    assert float(jain_fairness([1.0, 0.0, 0.0, 0.0])) == 0.25
    assert float(jain_fairness([0.0, 0.0])) == 1.0
    np.testing.assert_allclose(jain_fairness([[1.0, 3.0], [2.0, 2.0]]), [0.8, 1.0])


def test_partial_path_loss_override_keeps_the_model() -> None:
    config = load_config(CellConfig, None, ['link.path_loss.exponent=3.5'])
    assert config.link == CellConfig().link.model_copy(
        update={'path_loss': CellConfig().link.path_loss.model_copy(update={'exponent': 3.5})})
    # a partial override lowers the mean SNR as the larger exponent says (not to "no path loss")
    assert np.all(config.mean_snr < CellConfig().mean_snr)
