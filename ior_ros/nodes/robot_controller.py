"""
``robot_controller``: the simulated teleoperated robot of seed 003 and its delay-aware controller.

* **Robot**: :mod:`ior_ros.core.control.tracking_dynamics` (one robot, the plant of the gain
  schedule: planar double integrator at the schedule's sample period T), stepped by a timer of
  period T on the node's clock (``use_sim_time`` works). It starts at rest at the origin of
  ``odom``, which is where the figure eight starts.
* **Real robot** (``robot:=cmd_vel``; default ``simulated``, the bullet above): the node steps
  no plant. A velocity-controlled base (:mod:`ior_ros.nodes._velocity_base`) reports its state
  as nav_msgs/Odometry on ``odom_in`` (position; velocity in the child frame rotated to odom by
  the pose's yaw) and takes geometry_msgs/Twist on ``cmd_vel``. Every sample the same law as
  below, ``u = a_ff − K (x − r)`` on the measured state, with the same gain schedule, switching,
  timeouts and twin gate, becomes the velocity command ``v_cmd = v_measured + u T``
  (:mod:`ior_ros.core.control.velocity_base`: the double integrator of the schedule, for a base
  whose velocity loop settles within a control period; ``base_lag_s`` = τ > 0 compensates a
  first-order velocity lag: ``u T / (1 − e^{−T/τ})``), clipped to ``max_speed_mps``, sent in
  ``cmd_vel_frame``: ``base_link`` (default: what bases expect; ``linear.x``/``linear.y`` of
  the odom-frame command rotated by −yaw, so the base must be holonomic: a differential-drive
  base cannot follow ``linear.y``) or ``odom`` (unrotated). ``angular`` is 0: the controller does
  not turn the base. A stop (command timeout, a command without ``deadman``, the policy's stop)
  sends zero twist every sample, and so does a stale base: no odometry for ``odom_timeout_s``
  (one warning; before the first odometry too); while stale nothing measured is published
  (state, odom, tf, path) and the set-point waits; when odometry returns, tracking resumes from
  where the base is. The state, odom (the measured one, republished in frame ``odom``), tf, path
  and status outputs are those below, with the measured pose's yaw as orientation and its yaw
  rate; ``disturbance_std_mps2``, ``noise_std_mps2`` and ``stop_brake_per_s`` belong to the
  simulated robot and are not used.
* **Set-point**: the newest ior_ros/TeleopCommand received on ``cmd`` (best effort as the
  operator sends it; keep last 16, so that a burst that arrives between two runs of the
  executor is measured command by command instead of counted as lost) gives the set-point
  velocity ``twist.linear``; the set-point position is that velocity integrated at every control
  sample, restarting from the robot's position at the first command (and after a timeout).
  The feed-forward acceleration is the difference between the newest set-point velocity and the
  newest one of an earlier operator tick, over the difference of their ``send_time`` (0 before
  two ticks). Commands of one tick share a send time (within 1 ms): the last of them is the
  set-point, and it replaces the others in the feed-forward too, so that a slip followed by a
  good command of the same tick leaves no slip in the acceleration.
* **Delay**: for each command received ``d = now − send_time`` on the node clock (so both nodes
  must share a clock: the same host, or sim time); published as ior_ros/DelayMeasurement on
  ``delay`` for every command that arrives, vetoed and stale ones too (``rtt_s`` is ``2 d``: this
  node sees only the command path, so the round trip is estimated as symmetric): the delay the
  network gave. The delay a command has when it is applied (later, if it waited for the twin's
  verdict), in samples
  (:func:`~ior_ros.core.control.tracking_dynamics.command_delay_steps`), is the bound given to
  the switching policy (:class:`~ior_ros.core.control.switching_policy.SwitchingPolicy` over the
  certified :class:`~ior_ros.core.control.gain_schedule.GainSchedule`); without new commands the
  last bound stays. Every change of mode or gain is logged as one info line
  ``gain: <mode> for delay bound <h> samples``.
* **Loop**: ``u = a_ff − K (x − r)`` as in core/control/tracking_sim.py. The loop of seed 003
  closes over the link, so the command acts after the measured delay: ``transition`` gets the
  bound as the command's delay (the reason the gain must be certified for it).
* **Missed samples**: the timer keeps rcl's semantics (one call after calls were missed, not a
  burst), but the simulated robot does not lose the time: when the node comes back from a gap of
  n > 1 periods on its clock (a process starved of CPU while ``/clock`` went on), it first runs
  the n − 1 missed samples (law, plant, outputs, stamped at their own times) with what it knows
  then, so the simulated robot and its on-board controller, which the model runs at every
  period, are not slowed by the host's load. The count is ``samples_missed`` of ``status``;
  one warning per gap of more than 10 samples. With ``robot:=cmd_vel`` nothing is run again:
  the base held the last twist, and a controller cannot act in the past.
* **Timeout**: no command for ``command_timeout_s`` (or a stop decision of the policy) sends the
  stop command of the dynamics (local braking ``a = −c v``, ``stop_brake_per_s``) and logs one
  warning ``no command for <t> s: stopping the robot``; the next command resumes tracking from
  where the robot is. While stopped the set-point is frozen, so ``tracking_error_m`` is the
  distance to the last set-point.
* **Outputs** every sample: ior_ros/RobotState on ``state`` (best effort, keep last 1: eMBB
  feedback, newest only) with position error to the set-point, heading error, the excess
  curvature ``|κ_robot − κ_set-point|`` and the dexterity index of seed 003 eq. 3
  (:func:`~ior_ros.core.control.dexterity.dexterity_index_scalar`, evaluated on this sample's
  values, not over a run); nav_msgs/Odometry on ``odom`` (frame ``odom``, child ``base_link``,
  twist in ``base_link``); tf2_msgs/TFMessage on ``/tf`` (``map → odom`` identity,
  ``odom → base_link``).
  Every 10 samples a pose is added to nav_msgs/Path on ``path`` (frame ``odom``, the last
  ``path_length`` poses); the path is published every 100 samples (once a second).
  ior_ros/ControllerStatus on ``status`` (reliable, keep last 10) when the gain mode, its delay
  bound or the tracking state changes, and once a second: whether the gain in force is certified
  for the bound (what the faults of issue 12 check), the time since the last command, the twin
  gate's state and counts.
* **Twin gate** (``twin_gate``, off by default): each received command is held until its
  ior_ros/TwinPrediction arrives on ``twin_prediction`` (reliable, keep last 100; matched by
  ``command_sequence``; verdicts that arrive before their command wait in a map of the newest
  ``VERDICTS_KEPT``) or until ``twin_wait_s`` has passed on the node clock (checked by a timer of
  period ``twin_wait_s / 2``, at least 2 ms). A veto drops the command (counted; one warning a
  second at most, with the twin's reason; ``command_sequence`` of RobotState does not advance);
  a pass, or a wait that expires, applies it (an expired wait is counted, one warning a second
  at most), and the delay the gain schedule sees is measured then. When no verdict has arrived
  for ``twin_silence_s``, commands are applied at once (one warning ``digital twin silent …``,
  one info line when a verdict arrives again), so a dead twin never stops the robot. A command
  without ``deadman`` (a stop) is applied at once, never held: stopping is not for the twin to
  veto.
* **Video** (``video_fps`` > 0, default 30; 0: no publisher at all): a timer of period
  ``1 / video_fps`` on the node clock publishes sensor_msgs/CompressedImage on ``video`` (best
  effort, keep last 10: eMBB feedback, a late frame is worth nothing) with ``header.stamp`` the
  capture time (the timer's ``now``), ``frame_id`` ``camera`` and ``format`` ``jpeg``. The frame
  sizes follow the eMBB traffic model (:mod:`ior_ros.core.ran.video_frames`): the mean bit rate
  ``λ_e L_e`` (``video_packet_rate_pps`` × ``video_packet_bits``, by default the slicing model's
  1300 packets/s of 12 000 bit, 15.6 Mb/s) split into frames of mean ``λ_e L_e / (8 fps)`` bytes
  (65 000 at 30 frames/s), each frame's size lognormal around that mean with coefficient of
  variation ``video_frame_cv``, drawn from ``numpy.random.default_rng([seed, 1])`` (a stream of
  its own: the disturbances are the same with and without video). The payload is that many zero
  bytes, **not a JPEG** (nothing decodes it; what matters on the eMBB slice is its size). A mean
  frame above ``MAX_FRAME_BYTES`` is refused at start. The frames share the executor with the
  control timer; test/nodes/test_video.py measures the control period's jitter with and
  without them.
* **Heading**: the direction of the velocity (REP 103: x forward, z up), kept while the speed is
  below the dynamics' ``min_speed_mps``: the simulated robot's orientation, and for both robots
  the heading of RobotState's ``orientation_error_rad`` (a real base's orientation is its
  odometry's yaw). transforms3d is not a dependency, so
  :func:`yaw_quaternion` is the two-line yaw-only formula ``(0, 0, sin ψ/2, cos ψ/2)``.

Parameters (descriptors with ranges; all read-only): see
:class:`~ior_ros.nodes._config.RobotControllerConfig`. Uses only ``ior_ros.runtime`` names.
"""

from __future__ import annotations

import math
import sys
from collections import OrderedDict, deque
from typing import Any

import numpy as np

from ior_ros.core.control.control_config import TrackingConfig
from ior_ros.core.control.dexterity import dexterity_index_scalar
from ior_ros.core.control.gain_schedule import REFERENCE_SCHEDULE, GainSchedule
from ior_ros.core.control.switching_policy import SwitchingMode, SwitchingPolicy
from ior_ros.core.control.tracking_dynamics import (
    command_delay_steps,
    initial_disturbance,
    initial_state,
    next_disturbance,
    tracking_params,
    transition,
)
from ior_ros.core.errors import ConfigError
from ior_ros.core.ran.video_frames import lognormal_frame_bytes
from ior_ros.nodes._config import (
    CONTROLLER_RANGES,
    RobotControllerConfig,
    RobotKind,
    build_config,
)
from ior_ros.nodes._descriptors import describe
from ior_ros.nodes._main import spin_node
from ior_ros.nodes._velocity_base import VelocityBase
from ior_ros.nodes.teleop_operator import command_qos
from ior_ros.runtime import (
    Node,
    QoSProfile,
    ReliabilityPolicy,
    get_message,
)
from ior_ros.runtime.clock import Time

MAX_MISSED = 1000
"""More missed samples than this (10 s) is a jump of the clock, not a starved process."""
SAME_SEND_NS = 1_000_000
"""Commands whose send times are this close [ns] belong to one operator tick."""

TeleopCommand = get_message('ior_ros/msg/TeleopCommand')
RobotState = get_message('ior_ros/msg/RobotState')
DelayMeasurement = get_message('ior_ros/msg/DelayMeasurement')
Odometry = get_message('nav_msgs/msg/Odometry')
Path = get_message('nav_msgs/msg/Path')
PoseStamped = get_message('geometry_msgs/msg/PoseStamped')
TransformStamped = get_message('geometry_msgs/msg/TransformStamped')
Header = get_message('std_msgs/msg/Header')
Pose = get_message('geometry_msgs/msg/Pose')
TimeMsg = get_message('builtin_interfaces/msg/Time')
TFMessage = get_message('tf2_msgs/msg/TFMessage')
TwinPrediction = get_message('ior_ros/msg/TwinPrediction')
ControllerStatus = get_message('ior_ros/msg/ControllerStatus')
CompressedImage = get_message('sensor_msgs/msg/CompressedImage')

#: a pose is added to the path every this many samples
PATH_EVERY = 10
#: the path is published every this many samples (1 s at 10 ms): a Path of 1000 poses takes
#: ~20 ms of Python to serialize, too much to do ten times a second beside a 10 ms control loop
PATH_PUBLISH_EVERY = 100
#: ControllerStatus is published on every change and every this many samples (1 s)
STATUS_EVERY = 100
#: commands a burst may hold before the robot runs (best effort, keep last N): every command is
#: measured (its delay reaches the gain schedule and /delay); the newest gives the set-point
COMMAND_QUEUE_DEPTH = 16
#: verdicts kept that arrived before their command (newest kept)
VERDICTS_KEPT = 1000
#: at most one veto warning per this many seconds of node time
VETO_WARNING_PERIOD_S = 1.0
#: largest mean video frame accepted [byte] (8 MiB: several 4K JPEGs; a larger mean is a
#: mistyped rate or packet size, and each frame is built and serialized in Python)
MAX_FRAME_BYTES = 8 * 1024 * 1024
#: depth of the video publisher (best effort): the frames a slow reader may still get
VIDEO_QOS_DEPTH = 10

_FLOATS: dict[str, str] = {
    'command_timeout_s': 'without a command for this long the robot stops [s]',
    'tolerated_growth': 'G_max of the switching policy: growth the nominal gain may ride out',
    'dwell_time_s': 'time within the nominal bound before the nominal gain returns [s]',
    'disturbance_std_mps2': 'σ_w of the piecewise-constant acceleration disturbance [m/s²]',
    'noise_std_mps2': 'σ_n of the per-sample acceleration noise [m/s²]',
    'stop_brake_per_s': 'braking gain c of the stop command, a = −c v [1/s]',
    'twin_wait_s': 'with twin_gate: longest a command waits for its verdict [s]',
    'twin_silence_s': 'with twin_gate: no verdict for this long lets commands pass at once [s]',
    'video_packet_rate_pps': 'λ_e of the eMBB traffic model the video carries [packets/s]',
    'video_packet_bits': 'L_e of the eMBB traffic model [bit]; frames carry λ_e L_e bit/s',
    'video_frame_cv': 'coefficient of variation of the lognormal frame sizes; 0: constant',
    'max_speed_mps': 'with robot:=cmd_vel: the velocity command is clipped to this speed [m/s]',
    'odom_timeout_s': 'with robot:=cmd_vel: no odometry for this long: zero twist [s]',
    'base_lag_s': 'with robot:=cmd_vel: time constant of the base velocity lag, compensated '
                  'in the command [s]; 0: none',
}


def yaw_quaternion(yaw_rad: float) -> tuple[float, float, float, float]:
    """The unit quaternion ``(x, y, z, w)`` of a rotation by ``yaw`` about z."""
    return 0.0, 0.0, math.sin(0.5 * yaw_rad), math.cos(0.5 * yaw_rad)


def _ns(stamp: Any) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


def declare_config(node: Any) -> RobotControllerConfig:
    """Declare the parameters (read-only, with ranges) and build the config object."""
    defaults = RobotControllerConfig()
    values: dict[str, Any] = {}
    values['schedule_path'] = node.declare_parameter('schedule_path', '', describe(
        'certified gain schedule (JSON); empty: the shipped reference schedule; its sample '
        'period is the control period', read_only=True)).value
    for name, text in _FLOATS.items():
        values[name] = node.declare_parameter(name, float(getattr(defaults, name)), describe(
            text, read_only=True, float_range=CONTROLLER_RANGES[name])).value
    values['always_switch'] = node.declare_parameter('always_switch', False, describe(
        'switch to the scheduled gain at every violation (no growth test)', read_only=True)).value
    values['schedule_fallback'] = node.declare_parameter(
        'schedule_fallback', defaults.schedule_fallback.value, describe(
            'beyond the delays the schedule certifies: most_conservative (the certified gain of '
            'the widest range) or stop (brake locally until the delay falls back)',
            read_only=True,
            additional_constraints="one of 'most_conservative', 'stop'")).value
    low, high = CONTROLLER_RANGES['video_fps']
    values['video_fps'] = node.declare_parameter('video_fps', defaults.video_fps, describe(
        'camera frames per second on video [1/s]; 0: no video; at most 120 (a fast camera)',
        read_only=True, int_range=(int(low), int(high)))).value
    low, high = CONTROLLER_RANGES['path_length']
    values['path_length'] = node.declare_parameter('path_length', defaults.path_length, describe(
        'poses kept in the published path', read_only=True,
        int_range=(int(low), int(high)))).value
    values['seed'] = node.declare_parameter('seed', 0, describe(
        'seed of the disturbance generator', read_only=True, int_range=(0, 2**63 - 1))).value
    values['twin_gate'] = node.declare_parameter('twin_gate', False, describe(
        'hold each command for the digital twin verdict; vetoed commands are dropped',
        read_only=True)).value
    values['robot'] = node.declare_parameter('robot', defaults.robot.value, describe(
        'the robot driven: simulated (the tracking dynamics) or cmd_vel (a real base: Odometry '
        'on odom_in, Twist on cmd_vel)', read_only=True,
        additional_constraints="one of 'simulated', 'cmd_vel'")).value
    values['cmd_vel_frame'] = node.declare_parameter(
        'cmd_vel_frame', defaults.cmd_vel_frame.value, describe(
            'with robot:=cmd_vel: frame of the Twist sent, base_link (rotated by -yaw) or odom',
            read_only=True, additional_constraints="one of 'base_link', 'odom'")).value
    config: RobotControllerConfig = build_config(RobotControllerConfig,
                                                   node.get_fully_qualified_name(), values)
    if config.video_mean_frame_bytes > MAX_FRAME_BYTES:
        raise ConfigError(
            f"parameters 'video_packet_rate_pps' x 'video_packet_bits' / 'video_fps' of node "
            f'{node.get_fully_qualified_name()} = {config.video_packet_rate_pps:g} x '
            f'{config.video_packet_bits:g} bit / {config.video_fps:g}: a mean frame of '
            f'{config.video_mean_frame_bytes:.0f} bytes; at most {MAX_FRAME_BYTES}')
    return config


class RobotController(Node):  # type: ignore[misc]
    """The delayed robot, stepped at the control period, tracking the operator's set-points."""

    def __init__(self) -> None:
        super().__init__('robot_controller')
        cfg = self.config = declare_config(self)
        self.schedule = GainSchedule.load(cfg.schedule_path or REFERENCE_SCHEDULE).with_fallback(
            cfg.schedule_fallback)
        self.period_s = float(self.schedule.plant.sample_period_s)
        self.policy = SwitchingPolicy(
            self.schedule, cfg.tolerated_growth,
            int(round(cfg.dwell_time_s / self.period_s)), always_switch=cfg.always_switch)
        tracking = TrackingConfig(disturbance_std_mps2=cfg.disturbance_std_mps2,
                                  noise_std_mps2=cfg.noise_std_mps2,
                                  stop_brake_per_s=cfg.stop_brake_per_s)
        self.params = tracking_params(tracking, self.period_s, plant=self.schedule.plant)
        state = initial_state(self.params, 1, held_command_mps2=np.zeros(2))
        self.state = state._replace(x=np.zeros((1, 4)))  # at rest at the origin
        self.rng = np.random.default_rng(cfg.seed)
        self.hold = initial_disturbance(self.rng, self.params, 1)
        # set-point
        self.set_pos = np.zeros(2)
        self.set_vel = np.zeros(2)
        self.feed_forward = np.zeros(2)
        self.last_send_ns: int | None = None
        self.ff_base: tuple[int, Any] | None = None  # (send ns, velocity): feed-forward's origin
        self.last_receive_ns: int | None = None
        self.sequence = 0
        self.tracking = False  # following commands (False: stopped)
        # delay
        self.bound_steps = 0
        self.pending_bound: int | None = None
        self.last_decision: tuple[str, int] | None = None
        self.heading = 0.0
        self.path: deque[Any] = deque(maxlen=cfg.path_length)
        self.step = 0
        self.next_due_ns: int | None = None  # the next sample's time on the timer's grid
        self.missed = 0  # control samples the timer missed (module docstring: missed samples)
        best_effort = command_qos()
        self.state_pub = self.create_publisher(RobotState, 'state', best_effort)
        self.odom_pub = self.create_publisher(Odometry, 'odom', 10)
        self.path_pub = self.create_publisher(Path, 'path', 1)
        self.tf_pub = self.create_publisher(TFMessage, '/tf', QoSProfile(
            depth=100, reliability=ReliabilityPolicy.RELIABLE))
        self.delay_pub = self.create_publisher(DelayMeasurement, 'delay', 100)
        self.status_pub = self.create_publisher(ControllerStatus, 'status', 10)
        self.last_status: tuple[Any, ...] | None = None
        self._outputs = _SampleMessages()
        self.sub = self.create_subscription(TeleopCommand, 'cmd', self.on_command, QoSProfile(
            depth=COMMAND_QUEUE_DEPTH, reliability=ReliabilityPolicy.BEST_EFFORT))
        # twin gate
        self.held: dict[int, tuple[Any, int]] = {}  # sequence → (command, received ns)
        self.verdicts: OrderedDict[int, tuple[bool, str]] = OrderedDict()
        self.vetoed = 0
        self.veto_warning_ns: int | None = None
        self.expired = 0  # commands applied because their verdict came too late
        self.expired_warning_ns: int | None = None
        self.last_verdict_ns: int | None = None
        self.twin_silent = False
        if cfg.twin_gate:
            self.verdict_sub = self.create_subscription(
                TwinPrediction, 'twin_prediction', self.on_verdict,
                QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
            self.gate_timer = self.create_timer(max(cfg.twin_wait_s / 2.0, 0.002),
                                                self.release_held)
        self.base = (VelocityBase(self, cfg, self.period_s) if cfg.robot is RobotKind.CMD_VEL
                     else None)
        self.timer = self.create_timer(self.period_s, self.tick)
        # video (module docstring)
        self.video_rng = np.random.default_rng([cfg.seed, 1])
        self.frames = 0
        if cfg.video_fps > 0:
            self.video_pub = self.create_publisher(CompressedImage, 'video', QoSProfile(
                depth=VIDEO_QOS_DEPTH, reliability=ReliabilityPolicy.BEST_EFFORT))
            self.video_timer = self.create_timer(1.0 / cfg.video_fps, self.publish_frame)
        self.get_logger().info(
            f'control period {self.period_s * 1e3:g} ms, nominal gain certified up to '
            f'{self.schedule.nominal_certified_steps} samples, schedule up to '
            f'{self.schedule.max_delay_steps} samples')
        if self.base is not None:
            self.get_logger().info(
                f'robot cmd_vel: odometry on {self.base.odom_sub.topic_name}, Twist in frame '
                f'{cfg.cmd_vel_frame.value} on {self.base.twist_pub.topic_name}, at most '
                f'{cfg.max_speed_mps:g} m/s, odometry timeout {cfg.odom_timeout_s:g} s, base '
                f'lag {cfg.base_lag_s:g} s')

    # ---- twin gate
    def on_command(self, msg: Any) -> None:
        self.measure(msg)
        if not self.config.twin_gate or not msg.deadman:
            self.apply_command(msg)
            return
        now_ns = self.get_clock().now().nanoseconds
        if msg.sequence <= self.sequence and self.tracking:
            return  # stale
        if self.gate_silent(now_ns):
            self.apply_command(msg)
            return
        verdict = self.verdicts.pop(msg.sequence, None)
        if verdict is not None:
            self.settle(msg, *verdict, now_ns)
        else:
            self.held[msg.sequence] = (msg, now_ns)

    def gate_silent(self, now_ns: int) -> bool:
        """No verdict for twin_silence_s (warned once when it starts)."""
        if self.last_verdict_ns is None:
            self.last_verdict_ns = now_ns  # silence counts from the first command
        silent_s = (now_ns - self.last_verdict_ns) * 1e-9
        if silent_s > self.config.twin_silence_s and not self.twin_silent:
            self.twin_silent = True
            self.get_logger().warning(f'digital twin silent for {silent_s:.3f} s: commands pass '
                                      'without its verdict')
        return self.twin_silent

    def on_verdict(self, msg: Any) -> None:
        now_ns = self.get_clock().now().nanoseconds
        if self.twin_silent and self.last_verdict_ns is not None:
            self.get_logger().info(f'digital twin back after '
                                   f'{(now_ns - self.last_verdict_ns) * 1e-9:.3f} s: commands '
                                   'wait for its verdict again')
        self.twin_silent = False
        self.last_verdict_ns = now_ns
        held = self.held.pop(msg.command_sequence, None)
        if held is not None:
            self.settle(held[0], bool(msg.veto), str(msg.reason), now_ns)
        elif msg.command_sequence > self.sequence:
            self.verdicts[msg.command_sequence] = (bool(msg.veto), str(msg.reason))
            while len(self.verdicts) > VERDICTS_KEPT:
                self.verdicts.popitem(last=False)

    def settle(self, msg: Any, veto: bool, reason: str, now_ns: int) -> None:
        """Apply a passed command; drop a vetoed one (counted, warned at most once a second)."""
        if not veto:
            self.apply_command(msg)
            return
        self.vetoed += 1
        if self.veto_warning_ns is None or \
                now_ns - self.veto_warning_ns >= VETO_WARNING_PERIOD_S * 1e9:
            self.veto_warning_ns = now_ns
            self.get_logger().warning(f'twin vetoed command {msg.sequence} ({self.vetoed} '
                                      f'vetoed so far): {reason}')

    def release_held(self) -> None:
        """Apply the held commands whose wait has expired (all of them once the twin is
        silent), oldest first."""
        if not self.held:
            return
        now_ns = self.get_clock().now().nanoseconds
        silent = self.gate_silent(now_ns)
        wait_ns = self.config.twin_wait_s * 1e9
        for sequence in sorted(self.held):
            msg, received_ns = self.held[sequence]
            if silent or now_ns - received_ns >= wait_ns:
                del self.held[sequence]
                if not silent:
                    self.expired += 1
                    if self.expired_warning_ns is None or \
                            now_ns - self.expired_warning_ns >= VETO_WARNING_PERIOD_S * 1e9:
                        self.expired_warning_ns = now_ns
                        self.get_logger().warning(
                            f'no twin verdict for command {sequence} within twin_wait_s = '
                            f'{self.config.twin_wait_s:g} s: applied without it '
                            f'({self.expired} so far)')
                self.apply_command(msg)

    # ---- commands
    def measure(self, msg: Any) -> None:
        """One DelayMeasurement per command received (vetoed, held or stale ones too): the
        network's delay ``receive − send``, what the URLLC slice delivered."""
        now = self.get_clock().now()
        delay_s = (now.nanoseconds - _ns(msg.send_time)) * 1e-9
        out = self._outputs.delay
        out.header.stamp = out.receive_time = now.to_msg()
        out.sequence = msg.sequence
        out.send_time = msg.send_time
        out.one_way_delay_s = delay_s
        out.rtt_s = 2.0 * delay_s
        self.delay_pub.publish(out)

    def apply_command(self, msg: Any) -> None:
        now = self.get_clock().now()
        now_ns = now.nanoseconds
        send_ns = _ns(msg.send_time)
        if msg.sequence <= self.sequence and self.tracking:
            return  # overtaken by a newer command: stale
        delay_s = (now_ns - send_ns) * 1e-9
        steps = int(command_delay_steps(delay_s, self.period_s))
        if self.pending_bound is None or steps > self.pending_bound:
            self.pending_bound = steps
        velocity = np.array([msg.twist.linear.x, msg.twist.linear.y])
        if self.last_send_ns is not None and send_ns - self.last_send_ns > SAME_SEND_NS:
            self.ff_base = (self.last_send_ns, self.set_vel)  # the newest of the previous tick
        if not self.tracking:
            if msg.deadman:  # resume from where the robot is
                self.set_pos = self.position()
                self.feed_forward = np.zeros(2)
                if self.last_receive_ns is not None:
                    self.get_logger().info('commands again: tracking')
        elif not msg.deadman:
            self.get_logger().info(f'command {msg.sequence} without deadman: stopping the robot')
        elif self.ff_base is not None and send_ns - self.ff_base[0] > SAME_SEND_NS:
            self.feed_forward = (velocity - self.ff_base[1]) / ((send_ns - self.ff_base[0]) * 1e-9)
        self.set_vel = velocity
        self.last_send_ns = send_ns
        self.last_receive_ns = now_ns
        self.sequence = msg.sequence
        self.tracking = bool(msg.deadman)
        for sequence in [s for s in self.held if s < msg.sequence]:
            del self.held[sequence]  # overtaken by this one: stale

    def position(self) -> Any:
        """The robot's position now, ``[p_x, p_y]`` in odom [m] (a real base's last odometry;
        the origin before any)."""
        if self.base is None:
            return self.state.x[0, [0, 2]].copy()
        if self.base.x is None:
            return np.zeros(2)
        return np.array([self.base.x[0], self.base.x[2]])

    # ---- control sample
    def tick(self) -> None:
        now = self.get_clock().now()
        for missed_ns in self.missed_samples(now.nanoseconds):
            self.sample(Time(nanoseconds=missed_ns, clock_type=now.clock_type))
        self.sample(now)

    def missed_samples(self, now_ns: int) -> list[int]:
        """The due times of the samples the timer missed before this call (module docstring:
        missed samples); none for a real base. The grid of due times starts at the first call
        and moves by one period a sample, as the timer's does, so a callback that runs a little
        late (the clock's granularity, a busy executor) misses nothing."""
        period_ns = int(round(self.period_s * 1e9))
        due = self.next_due_ns
        if due is None or now_ns < due - period_ns // 2 or now_ns - due > MAX_MISSED * period_ns:
            self.next_due_ns = now_ns + period_ns  # first call, or the clock jumped: start again
            return []
        missed = []
        while now_ns >= due + period_ns:  # a later sample is due as well: this one was missed
            missed.append(due)
            due += period_ns
        self.next_due_ns = due + period_ns
        if not missed:
            return []
        self.missed += len(missed)
        if len(missed) > 10:
            self.get_logger().warning(
                f'{len(missed)} control samples missed ({len(missed) * self.period_s:.3f} s '
                'without CPU)' + ('' if self.base is not None else ': run now at their times'))
        return [] if self.base is not None else missed

    def sample(self, now: Any) -> None:
        """One control sample at ``now``."""
        now_ns = now.nanoseconds
        if self.tracking and self.last_receive_ns is not None:
            silent_s = (now_ns - self.last_receive_ns) * 1e-9
            if silent_s > self.config.command_timeout_s:
                self.tracking = False
                self.set_vel = np.zeros(2)
                self.feed_forward = np.zeros(2)
                self.get_logger().warning(f'no command for {silent_s:.3f} s: stopping the robot')
        if self.pending_bound is not None:
            self.bound_steps, self.pending_bound = self.pending_bound, None
        decision = self.policy.decide(self.bound_steps, 1)
        key = (decision.mode.value, decision.delay_bound_steps)
        if self.last_decision is None or key[0] != self.last_decision[0]:
            self.get_logger().info(f'gain: {key[0]} for delay bound {key[1]} samples')
        self.last_decision = key
        self.publish_status(now, decision)
        if self.base is not None:
            self.drive_base(now, decision)
            return
        x = self.state.x[0]
        reference = np.array([self.set_pos[0], self.set_vel[0], self.set_pos[1], self.set_vel[1]])
        stop = not self.tracking or decision.mode is SwitchingMode.STOP
        command = np.zeros(2)
        if not stop:
            assert decision.gain is not None
            command = self.feed_forward - decision.gain @ (x - reference)
        disturbance = next_disturbance(self.hold, self.step, self.rng, self.params)
        self.hold = disturbance.hold_mps2
        self.state = transition(self.state, command[None, :], self.bound_steps, disturbance,
                                self.params, stop=np.array([stop]))
        self.step += 1
        if self.tracking:
            self.set_pos = self.set_pos + self.set_vel * self.period_s
        self.publish(now)

    def drive_base(self, now: Any, decision: Any) -> None:
        """The sample of robot:=cmd_vel (module docstring): the law on the measured state, sent
        as a velocity command; zero twist when stopped or when the odometry is stale."""
        base = self.base
        assert base is not None
        self.step += 1
        if not base.fresh(now.nanoseconds):
            base.send(None)
            return  # nothing measured to publish; the set-point waits
        assert base.x is not None
        if base.resume:  # odometry back (or first): the set-point restarts where the base is
            base.resume = False
            self.set_pos = self.position()
            self.feed_forward = np.zeros(2)
        if not self.tracking or decision.mode is SwitchingMode.STOP:
            base.send(None)
        else:
            assert decision.gain is not None
            reference = np.array([self.set_pos[0], self.set_vel[0], self.set_pos[1],
                                  self.set_vel[1]])
            command = self.feed_forward - decision.gain @ (np.array(base.x) - reference)
            base.send((float(command[0]), float(command[1])))
        if self.tracking:
            self.set_pos = self.set_pos + self.set_vel * self.period_s
        self.publish(now)

    # ---- outputs
    def publish_status(self, now: Any, decision: Any) -> None:
        """ControllerStatus on a change of gain, bound or tracking, and every STATUS_EVERY."""
        change = (decision.mode.value, decision.delay_bound_steps, self.tracking,
                  self.twin_silent)
        if change == self.last_status and self.step % STATUS_EVERY != 0:
            return
        self.last_status = change
        msg = ControllerStatus()
        msg.header.stamp = now.to_msg()
        msg.header.frame_id = 'base_link'
        msg.gain_mode = decision.mode.value
        msg.delay_bound_samples = int(decision.delay_bound_steps)
        msg.certified = bool(decision.certified_for_bound)
        msg.nominal_certified_samples = int(self.schedule.nominal_certified_steps)
        msg.tracking = bool(self.tracking)
        msg.command_silence_s = (max(0.0, (now.nanoseconds - self.last_receive_ns) * 1e-9)
                                 if self.last_receive_ns is not None else 0.0)
        msg.twin_silent = bool(self.twin_silent)
        msg.commands_vetoed = int(self.vetoed)
        msg.commands_expired = int(self.expired)
        msg.samples_missed = int(self.missed)
        self.status_pub.publish(msg)

    def publish_frame(self) -> None:
        """One video frame: zero bytes, as many as the eMBB model draws (not a JPEG)."""
        size = int(lognormal_frame_bytes(self.video_rng, self.config.video_mean_frame_bytes,
                                         self.config.video_frame_cv, 1)[0])
        frame = CompressedImage()
        frame.header.stamp = self.get_clock().now().to_msg()
        frame.header.frame_id = 'camera'
        frame.format = 'jpeg'
        frame.data = bytes(size)  # fast on both backends (rclpy copies it into an array.array)
        self.video_pub.publish(frame)
        self.frames += 1

    def publish(self, now: Any) -> None:
        # Python floats throughout (the same IEEE operations as on numpy scalars, a fraction of
        # the cost); np.hypot stays where it was used: math.hypot may differ in the last bit
        if self.base is None:
            px, vx, py, vy = self.state.x[0].tolist()
            ax, ay = self.state.accel_mps2[0].tolist()
        else:
            assert self.base.x is not None
            px, vx, py, vy = self.base.x
            ax, ay = self.base.accel_mps2
        spx, spy = self.set_pos.tolist()
        svx, svy = self.set_vel.tolist()
        min_speed = self.params.min_speed_mps
        speed = math.hypot(vx, vy)
        previous = self.heading
        if speed > min_speed:
            self.heading = math.atan2(vy, vx)
        if self.base is None:  # the simulated robot points where it goes
            yaw, yaw_rate = self.heading, _wrap(self.heading - previous) / self.period_s
        else:
            yaw, yaw_rate = self.base.yaw_rad, self.base.yaw_rate_rps
        error_m = math.hypot(px - spx, py - spy)
        set_speed = float(np.hypot(svx, svy))
        heading_error = 0.0
        if speed > min_speed and set_speed > min_speed:
            heading_error = abs(_wrap(self.heading - math.atan2(svy, svx)))
        curvature = abs(vx * ay - vy * ax) / speed ** 3 if speed > 0.05 else 0.0
        set_curv = 0.0
        if set_speed > 0.05:
            ffx, ffy = self.feed_forward.tolist()
            set_curv = abs(svx * ffy - svy * ffx) / set_speed ** 3
        excess = abs(curvature - set_curv)
        di = dexterity_index_scalar(error_m, math.degrees(heading_error), excess)
        stamp = now.to_msg()
        qx, qy, qz, qw = yaw_quaternion(yaw)
        out = self._outputs

        state = out.state
        state.header.stamp = stamp
        state.pose.position.x, state.pose.position.y = px, py
        state.pose.orientation.z, state.pose.orientation.w = qz, qw
        state.twist.linear.x, state.twist.linear.y = vx, vy
        state.twist.angular.z = yaw_rate
        state.tracking_error_m = error_m
        state.orientation_error_rad = heading_error
        state.curvature_1pm = curvature
        state.dexterity_index = di
        state.command_sequence = self.sequence
        self.state_pub.publish(state)

        odom = out.odom
        odom.header.stamp = stamp
        pose = odom.pose.pose
        pose.position.x, pose.position.y = px, py
        pose.orientation.x, pose.orientation.y = qx, qy
        pose.orientation.z, pose.orientation.w = qz, qw
        cos_h, sin_h = math.cos(yaw), math.sin(yaw)
        twist = odom.twist.twist
        twist.linear.x = vx * cos_h + vy * sin_h
        twist.linear.y = -vx * sin_h + vy * cos_h
        twist.angular.z = yaw_rate
        self.odom_pub.publish(odom)

        to_odom, to_base = out.to_odom, out.to_base
        to_odom.header.stamp = stamp
        to_base.header.stamp = stamp
        to_base.transform.translation.x, to_base.transform.translation.y = px, py
        to_base.transform.rotation.z, to_base.transform.rotation.w = qz, qw
        self.tf_pub.publish(out.tf)

        if self.step % PATH_EVERY == 0:  # a pose of its own: the state message is reused
            self.path.append(_path_pose(stamp, px, py, qz, qw))
        if self.step % PATH_PUBLISH_EVERY == 0:
            path = Path()
            path.header = Header(stamp=TimeMsg(sec=stamp.sec, nanosec=stamp.nanosec),
                                 frame_id='odom')
            path.poses = list(self.path)
            self.path_pub.publish(path)


class _SampleMessages:
    """
    The messages of every control sample (and the DelayMeasurement of every command), built
    once and refilled each time (building them costs more than the rest of the sample's
    bookkeeping). Safe because a publish serializes the
    message before it returns, on every backend; every field that varies is set at every sample.
    """

    def __init__(self) -> None:
        self.state = RobotState()
        self.state.header.frame_id = 'odom'
        self.odom = Odometry()
        self.odom.header.frame_id = 'odom'
        self.odom.child_frame_id = 'base_link'
        self.to_odom = TransformStamped()
        self.to_odom.header.frame_id = 'map'
        self.to_odom.child_frame_id = 'odom'
        self.to_odom.transform.rotation.w = 1.0
        self.to_base = TransformStamped()
        self.to_base.header.frame_id = 'odom'
        self.to_base.child_frame_id = 'base_link'
        self.tf = TFMessage(transforms=[self.to_odom, self.to_base])
        self.delay = DelayMeasurement()  # one per command received
        self.delay.header.frame_id = 'base_link'


def _path_pose(stamp: Any, px: float, py: float, qz: float, qw: float) -> Any:
    """A PoseStamped of the path: the sample's header and pose (what RobotState carries)."""
    pose = PoseStamped()
    pose.header = Header(stamp=TimeMsg(sec=stamp.sec, nanosec=stamp.nanosec), frame_id='odom')
    pose.pose = Pose()
    pose.pose.position.x, pose.pose.position.y = px, py
    pose.pose.orientation.z, pose.pose.orientation.w = qz, qw
    return pose


def main(args: list[str] | None = None) -> int:
    return spin_node(RobotController, args)


if __name__ == '__main__':
    sys.exit(main())
