"""The rclpy-like API: QoS, clocks and timers, parameters, executor, backend selection."""

from __future__ import annotations

import subprocess
import sys

import pytest
from rt_helpers import REPO, RosEnv, both_backends

from ior_ros.runtime.clock import ClockType, Duration, ROSClock, Time
from ior_ros.runtime.parameters import (
    Parameter,
    ParameterType,
)
from ior_ros.runtime.qos import (
    INFINITE_NS,
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    as_profile,
    qos_profile_action_status_default,
    qos_profile_parameters,
    qos_profile_rosout_default,
    qos_profile_sensor_data,
    qos_profile_services_default,
    qos_profile_transient_local,
    to_dds_qos,
)
from ior_ros.runtime.timer import Timer


def test_qos_defaults_and_presets_follow_rclpy() -> None:
    with pytest.raises(ValueError, match='history policy or a depth'):
        QoSProfile()
    default = as_profile(7)
    assert (default.history, default.depth, default.reliability, default.durability) == (
        HistoryPolicy.KEEP_LAST, 7, ReliabilityPolicy.RELIABLE, DurabilityPolicy.VOLATILE)
    table = {
        'sensor': (qos_profile_sensor_data, 5, ReliabilityPolicy.BEST_EFFORT,
                   DurabilityPolicy.VOLATILE),
        'services': (qos_profile_services_default, 10, ReliabilityPolicy.RELIABLE,
                     DurabilityPolicy.VOLATILE),
        'parameters': (qos_profile_parameters, 1000, ReliabilityPolicy.RELIABLE,
                       DurabilityPolicy.VOLATILE),
        'rosout': (qos_profile_rosout_default, 1000, ReliabilityPolicy.RELIABLE,
                   DurabilityPolicy.TRANSIENT_LOCAL),
        'action status': (qos_profile_action_status_default, 1, ReliabilityPolicy.RELIABLE,
                          DurabilityPolicy.TRANSIENT_LOCAL),
        'latched': (qos_profile_transient_local, 1, ReliabilityPolicy.RELIABLE,
                    DurabilityPolicy.TRANSIENT_LOCAL)}
    for name, (profile, depth, reliability, durability) in table.items():
        assert (profile.depth, profile.reliability, profile.durability) == (
            depth, reliability, durability), name
    assert qos_profile_rosout_default.lifespan_ns == 10 * 10**9
    assert as_profile(3).with_(depth=1).depth == 1


def test_dds_qos_mapping_is_rmw_cyclonedds() -> None:
    from cyclonedds.core import Policy

    qos = to_dds_qos(QoSProfile(depth=0, durability=DurabilityPolicy.TRANSIENT_LOCAL),
                     b'typehash=X;')
    policies = list(qos)
    assert Policy.History.KeepLast(1) in policies  # depth 0 → KEEP_LAST(1)
    assert Policy.Reliability.Reliable(max_blocking_time=INFINITE_NS) in policies
    assert Policy.Durability.TransientLocal in policies
    assert any(isinstance(p, Policy.DurabilityService) for p in policies)
    assert Policy.Liveliness.Automatic(lease_duration=INFINITE_NS) in policies
    assert Policy.WriterDataLifecycle(autodispose=False) in policies
    assert Policy.DataRepresentation(use_cdrv0_representation=True) in policies
    assert Policy.Userdata(data=b'typehash=X;') in policies
    best_effort = list(to_dds_qos(qos_profile_sensor_data, writer=False))
    assert Policy.Reliability.BestEffort in best_effort
    assert not any(isinstance(p, Policy.WriterDataLifecycle) for p in best_effort)


def test_time_and_duration_arithmetic() -> None:
    t = Time(seconds=1, nanoseconds=500, clock_type=ClockType.ROS_TIME)
    assert t.seconds_nanoseconds() == (1, 500)
    assert (t + Duration(seconds=0.5)).nanoseconds == 1_500_000_500
    assert (t - Time(seconds=1, clock_type=ClockType.ROS_TIME)) == Duration(nanoseconds=500)
    with pytest.raises(TypeError):
        _ = t < Time(seconds=2)  # different clock types
    msg = t.to_msg()
    assert (msg.sec, msg.nanosec) == (1, 500)
    assert Time.from_msg(msg) == t


def test_timer_follows_simulated_time_with_rcl_skip_ahead() -> None:
    clock = ROSClock()
    clock._set_ros_time_is_active(True)
    clock.set_ros_time_override(0)
    timer = Timer(None, 1_000_000_000, clock)
    assert not timer.waits_on_wall_clock()
    clock.set_ros_time_override(999_999_999)
    assert not timer._take_call()
    clock.set_ros_time_override(1_000_000_000)
    assert timer._take_call() and not timer._take_call()
    clock.set_ros_time_override(5_200_000_000)  # four periods late: one call
    assert timer._take_call() and not timer._take_call()
    assert timer.time_until_next_call() == 800_000_000  # next at 6 s, the original grid
    clock.set_ros_time_override(1_000_000_000)  # time went backwards: restart from now
    assert not timer._take_call()
    assert timer.time_until_next_call() == 1_000_000_000
    timer.cancel()
    clock.set_ros_time_override(9_000_000_000)
    assert not timer._take_call()


def test_parameter_types() -> None:
    assert Parameter('a', value=1.0).type_ == ParameterType.DOUBLE
    assert Parameter('b', value=[1, 2]).type_ == ParameterType.INTEGER_ARRAY
    assert Parameter('c', value=True).type_ == ParameterType.BOOL
    with pytest.raises(ValueError):
        Parameter('d', ParameterType.INTEGER, 'x')
    with pytest.raises(TypeError):
        Parameter('e', value=[1, 'x'])
    assert Parameter('f', value=['a']).get_parameter_value().string_array_value == ['a']


@pytest.mark.xdist_group('dds')
@pytest.mark.timeout(180)
@both_backends
def test_node_api_in_one_process(ros: RosEnv) -> None:
    """Parameters, overrides, set callbacks, pub/sub, timers, graph queries, sim time: the same
    checks (rt_api_script.py) on the DDS runtime and on rclpy."""
    proc = ros.start(str(REPO / 'test' / 'runtime' / 'rt_api_script.py'))
    assert proc.wait(timeout=150) == 0, proc.text()
    assert f'API OK on {ros.backend}' in proc.text()


def test_backend_selection(tmp_path: object) -> None:
    code = ('import os, sys; os.environ["IOR_ROS_BACKEND"] = sys.argv[1]\n'
            'import ior_ros.runtime as r\n'
            'try:\n    print(r.BACKEND, r.Node.__module__)\n'
            'except Exception as e:\n    print("ERR", e)\n')
    out = subprocess.run([sys.executable, '-c', code, 'auto'], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    has_rclpy = subprocess.run([sys.executable, '-c', 'import rclpy'],
                               capture_output=True, timeout=120).returncode == 0
    expected = 'rclpy rclpy.node' if has_rclpy else 'dds ior_ros.runtime.node'
    assert out.stdout.strip() == expected, out.stderr
    out = subprocess.run([sys.executable, '-c', code, 'dds'], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert out.stdout.strip() == 'dds ior_ros.runtime.node'
    if not has_rclpy:
        out = subprocess.run([sys.executable, '-c', code, 'rclpy'], capture_output=True,
                             text=True, cwd=REPO, timeout=120)
        assert out.stdout.startswith('ERR IOR_ROS_BACKEND=rclpy but rclpy is not importable')
    out = subprocess.run([sys.executable, '-c', code, 'tcp'], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert "expected 'rclpy', 'dds' or 'auto'" in out.stdout


def test_discovery_configuration_follows_ros2_jazzy(monkeypatch: pytest.MonkeyPatch) -> None:
    import xml.etree.ElementTree as ET

    from ior_ros.runtime.dds import LOCALHOST_CONFIG, discovery_config
    from ior_ros.runtime.errors import DdsError

    for key in ('ROS_AUTOMATIC_DISCOVERY_RANGE', 'CYCLONEDDS_URI', 'ROS_STATIC_PEERS'):
        monkeypatch.delenv(key, raising=False)
    assert discovery_config() is None  # SUBNET default: plain Cyclone (multicast)
    monkeypatch.setenv('ROS_STATIC_PEERS', '10.0.0.7;robot.local')
    assert '<Peer address="10.0.0.7"/><Peer address="robot.local"/>' in discovery_config()
    monkeypatch.delenv('ROS_STATIC_PEERS')
    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    assert discovery_config() == LOCALHOST_CONFIG
    monkeypatch.setenv('CYCLONEDDS_URI', 'file:///x.xml')
    assert discovery_config() == LOCALHOST_CONFIG + ',file:///x.xml'  # appended, as rmw does
    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'EVERYWHERE')
    with pytest.raises(DdsError, match='expected SUBNET, LOCALHOST or OFF'):
        discovery_config()

    def shape(element: ET.Element) -> tuple:  # type: ignore[type-arg]
        return (element.tag, tuple(sorted(element.attrib.items())),
                (element.text or '').strip(), tuple(shape(c) for c in element))

    shipped = ET.parse(REPO / 'config' / 'cyclonedds_localhost.xml').getroot()
    assert shape(shipped) == shape(ET.fromstring(LOCALHOST_CONFIG))


@pytest.mark.xdist_group('dds')
@pytest.mark.timeout(120)
def test_shipped_localhost_file_via_cyclonedds_uri(ros: RosEnv) -> None:
    ros.env.pop('ROS_AUTOMATIC_DISCOVERY_RANGE')
    ros.env['CYCLONEDDS_URI'] = f"file://{REPO / 'config' / 'cyclonedds_localhost.xml'}"
    talker = ros.node('talker', '-p', 'period_s:=0.1')
    echo = ros.run_ior('topic', 'echo', '/chatter', 'std_msgs/msg/String', '--once',
                       '--timeout', '60')
    assert echo.stdout.startswith("data: 'Hello World: "), echo.stdout + echo.stderr
    talker.interrupt()
