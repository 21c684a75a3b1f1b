"""
Closed-loop dexterity: the URLLC robots track a figure-eight with commands delayed by the network.

A step-by-step version of the teleoperated tracking loop of
:mod:`ior_ros.core.control.tracking_sim` (that module simulates whole runs with delays drawn in
advance; here the delay of every command is
the URLLC delay the slicing environment produced at that moment). The pieces are the control
package's:

* the robot: the planar base :func:`~ior_ros.core.control.robot_models.planar_double_integrator`
  (two double integrators, ZOH at the control period T_s);
* the remote controller: ``u_c(k) = r̈(k) - K (x(k) - r(k))`` with the nominal LQR gain
  :func:`~ior_ros.core.control.lqr_design.dlqr` for the reference weights
  (:func:`~ior_ros.core.control.lqr_design.reference_lqr_weights`) and the figure-eight
  :class:`~ior_ros.core.control.tracking_sim.FigureEight` (period divided by
  ``task.reference_speed_scale``);
* the network: the command sent at sample k arrives ``d = ceil(D_ti / T_s)`` samples later, D_ti
  being its user's URLLC delay at sending time; the actuator holds the newest command received
  (highest send index among the arrived ones), as in the tracking simulation;
* disturbances: a piecewise-constant acceleration N(0, σ_w²) redrawn every ``disturbance_hold_s``
  plus per-sample noise N(0, σ_n²) (defaults of
  :class:`~ior_ros.core.control.control_config.TrackingConfig`);
* the score: seed 003 eq. 3 by :func:`~ior_ros.core.control.dexterity.dexterity_index`, over a
  sliding window of ``task.di_window_s``: RMS position error, RMS heading error (samples above the
  minimum speed) and mean absolute path curvature.

A robot whose position error exceeds the divergence threshold scores DI = 0 for that sample's
window and is put back on the reference (the operator recovers it).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ior_ros.core.control.control_config import DexterityConfig, TrackingConfig
from ior_ros.core.control.dexterity import dexterity_index
from ior_ros.core.control.lqr_design import dlqr, reference_lqr_weights
from ior_ros.core.control.robot_models import path_geometry, planar_double_integrator
from ior_ros.core.control.tracking_sim import FigureEight
from ior_ros.core.errors import DimensionError
from ior_ros.core.slicing.config import SlicingEnvConfig

__all__ = ['TrackingDexterity']

FloatArray = npt.NDArray[np.float64]


class TrackingDexterity:
    """
    n_u robots tracking a figure-eight over the URLLC link (see the module docstring).

    Args:
        config: the slicing configuration (``n_urllc``, ``task``).
        tracking: disturbance, noise, divergence and speed thresholds (control package defaults).
        dexterity: the eq. 3 normalisation (control package defaults).
    """

    def __init__(self, config: SlicingEnvConfig, tracking: TrackingConfig | None = None,
                 dexterity: DexterityConfig | None = None) -> None:
        task = config.task
        self._n = config.n_urllc
        self._ts = task.control_period_s
        self._tracking = tracking or TrackingConfig()
        self._dex = dexterity or DexterityConfig()
        plant = planar_double_integrator(self._ts)
        self._a = plant.A  # [4, 4]
        self._b = plant.B  # [4, 2]
        self._gain = dlqr(plant, reference_lqr_weights()).gain  # [2, 4]
        self._reference = FigureEight(task.reference_amplitude_m,
                                      task.reference_period_s / task.reference_speed_scale)
        self._window = max(1, int(round(task.di_window_s / self._ts)))
        self._hold = max(1, int(round(self._tracking.disturbance_hold_s / self._ts)))
        self._initial_di = task.fixed_di
        self._rng = np.random.default_rng(0)
        self._k = 0
        self._x = np.zeros((self._n, 4))
        self._applied = np.zeros((self._n, 2))
        self._applied_seq = np.full(self._n, -1, dtype=np.int64)
        self._pending: list[list[tuple[int, int, FloatArray]]] = [[] for _ in range(self._n)]
        self._disturbance = np.zeros((self._n, 2))
        self._sq_track = np.zeros((self._window, self._n))  # [W, n_u]
        self._sq_orient = np.zeros((self._window, self._n))  # [W, n_u]
        self._curv = np.zeros((self._window, self._n))  # [W, n_u]
        self._valid = np.zeros((self._window, self._n))  # [W, n_u]
        self._diverged = np.zeros((self._window, self._n), dtype=bool)  # [W, n_u]
        self._filled = 0
        self._di = np.full(self._n, self._initial_di)

    def _ref_state(self, k: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        ref = self._reference.sample(np.array([k * self._ts]))
        pos, vel, acc = ref.position_m[0], ref.velocity_mps[0], ref.acceleration_mps2[0]
        return np.array([pos[0], vel[0], pos[1], vel[1]]), vel, acc

    def reset(self, rng: np.random.Generator) -> FloatArray:
        """Robots on the reference, no command in flight; DI = ``task.fixed_di``."""
        self._rng = rng
        self._k = 0
        state, _, acc = self._ref_state(0)
        self._x = np.tile(state, (self._n, 1))
        self._applied = np.tile(acc, (self._n, 1))
        self._applied_seq[:] = -1
        for pending in self._pending:
            pending.clear()
        self._disturbance = rng.normal(0.0, self._tracking.disturbance_std_mps2, (self._n, 2))
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
        k = self._k
        ref_state, ref_vel, ref_acc = self._ref_state(k)
        error = self._x - ref_state  # [n_u, 4]
        command = ref_acc - error @ self._gain.T  # [n_u, 2]
        steps = np.ceil(np.maximum(delay, 0.0) / self._ts - 1e-9).astype(np.int64)  # [n_u]
        for i in range(self._n):
            pending = self._pending[i]
            pending.append((k + int(steps[i]), k, command[i]))
            arrived = [item for item in pending if item[0] <= k]
            if arrived:
                newest = max(arrived, key=lambda item: item[1])
                if newest[1] > self._applied_seq[i]:
                    self._applied_seq[i] = newest[1]
                    self._applied[i] = newest[2]
                self._pending[i] = [item for item in pending if item[0] > k]
        if k % self._hold == 0 and k > 0:
            self._disturbance = self._rng.normal(0.0, self._tracking.disturbance_std_mps2,
                                                 (self._n, 2))
        noise = self._rng.normal(0.0, self._tracking.noise_std_mps2, (self._n, 2))
        accel = self._applied + self._disturbance + noise  # [n_u, 2]
        velocity = self._x[:, [1, 3]]  # [n_u, 2]
        geom = path_geometry(velocity, accel, self._tracking.min_speed_mps)
        ref_heading = math.atan2(ref_vel[1], ref_vel[0])
        moving = geom.speed_mps >= self._tracking.min_speed_mps  # [n_u]
        d_heading = np.degrees(np.abs(np.angle(np.exp(1j * (geom.heading_rad - ref_heading)))))
        pos_err = np.hypot(error[:, 0], error[:, 2])  # [n_u]
        diverged = pos_err > self._tracking.divergence_threshold_m  # [n_u]
        slot = k % self._window
        self._sq_track[slot] = pos_err ** 2
        self._sq_orient[slot] = np.where(moving, d_heading ** 2, 0.0)
        self._curv[slot] = np.where(moving, np.nan_to_num(np.abs(geom.curvature_per_m)), 0.0)
        self._valid[slot] = moving
        self._diverged[slot] = diverged
        self._filled = min(self._filled + 1, self._window)
        self._x = self._x @ self._a.T + accel @ self._b.T
        if np.any(diverged):
            next_state, _, next_acc = self._ref_state(k + 1)
            self._x[diverged] = next_state
            self._applied[diverged] = next_acc
        self._k = k + 1
        rows = slice(0, self._filled)
        count = np.maximum(self._valid[rows].sum(axis=0), 1.0)
        rms_track = np.sqrt(self._sq_track[rows].mean(axis=0))
        rms_orient = np.minimum(np.sqrt(self._sq_orient[rows].sum(axis=0) / count), 180.0)
        curv = self._curv[rows].sum(axis=0) / count
        di = np.asarray(dexterity_index(rms_track, rms_orient, curv, self._dex), dtype=float)
        self._di = np.where(self._diverged[rows].any(axis=0), 0.0, di)
        return self._di.copy()
