"""
``talker``: publishes std_msgs/String ``"<prefix> <n>"`` on ``chatter`` every ``period_s`` and
logs each message; stops publishing after ``count`` messages when ``count`` > 0.

Parameters, each with a descriptor (``ros2 param describe`` shows them): ``prefix``
(``Hello World:``; follows ``ros2 param set``), ``count`` (0: for ever; read-only),
``period_s`` (0.2 s, in [0.001, 3600]: faster than 1 kHz the demo floods the network; NaN and
infinities are refused; ``ros2 param set`` restarts the timer with the new period),
``reliability`` of ``chatter`` (``reliable``, the default, or ``best_effort``; read-only). A
start value outside its range stops the node with one line naming it (exit code 2). Uses only
``ior_ros.runtime`` names, so it runs on rclpy as well.
"""

from __future__ import annotations

import sys
from typing import Any

from ior_ros.nodes._descriptors import describe
from ior_ros.nodes._main import spin_node
from ior_ros.runtime import (
    Node,
    QoSProfile,
    ReliabilityPolicy,
    SetParametersResult,
    get_message,
)
from ior_ros.runtime.errors import RosInputError

String = get_message('std_msgs/msg/String')

#: shortest and longest publishing period [s]: above 1 kHz the demo floods the network (and the
#: log: every message is logged); above an hour nothing seems to happen
PERIOD_RANGE_S = (0.001, 3600.0)


def chatter_qos(node: Any) -> Any:
    """Depth 10 with the reliability of parameter ``reliability`` (reliable or best_effort)."""
    name = node.declare_parameter('reliability', 'reliable', describe(
        'reliability of chatter: reliable (resend lost messages) or best_effort (drop them); '
        'fixed when the node starts', read_only=True,
        additional_constraints="one of 'reliable', 'best_effort'")).value
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
        self.prefix = self.declare_parameter('prefix', 'Hello World:', describe(
            'text before the message number; a change applies from the next message')).value
        self.count = self.declare_parameter('count', 0, describe(
            'messages to publish before stopping; 0: publish for ever', read_only=True,
            int_range=(0, 1_000_000_000))).value
        period = self.declare_parameter('period_s', 0.2, describe(
            'publishing period [s]: at least 1 ms, since faster the demo floods the network; at '
            'most one hour; a change restarts the timer', float_range=PERIOD_RANGE_S)).value
        self.pub = self.create_publisher(String, 'chatter', chatter_qos(self))
        self.n = 0
        self.timer = self.create_timer(period, self.tick)
        self.add_on_set_parameters_callback(self.on_set_parameters)

    def on_set_parameters(self, params: list[Any]) -> Any:
        """A new ``period_s`` (already checked against its range) restarts the timer."""
        for param in params:
            if param.name == 'period_s':
                self.destroy_timer(self.timer)
                self.timer = self.create_timer(param.value, self.tick)
        return SetParametersResult(successful=True)

    def tick(self) -> None:
        if self.count and self.n >= self.count:
            self.timer.cancel()
            return
        self.n += 1
        self.prefix = self.get_parameter('prefix').value  # follows `param set`
        self.pub.publish(String(data=f'{self.prefix} {self.n}'))
        self.get_logger().info(f'Publishing: "{self.prefix} {self.n}"')


def main(args: list[str] | None = None) -> int:
    return spin_node(Talker, args)


if __name__ == '__main__':
    sys.exit(main())
