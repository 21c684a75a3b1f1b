"""
``sim_timer``: a ``period_s`` timer on the node's clock; every call publishes the clock time (ns)
on ``ticks`` (std_msgs/Int64) and prints ``tick <ns>``. With ``use_sim_time:=true`` it follows
``/clock``. ``period_s`` is read-only (the timer is made once) and in [0.001, 3600] s.
Uses only ``ior_ros.runtime`` names, so it runs on rclpy as well.
"""

from __future__ import annotations

import sys

from ior_ros.nodes._descriptors import describe
from ior_ros.nodes._main import spin_node
from ior_ros.runtime import Node, get_message

Int64 = get_message('std_msgs/msg/Int64')


class SimTimer(Node):  # type: ignore[misc]
    """Reports the clock time of every timer call."""

    def __init__(self) -> None:
        super().__init__('sim_timer')
        period = self.declare_parameter('period_s', 1.0, describe(
            "timer period on the node's clock [s]; fixed at start; at least 1 ms (every call "
            'prints a line)', read_only=True, float_range=(0.001, 3600.0))).value
        self.pub = self.create_publisher(Int64, 'ticks', 100)
        self.timer = self.create_timer(period, self.tick)

    def tick(self) -> None:
        now = self.get_clock().now().nanoseconds
        self.pub.publish(Int64(data=now))
        print(f'tick {now}', flush=True)  # the node's output (tests read it), not a log line


def main(args: list[str] | None = None) -> int:
    return spin_node(SimTimer, args)


if __name__ == '__main__':
    sys.exit(main())
