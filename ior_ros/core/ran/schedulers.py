"""
eMBB per-slot schedulers behind one interface: proportional fair, round robin and max-weight.

Every scheduler maps the per-PRB achievable rates of one slot to an assignment: for each PRB the
index of the UE that gets it (each PRB goes to exactly one UE), or :data:`NO_UE` (``-1``) when no
UE needs it (with queues, a UE competes for PRBs, taken in index order, only until the PRBs it got
carry its backlog; with full buffer every PRB is assigned). The same call works on one cell
(``rates`` ``[n_ue, n_prb]`` → ``[n_prb]``) and on a batch of independent cells
(``[batch, n_ue, n_prb]`` → ``[batch, n_prb]``).

Scheduler state (the proportional-fair average throughputs, the round-robin pointer) lives in the
scheduler object, is readable (:attr:`ProportionalFair.avg_throughput_bps`,
:attr:`RoundRobin.pointer`) and is put back to its initial value by ``reset()``. A slot is
``assign`` (a pure decision from the current state) followed by ``update`` (the state change, given
what was actually delivered); ``step`` does both.

Tie-breaking everywhere: the lowest UE index wins (numpy's ``argmax`` convention). Metrics are
computed in the floating-point type of ``rates`` (float32 or float64); the state is float64.

References:
    * Proportional fair: Jalali, Padovani, Pankaj, "Data throughput of CDMA-HDR a high
      efficiency-high data rate personal communication wireless system", IEEE VTC 2000-Spring;
      Kelly, Maulloo, Tan, J. Oper. Res. Soc. 49(3):237-252, 1998 (proportional fairness as
      max Σ log T_i). Per-resource metric and geometric averaging as in Sionna SYS
      ``PFSchedulerSUMIMO`` (β = 0.98).
    * Max-weight: Tassiulas, Ephremides, IEEE Trans. Autom. Control 37(12):1936-1948, 1992.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from enum import Enum
from typing import Any, ClassVar, NamedTuple

import numpy as np
import numpy.typing as npt

from ior_ros.core.errors import DimensionError, ModelError
from ior_ros.core.ran.rates import user_rates_bps

__all__ = ['NO_UE', 'AVG_FLOOR_BPS', 'SchedulerKind', 'SlotDecision', 'EmbbScheduler',
           'ProportionalFair', 'RoundRobin', 'MaxWeight', 'make_scheduler',
           'proportional_fair_assign', 'max_weight_assign', 'round_robin_assign',
           'served_rates_bps', 'assignment_indicator', 'assignment_user_rates_bps',
           'ewma_update', 'check_rates']

FloatArray = npt.NDArray[np.floating]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

NO_UE = -1
"""Assignment value of a PRB that no UE gets (no UE has data in that slot)."""

AVG_FLOOR_BPS = 1e-20
"""Inside the PF metric, averages below this [bit/s] count as this value (a UE starved for very
long keeps a finite, maximal priority instead of an overflow to inf/NaN)."""


class SchedulerKind(str, Enum):
    """The eMBB schedulers."""

    PROPORTIONAL_FAIR = 'proportional_fair'
    ROUND_ROBIN = 'round_robin'
    MAX_WEIGHT = 'max_weight'


class SlotDecision(NamedTuple):
    """What one scheduled slot produced."""

    assignment: IntArray
    """``[n_prb]`` or ``[batch, n_prb]``: UE index per PRB, or ``NO_UE``."""
    served_bps: npt.NDArray[np.float64]
    """``[n_ue]`` or ``[batch, n_ue]``: delivered rate in the slot [bit/s]."""


# --------------------------------------------------------------------------------------------
# input checks


def check_rates(rates_bps: npt.ArrayLike, name: str = 'rates_bps') -> FloatArray:
    """
    Validate per-PRB rates: a float array ``[n_ue, n_prb]`` or ``[batch, n_ue, n_prb]``, finite and
    non-negative. Integer input is converted to float64; float32 stays float32.

    Raises:
        DimensionError: wrong number of dimensions or an empty axis.
        ModelError: a negative or non-finite rate.
    """
    arr = np.asarray(rates_bps)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if arr.ndim not in (2, 3) or 0 in arr.shape:
        raise DimensionError(f'{name} has shape {arr.shape}; expected [n_ue, n_prb] or '
                             f'[batch, n_ue, n_prb] with every axis >= 1')
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ModelError(f'{name}: every rate must be finite and >= 0 (min {np.min(arr)!r})')
    return arr


def _check_per_ue(values: npt.ArrayLike | None, rates: FloatArray,
                  name: str) -> npt.NDArray[np.float64] | None:
    if values is None:
        return None
    arr = np.asarray(values, dtype=np.float64)
    expected = rates.shape[:-1]
    if arr.shape != expected:
        raise DimensionError(f'{name} has shape {arr.shape} but rates_bps has shape '
                             f'{rates.shape}; {name} must have shape {expected} '
                             f'([n_ue] or [batch, n_ue])')
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ModelError(f'{name}: every value must be finite and >= 0 (min {np.min(arr)!r})')
    return arr


def _check_assignment(assignment: npt.ArrayLike, n_ue: int, name: str = 'assignment') -> IntArray:
    arr = np.asarray(assignment)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ModelError(f'{name} has dtype {arr.dtype}; expected an integer array of UE indices')
    if arr.ndim not in (1, 2):
        raise DimensionError(f'{name} has shape {arr.shape}; expected [n_prb] or [batch, n_prb]')
    if np.any((arr < NO_UE) | (arr >= n_ue)):
        raise ModelError(f'{name}: UE indices must be in [-1, {n_ue - 1}] (n_ue = {n_ue})')
    return arr.astype(np.int64, copy=False)


# --------------------------------------------------------------------------------------------
# pure decision functions


def _as_batch(arr: npt.NDArray[Any], per_prb: bool) -> npt.NDArray[Any]:
    """View a single-cell array as a batch of one (``[n_ue, n_prb]`` → ``[1, n_ue, n_prb]``)."""
    single_ndim = 2 if per_prb else 1
    return arr[None, ...] if arr.ndim == single_ndim else arr


def _check_slot_s(slot_s: float) -> None:
    if not (math.isfinite(slot_s) and slot_s > 0):
        raise ModelError(f'slot_s = {slot_s!r}: must be finite and > 0')


_NEED_MARGIN = 1.001
"""A UE whose backlog exceeds this factor times the bits of all PRBs cannot run out of data
within the slot (the margin covers rounding), so its eligibility is constant."""


def _rows_needing_scan(rates: FloatArray, queue: npt.NDArray[np.float64],
                       slot_s: float) -> npt.NDArray[np.bool_]:
    """``[B]``: cells where some UE with data could have its backlog covered within the slot."""
    capacity = rates.sum(axis=-1, dtype=np.float64) * slot_s  # [B, n_ue]
    return np.asarray(np.any((queue > 0.0) & (queue <= _NEED_MARGIN * capacity), axis=-1))


def _scan_with_need(metric: FloatArray, rates: FloatArray, queue: npt.NDArray[np.float64],
                    slot_s: float) -> IntArray:
    """
    Per-PRB argmax of ``metric`` over the UEs that still need bits, PRBs taken in index order.

    A UE is eligible for PRB j while its remaining need ``q_i - Σ_{j' < j, a_j' = i} r_ij' Δt``
    is > 0; a PRB that no UE needs gets ``NO_UE``. Shapes: ``[B, n_ue, n_prb]`` metric and rates,
    ``[B, n_ue]`` queue; returns ``[B, n_prb]``. Cells in which no UE can run out of data within
    the slot take the one-shot masked argmax, which gives the same result.
    """
    batch, _, n_prb = metric.shape
    neg = metric.dtype.type(-1.0)
    # metrics are >= 0, so -1 marks an ineligible UE and loses to every eligible one
    masked = np.where((queue > 0.0)[:, :, None], metric, neg)  # [B, n_ue, n_prb]
    out = np.asarray(np.argmax(masked, axis=1), dtype=np.int64)  # [B, n_prb]
    out[~np.any(queue > 0.0, axis=1), :] = NO_UE
    scan = np.flatnonzero(_rows_needing_scan(rates, queue, slot_s))
    if scan.size == 0:
        return out
    metric_s, rates_s = metric[scan], rates[scan]  # [S, n_ue, n_prb]
    remaining = queue[scan].copy()  # [S, n_ue]
    rows = np.arange(scan.size)
    for j in range(n_prb):
        m = np.where(remaining > 0.0, metric_s[:, :, j], neg)  # [S, n_ue]
        a = np.argmax(m, axis=1)  # [S]
        ok = m[rows, a] >= 0
        out[scan, j] = np.where(ok, a, NO_UE)
        b_ok, ue_ok = rows[ok], a[ok]
        remaining[b_ok, ue_ok] -= rates_s[b_ok, ue_ok, j].astype(np.float64) * slot_s
    return out


def proportional_fair_assign(rates_bps: npt.ArrayLike, avg_throughput_bps: npt.ArrayLike,
                             queue_bits: npt.ArrayLike | None = None,
                             slot_s: float = 1e-3) -> IntArray:
    """
    Proportional-fair assignment of every PRB (Jalali et al. 2000):
    ``a_j = argmax_i r_ij / T_i``.

    With queues, only UEs that still need bits compete: PRBs are taken in index order and a UE
    drops out once the PRBs it already got carry its whole backlog (``Σ r_ij Δt >= q_i``); PRBs
    nobody needs are left idle (``NO_UE``). Without queues (full buffer) every UE competes for
    every PRB.

    Args:
        rates_bps: ``[n_ue, n_prb]`` or ``[batch, n_ue, n_prb]`` achievable rate r_ij [bit/s].
        avg_throughput_bps: ``[n_ue]`` or ``[batch, n_ue]`` average throughput T_i [bit/s].
        queue_bits: optional ``[n_ue]``/``[batch, n_ue]`` backlog q_i [bit].
        slot_s: slot length Δt [s].

    Returns:
        ``[n_prb]`` or ``[batch, n_prb]`` UE index per PRB (``NO_UE`` where no UE needs it).
    """
    rates = check_rates(rates_bps)
    avg = _check_per_ue(avg_throughput_bps, rates, 'avg_throughput_bps')
    assert avg is not None
    queue = _check_per_ue(queue_bits, rates, 'queue_bits')
    _check_slot_s(slot_s)
    return _pf_assign_unchecked(rates, avg, queue, slot_s)


def _pf_assign_unchecked(rates: FloatArray, avg: npt.NDArray[np.float64],
                         queue: npt.NDArray[np.float64] | None, slot_s: float) -> IntArray:
    # inverse average in the rates' precision, so every engine computes the identical metric
    inv = (1.0 / np.maximum(avg, AVG_FLOOR_BPS)).astype(rates.dtype)  # [..., n_ue]
    metric = rates * inv[..., :, None]  # [..., n_ue, n_prb]
    if queue is None:
        return np.asarray(np.argmax(metric, axis=-2), dtype=np.int64)
    out = _scan_with_need(_as_batch(metric, True), _as_batch(rates, True),
                          _as_batch(queue, False), slot_s)
    return out if rates.ndim == 3 else out[0]


def max_weight_assign(rates_bps: npt.ArrayLike, queue_bits: npt.ArrayLike | None = None,
                      slot_s: float = 1e-3) -> IntArray:
    """
    Max-weight assignment (Tassiulas & Ephremides 1992), per PRB: ``a_j = argmax_i q_i r_ij``
    with the backlogs q_i of the start of the slot, among the UEs that still need bits (PRBs in
    index order, as in :func:`proportional_fair_assign`).

    With ``queue_bits=None`` (full buffer) every queue counts as equal, which reduces to
    max-rate scheduling (``argmax_i r_ij``).

    Returns:
        ``[n_prb]`` or ``[batch, n_prb]`` UE index per PRB (``NO_UE`` where no UE needs it).
    """
    rates = check_rates(rates_bps)
    queue = _check_per_ue(queue_bits, rates, 'queue_bits')
    _check_slot_s(slot_s)
    return _mw_assign_unchecked(rates, queue, slot_s)


def _mw_assign_unchecked(rates: FloatArray, queue: npt.NDArray[np.float64] | None,
                         slot_s: float) -> IntArray:
    if queue is None:
        return np.asarray(np.argmax(rates, axis=-2), dtype=np.int64)
    weight = queue.astype(rates.dtype)  # [..., n_ue]
    metric = rates * weight[..., :, None]  # [..., n_ue, n_prb]
    out = _scan_with_need(_as_batch(metric, True), _as_batch(rates, True),
                          _as_batch(queue, False), slot_s)
    return out if rates.ndim == 3 else out[0]


def round_robin_assign(rates_bps: npt.ArrayLike, pointer: npt.ArrayLike,
                       queue_bits: npt.ArrayLike | None = None,
                       slot_s: float = 1e-3) -> tuple[IntArray, IntArray]:
    """
    Round robin over PRBs, blind to the channel: PRB 0, 1, 2, … go in turn to the UEs taken
    cyclically from ``pointer`` (full buffer: PRB j → UE ``(pointer + j) mod n_ue``). With
    queues, a UE is skipped once the PRBs it got carry its backlog, and PRBs nobody needs stay
    idle (``NO_UE``). The next slot starts after the last UE served; over time every UE with
    data gets an equal share of PRBs.

    Args:
        rates_bps: ``[n_ue, n_prb]`` or ``[batch, n_ue, n_prb]`` (used for the need only).
        pointer: ``[]`` or ``[batch]`` int, the UE that comes first.
        queue_bits: optional ``[n_ue]``/``[batch, n_ue]`` backlog [bit]; None: full buffer.
        slot_s: slot length [s].

    Returns:
        (assignment ``[n_prb]``/``[batch, n_prb]``, new pointer ``[]``/``[batch]``). A cell that
        serves nobody keeps its pointer.
    """
    rates = check_rates(rates_bps)
    queue = _check_per_ue(queue_bits, rates, 'queue_bits')
    _check_slot_s(slot_s)
    ptr = np.asarray(pointer, dtype=np.int64)
    n_ue = rates.shape[-2]
    if ptr.shape != rates.shape[:-2]:
        raise DimensionError(f'pointer has shape {ptr.shape} but rates_bps has shape '
                             f'{rates.shape}; expected {rates.shape[:-2]}')
    if np.any((ptr < 0) | (ptr >= n_ue)):
        raise ModelError(f'pointer = {pointer!r}: must be in [0, {n_ue - 1}]')
    return _rr_assign_unchecked(rates, ptr, queue, slot_s)


def _rr_assign_unchecked(rates: FloatArray, ptr: IntArray,
                         queue: npt.NDArray[np.float64] | None,
                         slot_s: float) -> tuple[IntArray, IntArray]:
    n_ue, n_prb = rates.shape[-2], rates.shape[-1]
    r3 = _as_batch(rates, True)  # [B, n_ue, n_prb]
    p1 = np.atleast_1d(ptr)  # [B]
    if queue is None:
        out = (p1[:, None] + np.arange(n_prb)[None, :]) % n_ue  # [B, n_prb]
        new_ptr = (p1 + n_prb) % n_ue
    else:
        q2 = _as_batch(queue, False)  # [B, n_ue]
        out, new_ptr = _rr_constant_eligibility(p1, q2 > 0.0, n_prb)
        scan = np.flatnonzero(_rows_needing_scan(r3, q2, slot_s))
        if scan.size:
            out[scan], new_ptr[scan] = _rr_scan(r3[scan], p1[scan], q2[scan], slot_s)
    if rates.ndim == 3:
        return out.astype(np.int64), new_ptr.astype(np.int64)
    return out[0].astype(np.int64), np.asarray(new_ptr[0], dtype=np.int64)


def _rr_constant_eligibility(ptr: IntArray, eligible: npt.NDArray[np.bool_],
                             n_prb: int) -> tuple[IntArray, IntArray]:
    """RR when no UE runs out within the slot: PRB j → the (j mod m)-th eligible UE from ptr."""
    batch, n_ue = eligible.shape
    ue = np.arange(n_ue)
    # cyclic order from the pointer; ineligible UEs sorted after every eligible one
    key = np.where(eligible, (ue[None, :] - ptr[:, None]) % n_ue, n_ue + ue[None, :])
    order = np.argsort(key, axis=1, kind='stable')  # [B, n_ue]
    m = eligible.sum(axis=1)  # [B]
    slot = np.arange(n_prb)[None, :] % np.maximum(m, 1)[:, None]  # [B, n_prb]
    out = np.take_along_axis(order, slot, axis=1).astype(np.int64)  # [B, n_prb]
    new_ptr = np.where(m > 0, (out[:, -1] + 1) % n_ue, ptr).astype(np.int64)
    out[m == 0, :] = NO_UE
    return out, new_ptr


def _rr_scan(rates: FloatArray, ptr: IntArray, queue: npt.NDArray[np.float64],
             slot_s: float) -> tuple[IntArray, IntArray]:
    """RR PRB by PRB, skipping UEs whose backlog is covered (``[S, n_ue, n_prb]`` rates)."""
    batch, n_ue, n_prb = rates.shape
    remaining = queue.copy()  # [S, n_ue]
    rows = np.arange(batch)
    ue = np.arange(n_ue)
    cursor = ptr.copy()
    last = np.full(batch, NO_UE, dtype=np.int64)
    out = np.empty((batch, n_prb), dtype=np.int64)
    for j in range(n_prb):
        # cyclic distance from the cursor; UEs with nothing left sort after all others
        key = np.where(remaining > 0.0, (ue[None, :] - cursor[:, None]) % n_ue, n_ue)
        k = np.argmin(key, axis=1)  # [S]
        ok = key[rows, k] < n_ue
        out[:, j] = np.where(ok, k, NO_UE)
        b_ok, ue_ok = rows[ok], k[ok]
        remaining[b_ok, ue_ok] -= rates[b_ok, ue_ok, j].astype(np.float64) * slot_s
        cursor = np.where(ok, (k + 1) % n_ue, cursor)
        last = np.where(ok, k, last)
    return out, np.where(last >= 0, (last + 1) % n_ue, ptr).astype(np.int64)


# --------------------------------------------------------------------------------------------
# assignment → ρ and per-UE rates


def served_rates_bps(assignment: npt.ArrayLike, rates_bps: npt.ArrayLike) -> FloatArray:
    """
    Per-UE rate of an assignment, summed over its PRBs: ``R_i = Σ_j ρ_ij r_ij``.

    The sum runs over PRBs in index order in the precision of ``rates_bps`` (the simulators use
    the identical accumulation, so every engine gives the same bits).

    Args:
        assignment: ``[n_prb]`` or ``[batch, n_prb]`` (``NO_UE`` allowed).
        rates_bps: ``[n_ue, n_prb]`` or ``[batch, n_ue, n_prb]``.

    Returns:
        ``[n_ue]`` or ``[batch, n_ue]`` in the dtype of ``rates_bps``.
    """
    rates = check_rates(rates_bps)
    a = _check_assignment(assignment, rates.shape[-2])
    if a.shape != rates.shape[:-2] + rates.shape[-1:]:
        raise DimensionError(f'assignment has shape {a.shape} but rates_bps has shape '
                             f'{rates.shape}; expected {rates.shape[:-2] + rates.shape[-1:]}')
    return _served_unchecked(a, rates)


def _served_unchecked(a: IntArray, rates: FloatArray) -> FloatArray:
    n_ue, n_prb = rates.shape[-2], rates.shape[-1]
    a2 = a.reshape(-1, n_prb)  # [batch, n_prb]
    r3 = rates.reshape(-1, n_ue, n_prb)  # [batch, n_ue, n_prb]
    batch = a2.shape[0]
    out = np.zeros(batch * n_ue, dtype=rates.dtype)  # [batch * n_ue]
    valid = a2 >= 0  # [batch, n_prb]
    b_idx, j_idx = np.nonzero(valid)  # row-major: PRBs in order within each cell
    ue = a2[b_idx, j_idx]
    np.add.at(out, b_idx * n_ue + ue, r3[b_idx, ue, j_idx])
    return out.reshape(rates.shape[:-1])


def assignment_indicator(assignment: npt.ArrayLike, n_ue: int) -> BoolArray:
    """
    The indicator ρ_ij of seed 003 eq. 1 from an assignment.

    Returns:
        ``[n_ue, n_prb]`` or ``[batch, n_ue, n_prb]`` bool; a PRB with ``NO_UE`` is all False.
    """
    if n_ue < 1:
        raise ModelError(f'n_ue = {n_ue}: must be >= 1')
    a = _check_assignment(assignment, n_ue)
    ue = np.arange(n_ue)
    # [..., n_ue, n_prb]
    return np.asarray(a[..., None, :] == ue[:, None], dtype=bool)


def assignment_user_rates_bps(assignment: npt.ArrayLike, snr: npt.ArrayLike,
                              prb_bandwidth_hz: float) -> FloatArray:
    """
    Per-UE Shannon rates of an assignment through :func:`ior_ros.core.ran.rates.user_rates_bps`
    (seed 003 eq. 1): ``r_i = B Σ_j ρ_ij log2(1 + γ_ij)``.

    Args:
        assignment: ``[n_prb]`` or ``[batch, n_prb]``.
        snr: ``[n_ue, n_prb]`` or ``[batch, n_ue, n_prb]`` linear SNR γ_ij.
        prb_bandwidth_hz: B [Hz].

    Returns:
        ``[n_ue]`` or ``[batch, n_ue]`` [bit/s].
    """
    snr_arr = np.asarray(snr, dtype=np.float64)
    if snr_arr.ndim not in (2, 3):
        raise DimensionError(f'snr has shape {snr_arr.shape}; expected [n_ue, n_prb] or '
                             f'[batch, n_ue, n_prb]')
    rho = assignment_indicator(assignment, snr_arr.shape[-2])
    return np.asarray(user_rates_bps(rho, snr_arr, prb_bandwidth_hz), dtype=np.float64)


def ewma_update(avg_bps: npt.ArrayLike, served_bps: npt.ArrayLike,
                beta: float) -> npt.NDArray[np.float64]:
    """
    Geometric averaging of the throughput (Sionna SYS, Jalali et al.):
    ``T_t = β T_{t-1} + (1 - β) R_t``, with time constant ``1 / (1 - β)`` slots.
    """
    _check_beta(beta)
    avg = np.asarray(avg_bps, dtype=np.float64)
    served = np.asarray(served_bps, dtype=np.float64)
    if avg.shape != served.shape:
        raise DimensionError(f'avg_bps has shape {avg.shape} but served_bps has shape '
                             f'{served.shape}; they must be equal')
    return _ewma_unchecked(avg, served, beta)


def _ewma_unchecked(avg: npt.NDArray[np.float64], served: npt.NDArray[np.float64],
                    beta: float) -> npt.NDArray[np.float64]:
    # this exact expression (operation order included) is mirrored by every simulator engine
    return beta * avg + (1.0 - beta) * served


def _check_beta(beta: float) -> None:
    if not (math.isfinite(beta) and 0.0 < beta < 1.0):
        raise ModelError(f'beta = {beta!r}: must be in (0, 1) (time constant 1/(1-beta) slots)')


# --------------------------------------------------------------------------------------------
# the interface and its three schedulers


class EmbbScheduler(ABC):
    """
    One eMBB scheduler: per slot, ``assign`` then ``update`` (or ``step``).

    Args:
        n_ue: number of UEs.
        batch_size: None for one cell (rates ``[n_ue, n_prb]``); B for B independent cells
            scheduled together (rates ``[B, n_ue, n_prb]``), each with its own state.
        slot_s: slot length Δt [s]; turns rates into bits when queues are given.
    """

    kind: ClassVar[SchedulerKind]

    def __init__(self, n_ue: int, batch_size: int | None = None, slot_s: float = 1e-3) -> None:
        if n_ue < 1:
            raise ModelError(f'n_ue = {n_ue}: must be >= 1')
        if batch_size is not None and batch_size < 1:
            raise ModelError(f'batch_size = {batch_size}: must be >= 1 or None')
        _check_slot_s(slot_s)
        self._n_ue = int(n_ue)
        self._batch_size = batch_size
        self.slot_s = float(slot_s)

    @property
    def n_ue(self) -> int:
        """Number of UEs."""
        return self._n_ue

    @property
    def batch_size(self) -> int | None:
        """None for one cell, else the number of cells scheduled together."""
        return self._batch_size

    @property
    def state_shape(self) -> tuple[int, ...]:
        """``(n_ue,)`` or ``(batch, n_ue)``: the shape of per-UE state and inputs."""
        return (self._n_ue,) if self._batch_size is None else (self._batch_size, self._n_ue)

    def _rates(self, rates_bps: npt.ArrayLike) -> FloatArray:
        rates = check_rates(rates_bps)
        if rates.shape[:-1] != self.state_shape:
            expected = ('[n_ue, n_prb]' if self._batch_size is None
                        else '[batch, n_ue, n_prb]')
            raise DimensionError(
                f'rates_bps has shape {rates.shape}; this scheduler has n_ue = {self._n_ue} and '
                f'batch_size = {self._batch_size}, so it expects {expected} = '
                f'{self.state_shape + ("n_prb",)}')
        return rates

    @abstractmethod
    def reset(self) -> None:
        """Put the state back to its initial value."""

    @abstractmethod
    def assign(self, rates_bps: npt.ArrayLike,
               queue_bits: npt.ArrayLike | None = None) -> IntArray:
        """
        The slot's assignment from the current state (the state is not changed).

        Args:
            rates_bps: ``[n_ue, n_prb]`` (or ``[batch, n_ue, n_prb]``) achievable rates [bit/s].
            queue_bits: ``[n_ue]`` (or ``[batch, n_ue]``) backlog [bit]; None means full buffer
                (every UE always has data). A UE gets PRBs only while it still needs bits
                (PRBs taken in index order); PRBs nobody needs stay idle.

        Returns:
            ``[n_prb]`` (or ``[batch, n_prb]``) UE index per PRB, ``NO_UE`` (-1) where no UE
            needs it.
        """

    @abstractmethod
    def update(self, assignment: npt.ArrayLike, served_bps: npt.ArrayLike) -> None:
        """Advance the state after a slot, given the assignment and the delivered rates."""

    def step(self, rates_bps: npt.ArrayLike,
             queue_bits: npt.ArrayLike | None = None) -> SlotDecision:
        """
        ``assign``, deliver ``min(q_i, Σ_j ρ_ij r_ij Δt)`` bits per UE, then ``update`` with the
        delivered rate. Arguments as in :meth:`assign`.
        """
        rates = self._rates(rates_bps)
        queue = _check_per_ue(queue_bits, rates, 'queue_bits')
        assignment = self.assign(rates, queue)
        served = _served_unchecked(assignment, rates).astype(np.float64)  # [..., n_ue]
        if queue is not None:
            served = np.minimum(queue, served * self.slot_s) / self.slot_s
        self.update(assignment, served)
        return SlotDecision(assignment, served)


class ProportionalFair(EmbbScheduler):
    """
    Proportional fair per PRB: ``a_j = argmax_i r_ij / T_i``, then
    ``T_i ← β T_i + (1 - β) R_i`` with R_i the delivered rate of the slot (Jalali et al. 2000;
    Sionna SYS ``PFSchedulerSUMIMO``). On a static channel the long-run throughputs maximize
    ``Σ_i log T_i`` (Kelly 1998) as β → 1.

    Args:
        n_ue, batch_size: see :class:`EmbbScheduler`.
        beta: discount factor β in (0, 1); time constant ``1/(1-β)`` slots (0.98: 50 slots).
        initial_avg_bps: T_i after ``reset`` [bit/s], > 0.
    """

    kind = SchedulerKind.PROPORTIONAL_FAIR

    def __init__(self, n_ue: int, batch_size: int | None = None, beta: float = 0.98,
                 initial_avg_bps: float = 1.0, slot_s: float = 1e-3) -> None:
        super().__init__(n_ue, batch_size, slot_s)
        _check_beta(beta)
        if not (math.isfinite(initial_avg_bps) and initial_avg_bps > 0):
            raise ModelError(f'initial_avg_bps = {initial_avg_bps!r}: must be finite and > 0')
        self.beta = float(beta)
        self.initial_avg_bps = float(initial_avg_bps)
        self.avg_throughput_bps: npt.NDArray[np.float64] = np.empty(0)
        self.reset()

    @property
    def time_constant_slots(self) -> float:
        """1 / (1 - β) [slots]."""
        return 1.0 / (1.0 - self.beta)

    def reset(self) -> None:
        """T_i = ``initial_avg_bps`` for every UE."""
        self.avg_throughput_bps = np.full(self.state_shape, self.initial_avg_bps)

    def assign(self, rates_bps: npt.ArrayLike,
               queue_bits: npt.ArrayLike | None = None) -> IntArray:
        rates = self._rates(rates_bps)
        queue = _check_per_ue(queue_bits, rates, 'queue_bits')
        return _pf_assign_unchecked(rates, self.avg_throughput_bps, queue, self.slot_s)

    def update(self, assignment: npt.ArrayLike, served_bps: npt.ArrayLike) -> None:
        served = np.asarray(served_bps, dtype=np.float64)
        if served.shape != self.state_shape:
            raise DimensionError(f'served_bps has shape {served.shape}; expected '
                                 f'{self.state_shape}')
        self.avg_throughput_bps = _ewma_unchecked(self.avg_throughput_bps, served, self.beta)


class RoundRobin(EmbbScheduler):
    """
    Round robin over PRBs among the UEs with data (see :func:`round_robin_assign`); blind to the
    channel. State: the pointer (the UE that comes first in the next slot), 0 after ``reset``.
    """

    kind = SchedulerKind.ROUND_ROBIN

    def __init__(self, n_ue: int, batch_size: int | None = None, slot_s: float = 1e-3) -> None:
        super().__init__(n_ue, batch_size, slot_s)
        self.pointer: IntArray = np.zeros(0, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        """Pointer back to UE 0."""
        shape = () if self.batch_size is None else (self.batch_size,)
        self.pointer = np.zeros(shape, dtype=np.int64)

    def assign(self, rates_bps: npt.ArrayLike,
               queue_bits: npt.ArrayLike | None = None) -> IntArray:
        rates = self._rates(rates_bps)
        queue = _check_per_ue(queue_bits, rates, 'queue_bits')
        return _rr_assign_unchecked(rates, self.pointer, queue, self.slot_s)[0]

    def update(self, assignment: npt.ArrayLike, served_bps: npt.ArrayLike) -> None:
        """The pointer moves to the UE after the one that got the last assigned PRB."""
        a = _check_assignment(assignment, self.n_ue)
        expected_ndim = 1 if self.batch_size is None else 2
        if a.ndim != expected_ndim:
            raise DimensionError(f'assignment has shape {a.shape}; expected '
                                 f'{"[n_prb]" if expected_ndim == 1 else "[batch, n_prb]"}')
        a2 = _as_batch(a, False)  # [B, n_prb]
        valid = a2 >= 0
        last_j = a2.shape[1] - 1 - np.argmax(valid[:, ::-1], axis=1)  # [B]
        last = np.where(valid.any(axis=1), a2[np.arange(a2.shape[0]), last_j], NO_UE)
        new = np.where(last >= 0, (last + 1) % self.n_ue, np.atleast_1d(self.pointer))
        self.pointer = (np.asarray(new[0], dtype=np.int64) if a.ndim == 1
                        else new.astype(np.int64))


class MaxWeight(EmbbScheduler):
    """
    Max-weight per PRB: ``a_j = argmax_i q_i r_ij`` among UEs with ``q_i > 0``
    (Tassiulas & Ephremides 1992); stateless (the queues are the state, owned by the caller).
    Full buffer (``queue_bits=None``) gives max-rate scheduling.
    """

    kind = SchedulerKind.MAX_WEIGHT

    def reset(self) -> None:
        """Nothing to reset."""

    def assign(self, rates_bps: npt.ArrayLike,
               queue_bits: npt.ArrayLike | None = None) -> IntArray:
        rates = self._rates(rates_bps)
        queue = _check_per_ue(queue_bits, rates, 'queue_bits')
        return _mw_assign_unchecked(rates, queue, self.slot_s)

    def update(self, assignment: npt.ArrayLike, served_bps: npt.ArrayLike) -> None:
        """Nothing to update."""


def make_scheduler(kind: SchedulerKind | str, n_ue: int, batch_size: int | None = None,
                   beta: float = 0.98, initial_avg_bps: float = 1.0,
                   slot_s: float = 1e-3) -> EmbbScheduler:
    """Build a scheduler by kind (``beta`` and ``initial_avg_bps`` apply to PF only)."""
    try:
        kind = SchedulerKind(kind)
    except ValueError:
        allowed = ', '.join(k.value for k in SchedulerKind)
        raise ModelError(f'scheduler kind {kind!r}: must be one of {allowed}') from None
    if kind is SchedulerKind.PROPORTIONAL_FAIR:
        return ProportionalFair(n_ue, batch_size, beta=beta, initial_avg_bps=initial_avg_bps,
                                slot_s=slot_s)
    if kind is SchedulerKind.ROUND_ROBIN:
        return RoundRobin(n_ue, batch_size, slot_s)
    return MaxWeight(n_ue, batch_size, slot_s)
