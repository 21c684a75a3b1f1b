"""
The one tracking dynamics: a teleoperated planar base follows a figure eight while the network
delays its commands.

Every simulator of this loop wraps the pure functions below (the style of Gymnasium's
``FuncEnv``: an explicit state, explicit parameters, an explicit ``np.random.Generator``, nothing
hidden): the whole-run tracking simulation of seed 003 Table II
(:mod:`~ior_ros.core.control.tracking_sim`), the slicing task's dexterity model
(:mod:`~ior_ros.core.slicing.teleop_tracking`) and the digital twin's robot environment
(:mod:`~ior_ros.core.twin.envs`, ``ior/RobotTracking-v0``). One sample k (period T) of ``R``
robots (every array has the run axis first):

* **reference** :class:`~ior_ros.core.control.figure_eight.FigureEight`:
  ``r(t) = (a sin ωt, (a/2) sin 2ωt)`` (lemniscate of Gerono), ``ω = 2π / period``, at
  ``t = t0 + k T``; its state ``(p_x, v_x, p_y, v_y)`` and feed-forward acceleration ``r̈``;
* **network**: the command sent at k arrives ``d(k)`` samples later; **the actuator holds the
  newest command received** (highest send index among the arrived ones; a command overtaken by a
  newer one is stale and never applied), so the applied command is ``u(k - τ(k))`` with
  ``τ(k) = k - max{j : j + d(j) <= k}`` (:func:`newest_command_age` is this closed form for delays
  known in advance). A *stop* command is executed locally: braking ``a = -c v``;
* **disturbance** :class:`Disturbance`: a piecewise-constant acceleration ``w ~ N(0, σ_w²)`` per
  axis, redrawn every ``disturbance_hold_steps`` samples, plus per-sample noise ``n ~ N(0, σ_n²)``;
* **plant**: ``x(k+1) = A x(k) + B (u_held + w + n)`` (two double integrators, ZOH), or the
  unicycle that this model linearises (dynamic extension, RK4) when ``params.unicycle``;
* **divergence**: a position error ``|p - r| > divergence_threshold_m``; :func:`recover` puts a
  robot back on the reference with the actuator holding the feed-forward (the operator recovers
  it).

The functions: :func:`initial_state`, :func:`transition`, the disturbance samplers
(:func:`initial_disturbance` and :func:`next_disturbance` draw it sample by sample,
:func:`disturbance_sequence` a whole run at once), :func:`tracking_error`, :func:`position_error`,
:func:`diverged`, :func:`recover`, observation pieces (:func:`in_flight_commands`,
:func:`reference_phase`); the score pieces are in :mod:`~ior_ros.core.control.tracking_score`. The
controller (which command to send) and the scoring window belong to the wrappers.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ior_ros.core.control.control_config import PlantModel, TrackingConfig
from ior_ros.core.control.figure_eight import FigureEight
from ior_ros.core.control.robot_models import (
    DelayedPlant,
    planar_double_integrator,
    unicycle_inputs,
    unicycle_step,
)
from ior_ros.core.errors import DimensionError, ModelError

__all__ = ['TrackingParams', 'tracking_params', 'CommandBuffer', 'TrackingState', 'Disturbance',
           'initial_state', 'transition', 'sample_time', 'command_delay_steps',
           'initial_disturbance', 'next_disturbance', 'disturbance_sequence', 'tracking_error',
           'position_error', 'diverged', 'recover', 'in_flight_commands', 'reference_phase',
           'newest_command_age']

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_NONE = np.iinfo(np.int64).min
"""``CommandBuffer.arriving`` value of a sample at which no command arrives."""


# --------------------------------------------------------------------------------------------
# Parameters and state


class TrackingParams(NamedTuple):
    """The fixed parameters of the dynamics (FuncEnv's ``params``)."""

    a: FloatArray
    """Plant matrix A ``[4, 4]`` (state ``(p_x, v_x, p_y, v_y)``)."""
    b: FloatArray
    """Input matrix B ``[4, 2]`` (acceleration input)."""
    sample_period_s: float
    """T [s]."""
    reference: FigureEight
    """The figure eight tracked."""
    disturbance_std_mps2: float
    """σ_w of the piecewise-constant acceleration disturbance [m/s²]."""
    disturbance_hold_steps: int
    """The disturbance is redrawn every this many samples."""
    noise_std_mps2: float
    """σ_n of the per-sample acceleration noise [m/s²]."""
    divergence_threshold_m: float
    """Position error beyond which a robot has diverged [m]."""
    stop_brake_per_s: float
    """Braking gain c of a stop command, ``a = -c v`` [1/s]."""
    min_speed_mps: float
    """Below this speed heading and curvature are undefined [m/s]."""
    unicycle: bool
    """Integrate the unicycle instead of its double-integrator linearisation."""


def tracking_params(config: TrackingConfig, sample_period_s: float, *,
                    plant: DelayedPlant | None = None,
                    reference: FigureEight | None = None) -> TrackingParams:
    """
    The parameters of a :class:`TrackingConfig` at sample period T.

    Args:
        plant: the design model (default: the planar double integrator at T); it must be the
            planar base (4 states, 2 inputs).
        reference: overrides ``config.reference``.

    Raises:
        ModelError: a plant that is not the planar base.
    """
    plant = plant if plant is not None else planar_double_integrator(sample_period_s)
    if plant.n_states != 4 or plant.n_inputs != 2:
        raise ModelError('the tracking dynamics need the planar base (4 states, 2 inputs), got '
                         f'A shape {plant.A.shape} and B shape {plant.B.shape}')
    hold = max(1, int(round(config.disturbance_hold_s / sample_period_s)))
    return TrackingParams(
        plant.A, plant.B, float(sample_period_s),
        reference if reference is not None else FigureEight.from_config(config.reference),
        config.disturbance_std_mps2, hold, config.noise_std_mps2, config.divergence_threshold_m,
        config.stop_brake_per_s, config.min_speed_mps,
        config.plant_model is PlantModel.UNICYCLE)


class CommandBuffer(NamedTuple):
    """
    The commands between the remote controller and the actuator, a ring of L samples.

    Command j sits in slot ``j mod L`` of ``sent_*`` until it is overwritten by command
    ``j + L``; ``arriving[:, a mod L]`` is the newest send index arriving at sample a (for
    ``a`` in ``[k, k + L - 1]``), so every delay must be below L (the ring grows when one is not).
    L is a power of two.
    """

    held_mps2: FloatArray
    """``[R, 2]`` the command the actuator holds (the newest received)."""
    held_stop: BoolArray
    """``[R]`` the held command is a stop."""
    held_index: IntArray
    """``[R]`` send index of the held command."""
    sent_mps2: FloatArray
    """``[R, L, 2]`` the last L commands sent, by send index mod L."""
    sent_stop: BoolArray
    """``[R, L]`` which of them are stop commands."""
    arriving: IntArray
    """``[R, L]`` newest send index arriving at each of the next L samples (by sample mod L)."""

    @property
    def capacity(self) -> int:
        """L."""
        return int(self.sent_mps2.shape[1])


class TrackingState(NamedTuple):
    """The state of R robots at sample ``step`` (time ``time_offset_s + step T``)."""

    step: int
    """k [samples]."""
    time_offset_s: float
    """t0: the reference time at k = 0 [s]."""
    x: FloatArray
    """``[R, 4]`` ``(p_x, v_x, p_y, v_y)``."""
    pose: FloatArray | None
    """``[R, 4]`` ``(p_x, p_y, θ, v)`` of the unicycle plant; None for the double integrator."""
    accel_mps2: FloatArray
    """``[R, 2]`` the acceleration applied over the last sample (zero at the start)."""
    buffer: CommandBuffer
    """Commands in flight and the one held."""


class Disturbance(NamedTuple):
    """The acceleration disturbance over one sample ``[R, 2]`` each (kept apart: it is added to
    the command in this order)."""

    hold_mps2: FloatArray
    """The piecewise-constant part w."""
    noise_mps2: FloatArray
    """The per-sample noise n."""


def sample_time(state: TrackingState, params: TrackingParams,
                step: int | None = None) -> float:
    """``t0 + k T`` [s] of the state's sample (or of ``step``)."""
    k = state.step if step is None else step
    return state.time_offset_s + k * params.sample_period_s


def _pose_of(states: FloatArray) -> FloatArray:
    """Unicycle poses ``(p_x, p_y, θ, v)`` ``[N, 4]`` of planar states ``[N, 4]``."""
    vx, vy = states[:, 1], states[:, 3]
    return np.stack([states[:, 0], states[:, 2], np.arctan2(vy, vx), np.hypot(vx, vy)], axis=-1)


def _rows(value: npt.ArrayLike, runs: int, name: str) -> FloatArray:
    out = np.asarray(value, dtype=float)
    if out.shape == (2,):
        out = np.tile(out, (runs, 1))
    if out.shape != (runs, 2):
        raise DimensionError(f'{name} has shape {out.shape}; expected (2,) or ({runs}, 2)')
    return out


def initial_state(params: TrackingParams, runs: int, *, time_offset_s: float = 0.0,
                  position_offset_m: npt.ArrayLike | None = None,
                  held_command_mps2: npt.ArrayLike | None = None,
                  in_flight_mps2: npt.ArrayLike | None = None,
                  in_flight_delay_steps: npt.ArrayLike | None = None,
                  capacity: int = 1) -> TrackingState:
    """
    R robots on the reference at ``t0`` (plus a position offset), nothing applied yet.

    Args:
        runs: R.
        time_offset_s: t0, the reference time at k = 0 [s].
        position_offset_m: ``[2]`` or ``[R, 2]`` added to the reference position (p_x, p_y).
        held_command_mps2: ``[2]`` or ``[R, 2]``, the command the actuator holds at the start;
            default: the feed-forward ``r̈(t0 - T)``, i.e. the command the remote controller
            sent at k = -1 with zero error.
        in_flight_mps2: ``[P, 2]`` or ``[P, R, 2]`` commands sent at ``k = -P..-1`` (oldest
            first) that are still travelling; the held command counts as sent before them.
        in_flight_delay_steps: their delays ``[P]`` or ``[P, R]`` (they arrive at ``j + d_j``,
            which must be >= 0).
        capacity: initial size of the command ring (it grows when a delay needs more).
    """
    if runs < 1:
        raise ModelError(f'runs = {runs}: need at least one robot')
    t0 = float(time_offset_s)
    ref_state, _ = params.reference.state([t0])
    x = np.tile(ref_state[0], (runs, 1))  # [R, 4]
    if position_offset_m is not None:
        offset = _rows(position_offset_m, runs, 'position_offset_m')
        x[:, 0] = x[:, 0] + offset[:, 0]
        x[:, 2] = x[:, 2] + offset[:, 1]
    if held_command_mps2 is None:
        _, before = params.reference.state([t0 - params.sample_period_s])
        held = np.tile(before[0], (runs, 1))
    else:
        held = _rows(held_command_mps2, runs, 'held_command_mps2')
    flying = np.zeros((0, runs, 2))
    arrivals = np.zeros((0, runs), dtype=np.int64)
    if in_flight_mps2 is not None:
        commands = np.asarray(in_flight_mps2, dtype=float)
        if commands.ndim == 2:
            commands = np.repeat(commands[:, None, :], runs, axis=1)
        if commands.ndim != 3 or commands.shape[1:] != (runs, 2):
            raise DimensionError(f'in_flight_mps2 has shape {commands.shape}; expected [P, 2] '
                                 f'or [P, {runs}, 2]')
        count = commands.shape[0]
        if in_flight_delay_steps is None:
            raise ModelError('in_flight_mps2 needs in_flight_delay_steps')
        delays = np.asarray(in_flight_delay_steps, dtype=np.int64)
        delays = np.broadcast_to(delays.reshape(count, -1), (count, runs))
        arrivals = np.arange(-count, 0)[:, None] + delays  # [P, R]
        if np.any(arrivals < 0):
            raise ModelError('a command in flight at the start must arrive at k >= 0')
        flying = commands
    count = flying.shape[0]
    size = _ring_size(max(int(capacity), count + 1, int(arrivals.max()) + 1 if count else 1))
    sent = np.zeros((runs, size, 2))
    arriving = np.full((runs, size), _NONE, dtype=np.int64)
    rows = np.arange(runs)
    for i, j in enumerate(range(-count, 0)):
        sent[:, j % size] = flying[i]
        slot = arrivals[i] % size
        arriving[rows, slot] = np.maximum(arriving[rows, slot], j)
    buffer = CommandBuffer(held, np.zeros(runs, dtype=bool),
                           np.full(runs, -count - 1, dtype=np.int64), sent,
                           np.zeros((runs, size), dtype=bool), arriving)
    pose = _pose_of(x) if params.unicycle else None
    return TrackingState(0, t0, x, pose, np.zeros((runs, 2)), buffer)


# --------------------------------------------------------------------------------------------
# Transition


def command_delay_steps(delay_s: npt.ArrayLike, sample_period_s: float) -> IntArray:
    """A delay in seconds as whole samples, rounded up: ``ceil(max(d, 0) / T)``."""
    delay = np.asarray(delay_s, dtype=float)
    out: IntArray = np.ceil(np.maximum(delay, 0.0) / sample_period_s - 1e-9).astype(np.int64)
    return out


def _ring_size(needed: int) -> int:
    """The smallest power of two >= ``needed`` (so that ``j mod L`` is ``j & (L - 1)``)."""
    return 1 << max(0, int(needed) - 1).bit_length()


def _grown(buffer: CommandBuffer, step: int, size: int) -> CommandBuffer:
    """The same buffer in a ring of ``size`` slots (commands ``step-L+1..step-1``, arrivals
    ``step..step+L-1``)."""
    old = buffer.capacity
    runs = buffer.sent_mps2.shape[0]
    sent = np.zeros((runs, size, 2))
    sent_stop = np.zeros((runs, size), dtype=bool)
    arriving = np.full((runs, size), _NONE, dtype=np.int64)
    sends = np.arange(step - old + 1, step)
    sent[:, sends % size] = buffer.sent_mps2[:, sends % old]
    sent_stop[:, sends % size] = buffer.sent_stop[:, sends % old]
    times = np.arange(step, step + old)
    arriving[:, times % size] = buffer.arriving[:, times % old]
    return buffer._replace(sent_mps2=sent, sent_stop=sent_stop, arriving=arriving)


def _row_index(runs: int, size: int) -> tuple[IntArray, IntArray]:
    """``arange(runs)`` and ``arange(runs) * size`` (the first flat index of each robot's ring),
    cached: fancy indexing of one entry per robot."""
    found = _ROWS.get((runs, size))
    if found is None:
        rows = np.arange(runs)
        starts = rows * size
        rows.setflags(write=False)
        starts.setflags(write=False)
        found = _ROWS[(runs, size)] = (rows, starts)
    return found


_ROWS: dict[tuple[int, int], tuple[IntArray, IntArray]] = {}


def _send_and_receive(buffer: CommandBuffer, step: int, command: FloatArray, delay: IntArray,
                      stop: BoolArray | None) -> CommandBuffer:
    """Send this sample's commands, then let the actuator take the newest arrived one."""
    # one test for both: a negative delay reads as a huge unsigned one
    if np.count_nonzero(delay.view(np.uint64) >= buffer.capacity):
        if np.count_nonzero(delay < 0):
            raise ModelError('command delays must be >= 0 samples')
        buffer = _grown(buffer, step, _ring_size(int(delay.max()) + 1))
        sent, sent_stop, arriving = buffer.sent_mps2, buffer.sent_stop, buffer.arriving
    else:
        sent = buffer.sent_mps2.copy()
        sent_stop = buffer.sent_stop.copy()
        arriving = buffer.arriving.copy()
    mask = sent.shape[1] - 1  # the ring size is a power of two: j mod L = j & mask
    rows, starts = _row_index(command.shape[0], mask + 1)
    slot = step & mask
    sent[:, slot] = command
    sent_stop[:, slot] = False if stop is None else stop
    # the newest command so far: it supersedes any older one arriving at the same sample
    arriving.reshape(-1)[starts + ((delay + step) & mask)] = step
    newest = arriving[:, slot].copy()  # [R]
    arriving[:, slot] = _NONE
    fresh = newest > buffer.held_index  # [R] a newer command than the held one arrived
    count = np.count_nonzero(fresh)
    if count == 0:
        return CommandBuffer(buffer.held_mps2, buffer.held_stop, buffer.held_index, sent,
                             sent_stop, arriving)
    if count == fresh.size:
        source = newest & mask
        return CommandBuffer(sent[rows, source], sent_stop[rows, source], newest, sent,
                             sent_stop, arriving)
    which = rows[fresh]
    source = newest[fresh] & mask
    held = buffer.held_mps2.copy()
    held[which] = sent[which, source]
    held_stop = buffer.held_stop.copy()
    held_stop[which] = sent_stop[which, source]
    held_index = buffer.held_index.copy()
    held_index[which] = newest[fresh]
    return CommandBuffer(held, held_stop, held_index, sent, sent_stop, arriving)


def transition(state: TrackingState, command_mps2: npt.ArrayLike, delay_steps: npt.ArrayLike,
               disturbance: Disturbance, params: TrackingParams,
               stop: npt.ArrayLike | None = None) -> TrackingState:
    """
    One sample: send ``command`` (it arrives ``delay`` samples later), apply the newest command
    received plus the disturbance, integrate the plant.

    Args:
        state: the robots at sample k.
        command_mps2: ``[R, 2]`` the command sent at k [m/s²].
        delay_steps: ``[R]`` (or one for all) its delay [samples], >= 0.
        disturbance: w and n over this sample.
        params: the dynamics.
        stop: ``[R]`` the command sent is a stop (the robot brakes locally when it holds it).

    Returns:
        The state at k + 1 (``accel_mps2``: what was applied over the sample). Pure: nothing of
        ``state`` is modified.
    """
    command = np.asarray(command_mps2, dtype=float)
    runs = state.x.shape[0]
    if command.shape != (runs, 2):
        raise DimensionError(f'command_mps2 has shape {command.shape}; expected ({runs}, 2)')
    delay = np.asarray(delay_steps, dtype=np.int64)
    if delay.shape != (runs,):
        delay = np.full(runs, delay, dtype=np.int64) if delay.ndim == 0 else delay.reshape(runs)
    flags = None
    if stop is not None:
        flags = np.asarray(stop, dtype=bool)
        if flags.shape != (runs,):
            flags = np.full(runs, flags, dtype=bool) if flags.ndim == 0 else flags.reshape(runs)
    k = state.step
    buffer = _send_and_receive(state.buffer, k, command, delay, flags)
    applied = buffer.held_mps2
    if np.count_nonzero(buffer.held_stop):
        applied = np.where(buffer.held_stop[:, None],
                           -params.stop_brake_per_s * state.x[:, [1, 3]], applied)
    accel = applied + disturbance.hold_mps2 + disturbance.noise_mps2  # [R, 2]
    pose = state.pose
    if params.unicycle:
        assert pose is not None
        inputs = unicycle_inputs(pose[:, 2], pose[:, 3], accel, params.min_speed_mps)
        pose = unicycle_step(pose, inputs.longitudinal_acceleration_mps2, inputs.yaw_rate_radps,
                             params.sample_period_s, substeps=2)
        x = np.stack([pose[:, 0], pose[:, 3] * np.cos(pose[:, 2]), pose[:, 1],
                      pose[:, 3] * np.sin(pose[:, 2])], axis=-1)
    else:
        x = state.x @ params.a.T + accel @ params.b.T
    return TrackingState(k + 1, state.time_offset_s, x, pose, accel, buffer)


# --------------------------------------------------------------------------------------------
# Disturbance


def initial_disturbance(rng: np.random.Generator, params: TrackingParams,
                        runs: int) -> FloatArray:
    """The piecewise-constant disturbance of the first hold period ``[R, 2]``."""
    return rng.normal(0.0, params.disturbance_std_mps2, (runs, 2))


def next_disturbance(hold_mps2: FloatArray, step: int, rng: np.random.Generator,
                     params: TrackingParams) -> Disturbance:
    """
    The disturbance over sample ``step``, drawn sample by sample: w is redrawn at every
    multiple of the hold period (k > 0), then the noise is drawn.
    """
    hold = hold_mps2
    if step > 0 and step % params.disturbance_hold_steps == 0:
        hold = rng.normal(0.0, params.disturbance_std_mps2, hold_mps2.shape)
    return Disturbance(hold, rng.normal(0.0, params.noise_std_mps2, hold_mps2.shape))


def disturbance_sequence(rng: np.random.Generator, params: TrackingParams,
                         steps: int) -> tuple[FloatArray, FloatArray]:
    """
    One robot's disturbance over a whole run, drawn at once: the hold values
    ``[steps // hold + 1, 2]`` (sample k uses row ``k // hold``), then the noise ``[steps, 2]``.
    """
    holds = rng.normal(0.0, params.disturbance_std_mps2,
                       size=(steps // params.disturbance_hold_steps + 1, 2))
    noise = rng.normal(0.0, params.noise_std_mps2, size=(steps, 2))
    return holds, noise


# --------------------------------------------------------------------------------------------
# Divergence, observation and score pieces


def tracking_error(state: TrackingState, params: TrackingParams) -> FloatArray:
    """``x - r(t)`` ``[R, 4]`` in state order ``(e_px, e_vx, e_py, e_vy)``."""
    ref_state, _ = params.reference.state([sample_time(state, params)])
    out: FloatArray = state.x - ref_state[0]
    return out


def position_error(error_state: npt.ArrayLike) -> FloatArray:
    """``hypot(e_px, e_py)`` ``[...]`` of error states ``[..., 4]`` [m]."""
    e = np.asarray(error_state)
    out: FloatArray = np.hypot(e[..., 0], e[..., 2])
    return out


def diverged(error_state: npt.ArrayLike, params: TrackingParams) -> BoolArray:
    """The position error exceeds the divergence threshold ``[...]``."""
    out: BoolArray = position_error(error_state) > params.divergence_threshold_m
    return out


def recover(state: TrackingState, mask: npt.ArrayLike, params: TrackingParams) -> TrackingState:
    """
    Put the robots of ``mask`` ``[R]`` back on the reference at the state's sample, the
    actuator holding the feed-forward (the operator recovers a diverged robot); the commands in
    flight stay in flight.
    """
    rows = np.asarray(mask, dtype=bool)
    if not rows.any():
        return state
    ref_state, ref_acc = params.reference.state([sample_time(state, params)])
    x = state.x.copy()
    x[rows] = ref_state[0]
    pose = state.pose
    if pose is not None:
        pose = pose.copy()
        pose[rows] = _pose_of(ref_state)[0]
    buffer = state.buffer
    held = buffer.held_mps2.copy()
    held[rows] = ref_acc[0]
    held_stop = buffer.held_stop.copy()
    held_stop[rows] = False
    return state._replace(x=x, pose=pose,
                          buffer=buffer._replace(held_mps2=held, held_stop=held_stop))


def in_flight_commands(state: TrackingState, count: int) -> FloatArray:
    """The commands sent at ``k - count .. k - 1`` ``[R, count, 2]``, oldest first (with a fixed
    delay of ``count`` samples: the commands still travelling)."""
    size = state.buffer.capacity
    if count > size - 1:
        raise ModelError(f'{count} commands asked from a ring of {size}')
    slots = np.arange(state.step - count, state.step) % size
    out: FloatArray = state.buffer.sent_mps2[:, slots]
    return out


def reference_phase(state: TrackingState, params: TrackingParams) -> tuple[float, float]:
    """``(sin ωt, cos ωt)`` at the state's sample (the reference is a function of it)."""
    phase = params.reference.omega_radps * sample_time(state, params)
    return math.sin(phase), math.cos(phase)


def newest_command_age(delays_steps: npt.ArrayLike) -> IntArray:
    """
    ``τ(k) = k - max{j : j + d(j) <= k}``: age of the newest command received at k ``[N]``, the
    buffer's rule in closed form for delays known in advance.

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
    out: IntArray = sent - newest
    return out
