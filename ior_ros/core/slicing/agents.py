"""
The dual-agent slicer of seed 003 (§IV-C, Algorithm 1): the generic dual-agent TD3 with a Lagrange
multiplier (:class:`~ior_ros.core.rl.dual_agent.DualAgentTD3`) on the slicing environment
(:class:`~ior_ros.core.slicing.env.TeleopSlicingEnv`).

What is the slicing task's here:

* the agents: eMBB (action entries ``[0, n_e)``) and URLLC (``[n_e, n_e + n_u)``); the URLLC agent
  carries the reliability constraint 8a, whose violation budget is ``1 - χ``; the multiplier λ
  the dual ascent sets is also the environment's (its reward ``-L_a`` of eq. 13 uses it);
* the actors (:class:`SliceActor`): one perceptron shared by the users of a slice, on each user's
  own features and the cell-wide context of
  :class:`~ior_ros.core.slicing.spaces.ObservationLayout`;
* the rewards the agents learn from: ``r1 = -(ΔL_G + V h_e)``, ``r2 = -(ΔL_F + V h_u)`` (the
  learner adds ``λ Σ y``), optionally shaped with the Lyapunov function as potential
  (``agent.reward_form``), read from the environment's ``info``;
* the training episode and its statistics (:class:`EpisodeStats`, the rows of ``metrics.csv``);
* the export of the actors as the torch-free :class:`~ior_ros.core.slicing.policy.SlicingPolicy`;
* checkpoints: the learner's state plus the episode count and the environment's generator.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import torch
from stable_baselines3.common.torch_layers import create_mlp
from torch import nn

from ior_ros.core.rl.dual_agent import DualAgentTD3
from ior_ros.core.rl.dual_agent_config import DualAgentConfig, RewardForm
from ior_ros.core.slicing.env import TeleopSlicingEnv
from ior_ros.core.slicing.policy import DenseLayer, SlicingPolicy
from ior_ros.core.slicing.spaces import ObservationLayout
from ior_ros.core.units import bps_to_mbps, s_to_ms

__all__ = ['EpisodeStats', 'SliceActor', 'DualAgentSlicer', 'actor_layers']

SLICES = ('embb', 'urllc')
"""The agents' slices, in action order."""


class EpisodeStats(NamedTuple):
    """One training episode, as written to the metrics CSV."""

    episode: int
    steps: int
    return_total: float
    return_embb: float
    return_urllc: float
    embb_queue_packets: float
    urllc_queue_packets: float
    violation_rate: float
    embb_rate_mbps: float
    urllc_rate_mbps: float
    urllc_delay_ms: float
    dexterity: float
    lagrange_multiplier: float
    critic_loss: float
    actor_loss: float


class SliceActor(nn.Module):
    """
    One agent's actor: a perceptron shared by the users of its slice, applied to each user's own
    features and the cell-wide context (:class:`~ior_ros.core.slicing.spaces.ObservationLayout`
    ``user_index``/``context``), one tanh output per user.

    Sharing the weights makes the actor equivariant to permuting the users of a slice (DeepSets:
    Zaheer et al., NeurIPS 2017): what it learns for one user's backlog holds for every user, which
    a flat perceptron over the whole observation would have to learn n times.
    """

    def __init__(self, layout: ObservationLayout, slice_name: str,
                 hidden: Sequence[int]) -> None:
        super().__init__()
        index = layout.user_index(slice_name)  # [n_k, d_k]
        self.register_buffer('index', torch.as_tensor(index, dtype=torch.long))
        self.layout = layout
        d_in = index.shape[1] + ObservationLayout.CONTEXT_SIZE
        self.net = nn.Sequential(*create_mlp(d_in, 1, list(hidden), squash_output=True))

    def context(self, obs: torch.Tensor) -> torch.Tensor:
        """The torch twin of ``ObservationLayout.context`` ``[B, 8]``."""
        lay = self.layout
        parts = [obs[:, lay.embb_queue].mean(-1), obs[:, lay.embb_queue].amax(-1),
                 obs[:, lay.urllc_queue].mean(-1), obs[:, lay.urllc_queue].amax(-1),
                 obs[:, lay.urllc_delay].mean(-1), obs[:, lay.urllc_delay].amax(-1),
                 obs[:, lay.channel].mean(-1), obs[:, lay.dexterity].mean(-1)]
        return torch.stack(parts, dim=-1)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        index: torch.Tensor = self.index  # type: ignore[assignment]
        users = obs[:, index]  # [B, n_k, d_k]
        ctx = self.context(obs).unsqueeze(1).expand(-1, index.shape[0], -1)  # [B, n_k, 8]
        out: torch.Tensor = self.net(torch.cat([users, ctx], dim=-1)).squeeze(-1)  # [B, n_k]
        return out


def actor_layers(actor: SliceActor) -> list[DenseLayer]:
    """The affine layers of an actor's shared perceptron as numpy ``(W [in, out], b)`` pairs."""
    layers = []
    for module in actor.net:
        if isinstance(module, nn.Linear):
            layers.append(DenseLayer(module.weight.detach().cpu().numpy().T.astype(np.float64),
                                     module.bias.detach().cpu().numpy().astype(np.float64)))
    return layers


class DualAgentSlicer:
    """
    The two agents of Algorithm 1 on one :class:`TeleopSlicingEnv` (see the module docstring).

    Args:
        env: the environment (its ``lagrange_multiplier`` follows the learner's λ).
        config: hyper-parameters.
        seed: seeds the networks, the exploration noise, buffer sampling and the environment.
    """

    def __init__(self, env: TeleopSlicingEnv, config: DualAgentConfig | None = None,
                 seed: int = 0) -> None:
        self.env = env
        env_cfg = env.config
        self.n_embb, self.n_urllc = env_cfg.n_embb, env_cfg.n_urllc
        layout = env.layout

        def make_actor(k: int, hidden: Sequence[int]) -> nn.Module:
            return SliceActor(layout, SLICES[k], hidden)

        self.learner = DualAgentTD3(int(env.observation_space.shape[0]),  # type: ignore[index]
                                    (self.n_embb, self.n_urllc), make_actor,
                                    1.0 - env_cfg.reliability, config, seed,
                                    multiplier=float(env.lagrange_multiplier))
        self.episodes = 0

    @property
    def config(self) -> DualAgentConfig:
        """The learner's hyper-parameters."""
        return self.learner.config

    @property
    def seed(self) -> int:
        """The run's seed."""
        return self.learner.seed

    @property
    def total_steps(self) -> int:
        """Environment slots trained on."""
        return self.learner.total_steps

    @property
    def multiplier(self) -> float:
        """λ, the Lagrange multiplier of the URLLC reliability constraint."""
        return self.learner.multiplier

    def act(self, obs: npt.ArrayLike, noise_std: float = 0.0) -> npt.NDArray[np.float32]:
        """The joint action ``[n_e + n_u]`` for one observation (the torch actors)."""
        return self.learner.act(obs, noise_std)

    def dual_update(self) -> float:
        """One dual ascent step on λ (:meth:`DualAgentTD3.dual_update`); the environment's λ
        follows."""
        multiplier = self.learner.dual_update()
        self.env.lagrange_multiplier = multiplier
        return multiplier

    # ------------------------------------------------------------------------------------------
    # the loop

    def run_episode(self, total_steps: int,
                    on_step: Callable[[int], None] | None = None) -> EpisodeStats:
        """
        Play one training episode (Algorithm 1, lines 3-11): act, store in both buffers, update
        both agents, update λ. ``total_steps`` sets the exploration decay.
        """
        learner = self.learner
        cfg = learner.config
        env = self.env
        env.lagrange_multiplier = learner.multiplier
        obs, _ = env.reset(seed=int(learner.rng.integers(2**31)) if self.episodes == 0 else None)
        ret = np.zeros(2)
        sums = np.zeros(8)
        count = 0
        losses: list[tuple[float, float]] = []
        done = False
        while not done:
            action = learner.explore(obs, total_steps)
            next_obs, _, terminated, truncated, info = env.step(action)
            r1, r2 = info['reward_embb'], info['reward_urllc_unconstrained']
            if cfg.reward_form is RewardForm.SHAPED:
                # subtract the potential-based term L(s) - γ L(s') = -ΔL + (1 - γ) L(s')
                r1 += info['drift_embb'] - (1.0 - cfg.gamma) * info['lyapunov_embb']
                r2 += info['drift_urllc'] - (1.0 - cfg.gamma) * info['lyapunov_urllc']
            violations = info['violations']
            learned = learner.observe(obs, action, (r1, r2), next_obs, terminated,
                                      info['constraint_slack'], violations)
            if learned is not None:
                losses.append(learned)
            env.lagrange_multiplier = learner.multiplier
            ret += (info['reward_embb'], info['reward_urllc'])
            rates = info['rates_bps']
            sums += (float(np.mean(info['embb_queue_packets'])),
                     float(np.mean(info['urllc_queue_packets'])), float(np.mean(violations)),
                     float(np.mean(rates[:self.n_embb])), float(np.mean(rates[self.n_embb:])),
                     float(np.mean(info['urllc_delay_s'])), float(np.mean(info['dexterity'])),
                     0.0)
            count += 1
            obs = next_obs
            done = terminated or truncated
            if on_step is not None:
                on_step(1)
        self.episodes += 1
        mean = sums / max(count, 1)
        critic = float(np.mean([c for c, _ in losses])) if losses else math.nan
        actor_values = [a for _, a in losses if not math.isnan(a)]
        actor = float(np.mean(actor_values)) if actor_values else math.nan
        return EpisodeStats(self.episodes, learner.total_steps, float(ret.sum()), float(ret[0]),
                            float(ret[1]), float(mean[0]), float(mean[1]), float(mean[2]),
                            float(bps_to_mbps(mean[3])), float(bps_to_mbps(mean[4])),
                            float(s_to_ms(mean[5])),
                            float(mean[6]), learner.multiplier, critic, actor)

    # ------------------------------------------------------------------------------------------
    # export and checkpoints

    def policy(self, metadata: dict[str, Any] | None = None) -> SlicingPolicy:
        """The deterministic actors as a torch-free :class:`SlicingPolicy`."""
        learner = self.learner
        env_cfg = self.env.config
        meta = {'env_config': env_cfg.model_dump(mode='json'),
                'agent_config': learner.config.model_dump(mode='json'),
                'lagrange_multiplier': learner.multiplier, 'total_steps': learner.total_steps,
                'episodes': self.episodes, 'seed': learner.seed}
        meta.update(metadata or {})
        embb, urllc = (agent.actor for agent in learner.agents)
        assert isinstance(embb, SliceActor) and isinstance(urllc, SliceActor)
        return SlicingPolicy(actor_layers(embb), actor_layers(urllc), env_cfg.n_embb,
                             env_cfg.n_urllc, env_cfg.n_prb, env_cfg.action_logit_scale, meta)

    def checkpoint_bytes(self) -> bytes:
        """Everything needed to resume training exactly: networks, optimisers, buffers, λ,
        counters and every generator (the environment's included)."""
        doc = self.learner.state_dict()
        doc['episodes'] = self.episodes
        doc['env_rng'] = self.env.np_random.bit_generator.state
        buffer = io.BytesIO()
        torch.save(doc, buffer)
        return buffer.getvalue()

    def load_checkpoint_bytes(self, data: bytes) -> None:
        """Restore :meth:`checkpoint_bytes` (the environment's generator included)."""
        doc = torch.load(io.BytesIO(data), weights_only=False)
        self.learner.load_state_dict(doc)
        self.env.lagrange_multiplier = self.learner.multiplier
        self.episodes = int(doc['episodes'])
        if self.episodes > 0:
            self.env.reset(seed=0)  # creates the generator, then its state is replaced
            self.env.np_random.bit_generator.state = doc['env_rng']
