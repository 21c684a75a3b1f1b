"""
Training and evaluation runs of the seed-003 slicer, shared by ``ior train slicing``,
``ior eval slicing`` and the seed-003 reproductions.

A training run folder holds ``config.resolved.yaml``, ``metrics.csv`` (one row per episode),
``checkpoint.pt`` (everything needed to resume exactly), ``policy.npz`` (the deployable actors) and
``policy.json`` (how the policy was made: command, seed, steps, wall time, final λ).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ior_ros.core.artifacts import (
    ArtifactFormat,
    atomic_write_bytes,
    atomic_write_csv,
    atomic_write_json,
    atomic_write_yaml,
    ensure_out_dir,
    read_artifact,
    write_artifact,
)
from ior_ros.core.config import config_to_dict
from ior_ros.core.errors import ArtifactError, ConfigError, IorError
from ior_ros.core.progress import Progress, no_progress
from ior_ros.core.slicing.config import SlicingEnvConfig, SlicingRunConfig, make_slicing_config

__all__ = ['EPISODE_FIELDS', 'TrainOutcome', 'train_slicing', 'EvalOutcome', 'evaluate_slicing',
           'make_decider', 'shipped_policy_dir', 'POLICY_NAMES', 'POLICY_INFO_ARTIFACT',
           'read_metrics_csv']

REPO_ROOT = Path(__file__).resolve().parents[2]
POLICY_NAMES = ('pf', 'rr', 'maxweight', 'dpp')
POLICY_INFO_ARTIFACT = ArtifactFormat('ior_ros.slicing_policy', 1, 'policy.json', 'json',
                                      'policy description', made_by='`ior train slicing`')
"""``policy.json`` beside ``policy.npz``: how the policy was made and for which cell."""

EPISODE_FIELDS = ('episode', 'steps', 'return_total', 'return_embb', 'return_urllc',
                  'embb_queue_packets', 'urllc_queue_packets', 'violation_rate', 'embb_rate_mbps',
                  'urllc_rate_mbps', 'urllc_delay_ms', 'dexterity', 'lagrange_multiplier',
                  'critic_loss', 'actor_loss')


def shipped_policy_dir() -> Path:
    """
    ``config/policies/seed003_slicing``: the policy used for the seed-003 figures.

    Looked up in the source tree first, then where a (non-editable) pip install puts the
    package's ``config/`` (``<sys.prefix>/share/ior_ros/config``, setup.py's data_files).
    """
    relative = Path('config') / 'policies' / 'seed003_slicing'
    for root in (REPO_ROOT, Path(sys.prefix) / 'share' / 'ior_ros'):
        if (root / relative).is_dir():
            return root / relative
    return REPO_ROOT / relative


# ----------------------------------------------------------------------------------------------
# training


@dataclass
class TrainOutcome:
    """What a training run produced."""

    out_dir: Path
    episodes: list[dict[str, float]]
    total_steps: int
    wall_s: float
    lagrange_multiplier: float
    resumed_from_steps: int = 0


def read_metrics_csv(path: Path) -> list[dict[str, float]]:
    """
    The rows of a training run's ``metrics.csv`` as floats (an empty cell is NaN).

    Raises:
        ConfigError: unreadable, binary, not UTF-8, or a cell that is not a number (one line).
    """
    import csv
    import io

    from ior_ros.core.input_files import JSON_LIMIT, display_path, read_input_text
    text = read_input_text(path, 'metrics file', JSON_LIMIT, expected='a UTF-8 CSV table',
                           allow_empty=True)
    rows: list[dict[str, float]] = []
    for number, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        try:
            rows.append({str(key): float(value) if value not in ('', None) else math.nan
                         for key, value in row.items()})
        except (TypeError, ValueError):
            raise ConfigError(f'{display_path(path)}:{number}: not a metrics row of `ior train '
                              'slicing` (a cell is not a number)') from None
    return rows


def _read_metrics(path: Path) -> list[dict[str, float]]:
    return read_metrics_csv(path) if path.is_file() else []


def train_slicing(config: SlicingRunConfig, out_dir: Path, steps: int | None = None,
                  seed: int | None = None, resume: bool = False,
                  progress: Progress = no_progress, command: str | None = None) -> TrainOutcome:
    """
    Train the dual-agent slicer and write the run folder (see the module docstring).

    Args:
        config: environment, agent and training settings.
        out_dir: the run folder (created).
        steps: override ``config.train.steps``.
        seed: override ``config.train.seed``.
        resume: continue from ``out_dir/checkpoint.pt`` when it exists (exact continuation:
            networks, optimisers, replay buffers, λ and every generator are restored; checkpoints
            are taken at episode ends).
        progress: opens the progress bar (steps; the command's, or none).
        command: the command line, stored in ``policy.json``.

    Raises:
        ConfigError: a resume whose checkpoint does not match the configuration.
    """
    import torch

    from ior_ros.core.slicing.agents import DualAgentSlicer
    from ior_ros.core.slicing.env import TeleopSlicingEnv

    torch.set_num_threads(1)
    total = int(steps if steps is not None else config.train.steps)
    run_seed = int(seed if seed is not None else config.train.seed)
    out = Path(out_dir)
    env_cfg = config.env
    if config.train.episode_slots is not None:
        env_cfg = make_slicing_config(env_cfg, episode_slots=config.train.episode_slots)
    env = TeleopSlicingEnv(env_cfg)
    agent = DualAgentSlicer(env, config.agent, seed=run_seed)
    metrics_path = out / 'metrics.csv'
    checkpoint_path = out / 'checkpoint.pt'
    state_path = out / 'train_state.json'
    episodes: list[dict[str, float]] = []
    wall_before = 0.0
    resumed = 0
    if resume and checkpoint_path.is_file():
        from ior_ros.core.input_files import TORCH_LIMIT, read_input_bytes, read_input_json
        state = read_input_json(state_path, '--resume run state') if state_path.is_file() else {}
        if not isinstance(state, dict):
            raise ConfigError(f'--resume: {state_path} is not the run state of `ior train '
                              'slicing` (not a JSON object); use a new --out')
        saved_cfg = state.get('config')
        if saved_cfg is not None and saved_cfg != config_to_dict(config):
            raise ConfigError(f'--resume: {checkpoint_path} was made with another configuration;'
                              ' use the same --config/--set or a new --out')
        data = read_input_bytes(checkpoint_path, '--resume checkpoint', TORCH_LIMIT)
        try:
            agent.load_checkpoint_bytes(data)
        except Exception as exc:  # torch/pickle raise many kinds for a damaged or foreign file
            if isinstance(exc, IorError):
                raise
            reason = ' '.join(str(exc).split())[:160] or type(exc).__name__
            raise ArtifactError(f'--resume: {checkpoint_path} is not a usable checkpoint of '
                                f'`ior train slicing` ({type(exc).__name__}: {reason}); remove it '
                                'or use a new --out') from None
        if agent.seed != run_seed:
            raise ConfigError(f'--resume: the checkpoint has seed {agent.seed}, not {run_seed}')
        episodes = [row for row in _read_metrics(metrics_path)
                    if row['episode'] <= agent.episodes]
        wall = state.get('wall_s', 0.0)
        wall_before = float(wall) if isinstance(wall, (int, float)) else 0.0
        resumed = agent.total_steps
    out = ensure_out_dir(out)  # only now: a refused run leaves nothing behind
    atomic_write_yaml(out / 'config.resolved.yaml', config_to_dict(config))
    start = time.perf_counter()

    def save(final: bool) -> None:
        wall = wall_before + time.perf_counter() - start
        atomic_write_csv(metrics_path, EPISODE_FIELDS,
                         [[row[name] for name in EPISODE_FIELDS] for row in episodes])
        atomic_write_bytes(checkpoint_path, agent.checkpoint_bytes())
        atomic_write_json(state_path, {'config': config_to_dict(config), 'wall_s': wall,
                                       'total_steps': agent.total_steps,
                                       'episodes': agent.episodes})
        if final:
            meta = {'command': command or '', 'seed': run_seed, 'steps': agent.total_steps,
                    'train_wall_s': round(wall, 1), 'torch_threads': 1}
            policy = agent.policy(meta)
            policy.save(out / 'policy.npz')
            write_artifact(out / 'policy.json', POLICY_INFO_ARTIFACT, {
                'file': 'policy.npz', **meta,
                'episodes': agent.episodes,
                'lagrange_multiplier': agent.multiplier,
                'env_config': env_cfg.model_dump(mode='json'),
                'agent_config': config.agent.model_dump(mode='json')})

    with progress('train slicing', total, unit='step',
                  initial=min(agent.total_steps, total)) as bar:
        while agent.total_steps < total:
            stats = agent.run_episode(total, on_step=bar.update)
            episodes.append({k: float(v) for k, v in stats._asdict().items()})
            bar.set_postfix(viol=f'{stats.violation_rate:.3f}',
                            **{'λ': f'{stats.lagrange_multiplier:.2f}'},
                            ret=f'{stats.return_total:.0f}')
            if agent.episodes % config.train.checkpoint_every_episodes == 0:
                save(final=False)
    save(final=True)
    wall = wall_before + time.perf_counter() - start
    return TrainOutcome(out, episodes, agent.total_steps, wall, agent.multiplier, resumed)


# ----------------------------------------------------------------------------------------------
# evaluation


Decider = Callable[[Any, Any], tuple[Any, float, bool, bool, dict[str, Any]]]


def make_decider(policy: str | Path, env_config: SlicingEnvConfig
                 ) -> tuple[str, Callable[[], None], Decider]:
    """
    ``(name, reset, step)`` for a baseline name (``pf``, ``rr``, ``maxweight``, ``dpp``) or a
    trained policy (a folder holding ``policy.npz``, or the file).

    ``step(env, obs)`` takes one environment step with the method's decision.
    """
    from ior_ros.core.slicing.baselines import make_baseline
    from ior_ros.core.slicing.policy import SlicingPolicy

    text = str(policy)
    if text in POLICY_NAMES:
        baseline = make_baseline(text, env_config)

        def step_baseline(env: Any, obs: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
            owner = baseline.decide(env.state)
            result = env.step_allocation(owner)
            baseline.observe(owner, result[4])
            return result  # type: ignore[no-any-return]
        return text, baseline.reset, step_baseline
    loaded = SlicingPolicy.load(policy)
    if (loaded.layout.n_embb, loaded.layout.n_urllc, loaded.n_prb) != (
            env_config.n_embb, env_config.n_urllc, env_config.n_prb):
        raise ConfigError(f'policy {text!r} was trained for n_embb={loaded.layout.n_embb}, '
                          f'n_urllc={loaded.layout.n_urllc}, n_prb={loaded.n_prb}; the '
                          f'evaluation cell has {env_config.n_embb}, {env_config.n_urllc}, '
                          f'{env_config.n_prb}')

    def step_policy(env: Any, obs: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        return env.step(loaded.action(obs))  # type: ignore[no-any-return]
    return 'drl', lambda: None, step_policy


@dataclass
class EvalOutcome:
    """Held-out evaluation of one method (per-user averages over all episodes)."""

    name: str
    episodes: int
    slots: int
    seeds: list[int]
    embb_rate_mbps: list[float]
    urllc_rate_mbps: list[float]
    urllc_violation_rate: list[float]
    """Per URLLC user: fraction of slots with D_ti > D_max."""
    urllc_late_packet_fraction: float
    embb_queue_mean_packets: float
    urllc_queue_mean_packets: float
    embb_queue_max_packets: float
    urllc_queue_max_packets: float
    queue_growth_ratio: float
    """Mean total queue over the last quarter of the episodes / over the second quarter."""
    urllc_delay_mean_ms: float
    urllc_delay_p99_ms: float
    urllc_throughput_mbps: float
    """Served URLLC command traffic per user [Mb/s] (departures x L_u)."""
    urllc_service_mbps: float
    """URLLC service capacity per user, eq. 4's ``μ L_u = r - β DI L_u`` [Mb/s]."""
    dexterity_mean: float
    return_total: float
    return_embb: float
    return_urllc: float
    per_episode_violation_rate: list[float]
    embb_prbs: float
    urllc_prbs: float
    reliability_target: float
    rates_trace_mbps: npt.NDArray[np.float64] | None = field(default=None, repr=False)
    """``[slots, n]`` per-slot rates of the first episode (for CDFs), when kept."""

    @property
    def violation_rate(self) -> float:
        """Mean over URLLC users of the delay-violation rate."""
        return float(np.mean(self.urllc_violation_rate))

    @property
    def reliability(self) -> float:
        """1 - the worst URLLC user's violation rate (compare with χ)."""
        return 1.0 - float(np.max(self.urllc_violation_rate))

    def summary(self) -> dict[str, Any]:
        """JSON-ready dict (without the trace)."""
        doc = {k: v for k, v in asdict(self).items() if k != 'rates_trace_mbps'}
        doc['violation_rate'] = self.violation_rate
        doc['reliability'] = self.reliability
        doc['reliability_met'] = self.reliability >= self.reliability_target
        doc['embb_rate_mean_mbps'] = float(np.mean(self.embb_rate_mbps))
        doc['urllc_rate_mean_mbps'] = float(np.mean(self.urllc_rate_mbps))
        return doc


def evaluate_slicing(policy: str | Path, env_config: SlicingEnvConfig, episodes: int,
                     episode_slots: int, first_seed: int, progress: Progress = no_progress,
                     keep_trace: bool = False, desc: str | None = None) -> EvalOutcome:
    """
    Run a method on held-out seeds ``first_seed, first_seed + 1, ...`` and average.

    Every method sees the same channels on the same seed (the channel generator is independent of
    the decisions), so differences are the methods'. ``progress`` opens the bar (slots;
    ``desc``, default ``eval NAME``).
    """
    from ior_ros.core.slicing.env import TeleopSlicingEnv

    cfg = make_slicing_config(env_config, episode_slots=episode_slots)
    name, reset, step = make_decider(policy, cfg)
    n_e, n_u = cfg.n_embb, cfg.n_urllc
    rates_sum = np.zeros(cfg.n_users)
    prbs_sum = np.zeros(cfg.n_users)
    viol_sum = np.zeros(n_u)
    late = served = 0.0
    queue_e: list[float] = []
    queue_u: list[float] = []
    qmax_e = qmax_u = 0.0
    delays: list[npt.NDArray[np.float64]] = []
    di_sum = 0.0
    urllc_bits = 0.0
    service_bits = 0.0
    returns = np.zeros(3)
    per_episode: list[float] = []
    growth: list[float] = []
    trace: list[npt.NDArray[np.float64]] = []
    slots = 0
    seeds = [first_seed + k for k in range(episodes)]
    with progress(desc or f'eval {name}', episodes * episode_slots, unit='slot') as bar:
        for index, seed in enumerate(seeds):
            env = TeleopSlicingEnv(cfg)
            obs, _ = env.reset(seed=seed)
            reset()
            done = False
            ep_viol = 0.0
            ep_slots = 0
            totals: list[float] = []
            while not done:
                obs, reward, terminated, truncated, info = step(env, obs)
                done = terminated or truncated
                rates = info['rates_bps']
                rates_sum += rates
                prbs_sum += info['prb_counts']
                viol = info['violations']
                viol_sum += viol
                ep_viol += float(np.mean(viol))
                late += float(np.sum(info['urllc_late_packets']))
                served += float(np.sum(info['urllc_served']))
                qe, qu = info['embb_queue_packets'], info['urllc_queue_packets']
                queue_e.append(float(np.mean(qe)))
                queue_u.append(float(np.mean(qu)))
                totals.append(float(np.sum(qe) + np.sum(qu)))
                qmax_e = max(qmax_e, float(np.max(qe)))
                qmax_u = max(qmax_u, float(np.max(qu)))
                delays.append(info['urllc_delay_s'])
                di_sum += float(np.mean(info['dexterity']))
                urllc_bits += float(np.sum(info['urllc_served'])) * cfg.urllc_packet_bits
                service_bits += (float(np.sum(info['urllc_service_pps'])) * cfg.slot_s
                                 * cfg.urllc_packet_bits)
                returns += (reward, info['reward_embb'], info['reward_urllc'])
                if keep_trace and index == 0:
                    trace.append(rates / 1e6)
                ep_slots += 1
                bar.update(1)
            slots += ep_slots
            per_episode.append(ep_viol / max(ep_slots, 1))
            quarter = max(len(totals) // 4, 1)
            second = float(np.mean(totals[quarter:2 * quarter] or totals))
            last = float(np.mean(totals[-quarter:]))
            growth.append(last / max(second, 1e-9) if second > 1e-9 else 1.0)
    all_delays = np.concatenate(delays) * 1e3 if delays else np.zeros(1)
    duration_s = slots * cfg.slot_s
    return EvalOutcome(
        name=name, episodes=episodes, slots=slots, seeds=seeds,
        embb_rate_mbps=(rates_sum[:n_e] / slots / 1e6).tolist(),
        urllc_rate_mbps=(rates_sum[n_e:] / slots / 1e6).tolist(),
        urllc_violation_rate=(viol_sum / slots).tolist(),
        urllc_late_packet_fraction=late / max(served, 1e-9),
        embb_queue_mean_packets=float(np.mean(queue_e)),
        urllc_queue_mean_packets=float(np.mean(queue_u)),
        embb_queue_max_packets=qmax_e, urllc_queue_max_packets=qmax_u,
        queue_growth_ratio=float(np.max(growth)),
        urllc_delay_mean_ms=float(np.mean(all_delays)),
        urllc_delay_p99_ms=float(np.percentile(all_delays, 99)),
        urllc_throughput_mbps=urllc_bits / duration_s / n_u / 1e6,
        urllc_service_mbps=service_bits / duration_s / n_u / 1e6,
        dexterity_mean=di_sum / slots,
        return_total=float(returns[0] / episodes), return_embb=float(returns[1] / episodes),
        return_urllc=float(returns[2] / episodes),
        per_episode_violation_rate=per_episode,
        embb_prbs=float(prbs_sum[:n_e].mean() / slots),
        urllc_prbs=float(prbs_sum[n_e:].mean() / slots),
        reliability_target=cfg.reliability,
        rates_trace_mbps=np.asarray(trace) if trace else None)


def policy_env_config(policy_dir: Path) -> SlicingEnvConfig:
    """The environment configuration a shipped/trained policy was made for."""
    meta = read_artifact(policy_dir, POLICY_INFO_ARTIFACT).document
    return make_slicing_config(meta['env_config'])


def compare_table(outcomes: Sequence[EvalOutcome]) -> str:
    """A short text table of the main metrics."""
    lines = [f'{"method":10s} {"viol %":>7s} {"reliab":>7s} {"eMBB Mb/s":>10s} '
             f'{"URLLC Mb/s":>11s} {"q eMBB":>7s} {"q URLLC":>8s} {"d99 ms":>7s}']
    for o in outcomes:
        lines.append(f'{o.name:10s} {100 * o.violation_rate:7.2f} {o.reliability:7.3f} '
                     f'{np.mean(o.embb_rate_mbps):10.2f} {np.mean(o.urllc_rate_mbps):11.2f} '
                     f'{o.embb_queue_mean_packets:7.1f} {o.urllc_queue_mean_packets:8.1f} '
                     f'{o.urllc_delay_p99_ms:7.1f}')
    return '\n'.join(lines)
