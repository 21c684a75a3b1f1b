"""
The reproduction contract every paper figure and table follows.

``ior reproduce ID --out DIR [--quick] [--seed N]`` runs the model behind a paper figure and writes

* ``DIR/ID.json``: ``{"id", "title", "x": {"name", "values"}, "y": {"name"},
  "series": {name: values}, "paper": {"claims": [...]}, "config": {...},
  "seed", "quick", "wall_s", ...}``;
* ``DIR/ID.csv``: one row per x value, one column per series (nested series are flattened as
  ``series.metric``);
* ``DIR/ID.png``: the figure;

and prints a table with the paper's quoted numbers beside ours. Every file is written atomically.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ior_ros.core.artifacts import (
    atomic_write_bytes,
    atomic_write_csv,
    atomic_write_json,
    atomic_write_yaml,
    ensure_out_dir,
    to_jsonable,
)
from ior_ros.core.progress import Progress, no_progress

__all__ = ['Claim', 'FigureResult', 'ReproContext', 'write_result', 'format_claims_table',
           'machine_info']


@dataclass(frozen=True)
class Claim:
    """
    One number or statement the paper makes, beside what our model gives.

    Attributes:
        text: what is claimed, in words (``'URLLC delay at 11 Mb/s, proposed vs EUAD'``).
        paper: the paper's value as quoted (number or short text).
        ours: our value from this run.
        holds: whether the claim's qualitative statement holds in our run (None: not judged).
    """

    text: str
    paper: Any
    ours: Any
    holds: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {'text': self.text, 'paper': self.paper, 'ours': to_jsonable(self.ours),
                'holds': self.holds}


@dataclass
class FigureResult:
    """
    The outcome of one reproduction, in the contract's shape.

    ``series`` maps a series name to a list of y values (one per x value) or, for figures with
    several panels, to a mapping ``metric -> list``.
    """

    id: str
    title: str
    x_name: str
    x_values: list[Any]
    y_name: str
    series: dict[str, Any]
    claims: list[Claim]
    config: dict[str, Any]
    seed: int
    quick: bool
    wall_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    plot: Callable[[FigureResult], bytes] | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The JSON document of the contract."""
        doc: dict[str, Any] = {
            'id': self.id,
            'title': self.title,
            'x': {'name': self.x_name, 'values': to_jsonable(self.x_values)},
            'y': {'name': self.y_name},
            'series': to_jsonable(self.series),
            'paper': {'claims': [claim.as_dict() for claim in self.claims]},
            'config': to_jsonable(self.config),
            'seed': self.seed,
            'quick': self.quick,
            'wall_s': round(self.wall_s, 3),
            'machine': machine_info(),
        }
        doc.update(to_jsonable(self.extra))
        return doc


@dataclass(frozen=True)
class ReproContext:
    """
    What a reproduction function receives: the user's options, and ``progress``, which opens a
    progress bar per phase (the command's; the default shows nothing).

    The sweep settings apply to reproductions made of independent runs (they run them through
    :class:`~ior_ros.experiments.sweep.Sweep`): ``workers`` local worker processes (1: inline),
    or the Ray cluster at ``ray_address``; ``seeds`` replaces the reproduction's own seed list;
    ``force`` reruns runs already finished in ``out_dir``.
    """

    out_dir: Path
    quick: bool
    seed: int
    config_path: Path | None = None
    overrides: tuple[str, ...] = ()
    progress: Progress = no_progress
    options: Mapping[str, Any] = field(default_factory=dict)
    workers: int = 1
    ray_address: str | None = None
    seeds: tuple[int, ...] | None = None
    force: bool = False


def machine_info() -> dict[str, Any]:
    """A short description of the machine a result was measured on."""
    import os
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as handle:
            for line in handle:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return {'cpu': cpu, 'cores': os.cpu_count(), 'python': sys.version.split()[0],
            'platform': platform.platform()}


def _flatten_series(series: Mapping[str, Any]) -> dict[str, Sequence[Any]]:
    flat: dict[str, Sequence[Any]] = {}
    for name, values in series.items():
        if isinstance(values, Mapping):
            for metric, inner in values.items():
                flat[f'{name}.{metric}'] = inner
        else:
            flat[name] = values
    return flat


def write_result(result: FigureResult, out_dir: Path,
                 plot: Callable[[FigureResult], bytes] | None = None) -> list[Path]:
    """
    Write ``ID.json``, ``ID.csv``, ``ID.png`` and the resolved ``ID.config.yaml`` into
    ``out_dir``.

    Args:
        plot: renders the figure to PNG bytes; the default draws every series against x.
    """
    ensure_out_dir(out_dir)
    doc = result.as_dict()
    paths = [atomic_write_json(out_dir / f'{result.id}.json', doc)]
    flat = _flatten_series(result.series)
    header = [result.x_name, *flat.keys()]
    rows = []
    for index, x_value in enumerate(result.x_values):
        rows.append([x_value, *[values[index] if index < len(values) else None
                                for values in flat.values()]])
    paths.append(atomic_write_csv(out_dir / f'{result.id}.csv', header, rows))
    paths.append(atomic_write_bytes(out_dir / f'{result.id}.png',
                                    (plot or default_plot)(result)))
    paths.append(atomic_write_yaml(out_dir / f'{result.id}.config.yaml', result.config))
    return paths


def default_plot(result: FigureResult) -> bytes:
    """One panel per nested metric (or a single panel), every series against x; PNG bytes."""
    import textwrap

    from ior_ros.experiments.plotting import figure_png, new_figure

    nested = any(isinstance(v, Mapping) for v in result.series.values())
    metrics: list[str | None]
    if nested:
        metrics = []
        for values in result.series.values():
            for metric in (values if isinstance(values, Mapping) else [None]):
                if metric not in metrics:
                    metrics.append(metric)
    else:
        metrics = [None]
    fig, axes = new_figure(1, len(metrics), figsize=(5.5 * len(metrics), 4.0), squeeze=False)
    xs = list(result.x_values)
    # identifiers (seeds, rows) are categories: evenly spaced, labelled as they are
    categorical = bool(xs) and (not all(isinstance(x, int | float) for x in xs)
                               or (all(float(x).is_integer() for x in xs)
                                   and max(abs(float(x)) for x in xs) >= 1e4))
    positions = list(range(len(xs))) if categorical else xs
    for ax, metric in zip(axes[0], metrics):
        for name, values in result.series.items():
            if isinstance(values, Mapping):
                if metric not in values:
                    continue
                ys = values[metric]
            elif metric is None:
                ys = values
            else:
                continue
            ax.plot(positions[:len(ys)], ys, marker='o', label=name)
        if categorical:
            ax.set_xticks(positions, [str(x) for x in xs], rotation=30 if len(xs) > 6 else 0)
        else:
            ax.ticklabel_format(axis='x', useOffset=False, style='plain')
        ax.set_xlabel(result.x_name)
        ax.set_ylabel(metric if metric is not None else result.y_name)
        ax.grid(True, alpha=0.3)
        ax.legend()
    title = f'{result.id}: {result.title}' + (' (quick)' if result.quick else '')
    fig.suptitle('\n'.join(textwrap.wrap(title, width=int(60 * len(metrics)))), fontsize=10)
    return figure_png(fig)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f'{value:.4g}'
    if isinstance(value, bool) or value is None:
        return {True: 'yes', False: 'NO', None: '-'}[value]
    return str(value)


def format_claims_table(result: FigureResult) -> str:
    """The printed table: series values at each x, then paper claims beside ours."""
    lines = [f'{result.id}: {result.title}' + ('  [quick]' if result.quick else ''), '']
    flat = _flatten_series(result.series)
    header = [result.x_name, *flat.keys()]
    table = [header]
    for index, x_value in enumerate(result.x_values):
        table.append([_cell(x_value), *[_cell(v[index]) if index < len(v) else ''
                                        for v in flat.values()]])
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row_index, row in enumerate(table):
        lines.append('  '.join(cell.rjust(width) for cell, width in zip(row, widths)))
        if row_index == 0:
            lines.append('  '.join('-' * width for width in widths))
    lines.append('')
    claim_rows = [['claim', 'paper', 'ours', 'holds']] + [
        [c.text, _cell(c.paper), _cell(c.ours), _cell(c.holds)] for c in result.claims]
    cw = [max(len(row[i]) for row in claim_rows) for i in range(4)]
    for row_index, row in enumerate(claim_rows):
        lines.append('  '.join(cell.ljust(width) for cell, width in zip(row, cw)))
        if row_index == 0:
            lines.append('  '.join('-' * width for width in cw))
    lines.append('')
    lines.append(f'wall time {result.wall_s:.1f} s, seed {result.seed}')
    return '\n'.join(lines)


class Stopwatch:
    """Wall-clock timer for the ``wall_s`` field (experiments only; the core never reads time)."""

    def __init__(self) -> None:
        self._start = time.perf_counter()

    @property
    def elapsed_s(self) -> float:
        """Seconds since construction."""
        return time.perf_counter() - self._start
