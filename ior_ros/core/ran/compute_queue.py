"""
The base station's data-processing (compute) queue of seed 000 §IV step 2, simulated exactly.

Two packet classes, URLLC (high priority) and eMBB, share the BS compute. A packet of class k
brings a *work* ``W`` = its processing time on the *whole* compute, exponential with mean ``1/μ_k``
(``μ_k`` [1/s] is the class's full-capacity service rate); a part of the compute with fraction f
processes it at rate f. Time is continuous; everything is exact on the sample path.

Disciplines (:class:`Discipline`):

* ``fifo``: one server, both classes in arrival order (the "conventional" rule of the seed).
* ``preemptive_resume``: one server; URLLC preempts eMBB, and the interrupted eMBB packet resumes
  where it stopped (Kleinrock, Queueing Systems Vol. II, §3.7; Harchol-Balter 2013, ch. 32).
* ``shared_exclusive`` (the seed's proposal): the compute is split into a *shared* part (fraction
  β) and an *eMBB-exclusive* part (1 − β). URLLC packets are processed one at a time, FIFO, by the
  shared part only (rate β μ_u). The shared part is preemptive-resume: whenever no URLLC packet is
  present it works on eMBB. eMBB packets are processed one at a time, FIFO, by *all* the compute
  that URLLC does not hold: the head eMBB packet is processed at full rate μ_e while no URLLC
  packet is present ("eMBB can use all of the computing resource when no URLLC packets arrive")
  and at rate (1 − β) μ_e by the exclusive part while URLLC holds the shared part. (The compute is
  pooled, like cores that split one packet's processing; with β = 1 this is exactly
  ``preemptive_resume``.)
* ``euad`` (baseline): an exclusive URLLC part (β) and an exclusive eMBB part (1 − β), no sharing,
  each FIFO. *Active dropping*: a URLLC packet still waiting when its waiting time reaches
  ``urllc_max_wait_s`` is removed without being processed (it has already missed its deadline).
  Because a dropped packet never takes service, dropping it at its expiry or at its arrival (when
  its wait is already determined by the packets ahead) removes the same packets; we compute the
  latter.

Method. With a single class per server the FIFO departure times follow Lindley's recursion
``D_i = max(A_i, D_{i−1}) + S_i``, evaluated in closed form as
``D_i = C_i + max_{j ≤ i}(A_j − C_j + S_j)`` with ``C_i = Σ_{k ≤ i} S_k`` (a cumulative maximum:
vectorized). URLLC never sees eMBB in the priority disciplines, so its departures come first; its
busy periods then fix the capacity ``c(t)`` left to eMBB (1 or 1 − β). eMBB is a FIFO single-server
queue in the time scale ``Γ(t) = ∫_0^t c(s) ds``: its departures are Lindley's in Γ-time mapped
back through the piecewise-linear inverse of Γ. This is the exact sample path of the event-driven
simulation; :func:`simulate_compute_queue_events` is that event loop, kept as the reference and
checked against the fast path in the tests.

Closed forms (for tests and the coexistence optimizer): :func:`mm1_mean_sojourn_s`,
:func:`fifo_two_class_mean_sojourn_s`, :func:`preemptive_priority_mean_sojourn_s`,
:func:`mxm1_mean_sojourn_s`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt

from ior_ros.core.errors import DimensionError, ModelError, QueueStabilityError

__all__ = ['Discipline', 'ClassStats', 'ComputeQueueResult', 'lindley_departures',
           'simulate_compute_queue', 'simulate_compute_queue_events', 'simulate_poisson_classes',
           'mm1_mean_sojourn_s', 'fifo_two_class_mean_sojourn_s',
           'preemptive_priority_mean_sojourn_s', 'mxm1_mean_sojourn_s']

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class Discipline(str, Enum):
    """Compute-queue disciplines (see the module docstring)."""

    FIFO = 'fifo'
    PREEMPTIVE_RESUME = 'preemptive_resume'
    SHARED_EXCLUSIVE = 'shared_exclusive'
    EUAD = 'euad'


@dataclass(frozen=True)
class ClassStats:
    """
    Outcome for one class.

    Attributes:
        arrival_s: ``[n]`` arrival times [s].
        departure_s: ``[n]`` end of processing [s]; NaN for a dropped packet.
    """

    arrival_s: FloatArray
    departure_s: FloatArray

    @property
    def served_mask(self) -> BoolArray:
        """``[n]`` True where the packet was processed."""
        return np.asarray(np.isfinite(self.departure_s))

    @property
    def served(self) -> int:
        """Number of processed packets."""
        return int(np.count_nonzero(self.served_mask))

    @property
    def dropped(self) -> int:
        """Number of dropped packets."""
        return int(self.arrival_s.size - self.served)

    @property
    def sojourn_s(self) -> FloatArray:
        """``[served]`` sojourn (waiting + processing) times of the processed packets [s]."""
        mask = self.served_mask
        return np.asarray(self.departure_s[mask] - self.arrival_s[mask], dtype=float)

    @property
    def mean_sojourn_s(self) -> float:
        """Mean sojourn of the processed packets [s] (NaN when none)."""
        s = self.sojourn_s
        return float(s.mean()) if s.size else math.nan

    @property
    def p99_sojourn_s(self) -> float:
        """99th percentile of the sojourn [s] (NaN when none)."""
        s = self.sojourn_s
        return float(np.percentile(s, 99.0)) if s.size else math.nan

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {'mean_sojourn_s': self.mean_sojourn_s, 'p99_sojourn_s': self.p99_sojourn_s,
                'served': self.served, 'dropped': self.dropped}


@dataclass(frozen=True)
class ComputeQueueResult:
    """Both classes' outcomes of one run."""

    discipline: Discipline
    shared_fraction: float
    urllc: ClassStats
    embb: ClassStats

    def as_dict(self) -> dict[str, Any]:
        """``{"discipline", "classes": {"urllc": {...}, "embb": {...}}}``."""
        return {'discipline': self.discipline.value,
                'classes': {'urllc': self.urllc.summary(), 'embb': self.embb.summary()}}


# --------------------------------------------------------------------------------------------
# Fast exact sample path
# --------------------------------------------------------------------------------------------

def lindley_departures(arrival_s: FloatArray, service_s: FloatArray) -> FloatArray:
    """
    FIFO single-server departures ``D_i = max(A_i, D_{i−1}) + S_i`` (Lindley), vectorized as
    ``D_i = C_i + max_{j ≤ i}(A_j − C_j + S_j)``, ``C`` the cumulative service.

    Args:
        arrival_s: ``[n]`` non-decreasing arrival times.
        service_s: ``[n]`` service times.

    Returns:
        ``[n]`` departure times.
    """
    if arrival_s.size == 0:
        return np.zeros(0)
    cum = np.cumsum(service_s)  # [n]
    return np.asarray(cum + np.maximum.accumulate(arrival_s - cum + service_s), dtype=float)


def _busy_periods(arrival_s: FloatArray, departure_s: FloatArray
                  ) -> tuple[FloatArray, FloatArray]:
    """Start and end times ``[n_busy]`` of the busy periods of a FIFO single-class server."""
    if arrival_s.size == 0:
        return np.zeros(0), np.zeros(0)
    new_period = np.empty(arrival_s.size, dtype=bool)
    new_period[0] = True
    new_period[1:] = arrival_s[1:] > departure_s[:-1]
    starts = arrival_s[new_period]
    last_of_period = np.empty(arrival_s.size, dtype=bool)
    last_of_period[:-1] = new_period[1:]
    last_of_period[-1] = True
    return starts, departure_s[last_of_period]


def _capacity_clock(busy_start: FloatArray, busy_end: FloatArray,
                    busy_capacity: float) -> tuple[FloatArray, FloatArray]:
    """
    Breakpoints ``(t_k, Γ_k)`` of ``Γ(t) = ∫ c``, with c = ``busy_capacity`` inside the busy
    periods and 1 outside. The last segment is idle (slope 1) and :func:`_inverse_clock`
    extrapolates it linearly, which is exact because the server stays free of URLLC afterwards.
    """
    n = busy_start.size
    t = np.empty(2 * n + 2)
    t[0] = 0.0
    t[1:2 * n + 1:2] = busy_start
    t[2:2 * n + 2:2] = busy_end
    t[-1] = float(t[-2]) + 1.0
    slope = np.empty(2 * n + 1)
    slope[0::2] = 1.0          # idle segments
    slope[1::2] = busy_capacity  # busy segments
    g = np.concatenate(([0.0], np.cumsum(np.diff(t) * slope)))
    return t, g


def _inverse_clock(g_query: FloatArray, t_break: FloatArray, g_break: FloatArray) -> FloatArray:
    """``Γ⁻¹``: the first time at which the (non-decreasing) clock reaches each query value."""
    k = np.searchsorted(g_break, g_query, side='left')
    k = np.clip(k, 1, g_break.size - 1)
    g0 = g_break[k - 1]
    t0 = t_break[k - 1]
    dg = g_break[k] - g0
    dt = t_break[k] - t0
    with np.errstate(divide='ignore', invalid='ignore'):
        frac = np.where(dg > 0, (g_query - g0) / dg, 0.0)
    return np.asarray(t0 + frac * dt, dtype=float)


def _check_stream(name: str, arrival_s: FloatArray, work_s: FloatArray) -> None:
    if arrival_s.shape != work_s.shape or arrival_s.ndim != 1:
        raise DimensionError(f'{name}: arrival_s has shape {arrival_s.shape} and work_s has shape '
                             f'{work_s.shape}; both must be the same 1-D shape')
    if arrival_s.size and (np.any(np.diff(arrival_s) < 0) or arrival_s[0] < 0
                           or not np.all(np.isfinite(arrival_s))):
        raise ModelError(f'{name}: arrival times must be finite, >= 0 and non-decreasing')
    if np.any(work_s < 0) or not np.all(np.isfinite(work_s)):
        raise ModelError(f'{name}: work must be finite and >= 0')


def _checked_streams(urllc_arrival_s: FloatArray, urllc_work_s: FloatArray,
                     embb_arrival_s: FloatArray, embb_work_s: FloatArray,
                     ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Both classes' (arrival, work) as float arrays, validated by :func:`_check_stream`."""
    u_arr = np.asarray(urllc_arrival_s, dtype=float)
    u_work = np.asarray(urllc_work_s, dtype=float)
    e_arr = np.asarray(embb_arrival_s, dtype=float)
    e_work = np.asarray(embb_work_s, dtype=float)
    _check_stream('urllc', u_arr, u_work)
    _check_stream('embb', e_arr, e_work)
    return u_arr, u_work, e_arr, e_work


def _check_fraction(discipline: Discipline, shared_fraction: float) -> float:
    if discipline in (Discipline.SHARED_EXCLUSIVE, Discipline.EUAD):
        if not (math.isfinite(shared_fraction) and 0.0 < shared_fraction <= 1.0):
            raise ModelError(f'shared_fraction = {shared_fraction!r}: must be in (0, 1]')
        if discipline is Discipline.EUAD and shared_fraction >= 1.0:
            raise ModelError(f'shared_fraction = {shared_fraction!r}: EUAD needs an eMBB part, '
                             'so the URLLC fraction must be < 1')
        return float(shared_fraction)
    return 1.0


def _euad_urllc(arrival_s: FloatArray, service_s: FloatArray,
                max_wait_s: float) -> FloatArray:
    """FIFO with expiry: a packet whose wait would exceed ``max_wait_s`` is dropped (NaN)."""
    out = np.full(arrival_s.size, np.nan)
    free_at = -math.inf
    arr = arrival_s.tolist()
    srv = service_s.tolist()
    for i in range(len(arr)):
        a = arr[i]
        start = free_at if free_at > a else a
        if start - a > max_wait_s:
            continue
        free_at = start + srv[i]
        out[i] = free_at
    return out


def simulate_compute_queue(urllc_arrival_s: FloatArray, urllc_work_s: FloatArray,
                           embb_arrival_s: FloatArray, embb_work_s: FloatArray,
                           discipline: Discipline | str,
                           shared_fraction: float = 1.0,
                           urllc_max_wait_s: float | None = None) -> ComputeQueueResult:
    """
    Exact departures of both classes (fast path; see the module docstring).

    Args:
        urllc_arrival_s: ``[n_u]`` non-decreasing URLLC arrival times [s] (batch members share an
            instant and keep their order).
        urllc_work_s: ``[n_u]`` URLLC work = processing time on the whole compute [s].
        embb_arrival_s: ``[n_e]`` eMBB arrival times [s].
        embb_work_s: ``[n_e]`` eMBB work [s].
        discipline: see :class:`Discipline`.
        shared_fraction: β: the shared part (``shared_exclusive``) or the URLLC part (``euad``).
        urllc_max_wait_s: EUAD's active-dropping limit on the URLLC wait [s] (None: no dropping).

    Returns:
        the per-class departure times.
    """
    discipline = Discipline(discipline)
    u_arr, u_work, e_arr, e_work = _checked_streams(urllc_arrival_s, urllc_work_s,
                                                    embb_arrival_s, embb_work_s)
    beta = _check_fraction(discipline, shared_fraction)
    if urllc_max_wait_s is not None and not (urllc_max_wait_s >= 0):
        raise ModelError(f'urllc_max_wait_s = {urllc_max_wait_s!r}: must be >= 0')

    if discipline is Discipline.FIFO:
        arr = np.concatenate((u_arr, e_arr))
        work = np.concatenate((u_work, e_work))
        order = np.argsort(arr, kind='stable')  # [n_u + n_e]
        dep_sorted = lindley_departures(arr[order], work[order])
        dep = np.empty_like(dep_sorted)
        dep[order] = dep_sorted
        return ComputeQueueResult(discipline, 1.0, ClassStats(u_arr, dep[:u_arr.size]),
                                  ClassStats(e_arr, dep[u_arr.size:]))

    if discipline is Discipline.EUAD:
        u_service = u_work / beta
        if urllc_max_wait_s is None:
            u_dep = lindley_departures(u_arr, u_service)
        else:
            u_dep = _euad_urllc(u_arr, u_service, float(urllc_max_wait_s))
        e_dep = lindley_departures(e_arr, e_work / (1.0 - beta))
        return ComputeQueueResult(discipline, beta, ClassStats(u_arr, u_dep),
                                  ClassStats(e_arr, e_dep))

    # preemptive_resume (β = 1) and shared_exclusive: URLLC alone on the shared part.
    u_dep = lindley_departures(u_arr, u_work / beta)  # [n_u]
    busy_start, busy_end = _busy_periods(u_arr, u_dep)
    t_break, g_break = _capacity_clock(busy_start, busy_end, 1.0 - beta)
    g_arr = np.interp(e_arr, t_break, g_break)  # [n_e] arrivals in Γ-time
    g_dep = lindley_departures(g_arr, e_work)
    e_dep = _inverse_clock(g_dep, t_break, g_break)
    return ComputeQueueResult(discipline, beta, ClassStats(u_arr, u_dep),
                              ClassStats(e_arr, e_dep))


# --------------------------------------------------------------------------------------------
# Reference event-driven simulation
# --------------------------------------------------------------------------------------------

def simulate_compute_queue_events(urllc_arrival_s: FloatArray, urllc_work_s: FloatArray,
                                  embb_arrival_s: FloatArray, embb_work_s: FloatArray,
                                  discipline: Discipline | str,
                                  shared_fraction: float = 1.0,
                                  urllc_max_wait_s: float | None = None) -> ComputeQueueResult:
    """
    The same queue as :func:`simulate_compute_queue`, as a plain event loop: between two events
    (an arrival or a completion) every queue's head packet is processed at a constant rate that
    depends only on which queues are non-empty. Slower (pure Python); kept as the reference the
    fast path is tested against.
    """
    discipline = Discipline(discipline)
    u_arr, u_work, e_arr, e_work = _checked_streams(urllc_arrival_s, urllc_work_s,
                                                    embb_arrival_s, embb_work_s)
    beta = _check_fraction(discipline, shared_fraction)
    max_wait = math.inf if urllc_max_wait_s is None else float(urllc_max_wait_s)
    works = (u_work.tolist(), e_work.tolist())
    deps = (np.full(u_arr.size, np.nan), np.full(e_arr.size, np.nan))
    # arrivals in time order; URLLC before eMBB at equal instants (as in the fast path)
    events = sorted([(a, 0, i) for i, a in enumerate(u_arr.tolist())]
                    + [(a, 1, i) for i, a in enumerate(e_arr.tolist())])
    fifo = discipline is Discipline.FIFO
    # FIFO: one queue of (class, index); otherwise queue 0 = URLLC, queue 1 = eMBB
    queues: tuple[deque[tuple[int, int]], ...] = (deque(),) if fifo else (deque(), deque())
    rem = [0.0] * len(queues)  # remaining work of each queue's head packet

    def rates() -> list[float]:
        if fifo:
            return [1.0]
        if discipline is Discipline.EUAD:
            return [beta, 1.0 - beta]
        urllc_present = bool(queues[0])
        return [beta if urllc_present else 0.0, (1.0 - beta) if urllc_present else 1.0]

    now = 0.0
    k = 0
    while k < len(events) or any(queues):
        r = rates()
        best_q, best_t = -1, math.inf
        for q, queue in enumerate(queues):
            if queue and r[q] > 0.0:
                t_done = now + rem[q] / r[q]
                if t_done < best_t:
                    best_q, best_t = q, t_done
        t_next = events[k][0] if k < len(events) else math.inf
        t_event = min(t_next, best_t)
        for q, queue in enumerate(queues):
            if queue:
                rem[q] -= r[q] * (t_event - now)
        now = t_event
        if t_next <= best_t:
            _, cls, idx = events[k]
            k += 1
            q = 0 if fifo else cls
            if discipline is Discipline.EUAD and cls == 0 and queues[0]:
                ahead = rem[0] + sum(works[0][j] for _, j in list(queues[0])[1:])
                if ahead / beta > max_wait:
                    continue  # active drop: it would wait longer than allowed
            if not queues[q]:
                rem[q] = works[cls][idx]
            queues[q].append((cls, idx))
        else:
            cls, idx = queues[best_q].popleft()
            deps[cls][idx] = now
            if queues[best_q]:
                c2, i2 = queues[best_q][0]
                rem[best_q] = works[c2][i2]
    return ComputeQueueResult(discipline, beta, ClassStats(u_arr, deps[0]),
                              ClassStats(e_arr, deps[1]))


# --------------------------------------------------------------------------------------------
# Poisson driver (used by `ior sim compute-queue`)
# --------------------------------------------------------------------------------------------

def _check_rates(lambda_urllc: float, lambda_embb: float, mu_urllc: float,
                 mu_embb: float) -> None:
    for name, value in (('lambda_urllc', lambda_urllc), ('lambda_embb', lambda_embb)):
        if not (math.isfinite(value) and value >= 0):
            raise ModelError(f'{name} = {value!r}: must be a finite number >= 0 [1/s]')
    for name, value in (('mu_urllc', mu_urllc), ('mu_embb', mu_embb)):
        if not (math.isfinite(value) and value > 0):
            raise ModelError(f'{name} = {value!r}: must be a finite number > 0 [1/s]')


def simulate_poisson_classes(lambda_urllc: float, lambda_embb: float, mu_urllc: float,
                             mu_embb: float, n_packets: int, rng: np.random.Generator,
                             discipline: Discipline | str, shared_fraction: float = 1.0,
                             require_stable: bool = True) -> ComputeQueueResult:
    """
    ``n_packets`` Poisson arrivals in total (rate λ_u + λ_e, each packet URLLC with probability
    λ_u / (λ_u + λ_e)), exponential work with means ``1/μ_u`` and ``1/μ_e``.

    Raises:
        QueueStabilityError: ``require_stable`` and the total load ``λ_u/μ_u + λ_e/μ_e`` >= 1
            (or, for ``shared_exclusive``, the URLLC load on the shared part ``λ_u/(β μ_u)`` >= 1).
    """
    discipline = Discipline(discipline)
    _check_rates(lambda_urllc, lambda_embb, mu_urllc, mu_embb)
    if n_packets < 1:
        raise ModelError(f'n_packets = {n_packets}: must be >= 1')
    total = lambda_urllc + lambda_embb
    if total <= 0:
        raise ModelError('lambda_urllc + lambda_embb = 0: at least one class must have traffic')
    beta = _check_fraction(discipline, shared_fraction)
    if require_stable:
        load = lambda_urllc / mu_urllc + lambda_embb / mu_embb
        if load >= 1.0:
            raise QueueStabilityError(
                f'total load lambda_urllc/mu + lambda_embb/mu = {load:.4g}: must be < 1 for a '
                'stable queue')
        if lambda_urllc / (beta * mu_urllc) >= 1.0:
            raise QueueStabilityError(
                f'URLLC load on the shared part = {lambda_urllc / (beta * mu_urllc):.4g}: '
                'must be < 1')
        if discipline is Discipline.EUAD and lambda_embb / ((1 - beta) * mu_embb) >= 1.0:
            raise QueueStabilityError(
                f'eMBB load on its part = {lambda_embb / ((1 - beta) * mu_embb):.4g}: '
                'must be < 1')
    gaps = rng.exponential(1.0 / total, size=n_packets)  # [n]
    times = np.cumsum(gaps)
    is_urllc = rng.random(n_packets) < lambda_urllc / total  # [n]
    work = rng.exponential(1.0, size=n_packets) / np.where(is_urllc, mu_urllc, mu_embb)
    return simulate_compute_queue(times[is_urllc], work[is_urllc], times[~is_urllc],
                                  work[~is_urllc], discipline, shared_fraction)


# --------------------------------------------------------------------------------------------
# Closed forms
# --------------------------------------------------------------------------------------------

def _stable(load: float, what: str) -> None:
    if load >= 1.0:
        raise QueueStabilityError(f'{what} = {load:.6g}: must be < 1 for a stable queue')


def mm1_mean_sojourn_s(arrival_rate: float, service_rate: float) -> float:
    """M/M/1 mean sojourn ``T = 1 / (μ − λ)`` (Kleinrock Vol. I eq. 3.26)."""
    _check_rates(arrival_rate, 0.0, service_rate, 1.0)
    _stable(arrival_rate / service_rate, 'load lambda/mu')
    return 1.0 / (service_rate - arrival_rate)


def fifo_two_class_mean_sojourn_s(lambda_urllc: float, mu_urllc: float, lambda_embb: float,
                                  mu_embb: float) -> tuple[float, float]:
    """
    FIFO with two Poisson classes and exponential work of class-specific means: an M/G/1 queue
    with hyperexponential service. Pollaczek–Khinchine: ``W = Σ_k λ_k E[S_k²] / (2 (1 − ρ))``,
    ``E[S_k²] = 2/μ_k²``, ``T_k = W + 1/μ_k`` (Kleinrock Vol. I eq. 5.105). Equal μ gives M/M/1.

    Returns:
        ``(T_urllc, T_embb)`` [s].
    """
    _check_rates(lambda_urllc, lambda_embb, mu_urllc, mu_embb)
    rho = lambda_urllc / mu_urllc + lambda_embb / mu_embb
    _stable(rho, 'total load')
    wait = (lambda_urllc / mu_urllc ** 2 + lambda_embb / mu_embb ** 2) / (1.0 - rho)
    return wait + 1.0 / mu_urllc, wait + 1.0 / mu_embb


def preemptive_priority_mean_sojourn_s(lambda_high: float, mu_high: float, lambda_low: float,
                                       mu_low: float) -> tuple[float, float]:
    """
    M/M/1 with two classes under preemptive-resume priority (Kleinrock Vol. II §3.7;
    Harchol-Balter, Performance Modeling and Design of Computer Systems, 2013, ch. 32):

    * high class: ``T_1 = (1/μ_1) / (1 − ρ_1)`` (it never sees the low class);
    * low class: ``T_2 = (1/μ_2) / (1 − ρ_1) + R / ((1 − ρ_1)(1 − ρ_1 − ρ_2))`` with the mean
      residual work ``R = λ_1 E[S_1²]/2 + λ_2 E[S_2²]/2 = ρ_1/μ_1 + ρ_2/μ_2``.

    Returns:
        ``(T_high, T_low)`` [s].
    """
    _check_rates(lambda_high, lambda_low, mu_high, mu_low)
    rho1 = lambda_high / mu_high
    rho2 = lambda_low / mu_low
    _stable(rho1 + rho2, 'total load')
    residual = rho1 / mu_high + rho2 / mu_low
    t1 = (1.0 / mu_high) / (1.0 - rho1)
    t2 = (1.0 / mu_low) / (1.0 - rho1) + residual / ((1.0 - rho1) * (1.0 - rho1 - rho2))
    return t1, t2


def mxm1_mean_sojourn_s(batch_rate: float, mean_batch: float, second_moment_batch: float,
                        service_rate: float) -> float:
    """
    Mean sojourn of a packet in the M^X/M/1 FIFO queue (batch Poisson arrivals; Gross & Harris,
    Fundamentals of Queueing Theory, §5.1.6 / the M^X/G/1 formula):
    ``T = ρ / (μ (1 − ρ)) + E[X(X−1)] / (2 μ E[X] (1 − ρ)) + 1/μ`` with ``ρ = λ_b E[X] / μ``.
    """
    if not (batch_rate >= 0 and mean_batch > 0 and second_moment_batch >= mean_batch ** 2):
        raise ModelError(f'batch_rate = {batch_rate!r}, E[X] = {mean_batch!r}, '
                         f'E[X^2] = {second_moment_batch!r}: need rate >= 0, E[X] > 0, '
                         'E[X^2] >= E[X]^2')
    if not service_rate > 0:
        raise ModelError(f'service_rate = {service_rate!r}: must be > 0')
    rho = batch_rate * mean_batch / service_rate
    _stable(rho, 'load lambda_b E[X] / mu')
    fx = (second_moment_batch - mean_batch) / (2.0 * mean_batch)
    return rho / (service_rate * (1.0 - rho)) + fx / (service_rate * (1.0 - rho)) \
        + 1.0 / service_rate
