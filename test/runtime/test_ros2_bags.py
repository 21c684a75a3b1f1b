"""
Bags both ways with the real rosbag2 of ROS 2 Jazzy, in both storages (mcap, sqlite3).

* ``ros2 bag record`` of topics our nodes publish (talker, an image source, ``ior topic pub`` of
  an ior_ros type) plus an rclpy publisher of a type our registry does not know
  (map_msgs/ProjectedMapInfo, transient local): ``ior bag info`` shows what rosbag2 recorded and
  ``ior bag play`` republishes it, with the recorded QoS, into our listener and an rclpy
  subscriber (every message, same content, same order).
* ``ior bag record`` of the same kind of topics: ``ros2 bag info`` reads it and ``ros2 bag play``
  republishes it into an rclpy subscriber (a transient-local topic stays transient-local).
* ``ior bag record`` / ``ior bag play`` are nodes of the graph (``ros2 node list``).

Marked ``ros2``: skipped with the reason when ROS 2 is absent.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from rt_helpers import Proc, RosEnv, wait_until

pytestmark = [pytest.mark.ros2, pytest.mark.xdist_group('dds'), pytest.mark.timeout(300)]

STORAGES = ['mcap', 'sqlite3']

# rclpy subscriber: argv[1] = JSON [[topic, type, reliability, durability], ...]; prints
# {"ready": true}, then {"topic", "cdr"} (the message serialized by rclpy) per message
SINK = """
import json, sys
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message
from rosidl_runtime_py.utilities import get_message

rclpy.init()
node = rclpy.create_node('bag_sink')
for topic, typename, reliability, durability in json.loads(sys.argv[1]):
    qos = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE if reliability ==
                     'reliable' else ReliabilityPolicy.BEST_EFFORT,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL if durability ==
                     'transient_local' else DurabilityPolicy.VOLATILE)
    node.create_subscription(get_message(typename), topic, lambda msg, t=topic: print(
        json.dumps({'topic': t, 'cdr': serialize_message(msg).hex()}), flush=True), qos)
print(json.dumps({'ready': True}), flush=True)
try:
    rclpy.spin(node)
except (KeyboardInterrupt, ExternalShutdownException):
    pass
"""

# rclpy publisher of a type our registry does not know, transient local, 10 Hz
PMI_SOURCE = """
import rclpy
from map_msgs.msg import ProjectedMapInfo
from rclpy.executors import ExternalShutdownException
from rclpy.qos import DurabilityPolicy, QoSProfile

rclpy.init()
node = rclpy.create_node('pmi_source')
pub = node.create_publisher(ProjectedMapInfo, '/pmi',
                            QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL))
count = [0]

def tick():
    count[0] += 1
    pub.publish(ProjectedMapInfo(frame_id=f'pmi {count[0]}', x=count[0] * 0.5, max_z=-1.0))
    print('sent', count[0], flush=True)

node.create_timer(0.1, tick)
try:
    rclpy.spin(node)
except (KeyboardInterrupt, ExternalShutdownException):
    pass
"""


# ----------------------------------------------------------------------------- helpers
def _plain(value: Any) -> Any:
    """A rosbags message as JSON-like values (dataclasses → dicts, arrays → lists)."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.name != '__msgtype__'}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _read_bag(bag: Path) -> tuple[Any, dict[str, str], dict[str, list[Any]]]:
    """(typestore knowing the bag's types, {topic: type}, {topic: [message, ...]} in order)."""
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    messages: dict[str, list[Any]] = {}
    with Reader(bag) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        for conn in reader.connections:
            if conn.msgtype not in store.fielddefs:
                parsed = get_types_from_msg(conn.msgdef.data, conn.msgtype)
                store.register({k: v for k, v in parsed.items() if k not in store.fielddefs})
        for conn, _stamp, data in reader.messages():
            messages.setdefault(conn.topic, []).append(
                _plain(store.deserialize_cdr(bytes(data), conn.msgtype)))
    return store, types, messages


def _received(sink: Proc, store: Any, types: dict[str, str]) -> dict[str, list[Any]]:
    got: dict[str, list[Any]] = {}
    for match in sink.matches(r'^\{"topic".*'):
        item = json.loads(match.group(0))
        got.setdefault(item['topic'], []).append(_plain(store.deserialize_cdr(
            bytes.fromhex(item['cdr']), types[item['topic']])))
    return got


def _start_sink(ros: RosEnv, spec: list[list[str]]) -> Proc:
    sink = ros.rclpy(SINK, json.dumps(spec))
    sink.wait_for(r'^\{"ready": true\}', timeout=90)
    return sink


def _in_graph(ros: RosEnv, name: str) -> bool:
    """Whether ``ros2 node list`` shows ``name`` (retried for up to 30 s)."""
    def listed() -> bool:
        done = ros.run_ros2('node', 'list', '--no-daemon', '--spin-time', '2')
        return name in done.stdout.split()

    return wait_until(listed, timeout=30, period=0.2)


def _publishers(ros: RosEnv) -> tuple[Proc, ...]:
    """Our talker (10 Hz), image source (16x12 rgb8, 10 Hz) and ``ior topic pub`` of
    ior_ros/msg/RobotState (10 Hz, stamped)."""
    talker = ros.node('talker', '-p', 'period_s:=0.1')
    images = ros.node('image_source', '-p', 'width:=16', '-p', 'height:=12',
                      '-p', 'rate_hz:=10.0')
    state = ros.ior('topic', 'pub', '/robot_state', 'ior_ros/msg/RobotState',
                    '{header: auto, command_sequence: 7, tracking_error_m: 0.25}', '-r', '10')
    return talker, images, state


def _record_a_while(talker: Proc, more: int = 15) -> None:
    """Let ``more`` further talker messages go by (the recording's length)."""
    seen = len(talker.matches('Publishing: '))
    talker.wait_for('Publishing: ', timeout=60, count=seen + more)


# ----------------------------------------------------------------------------- ros2 → ior
@pytest.mark.parametrize('storage', STORAGES)
def test_ros2_bag_record_then_ior_bag_info_and_play(ros: RosEnv, storage: str) -> None:
    talker, images, state = _publishers(ros)
    pmi = ros.rclpy(PMI_SOURCE)
    pmi.wait_for('^sent', timeout=90)
    bag = ros.tmp_path / f'by_ros2_{storage}'
    topics = ['/chatter', '/image', '/robot_state', '/pmi']
    recorder = ros.ros2('bag', 'record', '-s', storage, '-o', str(bag), *topics)
    for topic in topics:
        recorder.wait_for(f"Subscribed to topic '{topic}'", timeout=90)
    _record_a_while(talker)
    assert recorder.interrupt() == 0, recorder.text()[-3000:]
    for proc in (talker, images, state, pmi):
        proc.interrupt()

    meta = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert meta['storage_identifier'] == storage and meta['ros_distro'] == 'jazzy'
    store, types, recorded = _read_bag(bag)
    assert types == {'/chatter': 'std_msgs/msg/String', '/image': 'sensor_msgs/msg/Image',
                     '/robot_state': 'ior_ros/msg/RobotState',
                     '/pmi': 'map_msgs/msg/ProjectedMapInfo'}
    assert all(len(recorded.get(t, [])) >= 5 for t in topics), {
        t: len(v) for t, v in recorded.items()}

    # ior bag info: what rosbag2 recorded
    info = ros.run_ior('bag', 'info', str(bag))
    assert info.returncode == 0, info.stderr
    total = sum(len(v) for v in recorded.values())
    assert re.search(rf'Messages:\s+{total}$', info.stdout, re.M), info.stdout
    assert re.search(rf'Storage id:\s+{storage}$', info.stdout, re.M)
    for topic, typename in types.items():
        assert re.search(rf'Topic: {topic}\s*\| Type: {typename} \| Count: '
                         rf'{len(recorded[topic])} \| Serialization Format: cdr', info.stdout), \
            info.stdout
    duration = meta['duration']['nanoseconds']
    assert f'Duration:          {duration // 10**9}.{duration % 10**9:09d}s' in info.stdout

    # ior bag play into our listener and an rclpy subscriber; /pmi is requested transient
    # local, so it only matches if play offers what the bag recorded
    listener = ros.node('listener')
    sink = _start_sink(ros, [['/image', 'sensor_msgs/msg/Image', 'best_effort', 'volatile'],
                             ['/robot_state', 'ior_ros/msg/RobotState', 'reliable', 'volatile'],
                             ['/pmi', 'map_msgs/msg/ProjectedMapInfo', 'reliable',
                              'transient_local']])
    play = ros.ior('bag', 'play', str(bag), '--wait-for-subscribers', '60', '--delay', '3',
                   '--no-progress')
    assert _in_graph(ros, f'/ior_bag_play_{play.pid}'), play.text()
    assert play.wait(timeout=120) == 0, play.text()
    assert f'Playback finished; {total} messages published' in play.text()
    assert 'skipping' not in play.text() and 'WARN' not in play.text(), play.text()

    chatter = [m['data'] for m in recorded['/chatter']]
    listener.wait_for(r'I heard: \[', timeout=60, count=len(chatter))
    assert [m.group(1) for m in listener.matches(r'I heard: \[(.*)\]$')] == chatter
    others = ('/image', '/robot_state', '/pmi')
    sink.wait_for(r'^\{"topic"', timeout=60, count=sum(len(recorded[t]) for t in others))
    got = _received(sink, store, types)
    for topic in others:
        assert got.get(topic) == recorded[topic], topic
    assert got['/pmi'][-1]['frame_id'].startswith('pmi ')


# ----------------------------------------------------------------------------- ior → ros2
@pytest.mark.parametrize('storage', STORAGES)
def test_ior_bag_record_then_ros2_bag_info_and_play(ros: RosEnv, storage: str) -> None:
    talker, images, state = _publishers(ros)
    latched = ros.ior('topic', 'pub', '/latched', 'std_msgs/msg/String', '{data: latched}',
                      '--qos-durability', 'transient_local', '--qos-depth', '5', '-r', '5')
    bag = ros.tmp_path / f'by_ior_{storage}'
    topics = ['/chatter', '/image', '/robot_state', '/latched']
    recorder = ros.ior('bag', 'record', '-s', storage, '-o', str(bag), *topics)
    for topic in topics:
        recorder.wait_for(f"Subscribed to topic '{topic}'", timeout=90)
    assert _in_graph(ros, f'/ior_bag_record_{recorder.pid}'), recorder.text()
    _record_a_while(talker, more=5)
    assert recorder.interrupt() == 0, recorder.text()
    for proc in (talker, images, state, latched):
        proc.interrupt()

    meta = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    offered = {t['topic_metadata']['name']: t['topic_metadata']['offered_qos_profiles']
               for t in meta['topics_with_message_count']}
    assert offered['/latched'][0]['durability'] == 'transient_local'
    assert offered['/image'][0]['reliability'] == 'best_effort'
    store, types, recorded = _read_bag(bag)
    assert all(len(recorded.get(t, [])) >= 3 for t in topics), {
        t: len(v) for t, v in recorded.items()}

    info = ros.run_ros2('bag', 'info', str(bag))
    assert info.returncode == 0, info.stdout + info.stderr
    total = sum(len(v) for v in recorded.values())
    assert re.search(rf'Messages:\s+{total}$', info.stdout, re.M), info.stdout
    for topic, typename in types.items():
        assert re.search(rf'Topic: {topic}\s*\| Type: {typename} \| Count: '
                         rf'{len(recorded[topic])} \|', info.stdout), info.stdout

    # /latched is requested transient local: it only matches if ros2 bag play offers it
    sink = _start_sink(ros, [['/chatter', 'std_msgs/msg/String', 'reliable', 'volatile'],
                             ['/image', 'sensor_msgs/msg/Image', 'best_effort', 'volatile'],
                             ['/robot_state', 'ior_ros/msg/RobotState', 'reliable', 'volatile'],
                             ['/latched', 'std_msgs/msg/String', 'reliable',
                              'transient_local']])
    play = ros.run_ros2('bag', 'play', str(bag), '--delay', '3', '--disable-keyboard-controls',
                        '--wait-for-all-acked', '5000')
    assert play.returncode == 0, play.stdout + play.stderr
    sink.wait_for(r'^\{"topic"', timeout=60, count=total)
    got = _received(sink, store, types)
    for topic in topics:
        assert got.get(topic) == recorded[topic], topic
