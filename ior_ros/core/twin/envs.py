"""
Environments the digital twin models beside Hopper: the robot tracking model of issue 3 as a
gymnasium environment.

The digital_twin node tries every operator command on a learned model of the *robot* before the
command reaches it. The robot of seed 003 (and of ``ior_ros.core.control.tracking_sim``) is the
planar base, two decoupled double integrators sampled at ``T``:

    x_{k+1} = A x_k + B (u_{k-d} + w_k + n_k),   x = (p_x, v_x, p_y, v_y),
    A = I_2 ⊗ [[1, T], [0, 1]],   B = I_2 ⊗ [T²/2, T]ᵀ   (robot_models.planar_double_integrator)

tracking the figure-eight ``r(t) = (a sin ωt, (a/2) sin 2ωt)`` (tracking_sim.FigureEight). The
command ``u`` [m/s²] is applied ``d = command_delay_steps`` samples after it is sent (a fixed
network delay; the pending commands are part of the observation so the state stays Markov);
``w_k`` is a piecewise-constant disturbance ``N(0, σ_w²)`` redrawn every ``disturbance_hold_s`` and
``n_k ~ N(0, σ_n²)`` per-sample noise, as in the tracking simulation.

Observation ``[6 + 2d]``: the tracking error ``e = x - r`` in state order
``(e_px, e_vx, e_py, e_vy)``, the reference phase ``(sin ωt, cos ωt)`` (the reference and its next
sample are functions of it, since ``sin 2ωt = 2 sin ωt cos ωt``), then the ``d`` pending commands,
oldest first.
Action ``[2]``: the commanded acceleration, ``|u_i| <= max_accel_mps2``.
Reward (after the step): ``-(e_px² + e_py²) - c ‖u‖²`` [m²], the squared position error of seed
003's tracking metric plus a small control cost ``c``.
Termination: the position error exceeds ``divergence_threshold_m`` (the run "diverged" in
tracking_sim's sense; the robot's analogue of Hopper's fall). Truncation after
``max_episode_steps``.

Registered as ``ior/RobotTracking-v0`` by :func:`ior_ros.core.rl.envs.register_envs` (the one place
our gymnasium ids are registered), so ``ior twin eval-model --env ior/RobotTracking-v0`` works like
``--env Hopper-v5``.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pydantic import Field

from ior_ros.core.config import FrozenModel
from ior_ros.core.control.robot_models import planar_double_integrator
from ior_ros.core.control.tracking_sim import FigureEight
from ior_ros.core.errors import ConfigError

__all__ = ['RobotTrackingConfig', 'RobotTrackingEnv', 'TrackingDivergence']


class RobotTrackingConfig(FrozenModel):
    """The tracking environment (defaults: ``TrackingConfig`` and the 100 Hz design model)."""

    sample_period_s: float = Field(0.01, gt=0.0)
    """Sample period T [s] (the control design model's)."""
    amplitude_m: float = Field(1.0, gt=0.0)
    """Half-width a of the figure eight [m]."""
    period_s: float = Field(10.0, gt=0.0)
    """Period of the figure eight [s]."""
    max_accel_mps2: float = Field(5.0, gt=0.0)
    """Action bound: |u_i| <= this [m/s²]."""
    command_delay_steps: int = Field(0, ge=0, le=50)
    """Network delay d of every command [samples]."""
    disturbance_std_mps2: float = Field(0.3, ge=0.0)
    """σ_w of the piecewise-constant acceleration disturbance [m/s²]."""
    disturbance_hold_s: float = Field(0.5, gt=0.0)
    """The disturbance is redrawn every this many seconds [s]."""
    noise_std_mps2: float = Field(0.05, ge=0.0)
    """σ_n of the per-sample acceleration noise [m/s²]."""
    initial_error_std_m: float = Field(0.05, ge=0.0)
    """Standard deviation of the initial position error [m]."""
    divergence_threshold_m: float = Field(1.0, gt=0.0)
    """Position error that ends an episode as diverged (terminated) [m]."""
    control_cost: float = Field(1e-3, ge=0.0)
    """c in the reward, per (m/s²)² [m²]."""
    max_episode_steps: int = Field(1000, ge=1)
    """Truncation horizon [samples]."""


class TrackingDivergence:
    """
    The tracking environment's termination on observations: ``hypot(e_px, e_py) > threshold``
    (a :data:`~ior_ros.core.twin.twin.TerminationFn` for the twin's predicted states).
    """

    def __init__(self, threshold_m: float) -> None:
        self.threshold_m = threshold_m

    def __call__(self, obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
        """``[B]`` True where ``next_obs`` ``[B, d_s]`` is a diverged state."""
        s = np.atleast_2d(next_obs)  # [B, d_s]
        out: np.ndarray = np.hypot(s[:, 0], s[:, 2]) > self.threshold_m  # [B]
        return out


class RobotTrackingEnv(gym.Env[np.ndarray, np.ndarray]):
    """
    The teleoperated planar base tracking a figure eight (module docstring for the maths).

    Args:
        config: the environment; None for the defaults.
        **overrides: field overrides of ``config`` (what ``gymnasium.make`` passes).
    """

    metadata: dict[str, Any] = {'render_modes': []}

    def __init__(self, config: RobotTrackingConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        base = config if config is not None else RobotTrackingConfig()
        if overrides:
            try:
                base = RobotTrackingConfig.model_validate({**base.model_dump(), **overrides})
            except ValueError as exc:
                raise ConfigError(f'RobotTrackingEnv: {exc}') from None
        self.config = base
        cfg = base
        plant = planar_double_integrator(cfg.sample_period_s)
        self._a = plant.A  # [4, 4]
        self._b = plant.B  # [4, 2]
        self._reference = FigureEight(cfg.amplitude_m, cfg.period_s)
        self._omega = 2.0 * math.pi / cfg.period_s
        self._hold_steps = max(1, int(round(cfg.disturbance_hold_s / cfg.sample_period_s)))
        d = cfg.command_delay_steps
        bound = cfg.max_accel_mps2
        low = np.concatenate([np.full(4, -np.inf), [-1.0, -1.0], np.full(2 * d, -bound)])
        high = np.concatenate([np.full(4, np.inf), [1.0, 1.0], np.full(2 * d, bound)])
        self.observation_space = spaces.Box(low.astype(np.float32), high.astype(np.float32),
                                            dtype=np.float32)
        self.action_space = spaces.Box(-bound, bound, shape=(2,), dtype=np.float32)
        self.termination_fn = TrackingDivergence(cfg.divergence_threshold_m)
        self._t0 = 0.0
        self._k = 0
        self._x = np.zeros(4)  # [4]
        self._pending = np.zeros((d, 2))  # [d, 2] oldest first
        self._disturbance = np.zeros(2)  # [2]

    def _ref_state(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Reference ``(p_x, v_x, p_y, v_y)`` ``[4]`` and acceleration ``[2]`` at sample k."""
        ref = self._reference.sample([self._t0 + k * self.config.sample_period_s])
        p, v = ref.position_m[0], ref.velocity_mps[0]
        return np.array([p[0], v[0], p[1], v[1]]), ref.acceleration_mps2[0]

    def _observe(self) -> np.ndarray:
        r, _ = self._ref_state(self._k)
        phase = self._omega * (self._t0 + self._k * self.config.sample_period_s)
        out = np.concatenate([self._x - r, [math.sin(phase), math.cos(phase)],
                              self._pending.ravel()])  # [6 + 2d]
        return out.astype(np.float32)

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start at a uniformly random phase of the figure eight, near the reference."""
        super().reset(seed=seed)
        cfg = self.config
        rng = self.np_random
        self._t0 = float(rng.uniform(0.0, cfg.period_s))
        self._k = 0
        r, _ = self._ref_state(0)
        self._x = r.copy()
        self._x[[0, 2]] += rng.normal(0.0, cfg.initial_error_std_m, size=2)
        d = cfg.command_delay_steps
        # commands in flight at the start: the reference feed-forward of the last d samples
        self._pending = np.array([self._ref_state(j)[1] for j in range(-d, 0)]).reshape(d, 2)
        self._disturbance = rng.normal(0.0, cfg.disturbance_std_mps2, size=2)
        return self._observe(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply the command sent d samples ago; send ``action``."""
        cfg = self.config
        u = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -cfg.max_accel_mps2,
                    cfg.max_accel_mps2)  # [2]
        if cfg.command_delay_steps > 0:
            applied = self._pending[0].copy()  # [2]
            self._pending = np.concatenate([self._pending[1:], u[None, :]])  # [d, 2]
        else:
            applied = u
        rng = self.np_random
        if self._k > 0 and self._k % self._hold_steps == 0:
            self._disturbance = rng.normal(0.0, cfg.disturbance_std_mps2, size=2)
        accel = applied + self._disturbance + rng.normal(0.0, cfg.noise_std_mps2, size=2)
        self._x = self._a @ self._x + self._b @ accel  # [4]
        self._k += 1
        obs = self._observe()
        error_sq = float(obs[0] ** 2 + obs[2] ** 2)
        reward = -error_sq - cfg.control_cost * float(u @ u)
        terminated = bool(math.sqrt(error_sq) > cfg.divergence_threshold_m)
        truncated = self._k >= cfg.max_episode_steps
        return obs, reward, terminated, truncated, {'position_error_m': math.sqrt(error_sq)}

