"""
``set_bool_server``: serves std_srvs/SetBool on ``set_enabled``; answers ``success=True`` and the
message ``enabled``/``disabled`` and prints one line per request. Uses only ``ior_ros.runtime``
names, so it runs on rclpy as well.
"""

from __future__ import annotations

import sys
from typing import Any

from ior_ros.nodes._main import spin_node
from ior_ros.runtime import Node, get_service

SetBool = get_service('std_srvs/srv/SetBool')


class SetBoolServer(Node):  # type: ignore[misc]
    """Serves ``set_enabled``."""

    def __init__(self) -> None:
        super().__init__('set_bool_server')
        self.srv = self.create_service(SetBool, 'set_enabled', self.on_request)

    def on_request(self, request: Any, response: Any) -> Any:
        response.success = True
        response.message = 'enabled' if request.data else 'disabled'
        print(f'request: data={bool(request.data)} -> {response.message}', flush=True)
        return response


def main(args: list[str] | None = None) -> int:
    return spin_node(SetBoolServer, args)


if __name__ == '__main__':
    sys.exit(main())
