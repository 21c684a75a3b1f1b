"""
Helper processes for the bag tests (run as scripts with the ior runtime):

* ``source N GAP_S``: publish N std_msgs/String ``item i`` on /bag/text and N
  geometry_msgs/PoseStamped (stamp i s, x = i / 2) on /bag/pose, alternating, GAP_S apart, once
  both publishers have a subscriber; then wait for acknowledgements and print ``DONE``.
* ``sink N OUT``: subscribe to both topics, print ``READY``, write what arrived (topic, arrival
  time, content) as JSON to OUT once N messages arrived (or after 120 s), print ``DONE``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def source(count: int, gap_s: float) -> None:
    from ior_ros.runtime import Node, get_message, init, shutdown

    init([])
    node = Node('bag_source')
    string = get_message('std_msgs/msg/String')
    pose = get_message('geometry_msgs/msg/PoseStamped')
    text_pub = node.create_publisher(string, '/bag/text', 100)
    pose_pub = node.create_publisher(pose, '/bag/pose', 100)
    deadline = time.monotonic() + 120
    while (text_pub.get_subscription_count() < 1 or pose_pub.get_subscription_count() < 1) \
            and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    for i in range(count):
        text_pub.publish(string(data=f'item {i}'))
        time.sleep(gap_s / 2)
        msg = pose()
        msg.header.stamp.sec = i
        msg.header.frame_id = 'map'
        msg.pose.position.x = i / 2
        pose_pub.publish(msg)
        time.sleep(gap_s / 2)
    text_pub.wait_for_all_acked()
    pose_pub.wait_for_all_acked()
    print('DONE', flush=True)
    shutdown()


def sink(count: int, out: str) -> None:
    from ior_ros.runtime import Node, get_message, init, shutdown
    from ior_ros.runtime.executor import SingleThreadedExecutor

    init([])
    node = Node('bag_sink')
    got: list[dict[str, Any]] = []

    def on_text(msg: Any) -> None:
        got.append({'topic': '/bag/text', 't': time.monotonic(), 'value': msg.data})

    def on_pose(msg: Any) -> None:
        got.append({'topic': '/bag/pose', 't': time.monotonic(),
                    'value': [msg.header.stamp.sec, msg.pose.position.x, msg.header.frame_id]})

    node.create_subscription(get_message('std_msgs/msg/String'), '/bag/text', on_text, 100)
    node.create_subscription(get_message('geometry_msgs/msg/PoseStamped'), '/bag/pose',
                             on_pose, 100)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    print('READY', flush=True)
    deadline = time.monotonic() + 120
    while len(got) < count and time.monotonic() < deadline:
        executor.spin_once(0.1)
    with open(out, 'w', encoding='utf-8') as handle:
        json.dump(got, handle)
    print('DONE', flush=True)
    shutdown()


if __name__ == '__main__':
    if sys.argv[1] == 'source':
        source(int(sys.argv[2]), float(sys.argv[3]))
    else:
        sink(int(sys.argv[2]), sys.argv[3])
