"""
Progress reporting without drawing: what long-running code takes instead of a progress bar.

The core and the experiments never draw. A core function that runs for long takes a
:data:`ProgressFn` and calls it with the work done since its previous call (slots, steps,
schedule entries). Code that runs in several phases (a reproduction, a training run) takes a
:class:`Progress` and opens one :class:`ProgressBar` per phase, passing ``bar.update`` down as the
:data:`ProgressFn`. The command layer supplies the real :class:`Progress`
(``ior_ros.commands.progress.terminal_progress``: one kind of bar, quiet when the output is not a
terminal); :func:`no_progress` shows nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

__all__ = ['ProgressFn', 'ProgressBar', 'Progress', 'no_progress']

ProgressFn = Callable[[int], None]
"""Called with the number of work units done since its previous call (for a progress bar)."""


class ProgressBar(Protocol):
    """One phase's bar, as :class:`Progress` opens it."""

    def update(self, n: int) -> None:
        """Advance by ``n`` units (a :data:`ProgressFn`)."""

    def set_postfix(self, **values: object) -> None:
        """Show the latest values beside the bar (``reward=..., falls=...``)."""


class Progress(Protocol):
    """Opens a bar for one phase of work: ``with progress('train', total=n) as bar: ...``."""

    def __call__(self, desc: str, total: int | None = None, *, unit: str = 'it',
                 initial: int = 0) -> AbstractContextManager[ProgressBar]:
        """
        A bar named ``desc`` over ``total`` units (None: unknown), starting at ``initial``.
        """


class _NullBar:
    def update(self, n: int) -> None:
        del n

    def set_postfix(self, **values: object) -> None:
        del values


@contextmanager
def no_progress(desc: str, total: int | None = None, *, unit: str = 'it',
                initial: int = 0) -> Iterator[ProgressBar]:
    """The :class:`Progress` that shows nothing."""
    del desc, total, unit, initial
    yield _NullBar()
