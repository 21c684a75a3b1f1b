"""
One twin-assisted SAC run on disk: per-epoch CSV, checkpoints, resume, the trained policy and twin.

Used by ``ior train twin`` and by ``ior reproduce seed000-fig4``. A run folder holds

* ``config.resolved.yaml``: the full configuration;
* ``epochs.csv``: one row per epoch (:data:`~ior_ros.core.rl.twin_sac.EPOCH_COLUMNS`, then the
  epoch's wall time ``wall_s`` and ``steps_per_s``);
* ``checkpoint.pt``: everything needed to resume (written atomically after every
  ``checkpoint_every`` epochs and at the end); ``--resume`` continues from it;
* ``agent.pt``: the trained actor (``load_policy``); ``twin/twin.pt``: the twin (twin variants);
* ``run.json``: the command, the machine, the status and the totals.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ior_ros.core.artifacts import (
    ArtifactFormat,
    artifact_contents,
    atomic_write_bytes,
    atomic_write_csv,
    atomic_write_json,
    ensure_out_dir,
    read_artifact,
    write_artifact,
)
from ior_ros.core.config import config_to_dict, save_resolved_config
from ior_ros.core.errors import ConfigError
from ior_ros.core.progress import Progress, no_progress
from ior_ros.core.rl.twin_sac import EPOCH_COLUMNS, TwinSacTrainer, TwinTrainConfig

if TYPE_CHECKING:
    from ior_ros.core.rl.soft_actor_critic import SacAgent
    from ior_ros.core.twin.twin import TwinSpec

__all__ = ['RUN_CSV', 'CSV_COLUMNS', 'CHECKPOINT', 'AGENT_FILE', 'AGENT_ARTIFACT', 'build_trainer',
           'run_twin_training', 'load_policy', 'read_epochs_csv']

RUN_CSV = 'epochs.csv'
CHECKPOINT = 'checkpoint.pt'
AGENT_FILE = 'agent.pt'
AGENT_ARTIFACT = ArtifactFormat('ior_ros.sac_actor', 1, AGENT_FILE, 'torch', 'trained policy',
                                made_by='`ior train twin`')
RUN_JSON = 'run.json'
CSV_COLUMNS: tuple[str, ...] = (*EPOCH_COLUMNS, 'wall_s', 'steps_per_s')


def build_trainer(config: TwinTrainConfig) -> TwinSacTrainer:
    """The environments (training with fall counting, evaluation) and the trainer of a config."""
    from ior_ros.core.rl.envs import make_env, termination_fn_for
    env = make_env(config.env_id)
    eval_env = make_env(config.env_id) if config.eval_episodes > 0 else None
    return TwinSacTrainer(config, env, eval_env, termination_fn_for(env))


def _first_difference(saved: dict[str, Any], wanted: dict[str, Any], prefix: str = '') -> str:
    for key in sorted(set(saved) | set(wanted)):
        a, b = saved.get(key), wanted.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            inner = _first_difference(a, b, f'{prefix}{key}.')
            if inner:
                return inner
        elif a != b:
            return f'{prefix}{key}: checkpoint {a!r}, requested {b!r}'
    return ''


def _save_torch(path: Path, payload: Any) -> None:
    import torch
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def _save_outputs(out: Path, trainer: TwinSacTrainer, timing: list[float]) -> None:
    _save_torch(out / CHECKPOINT, {'trainer': trainer.state_dict(), 'timing': list(timing)})
    write_artifact(out / AGENT_FILE, AGENT_ARTIFACT, {
        'spec': trainer.spec.as_dict(), 'sac': config_to_dict(trainer.config.agent),
        'actor': trainer.agent.actor.state_dict()})
    if trainer.twin is not None:
        trainer.twin.save(out / 'twin')


def load_policy(path: str | Path, expect: TwinSpec | None = None) -> SacAgent:
    """
    The trained SAC agent of a run folder (or its ``agent.pt``); ``expect`` is checked.

    Raises:
        ArtifactError: missing or unreadable file, another format or version.
        DimensionError: the policy was trained for other spaces than ``expect``.
    """
    from ior_ros.core.rl.soft_actor_critic import SacAgent, SacConfig
    from ior_ros.core.twin.twin import TwinSpec
    saved = read_artifact(path, AGENT_ARTIFACT)
    payload = saved.document
    with artifact_contents(saved.path, AGENT_ARTIFACT):
        spec = TwinSpec.from_dict(payload['spec'])
        if expect is not None:
            spec.check_compatible(expect, f'the environment {expect.env_id or ""}'.rstrip())
        agent = SacAgent(spec.obs_dim, spec.act_dim, spec.act_low, spec.act_high,
                         SacConfig.model_validate(payload['sac']))
        agent.actor.load_state_dict(payload['actor'])
    return agent


def _resume(trainer: TwinSacTrainer, checkpoint: Path, config: TwinTrainConfig) -> list[float]:
    """
    Restore ``trainer`` from a checkpoint; the per-epoch wall times saved with it.

    Raises:
        ConfigError: the checkpoint was made with another configuration (epochs may change).
        ArtifactError: the file is damaged or not a checkpoint of this command (one line).
    """
    import torch

    from ior_ros.core.errors import ArtifactError, IorError
    from ior_ros.core.input_files import TORCH_LIMIT, read_input_bytes
    data = read_input_bytes(checkpoint, '--resume checkpoint', TORCH_LIMIT)
    try:
        state = torch.load(io.BytesIO(data), map_location='cpu', weights_only=True)
        saved = dict(state['trainer']['config'])
        timing = [float(t) for t in state['timing']]
    except Exception as exc:  # torch/pickle raise many kinds for a damaged or foreign file
        reason = ' '.join(str(exc).split())[:160] or type(exc).__name__
        raise ArtifactError(f'--resume: {checkpoint} is not a usable checkpoint of `ior train '
                            f'twin` ({type(exc).__name__}: {reason}); remove it or use a new '
                            '--out') from None
    wanted = config_to_dict(config)
    saved.pop('epochs', None)
    difference = _first_difference(saved, {k: v for k, v in wanted.items() if k != 'epochs'})
    if difference:
        raise ConfigError(f"--resume: the configuration differs from the checkpoint's "
                          f'({difference}); only epochs may change')
    try:
        trainer.load_state_dict(state['trainer'])
    except Exception as exc:
        if isinstance(exc, IorError):
            raise
        reason = ' '.join(str(exc).split())[:160] or type(exc).__name__
        raise ArtifactError(f'--resume: {checkpoint} does not fit this run ({reason}); remove '
                            'it or use a new --out') from None
    return timing


def run_twin_training(config: TwinTrainConfig, out_dir: str | Path, *,
                      progress: Progress = no_progress, resume: bool = False,
                      checkpoint_every: int = 1,
                      command: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """
    Train one variant for ``config.epochs`` epochs, writing the run folder described above.

    Args:
        config: the run.
        out_dir: run folder (created).
        progress: opens the progress bar (environment steps; the command's, or none).
        resume: continue from ``checkpoint.pt`` (otherwise a folder holding one is refused).
        checkpoint_every: epochs between checkpoints.
        command: the command line recorded in ``run.json``.

    Returns:
        the CSV rows as dicts.
    """
    import torch

    from ior_ros.experiments.contract import machine_info
    torch.set_num_threads(1)
    if checkpoint_every < 1:
        raise ConfigError(f'checkpoint_every = {checkpoint_every}: must be >= 1')
    out = Path(out_dir)
    trainer = build_trainer(config)
    timing: list[float] = []
    checkpoint = out / CHECKPOINT
    if checkpoint.exists():
        if not resume:
            raise ConfigError(f'{str(out)!r} already holds a run ({CHECKPOINT}); pass --resume to '
                              f'continue it or choose another --out')
        timing = _resume(trainer, checkpoint, config)
    out = ensure_out_dir(out)  # only now: a refused run leaves nothing behind
    save_resolved_config(out, config)
    started = time.time()
    record: dict[str, Any] = {'command': list(command) if command is not None else None,
                              'machine': machine_info(), 'variant': config.variant,
                              'seed': config.seed, 'env_id': config.env_id,
                              'status': 'running', 'resumed_at_epoch': trainer.epoch if resume
                              else None}
    atomic_write_json(out / RUN_JSON, record)
    rows: list[dict[str, Any]] = []
    with progress(f'{config.variant} seed{config.seed}', config.epochs * config.epoch_steps,
                  unit='step', initial=min(trainer.epoch, config.epochs) * config.epoch_steps
                  ) as bar:
        while trainer.epoch < config.epochs:
            tick = time.perf_counter()
            stats = trainer.run_epoch(bar.update)
            timing.append(time.perf_counter() - tick)
            table = [[*s.as_row(), round(timing[i], 3), round(config.epoch_steps / timing[i], 2)]
                     for i, s in enumerate(trainer.history)]
            atomic_write_csv(out / RUN_CSV, CSV_COLUMNS, table)
            rows = [dict(zip(CSV_COLUMNS, row)) for row in table]
            bar.set_postfix(reward=f'{stats.reward:.0f}', falls=stats.falls,
                            vetoes=stats.vetoes)
            if trainer.epoch % checkpoint_every == 0 or trainer.epoch >= config.epochs:
                _save_outputs(out, trainer, timing)
    falls = [int(r['falls']) for r in rows] if rows else [s.falls for s in trainer.history]
    record.update(status='finished', epochs_done=trainer.epoch, env_steps=trainer.total_steps,
                  total_falls=int(np.sum(falls)), wall_s_this_session=round(time.time() - started,
                                                                            1),
                  train_wall_s=round(float(np.sum(timing)), 1))
    atomic_write_json(out / RUN_JSON, record)
    return rows


def read_epochs_csv(path: str | Path) -> dict[str, list[float]]:
    """Columns of an ``epochs.csv`` as float lists (empty cells → NaN)."""
    import csv

    from ior_ros.core.input_files import JSON_LIMIT, read_input_text
    file = Path(path)
    text = read_input_text(file, 'per-epoch CSV', JSON_LIMIT, expected='a UTF-8 CSV table',
                           allow_empty=True)
    try:
        reader = csv.DictReader(io.StringIO(text))
        columns: dict[str, list[float]] = {name: [] for name in reader.fieldnames or []}
        for row in reader:
            for name in columns:
                cell = row.get(name, '')
                if cell in ('', None):
                    columns[name].append(float('nan'))
                elif cell in ('True', 'False'):
                    columns[name].append(1.0 if cell == 'True' else 0.0)
                else:
                    columns[name].append(float(cell))
    except (ValueError, TypeError, csv.Error) as exc:
        raise ConfigError(f'{str(file)!r} is not a per-epoch CSV of `ior train twin`: '
                          f'{" ".join(str(exc).split())[:160]}') from None
    for required in ('epoch', 'reward', 'falls'):
        if required not in columns:
            raise ConfigError(f'{str(file)!r} has no {required!r} column')
    return columns
