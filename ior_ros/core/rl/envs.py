"""
The gymnasium environments the learners train on: our ids and their registration (the one place
``gymnasium.register`` is called), construction by id with clear errors, and what the trainers and
the twin need to know of an environment: fall counting and its termination function.

**Ids.** :func:`register_envs` adds

* ``ior/RobotTracking-v0``: the robot tracking model (``core/control/tracking_dynamics.py``)
  (:class:`ior_ros.core.twin.envs.RobotTrackingEnv`);
* ``ior/TeleopSlicing-v0``: the slicing environment of seed 003 (``core/slicing/env.py``)
  (:class:`ior_ros.core.slicing.env.TeleopSlicingEnv`);

to gymnasium's registry by entry-point string (the module is imported only when the environment is
made, so registering costs nothing and this module imports neither). :func:`make_env` registers
them before ``gymnasium.make``, so ``ior twin eval-model --env ior/RobotTracking-v0`` works like
``--env Hopper-v5`` with no registration call anywhere else.

**Hopper.** Seed 000 §III validates the twin-assisted DRL on MuJoCo Hopper (v2 there; we use
Hopper-v5, the version gymnasium 1.x ships) and counts *robot falls per epoch of 1000 training
steps* (Fig. 4b).

A **fall** is an episode end by the health check: Hopper-v5 terminates (``terminated=True``) when

    not (z > 0.7  and  -0.2 < θ < 0.2  and  all |q_{2:}, q̇| < 100)

(torso height ``z`` in m, torso angle ``θ`` in rad; gymnasium ``HopperEnv.is_healthy``). The
1000-step time limit ends an episode with ``truncated=True`` and is **not** a fall. A step that is
both terminated and truncated counts as a fall (the robot did fall). :class:`FallCounter` counts
both kinds separately.

:class:`HopperHealth` evaluates the same health check on observations, so the twin can tell whether
a *predicted* next state is a fall (the termination function of MBPO's Hopper setup). The one
difference: the observation clips joint velocities to ±10, so the ±100 velocity bound of the real
check can never fire on an observation (it only catches simulator blow-ups).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ior_ros.core.errors import ConfigError, DimensionError

__all__ = ['HOPPER_ENV_ID', 'ROBOT_TRACKING_ID', 'TELEOP_SLICING_ID', 'register_envs', 'make_env',
           'check_box_spaces', 'FallCounter', 'FallCounts', 'HopperHealth', 'TerminationCheck',
           'termination_fn_for']

HOPPER_ENV_ID = 'Hopper-v5'
ROBOT_TRACKING_ID = 'ior/RobotTracking-v0'
TELEOP_SLICING_ID = 'ior/TeleopSlicing-v0'

_ENTRY_POINTS = {
    ROBOT_TRACKING_ID: 'ior_ros.core.twin.envs:RobotTrackingEnv',
    TELEOP_SLICING_ID: 'ior_ros.core.slicing.env:TeleopSlicingEnv',
}


def register_envs() -> None:
    """Register ``ior/RobotTracking-v0`` and ``ior/TeleopSlicing-v0`` (idempotent)."""
    for env_id, entry_point in _ENTRY_POINTS.items():
        if env_id not in gym.registry:
            gym.register(env_id, entry_point=entry_point)


def check_box_spaces(env: gym.Env[Any, Any], env_id: str) -> None:
    """ConfigError unless both spaces are 1-D ``Box`` spaces (what the twin and SAC need)."""
    for name, space in (('observation', env.observation_space), ('action', env.action_space)):
        if not isinstance(space, spaces.Box) or len(space.shape) != 1:
            raise ConfigError(f'environment {env_id!r}: the {name} space must be a 1-D Box, got '
                              f'{space}')
    action_space = env.action_space
    assert isinstance(action_space, spaces.Box)
    if not (np.all(np.isfinite(action_space.low)) and np.all(np.isfinite(action_space.high))):
        raise ConfigError(f'environment {env_id!r}: the action space must be bounded, got '
                          f'{action_space}')


def make_env(env_id: str, max_episode_steps: int | None = None,
             **kwargs: Any) -> gym.Env[Any, Any]:
    """
    ``gymnasium.make(env_id)`` with clear errors; the environment must have 1-D Box spaces. Our
    own ids (``ior/...``) are registered first (:func:`register_envs`).

    Raises:
        ConfigError: unknown id (with the closest registered ids), a missing dependency (MuJoCo),
            or spaces the twin cannot handle.
    """
    register_envs()
    try:
        env: gym.Env[Any, Any] = gym.make(env_id, max_episode_steps=max_episode_steps, **kwargs)
    except gym.error.UnregisteredEnv:
        close = difflib.get_close_matches(env_id, list(gym.registry.keys()), n=4, cutoff=0.5)
        hint = f'; did you mean {", ".join(close)}?' if close else \
            f'; e.g. {HOPPER_ENV_ID} (any registered gymnasium id with Box spaces)'
        raise ConfigError(f'unknown environment id {env_id!r}{hint}') from None
    except gym.error.DependencyNotInstalled as exc:
        raise ConfigError(f'environment {env_id!r} needs a package that is not installed: '
                          f'{exc}') from None
    check_box_spaces(env, env_id)
    return env


@dataclass
class FallCounts:
    """
    Counters of a :class:`FallCounter` (cumulative since construction or the last reset).

    Attributes:
        steps: environment steps.
        falls: terminations (health check failed).
        truncations: time-limit ends that were not falls.
        episodes: finished episodes (falls + truncations).
        returns: undiscounted return of every finished episode.
    """

    steps: int = 0
    falls: int = 0
    truncations: int = 0
    episodes: int = 0
    returns: list[float] = field(default_factory=list)

    def copy(self) -> FallCounts:
        """An independent snapshot."""
        return FallCounts(self.steps, self.falls, self.truncations, self.episodes,
                          list(self.returns))


class FallCounter(gym.Wrapper[Any, Any, Any, Any]):
    """
    Counts falls (``terminated``) and time-limit ends (``truncated`` and not ``terminated``).

    Wrap *outside* the ``TimeLimit`` wrapper (``make_env`` output) so truncations are seen.
    """

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        self.counts = FallCounts()
        self._episode_return = 0.0

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Start an episode (an unfinished episode is dropped, not counted)."""
        self._episode_return = 0.0
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step and count; ``info['fall']`` is True on a fall."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        counts = self.counts
        counts.steps += 1
        self._episode_return += float(reward)
        fell = bool(terminated)
        if fell:
            counts.falls += 1
        elif truncated:
            counts.truncations += 1
        if terminated or truncated:
            counts.episodes += 1
            counts.returns.append(self._episode_return)
            self._episode_return = 0.0
        info = dict(info)
        info['fall'] = fell
        return obs, reward, bool(terminated), bool(truncated), info


@dataclass(frozen=True)
class HopperHealth:
    """
    Hopper's health check on observations (for predicted next states).

    Attributes:
        z_index: index of the torso height in the observation (0 when the x position is excluded).
        z_range, angle_range, state_range: open intervals of gymnasium's ``HopperEnv``.
    """

    z_index: int = 0
    z_range: tuple[float, float] = (0.7, float('inf'))
    angle_range: tuple[float, float] = (-0.2, 0.2)
    state_range: tuple[float, float] = (-100.0, 100.0)

    @staticmethod
    def from_env(env: gym.Env[Any, Any]) -> HopperHealth:
        """Read the ranges the environment was built with."""
        inner = env.unwrapped
        exclude = bool(getattr(inner, '_exclude_current_positions_from_observation', True))
        return HopperHealth(
            z_index=0 if exclude else 1,
            z_range=tuple(getattr(inner, '_healthy_z_range', (0.7, float('inf')))),
            angle_range=tuple(getattr(inner, '_healthy_angle_range', (-0.2, 0.2))),
            state_range=tuple(getattr(inner, '_healthy_state_range', (-100.0, 100.0))))

    def terminated(self, obs: np.ndarray, action: np.ndarray,
                   next_obs: np.ndarray) -> np.ndarray:
        """``[B]`` True where ``next_obs`` ``[B, obs_dim]`` fails the health check."""
        s = np.atleast_2d(next_obs)  # [B, d_s]
        if s.shape[1] < self.z_index + 2:
            raise DimensionError(f'HopperHealth: observation width {s.shape[1]} is too small')
        z = s[:, self.z_index]  # [B]
        angle = s[:, self.z_index + 1]  # [B]
        rest = s[:, self.z_index + 1:]  # [B, d_s - 1 - z_index]
        healthy = ((z > self.z_range[0]) & (z < self.z_range[1])
                   & (angle > self.angle_range[0]) & (angle < self.angle_range[1])
                   & np.all((rest > self.state_range[0]) & (rest < self.state_range[1]), axis=1))
        out: np.ndarray = ~healthy  # [B]
        return out

    def __call__(self, obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
        """Same as :meth:`terminated` (a :data:`~ior_ros.core.twin.twin.TerminationFn`)."""
        return self.terminated(obs, action, next_obs)


TerminationCheck = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""``(obs [B, d_s], action [B, d_a], next_obs [B, d_s]) → terminated [B] bool``."""


def termination_fn_for(env: gym.Env[Any, Any]) -> TerminationCheck | None:
    """
    The known termination function of an environment, or None (never terminal): Hopper's health
    check, or the ``termination_fn`` attribute an environment of ours carries (the robot tracking
    environment, :class:`ior_ros.core.twin.envs.RobotTrackingEnv`).
    """
    spec = env.spec
    name = spec.name if spec is not None else ''
    if name == 'Hopper' and bool(getattr(env.unwrapped, '_terminate_when_unhealthy', True)):
        return HopperHealth.from_env(env)
    own = getattr(env.unwrapped, 'termination_fn', None)
    return own if callable(own) else None
