"""
Joint scheduling of seed 000 §IV step 4: per scheme and eMBB requirement R, the compute split β
and the puncturing threshold M that minimize the mean URLLC delay subject to (a) the eMBB
throughput requirement and (b) a tolerable mean eMBB delay; and ``run_coexistence``, every scheme
of a configuration on one sample. How:

* (a) is a *protection* rule on M: even when every mini-slot is punctured M times, eMBB keeps
  ``C_e (1 − M / n_ru) ≥ R``, where ``C_e`` is the eMBB full-buffer throughput of the band
  (measured on the same channel sample). So ``M ≤ M_cap(R)``. Plus, the delivered eMBB throughput
  must reach ``(1 − throughput_tolerance) R`` in the simulation.
* (b) the mean eMBB delay (compute + radio queue) must be ≤ ``embb_max_delay_s``.
* URLLC delay falls as β and M grow (more compute for URLLC, fewer deferrals), while eMBB delay
  grows with both. A smaller M than the constraints need only defers or discards URLLC packets
  (it can lower the mean delay of the *delivered* packets only by losing the slow ones), so M is
  the largest value ≤ M_cap(R) for which some β is feasible, and β the largest feasible value of
  the grid. The β grid is scanned from the top: points whose compute-only eMBB delay (cheap,
  exact) plus the radio delay measured so far exceeds the limit are skipped, the others are
  checked by a full simulation (same sample). The chosen point is the simulated one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ior_ros.core.errors import ConfigError
from ior_ros.core.progress import ProgressFn
from ior_ros.core.ran.coexistence import (
    CoexistenceMetrics,
    Job,
    Prepared,
    SchemePoint,
    compute_for,
    embb_full_buffer_throughput_bps,
    in_window,
    max_protected_threshold,
    prepare,
    simulate_jobs,
)
from ior_ros.core.ran.coexistence_config import (
    CoexistenceConfig,
    PutdCompute,
    Scheme,
    check_config,
)
from ior_ros.core.ran.coexistence_sample import (
    ChannelArrays,
    CoexistenceSample,
    channel_arrays,
    draw_sample,
)

__all__ = ['OptimizationResult', 'compute_rate_limit', 'optimize_many', 'optimize_scheme',
           'run_coexistence']


@dataclass(frozen=True)
class OptimizationResult:
    """The chosen point, its metrics, and what was tried."""

    scheme: Scheme
    metrics: CoexistenceMetrics
    feasible: bool
    threshold_cap: int
    embb_capacity_bps: float
    evaluated: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {'scheme': self.scheme.value, 'feasible': self.feasible,
                'threshold_cap': self.threshold_cap,
                'embb_capacity_bps': self.embb_capacity_bps,
                'metrics': self.metrics.as_dict(), 'evaluated': self.evaluated}


def _beta_grid(config: CoexistenceConfig, scheme: Scheme) -> list[float]:
    fixed = config.scheme.shared_fraction
    if scheme is Scheme.PUTD and config.scheme.putd_compute is PutdCompute.FULL_PRIORITY:
        return [1.0]
    if fixed is not None:
        if scheme is Scheme.EUAD and fixed >= 1.0:
            raise ConfigError(f"field 'scheme.shared_fraction' = {fixed}: EUAD needs a URLLC "
                              'part < 1')
        return [float(fixed)]
    step = config.scheme.shared_fraction_grid_step
    n = int(math.floor(1.0 / step + 1e-9))
    grid = [round(1.0 - i * step, 10) for i in range(n)]
    grid = [b for b in grid if b > 1e-9]
    if scheme is Scheme.EUAD:
        grid = [b for b in grid if b < 1.0 - 1e-9]
    return grid


def _feasible(m: CoexistenceMetrics, config: CoexistenceConfig) -> bool:
    """eMBB mean delay within the limit, eMBB queues keep up, URLLC outage within its limit."""
    req = config.requirements
    return bool(m.embb_mean_delay_s <= req.embb_max_delay_s
                and m.embb_undelivered_fraction <= req.throughput_tolerance
                and not m.urllc_outage > req.urllc_max_outage)


def _violation(m: CoexistenceMetrics, config: CoexistenceConfig) -> float:
    req = config.requirements
    return max(m.embb_mean_delay_s / req.embb_max_delay_s,
               m.embb_undelivered_fraction / max(req.throughput_tolerance, 1e-12),
               m.urllc_outage / max(req.urllc_max_outage, 1e-12))


@dataclass
class _Problem:
    """Search state of one (scheme, configuration) joint-scheduling problem."""

    scheme: Scheme
    config: CoexistenceConfig
    prep: Prepared
    capacity_bps: float
    threshold_cap: int
    m_values: list[int]
    grid: list[float]
    first_unscreened: int
    protected: bool
    m_index: int = 0
    infeasible_below: int = -1
    feasible_from: int = -1
    results: dict[int, CoexistenceMetrics] = field(default_factory=dict)
    evaluated: list[dict[str, Any]] = field(default_factory=list)
    best_violating: CoexistenceMetrics | None = None
    best_violation: float = math.inf
    result: OptimizationResult | None = None

    def reset_search(self) -> None:
        """Start the search over β for the current M."""
        self.infeasible_below = self.first_unscreened - 1
        self.feasible_from = len(self.grid)
        self.results = {}

    def candidates(self, k: int) -> list[int]:
        """
        Grid indices to simulate next: k points spread over the undecided interval
        (infeasible_below, feasible_from), its first point (the largest undecided β) included.
        """
        lo, hi = self.infeasible_below + 1, self.feasible_from
        if lo >= hi:
            return []
        n = hi - lo
        if n <= k:
            return list(range(lo, hi))
        return sorted({lo + round(j * (n - 1) / (k - 1)) for j in range(k)}) if k > 1 else [lo]


def compute_rate_limit(config: CoexistenceConfig, scheme: Scheme) -> float:
    """
    Largest β for which the eMBB compute part alone carries the eMBB requirement:
    ``(1 − β) μ_e ≥ λ_e`` ⇒ ``β ≤ 1 − λ_e / μ_e`` (1 when the protection is off or the scheme
    has no eMBB part, as PUTD with ``full_priority``).
    """
    if not config.requirements.protect_embb_rate:
        return 1.0
    if scheme is Scheme.PUTD and config.scheme.putd_compute is PutdCompute.FULL_PRIORITY:
        return 1.0
    lam_e = config.traffic.embb_requirement_bps / config.traffic.embb_packet_bits
    return 1.0 - lam_e / config.compute.embb_service_rate_per_s


def _make_problem(scheme: Scheme, config: CoexistenceConfig, sample: CoexistenceSample,
                  channel: ChannelArrays, capacity_bps: float) -> _Problem:
    prep = prepare(config, sample, channel)
    n_ru = config.radio.n_ru
    fixed_m = config.scheme.max_urllc_per_minislot
    if config.requirements.protect_embb_rate:
        m_cap = max_protected_threshold(capacity_bps, config.traffic.embb_requirement_bps, n_ru)
    else:
        m_cap = n_ru
    m_values = [fixed_m] if fixed_m is not None else list(range(max(m_cap, 1), 0, -1))
    full_grid = _beta_grid(config, scheme)
    beta_max = compute_rate_limit(config, scheme)
    # the URLLC compute part must be a stable queue: β μ_u > λ_b E[X]
    traffic = config.traffic
    beta_min = (traffic.urllc_batch_rate_per_s * traffic.urllc_mean_batch_size
                / config.compute.urllc_service_rate_per_s)
    grid = [b for b in full_grid if beta_min < b <= beta_max + 1e-12]
    protected = bool(grid) and m_values[0] <= m_cap
    if not grid:  # no β keeps URLLC stable and carries eMBB: report one point, infeasible
        grid = [min(full_grid, key=lambda b: abs(b - max(beta_min, min(beta_max, 1.0))))]
    # exact compute-only eMBB delay: a lower bound of the eMBB delay, so a β whose compute stage
    # alone exceeds the limit is infeasible without a radio simulation
    win = in_window(prep.e_arr, config, sample.horizon_s)
    limit = config.requirements.embb_max_delay_s
    first = len(grid)
    for index, beta in enumerate(grid):
        comp = compute_for(Job(config, prep, SchemePoint(scheme, beta, m_values[0])))
        soj = comp.embb.departure_s[win] - prep.e_arr[win]
        if (float(soj.mean()) if soj.size else 0.0) <= limit:
            first = index
            break
    problem = _Problem(scheme, config, prep, capacity_bps, m_cap, m_values, grid, first,
                       protected)
    problem.reset_search()
    return problem


def optimize_many(problems: Sequence[tuple[Scheme, CoexistenceConfig]],
                  sample: CoexistenceSample, channel: ChannelArrays | None = None,
                  capacity_bps: float | None = None, candidates_per_round: int = 4,
                  on_round: Callable[[int, int], None] | None = None,
                  progress: ProgressFn | None = None
                  ) -> list[OptimizationResult]:
    """
    Joint scheduling (module docstring) for several (scheme, configuration) problems that share
    the radio configuration, simulated together in batched rounds on one sample.

    For each problem and its current M, the largest feasible β of the grid is found by a k-ary
    search (k = ``candidates_per_round`` points per round, the largest undecided β always among
    them): feasibility is taken as monotone in β (eMBB delay grows with the URLLC share). β values
    whose exact compute-only eMBB delay already exceeds the limit are skipped unsimulated. With no
    feasible β, M steps down; with M exhausted, the problem closes as infeasible, reporting its
    least-violating point.

    Args:
        on_round: called with (round, number of points simulated) after every round.
        progress: called with the number of cell-slots simulated since its last call.
    """
    if not problems:
        return []
    first_config = problems[0][1]
    channel = channel if channel is not None else channel_arrays(first_config, sample)
    cap = (capacity_bps if capacity_bps is not None
           else embb_full_buffer_throughput_bps(first_config, sample, channel))
    states = [_make_problem(Scheme(s), c, sample, channel, cap) for s, c in problems]
    round_no = 0
    while True:
        jobs: list[Job] = []
        owners: list[tuple[_Problem, int]] = []
        for st in states:
            if st.result is not None:
                continue
            cand = st.candidates(candidates_per_round)
            while not cand:
                if st.feasible_from < len(st.grid):  # the search at this M is decided
                    met = st.results[st.feasible_from]
                    st.result = OptimizationResult(st.scheme, met, True, st.threshold_cap,
                                                   st.capacity_bps, st.evaluated)
                    break
                if st.m_index + 1 >= len(st.m_values):
                    _close_infeasible(st, sample)
                    break
                st.m_index += 1
                st.reset_search()
                cand = st.candidates(candidates_per_round)
            if st.result is not None:
                continue
            m = st.m_values[st.m_index]
            for index in cand:
                jobs.append(Job(st.config, st.prep, SchemePoint(st.scheme, st.grid[index], m)))
                owners.append((st, index))
        if not jobs:
            break
        metrics = simulate_jobs(jobs, sample, progress)
        round_no += 1
        for (st, index), job, met in zip(owners, jobs, metrics):
            ok = _feasible(met, st.config) and st.protected
            st.results[index] = met
            st.evaluated.append({'shared_fraction': job.point.shared_fraction,
                                 'max_urllc_per_minislot': job.point.max_urllc_per_minislot,
                                 'feasible': ok,
                                 'urllc_mean_delay_s': met.urllc_mean_delay_s,
                                 'embb_mean_delay_s': met.embb_mean_delay_s,
                                 'embb_throughput_bps': met.embb_throughput_bps,
                                 'urllc_outage': met.urllc_outage})
            if ok:
                st.feasible_from = min(st.feasible_from, index)
            violation = _violation(met, st.config)
            if violation < st.best_violation:
                st.best_violation, st.best_violating = violation, met
        for st in states:  # infeasible points below the smallest feasible index
            if st.result is None:
                bad = [i for i, met in st.results.items()
                       if i < st.feasible_from and not _feasible(met, st.config)]
                if bad:
                    st.infeasible_below = max(st.infeasible_below, max(bad))
        if on_round is not None:
            on_round(round_no, len(jobs))
    return [st.result for st in states if st.result is not None]


def _close_infeasible(st: _Problem, sample: CoexistenceSample) -> None:
    met = st.best_violating
    if met is None:  # not even the compute stage meets the delay limit: report the lowest β
        job = Job(st.config, st.prep, SchemePoint(st.scheme, st.grid[-1], st.m_values[-1]))
        met = simulate_jobs([job], sample)[0]
        st.evaluated.append({'shared_fraction': st.grid[-1],
                             'max_urllc_per_minislot': st.m_values[-1], 'feasible': False,
                             'urllc_mean_delay_s': met.urllc_mean_delay_s,
                             'embb_mean_delay_s': met.embb_mean_delay_s,
                             'embb_throughput_bps': met.embb_throughput_bps,
                             'urllc_outage': met.urllc_outage})
    st.result = OptimizationResult(st.scheme, met, False, st.threshold_cap, st.capacity_bps,
                                   st.evaluated)


def optimize_scheme(scheme: Scheme, config: CoexistenceConfig, sample: CoexistenceSample,
                    capacity_bps: float | None = None,
                    channel: ChannelArrays | None = None) -> OptimizationResult:
    """Joint choice of β and M for one scheme (see :func:`optimize_many`)."""
    return optimize_many([(Scheme(scheme), config)], sample, channel, capacity_bps)[0]


def run_coexistence(config: CoexistenceConfig,
                    on_round: Callable[[int, int], None] | None = None,
                    progress: ProgressFn | None = None) -> dict[str, Any]:
    """
    Run every scheme of the config on one sample (seed ``config.seed``), each with its jointly
    chosen β and M; returns the JSON-ready metrics document.
    """
    rng = np.random.default_rng(config.seed)
    sample = draw_sample(config, rng)
    channel = channel_arrays(config, sample)
    cap = embb_full_buffer_throughput_bps(config, sample, channel)
    check_config(config)
    results = optimize_many([(s, config) for s in config.schemes], sample, channel, cap,
                            on_round=on_round, progress=progress)
    return {'embb_capacity_bps': cap,
            'threshold_cap': max_protected_threshold(cap, config.traffic.embb_requirement_bps,
                                                     config.radio.n_ru),
            'schemes': {r.scheme.value: r.as_dict() for r in results}}
