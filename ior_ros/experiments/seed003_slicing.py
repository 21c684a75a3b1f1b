"""
Seed 003 (Golmohammadi, Rayguru, Baidya, arXiv:2505.15977) Figs. 2-8 and Table III: the upper-level
slicer.

Every function evaluates the trained policy shipped in ``config/policies/seed003_slicing`` (made
by the command in its ``policy.json``) unless ``--retrain`` is given, in which case a policy is
trained
into ``OUT/policy`` first (``train.steps`` slots, or a short demonstration run with ``--quick``).
Evaluations use held-out channel seeds (``eval.first_seed + k``) that training never sees; every
method sees the same channels on the same seed.

``--from RUN`` evaluates the policy of a finished ``ior train slicing --out RUN`` instead (its
``metrics.csv`` gives the training curves of Figs. 2 and 3).

``--quick`` shortens the evaluations (one episode of 1000 slots per point, fewer points); the
shipped policy is still the one evaluated.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ior_ros.core.artifacts import read_artifact
from ior_ros.core.config import config_to_dict, load_config
from ior_ros.core.errors import ConfigError
from ior_ros.core.slicing.config import (
    DexterityMode,
    SlicingEnvConfig,
    SlicingRunConfig,
    make_slicing_config,
)
from ior_ros.experiments.contract import Claim, FigureResult, ReproContext
from ior_ros.experiments.slicing_runs import (
    POLICY_INFO_ARTIFACT,
    EvalOutcome,
    evaluate_slicing,
    shipped_policy_dir,
    train_slicing,
)

__all__ = ['run_fig2', 'run_fig3', 'run_fig4', 'run_fig5', 'run_fig6', 'run_fig7', 'run_fig8',
           'run_table3']

QUICK_RETRAIN_STEPS = 3000
TABLE3_ROWS = ((5, 1.0481, 17.9188, 19.4697), (10, 1.0645, 19.6458, 19.2875),
               (15, 1.8141, 19.7586, 19.9794))
"""Seed 003 Table III: (timeslot, channel gain, DRL Mb/s, PF Mb/s), average over URLLC users."""


# ----------------------------------------------------------------------------------------------
# shared


def _run_config(ctx: ReproContext) -> SlicingRunConfig:
    return load_config(SlicingRunConfig, ctx.config_path, ctx.overrides)


def _policy_dir(ctx: ReproContext) -> Path:
    """
    The policy to evaluate: the shipped one, one trained now with ``--retrain``, or the one of
    a finished training run given with ``--from``.
    """
    from_dir = ctx.options.get('from_dir')
    if from_dir is not None:
        from ior_ros.core.input_files import input_file, input_folder
        if ctx.options.get('retrain'):
            raise ConfigError('--from and --retrain exclude each other: --from evaluates a '
                              'policy that is already trained')
        folder = input_folder(from_dir, '--from')
        input_file(folder / 'policy.npz', '--from', hint='expected a finished `ior train '
                   'slicing --out DIR` run')
        return folder
    if ctx.options.get('retrain'):
        target = ctx.out_dir / 'policy'
        if not (target / 'policy.npz').is_file():
            config = _run_config(ctx)
            steps = QUICK_RETRAIN_STEPS if ctx.quick else config.train.steps
            train_slicing(config, target, steps=steps, seed=ctx.seed, progress=ctx.progress,
                          command=f'ior reproduce ... --retrain (seed {ctx.seed}, {steps} slots)')
        return target
    shipped = shipped_policy_dir()
    if not (shipped / 'policy.npz').is_file():
        raise ConfigError(f'the shipped policy {shipped}/policy.npz is missing; '
                          'run with --retrain')
    return shipped


def _policy_meta(policy_dir: Path) -> dict[str, Any]:
    return read_artifact(policy_dir, POLICY_INFO_ARTIFACT).document


def _base_env(ctx: ReproContext, policy_dir: Path) -> SlicingEnvConfig:
    """The cell the policy was trained for, with any ``--set env.*`` overrides on top."""
    base = make_slicing_config(_policy_meta(policy_dir)['env_config'])
    env_overrides = [o[len('env.'):] for o in ctx.overrides if o.startswith('env.')]
    if not env_overrides:
        return base
    from ior_ros.core.config import apply_overrides
    return make_slicing_config(apply_overrides(base.model_dump(mode='json'), env_overrides))


def _with_rayleigh_scale(env: SlicingEnvConfig, scale: float) -> SlicingEnvConfig:
    """The cell with another Rayleigh scale σ of its radio link."""
    return make_slicing_config(env, link={**env.link.model_dump(), 'rayleigh_scale': scale})


def _eval_size(ctx: ReproContext, quick_episodes: int = 1) -> tuple[int, int]:
    config = _run_config(ctx)
    if ctx.quick:
        return quick_episodes, 1000
    return config.eval.episodes, config.eval.episode_slots


def _evaluate(ctx: ReproContext, policy: str | Path, env: SlicingEnvConfig,
              keep_trace: bool = False, desc: str | None = None,
              quick_episodes: int = 1) -> EvalOutcome:
    episodes, slots = _eval_size(ctx, quick_episodes)
    first_seed = _run_config(ctx).eval.first_seed + 1000 * ctx.seed
    return evaluate_slicing(policy, env, episodes, slots, first_seed, progress=ctx.progress,
                            keep_trace=keep_trace, desc=desc)


def _increasing(values: Sequence[float]) -> bool:
    """Last above first and a positive rank correlation with the x order."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return False
    ranks = np.argsort(np.argsort(v))
    rho = float(np.corrcoef(np.arange(len(v)), ranks)[0, 1]) if np.std(ranks) > 0 else 0.0
    return bool(v[-1] > v[0] and rho > 0)


def _decreasing(values: Sequence[float]) -> bool:
    return _increasing([-x for x in values])


def _r(values: Sequence[float], digits: int = 3) -> list[float]:
    return [round(float(v), digits) for v in values]


def _spread(values: Sequence[float]) -> float:
    """(max - min) / mean."""
    v = np.asarray(values, dtype=float)
    return float((v.max() - v.min()) / max(abs(v.mean()), 1e-12))


def _config_doc(ctx: ReproContext, policy_dir: Path, env: SlicingEnvConfig) -> dict[str, Any]:
    meta = _policy_meta(policy_dir)
    return {'env': config_to_dict(env), 'eval': config_to_dict(_run_config(ctx).eval),
            'policy': str(policy_dir), 'policy_command': meta.get('command'),
            'policy_seed': meta.get('seed'), 'policy_steps': meta.get('steps'),
            'policy_train_wall_s': meta.get('train_wall_s'),
            'retrained': bool(ctx.options.get('retrain'))}


def _metrics(policy_dir: Path) -> list[dict[str, float]]:
    from ior_ros.experiments.slicing_runs import read_metrics_csv
    path = policy_dir / 'metrics.csv'
    if not path.is_file():
        raise ConfigError(f'{path} is missing (the training curve of the policy)')
    return read_metrics_csv(path)


# ----------------------------------------------------------------------------------------------
# Fig. 2 and 3: training curves


def run_fig2(ctx: ReproContext) -> FigureResult:
    """Rewards of the eMBB and URLLC agents per training episode (seed 003 Fig. 2)."""
    policy_dir = _policy_dir(ctx)
    rows = _metrics(policy_dir)
    episodes = [int(r['episode']) for r in rows]
    embb = [r['return_embb'] for r in rows]
    urllc = [r['return_urllc'] for r in rows]
    total = [r['return_total'] for r in rows]
    tenth = max(len(total) // 10, 1)
    first, last, before = (float(np.mean(total[:tenth])), float(np.mean(total[-tenth:])),
                           float(np.mean(total[-2 * tenth:-tenth] or total)))
    converged = abs(last - before) <= 0.1 * max(abs(last), 1e-9)
    claims = [
        Claim('total reward (eMBB + URLLC) improves over training: first vs last tenth of '
              'episodes', 'converges (curves only)', f'{first:.1f} -> {last:.1f}',
              last > first),
        Claim('total reward has converged: last two tenths within 10 %', 'converged',
              f'{before:.1f} vs {last:.1f}', converged),
    ]
    env = make_slicing_config(_policy_meta(policy_dir)['env_config'])
    return FigureResult(
        'seed003-fig2', 'Training rewards of the dual-agent slicer (eMBB and URLLC agents)',
        'episode', episodes, 'episode return (-L_a summed over the episode)',
        {'embb': embb, 'urllc': urllc, 'total': total}, claims,
        _config_doc(ctx, policy_dir, env), ctx.seed, ctx.quick,
        extra={'note': 'episode returns of the environment reward -L_a (eq. 13); the drift '
                       'telescopes over an episode, so the return is mostly -V Σ h + λ Σ y'})


def run_fig3(ctx: ReproContext) -> FigureResult:
    """Mean queue lengths of the eMBB and URLLC users per training episode (seed 003 Fig. 3)."""
    policy_dir = _policy_dir(ctx)
    rows = _metrics(policy_dir)
    episodes = [int(r['episode']) for r in rows]
    embb = [r['embb_queue_packets'] for r in rows]
    urllc = [r['urllc_queue_packets'] for r in rows]
    fifth = max(len(rows) // 5, 1)
    e_first, e_last = float(np.mean(embb[:fifth])), float(np.mean(embb[-fifth:]))
    u_first, u_last = float(np.mean(urllc[:fifth])), float(np.mean(urllc[-fifth:]))
    claims = [
        Claim('eMBB queue falls during training (first vs last fifth of episodes)',
              'reduction in the final episodes', f'{e_first:.1f} -> {e_last:.1f} packets',
              e_last < e_first),
        Claim('URLLC queue at the end of training (first vs last fifth)', 'curves only',
              f'{u_first:.1f} -> {u_last:.1f} packets', u_last <= u_first),
    ]
    env = make_slicing_config(_policy_meta(policy_dir)['env_config'])
    return FigureResult(
        'seed003-fig3', 'Queue lengths of eMBB and URLLC users during training',
        'episode', episodes, 'mean queue per user [packets]', {'embb': embb, 'urllc': urllc},
        claims, _config_doc(ctx, policy_dir, env), ctx.seed, ctx.quick)


# ----------------------------------------------------------------------------------------------
# Fig. 4: rate CDFs


def _cdf(samples: np.ndarray, grid: np.ndarray) -> list[float]:
    s = np.sort(np.asarray(samples, dtype=float).ravel())
    fractions: list[float] = (np.searchsorted(s, grid, side='right') / max(len(s), 1)).tolist()
    return fractions


def run_fig4(ctx: ReproContext) -> FigureResult:
    """CDF of the per-slot per-user rates of eMBB and URLLC users, σ = 1 (seed 003 Fig. 4)."""
    policy_dir = _policy_dir(ctx)
    env = _with_rayleigh_scale(_base_env(ctx, policy_dir), 1.0)
    n_e = env.n_embb
    series: dict[str, Any] = {}
    medians: dict[str, tuple[float, float]] = {}
    means: dict[str, tuple[float, float]] = {}
    grid = np.round(np.arange(0.0, 60.01, 1.0), 3)
    for name, policy in (('drl', policy_dir), ('pf', 'pf')):
        outcome = _evaluate(ctx, policy, env, keep_trace=True, desc=f'fig4 {name}')
        trace = outcome.rates_trace_mbps
        assert trace is not None
        series[name] = {'embb_cdf': _cdf(trace[:, :n_e], grid),
                        'urllc_cdf': _cdf(trace[:, n_e:], grid)}
        medians[name] = (float(np.median(trace[:, :n_e])), float(np.median(trace[:, n_e:])))
        means[name] = (float(np.mean(trace[:, :n_e])), float(np.mean(trace[:, n_e:])))
    e_mean, u_mean = means['drl']
    claims = [
        Claim('eMBB users get a higher rate than URLLC users (DRL per-user means, Mb/s)',
              'yes (more bandwidth to eMBB)', f'eMBB {e_mean:.2f} vs URLLC {u_mean:.2f}',
              e_mean > u_mean),
        Claim('mean URLLC rate of the DRL slicer [Mb/s] within 10 % of Table III (17.9-19.8)',
              '17.9-19.8', round(u_mean, 2), 17.9 * 0.9 <= u_mean <= 19.8 * 1.1),
    ]
    return FigureResult(
        'seed003-fig4', 'CDF of eMBB and URLLC per-user rates (Rayleigh scale 1.0)',
        'rate [Mb/s]', grid.tolist(), 'CDF', series, claims, _config_doc(ctx, policy_dir, env),
        ctx.seed, ctx.quick, extra={'medians_mbps': medians, 'means_mbps': means,
                                    'note': 'per-slot rates are bimodal (a user holds 2 or 3 '
                                            'PRBs), so medians sit on a mode; compare means'})


# ----------------------------------------------------------------------------------------------
# Fig. 5-7: sweeps with the DRL policy


def _sweep(ctx: ReproContext, policy_dir: Path, envs: Sequence[SlicingEnvConfig],
           label: str) -> tuple[list[EvalOutcome], dict[str, list[float]]]:
    outcomes = [_evaluate(ctx, policy_dir, env, desc=f'{label} {i + 1}/{len(envs)}')
                for i, env in enumerate(envs)]
    series = {
        'embb_rate_mbps': [float(np.mean(o.embb_rate_mbps)) for o in outcomes],
        'urllc_rate_mbps': [float(np.mean(o.urllc_rate_mbps)) for o in outcomes],
        'embb_queue_packets': [o.embb_queue_mean_packets for o in outcomes],
        'urllc_queue_packets': [o.urllc_queue_mean_packets for o in outcomes],
        'urllc_throughput_mbps': [o.urllc_throughput_mbps for o in outcomes],
        'urllc_service_mbps': [o.urllc_service_mbps for o in outcomes],
        'sum_rate_mbps': [float(np.sum(o.embb_rate_mbps) + np.sum(o.urllc_rate_mbps))
                          for o in outcomes],
        'urllc_delay_p99_ms': [o.urllc_delay_p99_ms for o in outcomes],
        'violation_rate': [o.violation_rate for o in outcomes],
        'dexterity': [o.dexterity_mean for o in outcomes],
    }
    return outcomes, series


def run_fig5(ctx: ReproContext) -> FigureResult:
    """Average rate and queue vs the Rayleigh scale σ, same policy (seed 003 Fig. 5)."""
    policy_dir = _policy_dir(ctx)
    base = _base_env(ctx, policy_dir)
    sigmas = [0.5, 1.0, 2.0] if ctx.quick else [0.5, 0.75, 1.0, 1.25, 1.5, 2.0]
    envs = [_with_rayleigh_scale(base, s) for s in sigmas]
    _, s = _sweep(ctx, policy_dir, envs, 'fig5 σ')
    series = {'drl': {k: s[k] for k in ('embb_rate_mbps', 'urllc_rate_mbps',
                                          'embb_queue_packets', 'urllc_queue_packets')}}
    u_q = s['urllc_queue_packets']
    # the URLLC backlog that one deadline of commands makes: λ0 D_max packets
    deadline_queue = base.urllc_base_arrival_rate_pps * base.deadline_s
    u_range = float(np.max(u_q) - np.min(u_q))
    claims = [
        Claim('eMBB rate rises with σ (better channels)', 'rises', _r(s['embb_rate_mbps']),
              _increasing(s['embb_rate_mbps'])),
        Claim('URLLC rate rises with σ', 'rises', _r(s['urllc_rate_mbps']),
              _increasing(s['urllc_rate_mbps'])),
        Claim('eMBB queue slowly increases with σ but stays finite', 'slowly increases',
              _r(s['embb_queue_packets']), _increasing(s['embb_queue_packets'])),
        Claim('URLLC queue much smaller than eMBB queue', 'yes',
              f'{np.mean(u_q):.1f} vs {np.mean(s["embb_queue_packets"]):.1f} packets',
              float(np.mean(u_q)) < float(np.mean(s['embb_queue_packets']))),
        Claim('URLLC queue almost unaffected by σ: its range (max - min) is < 10 % of the '
              f'backlog one deadline of commands makes (λ0 D_max = {deadline_queue:.0f} packets)',
              'almost unaffected', f'range {u_range:.1f} packets',
              u_range < 0.1 * deadline_queue),
    ]
    return FigureResult(
        'seed003-fig5', 'Average rate and queue length vs Rayleigh fading scale σ',
        'rayleigh_scale', sigmas, 'rate [Mb/s] / queue [packets]', series, claims,
        _config_doc(ctx, policy_dir, base), ctx.seed, ctx.quick,
        extra={'violation_rate': s['violation_rate']})


def run_fig6(ctx: ReproContext) -> FigureResult:
    """Average rate vs the robots' control sampling interval (seed 003 Fig. 6)."""
    policy_dir = _policy_dir(ctx)
    base = _base_env(ctx, policy_dir)
    periods = [0.005, 0.01, 0.05] if ctx.quick else [0.005, 0.01, 0.02, 0.05, 0.1]
    if base.task.mode is not DexterityMode.TRACKING:
        base = make_slicing_config(base, task={**base.task.model_dump(), 'mode': 'tracking'})
    envs = [make_slicing_config(base, task={**base.task.model_dump(), 'control_period_s': p})
            for p in periods]
    _, s = _sweep(ctx, policy_dir, envs, 'fig6 T_s')
    series = {'drl': {k: s[k] for k in ('embb_rate_mbps', 'urllc_rate_mbps', 'dexterity')}}
    claims = [
        Claim('eMBB rate varies little with the sampling interval: (max - min) / mean',
              'minor variations', round(_spread(s['embb_rate_mbps']), 4),
              _spread(s['embb_rate_mbps']) < 0.05),
        Claim('URLLC rate varies little with the sampling interval: (max - min) / mean',
              'minor variations', round(_spread(s['urllc_rate_mbps']), 4),
              _spread(s['urllc_rate_mbps']) < 0.05),
    ]
    return FigureResult(
        'seed003-fig6', 'Average eMBB and URLLC rate vs control sampling interval',
        'control_period_s', periods, 'rate [Mb/s] / DI', series, claims,
        _config_doc(ctx, policy_dir, base), ctx.seed, ctx.quick,
        extra={'violation_rate': s['violation_rate']})


FIG7_REFERENCES: tuple[tuple[str, float, float], ...] = (
    ('fast, large figure-eight', 4.0, 3.0),
    ('nominal figure-eight', 1.0, 1.0),
    ('slow, large figure-eight', 4.0, 1.0),
)
"""(label, amplitude [m], speed scale): three references giving low, moderate and high DI."""


def run_fig7(ctx: ReproContext) -> FigureResult:
    """Average rate vs the dexterity index of three reference tasks (seed 003 Fig. 7)."""
    policy_dir = _policy_dir(ctx)
    base = _base_env(ctx, policy_dir)
    envs = []
    for _, amplitude, speed in FIG7_REFERENCES:
        reference = {**base.task.reference.model_dump(), 'amplitude_m': amplitude,
                     'speed_scale': speed}
        task = {**base.task.model_dump(), 'mode': 'tracking', 'reference': reference}
        envs.append(make_slicing_config(base, task=task))
    _, s = _sweep(ctx, policy_dir, envs, 'fig7 DI')
    order = np.argsort(s['dexterity'])
    di = [round(s['dexterity'][i], 4) for i in order]

    def sort(values: list[float]) -> list[float]:
        return [values[i] for i in order]

    series = {'drl': {'embb_rate_mbps': sort(s['embb_rate_mbps']),
                      'urllc_rate_mbps': sort(s['urllc_rate_mbps']),
                      'urllc_service_mbps': sort(s['urllc_service_mbps'])}}
    sums = sort(s['sum_rate_mbps'])
    claims = [
        Claim('eMBB rate falls as DI rises', 'lower DI, higher rate',
              [round(v, 3) for v in series['drl']['embb_rate_mbps']],
              _decreasing(series['drl']['embb_rate_mbps'])),
        Claim('URLLC PHY rate falls as DI rises', 'lower DI, higher rate',
              [round(v, 3) for v in series['drl']['urllc_rate_mbps']],
              _decreasing(series['drl']['urllc_rate_mbps'])),
        Claim('URLLC service rate of eq. 4, (r/L_u - β DI) L_u, falls as DI rises',
              'lower DI, higher rate', [round(v, 3) for v in series['drl']['urllc_service_mbps']],
              _decreasing(series['drl']['urllc_service_mbps'])),
        Claim('cell sum rate is set by K and the channel, not by DI: (max - min) / mean < 2 % '
              '(so eMBB and URLLC PHY rates cannot both fall)', 'both fall',
              round(_spread(sums), 4), _spread(sums) < 0.02),
    ]
    return FigureResult(
        'seed003-fig7', 'Average eMBB and URLLC rate vs dexterity index (three reference tasks)',
        'dexterity_index', di, 'rate [Mb/s]', series, claims,
        _config_doc(ctx, policy_dir, base), ctx.seed, ctx.quick,
        extra={'references': [FIG7_REFERENCES[i][0] for i in order],
               'violation_rate': sort(s['violation_rate']), 'sum_rate_mbps': sums,
               'urllc_delay_p99_ms': sort(s['urllc_delay_p99_ms'])})


# ----------------------------------------------------------------------------------------------
# Fig. 8 and Table III: DRL vs PF


def run_fig8(ctx: ReproContext) -> FigureResult:
    """URLLC delay-violation rate on held-out seeds, DRL vs PF (seed 003 Fig. 8)."""
    policy_dir = _policy_dir(ctx)
    env = _base_env(ctx, policy_dir)
    drl = _evaluate(ctx, policy_dir, env, desc='fig8 drl', quick_episodes=3)
    pf = _evaluate(ctx, 'pf', env, desc='fig8 pf', quick_episodes=3)
    others = {name: _evaluate(ctx, name, env, desc=f'fig8 {name}', quick_episodes=3)
              for name in (('dpp',) if ctx.quick else ('dpp', 'maxweight', 'rr'))}
    x = [int(seed) for seed in drl.seeds]
    series = {'drl': [100 * v for v in drl.per_episode_violation_rate],
              'pf': [100 * v for v in pf.per_episode_violation_rate]}
    chi = env.reliability
    claims = [
        Claim('URLLC delay-violation rate, DRL <= PF (% of user-slots with D > D_max)',
              'significantly lower with DRL', f'DRL {100 * drl.violation_rate:.2f} % vs PF '
              f'{100 * pf.violation_rate:.2f} %', drl.violation_rate <= pf.violation_rate),
        Claim(f'reliability of the worst URLLC user >= χ = {chi} (DRL)', chi,
              round(drl.reliability, 4), drl.reliability >= chi),
        Claim(f'reliability of the worst URLLC user >= χ = {chi} (PF)', 'not stated',
              round(pf.reliability, 4), pf.reliability >= chi),
        Claim('DRL queues bounded: last-quarter / second-quarter total queue (max over '
              'episodes)', 'stable', round(drl.queue_growth_ratio, 3),
              drl.queue_growth_ratio < 2.0 and drl.urllc_queue_max_packets < 1e4),
    ]
    extra = {'summary': {o.name: o.summary() for o in (drl, pf, *others.values())}}
    return FigureResult(
        'seed003-fig8', 'Average URLLC delay violation across URLLC users: DRL vs PF',
        'held-out seed', x, 'delay-violation rate [%]', series, claims,
        _config_doc(ctx, policy_dir, env), ctx.seed, ctx.quick, extra=extra)


def run_table3(ctx: ReproContext) -> FigureResult:
    """Average URLLC per-user rate, DRL vs PF, at three channel gains (seed 003 Table III)."""
    policy_dir = _policy_dir(ctx)
    base = _base_env(ctx, policy_dir)
    drl_rates: list[float] = []
    pf_rates: list[float] = []
    embb: dict[str, list[float]] = {'drl': [], 'pf': []}
    gains = [row[1] for row in TABLE3_ROWS]
    for gain in gains:
        env = _with_rayleigh_scale(base, gain)
        d = _evaluate(ctx, policy_dir, env, desc=f'table3 drl σ={gain}')
        p = _evaluate(ctx, 'pf', env, desc=f'table3 pf σ={gain}')
        drl_rates.append(float(np.mean(d.urllc_rate_mbps)))
        pf_rates.append(float(np.mean(p.urllc_rate_mbps)))
        embb['drl'].append(float(np.mean(d.embb_rate_mbps)))
        embb['pf'].append(float(np.mean(p.embb_rate_mbps)))
    claims = []
    for (slot, gain, paper_drl, paper_pf), ours_drl, ours_pf in zip(TABLE3_ROWS, drl_rates,
                                                                    pf_rates):
        gap = (ours_drl - ours_pf) / ours_pf
        claims.append(Claim(
            f'row {slot} (gain {gain}): URLLC Mb/s DRL vs PF, within 10 %',
            f'{paper_drl:.2f} vs {paper_pf:.2f}', f'{ours_drl:.2f} vs {ours_pf:.2f} '
            f'({100 * gap:+.1f} %)', abs(gap) <= 0.10))
    e_gap = max(abs(d - p) / p for d, p in zip(embb['drl'], embb['pf']))
    claims.append(Claim('eMBB per-user rate DRL vs PF within 10 % (all rows)', 'not stated',
                        f'max gap {100 * e_gap:.1f} %', e_gap <= 0.10))
    return FigureResult(
        'seed003-table3', 'Average URLLC per-user rate: DRL vs proportional fair',
        'channel_gain (Rayleigh scale σ)', gains, 'URLLC rate [Mb/s]',
        {'drl': drl_rates, 'pf': pf_rates}, claims, _config_doc(ctx, policy_dir, base),
        ctx.seed, ctx.quick,
        extra={'embb_rate_mbps': embb,
               'paper': [{'timeslot': r[0], 'gain': r[1], 'drl': r[2], 'pf': r[3]}
                         for r in TABLE3_ROWS]})

