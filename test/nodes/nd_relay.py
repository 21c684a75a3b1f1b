"""
A delaying relay for the node tests: every ior_ros/TeleopCommand on ``cmd`` is republished
unchanged on ``cmd_delayed`` ``delay_s`` seconds (argv[1]) after it arrived (a 1 ms timer checks
what is due, so the added delay is ``delay_s`` plus at most about a millisecond).
"""

from __future__ import annotations

import sys
import time
from collections import deque
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

TeleopCommand = get_message('ior_ros/msg/TeleopCommand')


class Relay(Node):  # type: ignore[misc]
    def __init__(self, delay_s: float) -> None:
        super().__init__('relay')
        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.delay_s = delay_s
        self.queue: deque[tuple[float, Any]] = deque()
        self.pub = self.create_publisher(TeleopCommand, 'cmd_delayed', qos)
        self.sub = self.create_subscription(TeleopCommand, 'cmd', self.on_cmd, qos)
        self.timer = self.create_timer(0.001, self.flush)

    def on_cmd(self, msg: Any) -> None:
        self.queue.append((time.monotonic() + self.delay_s, msg))

    def flush(self) -> None:
        now = time.monotonic()
        while self.queue and self.queue[0][0] <= now:
            self.pub.publish(self.queue.popleft()[1])


def main() -> None:
    init(args=sys.argv)
    node = Relay(float(sys.argv[1]))
    print('relay ready', flush=True)
    try:
        spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        try_shutdown()


if __name__ == '__main__':
    main()
