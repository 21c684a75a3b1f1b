"""
Dual-agent actor-critic with replay buffers and a Lagrange multiplier: two agents act on disjoint
parts of one joint action and learn from their own rewards, under one constraint on a violation
rate that a multiplier λ prices into the second agent's reward (seed 003 §IV-C, Algorithm 1; the
slicing task wraps it: :class:`~ior_ros.core.slicing.agents.DualAgentSlicer`).

What the seed says and what we build
------------------------------------
Algorithm 1 is titled "Dual-Agent DDPG" and uses a replay buffer per agent; the text calls the
method A2C. A2C is on-policy (it learns from the rollouts of the current policy and has no replay
buffer), while the action here is a vector of continuous shares. The consistent reading is the
algorithm box: an off-policy deterministic actor-critic with replay buffers, i.e. the DDPG family.
We use its standard correction, **TD3** (Fujimoto, van Hoof, Meger, "Addressing Function
Approximation Error in Actor-Critic Methods", ICML 2018): twin critics with the minimum in the
target, target-policy smoothing noise and delayed actor updates. Each agent k ∈ {1, 2} has

* an actor ``π_k(s)`` with outputs in [-1, 1]: the action entries of its own columns (agent 1
  ``[0, n_1)``, agent 2 ``[n_1, n_1 + n_2)``), built by the caller (``make_actor``; the slicer's
  actor is shared by the users of its slice);
* twin critics ``Q_k(s, a_1, a_2)`` trained on its own reward; the critics see the joint action
  because the two agents share one resource (in the slicing task one softmax over all users), so
  either agent's reward depends on both actions (centralised critics, decentralised actors: Lowe
  et al., "Multi-Agent Actor-Critic for Mixed Cooperative-Competitive Environments", NeurIPS 2017);
* its own replay buffer of ``(s, a_k, r_k, s')``; both buffers are written at the same index each
  step and sampled with the same indices, so a critic gets the other agent's action of the same
  transition.

**Coupling of the actors.** With selfish actors (each maximising its own critic) the two agents
play a tug of war over the shared resource: each raises its logits, and the split drifts to the
equal share whatever the state (``actor_objective: own`` keeps this for comparison). By default
(``team``) each actor follows the gradient of ``Q_1 + Q_2``, the critic estimate of the whole
Lagrangian ``r1 + r2`` (value decomposition: Sunehag et al., VDN, AAMAS 2018).

**Lagrange multiplier.** λ ≥ 0 is updated by projected dual ascent on the constraint "violation
rate <= budget" (the slicer: URLLC reliability 8a, budget 1 - χ),
``λ ← [λ + η (v̂ - budget)]^+``, where v̂ is the measured fraction of violations (per constrained
unit: worst or mean) over the last ``dual_window_slots``; it is agent 2's (Algorithm 1, line 9)
and runs on a slower time scale than the critics (Tessler, Mankowitz, Mannor, "Reward Constrained
Policy Optimization", ICLR 2019). Agent 2's buffer stores the reward without the multiplier term
and the constraint slack Σ y separately, so sampled rewards always use the current λ:
``r2 = r2_unconstrained + λ slack``.

What comes from stable-baselines3 and what is ours
--------------------------------------------------
From SB3: the network builder ``stable_baselines3.common.torch_layers.create_mlp`` and the target
update ``stable_baselines3.common.utils.polyak_update``. Ours: the two-agent learner, the replay
buffers (SB3's ``ReplayBuffer`` samples with numpy's global generator, and every draw here must
come from an explicit generator so that a seed gives one trajectory), the joint-action critics,
the team actor objective and the dual ascent. SB3's single-agent ``TD3.learn`` cannot express two
actors acting on one environment step with separate rewards.

The environment loop is the caller's: :meth:`DualAgentTD3.explore` picks the action to take,
:meth:`DualAgentTD3.observe` stores the transition and learns on schedule.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from stable_baselines3.common.torch_layers import create_mlp
from stable_baselines3.common.utils import polyak_update
from torch import nn

from ior_ros.core.errors import ModelError
from ior_ros.core.rl.dual_agent_config import ActorObjective, DualAgentConfig, DualStatistic

__all__ = ['ReplayBuffer', 'ActorFactory', 'DualAgentTD3']

FloatArray = npt.NDArray[np.float64]

ActorFactory = Callable[[int, Sequence[int]], nn.Module]
"""``make_actor(k, hidden)``: agent k's actor (k = 0, 1) with hidden widths ``hidden``, a module
mapping observations ``[B, obs_dim]`` to that agent's actions ``[B, n_k]`` in [-1, 1]."""


class ReplayBuffer:
    """
    A ring buffer of one agent's transitions ``(s, a_k, r_k[, slack], s', done)`` with sampling
    from an explicit generator.

    Args:
        capacity: maximum transitions.
        obs_dim, action_dim: sizes.
        with_slack: also store the constraint slack Σ y (the constrained agent 2).
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


class _Critic(nn.Module):
    """Twin Q networks ``Q(s, a)`` of one agent."""

    def __init__(self, in_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.q1 = nn.Sequential(*create_mlp(in_dim, 1, list(hidden)))
        self.q2 = nn.Sequential(*create_mlp(in_dim, 1, list(hidden)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.q1(x).squeeze(-1), self.q2(x).squeeze(-1)


@dataclass
class _Agent:
    actor: nn.Module
    actor_target: nn.Module
    critic: _Critic
    critic_target: _Critic
    actor_opt: torch.optim.Adam
    critic_opt: torch.optim.Adam
    buffer: ReplayBuffer
    columns: slice


class DualAgentTD3:
    """
    The two agents of Algorithm 1 (see the module docstring).

    Args:
        obs_dim: observation size.
        action_sizes: ``(n_1, n_2)``: agent 1 owns the joint action's entries ``[0, n_1)``,
            agent 2 the next ``n_2``.
        make_actor: builds each agent's actor (:data:`ActorFactory`); called for the actor, then
            for its target, after ``torch.manual_seed(seed)``.
        violation_budget: the constraint's allowed violation rate (the slicer: 1 - χ).
        config: hyper-parameters.
        seed: seeds the networks, the exploration noise and buffer sampling.
        multiplier: λ at the start (>= 0).
    """

    def __init__(self, obs_dim: int, action_sizes: tuple[int, int], make_actor: ActorFactory,
                 violation_budget: float, config: DualAgentConfig | None = None,
                 seed: int = 0, multiplier: float = 0.0) -> None:
        self.config = config or DualAgentConfig()
        cfg = self.config
        n_1, n_2 = (int(n) for n in action_sizes)
        if n_1 < 1 or n_2 < 1:
            raise ModelError(f'action_sizes = {action_sizes}: each agent needs >= 1 action')
        self.obs_dim = int(obs_dim)
        self.n_actions = n_1 + n_2
        self.violation_budget = float(violation_budget)
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.torch_gen = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)  # network initialisation
        in_critic = self.obs_dim + self.n_actions
        self.agents: list[_Agent] = []
        for k, (columns, slack) in enumerate(((slice(0, n_1), False),
                                              (slice(n_1, self.n_actions), True))):
            n_out = columns.stop - columns.start
            actor = make_actor(k, cfg.actor_hidden)
            critic = _Critic(in_critic, cfg.critic_hidden)
            actor_target = make_actor(k, cfg.actor_hidden)
            critic_target = _Critic(in_critic, cfg.critic_hidden)
            actor_target.load_state_dict(actor.state_dict())
            critic_target.load_state_dict(critic.state_dict())
            self.agents.append(_Agent(
                actor, actor_target, critic, critic_target,
                torch.optim.Adam(actor.parameters(), lr=cfg.actor_lr),
                torch.optim.Adam(critic.parameters(), lr=cfg.critic_lr),
                ReplayBuffer(cfg.buffer_size, self.obs_dim, n_out, with_slack=slack), columns))
        self.multiplier = float(multiplier)
        self.multiplier_integral = self.multiplier
        self.total_steps = 0
        self.updates = 0
        self._violations: list[Any] = []  # per step: violation flags per unit (or a rate)

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

    def explore(self, obs: npt.ArrayLike, total_steps: int) -> npt.NDArray[np.float32]:
        """
        The action to take while training: uniform in [-1, 1] before ``learning_starts`` steps,
        then the actors plus Gaussian noise decaying linearly over ``total_steps`` (the run's
        length).
        """
        if self.total_steps < self.config.learning_starts:
            return self.rng.uniform(-1.0, 1.0, self.n_actions).astype(np.float32)
        return self.act(obs, self.noise_std_at(self.total_steps, total_steps))

    # ------------------------------------------------------------------------------------------
    # learning

    def observe(self, obs: npt.ArrayLike, action: npt.NDArray[Any], rewards: tuple[float, float],
                next_obs: npt.ArrayLike, terminated: bool, slack: float,
                violations: npt.ArrayLike) -> tuple[float, float] | None:
        """
        Store one step and learn on schedule (Algorithm 1, lines 5-9).

        Args:
            obs, action, next_obs, terminated: the transition (``action`` the joint action).
            rewards: ``(r1, r2)``, r2 without the multiplier term.
            slack: the constraint slack Σ y of the step (r2 gets ``+ λ slack`` when sampled).
            violations: the step's violation flags per constrained unit (or a rate); counted for
                the dual ascent once learning has started (random actions say nothing of π).

        Returns:
            ``(critic_loss, actor_loss)`` of the TD3 update made after this step, or None.
        """
        cfg = self.config
        a1, a2 = self.agents
        a1.buffer.add(obs, action[a1.columns], rewards[0], next_obs, terminated)
        a2.buffer.add(obs, action[a2.columns], rewards[1], next_obs, terminated, slack=slack)
        if self.total_steps >= cfg.learning_starts:  # random actions say nothing of π
            self._violations.append(np.asarray(violations, dtype=float))
        self.total_steps += 1
        losses = None
        if (self.total_steps >= cfg.learning_starts
                and self.total_steps % cfg.train_every == 0
                and a1.buffer.size >= cfg.batch_size):
            losses = self.update()
        if self.total_steps > cfg.learning_starts and self.total_steps % cfg.dual_every == 0:
            self.dual_update()
        return losses

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
        ``e = v̂ - budget``; v̂ is the worst constrained unit's violation rate over the window
        (``dual_statistic = worst``; the slicer's constraint 8a holds for every URLLC user) or
        the units' mean.
        """
        cfg = self.config
        window = self._violations[-cfg.dual_window_slots:]
        if not window:
            return self.multiplier
        per_unit = np.mean(np.asarray(window, dtype=float), axis=0)  # [units] (or scalar)
        rate = (np.max(per_unit) if cfg.dual_statistic is DualStatistic.WORST
                else np.mean(per_unit))
        excess = float(rate) - self.violation_budget
        self.multiplier_integral = float(np.clip(self.multiplier_integral + cfg.dual_lr * excess,
                                                 0.0, cfg.multiplier_max))
        self.multiplier = float(np.clip(self.multiplier_integral
                                        + cfg.dual_proportional * excess, 0.0,
                                        cfg.multiplier_max))
        self._violations = self._violations[-cfg.dual_window_slots:]
        return self.multiplier

    # ------------------------------------------------------------------------------------------
    # checkpoints

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume learning exactly: networks, optimisers, buffers, λ,
        counters and the generators."""
        return {
            'agents': [{'actor': a.actor.state_dict(), 'actor_target': a.actor_target.state_dict(),
                        'critic': a.critic.state_dict(),
                        'critic_target': a.critic_target.state_dict(),
                        'actor_opt': a.actor_opt.state_dict(),
                        'critic_opt': a.critic_opt.state_dict(),
                        'buffer': a.buffer.state_dict()} for a in self.agents],
            'multiplier': self.multiplier, 'multiplier_integral': self.multiplier_integral,
            'total_steps': self.total_steps, 'updates': self.updates,
            'violations': list(self._violations),
            'rng': self.rng.bit_generator.state, 'torch_gen': self.torch_gen.get_state(),
            'config': self.config.model_dump(mode='json'), 'seed': self.seed,
        }

    def load_state_dict(self, doc: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (other keys are ignored)."""
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
        self.total_steps = int(doc['total_steps'])
        self.updates = int(doc['updates'])
        self._violations = list(doc['violations'])
        self.rng.bit_generator.state = doc['rng']
        self.torch_gen.set_state(doc['torch_gen'])
