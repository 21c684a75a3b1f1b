"""
The one progress bar of the ``ior`` command.

Every bar the CLI shows comes from :func:`terminal_progress`: a tqdm bar on stderr (same format
everywhere; it disappears when its phase ends), drawn only when both stdout and stderr are
terminals, so a log file or a pipe (``make demo > log 2>&1``) gets no bar lines. ``--no-progress``
turns it off everywhere. Experiments and the core receive it as a
:class:`~ior_ros.core.progress.Progress` / :data:`~ior_ros.core.progress.ProgressFn` and never
draw themselves.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ior_ros.core.progress import Progress, ProgressBar, no_progress

__all__ = ['terminal_progress', 'progress_enabled']


def progress_enabled(requested: bool = True) -> bool:
    """Whether bars are drawn: requested, and stdout and stderr are both terminals."""
    return requested and sys.stdout.isatty() and sys.stderr.isatty()


class _TqdmBar:
    def __init__(self, bar: Any) -> None:
        self._bar = bar

    def update(self, n: int) -> None:
        self._bar.update(n)

    def set_postfix(self, **values: object) -> None:
        self._bar.set_postfix(refresh=False, **values)


@contextmanager
def _tqdm_progress(desc: str, total: int | None = None, *, unit: str = 'it',
                   initial: int = 0) -> Iterator[ProgressBar]:
    from tqdm import tqdm
    scale = total is None or total >= 1000  # 12.3k/50.0k steps; 2/4 cases
    bar = tqdm(total=total, initial=initial, desc=desc, unit=f' {unit}', unit_scale=scale,
               file=sys.stderr, dynamic_ncols=True, mininterval=0.5, leave=False)
    try:
        yield _TqdmBar(bar)
    finally:
        bar.close()


def terminal_progress(requested: bool = True) -> Progress:
    """
    The CLI's :class:`~ior_ros.core.progress.Progress`: tqdm bars on stderr when
    :func:`progress_enabled`, otherwise :func:`~ior_ros.core.progress.no_progress`.
    """
    return _tqdm_progress if progress_enabled(requested) else no_progress
