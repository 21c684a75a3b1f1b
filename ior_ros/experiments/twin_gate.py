"""
Does the twin gate prevent falls? (issue 14, ``ior twin gate-eval``)

**Hopper** (:func:`run_gate_eval`, a finished ``ior train twin`` run): the run's agent
(deterministic policy) and twin, unchanged, on the same evaluation episodes with and without the
gate (``rule: risk``, ``fallback: plan`` unless told otherwise). Every seed ``s`` of ``--seeds``
runs ``steps / len(seeds)`` environment steps; episode ``j`` of seed ``s`` starts from
``reset(seed=1000 s + j)`` in both arms, and a fallen or finished episode is followed by the next
one, so both arms are measured over the same number of steps.

* **Threshold**: chosen before the evaluation on *held-out* ungated episodes (reset seeds from
  10⁶ up, never evaluated) by :func:`~ior_ros.core.twin.fall_risk.choose_threshold`.
* **Precision and recall** of the gate (``gate_precision``, ``gate_recall``), on the gated run:
  at every step ``t`` the *counterfactual* is run — a copy of the simulator in the same state takes
  the agent's proposal and then follows the ungated agent for up to ``K = label_steps`` steps. The
  proposal is *dangerous* when that copy falls within ``K`` steps. A veto is a true positive when
  its proposal was dangerous; precision = TP / vetoes, recall = TP / dangerous proposals (vetoed
  or not). ``risk_precision_ungated`` / ``risk_recall_ungated`` score the same risk rule on the
  ungated run's own steps (label: the episode fell within ``K`` steps).
* **Reward**: total environment reward per 1000 steps (both arms run the same steps), and the mean
  return of the episodes that ended.

**Robot** (:func:`run_robot_gate_eval`, ``ior/RobotTracking-v0`` under delay spikes): the
tracking robot with per-sample command delays drawn as in seed 003's tracking simulation
(persistent congestion: episodes of consecutive slots whose delay bound exceeds what the nominal
gain is certified for, :func:`~ior_ros.core.control.tracking_sim.slot_delay_bounds`). The agent is
the nominal LQR tracking controller ``u = r̈ - K_nom e``; the twin is a world model trained here on
spike episodes; a "fall" for the gate is leaving the safe set (position error above
``safe_radius_m``) within the risk horizon; the fallback is the certified controller of the
delay-robust gain schedule for the announced slot bound (``u = r̈ - K̂(bound) e``). Divergences
(position error above 1 m, the episode's termination) are counted with and without the gate.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from ior_ros.core.artifacts import atomic_write_bytes, atomic_write_json, atomic_write_text
from ior_ros.core.errors import ConfigError
from ior_ros.core.progress import Progress, no_progress
from ior_ros.core.twin.fall_risk import (
    ThresholdRule,
    choose_threshold,
    estimate_fall_risk,
    fall_labels,
    precision_recall,
)
from ior_ros.core.twin.risk_gate import CandidateSampler, GateOutcome, RiskGate, RiskGateConfig
from ior_ros.core.twin.twin import DigitalTwin, PolicyFn

__all__ = ['EpisodeLog', 'ArmResult', 'run_gate_eval', 'DelaySpikeTrackingEnv',
           'TrackingControllers', 'run_robot_gate_eval', 'CALIBRATION_SEED']

CALIBRATION_SEED = 1_000_000
"""Held-out (calibration) episodes reset from this seed up; evaluation seeds stay below."""


@dataclass
class EpisodeLog:
    """One episode (or its part inside the step budget) of one arm."""

    obs: list[np.ndarray] = field(default_factory=list)
    proposal: list[np.ndarray] = field(default_factory=list)
    fell: bool = False
    ended: bool = False
    total_reward: float = 0.0


@dataclass
class ArmResult:
    """One arm (with or without the gate) over the step budget."""

    steps: int = 0
    falls: int = 0
    reward: float = 0.0
    returns: list[float] = field(default_factory=list)
    episodes: list[EpisodeLog] = field(default_factory=list)
    vetoes: int = 0
    untrusted: int = 0
    decision_ms: list[float] = field(default_factory=list)
    veto_flags: list[bool] = field(default_factory=list)
    dangerous: list[bool] = field(default_factory=list)


# ------------------------------------------------------------------------------------- Hopper
def _mujoco_state(env: gym.Env[Any, Any]) -> tuple[np.ndarray, np.ndarray]:
    data = env.unwrapped.data  # type: ignore[attr-defined]
    return data.qpos.copy(), data.qvel.copy()


def _dangerous(sim: gym.Env[Any, Any], qpos: np.ndarray, qvel: np.ndarray,
               proposal: np.ndarray, act: Callable[[np.ndarray], np.ndarray],
               within: int) -> bool:
    """The ungated agent, from this simulator state and starting with ``proposal``, falls within
    ``within`` steps (the copy ``sim`` is set to the state; time limits do not apply)."""
    sim.unwrapped.set_state(qpos, qvel)  # type: ignore[attr-defined]
    action = proposal
    for _ in range(within):
        obs, _, terminated, _, _ = sim.unwrapped.step(action)
        if terminated:
            return True
        action = act(np.asarray(obs, dtype=np.float32))
    return False


def _run_arm(env: gym.Env[Any, Any], sim: gym.Env[Any, Any] | None,
             act: Callable[[np.ndarray], np.ndarray], steps: int, seed: int,
             gate: RiskGate | None, twin: DigitalTwin | None, policy: PolicyFn,
             label_steps: int, tick: Callable[[int], None],
             sampler: CandidateSampler | None = None) -> ArmResult:
    """``steps`` environment steps of one arm from episode seeds ``1000 seed + j``."""
    result = ArmResult()
    episode = 0
    log = EpisodeLog()
    obs, _ = env.reset(seed=1000 * seed + episode)
    previous: np.ndarray | None = None
    while result.steps < steps:
        o = np.asarray(obs, dtype=np.float32)
        proposal = act(o)
        log.obs.append(o)
        log.proposal.append(proposal)
        action = proposal
        if gate is not None and twin is not None:
            if sim is not None:
                qpos, qvel = _mujoco_state(env)
                result.dangerous.append(_dangerous(sim, qpos, qvel, proposal, act, label_steps))
            started = time.perf_counter()
            decision = gate.decide(twin, o, proposal, policy=policy, sampler=sampler,
                                   previous_action=previous)
            result.decision_ms.append((time.perf_counter() - started) * 1e3)
            result.veto_flags.append(decision.vetoed)
            result.vetoes += int(decision.vetoed)
            result.untrusted += int(decision.outcome is GateOutcome.UNTRUSTED)
            action = decision.action
        obs, reward, terminated, truncated, _ = env.step(action)
        previous = action
        result.steps += 1
        result.reward += float(reward)
        log.total_reward += float(reward)
        tick(1)
        if terminated or truncated:
            log.fell, log.ended = bool(terminated), True
            result.falls += int(terminated)
            result.returns.append(log.total_reward)
            result.episodes.append(log)
            episode += 1
            log = EpisodeLog()
            obs, _ = env.reset(seed=1000 * seed + episode)
            previous = None
            if gate is not None and gate.planner is not None:
                gate.planner.reset()
    if log.obs:
        result.episodes.append(log)
    return result


def _risk_of_episodes(twin: DigitalTwin, episodes: Sequence[EpisodeLog], policy: PolicyFn,
                      gate: RiskGateConfig, label_steps: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(p_fall [N], label [N])`` of every step of ungated episodes (batched per episode)."""
    risks, labels = [], []
    for log in episodes:
        if not log.obs:
            continue
        obs, proposal = np.stack(log.obs), np.stack(log.proposal)  # [T, d_s], [T, d_a]
        for start in range(0, len(obs), 256):
            part = slice(start, start + 256)
            risks.append(estimate_fall_risk(twin, obs[part], proposal[part], policy,
                                            gate.risk_horizon_steps, gate.risk_particles, rng,
                                            gate.discount).probability)
        labels.append(fall_labels(len(obs), log.fell, label_steps))
    if not risks:
        return np.zeros(0), np.zeros(0, dtype=bool)
    return np.concatenate(risks), np.concatenate(labels)


def _nan_none(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 4)


def _percentile(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if len(values) else None


def run_gate_eval(run_dir: str | Path, out_dir: str | Path, *, steps: int = 3000,
                  seeds: Sequence[int] = (0, 1, 2), calibration_steps: int = 3000,
                  label_steps: int | None = None, threshold_rule: ThresholdRule = 'f1',
                  precision_floor: float = 0.5, threshold: float | None = None,
                  overrides: Sequence[str] = (), progress: Progress = no_progress,
                  command: Sequence[str] | None = None) -> dict[str, Any]:
    """
    Evaluate the gate of a finished ``ior train twin`` run (module docstring); writes
    ``summary.json``, ``command.txt`` and ``gate_eval.png`` into ``out_dir``.

    Args:
        run_dir: the run folder (``agent.pt``, ``twin/twin.pt``, ``config.resolved.yaml``).
        steps: environment steps per arm (split evenly over ``seeds``).
        seeds: evaluation seeds (< 1000 each).
        calibration_steps: held-out ungated steps the threshold is chosen on.
        label_steps: K of the labels (None: the risk horizon).
        threshold_rule, precision_floor: how the threshold is chosen.
        threshold: use this threshold instead of choosing one.
        overrides: ``key=value`` settings on top of the run's configuration (e.g.
            ``gate.planner.population=64``); the gate defaults to ``rule=risk``,
            ``fallback=plan``.

    Returns:
        The summary.
    """
    import torch

    from ior_ros.core.artifacts import ensure_out_dir
    from ior_ros.core.config import config_to_dict, load_config
    from ior_ros.core.rl.envs import make_env, termination_fn_for
    from ior_ros.core.rl.twin_sac import TwinTrainConfig
    from ior_ros.core.twin.twin import TwinSpec
    from ior_ros.experiments.twin_training import load_policy

    torch.set_num_threads(1)
    run = Path(run_dir)
    if not seeds or any(not 0 <= s < 1000 for s in seeds):
        raise ConfigError(f'--seeds {list(seeds)}: give at least one seed, each in [0, 999]')
    if steps < len(seeds):
        raise ConfigError(f'--steps {steps}: at least one step per seed ({len(seeds)} seeds)')
    config_file = run / 'config.resolved.yaml'
    if not config_file.is_file():
        raise ConfigError(f'--run {str(run)!r} holds no config.resolved.yaml: not a run folder of '
                          '`ior train twin`')
    defaults = ['gate.rule=risk', 'gate.fallback=plan', 'gate.enabled=true']
    config = load_config(TwinTrainConfig, config_file, [*defaults, *overrides],
                         what='--run configuration')
    env = make_env(config.env_id)
    sim = make_env(config.env_id)
    spec = TwinSpec.from_env(env)
    agent = load_policy(run / 'agent.pt', spec)
    twin = DigitalTwin.load(run / 'twin', expect=spec, termination_fn=termination_fn_for(env))
    gate_cfg = config.gate
    k = label_steps if label_steps is not None else gate_cfg.risk_horizon_steps
    if k < 1:
        raise ConfigError(f'--label-steps {k}: must be >= 1')
    policy = agent.deterministic_policy

    def act(o: np.ndarray) -> np.ndarray:
        return agent.act(o, deterministic=True)

    rng = np.random.default_rng(config.seed)
    per_seed = [steps // len(seeds) + (1 if i < steps % len(seeds) else 0)
                for i in range(len(seeds))]
    total = calibration_steps + 2 * steps
    with progress('gate-eval', total, unit='step') as bar:
        # 1. threshold on held-out ungated episodes
        if threshold is None:
            calib = _run_arm(env, None, act, calibration_steps, CALIBRATION_SEED // 1000, None,
                             None, policy, k, bar.update) if calibration_steps > 0 else ArmResult()
            risk, label = _risk_of_episodes(twin, calib.episodes, policy, gate_cfg, k, rng)
            choice = choose_threshold(risk, label, threshold_rule, precision_floor)
            chosen, choice_doc = choice.threshold, choice.as_dict()
        else:
            if not 0.0 < threshold <= 1.0:
                raise ConfigError(f'--threshold {threshold}: must be in (0, 1]')
            chosen, choice_doc = threshold, {'threshold': threshold, 'rule': 'given'}
        gate_cfg = gate_cfg.model_copy(update={'risk_threshold': chosen})
        # 2. the two arms on the same episodes
        without, with_gate = ArmResult(), ArmResult()
        for seed, n in zip(seeds, per_seed):
            part = _run_arm(env, None, act, n, seed, None, None, policy, k, bar.update)
            gate = RiskGate(gate_cfg, spec, seed=seed)
            agent.generator = torch.Generator().manual_seed(seed)  # best_of_k's samples
            gated = _run_arm(env, sim, act, n, seed, gate, twin, policy, k, bar.update,
                             agent.sample_candidates)
            for arm, new in ((without, part), (with_gate, gated)):
                arm.steps += new.steps
                arm.falls += new.falls
                arm.reward += new.reward
                arm.returns += new.returns
                arm.episodes += new.episodes
                arm.vetoes += new.vetoes
                arm.untrusted += new.untrusted
                arm.decision_ms += new.decision_ms
                arm.veto_flags += new.veto_flags
                arm.dangerous += new.dangerous
    precision, recall = precision_recall(np.array(with_gate.veto_flags, dtype=bool),
                                         np.array(with_gate.dangerous, dtype=bool))
    risk_u, label_u = _risk_of_episodes(twin, without.episodes, policy, gate_cfg, k, rng)
    p_u, r_u = precision_recall(risk_u >= chosen, label_u)
    reduction = (1.0 - with_gate.falls / without.falls) if without.falls else float('nan')
    summary: dict[str, Any] = {
        'env_id': config.env_id, 'run': str(run), 'steps': int(without.steps),
        'steps_with_gate': int(with_gate.steps), 'seeds': list(seeds),
        'falls_without_gate': without.falls, 'falls_with_gate': with_gate.falls,
        'fall_reduction': _nan_none(reduction),
        'reward_without_gate': round(1000.0 * without.reward / max(without.steps, 1), 2),
        'reward_with_gate': round(1000.0 * with_gate.reward / max(with_gate.steps, 1), 2),
        'reward_unit': 'total environment reward per 1000 steps',
        'mean_return_without_gate': _nan_none(float(np.mean(without.returns)))
        if without.returns else None,
        'mean_return_with_gate': _nan_none(float(np.mean(with_gate.returns)))
        if with_gate.returns else None,
        'gate_precision': _nan_none(precision), 'gate_recall': _nan_none(recall),
        'dangerous_proposals_with_gate': int(np.count_nonzero(with_gate.dangerous)),
        'vetoes': with_gate.vetoes, 'untrusted': with_gate.untrusted,
        'risk_precision_ungated': _nan_none(p_u), 'risk_recall_ungated': _nan_none(r_u),
        'label_steps': k, 'threshold': choice_doc,
        'calibration_steps': calibration_steps if threshold is None else 0,
        'decision_ms_p50': _percentile(with_gate.decision_ms, 50),
        'decision_ms_p99': _percentile(with_gate.decision_ms, 99),
        'control_period_ms': round(1000.0 * float(getattr(env.unwrapped, 'dt', float('nan'))), 3),
        'gate': config_to_dict(gate_cfg),
        'definitions': {
            'dangerous': f'from the same simulator state, the proposal then the ungated agent '
                         f'falls within {k} steps',
            'gate_precision': 'vetoed dangerous proposals / vetoes (gated run)',
            'gate_recall': 'vetoed dangerous proposals / dangerous proposals (gated run)'}}
    out = ensure_out_dir(out_dir)
    atomic_write_json(out / 'summary.json', summary)
    atomic_write_text(out / 'command.txt', _command_text(command, run))
    atomic_write_bytes(out / 'gate_eval.png', _figure(summary, risk_u, label_u))
    return summary


def _command_text(command: Sequence[str] | None, run: Path) -> str:
    line = shlex.join(command) if command is not None else shlex.join(sys.argv)
    return (f'{line}\n# agent and twin: {run.resolve()}/agent.pt, {run.resolve()}/twin/twin.pt '
            '(checkpoints are not committed)\n')


def _figure(summary: dict[str, Any], risk: np.ndarray, label: np.ndarray) -> bytes:
    from ior_ros.experiments.plotting import figure_png, new_figure
    fig, axes = new_figure(1, 3, figsize=(12, 3.6))
    ax = axes[0]
    ax.bar(['without gate', 'with gate'], [summary['falls_without_gate'],
                                           summary['falls_with_gate']], color=['C3', 'C0'])
    ax.set_ylabel(f'falls in {summary["steps"]} steps')
    ax = axes[1]
    ax.bar(['without gate', 'with gate'], [summary['reward_without_gate'],
                                           summary['reward_with_gate']], color=['C3', 'C0'])
    ax.set_ylabel('reward per 1000 steps')
    ax = axes[2]
    bins = np.linspace(0.0, 1.0, 13)
    if risk.size:
        ax.hist([risk[label], risk[~label]], bins=bins, label=['fall within K', 'no fall'],
                color=['C3', 'C7'], log=True)
    threshold = summary['threshold'].get('threshold')
    if threshold is not None:
        ax.axvline(threshold, color='k', ls='--', label='threshold')
    ax.set_xlabel('predicted fall probability (ungated run)')
    ax.legend(fontsize=7)
    fig.suptitle(f'{summary["env_id"]}: gate precision {summary["gate_precision"]}, recall '
                 f'{summary["gate_recall"]}', fontsize=9)
    fig.tight_layout()
    return figure_png(fig)


# ------------------------------------------------------------------------------------- robot
class DelaySpikeTrackingEnv(gym.Env[np.ndarray, np.ndarray]):
    """
    ``ior/RobotTracking-v0`` with per-sample delays drawn in slots (seed 003's tracking
    simulation): the observation is the tracking environment's (``command_delay_steps`` =
    ``max_delay_steps`` pending commands) plus the announced slot bound divided by
    ``max_delay_steps``.

    Args:
        control: the control configuration (its ``tracking`` section gives the slot length, the
            nominal and violation delay ranges, the jitter and the congestion episodes).
        pattern: ``persistent`` (congestion episodes) or ``isolated`` (single-slot spikes).
        violation_slots: violation slots per episode.
        max_episode_steps: samples per episode.
    """

    metadata: dict[str, Any] = {'render_modes': []}

    def __init__(self, control: Any, pattern: str = 'persistent', violation_slots: int = 20,
                 max_episode_steps: int = 3000) -> None:
        from ior_ros.core.control.tracking_sim import DelayPattern, slot_steps_of
        from ior_ros.core.rl.envs import make_env
        from ior_ros.core.twin.envs import RobotTrackingEnv
        super().__init__()
        tracking = control.tracking
        self.control = control
        self.pattern = DelayPattern(pattern)
        self.violation_slots = violation_slots
        self.max_delay = int(tracking.violation_delay_steps[1])
        inner = make_env('ior/RobotTracking-v0', command_delay_steps=self.max_delay,
                         max_episode_steps=max_episode_steps, reference=tracking.reference,
                         disturbance_std_mps2=tracking.disturbance_std_mps2,
                         noise_std_mps2=tracking.noise_std_mps2,
                         divergence_threshold_m=tracking.divergence_threshold_m).unwrapped
        assert isinstance(inner, RobotTrackingEnv)
        self.inner = inner
        self.slot_steps = slot_steps_of(tracking, inner.config.sample_period_s)
        self.max_episode_steps = max_episode_steps
        base_space = inner.observation_space
        assert isinstance(base_space, gym.spaces.Box)
        low = np.concatenate([base_space.low, [0.0]]).astype(np.float32)
        high = np.concatenate([base_space.high, [1.0]]).astype(np.float32)
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float32)
        self.action_space = inner.action_space
        self.bounds = np.zeros(1, dtype=np.int64)
        self.delays = np.zeros(1, dtype=np.int64)
        self._k = 0

    @property
    def bound(self) -> int:
        """The announced delay bound of the current slot [samples]."""
        return int(self.bounds[min(self._k // self.slot_steps, len(self.bounds) - 1)])

    def _obs(self, base: np.ndarray) -> np.ndarray:
        return np.concatenate([base, [self.bound / self.max_delay]]).astype(np.float32)

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """New episode: a new slot plan and delays, then the tracking environment's reset."""
        from ior_ros.core.control.tracking_sim import sample_delays, slot_delay_bounds
        super().reset(seed=seed)
        rng = self.np_random
        n_slots = -(-self.max_episode_steps // self.slot_steps)
        plan = slot_delay_bounds(self.pattern, n_slots, min(self.violation_slots, n_slots),
                                 self.control.tracking, rng)
        self.bounds = plan.bounds_steps
        self.delays = sample_delays(plan.bounds_steps, self.slot_steps,
                                    self.control.tracking.delay_jitter_steps, rng)
        self._k = 0
        base, info = self.inner.reset(seed=int(rng.integers(2**31)), options=options)
        return self._obs(base), info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Send ``action``; it arrives after this sample's drawn delay."""
        from ior_ros.core.control.tracking_dynamics import (
            next_disturbance,
            position_error,
            transition,
        )
        from ior_ros.core.control.tracking_score import tracking_reward
        env = self.inner
        cfg = env.config
        u = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -cfg.max_accel_mps2,
                    cfg.max_accel_mps2)  # [2]
        disturbance = next_disturbance(env._hold, env._state.step, env.np_random, env._params)
        env._hold = disturbance.hold_mps2
        env._state = transition(env._state, u[None, :], int(self.delays[self._k]), disturbance,
                                env._params)
        self._k += 1
        base = env._observe()
        reward = float(tracking_reward(base[:4], u, cfg.control_cost))
        error = float(position_error(base[:4]))
        terminated = bool(error > cfg.divergence_threshold_m)
        truncated = self._k >= self.max_episode_steps
        return self._obs(base), reward, terminated, truncated, {'position_error_m': error}


class TrackingControllers:
    """
    The nominal and the certified tracking controllers as functions of the observation
    ``[B, d_s]`` of :class:`DelaySpikeTrackingEnv`: ``u = r̈(phase) - K e``, with ``r̈`` from the
    reference phase ``(sin ωt, cos ωt)`` of the observation (``sin 2ωt = 2 sin ωt cos ωt``).
    """

    def __init__(self, env: DelaySpikeTrackingEnv, schedule: Any) -> None:
        reference = env.inner._params.reference
        self.a = float(reference.amplitude_m)
        self.w = float(reference.omega_radps)
        self.max_delay = env.max_delay
        self.bound_high = float(env.inner.config.max_accel_mps2)
        self.nominal_gain = np.asarray(schedule.nominal_gain, dtype=float)  # [2, 4]
        gains = []
        for bound in range(self.max_delay + 1):
            found = schedule.lookup(bound)
            gains.append(found.gain if found.gain is not None else np.zeros((2, 4)))
        self.certified_gains = np.stack(gains)  # [D + 1, 2, 4]

    def _feedforward(self, obs: np.ndarray) -> np.ndarray:
        s1, c1 = obs[:, 4], obs[:, 5]
        w2 = self.a * self.w * self.w
        return np.stack([-w2 * s1, -2.0 * w2 * (2.0 * s1 * c1)], axis=1)  # [B, 2]

    def _clip(self, u: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.clip(u, -self.bound_high, self.bound_high).astype(np.float32)
        return out

    def nominal(self, obs: np.ndarray) -> np.ndarray:
        """The nominal LQR tracking command ``[B, 2]`` (the agent)."""
        o = np.atleast_2d(obs)
        return self._clip(self._feedforward(o) - o[:, :4] @ self.nominal_gain.T)

    def certified(self, obs: np.ndarray) -> np.ndarray:
        """The certified command ``[B, 2]`` for the announced bound (the fallback)."""
        o = np.atleast_2d(obs)
        bound = np.clip(np.rint(o[:, -1] * self.max_delay), 0, self.max_delay).astype(int)
        gain = self.certified_gains[bound]  # [B, 2, 4]
        return self._clip(self._feedforward(o) - np.einsum('bmn,bn->bm', gain, o[:, :4]))


def _robot_twin(env: DelaySpikeTrackingEnv, controllers: TrackingControllers, episodes: int,
                fit_steps: int, safe_radius_m: float, seed: int,
                tick: Callable[[int], None]) -> DigitalTwin:
    """A world model of the spike environment trained on episodes of both controllers (plus
    exploration noise), with the safe-set exit as its termination."""
    import torch

    from ior_ros.core.twin.buffers import Transitions
    from ior_ros.core.twin.envs import TrackingDivergence
    from ior_ros.core.twin.twin import TwinSpec
    from ior_ros.core.twin.world_model import WorldModelConfig
    rng = np.random.default_rng(seed)
    rows: list[tuple[np.ndarray, np.ndarray, float, np.ndarray, bool]] = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=CALIBRATION_SEED + seed * 1000 + episode)
        use_nominal = episode % 2 == 0
        noise = 0.3 * (episode % 3)
        for _ in range(env.max_episode_steps):
            o = obs[None, :]
            base = controllers.nominal(o) if use_nominal else controllers.certified(o)
            a = controllers._clip(base + rng.normal(0.0, noise + 1e-9, size=base.shape))[0]
            nxt, r, terminated, truncated, _ = env.step(a)
            rows.append((obs, a, r, nxt, terminated))
            obs = nxt
            if terminated or truncated:
                break
        tick(env.max_episode_steps)
    data = Transitions(np.stack([r[0] for r in rows]).astype(np.float32),
                       np.stack([r[1] for r in rows]).astype(np.float32),
                       np.array([r[2] for r in rows], dtype=np.float32),
                       np.stack([r[3] for r in rows]).astype(np.float32),
                       np.array([r[4] for r in rows], dtype=bool))
    spec = TwinSpec.from_spaces(env.observation_space, env.action_space, 'spike tracking')
    twin = DigitalTwin(spec, WorldModelConfig(hidden_sizes=(200, 200, 200)),
                       TrackingDivergence(safe_radius_m), torch.Generator().manual_seed(seed))
    twin.fit(data, fit_steps, rng)
    holdout = rng.permutation(len(data))[:2000]
    twin.evaluate(Transitions(data.obs[holdout], data.action[holdout], data.reward[holdout],
                              data.next_obs[holdout], data.terminated[holdout]))
    return twin


def run_robot_gate_eval(out_dir: str | Path | None, *, episodes: int = 20,
                        episode_steps: int = 3000, violation_slots: int = 20,
                        pattern: str = 'persistent', safe_radius_m: float = 0.3,
                        risk_horizon_steps: int = 10, risk_particles: int = 6,
                        risk_threshold: float = 0.5, twin_episodes: int = 12,
                        twin_fit_steps: int = 3000, seed: int = 0,
                        progress: Progress = no_progress,
                        command: Sequence[str] | None = None) -> dict[str, Any]:
    """
    Divergences of the nominal controller with and without the twin gate + certified fallback
    under delay spikes (module docstring); ``summary.json`` and ``command.txt`` in ``out_dir``
    (None: nothing written).
    """
    import torch

    from ior_ros.core.artifacts import ensure_out_dir
    from ior_ros.core.config import config_to_dict
    from ior_ros.core.control.control_config import ControlConfig
    from ior_ros.core.control.gain_schedule import REFERENCE_SCHEDULE, GainSchedule

    torch.set_num_threads(1)
    if episodes < 1 or episode_steps < 1:
        raise ConfigError(f'--episodes {episodes} and --episode-steps {episode_steps} must be '
                          '>= 1')
    control = ControlConfig()
    schedule = GainSchedule.load(REFERENCE_SCHEDULE)
    env = DelaySpikeTrackingEnv(control, pattern, violation_slots, episode_steps)
    controllers = TrackingControllers(env, schedule)
    gate_cfg = RiskGateConfig(rule='risk', fallback='controller', risk_threshold=risk_threshold,
                              risk_horizon_steps=risk_horizon_steps,
                              risk_particles=risk_particles, max_uncertainty=1e9)
    total = twin_episodes * episode_steps + 3 * episodes * episode_steps
    arms: dict[str, dict[str, Any]] = {}
    with progress('robot gate', total, unit='step') as bar:
        twin = _robot_twin(env, controllers, twin_episodes, twin_fit_steps, safe_radius_m, seed,
                           bar.update)
        for arm in ('nominal', 'nominal_with_gate', 'certified'):
            gate = RiskGate(gate_cfg, twin.spec, seed=seed) if arm == 'nominal_with_gate' \
                else None
            policy = controllers.certified if arm == 'certified' else controllers.nominal
            diverged, vetoes, steps, sq_err = 0, 0, 0, 0.0
            decision_ms: list[float] = []
            for episode in range(episodes):
                obs, _ = env.reset(seed=seed * 1000 + episode)
                for _ in range(episode_steps):
                    action = policy(obs[None, :])[0]
                    if gate is not None:
                        started = time.perf_counter()
                        decision = gate.decide(twin, obs, action, policy=controllers.nominal,
                                               controller=controllers.certified)
                        decision_ms.append((time.perf_counter() - started) * 1e3)
                        vetoes += int(decision.vetoed)
                        action = decision.action
                    obs, _, terminated, truncated, info = env.step(action)
                    steps += 1
                    sq_err += float(info['position_error_m']) ** 2
                    if terminated or truncated:
                        diverged += int(terminated)
                        break
                bar.update(episode_steps)
            arms[arm] = {'divergences': diverged, 'episodes': episodes, 'steps': steps,
                         'vetoes': vetoes, 'rms_error_m': round(float(np.sqrt(
                             sq_err / max(steps, 1))), 4),
                         'decision_ms_p50': _percentile(decision_ms, 50),
                         'decision_ms_p99': _percentile(decision_ms, 99)}
    errors = twin.errors
    summary: dict[str, Any] = {
        'env_id': 'ior/RobotTracking-v0 (delay spikes)', 'pattern': pattern,
        'violation_slots': violation_slots, 'episodes': episodes,
        'episode_steps': episode_steps,
        'divergences_without_gate': arms['nominal']['divergences'],
        'divergences_with_gate': arms['nominal_with_gate']['divergences'],
        'divergences_certified_only': arms['certified']['divergences'], 'arms': arms,
        'safe_radius_m': safe_radius_m, 'control_period_ms': 1000.0 *
        env.inner.config.sample_period_s,
        'twin_heldout_nmse': errors.as_dict() if errors is not None else None,
        'gate': config_to_dict(gate_cfg),
        'delays': {'nominal_delay_steps': list(control.tracking.nominal_delay_steps),
                   'violation_delay_steps': list(control.tracking.violation_delay_steps),
                   'nominal_certified_steps': int(schedule.nominal_certified_steps)}}
    if out_dir is not None:
        out = ensure_out_dir(out_dir)
        atomic_write_json(out / 'summary.json', summary)
        line = shlex.join(command) if command is not None else shlex.join(sys.argv)
        atomic_write_text(out / 'command.txt', line + '\n')
    return summary
