"""The seed-003 slicing environment: API, determinism, constraints, units, reward signs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from ior_ros.core.errors import ConfigError, ModelError
from ior_ros.core.slicing.config import SlicingEnvConfig, make_slicing_config
from ior_ros.core.slicing.env import TeleopSlicingEnv
from ior_ros.core.slicing.reward import (
    delay_constraint_slack,
    lyapunov,
    rate_cost,
    slot_reward,
)
from ior_ros.core.slicing.spaces import allocation_matrix, assign_prbs, check_allocation


def small_env(**overrides: object) -> TeleopSlicingEnv:
    return TeleopSlicingEnv(episode_slots=60, **overrides)


def test_check_env_passes() -> None:
    check_env(small_env(), skip_render_check=True)


def test_check_env_passes_fixed_dexterity() -> None:
    check_env(small_env(task={'mode': 'fixed', 'fixed_di': 0.4}), skip_render_check=True)


def rollout(seed: int, actions: np.ndarray) -> tuple[list[np.ndarray], list[float], list[dict]]:
    env = small_env()
    obs, _ = env.reset(seed=seed)
    observations, rewards, infos = [obs], [], []
    for action in actions:
        obs, reward, _, truncated, info = env.step(action)
        observations.append(obs)
        rewards.append(reward)
        infos.append(info)
        if truncated:
            break
    return observations, rewards, infos


def test_same_seed_same_trajectory_and_other_seed_differs() -> None:
    actions = np.random.default_rng(3).uniform(-1, 1, (60, 10)).astype(np.float32)
    obs_a, rew_a, info_a = rollout(11, actions)
    obs_b, rew_b, info_b = rollout(11, actions)
    for x, y in zip(obs_a, obs_b):
        np.testing.assert_array_equal(x, y)
    assert rew_a == rew_b
    for x, y in zip(info_a, info_b):
        np.testing.assert_array_equal(x['urllc_arrivals'], y['urllc_arrivals'])
        np.testing.assert_array_equal(x['prb_counts'], y['prb_counts'])
    obs_c, rew_c, _ = rollout(12, actions)
    assert rew_c != rew_a


def test_channels_do_not_depend_on_the_decisions() -> None:
    # common random numbers: the same seed gives the same channel whatever the method does
    env_a, env_b = small_env(), small_env()
    env_a.reset(seed=5)
    env_b.reset(seed=5)
    for _ in range(10):
        np.testing.assert_array_equal(env_a.state.prb_rates_bps, env_b.state.prb_rates_bps)
        env_a.step(np.full(10, 1.0, dtype=np.float32))
        env_b.step(np.linspace(-1, 1, 10).astype(np.float32))


def test_prb_constraints_hold_for_random_actions() -> None:
    env = small_env()
    env.reset(seed=0)
    rng = np.random.default_rng(1)
    cfg = env.config
    for _ in range(50):
        action = rng.uniform(-1, 1, cfg.n_users).astype(np.float32)
        state = env.state
        _, _, _, _, info = env.step(action)
        counts = info['prb_counts']
        assert counts.sum() == cfg.n_prb  # 8b
        assert np.all(counts >= 1)  # 8d
        owner = assign_prbs(counts, state.prb_rates_bps)
        check_allocation(allocation_matrix(owner, cfg.n_users), cfg.n_prb)  # 8c
        # eq. 1: the user's rate is the sum of the Shannon rates of its PRBs
        expected = np.bincount(owner, weights=state.prb_rates_bps[owner, np.arange(cfg.n_prb)],
                               minlength=cfg.n_users)
        np.testing.assert_allclose(info['rates_bps'], expected, rtol=1e-12)


def test_extreme_actions_still_give_every_user_a_prb() -> None:
    env = small_env()
    env.reset(seed=0)
    action = -np.ones(10, dtype=np.float32)
    action[0] = 1.0
    _, _, _, _, info = env.step(action)
    assert info['prb_counts'].min() == 1
    assert info['prb_counts'][0] == 25 - 9


def test_shannon_rate_of_one_prb_matches_table_one_snr() -> None:
    env = small_env()
    env.reset(seed=0)
    state = env.state
    # B log2(1 + P |h|^2 / N) with P/N = 20 dBm - (-110 dBm) = 130 dB: > 40 bit/s/Hz per PRB
    se = state.prb_rates_bps / env.config.link.rb_bandwidth_hz
    assert np.all(se > 30) and np.all(se < 60)


@pytest.mark.parametrize(('field', 'value', 'allowed'), [
    ('n_prb', 8, 'n_embb + n_urllc = 10'),
    ('urllc_base_arrival_rate_pps', -1.0, 'greater than or equal to 0'),
    ('embb_arrival_rate_pps', -5.0, 'greater than or equal to 0'),
    ('reliability', 0.0, '(0, 1]'),
    ('reliability', 1.5, '(0, 1]'),
    ('link', {'rb_bandwidth_hz': 500e3}, 'carrier_bandwidth_hz'),
])
def test_bad_config_names_the_field(field: str, value: float, allowed: str) -> None:
    with pytest.raises(ConfigError) as info:
        TeleopSlicingEnv(**{field: value})
    message = str(info.value)
    assert f"'{field}'" in message
    assert allowed in message


def test_bad_task_period_names_the_field() -> None:
    with pytest.raises(ConfigError, match='control_period_s'):
        make_slicing_config(task={'control_period_s': 0.0105})


def test_reliability_of_one_is_allowed() -> None:
    assert make_slicing_config(reliability=1.0).reliability == 1.0


def test_negative_rates_rejected_by_the_reward() -> None:
    with pytest.raises(ModelError, match='rates_bps'):
        rate_cost(np.array([-1.0, 2.0]), 20e6, 1e-3)


def test_bad_actions_rejected() -> None:
    env = small_env()
    env.reset(seed=0)
    with pytest.raises(ModelError, match='NaN'):
        env.step(np.full(10, np.nan, dtype=np.float32))
    with pytest.raises(Exception, match='shape'):
        env.step(np.zeros(3, dtype=np.float32))
    with pytest.raises(ModelError, match='multiplier'):
        env.lagrange_multiplier = -1.0


# -------------------------------------------------------------------------------------------
# the reward: eqs. 10-14 and the sign of eq. 12


def test_delay_constraint_sign_means_reliability() -> None:
    chi, d_max, a1 = 0.95, 0.02, 1e-5
    # tail exp(-a1 r D) <= 1 - chi  <=>  r >= ln(1/(1-chi)) / (a1 D)
    r_star = math.log(1.0 / (1.0 - chi)) / (a1 * d_max)
    slack = delay_constraint_slack(np.array([0.5 * r_star, r_star, 2.0 * r_star]), a1, d_max,
                                   chi)
    assert slack[0] < 0  # tail too heavy: constraint violated
    assert abs(slack[1]) < 1e-12
    assert slack[2] > 0  # tail light enough: satisfied
    # a backlog that fills the deadline makes the tail 1: the worst slack
    full = delay_constraint_slack(np.array([2 * r_star]), a1, d_max, chi,
                                  backlog_bits=np.array([2 * r_star * d_max]))
    assert full[0] == pytest.approx(-chi)


def test_lagrangian_sign_and_agent_split() -> None:
    parts = slot_reward(drift_embb=0.2, drift_urllc=-0.1, cost_embb=3.0, cost_urllc=2.0,
                        slack=-0.5, penalty_weight=0.1, multiplier=2.0)
    # -L_a = -(ΔL + V h - λ y)
    assert parts.reward == pytest.approx(-(0.1 + 0.1 * 5.0 - 2.0 * -0.5))
    assert parts.reward == pytest.approx(parts.reward_embb + parts.reward_urllc)
    assert parts.reward_urllc == pytest.approx(parts.reward_urllc_unconstrained + 2.0 * -0.5)
    # a violated constraint (y < 0) costs more as λ grows; a satisfied one earns
    worse = slot_reward(0.2, -0.1, 3.0, 2.0, -0.5, 0.1, 4.0)
    better = slot_reward(0.2, -0.1, 3.0, 2.0, 0.5, 0.1, 4.0)
    assert worse.reward < parts.reward < better.reward
    with pytest.raises(ModelError):
        slot_reward(0, 0, 0, 0, 0, 0.1, -1.0)


def test_env_reward_is_the_lagrangian_of_its_info() -> None:
    env = small_env(lagrange_multiplier=1.5)
    env.reset(seed=2)
    cfg = env.config
    queues_before = np.r_[env.state.embb_queue_packets, env.state.urllc_queue_packets]
    for _ in range(5):
        _, reward, _, _, info = env.step(np.zeros(10, dtype=np.float32))
    lyap_e = lyapunov(info['embb_queue_packets'], cfg.embb_queue_reference_packets)
    assert info['lyapunov_embb'] == pytest.approx(lyap_e)
    cost = rate_cost(info['rates_bps'], cfg.rate_reference_bps, cfg.rate_epsilon)
    assert info['cost_embb'] + info['cost_urllc'] == pytest.approx(cost.sum())
    expected = -(info['drift_embb'] + info['drift_urllc']
                 + cfg.penalty_weight * cost.sum() - 1.5 * info['constraint_slack'])
    assert reward == pytest.approx(expected)
    assert queues_before.sum() == 0


def test_serving_a_backlog_earns_more_than_starving_it() -> None:
    # same state, two decisions: the one that drains the long URLLC queue has the better drift
    results = []
    for favour_urllc in (True, False):
        env = small_env(task={'mode': 'fixed', 'fixed_di': 0.5})
        env.reset(seed=4)
        for _ in range(30):  # build URLLC backlog by starving URLLC users
            env.step(np.r_[np.ones(5), -np.ones(5)].astype(np.float32))
        action = np.r_[-np.ones(5), np.ones(5)] if favour_urllc else np.r_[np.ones(5),
                                                                           -np.ones(5)]
        _, _, _, _, info = env.step(action.astype(np.float32))
        results.append(info['drift_urllc'])
    assert results[0] < 0 < results[1]


# -------------------------------------------------------------------------------------------
# arrivals (eq. 2) and the robots (eq. 3) in the loop


def test_modified_poisson_arrivals_fall_with_rate() -> None:
    # eq. 2 with r in packets/s: mean per slot (λ0 - α r / L) τ; higher rate, fewer commands
    means = []
    for rate in (0.0, 40e6):
        env = TeleopSlicingEnv(episode_slots=400, task={'mode': 'fixed', 'fixed_di': 0.5})
        env.reset(seed=9)
        counts = []
        for _ in range(400):
            env._prev_rates[:] = rate  # the operator sees the previous slot's rate
            _, _, _, _, info = env.step(np.zeros(10, dtype=np.float32))
            counts.append(info['urllc_arrivals'])
        means.append(float(np.mean(counts)))
    cfg = SlicingEnvConfig()
    expected = [cfg.urllc_base_arrival_rate_pps * cfg.slot_s,
                (cfg.urllc_base_arrival_rate_pps - 0.1 * 40e6 / cfg.urllc_packet_bits)
                * cfg.slot_s]
    assert means[0] == pytest.approx(expected[0], rel=0.05)
    assert means[1] == pytest.approx(expected[1], rel=0.05)


def test_closed_loop_dexterity_responds_to_delay() -> None:
    from ior_ros.core.slicing.teleop_tracking import TrackingDexterity
    cfg = make_slicing_config()
    values = []
    for delay in (0.001, 0.3):
        model = TrackingDexterity(cfg)
        model.reset(np.random.default_rng(0))
        di = [model.advance(np.full(cfg.n_urllc, delay)) for _ in range(300)]
        values.append(float(np.mean(di[50:])))
        assert np.all((np.asarray(di) >= 0) & (np.asarray(di) <= 1))
    assert values[1] < values[0] - 0.2  # long command delays ruin the tracking


def test_closed_loop_dexterity_is_the_one_tracking_dynamics() -> None:
    """Replaying the robots' delays, disturbances and LQR commands through the bare transition
    gives their states bit for bit, recoveries included."""
    from ior_ros.core.control.control_config import TrackingConfig
    from ior_ros.core.control.figure_eight import FigureEight
    from ior_ros.core.control.lqr_design import dlqr, reference_lqr_weights
    from ior_ros.core.control.robot_models import planar_double_integrator
    from ior_ros.core.control.tracking_dynamics import (
        command_delay_steps,
        diverged,
        initial_disturbance,
        initial_state,
        next_disturbance,
        recover,
        tracking_params,
        transition,
    )
    from ior_ros.core.slicing.teleop_tracking import TrackingDexterity
    cfg = make_slicing_config(task={'reference': {'amplitude_m': 2.0, 'speed_scale': 1.5}})
    n = cfg.n_urllc
    model = TrackingDexterity(cfg)
    model.reset(np.random.default_rng(5))
    rng = np.random.default_rng(6)
    # short delays, then long ones (unstable: robots diverge and are recovered), then short
    delays = np.concatenate([rng.uniform(0, 0.03, (300, n)), rng.uniform(0.15, 0.4, (300, n)),
                             rng.uniform(0, 0.03, (200, n))])
    params = tracking_params(TrackingConfig(), 0.01,
                             reference=FigureEight(2.0, 8.0 / 1.5))
    gain = dlqr(planar_double_integrator(0.01), reference_lqr_weights()).gain
    replay_rng = np.random.default_rng(5)
    hold = initial_disturbance(replay_rng, params, n)
    state = initial_state(params, n, held_command_mps2=params.reference.state([0.0])[1][0])
    recovered = 0
    for k, delay in enumerate(delays):
        model.advance(delay)
        ref_state, acc = params.reference.state([k * 0.01])
        error = state.x - ref_state[0]
        disturbance = next_disturbance(hold, k, replay_rng, params)
        hold = disturbance.hold_mps2
        state = transition(state, acc - error @ gain.T, command_delay_steps(delay, 0.01),
                           disturbance, params)
        lost = diverged(error, params)
        recovered += int(lost.sum())
        state = recover(state, lost, params)
        np.testing.assert_array_equal(model.state.x, state.x)
        np.testing.assert_array_equal(model.state.buffer.held_mps2, state.buffer.held_mps2)
    assert recovered > 0
