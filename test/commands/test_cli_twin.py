"""`ior train twin`, `ior twin eval-model`, `ior reproduce seed000-fig4 --from` end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from ior_ros.core.artifacts import atomic_write_csv

SMALL = ['--set', 'agent.hidden_sizes=[32, 32]', '--set', 'agent.batch_size=32',
         '--set', 'world_model.hidden_sizes=[32, 32]', '--set', 'world_model.ensemble_size=2',
         '--set', 'gan.hidden_size=16', '--set', 'learning_starts=60',
         '--set', 'twin.start_steps=60', '--set', 'twin.train_every_steps=40',
         '--set', 'twin.initial_train_steps=20', '--set', 'twin.train_steps=5',
         '--set', 'twin.samples_per_refresh=200', '--set', 'twin.gan_initial_iterations=5',
         '--set', 'twin.gan_iterations=2', '--set', 'twin.gan_moment_samples=100',
         '--set', 'eval_max_steps=50']


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding='utf-8') as handle:
        return list(csv.DictReader(handle))


def test_train_twin_writes_the_run_and_resumes(ior, tmp_path: Path) -> None:
    out = tmp_path / 'run'
    args = ['train', 'twin', '--env', 'Hopper-v5', '--variant', 'twin_gan', '--epoch-steps',
            '120', '--seed', '0', '--eval-episodes', '1', '--out', str(out), '--no-progress',
            *SMALL]
    done = ior(*args, '--epochs', '1')
    assert done.returncode == 0, done.stderr
    rows = read_rows(out / 'epochs.csv')
    assert len(rows) == 1
    assert {'epoch', 'reward', 'falls', 'vetoes', 'wall_s'} <= set(rows[0])
    assert int(rows[0]['falls']) >= 1  # the random warm-up falls
    for name in ('config.resolved.yaml', 'checkpoint.pt', 'agent.pt', 'twin/twin.pt',
                 'run.json'):
        assert (out / name).is_file(), name
    record = json.loads((out / 'run.json').read_text())
    assert record['status'] == 'finished' and record['total_falls'] == int(rows[0]['falls'])
    assert 'falls in total' in done.stdout

    again = ior(*args, '--epochs', '1')
    assert again.returncode == 2 and 'pass --resume' in again.stderr

    resumed = ior(*args, '--epochs', '2', '--resume')
    assert resumed.returncode == 0, resumed.stderr
    rows = read_rows(out / 'epochs.csv')
    assert [r['epoch'] for r in rows] == ['1', '2'] and rows[1]['env_steps'] == '240'


def test_unknown_env_id_is_one_clear_line(ior, tmp_path: Path) -> None:
    done = ior('train', 'twin', '--env', 'Hopperr-v5', '--out', str(tmp_path / 'x'),
               '--no-progress')
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith(
        "ior: error: unknown environment id 'Hopperr-v5'; did you mean Hopper-v5")


def test_bad_config_value_is_named(ior, tmp_path: Path) -> None:
    done = ior('train', 'twin', '--out', str(tmp_path / 'x'), '--no-progress',
               '--set', 'twin.twin_ratio=1.5')
    assert done.returncode == 2 and 'twin.twin_ratio' in done.stderr


def test_eval_model_and_incompatible_twin(ior, tmp_path: Path) -> None:
    out = tmp_path / 'eval'
    done = ior('twin', 'eval-model', '--env', 'Hopper-v5', '--train-samples', '600',
               '--test-samples', '200', '--epochs', '3', '--out', str(out), '--no-progress',
               '--set', 'world_model.hidden_sizes=[32, 32]')
    assert done.returncode == 0, done.stderr
    doc = json.loads((out / 'model_eval.json').read_text())
    assert doc['train_samples'] == 600 and doc['test_samples'] == 200
    for key in ('reward_nmse', 'state_nmse', 'delta_nmse'):
        assert np.isfinite(doc['errors'][key])
    assert (out / 'twin' / 'twin.pt').is_file()

    wrong = ior('twin', 'eval-model', '--env', 'Pendulum-v1', '--load', str(out / 'twin'),
                '--test-samples', '50', '--out', str(tmp_path / 'e2'), '--no-progress')
    assert wrong.returncode == 2
    assert 'incompatible spaces: the twin models obs [11], action [3]' in wrong.stderr
    assert "obs [3], action [1] (env 'Pendulum-v1')" in wrong.stderr


def test_eval_model_on_the_robot_tracking_env(ior, tmp_path: Path) -> None:
    out = tmp_path / 'robot'
    done = ior('twin', 'eval-model', '--env', 'ior/RobotTracking-v0', '--train-samples', '400',
               '--test-samples', '100', '--epochs', '2', '--out', str(out), '--no-progress',
               '--set', 'world_model.hidden_sizes=[16]')
    assert done.returncode == 0, done.stderr
    doc = json.loads((out / 'model_eval.json').read_text())
    assert doc['env_id'] == 'ior/RobotTracking-v0' and doc['errors']['samples'] == 100
    unknown = ior('twin', 'eval-model', '--env', 'NoSuchEnv-v0', '--out', str(tmp_path / 'u'),
                  '--no-progress')
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines()[-1].startswith(
        "ior: error: unknown environment id 'NoSuchEnv-v0'")


def write_run(root: Path, variant: str, seed: int, reward: list[float],
              falls: list[int]) -> None:
    from ior_ros.experiments.twin_training import CSV_COLUMNS
    rows = []
    for i, (r, f) in enumerate(zip(reward, falls)):
        values = {name: 0 for name in CSV_COLUMNS}
        values.update(epoch=i + 1, env_steps=1000 * (i + 1), reward=r, falls=f)
        rows.append([values[name] for name in CSV_COLUMNS])
    atomic_write_csv(root / variant / f'seed{seed}' / 'epochs.csv', CSV_COLUMNS, rows)


def test_reproduce_from_finished_runs(ior, tmp_path: Path) -> None:
    runs = tmp_path / 'runs'
    epochs = 10
    rng = np.random.default_rng(0)
    truth = {}
    for variant, level, fall_rate in (('sac', 100.0, 9), ('twin', 120.0, 6),
                                      ('twin_gan', 150.0, 4)):
        per_seed = []
        for seed in (0, 1):
            reward = list(level * np.arange(1, epochs + 1) + rng.normal(0, 1, epochs))
            falls = list(rng.integers(fall_rate - 2, fall_rate + 3, epochs))
            write_run(runs, variant, seed, reward, falls)
            per_seed.append((reward, falls))
        truth[variant] = per_seed
    out = tmp_path / 'fig'
    done = ior('reproduce', 'seed000-fig4', '--from', str(runs), '--out', str(out))
    assert done.returncode == 0, done.stderr
    doc = json.loads((out / 'seed000-fig4.json').read_text())
    assert doc['x']['values'] == list(range(1, epochs + 1))
    for variant, per_seed in truth.items():
        mean_falls = np.mean([f for _, f in per_seed], axis=0)
        np.testing.assert_allclose(doc['series'][variant]['falls'], mean_falls)
        mean_reward = np.mean([r for r, _ in per_seed], axis=0)
        np.testing.assert_allclose(doc['series'][variant]['reward'], mean_reward)
    claims = {c['text']: c for c in doc['paper']['claims']}
    order = claims['falls: twin+GAN < twin < SAC']
    totals = {v: float(np.sum(np.mean([f for _, f in s], axis=0))) for v, s in truth.items()}
    assert order['holds'] == (totals['twin_gan'] < totals['twin'] < totals['sac'])
    ratio = next(c for t, c in claims.items() if t.startswith('reward at the last epoch')
                 and 'SAC' in t)
    assert ratio['paper'] == 1.4 and ratio['holds'] is True
    assert (out / 'seed000-fig4.png').stat().st_size > 10_000


def test_reproduce_from_an_empty_folder_is_a_clear_error(ior, tmp_path: Path) -> None:
    done = ior('reproduce', 'seed000-fig4', '--from', str(tmp_path), '--out', str(tmp_path / 'o'))
    assert done.returncode == 2 and 'no runs found' in done.stderr


@pytest.mark.slow
def test_reproduce_quick_within_a_minute(ior, tmp_path: Path) -> None:
    done = ior('reproduce', 'seed000-fig4', '--quick', '--out', str(tmp_path), '--no-progress')
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / 'seed000-fig4.json').read_text())
    assert set(doc['series']) == {'sac', 'twin', 'twin_gan'}
    assert doc['wall_s'] < 90


def test_reproduce_from_five_seeds_states_orderings_with_confidence(ior, tmp_path: Path) -> None:
    runs = tmp_path / 'runs'
    epochs = 12
    rng = np.random.default_rng(3)
    totals: dict[str, list[float]] = {}
    # falls well apart (9 > 6 > 4 a epoch), except twin+GAN and twin in the reward at the end
    for variant, fall_rate, final in (('sac', 9, 400.0), ('twin', 6, 500.0),
                                      ('twin_gan', 4, 510.0)):
        for seed in range(5):
            reward = list(np.linspace(50.0, final, epochs) + rng.normal(0, 40, epochs))
            falls = list(rng.integers(fall_rate - 1, fall_rate + 2, epochs))
            write_run(runs, variant, seed, reward, falls)
            totals.setdefault(variant, []).append(float(np.sum(falls)))
    out = tmp_path / 'fig'
    done = ior('reproduce', 'seed000-fig4', '--from', str(runs), '--out', str(out))
    assert done.returncode == 0, done.stderr
    doc = json.loads((out / 'seed000-fig4.json').read_text())
    claims = {c['text']: c for c in doc['paper']['claims']}
    welch = {t: c for t, c in claims.items() if 'Welch 95% CI (5 vs 5 seeds)' in t}
    assert len(welch) == 3 and all(c['holds'] is True for c in welch.values()), welch
    from scipy import stats
    gan_vs_twin = claims['falls, twin + GAN < twin (no GAN): difference of mean totals, Welch 95% '
                         'CI (5 vs 5 seeds)']
    interval = stats.ttest_ind(totals['twin_gan'], totals['twin'],
                               equal_var=False).confidence_interval(0.95)
    assert gan_vs_twin['ours'] == (f"{np.mean(totals['twin_gan']) - np.mean(totals['twin']):.1f} "
                                   f'[{interval.low:.1f}, {interval.high:.1f}]')
    close = claims['reward at epoch 12, twin+GAN / twin (no GAN) > 1: ratio of means, bootstrap '
                   '95% CI']
    assert close['holds'] is None and close['ours'].endswith('not separated')
    # the figure's band: the t interval of the mean, per epoch, around the plotted mean
    band = doc['ci95']['twin']
    mean = np.array(doc['series']['twin']['falls'])
    assert np.all(np.array(band['falls_low']) < mean) and np.all(mean < band['falls_high'])
