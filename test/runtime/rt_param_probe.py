"""
A node with ranged, stepped and read-only parameters, written against ``ior_ros.runtime`` so the
same file runs on either backend (the parity tests start it on ours and on rclpy side by side)::

    python rt_param_probe.py --ros-args -r __ns:=/ours

Prints ``READY`` once every parameter is declared, then spins until interrupted.
"""

from __future__ import annotations

import sys

from ior_ros.nodes._descriptors import describe
from ior_ros.runtime import ExternalShutdownException, Node, init, spin, try_shutdown


def main() -> int:
    init(args=sys.argv)
    node = Node('probe')
    try:
        node.declare_parameter('period_s', 0.2, describe('a period [s]',
                                                         float_range=(0.001, 3600.0)))
        node.declare_parameter('fstep', 0.0, describe('a stepped double', float_range=(0.0, 1.0),
                                                      step=0.1))
        node.declare_parameter('istep', 0, describe('a stepped integer', int_range=(0, 10),
                                                    step=2))
        node.declare_parameter('fixed', 'a', describe('never changes', read_only=True,
                                                      additional_constraints='read once'))
        print('READY', flush=True)
        spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
