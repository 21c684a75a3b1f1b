"""
Helper processes for the crash and stall tests (run as scripts with the ior runtime):

* ``pub RATE_HZ OUT``: publish std_msgs/String ``"<seq> <send time ns>"`` on /seq (reliable,
  keep last 1000) at RATE_HZ from seq 0, whether or not anyone listens; print ``PUBLISHING``
  once started; on SIGINT/SIGTERM write the send times (ns, index = seq) as JSON to OUT and
  print ``DONE``.
* ``sub TOPIC``: subscribe to TOPIC (std_msgs/String, reliable, keep last 10), print ``READY``,
  then ``GOT <data>`` per message (stdout flushed each time).
"""

from __future__ import annotations

import json
import signal
import sys
import time
from typing import Any


def pub(rate_hz: float, out: str) -> None:
    from ior_ros.runtime.qos import QoSProfile
    from ior_ros.runtime.registry import registry
    from ior_ros.runtime.topic_tools import open_context

    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    reg = registry()
    cls = reg.get_class('std_msgs/msg/String')
    ctx = open_context('seq_pub')
    writer = ctx.create_writer('/seq', 'std_msgs/msg/String', QoSProfile(depth=1000))
    sent: list[int] = []
    period = 1.0 / rate_hz
    print('PUBLISHING', flush=True)
    next_time = time.monotonic()
    while not stop:
        now_ns = time.time_ns()
        writer.write(reg.serialize(cls(data=f'{len(sent)} {now_ns}'), 'std_msgs/msg/String'))
        sent.append(now_ns)
        next_time += period
        left = next_time - time.monotonic()
        if left > 0:
            time.sleep(left)
    with open(out, 'w', encoding='utf-8') as handle:
        json.dump(sent, handle)
    ctx.close()
    print('DONE', flush=True)


def sub(topic: str) -> None:
    from ior_ros.runtime import Node, get_message, init, shutdown
    from ior_ros.runtime.context import ExternalShutdownException
    from ior_ros.runtime.executor import SingleThreadedExecutor

    init([])
    node = Node('stall_sink')

    def on_msg(msg: Any) -> None:
        print(f'GOT {msg.data}', flush=True)

    node.create_subscription(get_message('std_msgs/msg/String'), topic, on_msg, 10)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    print('READY', flush=True)
    try:
        while True:
            executor.spin_once(0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    shutdown()


if __name__ == '__main__':
    if sys.argv[1] == 'pub':
        pub(float(sys.argv[2]), sys.argv[3])
    else:
        sub(sys.argv[2])
