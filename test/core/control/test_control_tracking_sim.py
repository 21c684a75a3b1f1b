"""Tracking simulation (whole runs): delay patterns, determinism, regimes, the one dynamics."""

from __future__ import annotations

import numpy as np
import pytest

from ior_ros.core.control.control_config import (
    ControlConfig,
    FallbackPolicy,
    PlantModel,
    TrackingConfig,
)
from ior_ros.core.control.tracking_dynamics import (
    Disturbance,
    disturbance_sequence,
    initial_state,
    newest_command_age,
    recover,
    tracking_params,
    transition,
)
from ior_ros.core.control.tracking_sim import (
    ControllerKind,
    DelayPattern,
    plan_gains,
    sample_delays,
    simulate_tracking,
    slot_delay_bounds,
    slot_steps_of,
)
from ior_ros.core.errors import ModelError

SHORT = ControlConfig(tracking=TrackingConfig(n_slots=40))


def _rngs(seed: int, count: int) -> list[np.random.Generator]:
    return [np.random.default_rng([seed, i]) for i in range(count)]


def test_age_is_bounded_by_the_adjacent_slot_bounds(rng) -> None:
    cfg = TrackingConfig()
    for pattern in DelayPattern:
        plan = slot_delay_bounds(pattern, 120, 20, cfg, rng)
        delays = sample_delays(plan.bounds_steps, 50, cfg.delay_jitter_steps, rng)
        tau = newest_command_age(delays)
        bound = np.maximum(plan.bounds_steps, np.concatenate([[0], plan.bounds_steps[:-1]]))
        assert np.all(tau <= np.repeat(bound, 50) + 1)
        assert np.all(delays <= np.repeat(plan.bounds_steps, 50))


@pytest.mark.parametrize('count', [0, 5, 10, 20])
def test_slot_patterns(rng, count: int) -> None:
    cfg = TrackingConfig()
    for pattern in (DelayPattern.PERSISTENT, DelayPattern.ISOLATED):
        plan = slot_delay_bounds(pattern, 120, count, cfg, rng)
        assert int(plan.violation.sum()) == count
        lo_v, hi_v = cfg.violation_delay_steps
        lo_n, hi_n = cfg.nominal_delay_steps
        assert np.all((plan.bounds_steps[plan.violation] >= lo_v)
                      & (plan.bounds_steps[plan.violation] <= hi_v))
        assert np.all((plan.bounds_steps[~plan.violation] >= lo_n)
                      & (plan.bounds_steps[~plan.violation] <= hi_n))
        runs = np.diff(np.concatenate([[0], plan.violation.astype(int), [0]]))
        lengths = np.nonzero(runs == -1)[0] - np.nonzero(runs == 1)[0]
        if pattern is DelayPattern.ISOLATED:
            assert np.all(lengths == 1)
        elif count:
            assert np.all(lengths >= min(count, cfg.episode_slots[0]))
    nominal = slot_delay_bounds(DelayPattern.NOMINAL, 120, 7, cfg, rng)
    assert not nominal.violation.any()
    with pytest.raises(ModelError, match='do not fit'):
        slot_delay_bounds(DelayPattern.ISOLATED, 10, 8, cfg, rng)


def test_same_seed_same_result(shipped_schedule) -> None:
    first = simulate_tracking(SHORT, shipped_schedule, ControllerKind.ADJUSTED,
                              DelayPattern.PERSISTENT, 5, _rngs(1, 3))
    again = simulate_tracking(SHORT, shipped_schedule, ControllerKind.ADJUSTED,
                              DelayPattern.PERSISTENT, 5, _rngs(1, 3))
    np.testing.assert_array_equal(first.rms_tracking_error_m, again.rms_tracking_error_m)
    other = simulate_tracking(SHORT, shipped_schedule, ControllerKind.ADJUSTED,
                              DelayPattern.PERSISTENT, 5, _rngs(2, 3))
    assert not np.array_equal(first.rms_tracking_error_m, other.rms_tracking_error_m)


def test_no_violation_tracks_within_centimetres(shipped_schedule) -> None:
    result = simulate_tracking(SHORT, shipped_schedule, ControllerKind.NOMINAL,
                               DelayPattern.NOMINAL, 0, _rngs(3, 4))
    assert not result.diverged.any()
    assert np.all(result.rms_tracking_error_m < 0.03)
    assert np.all(result.rms_orientation_error_deg < 15.0)
    assert np.all((result.dexterity_index > 0.3) & (result.dexterity_index <= 1.0))
    # the adjusted controller never leaves the nominal gain without violations: same runs
    adjusted = simulate_tracking(SHORT, shipped_schedule, ControllerKind.ADJUSTED,
                                 DelayPattern.NOMINAL, 0, _rngs(3, 4))
    np.testing.assert_array_equal(adjusted.rms_tracking_error_m, result.rms_tracking_error_m)


def test_persistent_congestion_nominal_diverges_adjusted_does_not(shipped_schedule) -> None:
    config = ControlConfig(tracking=TrackingConfig(n_slots=40, violation_delay_steps=(24, 30)))
    nominal = simulate_tracking(config, shipped_schedule, ControllerKind.NOMINAL,
                                DelayPattern.PERSISTENT, 10, _rngs(4, 4))
    adjusted = simulate_tracking(config, shipped_schedule, ControllerKind.ADJUSTED,
                                 DelayPattern.PERSISTENT, 10, _rngs(4, 4))
    assert nominal.diverged.all()
    assert np.all(np.isinf(nominal.rms_tracking_error_m)) and np.all(nominal.dexterity_index == 0)
    assert not adjusted.diverged.any()
    assert np.all(adjusted.rms_tracking_error_m < 0.06)
    assert np.all(adjusted.switched_fraction > 0)


def test_stop_fallback_brakes_instead_of_using_an_uncertified_gain(shipped_schedule) -> None:
    stopping = shipped_schedule.with_fallback(FallbackPolicy.STOP)
    tracking = TrackingConfig(n_slots=20, violation_delay_steps=(35, 40),
                              divergence_threshold_m=50.0)
    config = ControlConfig(tracking=tracking)
    bounds = np.array([5, 36, 36, 5] + [5] * 16)
    plan = plan_gains(ControllerKind.ADJUSTED, stopping, bounds, 50, config)
    # beyond every certified bound: a stop command, held through the dwell time, never a gain
    assert plan.stop[1] and plan.stop[2] and not plan.stop[0]
    assert not plan.stop[-1]
    result = simulate_tracking(config, stopping, ControllerKind.ADJUSTED, DelayPattern.PERSISTENT,
                               4, _rngs(5, 2), record=True)
    assert np.all(result.stop_slots >= 4)
    assert not result.diverged.any()
    # the robot halts while the reference moves on (below 0.9 m/s): the error grows at most
    # like the reference's travel, no faster (no unstable loop)
    trace = result.tracking_error_trace_m
    assert trace is not None
    assert np.max(trace) < 0.9 * (result.stop_slots.max() * 0.5) + 0.2


def test_unicycle_plant_matches_the_design_model_without_violations(shipped_schedule) -> None:
    config = ControlConfig(tracking=TrackingConfig(n_slots=20,
                                                   plant_model=PlantModel.UNICYCLE))
    uni = simulate_tracking(config, shipped_schedule, ControllerKind.NOMINAL,
                            DelayPattern.NOMINAL, 0, _rngs(6, 2))
    lin = simulate_tracking(ControlConfig(tracking=TrackingConfig(n_slots=20)), shipped_schedule,
                            ControllerKind.NOMINAL, DelayPattern.NOMINAL, 0, _rngs(6, 2))
    assert not uni.diverged.any()
    np.testing.assert_allclose(uni.rms_tracking_error_m, lin.rms_tracking_error_m, rtol=0.2)


def test_slot_must_be_whole_samples(shipped_schedule) -> None:
    config = ControlConfig(tracking=TrackingConfig(slot_s=0.0155))
    with pytest.raises(ModelError, match='whole number of samples'):
        simulate_tracking(config, shipped_schedule, ControllerKind.NOMINAL,
                          DelayPattern.NOMINAL, 0, _rngs(0, 1))


@pytest.mark.parametrize('plant_model', [PlantModel.DOUBLE_INTEGRATOR, PlantModel.UNICYCLE])
def test_runs_are_the_one_tracking_dynamics(shipped_schedule, plant_model) -> None:
    """Replaying a run's delays, disturbances and commands through the bare transition gives
    the simulation's error trace bit for bit (a diverged run is parked on the reference, a stop
    command brakes)."""
    config = ControlConfig(tracking=TrackingConfig(n_slots=16, plant_model=plant_model,
                                                   violation_delay_steps=(25, 36)))
    schedule = shipped_schedule.with_fallback(FallbackPolicy.STOP)
    result = simulate_tracking(config, schedule, ControllerKind.ADJUSTED, DelayPattern.PERSISTENT,
                               8, _rngs(9, 3), record=True)
    # stops, diverged and surviving runs: every branch is replayed
    assert result.diverged.any() and not result.diverged.all() and result.stop_slots.all()
    cfg = config.tracking
    params = tracking_params(cfg, 0.01, plant=schedule.plant)
    slot_steps = slot_steps_of(cfg, 0.01)
    steps = cfg.n_slots * slot_steps
    runs = 3
    delays = np.zeros((runs, steps), dtype=np.int64)
    holds = np.zeros((runs, steps // 50 + 1, 2))
    noise = np.zeros((runs, steps, 2))
    gains = np.zeros((runs, cfg.n_slots, 2, 4))
    stops = np.zeros((runs, cfg.n_slots), dtype=bool)
    for r, rng in enumerate(_rngs(9, runs)):  # each run's draws, in the simulation's order
        plan = slot_delay_bounds(DelayPattern.PERSISTENT, cfg.n_slots, 8, cfg, rng)
        delays[r] = sample_delays(plan.bounds_steps, slot_steps, cfg.delay_jitter_steps, rng)
        holds[r], noise[r] = disturbance_sequence(rng, params, steps)
        plan_r = plan_gains(ControllerKind.ADJUSTED, schedule, plan.bounds_steps, slot_steps,
                            config)
        gains[r], stops[r] = plan_r.gains, plan_r.stop
    # the same batch (matrix products round differently for another number of rows)
    state = initial_state(params, runs)
    lost = np.zeros(runs, dtype=bool)
    for k in range(steps):
        ref_state, ref_acc = params.reference.state([k * 0.01])
        error = state.x - ref_state[0]
        distance = np.hypot(error[:, 0], error[:, 2])
        np.testing.assert_array_equal(distance, result.tracking_error_trace_m[:, k])
        lost |= distance > cfg.divergence_threshold_m
        s = k // slot_steps
        command = ref_acc - np.einsum('rmn,rn->rm', gains[:, s], error)
        state = transition(state, command, delays[:, k],
                           Disturbance(holds[:, k // 50], noise[:, k]), params, stop=stops[:, s])
        if k + 1 < steps:
            state = recover(state, lost, params)
    np.testing.assert_array_equal(lost, result.diverged)
