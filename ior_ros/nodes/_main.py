"""
The ``main`` every spinning node shares: the shape of a ros2/demos node's main (init, build the
node, spin until Ctrl-C or an external shutdown, destroy, shut down), written once. Uses only
``ior_ros.runtime`` names, so it runs on either backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ior_ros.runtime import ExternalShutdownException, init, spin, try_shutdown

__all__ = ['spin_node']


def spin_node(make_node: Callable[[], Any], args: list[str] | None = None) -> int:
    """Initialise, build the node with ``make_node()``, spin it, clean up; the exit code (0)."""
    init(args=args)
    node = None
    try:
        node = make_node()
        spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        try_shutdown()
    return 0
