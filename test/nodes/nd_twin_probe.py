"""
A reader for the digital twin tests: one ``PRED`` line per ior_ros/TwinPrediction on
``twin_prediction`` (``PRED sequence veto risk reason``) and one ``MARKER`` line per marker of
visualization_msgs/MarkerArray on ``twin_markers`` (``MARKER frame type r g``).
"""

from __future__ import annotations

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


class TwinProbe(Node):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__('twin_probe')
        reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.subs = [
            self.create_subscription(get_message('ior_ros/msg/TwinPrediction'),
                                     'twin_prediction', self.on_prediction, reliable),
            self.create_subscription(get_message('visualization_msgs/msg/MarkerArray'),
                                     'twin_markers', self.on_markers, 10),
        ]

    def on_prediction(self, m: Any) -> None:
        print(f'PRED {m.command_sequence} {int(m.veto)} {m.risk:.3f} '
              f'{len(m.predicted_state)} {m.reason}', flush=True)

    def on_markers(self, m: Any) -> None:
        for marker in m.markers:
            print(f'MARKER {marker.header.frame_id} {marker.type} {marker.color.r:.1f} '
                  f'{marker.color.g:.1f}', flush=True)


def main() -> None:
    init(args=sys.argv)
    node = TwinProbe()
    print('twin probe ready', flush=True)
    try:
        spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        try_shutdown()


if __name__ == '__main__':
    main()
