"""
Achievable rates: Shannon per PRB and the finite-blocklength normal approximation.

* Shannon (seed 003 eq. 1): ``r_i = B Σ_j ρ_ij log2(1 + p_ij |h_ij|² / σ²)``.
* Finite blocklength, complex AWGN (Polyanskiy, Poor, Verdú, IEEE Trans. IT 56(5):2307-2359, 2010,
  eq. 296 and Theorem 54's normal approximation):
  ``log2 M*(n, ε) ≈ n C - sqrt(n V) Q⁻¹(ε) + ½ log2 n`` with ``C = log2(1 + γ)`` and
  ``V = (1 - 1/(1 + γ)²) (log2 e)²`` [bit²].
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr, ndtri

from ior_ros.core.errors import DimensionError, ModelError
from ior_ros.core.units import dbm_to_mw

__all__ = ['shannon_capacity', 'shannon_rate_bps', 'user_rates_bps', 'snr_linear',
           'fbl_dispersion', 'fbl_max_bits', 'fbl_rate', 'fbl_error_probability',
           'fbl_min_blocklength', 'q_function', 'q_inverse']

FloatArray = npt.NDArray[np.float64]
LOG2_E = 1.0 / math.log(2.0)


def q_function(x: float | FloatArray) -> float | FloatArray:
    """Gaussian tail Q(x) = P(N(0,1) > x)."""
    return ndtr(-np.asarray(x, dtype=float)) if isinstance(x, np.ndarray) else float(ndtr(-x))


def q_inverse(epsilon: float) -> float:
    """Q⁻¹(ε), for ε in (0, 1)."""
    if not 0.0 < epsilon < 1.0:
        raise ModelError(f'epsilon = {epsilon!r}: must be in (0, 1)')
    return float(-ndtri(epsilon))


def snr_linear(tx_power_dbm: float | FloatArray, gain_linear: float | FloatArray,
               noise_dbm: float, path_loss_db: float | FloatArray = 0.0) -> FloatArray:
    """SNR γ = P_tx · |h|² · 10^(-PL/10) / N, all powers in dBm converted to linear."""
    p_mw = dbm_to_mw(np.asarray(tx_power_dbm, dtype=float)
                     - np.asarray(path_loss_db, dtype=float))  # received power [mW]
    n_mw = dbm_to_mw(noise_dbm)  # noise power [mW]
    return np.asarray(p_mw * np.asarray(gain_linear, dtype=float) / n_mw, dtype=float)


def shannon_capacity(snr: float | FloatArray) -> FloatArray:
    """C = log2(1 + γ) [bit per channel use]."""
    return np.log2(1.0 + np.asarray(snr, dtype=float))


def shannon_rate_bps(bandwidth_hz: float, snr: float | FloatArray) -> FloatArray:
    """B log2(1 + γ) [bit/s]."""
    if not bandwidth_hz > 0:
        raise ModelError(f'bandwidth_hz = {bandwidth_hz!r}: must be > 0')
    return bandwidth_hz * shannon_capacity(snr)


def user_rates_bps(allocation: npt.NDArray[np.bool_] | FloatArray, snr: FloatArray,
                   prb_bandwidth_hz: float) -> FloatArray:
    """
    Per-user Shannon rate of seed 003 eq. 1.

    Args:
        allocation: ``[..., n_ue, n_prb]`` indicator ρ_ij (bool or 0/1).
        snr: ``[..., n_ue, n_prb]`` SNR γ_ij (linear).
        prb_bandwidth_hz: B, the bandwidth of one PRB [Hz].

    Returns:
        ``[..., n_ue]`` rates [bit/s].
    """
    if np.shape(allocation) != np.shape(snr):
        raise DimensionError(f'allocation has shape {np.shape(allocation)} but snr has shape '
                             f'{np.shape(snr)}; they must be equal')
    # [..., n_ue]
    rates: FloatArray = prb_bandwidth_hz * np.sum(
        np.asarray(allocation, dtype=float) * np.log2(1.0 + snr), axis=-1)
    return rates


def fbl_dispersion(snr: float | FloatArray) -> FloatArray:
    """Channel dispersion V(γ) = (1 - 1/(1+γ)²) (log2 e)² [bit²] of the complex AWGN channel."""
    g = np.asarray(snr, dtype=float)
    return (1.0 - 1.0 / (1.0 + g) ** 2) * LOG2_E ** 2


def _check_blocklength(n: float | FloatArray) -> FloatArray:
    n_arr = np.asarray(n, dtype=float)
    if np.any(n_arr <= 0) or not np.all(np.isfinite(n_arr)):
        raise ModelError(f'blocklength n = {n!r}: must be > 0')
    return n_arr


def fbl_max_bits(n: float | FloatArray, snr: float | FloatArray,
                 epsilon: float) -> FloatArray:
    """
    Bits deliverable in ``n`` channel uses at error probability ε (normal approximation):
    ``n C - sqrt(n V) Q⁻¹(ε) + ½ log2 n``, floored at 0.
    """
    n_arr = _check_blocklength(n)
    q_inv = q_inverse(epsilon)
    bits = (n_arr * shannon_capacity(snr) - np.sqrt(n_arr * fbl_dispersion(snr)) * q_inv
            + 0.5 * np.log2(n_arr))
    return np.maximum(bits, 0.0)


def fbl_rate(n: float | FloatArray, snr: float | FloatArray, epsilon: float) -> FloatArray:
    """Rate R = log2 M*(n, ε) / n [bit per channel use]."""
    return fbl_max_bits(n, snr, epsilon) / _check_blocklength(n)


def fbl_error_probability(bits: float | FloatArray, n: float | FloatArray,
                          snr: float | FloatArray) -> FloatArray:
    """ε ≈ Q((n C - D + ½ log2 n) / sqrt(n V)) for D bits over n channel uses."""
    n_arr = _check_blocklength(n)
    v = fbl_dispersion(snr)
    with np.errstate(divide='ignore', invalid='ignore'):
        arg = (n_arr * shannon_capacity(snr) - np.asarray(bits, dtype=float)
               + 0.5 * np.log2(n_arr)) / np.sqrt(n_arr * v)
    arg = np.where(v > 0, arg, -np.inf)  # zero SNR: nothing gets through
    return np.asarray(ndtr(-arg), dtype=float)


def fbl_min_blocklength(bits: float, snr: float, epsilon: float, n_max: int = 1_000_000) -> int:
    """
    Smallest integer n with ``fbl_max_bits(n, snr, ε) >= bits`` (bisection; monotone in n for
    the SNRs and ε of interest). Raises ModelError if even ``n_max`` is not enough.
    """
    if bits <= 0:
        return 1
    if float(fbl_max_bits(n_max, snr, epsilon)) < bits:
        raise ModelError(f'{bits} bits at snr {snr} and epsilon {epsilon}: need more than '
                         f'{n_max} channel uses')
    lo, hi = 1, n_max
    while lo < hi:
        mid = (lo + hi) // 2
        if float(fbl_max_bits(mid, snr, epsilon)) >= bits:
            hi = mid
        else:
            lo = mid + 1
    return lo
