"""
Closed-loop dexterity: the URLLC robots track a figure-eight with commands delayed by the network.

A step-by-step wrapper of the one tracking dynamics,
:mod:`ior_ros.core.control.tracking_dynamics` (reference, newest-command hold, disturbance, plant,
divergence and recovery); here the delay of every command is the URLLC delay the slicing
environment produced at that moment. What this module adds:

* the remote controller: ``u_c(k) = r̈(k) - K (x(k) - r(k))`` with the nominal LQR gain
  :func:`~ior_ros.core.control.lqr_design.dlqr` for the reference weights
  (:func:`~ior_ros.core.control.lqr_design.reference_lqr_weights`), tracking ``task.reference``
  (8 s period by default; ``speed_scale`` runs it faster);
* the network: the command sent at sample k arrives ``d = ceil(D_ti / T_s)`` samples later, D_ti
  being its user's URLLC delay at sending time
  (:func:`~ior_ros.core.control.tracking_dynamics.command_delay_steps`); before the first command
  arrives the actuator holds the feed-forward of the first sample;
* disturbances drawn sample by sample
  (:func:`~ior_ros.core.control.tracking_dynamics.next_disturbance`; σ_w, hold and σ_n of
  :class:`~ior_ros.core.control.control_config.TrackingConfig`);
* the score: seed 003 eq. 3 by :func:`~ior_ros.core.control.dexterity.dexterity_index`, over a
  sliding window of ``task.di_window_s``: RMS position error, RMS heading error (samples above the
  minimum speed) and mean curvature error (``dexterity.curvature_metric``; this task uses the
  executed path's curvature, ``path``, docs/models/slicing.md §6).

A robot whose position error exceeds the divergence threshold scores DI = 0 for that sample's
window and is put back on the reference (:func:`~ior_ros.core.control.tracking_dynamics.recover`).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ior_ros.core.control.control_config import CurvatureMetric, DexterityConfig, TrackingConfig
from ior_ros.core.control.dexterity import dexterity_index
from ior_ros.core.control.figure_eight import FigureEight
from ior_ros.core.control.lqr_design import dlqr, reference_lqr_weights
from ior_ros.core.control.robot_models import path_geometry, planar_double_integrator
from ior_ros.core.control.tracking_dynamics import (
    TrackingState,
    command_delay_steps,
    diverged,
    initial_disturbance,
    initial_state,
    next_disturbance,
    recover,
    sample_time,
    tracking_params,
    transition,
)
from ior_ros.core.control.tracking_score import curvature_error, heading_error_deg, motion_geometry
from ior_ros.core.errors import DimensionError
from ior_ros.core.slicing.config import SlicingEnvConfig

__all__ = ['TrackingDexterity', 'SLICING_DEXTERITY']

FloatArray = npt.NDArray[np.float64]

SLICING_DEXTERITY = DexterityConfig(curvature_metric=CurvatureMetric.PATH)
"""The eq. 3 normalisation of the slicing task: the control package's, with the executed path's
curvature as the 'curv' term (what the shipped slicing policy was trained with)."""


class TrackingDexterity:
    """
    n_u robots tracking a figure-eight over the URLLC link (see the module docstring).

    Args:
        config: the slicing configuration (``n_urllc``, ``task``).
        tracking: disturbance, noise, divergence and speed thresholds (control package defaults;
            its reference is replaced by ``task.reference``).
        dexterity: the eq. 3 normalisation (:data:`SLICING_DEXTERITY` by default).
    """

    def __init__(self, config: SlicingEnvConfig, tracking: TrackingConfig | None = None,
                 dexterity: DexterityConfig | None = None) -> None:
        task = config.task
        self._n = config.n_urllc
        ts = task.control_period_s
        plant = planar_double_integrator(ts)
        self._params = tracking_params(tracking or TrackingConfig(), ts, plant=plant,
                                       reference=FigureEight.from_config(task.reference))
        self._dex = dexterity or SLICING_DEXTERITY
        self._gain = dlqr(plant, reference_lqr_weights()).gain  # [2, 4]
        self._window = max(1, int(round(task.di_window_s / ts)))
        self._initial_di = task.fixed_di
        self._rng = np.random.default_rng(0)
        self._state = self._start()
        self._hold = np.zeros((self._n, 2))  # [n_u, 2] piecewise-constant disturbance
        self._sq_track = np.zeros((self._window, self._n))  # [W, n_u]
        self._sq_orient = np.zeros((self._window, self._n))  # [W, n_u]
        self._curv = np.zeros((self._window, self._n))  # [W, n_u]
        self._valid = np.zeros((self._window, self._n))  # [W, n_u]
        self._diverged = np.zeros((self._window, self._n), dtype=bool)  # [W, n_u]
        self._filled = 0
        self._di = np.full(self._n, self._initial_di)

    def _start(self) -> TrackingState:
        """Robots on the reference, the actuators holding the first sample's feed-forward."""
        _, acc = self._params.reference.state([0.0])
        return initial_state(self._params, self._n, held_command_mps2=acc[0], capacity=8)

    @property
    def state(self) -> TrackingState:
        """The robots' tracking state (read-only use)."""
        return self._state

    def reset(self, rng: np.random.Generator) -> FloatArray:
        """Robots on the reference, no command in flight; DI = ``task.fixed_di``."""
        self._rng = rng
        self._state = self._start()
        self._hold = initial_disturbance(rng, self._params, self._n)
        for array in (self._sq_track, self._sq_orient, self._curv, self._valid):
            array[:] = 0.0
        self._diverged[:] = False
        self._filled = 0
        self._di = np.full(self._n, self._initial_di)
        return self._di.copy()

    def advance(self, command_delay_s: FloatArray) -> FloatArray:
        """One control sample of every robot; commands sent now are ``command_delay_s`` late."""
        delay = np.asarray(command_delay_s, dtype=float)
        if delay.shape != (self._n,):
            raise DimensionError(f'command_delay_s has shape {delay.shape}; expected '
                                 f'({self._n},)')
        params, state = self._params, self._state
        k = state.step
        ref = params.reference.sample([sample_time(state, params)])
        pos, vel, acc = ref.position_m[0], ref.velocity_mps[0], ref.acceleration_mps2[0]
        error = state.x - np.array([pos[0], vel[0], pos[1], vel[1]])  # [n_u, 4]
        command = acc - error @ self._gain.T  # [n_u, 2]
        disturbance = next_disturbance(self._hold, k, self._rng, params)
        self._hold = disturbance.hold_mps2
        following = transition(state, command, command_delay_steps(delay, params.sample_period_s),
                               disturbance, params)
        geom = motion_geometry(state, following.accel_mps2, params)
        moving = geom.speed_mps >= params.min_speed_mps  # [n_u]
        d_heading = heading_error_deg(geom.heading_rad, math.atan2(vel[1], vel[0]))  # [n_u]
        metric = self._dex.curvature_metric
        ref_curvature = (path_geometry(vel, acc).curvature_per_m
                         if metric is CurvatureMetric.EXCESS else 0.0)
        curv = curvature_error(geom.curvature_per_m, ref_curvature, metric)  # [n_u]
        pos_err = np.hypot(error[:, 0], error[:, 2])  # [n_u]
        lost = diverged(error, params)  # [n_u]
        slot = k % self._window
        self._sq_track[slot] = pos_err ** 2
        self._sq_orient[slot] = np.where(moving, d_heading ** 2, 0.0)
        self._curv[slot] = np.where(moving, curv, 0.0)
        self._valid[slot] = moving
        self._diverged[slot] = lost
        self._filled = min(self._filled + 1, self._window)
        self._state = recover(following, lost, params)
        rows = slice(0, self._filled)
        count = np.maximum(self._valid[rows].sum(axis=0), 1.0)
        rms_track = np.sqrt(self._sq_track[rows].mean(axis=0))
        rms_orient = np.minimum(np.sqrt(self._sq_orient[rows].sum(axis=0) / count), 180.0)
        mean_curv = self._curv[rows].sum(axis=0) / count
        di = np.asarray(dexterity_index(rms_track, rms_orient, mean_curv, self._dex), dtype=float)
        self._di = np.where(self._diverged[rows].any(axis=0), 0.0, di)
        return self._di.copy()
