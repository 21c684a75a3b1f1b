"""Tests of ior_ros.core.ran.channel and ior_ros.core.ran.rates against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ior_ros.core.errors import DimensionError, ModelError
from ior_ros.core.ran.channel import (
    PathLossConfig,
    PathLossKind,
    block_fading_power_gain,
    mean_power_gain,
    path_loss_db,
    rayleigh_power_gain,
)
from ior_ros.core.ran.rates import (
    fbl_dispersion,
    fbl_error_probability,
    fbl_max_bits,
    fbl_min_blocklength,
    fbl_rate,
    q_function,
    q_inverse,
    shannon_capacity,
    shannon_rate_bps,
    snr_linear,
    user_rates_bps,
)

C_M_PER_S = 299_792_458.0

# docs/reference/anchors.md §5: bits at ε = 1e-5 (normal approximation), rounded to 0.1
ANCHOR_BITS = {
    168: {0: 102.6, 5: 271.9, 10: 505.5, 20: 1042.5},
    336: {0: 242.5, 5: 586.0, 10: 1054.2, 20: 2128.6},
    1000: {0: 836.5, 5: 1873.5, 10: 3270.6, 20: 6468.6},
}
# gap below Shannon n·C, in percent, as quoted beside the bits
ANCHOR_GAP_PCT = {168: {0: -38.9, 5: -21.3, 10: -13.0, 20: -6.8},
                  1000: {0: -16.4, 5: -8.9, 10: -5.5, 20: -2.8}}
# REs a 32-byte packet needs at ε = 1e-5
ANCHOR_RES_256_BITS = {0: 352, 5: 160, 10: 90, 20: 45}


def _normal_approx_bits(n: float, snr_db: float, eps: float) -> float:
    """Polyanskiy-Poor-Verdú normal approximation, written out independently of rates.py."""
    g = 10.0 ** (snr_db / 10.0)
    cap = math.log2(1.0 + g)
    disp = (1.0 - 1.0 / (1.0 + g) ** 2) * (math.log2(math.e)) ** 2
    q_inv = float(stats.norm.isf(eps))
    return n * cap - math.sqrt(n * disp) * q_inv + 0.5 * math.log2(n)


# ------------------------------------------------------------------------------- FBL


@pytest.mark.parametrize('n', sorted(ANCHOR_BITS))
@pytest.mark.parametrize('snr_db', [0, 5, 10, 20])
def test_fbl_bits_match_anchor_table_and_formula(n: int, snr_db: int) -> None:
    got = float(fbl_max_bits(n, 10.0 ** (snr_db / 10.0), 1e-5))
    assert got == pytest.approx(_normal_approx_bits(n, snr_db, 1e-5), rel=1e-12)
    assert abs(got - ANCHOR_BITS[n][snr_db]) <= 0.05 + 1e-9


@pytest.mark.parametrize('n', sorted(ANCHOR_GAP_PCT))
@pytest.mark.parametrize('snr_db', [0, 5, 10, 20])
def test_fbl_gap_below_shannon_matches_anchor(n: int, snr_db: int) -> None:
    g = 10.0 ** (snr_db / 10.0)
    shannon_bits = n * math.log2(1.0 + g)
    gap = 100.0 * (float(fbl_max_bits(n, g, 1e-5)) - shannon_bits) / shannon_bits
    assert abs(gap - ANCHOR_GAP_PCT[n][snr_db]) <= 0.05 + 1e-9


@pytest.mark.parametrize('snr_db', sorted(ANCHOR_RES_256_BITS))
def test_min_blocklength_for_32_byte_packet(snr_db: int) -> None:
    g = 10.0 ** (snr_db / 10.0)
    n = fbl_min_blocklength(256, g, 1e-5)
    assert n == ANCHOR_RES_256_BITS[snr_db]
    assert _normal_approx_bits(n, snr_db, 1e-5) >= 256
    assert _normal_approx_bits(n - 1, snr_db, 1e-5) < 256


@pytest.mark.parametrize('n', [100, 168, 1000])
@pytest.mark.parametrize('snr_db', [0.0, 7.5, 20.0])
@pytest.mark.parametrize('eps', [1e-2, 1e-5, 1e-9])
def test_error_probability_inverts_max_bits(n: int, snr_db: float, eps: float) -> None:
    g = 10.0 ** (snr_db / 10.0)
    bits = float(fbl_max_bits(n, g, eps))
    assert bits > 0
    assert float(fbl_error_probability(bits, n, g)) == pytest.approx(eps, rel=1e-6)


def test_error_probability_monotone_and_zero_snr() -> None:
    n, g = 168, 3.0
    eps = fbl_error_probability(np.array([50.0, 100.0, 200.0, 300.0]), n, g)
    assert np.all(np.diff(eps) > 0)
    assert float(fbl_error_probability(10.0, n, 0.0)) == pytest.approx(1.0)


def test_fbl_rate_dispersion_and_floor() -> None:
    assert float(fbl_rate(168, 1.0, 1e-5)) == pytest.approx(102.6 / 168, abs=0.05 / 168)
    g = np.array([0.0, 1.0, 1e6])
    v = fbl_dispersion(g)
    assert v[0] == 0.0
    assert v[1] == pytest.approx(0.75 * math.log2(math.e) ** 2)
    assert v[2] == pytest.approx(math.log2(math.e) ** 2, rel=1e-9)
    # tiny block at very low SNR: the approximation goes negative and is floored at 0
    assert float(fbl_max_bits(2, 1e-3, 1e-9)) == 0.0


def test_q_function_and_inverse() -> None:
    for x in (-2.0, 0.0, 1.0, 4.2648907939):
        assert q_function(x) == pytest.approx(0.5 * math.erfc(x / math.sqrt(2.0)), rel=1e-12)
    assert q_inverse(1e-5) == pytest.approx(4.264890793922825, rel=1e-12)
    assert q_function(q_inverse(0.123)) == pytest.approx(0.123, rel=1e-12)


@pytest.mark.parametrize('eps', [0.0, 1.0, -0.1, 1.5])
def test_bad_epsilon_raises(eps: float) -> None:
    with pytest.raises(ModelError, match='epsilon'):
        fbl_max_bits(168, 1.0, eps)


@pytest.mark.parametrize('n', [0, -5, float('nan')])
def test_bad_blocklength_raises(n: float) -> None:
    with pytest.raises(ModelError, match='blocklength'):
        fbl_max_bits(n, 1.0, 1e-5)


def test_min_blocklength_unreachable_raises() -> None:
    with pytest.raises(ModelError, match='channel uses'):
        fbl_min_blocklength(1e9, 1e-3, 1e-5, n_max=1000)
    assert fbl_min_blocklength(0, 1.0, 1e-5) == 1


# ------------------------------------------------------------------------------- Shannon


def test_snr_linear_from_dbm_by_hand() -> None:
    # 20 dBm - 100 dB path loss = -80 dBm received; noise -110 dBm -> 30 dB = 1000
    assert float(snr_linear(20.0, 1.0, -110.0, 100.0)) == pytest.approx(1000.0, rel=1e-12)
    assert float(snr_linear(20.0, 2.0, -110.0, 100.0)) == pytest.approx(2000.0, rel=1e-12)
    per_ue = snr_linear(20.0, 1.0, -110.0, np.array([100.0, 110.0, 130.0]))
    np.testing.assert_allclose(per_ue, [1000.0, 100.0, 1.0], rtol=1e-12)


def test_shannon_rate_closed_form() -> None:
    assert float(shannon_capacity(1.0)) == 1.0
    assert float(shannon_capacity(3.0)) == 2.0
    assert float(shannon_rate_bps(180e3, 15.0)) == pytest.approx(4 * 180e3)
    with pytest.raises(ModelError, match='bandwidth_hz'):
        shannon_rate_bps(0.0, 1.0)


def test_user_rates_sum_over_allocated_prbs(rng: np.random.Generator) -> None:
    snr = rng.exponential(10.0, size=(3, 5))
    rho = np.zeros((3, 5), dtype=bool)
    rho[0, [0, 3]] = True
    rho[2, [1, 2, 4]] = True
    got = user_rates_bps(rho, snr, 180e3)
    expected = [180e3 * (math.log2(1 + snr[0, 0]) + math.log2(1 + snr[0, 3])), 0.0,
                180e3 * sum(math.log2(1 + snr[2, j]) for j in (1, 2, 4))]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    batched = user_rates_bps(np.stack([rho, rho]), np.stack([snr, snr]), 180e3)
    np.testing.assert_allclose(batched, [expected, expected], rtol=1e-12)


def test_user_rates_shape_mismatch_names_shapes() -> None:
    with pytest.raises(DimensionError, match=r'\(3, 5\).*\(3, 4\)'):
        user_rates_bps(np.zeros((3, 5)), np.zeros((3, 4)), 180e3)


# ------------------------------------------------------------------------------- fading


@pytest.mark.parametrize('scale', [1.0 / math.sqrt(2.0), 1.0, 2.5])
def test_rayleigh_mean_power_is_two_sigma_squared(rng: np.random.Generator,
                                                  scale: float) -> None:
    n = 400_000
    g = rayleigh_power_gain(rng, (n,), scale)
    mean = 2.0 * scale * scale
    assert mean_power_gain(scale) == pytest.approx(mean)
    # the exponential's std equals its mean: 5 standard errors
    assert abs(g.mean() - mean) < 5.0 * mean / math.sqrt(n)
    assert stats.kstest(g, stats.expon(scale=mean).cdf).pvalue > 1e-3
    # amplitude sqrt(g) is Rayleigh with parameter scale
    assert stats.kstest(np.sqrt(g[:50_000]), stats.rayleigh(scale=scale).cdf).pvalue > 1e-3


def test_block_fading_constant_within_blocks(rng: np.random.Generator) -> None:
    g = block_fading_power_gain(rng, n_slots=10, n_ue=3, n_res=7, scale=1.0,
                                coherence_slots=4, coherence_res=3)
    assert g.shape == (10, 3, 7)
    for t0 in range(0, 10, 4):
        for f0 in range(0, 7, 3):
            block = g[t0:t0 + 4, :, f0:f0 + 3]  # [<=4, n_ue, <=3]
            assert np.all(block == block[:1, :, :1])
    # independent across blocks and UEs: distinct values
    assert len(np.unique(g[::4, :, ::3])) == g[::4, :, ::3].size


def test_block_fading_coherence_one_is_iid(rng: np.random.Generator) -> None:
    g = block_fading_power_gain(rng, 50, 4, 25, scale=1.0)
    assert len(np.unique(g)) == g.size
    assert g.mean() == pytest.approx(2.0, rel=0.1)


def test_fading_is_deterministic_for_a_seed() -> None:
    a = block_fading_power_gain(np.random.default_rng(7), 5, 2, 4, 1.0, 2, 2)
    b = block_fading_power_gain(np.random.default_rng(7), 5, 2, 4, 1.0, 2, 2)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize('scale', [0.0, -1.0, float('inf'), float('nan')])
def test_bad_rayleigh_scale_raises(rng: np.random.Generator, scale: float) -> None:
    with pytest.raises(ModelError, match='rayleigh scale'):
        rayleigh_power_gain(rng, (3,), scale)


def test_bad_block_sizes_raise(rng: np.random.Generator) -> None:
    with pytest.raises(ModelError, match='coherence_slots = 0'):
        block_fading_power_gain(rng, 5, 2, 4, coherence_slots=0)
    with pytest.raises(ModelError, match='n_ue = 0'):
        block_fading_power_gain(rng, 5, 0, 4)


# ------------------------------------------------------------------------------- path loss


def test_path_loss_free_space_by_hand() -> None:
    cfg = PathLossConfig(kind=PathLossKind.FREE_SPACE, carrier_hz=3.5e9)
    # 20 log10(4 π d f / c) at 100 m and 3.5 GHz
    expected = 20.0 * math.log10(4.0 * math.pi * 100.0 * 3.5e9 / C_M_PER_S)
    assert float(path_loss_db(100.0, cfg)) == pytest.approx(expected, abs=1e-9)
    assert expected == pytest.approx(83.32, abs=0.01)
    # +20 dB per decade
    d = np.array([10.0, 100.0, 1000.0])
    np.testing.assert_allclose(np.diff(path_loss_db(d, cfg)), [20.0, 20.0], atol=1e-9)


def test_path_loss_log_distance_by_hand() -> None:
    cfg = PathLossConfig(kind=PathLossKind.LOG_DISTANCE, exponent=3.0, reference_loss_db=40.0,
                         reference_distance_m=1.0)
    assert float(path_loss_db(100.0, cfg)) == pytest.approx(40.0 + 30.0 * 2.0)
    # PL(d0) defaults to free space at d0
    cfg_fs = PathLossConfig(kind=PathLossKind.LOG_DISTANCE, exponent=3.5, carrier_hz=2e9)
    fs_1m = 20.0 * math.log10(4.0 * math.pi * 1.0 * 2e9 / C_M_PER_S)
    assert float(path_loss_db(10.0, cfg_fs)) == pytest.approx(fs_1m + 35.0)


def test_path_loss_3gpp_by_hand() -> None:
    umi = PathLossConfig(kind=PathLossKind.UMI_LOS, carrier_hz=3.5e9)
    assert float(path_loss_db(200.0, umi)) == pytest.approx(
        32.4 + 21.0 * math.log10(200.0) + 20.0 * math.log10(3.5))
    inh = PathLossConfig(kind=PathLossKind.INH_OFFICE_LOS, carrier_hz=28e9)
    assert float(path_loss_db(20.0, inh)) == pytest.approx(
        32.4 + 17.3 * math.log10(20.0) + 20.0 * math.log10(28.0))


def test_path_loss_none_fixed_and_near_field_clamp() -> None:
    d = np.array([0.0, 5.0, 500.0])
    none = PathLossConfig(kind=PathLossKind.NONE)
    assert np.all(path_loss_db(d, none) == 0.0)
    fixed = PathLossConfig(kind=PathLossKind.FIXED, fixed_loss_db=97.5)
    assert np.all(path_loss_db(d, fixed) == 97.5)
    assert not none.depends_on_distance and not fixed.depends_on_distance
    assert PathLossConfig().depends_on_distance


def test_default_path_loss_is_log_distance_exponent_three() -> None:
    # FSPL(1 m, 3.5 GHz) + 30 log10(d)
    fs_1m = 20.0 * math.log10(4.0 * math.pi * 3.5e9 / C_M_PER_S)
    assert float(path_loss_db(200.0, PathLossConfig())) == pytest.approx(
        fs_1m + 30.0 * math.log10(200.0), abs=1e-9)
    cfg = PathLossConfig(kind=PathLossKind.FREE_SPACE, min_distance_m=1.0)
    assert float(path_loss_db(0.0, cfg)) == float(path_loss_db(1.0, cfg))


@pytest.mark.parametrize('d', [-1.0, float('nan'), float('inf')])
def test_bad_distance_raises(d: float) -> None:
    with pytest.raises(ModelError, match='distance_m'):
        path_loss_db(np.array([10.0, d]), PathLossConfig(kind=PathLossKind.FREE_SPACE))
