"""
Results of the cell simulator: the per-slot trace, the long-run metrics of one cell and of
independent replicas, and Jain's fairness index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ['CellTrace', 'CellMetrics', 'BatchedCellMetrics', 'jain_fairness']

F64Array = npt.NDArray[np.float64]

@dataclass(frozen=True)
class CellTrace:
    """Per-slot record of one cell."""

    assignment: npt.NDArray[np.int16]
    """``[n_slots, n_prb]`` UE per PRB (``NO_UE`` = -1 where no UE had data)."""
    served_bps: F64Array
    """``[n_slots, n_ue]`` delivered rate per slot [bit/s]."""


@dataclass(frozen=True)
class CellMetrics:
    """Long-run metrics of one simulated cell."""

    n_slots: int
    engine: str
    throughput_bps: F64Array
    """``[n_ue]`` mean delivered throughput [bit/s]."""
    prb_utilization: float
    """Fraction of PRB-slots given to a UE (a PRB with ``NO_UE`` is idle)."""
    jain_fairness: float
    """Jain's index of the per-UE throughputs, (Σx)² / (n Σx²)."""
    offered_bps: F64Array | None = None
    """``[n_ue]`` mean offered load [bit/s] (Poisson traffic)."""
    mean_queue_bits: F64Array | None = None
    """``[n_ue]`` time-average backlog at the end of a slot [bit] (Poisson traffic)."""
    mean_delay_s: F64Array | None = None
    """``[n_ue]`` mean queueing delay by Little's law, mean end-of-slot backlog / mean arrival
    rate [s]: the wait beyond the slot a bit arrives in (a bit sent in its own slot counts 0)."""
    final_avg_throughput_bps: F64Array | None = None
    """``[n_ue]`` PF average throughput T_i after the last slot (PF only)."""
    trace: CellTrace | None = None

    @property
    def cell_throughput_bps(self) -> float:
        """Sum of the per-UE throughputs [bit/s]."""
        return float(np.sum(self.throughput_bps))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (no trace)."""
        out: dict[str, Any] = {
            'n_slots': self.n_slots, 'engine': self.engine,
            'throughput_bps': self.throughput_bps.tolist(),
            'cell_throughput_bps': self.cell_throughput_bps,
            'prb_utilization': self.prb_utilization, 'jain_fairness': self.jain_fairness}
        for name in ('offered_bps', 'mean_queue_bits', 'mean_delay_s'):
            value = getattr(self, name)
            if value is not None:
                out[name] = value.tolist()
        return out


@dataclass(frozen=True)
class BatchedCellMetrics:
    """Metrics of independent replicas of one cell."""

    n_slots: int
    throughput_bps: F64Array
    """``[n_replicas, n_ue]`` mean delivered throughput [bit/s]."""
    prb_utilization: F64Array
    """``[n_replicas]`` fraction of PRB-slots given to a UE."""
    jain_fairness: F64Array
    """``[n_replicas]`` Jain's index per replica."""
    mean_queue_bits: F64Array | None = None
    """``[n_replicas, n_ue]`` time-average backlog [bit] (Poisson traffic)."""

    @property
    def n_replicas(self) -> int:
        """Number of replicas."""
        return int(self.throughput_bps.shape[0])


def jain_fairness(x: npt.ArrayLike) -> F64Array:
    """
    Jain's fairness index ``(Σ x)² / (n Σ x²)`` over the last axis (Jain, Chiu, Hawe, DEC-TR-301,
    1984); 1 when every x is 0.
    """
    arr = np.asarray(x, dtype=np.float64)
    num = np.sum(arr, axis=-1) ** 2
    den = arr.shape[-1] * np.sum(arr * arr, axis=-1)
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.asarray(np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0))

