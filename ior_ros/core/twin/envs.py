"""
Environments the digital twin models beside Hopper: the robot tracking model of
``ior_ros.core.control`` as a gymnasium environment.

The digital_twin node tries every operator command on a learned model of the *robot* before the
command reaches it. The robot is the one tracking dynamics of
:mod:`ior_ros.core.control.tracking_dynamics` (the model the tracking simulation and the slicing
task wrap too): the planar base, two decoupled double integrators sampled at ``T``,

    x_{k+1} = A x_k + B (u_{k-d} + w_k + n_k),   x = (p_x, v_x, p_y, v_y),
    A = I_2 ⊗ [[1, T], [0, 1]],   B = I_2 ⊗ [T²/2, T]ᵀ   (robot_models.planar_double_integrator)

tracking the figure-eight ``r(t) = (a sin ωt, (a/2) sin 2ωt)`` (``reference``). The command ``u``
[m/s²] is applied ``d = command_delay_steps`` samples after it is sent (a fixed network delay, so
the newest command received is always the one sent d samples ago; the pending commands are part of
the observation so the state stays Markov); ``w_k`` is a piecewise-constant disturbance
``N(0, σ_w²)`` redrawn every ``disturbance_hold_s`` and ``n_k ~ N(0, σ_n²)`` per-sample noise,
drawn sample by sample (``tracking_dynamics.next_disturbance``).

Observation ``[6 + 2d]``: the tracking error ``e = x - r`` in state order
``(e_px, e_vx, e_py, e_vy)``, the reference phase ``(sin ωt, cos ωt)`` (the reference and its next
sample are functions of it, since ``sin 2ωt = 2 sin ωt cos ωt``), then the ``d`` pending commands,
oldest first.
Action ``[2]``: the commanded acceleration, ``|u_i| <= max_accel_mps2``.
Reward (after the step): ``-(e_px² + e_py²) - c ‖u‖²`` [m²], the squared position error of seed
003's tracking metric plus a small control cost ``c`` (``tracking_score.tracking_reward``).
Termination: the position error exceeds ``divergence_threshold_m`` (the dynamics' divergence; the
robot's analogue of Hopper's fall). Truncation after ``max_episode_steps``.

Registered as ``ior/RobotTracking-v0`` by :func:`ior_ros.core.rl.envs.register_envs` (the one place
our gymnasium ids are registered), so ``ior twin eval-model --env ior/RobotTracking-v0`` works like
``--env Hopper-v5``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pydantic import Field, model_validator

from ior_ros.core.config import FrozenModel
from ior_ros.core.control.control_config import (
    ReferenceConfig,
    TrackingConfig,
    move_legacy_reference_keys,
)
from ior_ros.core.control.robot_models import planar_double_integrator
from ior_ros.core.control.tracking_dynamics import (
    TrackingParams,
    TrackingState,
    in_flight_commands,
    initial_disturbance,
    initial_state,
    next_disturbance,
    position_error,
    reference_phase,
    tracking_error,
    tracking_params,
    transition,
)
from ior_ros.core.control.tracking_score import tracking_reward
from ior_ros.core.errors import ConfigError

__all__ = ['RobotTrackingConfig', 'RobotTrackingEnv', 'TrackingDivergence']


class RobotTrackingConfig(FrozenModel):
    """The tracking environment (defaults: ``TrackingConfig`` and the 100 Hz design model)."""

    sample_period_s: float = Field(0.01, gt=0.0)
    """Sample period T [s] (the control design model's)."""
    reference: ReferenceConfig = ReferenceConfig()
    """The figure eight (a = 1 m, period 10 s). Old keys ``amplitude_m``, ``period_s`` are
    accepted."""
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

    @model_validator(mode='before')
    @classmethod
    def _legacy_reference(cls, data: Any) -> Any:
        return move_legacy_reference_keys(data, {'amplitude_m': 'amplitude_m',
                                                 'period_s': 'period_s'})

    def dynamics(self) -> TrackingParams:
        """The parameters of the one tracking dynamics this environment wraps."""
        tracking = TrackingConfig(reference=self.reference,
                                  disturbance_std_mps2=self.disturbance_std_mps2,
                                  disturbance_hold_s=self.disturbance_hold_s,
                                  noise_std_mps2=self.noise_std_mps2,
                                  divergence_threshold_m=self.divergence_threshold_m)
        return tracking_params(tracking, self.sample_period_s,
                               plant=planar_double_integrator(self.sample_period_s))


class TrackingDivergence:
    """
    The tracking environment's termination on observations: ``hypot(e_px, e_py) > threshold``
    (a :data:`~ior_ros.core.twin.twin.TerminationFn` for the twin's predicted states).
    """

    def __init__(self, threshold_m: float) -> None:
        self.threshold_m = threshold_m

    def __call__(self, obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
        """``[B]`` True where ``next_obs`` ``[B, d_s]`` is a diverged state."""
        out: np.ndarray = position_error(np.atleast_2d(next_obs)) > self.threshold_m  # [B]
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
        self._params = cfg.dynamics()
        d = cfg.command_delay_steps
        bound = cfg.max_accel_mps2
        low = np.concatenate([np.full(4, -np.inf), [-1.0, -1.0], np.full(2 * d, -bound)])
        high = np.concatenate([np.full(4, np.inf), [1.0, 1.0], np.full(2 * d, bound)])
        self.observation_space = spaces.Box(low.astype(np.float32), high.astype(np.float32),
                                            dtype=np.float32)
        self.action_space = spaces.Box(-bound, bound, shape=(2,), dtype=np.float32)
        self.termination_fn = TrackingDivergence(cfg.divergence_threshold_m)
        self._state = initial_state(self._params, 1, capacity=d + 1)
        self._hold = np.zeros((1, 2))  # [1, 2] piecewise-constant disturbance

    @property
    def state(self) -> TrackingState:
        """The robot's tracking state (read-only use)."""
        return self._state

    def _observe(self) -> np.ndarray:
        d = self.config.command_delay_steps
        out = np.concatenate([tracking_error(self._state, self._params)[0],
                              reference_phase(self._state, self._params),
                              in_flight_commands(self._state, d)[0].ravel()])  # [6 + 2d]
        return out.astype(np.float32)

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """
        Start at a uniformly random phase of the figure eight, near the reference
        (``options={'time_offset_s': t0}``: at reference time t0 instead).
        """
        super().reset(seed=seed)
        cfg, params = self.config, self._params
        rng = self.np_random
        if options and 'time_offset_s' in options:
            t0 = float(options['time_offset_s'])
        else:
            t0 = float(rng.uniform(0.0, params.reference.period_s))
        offset = rng.normal(0.0, cfg.initial_error_std_m, size=2)
        d = cfg.command_delay_steps
        # commands in flight at the start: the reference feed-forward of the last d samples
        sent = [t0 + j * params.sample_period_s for j in range(-d, 0)]
        flying = params.reference.state(sent)[1] if d else None
        self._state = initial_state(params, 1, time_offset_s=t0, position_offset_m=offset,
                                    in_flight_mps2=flying, in_flight_delay_steps=np.full(d, d),
                                    capacity=d + 1)
        self._hold = initial_disturbance(rng, params, 1)
        return self._observe(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply the command sent d samples ago; send ``action``."""
        cfg = self.config
        u = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -cfg.max_accel_mps2,
                    cfg.max_accel_mps2)  # [2]
        disturbance = next_disturbance(self._hold, self._state.step, self.np_random, self._params)
        self._hold = disturbance.hold_mps2
        self._state = transition(self._state, u[None, :], cfg.command_delay_steps, disturbance,
                                 self._params)
        obs = self._observe()
        reward = float(tracking_reward(obs[:4], u, cfg.control_cost))
        error = float(position_error(obs[:4]))
        terminated = bool(error > cfg.divergence_threshold_m)
        truncated = self._state.step >= cfg.max_episode_steps
        return obs, reward, terminated, truncated, {'position_error_m': error}
