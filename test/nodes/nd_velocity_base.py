"""
A velocity-controlled holonomic base for the ``robot:=cmd_vel`` tests: a test fixture, not a
package node. It stands for the real robot behind robot_controller.

* takes geometry_msgs/Twist on ``cmd_vel`` (best effort reader, keep last 10):
  ``linear.x``/``linear.y`` in base_link, ``angular.z``;
* follows it as a first-order velocity lag ``v' = (v_cmd − v) / lag_s`` (the exact exponential
  update over each step, in odom; ``lag_s`` 0: the command at once), turns at ``angular.z`` and
  integrates its pose exactly over the step;
* every ``1 / rate_hz`` seconds of its clock publishes nav_msgs/Odometry on ``odom`` (frame
  ``odom``, child ``base_link``, twist in base_link, REP 105), stamped with that clock.

Parameters (ROS parameters, so the class also lives in an in-process world): ``lag_s`` (0.01),
``rate_hz`` (100), ``x0_m``, ``y0_m``, ``yaw_rad`` (the start pose, 0), ``print_lines`` (true:
one ``BASE stamp_ns px py vx vy yaw`` line per step, vx/vy in odom, and one
``CMD receive_ns linear.x linear.y angular.z`` line per Twist received).

SIGUSR1 stops the odometry (the base still moves and reads cmd_vel: a stalled odometry driver),
SIGUSR2 restarts it; they print ``odometry off <stamp ns of the last odometry sent>`` and
``odometry on``.
"""

from __future__ import annotations

import math
import signal
import sys
from typing import Any

from ior_ros.runtime import (
    Node,
    QoSProfile,
    ReliabilityPolicy,
    get_message,
    init,
    spin,
    try_shutdown,
)

Twist = get_message('geometry_msgs/msg/Twist')
Odometry = get_message('nav_msgs/msg/Odometry')


class VelocityBase(Node):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__('test_base')
        self.lag_s = float(self.declare_parameter('lag_s', 0.01).value)
        rate_hz = float(self.declare_parameter('rate_hz', 100.0).value)
        self.px = float(self.declare_parameter('x0_m', 0.0).value)
        self.py = float(self.declare_parameter('y0_m', 0.0).value)
        self.yaw = float(self.declare_parameter('yaw_rad', 0.0).value)
        self.lines = bool(self.declare_parameter('print_lines', True).value)
        self.vx = self.vy = 0.0  # velocity in odom [m/s]
        self.command = (0.0, 0.0, 0.0)  # linear x, y in base_link [m/s], angular z [rad/s]
        self.odometry = True
        self.last_ns: int | None = None
        self.published_ns = 0  # stamp of the last odometry sent
        self.pub = self.create_publisher(Odometry, 'odom', 10)
        self.sub = self.create_subscription(Twist, 'cmd_vel', self.on_twist, QoSProfile(
            depth=10, reliability=ReliabilityPolicy.BEST_EFFORT))
        self.timer = self.create_timer(1.0 / rate_hz, self.step)

    def on_twist(self, msg: Any) -> None:
        self.command = (float(msg.linear.x), float(msg.linear.y), float(msg.angular.z))
        if self.lines:
            print(f'CMD {self.get_clock().now().nanoseconds} {msg.linear.x:.6f} '
                  f'{msg.linear.y:.6f} {msg.angular.z:.6f}', flush=True)

    def set_odometry(self, on: bool) -> None:
        self.odometry = on
        print('odometry on' if on else f'odometry off {self.published_ns}', flush=True)

    def step(self) -> None:
        now = self.get_clock().now()
        dt = 0.0 if self.last_ns is None else (now.nanoseconds - self.last_ns) * 1e-9
        self.last_ns = now.nanoseconds
        bx, by, wz = self.command
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        tx, ty = c * bx - s * by, s * bx + c * by  # the commanded velocity in odom
        if self.lag_s > 0.0 and dt > 0.0:
            decay = math.exp(-dt / self.lag_s)
            gain = self.lag_s * (1.0 - decay)  # ∫ e^{-t/τ} dt over the step
            self.px += tx * dt + (self.vx - tx) * gain
            self.py += ty * dt + (self.vy - ty) * gain
            self.vx = tx + (self.vx - tx) * decay
            self.vy = ty + (self.vy - ty) * decay
        else:
            self.vx, self.vy = tx, ty
            self.px += tx * dt
            self.py += ty * dt
        self.yaw = math.remainder(self.yaw + wz * dt, 2.0 * math.pi)
        if self.lines:
            print(f'BASE {now.nanoseconds} {self.px:.6f} {self.py:.6f} {self.vx:.6f} '
                  f'{self.vy:.6f} {self.yaw:.6f}', flush=True)
        if not self.odometry:
            return
        msg = Odometry()
        msg.header.stamp = now.to_msg()
        msg.header.frame_id = 'odom'
        msg.child_frame_id = 'base_link'
        msg.pose.pose.position.x, msg.pose.pose.position.y = self.px, self.py
        msg.pose.pose.orientation.z = math.sin(0.5 * self.yaw)
        msg.pose.pose.orientation.w = math.cos(0.5 * self.yaw)
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        msg.twist.twist.linear.x = c * self.vx + s * self.vy  # odom -> base_link: by -yaw
        msg.twist.twist.linear.y = -s * self.vx + c * self.vy
        msg.twist.twist.angular.z = wz
        self.pub.publish(msg)
        self.published_ns = now.nanoseconds


def main() -> None:
    init(args=sys.argv)
    node = VelocityBase()
    signal.signal(signal.SIGUSR1, lambda *_: node.set_odometry(False))
    signal.signal(signal.SIGUSR2, lambda *_: node.set_odometry(True))
    print('base ready', flush=True)
    try:
        spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        try_shutdown()


if __name__ == '__main__':
    main()
