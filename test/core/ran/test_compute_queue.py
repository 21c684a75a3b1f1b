"""BS compute queue: exact simulation against closed forms, the event loop and invariants."""

from __future__ import annotations

import numpy as np
import pytest

from ior_ros.core.errors import ModelError, QueueStabilityError
from ior_ros.core.ran import compute_queue as cq
from ior_ros.core.ran import traffic as tr

LOADS = [(0.1, 0.3), (0.3, 0.5), (0.2, 0.6), (0.4, 0.4), (0.6, 0.2), (0.05, 0.75)]


@pytest.mark.parametrize('rho_u, rho_e', LOADS)
def test_preemptive_priority_matches_closed_form(rho_u: float, rho_e: float) -> None:
    mu = 1000.0
    res = cq.simulate_poisson_classes(rho_u * mu, rho_e * mu, mu, mu, 1_000_000,
                                      np.random.default_rng(1), 'preemptive_resume')
    t_u, t_e = cq.preemptive_priority_mean_sojourn_s(rho_u * mu, mu, rho_e * mu, mu)
    assert res.urllc.mean_sojourn_s == pytest.approx(t_u, rel=0.05)
    assert res.embb.mean_sojourn_s == pytest.approx(t_e, rel=0.05)


@pytest.mark.parametrize('rho_u, rho_e', LOADS)
def test_fifo_matches_mm1(rho_u: float, rho_e: float) -> None:
    mu = 1000.0
    res = cq.simulate_poisson_classes(rho_u * mu, rho_e * mu, mu, mu, 1_000_000,
                                      np.random.default_rng(1), 'fifo')
    t = cq.mm1_mean_sojourn_s((rho_u + rho_e) * mu, mu)
    assert cq.fifo_two_class_mean_sojourn_s(rho_u * mu, mu, rho_e * mu, mu) == \
        pytest.approx((t, t))
    assert res.urllc.mean_sojourn_s == pytest.approx(t, rel=0.05)
    assert res.embb.mean_sojourn_s == pytest.approx(t, rel=0.05)


def test_class_specific_service_rates() -> None:
    # URLLC work 8x shorter than eMBB: Kleinrock's formula and Pollaczek-Khinchine
    lam_u, mu_u, lam_e, mu_e = 2400.0, 8000.0, 400.0, 1000.0  # loads 0.3 + 0.4
    rng = np.random.default_rng(2)
    pr = cq.simulate_poisson_classes(lam_u, lam_e, mu_u, mu_e, 1_000_000, rng,
                                     'preemptive_resume')
    t_u, t_e = cq.preemptive_priority_mean_sojourn_s(lam_u, mu_u, lam_e, mu_e)
    assert pr.urllc.mean_sojourn_s == pytest.approx(t_u, rel=0.05)
    assert pr.embb.mean_sojourn_s == pytest.approx(t_e, rel=0.05)
    ff = cq.simulate_poisson_classes(lam_u, lam_e, mu_u, mu_e, 1_000_000,
                                     np.random.default_rng(2), 'fifo')
    f_u, f_e = cq.fifo_two_class_mean_sojourn_s(lam_u, mu_u, lam_e, mu_e)
    assert ff.urllc.mean_sojourn_s == pytest.approx(f_u, rel=0.05)
    assert ff.embb.mean_sojourn_s == pytest.approx(f_e, rel=0.05)
    # priority helps URLLC and costs eMBB
    assert t_u < f_u and t_e > f_e


def test_batch_arrivals_match_mx_m1() -> None:
    rng = np.random.default_rng(3)
    arr = tr.compound_poisson_arrivals(250.0, 6.0, 400.0, rng)
    mu = 4000.0
    work = rng.exponential(1 / mu, arr.n_packets)
    res = cq.simulate_compute_queue(arr.times_s, work, np.zeros(0), np.zeros(0),
                                    'preemptive_resume')
    mean, second = tr.batch_size_moments(6.0)
    expected = cq.mxm1_mean_sojourn_s(250.0, mean, second, mu)
    assert res.urllc.mean_sojourn_s == pytest.approx(expected, rel=0.05)


def _streams(seed: int, horizon: float = 5.0):
    rng = np.random.default_rng(seed)
    u = tr.compound_poisson_arrivals(300.0, 4.0, horizon, rng)
    u_work = rng.exponential(1 / 8000.0, u.n_packets)
    e = tr.poisson_arrival_times(600.0, horizon, rng)
    e_work = rng.exponential(1 / 1500.0, e.size)
    return u.times_s, u_work, e, e_work


@pytest.mark.parametrize('discipline, beta, max_wait', [
    ('fifo', 1.0, None), ('preemptive_resume', 1.0, None), ('shared_exclusive', 0.6, None),
    ('shared_exclusive', 0.25, None), ('euad', 0.3, None), ('euad', 0.3, 1e-3)])
def test_fast_path_equals_event_loop(discipline: str, beta: float, max_wait) -> None:
    u, uw, e, ew = _streams(11)
    fast = cq.simulate_compute_queue(u, uw, e, ew, discipline, beta, max_wait)
    slow = cq.simulate_compute_queue_events(u, uw, e, ew, discipline, beta, max_wait)
    for a, b in ((fast.urllc, slow.urllc), (fast.embb, slow.embb)):
        assert np.array_equal(np.isnan(a.departure_s), np.isnan(b.departure_s))
        ok = ~np.isnan(a.departure_s)
        assert np.allclose(a.departure_s[ok], b.departure_s[ok], rtol=0, atol=1e-9)


def test_shared_part_one_is_preemptive_priority() -> None:
    u, uw, e, ew = _streams(4)
    a = cq.simulate_compute_queue(u, uw, e, ew, 'shared_exclusive', 1.0)
    b = cq.simulate_compute_queue(u, uw, e, ew, 'preemptive_resume')
    assert np.array_equal(a.urllc.departure_s, b.urllc.departure_s)
    assert np.allclose(a.embb.departure_s, b.embb.departure_s, atol=1e-12)


def test_urllc_never_sees_embb_under_priority() -> None:
    u, uw, e, ew = _streams(5)
    with_embb = cq.simulate_compute_queue(u, uw, e, ew, 'shared_exclusive', 0.5)
    alone = cq.simulate_compute_queue(u, uw, np.zeros(0), np.zeros(0), 'shared_exclusive', 0.5)
    assert np.array_equal(with_embb.urllc.departure_s, alone.urllc.departure_s)


def test_shared_part_serves_urllc_at_beta_mu() -> None:
    rng = np.random.default_rng(6)
    arr = tr.compound_poisson_arrivals(250.0, 6.0, 400.0, rng)
    mu, beta = 20_000.0, 0.3
    work = rng.exponential(1 / mu, arr.n_packets)
    e = tr.poisson_arrival_times(700.0, 400.0, rng)
    res = cq.simulate_compute_queue(arr.times_s, work, e, rng.exponential(1 / 1375.0, e.size),
                                    'shared_exclusive', beta)
    mean, second = tr.batch_size_moments(6.0)
    assert res.urllc.mean_sojourn_s == pytest.approx(
        cq.mxm1_mean_sojourn_s(250.0, mean, second, beta * mu), rel=0.05)


def test_euad_embb_is_mm1_on_its_part() -> None:
    rng = np.random.default_rng(7)
    lam_e, mu_e, beta = 600.0, 1500.0, 0.3
    e = tr.poisson_arrival_times(lam_e, 2000.0, rng)
    res = cq.simulate_compute_queue(np.zeros(0), np.zeros(0), e,
                                    rng.exponential(1 / mu_e, e.size), 'euad', beta)
    assert res.embb.mean_sojourn_s == pytest.approx(
        cq.mm1_mean_sojourn_s(lam_e, (1 - beta) * mu_e), rel=0.05)


def test_euad_active_dropping_bounds_the_wait() -> None:
    u, uw, e, ew = _streams(8)
    beta, max_wait = 0.2, 1e-3
    res = cq.simulate_compute_queue(u, uw, e, ew, 'euad', beta, max_wait)
    served = res.urllc.served_mask
    assert res.urllc.dropped > 0
    wait = res.urllc.departure_s[served] - u[served] - uw[served] / beta
    assert wait.max() <= max_wait + 1e-12
    assert res.urllc.served + res.urllc.dropped == u.size


def _time_average_in_system(arrival: np.ndarray, departure: np.ndarray, t_end: float) -> float:
    """∫ N(t) dt / t_end from the arrival and departure instants (N counted, not summed)."""
    times = np.concatenate((arrival, departure))
    steps = np.concatenate((np.ones(arrival.size), -np.ones(departure.size)))
    order = np.argsort(times, kind='stable')
    t_sorted = np.append(times[order], t_end)
    n_in = np.cumsum(steps[order])
    inside = t_sorted[:-1] < t_end
    return float(np.sum((n_in * np.diff(np.minimum(t_sorted, t_end)))[inside])) / t_end


@pytest.mark.parametrize('discipline', ['fifo', 'preemptive_resume'])
def test_little_law_with_the_closed_form(discipline: str) -> None:
    # time-average number in system, counted from the event instants, equals λ T of the
    # closed form (Little's law L = λ W), for each class
    mu, lam_u, lam_e = 1000.0, 300.0, 400.0
    res = cq.simulate_poisson_classes(lam_u, lam_e, mu, mu, 1_000_000, np.random.default_rng(4),
                                      discipline)
    t_end = float(res.embb.arrival_s[-1])
    if discipline == 'fifo':
        w_u, w_e = cq.fifo_two_class_mean_sojourn_s(lam_u, mu, lam_e, mu)
    else:
        w_u, w_e = cq.preemptive_priority_mean_sojourn_s(lam_u, mu, lam_e, mu)
    for stats, lam, w in ((res.urllc, lam_u, w_u), (res.embb, lam_e, w_e)):
        n_avg = _time_average_in_system(stats.arrival_s, stats.departure_s, t_end)
        assert n_avg == pytest.approx(lam * w, rel=0.05)


@pytest.mark.parametrize('discipline, beta', [('fifo', 1.0), ('preemptive_resume', 1.0),
                                               ('shared_exclusive', 0.4), ('euad', 0.4)])
def test_no_packet_leaves_before_its_own_processing(discipline: str, beta: float) -> None:
    u, uw, e, ew = _streams(9, horizon=20.0)
    res = cq.simulate_compute_queue(u, uw, e, ew, discipline, beta)
    # the fastest a packet can be processed is on all the compute it may use
    u_rate = beta if discipline in ('shared_exclusive', 'euad') else 1.0
    e_rate = 1.0 - beta if discipline == 'euad' else 1.0
    assert np.all(res.urllc.departure_s >= u + uw / u_rate - 1e-12)
    assert np.all(res.embb.departure_s >= e + ew / e_rate - 1e-12)
    # FIFO within each class
    assert np.all(np.diff(res.urllc.departure_s) >= 0)
    assert np.all(np.diff(res.embb.departure_s) >= 0)


def test_fifo_is_work_conserving() -> None:
    # a FIFO server is busy exactly while work is present: it ends at A + total work when the
    # queue never empties after the first arrival
    arr = np.array([0.0, 0.1, 0.1, 0.2])
    work = np.array([1.0, 0.5, 0.25, 0.25])
    dep = cq.lindley_departures(arr, work)
    assert np.allclose(dep, [1.0, 1.5, 1.75, 2.0])


def test_same_seed_same_result() -> None:
    a = cq.simulate_poisson_classes(300, 400, 1000, 1000, 50_000, np.random.default_rng(3),
                                    'preemptive_resume')
    b = cq.simulate_poisson_classes(300, 400, 1000, 1000, 50_000, np.random.default_rng(3),
                                    'preemptive_resume')
    assert np.array_equal(a.embb.departure_s, b.embb.departure_s)
    assert a.as_dict() == b.as_dict()


def test_unstable_load_is_refused() -> None:
    with pytest.raises(QueueStabilityError, match='load'):
        cq.simulate_poisson_classes(600, 500, 1000, 1000, 1000, np.random.default_rng(0),
                                    'fifo')
    with pytest.raises(QueueStabilityError, match='must be < 1'):
        cq.preemptive_priority_mean_sojourn_s(500, 1000, 500, 1000)
    with pytest.raises(QueueStabilityError):
        cq.mm1_mean_sojourn_s(10.0, 10.0)
    with pytest.raises(QueueStabilityError):
        cq.mxm1_mean_sojourn_s(100.0, 6.0, 42.0, 500.0)


@pytest.mark.parametrize('kwargs, match', [
    ({'lambda_urllc': -1.0}, 'lambda_urllc'), ({'mu_embb': 0.0}, 'mu_embb'),
    ({'n_packets': 0}, 'n_packets'), ({'shared_fraction': 1.5}, 'shared_fraction')])
def test_bad_arguments(kwargs: dict, match: str) -> None:
    args = {'lambda_urllc': 100.0, 'lambda_embb': 100.0, 'mu_urllc': 1000.0, 'mu_embb': 1000.0,
            'n_packets': 100, 'rng': np.random.default_rng(0),
            'discipline': 'shared_exclusive', 'shared_fraction': 0.5}
    args.update(kwargs)
    with pytest.raises(ModelError, match=match):
        cq.simulate_poisson_classes(**args)


def test_unsorted_arrivals_are_refused() -> None:
    with pytest.raises(ModelError, match='non-decreasing'):
        cq.simulate_compute_queue(np.array([1.0, 0.5]), np.ones(2), np.zeros(0), np.zeros(0),
                                  'fifo')
