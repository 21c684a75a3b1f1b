"""
Dual-agent actor-critic with replay buffers and a Lagrange multiplier (seed 003 §IV-C,
Algorithm 1).

What the seed says and what we build
------------------------------------
Algorithm 1 is titled "Dual-Agent DDPG" and uses a replay buffer per agent; the text calls the
method A2C. A2C is on-policy (it learns from the rollouts of the current policy and has no replay
buffer), while the action here is a vector of continuous PRB shares. The consistent reading is the
algorithm box: an off-policy deterministic actor-critic with replay buffers, i.e. the DDPG family.
We use its standard correction, **TD3** (Fujimoto, van Hoof, Meger, "Addressing Function
Approximation Error in Actor-Critic Methods", ICML 2018): twin critics with the minimum in the
target, target-policy smoothing noise and delayed actor updates. Each agent k ∈ {eMBB, URLLC} has

* an actor ``π_k(s)`` with a tanh output: the action entries of its own users (eMBB users
  ``[0, n_e)``, URLLC users ``[n_e, n)`` of
  :class:`~ior_ros.core.rl.slicing_env.TeleopSlicingEnv`), one perceptron shared by the users of
  the slice (:class:`SliceActor`);
* twin critics ``Q_k(s, a_1, a_2)`` trained on its own reward (``r1 = -(ΔL_G + V h_e)``,
  ``r2 = -(ΔL_F + V h_u) + λ Σ y``); the critics see the joint action because the two agents share
  the K PRBs (one softmax over all users), so either agent's reward depends on both actions
  (centralised critics, decentralised actors: Lowe et al., "Multi-Agent Actor-Critic for Mixed
  Cooperative-Competitive Environments", NeurIPS 2017);
* its own replay buffer of ``(s, a_k, r_k, s')``; both buffers are written at the same index each
  slot and sampled with the same indices, so a critic gets the other agent's action of the same
  transition.

**Coupling of the actors.** With selfish actors (each maximising its own critic) the two agents
play a tug of war over the shared softmax: each raises its logits, and the split drifts to the
equal share whatever the queues (``actor_objective: own`` keeps this for comparison). By default
(``team``) each actor follows the gradient of ``Q_1 + Q_2``, the critic estimate of the whole
Lagrangian ``-L_a = r1 + r2`` that eq. 14 minimises (value decomposition: Sunehag et al., VDN,
AAMAS 2018).

**Lagrange multiplier.** λ ≥ 0 is updated by projected dual ascent on the reliability constraint
8a, ``λ ← [λ + η (v̂ - (1 - χ))]^+``, where v̂ is the measured fraction of URLLC user-slots with
``D_ti > D_max`` over the last ``dual_window_slots``; it is the URLLC agent's (Algorithm 1, line 9)
and runs on a slower time scale than the critics (Tessler, Mankowitz, Mannor, "Reward Constrained
Policy Optimization", ICLR 2019). The URLLC buffer stores the reward without the multiplier term
and the slack Σ y separately, so sampled rewards always use the current λ.

What comes from stable-baselines3 and what is ours
--------------------------------------------------
From SB3: the network builder ``stable_baselines3.common.torch_layers.create_mlp`` and the target
update ``stable_baselines3.common.utils.polyak_update``. Ours: the two-agent training loop, the
replay buffers (SB3's ``ReplayBuffer`` samples with numpy's global generator, and every draw here
must come from an explicit generator so that a seed gives one trajectory), the joint-action
critics, the team actor objective and the dual ascent. SB3's single-agent ``TD3.learn`` cannot
express two actors acting on one environment step with separate rewards.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import torch
from stable_baselines3.common.torch_layers import create_mlp
from stable_baselines3.common.utils import polyak_update
from torch import nn

from ior_ros.core.errors import ModelError
from ior_ros.core.rl.slicing_config import (
    ActorObjective,
    DualAgentConfig,
    DualStatistic,
    RewardForm,
)
from ior_ros.core.rl.slicing_env import TeleopSlicingEnv
from ior_ros.core.rl.slicing_spaces import ObservationLayout
from ior_ros.core.slicing.policy import DenseLayer, SlicingPolicy

__all__ = ['ReplayBuffer', 'EpisodeStats', 'SliceActor', 'DualAgentTD3', 'actor_layers']

FloatArray = npt.NDArray[np.float64]


class ReplayBuffer:
    """
    A ring buffer of one agent's transitions ``(s, a_k, r_k[, slack], s', done)`` with sampling
    from an explicit generator.

    Args:
        capacity: maximum transitions.
        obs_dim, action_dim: sizes.
        with_slack: also store the constraint slack Σ y (the URLLC agent).
    """

    def __init__(self, capacity: int, obs_dim: int, action_dim: int,
                 with_slack: bool = False) -> None:
        if capacity < 1:
            raise ModelError(f'capacity = {capacity}: must be >= 1')
        self.capacity = capacity
        self.obs = np.zeros((capacity, obs_dim), dtype=np.float32)  # [N, d]
        self.next_obs = np.zeros((capacity, obs_dim), dtype=np.float32)  # [N, d]
        self.action = np.zeros((capacity, action_dim), dtype=np.float32)  # [N, n_k]
        self.reward = np.zeros(capacity, dtype=np.float32)  # [N]
        self.slack = np.zeros(capacity, dtype=np.float32) if with_slack else None  # [N]
        self.done = np.zeros(capacity, dtype=np.float32)  # [N]
        self.position = 0
        self.size = 0

    def add(self, obs: npt.ArrayLike, action: npt.ArrayLike, reward: float,
            next_obs: npt.ArrayLike, done: bool, slack: float = 0.0) -> int:
        """Store one transition; return its index."""
        i = self.position
        self.obs[i] = obs
        self.action[i] = action
        self.reward[i] = reward
        self.next_obs[i] = next_obs
        self.done[i] = float(done)
        if self.slack is not None:
            self.slack[i] = slack
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)
        return i

    def state_dict(self) -> dict[str, Any]:
        """Contents for a checkpoint (only the filled part)."""
        n = self.size
        doc: dict[str, Any] = {'position': self.position, 'size': n,
                               'obs': self.obs[:n].copy(), 'next_obs': self.next_obs[:n].copy(),
                               'action': self.action[:n].copy(), 'reward': self.reward[:n].copy(),
                               'done': self.done[:n].copy()}
        if self.slack is not None:
            doc['slack'] = self.slack[:n].copy()
        return doc

    def load_state_dict(self, doc: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        n = int(doc['size'])
        self.size, self.position = n, int(doc['position'])
        for name in ('obs', 'next_obs', 'action', 'reward', 'done'):
            getattr(self, name)[:n] = doc[name]
        if self.slack is not None:
            self.slack[:n] = doc['slack']


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


class _Critic(nn.Module):
    """Twin Q networks ``Q(s, a)`` of one agent."""

    def __init__(self, in_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.q1 = nn.Sequential(*create_mlp(in_dim, 1, list(hidden)))
        self.q2 = nn.Sequential(*create_mlp(in_dim, 1, list(hidden)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.q1(x).squeeze(-1), self.q2(x).squeeze(-1)


class SliceActor(nn.Module):
    """
    One agent's actor: a perceptron shared by the users of its slice, applied to each user's own
    features and the cell-wide context (:class:`~ior_ros.core.rl.slicing_spaces.ObservationLayout`
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


@dataclass
class _Agent:
    actor: SliceActor
    actor_target: SliceActor
    critic: _Critic
    critic_target: _Critic
    actor_opt: torch.optim.Adam
    critic_opt: torch.optim.Adam
    buffer: ReplayBuffer
    columns: slice


class DualAgentTD3:
    """
    The two agents of Algorithm 1 on one :class:`TeleopSlicingEnv` (see the module docstring).

    Args:
        env: the environment (its ``lagrange_multiplier`` is driven by the dual ascent).
        config: hyper-parameters.
        seed: seeds the networks, the exploration noise, buffer sampling and the environment.
    """

    def __init__(self, env: TeleopSlicingEnv, config: DualAgentConfig | None = None,
                 seed: int = 0) -> None:
        self.env = env
        self.config = config or DualAgentConfig()
        cfg = self.config
        env_cfg = env.config
        self.n_embb, self.n_urllc = env_cfg.n_embb, env_cfg.n_urllc
        self.obs_dim = int(env.observation_space.shape[0])  # type: ignore[index]
        self.n_actions = env_cfg.n_users
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.torch_gen = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)  # network initialisation
        in_critic = self.obs_dim + self.n_actions
        self.agents: list[_Agent] = []
        layout = env.layout
        for name, columns, slack in (('embb', slice(0, self.n_embb), False),
                                     ('urllc', slice(self.n_embb, self.n_actions), True)):
            n_out = columns.stop - columns.start
            actor = SliceActor(layout, name, cfg.actor_hidden)
            critic = _Critic(in_critic, cfg.critic_hidden)
            actor_target = SliceActor(layout, name, cfg.actor_hidden)
            critic_target = _Critic(in_critic, cfg.critic_hidden)
            actor_target.load_state_dict(actor.state_dict())
            critic_target.load_state_dict(critic.state_dict())
            self.agents.append(_Agent(
                actor, actor_target, critic, critic_target,
                torch.optim.Adam(actor.parameters(), lr=cfg.actor_lr),
                torch.optim.Adam(critic.parameters(), lr=cfg.critic_lr),
                ReplayBuffer(cfg.buffer_size, self.obs_dim, n_out, with_slack=slack), columns))
        self.multiplier = float(env.lagrange_multiplier)
        self.multiplier_integral = self.multiplier
        self.total_steps = 0
        self.episodes = 0
        self.updates = 0
        self._violations: list[Any] = []  # per slot: [n_u] violation flags (or a rate)
        self._obs: npt.NDArray[np.float32] | None = None
        self._losses: list[tuple[float, float]] = []

    # ------------------------------------------------------------------------------------------
    # acting

    def act(self, obs: npt.ArrayLike, noise_std: float = 0.0) -> npt.NDArray[np.float32]:
        """The joint action for one observation (deterministic unless ``noise_std`` > 0)."""
        with torch.no_grad():
            x = torch.as_tensor(np.asarray(obs, dtype=np.float32)).unsqueeze(0)
            parts = [agent.actor(x)[0].numpy() for agent in self.agents]
        action = np.concatenate(parts).astype(np.float32)  # [n]
        if noise_std > 0:
            action = np.clip(action + self.rng.normal(0.0, noise_std, action.shape),
                             -1.0, 1.0).astype(np.float32)
        return action

    def noise_std_at(self, step: int, total: int) -> float:
        """Linearly decayed exploration std."""
        cfg = self.config
        frac = min(max(step / max(total, 1), 0.0), 1.0)
        return cfg.exploration_noise + frac * (cfg.exploration_noise_final
                                               - cfg.exploration_noise)

    # ------------------------------------------------------------------------------------------
    # learning

    def _critic_input(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return torch.cat([obs, action], dim=-1)

    def update(self) -> tuple[float, float]:
        """One TD3 step for both agents (critics; actors every ``policy_delay``)."""
        cfg = self.config
        size = self.agents[0].buffer.size
        idx = self.rng.integers(0, size, cfg.batch_size)
        b1, b2 = self.agents[0].buffer, self.agents[1].buffer
        obs = torch.as_tensor(b1.obs[idx])
        next_obs = torch.as_tensor(b1.next_obs[idx])
        action = torch.as_tensor(np.concatenate([b1.action[idx], b2.action[idx]], axis=1))
        done = torch.as_tensor(b1.done[idx])
        assert b2.slack is not None
        rewards = [torch.as_tensor(b1.reward[idx]),
                   torch.as_tensor(b2.reward[idx] + self.multiplier * b2.slack[idx])]
        with torch.no_grad():
            next_parts = []
            for agent in self.agents:
                target = agent.actor_target(next_obs)
                noise = (torch.randn(target.shape, generator=self.torch_gen)
                         * cfg.target_noise).clamp(-cfg.target_noise_clip, cfg.target_noise_clip)
                next_parts.append((target + noise).clamp(-1.0, 1.0))
            next_action = torch.cat(next_parts, dim=1)
            next_input = self._critic_input(next_obs, next_action)
            targets = []
            for agent, reward in zip(self.agents, rewards):
                q1_t, q2_t = agent.critic_target(next_input)
                targets.append(reward + cfg.gamma * (1.0 - done) * torch.minimum(q1_t, q2_t))
        critic_input = self._critic_input(obs, action)
        critic_loss = 0.0
        for agent, target_q in zip(self.agents, targets):
            q1, q2 = agent.critic(critic_input)
            loss = nn.functional.mse_loss(q1, target_q) + nn.functional.mse_loss(q2, target_q)
            agent.critic_opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            agent.critic_opt.step()
            critic_loss += float(loss.item())
        actor_loss = math.nan
        self.updates += 1
        if self.updates % cfg.policy_delay == 0:
            actor_loss = self._update_actors(obs, action)
            for agent in self.agents:
                polyak_update(agent.actor.parameters(), agent.actor_target.parameters(),
                              cfg.polyak)
                polyak_update(agent.critic.parameters(), agent.critic_target.parameters(),
                              cfg.polyak)
        return critic_loss, actor_loss

    def _update_actors(self, obs: torch.Tensor, action: torch.Tensor) -> float:
        cfg = self.config
        for agent in self.agents:
            agent.actor_opt.zero_grad()
        new_parts = [agent.actor(obs) for agent in self.agents]
        if cfg.actor_objective is ActorObjective.TEAM:
            joint = self._critic_input(obs, torch.cat(new_parts, dim=1))
            loss = -sum((agent.critic.q1(joint).squeeze(-1) for agent in self.agents),
                        torch.zeros(obs.shape[0])).mean()
            loss.backward()
            total = float(loss.item())
        else:
            total = 0.0
            for k, agent in enumerate(self.agents):
                parts = [new_parts[j] if j == k else action[:, self.agents[j].columns]
                         for j in range(len(self.agents))]
                joint = self._critic_input(obs, torch.cat(parts, dim=1))
                loss_k = -agent.critic.q1(joint).squeeze(-1).mean()
                loss_k.backward()
                total += float(loss_k.item())
        for agent in self.agents:
            # the other actor's graph also reached this critic's parameters: drop those grads
            agent.critic_opt.zero_grad()
            agent.actor_opt.step()
        return total

    def dual_update(self) -> float:
        """
        Projected dual ascent with a proportional term, from the recent violation rate v̂:
        ``λ_I ← clip(λ_I + η e, 0, λ_max)``, ``λ = clip(λ_I + K_p e, 0, λ_max)``,
        ``e = v̂ - (1 - χ)``; v̂ is the worst URLLC user's violation rate over the window
        (``dual_statistic = worst``: constraint 8a holds for every user) or the users' mean.
        """
        cfg = self.config
        window = self._violations[-cfg.dual_window_slots:]
        if not window:
            return self.multiplier
        per_user = np.mean(np.asarray(window, dtype=float), axis=0)  # [n_u] (or scalar)
        rate = (np.max(per_user) if cfg.dual_statistic is DualStatistic.WORST
                else np.mean(per_user))
        excess = float(rate) - (1.0 - self.env.config.reliability)
        self.multiplier_integral = float(np.clip(self.multiplier_integral + cfg.dual_lr * excess,
                                                 0.0, cfg.multiplier_max))
        self.multiplier = float(np.clip(self.multiplier_integral
                                        + cfg.dual_proportional * excess, 0.0,
                                        cfg.multiplier_max))
        self.env.lagrange_multiplier = self.multiplier
        self._violations = self._violations[-cfg.dual_window_slots:]
        return self.multiplier

    # ------------------------------------------------------------------------------------------
    # the loop

    def run_episode(self, total_steps: int,
                    on_step: Callable[[int], None] | None = None) -> EpisodeStats:
        """
        Play one training episode (Algorithm 1, lines 3-11): act, store in both buffers, update
        both agents, update λ. ``total_steps`` sets the exploration decay.
        """
        cfg = self.config
        env = self.env
        env.lagrange_multiplier = self.multiplier
        obs, _ = env.reset(seed=int(self.rng.integers(2**31)) if self.episodes == 0 else None)
        ret = np.zeros(2)
        sums = np.zeros(8)
        count = 0
        losses: list[tuple[float, float]] = []
        done = False
        while not done:
            if self.total_steps < cfg.learning_starts:
                action = self.rng.uniform(-1.0, 1.0, self.n_actions).astype(np.float32)
            else:
                action = self.act(obs, self.noise_std_at(self.total_steps, total_steps))
            next_obs, _, terminated, truncated, info = env.step(action)
            a1, a2 = self.agents
            r1, r2 = info['reward_embb'], info['reward_urllc_unconstrained']
            if cfg.reward_form is RewardForm.SHAPED:
                # subtract the potential-based term L(s) - γ L(s') = -ΔL + (1 - γ) L(s')
                r1 += info['drift_embb'] - (1.0 - cfg.gamma) * info['lyapunov_embb']
                r2 += info['drift_urllc'] - (1.0 - cfg.gamma) * info['lyapunov_urllc']
            a1.buffer.add(obs, action[a1.columns], r1, next_obs, terminated)
            a2.buffer.add(obs, action[a2.columns], r2, next_obs, terminated,
                          slack=info['constraint_slack'])
            violations = info['violations']
            if self.total_steps >= cfg.learning_starts:  # random actions say nothing of π
                self._violations.append(np.asarray(violations, dtype=float))
            ret += (info['reward_embb'], info['reward_urllc'])
            rates = info['rates_bps']
            sums += (float(np.mean(info['embb_queue_packets'])),
                     float(np.mean(info['urllc_queue_packets'])), float(np.mean(violations)),
                     float(np.mean(rates[:self.n_embb])), float(np.mean(rates[self.n_embb:])),
                     float(np.mean(info['urllc_delay_s'])), float(np.mean(info['dexterity'])),
                     0.0)
            count += 1
            self.total_steps += 1
            if (self.total_steps >= cfg.learning_starts
                    and self.total_steps % cfg.train_every == 0
                    and a1.buffer.size >= cfg.batch_size):
                losses.append(self.update())
            if self.total_steps > cfg.learning_starts and self.total_steps % cfg.dual_every == 0:
                self.dual_update()
                env.lagrange_multiplier = self.multiplier
            obs = next_obs
            done = terminated or truncated
            if on_step is not None:
                on_step(1)
        self.episodes += 1
        mean = sums / max(count, 1)
        critic = float(np.mean([c for c, _ in losses])) if losses else math.nan
        actor_values = [a for _, a in losses if not math.isnan(a)]
        actor = float(np.mean(actor_values)) if actor_values else math.nan
        return EpisodeStats(self.episodes, self.total_steps, float(ret.sum()), float(ret[0]),
                            float(ret[1]), float(mean[0]), float(mean[1]), float(mean[2]),
                            float(mean[3] / 1e6), float(mean[4] / 1e6), float(mean[5] * 1e3),
                            float(mean[6]), self.multiplier, critic, actor)

    # ------------------------------------------------------------------------------------------
    # export and checkpoints

    def policy(self, metadata: dict[str, Any] | None = None) -> SlicingPolicy:
        """The deterministic actors as a torch-free :class:`SlicingPolicy`."""
        env_cfg = self.env.config
        meta = {'env_config': env_cfg.model_dump(mode='json'),
                'agent_config': self.config.model_dump(mode='json'),
                'lagrange_multiplier': self.multiplier, 'total_steps': self.total_steps,
                'episodes': self.episodes, 'seed': self.seed}
        meta.update(metadata or {})
        return SlicingPolicy(actor_layers(self.agents[0].actor),
                             actor_layers(self.agents[1].actor), env_cfg.n_embb,
                             env_cfg.n_urllc, env_cfg.n_prb, env_cfg.action_logit_scale, meta)

    def checkpoint_bytes(self) -> bytes:
        """Everything needed to resume training exactly: networks, optimisers, buffers, λ,
        counters and every generator (the environment's included)."""
        doc = {
            'agents': [{'actor': a.actor.state_dict(), 'actor_target': a.actor_target.state_dict(),
                        'critic': a.critic.state_dict(),
                        'critic_target': a.critic_target.state_dict(),
                        'actor_opt': a.actor_opt.state_dict(),
                        'critic_opt': a.critic_opt.state_dict(),
                        'buffer': a.buffer.state_dict()} for a in self.agents],
            'multiplier': self.multiplier, 'multiplier_integral': self.multiplier_integral,
            'total_steps': self.total_steps,
            'episodes': self.episodes, 'updates': self.updates,
            'violations': list(self._violations),
            'rng': self.rng.bit_generator.state, 'torch_gen': self.torch_gen.get_state(),
            'env_rng': self.env.np_random.bit_generator.state,
            'config': self.config.model_dump(mode='json'), 'seed': self.seed,
        }
        buffer = io.BytesIO()
        torch.save(doc, buffer)
        return buffer.getvalue()

    def load_checkpoint_bytes(self, data: bytes) -> None:
        """Restore :meth:`checkpoint_bytes` (the environment's generator included)."""
        doc = torch.load(io.BytesIO(data), weights_only=False)
        for agent, saved in zip(self.agents, doc['agents']):
            agent.actor.load_state_dict(saved['actor'])
            agent.actor_target.load_state_dict(saved['actor_target'])
            agent.critic.load_state_dict(saved['critic'])
            agent.critic_target.load_state_dict(saved['critic_target'])
            agent.actor_opt.load_state_dict(saved['actor_opt'])
            agent.critic_opt.load_state_dict(saved['critic_opt'])
            agent.buffer.load_state_dict(saved['buffer'])
        self.multiplier = float(doc['multiplier'])
        self.multiplier_integral = float(doc['multiplier_integral'])
        self.env.lagrange_multiplier = self.multiplier
        self.total_steps = int(doc['total_steps'])
        self.episodes = int(doc['episodes'])
        self.updates = int(doc['updates'])
        self._violations = list(doc['violations'])
        self.rng.bit_generator.state = doc['rng']
        self.torch_gen.set_state(doc['torch_gen'])
        if self.episodes > 0:
            self.env.reset(seed=0)  # creates the generator, then its state is replaced
            self.env.np_random.bit_generator.state = doc['env_rng']
