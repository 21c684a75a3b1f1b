"""Action mapping (constraints 8b-8d) and the baselines (PF, RR, max-weight, DPP)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ior_ros.core.errors import ConfigError, DimensionError, ModelError
from ior_ros.core.ran.schedulers import NO_UE
from ior_ros.core.slicing.baselines import (
    BASELINES,
    dpp_user_costs,
    make_baseline,
    repair_allocation,
)
from ior_ros.core.slicing.env import TeleopSlicingEnv
from ior_ros.core.slicing.spaces import (
    ObservationLayout,
    action_to_prb_counts,
    allocation_matrix,
    assign_prbs,
    check_allocation,
    round_quota,
    shares_to_prb_counts,
)


def test_largest_remainder_closed_form() -> None:
    # spare = 13 - 3 = 10 PRBs at shares 0.5/0.3/0.2: quotas 5/3/2, plus one each
    np.testing.assert_array_equal(shares_to_prb_counts(np.array([0.5, 0.3, 0.2]), 13), [6, 4, 3])
    # quotas 3.4/3.3/3.3 of 10: floors 3/3/3, one left goes to the largest remainder (user 0)
    np.testing.assert_array_equal(shares_to_prb_counts(np.array([0.34, 0.33, 0.33]), 13),
                                  [5, 4, 4])
    # exact ties go to the lower index
    np.testing.assert_array_equal(shares_to_prb_counts(np.ones(4), 6), [2, 2, 1, 1])


@pytest.mark.parametrize('seed', range(5))
def test_counts_constraints_random(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 12))
    k = int(rng.integers(n, 40))
    counts = action_to_prb_counts(rng.uniform(-1, 1, n), k, 3.0)
    assert counts.sum() == k and counts.min() >= 1


def test_rounding_carry_makes_the_time_average_equal_the_share() -> None:
    # 10 users, K = 25: 15 spare PRBs at shares 1 : 1.22 -> quotas 1.351 and 1.649
    shares = np.array([1.0] * 5 + [1.22] * 5)
    quota = shares * 15 / shares.sum()
    stateless = shares_to_prb_counts(shares, 25)
    np.testing.assert_array_equal(stateless, [2] * 5 + [3] * 5)  # the same rounding every slot
    carry = np.zeros(10)
    total = np.zeros(10)
    slots = 2000
    for _ in range(slots):
        counts = shares_to_prb_counts(shares, 25, carry)
        assert counts.sum() == 25 and counts.min() >= 1
        assert np.all(np.abs(carry) < 1.0)
        total += counts
    # the residue stays bounded, so the average misses 1 + quota by at most 1/slots per user
    np.testing.assert_allclose(total / slots, 1.0 + quota, atol=1.0 / slots + 1e-12)


def test_rounding_carry_random_actions_stay_feasible() -> None:
    rng = np.random.default_rng(5)
    carry = np.zeros(7)
    for _ in range(500):
        counts = action_to_prb_counts(rng.uniform(-1, 1, 7), 12, 3.0, carry)
        assert counts.sum() == 12 and counts.min() >= 1
        assert np.all(np.abs(carry) <= 2.0)
    with pytest.raises(DimensionError, match='carry'):
        shares_to_prb_counts(np.ones(3), 5, np.zeros(2))


def test_round_quota_with_negative_quotas() -> None:
    # floors of max(q, 0) are 2 + 2 = 4 > 3: the smallest remainder among the holders gives one
    out = round_quota(np.array([2.9, 2.1, -1.0]), 3)
    np.testing.assert_array_equal(out, [2, 1, 0])
    assert round_quota(np.array([0.5, 0.5, 1.0]), 2).sum() == 2


def test_counts_bad_input() -> None:
    with pytest.raises(ModelError, match='constraint 8d'):
        shares_to_prb_counts(np.ones(5), 4)
    with pytest.raises(ModelError):
        shares_to_prb_counts(np.array([-1.0, 2.0]), 4)


def test_assignment_is_optimal_brute_force() -> None:
    rng = np.random.default_rng(0)
    rates = rng.uniform(1, 10, (3, 5))
    counts = np.array([2, 2, 1])
    owner = assign_prbs(counts, rates)
    best = -np.inf
    for perm in set(itertools.permutations([0, 0, 1, 1, 2])):
        best = max(best, sum(rates[u, j] for j, u in enumerate(perm)))
    assert sum(rates[u, j] for j, u in enumerate(owner)) == pytest.approx(best)
    np.testing.assert_array_equal(np.bincount(owner, minlength=3), counts)
    with pytest.raises(ModelError):
        assign_prbs(np.array([2, 2, 2]), rates)
    with pytest.raises(DimensionError):
        assign_prbs(np.array([5]), rates)


def test_check_allocation_catches_each_constraint() -> None:
    good = allocation_matrix(np.array([0, 1, 1, 2]), 3)
    check_allocation(good, 4)
    two_owners = good.copy()
    two_owners[0, 1] = True
    with pytest.raises(ModelError, match='8b'):
        check_allocation(two_owners, 4)
    starved = allocation_matrix(np.array([0, 1, 1, 1]), 3)
    with pytest.raises(ModelError, match='8d'):
        check_allocation(starved, 4)


def test_observation_layout_partitions_the_vector() -> None:
    layout = ObservationLayout(4, 5)
    covered = np.zeros(layout.size, dtype=int)
    for part in (layout.embb_queue, layout.urllc_queue, layout.urllc_delay, layout.channel,
                 layout.dexterity):
        covered[part] += 1
    assert np.all(covered == 1)


def test_repair_allocation() -> None:
    rates = np.ones((3, 6))
    rates[2, 4] = 5.0
    owner = np.array([0, 0, 0, 1, NO_UE, 1])
    fixed = repair_allocation(owner, rates)
    counts = np.bincount(fixed, minlength=3)
    assert counts.min() >= 1 and counts.sum() == 6
    assert fixed[4] == 2  # the unused PRB goes where it is relatively best


@pytest.mark.parametrize('name', sorted(BASELINES))
def test_baselines_respect_constraints(name: str) -> None:
    env = TeleopSlicingEnv(episode_slots=80)
    baseline = make_baseline(name, env.config)
    env.reset(seed=1)
    baseline.reset()
    for _ in range(80):
        owner = baseline.decide(env.state)
        check_allocation(allocation_matrix(owner, env.config.n_users), env.config.n_prb)
        _, _, _, _, info = env.step_allocation(owner)
        baseline.observe(owner, info)


def test_unknown_baseline() -> None:
    with pytest.raises(ConfigError, match='pf'):
        make_baseline('nope', TeleopSlicingEnv().config)


def run(name: str, slots: int, seed: int) -> dict[str, float]:
    env = TeleopSlicingEnv(episode_slots=slots)
    baseline = make_baseline(name, env.config)
    env.reset(seed=seed)
    baseline.reset()
    counts, viol, queue = [], [], []
    for _ in range(slots):
        owner = baseline.decide(env.state)
        _, _, _, _, info = env.step_allocation(owner)
        baseline.observe(owner, info)
        counts.append(info['prb_counts'])
        viol.append(info['violations'].mean())
        queue.append(info['urllc_queue_packets'].mean())
    c = np.asarray(counts)
    return {'min_share': float(c.mean(axis=0).min()), 'max_share': float(c.mean(axis=0).max()),
            'viol': float(np.mean(viol)), 'queue': float(np.mean(queue))}


def test_pf_and_rr_share_prbs_equally() -> None:
    for name in ('pf', 'rr'):
        stats = run(name, 600, 3)
        assert stats['min_share'] > 2.3 and stats['max_share'] < 2.7


def test_queue_aware_baselines_beat_pf_on_delay() -> None:
    pf, dpp, mw = run('pf', 1500, 7), run('dpp', 1500, 7), run('maxweight', 1500, 7)
    assert dpp['viol'] <= pf['viol'] and mw['viol'] <= pf['viol']
    assert dpp['queue'] < pf['queue']


def test_maxweight_serves_the_longest_queue() -> None:
    env = TeleopSlicingEnv()
    env.reset(seed=0)
    state = env.state._replace(prb_rates_bps=np.ones((10, 25)),
                               urllc_queue_packets=np.array([0.0, 0.0, 500.0, 0.0, 0.0]))
    owner = make_baseline('maxweight', env.config).decide(state)
    assert np.bincount(owner, minlength=10)[7] == 25 - 9


def test_dpp_costs_convex_and_favour_backlog() -> None:
    env = TeleopSlicingEnv()
    env.reset(seed=0)
    state = env.state._replace(urllc_queue_packets=np.array([0.0, 0.0, 300.0, 0.0, 0.0]))
    costs = dpp_user_costs(state, env.config, 16)
    assert np.all(np.diff(costs, n=2, axis=1) >= -1e-9)  # convex in the PRB count
    owner = make_baseline('dpp', env.config).decide(state)
    counts = np.bincount(owner, minlength=10)
    assert counts[7] == counts.max()
