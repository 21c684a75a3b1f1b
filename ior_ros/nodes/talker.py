"""
``talker``: publishes std_msgs/String ``"<prefix> <n>"`` on ``chatter`` every ``period_s`` and
logs each message; stops publishing after ``count`` messages when ``count`` > 0.

Parameters: ``prefix`` (``Hello World:``), ``count`` (0: for ever), ``period_s`` (0.2),
``reliability`` of ``chatter`` (``reliable``, the default, or ``best_effort``). The prefix
follows ``ros2 param set``. Uses only ``ior_ros.runtime`` names, so it runs on rclpy as well.
"""

from __future__ import annotations

import sys
from typing import Any

from ior_ros.runtime import (
    ExternalShutdownException,
    Node,
    QoSProfile,
    ReliabilityPolicy,
    get_message,
    init,
    spin,
    try_shutdown,
)
from ior_ros.runtime.errors import RosInputError

String = get_message('std_msgs/msg/String')


def chatter_qos(node: Any) -> Any:
    """Depth 10 with the reliability of parameter ``reliability`` (reliable or best_effort)."""
    name = node.declare_parameter('reliability', 'reliable').value
    choices = {'reliable': ReliabilityPolicy.RELIABLE,
               'best_effort': ReliabilityPolicy.BEST_EFFORT}
    if name not in choices:
        raise RosInputError(f"parameter 'reliability' of node {node.get_name()}: {name!r} is not "
                            "'reliable' or 'best_effort'")
    return QoSProfile(depth=10, reliability=choices[name])


class Talker(Node):  # type: ignore[misc]
    """Publishes a counted greeting on ``chatter``."""

    def __init__(self) -> None:
        super().__init__('talker')
        self.prefix = self.declare_parameter('prefix', 'Hello World:').value
        self.count = self.declare_parameter('count', 0).value
        period = self.declare_parameter('period_s', 0.2).value
        self.pub = self.create_publisher(String, 'chatter', chatter_qos(self))
        self.n = 0
        self.timer = self.create_timer(period, self.tick)

    def tick(self) -> None:
        if self.count and self.n >= self.count:
            self.timer.cancel()
            return
        self.n += 1
        self.prefix = self.get_parameter('prefix').value  # follows `param set`
        self.pub.publish(String(data=f'{self.prefix} {self.n}'))
        self.get_logger().info(f'Publishing: "{self.prefix} {self.n}"')


def main(args: list[str] | None = None) -> int:
    init(args=args)
    node = None
    try:
        node = Talker()
        spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
