"""
``set_bool_client``: waits for ``set_enabled``, then calls it (data true, false, true, ...) every
``period_s`` and prints each response; exits 0 after ``count`` calls (``count`` 0, the default,
calls until stopped, like ``talker``). Both parameters are read-only (read once, at start) and
ranged (``period_s`` in [0.001, 3600] s). Uses only ``ior_ros.runtime`` names, so it runs on
rclpy as well.
"""

from __future__ import annotations

import sys
import time

from ior_ros.nodes._descriptors import describe
from ior_ros.runtime import (
    ExternalShutdownException,
    Node,
    get_service,
    init,
    ok,
    spin_once,
    spin_until_future_complete,
    try_shutdown,
)

SetBool = get_service('std_srvs/srv/SetBool')


class SetBoolClient(Node):  # type: ignore[misc]
    """A client of ``set_enabled``."""

    def __init__(self) -> None:
        super().__init__('set_bool_client')
        self.count = self.declare_parameter('count', 0, describe(
            'calls to make before exiting; 0: call until stopped', read_only=True,
            int_range=(0, 1_000_000_000))).value
        self.period = self.declare_parameter('period_s', 0.2, describe(
            'time between calls [s]; fixed at start; at least 1 ms (faster floods the server)',
            read_only=True, float_range=(0.001, 3600.0))).value
        self.client = self.create_client(SetBool, 'set_enabled')

    def wait_for_server(self) -> bool:
        """Wait until the service is there; False when shut down (SIGTERM) while waiting."""
        while not self.client.wait_for_service(timeout_sec=1.0):
            if not ok():
                return False
            self.get_logger().info('service not available, waiting again...')
        return True

    def run(self) -> None:
        """Call the service ``count`` times (for ever when 0), one call per period."""
        count, index = self.count, 0
        while count <= 0 or index < count:
            request = SetBool.Request(data=index % 2 == 0)
            future = self.client.call_async(request)
            spin_until_future_complete(self, future)
            response = future.result()
            print(f'response {index + 1}: data={request.data} -> success={response.success} '
                  f'message={response.message}', flush=True)
            index += 1
            deadline = time.monotonic() + self.period
            while (count <= 0 or index < count) and time.monotonic() < deadline:
                spin_once(self, timeout_sec=max(0.0, deadline - time.monotonic()))


def main(args: list[str] | None = None) -> int:
    init(args=args)
    node = None
    try:
        node = SetBoolClient()
        if node.wait_for_server():
            node.run()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
