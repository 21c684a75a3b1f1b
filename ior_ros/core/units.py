"""
Unit conversions of the core: dB, dBm, Mb/s and ms to and from linear and SI values.

Where the core turns a power in dBm into milliwatts, a ratio in dB into a linear one, bit/s into
Mb/s or seconds into milliseconds, it calls these functions (the SNR of
:func:`ior_ros.core.ran.rates.snr_linear`, the episode statistics of the slicing agent). Each is
the plain textbook expression, so a call gives bit for bit what the expression written inline
gives. Formulas that are themselves written in dB stay where they are written: the path-loss
models of :mod:`ior_ros.core.ran.channel` (``20 log10(4π d f / c)``, 3GPP TR 38.901) and the
channel feature of the slicing environment (``SNR_dB / (10 log10 2) = log2 SNR``). Configuration
values carry their unit in their name (``slot_s = 1e-3``) and are not conversions.
"""

from __future__ import annotations

from typing import overload

import numpy as np
import numpy.typing as npt

__all__ = ['db_to_linear', 'linear_to_db', 'dbm_to_mw', 'dbm_to_w', 'w_to_dbm', 'mbps_to_bps',
           'bps_to_mbps', 'ms_to_s', 's_to_ms']

FloatArray = npt.NDArray[np.float64]


@overload
def db_to_linear(value_db: float) -> float: ...


@overload
def db_to_linear(value_db: FloatArray) -> FloatArray: ...


def db_to_linear(value_db: float | FloatArray) -> float | FloatArray:
    """
    Power ratio in dB to linear: ``10 ** (value_db / 10)``.

    numpy input (arrays and numpy scalars) goes through the ``np.power`` ufunc, Python numbers
    through Python's ``**``: each gives the same bits as the expression written inline.
    """
    if isinstance(value_db, np.ndarray | np.generic):
        out: FloatArray = np.power(10.0, np.asarray(value_db, dtype=float) / 10.0)
        return out
    return float(10.0 ** (value_db / 10.0))


@overload
def linear_to_db(value: float) -> float: ...


@overload
def linear_to_db(value: FloatArray) -> FloatArray: ...


def linear_to_db(value: float | FloatArray) -> float | FloatArray:
    """Linear power ratio to dB: ``10 log10(value)``."""
    if isinstance(value, np.ndarray):
        out: FloatArray = 10.0 * np.log10(value)
        return out
    return float(10.0 * np.log10(value))


@overload
def dbm_to_mw(power_dbm: float) -> float: ...


@overload
def dbm_to_mw(power_dbm: FloatArray) -> FloatArray: ...


def dbm_to_mw(power_dbm: float | FloatArray) -> float | FloatArray:
    """Power in dBm to milliwatts: ``10 ** (power_dbm / 10)`` (a ratio to 1 mW in dB)."""
    return db_to_linear(power_dbm)


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
