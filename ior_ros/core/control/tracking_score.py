"""
Score pieces of the tracking dynamics (:mod:`~ior_ros.core.control.tracking_dynamics`): the
geometry of the executed motion, heading and curvature errors (the terms of seed 003 eq. 3) and the
twin's reward. Pure functions; the scoring windows belong to the wrappers.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ior_ros.core.control.control_config import CurvatureMetric
from ior_ros.core.control.robot_models import PathGeometry, path_geometry, unicycle_inputs
from ior_ros.core.control.tracking_dynamics import TrackingParams, TrackingState

__all__ = ['motion_geometry', 'heading_error_deg', 'curvature_error', 'tracking_reward']

FloatArray = npt.NDArray[np.float64]


def motion_geometry(state: TrackingState, accel_mps2: FloatArray,
                    params: TrackingParams) -> PathGeometry:
    """
    Heading, speed and path curvature ``[R]`` of the robots at the state's sample moving with
    acceleration ``accel_mps2`` (the next state's ``accel_mps2``); curvature NaN below the
    minimum speed (double integrator).
    """
    if params.unicycle:
        assert state.pose is not None
        heading, speed = state.pose[:, 2], state.pose[:, 3]
        inputs = unicycle_inputs(heading, speed, accel_mps2, params.min_speed_mps)
        curvature = inputs.yaw_rate_radps / np.maximum(speed, params.min_speed_mps)
        return PathGeometry(heading, speed, curvature)
    return path_geometry(state.x[:, [1, 3]], accel_mps2, params.min_speed_mps)


def heading_error_deg(heading_rad: npt.ArrayLike, reference_heading_rad: npt.ArrayLike
                      ) -> FloatArray:
    """Signed heading error wrapped to ``(-180, 180]`` [deg]."""
    diff = np.asarray(heading_rad) - np.asarray(reference_heading_rad)
    out: FloatArray = np.degrees(np.angle(np.exp(1j * diff)))
    return out


def curvature_error(curvature_per_m: npt.ArrayLike, reference_curvature_per_m: npt.ArrayLike,
                    metric: CurvatureMetric) -> FloatArray:
    """The 'curv' term of seed 003 eq. 3 per sample: ``|κ|`` (path) or ``|κ - κ_ref|``
    (excess); undefined (NaN) counts 0."""
    kappa = np.asarray(curvature_per_m)
    value: FloatArray = (np.abs(kappa - np.asarray(reference_curvature_per_m))
                         if metric is CurvatureMetric.EXCESS else np.abs(kappa))
    if np.isfinite(value).all():
        return value
    out: FloatArray = np.nan_to_num(value, nan=0.0)
    return out


def tracking_reward(error_state: npt.ArrayLike, command_mps2: npt.ArrayLike,
                    control_cost: float) -> FloatArray:
    """``-(e_px² + e_py²) - c ‖u‖²`` ``[...]`` [m²]: the squared position error of the tracking
    metric plus a control cost."""
    e = np.asarray(error_state)
    u = np.asarray(command_mps2, dtype=float)
    squared = np.asarray(e[..., 0] ** 2 + e[..., 2] ** 2, dtype=float)
    out: FloatArray = -squared - control_cost * np.einsum('...i,...i->...', u, u)
    return out
