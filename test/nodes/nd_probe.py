"""
A reader for the node tests: prints one line per message of the robot_controller's outputs,
``STATE``, ``ODOM``, ``TF`` and ``DELAY`` lines (fields separated by spaces, see below), so
that the test reads what really went over DDS.
"""

from __future__ import annotations

import math
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


def _ns(stamp: Any) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


class Probe(Node):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__('probe')
        best_effort = QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.subs = [
            self.create_subscription(get_message('ior_ros/msg/RobotState'), 'state',
                                     self.on_state, best_effort),
            self.create_subscription(get_message('nav_msgs/msg/Odometry'), 'odom',
                                     self.on_odom, 100),
            self.create_subscription(get_message('tf2_msgs/msg/TFMessage'), '/tf',
                                     self.on_tf, 100),
            self.create_subscription(get_message('ior_ros/msg/DelayMeasurement'), 'delay',
                                     self.on_delay, 100),
        ]

    def on_state(self, m: Any) -> None:
        # STATE stamp_ns error_m vx vy qz qw command_sequence frame px py di
        o, p = m.pose.orientation, m.pose.position
        print(f'STATE {_ns(m.header.stamp)} {m.tracking_error_m:.6f} {m.twist.linear.x:.6f} '
              f'{m.twist.linear.y:.6f} {o.z:.9f} {o.w:.9f} {m.command_sequence} '
              f'{m.header.frame_id} {p.x:.6f} {p.y:.6f} {m.dexterity_index:.6f}', flush=True)

    def on_odom(self, m: Any) -> None:
        # ODOM frame child |q| yaw body_vx body_vy
        o = m.pose.pose.orientation
        norm = math.sqrt(o.x ** 2 + o.y ** 2 + o.z ** 2 + o.w ** 2)
        yaw = math.atan2(2 * (o.w * o.z + o.x * o.y), 1 - 2 * (o.y ** 2 + o.z ** 2))
        t = m.twist.twist.linear
        print(f'ODOM {m.header.frame_id} {m.child_frame_id} {norm:.9f} {yaw:.6f} {t.x:.6f} '
              f'{t.y:.6f}', flush=True)

    def on_tf(self, m: Any) -> None:
        # TF parent>child:|q| ...
        parts = []
        for tr in m.transforms:
            q = tr.transform.rotation
            norm = math.sqrt(q.x ** 2 + q.y ** 2 + q.z ** 2 + q.w ** 2)
            parts.append(f'{tr.header.frame_id}>{tr.child_frame_id}:{norm:.9f}')
        print('TF ' + ' '.join(parts), flush=True)

    def on_delay(self, m: Any) -> None:
        # DELAY one_way_s receive_minus_send_s
        print(f'DELAY {m.one_way_delay_s:.6f} '
              f'{(_ns(m.receive_time) - _ns(m.send_time)) * 1e-9:.6f}', flush=True)


def main() -> None:
    init(args=sys.argv)
    node = Probe()
    print('probe ready', flush=True)
    try:
        spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        try_shutdown()


if __name__ == '__main__':
    main()
