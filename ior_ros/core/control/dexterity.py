"""
Dexterity index (seed 003 eq. 3) and the URLLC service rate (seed 003 eq. 4).

Seed 003 eq. 3::

    DI = 0.4 max(0, 1 - e_track / 10) + 0.3 (max(0, 1 - e_orient / 180) + max(0, 1 - curv / 1))

The seed gives no units. We read the tracking error in centimetres (10 cm zeroes its term), the
orientation error in degrees (180° is the worst possible heading error) and the curvature in 1/m
(see docs/models/control.md); in SI terms each term is ``max(0, 1 - value / scale)`` with the
scales of :class:`~ior_ros.core.control.control_config.DexterityConfig`. With the seed's weights
(0.4, 0.3, 0.3) DI lies in [0, 1]; 1 is perfect execution.

Seed 003 eq. 4, the serving rate of the URLLC (command) queue: ``μ = r - β DI`` with r the URLLC
data rate and β > 0. A departure rate cannot be negative, so μ is floored at 0 by default (the
queue update of seed 003 eq. 5 clips at 0 anyway).

:func:`dexterity_index_scalar` is eq. 3 for one sample in plain Python floats (what a node calls
every control period): the same IEEE operations in the same order as the array form, so the same
value to the bit; :func:`dexterity_index` takes that path when all three inputs are scalars.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ior_ros.core.control.control_config import DexterityConfig
from ior_ros.core.errors import DimensionError, ModelError

__all__ = ['dexterity_index', 'dexterity_index_scalar', 'urllc_service_rate']

FloatArray = npt.NDArray[np.float64]

_DEFAULT = DexterityConfig()  # frozen: shared by the calls that give no config
_SCALARS = (float, int, np.floating, np.integer)


def _non_negative(value: object, name: str) -> FloatArray:
    array = np.asarray(value, dtype=float)
    if np.any(np.isnan(array)):
        raise ModelError(f'{name} has NaN entries')
    if np.any(array < 0.0):
        raise ModelError(f'{name} must be >= 0, got minimum {float(np.min(array))!r}')
    return array


def _scalar_term(value: float, name: str) -> float:
    if math.isnan(value):
        raise ModelError(f'{name} has NaN entries')
    if value < 0.0:
        raise ModelError(f'{name} must be >= 0, got minimum {value!r}')
    return value


def dexterity_index_scalar(tracking_error_m: float, orientation_error_deg: float,
                           curvature_per_m: float,
                           config: DexterityConfig | None = None) -> float:
    """
    Seed 003 eq. 3 for one sample (arguments and errors as :func:`dexterity_index`): the same
    value as ``float(dexterity_index(...))``, bit for bit, without numpy's per-call overhead.
    """
    cfg = config or _DEFAULT
    track = _scalar_term(float(tracking_error_m), 'tracking_error_m')
    orient = _scalar_term(float(orientation_error_deg), 'orientation_error_deg')
    curv = _scalar_term(float(curvature_per_m), 'curvature_per_m')
    # max(0.0, v) is np.maximum(0.0, v) for every v that is not NaN (none is: inputs are checked)
    term_track = max(0.0, 1.0 - track / cfg.tracking_error_scale_m)
    term_orient = max(0.0, 1.0 - orient / cfg.orientation_error_scale_deg)
    term_curv = max(0.0, 1.0 - curv / cfg.curvature_scale_per_m)
    return (cfg.tracking_weight * term_track + cfg.orientation_weight * term_orient
            + cfg.curvature_weight * term_curv)


def dexterity_index(tracking_error_m: object, orientation_error_deg: object,
                    curvature_per_m: object,
                    config: DexterityConfig | None = None) -> FloatArray:
    """
    Seed 003 eq. 3, vectorised (inputs broadcast together).

    Args:
        tracking_error_m: position tracking error (e.g. RMS over a run) [m], >= 0; +inf allowed
            (a diverged run: its term is 0).
        orientation_error_deg: heading error [deg], >= 0.
        curvature_per_m: path curvature measure [1/m], >= 0.
        config: scales and weights (the seed's by default).

    Returns:
        DI, broadcast shape of the inputs (a 0-d array for scalars).

    Raises:
        ModelError: negative or NaN inputs.
        DimensionError: shapes that do not broadcast.
    """
    if (isinstance(tracking_error_m, _SCALARS) and isinstance(orientation_error_deg, _SCALARS)
            and isinstance(curvature_per_m, _SCALARS)):
        return np.asarray(dexterity_index_scalar(float(tracking_error_m),
                                                 float(orientation_error_deg),
                                                 float(curvature_per_m), config), dtype=float)
    cfg = config or _DEFAULT
    track = _non_negative(tracking_error_m, 'tracking_error_m')
    orient = _non_negative(orientation_error_deg, 'orientation_error_deg')
    curv = _non_negative(curvature_per_m, 'curvature_per_m')
    try:
        track, orient, curv = np.broadcast_arrays(track, orient, curv)
    except ValueError:
        raise DimensionError(f'tracking_error_m shape {track.shape}, orientation_error_deg shape '
                             f'{orient.shape} and curvature_per_m shape {curv.shape} do not '
                             'broadcast') from None
    term_track = np.maximum(0.0, 1.0 - track / cfg.tracking_error_scale_m)
    term_orient = np.maximum(0.0, 1.0 - orient / cfg.orientation_error_scale_deg)
    term_curv = np.maximum(0.0, 1.0 - curv / cfg.curvature_scale_per_m)
    return np.asarray(cfg.tracking_weight * term_track + cfg.orientation_weight * term_orient
                      + cfg.curvature_weight * term_curv, dtype=float)


def urllc_service_rate(rate: object, dexterity: object, beta: float,
                       clip_at_zero: bool = True) -> FloatArray:
    """
    Seed 003 eq. 4: ``μ = r - β DI``, vectorised.

    Args:
        rate: URLLC data rate r (any unit; μ has the same unit), >= 0.
        dexterity: DI in [0, 1].
        beta: β > 0, in the unit of r.
        clip_at_zero: floor μ at 0 (a departure rate is never negative).

    Raises:
        ModelError: β <= 0, negative rate, DI outside [0, 1] or NaN.
    """
    if not (isinstance(beta, (int, float)) and np.isfinite(beta) and beta > 0.0):
        raise ModelError(f'beta = {beta!r}: must be a finite number > 0 (seed 003 eq. 4)')
    r = _non_negative(rate, 'rate')
    di = np.asarray(dexterity, dtype=float)
    if np.any(np.isnan(di)) or np.any(di < 0.0) or np.any(di > 1.0):
        raise ModelError('dexterity index must lie in [0, 1]')
    mu = r - beta * di
    return np.maximum(mu, 0.0) if clip_at_zero else np.asarray(mu, dtype=float)
