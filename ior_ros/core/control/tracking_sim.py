"""
Teleoperated tracking over a delaying network in whole runs (seed 003 Table II).

A batched wrapper of :mod:`ior_ros.core.control.tracking_dynamics` (the one tracking dynamics:
figure-eight reference, newest-command hold, disturbance, plant, divergence). What this module
adds (reference §7, "Tracking simulation"):

* the **delays, drawn in advance**, in slots (one bound announced per slot by the network layer):
  nominal slots have a bound in ``nominal_delay_steps``, violation slots in
  ``violation_delay_steps``; each sample's delay is the slot bound minus a jitter ``U{0..J}``.
  Patterns: **nominal** (no violation), **persistent congestion** (violations in episodes of
  several consecutive slots), **isolated spikes** (single violation slots separated by nominal
  ones);
* the **remote controller**: at every sample k the command ``u_c(k) = r̈(k) - K_k (x(k) - r(k))``,
  ``K_k`` the gain chosen for the current slot (:func:`plan_gains`), or a stop command;
* the **score** of a run: RMS and peak position error, RMS heading error and mean curvature over
  the samples above the minimum speed, seed 003's DI; a run whose error exceeds the threshold has
  diverged (sticky: it is parked on the reference and not scored any more).

Every random draw of run i comes from its own generator (slot plan, delays, then the whole-run
disturbance of :func:`~ior_ros.core.control.tracking_dynamics.disturbance_sequence`), and the draws
do not depend on the controller, so controllers are compared on the same delays and disturbances
(common random numbers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ior_ros.core.control.control_config import ControlConfig, TrackingConfig
from ior_ros.core.control.dexterity import dexterity_index
from ior_ros.core.control.gain_schedule import GainSchedule
from ior_ros.core.control.robot_models import path_geometry, validate_delay_steps
from ior_ros.core.control.switching_policy import SwitchingMode, SwitchingPolicy
from ior_ros.core.control.tracking_dynamics import (
    Disturbance,
    disturbance_sequence,
    initial_state,
    recover,
    tracking_params,
    transition,
)
from ior_ros.core.control.tracking_score import curvature_error, heading_error_deg, motion_geometry
from ior_ros.core.errors import ModelError

__all__ = ['DelayPattern', 'ControllerKind', 'SlotPlan', 'slot_delay_bounds', 'sample_delays',
           'GainPlan', 'plan_gains', 'TrackingResult', 'simulate_tracking', 'slot_steps_of']

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class DelayPattern(str, Enum):
    """How violation slots are placed in a run."""

    NOMINAL = 'nominal'
    PERSISTENT = 'persistent'
    ISOLATED = 'isolated'


class ControllerKind(str, Enum):
    """Which gains the remote controller uses."""

    NOMINAL = 'nominal'
    """The nominal LQR gain throughout."""
    ADJUSTED = 'adjusted'
    """The switching policy over the certified schedule (growth test and dwell time)."""
    SCHEDULED = 'scheduled'
    """The schedule entry for every violation, no growth test."""
    ROBUST = 'robust'
    """The most conservative certified gain throughout."""


class SlotPlan(NamedTuple):
    """Per-slot delay bounds of one run."""

    bounds_steps: IntArray  # [n_slots]
    violation: npt.NDArray[np.bool_]  # [n_slots]


def _composition(total: int, parts: int, rng: np.random.Generator) -> IntArray:
    """Uniform random composition of ``total`` into ``parts`` non-negative integers."""
    if parts == 1:
        return np.array([total], dtype=np.int64)
    cuts = np.sort(rng.choice(total + parts - 1, size=parts - 1, replace=False))
    edges = np.concatenate([[-1], cuts, [total + parts - 1]])
    return np.asarray(np.diff(edges) - 1, dtype=np.int64)


def slot_delay_bounds(pattern: DelayPattern, n_slots: int, violation_slots: int,
                      config: TrackingConfig, rng: np.random.Generator) -> SlotPlan:
    """
    Place ``violation_slots`` violation slots among ``n_slots`` and draw every slot's bound.

    Persistent: episodes of ``episode_slots`` consecutive slots (a remainder shorter than the
    minimum joins the last episode); isolated: single slots with at least one nominal slot between
    two of them. Episode positions are uniformly random with at least one nominal slot between
    episodes.

    Raises:
        ModelError: more violation slots than the pattern can place.
    """
    pattern = DelayPattern(pattern)
    count = validate_delay_steps(violation_slots, 'violation_slots')
    if pattern is DelayPattern.NOMINAL:
        count = 0
    if count > n_slots:
        raise ModelError(f'violation_slots = {count} > n_slots = {n_slots}')
    lengths: list[int] = []
    if pattern is DelayPattern.ISOLATED:
        lengths = [1] * count
    elif count > 0:
        lo, hi = config.episode_slots
        remaining = count
        while remaining > 0:
            length = min(int(rng.integers(lo, hi + 1)), remaining)
            if length < lo and lengths:
                lengths[-1] += length
            else:
                lengths.append(length)
            remaining -= length
    episodes = len(lengths)
    free = n_slots - count - max(episodes - 1, 0)
    if free < 0:
        raise ModelError(f'{count} {pattern.value} violation slots in {episodes} episodes do not '
                         f'fit in {n_slots} slots')
    violation = np.zeros(n_slots, dtype=bool)
    if episodes:
        gaps = _composition(free, episodes + 1, rng)
        gaps[1:-1] += 1  # at least one nominal slot between episodes
        position = int(gaps[0])
        for index, length in enumerate(lengths):
            violation[position:position + length] = True
            position += length + int(gaps[index + 1])
    lo_n, hi_n = config.nominal_delay_steps
    lo_v, hi_v = config.violation_delay_steps
    bounds = np.where(violation, rng.integers(lo_v, hi_v + 1, size=n_slots),
                      rng.integers(lo_n, hi_n + 1, size=n_slots)).astype(np.int64)
    return SlotPlan(bounds, violation)


def sample_delays(bounds_steps: IntArray, slot_steps: int, jitter_steps: int,
                  rng: np.random.Generator) -> IntArray:
    """Per-sample delays ``d(k) = max(0, bound(slot(k)) - U{0..J})`` ``[n_slots · slot_steps]``."""
    per_sample = np.repeat(np.asarray(bounds_steps, dtype=np.int64), slot_steps)  # [N]
    jitter = rng.integers(0, jitter_steps + 1, size=per_sample.size)  # [N]
    return np.asarray(np.maximum(per_sample - jitter, 0), dtype=np.int64)


class GainPlan(NamedTuple):
    """The gains one controller applies, slot by slot."""

    gains: FloatArray  # [n_slots, m, n]
    stop: npt.NDArray[np.bool_]  # [n_slots] a stop command instead of a gain
    switched: npt.NDArray[np.bool_]  # [n_slots] not the nominal gain
    uncertified: npt.NDArray[np.bool_]  # [n_slots] applied gain not certified for the bound


def plan_gains(kind: ControllerKind, schedule: GainSchedule, bounds_steps: IntArray,
               slot_steps: int, config: ControlConfig) -> GainPlan:
    """Run the controller's gain choice over a run's announced slot bounds."""
    kind = ControllerKind(kind)
    slots = len(bounds_steps)
    m, n = schedule.nominal_gain.shape
    gains = np.zeros((slots, m, n))  # [n_slots, m, n]
    stop = np.zeros(slots, dtype=bool)
    switched = np.zeros(slots, dtype=bool)
    uncertified = np.zeros(slots, dtype=bool)
    if kind is ControllerKind.NOMINAL:
        gains[:] = schedule.nominal_gain
        previous = 0
        for s, bound in enumerate(bounds_steps):
            uncertified[s] = max(int(bound), previous) > schedule.nominal_certified_steps
            previous = int(bound)
        return GainPlan(gains, stop, switched, uncertified)
    if kind is ControllerKind.ROBUST:
        found = schedule.lookup(schedule.max_delay_steps + 1)
        if found.gain is None:
            stop[:] = True
        else:
            gains[:] = found.gain
            switched[:] = True
            previous = 0
            for s, bound in enumerate(bounds_steps):
                uncertified[s] = max(int(bound), previous) > found.source_delay_steps
                previous = int(bound)
        return GainPlan(gains, stop, switched, uncertified)
    sw = config.switching
    dwell = int(round(sw.dwell_time_s / schedule.plant.sample_period_s))
    policy = SwitchingPolicy(schedule, sw.tolerated_growth, dwell, sw.delay_margin_steps,
                             always_switch=kind is ControllerKind.SCHEDULED)
    for s, bound in enumerate(bounds_steps):
        decision = policy.decide(int(bound), slot_steps)
        if decision.gain is None:
            stop[s] = True
        else:
            gains[s] = decision.gain
        switched[s] = decision.mode is not SwitchingMode.NOMINAL
        uncertified[s] = not decision.certified_for_bound
    return GainPlan(gains, stop, switched, uncertified)


@dataclass(frozen=True, eq=False)
class TrackingResult:
    """
    Per-run outcome of :func:`simulate_tracking` (arrays ``[runs]``).

    Diverged runs have infinite tracking errors and DI 0 (their orientation error counts as
    180° and their curvature as infinite).
    """

    rms_tracking_error_m: FloatArray
    max_tracking_error_m: FloatArray
    rms_orientation_error_deg: FloatArray
    mean_curvature_per_m: FloatArray
    dexterity_index: FloatArray
    diverged: npt.NDArray[np.bool_]
    divergence_time_s: FloatArray
    switched_fraction: FloatArray
    uncertified_slots: IntArray
    stop_slots: IntArray
    violation_slots: IntArray
    tracking_error_trace_m: FloatArray | None = field(default=None)
    """``[runs, N]`` when recorded."""


def slot_steps_of(config: TrackingConfig, sample_period_s: float) -> int:
    """Samples per slot; ModelError unless the slot is a whole number of samples."""
    steps = config.slot_s / sample_period_s
    if abs(steps - round(steps)) > 1e-9 * max(1.0, steps) or round(steps) < 1:
        raise ModelError(f'slot_s = {config.slot_s} is not a whole number of samples of '
                         f'{sample_period_s} s')
    return int(round(steps))


def simulate_tracking(config: ControlConfig, schedule: GainSchedule, kind: ControllerKind,
                      pattern: DelayPattern, violation_slots: int,
                      rngs: Sequence[np.random.Generator], record: bool = False) -> TrackingResult:
    """
    Simulate one teleoperated run per generator (batched) and score it.

    Args:
        config: the control configuration (tracking, switching, dexterity sections).
        schedule: the certified gain schedule (its plant is the robot's design model).
        kind: the controller.
        pattern: where violations fall.
        violation_slots: number of violation slots per run.
        rngs: one generator per run (the run's delays, disturbances and noise).
        record: keep the position-error trace of every run.

    Returns:
        Per-run metrics; RMS errors over the whole run, orientation and curvature over the
        samples whose speed is at least ``min_speed_mps``.
    """
    cfg = config.tracking
    plant = schedule.plant
    runs = len(rngs)
    if runs == 0:
        raise ModelError('simulate_tracking needs at least one generator')
    ts = plant.sample_period_s
    params = tracking_params(cfg, ts, plant=plant)
    slot_steps = slot_steps_of(cfg, ts)
    hold_steps = params.disturbance_hold_steps
    steps = cfg.n_slots * slot_steps
    ref = params.reference.sample(np.arange(steps) * ts)
    ref_state = np.stack([ref.position_m[:, 0], ref.velocity_mps[:, 0], ref.position_m[:, 1],
                          ref.velocity_mps[:, 1]], axis=-1)  # [N, 4]
    ref_geom = path_geometry(ref.velocity_mps, ref.acceleration_mps2)

    # random inputs, run by run (independent of the controller)
    delays = np.zeros((runs, steps), dtype=np.int64)  # [R, N]
    gains = np.zeros((runs, cfg.n_slots, 2, 4))  # [R, n_slots, m, n]
    stops = np.zeros((runs, cfg.n_slots), dtype=bool)
    switched = np.zeros(runs)
    uncertified = np.zeros(runs, dtype=np.int64)
    n_violation = np.zeros(runs, dtype=np.int64)
    disturbance = np.zeros((runs, steps // hold_steps + 1, 2))  # [R, n_holds, 2]
    noise = np.zeros((runs, steps, 2))  # [R, N, 2]
    for r, rng in enumerate(rngs):
        plan = slot_delay_bounds(pattern, cfg.n_slots, violation_slots, cfg, rng)
        delays[r] = sample_delays(plan.bounds_steps, slot_steps, cfg.delay_jitter_steps, rng)
        disturbance[r], noise[r] = disturbance_sequence(rng, params, steps)
        gp = plan_gains(kind, schedule, plan.bounds_steps, slot_steps, config)
        gains[r], stops[r] = gp.gains, gp.stop
        switched[r] = float(np.mean(gp.switched))
        uncertified[r] = int(np.sum(gp.uncertified))
        n_violation[r] = int(np.sum(plan.violation))

    state = initial_state(params, runs, capacity=int(delays.max()) + 1)
    sq_err = np.zeros(runs)
    max_err = np.zeros(runs)
    sq_orient = np.zeros(runs)
    curv_sum = np.zeros(runs)
    valid_count = np.zeros(runs)
    diverged = np.zeros(runs, dtype=bool)
    divergence_time = np.full(runs, np.nan)
    trace = np.zeros((runs, steps)) if record else None
    slot_of = np.arange(steps) // slot_steps
    any_stop = np.any(stops, axis=0).tolist()  # [n_slots]
    threshold = cfg.divergence_threshold_m
    metric = config.dexterity.curvature_metric
    for k in range(steps):
        error_state = state.x - ref_state[k]  # [R, 4]
        pos_err = np.hypot(error_state[:, 0], error_state[:, 2])  # [R]
        newly = (pos_err > threshold) & ~diverged
        if np.count_nonzero(newly):
            diverged |= newly
            divergence_time[newly] = k * ts
        live = ~diverged
        sq_err += np.where(live, pos_err * pos_err, 0.0)
        max_err = np.maximum(max_err, np.where(live, pos_err, 0.0))
        if trace is not None:
            trace[:, k] = pos_err
        s = slot_of[k]
        command = ref.acceleration_mps2[k] - np.einsum('rmn,rn->rm', gains[:, s], error_state)
        step_disturbance = Disturbance(disturbance[:, k // hold_steps], noise[:, k])
        following = transition(state, command, delays[:, k], step_disturbance, params,
                               stop=stops[:, s] if any_stop[s] else None)
        geom = motion_geometry(state, following.accel_mps2, params)
        ok = live & (geom.speed_mps >= cfg.min_speed_mps)
        d_heading = heading_error_deg(geom.heading_rad, ref_geom.heading_rad[k])
        sq_orient += np.where(ok, d_heading ** 2, 0.0)
        curv_value = curvature_error(geom.curvature_per_m, ref_geom.curvature_per_m[k], metric)
        curv_sum += np.where(ok, curv_value, 0.0)
        valid_count += ok
        if k + 1 < steps and np.count_nonzero(diverged):
            # park diverged runs on the reference so that nothing overflows; they are not scored
            following = recover(following, diverged, params)
        state = following

    count = np.maximum(valid_count, 1.0)
    rms = np.where(diverged, np.inf, np.sqrt(sq_err / steps))
    peak = np.where(diverged, np.inf, max_err)
    orient = np.where(diverged, 180.0, np.sqrt(sq_orient / count))
    curv = np.where(diverged, np.inf, curv_sum / count)
    di = dexterity_index(rms, np.minimum(orient, 180.0), curv, config.dexterity)
    return TrackingResult(rms, peak, orient, curv, np.asarray(di, dtype=float), diverged,
                          divergence_time, switched, uncertified, np.sum(stops, axis=1),
                          n_violation, trace)
