"""
Options shared by every command: ``--config``, ``--set``, ``--out``, ``--seed``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ior_ros.core.config import FrozenModel, load_config, save_resolved_config
from ior_ros.core.errors import ConfigError

__all__ = ['add_config_options', 'add_out_option', 'resolve_config', 'save_resolved_config',
           'positive_int', 'non_negative_int', 'positive_float', 'non_negative_float']


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """``--config FILE`` and repeatable ``--set dotted.key=value``."""
    parser.add_argument('--config', type=Path, default=None, metavar='FILE',
                        help='YAML configuration file (keys as in config/*.yaml)')
    parser.add_argument('--set', dest='overrides', action='append', default=[],
                        metavar='KEY=VALUE',
                        help='override one configuration value, e.g. --set ran.mini_slots=4 '
                             '(repeatable; VALUE is read as YAML)')


def add_out_option(parser: argparse.ArgumentParser, required: bool = True,
                   default: str | None = None) -> None:
    """``--out DIR``: the run's output folder (created)."""
    parser.add_argument('--out', type=Path, required=required and default is None,
                        default=Path(default) if default else None, metavar='DIR',
                        help='output folder (created; files are written atomically)')


def resolve_config(model: type[FrozenModel], args: argparse.Namespace,
                   section: str | None = None) -> Any:
    """Build the command's configuration from defaults, ``--config`` and ``--set``."""
    return load_config(model, getattr(args, 'config', None), getattr(args, 'overrides', ()),
                       section=section)


def _typed(kind: type, check: Any, allowed: str) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'{text!r} is not a number; {allowed}') from None
        if not check(value):
            raise argparse.ArgumentTypeError(f'{text!r}: {allowed}')
        return value
    return parse


positive_int = _typed(int, lambda v: v > 0, 'must be an integer > 0')
non_negative_int = _typed(int, lambda v: v >= 0, 'must be an integer >= 0')
positive_float = _typed(float, lambda v: v > 0 and v != float('inf'), 'must be a number > 0')
non_negative_float = _typed(float, lambda v: v >= 0 and v != float('inf'),
                            'must be a number >= 0')


def require(condition: bool, message: str) -> None:
    """Raise ConfigError(message) when the condition fails (validation at the CLI boundary)."""
    if not condition:
        raise ConfigError(message)
