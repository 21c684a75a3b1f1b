"""
Unit conversions: the only place where dB, dBm, Mb/s and ms are turned into SI values.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ['db_to_linear', 'linear_to_db', 'dbm_to_w', 'w_to_dbm', 'mbps_to_bps', 'bps_to_mbps',
           'ms_to_s', 's_to_ms']

FloatArray = npt.NDArray[np.float64]


def db_to_linear(value_db: float | FloatArray) -> float | FloatArray:
    """Power ratio in dB to linear: ``10 ** (value_db / 10)``."""
    return np.power(10.0, np.asarray(value_db, dtype=float) / 10.0) if isinstance(
        value_db, np.ndarray) else float(10.0 ** (value_db / 10.0))


def linear_to_db(value: float | FloatArray) -> float | FloatArray:
    """Linear power ratio to dB: ``10 log10(value)``."""
    return 10.0 * np.log10(value) if isinstance(value, np.ndarray) else float(
        10.0 * np.log10(value))


def dbm_to_w(power_dbm: float) -> float:
    """Power in dBm to watts."""
    return float(10.0 ** ((power_dbm - 30.0) / 10.0))


def w_to_dbm(power_w: float) -> float:
    """Power in watts to dBm."""
    return float(10.0 * np.log10(power_w) + 30.0)


def mbps_to_bps(rate_mbps: float) -> float:
    """Mb/s (10^6 bit/s) to bit/s."""
    return rate_mbps * 1e6


def bps_to_mbps(rate_bps: float) -> float:
    """bit/s to Mb/s (10^6 bit/s)."""
    return rate_bps / 1e6


def ms_to_s(time_ms: float) -> float:
    """Milliseconds to seconds."""
    return time_ms * 1e-3


def s_to_ms(time_s: float) -> float:
    """Seconds to milliseconds."""
    return time_s * 1e3
