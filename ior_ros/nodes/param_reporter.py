"""
``param_reporter``: declares a fixed set of parameters (``rate_hz``, ``label``, ``count``,
``enabled``, ``gains``, ``nested.depth``), prints one JSON line with its name, namespace, the
resolved name of ``chatter`` and every parameter value, and keeps spinning (a probe for
``--ros-args``, parameter files and remapping). Every parameter has a description and stays
settable (the node is a probe of ``ros2 param`` too); ``count`` is ranged to [0, 1000000]. Uses
only ``ior_ros.runtime`` names, so it runs on rclpy as well.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ior_ros.nodes._descriptors import describe
from ior_ros.nodes._main import spin_node
from ior_ros.runtime import Node, get_message

String = get_message('std_msgs/msg/String')


class ParamReporter(Node):  # type: ignore[misc]
    """Reports its parameters and names once, as one JSON line on stdout."""

    def __init__(self) -> None:
        super().__init__('param_reporter')
        values: dict[str, Any] = {}
        for name, default, descriptor in (
                ('rate_hz', 1.0, describe('a rate [Hz] (reported, not used)')),
                ('label', 'none', describe('a text (reported)')),
                ('count', 0, describe('a count (reported)', int_range=(0, 1_000_000))),
                ('enabled', False, describe('a switch (reported)')),
                ('gains', [0.0], describe('a list of doubles (reported)')),
                ('nested.depth', 0, describe('a dotted name, as a params file nests it '
                                             '(reported)'))):
            values[name] = self.declare_parameter(name, default, descriptor).value
        values['use_sim_time'] = self.get_parameter('use_sim_time').value
        report = {'name': self.get_name(), 'namespace': self.get_namespace(),
                  'chatter': self.resolve_topic_name('chatter'), 'params': values}
        self.pub = self.create_publisher(String, 'chatter', 10)
        print(json.dumps(report), flush=True)  # the report is the node's output, not a log line


def main(args: list[str] | None = None) -> int:
    return spin_node(ParamReporter, args)


if __name__ == '__main__':
    sys.exit(main())
