"""
Registry of reproducible paper figures and tables.

Entries name the function that runs them as ``'module:function'`` so that
``ior reproduce --list`` does not import torch or cvxpy. A function takes a
:class:`~ior_ros.experiments.contract.ReproContext` and returns a
:class:`~ior_ros.experiments.contract.FigureResult`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from ior_ros.core.errors import ConfigError
from ior_ros.experiments.contract import FigureResult, ReproContext

__all__ = ['Reproduction', 'REPRODUCTIONS', 'get_reproduction']


@dataclass(frozen=True)
class Reproduction:
    """One paper figure or table."""

    id: str
    title: str
    target: str  # 'package.module:function'
    from_dir: str = ''
    """What ``--from DIR`` names for this entry (a finished run to rebuild the result from), in
    words for the help and errors; empty: ``--from`` is refused."""

    def load(self) -> Callable[[ReproContext], FigureResult]:
        """Import and return the function that runs it."""
        module_name, func_name = self.target.split(':')
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            raise ConfigError(f'reproduction {self.id!r} is not implemented yet '
                              f'({module_name} is missing)') from None
        func: Callable[[ReproContext], FigureResult] = getattr(module, func_name)
        return func


_SLICING_RUN = 'a finished `ior train slicing` run (policy.npz, policy.json, metrics.csv)'
_SCHEDULE_RUN = 'a finished `ior control schedule` run (schedule.json) for the same configuration'

_ENTRIES = [
    # seed 000 (Liang et al., IEEE Network 2024)
    Reproduction('seed000-fig2b', 'WiFi slices on Linux traffic control: configured vs measured '
                 'throughput and latency under load, in network namespaces (seed 000 Fig. 2b)',
                 'ior_ros.experiments.seed000_fig2b:run'),
    Reproduction('seed000-fig4', 'Hopper reward and falls per epoch: SAC vs twin vs twin+GAN '
                 '(seed 000 Fig. 4)', 'ior_ros.experiments.seed000_fig4:run',
                 from_dir='finished `ior train twin` runs as DIR/<variant>/seed<N>/epochs.csv'),
    Reproduction('seed000-fig6a',
                 'URLLC mean delay vs eMBB throughput requirement (seed 000 Fig. 6a)',
                 'ior_ros.experiments.seed000_fig6:run_fig6a'),
    Reproduction('seed000-fig6b', 'URLLC outage vs packets per batch, M = 8 (seed 000 Fig. 6b)',
                 'ior_ros.experiments.seed000_fig6:run_fig6b'),
    # seed 003 (Golmohammadi, Rayguru, Baidya, arXiv:2505.15977)
    Reproduction('seed003-table2',
                 'Tracking error under delay violations: nominal vs adjusted gain '
                 '(seed 003 Table II)', 'ior_ros.experiments.seed003_table2:run',
                 from_dir=_SCHEDULE_RUN),
    Reproduction('seed003-fig2', 'Training rewards of the dual-agent slicer (seed 003 Fig. 2)',
                 'ior_ros.experiments.seed003_slicing:run_fig2',
                 from_dir=_SLICING_RUN),
    Reproduction('seed003-fig3', 'Queue lengths (seed 003 Fig. 3)',
                 'ior_ros.experiments.seed003_slicing:run_fig3',
                 from_dir=_SLICING_RUN),
    Reproduction('seed003-fig4', 'Rate CDFs (seed 003 Fig. 4)',
                 'ior_ros.experiments.seed003_slicing:run_fig4',
                 from_dir=_SLICING_RUN),
    Reproduction('seed003-fig5', 'Rate and queue vs Rayleigh scale (seed 003 Fig. 5)',
                 'ior_ros.experiments.seed003_slicing:run_fig5',
                 from_dir=_SLICING_RUN),
    Reproduction('seed003-fig6', 'Rate vs sampling interval (seed 003 Fig. 6)',
                 'ior_ros.experiments.seed003_slicing:run_fig6',
                 from_dir=_SLICING_RUN),
    Reproduction('seed003-fig7', 'Rate vs dexterity index (seed 003 Fig. 7)',
                 'ior_ros.experiments.seed003_slicing:run_fig7',
                 from_dir=_SLICING_RUN),
    Reproduction('seed003-fig8', 'URLLC delay violations, DRL vs PF (seed 003 Fig. 8)',
                 'ior_ros.experiments.seed003_slicing:run_fig8',
                 from_dir=_SLICING_RUN),
    Reproduction('seed003-table3', 'Per-user rates, DRL vs PF (seed 003 Table III)',
                 'ior_ros.experiments.seed003_slicing:run_table3',
                 from_dir=_SLICING_RUN),
    # issue 12: the whole system, not in either paper
    Reproduction('closed-loop', 'Closed loop: broker policy x controller x twin (issue 12)',
                 'ior_ros.experiments.closed_loop:run'),
]

REPRODUCTIONS: dict[str, Reproduction] = {entry.id: entry for entry in _ENTRIES}


def get_reproduction(reproduction_id: str) -> Reproduction:
    """Look up an entry; ConfigError listing the known ids when it does not exist."""
    try:
        return REPRODUCTIONS[reproduction_id]
    except KeyError:
        known = ', '.join(sorted(REPRODUCTIONS))
        raise ConfigError(f'unknown reproduction id {reproduction_id!r}; known: {known}') from None
