"""
Seed 000 Fig. 4: Hopper reward per epoch (a) and robot falls per epoch (b) for SAC, the twin
without GAN and the twin with GAN.

Paper (Liang et al., IEEE Network 2024, §III): over 50 epochs of 1000 steps the twin with GAN falls
166 times, the twin without GAN 184 times, SAC more; at epoch 9 the GAN variant falls about 30%
less than the twin without GAN and 50% less than SAC; at epoch 120 its reward is about 1.2× the
twin's and 1.4× SAC's; within the first 80 epochs the twin without GAN converges fastest.

Three ways to run it (``ior reproduce seed000-fig4 ...``):

* ``--quick``: each variant for a few short epochs with small networks (a smoke run, ≤ 60 s on two
  cores; its numbers say nothing about the paper's claims);
* no option: the full run (``config/twin.yaml``: 50 epochs × 1000 steps, variants × seeds ``seed``
  and ``seed + 1``, or ``--seeds LIST``) into ``OUT/runs/<variant>/seed<N>/``; hours on two CPU
  cores. The runs are independent: ``--workers N`` trains N at a time, ``--ray-address ADDR`` on a
  Ray cluster (:mod:`ior_ros.experiments.sweep`). Resumable: a finished run (its
  ``sweep_result.json``) is skipped, an interrupted one resumes from its checkpoint, so a run
  spread over several sittings completes; the figure averages the runs of the seeds asked for.
  ``scripts/run_seed000_fig4.sh`` is this with ``--workers 2``;
* ``--from DIR``: rebuild the figure from finished runs laid out as
  ``DIR/<variant>/seed<N>/epochs.csv`` (what ``ior train twin --out DIR/<variant>/seed<N>``
  writes), averaged over the seeds found.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ior_ros.core.config import config_to_dict, load_config
from ior_ros.core.errors import ConfigError
from ior_ros.experiments.contract import Claim, FigureResult, ReproContext
from ior_ros.experiments.statistics import difference_of_means, mean_band, ratio_of_means

if TYPE_CHECKING:
    from ior_ros.core.rl.twin_sac import TwinTrainConfig

__all__ = ['run', 'VARIANTS', 'quick_config', 'aggregate_runs', 'build_claims', 'plot_fig4',
           'train_one']

VARIANTS: tuple[str, ...] = ('sac', 'twin', 'twin_gan')
LABELS = {'sac': 'SAC', 'twin': 'twin (no GAN)', 'twin_gan': 'twin + GAN'}
PAPER_FALLS_50 = {'twin_gan': 166, 'twin': 184}
FALL_EPOCHS = 50
TITLE = 'Hopper reward and falls per epoch: SAC vs twin vs twin+GAN (seed 000 Fig. 4)'


def quick_config(config: TwinTrainConfig) -> TwinTrainConfig:
    """A smoke-run version of a TwinTrainConfig: short epochs, small networks, short twin fits."""
    data = config_to_dict(config)
    data.update(epochs=3, epoch_steps=300, learning_starts=300, eval_episodes=1,
                eval_max_steps=300)
    data['agent'] = {**data['agent'], 'hidden_sizes': [64, 64]}
    data['world_model'] = {**data['world_model'], 'hidden_sizes': [64, 64],
                           'ensemble_size': 2}
    data['gan'] = {**data['gan'], 'hidden_size': 32}
    data['twin'] = {**data['twin'], 'start_steps': 300, 'train_every_steps': 150,
                    'initial_train_steps': 200, 'train_steps': 50, 'samples_per_refresh': 2000,
                    'twin_buffer_size': 5000, 'gan_initial_iterations': 50, 'gan_iterations': 20,
                    'gan_moment_samples': 500}
    return type(config).model_validate(data)


def _run_dirs(root: Path, seeds: Sequence[int] | None = None) -> dict[str, dict[int, Path]]:
    found: dict[str, dict[int, Path]] = {}
    for variant in VARIANTS:
        folder = root / variant
        if not folder.is_dir():
            continue
        for seed_dir in sorted(folder.glob('seed*')):
            csv = seed_dir / 'epochs.csv'
            suffix = seed_dir.name[4:]
            if csv.is_file() and suffix.isdigit() and (seeds is None or int(suffix) in seeds):
                found.setdefault(variant, {})[int(suffix)] = csv
    return found


def aggregate_runs(root: str | Path, only_seeds: Sequence[int] | None = None
                   ) -> tuple[dict[str, dict[str, list[float]]], dict[str, Any]]:
    """
    Average the per-epoch CSVs under ``root/<variant>/seed<N>/epochs.csv`` over seeds (those in
    ``only_seeds``; None: every seed found).

    Each variant's curves run to the shortest of its seeds' runs. Returns the series
    ``{variant: {"reward": [...], "falls": [...]}}`` and metadata (seeds, per-seed curves, spread).
    """
    from ior_ros.experiments.twin_training import read_epochs_csv
    base = Path(root)
    if not base.is_dir():
        raise ConfigError(f'--from {str(base)!r}: no such folder')
    if not any((base / v).is_dir() for v in VARIANTS) and (base / 'runs').is_dir():
        base = base / 'runs'
    found = _run_dirs(base, only_seeds)
    if not found:
        raise ConfigError(f'--from {str(base)!r}: no runs found; expected '
                          f'{base}/<variant>/seed<N>/epochs.csv with variant in {list(VARIANTS)}')
    missing = [v for v in VARIANTS if v not in found]
    if missing:
        warnings.warn(f'seed000-fig4: no runs for {missing} under {base}', stacklevel=2)
    series: dict[str, dict[str, list[float]]] = {}
    meta: dict[str, Any] = {'source': str(base), 'seeds': {}, 'per_seed': {}, 'spread': {}}
    for variant, seeds in found.items():
        columns = {seed: read_epochs_csv(path) for seed, path in sorted(seeds.items())}
        length = min(len(c['epoch']) for c in columns.values())
        if length == 0:
            continue
        reward = np.array([c['reward'][:length] for c in columns.values()])  # [n_seeds, E]
        falls = np.array([c['falls'][:length] for c in columns.values()])  # [n_seeds, E]
        series[variant] = {'reward': reward.mean(axis=0).tolist(),
                           'falls': falls.mean(axis=0).tolist()}
        meta['seeds'][variant] = sorted(seeds)
        meta['per_seed'][variant] = {str(s): {'reward': c['reward'][:length],
                                              'falls': c['falls'][:length]}
                                     for s, c in columns.items()}
        meta['spread'][variant] = {'reward_min': reward.min(axis=0).tolist(),
                                   'reward_max': reward.max(axis=0).tolist(),
                                   'falls_min': falls.min(axis=0).tolist(),
                                   'falls_max': falls.max(axis=0).tolist()}
        band: dict[str, list[float | None]] = {}
        for metric, values in (('reward', reward), ('falls', falls)):
            low, high = mean_band(values)
            band[f'{metric}_low'] = [None if np.isnan(v) else float(v) for v in low]
            band[f'{metric}_high'] = [None if np.isnan(v) else float(v) for v in high]
        meta.setdefault('ci95', {})[variant] = band
    if not series:
        raise ConfigError(f'--from {str(base)!r}: the runs found have no finished epoch')
    config_file = next(iter(next(iter(found.values())).values())).parent / 'config.resolved.yaml'
    meta['config_file'] = str(config_file) if config_file.is_file() else None
    return series, meta


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b and np.isfinite(a) and np.isfinite(b) and b > 0 else None


def build_claims(series: dict[str, dict[str, list[float]]],
                 per_seed: dict[str, dict[str, dict[str, list[float]]]] | None = None
                 ) -> tuple[list[Claim], dict[str, Any]]:
    """
    The paper's claims beside ours (judged only where every variant it names has data).

    With ``per_seed`` (``{variant: {seed: {"reward": [...], "falls": [...]}}}``) the orderings
    are also judged with 95 % confidence over the seeds (:mod:`~ior_ros.experiments.statistics`):
    each pair of the falls ordering by Welch's interval of the difference of the mean totals, the
    reward ratios by a bootstrap interval; "holds" is then yes (the interval is on the claimed
    side), NO (on the other side) or not judged (the seeds do not separate the variants).
    """
    claims: list[Claim] = []
    summary: dict[str, Any] = {}
    have = [v for v in VARIANTS if v in series]
    n_falls = min([FALL_EPOCHS, *[len(series[v]['falls']) for v in have]])
    totals = {v: float(np.sum(series[v]['falls'][:n_falls])) for v in have}
    summary['falls_epochs_compared'] = n_falls
    summary['falls_total'] = totals
    for variant, paper in (('twin_gan', 166), ('twin', 184), ('sac', 'more than 184')):
        if variant in totals:
            claims.append(Claim(f'total falls over the first {n_falls} epochs, {LABELS[variant]}'
                                + ('' if n_falls == FALL_EPOCHS else ' (paper: 50 epochs)'),
                                paper, round(totals[variant], 1)))
    if len(have) == 3:
        order = totals['twin_gan'] < totals['twin'] < totals['sac']
        claims.append(Claim('falls: twin+GAN < twin < SAC', '166 < 184 < SAC',
                            f"{totals['twin_gan']:g} < {totals['twin']:g} < {totals['sac']:g}",
                            order))
    if per_seed:
        claims += _confident_claims(per_seed, have, n_falls, summary)
    if {'twin_gan', 'twin', 'sac'} <= set(have) and n_falls >= 9:
        at9 = {v: series[v]['falls'][8] for v in have}
        cut_twin = 1.0 - at9['twin_gan'] / at9['twin'] if at9['twin'] > 0 else None
        cut_sac = 1.0 - at9['twin_gan'] / at9['sac'] if at9['sac'] > 0 else None
        ours = (f'{100 * cut_twin:.0f}% / {100 * cut_sac:.0f}%'
                if cut_twin is not None and cut_sac is not None else 'n/a')
        holds = None if cut_twin is None or cut_sac is None else (cut_twin > 0 and cut_sac > 0)
        claims.append(Claim('falls at epoch 9: twin+GAN fewer than twin / than SAC', '≈30% / ≈50%',
                            ours, holds))
    n_reward = min(len(series[v]['reward']) for v in have)
    summary['reward_epoch_compared'] = n_reward
    last = {v: float(series[v]['reward'][n_reward - 1]) for v in have}
    tail = max(1, n_reward // 10)
    tail_mean = {v: float(np.mean(series[v]['reward'][n_reward - tail:n_reward])) for v in have}
    summary['reward_last'] = last
    summary['reward_last_10pct_mean'] = tail_mean
    for other, paper_ratio in (('sac', 1.4), ('twin', 1.2)):
        if 'twin_gan' in have and other in have:
            ratio = _ratio(last['twin_gan'], last[other])
            claims.append(Claim(f'reward at the last epoch ({n_reward}), twin+GAN / '
                                f'{LABELS[other]} (paper: epoch 120)', paper_ratio,
                                round(ratio, 2) if ratio is not None else 'n/a',
                                None if ratio is None else ratio > 1.0))
            if tail == 1:
                continue
            smooth = _ratio(tail_mean['twin_gan'], tail_mean[other])
            claims.append(Claim(f'mean reward over the last {tail} epoch(s), twin+GAN / '
                                f'{LABELS[other]}', paper_ratio,
                                round(smooth, 2) if smooth is not None else 'n/a',
                                None if smooth is None else smooth > 1.0))
    if len(have) == 3:
        early = min(n_reward, 80)
        mean_early = {v: float(np.mean(series[v]['reward'][:early])) for v in have}
        summary['reward_mean_early'] = mean_early
        fastest = max(mean_early, key=lambda v: mean_early[v])
        claims.append(Claim(f'fastest early convergence (mean reward, epochs 1-{early})',
                            'twin (no GAN)', LABELS[fastest], fastest == 'twin'))
    return claims, summary


def _confident_claims(per_seed: dict[str, dict[str, dict[str, list[float]]]], have: list[str],
                      n_falls: int, summary: dict[str, Any]) -> list[Claim]:
    """The orderings with 95 % intervals over seeds (build_claims)."""
    claims: list[Claim] = []
    totals = {v: [float(np.sum(c['falls'][:n_falls])) for c in per_seed[v].values()]
              for v in have if v in per_seed}
    summary['falls_total_per_seed'] = totals
    intervals: dict[str, Any] = {}
    for low, high, paper in (('twin_gan', 'twin', '166 < 184'), ('twin', 'sac', '184 < SAC'),
                             ('twin_gan', 'sac', '166 < SAC')):
        if low not in totals or high not in totals:
            continue
        diff = difference_of_means(totals[low], totals[high])
        intervals[f'falls_{low}_minus_{high}'] = [diff.estimate, diff.low, diff.high]
        side = diff.separated(0.0)
        claims.append(Claim(f'falls, {LABELS[low]} < {LABELS[high]}: difference of mean totals, '
                            f'Welch 95% CI ({len(totals[low])} vs {len(totals[high])} seeds)',
                            paper,
                            diff.text(1) + ('' if side is not None else ' not separated'),
                            None if side is None else not side))
    n_reward = min(len(next(iter(per_seed[v].values()))['reward']) for v in have
                   if v in per_seed)
    for other, paper_ratio in (('sac', 1.4), ('twin', 1.2)):
        if 'twin_gan' not in per_seed or other not in per_seed:
            continue
        last = {v: [float(c['reward'][n_reward - 1]) for c in per_seed[v].values()]
                for v in ('twin_gan', other)}
        ratio = ratio_of_means(last['twin_gan'], last[other])
        intervals[f'reward_last_twin_gan_over_{other}'] = [ratio.estimate, ratio.low, ratio.high]
        side = ratio.separated(1.0)
        ours = ratio.text(2) + ('' if side is not None else ' not separated')
        claims.append(Claim(f'reward at epoch {n_reward}, twin+GAN / {LABELS[other]} > 1: ratio '
                            'of means, bootstrap 95% CI', paper_ratio, ours, side))
    summary['ci95'] = intervals
    return claims


def plot_fig4(result: FigureResult) -> bytes:
    """Two panels: reward per epoch and falls per epoch (mean over seeds; the 95 % confidence
    band of the mean, or the min–max band of results that predate it)."""
    from matplotlib.ticker import MaxNLocator

    from ior_ros.experiments.plotting import figure_png, new_figure

    ci95 = result.extra.get('ci95', {})
    spread = result.extra.get('spread', {})
    fig, axes = new_figure(1, 2, figsize=(11.0, 4.0))
    for ax, metric, label in ((axes[0], 'reward', 'reward (evaluation return)'),
                              (axes[1], 'falls', 'falls per epoch (1000 steps)')):
        for variant in VARIANTS:
            if variant not in result.series:
                continue
            ys = result.series[variant][metric]
            xs = np.arange(1, len(ys) + 1)
            line, = ax.plot(xs, ys, label=LABELS[variant], marker='o' if len(ys) < 20 else None)
            if len(result.extra['seeds'][variant]) < 2:
                continue
            band = ci95.get(variant)
            if band is not None:
                low = np.array([np.nan if v is None else v for v in band[f'{metric}_low']])
                high = np.array([np.nan if v is None else v for v in band[f'{metric}_high']])
            else:
                low = np.asarray(spread.get(variant, {}).get(f'{metric}_min', []), float)
                high = np.asarray(spread.get(variant, {}).get(f'{metric}_max', []), float)
            if metric == 'falls':
                low = np.maximum(low, 0.0)  # a count: the band's lower edge stops at zero
            if low.size == len(ys) and high.size == len(ys):
                ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.15)
        ax.set_xlabel('epoch')
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend()
    axes[0].set_title('(a) reward vs epochs')
    axes[1].set_title('(b) falls vs epochs')
    seeds = result.extra.get('seeds', {})
    n_seeds = sorted({len(v) for v in seeds.values()})
    fig.suptitle(f'seed000-fig4: Hopper-v5, mean over {"/".join(map(str, n_seeds))} seed(s)'
                 + (', 95% confidence band of the mean' if ci95 and max(n_seeds) > 1 else '')
                 + (' (quick smoke run)' if result.quick else ''))
    return figure_png(fig)


def train_one(config: dict[str, Any], out_dir: str) -> dict[str, Any]:
    """
    One ``ior train twin`` run into ``out_dir``, as a sweep target (``config``: a
    TwinTrainConfig as a dict, its variant and seed set). It resumes from the folder's checkpoint
    when there is one (so a run interrupted in an earlier sitting continues; a checkpoint of
    another configuration is refused, epochs apart). Returns a short summary.
    """
    from ior_ros.core.rl.twin_sac import TwinTrainConfig
    from ior_ros.experiments.twin_training import CHECKPOINT, RUN_CSV, run_twin_training

    folder = Path(out_dir)
    if (folder / RUN_CSV).is_file() and not (folder / CHECKPOINT).is_file():
        raise ConfigError(f'{folder}: holds a run without its checkpoint ({RUN_CSV}, no '
                          f'{CHECKPOINT}: a committed result?), which cannot be resumed; move it '
                          'away or pass --force to train it again from scratch')
    run_config = TwinTrainConfig.model_validate(config)
    rows = run_twin_training(run_config, out_dir, resume=True,
                             command=['ior', 'reproduce', 'seed000-fig4'])
    return {'variant': run_config.variant, 'seed': run_config.seed, 'epochs': len(rows),
            'total_falls': int(sum(int(r['falls']) for r in rows))}


def _train_all(config: TwinTrainConfig, root: Path, seeds: Sequence[int],
               ctx: ReproContext) -> None:
    """Every variant x seed through a sweep (``ctx``'s workers / Ray address / force)."""
    from ior_ros.experiments.sweep import Sweep, SweepRun

    base = config_to_dict(config)
    runs = [SweepRun(f'{variant}/seed{seed}', f'{__name__}:train_one',
                     {'config': {**base, 'variant': variant, 'seed': seed}},
                     root / variant / f'seed{seed}')
            for variant in VARIANTS for seed in seeds]
    Sweep(runs, name='seed000-fig4').run(workers=ctx.workers, ray_address=ctx.ray_address,
                                         force=ctx.force, progress=ctx.progress)


def run(ctx: ReproContext) -> FigureResult:
    """Run (or rebuild from ``--from``) seed 000 Fig. 4."""
    from ior_ros.core.rl.twin_sac import TwinTrainConfig
    if ctx.config_path is not None and not Path(ctx.config_path).is_file():
        raise ConfigError(f'--config {str(ctx.config_path)!r}: no such file')
    config = load_config(TwinTrainConfig, ctx.config_path, ctx.overrides)
    from_dir = ctx.options.get('from_dir')
    if from_dir is not None:
        series, meta = aggregate_runs(from_dir)
        if meta.get('config_file'):
            config = load_config(TwinTrainConfig, meta['config_file'])
    elif ctx.quick:
        config = quick_config(config)
        seeds = list(ctx.seeds) if ctx.seeds is not None else [ctx.seed]
        with tempfile.TemporaryDirectory(prefix='seed000-fig4-quick-') as tmp:
            _train_all(config, Path(tmp), seeds, ctx)
            series, meta = aggregate_runs(tmp, seeds)
        meta['source'] = 'quick run (temporary folder)'
    else:
        root = Path(ctx.out_dir) / 'runs'
        seeds = list(ctx.seeds) if ctx.seeds is not None else [ctx.seed, ctx.seed + 1]
        _train_all(config, root, seeds, ctx)
        series, meta = aggregate_runs(root, seeds)
    claims, summary = build_claims(series, meta['per_seed'])
    longest = max(len(s['reward']) for s in series.values())
    doc_config = config_to_dict(config)
    doc_config.pop('variant', None)
    doc_config.pop('seed', None)
    result = FigureResult(
        id='seed000-fig4', title=TITLE, x_name='epoch', x_values=list(range(1, longest + 1)),
        y_name='reward / falls per epoch', series=series, claims=claims, config=doc_config,
        seed=ctx.seed, quick=ctx.quick,
        extra={'seeds': meta['seeds'], 'source': meta['source'], 'spread': meta['spread'],
               'ci95': meta.get('ci95', {}), 'per_seed': meta['per_seed'], 'summary': summary})
    result.plot = plot_fig4
    return result
