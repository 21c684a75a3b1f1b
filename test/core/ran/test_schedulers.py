"""Tests of the eMBB schedulers (ior_ros.core.ran.schedulers) and the per-slot engines."""

from __future__ import annotations

import math

import cvxpy as cp
import numpy as np
import pytest

from ior_ros.core.errors import DimensionError, ModelError
from ior_ros.core.ran.cell_batched import run_slots_batched
from ior_ros.core.ran.rates import shannon_rate_bps
from ior_ros.core.ran.schedulers import (
    NO_UE,
    MaxWeight,
    ProportionalFair,
    RoundRobin,
    SchedulerKind,
    assignment_indicator,
    assignment_user_rates_bps,
    ewma_update,
    make_scheduler,
    max_weight_assign,
    proportional_fair_assign,
    round_robin_assign,
    served_rates_bps,
)
from ior_ros.core.ran.slot_engines import numba_available, run_slots

ENGINES = ['numpy', 'reference'] + (['numba'] if numba_available() else [])
B_HZ = 180e3


def _rates(rng: np.random.Generator, *shape: int, dtype: type = np.float64) -> np.ndarray:
    """Per-PRB Shannon rates of Rayleigh gains at UE-dependent mean SNRs."""
    n_ue = shape[-2]
    snr = 10.0 ** (np.linspace(25.0, 5.0, n_ue) / 10.0)  # [n_ue]
    g = rng.exponential(2.0, size=shape)
    return np.asarray(shannon_rate_bps(B_HZ, g * snr[:, None]), dtype=dtype)


def _straightforward_pf(rates: np.ndarray, beta: float,
                        initial_avg: float) -> tuple[np.ndarray, np.ndarray]:
    """PF written as plainly as possible, one PRB and one UE at a time (the reference)."""
    n_slots, n_ue, n_prb = rates.shape
    avg = [initial_avg] * n_ue
    assign = np.empty((n_slots, n_prb), dtype=np.int64)
    served_all = np.empty((n_slots, n_ue))
    for t in range(n_slots):
        inv = np.array([1.0 / a for a in avg]).astype(rates.dtype)
        served = np.zeros(n_ue, dtype=rates.dtype)
        for j in range(n_prb):
            best_i, best_m = 0, rates[t, 0, j] * inv[0]
            for i in range(1, n_ue):
                m = rates[t, i, j] * inv[i]
                if m > best_m:
                    best_i, best_m = i, m
            assign[t, j] = best_i
            served[best_i] += rates[t, best_i, j]
        for i in range(n_ue):
            avg[i] = beta * avg[i] + (1.0 - beta) * float(served[i])
        served_all[t] = served
    return assign, served_all


# ------------------------------------------------------------------------------- invariants


@pytest.mark.parametrize('kind', list(SchedulerKind))
def test_each_prb_goes_to_exactly_one_ue(rng: np.random.Generator, kind: SchedulerKind) -> None:
    n_ue, n_prb = 9, 25
    sched = make_scheduler(kind, n_ue)
    for _ in range(50):
        rates = _rates(rng, n_ue, n_prb)
        a = sched.step(rates).assignment
        assert a.shape == (n_prb,)
        assert a.dtype == np.int64
        assert np.all((a >= 0) & (a < n_ue))
        rho = assignment_indicator(a, n_ue)  # [n_ue, n_prb]
        np.testing.assert_array_equal(rho.sum(axis=0), np.ones(n_prb))


def test_pf_metric_is_rate_over_average(rng: np.random.Generator) -> None:
    rates = _rates(rng, 5, 12)
    avg = rng.uniform(1e5, 1e7, size=5)
    a = proportional_fair_assign(rates, avg)
    np.testing.assert_array_equal(a, np.argmax(rates / avg[:, None], axis=0))


def test_pf_ties_go_to_lowest_index() -> None:
    rates = np.array([[1.0, 2.0, 5.0], [1.0, 2.0, 4.0], [1.0, 3.0, 5.0]])
    a = proportional_fair_assign(rates, np.ones(3))
    np.testing.assert_array_equal(a, [0, 2, 0])


def test_pf_with_queues_serves_only_what_is_needed() -> None:
    # rates in bit/s; slot 1 ms, so a PRB carries rate/1000 bits
    rates = np.array([[9e6, 9e6, 9e6, 9e6], [1e6, 1e6, 1e6, 1e6], [2e6, 3e6, 2e6, 3e6]])
    avg = np.ones(3)
    # UE 0 has no data; UE 2 needs 4000 bits: PRBs 0 and 1 (2000 + 3000 bits), then UE 1
    a = proportional_fair_assign(rates, avg, queue_bits=np.array([0.0, 1500.0, 4000.0]))
    np.testing.assert_array_equal(a, [2, 2, 1, 1])
    # UE 1 needs 900 bits: one PRB; after that nobody needs anything: idle PRBs
    a = proportional_fair_assign(rates, avg, queue_bits=np.array([0.0, 900.0, 0.0]))
    np.testing.assert_array_equal(a, [1, NO_UE, NO_UE, NO_UE])
    none = proportional_fair_assign(rates, avg, queue_bits=np.zeros(3))
    np.testing.assert_array_equal(none, [NO_UE] * 4)
    batched = proportional_fair_assign(np.stack([rates, rates]), np.ones((2, 3)),
                                       queue_bits=np.array([[1e9] * 3, [0.0] * 3]))
    np.testing.assert_array_equal(batched, [[0] * 4, [NO_UE] * 4])


def _plain_need_scan(weights: np.ndarray, rates: np.ndarray, queue: np.ndarray,
                     slot_s: float) -> list[int]:
    """Queue-aware argmax, one PRB at a time, written out (weights: per-UE metric factor)."""
    n_ue, n_prb = rates.shape
    remaining = [float(q) for q in queue]
    out = []
    for j in range(n_prb):
        best, best_m = NO_UE, -1.0
        for i in range(n_ue):
            m = float(rates[i, j] * weights[i])
            if remaining[i] > 0.0 and m > best_m:
                best, best_m = i, m
        out.append(best)
        if best >= 0:
            remaining[best] -= float(rates[best, j]) * slot_s
    return out


def _plain_rr(rates: np.ndarray, pointer: int, queue: np.ndarray, slot_s: float) -> list[int]:
    n_ue, n_prb = rates.shape
    remaining = [float(q) for q in queue]
    cursor, out = pointer, []
    for j in range(n_prb):
        chosen = NO_UE
        for k in range(n_ue):
            i = (cursor + k) % n_ue
            if remaining[i] > 0.0:
                chosen = i
                break
        out.append(chosen)
        if chosen >= 0:
            remaining[chosen] -= float(rates[chosen, j]) * slot_s
            cursor = (chosen + 1) % n_ue
    return out


def test_queue_aware_schedulers_equal_a_plain_prb_loop(rng: np.random.Generator) -> None:
    """Mixes cells where some backlog runs out within the slot (PRB scan) and cells where none
    does (one-shot argmax)."""
    n_cells, n_ue, n_prb = 40, 5, 12
    rates = _rates(rng, n_cells, n_ue, n_prb)
    # per cell, backlogs from empty to far more than the slot can carry
    queue = rng.choice([0.0, 500.0, 4e3, 2e4, 1e9], size=(n_cells, n_ue))
    avg = rng.uniform(1e5, 1e7, size=(n_cells, n_ue))
    pointer = rng.integers(0, n_ue, size=n_cells)
    pf = proportional_fair_assign(rates, avg, queue)
    mw = max_weight_assign(rates, queue)
    rr, _ = round_robin_assign(rates, pointer, queue)
    scanned = 0
    for b in range(n_cells):
        inv = 1.0 / avg[b]
        np.testing.assert_array_equal(pf[b], _plain_need_scan(inv, rates[b], queue[b], 1e-3))
        np.testing.assert_array_equal(mw[b], _plain_need_scan(queue[b], rates[b], queue[b],
                                                              1e-3))
        np.testing.assert_array_equal(rr[b], _plain_rr(rates[b], int(pointer[b]), queue[b],
                                                       1e-3))
        scanned += int(np.any(pf[b] == NO_UE))
    assert 0 < scanned < n_cells


def test_step_delivers_at_most_the_backlog() -> None:
    pf = ProportionalFair(2, slot_s=1e-3)
    rates = np.full((2, 5), 1e6)  # 1000 bits per PRB
    decision = pf.step(rates, np.array([2500.0, 0.0]))
    np.testing.assert_array_equal(decision.assignment, [0, 0, 0, NO_UE, NO_UE])
    np.testing.assert_allclose(decision.served_bps, [2.5e6, 0.0])


def test_pf_average_follows_ewma(rng: np.random.Generator) -> None:
    pf = ProportionalFair(4, beta=0.9, initial_avg_bps=10.0)
    rates = _rates(rng, 4, 6)
    decision = pf.step(rates)
    expected = 0.9 * 10.0 + 0.1 * served_rates_bps(decision.assignment, rates)
    np.testing.assert_allclose(pf.avg_throughput_bps, expected, rtol=1e-15)
    np.testing.assert_allclose(ewma_update(np.full(4, 10.0), decision.served_bps, 0.9),
                               expected, rtol=1e-15)
    assert pf.time_constant_slots == pytest.approx(10.0)
    pf.reset()
    np.testing.assert_array_equal(pf.avg_throughput_bps, np.full(4, 10.0))


def test_pf_reaches_proportional_fairness_on_a_static_channel() -> None:
    """Long-run PF throughputs vs max Σ log T_i over fractional PRB time shares (cvxpy)."""
    rng = np.random.default_rng(3)
    n_ue, n_prb = 4, 6
    # static, heterogeneous per-PRB rates [bit/s]
    r = rng.uniform(1.0, 10.0, size=(n_ue, n_prb)) * np.array([1, 2, 4, 8])[:, None] * 1e5
    x = cp.Variable((n_ue, n_prb), nonneg=True)
    throughput = cp.sum(cp.multiply(x, r), axis=1)  # type: ignore[attr-defined]
    objective = cp.Maximize(cp.sum(cp.log(throughput)))  # type: ignore[attr-defined]
    problem = cp.Problem(objective, [cp.sum(x, axis=0) == 1])  # type: ignore[attr-defined]
    problem.solve()  # type: ignore[no-untyped-call]
    optimum = np.asarray(throughput.value)

    pf = ProportionalFair(n_ue, beta=0.99)
    total = np.zeros(n_ue)
    n_slots, burn_in = 8000, 2000
    for t in range(n_slots):
        served = pf.step(r).served_bps
        if t >= burn_in:
            total += served
    long_run = total / (n_slots - burn_in)
    np.testing.assert_allclose(long_run, optimum, rtol=0.02)
    assert np.sum(np.log(long_run)) == pytest.approx(np.sum(np.log(optimum)), abs=1e-3)
    # and it is not simply max-rate: every UE is served
    assert np.all(long_run > 0.05 * optimum.max())


def test_round_robin_gives_equal_shares() -> None:
    n_ue, n_prb = 9, 25
    rr = RoundRobin(n_ue)
    counts = np.zeros(n_ue, dtype=int)
    rates = np.ones((n_ue, n_prb))
    for _ in range(n_ue):  # 9 slots × 25 PRBs = 25 PRBs per UE exactly
        a = rr.step(rates).assignment
        per_slot = np.bincount(a, minlength=n_ue)
        assert per_slot.min() >= n_prb // n_ue and per_slot.max() <= -(-n_prb // n_ue)
        counts += per_slot
    np.testing.assert_array_equal(counts, np.full(n_ue, n_prb))
    rr.reset()
    assert int(rr.pointer) == 0


def test_round_robin_cycles_over_ues_with_data() -> None:
    rates = np.full((4, 5), 1e6)  # 1000 bits per PRB
    a, ptr = round_robin_assign(rates, 2)
    np.testing.assert_array_equal(a, [2, 3, 0, 1, 2])
    assert int(ptr) == 3
    # UE 1 empty, UE 3 needs one PRB only
    a, ptr = round_robin_assign(rates, 2, np.array([1e9, 0.0, 1e9, 500.0]))
    np.testing.assert_array_equal(a, [2, 3, 0, 2, 0])
    assert int(ptr) == 1
    a, ptr = round_robin_assign(rates, 1, np.array([0.0, 1500.0, 0.0, 0.0]))
    np.testing.assert_array_equal(a, [1, 1, NO_UE, NO_UE, NO_UE])
    assert int(ptr) == 2
    a, ptr = round_robin_assign(rates, 1, np.zeros(4))
    np.testing.assert_array_equal(a, [NO_UE] * 5)
    assert int(ptr) == 1
    # batched: each cell keeps its own pointer
    a, ptr = round_robin_assign(np.ones((2, 4, 2)), np.array([0, 3]))
    np.testing.assert_array_equal(a, [[0, 1], [3, 0]])
    np.testing.assert_array_equal(ptr, [2, 1])
    # the object's update gives the same pointer as the function
    rr = RoundRobin(4)
    rr.pointer = np.asarray(2)
    decision = rr.step(rates, np.array([1e9, 0.0, 1e9, 500.0]))
    np.testing.assert_array_equal(decision.assignment, [2, 3, 0, 2, 0])
    assert int(rr.pointer) == 1


def test_max_weight_picks_argmax_queue_times_rate(rng: np.random.Generator) -> None:
    rates = _rates(rng, 6, 10)
    queue = rng.uniform(1e8, 1e9, size=6)  # large: nobody's need runs out within the slot
    queue[2] = 0.0
    a = max_weight_assign(rates, queue)
    for j in range(10):
        products = [queue[i] * rates[i, j] if queue[i] > 0 else -1.0 for i in range(6)]
        assert a[j] == int(np.argmax(products))
    assert 2 not in a
    np.testing.assert_array_equal(max_weight_assign(rates), np.argmax(rates, axis=0))
    np.testing.assert_array_equal(MaxWeight(6).assign(rates, queue), a)
    np.testing.assert_array_equal(max_weight_assign(rates, np.zeros(6)), np.full(10, NO_UE))


# ------------------------------------------------------------------------------- ρ and rates


def test_indicator_and_user_rates_through_rates_py(rng: np.random.Generator) -> None:
    n_ue, n_prb = 4, 8
    snr = rng.exponential(20.0, size=(n_ue, n_prb))
    rates = np.asarray(shannon_rate_bps(B_HZ, snr))
    a = np.array([0, 3, 3, NO_UE, 1, 0, 3, 1])
    rho = assignment_indicator(a, n_ue)
    assert rho.shape == (n_ue, n_prb)
    assert not rho[:, 3].any()
    via_rates_py = assignment_user_rates_bps(a, snr, B_HZ)
    np.testing.assert_allclose(via_rates_py, served_rates_bps(a, rates), rtol=1e-12)
    np.testing.assert_allclose(via_rates_py[2], 0.0)
    batched = assignment_user_rates_bps(np.stack([a, a]), np.stack([snr, snr]), B_HZ)
    np.testing.assert_allclose(batched, [via_rates_py, via_rates_py])


# ------------------------------------------------------------------------------- batched


@pytest.mark.parametrize('kind', list(SchedulerKind))
@pytest.mark.parametrize('with_queues', [False, True])
def test_batched_equals_unbatched(rng: np.random.Generator, kind: SchedulerKind,
                                  with_queues: bool) -> None:
    batch, n_ue, n_prb = 5, 4, 7
    batched = make_scheduler(kind, n_ue, batch, beta=0.95)
    singles = [make_scheduler(kind, n_ue, None, beta=0.95) for _ in range(batch)]
    for _ in range(30):
        rates = _rates(rng, batch, n_ue, n_prb, dtype=np.float32)
        queue = rng.choice([0.0, 3e3, 2e4], size=(batch, n_ue)) if with_queues else None
        got = batched.step(rates, queue)
        for b, sched in enumerate(singles):
            one = sched.step(rates[b], None if queue is None else queue[b])
            np.testing.assert_array_equal(got.assignment[b], one.assignment)
            np.testing.assert_array_equal(got.served_bps[b], one.served_bps)


@pytest.mark.parametrize('use_numba', [False, True])
def test_vectorized_pf_step_equals_per_cell_engine(rng: np.random.Generator,
                                                   use_numba: bool) -> None:
    if use_numba and not numba_available():
        pytest.skip('numba is not installed')
    for dtype in (np.float32, np.float64):
        rates = _rates(rng, 300, 6, 9, 25, dtype=dtype)  # [n_slots, batch, n_ue, n_prb]
        served = run_slots_batched(rates, beta=0.98, use_numba=use_numba)
        for b in range(6):
            _, one = run_slots(rates[:, b], 'proportional_fair', beta=0.98, engine='numpy')
            np.testing.assert_array_equal(served[:, b], one)


# ------------------------------------------------------------------------------- engines


@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('dtype', [np.float64, np.float32])
def test_engines_equal_straightforward_pf_on_same_gains(rng: np.random.Generator, engine: str,
                                                        dtype: type) -> None:
    """The optimized engines and a plain loop simulate the same model: same numbers."""
    rates = _rates(rng, 400, 9, 25, dtype=dtype)
    ref_a, ref_s = _straightforward_pf(rates, 0.98, 1.0)
    a, s = run_slots(rates, 'proportional_fair', beta=0.98, initial_avg_bps=1.0, engine=engine)
    np.testing.assert_array_equal(a, ref_a)
    np.testing.assert_array_equal(s, ref_s)


@pytest.mark.parametrize('kind', list(SchedulerKind))
@pytest.mark.parametrize('traffic', ['full', 'queues'])
def test_all_engines_agree_bit_for_bit(rng: np.random.Generator, kind: SchedulerKind,
                                       traffic: str) -> None:
    rates = _rates(rng, 300, 5, 8, dtype=np.float32)
    arrivals = None
    if traffic == 'queues':
        arrivals = rng.poisson(0.15, size=(300, 5)) * 2000.0
    results = [run_slots(rates, kind, beta=0.97, arrivals_bits=arrivals, engine=e)
               for e in ENGINES]
    for a, s in results[1:]:
        np.testing.assert_array_equal(a, results[0][0])
        np.testing.assert_array_equal(s, results[0][1])
    if traffic == 'queues':
        assert np.any(results[0][0] == NO_UE)  # some slots with no data at all


def test_determinism_same_inputs_same_outputs(rng: np.random.Generator) -> None:
    rates = _rates(rng, 100, 9, 25)
    first = run_slots(rates, 'proportional_fair')
    second = run_slots(rates.copy(), 'proportional_fair')
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


# ------------------------------------------------------------------------------- bad inputs


def test_bad_rate_shapes_name_the_shapes() -> None:
    pf = ProportionalFair(9)
    with pytest.raises(DimensionError, match=r'\(4, 25\).*n_ue = 9'):
        pf.assign(np.ones((4, 25)))
    with pytest.raises(DimensionError, match=r'\(25,\)'):
        pf.assign(np.ones(25))
    batched = ProportionalFair(9, batch_size=3)
    with pytest.raises(DimensionError, match=r'\(2, 9, 25\)'):
        batched.assign(np.ones((2, 9, 25)))
    with pytest.raises(DimensionError, match=r'queue_bits has shape \(8,\)'):
        pf.assign(np.ones((9, 25)), np.ones(8))
    with pytest.raises(DimensionError, match=r'avg_throughput_bps has shape \(3,\)'):
        proportional_fair_assign(np.ones((9, 25)), np.ones(3))
    with pytest.raises(DimensionError, match='assignment has shape'):
        served_rates_bps(np.zeros(24, dtype=int), np.ones((9, 25)))
    with pytest.raises(DimensionError, match=r'expected \[n_slots, n_ue, n_prb\]'):
        run_slots(np.ones((9, 25)))


def test_bad_values_raise_model_error() -> None:
    with pytest.raises(ModelError, match='rates_bps'):
        max_weight_assign(np.array([[1.0, -1.0]]))
    with pytest.raises(ModelError, match='rates_bps'):
        max_weight_assign(np.array([[1.0, math.nan]]))
    with pytest.raises(ModelError, match='beta = 1.0'):
        ProportionalFair(3, beta=1.0)
    with pytest.raises(ModelError, match='initial_avg_bps'):
        ProportionalFair(3, initial_avg_bps=0.0)
    with pytest.raises(ModelError, match='n_ue = 0'):
        RoundRobin(0)
    with pytest.raises(ModelError, match='queue_bits'):
        MaxWeight(2).assign(np.ones((2, 3)), np.array([1.0, -5.0]))
    with pytest.raises(ModelError, match=r'UE indices must be in \[-1, 2\]'):
        assignment_indicator(np.array([0, 3]), 3)
    with pytest.raises(ModelError, match='scheduler kind'):
        make_scheduler('fastest', 3)
    with pytest.raises(ModelError, match='pointer'):
        round_robin_assign(np.ones((3, 4)), 7)
    with pytest.raises(ModelError, match='slot_s'):
        ProportionalFair(3, slot_s=0.0)
    with pytest.raises(ModelError, match="engine = 'warp'"):
        run_slots(np.ones((2, 3, 4)), engine='warp')


def test_batched_pf_step_breaks_ties_like_the_per_cell_engine(rng: np.random.Generator) -> None:
    # rates on a coarse grid: many exact ties in the PF metric
    rates = (rng.integers(0, 3, size=(200, 5, 4, 6)) * 1e6).astype(np.float32)
    per_cell = np.stack([run_slots(rates[:, b], 'proportional_fair', beta=0.9,
                                   engine='numpy')[1] for b in range(5)], axis=1)
    for use_numba in ([False, True] if numba_available() else [False]):
        served = run_slots_batched(rates, beta=0.9, use_numba=use_numba)
        np.testing.assert_array_equal(served, per_cell)
