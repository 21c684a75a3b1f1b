"""
Twin-assisted SAC (seed 000 §III, Fig. 3 and 4): three variants on one training loop.

* ``sac``: soft actor-critic on real transitions only (:mod:`ior_ros.core.rl.soft_actor_critic`;
  why our own SAC and not stable-baselines3's is explained there).
* ``twin``: the digital twin (a :class:`~ior_ros.core.twin.twin.DigitalTwin`, the seed's predict
  network) is trained on the real buffer; it (a) fills a *twin buffer* with predicted transitions
  ``(s, a, r̂, ŝ')`` from real states ``s`` and current-policy actions ``a`` (one-step branches, as
  in MBPO), which the agent samples in every minibatch at ratio ``twin.twin_ratio``; and (b) runs
  the **risk gate** before every real step: an action predicted to give a reward below the
  threshold or a fall is not sent (:mod:`ior_ros.core.twin.risk_gate`); the vetoed proposal and its
  predicted outcome go into the twin buffer, so the agent learns from the fall it did not take.
* ``twin_gan``: as ``twin``, plus a WGAN trained on the real ``(s, a)`` pairs; once its samples
  match the data's first two moments, a share ``twin.gan_fraction`` of the twin transitions comes
  from GAN pairs ``(ŝ, â)`` pushed through the predict network (the seed's "fake samples ŝ_t and
  â_t").

Schedule (real environment steps ``t``; every number is in :class:`TwinTrainConfig`):

* ``t < learning_starts``: uniform random actions (the twin's first data), no updates;
* from ``twin.start_steps`` and every ``twin.train_every_steps``: refit the predict network (warm
  start), measure its held-out error on every ``twin.holdout_every``-th real transition (never
  trained on); the twin is *trusted* (gate on, twin data used) while the reward and state-change
  nMSE are both below ``twin.max_trusted_nmse``; train the GAN; regenerate twin transitions;
* from ``learning_starts``: ``agent.gradient_steps`` SAC updates per real step on mixed
  minibatches.

An *epoch* is ``epoch_steps`` (1000) real steps; falls are counted by
:class:`~ior_ros.core.rl.envs.FallCounter` (terminations, not time-limit truncations). The reward
of an epoch is the mean return of ``eval_episodes`` deterministic-policy episodes on a separate
evaluation environment after the epoch (the training-episode return is reported beside it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from pydantic import Field

from ior_ros.core.config import FrozenModel, config_to_dict, why
from ior_ros.core.errors import ConfigError
from ior_ros.core.rl.envs import HOPPER_ENV_ID, FallCounter, FallCounts
from ior_ros.core.rl.soft_actor_critic import SacAgent, SacConfig
from ior_ros.core.twin.buffers import TransitionBuffer, Transitions, sample_mixed
from ior_ros.core.twin.gan import GanConfig, Wgan
from ior_ros.core.twin.risk_gate import GateOutcome, RiskGate, RiskGateConfig
from ior_ros.core.twin.twin import DigitalTwin, TerminationFn, TwinSpec
from ior_ros.core.twin.world_model import WorldModelConfig

__all__ = ['VARIANTS', 'Variant', 'TwinScheduleConfig', 'TwinTrainConfig', 'EpochStats',
           'TwinSacTrainer', 'EPOCH_COLUMNS']

Variant = Literal['sac', 'twin', 'twin_gan']
VARIANTS: tuple[str, ...] = ('sac', 'twin', 'twin_gan')


class TwinScheduleConfig(FrozenModel):
    """When and how the twin is trained and used (docs/models/twin.md)."""

    start_steps: int = Field(1000, ge=1)
    """Real steps before the predict network is first trained."""
    train_every_steps: int = Field(250, ge=1)
    """Refit period (real steps)."""
    initial_train_steps: int = Field(1000, ge=0)
    """Gradient steps of the first fit."""
    train_steps: int = Field(100, ge=0)
    """Gradient steps of each later (warm-started) refit."""
    holdout_every: int = Field(10, ge=2)
    """Every n-th real transition is held out from model training (error measurement)."""
    holdout_size: int = Field(5000, ge=10, le=1_000_000, json_schema_extra=why(
        'the held-out transitions are kept and evaluated at every refresh'))
    """Most recent held-out transitions kept."""
    max_trusted_nmse: float = Field(0.5, gt=0.0)
    """The twin is used while its held-out reward and state-change nMSE are below this."""
    twin_ratio: float = Field(0.5, ge=0.0, le=1.0)
    """Share of each SAC minibatch drawn from the twin buffer."""
    twin_buffer_size: int = Field(50_000, ge=1, le=10_000_000, json_schema_extra=why(
        'the buffer is allocated up front, about 100 bytes per transition for Hopper'))
    """Twin buffer capacity (FIFO)."""
    samples_per_refresh: int = Field(10_000, ge=0, le=10_000_000, json_schema_extra=why(
        'imagined samples are generated in one go'))
    """Twin transitions generated at every refit."""
    max_sample_uncertainty: float = Field(1.0, gt=0.0)
    """Generated twin transitions with a larger ensemble disagreement are dropped."""
    store_vetoed: bool = True
    """Put each vetoed proposal with its predicted outcome into the twin buffer."""
    gan_fraction: float = Field(0.5, ge=0.0, le=1.0)
    """twin_gan: share of the generated twin transitions that start from GAN samples."""
    gan_actions: Literal['gan', 'policy'] = 'gan'
    """twin_gan: the action of a GAN transition is the GAN's â (seed) or the policy's."""
    gan_initial_iterations: int = Field(1000, ge=0)
    """GAN generator iterations at the first refit."""
    gan_iterations: int = Field(100, ge=0)
    """GAN generator iterations at each later refit."""
    gan_max_moment_error: float = Field(0.5, gt=0.0)
    """GAN samples are used while their moment errors (in data std) are below this."""
    gan_moment_samples: int = Field(2000, ge=10, le=1_000_000, json_schema_extra=why(
        'the samples are drawn in one batch'))
    """Samples used to measure the GAN's moment error."""


class TwinTrainConfig(FrozenModel):
    """A twin-assisted SAC run (``ior train twin``; defaults in config/twin.yaml)."""

    env_id: str = HOPPER_ENV_ID
    """Gymnasium environment id (1-D Box spaces)."""
    variant: Variant = 'twin_gan'
    """sac, twin (world model, no GAN) or twin_gan."""
    seed: int = Field(0, ge=0, le=2**32 - 1, json_schema_extra=why('a 32-bit seed'))
    """Seeds the environment, numpy and torch generators."""
    epochs: int = Field(50, ge=1, le=10_000, json_schema_extra=why(
        'each epoch is epoch_steps of training; the limit is already weeks on two cores'))
    """Epochs to run (seed Fig. 4b: 50)."""
    epoch_steps: int = Field(1000, ge=1, le=1_000_000, json_schema_extra=why(
        "an epoch's rows are kept and checkpointed only at its end"))
    """Real environment steps per epoch (seed: 1000)."""
    learning_starts: int = Field(1000, ge=1)
    """Uniform random steps before the first SAC update."""
    real_buffer_size: int = Field(1_000_000, ge=1, le=10_000_000, json_schema_extra=why(
        'the buffer is allocated up front, about 100 bytes per transition for Hopper'))
    """Real replay buffer capacity."""
    eval_episodes: int = Field(5, ge=0, le=1000, json_schema_extra=why(
        'the evaluation episodes run after every epoch'))
    """Deterministic evaluation episodes after each epoch (0: none; reward = training return)."""
    eval_max_steps: int = Field(1000, ge=1, le=1_000_000, json_schema_extra=why(
        'an evaluation episode runs to its end after every epoch'))
    """Step cap of an evaluation episode."""
    eval_with_gate: bool = False
    """Evaluate the policy behind the gate (False: the bare policy, comparable across variants)."""
    agent: SacConfig = SacConfig()
    """SAC."""
    world_model: WorldModelConfig = WorldModelConfig()
    """Predict network."""
    gan: GanConfig = GanConfig()
    """GAN."""
    twin: TwinScheduleConfig = TwinScheduleConfig()
    """Twin schedule."""
    gate: RiskGateConfig = RiskGateConfig()
    """Risk gate."""


EPOCH_COLUMNS: tuple[str, ...] = (
    'epoch', 'env_steps', 'reward', 'train_return', 'episodes', 'falls', 'truncations', 'vetoes',
    'untrusted', 'twin_trusted', 'twin_buffer', 'twin_fraction', 'model_reward_nmse',
    'model_state_nmse', 'model_delta_nmse', 'gan_mean_error', 'gan_cov_error', 'critic_loss',
    'actor_loss', 'alpha', 'q_mean', 'updates')


@dataclass(frozen=True)
class EpochStats:
    """
    One epoch (one CSV row).

    Attributes:
        epoch: 1-based epoch index.
        env_steps: real steps so far.
        reward: mean deterministic evaluation return (training return when eval_episodes = 0).
        train_return: mean return of the training episodes that ended in this epoch (NaN if none).
        episodes, falls, truncations: ends of training episodes in this epoch.
        vetoes: proposals the gate replaced; untrusted: predictions the gate did not trust.
        twin_trusted: the twin was trusted at the end of the epoch.
        twin_buffer: twin transitions held; twin_fraction: their mean share of the minibatches.
        model_*_nmse: last held-out errors of the predict network (NaN before it is trained).
        gan_mean_error, gan_cov_error: last GAN moment errors (NaN without GAN).
        critic_loss, actor_loss, alpha, q_mean: means over the epoch's updates (NaN without).
        updates: SAC updates so far.
    """

    epoch: int
    env_steps: int
    reward: float
    train_return: float
    episodes: int
    falls: int
    truncations: int
    vetoes: int
    untrusted: int
    twin_trusted: bool
    twin_buffer: int
    twin_fraction: float
    model_reward_nmse: float
    model_state_nmse: float
    model_delta_nmse: float
    gan_mean_error: float
    gan_cov_error: float
    critic_loss: float
    actor_loss: float
    alpha: float
    q_mean: float
    updates: int

    def as_row(self) -> list[Any]:
        """Values in :data:`EPOCH_COLUMNS` order."""
        data = asdict(self)
        return [data[name] for name in EPOCH_COLUMNS]


def _nan_mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float('nan')


def _to_torch(state: dict[str, Any]) -> dict[str, Any]:
    """numpy arrays → tensors (checkpoints load with ``weights_only=True``)."""
    return {k: torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v
            for k, v in state.items()}


def _to_numpy(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in state.items()}


class TwinSacTrainer:
    """
    The training loop of one variant.

    Args:
        config: the run.
        env: the training ("physical") environment; wrapped in a FallCounter if it is not one.
        eval_env: evaluation environment (None: no evaluation; reward = training return).
        termination_fn: known termination function for the twin (Hopper's health check).
    """

    def __init__(self, config: TwinTrainConfig, env: gym.Env[Any, Any],
                 eval_env: gym.Env[Any, Any] | None = None,
                 termination_fn: TerminationFn | None = None) -> None:
        self.config = config
        self.env = env if isinstance(env, FallCounter) else FallCounter(env)
        self.eval_env = eval_env
        self.spec = TwinSpec.from_env(env)
        spec = self.spec
        self.rng = np.random.default_rng(config.seed)
        self.torch_gen = torch.Generator().manual_seed(config.seed)
        self.agent = SacAgent(spec.obs_dim, spec.act_dim, spec.act_low, spec.act_high,
                              config.agent, self.torch_gen)
        self.real = TransitionBuffer(config.real_buffer_size, spec.obs_dim, spec.act_dim)
        self.uses_twin = config.variant in ('twin', 'twin_gan')
        self.twin: DigitalTwin | None = None
        self.twin_buffer: TransitionBuffer | None = None
        self.model_train: TransitionBuffer | None = None
        self.holdout: TransitionBuffer | None = None
        self.gate: RiskGate | None = None
        self.gan: Wgan | None = None
        if self.uses_twin:
            sched = config.twin
            self.twin = DigitalTwin(spec, config.world_model, termination_fn, self.torch_gen)
            self.twin_buffer = TransitionBuffer(sched.twin_buffer_size, spec.obs_dim, spec.act_dim)
            self.model_train = TransitionBuffer(config.real_buffer_size, spec.obs_dim,
                                                spec.act_dim)
            self.holdout = TransitionBuffer(sched.holdout_size, spec.obs_dim, spec.act_dim)
            self.gate = RiskGate(config.gate, spec)
            if config.variant == 'twin_gan':
                self.gan = Wgan(spec.obs_dim + spec.act_dim, config.gan, self.torch_gen)
        self.twin_trusted = False
        self.gan_trusted = False
        self.gan_errors = (float('nan'), float('nan'))
        self.total_steps = 0
        self.epoch = 0
        self.history: list[EpochStats] = []
        self._obs: np.ndarray | None = None
        self._prev_action: np.ndarray | None = None
        self._resets = 0
        self._next_reset_seed: int | None = config.seed
        self._eval_episodes_done = 0
        self.gate_counts = {outcome.value: 0 for outcome in GateOutcome}

    # ----------------------------------------------------------------- the loop
    def _reset_env(self) -> np.ndarray:
        seed, self._next_reset_seed = self._next_reset_seed, None
        self._resets += 1
        obs, _ = self.env.reset(seed=seed)
        self._prev_action = None
        return np.asarray(obs, dtype=np.float32)

    def _propose(self, obs: np.ndarray) -> np.ndarray:
        if self.total_steps < self.config.learning_starts:
            return self.rng.uniform(self.spec.act_low, self.spec.act_high).astype(np.float32)
        return self.agent.act(obs)

    def run_epoch(self, on_step: Callable[[int], None] | None = None) -> EpochStats:
        """Run ``epoch_steps`` real steps (with updates and twin refits), then evaluate."""
        cfg = self.config
        start = self.env.counts.copy()
        gate_before = dict(self.gate_counts)
        losses: dict[str, list[float]] = {'critic_loss': [], 'actor_loss': [], 'alpha': [],
                                          'q_mean': []}
        twin_rows = 0
        batch_rows = 0
        for _ in range(cfg.epoch_steps):
            if self._obs is None:
                self._obs = self._reset_env()
            obs = self._obs
            proposal = self._propose(obs)
            action = self._gate(obs, proposal)
            next_obs, reward, terminated, truncated, _ = self.env.step(action)
            next_obs = np.asarray(next_obs, dtype=np.float32)
            self._store(obs, action, float(reward), next_obs, bool(terminated))
            self._prev_action = action
            self._obs = None if (terminated or truncated) else next_obs
            self.total_steps += 1
            if self.uses_twin and self.total_steps >= cfg.twin.start_steps and \
                    (self.total_steps - cfg.twin.start_steps) % cfg.twin.train_every_steps == 0:
                self.refresh_twin()
            if self.total_steps >= cfg.learning_starts:
                for _ in range(cfg.agent.gradient_steps):
                    twin = self.twin_buffer if self.twin_trusted else None
                    batch, n_twin = sample_mixed(self.real, twin, cfg.agent.batch_size,
                                                 cfg.twin.twin_ratio, self.rng)
                    for key, value in self.agent.update(batch).items():
                        losses[key].append(value)
                    twin_rows += n_twin
                    batch_rows += len(batch)
            if on_step is not None:
                on_step(1)
        self.epoch += 1
        end = self.env.counts
        returns = end.returns[len(start.returns):]
        reward = self.evaluate() if (self.eval_env is not None and cfg.eval_episodes > 0) \
            else _nan_mean(returns)
        errors = self.twin.errors if self.twin is not None else None
        stats = EpochStats(
            epoch=self.epoch, env_steps=self.total_steps, reward=reward,
            train_return=_nan_mean(returns), episodes=end.episodes - start.episodes,
            falls=end.falls - start.falls, truncations=end.truncations - start.truncations,
            vetoes=sum(self.gate_counts[o.value] - gate_before[o.value]
                       for o in (GateOutcome.VETOED_REWARD, GateOutcome.VETOED_FALL)),
            untrusted=self.gate_counts['untrusted'] - gate_before['untrusted'],
            twin_trusted=self.twin_trusted,
            twin_buffer=self.twin_buffer.size if self.twin_buffer is not None else 0,
            twin_fraction=twin_rows / batch_rows if batch_rows else 0.0,
            model_reward_nmse=errors.reward_nmse if errors else float('nan'),
            model_state_nmse=errors.state_nmse if errors else float('nan'),
            model_delta_nmse=errors.delta_nmse if errors else float('nan'),
            gan_mean_error=self.gan_errors[0], gan_cov_error=self.gan_errors[1],
            critic_loss=_nan_mean(losses['critic_loss']),
            actor_loss=_nan_mean(losses['actor_loss']), alpha=_nan_mean(losses['alpha']),
            q_mean=_nan_mean(losses['q_mean']), updates=self.agent.updates_done)
        self.history.append(stats)
        return stats

    def _gate(self, obs: np.ndarray, proposal: np.ndarray) -> np.ndarray:
        if self.gate is None or self.twin is None or not self.twin_trusted \
                or not self.config.gate.enabled:
            return proposal
        decision = self.gate.decide(self.twin, obs, proposal,
                                    policy=self.agent.deterministic_policy,
                                    sampler=self.agent.sample_candidates,
                                    previous_action=self._prev_action)
        self.gate_counts[decision.outcome.value] += 1
        if decision.vetoed and self.config.twin.store_vetoed and self.twin_buffer is not None:
            self.twin_buffer.add(obs, proposal, decision.proposed_reward,
                                 decision.proposed_next_obs, decision.proposed_terminated)
        return decision.action

    def _store(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray,
               terminated: bool) -> None:
        self.real.add(obs, action, reward, next_obs, terminated)
        if self.model_train is None or self.holdout is None:
            return
        if self.real.total_added % self.config.twin.holdout_every == 0:
            self.holdout.add(obs, action, reward, next_obs, terminated)
        else:
            self.model_train.add(obs, action, reward, next_obs, terminated)

    # ----------------------------------------------------------------- twin
    def refresh_twin(self) -> None:
        """Refit the predict network (and GAN), judge trust, regenerate twin transitions."""
        cfg = self.config.twin
        twin, model_train, holdout = self.twin, self.model_train, self.holdout
        if twin is None or model_train is None or holdout is None or model_train.size == 0:
            return
        steps = cfg.initial_train_steps if twin.trainer.steps_done == 0 else cfg.train_steps
        train_data = model_train.all()
        twin.fit(train_data, steps, self.rng)
        if holdout.size > 0:
            errors = twin.evaluate(holdout.all())
            self.twin_trusted = max(errors.reward_nmse, errors.delta_nmse) < cfg.max_trusted_nmse
        if self.gan is not None:
            pairs = np.concatenate([train_data.obs, train_data.action], axis=1)  # [N, d_s + d_a]
            iterations = cfg.gan_initial_iterations if self.gan.iterations_done == 0 \
                else cfg.gan_iterations
            self.gan.train(pairs, iterations, self.rng, self.torch_gen, refit_normalization=True)
            rows = pairs[self.rng.integers(0, len(pairs), size=min(len(pairs),
                                                                   cfg.gan_moment_samples))]
            moments = self.gan.moment_error(rows, cfg.gan_moment_samples, self.torch_gen)
            self.gan_errors = (moments.mean_error, moments.cov_error)
            worst = max(moments.mean_error, moments.cov_error)
            self.gan_trusted = worst < cfg.gan_max_moment_error
        if self.twin_trusted:
            self._generate_twin_samples()

    def _generate_twin_samples(self) -> None:
        cfg = self.config.twin
        twin, buffer = self.twin, self.twin_buffer
        if twin is None or buffer is None or cfg.samples_per_refresh == 0:
            return
        spec = self.spec
        n = cfg.samples_per_refresh
        n_gan = int(round(cfg.gan_fraction * n)) if (self.gan is not None and self.gan_trusted) \
            else 0
        parts: list[Transitions] = []
        if n - n_gan > 0:
            obs = self.real.sample(n - n_gan, self.rng).obs  # [n_real, d_s]
            parts.append(twin.transitions(obs, self.agent.act(obs), cfg.max_sample_uncertainty))
        if n_gan > 0 and self.gan is not None:
            pairs = self.gan.sample(n_gan, self.torch_gen)  # [n_gan, d_s + d_a]
            obs = pairs[:, :spec.obs_dim].astype(np.float32)  # [n_gan, d_s]
            action = pairs[:, spec.obs_dim:].astype(np.float32)  # [n_gan, d_a]
            if twin.termination_fn is not None:  # a GAN state that is itself a fall is off-support
                keep = ~np.asarray(twin.termination_fn(obs, action, obs), dtype=bool)  # [n_gan]
                obs, action = obs[keep], action[keep]
            if len(obs) > 0:
                if cfg.gan_actions == 'policy':
                    action = self.agent.act(obs)  # [n_kept, d_a]
                parts.append(twin.transitions(obs, spec.clip_action(action),
                                              cfg.max_sample_uncertainty))
        for part in parts:
            buffer.add_batch(part)

    # ----------------------------------------------------------------- evaluation
    def evaluate(self) -> float:
        """Mean return of ``eval_episodes`` deterministic episodes on the evaluation env."""
        cfg = self.config
        env = self.eval_env
        if env is None or cfg.eval_episodes == 0:
            return float('nan')
        returns = []
        for _ in range(cfg.eval_episodes):
            seed = 1_000_003 * (cfg.seed + 1) + self._eval_episodes_done
            self._eval_episodes_done += 1
            obs, _ = env.reset(seed=seed % (2 ** 31))
            total = 0.0
            for _ in range(cfg.eval_max_steps):
                o = np.asarray(obs, dtype=np.float32)
                action = self.agent.act(o, deterministic=True)
                if cfg.eval_with_gate and self.gate is not None and self.twin is not None \
                        and self.twin_trusted:
                    action = self.gate.decide(self.twin, o, action,
                                              policy=self.agent.deterministic_policy,
                                              sampler=self.agent.sample_candidates).action
                obs, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                if terminated or truncated:
                    break
            returns.append(total)
        return float(np.mean(returns))

    # ----------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume (the current episode is not saved: a resumed run starts a
        new episode)."""
        state: dict[str, Any] = {
            'format': 'ior_ros.twin_sac/1', 'config': config_to_dict(self.config),
            'epoch': self.epoch, 'total_steps': self.total_steps,
            'agent': self.agent.state_dict(), 'real': _to_torch(self.real.state_dict()),
            'rng': json.dumps(self.rng.bit_generator.state),
            'torch_gen': self.torch_gen.get_state(),
            'history': [asdict(s) for s in self.history],
            'counts': asdict(self.env.counts), 'gate_counts': dict(self.gate_counts),
            'twin_trusted': self.twin_trusted, 'gan_trusted': self.gan_trusted,
            'gan_errors': list(self.gan_errors), 'resets': self._resets,
            'eval_episodes_done': self._eval_episodes_done}
        if self.twin is not None and self.twin_buffer is not None and \
                self.model_train is not None and self.holdout is not None:
            state['twin'] = self.twin.trainer.state_dict()
            state['twin_errors'] = self.twin.errors.as_dict() if self.twin.errors else None
            state['twin_buffer'] = _to_torch(self.twin_buffer.state_dict())
            state['model_train'] = _to_torch(self.model_train.state_dict())
            state['holdout'] = _to_torch(self.holdout.state_dict())
        if self.gan is not None:
            state['gan'] = self.gan.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict` (the variant and spaces must agree)."""
        from ior_ros.core.twin.world_model import OneStepErrors
        if state.get('format') != 'ior_ros.twin_sac/1':
            raise ConfigError('not a twin-assisted SAC checkpoint (format ior_ros.twin_sac/1)')
        saved_variant = state['config']['variant']
        if saved_variant != self.config.variant:
            raise ConfigError(f'checkpoint is of variant {saved_variant!r}, this run is '
                              f'{self.config.variant!r}')
        self.agent.load_state_dict(state['agent'])
        self.real.load_state_dict(_to_numpy(state['real']))
        self.rng.bit_generator.state = json.loads(state['rng'])
        self.torch_gen.set_state(state['torch_gen'])
        self.epoch = int(state['epoch'])
        self.total_steps = int(state['total_steps'])
        self.history = [EpochStats(**row) for row in state['history']]
        counts = state['counts']
        self.env.counts = FallCounts(counts['steps'], counts['falls'], counts['truncations'],
                                     counts['episodes'], list(counts['returns']))
        self.gate_counts = dict(state['gate_counts'])
        self.twin_trusted = bool(state['twin_trusted'])
        self.gan_trusted = bool(state['gan_trusted'])
        self.gan_errors = (float(state['gan_errors'][0]), float(state['gan_errors'][1]))
        self._resets = int(state['resets'])
        self._eval_episodes_done = int(state['eval_episodes_done'])
        if self.twin is not None and self.twin_buffer is not None and \
                self.model_train is not None and self.holdout is not None:
            self.twin.trainer.load_state_dict(state['twin'])
            self.twin.model.eval()
            if state.get('twin_errors'):
                self.twin.errors = OneStepErrors(**state['twin_errors'])
            self.twin_buffer.load_state_dict(_to_numpy(state['twin_buffer']))
            self.model_train.load_state_dict(_to_numpy(state['model_train']))
            self.holdout.load_state_dict(_to_numpy(state['holdout']))
        if self.gan is not None:
            self.gan.load_state_dict(state['gan'])
        # a fresh, reproducible episode after a resume
        self._obs = None
        self._next_reset_seed = (self.config.seed + 7919 * (self.epoch + 1)) % (2 ** 31)

