"""
Slot-level simulator of one cell (and of many independent replicas of it, vectorized).

Model (one slot ``t``, one UE ``i``, one PRB ``j``):

* channel: Rayleigh block fading ``g_ij(t) = |h_ij(t)|²``, exponential with mean ``2σ²``
  (:mod:`ior_ros.core.ran.channel`), constant over ``coherence_slots`` slots and
  ``coherence_prbs`` adjacent PRBs, independent across blocks and UEs; distance path loss
  ``PL_i`` from :class:`~ior_ros.core.ran.channel.PathLossConfig`;
* rate: Shannon per PRB (seed 003 eq. 1), ``r_ij = B log2(1 + γ̄_i g_ij)`` with
  ``γ̄_i = P_tx 10^(-PL_i/10) / N`` (:func:`~ior_ros.core.ran.rates.snr_linear`);
* traffic: full buffer, or Poisson packet arrivals per UE added at the start of each slot;
* scheduling: one of :mod:`ior_ros.core.ran.schedulers` per slot; each PRB to one UE; a UE
  delivers ``min(queue, Σ_j ρ_ij r_ij Δt)`` bits; the PF averages use the delivered rate.

Defaults are the seed-003 cell (1 cell, 9 UEs, 25 PRBs, Rayleigh, PF; Table I: 20 dBm per PRB,
noise -110 dBm); the choices the seed leaves open are in docs/models/ran-cell.md.

Engines of :func:`simulate_cell` (all compute the same numbers, bit for bit, for the same seed;
the tests check it):

* ``numba``: the per-slot recursion compiled with numba (optional dependency);
* ``numpy``: a lean per-slot numpy loop (proportional fair with full buffer), else ``reference``;
* ``reference``: per slot through the public scheduler objects;
* ``auto``: ``numba`` when numba is importable, else ``numpy``.

In every engine the channel and traffic are drawn in vectorized chunks of slots first, so the
random stream and therefore the results do not depend on the engine.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from ior_ros.core.config import FrozenModel
from ior_ros.core.errors import DimensionError, ModelError
from ior_ros.core.progress import ProgressFn
from ior_ros.core.ran.channel import (
    PathLossConfig,
    PathLossKind,
    path_loss_db,
    rayleigh_power_gain,
)
from ior_ros.core.ran.rates import shannon_rate_bps, snr_linear
from ior_ros.core.ran.schedulers import (
    AVG_FLOOR_BPS,
    NO_UE,
    SchedulerKind,
    _served_unchecked,
    check_rates,
    make_scheduler,
)

__all__ = ['TrafficKind', 'Precision', 'Engine', 'CellConfig', 'CellTrace', 'CellMetrics',
           'BatchedCellMetrics', 'simulate_cell', 'simulate_cells_batched', 'run_slots',
           'run_slots_batched', 'fast_rayleigh_power_gain', 'fast_rayleigh_rates_bps',
           'numba_available', 'jain_fairness', 'complete_path_loss', 'SUBCARRIERS_PER_PRB']

FloatArray = npt.NDArray[np.floating]
F64Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SUBCARRIERS_PER_PRB = 12
"""Subcarriers in one NR/LTE PRB (3GPP TS 38.211 §4.4.4.1)."""

_CHUNK_SLOTS = 2048
"""Slots drawn per vectorized chunk in :func:`simulate_cell` (fixed: part of the random stream)."""

_REPLICA_BLOCK = 256
"""Replicas advanced together in :func:`simulate_cells_batched` (fixed: part of the stream)."""

_KIND_CODE = {SchedulerKind.PROPORTIONAL_FAIR: 0, SchedulerKind.ROUND_ROBIN: 1,
              SchedulerKind.MAX_WEIGHT: 2}


class TrafficKind(str, Enum):
    """eMBB traffic model."""

    FULL_BUFFER = 'full_buffer'
    POISSON = 'poisson'


class Precision(str, Enum):
    """Floating-point type of the per-PRB rates and scheduler metrics (state is float64)."""

    SINGLE = 'single'
    DOUBLE = 'double'


class Engine(str, Enum):
    """How :func:`simulate_cell` runs the per-slot recursion (same numbers in every engine)."""

    AUTO = 'auto'
    NUMBA = 'numba'
    NUMPY = 'numpy'
    REFERENCE = 'reference'


def _default_path_loss() -> PathLossConfig:
    return PathLossConfig(kind=PathLossKind.LOG_DISTANCE, exponent=3.0)


def complete_path_loss(data: Any, default: PathLossConfig, key: str = 'path_loss') -> Any:
    """
    Fill the keys missing from a partial ``path_loss`` mapping in raw config ``data`` from the
    owner's ``default`` (a "before" validator step): a partial override such as
    ``path_loss.exponent=3.5`` then changes only the exponent instead of falling back to
    PathLossConfig's own defaults (kind ``none``: no path loss at all).
    """
    if isinstance(data, dict) and isinstance(data.get(key), dict):
        return {**data, key: {**default.model_dump(), **data[key]}}
    return data


class CellConfig(FrozenModel):
    """One cell: UEs, PRB grid, radio, scheduler, traffic. Defaults: the seed-003 cell."""

    n_ue: int = Field(9, ge=1)
    """Number of eMBB UEs (seed 003 benchmark cell: 9)."""
    n_prb: int = Field(25, ge=1)
    """PRBs per slot (seed 003 Table I: K = 25)."""
    prb_bandwidth_hz: float = Field(180e3, gt=0)
    """Bandwidth B of one PRB [Hz]: 12 subcarriers × 15 kHz (seed 003 says 12 subcarriers; its
    '10 MHz' in Table I does not divide into 25 such PRBs, see docs/models/ran-cell.md)."""
    slot_s: float = Field(1e-3, gt=0)
    """Slot length Δt [s] (1 ms: 14 symbols at 15 kHz)."""
    tx_power_dbm: float = 20.0
    """Transmit power per PRB p_ij [dBm] (seed 003 Table I)."""
    noise_dbm: float = -110.0
    """Noise power per PRB σ² [dBm] (seed 003 Table I)."""
    rayleigh_scale: float = Field(1.0, gt=0)
    """Rayleigh amplitude scale σ; mean power gain 2σ² (seed 003 Fig. 4 uses 1.0)."""
    coherence_slots: int = Field(1, ge=1)
    """Slots over which a fading gain stays constant (1: independent every slot)."""
    coherence_prbs: int = Field(1, ge=1)
    """Adjacent PRBs sharing one fading gain (1: independent per PRB)."""
    path_loss: PathLossConfig = Field(default_factory=_default_path_loss)
    """Distance path loss (default: log-distance, exponent 3, free space at 1 m, 3.5 GHz). Keys
    not given (e.g. only ``--set path_loss.exponent=3.5``) keep this default, not
    PathLossConfig's own (which has no path loss)."""

    @model_validator(mode='before')
    @classmethod
    def _complete_path_loss(cls, data: Any) -> Any:
        return complete_path_loss(data, _default_path_loss())

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
        pl = path_loss_db(self.distances_m, self.path_loss)  # [n_ue]
        return np.asarray(snr_linear(self.tx_power_dbm, 1.0, self.noise_dbm, pl), dtype=float)

    @property
    def dtype(self) -> type[np.floating]:
        """numpy type of rates and metrics."""
        return np.float32 if self.precision is Precision.SINGLE else np.float64

    @property
    def arrival_packets_per_slot(self) -> float:
        """Poisson mean of packet arrivals per UE per slot."""
        return self.arrival_rate_bps * self.slot_s / self.packet_bits


# --------------------------------------------------------------------------------------------
# results


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


# --------------------------------------------------------------------------------------------
# fast fading draw (single precision)


_TWO_POW_32 = 32.0


def _neg_log2_uniform_into(bit_generator: np.random.BitGenerator,
                           out: npt.NDArray[np.float32]) -> None:
    """
    Fill ``out`` with ``e = -log2(u)``, u uniform on (0, 1), in float32.

    u comes from 32 raw bits of the bit generator: the raw word is made odd, so
    ``u = (2k + 1) / 2^32`` (the midpoints of 2^31 equal cells; never 0) and
    ``-log2(u) = 32 - log2(word)``. Raw 64-bit outputs are split into two 32-bit words in
    little-endian order.
    """
    n = out.size
    words = bit_generator.random_raw((n + 1) // 2).view(np.uint32)[:n]  # [n]
    np.bitwise_or(words, np.uint32(1), out=words)
    flat = out.reshape(-1)
    np.log2(words, out=flat, dtype=np.float32, casting='unsafe')
    np.subtract(np.float32(_TWO_POW_32), flat, out=flat)


class _FastRateSampler:
    """
    Shannon rates of fresh Rayleigh gains, float32, into a reused buffer (see
    :func:`fast_rayleigh_rates_bps`). ``draw()`` returns the same buffer every call.
    """

    def __init__(self, rng: np.random.Generator, mean_snr: F64Array, shape: tuple[int, ...],
                 ue_axis: int, scale: float, bandwidth_hz: float) -> None:
        factor_shape = [1] * len(shape)
        factor_shape[ue_axis] = shape[ue_axis]
        # γ̄_i g = γ̄_i 2σ² ln 2 · e
        self._factor = (mean_snr * (2.0 * scale * scale * math.log(2.0))).astype(
            np.float32).reshape(factor_shape)
        self._bandwidth = np.float32(bandwidth_hz)
        self._bit_generator = rng.bit_generator
        self._buffer = np.empty(shape, dtype=np.float32)

    def draw(self) -> npt.NDArray[np.float32]:
        e = self._buffer
        _neg_log2_uniform_into(self._bit_generator, e)
        np.multiply(e, self._factor, out=e)
        np.add(e, np.float32(1.0), out=e)
        np.log2(e, out=e)
        np.multiply(e, self._bandwidth, out=e)
        return e


def fast_rayleigh_power_gain(rng: np.random.Generator, shape: tuple[int, ...],
                             scale: float = 1.0 / math.sqrt(2.0)) -> npt.NDArray[np.float32]:
    """
    Rayleigh power gains ``|h|²`` (exponential, mean 2σ²) by inversion, float32:
    ``g = -2σ² ln u = 2σ² ln 2 · (-log2 u)``.

    Same distribution as :func:`ior_ros.core.ran.channel.rayleigh_power_gain` up to float32
    resolution (gains are quantized on a grid of about 4e-6 · 2σ² near 0, and u has 2^31
    levels, so the largest gain is 22.2 · 2σ², exceeded with probability 2e-10 by the
    exact law); about 3× cheaper per draw.
    """
    if not (math.isfinite(scale) and scale > 0):
        raise ModelError(f'rayleigh scale = {scale!r}: must be a finite number > 0')
    e = np.empty(shape, dtype=np.float32)
    _neg_log2_uniform_into(rng.bit_generator, e)
    e *= np.float32(2.0 * scale * scale * math.log(2.0))
    return e


def fast_rayleigh_rates_bps(rng: np.random.Generator, mean_snr: npt.ArrayLike,
                            shape: tuple[int, ...], ue_axis: int, scale: float,
                            bandwidth_hz: float) -> npt.NDArray[np.float32]:
    """
    Shannon rates ``B log2(1 + γ̄_i g)`` of fresh Rayleigh gains g (as
    :func:`fast_rayleigh_power_gain`, same random stream), float32, ``[*shape]`` with the UE
    along ``ue_axis``. The gain and the mean SNR are folded into one factor:
    ``γ̄_i g = (γ̄_i 2σ² ln 2) · (-log2 u)``.
    """
    snr = np.asarray(mean_snr, dtype=np.float64)
    if snr.ndim != 1 or snr.shape[0] != shape[ue_axis]:
        raise DimensionError(f'mean_snr has shape {snr.shape} but shape[{ue_axis}] = '
                             f'{shape[ue_axis]}; expected [n_ue]')
    if not (math.isfinite(scale) and scale > 0):
        raise ModelError(f'rayleigh scale = {scale!r}: must be a finite number > 0')
    if not bandwidth_hz > 0:
        raise ModelError(f'bandwidth_hz = {bandwidth_hz!r}: must be > 0')
    return _FastRateSampler(rng, snr, shape, ue_axis, scale, bandwidth_hz).draw()


def _rates_blocks(config: CellConfig, rng: np.random.Generator, shape: tuple[int, ...],
                  ue_axis: int, mean_snr: F64Array) -> FloatArray:
    """Rates of independent fading blocks, ``[*shape]`` with the UE along ``ue_axis``."""
    if config.precision is Precision.SINGLE:
        return _FastRateSampler(rng, mean_snr, shape, ue_axis, config.rayleigh_scale,
                                config.prb_bandwidth_hz).draw()
    gains = rayleigh_power_gain(rng, shape, config.rayleigh_scale)  # [*shape]
    snr_shape = [1] * len(shape)
    snr_shape[ue_axis] = shape[ue_axis]
    return np.asarray(shannon_rate_bps(config.prb_bandwidth_hz,
                                       gains * mean_snr.reshape(snr_shape)), dtype=np.float64)


def _cell_chunks(config: CellConfig, n_slots: int,
                 rng: np.random.Generator) -> Iterator[tuple[FloatArray, F64Array | None]]:
    """
    Yield ``(rates [L, n_ue, n_prb], arrivals_bits [L, n_ue] or None)`` chunks covering n_slots.

    Chunks hold a whole number of coherence blocks, so block fading continues across chunks.
    """
    mean_snr = config.mean_snr
    cs, cf = config.coherence_slots, config.coherence_prbs
    chunk = cs * max(1, -(-_CHUNK_SLOTS // cs))
    f_blocks = -(-config.n_prb // cf)
    lam = config.arrival_packets_per_slot
    done = 0
    while done < n_slots:
        length = min(chunk, n_slots - done)
        t_blocks = -(-length // cs)
        # independent blocks first (the log is taken once per block), then repeated
        rates = _rates_blocks(config, rng, (t_blocks, config.n_ue, f_blocks), 1,
                              mean_snr)  # [t_blocks, n_ue, f_blocks]
        if cs > 1 or cf > 1:
            rates = np.repeat(np.repeat(rates, cs, axis=0), cf, axis=2)
            rates = np.ascontiguousarray(rates[:length, :, :config.n_prb])  # [L, n_ue, n_prb]
        arrivals: F64Array | None = None
        if config.traffic is TrafficKind.POISSON:
            arrivals = np.asarray(rng.poisson(lam, size=(length, config.n_ue))
                                  * float(config.packet_bits), dtype=np.float64)  # [L, n_ue]
        yield rates, arrivals
        done += length


# --------------------------------------------------------------------------------------------
# the per-slot recursion: the compiled kernel (numba) and its numpy mirrors


def _slot_loop(rates: Any, arrivals: Any, full_buffer: bool, kind: int, beta: float,
               slot_s: float, avg: Any, queue: Any, pointer: Any, assign_out: Any,
               served_out: Any) -> None:  # pragma: no cover - compiled by numba
    """
    The per-slot recursion in plain loops, compiled by numba. Mirrors the numpy engines
    operation for operation (same metric precision, same tie-breaking, same accumulation order)
    so that every engine gives the same bits.

    Args (arrays are updated in place):
        rates: ``[L, n_ue, n_prb]`` float32/float64.
        arrivals: ``[L, n_ue]`` float64 bits (ignored with full buffer).
        kind: 0 proportional fair, 1 round robin, 2 max-weight.
        avg: ``[n_ue]`` PF averages; queue: ``[n_ue]`` backlog [bit]; pointer: ``[1]`` RR pointer.
        assign_out: ``[L, n_prb]``; served_out: ``[L, n_ue]``.
    """
    n_slots, n_ue, n_prb = rates.shape
    c = 1.0 - beta
    floor = AVG_FLOOR_BPS
    inv = np.empty(n_ue, dtype=rates.dtype)
    acc = np.empty(n_ue, dtype=rates.dtype)
    remaining = np.empty(n_ue, dtype=np.float64)
    for t in range(n_slots):
        if not full_buffer:
            for i in range(n_ue):
                queue[i] += arrivals[t, i]
                remaining[i] = queue[i]
        for i in range(n_ue):
            acc[i] = 0.0
        if kind == 1:
            cursor = pointer[0]
            last = -1
            for j in range(n_prb):
                bi = -1
                for k in range(n_ue):
                    i = (cursor + k) % n_ue
                    if full_buffer or remaining[i] > 0.0:
                        bi = i
                        break
                assign_out[t, j] = bi
                if bi >= 0:
                    acc[bi] += rates[t, bi, j]
                    if not full_buffer:
                        remaining[bi] -= np.float64(rates[t, bi, j]) * slot_s
                    cursor = (bi + 1) % n_ue
                    last = bi
            if last >= 0:
                pointer[0] = (last + 1) % n_ue
        else:
            for i in range(n_ue):
                if kind == 0:
                    inv[i] = 1.0 / max(avg[i], floor)
                elif full_buffer:
                    inv[i] = 1.0
                else:
                    inv[i] = queue[i]
            for j in range(n_prb):
                best = -1.0
                bi = -1
                for i in range(n_ue):
                    if full_buffer or remaining[i] > 0.0:
                        metric = rates[t, i, j] * inv[i]
                        if metric > best:
                            best = metric
                            bi = i
                assign_out[t, j] = bi
                if bi >= 0:
                    acc[bi] += rates[t, bi, j]
                    if not full_buffer:
                        remaining[bi] -= np.float64(rates[t, bi, j]) * slot_s
        for i in range(n_ue):
            served = np.float64(acc[i])
            if not full_buffer:
                delivered = min(queue[i], served * slot_s)
                queue[i] = queue[i] - delivered
                served = delivered / slot_s
            served_out[t, i] = served
            if kind == 0:
                avg[i] = beta * avg[i] + c * served


@functools.lru_cache(maxsize=1)
def _numba_kernel() -> Callable[..., None] | None:
    """The numba-compiled :func:`_slot_loop`, or None when numba is not installed."""
    try:
        import numba
    except ImportError:
        return None
    try:
        kernel: Callable[..., None] = numba.njit(cache=True, nogil=True)(_slot_loop)
    except Exception:  # pragma: no cover - e.g. no writable cache location
        kernel = numba.njit(cache=False, nogil=True)(_slot_loop)
    return kernel


def numba_available() -> bool:
    """True when the numba engine can be used."""
    return _numba_kernel() is not None


def _lean_pf_full_buffer(rates: FloatArray, beta: float, avg: F64Array,
                         assign_out: npt.NDArray[np.int64], served_out: F64Array) -> F64Array:
    """PF with full buffer, per slot in numpy with no checks (the ``numpy`` engine)."""
    n_ue, n_prb = rates.shape[1], rates.shape[2]
    ar = np.arange(n_prb)
    dtype = rates.dtype
    c = 1.0 - beta
    for r, a_out, s_out in zip(rates, assign_out, served_out, strict=True):
        inv = (1.0 / np.maximum(avg, AVG_FLOOR_BPS)).astype(dtype)  # [n_ue]
        a = np.argmax(r * inv[:, None], axis=0)  # [n_prb]
        acc = np.zeros(n_ue, dtype=dtype)  # [n_ue]
        np.add.at(acc, a, r[a, ar])
        served = acc.astype(np.float64)
        avg = beta * avg + c * served
        a_out[:] = a
        s_out[:] = served
    return avg


@dataclass
class _LoopState:
    avg: F64Array
    queue: F64Array
    pointer: npt.NDArray[np.int64]


def _run_chunk(engine: Engine, kind: SchedulerKind, full_buffer: bool, beta: float,
               slot_s: float, rates: FloatArray, arrivals: F64Array | None, state: _LoopState,
               initial_avg_bps: float) -> tuple[npt.NDArray[np.int64], F64Array]:
    n_slots, n_ue, n_prb = rates.shape
    assign = np.empty((n_slots, n_prb), dtype=np.int64)
    served = np.empty((n_slots, n_ue), dtype=np.float64)
    arr = arrivals if arrivals is not None else np.zeros((0, n_ue))
    if engine is Engine.NUMBA:
        kernel = _numba_kernel()
        assert kernel is not None
        kernel(rates, arr, full_buffer, _KIND_CODE[kind], beta, slot_s, state.avg,
               state.queue, state.pointer, assign, served)
        return assign, served
    if engine is Engine.NUMPY and kind is SchedulerKind.PROPORTIONAL_FAIR and full_buffer:
        state.avg = _lean_pf_full_buffer(rates, beta, state.avg, assign, served)
        return assign, served
    # reference: through the public scheduler objects, with the state carried in and out
    sched = make_scheduler(kind, n_ue, None, beta=beta, initial_avg_bps=initial_avg_bps,
                           slot_s=slot_s)
    if kind is SchedulerKind.PROPORTIONAL_FAIR:
        sched.avg_throughput_bps = state.avg  # type: ignore[attr-defined]
    elif kind is SchedulerKind.ROUND_ROBIN:
        sched.pointer = np.asarray(state.pointer[0], dtype=np.int64)  # type: ignore[attr-defined]
    for t in range(n_slots):
        queue = None
        if not full_buffer:
            assert arrivals is not None
            state.queue = state.queue + arrivals[t]
            queue = state.queue
        a = sched.assign(rates[t], queue)
        s = _served_unchecked(a, rates[t]).astype(np.float64)  # [n_ue]
        if queue is not None:
            delivered = np.minimum(queue, s * slot_s)
            state.queue = queue - delivered
            s = delivered / slot_s
        sched.update(a, s)
        assign[t] = a
        served[t] = s
    if kind is SchedulerKind.PROPORTIONAL_FAIR:
        state.avg = sched.avg_throughput_bps  # type: ignore[attr-defined]
    elif kind is SchedulerKind.ROUND_ROBIN:
        state.pointer[0] = int(sched.pointer)  # type: ignore[attr-defined]
    return assign, served


def _resolve_engine(engine: Engine | str) -> Engine:
    try:
        eng = Engine(engine)
    except ValueError:
        allowed = ', '.join(e.value for e in Engine)
        raise ModelError(f'engine = {engine!r}: must be one of {allowed}') from None
    if eng is Engine.AUTO:
        return Engine.NUMBA if numba_available() else Engine.NUMPY
    if eng is Engine.NUMBA and not numba_available():
        raise ModelError("engine = 'numba' but numba is not installed (pip install numba), "
                         "use 'numpy' or 'auto'")
    return eng


def run_slots(rates_bps: npt.ArrayLike, scheduler: SchedulerKind | str = 'proportional_fair',
              *, beta: float = 0.98, initial_avg_bps: float = 1.0,
              arrivals_bits: npt.ArrayLike | None = None, initial_queue_bits: npt.ArrayLike |
              None = None, slot_s: float = 1e-3,
              engine: Engine | str = Engine.AUTO) -> tuple[IntArray, F64Array]:
    """
    Run the scheduler recursion of one cell over pre-drawn rates.

    Args:
        rates_bps: ``[n_slots, n_ue, n_prb]`` achievable rates [bit/s] (float32 or float64;
            the metric is computed in that precision).
        scheduler: the scheduler kind.
        beta, initial_avg_bps: PF parameters.
        arrivals_bits: ``[n_slots, n_ue]`` bits arriving at the start of each slot; None for
            full buffer.
        initial_queue_bits: ``[n_ue]`` backlog before slot 0 (default 0).
        slot_s: slot length [s].
        engine: see the module docstring.

    Returns:
        (assignment ``[n_slots, n_prb]``, served_bps ``[n_slots, n_ue]``).
    """
    rates = _check_slot_rates(rates_bps)
    n_slots, n_ue, _ = rates.shape
    kind = SchedulerKind(scheduler)
    eng = _resolve_engine(engine)
    arrivals = None
    if arrivals_bits is not None:
        arrivals = np.ascontiguousarray(arrivals_bits, dtype=np.float64)
        if arrivals.shape != (n_slots, n_ue):
            raise DimensionError(f'arrivals_bits has shape {arrivals.shape} but rates_bps has '
                                 f'shape {rates.shape}; expected {(n_slots, n_ue)}')
    queue0 = np.zeros(n_ue) if initial_queue_bits is None else np.array(
        initial_queue_bits, dtype=np.float64)
    if queue0.shape != (n_ue,):
        raise DimensionError(f'initial_queue_bits has shape {queue0.shape}; expected ({n_ue},)')
    state = _LoopState(np.full(n_ue, float(initial_avg_bps)), queue0,
                       np.zeros(1, dtype=np.int64))
    return _run_chunk(eng, kind, arrivals is None, beta, slot_s, rates, arrivals, state,
                      initial_avg_bps)


def _check_slot_rates(rates_bps: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(rates_bps)
    if arr.ndim != 3 or 0 in arr.shape:
        raise DimensionError(f'rates_bps has shape {arr.shape}; expected [n_slots, n_ue, n_prb] '
                             f'with every axis >= 1')
    check_rates(arr)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return np.ascontiguousarray(arr)


# --------------------------------------------------------------------------------------------
# single cell


def simulate_cell(config: CellConfig, n_slots: int, rng: np.random.Generator, *,
                  trace: bool = False, engine: Engine | str = Engine.AUTO,
                  progress: ProgressFn | None = None) -> CellMetrics:
    """
    Simulate one cell for ``n_slots`` slots.

    Args:
        config: the cell.
        n_slots: number of slots (>= 1).
        rng: the only source of randomness (fading, then arrivals, chunk by chunk).
        trace: keep the per-slot assignment and delivered rates.
        engine: see the module docstring; every engine gives the same numbers.
        progress: called with the number of slots simulated since its last call.

    Returns:
        :class:`CellMetrics`.
    """
    if n_slots < 1:
        raise ModelError(f'n_slots = {n_slots}: must be >= 1')
    eng = _resolve_engine(engine)
    kind = config.scheduler
    full_buffer = config.traffic is TrafficKind.FULL_BUFFER
    n_ue, n_prb = config.n_ue, config.n_prb
    state = _LoopState(np.full(n_ue, config.pf_initial_avg_bps), np.zeros(n_ue),
                       np.zeros(1, dtype=np.int64))
    total_served = np.zeros(n_ue)
    total_arrived = np.zeros(n_ue)
    queue_area = np.zeros(n_ue)
    busy_prbs = 0
    traces_a: list[npt.NDArray[np.int16]] = []
    traces_s: list[F64Array] = []
    for rates, arrivals in _cell_chunks(config, n_slots, rng):
        if not full_buffer:
            queue_before = state.queue.copy()
        assign, served = _run_chunk(eng, kind, full_buffer, config.pf_beta, config.slot_s,
                                    rates, arrivals, state, config.pf_initial_avg_bps)
        total_served += served.sum(axis=0)
        busy_prbs += int(np.count_nonzero(assign != NO_UE))
        if arrivals is not None:
            total_arrived += arrivals.sum(axis=0)
            # backlog at the end of each slot: q0 + cumulative arrivals - cumulative delivered
            q_end = (queue_before[None, :] + np.cumsum(arrivals, axis=0)
                     - np.cumsum(served * config.slot_s, axis=0))  # [L, n_ue]
            queue_area += np.maximum(q_end, 0.0).sum(axis=0)
        if trace:
            traces_a.append(assign.astype(np.int16))
            traces_s.append(served)
        if progress is not None:
            progress(rates.shape[0])
    throughput = total_served / n_slots
    offered = mean_q = delay = None
    if not full_buffer:
        horizon_s = n_slots * config.slot_s
        offered = total_arrived / horizon_s
        mean_q = queue_area / n_slots
        with np.errstate(divide='ignore', invalid='ignore'):
            delay = np.where(offered > 0, mean_q / np.where(offered > 0, offered, 1.0), 0.0)
    cell_trace = None
    if trace:
        cell_trace = CellTrace(np.concatenate(traces_a), np.concatenate(traces_s))
    return CellMetrics(
        n_slots=n_slots, engine=_engine_label(eng, kind, full_buffer),
        throughput_bps=throughput,
        prb_utilization=busy_prbs / (n_slots * n_prb),
        jain_fairness=float(jain_fairness(throughput)), offered_bps=offered,
        mean_queue_bits=mean_q, mean_delay_s=delay,
        final_avg_throughput_bps=(state.avg.copy() if kind is SchedulerKind.PROPORTIONAL_FAIR
                                  else None),
        trace=cell_trace)


def _engine_label(engine: Engine, kind: SchedulerKind, full_buffer: bool) -> str:
    lean = kind is SchedulerKind.PROPORTIONAL_FAIR and full_buffer
    return Engine.REFERENCE.value if engine is Engine.NUMPY and not lean else engine.value


# --------------------------------------------------------------------------------------------
# batched replicas


def _pf_full_buffer_step(rates: FloatArray, inv: FloatArray, metric: FloatArray,
                         winner: npt.NDArray[np.bool_]) -> FloatArray:
    """
    One PF slot for a block of replicas, vectorized, rates laid out ``[n_ue, n_prb, B]``.

    The winner of each PRB is found as ``metric == max over UEs`` (a fast reduction over the
    leading axis); exact ties, rare in float32, keep only the lowest UE index (numpy's argmax
    rule). The delivered rate sums the winner's rates over PRBs in index order in the rates'
    precision, exactly as :func:`ior_ros.core.ran.schedulers.served_rates_bps`.

    Returns:
        ``[n_ue, B]`` served rates (rates' dtype).
    """
    np.multiply(rates, inv, out=metric)  # [n_ue, n_prb, B]
    best = metric.max(axis=0)  # [n_prb, B]
    np.equal(metric, best, out=winner)  # [n_ue, n_prb, B]
    if np.count_nonzero(winner) != best.size:
        winner &= np.cumsum(winner, axis=0) == 1
    np.multiply(rates, winner, out=metric)
    return np.asarray(metric.sum(axis=1))  # [n_ue, B]


def _pf_block_loop(rates: Any, avg: Any, beta: float, served: Any, inv: Any, best: Any,
                   arg: Any, acc: Any) -> None:  # pragma: no cover - compiled by numba
    """
    One PF slot (full buffer) for a block of replicas in plain loops, compiled by numba: the
    fused form of :func:`_pf_full_buffer_step` plus the EWMA, with the same operations in the
    same order (metric in the rates' precision, strict ``>`` over UEs in index order = lowest
    index on ties, float sums over PRBs in index order), so the bits are the same.

    Args (updated in place): rates ``[n_ue, n_prb, B]``; avg ``[n_ue, B]`` float64; served
    ``[n_ue, B]`` float64 (out); scratch inv, acc ``[n_ue, B]`` and best ``[B]`` in the rates'
    dtype, arg ``[B]`` int64.
    """
    n_ue, n_prb, batch = rates.shape
    c = 1.0 - beta
    floor = AVG_FLOOR_BPS
    for i in range(n_ue):
        for b in range(batch):
            inv[i, b] = 1.0 / max(avg[i, b], floor)
            acc[i, b] = 0.0
    for j in range(n_prb):
        for b in range(batch):
            best[b] = -1.0
            arg[b] = 0
        for i in range(n_ue):
            for b in range(batch):
                metric = rates[i, j, b] * inv[i, b]
                if metric > best[b]:
                    best[b] = metric
                    arg[b] = i
        for b in range(batch):
            a = arg[b]
            acc[a, b] += rates[a, j, b]
    for i in range(n_ue):
        for b in range(batch):
            s = np.float64(acc[i, b])
            served[i, b] = s
            avg[i, b] = avg[i, b] * beta + s * c


@functools.lru_cache(maxsize=1)
def _numba_block_kernel() -> Callable[..., None] | None:
    """The numba-compiled :func:`_pf_block_loop`, or None when numba is not installed."""
    try:
        import numba
    except ImportError:
        return None
    try:
        kernel: Callable[..., None] = numba.njit(cache=True, nogil=True)(_pf_block_loop)
    except Exception:  # pragma: no cover - e.g. no writable cache location
        kernel = numba.njit(cache=False, nogil=True)(_pf_block_loop)
    return kernel


class _PfBlock:
    """
    The PF state of a block of replicas and its per-slot update, in place (rates laid out
    ``[n_ue, n_prb, B]``). The operations are those of ``schedulers._pf_assign_unchecked`` and
    ``schedulers._ewma_unchecked``, so the results equal the per-cell engines bit for bit. With
    numba installed the step runs as one compiled pass (:func:`_pf_block_loop`), else as
    vectorized numpy calls (``use_numba=False`` forces the latter).
    """

    def __init__(self, n_ue: int, n_prb: int, batch: int, dtype: type[np.floating], beta: float,
                 initial_avg_bps: float, use_numba: bool = True) -> None:
        self.beta = beta
        self.c = 1.0 - beta
        self.avg = np.full((n_ue, batch), float(initial_avg_bps))  # [n_ue, B]
        self.served = np.empty((n_ue, batch))  # [n_ue, B] delivered rate of the last slot
        self._work = np.empty((n_ue, batch))
        self._inv = np.empty((n_ue, 1, batch), dtype=dtype)
        self._kernel = _numba_block_kernel() if use_numba else None
        if self._kernel is not None:
            self._inv2 = np.empty((n_ue, batch), dtype=dtype)  # [n_ue, B]
            self._acc = np.empty((n_ue, batch), dtype=dtype)  # [n_ue, B]
            self._best = np.empty(batch, dtype=dtype)  # [B]
            self._arg = np.empty(batch, dtype=np.int64)  # [B]
        else:
            self._metric = np.empty((n_ue, n_prb, batch), dtype=dtype)
            self._winner = np.empty((n_ue, n_prb, batch), dtype=bool)

    def step(self, rates: FloatArray) -> F64Array:
        """One slot; returns ``[n_ue, B]`` delivered rates (a buffer reused next slot)."""
        if self._kernel is not None:
            self._kernel(rates, self.avg, self.beta, self.served, self._inv2, self._best,
                         self._arg, self._acc)
            return self.served
        np.maximum(self.avg, AVG_FLOOR_BPS, out=self._work)
        np.divide(1.0, self._work, out=self._work)
        self._inv[:, 0, :] = self._work  # cast to the rates' precision
        np.copyto(self.served,
                  _pf_full_buffer_step(rates, self._inv, self._metric, self._winner))
        # avg = beta * avg + (1 - beta) * served, evaluated as in _ewma_unchecked
        np.multiply(self.avg, self.beta, out=self.avg)
        np.multiply(self.served, self.c, out=self._work)
        np.add(self.avg, self._work, out=self.avg)
        return self.served


def run_slots_batched(rates_bps: npt.ArrayLike, *, beta: float = 0.98,
                      initial_avg_bps: float = 1.0, use_numba: bool = True) -> F64Array:
    """
    The vectorized PF recursion of :func:`simulate_cells_batched` (full buffer) over pre-drawn
    rates of independent cells.

    Args:
        rates_bps: ``[n_slots, batch, n_ue, n_prb]`` [bit/s].

        use_numba: the compiled block step when numba is installed (False: numpy calls; both
            give the same bits).

    Returns:
        ``[n_slots, batch, n_ue]`` delivered rates [bit/s] (float64); equal, bit for bit, to
        running :func:`run_slots` on each cell.
    """
    arr = np.asarray(rates_bps)
    if arr.ndim != 4:
        raise DimensionError(f'rates_bps has shape {arr.shape}; expected '
                             f'[n_slots, batch, n_ue, n_prb]')
    rates = _check_slot_rates(arr.reshape(-1, arr.shape[2], arr.shape[3])).reshape(arr.shape)
    n_slots, batch, n_ue, n_prb = (int(rates.shape[k]) for k in range(4))
    block = _PfBlock(n_ue, n_prb, batch, rates.dtype.type, beta, initial_avg_bps, use_numba)
    out = np.empty((n_slots, batch, n_ue))
    for t in range(n_slots):
        r = np.ascontiguousarray(np.transpose(rates[t], (1, 2, 0)))  # [n_ue, n_prb, B]
        out[t] = block.step(r).T
    return out


def simulate_cells_batched(config: CellConfig, n_replicas: int, n_slots: int,
                           rng: np.random.Generator, *, progress: ProgressFn | None = None
                           ) -> BatchedCellMetrics:
    """
    Simulate ``n_replicas`` independent replicas of the cell, vectorized across replicas.

    Same model as :func:`simulate_cell` (same distributions, same scheduler recursion, same
    precision); the random draws are ordered differently, so replica k is not the same sample
    path as a :func:`simulate_cell` run. Replicas advance in blocks of 256, slot by slot, with
    rates laid out ``[n_ue, n_prb, replicas]`` so every numpy call works on a long contiguous
    axis. Proportional fair with full buffer uses a dedicated vectorized step; other schedulers
    and Poisson traffic go through the batched scheduler objects.

    Args:
        config: the cell.
        n_replicas, n_slots: replicas and slots per replica (>= 1 each).
        rng: the only source of randomness.
        progress: called with the number of cell-slots (replicas x slots) simulated since its
            last call.

    Returns:
        :class:`BatchedCellMetrics`.
    """
    if n_replicas < 1:
        raise ModelError(f'n_replicas = {n_replicas}: must be >= 1')
    if n_slots < 1:
        raise ModelError(f'n_slots = {n_slots}: must be >= 1')
    n_ue = config.n_ue
    throughput = np.empty((n_replicas, n_ue))
    util = np.empty(n_replicas)
    mean_q = np.empty((n_replicas, n_ue)) if config.traffic is TrafficKind.POISSON else None
    for start in range(0, n_replicas, _REPLICA_BLOCK):
        block = min(_REPLICA_BLOCK, n_replicas - start)
        tput, u, q = _simulate_block(config, block, n_slots, rng, progress)
        throughput[start:start + block] = tput
        util[start:start + block] = u
        if mean_q is not None and q is not None:
            mean_q[start:start + block] = q
    return BatchedCellMetrics(n_slots=n_slots, throughput_bps=throughput, prb_utilization=util,
                              jain_fairness=jain_fairness(throughput), mean_queue_bits=mean_q)


def _simulate_block(config: CellConfig, batch: int, n_slots: int, rng: np.random.Generator,
                    progress: ProgressFn | None
                    ) -> tuple[F64Array, F64Array, F64Array | None]:
    n_ue, n_prb = config.n_ue, config.n_prb
    cs, cf = config.coherence_slots, config.coherence_prbs
    f_blocks = -(-n_prb // cf)
    mean_snr = config.mean_snr
    dtype = config.dtype
    kind = config.scheduler
    full_buffer = config.traffic is TrafficKind.FULL_BUFFER
    fast = kind is SchedulerKind.PROPORTIONAL_FAIR and full_buffer
    beta = config.pf_beta
    lam = config.arrival_packets_per_slot
    total = np.zeros((n_ue, batch))  # [n_ue, B]
    busy = np.zeros(batch)
    queue_area = np.zeros((batch, n_ue))
    pf_block = (_PfBlock(n_ue, n_prb, batch, dtype, beta, config.pf_initial_avg_bps)
                if fast else None)
    queue = np.zeros((batch, n_ue))  # [B, n_ue]
    sched = None if fast else make_scheduler(kind, n_ue, batch, beta=beta,
                                             initial_avg_bps=config.pf_initial_avg_bps,
                                             slot_s=config.slot_s)
    rates: FloatArray = np.empty(0, dtype=dtype)
    sampler = (_FastRateSampler(rng, mean_snr, (n_ue, f_blocks, batch), 0, config.rayleigh_scale,
                                config.prb_bandwidth_hz)
               if config.precision is Precision.SINGLE else None)
    for t in range(n_slots):
        if t % cs == 0:
            blocks = (sampler.draw() if sampler is not None else
                      _rates_blocks(config, rng, (n_ue, f_blocks, batch), 0, mean_snr))
            rates = (blocks if cf == 1 else
                     np.ascontiguousarray(np.repeat(blocks, cf, axis=1)[:, :n_prb, :]))
        if pf_block is not None:
            total += pf_block.step(rates)
        else:
            assert sched is not None
            r_view = np.moveaxis(rates, 2, 0)  # [B, n_ue, n_prb]
            q_in = None
            if not full_buffer:
                queue = queue + rng.poisson(lam, size=(batch, n_ue)) * float(config.packet_bits)
                q_in = queue
            a = sched.assign(r_view, q_in)  # [B, n_prb]
            s = _served_unchecked(a, np.ascontiguousarray(r_view)).astype(np.float64)
            if q_in is not None:
                delivered = np.minimum(q_in, s * config.slot_s)
                queue = q_in - delivered
                s = delivered / config.slot_s
                queue_area += queue
            sched.update(a, s)
            total += s.T
            busy += np.count_nonzero(a != NO_UE, axis=1)
        if progress is not None and (t + 1) % 256 == 0:
            progress(256 * batch)
    if progress is not None and n_slots % 256:
        progress((n_slots % 256) * batch)
    if fast:
        busy[:] = n_slots * n_prb  # full buffer: every PRB is assigned
    tput = (total / n_slots).T  # [B, n_ue]
    util = busy / (n_slots * n_prb)
    return tput, util, (queue_area / n_slots if not full_buffer else None)
