"""The one tracking dynamics: reference, delayed-command buffer, disturbance, plant, recovery."""

from __future__ import annotations

import numpy as np
import pytest

from ior_ros.core.control.control_config import (
    ControlConfig,
    CurvatureMetric,
    PlantModel,
    ReferenceConfig,
    TrackingConfig,
)
from ior_ros.core.control.figure_eight import FigureEight
from ior_ros.core.control.lifted_stability import input_delay_spectral_radius
from ior_ros.core.control.tracking_dynamics import (
    Disturbance,
    disturbance_sequence,
    diverged,
    in_flight_commands,
    initial_disturbance,
    initial_state,
    newest_command_age,
    next_disturbance,
    position_error,
    recover,
    reference_phase,
    tracking_error,
    tracking_params,
    transition,
)
from ior_ros.core.control.tracking_score import curvature_error, heading_error_deg, tracking_reward
from ior_ros.core.errors import DimensionError, ModelError

QUIET = TrackingConfig(disturbance_std_mps2=0.0, noise_std_mps2=0.0)


def _calm(runs: int) -> Disturbance:
    return Disturbance(np.zeros((runs, 2)), np.zeros((runs, 2)))


def _lqr_run(gain: np.ndarray, delay: int, steps: int, offset_m: float) -> np.ndarray:
    """
    Position error [steps] of the LQR loop with a constant delay and no disturbance, on a slow
    figure eight (1000 s: the feed-forward's zero-order-hold residual, O(T a ω³ / K_p), is
    negligible), so the error obeys the delayed loop ``e(k+1) = A e(k) - B K e(k - d)``.
    """
    params = tracking_params(QUIET.model_copy(update={'reference': ReferenceConfig(
        period_s=1000.0)}), 0.01)
    state = initial_state(params, 1, position_offset_m=[offset_m, -offset_m])
    errors = []
    for _ in range(steps):
        error = tracking_error(state, params)
        errors.append(float(position_error(error)[0]))
        _, acc = params.reference.state([state.time_offset_s + state.step * 0.01])
        command = acc - error @ gain.T
        state = transition(state, command, delay, _calm(1), params)
    return np.array(errors)


# ---- reference


def test_figure_eight_derivatives() -> None:
    ref = FigureEight(1.0, 10.0)
    t = np.linspace(0.0, 10.0, 2001)
    dt = t[1] - t[0]
    sample = ref.sample(t)
    np.testing.assert_allclose(np.gradient(sample.position_m, dt, axis=0)[1:-1],
                               sample.velocity_mps[1:-1], atol=1e-4)
    np.testing.assert_allclose(np.gradient(sample.velocity_mps, dt, axis=0)[1:-1],
                               sample.acceleration_mps2[1:-1], atol=1e-4)
    # |v|² = a²ω² (cos² ωt + cos² 2ωt) >= a²ω² · 7/16 (at cos² ωt = 3/8): never at rest
    speed = np.hypot(sample.velocity_mps[:, 0], sample.velocity_mps[:, 1])
    assert np.min(speed) == pytest.approx(2 * np.pi / 10.0 * np.sqrt(7 / 16), rel=1e-4)
    state, acc = ref.state(t)
    np.testing.assert_array_equal(state[:, [0, 2]], sample.position_m)
    np.testing.assert_array_equal(state[:, [1, 3]], sample.velocity_mps)
    np.testing.assert_array_equal(acc, sample.acceleration_mps2)


def test_one_reference_naming_with_a_speed_scale() -> None:
    fast = FigureEight.from_config(ReferenceConfig(amplitude_m=4.0, period_s=8.0, speed_scale=2.0))
    assert (fast.amplitude_m, fast.period_s) == (4.0, 4.0)
    assert fast.omega_radps == pytest.approx(2 * np.pi / 4.0)
    # old flat keys still load, into the same fields
    assert TrackingConfig(amplitude_m=2.0, period_s=6.0).reference == ReferenceConfig(
        amplitude_m=2.0, period_s=6.0)
    assert ControlConfig.model_validate({'tracking': {'period_s': 12.0}}).tracking.reference \
        == ReferenceConfig(period_s=12.0)
    # an old key beside the new section overrides that field only
    both = TrackingConfig.model_validate({'reference': {'amplitude_m': 3.0}, 'period_s': 5.0})
    assert both.reference == ReferenceConfig(amplitude_m=3.0, period_s=5.0)


# ---- plant and controller: closed forms


def test_open_loop_is_the_delayed_double_integrator() -> None:
    """Zero disturbance, constant delay d: x(k+1) = A x(k) + B u(k - d), pre-history held."""
    params = tracking_params(QUIET, 0.01)
    d = 3
    state = initial_state(params, 2, held_command_mps2=[0.5, -0.25])
    rng = np.random.default_rng(0)
    commands = rng.normal(size=(40, 2, 2))
    x = state.x.copy()
    for k in range(40):
        applied = commands[k - d] if k >= d else np.tile([0.5, -0.25], (2, 1))
        x = x @ params.a.T + applied @ params.b.T
        state = transition(state, commands[k], d, _calm(2), params)
        np.testing.assert_array_equal(state.x, x)
        np.testing.assert_array_equal(state.accel_mps2, applied)
    assert state.step == 40


def test_zero_delay_lqr_loop_converges_to_the_reference(plant, nominal_gain) -> None:
    errors = _lqr_run(nominal_gain, 0, 1500, 0.05)
    assert errors[0] == pytest.approx(0.05 * np.sqrt(2))
    assert errors[-1] < 1e-9
    # the decay is the loop's: ρ(A - BK) per sample, up to the residual
    rho = input_delay_spectral_radius(plant.A, plant.B, nominal_gain, 0)
    assert errors[200] / errors[0] < 2 * rho ** 200


def test_constant_delay_growth_matches_the_exact_test(plant, nominal_gain) -> None:
    """Beyond the nominal margin (13 samples) the error grows at ρ(𝒜(d)) per sample."""
    stable = _lqr_run(nominal_gain, 10, 1500, 0.02)
    assert stable[-1] < 0.02 * 1e-3
    unstable = _lqr_run(nominal_gain, 25, 700, 0.001)
    rho = input_delay_spectral_radius(plant.A, plant.B, nominal_gain, 25)
    assert rho > 1.0
    # growth of the envelope (the dominant mode oscillates) over 300 samples
    measured = (unstable[600:700].max() / unstable[300:400].max()) ** (1 / 300)
    assert measured == pytest.approx(rho, rel=2e-3)


# ---- the delayed-command buffer


def test_newest_command_age_by_hand() -> None:
    # sent at 0..5 with delays 2, 0, 3, 0, 0, 1 arrive at 2, 1, 5, 3, 4, 6
    tau = newest_command_age(np.array([2, 0, 3, 0, 0, 1]))
    # newest sent among arrived at k: -1, 1, 1, 3, 4, 4 (command 2 arrives late and is stale)
    np.testing.assert_array_equal(tau, [1, 0, 1, 0, 0, 1])


def test_the_newest_arrived_command_holds_and_a_stale_one_is_never_applied() -> None:
    params = tracking_params(QUIET, 0.01)
    state = initial_state(params, 1, held_command_mps2=[-1.0, -1.0])
    applied = []
    for k, d in enumerate([2, 0, 3, 0, 0, 1]):
        state = transition(state, [[float(k), 10.0 * k]], [d], _calm(1), params)
        applied.append(state.accel_mps2[0, 0])
    # held: pre-history, 1, 1, 3, 4, 4 — command 2 (arrives at 5) was overtaken by 3 and 4
    assert applied == [-1.0, 1.0, 1.0, 3.0, 4.0, 4.0]
    assert state.buffer.held_index[0] == 4


@pytest.mark.parametrize('runs', [1, 5])
def test_buffer_equals_the_closed_form_for_random_delays(runs: int) -> None:
    """Random delays up to 40 samples from a ring of 1 (it grows): held = k - τ(k)."""
    params = tracking_params(QUIET, 0.01)
    rng = np.random.default_rng(runs)
    delays = rng.integers(0, 41, size=(runs, 300))
    delays[:, 100:130] = 0  # a burst of fresh commands after long delays
    state = initial_state(params, runs)
    for k in range(300):
        state = transition(state, np.full((runs, 2), float(k)), delays[:, k], _calm(runs),
                           params)
        for r in range(runs):
            expected = k - newest_command_age(delays[r])[k]
            assert state.buffer.held_index[r] == expected
            if expected >= 0:
                assert state.accel_mps2[r, 0] == float(expected)
    assert state.buffer.capacity >= 41


def test_stop_command_brakes_locally() -> None:
    params = tracking_params(QUIET, 0.01)
    state = initial_state(params, 2)
    state = transition(state, np.ones((2, 2)), 0, _calm(2), params, stop=[True, False])
    velocity = state.x[:, [1, 3]]
    following = transition(state, np.ones((2, 2)), 5, _calm(2), params)  # still holds the stop
    np.testing.assert_allclose(following.accel_mps2[0], -2.0 * velocity[0])
    np.testing.assert_array_equal(following.accel_mps2[1], [1.0, 1.0])


def test_in_flight_commands_at_the_start() -> None:
    """The twin's start: d commands sent before k = 0, each d samples late."""
    params = tracking_params(QUIET, 0.01)
    d = 3
    flying = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    state = initial_state(params, 1, in_flight_mps2=flying, in_flight_delay_steps=np.full(d, d))
    np.testing.assert_array_equal(in_flight_commands(state, d)[0], flying)
    for k in range(5):
        state = transition(state, [[10.0 + k, 0.0]], d, _calm(1), params)
        assert state.accel_mps2[0, 0] == (flying[k, 0] if k < d else 10.0 + k - d)
    np.testing.assert_array_equal(in_flight_commands(state, d)[0, :, 0], [12.0, 13.0, 14.0])


def test_transition_is_pure_and_checks_its_inputs() -> None:
    params = tracking_params(TrackingConfig(), 0.01)
    state = initial_state(params, 3)
    before = [np.array(a, copy=True) for a in (state.x, *state.buffer)]
    transition(state, np.ones((3, 2)), [0, 1, 2], _calm(3), params)
    for old, new in zip(before, (state.x, *state.buffer)):
        np.testing.assert_array_equal(old, new)
    with pytest.raises(DimensionError, match=r'\(3, 2\)'):
        transition(state, np.ones((2, 2)), 0, _calm(3), params)
    with pytest.raises(ModelError, match='>= 0'):
        transition(state, np.ones((3, 2)), [0, -1, 0], _calm(3), params)


# ---- disturbance, divergence, score pieces


def test_same_generator_seed_same_trajectory() -> None:
    params = tracking_params(TrackingConfig(), 0.01)

    def roll(seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        state = initial_state(params, 4)
        hold = initial_disturbance(rng, params, 4)
        out = []
        for k in range(120):
            disturbance = next_disturbance(hold, k, rng, params)
            hold = disturbance.hold_mps2
            state = transition(state, np.zeros((4, 2)), k % 7, disturbance, params)
            out.append(state.x)
        return np.array(out)

    np.testing.assert_array_equal(roll(3), roll(3))
    assert not np.array_equal(roll(3), roll(4))
    # the piecewise-constant part is redrawn every hold period (50 samples), the noise every one
    rng = np.random.default_rng(0)
    hold = initial_disturbance(rng, params, 1)
    holds = []
    for k in range(150):
        hold = next_disturbance(hold, k, rng, params).hold_mps2
        holds.append(hold[0, 0])
    assert len(set(holds)) == 3 and holds[49] != holds[50] and holds[50] == holds[99]
    a, b = disturbance_sequence(np.random.default_rng(1), params, 120)
    c, d = disturbance_sequence(np.random.default_rng(1), params, 120)
    assert a.shape == (3, 2) and b.shape == (120, 2)
    np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(b, d)


def test_divergence_and_recovery() -> None:
    params = tracking_params(QUIET, 0.01)
    state = initial_state(params, 2, position_offset_m=[[1.5, 0.0], [0.1, 0.0]],
                          held_command_mps2=[3.0, 3.0])
    error = tracking_error(state, params)
    lost = diverged(error, params)
    np.testing.assert_array_equal(lost, [True, False])
    back = recover(state, lost, params)
    ref_state, ref_acc = params.reference.state([0.0])
    np.testing.assert_array_equal(back.x[0], ref_state[0])
    np.testing.assert_array_equal(back.buffer.held_mps2[0], ref_acc[0])
    np.testing.assert_array_equal(back.x[1], state.x[1])  # the other robot is untouched
    np.testing.assert_array_equal(back.buffer.held_mps2[1], [3.0, 3.0])
    assert recover(state, [False, False], params) is state


def test_unicycle_plant_follows_its_pose(nominal_gain) -> None:
    params = tracking_params(TrackingConfig(plant_model=PlantModel.UNICYCLE,
                                            disturbance_std_mps2=0.0, noise_std_mps2=0.0), 0.01)
    state = initial_state(params, 1, position_offset_m=[0.02, 0.0])
    assert state.pose is not None
    for _ in range(500):
        error = tracking_error(state, params)
        _, acc = params.reference.state([state.step * 0.01])
        state = transition(state, acc - error @ nominal_gain.T, 0, _calm(1), params)
    assert float(position_error(error)[0]) < 1e-3  # the LQR loop pulls the unicycle in
    np.testing.assert_allclose(state.x[0, [0, 2]], state.pose[0, :2])


def test_score_pieces() -> None:
    np.testing.assert_allclose(heading_error_deg([np.pi - 0.1], [-np.pi + 0.1]),
                               [-np.degrees(0.2)])
    np.testing.assert_array_equal(curvature_error([np.nan, -2.0], [1.0, 1.0],
                                                  CurvatureMetric.PATH), [0.0, 2.0])
    np.testing.assert_array_equal(curvature_error([np.nan, -2.0], [1.0, 1.0],
                                                  CurvatureMetric.EXCESS), [0.0, 3.0])
    assert float(tracking_reward([0.3, 9.0, 0.4, 9.0], [1.0, 2.0], 0.1)) == pytest.approx(
        -(0.09 + 0.16) - 0.5)
    params = tracking_params(TrackingConfig(), 0.01)
    state = initial_state(params, 1, time_offset_s=2.5)
    s, c = reference_phase(state, params)
    assert (s, c) == pytest.approx((np.sin(2 * np.pi * 0.25), np.cos(2 * np.pi * 0.25)))
