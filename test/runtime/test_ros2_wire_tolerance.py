"""
Malformed samples from a real ROS 2 Jazzy (rclpy on rmw_cyclonedds_cpp): what rclpy makes of
them, what this runtime makes of them, and that neither a misbehaving rclpy node nor
``ros2 bag play`` of a damaged bag stops a node of ours.

Each row of the table in ior_ros/runtime/cdr_decode.py is asserted here: rclpy publishes the
hand-made bytes (``Publisher.publish(bytes)``) to an rclpy subscriber and to one of ours.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path
from typing import Any

import pytest
import rt_ros2
from rt_helpers import Proc, RosEnv, wait_until

pytestmark = pytest.mark.ros2

LE = b'\x00\x01\x00\x00'


def u32(value: int) -> bytes:
    return struct.pack('<I', value)


def cstr(text: bytes) -> bytes:
    return u32(len(text) + 1) + text + b'\0'


def pad(data: bytes) -> bytes:
    return data + b'\0' * (-len(data) % 4)


def _entities(name: bytes) -> bytes:
    """rmw_dds_common/NodeEntitiesInfo: string<=256 namespace, string<=256 name, 2 Gid[]."""
    return LE + pad(cstr(b'/')) + pad(cstr(name)) + u32(0) + u32(0)


def _descriptor(ranges: int) -> bytes:
    """rcl_interfaces/ParameterDescriptor with ``ranges`` FloatingPointRange (bound: 1)."""
    body = cstr(b'p') + b'\x03\x00' + cstr(b'd') + b'\0\0' + cstr(b'c') + b'\x01\x00'
    body += u32(ranges) + b'\0' * 4 + struct.pack('<ddd', 0.0, 1.0, 0.5) * ranges + u32(0)
    return LE + body


# What each side delivers: a value, DEFAULT (rclpy's callback gets a default-constructed
# message: its deserialization failed), DROP (our decoder drops it and counts it) or CYCLONE
# (Cyclone's reader in our process drops it before the decoder sees it).
DEFAULT, DROP, CYCLONE = 'default', 'drop', 'cyclone'
STRING_CASES: list[tuple[str, bytes, Any, Any]] = [
    ('valid', LE + cstr(b'abc'), 'abc', 'abc'),
    ('invalid utf-8', LE + cstr(b'a\xffc'), 'a\ufffdc', 'a\ufffdc'),
    ('cut utf-8', LE + cstr(b'x\xe2\x82'), 'x\ufffd', 'x\ufffd'),
    ('surrogate', LE + cstr(b'\xed\xa0\x80!'), '\ufffd\ufffd\ufffd!', '\ufffd\ufffd\ufffd!'),
    ('trailing bytes', LE + cstr(b'abc') + b'\x01\x02\x03\x04', 'abc', 'abc'),
    ('big-endian', b'\x00\x00\x00\x00' + struct.pack('>I', 4) + b'abc\0', 'abc', 'abc'),
    ('header options', b'\x00\x01\x00\x03' + cstr(b'abc'), 'abc', 'abc'),
    ('NUL inside', LE + u32(6) + b'ab\0cd\0', 'ab', 'ab\0cd'),
    ('length 0', LE + u32(0), '', CYCLONE),
    ('length overrun', LE + u32(4000) + b'abc\0', DEFAULT, CYCLONE),
    ('length 0xFFFFFFFF', LE + u32(0xFFFFFFFF) + b'abc\0', DEFAULT, CYCLONE),
    ('no NUL', LE + u32(4) + b'abcd', DEFAULT, CYCLONE),
    ('truncated', LE + b'\x04\x00', DEFAULT, CYCLONE),
    ('header only', LE, DEFAULT, CYCLONE),
    ('2 bytes', b'\x00\x01', DEFAULT, CYCLONE),
    ('LE body, BE header', b'\x00\x00\x00\x00' + cstr(b'abc'), DEFAULT, CYCLONE),
    ('XCDR2', b'\x00\x07\x00\x00' + cstr(b'abc'), DEFAULT, DROP),
    ('delimited XCDR2', b'\x00\x09\x00\x00' + cstr(b'abc'), DEFAULT, DROP),
    ('PL_CDR', b'\x00\x03\x00\x00' + cstr(b'abc'), DEFAULT, DROP),
    ('header 01 01', b'\x01\x01\x00\x00' + cstr(b'abc'), 'abc', DROP),
]
OTHER_CASES: list[tuple[str, str, bytes, Any, Any]] = [
    ('/b', 'bool 0', LE + b'\x00', False, False),
    ('/b', 'bool 2', LE + b'\x02', True, True),
    ('/b', 'bool 0xff', LE + b'\xff', True, True),
    ('/b', 'bool missing', LE, DEFAULT, CYCLONE),
    ('/nei', 'string within bound', _entities(b'n'), ['/', 'n'], ['/', 'n']),
    ('/nei', 'string over bound', _entities(b'x' * 300), ['/', 'x' * 300], CYCLONE),
    ('/pd', 'sequence within bound', _descriptor(1), ['p', 1], ['p', 1]),
    ('/pd', 'sequence over bound', _descriptor(2), ['p', 2], CYCLONE),
]
DEFAULTS = {'/s': '', '/b': False}

_TOPICS = {'/s': 'std_msgs/msg/String', '/b': 'std_msgs/msg/Bool',
           '/nei': 'rmw_dds_common/msg/NodeEntitiesInfo',
           '/pd': 'rcl_interfaces/msg/ParameterDescriptor'}

# one subscriber script for both sides: {api} is rclpy or ours
_SUBSCRIBER = """
import json, sys
{imports}
init()
node = Node(sys.argv[1])
qos = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE,
                 history=HistoryPolicy.KEEP_ALL)
topics = {topics!r}

def value(topic, msg):
    if topic in ('/s', '/b'):
        return msg.data
    if topic == '/nei':
        return [msg.node_namespace, msg.node_name]
    return [msg.name, len(msg.floating_point_range)]

subs = {{topic: node.create_subscription(
    get_message(typename), topic,
    lambda msg, topic=topic: print('GOT ' + json.dumps([topic, value(topic, msg)]), flush=True),
    qos) for topic, typename in topics.items()}}
print('READY', flush=True)
try:
    spin(node)
except (KeyboardInterrupt, ExternalShutdownException):
    pass
print('DROPPED ' + json.dumps({{t: getattr(s, 'dropped_samples', None)
                                for t, s in subs.items()}}), flush=True)
node.destroy_node()
"""
_RCLPY_IMPORTS = """
from rclpy import init, spin
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, HistoryPolicy
from rosidl_runtime_py.utilities import get_message
"""
_OUR_IMPORTS = """
from ior_ros.runtime import ExternalShutdownException, Node, get_message, init, spin
from ior_ros.runtime.qos import QoSProfile, ReliabilityPolicy, HistoryPolicy
"""

# publishes [[topic, type, hex bytes], ...] from a JSON file once every topic has 2 subscribers
_PUBLISHER = """
import json, sys, time
import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, HistoryPolicy
from rosidl_runtime_py.utilities import get_message
rclpy.init()
node = Node(sys.argv[1])
qos = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE,
                 history=HistoryPolicy.KEEP_ALL)
samples = json.load(open(sys.argv[2]))
wanted = int(sys.argv[3])
pubs = {}
for topic, typename, _ in samples:
    if topic not in pubs:
        pubs[topic] = node.create_publisher(get_message(typename), topic, qos)
deadline = time.monotonic() + 60
while any(p.get_subscription_count() < wanted for p in pubs.values()):
    if time.monotonic() > deadline:
        sys.exit('no subscribers')
    time.sleep(0.05)
time.sleep(0.5)
for topic, _, data in samples:
    pubs[topic].publish(bytes.fromhex(data))
    time.sleep(0.02)
for pub in pubs.values():
    pub.wait_for_all_acked()
print('DONE', flush=True)
time.sleep(1.0)
"""


def _ros2_env(ros: RosEnv) -> dict[str, str]:
    """The plain ROS 2 environment in this test's domain (no overlay of this package needed)."""
    return rt_ros2.domain_environment(rt_ros2.ros_environment(), ros.domain_id, ros.log_dir)


def _rclpy_script(ros: RosEnv, name: str, text: str, *args: str) -> Proc:
    path = ros.tmp_path / f'{name}.py'
    path.write_text(text, encoding='utf-8')
    proc = Proc([sys.executable, str(path), *args], _ros2_env(ros), cwd=ros.tmp_path)
    ros.procs.append(proc)
    return proc


def _got(proc: Proc) -> list[tuple[str, Any]]:
    return [tuple(json.loads(m.group(1))) for m in proc.matches(r'^GOT (.*)$')]


def test_rclpy_and_ours_decode_malformed_samples_as_the_table_says(ros: RosEnv) -> None:
    samples: list[list[str]] = []
    expect_rclpy: list[tuple[str, Any]] = []
    expect_ours: list[tuple[str, Any]] = []
    our_drops = {topic: 0 for topic in _TOPICS}

    def add(topic: str, data: bytes, rclpy_value: Any, our_value: Any) -> None:
        samples.append([topic, _TOPICS[topic], data.hex()])
        expect_rclpy.append((topic, DEFAULTS[topic] if rclpy_value == DEFAULT else rclpy_value))
        if our_value == DROP:
            our_drops[topic] += 1
        elif our_value != CYCLONE:
            expect_ours.append((topic, our_value))

    for name, data, rclpy_value, our_value in STRING_CASES:
        add('/s', data, rclpy_value, our_value)
        add('/s', LE + cstr(f'after {name}'.encode()), f'after {name}', f'after {name}')
    for topic, _name, data, rclpy_value, our_value in OTHER_CASES:
        add(topic, data, rclpy_value, our_value)
    (ros.tmp_path / 'samples.json').write_text(json.dumps(samples), encoding='utf-8')

    theirs = _rclpy_script(ros, 'rclpy_sub', _SUBSCRIBER.format(imports=_RCLPY_IMPORTS,
                                                                topics=_TOPICS), 'rclpy_sub')
    ours_path = ros.tmp_path / 'our_sub.py'
    ours_path.write_text(_SUBSCRIBER.format(imports=_OUR_IMPORTS, topics=_TOPICS),
                         encoding='utf-8')
    ours = ros.start(str(ours_path), 'our_sub')
    theirs.wait_for('READY', timeout=60)
    ours.wait_for('READY', timeout=60)
    publisher = _rclpy_script(ros, 'bad_pub', _PUBLISHER, 'bad_pub',
                              str(ros.tmp_path / 'samples.json'), '2')
    publisher.wait_for('DONE', timeout=120)
    ours.wait_for(r'^GOT \["/pd", \["p", 1\]\]$', timeout=30)
    theirs.wait_for(r'^GOT \["/pd", \["p", 2\]\]$', timeout=30)
    assert ours.proc.poll() is None and theirs.proc.poll() is None

    for topic in _TOPICS:  # per topic, in the order sent
        assert [v for t, v in _got(theirs) if t == topic] == \
            [v for t, v in expect_rclpy if t == topic], topic
        assert [v for t, v in _got(ours) if t == topic] == \
            [v for t, v in expect_ours if t == topic], topic
    assert ours.interrupt() == 0
    dropped = json.loads(ours.wait_for(r'^DROPPED (.*)$', timeout=30)[0].group(1))
    assert dropped == our_drops
    warnings = ours.matches(r'\[WARN\] .*\[our_sub\]: dropped (\d+) malformed samples? on /s '
                            r'\(std_msgs/msg/String\) from /bad_pub \[gid [0-9a-f.]+\]: (.*)$')
    assert sum(int(m.group(1)) for m in warnings) == our_drops['/s'], ours.text()
    assert 'unsupported encapsulation 0x0007 (XCDR2 little-endian)' in warnings[0].group(2)


def test_a_rclpy_node_sending_bad_strings_does_not_stop_our_listener(ros: RosEnv) -> None:
    bad = [LE + cstr(b'bad \xff utf-8'), LE + cstr(b'trail') + b'\x01\x02',
           b'\x00\x07\x00\x00' + cstr(b'xcdr2'), LE + u32(4000) + b'abc\0', LE + b'\x04',
           LE + u32(4) + b'abcd', b'\x01\x01\x00\x00' + cstr(b'hdr')]
    samples = []
    for index in range(30):
        samples.append(['/chatter', 'std_msgs/msg/String', (LE + cstr(f'good {index}'
                                                                      .encode())).hex()])
        samples.append(['/chatter', 'std_msgs/msg/String', bad[index % len(bad)].hex()])
    (ros.tmp_path / 'chatter.json').write_text(json.dumps(samples), encoding='utf-8')
    listener = ros.node('listener')
    talker = _rclpy_script(ros, 'bad_talker', _PUBLISHER, 'bad_talker',
                           str(ros.tmp_path / 'chatter.json'), '1')
    talker.wait_for('DONE', timeout=120)
    listener.wait_for(r'I heard: \[good 29\]', timeout=30)
    assert listener.proc.poll() is None
    heard = [m.group(1) for m in listener.matches(r'I heard: \[(good \d+)\]')]
    assert heard == [f'good {index}' for index in range(30)]
    assert listener.matches(r'I heard: \[bad \ufffd utf-8\]')
    assert listener.interrupt() == 0
    warnings = listener.matches(r'\[WARN\] .*\[listener\]: dropped (\d+) malformed samples? on '
                                r'/chatter \(std_msgs/msg/String\) from /bad_talker \[gid ')
    # of every 7 bad ones, the XCDR2 and 01 01 samples reach our decoder; Cyclone drops 3
    assert sum(int(m.group(1)) for m in warnings) == sum(
        1 for index in range(30) if index % len(bad) in (2, 6)), listener.text()
    assert 'Traceback' not in listener.text()


def test_ros2_bag_play_of_a_damaged_bag_to_a_fresh_listener(ros: RosEnv, tmp_path: Path) -> None:
    from rosbags.rosbag2 import Writer

    from ior_ros.runtime.registry import registry

    reg = registry()
    records = [LE + cstr(b'replay 0'), LE + u32(4000) + b'abc\0', LE + cstr(b'replay \xc3('),
               LE + b'\x04\x00', b'\x00\x07\x00\x00' + cstr(b'xcdr2'), LE + cstr(b'replay 1'),
               LE + cstr(b'replay 2') + b'\xde\xad']
    bag = tmp_path / 'damaged'
    with Writer(bag, version=8) as writer:
        conn = writer.add_connection('/chatter', 'std_msgs/msg/String',
                                     msgdef=reg.message_definition('std_msgs/msg/String'),
                                     rihs01=reg.type_hash('std_msgs/msg/String'))
        for index, data in enumerate(records):
            writer.write(conn, 1_000_000_000 + index * 20_000_000, data)
    listener = ros.node('listener')
    assert wait_until(lambda: 'listener' in ros.run_ior('node', 'list', '--spin-time',
                                                        '1').stdout, timeout=60)
    play = Proc(['ros2', 'bag', 'play', str(bag), '--delay', '2', '--wait-for-all-acked', '5000'],
                _ros2_env(ros), cwd=tmp_path, group=True)
    ros.procs.append(play)
    listener.wait_for(r'I heard: \[replay 2\]', timeout=90)
    assert listener.proc.poll() is None
    heard = [m.group(1) for m in listener.matches(r'I heard: \[(replay [^\]]*)\]')]
    assert heard == ['replay 0', 'replay \ufffd(', 'replay 1', 'replay 2']
    assert listener.interrupt() == 0
    assert [m.group(1) for m in listener.matches(r'dropped (\d+) malformed')] == ['1']
