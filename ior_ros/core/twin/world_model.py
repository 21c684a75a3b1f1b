"""
The twin's predict network: ``(s_t, a_t) → (r̂_t, ŝ_{t+1})`` (seed 000 §III).

Seed 000 trains "five FCLs each with 200 neurons and Sigmoid activation" with Adam, learning rate
3e-4, batch 256 and the mean-squared-error loss on experience tuples. We read "five FCLs of 200" as
five hidden layers of 200 units followed by a linear output layer (the output width is
``1 + obs_dim``, not 200). The default activation is SiLU (swish, as MBPO's networks) instead of
the seed's sigmoid: on Hopper data the five-layer sigmoid network plateaus and reaches, after 7800
gradient steps, the held-out error SiLU reaches after about 1500 (docs/models/twin.md has the
numbers); ``activation: sigmoid`` gives the seed's network exactly.

Targets and inputs are standardized per dimension (:class:`Standardizer`, statistics refitted on
the training data at every :meth:`WorldModelTrainer.fit`). With ``predict_delta`` the state target
is the difference ``Δs = s_{t+1} - s_t`` and the prediction is ``ŝ_{t+1} = s_t + Δŝ`` (Deisenroth &
Rasmussen, PILCO 2011; Nagabandi et al. 2018; MBPO): at a 8 ms control step consecutive states
differ little, so predicting ``s_{t+1}`` directly mostly learns the identity map and its error is
dominated by that.

Loss (per member ``k``; ``z`` = standardized target, ``f_k`` = network output, both
``[B, 1 + d_s]``):

    L = (1/K) Σ_k mean_{b, j} (f_k(x_b)_j - z_{b,j})²

Each member draws its own minibatch (bootstrap-like resampling), so the members disagree off the
data and :func:`~ior_ros.core.twin.ensemble.disagreement` measures how far to trust a prediction.

Held-out error (:func:`one_step_errors`) is the normalized MSE ``nMSE = MSE / Var(target)`` per
quantity, averaged over state dimensions: 0 is perfect, 1 is no better than predicting the mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
import torch
from pydantic import Field

from ior_ros.core.config import FrozenModel, why
from ior_ros.core.errors import ConfigError, DimensionError
from ior_ros.core.twin.buffers import Transitions
from ior_ros.core.twin.ensemble import Activation, EnsembleMLP
from ior_ros.core.twin.normalizer import Standardizer

__all__ = ['WorldModelConfig', 'WorldModel', 'WorldModelTrainer', 'ModelPrediction',
           'OneStepErrors', 'one_step_errors']


class WorldModelConfig(FrozenModel):
    """Architecture and training of the predict network (defaults: seed 000 §III)."""

    hidden_sizes: tuple[Annotated[int, Field(ge=1, le=4096)], ...] = Field(
        (200, 200, 200, 200, 200), min_length=1, max_length=16, json_schema_extra=why(
        'a layer of n units holds n x n weights per member'))
    """Hidden-layer widths (seed: five fully connected layers of 200)."""
    activation: Activation = 'silu'
    """Hidden activation (seed: sigmoid; SiLU learns 3-10x faster here, docs/models/twin.md)."""
    ensemble_size: int = Field(3, ge=1, le=16)
    """Members K of the ensemble (seed: 1; K >= 2 gives the disagreement used as uncertainty)."""
    learning_rate: float = Field(3e-4, gt=0.0)
    """Adam learning rate (seed: 3e-4)."""
    batch_size: int = Field(256, ge=1, le=65536, json_schema_extra=why(
        'a minibatch and its gradients are held in memory at once'))
    """Minibatch per member and gradient step (seed: 256)."""
    weight_decay: float = Field(0.0, ge=0.0)
    """Adam L2 weight decay (seed: none)."""
    predict_delta: bool = True
    """Predict Δs = s' - s instead of s' (docs/models/twin.md)."""
    min_std: float = Field(1e-6, gt=0.0)
    """Floor of the standardization σ (constant dimensions map to 0)."""


@dataclass(frozen=True)
class ModelPrediction:
    """
    Every member's one-step prediction.

    Attributes:
        reward: ``[K, B]`` predicted rewards.
        next_obs: ``[K, B, obs_dim]`` predicted next states.
        normalized: ``[K, B, 1 + obs_dim]`` raw network outputs (standardized units), the input of
            :func:`~ior_ros.core.twin.ensemble.disagreement`.
    """

    reward: torch.Tensor
    next_obs: torch.Tensor
    normalized: torch.Tensor


class WorldModel(torch.nn.Module):
    """
    Ensemble of MLPs mapping standardized ``[s, a]`` to standardized ``[r, Δs or s']``.

    Args:
        obs_dim, act_dim: state and action widths.
        config: architecture.
        generator: torch generator for the initial weights.
    """

    def __init__(self, obs_dim: int, act_dim: int, config: WorldModelConfig,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        if obs_dim < 1 or act_dim < 1:
            raise DimensionError(f'WorldModel needs obs_dim, act_dim >= 1; got {obs_dim}, '
                                 f'{act_dim}')
        self.obs_dim = obs_dim
        self.act_dim = act_dim
        self.config = config
        self.net = EnsembleMLP(config.ensemble_size, obs_dim + act_dim, 1 + obs_dim,
                               config.hidden_sizes, config.activation, generator)
        self.input_norm = Standardizer(obs_dim + act_dim, config.min_std)
        self.target_norm = Standardizer(1 + obs_dim, config.min_std)

    @property
    def members(self) -> int:
        """Ensemble size K."""
        return self.config.ensemble_size

    def make_targets(self, data: Transitions) -> np.ndarray:
        """``[N, 1 + obs_dim]`` regression targets ``[r, Δs]`` (or ``[r, s']``)."""
        state = data.next_obs - data.obs if self.config.predict_delta else data.next_obs
        return np.concatenate([data.reward[:, None], state], axis=1)  # [N, 1 + obs_dim]

    def make_inputs(self, data: Transitions) -> np.ndarray:
        """``[N, obs_dim + act_dim]`` inputs ``[s, a]``."""
        return np.concatenate([data.obs, data.action], axis=1)  # [N, obs_dim + act_dim]

    def fit_normalization(self, data: Transitions) -> None:
        """Refit input and target statistics on ``data``."""
        self.input_norm.fit(self.make_inputs(data))
        self.target_norm.fit(self.make_targets(data))

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> ModelPrediction:
        """
        Predict from ``obs`` ``[B, obs_dim]`` and ``action`` ``[B, act_dim]`` (every member on the
        same batch).
        """
        if obs.dim() != 2 or obs.shape[1] != self.obs_dim or action.shape != (obs.shape[0],
                                                                               self.act_dim):
            raise DimensionError(f'WorldModel: expected obs [B, {self.obs_dim}] and action '
                                 f'[B, {self.act_dim}], got {list(obs.shape)} and '
                                 f'{list(action.shape)}')
        x = self.input_norm.normalize(torch.cat([obs, action], dim=1))  # [B, d_s + d_a]
        z = self.net(x)  # [K, B, 1 + d_s]
        y = self.target_norm.denormalize(z)  # [K, B, 1 + d_s]
        reward = y[..., 0]  # [K, B]
        state = y[..., 1:]  # [K, B, d_s]
        next_obs = obs.unsqueeze(0) + state if self.config.predict_delta else state  # [K, B, d_s]
        return ModelPrediction(reward=reward, next_obs=next_obs, normalized=z)

    def loss(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """
        MSE in standardized units; ``inputs`` ``[K, B, d_s + d_a]``, ``targets`` ``[K, B, 1 +
        d_s]`` (raw units, one minibatch per member).
        """
        z_pred = self.net(self.input_norm.normalize(inputs))  # [K, B, 1 + d_s]
        z_true = self.target_norm.normalize(targets)  # [K, B, 1 + d_s]
        return torch.square(z_pred - z_true).mean()


class WorldModelTrainer:
    """
    Adam training of a :class:`WorldModel` that can be resumed (the optimizer state persists
    between :meth:`fit` calls, so a twin refitted every few hundred environment steps continues
    from where it was instead of starting over).
    """

    def __init__(self, model: WorldModel) -> None:
        self.model = model
        self.optimizer = torch.optim.Adam(model.net.parameters(), lr=model.config.learning_rate,
                                          weight_decay=model.config.weight_decay)
        self.steps_done = 0

    def fit(self, data: Transitions, steps: int, rng: np.random.Generator,
            refit_normalization: bool = True) -> float:
        """
        Run ``steps`` gradient steps on ``data``; returns the mean loss of the last 10% of steps.

        Args:
            data: training transitions (``N >= 1``).
            steps: gradient steps (each member: one minibatch of ``batch_size`` per step).
            rng: draws the minibatch indices.
            refit_normalization: refit the standardization statistics on ``data`` first.
        """
        if len(data) < 1:
            raise ConfigError('world model: no training data')
        if steps < 0:
            raise ConfigError(f'world model: steps = {steps}, must be >= 0')
        model = self.model
        if refit_normalization:
            model.fit_normalization(data)
        inputs = torch.as_tensor(model.make_inputs(data), dtype=torch.float32)  # [N, d_in]
        targets = torch.as_tensor(model.make_targets(data), dtype=torch.float32)  # [N, d_out]
        members, batch = model.members, model.config.batch_size
        tail = max(1, steps // 10)
        tail_losses: list[float] = []
        model.train()
        for step in range(steps):
            index = torch.as_tensor(rng.integers(0, len(data), size=(members, batch)))  # [K, B]
            loss = model.loss(inputs[index], targets[index])
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            self.optimizer.step()
            if step >= steps - tail:
                tail_losses.append(float(loss.detach()))
        self.steps_done += steps
        model.eval()
        return float(np.mean(tail_losses)) if tail_losses else float('nan')

    def state_dict(self) -> dict[str, object]:
        """Model, optimizer and step count."""
        return {'model': self.model.state_dict(), 'optimizer': self.optimizer.state_dict(),
                'steps_done': self.steps_done}

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Restore :meth:`state_dict`."""
        self.model.load_state_dict(state['model'])  # type: ignore[arg-type]
        self.optimizer.load_state_dict(state['optimizer'])  # type: ignore[arg-type]
        self.steps_done = int(state['steps_done'])  # type: ignore[call-overload]


@dataclass(frozen=True)
class OneStepErrors:
    """
    Held-out one-step errors (normalized MSE; 0 perfect, 1 = predicting the mean).

    Attributes:
        reward_nmse: ``mean((r̂ - r)²) / Var(r)``.
        state_nmse: mean over state dimensions of ``mean((ŝ'_j - s'_j)²) / Var(s'_j)``.
        delta_nmse: the same error divided by ``Var(s'_j - s_j)`` (stricter: how much of the
        *change*
            is explained).
        samples: test transitions.
    """

    reward_nmse: float
    state_nmse: float
    delta_nmse: float
    samples: int

    def as_dict(self) -> dict[str, float | int]:
        """JSON form."""
        return {'reward_nmse': self.reward_nmse, 'state_nmse': self.state_nmse,
                'delta_nmse': self.delta_nmse, 'samples': self.samples}


def one_step_errors(pred_reward: np.ndarray, pred_next_obs: np.ndarray, data: Transitions,
                    var_floor: float = 1e-8) -> OneStepErrors:
    """
    Normalized one-step errors of predictions against held-out ``data``.

    Args:
        pred_reward: ``[N]`` predicted rewards.
        pred_next_obs: ``[N, obs_dim]`` predicted next states.
        data: the true transitions (``N`` rows).
        var_floor: variances below this are raised to it (a constant dimension cannot divide by 0).
    """
    n = len(data)
    if pred_reward.shape != (n,) or pred_next_obs.shape != data.next_obs.shape:
        raise DimensionError(f'one_step_errors: predictions {list(pred_reward.shape)}, '
                             f'{list(pred_next_obs.shape)} vs data [{n}], '
                             f'{list(data.next_obs.shape)}')
    r = data.reward.astype(np.float64)  # [N]
    s_next = data.next_obs.astype(np.float64)  # [N, d_s]
    delta = s_next - data.obs.astype(np.float64)  # [N, d_s]
    reward_mse = float(np.mean((pred_reward.astype(np.float64) - r) ** 2))
    state_mse = np.mean((pred_next_obs.astype(np.float64) - s_next) ** 2, axis=0)  # [d_s]
    reward_nmse = reward_mse / max(float(np.var(r)), var_floor)
    state_nmse = float(np.mean(state_mse / np.maximum(np.var(s_next, axis=0), var_floor)))
    delta_nmse = float(np.mean(state_mse / np.maximum(np.var(delta, axis=0), var_floor)))
    return OneStepErrors(reward_nmse, state_nmse, delta_nmse, n)
