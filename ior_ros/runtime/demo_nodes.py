"""
Tiny nodes for demos and tests of the runtime (each a ``main(args=None)`` in the ROS 2 shape).

* ``talker``: publishes std_msgs/String ``"<prefix> <n>"`` on ``chatter`` every ``period_s``;
  stops after ``count`` messages when ``count`` > 0.
* ``listener``: prints ``I heard: [<data>]`` for every std_msgs/String on ``chatter``.
  Both take ``reliability`` (``reliable``, the default, or ``best_effort``) for ``chatter``.
* ``param_reporter``: declares the parameters named in ``names`` (string array) plus a fixed set,
  then prints one JSON line with its name, namespace, resolved topic of ``chatter`` and every
  parameter value, and keeps spinning.
* ``sim_timer``: a ``period_s`` timer on the node clock; prints ``tick <sim time ns>`` per call
  (with ``use_sim_time:=true`` it follows ``/clock``).
* ``clock_publisher``: publishes rosgraph_msgs/Clock from ``start_s`` in steps of ``step_s``
  every ``wall_period_s`` (a stand-in for a simulator).
* ``image_source``: publishes ``width`` x ``height`` rgb8 sensor_msgs/Image frames at ``rate_hz``.
* ``set_bool_server``: serves std_srvs/SetBool on ``set_enabled``; answers ``success=True`` and
  message ``enabled``/``disabled`` and prints one line per request.
* ``set_bool_client``: waits for ``set_enabled``, calls it (data true, false, true, ...) every
  ``period_s``, prints each response; exits 0 after ``count`` calls (``count`` 0, the default,
  calls until stopped, like ``talker``).

Every node uses only ``ior_ros.runtime`` names, so it runs on rclpy as well.
"""

from __future__ import annotations

import json
import sys
from typing import Any

__all__ = ['talker_main', 'listener_main', 'param_reporter_main', 'sim_timer_main',
           'clock_publisher_main', 'image_source_main', 'set_bool_server_main',
           'set_bool_client_main']


def _run(make_node: Any, args: list[str] | None) -> int:
    from ior_ros.runtime import ExternalShutdownException, init, spin, try_shutdown

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


def _chatter_qos(node: Any) -> Any:
    """Depth 10 with the reliability of parameter ``reliability`` (reliable or best_effort)."""
    from ior_ros.runtime import QoSProfile, ReliabilityPolicy

    name = node.declare_parameter('reliability', 'reliable').value
    choices = {'reliable': ReliabilityPolicy.RELIABLE,
               'best_effort': ReliabilityPolicy.BEST_EFFORT}
    if name not in choices:
        from ior_ros.runtime.errors import RosInputError

        raise RosInputError(f"parameter 'reliability' of node {node.get_name()}: {name!r} is not "
                            "'reliable' or 'best_effort'")
    return QoSProfile(depth=10, reliability=choices[name])


def talker_main(args: list[str] | None = None) -> int:
    """The talker node."""
    from ior_ros.runtime import Node, get_message

    string = get_message('std_msgs/msg/String')

    class Talker(Node):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__('talker')
            self.prefix = self.declare_parameter('prefix', 'Hello World:').value
            self.count = self.declare_parameter('count', 0).value
            period = self.declare_parameter('period_s', 0.2).value
            self.pub = self.create_publisher(string, 'chatter', _chatter_qos(self))
            self.n = 0
            self.timer = self.create_timer(period, self.tick)

        def tick(self) -> None:
            if self.count and self.n >= self.count:
                self.timer.cancel()
                return
            self.n += 1
            self.prefix = self.get_parameter('prefix').value  # follows `param set`
            self.pub.publish(string(data=f'{self.prefix} {self.n}'))
            self.get_logger().info(f'Publishing: "{self.prefix} {self.n}"')

    return _run(Talker, args)


def listener_main(args: list[str] | None = None) -> int:
    """The listener node."""
    from ior_ros.runtime import Node, get_message

    string = get_message('std_msgs/msg/String')

    class Listener(Node):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__('listener')
            self.create_subscription(string, 'chatter', self.on_msg, _chatter_qos(self))

        def on_msg(self, msg: Any) -> None:
            print(f'I heard: [{msg.data}]', flush=True)

    return _run(Listener, args)


def param_reporter_main(args: list[str] | None = None) -> int:
    """Declare parameters, print them as one JSON line, keep spinning."""
    from ior_ros.runtime import Node, get_message

    string = get_message('std_msgs/msg/String')

    class Reporter(Node):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__('param_reporter')
            values: dict[str, Any] = {}
            for name, default in (('rate_hz', 1.0), ('label', 'none'), ('count', 0),
                                  ('enabled', False), ('gains', [0.0]), ('nested.depth', 0)):
                values[name] = self.declare_parameter(name, default).value
            values['use_sim_time'] = self.get_parameter('use_sim_time').value
            report = {'name': self.get_name(), 'namespace': self.get_namespace(),
                      'chatter': self.resolve_topic_name('chatter'), 'params': values}
            self.pub = self.create_publisher(string, 'chatter', 10)
            print(json.dumps(report), flush=True)

    return _run(Reporter, args)


def sim_timer_main(args: list[str] | None = None) -> int:
    """A timer that reports the clock time of every call."""
    from ior_ros.runtime import Node, get_message

    integer = get_message('std_msgs/msg/Int64')

    class SimTimer(Node):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__('sim_timer')
            period = self.declare_parameter('period_s', 1.0).value
            self.pub = self.create_publisher(integer, 'ticks', 100)
            self.create_timer(period, self.tick)

        def tick(self) -> None:
            now = self.get_clock().now().nanoseconds
            self.pub.publish(integer(data=now))
            print(f'tick {now}', flush=True)

    return _run(SimTimer, args)


def clock_publisher_main(args: list[str] | None = None) -> int:
    """Publish simulated time on /clock."""
    from ior_ros.runtime import Node, get_message, qos_profile_clock

    clock_msg = get_message('rosgraph_msgs/msg/Clock')
    time_msg = get_message('builtin_interfaces/msg/Time')

    class ClockPublisher(Node):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__('clock_publisher')
            self.now_ns = int(self.declare_parameter('start_s', 0.0).value * 1e9)
            self.step_ns = int(self.declare_parameter('step_s', 0.1).value * 1e9)
            wall = self.declare_parameter('wall_period_s', 0.01).value
            self.pub = self.create_publisher(clock_msg, '/clock', qos_profile_clock)
            self.create_timer(wall, self.tick, clock=_steady_clock())

        def tick(self) -> None:
            self.now_ns += self.step_ns
            sec, nsec = divmod(self.now_ns, 1_000_000_000)
            self.pub.publish(clock_msg(clock=time_msg(sec=sec, nanosec=nsec)))

    return _run(ClockPublisher, args)


def image_source_main(args: list[str] | None = None) -> int:
    """Publish synthetic rgb8 images."""
    import numpy as np

    from ior_ros.runtime import Node, get_message, qos_profile_sensor_data

    image = get_message('sensor_msgs/msg/Image')

    class ImageSource(Node):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__('image_source')
            self.width = self.declare_parameter('width', 640).value
            self.height = self.declare_parameter('height', 480).value
            rate = self.declare_parameter('rate_hz', 10.0).value
            self.pub = self.create_publisher(image, 'image', qos_profile_sensor_data)
            self.frame = np.zeros(self.width * self.height * 3, dtype=np.uint8)  # [h * w * 3]
            self.create_timer(1.0 / rate, self.tick)

        def tick(self) -> None:
            self.frame[:] = (int(self.frame[0]) + 1) % 256
            msg = image(height=self.height, width=self.width, encoding='rgb8', is_bigendian=0,
                        step=self.width * 3, data=self.frame)
            msg.header.stamp = self.get_clock().now().to_msg()
            self.pub.publish(msg)

    return _run(ImageSource, args)


def set_bool_server_main(args: list[str] | None = None) -> int:
    """Serve std_srvs/SetBool on ``set_enabled``."""
    from ior_ros.runtime import Node, get_service

    set_bool = get_service('std_srvs/srv/SetBool')

    class SetBoolServer(Node):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__('set_bool_server')
            self.srv = self.create_service(set_bool, 'set_enabled', self.on_request)

        def on_request(self, request: Any, response: Any) -> Any:
            response.success = True
            response.message = 'enabled' if request.data else 'disabled'
            print(f'request: data={bool(request.data)} -> {response.message}', flush=True)
            return response

    return _run(SetBoolServer, args)


def set_bool_client_main(args: list[str] | None = None) -> int:
    """Call ``set_enabled`` alternating true and false; exit 0 after ``count`` calls (0: never)."""
    import time

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

    set_bool = get_service('std_srvs/srv/SetBool')
    init(args=args)
    node = None
    try:
        node = Node('set_bool_client')
        count = node.declare_parameter('count', 0).value
        period = node.declare_parameter('period_s', 0.2).value
        client = node.create_client(set_bool, 'set_enabled')
        while not client.wait_for_service(timeout_sec=1.0):
            if not ok():  # shut down (SIGTERM) while waiting
                return 0
            node.get_logger().info('service not available, waiting again...')
        index = 0
        while count <= 0 or index < count:
            request = set_bool.Request(data=index % 2 == 0)
            future = client.call_async(request)
            spin_until_future_complete(node, future)
            response = future.result()
            print(f'response {index + 1}: data={request.data} -> success={response.success} '
                  f'message={response.message}', flush=True)
            index += 1
            deadline = time.monotonic() + period
            while (count <= 0 or index < count) and time.monotonic() < deadline:
                spin_once(node, timeout_sec=max(0.0, deadline - time.monotonic()))
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        try_shutdown()
    return 0


def _steady_clock() -> Any:
    from ior_ros.runtime import Clock, ClockType

    return Clock(clock_type=ClockType.STEADY_TIME)


if __name__ == '__main__':  # pragma: no cover
    sys.exit(talker_main())
