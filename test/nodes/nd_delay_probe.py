"""
A reader for the network-namespace test (test_netns.py), run in the robot's namespace. It prints
one ``DELAY`` line per ior_ros/DelayMeasurement that the robot_controller publishes on
``/robot/delay``:

    DELAY <command sequence> <receive_time ns> <one_way_delay_s>

(per command the controller executed: its sequence number, when it arrived on the controller's
wall clock, the same host clock as the test's, and the delay the controller measured), and one
``CMD`` line per ior_ros/TeleopCommand it receives itself on ``/robot/cmd``:

    CMD <sequence> <wall-clock receive time ns>

Its command reader keeps every sample (best effort, depth 1000), so a gap in the CMD sequence
numbers is a command lost on the link (the operator's ``cmd`` is best effort: no retransmission),
unlike the controller's keep-last-1 reader, which also skips commands overtaken by the next one
of their burst.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from ior_ros.nodes._main import spin_node
from ior_ros.runtime import Node, QoSProfile, ReliabilityPolicy, get_message


class DelayProbe(Node):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__('delay_probe')
        # the controller's delay publisher: reliable, depth 100 (same host, no loss here)
        qos = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
        self.sub = self.create_subscription(get_message('ior_ros/msg/DelayMeasurement'),
                                            '/robot/delay', self.on_delay, qos)
        every = QoSProfile(depth=1000, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.cmd_sub = self.create_subscription(get_message('ior_ros/msg/TeleopCommand'),
                                                '/robot/cmd', self.on_command, every)
        print('probe ready', flush=True)

    def on_delay(self, m: Any) -> None:
        received_ns = int(m.receive_time.sec) * 1_000_000_000 + int(m.receive_time.nanosec)
        print(f'DELAY {m.sequence} {received_ns} {m.one_way_delay_s:.6f}', flush=True)

    def on_command(self, m: Any) -> None:
        print(f'CMD {m.sequence} {time.time_ns()}', flush=True)


if __name__ == '__main__':
    sys.exit(spin_node(DelayProbe, sys.argv))
