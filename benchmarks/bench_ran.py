"""
RAN benchmark: slot simulation of the default cell (1 cell, 9 UEs, 25 PRBs, Rayleigh, PF).

Measured in one run, each as the median of several timed repetitions after a warm-up:

* ``slots_per_s``: :func:`ior_ros.core.ran.cell.simulate_cell` on the default cell (engine
  ``auto``: numba when installed, else the lean numpy loop; the engine used is reported);
* ``naive_slots_per_s``: a straightforward per-slot numpy PF loop written below (draw the gains,
  compute the rates, the PF metric, the argmax and the EWMA update, every slot);
* ``batched_cell_slots_per_s``: :func:`ior_ros.core.ran.cell_batched.simulate_cells_batched`;
* ``puncturing_decision_p50_us`` / ``_p99_us``: one mini-slot puncturing decision for 9 UEs, the
  callable returned by ``ior_ros.core.ran.puncturing.example_decision_case()`` (null if that
  module cannot be imported).

Targets: slots_per_s >= 4 × naive in the same run; batched >= 1e6 cell-slots/s;
puncturing p99 <= 20 µs.

Rerun: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_ran.py --json``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault('OMP_NUM_THREADS', '1')

import numpy as np  # noqa: E402

from ior_ros.core.ran.cell import simulate_cell  # noqa: E402
from ior_ros.core.ran.cell_batched import simulate_cells_batched  # noqa: E402
from ior_ros.core.ran.cell_config import CellConfig  # noqa: E402
from ior_ros.core.ran.slot_engines import numba_available, run_slots  # noqa: E402
from ior_ros.experiments.contract import machine_info  # noqa: E402

RERUN = 'OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_ran.py --json'


def naive_pf_loop(config: CellConfig, n_slots: int, rng: np.random.Generator,
                  gains: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """
    The straightforward per-slot PF loop: every slot, draw Rayleigh power gains, compute the
    Shannon rate of every (UE, PRB), the PF metric r/T, the argmax per PRB, the served rates and
    the EWMA of the throughput. float64 throughout.

    Args:
        gains: optional pre-drawn ``[n_slots, n_ue, n_prb]`` power gains (used instead of drawing;
            for the same-model check).

    Returns:
        (assignment ``[n_slots, n_prb]``, mean throughput ``[n_ue]`` [bit/s]).
    """
    n_ue, n_prb = config.n_ue, config.n_prb
    mean_snr = config.mean_snr  # [n_ue]
    bandwidth = config.link.rb_bandwidth_hz
    mean_gain = 2.0 * config.link.rayleigh_scale ** 2
    beta = config.pf_beta
    avg = np.full(n_ue, config.pf_initial_avg_bps)
    total = np.zeros(n_ue)
    prbs = np.arange(n_prb)
    assignment = np.empty((n_slots, n_prb), dtype=np.int64)
    for t in range(n_slots):
        g = rng.exponential(mean_gain, size=(n_ue, n_prb)) if gains is None else gains[t]
        rates = bandwidth * np.log2(1.0 + mean_snr[:, None] * g)  # [n_ue, n_prb]
        metric = rates / avg[:, None]  # [n_ue, n_prb]
        a = np.argmax(metric, axis=0)  # [n_prb]
        served = np.bincount(a, weights=rates[a, prbs], minlength=n_ue)  # [n_ue]
        avg = beta * avg + (1.0 - beta) * served
        total += served
        assignment[t] = a
    return assignment, total / n_slots


def _median_rate(work: Callable[[], object], units: float, repetitions: int) -> float:
    """Median over repetitions of units per second of ``work``."""
    rates = []
    for _ in range(repetitions):
        start = time.perf_counter()
        work()
        rates.append(units / (time.perf_counter() - start))
    return statistics.median(rates)


def _same_model_check(config: CellConfig) -> bool:
    """The optimized engine and the naive loop give the same assignment on the same gains."""
    rng = np.random.default_rng(2024)
    n_slots = 2000
    gains = rng.exponential(2.0 * config.link.rayleigh_scale ** 2,
                            size=(n_slots, config.n_ue, config.n_prb))
    naive_assign, _ = naive_pf_loop(config, n_slots, rng, gains=gains)
    rates = config.link.rb_bandwidth_hz * np.log2(1.0 + config.mean_snr[None, :, None] * gains)
    fast_assign, _ = run_slots(rates, 'proportional_fair', beta=config.pf_beta,
                               initial_avg_bps=config.pf_initial_avg_bps, engine='auto')
    return bool(np.array_equal(naive_assign, fast_assign))


def _puncturing_percentiles(repetitions: int, calls: int) -> tuple[float | None, float | None,
                                                                    str | None]:
    try:
        from ior_ros.core.ran.puncturing import example_decision_case
        decide = example_decision_case()
    except Exception as exc:  # the module belongs to another part of the issue
        return None, None, f'puncturing decision not measured: {type(exc).__name__}: {exc}'
    for _ in range(2000):
        decide()
    p50s, p99s = [], []
    clock = time.perf_counter_ns
    for _ in range(repetitions):
        samples = np.empty(calls)
        for k in range(calls):
            start = clock()
            decide()
            samples[k] = clock() - start
        p50s.append(float(np.percentile(samples, 50)) / 1e3)
        p99s.append(float(np.percentile(samples, 99)) / 1e3)
    return statistics.median(p50s), statistics.median(p99s), None


def run(repetitions: int = 5, quick: bool = False) -> dict[str, Any]:
    """Measure everything; returns the JSON object."""
    config = CellConfig()
    scale = 0.2 if quick else 1.0
    naive_slots = int(20_000 * scale)
    fast_slots = int(300_000 * scale)
    numpy_slots = int(40_000 * scale)
    replicas, batched_slots = 1024, int(300 * scale)

    # warm-up (numba compiles here, outside every timed region)
    naive_pf_loop(config, 500, np.random.default_rng(0))
    simulate_cell(config, 4096, np.random.default_rng(0))
    simulate_cell(config, 4096, np.random.default_rng(0), engine='numpy')
    simulate_cells_batched(config, 256, 20, np.random.default_rng(0))

    rng = np.random.default_rng(1)
    naive = _median_rate(lambda: naive_pf_loop(config, naive_slots, rng), naive_slots,
                         repetitions)
    fast = _median_rate(lambda: simulate_cell(config, fast_slots, rng),
                        fast_slots, repetitions)
    numpy_engine = _median_rate(
        lambda: simulate_cell(config, numpy_slots, rng, engine='numpy'),
        numpy_slots, repetitions)
    batched = _median_rate(
        lambda: simulate_cells_batched(config, replicas, batched_slots, rng),
        replicas * batched_slots, repetitions)
    p50, p99, note = _puncturing_percentiles(repetitions, 20_000 if not quick else 4000)
    engine = 'numba' if numba_available() else 'numpy'
    notes = [] if note is None else [note]
    if not numba_available():
        notes.append('numba not installed: slots_per_s is the numpy engine')
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    if load > 0.5 * cores:
        notes.append(f'shared machine: 1-min load average {load:.1f} on {cores} cores during the '
                     'run; absolute rates are below those of an idle machine, the ratios to the '
                     'naive loop (measured in the same run) are less affected')
    return {
        'slots_per_s': round(fast),
        'naive_slots_per_s': round(naive),
        'speedup_vs_naive': round(fast / naive, 2),
        'batched_cell_slots_per_s': round(batched),
        'puncturing_decision_p50_us': None if p50 is None else round(p50, 3),
        'puncturing_decision_p99_us': None if p99 is None else round(p99, 3),
        'engine': engine,
        'numpy_engine_slots_per_s': round(numpy_engine),
        'numpy_engine_speedup_vs_naive': round(numpy_engine / naive, 2),
        'naive_matches_optimized': _same_model_check(config),
        'targets': {'speedup_vs_naive': 4.0, 'batched_cell_slots_per_s': 1_000_000,
                    'puncturing_decision_p99_us': 20.0},
        'cell': {'n_ue': config.n_ue, 'n_prb': config.n_prb, 'scheduler': 'proportional_fair',
                 'pf_beta': config.pf_beta, 'precision': config.precision.value},
        'sizes': {'naive_slots': naive_slots, 'slots': fast_slots, 'numpy_slots': numpy_slots,
                  'replicas': replicas, 'batched_slots': batched_slots,
                  'repetitions': repetitions},
        'machine': {**machine_info(), 'numpy': np.__version__,
                    'numba': _numba_version(),
                    'load_average_1min': round(os.getloadavg()[0], 2)},
        'notes': notes,
        'rerun': RERUN,
    }


def _numba_version() -> str | None:
    try:
        import numba
    except ImportError:
        return None
    return str(numba.__version__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[1] if __doc__ else None)
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    parser.add_argument('--repetitions', type=int, default=5, help='timed repetitions (median)')
    parser.add_argument('--quick', action='store_true', help='smaller sizes (a smoke run)')
    args = parser.parse_args(argv)
    result = run(repetitions=args.repetitions, quick=args.quick)
    if args.json:
        print(json.dumps(result))
        return 0
    width = max(len(k) for k in result)
    for key, value in result.items():
        if key not in ('machine', 'sizes', 'cell', 'targets'):
            print(f'{key:<{width}}  {value}')
    print(f'rerun: {RERUN}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
