"""
The real robot of ``robot_controller`` with ``robot:=cmd_vel``: its odometry in, its velocity
command out (the node's docstring says how the controller uses them; the conversion is
:mod:`ior_ros.core.control.velocity_base`).

* **Odometry** nav_msgs/Odometry on ``odom_in`` (best effort, keep last 10: a best-effort reader
  matches reliable and best-effort publishers alike): the measured position is
  ``pose.pose.position`` (x, y), the yaw that of ``pose.pose.orientation``, the velocity
  ``twist.twist.linear`` (x, y) in the child frame (nav_msgs/Odometry: the twist is given in
  ``child_frame_id``) rotated by that yaw into the odometry frame, the yaw rate
  ``twist.twist.angular.z``. The acceleration (for the curvature of RobotState) is the
  difference of the last two velocities over their header stamps (their receive times when the
  stamps do not increase). A message with a non-finite value is dropped (warned once a second
  at most).
* **Freshness**: no odometry for ``odom_timeout_s`` on the node clock (counted from the start
  before the first message) makes the base *stale*: one warning ``no odometry on … for … s``,
  one info line when odometry returns. While stale, and before the first odometry, the
  controller sends zero twist and publishes no measured state.
* **Command** geometry_msgs/Twist on ``cmd_vel`` (reliable, keep last 10: a reliable writer
  matches reliable and best-effort bases alike; ROS 2 bases subscribe either way):
  ``linear.x``/``linear.y`` the velocity command in ``cmd_vel_frame`` (base_link: rotated by
  −yaw; odom: as it is), every other field 0 (the controller does not turn the base). One
  message, refilled at every send (a publish serializes before it returns).
"""

from __future__ import annotations

import math
from typing import Any

from ior_ros.core.control.velocity_base import rotate, velocity_command, yaw_of_quaternion
from ior_ros.nodes._config import CmdVelFrame, RobotControllerConfig
from ior_ros.runtime import QoSProfile, ReliabilityPolicy, get_message

__all__ = ['VelocityBase']

Odometry = get_message('nav_msgs/msg/Odometry')
Twist = get_message('geometry_msgs/msg/Twist')

#: depth of the odometry reader and of the cmd_vel writer (ROS 2's default depth)
QOS_DEPTH = 10
#: at most one warning about a dropped odometry message per this many seconds
BAD_ODOM_WARNING_PERIOD_S = 1.0


class VelocityBase:
    """A velocity-controlled base seen through ``odom_in`` and ``cmd_vel`` (module docstring)."""

    def __init__(self, node: Any, config: RobotControllerConfig, period_s: float) -> None:
        self.node = node
        self.config = config
        self.period_s = period_s
        self.twist_pub = node.create_publisher(Twist, 'cmd_vel', QoSProfile(
            depth=QOS_DEPTH, reliability=ReliabilityPolicy.RELIABLE))
        self.odom_sub = node.create_subscription(Odometry, 'odom_in', self.on_odom, QoSProfile(
            depth=QOS_DEPTH, reliability=ReliabilityPolicy.BEST_EFFORT))
        self.twist = Twist()
        self.start_ns = node.get_clock().now().nanoseconds
        # the measured state: (p_x, v_x, p_y, v_y) in odom [m, m/s]; None before any odometry
        self.x: tuple[float, float, float, float] | None = None
        self.accel_mps2 = (0.0, 0.0)
        self.yaw_rad = 0.0
        self.yaw_rate_rps = 0.0
        self.received_ns: int | None = None
        self.stamp_ns = 0
        self.stale = False
        self.resume = False  # odometry back after a stale spell: the controller re-anchors
        self.bad_warning_ns: int | None = None

    def on_odom(self, msg: Any) -> None:
        now_ns = self.node.get_clock().now().nanoseconds
        pose, twist = msg.pose.pose, msg.twist.twist
        q = pose.orientation
        values = (pose.position.x, pose.position.y, q.x, q.y, q.z, q.w, twist.linear.x,
                  twist.linear.y, twist.angular.z)
        if not all(math.isfinite(v) for v in values):
            if self.bad_warning_ns is None or \
                    now_ns - self.bad_warning_ns >= BAD_ODOM_WARNING_PERIOD_S * 1e9:
                self.bad_warning_ns = now_ns
                self.node.get_logger().warning(
                    f'odometry on {self.odom_sub.topic_name} with a non-finite value dropped')
            return
        yaw = yaw_of_quaternion(q.x, q.y, q.z, q.w)
        vx, vy = rotate(twist.linear.x, twist.linear.y, yaw)
        stamp_ns = int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)
        if self.x is not None and self.received_ns is not None:
            dt_ns = stamp_ns - self.stamp_ns
            if dt_ns <= 0:
                dt_ns = now_ns - self.received_ns
            if dt_ns > 0:
                self.accel_mps2 = ((vx - self.x[1]) / (dt_ns * 1e-9),
                                   (vy - self.x[3]) / (dt_ns * 1e-9))
        if self.x is None:
            self.resume = True  # the set-point starts where the base is
            self.node.get_logger().info(
                f'odometry from {self.odom_sub.topic_name} (frame {msg.header.frame_id!r}, '
                f'child {msg.child_frame_id!r}): base at ({pose.position.x:.3f}, '
                f'{pose.position.y:.3f}) m, yaw {yaw:.3f} rad')
        self.x = (float(pose.position.x), vx, float(pose.position.y), vy)
        self.yaw_rad = yaw
        self.yaw_rate_rps = float(twist.angular.z)
        self.received_ns = now_ns
        self.stamp_ns = stamp_ns

    def fresh(self, now_ns: int) -> bool:
        """Whether the measured state is usable now: odometry arrived within odom_timeout_s
        (the warning when that stops, the info line when it returns)."""
        since_ns = self.received_ns if self.received_ns is not None else self.start_ns
        silent_s = (now_ns - since_ns) * 1e-9
        if silent_s > self.config.odom_timeout_s:
            if not self.stale:
                self.stale = True
                self.node.get_logger().warning(
                    f'no odometry on {self.odom_sub.topic_name} for {silent_s:.3f} s: zero twist '
                    f'on {self.twist_pub.topic_name}')
            return False
        if self.stale:
            self.stale = False
            self.resume = True
            self.node.get_logger().info(f'odometry on {self.odom_sub.topic_name} again: '
                                        'tracking resumes from where the base is')
        return self.x is not None

    def send(self, accel_mps2: tuple[float, float] | None) -> None:
        """The velocity command for the controller's acceleration ``u`` (None: stop, zero
        twist)."""
        twist = self.twist
        if accel_mps2 is None or self.x is None:
            twist.linear.x = twist.linear.y = 0.0
        else:
            _, vx, _, vy = self.x
            command = velocity_command((vx, vy), accel_mps2, self.period_s,
                                       self.config.max_speed_mps, self.config.base_lag_s)
            if self.config.cmd_vel_frame is CmdVelFrame.BASE_LINK:
                command = rotate(command.x, command.y, -self.yaw_rad)
            twist.linear.x, twist.linear.y = command.x, command.y
        self.twist_pub.publish(twist)
