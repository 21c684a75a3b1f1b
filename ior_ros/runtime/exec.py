"""
``python -m ior_ros.runtime.exec PKG EXECUTABLE [args...]``: run a node executable of ior_ros.

What ``ros2 run`` does for the console scripts of an installed package: EXECUTABLE is the module
``ior_ros.nodes.<EXECUTABLE>`` (``<name>_node`` also finds ``ior_ros.nodes.<name>``) and its
``main`` function is called. ``sys.argv`` becomes ``[EXECUTABLE, *args]`` and ``main()`` is
called without arguments, so both ``main(args=None)`` (rclpy style) and ``main()`` work. Unknown
executables exit with code 2 and one line on stderr.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from ior_ros.runtime.packages import PROJECT_PACKAGE

__all__ = ['find_entry_point', 'node_executables', 'main']

NODES_PACKAGE = 'ior_ros.nodes'


def node_executables() -> list[str]:
    """The executables of ior_ros: one per module of :mod:`ior_ros.nodes` (what CMake installs)."""
    import pkgutil

    nodes = importlib.import_module(NODES_PACKAGE)
    return sorted(info.name for info in pkgutil.iter_modules(nodes.__path__)
                  if not info.name.startswith('_'))


def find_entry_point(package: str, executable: str) -> Callable[..., Any]:
    """The ``main`` function of an ior_ros executable (LookupError when unknown)."""
    if package != PROJECT_PACKAGE:
        raise LookupError(f"package '{package}' has no Python executables here")
    if not executable.isidentifier():
        raise LookupError(f"no executable '{executable}' in package '{package}'")
    candidates = [f'{NODES_PACKAGE}.{executable}']
    if executable.endswith('_node'):  # robot_controller_node → ior_ros.nodes.robot_controller
        candidates.append(f'{NODES_PACKAGE}.{executable[:-5]}')
    module = None
    for module_name in candidates:
        try:
            module = importlib.import_module(module_name)
            break
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
    if module is None:
        known = ', '.join(node_executables())
        raise LookupError(f"no executable '{executable}' in package '{package}' (known: "
                          f'{known}, or a module {NODES_PACKAGE}.<name> with main())')
    entry = getattr(module, 'main', None)
    if entry is None:
        raise LookupError(f'{module.__name__} has no function main()')
    return entry  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``exec PKG EXECUTABLE [args...]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        print('usage: python -m ior_ros.runtime.exec PKG EXECUTABLE [args...]', file=sys.stderr)
        return 2
    package, executable, rest = args[0], args[1], args[2:]
    try:
        entry = find_entry_point(package, executable)
    except LookupError as exc:
        print(f'ior: error: {exc}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C (a launch stopping) while the node's modules load
        return 130
    sys.argv = [executable, *rest]
    from ior_ros.core.errors import IorError

    try:
        code = entry()
    except IorError as exc:
        print(f'ior: error: {exc}', file=sys.stderr)
        return 2
    except Exception as exc:
        # on rclpy, a bad parameter (an override of the wrong type, say) is rclpy's exception:
        # the same one line and exit code as on the DDS runtime, not a traceback
        if type(exc).__module__ != 'rclpy.exceptions':
            raise
        print(f'ior: error: {exc}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return int(code or 0)


if __name__ == '__main__':
    sys.exit(main())
