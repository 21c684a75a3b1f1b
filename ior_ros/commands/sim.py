"""
``ior sim``: the radio model's simulators.

* ``ior sim coexistence [--config F] [--set k=v] --out DIR``: eMBB + bursty URLLC coexistence
  (seed 000 §IV): every scheme with its jointly chosen compute split and threshold; prints a
  summary table, writes ``metrics.json`` and ``config.resolved.yaml``.
* ``ior sim compute-queue --lambda-urllc X --lambda-embb Y --mu Z --discipline D --packets N
  --seed S [--json]``: the BS compute queue alone (rates in 1/s).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from ior_ros.commands.common import (
    add_config_options,
    add_out_option,
    number,
    output_folder,
    seed_number,
)

__all__ = ['register']

_MAX_RATE_PER_S = 1e12
_MAX_PACKETS = 10_000_000
_RATE_WHY = 'event times are float64 seconds, whose resolution is lost beyond 10^12 per second'
_RATE = number(float, 0, _MAX_RATE_PER_S, unit='1/s', why=_RATE_WHY)
_SERVICE_RATE = number(float, 0, _MAX_RATE_PER_S, low_open=True, unit='1/s', why=_RATE_WHY)
_FRACTION = number(float, 0, 1, low_open=True, words='in (0, 1]',
                   why='a fraction of the compute')
_PACKETS = number(int, 1, _MAX_PACKETS, why=(
    'the arrivals are drawn at once, about 100 bytes of memory per packet (1 GB at the limit)'))
_SEED = seed_number()

_DISCIPLINES = {'fifo': 'fifo', 'preemptive-resume': 'preemptive_resume',
                'shared-exclusive': 'shared_exclusive', 'euad': 'euad'}


def register(subparsers: Any) -> None:
    """Add the ``sim`` command group."""
    parser = subparsers.add_parser('sim', help='run a simulator of the radio model',
                                   description='Simulators of the radio model (seed 000 §IV).')
    sims = parser.add_subparsers(dest='sim_command', metavar='SIMULATOR')
    sims.required = True

    coex = sims.add_parser(
        'coexistence', help='eMBB + bursty URLLC: compute queue -> puncturing air interface',
        description='Simulate the coexistence of eMBB and bursty URLLC (seed 000 §IV) for the '
                    'proposed scheme, PUTD and EUAD, each with its jointly chosen compute split '
                    'and puncturing threshold. Writes metrics.json and config.resolved.yaml into '
                    '--out. Keys: config/coexistence.yaml.')
    add_config_options(coex)
    add_out_option(coex)
    coex.add_argument('--no-progress', action='store_true', help='no progress bar')
    coex.set_defaults(handler=_run_coexistence)

    cq = sims.add_parser(
        'compute-queue', help='the BS compute queue alone (two classes, exponential work)',
        description='Exact simulation of the BS data-processing queue with Poisson URLLC and '
                    'eMBB arrivals and exponential work (rates in 1/s). Prints the mean and 99th '
                    'percentile sojourn of each class (with --json: one JSON object).')
    # checked in the handler, so every mistake is one `ior: error:` line
    cq.add_argument('--lambda-urllc', required=True, metavar='X',
                    help='URLLC arrival rate [1/s], >= 0')
    cq.add_argument('--lambda-embb', required=True, metavar='Y',
                    help='eMBB arrival rate [1/s], >= 0')
    cq.add_argument('--mu', required=True, metavar='Z',
                    help='service rate of the whole compute [1/s], > 0 (both classes)')
    cq.add_argument('--mu-embb', default=None, metavar='Z',
                    help='eMBB service rate [1/s] if it differs from --mu')
    cq.add_argument('--discipline', required=True, metavar='D',
                    help='one of: ' + ', '.join(_DISCIPLINES))
    cq.add_argument('--shared-fraction', default='1.0', metavar='BETA',
                    help='shared-exclusive: shared part; euad: URLLC part; in (0, 1] '
                         '(default 1)')
    cq.add_argument('--packets', default='200000', metavar='N',
                    help='packets to simulate, both classes together (default 200000)')
    cq.add_argument('--seed', default='0', metavar='S', help='random seed (default 0)')
    cq.add_argument('--json', action='store_true', help='print exactly one JSON object')
    cq.add_argument('--out', type=output_folder(), default=None, metavar='DIR',
                    help='also write result.json and the resolved options into DIR')
    cq.set_defaults(handler=_run_compute_queue)


# --------------------------------------------------------------------------------------------
# compute-queue


def _run_compute_queue(args: argparse.Namespace) -> int:
    import numpy as np

    from ior_ros.core.artifacts import atomic_write_json, atomic_write_yaml, ensure_out_dir
    from ior_ros.core.errors import ConfigError
    from ior_ros.core.ran import compute_queue as cq

    lam_u: float = _RATE.parse('--lambda-urllc', args.lambda_urllc)
    lam_e: float = _RATE.parse('--lambda-embb', args.lambda_embb)
    mu: float = _SERVICE_RATE.parse('--mu', args.mu)
    mu_e: float = mu if args.mu_embb is None else _SERVICE_RATE.parse('--mu-embb', args.mu_embb)
    if args.discipline not in _DISCIPLINES:
        raise ConfigError(f'--discipline = {args.discipline!r}: must be one of '
                          + ', '.join(_DISCIPLINES))
    discipline = cq.Discipline(_DISCIPLINES[args.discipline])
    beta: float = _FRACTION.parse('--shared-fraction', args.shared_fraction)
    if discipline is cq.Discipline.EUAD and beta >= 1:
        raise ConfigError(f'--shared-fraction = {args.shared_fraction}: euad needs an eMBB part, '
                          'so it must be in (0, 1)')
    packets: int = _PACKETS.parse('--packets', args.packets)
    seed: int = _SEED.parse('--seed', args.seed)
    if lam_u + lam_e <= 0:
        raise ConfigError(f'--lambda-urllc + --lambda-embb = {lam_u + lam_e}: at least one class '
                          'needs traffic (> 0)')
    load = lam_u / mu + lam_e / mu_e
    if load >= 1:
        raise ConfigError(f'load --lambda-urllc/--mu + --lambda-embb/--mu = {load:.6g}: must be '
                          '< 1 for a stable queue')
    if discipline is cq.Discipline.SHARED_EXCLUSIVE and lam_u / (beta * mu) >= 1:
        raise ConfigError(f'URLLC load on the shared part --lambda-urllc/(--shared-fraction x '
                          f'--mu) = {lam_u / (beta * mu):.6g}: must be < 1')
    if discipline is cq.Discipline.EUAD:
        for name, val in (('URLLC', lam_u / (beta * mu)), ('eMBB', lam_e / ((1 - beta) * mu_e))):
            if val >= 1:
                raise ConfigError(f'{name} load on its euad part = {val:.6g}: must be < 1 '
                                  '(change --shared-fraction)')
    result = cq.simulate_poisson_classes(lam_u, lam_e, mu, mu_e, packets,
                                         np.random.default_rng(seed), discipline, beta)
    doc = {'discipline': args.discipline,
           'classes': {name: {'mean_sojourn_s': stats.mean_sojourn_s,
                              'p99_sojourn_s': stats.p99_sojourn_s, 'served': stats.served}
                       for name, stats in (('urllc', result.urllc), ('embb', result.embb))}}
    if args.out is not None:
        ensure_out_dir(args.out)
        atomic_write_json(args.out / 'result.json', doc)
        atomic_write_yaml(args.out / 'config.resolved.yaml', {
            'lambda_urllc_per_s': lam_u, 'lambda_embb_per_s': lam_e, 'mu_per_s': mu,
            'mu_embb_per_s': mu_e, 'discipline': args.discipline, 'shared_fraction': beta,
            'packets': packets, 'seed': seed})
    if args.json:
        print(json.dumps(_finite(doc)))
        return 0
    closed: tuple[float, float] | None = None
    if discipline is cq.Discipline.FIFO:
        closed = cq.fifo_two_class_mean_sojourn_s(lam_u, mu, lam_e, mu_e)
    elif discipline is cq.Discipline.PREEMPTIVE_RESUME or (
            discipline is cq.Discipline.SHARED_EXCLUSIVE and beta == 1.0):
        closed = cq.preemptive_priority_mean_sojourn_s(lam_u, mu, lam_e, mu_e)
    print(f'compute queue, {args.discipline}, load {load:.3f}, {packets} packets, seed {seed}')
    print(f'{"class":6s} {"served":>8s} {"mean [ms]":>10s} {"p99 [ms]":>10s} '
          f'{"closed form [ms]":>17s}')
    for i, (name, stats) in enumerate((('urllc', result.urllc), ('embb', result.embb))):
        cf = f'{closed[i] * 1e3:17.4f}' if closed is not None and stats.served else f'{"-":>17s}'
        print(f'{name:6s} {stats.served:8d} {stats.mean_sojourn_s * 1e3:10.4f} '
              f'{stats.p99_sojourn_s * 1e3:10.4f} {cf}')
    return 0


def _finite(value: Any) -> Any:
    """NaN (a class with no packets) becomes null: JSON has no NaN."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------------------------
# coexistence


def _run_coexistence(args: argparse.Namespace) -> int:
    from ior_ros.commands.common import resolve_config, save_resolved_config
    from ior_ros.commands.progress import terminal_progress
    from ior_ros.core.artifacts import atomic_write_json, ensure_out_dir
    from ior_ros.core.ran.coexistence_config import CoexistenceConfig, check_config
    from ior_ros.core.ran.coexistence_search import run_coexistence

    config = resolve_config(CoexistenceConfig, args)
    check_config(config)  # every problem is reported before anything is written
    with terminal_progress(not args.no_progress)('coexistence', unit='cell-slots') as bar:
        doc = run_coexistence(config, progress=bar.update)
    out: Path = args.out
    ensure_out_dir(out)
    atomic_write_json(out / 'metrics.json', doc)
    save_resolved_config(out, config)
    print(_summary(doc, config))
    print(f'wrote {out / "metrics.json"}, {out / "config.resolved.yaml"}')
    return 0


def _summary(doc: dict[str, Any], config: Any) -> str:
    header = ['scheme', 'beta', 'M', 'feasible', 'URLLC mean [ms]', 'URLLC p99 [ms]',
              'outage', 'eMBB [Mb/s]', 'eMBB delay [ms]', 'PRB util']
    rows = [header]
    for name, res in doc['schemes'].items():
        m = res['metrics']
        rows.append([name, f'{m["shared_fraction"]:.2f}', str(m['max_urllc_per_minislot']),
                     'yes' if res['feasible'] else 'NO',
                     f'{m["urllc_mean_delay_s"] * 1e3:.3f}', f'{m["urllc_p99_delay_s"] * 1e3:.3f}',
                     f'{m["urllc_outage"]:.4f}', f'{m["embb_throughput_bps"] / 1e6:.2f}',
                     f'{m["embb_mean_delay_s"] * 1e3:.2f}', f'{m["prb_utilization"]:.3f}'])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [f'eMBB requirement {config.traffic.embb_requirement_bps / 1e6:g} Mb/s, '
             f'eMBB full-buffer capacity {doc["embb_capacity_bps"] / 1e6:.2f} Mb/s, '
             f'M cap {doc["threshold_cap"]}']
    for k, row in enumerate(rows):
        lines.append('  '.join(c.rjust(w) for c, w in zip(row, widths)))
        if k == 0:
            lines.append('  '.join('-' * w for w in widths))
    return '\n'.join(lines)
