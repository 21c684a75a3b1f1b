"""
Which implementation ``ior_ros.runtime`` exports: rclpy (when importable) or the DDS runtime.

Order of precedence: :func:`select_backend` called before first use; the ``IOR_ROS_BACKEND``
environment variable (``rclpy``, ``dds`` or ``auto``); the ROS parameter ``ior_runtime_backend``
given on the command line (``--ros-args -p ior_runtime_backend:=dds``); otherwise ``auto``, which
means rclpy if ``import rclpy`` would succeed and the DDS runtime if not.
"""

from __future__ import annotations

import importlib.util
import os
import sys

from ior_ros.runtime.errors import RosInputError

__all__ = ['backend_name', 'select_backend', 'rclpy_available', 'BACKENDS']

BACKENDS = ('rclpy', 'dds')
_CHOICE: list[str | None] = [None]


def rclpy_available() -> bool:
    """True when rclpy can be imported."""
    try:
        return importlib.util.find_spec('rclpy') is not None
    except (ImportError, ValueError):
        return False


def _from_argv(argv: list[str]) -> str | None:
    inside = False
    for index, arg in enumerate(argv):
        if arg == '--ros-args':
            inside = True
        elif arg == '--':
            inside = False
        elif inside and arg in ('-p', '--param') and index + 1 < len(argv):
            text = argv[index + 1]
            if text.split(':=', 1)[0].split(':')[-1] == 'ior_runtime_backend':
                return text.split(':=', 1)[1].strip()
    return None


def _check(name: str, origin: str) -> str:
    value = name.strip().lower()
    if value == 'auto':
        return 'rclpy' if rclpy_available() else 'dds'
    if value not in BACKENDS:
        raise RosInputError(f"{origin}={name!r}: expected 'rclpy', 'dds' or 'auto'")
    if value == 'rclpy' and not rclpy_available():
        raise RosInputError(f'{origin}=rclpy but rclpy is not importable here (source a ROS 2 '
                            'installation, or use dds)')
    return value


def select_backend(name: str) -> str:
    """Fix the backend for this process (before anything from ior_ros.runtime is used)."""
    chosen = _check(name, 'backend')
    _CHOICE[0] = chosen
    return chosen


def backend_name() -> str:
    """The backend in use: 'rclpy' or 'dds'."""
    chosen = _CHOICE[0]
    if chosen is None:
        env = os.environ.get('IOR_ROS_BACKEND', '').strip()
        arg = _from_argv(list(sys.argv))
        if env:
            chosen = _check(env, 'IOR_ROS_BACKEND')
        elif arg:
            chosen = _check(arg, 'ior_runtime_backend')
        else:
            chosen = _check('auto', 'auto')
        _CHOICE[0] = chosen
    return chosen
