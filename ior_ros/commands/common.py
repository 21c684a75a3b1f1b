"""
Options shared by every command: ``--config``, ``--set``, ``--out``, ``--seed``, and the argparse
``type=`` factories that give every numeric argument a range.

Every numeric argument is parsed by :func:`number` (an argparse ``type=`` factory): text, NaN,
infinities and values outside the range are refused by argparse (usage, then one line ``ior ...:
error: argument --flag: VALUE: must be ... : WHY``, exit code 2), where WHY is the memory or time
a larger value implies. Enumerations are argparse ``choices`` (argparse lists them). Output
folders are checked by :func:`output_folder` when the arguments are parsed, before any work: an
existing file, a parent that is a file, or a folder that cannot be written is refused the same way,
and nothing is created.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ior_ros.core.config import FrozenModel, load_config, save_resolved_config
from ior_ros.core.errors import ConfigError

__all__ = ['add_config_options', 'add_out_option', 'resolve_config', 'save_resolved_config',
           'number', 'NumberType', 'seed_number', 'output_folder', 'input_path', 'SEED_MAX',
           'positive_int', 'non_negative_int', 'positive_float', 'non_negative_float', 'require']

SEED_MAX = 2 ** 32 - 1
"""Largest seed: a 32-bit unsigned integer, a seed every generator used here (numpy, torch,
gymnasium) accepts and every result file stores exactly."""


def _range_words(kind: type, low: float | None, high: float | None, low_open: bool,
                 high_open: bool) -> str:
    noun = 'an integer' if kind is int else 'a number'

    def show(value: float) -> str:
        return str(int(value)) if kind is int else f'{value:g}'

    if low is not None and high is not None:
        return (f'{noun} {">" if low_open else ">="} {show(low)} and '
                f'{"<" if high_open else "<="} {show(high)}')
    if low is not None:
        return f'{noun} {">" if low_open else ">="} {show(low)}'
    if high is not None:
        return f'{noun} {"<" if high_open else "<="} {show(high)}'
    return f'a finite {"integer" if kind is int else "number"}'


class NumberType:
    """
    A numeric argument's type and range: an argparse ``type=`` (``NumberType(...)(text)``), or
    a check inside a handler (:meth:`parse`) for commands that report every error as one
    ``ior: error:`` line. Made by :func:`number`.
    """

    def __init__(self, kind: type[int] | type[float], low: float | None, high: float | None,
                 low_open: bool, high_open: bool, unit: str, why: str, words: str) -> None:
        self.kind = kind
        self.low, self.high = low, high
        self.low_open, self.high_open = low_open, high_open
        allowed = words or (_range_words(kind, low, high, low_open, high_open)
                            + (f' {unit}' if unit else ''))
        self.allowed = f'{allowed}: {why}' if why else allowed
        self.__name__ = kind.__name__  # argparse names the type in some messages

    def problem(self, text: str) -> tuple[Any, str | None]:
        """(value, None), or (None, why the text is refused)."""
        shown = text if len(text) <= 40 else text[:37] + '...'
        noun = 'an integer' if self.kind is int else 'a number'
        try:
            value = float(text) if self.kind is float else int(text.strip().replace('_', ''))
        except ValueError:
            return None, f'{shown!r} is not {noun}; must be {self.allowed}'
        if isinstance(value, float) and not math.isfinite(value):
            return None, f'{shown} is not a finite number; must be {self.allowed}'
        low, high = self.low, self.high
        if (low is not None and (value < low or (self.low_open and value == low))) or \
                (high is not None and (value > high or (self.high_open and value == high))):
            return None, f'{shown}: must be {self.allowed}'
        return value, None

    def __call__(self, text: str) -> Any:
        value, problem = self.problem(text)
        if problem is not None:
            raise argparse.ArgumentTypeError(problem)
        return value

    def parse(self, flag: str, text: str) -> Any:
        """The value of ``flag``; ConfigError ``FLAG = TEXT: must be ...`` when refused."""
        value, problem = self.problem(str(text))
        if problem is not None:
            raise ConfigError(f'{flag} = {problem}' if problem.startswith(str(text)) else
                              f'{flag}: {problem}')
        return value


def number(kind: type[int] | type[float], low: float | None = None, high: float | None = None,
           *, low_open: bool = False, high_open: bool = False, unit: str = '',
           why: str = '', words: str = '') -> NumberType:
    """
    The type of a numeric argument: an int or a finite float within a range.

    Args:
        kind: ``int`` or ``float``.
        low, high: the bounds (None: unbounded on that side; floats are always finite).
        low_open, high_open: exclude the bound itself.
        unit: the unit, shown after the range (``'s'``, ``'samples'``).
        why: what the upper bound protects (memory or time); shown after the range.
        words: the allowed range in words instead of the generated ones (``'in (0, 1]'``).

    The error reads ``VALUE: must be an integer >= 0 and <= 200 samples: WHY``.
    """
    return NumberType(kind, low, high, low_open, high_open, unit, why, words)


def seed_number() -> NumberType:
    """``--seed``: an integer in [0, 2³²-1] (:data:`SEED_MAX`)."""
    return number(int, 0, SEED_MAX, why='a 32-bit seed, which numpy, torch and gymnasium all '
                                       'accept')


def output_folder(what: str = '--out') -> Callable[[str], Path]:
    """
    An argparse ``type=`` for an output folder, checked when the arguments are parsed (before any
    work) by :func:`~ior_ros.core.artifacts.check_out_dir`; nothing is created.
    """
    def parse(text: str) -> Path:
        from ior_ros.core.artifacts import check_out_dir

        try:
            return check_out_dir(text, what)
        except ConfigError as exc:
            message = str(exc)
            prefix = f'{what} '
            raise argparse.ArgumentTypeError(message[len(prefix):] if message.startswith(prefix)
                                             else message) from None

    parse.__name__ = 'folder'
    return parse


def input_path(text: str) -> Path:
    """An argparse ``type=`` for an input path: refuses an empty path; the file is read later."""
    if not text:
        raise argparse.ArgumentTypeError('empty path; expected a file name')
    if '\0' in text:
        raise argparse.ArgumentTypeError('the path holds a NUL character')
    return Path(text)


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """``--config FILE`` and repeatable ``--set dotted.key=value``."""
    parser.add_argument('--config', type=input_path, default=None, metavar='FILE',
                        help='YAML configuration file (keys as in config/*.yaml)')
    parser.add_argument('--set', dest='overrides', action='append', default=[],
                        metavar='KEY=VALUE',
                        help='override one configuration value, e.g. --set ran.mini_slots=4 '
                             '(repeatable; VALUE is read as YAML)')


def add_out_option(parser: argparse.ArgumentParser, required: bool = True,
                   default: str | None = None) -> None:
    """``--out DIR``: the run's output folder (checked before any work; created when written)."""
    parser.add_argument('--out', type=output_folder(), required=required and default is None,
                        default=Path(default) if default else None, metavar='DIR',
                        help='output folder (created; files are written atomically)')


def resolve_config(model: type[FrozenModel], args: argparse.Namespace,
                   section: str | None = None) -> Any:
    """Build the command's configuration from defaults, ``--config`` and ``--set``."""
    return load_config(model, getattr(args, 'config', None), getattr(args, 'overrides', ()),
                       section=section, what='--config')


# Kept for the commands that have not given their arguments a range of their own yet.
positive_int = number(int, 1)
non_negative_int = number(int, 0)
positive_float = number(float, 0, low_open=True)
non_negative_float = number(float, 0)


def require(condition: bool, message: str) -> None:
    """Raise ConfigError(message) when the condition fails (validation at the CLI boundary)."""
    if not condition:
        raise ConfigError(message)
