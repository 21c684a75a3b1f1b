"""
Soft actor-critic (Haarnoja et al., ICML 2018; automatic temperature, Haarnoja et al. 2018b) for
the twin-assisted DRL of seed 000 §III.

Why our own SAC and not stable-baselines3's: the twin variants need (1) minibatches that mix the
real and the twin buffer (:func:`~ior_ros.core.twin.buffers.sample_mixed`), (2) transitions stored
with the action the *gate* sent, which can differ from the one the policy proposed, and (3)
candidate actions drawn from the policy inside the gate. SB3's ``SAC`` can do (1) only through a
``ReplayBuffer`` subclass that reaches into a second buffer, (2) only by smuggling the executed
action through ``infos`` into ``ReplayBuffer.add`` (and rescaling it by hand), and its buffers
sample with the global ``np.random`` state (the project draws every random number from an explicit
generator). This module is the textbook algorithm in ~250 lines instead, with the twin critics
evaluated as one batched ensemble (:class:`~ior_ros.core.twin.ensemble.EnsembleMLP`, ``K = 2``) and
the target update as one fused ``lerp``. ``benchmarks/bench_twin.py --sb3`` measures SB3's SAC on
the same Hopper setup for comparison.

Networks (seed 000: "three fully connected layers each with 256 neurons and ReLU", batch 256,
learning rate 3e-4, Adam): actor ``s → 256 → 256 → 256 → (μ, log σ)``, critics
``[s, u] → 256 → 256 → 256 → Q``. Actions: ``u = tanh(x)``, ``x ~ N(μ, σ²)``, mapped affinely onto
the action box; the critics see ``u ∈ [-1, 1]``. Losses (``B`` = minibatch, ``d`` = terminated):

    y      = r + γ (1 - d) (min_i Q̄_i(s', u') - α log π(u'|s')),   u' ~ π(·|s')
    L_Q    = Σ_i mean_B (Q_i(s, u) - y)²
    L_π    = mean_B (α log π(ũ|s) - min_i Q_i(s, ũ)),             ũ ~ π(·|s) (reparameterized)
    L_α    = -mean_B log α · (log π(ũ|s) + H̄),                     H̄ = -dim(A)
    Q̄     ← (1 - τ) Q̄ + τ Q

with ``log π(u|s) = log N(x; μ, σ) - Σ_j log(1 - tanh² x_j)`` (the tanh change of variables).
Every random draw uses the ``torch.Generator`` handed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ior_ros.core.config import FrozenModel, why
from ior_ros.core.errors import DimensionError
from ior_ros.core.twin.buffers import Transitions
from ior_ros.core.twin.ensemble import Activation, EnsembleMLP, make_activation

__all__ = ['SacConfig', 'SacActor', 'SacAgent']


class SacConfig(FrozenModel):
    """SAC hyper-parameters (defaults: seed 000 §III where it gives them, else Haarnoja 2018)."""

    hidden_sizes: tuple[Annotated[int, Field(ge=1, le=4096)], ...] = Field(
        (256, 256, 256), min_length=1, max_length=16, json_schema_extra=why(
        'a layer of n units holds n x n weights per member'))
    """Hidden widths of actor and critics (seed: three layers of 256)."""
    activation: Activation = 'relu'
    """Hidden activation (seed: ReLU)."""
    learning_rate: float = Field(3e-4, gt=0.0)
    """Adam learning rate of actor, critics and temperature (seed: 3e-4)."""
    batch_size: int = Field(256, ge=1, le=65536, json_schema_extra=why(
        'a minibatch and its gradients are held in memory at once'))
    """Minibatch (seed: 256)."""
    gamma: float = Field(0.99, gt=0.0, le=1.0)
    """Discount γ."""
    tau: float = Field(0.005, gt=0.0, le=1.0)
    """Target-network averaging τ."""
    initial_alpha: float = Field(1.0, gt=0.0)
    """Initial temperature α."""
    autotune_alpha: bool = True
    """Learn α towards the target entropy -dim(A)."""
    gradient_steps: int = Field(1, ge=1)
    """Gradient steps per environment step (update-to-data ratio)."""
    log_std_min: float = -5.0
    """Lower bound of log σ."""
    log_std_max: float = 2.0
    """Upper bound of log σ."""


def _init_linear(module: nn.Module, generator: torch.Generator | None) -> None:
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            bound = 1.0 / math.sqrt(layer.in_features)
            nn.init.uniform_(layer.weight, -bound, bound, generator=generator)
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


class SacActor(nn.Module):
    """Tanh-squashed Gaussian policy ``s [B, d_s] → (μ, log σ)`` each ``[B, d_a]``."""

    def __init__(self, obs_dim: int, act_dim: int, hidden_sizes: Sequence[int], activation: str,
                 log_std_min: float, log_std_max: float,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = obs_dim
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), make_activation(activation)]
            width = hidden
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Linear(width, 2 * act_dim)
        self.act_dim = act_dim
        self.log_std_min = log_std_min
        self.log_std_max = log_std_max
        _init_linear(self, generator)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``obs`` ``[B, d_s]`` → ``μ`` ``[B, d_a]``, ``log σ`` ``[B, d_a]``."""
        out = self.head(self.trunk(obs))  # [B, 2 d_a]
        mean, raw = out[:, :self.act_dim], out[:, self.act_dim:]  # [B, d_a] each
        span = self.log_std_max - self.log_std_min
        log_std = self.log_std_min + 0.5 * span * (torch.tanh(raw) + 1.0)  # [B, d_a]
        return mean, log_std

    def sample(self, obs: torch.Tensor,
               generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterized ``u`` ``[B, d_a]`` in (-1, 1) and ``log π(u|s)`` ``[B]``."""
        mean, log_std = self(obs)  # [B, d_a] each
        std = log_std.exp()  # [B, d_a]
        noise = torch.randn(mean.shape, generator=generator)  # [B, d_a]
        x = mean + std * noise  # [B, d_a]
        u = torch.tanh(x)  # [B, d_a]
        log_normal = (-0.5 * noise ** 2 - log_std - 0.5 * math.log(2.0 * math.pi))  # [B, d_a]
        # log(1 - tanh(x)^2) = 2 (log 2 - x - softplus(-2x)), numerically stable
        log_det = 2.0 * (math.log(2.0) - x - F.softplus(-2.0 * x))  # [B, d_a]
        return u, (log_normal - log_det).sum(dim=1)  # [B, d_a], [B]


class SacAgent:
    """
    SAC with twin critics.

    Args:
        obs_dim, act_dim: widths.
        act_low, act_high: action box (``[d_a]`` each, finite).
        config: hyper-parameters.
        generator: torch generator for the initial weights and every action sample.
    """

    def __init__(self, obs_dim: int, act_dim: int, act_low: Sequence[float],
                 act_high: Sequence[float], config: SacConfig,
                 generator: torch.Generator | None = None) -> None:
        self.obs_dim = obs_dim
        self.act_dim = act_dim
        self.config = config
        self.generator = generator
        self.act_low = np.asarray(act_low, dtype=np.float32)  # [d_a]
        self.act_high = np.asarray(act_high, dtype=np.float32)  # [d_a]
        self._numpy_policy: tuple[nn.Module, Callable[[np.ndarray], np.ndarray]] | None = None
        if self.act_low.shape != (act_dim,) or self.act_high.shape != (act_dim,):
            raise DimensionError(f'SacAgent: act_low/act_high must have {act_dim} values, got '
                                 f'{list(self.act_low.shape)}, {list(self.act_high.shape)}')
        self._scale = torch.as_tensor((self.act_high - self.act_low) / 2.0)  # [d_a]
        self._centre = torch.as_tensor((self.act_high + self.act_low) / 2.0)  # [d_a]
        self.actor = SacActor(obs_dim, act_dim, config.hidden_sizes, config.activation,
                              config.log_std_min, config.log_std_max, generator)
        self.critic = EnsembleMLP(2, obs_dim + act_dim, 1, config.hidden_sizes, config.activation,
                                  generator)
        self.critic_target = EnsembleMLP(2, obs_dim + act_dim, 1, config.hidden_sizes,
                                         config.activation)
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.critic_target.requires_grad_(False)
        self.log_alpha = torch.tensor(math.log(config.initial_alpha), requires_grad=True)
        self.target_entropy = -float(act_dim)
        lr = config.learning_rate
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=lr)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=lr)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=lr)
        self.updates_done = 0

    @property
    def alpha(self) -> float:
        """Current temperature α."""
        return float(self.log_alpha.detach().exp())

    def to_unit(self, action: np.ndarray) -> np.ndarray:
        """Environment units → ``[-1, 1]`` (``[..., d_a]``)."""
        out: np.ndarray = (action - self._centre.numpy()) / self._scale.numpy()  # [..., d_a]
        return out.astype(np.float32)

    def to_env(self, unit: torch.Tensor) -> np.ndarray:
        """``[-1, 1]`` → environment units (``[..., d_a]``)."""
        out: np.ndarray = (unit * self._scale + self._centre).numpy()
        return out

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """
        Action(s) for ``obs`` ``[d_s]`` → ``[d_a]`` or ``[B, d_s]`` → ``[B, d_a]`` (environment
        units); deterministic = ``tanh(μ)``.
        """
        o = torch.as_tensor(np.asarray(obs, dtype=np.float32))
        single = o.dim() == 1
        if single:
            o = o.unsqueeze(0)  # [1, d_s]
        if o.shape[1] != self.obs_dim:
            raise DimensionError(f'SacAgent.act: expected obs [..., {self.obs_dim}], got '
                                 f'{list(o.shape)}')
        if deterministic:
            mean, _ = self.actor(o)  # [B, d_a]
            u = torch.tanh(mean)  # [B, d_a]
        else:
            u, _ = self.actor.sample(o, self.generator)  # [B, d_a]
        action = self.to_env(u)  # [B, d_a]
        return action[0] if single else action

    def sample_candidates(self, obs: np.ndarray, k: int) -> np.ndarray:
        """``k`` stochastic actions ``[k, d_a]`` for one state ``obs`` ``[d_s]`` (gate)."""
        return self.act(np.repeat(np.asarray(obs, np.float32)[None, :], k, axis=0))

    def deterministic_policy(self, obs: np.ndarray) -> np.ndarray:
        """``[B, d_s]`` → ``[B, d_a]``: ``tanh(μ)`` (twin roll-outs in the gate), computed in
        NumPy on the actor's live weights (:func:`~ior_ros.core.rl.numpy_policy.numpy_policy`:
        the gate's batches are too small for torch's per-operation cost)."""
        if self._numpy_policy is None or self._numpy_policy[0] is not self.actor:
            from ior_ros.core.rl.numpy_policy import numpy_policy

            self._numpy_policy = (self.actor, numpy_policy(self.actor, self._scale,
                                                            self._centre))
        o = np.asarray(obs, dtype=np.float32)
        if o.ndim not in (1, 2) or o.shape[-1] != self.obs_dim:
            raise DimensionError(f'SacAgent.deterministic_policy: expected obs [B, '
                                 f'{self.obs_dim}] or [{self.obs_dim}], got {list(o.shape)}')
        out = self._numpy_policy[1](np.atleast_2d(o))  # [B, d_a]
        return out[0] if o.ndim == 1 else out

    def update(self, batch: Transitions) -> dict[str, float]:
        """One SAC gradient step on ``batch``; returns the losses."""
        cfg = self.config
        obs = torch.from_numpy(batch.obs)  # [B, d_s]
        unit = torch.from_numpy(self.to_unit(batch.action))  # [B, d_a]
        reward = torch.from_numpy(batch.reward)  # [B]
        next_obs = torch.from_numpy(batch.next_obs)  # [B, d_s]
        not_done = 1.0 - torch.from_numpy(batch.terminated.astype(np.float32))  # [B]
        alpha = self.log_alpha.detach().exp()

        with torch.no_grad():
            next_u, next_logp = self.actor.sample(next_obs, self.generator)  # [B, d_a], [B]
            q_next = self.critic_target(torch.cat([next_obs, next_u], 1))  # [2, B, 1]
            q_next = q_next.min(dim=0).values.squeeze(-1) - alpha * next_logp  # [B]
            target = reward + cfg.gamma * not_done * q_next  # [B]
        q = self.critic(torch.cat([obs, unit], 1)).squeeze(-1)  # [2, B]
        critic_loss = ((q - target.unsqueeze(0)) ** 2).mean(dim=1).sum()
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()

        self.critic.requires_grad_(False)
        pi_u, logp = self.actor.sample(obs, self.generator)  # [B, d_a], [B]
        q_pi = self.critic(torch.cat([obs, pi_u], 1)).min(dim=0).values.squeeze(-1)  # [B]
        actor_loss = (alpha * logp - q_pi).mean()
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_opt.step()
        self.critic.requires_grad_(True)

        if cfg.autotune_alpha:
            alpha_loss: torch.Tensor = -(self.log_alpha
                                         * (logp.detach() + self.target_entropy)).mean()
            self.alpha_opt.zero_grad(set_to_none=True)
            alpha_loss.backward()  # type: ignore[no-untyped-call]
            self.alpha_opt.step()

        with torch.no_grad():
            torch._foreach_lerp_(list(self.critic_target.parameters()),
                                 list(self.critic.parameters()), cfg.tau)
        self.updates_done += 1
        return {'critic_loss': float(critic_loss.detach()),
                'actor_loss': float(actor_loss.detach()),
                'alpha': float(alpha), 'q_mean': float(q.detach().mean())}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume training."""
        return {'actor': self.actor.state_dict(), 'critic': self.critic.state_dict(),
                'critic_target': self.critic_target.state_dict(),
                'log_alpha': self.log_alpha.detach().clone(),
                'actor_opt': self.actor_opt.state_dict(),
                'critic_opt': self.critic_opt.state_dict(),
                'alpha_opt': self.alpha_opt.state_dict(), 'updates_done': self.updates_done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.actor.load_state_dict(state['actor'])
        self.critic.load_state_dict(state['critic'])
        self.critic_target.load_state_dict(state['critic_target'])
        with torch.no_grad():
            self.log_alpha.copy_(state['log_alpha'])
        self.actor_opt.load_state_dict(state['actor_opt'])
        self.critic_opt.load_state_dict(state['critic_opt'])
        self.alpha_opt.load_state_dict(state['alpha_opt'])
        self.updates_done = int(state['updates_done'])
