"""
Control benchmark: online gain lookup + control law, offline certification and schedule.

Measured in one run:

* ``online_lookup_p50_us`` / ``_p99_us``: :meth:`GainSchedule.lookup` alone, per call;
* ``online_lookup_and_law_p50_us`` / ``_p99_us``: lookup plus the control law
  ``u = r̈ - K (x - r)`` (numpy, 2 × 4 gain), per call, delay bounds drawn at random in 0..40;
* ``certify_median_ms``: :func:`certify` of the nominal gain on ``[0, 12]`` (cvxpy build + Clarabel
  + floating-point re-verification), median of ``--repeats``;
* ``certify_clarabel_solve_median_ms``: Clarabel's own solve time for the same per-axis problem
  (``problem.solver_stats.solve_time``), median;
* ``adjust_median_s``: one closest-gain adjustment at h = 20 (detuned LQR + V–K), median of 3;
* ``schedule_build_s``: :func:`schedule_from_config` for h = 0..H (default 30) with the default
  worker count, and its per-entry average.

Targets: online p99 <= 10 µs. Reference prototype on this machine class: ~38 ms per certification
(cvxpy build + solve), ~100 s for the schedule h = 0..30.

Rerun: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_control.py --json``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any

os.environ.setdefault('OMP_NUM_THREADS', '1')

import numpy as np  # noqa: E402

from ior_ros.commands.progress import terminal_progress  # noqa: E402
from ior_ros.core.control.control_config import ControlConfig  # noqa: E402
from ior_ros.core.control.gain_adjustment import adjust  # noqa: E402
from ior_ros.core.control.lk_certificate import certificate_problem, certify  # noqa: E402
from ior_ros.core.control.lk_functional import (  # noqa: E402
    CertificateKind,
    LmiOptions,
    lk_structure,
    solve_problem,
)
from ior_ros.core.control.lqr_design import (  # noqa: E402
    reference_lqr_weights,
    reference_nominal_design,
)
from ior_ros.core.control.robot_models import (  # noqa: E402
    DelayedPlant,
    double_integrator_axis,
    planar_double_integrator,
)
from ior_ros.core.control.schedule_build import (  # noqa: E402
    default_workers,
    schedule_from_config,
)
from ior_ros.experiments.contract import machine_info  # noqa: E402

RERUN = 'OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_control.py --json'


def _percentiles_us(samples_ns: list[int]) -> tuple[float, float]:
    values = np.asarray(samples_ns, dtype=float) / 1e3
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def bench_online(schedule: Any, calls: int) -> dict[str, float]:
    """Per-call latency of the lookup and of lookup + control law."""
    rng = np.random.default_rng(0)
    bounds = rng.integers(0, 41, size=calls).tolist()
    x = rng.normal(size=4)
    r = rng.normal(size=4)
    ff = rng.normal(size=2)
    lookup = schedule.lookup
    clock = time.perf_counter_ns
    for h in bounds[:1000]:  # warm-up
        lookup(h)
    only: list[int] = []
    for h in bounds:
        t0 = clock()
        lookup(h)
        only.append(clock() - t0)
    both: list[int] = []
    for h in bounds:
        t0 = clock()
        gain = lookup(h).gain
        u = ff - gain @ (x - r)
        both.append(clock() - t0)
    del u
    p50, p99 = _percentiles_us(only)
    q50, q99 = _percentiles_us(both)
    return {'online_lookup_p50_us': p50, 'online_lookup_p99_us': p99,
            'online_lookup_and_law_p50_us': q50, 'online_lookup_and_law_p99_us': q99}


def bench_certify(repeats: int) -> dict[str, float]:
    """End-to-end certification and Clarabel's own solve time."""
    plant = planar_double_integrator()
    gain = reference_nominal_design().gain
    certify(gain, 12, plant=plant)  # warm-up (imports)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        certify(gain, 12, plant=plant)
        times.append(time.perf_counter() - t0)
    a, b = double_integrator_axis(0.01)
    axis = DelayedPlant(a, b, 0.01)
    options = LmiOptions()
    solver = []
    for _ in range(repeats):
        problem, _ = certificate_problem(axis, gain[:1, :2], lk_structure(
            CertificateKind.INTERVAL, 0, 12), 1.0, options)
        solve_problem(problem, options)
        solver.append(problem.solver_stats.solve_time)
    return {'certify_median_ms': 1e3 * statistics.median(times),
            'certify_clarabel_solve_median_ms': 1e3 * statistics.median(solver)}


def bench_adjust(repeats: int) -> dict[str, float]:
    """One closest-gain adjustment at h = 20."""
    gain = reference_nominal_design().gain
    weights = reference_lqr_weights()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        adjust(gain, 20, lqr_weights=weights)
        times.append(time.perf_counter() - t0)
    return {'adjust_h20_median_s': statistics.median(times)}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print one JSON object with --json, else a short table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    parser.add_argument('--max-delay', type=int, default=30, help='schedule H (default 30)')
    parser.add_argument('--workers', type=int, default=None,
                        help='schedule worker processes (default min(2, cpu))')
    parser.add_argument('--calls', type=int, default=200_000, help='online calls timed')
    parser.add_argument('--repeats', type=int, default=20, help='certifications timed')
    parser.add_argument('--quick', action='store_true',
                        help='fewer repetitions and H = 15 (a smoke run)')
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.repeats, args.max_delay = 20_000, 5, 15
    config = ControlConfig()
    workers = args.workers if args.workers is not None else default_workers()
    t0 = time.perf_counter()
    with terminal_progress(not args.json)('gain schedule', args.max_delay + 1, unit='h') as bar:
        schedule = schedule_from_config(config, args.max_delay, workers=workers,
                                        progress=bar.update)
    build_s = time.perf_counter() - t0
    result: dict[str, Any] = {
        'benchmark': 'control',
        **bench_online(schedule, args.calls),
        **bench_certify(args.repeats),
        **bench_adjust(1 if args.quick else 3),
        'schedule_max_delay_steps': args.max_delay,
        'schedule_workers': workers,
        'schedule_build_s': build_s,
        'schedule_per_entry_s': build_s / (args.max_delay + 1),
        'targets': {'online_lookup_and_law_p99_us': 10.0},
        'reference_prototype': {'certify_ms': 38.0, 'schedule_h0_30_s': 100.0},
        'machine': machine_info(),
        'rerun': RERUN,
    }
    result['online_target_met'] = result['online_lookup_and_law_p99_us'] <= 10.0
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            if not isinstance(value, dict):
                print(f'{key:40s} {value}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
