"""
GAN that generates synthetic state-action pairs ``(ŝ_t, â_t)`` for the twin (seed 000 §III).

Seed 000: "the generator includes four blocks with a FCL, Batch Normalization, and LeakyReLU
activation, while the discriminator comprises a FCL and LeakyReLU activation function, ending with
a FCL"; batch 64, learning rate 5e-5, RMSprop, 100 units per hidden layer. RMSprop at 5e-5 is the
recipe of the Wasserstein GAN (Arjovsky, Chintala, Bottou, ICML 2017), so we train a WGAN:

    critic:     max_D  E_x[D(x)] - E_z[D(G(z))]       (n_critic steps per generator step)
    generator:  min_G  -E_z[D(G(z))]

with the critic kept (roughly) 1-Lipschitz by weight clipping to ``[-c, c]`` (``loss='wgan_clip'``,
the seed's optimizer and rate) or by the gradient penalty ``λ E[(‖∇D(x̃)‖ - 1)²]`` on random
interpolates ``x̃`` (``loss='wgan_gp'``, Gulrajani et al., NeurIPS 2017). The generator is the
seed's four blocks followed by a linear output layer of the data width; the noise ``z ~ N(0, I)``
has ``noise_dim`` dimensions (the seed does not say; 32).

The GAN works on standardized data (a :class:`Standardizer` fitted on the training pairs) and
returns samples in the original units. :meth:`Wgan.moment_error` compares sample mean and
covariance with the data's; the twin uses it to decide when the GAN has "fitted" well enough to be
used (the seed notes that early GAN samples are poor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from pydantic import Field
from torch import nn

from ior_ros.core.config import FrozenModel, why
from ior_ros.core.errors import ConfigError, DimensionError
from ior_ros.core.twin.normalizer import Standardizer

__all__ = ['GanConfig', 'GanGenerator', 'GanCritic', 'Wgan', 'MomentError']


class GanConfig(FrozenModel):
    """GAN architecture and training (defaults: seed 000 §III, WGAN with weight clipping)."""

    noise_dim: int = Field(32, ge=1, le=4096, json_schema_extra=why(
        'a layer of n units holds n x n weights per member'))
    """Latent noise width (seed: not given)."""
    hidden_size: int = Field(100, ge=1, le=4096, json_schema_extra=why(
        'a layer of n units holds n x n weights per member'))
    """Units per hidden layer of both networks (seed: 100)."""
    generator_blocks: int = Field(4, ge=1, le=64, json_schema_extra=why(
        'a layer of n units holds n x n weights per member'))
    """Generator blocks (Linear, BatchNorm, LeakyReLU) (seed: 4)."""
    leaky_slope: float = Field(0.2, ge=0.0, lt=1.0)
    """LeakyReLU negative slope (seed: not given; 0.2 as in DCGAN/WGAN)."""
    learning_rate: float = Field(5e-5, gt=0.0)
    """Learning rate of both networks (seed: 5e-5)."""
    optimizer: Literal['rmsprop', 'adam'] = 'rmsprop'
    """Optimizer (seed: RMSprop; Adam(0.5, 0.9) is the WGAN-GP recipe)."""
    batch_size: int = Field(64, ge=2, le=65536, json_schema_extra=why(
        'a minibatch and its gradients are held in memory at once'))
    """Minibatch (seed: 64)."""
    critic_steps: int = Field(5, ge=1)
    """Critic updates per generator update (WGAN: 5)."""
    loss: Literal['wgan_clip', 'wgan_gp'] = 'wgan_clip'
    """Lipschitz constraint: weight clipping (WGAN) or gradient penalty (WGAN-GP)."""
    clip_value: float = Field(0.01, gt=0.0)
    """Weight clipping bound c (WGAN: 0.01)."""
    gp_weight: float = Field(10.0, ge=0.0)
    """Gradient-penalty weight λ (WGAN-GP: 10)."""


class GanGenerator(nn.Module):
    """``z [B, noise_dim] → x [B, data_dim]`` (standardized): the seed's four blocks + output."""

    def __init__(self, data_dim: int, config: GanConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = config.noise_dim
        for _ in range(config.generator_blocks):
            layers += [nn.Linear(width, config.hidden_size), nn.BatchNorm1d(config.hidden_size),
                       nn.LeakyReLU(config.leaky_slope)]
            width = config.hidden_size
        layers.append(nn.Linear(width, data_dim))
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``z``: ``[B, noise_dim]`` → ``[B, data_dim]``."""
        out: torch.Tensor = self.body(z)  # [B, data_dim]
        return out


class GanCritic(nn.Module):
    """``x [B, data_dim] → D(x) [B]``: Linear, LeakyReLU, Linear (seed's discriminator)."""

    def __init__(self, data_dim: int, config: GanConfig) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(data_dim, config.hidden_size),
                                  nn.LeakyReLU(config.leaky_slope),
                                  nn.Linear(config.hidden_size, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[B, data_dim]`` → ``[B]``."""
        out: torch.Tensor = self.body(x).squeeze(-1)  # [B]
        return out


def _init_(module: nn.Module, generator: torch.Generator) -> None:
    """Re-draw every Linear layer like ``nn.Linear``'s default, from ``generator``."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            bound = 1.0 / float(np.sqrt(layer.in_features))
            nn.init.uniform_(layer.weight, -bound, bound, generator=generator)
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


@dataclass(frozen=True)
class MomentError:
    """
    How far generated samples are from the data, in data standard deviations.

    Attributes:
        mean_error: ``max_j |mean(x̂_j) - mean(x_j)| / std(x_j)``.
        cov_error: ``max_ij |Ĉ_ij - C_ij| / (std_i std_j)`` (covariances ``C``; the correlation
            error on the off-diagonal, the relative variance error on the diagonal).
    """

    mean_error: float
    cov_error: float


class Wgan:
    """
    A WGAN over ``data_dim``-wide vectors.

    Args:
        data_dim: width of one sample (``obs_dim + act_dim`` for the twin).
        config: architecture and training.
        generator: torch generator for the initial weights.
    """

    def __init__(self, data_dim: int, config: GanConfig,
                 generator: torch.Generator | None = None) -> None:
        if data_dim < 1:
            raise DimensionError(f'Wgan needs data_dim >= 1, got {data_dim}')
        self.data_dim = data_dim
        self.config = config
        self.norm = Standardizer(data_dim)
        self.gen = GanGenerator(data_dim, config)
        self.critic = GanCritic(data_dim, config)
        if generator is not None:
            _init_(self.gen, generator)
            _init_(self.critic, generator)
        if config.optimizer == 'rmsprop':
            self.gen_opt: torch.optim.Optimizer = torch.optim.RMSprop(
                self.gen.parameters(), lr=config.learning_rate)
            self.critic_opt: torch.optim.Optimizer = torch.optim.RMSprop(
                self.critic.parameters(), lr=config.learning_rate)
        else:
            self.gen_opt = torch.optim.Adam(self.gen.parameters(), lr=config.learning_rate,
                                            betas=(0.5, 0.9))
            self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=config.learning_rate,
                                               betas=(0.5, 0.9))
        self.iterations_done = 0

    def fit_normalization(self, data: np.ndarray) -> None:
        """Standardization statistics from ``data`` ``[N, data_dim]``."""
        self.norm.fit(data)

    def _noise(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        return torch.randn(n, self.config.noise_dim, generator=generator)  # [n, noise_dim]

    def train(self, data: np.ndarray, iterations: int, rng: np.random.Generator,
              generator: torch.Generator | None = None,
              refit_normalization: bool = False) -> float:
        """
        ``iterations`` generator updates (each after ``critic_steps`` critic updates).

        Args:
            data: ``[N, data_dim]`` real samples (raw units).
            iterations: generator updates.
            rng: draws the real minibatches.
            generator: torch generator for the noise (and the GP interpolation weights).
            refit_normalization: refit the standardization on ``data`` first (always done on the
                first call).

        Returns:
            the critic's last Wasserstein estimate ``E[D(x)] - E[D(G(z))]`` (standardized data).
        """
        array = np.asarray(data, dtype=np.float32)  # [N, D]
        if array.ndim != 2 or array.shape[1] != self.data_dim or len(array) < 2:
            raise DimensionError(f'Wgan.train: expected [N >= 2, {self.data_dim}], '
                                 f'got {list(array.shape)}')
        if iterations < 0:
            raise ConfigError(f'Wgan.train: iterations = {iterations}, must be >= 0')
        if refit_normalization or self.iterations_done == 0:
            self.fit_normalization(array)
        real_all = self.norm.normalize(torch.as_tensor(array))  # [N, D]
        cfg = self.config
        batch = cfg.batch_size
        estimate = float('nan')
        self.gen.train()
        self.critic.train()
        for _ in range(iterations):
            for _ in range(cfg.critic_steps):
                real = real_all[torch.as_tensor(rng.integers(0, len(array), size=batch))]  # [B, D]
                with torch.no_grad():
                    fake = self.gen(self._noise(batch, generator))  # [B, D]
                gap = self.critic(real).mean() - self.critic(fake).mean()
                loss = -gap
                if cfg.loss == 'wgan_gp':
                    loss = loss + cfg.gp_weight * self._gradient_penalty(real, fake, generator)
                self.critic_opt.zero_grad(set_to_none=True)
                loss.backward()
                self.critic_opt.step()
                if cfg.loss == 'wgan_clip':
                    with torch.no_grad():
                        for param in self.critic.parameters():
                            param.clamp_(-cfg.clip_value, cfg.clip_value)
                estimate = float(gap.detach())
            fake = self.gen(self._noise(batch, generator))  # [B, D]
            gen_loss = -self.critic(fake).mean()
            self.gen_opt.zero_grad(set_to_none=True)
            gen_loss.backward()
            self.gen_opt.step()
            self.iterations_done += 1
        self.gen.eval()
        self.critic.eval()
        return estimate

    def _gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor,
                          generator: torch.Generator | None) -> torch.Tensor:
        eps = torch.rand(real.shape[0], 1, generator=generator)  # [B, 1]
        mix = (eps * real + (1.0 - eps) * fake).requires_grad_(True)  # [B, D]
        score = self.critic(mix)  # [B]
        (grad,) = torch.autograd.grad(score.sum(), mix, create_graph=True)  # [B, D]
        return torch.square(grad.norm(dim=1) - 1.0).mean()

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> np.ndarray:
        """``[n, data_dim]`` samples in the data's units (generator in eval mode)."""
        if n < 0:
            raise ConfigError(f'Wgan.sample: n = {n}, must be >= 0')
        self.gen.eval()
        z = self.gen(self._noise(n, generator))  # [n, D]
        out: np.ndarray = self.norm.denormalize(z).numpy()  # [n, D]
        return out

    def moment_error(self, data: np.ndarray, n_samples: int,
                     generator: torch.Generator | None = None) -> MomentError:
        """Mean and covariance mismatch of ``n_samples`` samples vs ``data`` ``[N, D]``."""
        real = np.asarray(data, dtype=np.float64)  # [N, D]
        fake = self.sample(n_samples, generator).astype(np.float64)  # [n, D]
        std = np.maximum(real.std(axis=0), 1e-8)  # [D]
        mean_error = float(np.max(np.abs(fake.mean(axis=0) - real.mean(axis=0)) / std))
        scale = np.outer(std, std)  # [D, D]
        cov_real = np.atleast_2d(np.cov(real, rowvar=False))  # [D, D]
        cov_fake = np.atleast_2d(np.cov(fake, rowvar=False))  # [D, D]
        cov_error = float(np.max(np.abs(cov_fake - cov_real) / scale))
        return MomentError(mean_error, cov_error)

    def state_dict(self) -> dict[str, object]:
        """Networks, optimizers, normalization and iteration count."""
        return {'gen': self.gen.state_dict(), 'critic': self.critic.state_dict(),
                'norm': self.norm.state_dict(), 'gen_opt': self.gen_opt.state_dict(),
                'critic_opt': self.critic_opt.state_dict(),
                'iterations_done': self.iterations_done}

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Restore :meth:`state_dict`."""
        self.gen.load_state_dict(state['gen'])  # type: ignore[arg-type]
        self.critic.load_state_dict(state['critic'])  # type: ignore[arg-type]
        self.norm.load_state_dict(state['norm'])  # type: ignore[arg-type]
        self.gen_opt.load_state_dict(state['gen_opt'])  # type: ignore[arg-type]
        self.critic_opt.load_state_dict(state['critic_opt'])  # type: ignore[arg-type]
        self.iterations_done = int(state['iterations_done'])  # type: ignore[call-overload]
