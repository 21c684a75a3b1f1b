"""
``teleop_operator``: the remote operator of seed 003. It sends velocity set-points along the
reference as ior_ros/TeleopCommand on ``cmd`` (the URLLC slice), measures the latency of the
robot's state and video feedback (ior_ros/RobotState on ``state`` and sensor_msgs/CompressedImage
on ``video``, the eMBB slice) and publishes the reference it follows as nav_msgs/Path.

* **Set-points**: ``twist.linear`` is the reference velocity at ``t`` (seconds on the node's
  clock since the first tick): the figure eight of :mod:`ior_ros.core.control.figure_eight`, or a
  straight line along +x (``reference:=line``). ``header.stamp`` and ``send_time`` are both the
  send time (the set-point applies from then on; the robot measures the command delay from
  ``send_time``); ``header.frame_id`` is ``base_link``; ``deadman`` is true while the node runs.
* **Joystick** (``input:=joy``; default ``reference``, the bullet above): the set-point velocity
  is ``(axes[joy_axis_x], axes[joy_axis_y]) × joy_max_speed_mps`` of the newest
  sensor_msgs/Joy on ``joy`` (best effort, keep last 10: a best-effort reader matches a reliable
  joy_node too), each axis clipped to [−1, 1] (the joy driver's range; REP 103 and
  teleop_twist_joy's convention: stick up is +x, stick left is +y, the defaults 1 and 0 are a
  gamepad's left stick). The velocity is in the frame the robot integrates its set-point in, as
  the reference's is (robot_controller: ``odom``). ``deadman`` is true only while button
  ``joy_deadman_button`` is held (−1: no button, always true while Joy messages arrive); when it
  is false the command carries zero velocity, and the robot stops tracking and brakes
  (robot_controller sets ``tracking`` from ``deadman``: a command with ``deadman`` false is a stop
  command, and the next one with ``deadman`` true resumes from where the robot is). Before the
  first Joy message, and when none has arrived for ``joy_timeout_s``, commands keep their timing
  but say ``deadman`` false (one warning ``no Joy message for …`` per silence longer than
  ``joy_timeout_s``, counted from the start before the first Joy; one info line at the first
  Joy and when Joy comes back), so a joystick that dies stops the robot within
  ``joy_timeout_s`` plus the link's delay rather than after the robot's own
  ``command_timeout_s``; joy_node repeats an unchanged state at its ``autorepeat_rate`` (20 Hz
  by default), which must stay above ``1 / joy_timeout_s``. An axis or button index beyond what
  the message carries is warned about once (naming the index and the count the message has) and
  read as 0 (a missing deadman button: released); a non-finite axis value is read as 0, warned
  once. No reference path is published and there are no slips.
* **Timing** (seed 003 §III-C, eq. 2): every ``tick_s`` (τ) the node draws the number of commands
  ``k ~ Poisson(max(0, λ0 − α r_u) τ)`` with
  :class:`ior_ros.core.ran.traffic.ModifiedPoissonCounter` (the numbers of
  :func:`~ior_ros.core.ran.traffic.modified_poisson_counts`, drawn in blocks; r_u counted in
  packets of ``packet_bits``, as core/ran/teleop_queues.py does) and sends k commands, so the
  mean rate is ``λ0 − α r_u`` per second. The generator is ``numpy.random.default_rng(seed)``.
* **Slips** (``slip_rate_per_s`` > 0): operator slips at the times of a Poisson process of that
  rate (exponential gaps drawn from ``default_rng([seed, 1])``, so the command timing is the
  same with and without slips). At the first tick that sends a command after a slip time, its
  first command is the slip: the reference velocity rotated by an angle drawn uniformly in
  ``[−π, π)`` and scaled by ``slip_gain`` (so the velocity jumps by at least
  ``(slip_gain − 1) |v_ref|``). Each slip is logged as one info line ``slip: command <sequence>``
  (tests and demos count the twin's vetoes against them).
* **QoS of cmd**: best effort, keep last 1. A command is superseded by the next one (the robot
  holds the newest, seed 003 / core/control/tracking_dynamics.py); a retransmitted old set-point
  would only arrive later than its successor, so reliability buys nothing but delay.
* **Feedback latency**: ``now − header.stamp`` of every RobotState; once a second the node logs
  ``feedback latency: n=<count> mean=<ms> ms max=<ms> ms`` over that second.
* **Video latency**: ``now − header.stamp`` of every frame on ``video`` (best effort, keep last
  10, as the robot sends it; the stamp is the capture time on the robot's clock, so both nodes
  must share a clock, as for the state). Logged once a second like the state's,
  ``video latency: n=<count> mean=<ms> ms max=<ms> ms``, and published per frame as
  ior_ros/DelayMeasurement on ``video_latency`` (reliable, keep last 100, so ``ior bag record``
  keeps every sample; the launch files put it on ``/teleop/video_latency``): ``send_time`` the
  capture stamp, ``receive_time`` now, ``one_way_delay_s`` their difference, ``rtt_s`` twice it
  (the symmetric estimate the robot makes for commands), ``sequence`` the count of frames
  received (a frame carries no number), ``header.frame_id`` ``camera``.
* **Reference path**: the set-points' trajectory as nav_msgs/Path on ``reference`` in frame
  ``odom`` (the robot's odometry and path frame). The figure eight is sampled at
  ``REFERENCE_POSES`` + 1 instants over one period (closed); the line over
  ``REFERENCE_LINE_S`` seconds; each pose's yaw is the direction of the reference velocity.
  Where it lies: the robot integrates the commanded velocities from where it is when its first
  command arrives (robot_controller), so its set-point follows ``r(t) − r(t_s) + p`` with
  ``t_s`` the reference time of that command and ``p`` the robot's position then. At start the
  node publishes ``r`` itself (a robot at rest at the origin of ``odom`` that hears the first
  command); at the first RobotState that acknowledges one of its commands
  (``command_sequence``), it publishes the path again shifted by ``p − r(t_s)`` (``p`` that
  state's position; the acknowledged command is the newest the robot applied, at most one
  control period after the first) and logs ``reference anchored at command <n> ...``. So a
  robot that came up after the operator, whose first commands were lost, is drawn on its
  reference. Later changes are not followed: after a command timeout the robot resumes from where
  it stopped, and every slip it executes moves its set-point for good (commands carry
  velocities), so the robot's path may then leave the drawn reference. Transient local,
  reliable, keep last 1, so any later subscriber such as RViz gets the newest. Its stamps are 0:
  the curve holds at every time, and tf2 reads time 0 as "the latest transform", so a display
  that starts minutes later still places it (a start-time stamp would be older than RViz's TF
  buffer by then).

Parameters (descriptors with ranges; all read-only: fixed at start): see
:class:`~ior_ros.nodes._config.TeleopOperatorConfig`. Uses only ``ior_ros.runtime`` names, so it
runs on rclpy as well; the clock follows ``use_sim_time``.
"""

from __future__ import annotations

import math
import sys
from collections import deque
from typing import Any

import numpy as np

from ior_ros.core.control.figure_eight import FigureEight
from ior_ros.core.errors import ConfigError
from ior_ros.core.ran.traffic import ModifiedPoissonCounter
from ior_ros.nodes._config import (
    TELEOP_RANGES,
    OperatorInput,
    ReferenceShape,
    TeleopOperatorConfig,
    build_config,
)
from ior_ros.nodes._descriptors import describe
from ior_ros.nodes._main import spin_node
from ior_ros.runtime import (
    DurabilityPolicy,
    Node,
    QoSProfile,
    ReliabilityPolicy,
    get_message,
)

TeleopCommand = get_message('ior_ros/msg/TeleopCommand')
RobotState = get_message('ior_ros/msg/RobotState')
CompressedImage = get_message('sensor_msgs/msg/CompressedImage')
DelayMeasurement = get_message('ior_ros/msg/DelayMeasurement')
Path = get_message('nav_msgs/msg/Path')
PoseStamped = get_message('geometry_msgs/msg/PoseStamped')
TimeMsg = get_message('builtin_interfaces/msg/Time')
Joy = get_message('sensor_msgs/msg/Joy')

#: what cmd and state use: best effort, newest only (module docstring)
COMMAND_QOS_DEPTH = 1
#: the video reader: best effort, keep last 10 (robot_controller's video publisher)
VIDEO_QOS_DEPTH = 10
#: poses of the reference path (one period of the figure eight; the line's horizon), plus one
REFERENCE_POSES = 400
#: the line reference is drawn for this long from the start [s]
REFERENCE_LINE_S = 60.0
#: send times kept until the robot acknowledges a command (the reference's anchor)
SENT_KEPT = 10_000
#: the Joy reader: best effort, keep last 10 (module docstring)
JOY_QOS_DEPTH = 10

_DESCRIPTIONS: dict[str, str] = {
    'amplitude_m': 'half-width a of the figure eight [m]',
    'period_s': 'period of the figure eight [s]',
    'line_speed_mps': 'speed along the line of reference:=line [m/s]',
    'base_rate_per_s': 'λ0: mean command rate with an idle URLLC link [1/s] (seed 003 eq. 2)',
    'alpha': 'α of λ = max(0, λ0 − α r_u) (seed 003 eq. 2)',
    'urllc_rate_bps': 'r_u: URLLC data rate [bit/s], counted in packets of packet_bits',
    'packet_bits': 'L_u: bits per command packet',
    'tick_s': 'τ: counting window; each tick draws the number of commands sent [s]',
    'slip_rate_per_s': 'mean rate of operator slips (Poisson) [1/s]; 0: none',
    'slip_gain': 'a slip commands slip_gain × the reference speed in a random direction',
    'joy_max_speed_mps': 'with input:=joy: set-point speed per axis at full deflection [m/s]',
    'joy_timeout_s': 'with input:=joy: no Joy message for this long: commands say stop [s]',
}

_JOY_INDICES: dict[str, str] = {
    'joy_axis_x': 'with input:=joy: Joy axis of the x velocity (1: left stick, up is +x)',
    'joy_axis_y': 'with input:=joy: Joy axis of the y velocity (0: left stick, left is +y)',
    'joy_deadman_button': 'with input:=joy: Joy button to hold for the robot to move; -1: none',
}


def command_qos() -> Any:
    """Best effort, keep last 1 (module docstring: why)."""
    return QoSProfile(depth=COMMAND_QOS_DEPTH, reliability=ReliabilityPolicy.BEST_EFFORT)


def reference_qos() -> Any:
    """Reliable, transient local, keep last 1: the reference reaches late subscribers."""
    return QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


def reference_position(config: TeleopOperatorConfig, t_s: float) -> tuple[float, float]:
    """``r(t)``: the reference position at ``t`` seconds of reference time [m]."""
    if config.reference is ReferenceShape.LINE:
        return config.line_speed_mps * t_s, 0.0
    x, y = FigureEight(config.amplitude_m, config.period_s).sample([t_s]).position_m[0]
    return float(x), float(y)


def reference_path(config: TeleopOperatorConfig,
                   offset_m: tuple[float, float] = (0.0, 0.0)) -> Any:
    """The nav_msgs/Path of the set-points' trajectory (module docstring), frame ``odom``,
    shifted by ``offset_m``."""
    if config.reference is ReferenceShape.LINE:
        t = np.linspace(0.0, REFERENCE_LINE_S, REFERENCE_POSES + 1)  # [N]
        position = np.stack([config.line_speed_mps * t, np.zeros_like(t)], axis=1)  # [N, 2]
        velocity = np.tile([config.line_speed_mps, 0.0], (t.size, 1))  # [N, 2]
    else:
        t = np.linspace(0.0, config.period_s, REFERENCE_POSES + 1)  # [N]
        sample = FigureEight(config.amplitude_m, config.period_s).sample(t)
        position, velocity = sample.position_m, sample.velocity_mps  # [N, 2] each
    position = position + np.asarray(offset_m)  # [N, 2]
    yaw = np.arctan2(velocity[:, 1], velocity[:, 0])  # [N]
    path = Path()
    path.header.frame_id = 'odom'  # stamp 0: valid at every time (module docstring)
    poses = []
    for (x, y), psi in zip(position.tolist(), yaw.tolist(), strict=True):
        pose = PoseStamped()
        pose.header.frame_id = 'odom'
        pose.pose.position.x, pose.pose.position.y = x, y
        pose.pose.orientation.z, pose.pose.orientation.w = math.sin(0.5 * psi), math.cos(0.5 * psi)
        poses.append(pose)
    path.poses = poses
    return path


def declare_config(node: Any) -> TeleopOperatorConfig:
    """Declare the parameters (read-only, with ranges) and build the config object."""
    defaults = TeleopOperatorConfig()
    values: dict[str, Any] = {}
    values['reference'] = node.declare_parameter('reference', defaults.reference.value, describe(
        'set-point trajectory: figure_eight or line', read_only=True,
        additional_constraints="one of 'figure_eight', 'line'")).value
    for name, text in _DESCRIPTIONS.items():
        values[name] = node.declare_parameter(name, float(getattr(defaults, name)), describe(
            text, read_only=True, float_range=TELEOP_RANGES[name])).value
    values['seed'] = node.declare_parameter('seed', defaults.seed, describe(
        'seed of the command-timing generator', read_only=True,
        int_range=(0, 2**63 - 1))).value
    values['input'] = node.declare_parameter('input', defaults.input.value, describe(
        'source of the set-points: reference (the trajectory) or joy (sensor_msgs/Joy on joy)',
        read_only=True, additional_constraints="one of 'reference', 'joy'")).value
    for name, text in _JOY_INDICES.items():
        low, high = TELEOP_RANGES[name]
        values[name] = node.declare_parameter(name, getattr(defaults, name), describe(
            text, read_only=True, int_range=(int(low), int(high)))).value
    config: TeleopOperatorConfig = build_config(TeleopOperatorConfig,
                                                node.get_fully_qualified_name(), values)
    if config.joy_axis_x == config.joy_axis_y:
        raise ConfigError(
            f"parameters 'joy_axis_x' and 'joy_axis_y' of node {node.get_fully_qualified_name()}"
            f' are both {config.joy_axis_x}: two different Joy axes')
    return config


class TeleopOperator(Node):  # type: ignore[misc]
    """Sends reference set-points at modified-Poisson times; measures feedback latency."""

    def __init__(self) -> None:
        super().__init__('teleop_operator')
        self.config = declare_config(self)
        cfg = self.config
        self.figure = FigureEight(cfg.amplitude_m, cfg.period_s)
        self.rng = np.random.default_rng(cfg.seed)
        self.counts = ModifiedPoissonCounter(cfg.base_rate_per_s, cfg.alpha, cfg.urllc_rate_bps,
                                             cfg.tick_s, self.rng, rate_unit_bps=cfg.packet_bits)
        self.pub = self.create_publisher(TeleopCommand, 'cmd', command_qos())
        self.sub = self.create_subscription(RobotState, 'state', self.on_state, command_qos())
        self.video_sub = self.create_subscription(
            CompressedImage, 'video', self.on_video,
            QoSProfile(depth=VIDEO_QOS_DEPTH, reliability=ReliabilityPolicy.BEST_EFFORT))
        self.video_latency_pub = self.create_publisher(DelayMeasurement, 'video_latency', 100)
        self.joy = cfg.input is OperatorInput.JOY
        if self.joy:
            self.joy_sub = self.create_subscription(Joy, 'joy', self.on_joy, QoSProfile(
                depth=JOY_QOS_DEPTH, reliability=ReliabilityPolicy.BEST_EFFORT))
            deadman = (f'button {cfg.joy_deadman_button} held' if cfg.joy_deadman_button >= 0
                       else 'no deadman button')
            self.get_logger().info(
                f'input joy on {self.joy_sub.topic_name}: axes {cfg.joy_axis_x} (x) and '
                f'{cfg.joy_axis_y} (y) x {cfg.joy_max_speed_mps:g} m/s, {deadman}, timeout '
                f'{cfg.joy_timeout_s:g} s')
        else:
            self.reference_pub = self.create_publisher(Path, 'reference', reference_qos())
            reference = reference_path(cfg)
            self.reference_pub.publish(reference)
            self.get_logger().info(f'reference {cfg.reference.value}: {len(reference.poses)} '
                                   'poses published (transient local)')
        # joystick state (input:=joy): the newest Joy's set-point, when it arrived, warnings
        self.joy_setpoint: tuple[float, float, bool] = (0.0, 0.0, False)
        self.joy_received_ns: int | None = None
        self.joy_silent = False
        self.joy_warned: set[tuple[str, int]] = set()
        self.sequence = 0
        self.start_ns: int | None = None
        self.latencies_s: list[float] = []
        self.video_latencies_s: list[float] = []
        self.frames = 0
        self.sent: deque[tuple[int, float]] | None = (
            None if self.joy else deque(maxlen=SENT_KEPT))  # (sequence, t): reference only
        self.report_ns = 0
        self.slip_rng = np.random.default_rng([cfg.seed, 1])
        self.next_slip_s = float('inf') if self.joy else self.draw_slip_gap()
        self.slips = 0
        # one message of each kind, refilled at every send: a publish serializes before it
        # returns (every field that varies is set each time)
        self.command_msg = TeleopCommand()
        self.command_msg.header.frame_id = 'base_link'
        self.command_msg.deadman = True
        self.video_latency_msg = DelayMeasurement()
        self.video_latency_msg.header.frame_id = 'camera'
        self.timer = self.create_timer(cfg.tick_s, self.tick)

    def draw_slip_gap(self) -> float:
        """Time to the next slip [s] (infinite without slips)."""
        rate = self.config.slip_rate_per_s
        return float(self.slip_rng.exponential(1.0 / rate)) if rate > 0.0 else float('inf')

    def velocity(self, t_s: float) -> tuple[float, float]:
        """The reference velocity at t [m/s]."""
        if self.config.reference is ReferenceShape.LINE:
            return self.config.line_speed_mps, 0.0
        return self.figure.velocity_at(t_s)

    def tick(self) -> None:
        now = self.get_clock().now()
        if self.start_ns is None:
            self.start_ns = self.report_ns = now.nanoseconds
        count = self.counts.draw()
        t_s = (now.nanoseconds - self.start_ns) * 1e-9
        deadman = True
        if self.joy:
            vx, vy, deadman = self.joy_command(now.nanoseconds)
        else:
            vx, vy = self.velocity(t_s) if count else (0.0, 0.0)
        for index in range(count):
            self.sequence += 1
            slip = index == 0 and t_s >= self.next_slip_s
            if slip:
                self.next_slip_s = t_s + self.draw_slip_gap()
                self.slips += 1
                angle = float(self.slip_rng.uniform(-np.pi, np.pi))
                cos_a, sin_a, gain = np.cos(angle), np.sin(angle), self.config.slip_gain
                vx, vy = (gain * (cos_a * vx - sin_a * vy), gain * (sin_a * vx + cos_a * vy))
                self.get_logger().info(f'slip: command {self.sequence}')
            msg = self.command_msg
            msg.header.stamp = msg.send_time = now.to_msg()
            msg.sequence = self.sequence
            msg.twist.linear.x, msg.twist.linear.y = vx, vy
            msg.deadman = deadman
            self.pub.publish(msg)
            if self.sent is not None:
                self.sent.append((self.sequence, t_s))
            if slip:
                vx, vy = self.velocity(t_s)
        if now.nanoseconds - self.report_ns >= 1_000_000_000:
            self.report_ns = now.nanoseconds
            for what, latencies in (('feedback', self.latencies_s),
                                    ('video', self.video_latencies_s)):
                if latencies:
                    lat = np.asarray(latencies) * 1e3
                    self.get_logger().info(f'{what} latency: n={lat.size} mean={lat.mean():.2f} '
                                           f'ms max={lat.max():.2f} ms')
                    latencies.clear()

    # ---- joystick (input:=joy; module docstring)
    def on_joy(self, msg: Any) -> None:
        """The newest Joy's set-point velocity and deadman state."""
        cfg = self.config
        now_ns = self.get_clock().now().nanoseconds
        if self.joy_received_ns is None:
            self.get_logger().info(f'Joy on {self.joy_sub.topic_name}: {len(msg.axes)} axes, '
                                   f'{len(msg.buttons)} buttons: commands follow the stick')
        elif self.joy_silent:
            self.get_logger().info(f'Joy again after {(now_ns - self.joy_received_ns) * 1e-9:.3f}'
                                   ' s: commands follow the stick')
        self.joy_silent = False
        self.joy_received_ns = now_ns
        deadman = True
        if cfg.joy_deadman_button >= 0:
            deadman = self.joy_entry(msg.buttons, cfg.joy_deadman_button, 'button') != 0
        if not deadman:
            self.joy_setpoint = (0.0, 0.0, False)
            return
        scale = cfg.joy_max_speed_mps
        self.joy_setpoint = (scale * self.joy_entry(msg.axes, cfg.joy_axis_x, 'axis'),
                             scale * self.joy_entry(msg.axes, cfg.joy_axis_y, 'axis'), True)

    def joy_entry(self, values: Any, index: int, kind: str) -> float:
        """``values[index]``, an axis clipped to [−1, 1]; 0 where the message has no such entry
        or the value is not finite (each warned once)."""
        if index >= len(values):
            plural = 'axes' if kind == 'axis' else 'buttons'
            self.joy_warn_once(kind, index, f'Joy {kind} {index} does not exist: the message has '
                                            f'{len(values)} {plural} (indices from 0); read as 0')
            return 0.0
        value = float(values[index])
        if kind == 'button':
            return value
        if not math.isfinite(value):
            self.joy_warn_once('nan', index, f'Joy axis {index} is {value}: read as 0')
            return 0.0
        return min(1.0, max(-1.0, value))

    def joy_warn_once(self, kind: str, index: int, text: str) -> None:
        if (kind, index) not in self.joy_warned:
            self.joy_warned.add((kind, index))
            self.get_logger().warning(text)

    def joy_command(self, now_ns: int) -> tuple[float, float, bool]:
        """The set-point ``(vx, vy, deadman)`` of this tick: the newest Joy's, or a stop when
        none has arrived for joy_timeout_s (warned once per silence)."""
        since_ns = self.joy_received_ns if self.joy_received_ns is not None else self.start_ns
        assert since_ns is not None
        silent_s = (now_ns - since_ns) * 1e-9
        if silent_s <= self.config.joy_timeout_s:
            return self.joy_setpoint if self.joy_received_ns is not None else (0.0, 0.0, False)
        if not self.joy_silent:
            self.joy_silent = True
            self.get_logger().warning(f'no Joy message for {silent_s:.3f} s: commands say stop '
                                      '(deadman false)')
        return 0.0, 0.0, False

    def on_state(self, msg: Any) -> None:
        now_ns = self.get_clock().now().nanoseconds
        stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self.latencies_s.append((now_ns - stamp_ns) * 1e-9)
        if self.sent is not None and msg.command_sequence > 0:
            self.anchor_reference(msg)

    def anchor_reference(self, msg: Any) -> None:
        """Publish the reference again through the robot's position at the command it
        acknowledges (module docstring); once."""
        assert self.sent is not None
        index = msg.command_sequence - self.sent[0][0] if self.sent else -1  # consecutive
        if not 0 <= index < len(self.sent):
            return  # not one of this node's commands (a previous operator's, say)
        sent_t = self.sent[index][1]
        self.sent = None
        rx, ry = reference_position(self.config, sent_t)
        offset = (float(msg.pose.position.x) - rx, float(msg.pose.position.y) - ry)
        self.reference_pub.publish(reference_path(self.config, offset))
        self.get_logger().info(f'reference anchored at command {msg.command_sequence} '
                               f'(t = {sent_t:.3f} s): shifted by ({offset[0]:.4f}, '
                               f'{offset[1]:.4f}) m')

    def on_video(self, msg: Any) -> None:
        """The frame's latency: logged once a second, published on ``video_latency``."""
        now = self.get_clock().now()
        stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        latency_s = (now.nanoseconds - stamp_ns) * 1e-9
        self.video_latencies_s.append(latency_s)
        self.frames += 1
        out = self.video_latency_msg
        out.header.stamp = out.receive_time = now.to_msg()
        out.sequence = self.frames
        out.send_time = msg.header.stamp
        out.one_way_delay_s = latency_s
        out.rtt_s = 2.0 * latency_s
        self.video_latency_pub.publish(out)


def main(args: list[str] | None = None) -> int:
    return spin_node(TeleopOperator, args)


if __name__ == '__main__':
    sys.exit(main())
