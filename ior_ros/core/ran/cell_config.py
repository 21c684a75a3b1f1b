"""
Configuration of the cell simulator (:mod:`ior_ros.core.ran.cell`): UEs and their distances, the
PRB grid, the radio link (:class:`~ior_ros.core.ran.link_budget.LinkConfig`), the scheduler, the
traffic and the numeric precision. The choices are in docs/models/ran-cell.md.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from ior_ros.core.config import FrozenModel
from ior_ros.core.ran.channel import PathLossConfig, PathLossKind
from ior_ros.core.ran.link_budget import LinkConfig, upgrade_link_keys
from ior_ros.core.ran.schedulers import SchedulerKind

__all__ = ['TrafficKind', 'Precision', 'Engine', 'CellConfig', 'SUBCARRIERS_PER_PRB',
           'LEGACY_CELL_LINK', 'CELL_LEGACY_KEYS']

F64Array = npt.NDArray[np.float64]

SUBCARRIERS_PER_PRB = 12
"""Subcarriers in one NR/LTE PRB (3GPP TS 38.211 §4.4.4.1)."""


class TrafficKind(str, Enum):
    """eMBB traffic model."""

    FULL_BUFFER = 'full_buffer'
    POISSON = 'poisson'


class Precision(str, Enum):
    """Floating-point type of the per-PRB rates and scheduler metrics (state is float64)."""

    SINGLE = 'single'
    DOUBLE = 'double'


class Engine(str, Enum):
    """How :func:`ior_ros.core.ran.cell.simulate_cell` runs the per-slot recursion (same numbers
    in every engine)."""

    AUTO = 'auto'
    NUMBA = 'numba'
    NUMPY = 'numpy'
    REFERENCE = 'reference'


LEGACY_CELL_LINK = LinkConfig(
    rb_bandwidth_hz=180e3, tx_power_dbm_per_rb=20.0, noise_dbm_per_rb=-110.0,
    path_loss=PathLossConfig(kind=PathLossKind.LOG_DISTANCE, exponent=3.0), rayleigh_scale=1.0)
"""The radio of CellConfig before the link model (seed 003 Table I with a log-distance path loss,
σ = 1): what a configuration written with the old keys means."""

CELL_LEGACY_KEYS: dict[str, str] = {
    'prb_bandwidth_hz': 'rb_bandwidth_hz', 'tx_power_dbm': 'tx_power_dbm_per_rb',
    'noise_dbm': 'noise_dbm_per_rb', 'rayleigh_scale': 'rayleigh_scale',
    'coherence_slots': 'coherence_slots', 'coherence_prbs': 'coherence_rbs',
    'path_loss': 'path_loss'}
"""Old CellConfig keys -> LinkConfig fields (deprecated; docs/models/ran.md)."""


class CellConfig(FrozenModel):
    """One cell: UEs, PRB grid, radio link, scheduler, traffic (docs/models/ran-cell.md)."""

    n_ue: int = Field(9, ge=1)
    """Number of eMBB UEs (seed 003 benchmark cell: 9)."""
    n_prb: int = Field(25, ge=1)
    """PRBs per slot (seed 003 Table I: K = 25)."""
    link: LinkConfig = Field(default_factory=LinkConfig)
    """The radio link (one RB = one PRB): transmit power and noise per PRB, PRB bandwidth, path
    loss, fading. Default: the physical model of docs/models/ran.md; ``link: seed003`` is seed
    003's Table I. Keys not given keep these defaults."""
    slot_s: float = Field(1e-3, gt=0)
    """Slot length Δt [s] (1 ms: 14 symbols at 15 kHz)."""

    @model_validator(mode='before')
    @classmethod
    def _upgrade_link(cls, data: Any) -> Any:
        return upgrade_link_keys(data, default=LinkConfig(), legacy=CELL_LEGACY_KEYS,
                                 legacy_base=LEGACY_CELL_LINK)

    cell_radius_m: float = Field(400.0, gt=0)
    """Cell radius [m] (seed 003: 400 m); used when ``ue_distances_m`` is not given."""
    ue_distances_m: tuple[float, ...] | None = None
    """Distance of each UE from the gNB [m]; None: the area medians of n_ue equal-area rings,
    ``R sqrt((k + 1/2) / n_ue)``, k = 0 … n_ue-1."""
    scheduler: SchedulerKind = SchedulerKind.PROPORTIONAL_FAIR
    """eMBB scheduler."""
    pf_beta: float = Field(0.98, gt=0, lt=1)
    """PF discount factor β; time constant 1/(1-β) slots (0.98: 50 slots, Sionna's default)."""
    pf_initial_avg_bps: float = Field(1.0, gt=0)
    """PF average throughput of every UE at slot 0 [bit/s]."""
    traffic: TrafficKind = TrafficKind.FULL_BUFFER
    """Full buffer, or Poisson packet arrivals."""
    arrival_rate_bps: float = Field(2e6, ge=0)
    """Mean offered load per UE with Poisson traffic [bit/s]."""
    packet_bits: int = Field(12_000, ge=1)
    """Packet size with Poisson traffic [bit] (1500 bytes)."""
    precision: Precision = Precision.SINGLE
    """Rates and metrics in float32 (fast inverse-CDF fading draw) or float64 (channel.py)."""

    @model_validator(mode='after')
    def _check_distances(self) -> CellConfig:
        if self.ue_distances_m is not None:
            if len(self.ue_distances_m) != self.n_ue:
                raise ValueError(f'ue_distances_m has {len(self.ue_distances_m)} entries but '
                                 f'n_ue = {self.n_ue}; give one distance per UE')
            if any(not (math.isfinite(d) and d >= 0) for d in self.ue_distances_m):
                raise ValueError(f'ue_distances_m = {self.ue_distances_m}: every distance must '
                                 f'be finite and >= 0')
        return self

    @property
    def distances_m(self) -> F64Array:
        """``[n_ue]`` UE distances [m]."""
        if self.ue_distances_m is not None:
            return np.asarray(self.ue_distances_m, dtype=np.float64)
        k = np.arange(self.n_ue, dtype=np.float64)
        return np.asarray(self.cell_radius_m * np.sqrt((k + 0.5) / self.n_ue))

    @property
    def mean_snr(self) -> F64Array:
        """``[n_ue]`` γ̄_i = P_tx 10^(-PL_i/10) / N (linear, before fading)."""
        return self.link.mean_snr(self.distances_m)

    @property
    def dtype(self) -> type[np.floating]:
        """numpy type of rates and metrics."""
        return np.float32 if self.precision is Precision.SINGLE else np.float64

    @property
    def arrival_packets_per_slot(self) -> float:
        """Poisson mean of packet arrivals per UE per slot."""
        return self.arrival_rate_bps * self.slot_s / self.packet_bits
