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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ior`` console script; returns the exit code."""
    _restore_keyboard_interrupt()
    parser = build_parser()
    args = parser.parse_args(argv)
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
