"""
``ior reproduce ID --out DIR [--quick] [--seed N]``: a paper figure or table, per the contract in
:mod:`ior_ros.experiments.contract`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ior_ros.commands.common import (
    add_config_options,
    input_path,
    number,
    output_folder,
    seed_number,
)
from ior_ros.core.errors import ConfigError

__all__ = ['register']

SWEEPS = ('closed-loop', 'seed000-fig4')
"""The reproductions made of independent runs: --workers, --ray-address, --seeds and --force
apply to them (ior_ros.experiments.sweep)."""


def _argparse_type(check: Any, flag: str) -> Any:
    """An argparse ``type=`` from a checker that raises ConfigError ``FLAG 'text': why``."""
    def parse(text: str) -> Any:
        try:
            return check(text)
        except ConfigError as exc:
            message = str(exc)
            raise argparse.ArgumentTypeError(message[len(flag) + 1:] if message.startswith(flag)
                                             else message) from None
    parse.__name__ = flag.lstrip('-')
    return parse


def _ray_address(text: str) -> str:
    from ior_ros.experiments.sweep import check_ray_address
    return check_ray_address(text)


def _seeds(text: str) -> tuple[int, ...]:
    from ior_ros.experiments.sweep import parse_seeds
    return parse_seeds(text)


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
    sweep = parser.add_argument_group(
        'independent runs', f'for {", ".join(SWEEPS)}: their runs (cells/variants x seeds)\n'
        'go through one sweep; a full run keeps each run under OUT/runs/ and skips\n'
        'finished ones when run again (docs/sweeps.md)')
    sweep.add_argument('--workers', type=number(int, 1, 256, why='local worker processes, one '
                                                '~1 GB interpreter each'),
                       default=1, metavar='N', help='run N at a time in local worker processes '
                       '(default 1: in this process, in order)')
    sweep.add_argument('--ray-address', type=_argparse_type(_ray_address, '--ray-address'),
                       default=None, metavar='ADDR',
                       help="run them on an existing Ray cluster: 'auto' or HOST:PORT of its "
                            "head (needs pip install 'ior_ros[cluster]')")
    sweep.add_argument('--seeds', type=_argparse_type(_seeds, '--seeds'), default=None,
                       metavar='LIST', help='the seeds to run, e.g. 0,1,2 or 0-4 (default: '
                       "from --seed, as the reproduction's docstring says)")
    sweep.add_argument('--force', action='store_true',
                       help='rerun finished runs from scratch (their folders are emptied)')
    add_config_options(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from ior_ros.commands.progress import terminal_progress
    from ior_ros.core.artifacts import check_out_dir
    from ior_ros.core.config import read_yaml
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
    given = [flag for flag, value in (('--workers', args.workers != 1),
                                      ('--ray-address', args.ray_address is not None),
                                      ('--seeds', args.seeds is not None),
                                      ('--force', args.force)) if value]
    if given and entry.id not in SWEEPS:
        raise ConfigError(f'{given[0]}: {entry.id} has no independent runs to spread or resume '
                          f'({given[0]} works for: {", ".join(SWEEPS)})')
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
                           options={'from_dir': args.from_dir, 'retrain': args.retrain},
                           workers=args.workers, ray_address=args.ray_address, seeds=args.seeds,
                           force=args.force)
    func = entry.load()
    watch = Stopwatch()
    result = func(context)
    result.wall_s = watch.elapsed_s
    plot = getattr(result, 'plot', None)
    paths = write_result(result, out_dir, plot=plot)
    print(format_claims_table(result))
    print('wrote ' + ', '.join(str(p) for p in paths))
    return 0
