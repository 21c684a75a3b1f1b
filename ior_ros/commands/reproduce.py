"""
``ior reproduce ID --out DIR [--quick] [--seed N]``: a paper figure or table, per the contract in
:mod:`ior_ros.experiments.contract`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ior_ros.commands.common import add_config_options, non_negative_int

__all__ = ['register']


def register(subparsers: Any) -> None:
    """Add the ``reproduce`` command."""
    from ior_ros.experiments.registry import REPRODUCTIONS
    listing = '\n'.join(f'  {key:16s} {entry.title}' for key, entry in REPRODUCTIONS.items())
    parser = subparsers.add_parser(
        'reproduce', help='reproduce a paper figure or table',
        description='Run the model behind a paper figure or table; write ID.json, ID.csv, ID.png '
                    "into --out and print the paper's numbers beside ours.\n\nIDs:\n" + listing,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('id', nargs='?', help='figure/table id (see the list above)')
    parser.add_argument('--out', type=Path, default=None, metavar='DIR',
                        help='output folder (default: results/ID)')
    parser.add_argument('--quick', action='store_true',
                        help='a reduced run that finishes within about a minute on 2 cores')
    parser.add_argument('--seed', type=non_negative_int, default=0, help='random seed (default 0)')
    parser.add_argument('--list', action='store_true', help='list the ids and exit')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument('--from', dest='from_dir', type=Path, default=None, metavar='DIR',
                        help='rebuild the figure from a finished long run (where supported)')
    parser.add_argument('--retrain', action='store_true',
                        help='retrain models instead of using the shipped ones (where supported)')
    add_config_options(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from ior_ros.commands.progress import terminal_progress
    from ior_ros.core.errors import ConfigError
    from ior_ros.experiments.contract import (
        ReproContext,
        Stopwatch,
        format_claims_table,
        write_result,
    )
    from ior_ros.experiments.registry import REPRODUCTIONS, get_reproduction

    if args.list or not args.id:
        for key, entry in REPRODUCTIONS.items():
            print(f'{key:16s} {entry.title}')
        return 0 if args.list else 2
    entry = get_reproduction(args.id)
    if args.config is not None and not args.config.is_file():
        raise ConfigError(f'--config {str(args.config)!r}: no such file')
    out_dir = args.out if args.out is not None else Path('results') / entry.id
    context = ReproContext(out_dir=out_dir, quick=args.quick, seed=args.seed,
                           config_path=args.config, overrides=tuple(args.overrides),
                           progress=terminal_progress(not args.no_progress),
                           options={'from_dir': args.from_dir, 'retrain': args.retrain})
    func = entry.load()
    watch = Stopwatch()
    result = func(context)
    result.wall_s = watch.elapsed_s
    plot = getattr(result, 'plot', None)
    paths = write_result(result, out_dir, plot=plot)
    print(format_claims_table(result))
    print('wrote ' + ', '.join(str(p) for p in paths))
    return 0
