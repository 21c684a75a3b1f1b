"""
Figures: matplotlib on the Agg backend (no display needed), one way to make a figure and to turn
it into PNG bytes.

Every figure of ``ior`` (the reproductions, ``ior control schedule``) is drawn as::

    fig, ax = new_figure(figsize=(6.0, 4.2))
    ...  # plot
    return figure_png(fig)  # tight layout, PNG at 110 dpi, figure closed

and the bytes are written atomically: by :func:`ior_ros.experiments.contract.write_result` for a
reproduction, with :func:`ior_ros.core.artifacts.atomic_write_bytes` elsewhere.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ['DPI', 'new_figure', 'figure_png']

DPI = 110
"""Resolution of every PNG [dots per inch]."""


def _pyplot() -> Any:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def new_figure(nrows: int = 1, ncols: int = 1, **subplots: Any) -> tuple[Figure, Any]:
    """``plt.subplots(nrows, ncols, **subplots)`` on the Agg backend: ``(figure, axes)``."""
    fig, axes = _pyplot().subplots(nrows, ncols, **subplots)
    return fig, axes


def figure_png(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes, after ``tight_layout``; the figure is closed."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png', dpi=dpi)
    _pyplot().close(fig)
    return buffer.getvalue()
