"""
``listener``: logs ``I heard: [<data>]`` for every std_msgs/String on ``chatter``.

Parameter ``reliability`` of ``chatter`` (``reliable``, the default, or ``best_effort``;
read-only, with a descriptor), as the talker's. Uses only ``ior_ros.runtime`` names, so it runs
on rclpy as well.
"""

from __future__ import annotations

import sys
from typing import Any

from ior_ros.nodes._main import spin_node
from ior_ros.nodes.talker import chatter_qos
from ior_ros.runtime import Node, get_message

String = get_message('std_msgs/msg/String')


class Listener(Node):  # type: ignore[misc]
    """Subscribes to ``chatter`` and logs what it hears."""

    def __init__(self) -> None:
        super().__init__('listener')
        self.sub = self.create_subscription(String, 'chatter', self.listener_callback,
                                            chatter_qos(self))

    def listener_callback(self, msg: Any) -> None:
        self.get_logger().info(f'I heard: [{msg.data}]')


def main(args: list[str] | None = None) -> int:
    return spin_node(Listener, args)


if __name__ == '__main__':
    sys.exit(main())
