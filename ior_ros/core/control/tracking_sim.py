"""
Teleoperated tracking over a delaying network (the experiment behind seed 003 Table II).

The loop (reference §7, "Tracking simulation"):

* the **remote controller** computes at every sample k the command
  ``u_c(k) = r̈(k) - K_k (x(k) - r(k))`` for a figure-eight reference
  ``r(t) = (a sin ωt, (a/2) sin 2ωt)`` (lemniscate of Gerono, ``ω = 2π / period``) with
  acceleration feed-forward ``r̈``; ``K_k`` is the gain chosen for the current network slot;
* the command travels ``d(k)`` samples; the **actuator holds the newest command received**
  (highest send time among those arrived), so the applied command is ``u_c(k - τ(k))`` with
  ``τ(k) = k - max{j : j + d(j) <= k}``; a stop command is executed locally (braking);
* the robot is the planar base (double integrator, or the unicycle it linearises) with a
  piecewise-constant acceleration disturbance ``N(0, σ_w²)`` redrawn every ``disturbance_hold_s``
  plus per-sample noise ``N(0, σ_n²)``.

Delays come in slots (one bound announced per slot by the network layer): nominal slots have a
bound in ``nominal_delay_steps``, violation slots in ``violation_delay_steps``; each sample's delay
is the slot bound minus a jitter ``U{0..J}``. Patterns: **nominal** (no violation), **persistent
congestion** (violations in episodes of several consecutive slots), **isolated spikes** (single
violation slots separated by nominal ones).

Every random draw of run i comes from its own generator, and the draws do not depend on the
controller, so controllers are compared on the same delays and disturbances (common random
numbers).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ior_ros.core.control.control_config import (
    ControlConfig,
    CurvatureMetric,
    PlantModel,
    TrackingConfig,
)
from ior_ros.core.control.dexterity import dexterity_index
from ior_ros.core.control.gain_schedule import GainSchedule, SwitchingMode, SwitchingPolicy
from ior_ros.core.control.robot_models import (
    path_geometry,
    unicycle_inputs,
    unicycle_step,
    validate_delay_steps,
)
from ior_ros.core.errors import ModelError

__all__ = ['DelayPattern', 'ControllerKind', 'FigureEight', 'SlotPlan', 'slot_delay_bounds',
           'sample_delays', 'newest_command_age', 'GainPlan', 'plan_gains', 'TrackingResult',
           'simulate_tracking', 'slot_steps_of']

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


class Reference(NamedTuple):
    """Samples of the reference."""

    position_m: FloatArray  # [N, 2]
    velocity_mps: FloatArray  # [N, 2]
    acceleration_mps2: FloatArray  # [N, 2]


@dataclass(frozen=True)
class FigureEight:
    """The lemniscate of Gerono ``(a sin ωt, (a/2) sin 2ωt)``, ``ω = 2π / period``."""

    amplitude_m: float = 1.0
    period_s: float = 10.0

    def sample(self, time_s: npt.ArrayLike) -> Reference:
        """Position, velocity and acceleration at the given times ``[N]``."""
        t = np.asarray(time_s, dtype=float)  # [N]
        a, w = self.amplitude_m, 2.0 * math.pi / self.period_s
        s1, c1 = np.sin(w * t), np.cos(w * t)
        s2, c2 = np.sin(2 * w * t), np.cos(2 * w * t)
        pos = np.stack([a * s1, 0.5 * a * s2], axis=-1)  # [N, 2]
        vel = np.stack([a * w * c1, a * w * c2], axis=-1)  # [N, 2]
        acc = np.stack([-a * w * w * s1, -2.0 * a * w * w * s2], axis=-1)  # [N, 2]
        return Reference(pos, vel, acc)


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


def newest_command_age(delays_steps: IntArray) -> IntArray:
    """
    ``τ(k) = k - max{j : j + d(j) <= k}``: age of the newest command received at k ``[N]``.

    Commands sent before k = 0 count as delivered (the pre-history command j = -1).
    """
    d = np.asarray(delays_steps, dtype=np.int64)  # [N]
    n = d.size
    sent = np.arange(n)
    arrival = sent + d
    newest = np.full(n, -1, dtype=np.int64)
    ok = arrival < n
    np.maximum.at(newest, arrival[ok], sent[ok])
    newest = np.maximum.accumulate(newest)
    return sent - newest


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
    if plant.n_states != 4 or plant.n_inputs != 2:
        raise ModelError('the tracking simulation needs the planar base (4 states, 2 inputs), got '
                         f'A shape {plant.A.shape} and B shape {plant.B.shape}')
    runs = len(rngs)
    if runs == 0:
        raise ModelError('simulate_tracking needs at least one generator')
    ts = plant.sample_period_s
    slot_steps = slot_steps_of(cfg, ts)
    hold_steps = max(1, int(round(cfg.disturbance_hold_s / ts)))
    steps = cfg.n_slots * slot_steps
    reference = FigureEight(cfg.amplitude_m, cfg.period_s)
    ref = reference.sample(np.arange(steps) * ts)
    ref_state = np.stack([ref.position_m[:, 0], ref.velocity_mps[:, 0], ref.position_m[:, 1],
                          ref.velocity_mps[:, 1]], axis=-1)  # [N, 4]
    ref_geom = path_geometry(ref.velocity_mps, ref.acceleration_mps2)

    # random inputs, run by run (independent of the controller)
    taus = np.zeros((runs, steps), dtype=np.int64)  # [R, N]
    gains = np.zeros((runs, cfg.n_slots, 2, 4))  # [R, n_slots, m, n]
    stops = np.zeros((runs, cfg.n_slots), dtype=bool)
    switched = np.zeros(runs)
    uncertified = np.zeros(runs, dtype=np.int64)
    n_violation = np.zeros(runs, dtype=np.int64)
    n_holds = steps // hold_steps + 1
    disturbance = np.zeros((runs, n_holds, 2))  # [R, n_holds, 2]
    noise = np.zeros((runs, steps, 2))  # [R, N, 2]
    for r, rng in enumerate(rngs):
        plan = slot_delay_bounds(pattern, cfg.n_slots, violation_slots, cfg, rng)
        delays = sample_delays(plan.bounds_steps, slot_steps, cfg.delay_jitter_steps, rng)
        disturbance[r] = rng.normal(0.0, cfg.disturbance_std_mps2, size=(n_holds, 2))
        noise[r] = rng.normal(0.0, cfg.noise_std_mps2, size=(steps, 2))
        taus[r] = newest_command_age(delays)
        gp = plan_gains(kind, schedule, plan.bounds_steps, slot_steps, config)
        gains[r], stops[r] = gp.gains, gp.stop
        switched[r] = float(np.mean(gp.switched))
        uncertified[r] = int(np.sum(gp.uncertified))
        n_violation[r] = int(np.sum(plan.violation))

    pad = int(taus.max()) + 1
    commands = np.zeros((steps + pad, runs, 2))  # [pad + N, R, 2] (pad: pre-history)
    pre = reference.sample((np.arange(-pad, 0)) * ts).acceleration_mps2  # [pad, 2]
    commands[:pad] = pre[:, None, :]
    stop_cmd = np.zeros((steps + pad, runs), dtype=bool)  # [pad + N, R]
    a_mat, b_mat = plant.A, plant.B
    run_index = np.arange(runs)
    x = np.tile(ref_state[0], (runs, 1))  # [R, 4]
    unicycle = cfg.plant_model is PlantModel.UNICYCLE
    if unicycle:
        heading0 = math.atan2(ref.velocity_mps[0, 1], ref.velocity_mps[0, 0])
        speed0 = float(np.hypot(*ref.velocity_mps[0]))
        uni = np.tile([ref.position_m[0, 0], ref.position_m[0, 1], heading0, speed0], (runs, 1))

    sq_err = np.zeros(runs)
    max_err = np.zeros(runs)
    sq_orient = np.zeros(runs)
    curv_sum = np.zeros(runs)
    valid_count = np.zeros(runs)
    diverged = np.zeros(runs, dtype=bool)
    divergence_time = np.full(runs, np.nan)
    trace = np.zeros((runs, steps)) if record else None
    slot_of = np.arange(steps) // slot_steps
    threshold = cfg.divergence_threshold_m
    brake = cfg.stop_brake_per_s
    for k in range(steps):
        error_state = x - ref_state[k]  # [R, 4]
        pos_err = np.hypot(error_state[:, 0], error_state[:, 2])  # [R]
        newly = (pos_err > threshold) & ~diverged
        if newly.any():
            diverged |= newly
            divergence_time[newly] = k * ts
        live = ~diverged
        sq_err += np.where(live, pos_err * pos_err, 0.0)
        max_err = np.maximum(max_err, np.where(live, pos_err, 0.0))
        if trace is not None:
            trace[:, k] = pos_err
        s = slot_of[k]
        k_now = gains[:, s]  # [R, m, n]
        commands[pad + k] = ref.acceleration_mps2[k] - np.einsum('rmn,rn->rm', k_now, error_state)
        stop_cmd[pad + k] = stops[:, s]
        j = pad + k - taus[:, k]  # [R] index of the newest received command
        applied = commands[j, run_index]  # [R, 2]
        halted = stop_cmd[j, run_index]
        if halted.any():
            applied = np.where(halted[:, None], -brake * x[:, [1, 3]], applied)
        accel = applied + disturbance[:, k // hold_steps] + noise[:, k]  # [R, 2]
        velocity = x[:, [1, 3]]  # [R, 2]
        if unicycle:
            inputs = unicycle_inputs(uni[:, 2], uni[:, 3], accel, cfg.min_speed_mps)
            curvature = inputs.yaw_rate_radps / np.maximum(uni[:, 3], cfg.min_speed_mps)
            heading = uni[:, 2]
            speed = uni[:, 3]
            uni = unicycle_step(uni, inputs.longitudinal_acceleration_mps2,
                                inputs.yaw_rate_radps, ts, substeps=2)
        else:
            geom = path_geometry(velocity, accel, cfg.min_speed_mps)
            heading, speed, curvature = geom.heading_rad, geom.speed_mps, geom.curvature_per_m
        ok = live & (speed >= cfg.min_speed_mps)
        d_heading = np.angle(np.exp(1j * (heading - ref_geom.heading_rad[k])))
        sq_orient += np.where(ok, np.degrees(d_heading) ** 2, 0.0)
        if config.dexterity.curvature_metric is CurvatureMetric.EXCESS:
            curv_value = np.abs(curvature - ref_geom.curvature_per_m[k])
        else:
            curv_value = np.abs(curvature)
        curv_sum += np.where(ok, np.nan_to_num(curv_value, nan=0.0), 0.0)
        valid_count += ok
        if unicycle:
            x = np.stack([uni[:, 0], uni[:, 3] * np.cos(uni[:, 2]), uni[:, 1],
                          uni[:, 3] * np.sin(uni[:, 2])], axis=-1)
        else:
            x = x @ a_mat.T + accel @ b_mat.T
        if diverged.any() and k + 1 < steps:
            # park diverged runs on the reference so that nothing overflows; they are not scored
            x[diverged] = ref_state[k + 1]
            if unicycle:
                uni[diverged] = np.array([ref.position_m[k + 1, 0], ref.position_m[k + 1, 1],
                                          math.atan2(ref.velocity_mps[k + 1, 1],
                                                     ref.velocity_mps[k + 1, 0]),
                                          float(np.hypot(*ref.velocity_mps[k + 1]))])

    count = np.maximum(valid_count, 1.0)
    rms = np.where(diverged, np.inf, np.sqrt(sq_err / steps))
    peak = np.where(diverged, np.inf, max_err)
    orient = np.where(diverged, 180.0, np.sqrt(sq_orient / count))
    curv = np.where(diverged, np.inf, curv_sum / count)
    di = dexterity_index(rms, np.minimum(orient, 180.0), curv, config.dexterity)
    return TrackingResult(rms, peak, orient, curv, np.asarray(di, dtype=float), diverged,
                          divergence_time, switched, uncertified, np.sum(stops, axis=1),
                          n_violation, trace)
