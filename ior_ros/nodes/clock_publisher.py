"""
``clock_publisher``: publishes rosgraph_msgs/Clock on ``/clock``, starting at ``start_s`` and
advancing ``step_s`` every ``wall_period_s`` of steady (wall) time: a stand-in for a simulator.
The parameters are read-only (read once, at start) and ranged: ``start_s`` fits the int32
seconds of builtin_interfaces/Time, ``step_s`` from 1 us to an hour, ``wall_period_s`` from 1 ms
(1 kHz of /clock; faster floods every node that uses sim time) to 10 s. Uses only
``ior_ros.runtime`` names, so it runs on rclpy as well.
"""

from __future__ import annotations

import sys

from ior_ros.nodes._descriptors import describe
from ior_ros.nodes._main import spin_node
from ior_ros.runtime import (
    Clock,
    ClockType,
    Node,
    get_message,
    qos_profile_clock,
)

ClockMsg = get_message('rosgraph_msgs/msg/Clock')
TimeMsg = get_message('builtin_interfaces/msg/Time')


class ClockPublisher(Node):  # type: ignore[misc]
    """Publishes simulated time on ``/clock``."""

    def __init__(self) -> None:
        super().__init__('clock_publisher')
        self.now_ns = int(self.declare_parameter('start_s', 0.0, describe(
            'simulated time of the first message [s]; fixed at start', read_only=True,
            float_range=(0.0, 2147483647.0))).value * 1e9)
        self.step_ns = int(self.declare_parameter('step_s', 0.1, describe(
            'simulated time added per message [s]; fixed at start', read_only=True,
            float_range=(1e-6, 3600.0))).value * 1e9)
        wall = self.declare_parameter('wall_period_s', 0.01, describe(
            'wall (steady) time between messages [s]; fixed at start; at least 1 ms (faster '
            'floods every node on sim time)', read_only=True, float_range=(0.001, 10.0))).value
        self.pub = self.create_publisher(ClockMsg, '/clock', qos_profile_clock)
        self.timer = self.create_timer(wall, self.tick,
                                       clock=Clock(clock_type=ClockType.STEADY_TIME))

    def tick(self) -> None:
        self.now_ns += self.step_ns
        sec, nsec = divmod(self.now_ns, 1_000_000_000)
        self.pub.publish(ClockMsg(clock=TimeMsg(sec=sec, nanosec=nsec)))


def main(args: list[str] | None = None) -> int:
    return spin_node(ClockPublisher, args)


if __name__ == '__main__':
    sys.exit(main())
