"""
Seed 000 Fig. 6 (Liang et al., IEEE Network 38(3), 2024, §IV): eMBB and bursty URLLC coexisting.

* Fig. 6a (``run_fig6a``): mean URLLC delay [ms] vs the total eMBB throughput requirement [Mb/s],
  for the proposed scheme, PUTD and EUAD, each with its own jointly chosen compute split β and
  threshold M (:func:`ior_ros.core.ran.coexistence_search.optimize_many`).
* Fig. 6b (``run_fig6b``): URLLC outage probability vs the mean number of packets per batch, with
  10 resource units and M = 8 (the seed's setting); β still chosen per scheme.

Every point of a figure is simulated on one random sample (common random numbers): the same
URLLC batches, processing works, eMBB arrival epochs and fading for every scheme and every x.
``--quick`` simulates 4 s per point, a full run 20 s; the x values are the same.
Model choices: docs/models/ran-coexistence.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ior_ros.experiments.contract import Claim, FigureResult, ReproContext

if TYPE_CHECKING:
    from ior_ros.core.ran.coexistence_config import CoexistenceConfig

__all__ = ['run_fig6a', 'run_fig6b', 'FIG6A_REQUIREMENTS_MBPS', 'FIG6B_BATCH_SIZES',
           'rises', 'QUICK_HORIZON_S', 'FULL_HORIZON_S']

FIG6A_REQUIREMENTS_MBPS = [2.0, 4.0, 6.0, 8.0, 10.0, 11.0]
"""Fig. 6a x axis: from light load to the seed's 11 Mb/s, where our band and compute are
~55 % and ~67 % loaded by eMBB and the eMBB delay limit starts to bind (12 Mb/s is the edge)."""
FIG6B_BATCH_SIZES = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
"""Fig. 6b x axis: mean packets per URLLC batch."""
QUICK_HORIZON_S = 4.0
FULL_HORIZON_S = 20.0
SCHEMES = ('proposed', 'putd', 'euad')

RISE_TOTAL = 0.05
"""A curve "rises" when its last point is at least 5 % above its first ..."""
RISE_STEP_TOLERANCE = 0.03
"""... and no step falls by more than 3 % (sampling noise between neighbouring points)."""


def rises(values: Sequence[float | None], total: float = RISE_TOTAL,
          step_tolerance: float = RISE_STEP_TOLERANCE, absolute_floor: float = 0.0) -> bool:
    """
    Whether a curve rises: every point present, ``y_last ≥ (1 + total) y_first + absolute_floor``
    and every step ``y_{i+1} ≥ y_i − max(step_tolerance · y_i, absolute_floor)``.
    """
    ys = [v for v in values if v is not None and math.isfinite(v)]
    if len(ys) != len(values) or len(ys) < 2:
        return False
    if ys[-1] < (1.0 + total) * ys[0] + absolute_floor:
        return False
    return all(b >= a - max(step_tolerance * a, absolute_floor) for a, b in zip(ys, ys[1:]))


def _load_base(ctx: ReproContext, figure_overrides: Sequence[str]) -> CoexistenceConfig:
    from ior_ros.core.config import load_config
    from ior_ros.core.ran.coexistence_config import CoexistenceConfig
    horizon = QUICK_HORIZON_S if ctx.quick else FULL_HORIZON_S
    overrides = [f'simulation.horizon_s={horizon}', f'seed={ctx.seed}', *figure_overrides,
                 *ctx.overrides]
    return load_config(CoexistenceConfig, ctx.config_path, overrides)


def _with_traffic(config: CoexistenceConfig, **update: Any) -> CoexistenceConfig:
    return config.model_copy(update={'traffic': config.traffic.model_copy(update=update)})


def _details(results: Sequence[Any], xs: Sequence[float], x_key: str) -> dict[str, list[Any]]:
    """Per scheme and x: the chosen β and M, feasibility and the main metrics."""
    out: dict[str, list[Any]] = {s: [] for s in SCHEMES}
    for res, x in zip(results, [x for x in xs for _ in SCHEMES]):
        m = res.metrics
        out[res.scheme.value].append({
            x_key: x, 'feasible': res.feasible, 'shared_fraction': m.point.shared_fraction,
            'max_urllc_per_minislot': m.point.max_urllc_per_minislot,
            'threshold_cap': res.threshold_cap,
            'urllc_mean_delay_ms': m.urllc_mean_delay_s * 1e3,
            'urllc_p99_delay_ms': m.urllc_p99_delay_s * 1e3,
            'urllc_compute_mean_delay_ms': m.urllc_compute_mean_delay_s * 1e3,
            'urllc_air_mean_delay_ms': m.urllc_air_mean_delay_s * 1e3,
            'urllc_outage': m.urllc_outage,
            'urllc_threshold_drop_fraction': m.urllc_threshold_drop_fraction,
            'urllc_decoding_failure_fraction': m.urllc_decoding_failure_fraction,
            'urllc_compute_drop_fraction': m.urllc_compute_drop_fraction,
            'urllc_packets': m.urllc_packets,
            'embb_throughput_mbps': m.embb_throughput_bps / 1e6,
            'embb_mean_delay_ms': m.embb_mean_delay_s * 1e3,
            'embb_p99_delay_ms': m.embb_p99_delay_s * 1e3,
            'prb_utilization': m.prb_utilization,
            'punctured_fraction': m.punctured_fraction})
    return out


def _series(results: Sequence[Any], value: Callable[[Any], float]) -> dict[str, list[Any]]:
    series: dict[str, list[Any]] = {s: [] for s in SCHEMES}
    for res in results:
        series[res.scheme.value].append(value(res.metrics) if res.feasible else None)
    return series


def _at(series: dict[str, list[Any]], xs: Sequence[float], x: float, name: str) -> Any:
    return series[name][list(xs).index(x)]


def _plot(marker_x: float, y_scale: float = 1.0) -> Callable[[FigureResult], bytes]:
    def render(result: FigureResult) -> bytes:
        from ior_ros.experiments.plotting import figure_png, new_figure
        fig, ax = new_figure(figsize=(6.0, 4.2))
        styles = {'proposed': ('o', '-'), 'putd': ('s', '--'), 'euad': ('^', '-.')}
        for name, values in result.series.items():
            marker, line = styles.get(name, ('o', '-'))
            ys = [math.nan if v is None else v * y_scale for v in values]
            ax.plot(result.x_values, ys, marker=marker, linestyle=line, label=name)
        ax.axvline(marker_x, color='grey', linewidth=0.8, linestyle=':')
        ax.set_xlabel(result.x_name)
        ax.set_ylabel(result.y_name)
        ax.grid(True, alpha=0.3)
        ax.legend()
        ax.set_title(result.title + (' (quick)' if result.quick else ''), fontsize=9)
        return figure_png(fig)
    return render


def _config_doc(config: Any) -> dict[str, Any]:
    from ior_ros.core.config import config_to_dict
    return config_to_dict(config)


def run_fig6a(ctx: ReproContext) -> FigureResult:
    """Seed 000 Fig. 6a: mean URLLC delay vs eMBB throughput requirement."""
    import numpy as np

    from ior_ros.core.ran.coexistence import embb_full_buffer_throughput_bps
    from ior_ros.core.ran.coexistence_config import Scheme, check_config
    from ior_ros.core.ran.coexistence_sample import channel_arrays, draw_sample
    from ior_ros.core.ran.coexistence_search import optimize_many

    base = _load_base(ctx, [])
    configs = [_with_traffic(base, embb_requirement_bps=x * 1e6)
               for x in FIG6A_REQUIREMENTS_MBPS]
    for config in configs:
        check_config(config)
    rng = np.random.default_rng(base.seed)
    lam_max = max(FIG6A_REQUIREMENTS_MBPS) * 1e6 / base.traffic.embb_packet_bits
    sample = draw_sample(base, rng, max_embb_rate_per_s=lam_max)
    channel = channel_arrays(base, sample)
    cap = embb_full_buffer_throughput_bps(base, sample, channel)
    problems = [(Scheme(s), c) for c in configs for s in SCHEMES]
    with ctx.progress('seed000-fig6a', unit='cell-slots') as bar:
        results = optimize_many(problems, sample, channel, cap, progress=bar.update)
    xs = FIG6A_REQUIREMENTS_MBPS
    series = _series(results, lambda m: m.urllc_mean_delay_s * 1e3)
    claims = _claims_6a(series, xs)
    extra = {'details': _details(results, xs, 'embb_requirement_mbps'),
             'embb_capacity_mbps': cap / 1e6,
             'horizon_s': base.simulation.horizon_s,
             'notes': 'null in a series: no grid point met the eMBB constraints (see details)'}
    result = FigureResult(
        id='seed000-fig6a',
        title='URLLC mean delay vs eMBB throughput requirement (seed 000 Fig. 6a)',
        x_name='eMBB throughput requirement [Mb/s]', x_values=list(xs),
        y_name='URLLC mean delay [ms]', series=series, claims=claims,
        config=_config_doc(base), seed=ctx.seed, quick=ctx.quick, extra=extra)
    result.plot = _plot(11.0)
    return result


def _claims_6a(series: dict[str, list[Any]], xs: Sequence[float]) -> list[Claim]:
    prop = _at(series, xs, 11.0, 'proposed')
    euad = _at(series, xs, 11.0, 'euad')
    putd = _at(series, xs, 11.0, 'putd')
    claims = []
    if prop is not None and euad is not None:
        ratio = prop / euad
        claims.append(Claim('URLLC delay at 11 Mb/s, proposed / EUAD (<= 0.85)',
                            '~0.76 (about 24 % lower)',
                            f'{ratio:.3f} ({prop:.3f} vs {euad:.3f} ms)', ratio <= 0.85))
    else:
        claims.append(Claim('URLLC delay at 11 Mb/s, proposed / EUAD (<= 0.85)',
                            '~0.76 (about 24 % lower)', 'infeasible point', False))
    if prop is not None and putd is not None:
        diff = prop / putd - 1.0
        claims.append(Claim('URLLC delay at 11 Mb/s, proposed vs PUTD (within 15 %)',
                            'almost the same', f'{diff:+.1%} ({prop:.3f} vs {putd:.3f} ms)',
                            abs(diff) <= 0.15))
    else:
        claims.append(Claim('URLLC delay at 11 Mb/s, proposed vs PUTD (within 15 %)',
                            'almost the same', 'infeasible point', False))
    for name in SCHEMES:
        ys = series[name]
        first, last = ys[0], ys[-1]
        ours = ('infeasible point' if first is None or last is None
                else f'{first:.3f} -> {last:.3f} ms ({last / first - 1:+.0%})')
        claims.append(Claim(f'{name}: URLLC delay rises with the eMBB requirement',
                            'rises', ours, rises(ys)))
    return claims


def run_fig6b(ctx: ReproContext) -> FigureResult:
    """Seed 000 Fig. 6b: URLLC outage vs mean packets per batch (10 RUs, M = 8)."""
    import numpy as np

    from ior_ros.core.ran.coexistence import embb_full_buffer_throughput_bps
    from ior_ros.core.ran.coexistence_config import Scheme, check_config
    from ior_ros.core.ran.coexistence_sample import channel_arrays, draw_sample
    from ior_ros.core.ran.coexistence_search import optimize_many

    fixed_m = 8
    base = _load_base(ctx, ['radio.n_ru=10', f'scheme.max_urllc_per_minislot={fixed_m}'])
    rng = np.random.default_rng(base.seed)
    # eMBB arrivals drawn for any stable eMBB load (the requirement below depends on the sample)
    sample = draw_sample(base, rng, max_embb_rate_per_s=base.compute.embb_service_rate_per_s,
                         max_urllc_mean_batch=max(FIG6B_BATCH_SIZES))
    channel = channel_arrays(base, sample)
    cap = embb_full_buffer_throughput_bps(base, sample, channel)
    m_set = base.scheme.max_urllc_per_minislot  # None (--set ...=null): M searched; use 8 here
    m_set = fixed_m if m_set is None else m_set
    user_set = any(o.strip().startswith('traffic.embb_requirement_bps') for o in ctx.overrides)
    # the eMBB load that M = 8 still protects: C_e (1 - M / n_ru) (docs/models/ran-coexistence.md)
    requirement = (base.traffic.embb_requirement_bps if user_set
                   else cap * (1.0 - m_set / base.radio.n_ru))
    configs = [_with_traffic(base, urllc_mean_batch_size=b, embb_requirement_bps=requirement)
               for b in FIG6B_BATCH_SIZES]
    for config in configs:
        check_config(config)
    problems = [(Scheme(s), c) for c in configs for s in SCHEMES]
    with ctx.progress('seed000-fig6b', unit='cell-slots') as bar:
        results = optimize_many(problems, sample, channel, cap, progress=bar.update)
    xs = FIG6B_BATCH_SIZES
    series = _series(results, lambda m: m.urllc_outage)
    claims = _claims_6b(series, xs)
    extra = {'details': _details(results, xs, 'urllc_mean_batch_size'),
             'embb_capacity_mbps': cap / 1e6,
             'embb_requirement_mbps': requirement / 1e6,
             'horizon_s': base.simulation.horizon_s,
             'notes': 'outage = URLLC packets not delivered (dropped above M, both '
                      'transmissions failed, or dropped in compute) / packets arrived'}
    result = FigureResult(
        id='seed000-fig6b',
        title='URLLC outage vs packets per batch, 10 RUs, M = 8 (seed 000 Fig. 6b)',
        x_name='mean packets per batch', x_values=list(xs),
        y_name='URLLC outage probability', series=series, claims=claims,
        config=_config_doc(_with_traffic(base, embb_requirement_bps=requirement)),
        seed=ctx.seed, quick=ctx.quick, extra=extra)
    result.plot = _plot(6.0)
    return result


def _claims_6b(series: dict[str, list[Any]], xs: Sequence[float]) -> list[Claim]:
    claims = []
    for name in SCHEMES:
        ys = series[name]
        first, last = ys[0], ys[-1]
        ours = ('infeasible point' if first is None or last is None
                else f'{first:.4f} -> {last:.4f}')
        claims.append(Claim(f'{name}: URLLC outage rises with packets per batch', 'rises', ours,
                            rises(ys, total=0.0, absolute_floor=0.005)))
    prop = _at(series, xs, 6.0, 'proposed')
    putd = _at(series, xs, 6.0, 'putd')
    ok = prop is not None and putd is not None
    claims.append(Claim('outage at 6 packets per batch: proposed < PUTD', '3 % vs 10 %',
                        f'{prop:.1%} vs {putd:.1%}' if ok else 'infeasible point',
                        bool(ok and prop < putd)))
    return claims
