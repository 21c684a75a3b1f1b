"""
``ior demo``: the closed loop of issue 12 on the simulated network, every node its own process.

    ior demo --duration 60 --out out/demo --policy dpp
    ior demo --duration 20 --equipment emulated     (plus the emulated gNB and modem, issue 13)
    ior demo --summarize out/demo/bag --out out/again      (summary and figures of a recorded run)
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

from ior_ros.commands.common import input_path, number, output_folder, seed_number

__all__ = ['register']


def register(subparsers: Any) -> None:
    """Add ``demo``."""
    from ior_ros.experiments.demo import EQUIPMENT, FAULTS, POLICIES

    parser = subparsers.add_parser(
        'demo', help='run the closed loop (five nodes over DDS) and summarise it',
        description='Start launch/sim.launch.yaml (teleop operator, digital twin, slice broker, '
                    'RAN emulator owning /clock, robot controller), record a bag, run for '
                    '--duration simulated seconds after the loop closes, then write '
                    'OUT/summary.json, four figures and OUT/bag, and print the summary.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--duration', type=number(float, 1.0, 86400.0, why=(
        'a run is at least one second and at most a day of simulated time')), default=60.0,
                        metavar='S', help='simulated seconds after the loop closes')
    parser.add_argument('--out', type=output_folder(), default=None, metavar='DIR',
                        help='output folder (default: out/demo/YYYYmmdd-HHMMSS)')
    parser.add_argument('--policy', choices=POLICIES, default='dpp',
                        help='slice broker allocator')
    parser.add_argument('--fault', choices=FAULTS, default='none',
                        help='fault injected: urllc-loss (30 %% URLLC loss from the start), '
                             'kill-twin / kill-broker / stop-operator (SIGKILL halfway)')
    parser.add_argument('--no-twin', action='store_true', help='run without the digital twin')
    parser.add_argument('--no-broker', action='store_true',
                        help='run without the slice broker (fixed PRB split)')
    parser.add_argument('--equipment', choices=EQUIPMENT, default='none',
                        help='emulated: also run the emulated srsRAN gNB (driven by the slice '
                             "broker) and Quectel modem (read by the robot's modem_client, "
                             'LinkQuality on /robot/link_quality); docs/equipment/README.md')
    parser.add_argument('--slip-rate', type=number(float, 0.0, 100.0, unit='1/s', why=(
        'operator slips are a Poisson process of 0 to 100 per second')), default=None,
                        metavar='PER_S',
                        help='operator slips per second: risky commands for the twin to veto '
                             '(default: launch/sim.launch.yaml, 0.2; 0: none)')
    parser.add_argument('--seed', type=seed_number(), default=0, help='seed of the whole run')
    parser.add_argument('--rtf', type=number(float, 0.05, 100.0, why=(
        'the ran_emulator runs between 0.05x and 100x real time')), default=1.0,
                        help='simulated seconds per wall second')
    parser.add_argument('--deadline-ms', type=number(float, 0.1, 10_000.0, why=(
        'the URLLC deadline is a delay, from 0.1 ms to 10 s')), default=20.0,
                        help='URLLC deadline D_max for the violation rate (seed 003 Table I)')
    parser.add_argument('--rviz', action='store_true',
                        help='open RViz (needs rviz2 and a display)')
    parser.add_argument('--replay', type=input_path, default=None, metavar='BAG',
                        help='replay a recorded demo bag: a fresh robot controller and twin '
                             'driven by the bag (sim time from its /clock); summary beside the '
                             'recorded one (BAG/../summary.json)')
    parser.add_argument('--summarize', type=input_path, default=None, metavar='BAG',
                        help='do not run: summarise the recorded demo bag BAG into --out '
                             '(over the window of BAG/../summary.json when it is there)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.set_defaults(handler=_demo)


def _print(summary: dict[str, Any]) -> None:
    rows = [('URLLC delay p50 / p99', f"{summary['urllc_delay_p50_ms']:.2f} / "
             f"{summary['urllc_delay_p99_ms']:.2f} ms"),
            ('URLLC violation rate', f"{summary['urllc_violation_rate']:.4f} (deadline "
             f"{summary.get('deadline_ms', float('nan')):g} ms, late + lost)"),
            ('eMBB throughput', f"{summary['embb_throughput_mbps']:.2f} Mb/s"),
            ('tracking RMSE', f"{summary['tracking_rmse_m'] * 1e3:.2f} mm (max "
             f"{summary.get('max_tracking_error_m', math.nan) * 1e3:.1f} mm)"),
            ('mean dexterity index', f"{summary['mean_dexterity_index']:.4f}"),
            ('twin vetoes', str(summary['twin_vetoes'])),
            ('real-time factor', f"{summary['real_time_factor']:.2f}"),
            ('commands sent / received / lost',
             f"{summary.get('commands_sent')} / {summary.get('commands_received')} / "
             f"{summary.get('commands_lost')}"),
            ('bag', str(summary['bag']))]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f'  {key:<{width}}  {value}')


def _demo(args: argparse.Namespace) -> int:
    from ior_ros.commands.progress import terminal_progress
    from ior_ros.experiments.demo import (
        DemoError,
        DemoOptions,
        replay_demo,
        run_demo,
        summarize_bag,
    )

    out: Path = args.out or Path('out') / 'demo' / time.strftime('%Y%m%d-%H%M%S')
    if args.replay is not None and args.summarize is not None:
        raise DemoError('--replay and --summarize: give one of them')
    if args.replay is not None:
        twin = False if args.no_twin else None  # None: as the recorded run
        summary = replay_demo(args.replay, out, twin=twin, seed=args.seed,
                              deadline_s=args.deadline_ms * 1e-3,
                              progress=terminal_progress(not args.no_progress))
    elif args.summarize is not None:
        summary = summarize_bag(args.summarize, out, deadline_s=args.deadline_ms * 1e-3)
    else:
        opts = DemoOptions(out_dir=out, duration_s=args.duration, policy=args.policy,
                           fault=args.fault, twin=not args.no_twin, broker=not args.no_broker,
                           seed=args.seed, real_time_factor=args.rtf, rviz=args.rviz,
                           deadline_s=args.deadline_ms * 1e-3, equipment=args.equipment,
                           launch_args=({} if args.slip_rate is None else
                                        {'slip_rate_per_s': repr(args.slip_rate)}))
        summary = run_demo(opts, progress=terminal_progress(not args.no_progress))
    print(f'closed loop summary ({out / "summary.json"}):')
    _print(summary)
    print('figures: ' + ', '.join(Path(p).name for p in summary.get('figures', [])))
    original = summary.get('original') or {}
    if original:
        print('recorded run beside the replay:')
        for key in ('urllc_delay_p50_ms', 'urllc_delay_p99_ms', 'tracking_rmse_m',
                    'mean_dexterity_index', 'twin_vetoes'):
            if key in original:
                print(f'  {key:<22} recorded {original[key]!s:<24} replay {summary[key]}')
    return 0
