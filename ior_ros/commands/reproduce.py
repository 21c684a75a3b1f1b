"""
``ior reproduce ID --out DIR [--quick] [--seed N]``: a paper figure or table, per the contract in
:mod:`ior_ros.experiments.contract`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ior_ros.commands.common import add_config_options, input_path, output_folder, seed_number

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
    parser.add_argument('--out', type=output_folder(), default=None, metavar='DIR',
                        help='output folder (default: results/ID)')
    parser.add_argument('--quick', action='store_true',
                        help='a reduced run that finishes within about a minute on 2 cores')
    parser.add_argument('--seed', type=seed_number(), default=0, help='random seed (default 0)')
    parser.add_argument('--list', action='store_true', help='list the ids and exit')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument('--from', dest='from_dir', type=input_path, default=None, metavar='DIR',
                        help='rebuild the figure from a finished run: seed000-fig4 takes `ior '
                             'train twin` runs, seed003-table2 an `ior control schedule` run, '
                             'the other seed003 ids an `ior train slicing` run; the seed000-fig6 '
                             'ids refuse it')
    parser.add_argument('--retrain', action='store_true',
                        help='retrain models instead of using the shipped ones (where supported)')
    add_config_options(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from ior_ros.commands.progress import terminal_progress
    from ior_ros.core.artifacts import check_out_dir
    from ior_ros.core.config import read_yaml
    from ior_ros.core.errors import ConfigError
    from ior_ros.core.input_files import InputFileError, input_folder
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
    if args.from_dir is not None:
        if not entry.from_dir:
            raise ConfigError(f'--from: {entry.id} is computed from its model alone, there is no '
                              'finished run to rebuild it from (--from works for: '
                              f'{", ".join(k for k, e in REPRODUCTIONS.items() if e.from_dir)})')
        try:
            input_folder(args.from_dir, '--from')
        except InputFileError as exc:
            raise InputFileError(f'{exc} (expected {entry.from_dir})') from None
    if args.config is not None:
        read_yaml(args.config, '--config')  # every problem with the file, before any work
    out_dir = args.out if args.out is not None else check_out_dir(Path('results') / entry.id)
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
