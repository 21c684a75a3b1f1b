"""
``ior slices``: a set of slice templates checked as a whole and put on equipment.

    ior slices validate [DIR | FILE ...] [--bindings FILE] [--capacity BPS] [--json]

checks the set (TS 28.541 RRMPolicyRatio set rules, admission against the capacity, names and
DNNs; ior_ros/core/slicing/equipment_plan.py) and prints its mapping onto a gNB (PRB percents),
a modem (S-NSSAI AT strings, DNN) and Linux tc (rate, ceil, classifier). Default: the package's
``config/slices_wifi`` (seed 000 Fig. 2b).

    ior slices apply --dev IF [--dir DIR] [--by addr|dscp] [--direction src|dst] [--netns NS]
    ior slices apply --dev IF --remove        (or: ior slices remove --dev IF)
    ior slices list --dev IF [--dir DIR] [--json]

put the set on an interface as HTB classes (ior_ros/clients/tc.py): idempotent, a changed set is
modified in place, and each command run is printed with its time. A set that is refused is
refused before any tc command runs. Needs root (CAP_NET_ADMIN) for apply and remove.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ior_ros.commands.common import input_path, number

__all__ = ['register']

_CAPACITY = number(float, 1e3, 100e9, unit='bit/s', why='a 100 Gbit/s link is the fastest tc '
                                                         'shapes here')


def _default_dir() -> Path:
    from ior_ros.runtime.packages import find_package_share
    return find_package_share('ior_ros') / 'config' / 'slices_wifi'


def _set_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--bindings', type=input_path, default=None, metavar='FILE',
                        help='equipment bindings (capacity, DNN, robot address, DSCP); default: '
                             'DIR/equipment/bindings.yaml')
    parser.add_argument('--capacity', type=_CAPACITY, default=None, metavar='BPS',
                        help="the cell's or link's capacity [bit/s]; default: the bindings'")


def _dev_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--dev', required=True, metavar='IF', help='network interface')
    parser.add_argument('--netns', default=None, metavar='NS',
                        help='network namespace of the interface (tc -n NS)')


def register(subparsers: Any) -> None:
    """Add the ``slices`` group."""
    parser = subparsers.add_parser(
        'slices', help='slice templates checked as a set and put on equipment (tc)',
        description='Check a set of slice templates (TS 28.541, admission) and put it on Linux '
                    'traffic control.')
    group = parser.add_subparsers(dest='slices_command', metavar='SUBCOMMAND')
    group.required = True

    va = group.add_parser(
        'validate', help='check a set and print its mapping onto gNB, modem and tc',
        description='Check the set (TS 28.541 RRMPolicyRatio set rules, admission against the '
                    'capacity, names, DNNs) and print its mapping; exit 2 with one line when it '
                    'is refused.')
    va.add_argument('paths', nargs='*', type=input_path, metavar='DIR|FILE',
                    help='a templates folder or template files (default: config/slices_wifi)')
    _set_options(va)
    va.add_argument('--json', action='store_true', help='print the plan as one JSON object')
    va.set_defaults(handler=_validate)

    ap = group.add_parser(
        'apply', help='put the set on an interface as HTB classes (idempotent)',
        description='Reconcile the interface with the set: HTB link class at the capacity, '
                    'one class per slice (rate = guaranteed, ceil = max), u32 filters by robot '
                    'address or DSCP. Nothing runs when the set is refused.')
    _dev_options(ap)
    ap.add_argument('--dir', type=input_path, default=None, metavar='DIR',
                    help='templates folder (default: config/slices_wifi)')
    _set_options(ap)
    ap.add_argument('--by', choices=('addr', 'dscp'), default='addr',
                    help="classify by the robot's address or by DSCP")
    ap.add_argument('--direction', choices=('src', 'dst'), default='src',
                    help='with --by addr: match the source (uplink) or destination (downlink)')
    ap.add_argument('--leaf', choices=('auto', 'fq_codel', 'sfq', 'bfifo', 'pfifo'),
                    default='auto', help="each slice's leaf queue (auto: fq_codel, sfq, bfifo: "
                                         'the first the kernel has)')
    ap.add_argument('--remove', action='store_true', help='remove the slices instead')
    ap.add_argument('--json', action='store_true', help='print the actions as JSON')
    ap.set_defaults(handler=_apply)

    rm = group.add_parser('remove', help='remove the slices from an interface (idempotent)',
                          description='Delete the HTB root qdisc ior put on the interface; '
                                      'nothing when there is none.')
    _dev_options(rm)
    rm.add_argument('--json', action='store_true', help='print the actions as JSON')
    rm.set_defaults(handler=_remove)

    ls = group.add_parser('list', help="the interface's slice classes as the kernel reports",
                          description='Read back the HTB tree: classes, rates, leaf queues, '
                                      'filters and counters.')
    _dev_options(ls)
    ls.add_argument('--dir', type=input_path, default=None, metavar='DIR',
                    help='templates folder whose names label the classes')
    ls.add_argument('--bindings', type=input_path, default=None, metavar='FILE',
                    help=argparse.SUPPRESS)
    ls.add_argument('--capacity', type=_CAPACITY, default=None, help=argparse.SUPPRESS)
    ls.add_argument('--json', action='store_true', help='print the state as one JSON object')
    ls.set_defaults(handler=_list)


def _plan(paths: list[Path], args: argparse.Namespace) -> Any:
    from ior_ros.core.slicing.equipment_plan import load_slice_set

    return load_slice_set(paths or [_default_dir()], args.bindings, args.capacity)


def _validate(args: argparse.Namespace) -> int:
    plan = _plan(list(args.paths), args)
    if args.json:
        print(json.dumps(plan.as_dict()))
        return 0
    print(f'{plan.source}: {len(plan.slices)} slices admitted in '
          f'{plan.capacity_bps / 1e6:g} Mbit/s (TS 28.541 set rules hold)')
    header = ('slice', 'gNB min/max/ded %', 'S-NSSAI (AT)', 'DNN', 'tc rate', 'tc ceil',
              'address', 'DSCP')
    rows = [header]
    for s in plan.slices:
        rows.append((s.name, f'{s.gnb.min_percent}/{s.gnb.max_percent}/'
                             f'{s.gnb.dedicated_percent}', s.modem.snssai, s.modem.dnn or '-',
                     f'{s.tc.rate_bps / 1e6:g}M', f'{s.tc.ceil_bps / 1e6:g}M',
                     s.tc.address or '-', '-' if s.tc.dscp is None else str(s.tc.dscp)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        print('  '.join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def _print_result(result: Any, as_json: bool, what: str) -> None:
    if as_json:
        print(json.dumps({'changed': result.changed, 'seconds': result.seconds,
                          'actions': [{'op': a.op, 'target': a.target,
                                       'command': list(a.command), 'seconds': a.seconds}
                                      for a in result.actions]}))
        return
    for action in result.actions:
        print(f'{action.op:<7} {action.target:<34} {action.seconds * 1e3:7.2f} ms')
    state = (f'{len(result.actions)} commands' if result.changed
             else 'nothing to remove' if what.startswith('remove')
             else 'already in place, nothing to do')
    print(f'{what}: {state} ({result.seconds * 1e3:.1f} ms)')


def _apply(args: argparse.Namespace) -> int:
    from ior_ros.clients.tc import TcSlices, tc_plan

    if args.remove:
        return _remove(args)
    plan = tc_plan(_plan([args.dir] if args.dir else [], args), by=args.by,
                   direction=args.direction, leaf=args.leaf)
    result = TcSlices(args.dev, args.netns).apply(plan)
    _print_result(result, args.json, f'apply on {args.dev}')
    return 0


def _remove(args: argparse.Namespace) -> int:
    from ior_ros.clients.tc import TcSlices

    result = TcSlices(args.dev, args.netns).remove()
    _print_result(result, args.json, f'remove on {args.dev}')
    return 0


def _list(args: argparse.Namespace) -> int:
    from ior_ros.clients.tc import TcSlices

    names = _plan([args.dir], args).names() if args.dir else None
    state = TcSlices(args.dev, args.netns).read(names)
    if args.json:
        print(json.dumps(state.as_dict()))
        return 0
    if not state.ours:
        print(f'{args.dev}: no ior slices (root qdisc: {state.root or "none"})')
        return 0
    print(f'{args.dev}: {state.root}')
    for c in state.classes:
        print(f'  class {c.classid:<5} {c.name or "?":<14} rate {c.rate_bps / 1e6:g}M ceil '
              f'{c.ceil_bps / 1e6:g}M prio {c.prio} leaf {c.leaf or "-":<8} '
              f'match {c.match or "-":<22} sent {c.sent_bytes} B {c.sent_packets} pkt '
              f'dropped {c.dropped}')
    return 0
