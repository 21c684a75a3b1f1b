"""
The executor time one video frame takes, for test_video.py: a RobotController (defaults: 30
frames/s of 65 000 bytes on average) and a best-effort reader of its ``video`` in this process,
over DDS. After the reader has matched, ``publish_frame`` and ``tick`` (one control sample) are
each called COUNT times back to back and timed with ``perf_counter``; prints

    COST frame_median_ms=<ms> tick_median_ms=<ms> received=<frames the reader got>

The median, because the machine is shared: a preemption lengthens a few calls, not the middle.
"""

from __future__ import annotations

import statistics
import sys
import time

from ior_ros.runtime import (
    Node,
    QoSProfile,
    ReliabilityPolicy,
    get_message,
    init,
    spin_once,
    try_shutdown,
)

COUNT = 300


def _median_ms(call: object, count: int, between: object = None) -> float:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
        if between is not None:
            between()  # type: ignore[operator]
    return statistics.median(times) * 1e3


def main() -> None:
    init(args=sys.argv)
    from ior_ros.nodes.robot_controller import RobotController

    robot = RobotController()
    robot.destroy_timer(robot.timer)  # called by hand below, not by an executor
    robot.destroy_timer(robot.video_timer)
    reader = Node('video_cost_reader')
    got: list[object] = []
    reader.create_subscription(get_message('sensor_msgs/msg/CompressedImage'), 'video',
                               got.append, QoSProfile(depth=COUNT,
                                                      reliability=ReliabilityPolicy.BEST_EFFORT))
    deadline = time.monotonic() + 30.0
    while robot.video_pub.get_subscription_count() < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    frame_ms = _median_ms(robot.publish_frame, COUNT, lambda: spin_once(reader, timeout_sec=0.0))
    tick_ms = _median_ms(robot.tick, COUNT)
    end = time.monotonic() + 2.0
    while len(got) < COUNT and time.monotonic() < end:
        spin_once(reader, timeout_sec=0.01)
    print(f'COST frame_median_ms={frame_ms:.4f} tick_median_ms={tick_ms:.4f} '
          f'received={len(got)}', flush=True)
    robot.destroy_node()
    reader.destroy_node()
    try_shutdown()


if __name__ == '__main__':
    main()
