"""
The ``ior`` command.

Sub-command groups live in ``ior_ros.commands.<group>``; each module exposes
``register(subparsers)`` and keeps heavy imports (torch, cvxpy, DDS) inside its handlers
so that ``ior --help`` stays fast. Any :class:`~ior_ros.core.errors.IorError` becomes one
line on stderr and exit code 2; nothing is written half, because every writer is atomic.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ior_ros.commands import import_available
from ior_ros.core.errors import IorError

__all__ = ['main', 'build_parser', 'COMMAND_MODULES']

# Each entry is a module with ``register(subparsers)``. Later issues append their groups here.
COMMAND_MODULES: tuple[str, ...] = (
    'ior_ros.commands.sim',        # radio model (seed 000 §IV)
    'ior_ros.commands.reproduce',  # every paper figure and table
    'ior_ros.commands.control',    # delay-robust control (seed 003 §IV)
    'ior_ros.commands.train',      # issues 4, 5: training
    'ior_ros.commands.evaluate',   # `ior eval` (slicing policies)
    'ior_ros.commands.twin',       # digital twin (seed 000 §III)
    'ior_ros.commands.ros',        # ROS 2 tools: launch, topic, node, bag
    'ior_ros.commands.demo',       # issue 12: the closed loop (make demo)
    'ior_ros.commands.gnb',        # issue 13: srsRAN gNB remote control and its emulator
    'ior_ros.commands.modem',      # issue 13: Quectel RM500Q over AT and its emulator
    'ior_ros.commands.slices',     # issue 13: slice plans on equipment, Linux tc slices
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered command group."""
    parser = argparse.ArgumentParser(
        prog='ior',
        description='ior_ros: Internet-of-Robots stack (5G slicing, delay-robust control, '
                    'digital twin) over ROS 2.')
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND')
    subparsers.required = True
    for module in import_available(COMMAND_MODULES):
        module.register(subparsers)
    return parser


def _restore_keyboard_interrupt() -> None:
    """
    Make Ctrl-C (SIGINT) stop the command even when it was started with SIGINT ignored (the
    background of a non-interactive shell, nohup): launch stops its nodes and tools with SIGINT.
    """
    import signal
    import threading

    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.SIG_IGN):
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _chosen_parsers(parser: argparse.ArgumentParser,
                    args: argparse.Namespace) -> list[argparse.ArgumentParser]:
    """The parser and the sub-command parsers the arguments went through."""
    chain = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            sub = action.choices.get(getattr(args, action.dest, None) or '')
            if sub is not None:
                chain += _chosen_parsers(sub, args)
    return chain


def _check_single_values(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """
    Refuse a positional that should hold one value but came back as a list.

    CPython's argparse (3.11, 3.12) turns a positional written as ``--`` after a first ``--``
    into ``[]`` instead of the string or an error (``ior topic pub /x -- --``); the handler would
    then fail on a list. This turns it into argparse's own one-line error (exit 2).
    """
    chain = _chosen_parsers(parser, args)
    for sub in chain:
        for action in sub._actions:
            if (not action.option_strings and action.nargs is None
                    and isinstance(getattr(args, action.dest, None), list)):
                sub.error(f"argument {action.metavar or action.dest}: '--' is not a value here "
                          "(it only separates options from positional arguments)")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ior`` console script; returns the exit code."""
    _restore_keyboard_interrupt()
    from ior_ros.runtime.context import install_stack_dump

    install_stack_dump()
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_single_values(parser, args)
    handler = getattr(args, 'handler', None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        code = handler(args)
    except IorError as exc:
        print(f'ior: error: {exc}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('ior: interrupted', file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
