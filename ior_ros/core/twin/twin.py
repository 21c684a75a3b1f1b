"""
The digital twin: a learned, saved, reloadable model of any environment with Box spaces.

Seed 000 §III: the twin (DT) "predicts the reward and dynamic state transition of the physical
environment", ``(s_t, a_t) → (r̂_t, ŝ_{t+1})``. :class:`DigitalTwin` holds

* a :class:`TwinSpec`: what it models (state and action widths and bounds, an optional gymnasium
  id); it is built from a gymnasium ``Box`` pair (Hopper, the slicing environment of seed 003) or
  directly from bounds (the robot tracking model of ``core/control``, not a gymnasium env);
* the :class:`~ior_ros.core.twin.world_model.WorldModel` ensemble and its trainer;
* an optional termination function ``(s, a, ŝ') → [B] bool`` (physics the twin need not learn,
  e.g. Hopper's health check); without one, predicted transitions never terminate.

Predictions average the ensemble; the uncertainty is the members' disagreement (``[B]``,
standardized units). :meth:`DigitalTwin.save` writes one ``twin.pt`` (spec, configuration, weights,
normalization, last held-out error); :meth:`DigitalTwin.load` refuses a twin whose spec does not
match the environment it is loaded for (:class:`~ior_ros.core.errors.DimensionError` naming both
shapes).

:class:`TwinEnv` runs the twin as a gymnasium environment (what the digital_twin node uses to try a
command before it reaches the robot).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from ior_ros.core.artifacts import ArtifactFormat, artifact_contents, read_artifact, write_artifact
from ior_ros.core.config import config_to_dict
from ior_ros.core.errors import ConfigError, DimensionError
from ior_ros.core.twin.buffers import Transitions
from ior_ros.core.twin.ensemble import disagreement
from ior_ros.core.twin.world_model import (
    OneStepErrors,
    WorldModel,
    WorldModelConfig,
    WorldModelTrainer,
    one_step_errors,
)

__all__ = ['TwinSpec', 'TwinPrediction', 'TerminationFn', 'PolicyFn', 'DigitalTwin', 'TwinEnv',
           'TWIN_FILE', 'TWIN_ARTIFACT']

TerminationFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""``(obs [B, d_s], action [B, d_a], next_obs [B, d_s]) → terminated [B] bool``."""

PolicyFn = Callable[[np.ndarray], np.ndarray]
"""``obs [B, d_s] → action [B, d_a]`` (environment units)."""

TWIN_FILE = 'twin.pt'
TWIN_ARTIFACT = ArtifactFormat('ior_ros.twin', 1, TWIN_FILE, 'torch', 'twin',
                               made_by='`ior twin eval-model` or `ior train twin`')


def _floats(values: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]


@dataclass(frozen=True)
class TwinSpec:
    """
    What a twin models.

    Attributes:
        obs_dim, act_dim: state and action widths.
        act_low, act_high: action bounds (finite), ``act_dim`` values each.
        obs_low, obs_high: state bounds (may be infinite), ``obs_dim`` values each.
        env_id: the gymnasium id it was built for (None: not a gymnasium environment).
    """

    obs_dim: int
    act_dim: int
    act_low: tuple[float, ...]
    act_high: tuple[float, ...]
    obs_low: tuple[float, ...]
    obs_high: tuple[float, ...]
    env_id: str | None = None

    def __post_init__(self) -> None:
        if self.obs_dim < 1 or self.act_dim < 1:
            raise DimensionError(f'TwinSpec: obs_dim and act_dim must be >= 1, got '
                                 f'{self.obs_dim}, {self.act_dim}')
        for name, values, width in (('act_low', self.act_low, self.act_dim),
                                    ('act_high', self.act_high, self.act_dim),
                                    ('obs_low', self.obs_low, self.obs_dim),
                                    ('obs_high', self.obs_high, self.obs_dim)):
            if len(values) != width:
                raise DimensionError(f'TwinSpec: {name} has {len(values)} values, '
                                     f'expected {width}')
        low, high = np.array(self.act_low), np.array(self.act_high)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(low < high)):
            raise ConfigError(f'TwinSpec: action bounds must be finite with low < high, got '
                              f'low {list(self.act_low)}, high {list(self.act_high)}')

    @staticmethod
    def from_spaces(observation_space: gym.Space[Any], action_space: gym.Space[Any],
                    env_id: str | None = None) -> TwinSpec:
        """Spec of a 1-D ``Box`` observation/action pair (ConfigError for anything else)."""
        for name, space in (('observation', observation_space), ('action', action_space)):
            if not isinstance(space, spaces.Box) or len(space.shape) != 1:
                raise ConfigError(f'the twin needs 1-D Box spaces; the {name} space of '
                                  f'{env_id or "the environment"} is {space}')
        assert isinstance(observation_space, spaces.Box) and isinstance(action_space, spaces.Box)
        return TwinSpec(obs_dim=int(observation_space.shape[0]),
                        act_dim=int(action_space.shape[0]),
                        act_low=tuple(_floats(action_space.low)),
                        act_high=tuple(_floats(action_space.high)),
                        obs_low=tuple(_floats(observation_space.low)),
                        obs_high=tuple(_floats(observation_space.high)), env_id=env_id)

    @staticmethod
    def from_env(env: gym.Env[Any, Any]) -> TwinSpec:
        """Spec of a gymnasium environment."""
        env_id = env.spec.id if env.spec is not None else None
        return TwinSpec.from_spaces(env.observation_space, env.action_space, env_id)

    @staticmethod
    def from_bounds(obs_dim: int, act_low: Sequence[float], act_high: Sequence[float],
                    obs_low: Sequence[float] | None = None,
                    obs_high: Sequence[float] | None = None) -> TwinSpec:
        """Spec of a model that is not a gymnasium environment (e.g. a robot tracking model)."""
        return TwinSpec(obs_dim=obs_dim, act_dim=len(act_low),
                        act_low=tuple(float(v) for v in act_low),
                        act_high=tuple(float(v) for v in act_high),
                        obs_low=tuple(float(v) for v in obs_low) if obs_low is not None
                        else (-float('inf'),) * obs_dim,
                        obs_high=tuple(float(v) for v in obs_high) if obs_high is not None
                        else (float('inf'),) * obs_dim)

    def describe(self) -> str:
        """``obs [d_s], action [d_a] (env 'X')``."""
        where = f' (env {self.env_id!r})' if self.env_id else ''
        return f'obs [{self.obs_dim}], action [{self.act_dim}]{where}'

    def check_compatible(self, other: TwinSpec, what: str) -> None:
        """
        DimensionError unless ``other`` has the same widths and action bounds.

        Args:
            other: the spec of the environment the twin is used with.
            what: how to name ``other`` in the message.
        """
        same_shape = (self.obs_dim, self.act_dim) == (other.obs_dim, other.act_dim)
        same_bounds = same_shape and np.allclose(self.act_low, other.act_low) and \
            np.allclose(self.act_high, other.act_high)
        if not same_shape:
            raise DimensionError(f'incompatible spaces: the twin models {self.describe()}, but '
                                 f'{what} has {other.describe()}')
        if not same_bounds:
            raise DimensionError(f'incompatible action bounds: the twin was trained for '
                                 f'[{list(self.act_low)}, {list(self.act_high)}], {what} has '
                                 f'[{list(other.act_low)}, {list(other.act_high)}]')

    def clip_action(self, action: np.ndarray) -> np.ndarray:
        """Clip ``[..., act_dim]`` actions into the bounds."""
        out: np.ndarray = np.clip(action, self.act_low, self.act_high).astype(np.float32)
        return out

    def mid_action(self) -> np.ndarray:
        """``[act_dim]`` centre of the action box (the zero action for symmetric bounds)."""
        out: np.ndarray = ((np.array(self.act_low) + np.array(self.act_high)) / 2.0)
        return out.astype(np.float32)

    def as_dict(self) -> dict[str, Any]:
        """JSON form (infinite bounds as None)."""
        def enc(values: tuple[float, ...]) -> list[float | None]:
            return [v if np.isfinite(v) else None for v in values]
        return {'obs_dim': self.obs_dim, 'act_dim': self.act_dim, 'act_low': list(self.act_low),
                'act_high': list(self.act_high), 'obs_low': enc(self.obs_low),
                'obs_high': enc(self.obs_high), 'env_id': self.env_id}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> TwinSpec:
        """Inverse of :meth:`as_dict`."""
        def dec(values: list[float | None], sign: float) -> tuple[float, ...]:
            return tuple(sign * float('inf') if v is None else float(v) for v in values)
        return TwinSpec(obs_dim=int(data['obs_dim']), act_dim=int(data['act_dim']),
                        act_low=tuple(float(v) for v in data['act_low']),
                        act_high=tuple(float(v) for v in data['act_high']),
                        obs_low=dec(data['obs_low'], -1.0), obs_high=dec(data['obs_high'], 1.0),
                        env_id=data.get('env_id'))


@dataclass(frozen=True)
class TwinPrediction:
    """
    The twin's one-step prediction for a batch.

    Attributes:
        reward: ``[B]`` ensemble-mean predicted reward ``r̂_t``.
        next_obs: ``[B, obs_dim]`` ensemble-mean predicted ``ŝ_{t+1}``.
        terminated: ``[B]`` predicted terminal (termination function on ``ŝ_{t+1}``).
        uncertainty: ``[B]`` ensemble disagreement (standardized units; 0 for one member).
        member_reward: ``[K, B]`` every member's reward (what the means average).
        member_next_obs: ``[K, B, obs_dim]`` every member's next state.
    """

    reward: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    uncertainty: np.ndarray
    member_reward: np.ndarray | None = None
    member_next_obs: np.ndarray | None = None


class DigitalTwin:
    """
    A world model of one environment, its termination function and its last held-out error.

    Args:
        spec: what is modelled.
        config: world-model architecture and training.
        termination_fn: optional known termination function (None: never terminal).
        generator: torch generator for the initial weights.
    """

    def __init__(self, spec: TwinSpec, config: WorldModelConfig,
                 termination_fn: TerminationFn | None = None,
                 generator: torch.Generator | None = None) -> None:
        self.spec = spec
        self.config = config
        self.termination_fn = termination_fn
        self.model = WorldModel(spec.obs_dim, spec.act_dim, config, generator)
        self.model.eval()
        self.trainer = WorldModelTrainer(self.model)
        self.errors: OneStepErrors | None = None

    def _as_batch(self, obs: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        o = np.asarray(obs, dtype=np.float32)
        a = np.asarray(action, dtype=np.float32)
        if o.ndim == 1:
            o = o[None, :]  # [1, d_s]
        if a.ndim == 1:
            a = a[None, :]  # [1, d_a]
        if o.shape[1] != self.spec.obs_dim or a.shape != (o.shape[0], self.spec.act_dim):
            raise DimensionError(f'twin.predict: expected obs [B, {self.spec.obs_dim}] and action '
                                 f'[B, {self.spec.act_dim}], got {list(np.shape(obs))} and '
                                 f'{list(np.shape(action))}')
        return o, a

    @torch.no_grad()
    def predict(self, obs: np.ndarray, action: np.ndarray) -> TwinPrediction:
        """
        Predict ``(r̂, ŝ', terminal, uncertainty)`` for ``obs`` ``[B, d_s]`` (or ``[d_s]``) and
        ``action`` ``[B, d_a]`` (or ``[d_a]``).
        """
        o, a = self._as_batch(obs, action)
        out = self.model(torch.from_numpy(o), torch.from_numpy(a))
        reward = out.reward.mean(dim=0).numpy()  # [B]
        next_obs = out.next_obs.mean(dim=0).numpy()  # [B, d_s]
        uncertainty = disagreement(out.normalized).numpy()  # [B]
        if self.termination_fn is not None:
            terminated = np.asarray(self.termination_fn(o, a, next_obs), dtype=bool)  # [B]
        else:
            terminated = np.zeros(o.shape[0], dtype=bool)  # [B]
        return TwinPrediction(reward, next_obs, terminated, uncertainty, out.reward.numpy(),
                              out.next_obs.numpy())

    def fit(self, data: Transitions, steps: int, rng: np.random.Generator) -> float:
        """Train on ``data`` for ``steps`` gradient steps (normalization refitted); last loss."""
        self._check_data(data)
        return self.trainer.fit(data, steps, rng)

    def evaluate(self, data: Transitions) -> OneStepErrors:
        """Held-out one-step normalized MSE on ``data``; also kept as :attr:`errors`."""
        self._check_data(data)
        prediction = self.predict(data.obs, data.action)
        self.errors = one_step_errors(prediction.reward, prediction.next_obs, data)
        return self.errors

    def transitions(self, obs: np.ndarray, action: np.ndarray,
                    max_uncertainty: float | None = None) -> Transitions:
        """
        Twin experience ``(s, a, r̂, ŝ', terminal)`` for a batch, dropping the rows whose
        uncertainty exceeds ``max_uncertainty`` (None: keep all).
        """
        o, a = self._as_batch(obs, action)
        p = self.predict(o, a)
        keep = np.ones(len(o), dtype=bool) if max_uncertainty is None \
            else p.uncertainty <= max_uncertainty  # [B]
        return Transitions(o[keep], a[keep], p.reward[keep].astype(np.float32),
                           p.next_obs[keep].astype(np.float32), p.terminated[keep])

    def _check_data(self, data: Transitions) -> None:
        if data.obs.shape[1] != self.spec.obs_dim or data.action.shape[1] != self.spec.act_dim:
            raise DimensionError(f'data has obs [{data.obs.shape[1]}], action '
                                 f'[{data.action.shape[1]}]; the twin models '
                                 f'{self.spec.describe()}')

    def save(self, directory: str | Path) -> Path:
        """Write ``directory/twin.pt`` atomically; returns the path."""
        payload = {'spec': self.spec.as_dict(),
                   'config': config_to_dict(self.config), 'model': self.model.state_dict(),
                   'errors': self.errors.as_dict() if self.errors is not None else None}
        return write_artifact(Path(directory) / TWIN_FILE, TWIN_ARTIFACT, payload)

    @staticmethod
    def load(path: str | Path, expect: TwinSpec | None = None,
             termination_fn: TerminationFn | None = None) -> DigitalTwin:
        """
        Load a twin from a ``twin.pt`` file or the folder holding one.

        Args:
            expect: the spec of the environment it will be used with; a mismatch raises
                DimensionError naming both.
            termination_fn: the termination function (code is not saved).

        Raises:
            ArtifactError: missing or unreadable file, another format or version.
        """
        saved = read_artifact(path, TWIN_ARTIFACT)
        payload = saved.document
        with artifact_contents(saved.path, TWIN_ARTIFACT):
            spec = TwinSpec.from_dict(payload['spec'])
            if expect is not None:
                spec.check_compatible(expect, f'the environment {expect.env_id or ""}'.rstrip())
            twin = DigitalTwin(spec, WorldModelConfig.model_validate(payload['config']),
                               termination_fn)
            twin.model.load_state_dict(payload['model'])
            twin.model.eval()
            if payload.get('errors'):
                twin.errors = OneStepErrors(**payload['errors'])
        return twin


class TwinEnv(gym.Env[np.ndarray, np.ndarray]):
    """
    The twin as a gymnasium environment: ``step`` returns the twin's prediction.

    Args:
        twin: a trained twin.
        initial_obs: ``[M, obs_dim]`` states to start episodes from (drawn uniformly by ``reset``).
        max_episode_steps: truncation horizon.

    ``info['uncertainty']`` carries the ensemble disagreement of each step.
    """

    metadata: dict[str, Any] = {'render_modes': []}

    def __init__(self, twin: DigitalTwin, initial_obs: np.ndarray,
                 max_episode_steps: int = 1000) -> None:
        start = np.asarray(initial_obs, dtype=np.float32)
        if start.ndim != 2 or start.shape[1] != twin.spec.obs_dim or len(start) < 1:
            raise DimensionError(f'TwinEnv: initial_obs must be [M >= 1, {twin.spec.obs_dim}], '
                                 f'got {list(start.shape)}')
        if max_episode_steps < 1:
            raise ConfigError(f'TwinEnv: max_episode_steps = {max_episode_steps}, must be >= 1')
        self.twin = twin
        self.initial_obs = start
        self.max_episode_steps = max_episode_steps
        spec = twin.spec
        self.observation_space = spaces.Box(np.array(spec.obs_low, np.float32),
                                            np.array(spec.obs_high, np.float32), dtype=np.float32)
        self.action_space = spaces.Box(np.array(spec.act_low, np.float32),
                                       np.array(spec.act_high, np.float32), dtype=np.float32)
        self._obs = start[0].copy()  # [d_s]
        self._steps = 0

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start from a random row of ``initial_obs``."""
        super().reset(seed=seed)
        self._obs = self.initial_obs[int(self.np_random.integers(len(self.initial_obs)))].copy()
        self._steps = 0
        return self._obs.copy(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """One predicted step."""
        a = self.twin.spec.clip_action(np.asarray(action, dtype=np.float32))  # [d_a]
        p = self.twin.predict(self._obs, a)
        self._obs = p.next_obs[0].astype(np.float32)  # [d_s]
        self._steps += 1
        truncated = self._steps >= self.max_episode_steps
        info = {'uncertainty': float(p.uncertainty[0])}
        return self._obs.copy(), float(p.reward[0]), bool(p.terminated[0]), truncated, info
