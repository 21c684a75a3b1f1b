"""
The agent's deterministic policy in NumPy, for the risk gate's look-ahead.

The gate (:mod:`~ior_ros.core.twin.fall_risk`, :mod:`~ior_ros.core.twin.planner`) runs the policy
at every predicted step on a few rows (8 particles, 24 plan candidates). At that size torch's
per-operation dispatch costs more than the arithmetic: through ``act(deterministic=True)`` one
Hopper actor forward of 8 rows took 0.30 ms p50, a lean torch forward (mean head only) 0.22 ms, the
same layers in NumPy on views of the live parameters 0.15 ms (one run, calls interleaved); nine
such steps per decision are 1.4 ms of Hopper's 8 ms period. The world model stays in torch: its
ensemble step costs the same either way (0.44 ms p50 both, interleaved), bound by the products.

The views share the parameters' memory (no copy), so the optimizer's in-place updates are seen at
the next call. The results equal torch's up to float32 rounding (the tests compare both).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy.special import expit

from ior_ros.core.errors import ConfigError

__all__ = ['activation_fn', 'numpy_policy']

Array = np.ndarray


def _silu(x: Array) -> Array:
    torch.nn.functional.silu(torch.from_numpy(x), inplace=True)  # vectorized, on x's memory
    return x


def _relu(x: Array) -> Array:
    np.maximum(x, 0.0, out=x)
    return x


def activation_fn(module: torch.nn.Module) -> Callable[[Array], Array]:
    """The function of a torch activation module (those of ``make_activation``) on a float32
    array that it may overwrite (the fresh output of a matrix product)."""
    if isinstance(module, torch.nn.SiLU):
        return _silu
    if isinstance(module, torch.nn.ReLU):
        return _relu
    if isinstance(module, torch.nn.Tanh):
        return lambda x: np.tanh(x, out=x)
    if isinstance(module, torch.nn.Sigmoid):
        return lambda x: expit(x, out=x)
    if isinstance(module, torch.nn.LeakyReLU):
        slope = float(module.negative_slope)
        return lambda x: np.where(x > 0.0, x, slope * x)
    raise ConfigError(f'no NumPy form of activation {type(module).__name__}')


class _LiveViews:
    """
    Arrays sharing the memory of ``tensors``, made again only when a tensor's storage moved:
    in-place updates (optimizer steps, ``load_state_dict``) are seen without a copy. The tensor
    objects are held, so a module whose parameter *object* is replaced needs a new forward
    (:meth:`SacAgent.deterministic_policy` makes one when the actor object changes).
    """

    def __init__(self, tensors: list[torch.Tensor]) -> None:
        self.tensors = tensors
        self._key: list[int] = []
        self._arrays: list[Array] = []

    def get(self) -> list[Array]:
        key = [t.data_ptr() for t in self.tensors]
        if key != self._key:
            self._key = key
            self._arrays = [t.detach().numpy() for t in self.tensors]
        return self._arrays


def numpy_policy(actor: Any, scale: torch.Tensor,
                 centre: torch.Tensor) -> Callable[[Array], Array]:
    """
    The deterministic policy ``tanh(μ(s)) · scale + centre`` of a SAC actor
    (:class:`~ior_ros.core.rl.soft_actor_critic.SacActor`: ``trunk``, ``head``, ``act_dim``) in
    environment units, ``[B, d_s] → [B, d_a]``, in NumPy on views of its live parameters (what
    ``SacAgent.deterministic_policy`` returns).
    """
    linear: list[torch.nn.Linear] = [m for m in actor.trunk if isinstance(m, torch.nn.Linear)]
    acts = [activation_fn(m) for m in actor.trunk if not isinstance(m, torch.nn.Linear)]
    d_a = int(actor.act_dim)
    params = _LiveViews([t for m in [*linear, actor.head] for t in (m.weight, m.bias)]
                        + [scale, centre])

    def policy(obs: Any) -> Array:
        arrays = params.get()
        x = np.asarray(obs, dtype=np.float32)
        for index, act in enumerate(acts):
            x = np.matmul(x, arrays[2 * index].T)
            x += arrays[2 * index + 1]
            x = act(x)
        head_w, head_b, to_env_scale, to_env_centre = arrays[-4:]
        mean = np.matmul(x, head_w[:d_a].T)
        mean += head_b[:d_a]
        out: Array = np.tanh(mean, out=mean) * to_env_scale + to_env_centre
        return out

    return policy
