"""
The node API through ``ior_ros.runtime`` only, run as a process on either backend.

test_rt_node_api.py runs it with ``IOR_ROS_BACKEND=dds`` and ``rclpy``: the same assertions must
hold on both (what a node written against ``ior_ros.runtime`` may rely on). Prints ``API OK`` at
the end; any failed check raises (exit 1 with the traceback).
"""

from __future__ import annotations

import sys
import time

from ior_ros.runtime import (
    BACKEND,
    InvalidParameterTypeException,
    Node,
    Parameter,
    ParameterNotDeclaredException,
    SetParametersResult,
    SingleThreadedExecutor,
    get_message,
    init,
    try_shutdown,
)


def expect_raises(kind: type[BaseException], call, *args, **kwargs) -> BaseException:  # type: ignore[no-untyped-def]
    try:
        call(*args, **kwargs)
    except kind as exc:
        return exc
    raise AssertionError(f'{call.__name__}{args} did not raise {kind.__name__}')


def wait_until(predicate, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def main() -> int:
    init(args=['prog', '--ros-args', '-p', 'gain:=2.5', '-p', 'ratio:=0.5', '-r', 'out:=renamed'])
    node = Node('api_node', namespace='ns', cli_args=['--ros-args', '-p', 'label:=cli'])
    try:
        assert node.get_fully_qualified_name() == '/ns/api_node'
        assert node.declare_parameter('gain', 1.0).value == 2.5
        assert node.declare_parameter('label', 'default').value == 'cli'
        assert node.declare_parameter('untouched', 3).value == 3
        exc = expect_raises(InvalidParameterTypeException, node.declare_parameter, 'ratio', 1)
        assert 'ratio' in str(exc), exc  # the override 0.5 is a double, the default an integer
        result = node.set_parameters([Parameter('gain', value='high')])[0]
        assert not result.successful
        assert result.reason == "Wrong parameter type, expected 'Type.DOUBLE' got 'Type.STRING'"
        refused: list[str] = []

        def veto(params: list[Parameter]) -> SetParametersResult:
            refused.extend(p.name for p in params)
            return SetParametersResult(successful=False, reason='not now')

        node.add_on_set_parameters_callback(veto)
        result = node.set_parameters([Parameter('gain', value=9.0)])[0]
        assert not result.successful and result.reason == 'not now'
        assert node.get_parameter('gain').value == 2.5 and refused == ['gain']
        node.remove_on_set_parameters_callback(veto)
        assert node.set_parameters([Parameter('gain', value=9.0)])[0].successful
        expect_raises(ParameterNotDeclaredException, node.get_parameter, 'missing')
        assert node.get_parameter_or('missing', Parameter('missing', value=4)).value == 4
        assert node.has_parameter('gain') and not node.has_parameter('missing')

        string = get_message('std_msgs/msg/String')
        heard: list[str] = []
        pub = node.create_publisher(string, 'out', 10)
        assert pub.topic_name == '/ns/renamed', pub.topic_name
        node.create_subscription(string, '/ns/renamed', lambda m: heard.append(m.data), 10)
        ticks: list[int] = []
        node.create_timer(0.05, lambda: ticks.append(1))
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        assert wait_until(lambda: pub.get_subscription_count() == 1)
        for i in range(3):
            pub.publish(string(data=f'm{i}'))
        deadline = time.monotonic() + 30
        while (len(heard) < 3 or len(ticks) < 3) and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
        assert heard == ['m0', 'm1', 'm2'] and len(ticks) >= 3, (heard, ticks)
        assert wait_until(lambda: node.count_publishers('/ns/renamed') == 1)
        assert wait_until(lambda: ('api_node', '/ns') in node.get_node_names_and_namespaces())
        names = dict(node.get_topic_names_and_types())
        assert names.get('/ns/renamed') == ['std_msgs/msg/String'], names
        # use_sim_time switches the clock to /clock (zero until a message arrives)
        node.set_parameters([Parameter('use_sim_time', value=True)])
        assert node.get_clock().ros_time_is_active
        assert node.get_clock().now().nanoseconds == 0
    finally:
        node.destroy_node()
        try_shutdown()
    print(f'API OK on {BACKEND}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
