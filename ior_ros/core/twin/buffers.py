"""
Real and twin experience buffers and the ratio in which the agent samples them (seed 000 §III).

Seed 000 stores real transitions ``(s_t, a_t, r_t, s_{t+1})`` in an experience buffer and the
twin's predicted ones ``(s_t, a_t, r̂_t, ŝ_{t+1})`` (or ``(ŝ_t, â_t, r̂_t, ŝ_{t+1})`` with GAN
samples) in a *DT experience buffer*, and lets the DRL agent "use both". The seed gives no ratio;
we draw each minibatch of ``B`` transitions as

    n_twin = round(ρ · B)  (fewer while the twin buffer holds fewer than n_twin),  n_real = B -
    n_twin

uniformly with replacement from each buffer, with ``ρ`` = ``twin_ratio`` (MBPO, Janner et al. 2019,
calls ``1 - ρ`` the real ratio and uses 0.05; our default is in ``config/twin.yaml`` and the choice
is explained in ``docs/models/twin.md``). Both buffers are FIFO rings; every random draw comes
from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ior_ros.core.errors import ConfigError, DimensionError

__all__ = ['Transitions', 'TransitionBuffer', 'sample_mixed']


@dataclass(frozen=True)
class Transitions:
    """
    A batch of transitions (float32 arrays, bool ``terminated``).

    Attributes:
        obs: ``[N, obs_dim]`` states ``s_t``.
        action: ``[N, act_dim]`` actions ``a_t`` (as executed, in the environment's units).
        reward: ``[N]`` rewards ``r_t``.
        next_obs: ``[N, obs_dim]`` next states ``s_{t+1}``.
        terminated: ``[N]`` True where ``s_{t+1}`` is terminal (no bootstrap); time-limit
            truncation is *not* terminal.
    """

    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray

    def __post_init__(self) -> None:
        n = self.obs.shape[0]
        shapes = {'action': self.action.shape, 'reward': self.reward.shape,
                  'next_obs': self.next_obs.shape, 'terminated': self.terminated.shape}
        if (self.obs.ndim != 2 or self.action.ndim != 2 or self.reward.shape != (n,)
                or self.next_obs.shape != self.obs.shape or self.terminated.shape != (n,)
                or self.action.shape[0] != n):
            raise DimensionError(f'Transitions: obs {list(self.obs.shape)} does not agree with '
                                 + ', '.join(f'{k} {list(v)}' for k, v in shapes.items()))

    def __len__(self) -> int:
        return int(self.obs.shape[0])

    @staticmethod
    def concat(parts: list[Transitions]) -> Transitions:
        """Stack several batches (same dimensions) into one."""
        return Transitions(
            obs=np.concatenate([p.obs for p in parts]),  # [N, obs_dim]
            action=np.concatenate([p.action for p in parts]),  # [N, act_dim]
            reward=np.concatenate([p.reward for p in parts]),  # [N]
            next_obs=np.concatenate([p.next_obs for p in parts]),  # [N, obs_dim]
            terminated=np.concatenate([p.terminated for p in parts]),  # [N]
        )

    def take(self, index: np.ndarray) -> Transitions:
        """The rows ``index`` (``[M]`` integer array)."""
        return Transitions(self.obs[index], self.action[index], self.reward[index],
                           self.next_obs[index], self.terminated[index])


class TransitionBuffer:
    """
    A FIFO ring of transitions with uniform sampling.

    Args:
        capacity: the most transitions held; the oldest is overwritten first.
        obs_dim, act_dim: state and action widths.
    """

    def __init__(self, capacity: int, obs_dim: int, act_dim: int) -> None:
        if capacity < 1:
            raise ConfigError(f'buffer capacity must be >= 1, got {capacity}')
        if obs_dim < 1 or act_dim < 1:
            raise DimensionError(f'buffer needs obs_dim, act_dim >= 1; got {obs_dim}, {act_dim}')
        self.capacity = capacity
        self.obs_dim = obs_dim
        self.act_dim = act_dim
        self._obs = np.zeros((capacity, obs_dim), dtype=np.float32)  # [C, obs_dim]
        self._action = np.zeros((capacity, act_dim), dtype=np.float32)  # [C, act_dim]
        self._reward = np.zeros(capacity, dtype=np.float32)  # [C]
        self._next_obs = np.zeros((capacity, obs_dim), dtype=np.float32)  # [C, obs_dim]
        self._terminated = np.zeros(capacity, dtype=bool)  # [C]
        self._next = 0
        self._size = 0
        self.total_added = 0

    @property
    def size(self) -> int:
        """Transitions currently held."""
        return self._size

    def __len__(self) -> int:
        return self._size

    def add(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray,
            terminated: bool) -> None:
        """Append transition (``obs``, ``next_obs``: ``[obs_dim]``, ``action``: ``[act_dim]``)."""
        if np.shape(obs) != (self.obs_dim,) or np.shape(next_obs) != (self.obs_dim,) \
                or np.shape(action) != (self.act_dim,):
            raise DimensionError(f'buffer.add: expected obs/next_obs [{self.obs_dim}] and action '
                                 f'[{self.act_dim}], got {list(np.shape(obs))}, '
                                 f'{list(np.shape(next_obs))}, {list(np.shape(action))}')
        i = self._next
        self._obs[i] = obs
        self._action[i] = action
        self._reward[i] = reward
        self._next_obs[i] = next_obs
        self._terminated[i] = terminated
        self._advance(1)

    def add_batch(self, batch: Transitions) -> None:
        """Append every row of ``batch`` (wrapping around the ring)."""
        if batch.obs.shape[1] != self.obs_dim or batch.action.shape[1] != self.act_dim:
            raise DimensionError(f'buffer.add_batch: expected obs_dim {self.obs_dim}, act_dim '
                                 f'{self.act_dim}; got {batch.obs.shape[1]}, '
                                 f'{batch.action.shape[1]}')
        n = len(batch)
        if n == 0:
            return
        dropped = max(0, n - self.capacity)  # only the newest `capacity` rows survive
        if dropped:
            batch = batch.take(np.arange(dropped, n))
        index = (self._next + np.arange(n - dropped)) % self.capacity  # [n - dropped]
        self._obs[index] = batch.obs
        self._action[index] = batch.action
        self._reward[index] = batch.reward
        self._next_obs[index] = batch.next_obs
        self._terminated[index] = batch.terminated
        self._advance(n - dropped)
        self.total_added += dropped

    def _advance(self, n: int) -> None:
        self._next = (self._next + n) % self.capacity
        self._size = min(self._size + n, self.capacity)
        self.total_added += n

    def sample(self, n: int, rng: np.random.Generator) -> Transitions:
        """``n`` transitions drawn uniformly with replacement."""
        if self._size == 0:
            raise ConfigError('cannot sample from an empty buffer')
        index = rng.integers(0, self._size, size=n)  # [n]
        return self._take(index)

    def all(self) -> Transitions:
        """Every held transition, oldest first (copies)."""
        if self._size < self.capacity:
            index = np.arange(self._size)
        else:
            index = (self._next + np.arange(self.capacity)) % self.capacity
        return self._take(index)

    def _take(self, index: np.ndarray) -> Transitions:
        return Transitions(self._obs[index], self._action[index], self._reward[index],
                           self._next_obs[index], self._terminated[index])

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild the buffer (held rows only, oldest first)."""
        data = self.all()
        return {'capacity': self.capacity, 'obs_dim': self.obs_dim, 'act_dim': self.act_dim,
                'obs': data.obs, 'action': data.action, 'reward': data.reward,
                'next_obs': data.next_obs, 'terminated': data.terminated,
                'total_added': self.total_added}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` (dimensions must agree)."""
        if (int(state['obs_dim']), int(state['act_dim'])) != (self.obs_dim, self.act_dim):
            raise DimensionError(f'buffer state has obs_dim {state["obs_dim"]}, act_dim '
                                 f'{state["act_dim"]}; this buffer has {self.obs_dim}, '
                                 f'{self.act_dim}')
        self._next = 0
        self._size = 0
        self.add_batch(Transitions(np.asarray(state['obs'], np.float32),
                                   np.asarray(state['action'], np.float32),
                                   np.asarray(state['reward'], np.float32),
                                   np.asarray(state['next_obs'], np.float32),
                                   np.asarray(state['terminated'], bool)))
        self.total_added = int(state['total_added'])


def sample_mixed(real: TransitionBuffer, twin: TransitionBuffer | None, batch_size: int,
                 twin_ratio: float, rng: np.random.Generator) -> tuple[Transitions, int]:
    """
    One minibatch with ``round(twin_ratio · batch_size)`` twin rows and the rest real.

    The twin share shrinks to what the twin buffer holds (0 while it is empty or ``twin`` is None),
    so the batch size is always ``batch_size``.

    Returns:
        the batch (real rows first) and the number of twin rows in it.
    """
    if not 0.0 <= twin_ratio <= 1.0:
        raise ConfigError(f'twin_ratio = {twin_ratio}: must lie in [0, 1]')
    n_twin = int(round(twin_ratio * batch_size))
    if twin is None or twin.size == 0:
        n_twin = 0
    n_twin = min(n_twin, twin.size if twin is not None else 0)
    n_real = batch_size - n_twin
    if n_real > 0 and real.size == 0:
        raise ConfigError('the real buffer is empty; collect transitions before training')
    parts = []
    if n_real > 0:
        parts.append(real.sample(n_real, rng))
    if n_twin > 0 and twin is not None:
        parts.append(twin.sample(n_twin, rng))
    return Transitions.concat(parts), n_twin
