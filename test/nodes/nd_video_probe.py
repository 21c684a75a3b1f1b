"""
A reader for test_video.py: prints one line per message it receives over DDS, for the topics
named on the command line as ``KIND`` or ``KIND:TOPIC`` (KIND one of ``state``, ``video``,
``video_latency``, ``reference``; TOPIC defaults to KIND):

    STATE <topic> <header stamp ns> <x> <y> <command_sequence>
    FRAME <topic> <header stamp ns> <bytes> <frame_id> <format> <distinct byte values>
    VLAT <sequence> <one_way_delay_s> <receive - send [s]> <rtt_s> <frame_id>
    REFERENCE <frame_id> <stamp ns> <poses> <max | |q| - 1 |> <x,y;x,y;... of every pose>

``state`` and ``video`` are read best effort (depth 100, so the probe never drops what the
publisher sent because it was slow), ``video_latency`` reliable, ``reference`` reliable and
transient local (what RViz asks for: a probe started late still gets the path).
"""

from __future__ import annotations

import math
import sys
from typing import Any

from ior_ros.nodes._main import spin_node
from ior_ros.runtime import (
    DurabilityPolicy,
    Node,
    QoSProfile,
    ReliabilityPolicy,
    get_message,
)


def _ns(stamp: Any) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


class VideoProbe(Node):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__('video_probe')
        best_effort = QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.subs = []
        for arg in sys.argv[1:]:
            kind, _, topic = arg.partition(':')
            topic = topic or kind
            if kind == 'state':
                self.subs.append(self.create_subscription(
                    get_message('ior_ros/msg/RobotState'), topic,
                    lambda m, t=topic: self.on_state(t, m), best_effort))
            elif kind == 'video':
                self.subs.append(self.create_subscription(
                    get_message('sensor_msgs/msg/CompressedImage'), topic,
                    lambda m, t=topic: self.on_frame(t, m), best_effort))
            elif kind == 'video_latency':
                self.subs.append(self.create_subscription(
                    get_message('ior_ros/msg/DelayMeasurement'), topic, self.on_latency,
                    QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)))
            elif kind == 'reference':
                self.subs.append(self.create_subscription(
                    get_message('nav_msgs/msg/Path'), topic, self.on_reference,
                    QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                               durability=DurabilityPolicy.TRANSIENT_LOCAL)))
        print('probe ready', flush=True)

    def on_state(self, topic: str, m: Any) -> None:
        print(f'STATE {topic} {_ns(m.header.stamp)} {m.pose.position.x:.6f} '
              f'{m.pose.position.y:.6f} {m.command_sequence}', flush=True)

    def on_frame(self, topic: str, m: Any) -> None:
        data = bytes(m.data)
        print(f'FRAME {topic} {_ns(m.header.stamp)} {len(data)} {m.header.frame_id} {m.format} '
              f'{len(set(data))}', flush=True)

    def on_latency(self, m: Any) -> None:
        print(f'VLAT {m.sequence} {m.one_way_delay_s:.9f} '
              f'{(_ns(m.receive_time) - _ns(m.send_time)) * 1e-9:.9f} {m.rtt_s:.9f} '
              f'{m.header.frame_id}', flush=True)

    def on_reference(self, m: Any) -> None:
        norm_error = max(abs(math.hypot(p.pose.orientation.z, p.pose.orientation.w) - 1.0)
                         for p in m.poses)
        poses = ';'.join(f'{p.pose.position.x:.6f},{p.pose.position.y:.6f}' for p in m.poses)
        print(f'REFERENCE {m.header.frame_id} {_ns(m.header.stamp)} {len(m.poses)} '
              f'{norm_error:.3g} {poses}', flush=True)


if __name__ == '__main__':
    sys.exit(spin_node(VideoProbe, sys.argv))
