"""Nodes in separate processes over DDS on loopback: pub/sub, QoS, parameters, sim time, tools."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from rt_helpers import RosEnv, both_backends, wait_until

pytestmark = [pytest.mark.xdist_group('dds'), pytest.mark.timeout(240)]


@both_backends
def test_talker_to_listener_across_processes(ros: RosEnv) -> None:
    listener = ros.node('listener')
    talker = ros.node('talker', '-p', 'period_s:=0.1', '-p', 'prefix:=msg')
    heard = listener.wait_for(r'I heard: \[msg (\d+)\]', timeout=90, count=5)
    numbers = [int(m.group(1)) for m in heard]
    # reliable, in order, no gap once matched
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    talker.wait_for(r'\[INFO\] \[\d+\.\d{9}\] \[talker\]: Publishing: "msg \d+"')
    assert talker.interrupt() == 0
    assert listener.interrupt() == 0


@both_backends
def test_best_effort_publisher_does_not_match_a_reliable_subscriber(ros: RosEnv) -> None:
    from ior_ros.runtime.dds import DdsContext
    from ior_ros.runtime.qos import QoSProfile, ReliabilityPolicy

    publisher = ros.node('talker', '-p', 'reliability:=best_effort', '-p', 'period_s:=0.02',
                         '-r', 'chatter:=/qos_probe')
    ctx = DdsContext()
    try:
        best_effort = ctx.create_reader('/qos_probe', 'std_msgs/msg/String',
                                        QoSProfile(depth=10,
                                                   reliability=ReliabilityPolicy.BEST_EFFORT))
        reliable = ctx.create_reader('/qos_probe', 'std_msgs/msg/String', QoSProfile(depth=10))
        received: list[bytes] = []

        def got_some() -> bool:
            received.extend(d for d, _ in best_effort.take())
            return len(received) >= 5

        assert wait_until(got_some, timeout=90), publisher.text()
        assert best_effort.matched_count() == 1
        # the publisher has been live (and discovered) for a while: give the reliable reader
        # two more seconds of traffic, during which the best-effort one keeps receiving
        before = len(received)
        end = time.monotonic() + 2.0
        reliable_samples = []
        while time.monotonic() < end:
            ctx.wait(50_000_000)
            reliable_samples += reliable.take()
            received.extend(d for d, _ in best_effort.take())
        assert len(received) > before + 20
        assert reliable.matched_count() == 0
        assert reliable_samples == []
    finally:
        ctx.close()
    # the node was told, in rclpy's words (its default QoS event callback, which names the
    # topic as the node gave it, before remapping)
    publisher.wait_for(r"\[WARN\] \[[\d.]+\] \[talker\]: New subscription discovered on topic "
                       r"'chatter', requesting incompatible QoS. No messages will be sent to "
                       r'it. Last incompatible policy: RELIABILITY', timeout=30)
    assert publisher.interrupt() == 0


@both_backends
def test_parameters_and_remaps_from_ros_args(ros: RosEnv, tmp_path: Path) -> None:
    params = tmp_path / 'params.yaml'
    params.write_text('/**:\n  ros__parameters:\n    label: wildcard\n    count: 3\n'
                      '/ns1/reporter:\n  ros__parameters:\n    rate_hz: 25.0\n'
                      '    nested:\n      depth: 7\n    gains: [1.0, 2.5]\n', encoding='utf-8')
    node = ros.node('param_reporter', '-r', '__node:=reporter', '-r', '__ns:=/ns1',
                    '--params-file', str(params), '-p', 'enabled:=true', '-p', 'label:=cli',
                    '-r', 'chatter:=/remapped/talk')
    report = json.loads(node.wait_for(r'^\{.*\}$', timeout=90)[0].group(0))
    assert report['name'] == 'reporter' and report['namespace'] == '/ns1'
    assert report['chatter'] == '/remapped/talk'
    assert report['params'] == {'rate_hz': 25.0, 'label': 'cli', 'count': 3, 'enabled': True,
                                'gains': [1.0, 2.5], 'nested.depth': 7, 'use_sim_time': False}
    # the graph shows the renamed node and the remapped topic (read through DDS discovery)
    nodes = ros.run_ior('node', 'list', '--spin-time', '2')
    assert '/ns1/reporter' in nodes.stdout.split(), nodes.stdout + nodes.stderr
    topics = ros.run_ior('topic', 'list', '-t', '--spin-time', '2')
    assert '/remapped/talk [std_msgs/msg/String]' in topics.stdout.splitlines(), topics.stdout
    node.interrupt()


@both_backends
def test_parameter_of_the_wrong_type_is_one_clear_error(ros: RosEnv) -> None:
    node = ros.node('param_reporter', '-p', 'rate_hz:=5')
    assert node.wait(timeout=90) == 2
    errors = [line for line in node.text().splitlines() if 'error' in line.lower()]
    assert len(errors) == 1 and 'Traceback' not in node.text(), node.text()
    if ros.backend == 'dds':
        assert re.search(r"ior: error: parameter 'rate_hz' of node /param_reporter: override 5 "
                         'has type INTEGER, the parameter is DOUBLE', errors[0]), errors
    else:  # rclpy's InvalidParameterTypeException, in its words
        assert errors[0] == ("ior: error: Trying to set parameter 'rate_hz' to '5' of type "
                             "'INTEGER', expecting type 'DOUBLE': rate_hz"), errors


@both_backends
def test_sim_clock_drives_timers(ros: RosEnv) -> None:
    from ior_ros.runtime.dds import DdsContext
    from ior_ros.runtime.messages import get_message, serialize
    from ior_ros.runtime.qos import qos_profile_clock

    node = ros.node('sim_timer', '-p', 'use_sim_time:=true', '-p', 'period_s:=1.0')
    clock_cls = get_message('rosgraph_msgs/msg/Clock')
    time_cls = get_message('builtin_interfaces/msg/Time')
    ctx = DdsContext()
    try:
        writer = ctx.create_writer('/clock', 'rosgraph_msgs/msg/Clock', qos_profile_clock)
        assert wait_until(lambda: writer.matched_count() >= 1, timeout=90), node.text()

        def set_clock(seconds: float, until_tick: int | None = None) -> None:
            sec, nsec = divmod(int(round(seconds * 1e9)), 1_000_000_000)
            data = serialize(clock_cls(clock=time_cls(sec=sec, nanosec=nsec)))
            deadline = time.monotonic() + 60
            for _ in range(5):  # best-effort /clock: say it a few times
                writer.write(data)
                time.sleep(0.02)
            while until_tick is not None and not node.matches(rf'^tick {until_tick}$'):
                assert time.monotonic() < deadline, node.text()
                writer.write(data)
                time.sleep(0.05)

        def ticks() -> list[int]:
            return [int(m.group(1)) for m in node.matches(r'^tick (\d+)$')]

        set_clock(0.5)
        set_clock(1.0, until_tick=1_000_000_000)
        time.sleep(1.5)  # wall time passes, simulated time stands still: no tick
        assert ticks() == [1_000_000_000]
        set_clock(1.7)
        set_clock(2.0, until_tick=2_000_000_000)
        set_clock(5.0, until_tick=5_000_000_000)  # 3 periods at once: one call, not a burst
        set_clock(5.5)
        time.sleep(1.0)
        assert ticks() == [1_000_000_000, 2_000_000_000, 5_000_000_000]
    finally:
        ctx.close()
    node.interrupt()


@both_backends
def test_topic_and_node_lists_echo_and_hz_show_what_runs(ros: RosEnv) -> None:
    talker = ros.node('talker', '-r', '__ns:=/robot7', '-p', 'period_s:=0.1')
    listener = ros.node('listener', '-r', '__ns:=/robot7')
    listener.wait_for(r'I heard', timeout=90)
    nodes = ros.run_ior('node', 'list', '--spin-time', '2')
    assert {'/robot7/talker', '/robot7/listener'} <= set(nodes.stdout.split()), nodes.stdout
    topics = ros.run_ior('topic', 'list', '-t', '--spin-time', '2')
    lines = topics.stdout.splitlines()
    assert '/robot7/chatter [std_msgs/msg/String]' in lines
    assert '/rosout [rcl_interfaces/msg/Log]' in lines
    echo = ros.run_ior('topic', 'echo', '/robot7/chatter', '--once')
    assert re.fullmatch(r"data: 'Hello World: \d+'\n---\n", echo.stdout), echo.stdout
    rates = ros.run_ior('topic', 'hz', '/robot7/chatter', '--duration', '4')
    averages = [float(v) for v in re.findall(r'average rate: ([\d.]+)', rates.stdout)]
    assert averages and all(8.0 < v < 12.0 for v in averages), rates.stdout
    talker.interrupt()
    listener.interrupt()
    gone = ros.run_ior('node', 'list', '--spin-time', '1.5')
    assert '/robot7/talker' not in gone.stdout.split()


@both_backends
def test_sigint_stops_nodes_and_tools_started_with_sigint_ignored(ros: RosEnv) -> None:
    """A shell's background job inherits SIGINT ignored; like rclpy, a node still stops on it."""
    import signal
    import subprocess
    import sys

    def ignore_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    commands = [
        ['-m', 'ior_ros.runtime.exec', 'ior_ros', 'talker', '--ros-args', '-p', 'period_s:=0.1'],
        ['-m', 'ior_ros.cli', 'topic', 'pub', '/sigint_probe', 'std_msgs/msg/String',
         '{data: x}', '-r', '20'],
    ]
    procs = [subprocess.Popen([sys.executable, *args], env=ros.env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, preexec_fn=ignore_sigint)
             for args in commands]
    try:
        for proc in procs:  # wait until each is up and publishing
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line, f'{proc.args} printed nothing'
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        codes = [proc.wait(timeout=30) for proc in procs]
        assert all(code in (0, 130) for code in codes), codes
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
