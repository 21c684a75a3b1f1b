"""
Mixed graphs: rclpy nodes and the real ros2 tools beside our DDS runtime, in one ROS domain.

Every test here needs a real ROS 2 Jazzy (marked ``ros2``; skipped with the reason without one).
Our side runs from the source tree on the DDS backend; the ROS side runs on rclpy with this
package built by colcon (so ``ior_ros/msg/*`` are the rosidl-generated types).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rt_helpers import REPO, RosEnv, both_backends, wait_until

from ior_ros.runtime.messages import get_message, message_to_dict, registry

pytestmark = [pytest.mark.ros2, pytest.mark.xdist_group('dds'), pytest.mark.timeout(300)]

PEER = str(Path(__file__).with_name('rt_rclpy_peer.py'))
OWN_TYPES = sorted(f'ior_ros/msg/{p.stem}' for p in (REPO / 'msg').glob('*.msg'))
# the standard types our nodes and tools use (or will: RViz, tf, bags), plus edge cases of the
# wire format (fixed arrays, bounded strings, byte sequences, nested sequences, unsigned 64-bit)
STANDARD_TYPES = [
    'std_msgs/msg/String', 'std_msgs/msg/Header', 'std_msgs/msg/Bool', 'std_msgs/msg/Float64',
    'std_msgs/msg/Int64', 'std_msgs/msg/UInt64', 'std_msgs/msg/Float32MultiArray',
    'std_msgs/msg/ColorRGBA', 'builtin_interfaces/msg/Time', 'builtin_interfaces/msg/Duration',
    'geometry_msgs/msg/Twist', 'geometry_msgs/msg/TwistStamped', 'geometry_msgs/msg/Pose',
    'geometry_msgs/msg/PoseStamped', 'geometry_msgs/msg/Quaternion',
    'geometry_msgs/msg/TransformStamped', 'geometry_msgs/msg/PoseWithCovariance',
    'sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage', 'sensor_msgs/msg/JointState',
    'sensor_msgs/msg/NavSatFix', 'nav_msgs/msg/Odometry', 'nav_msgs/msg/Path',
    'visualization_msgs/msg/Marker', 'visualization_msgs/msg/MarkerArray',
    'tf2_msgs/msg/TFMessage', 'rosgraph_msgs/msg/Clock', 'rcl_interfaces/msg/Log',
    'rcl_interfaces/msg/ParameterEvent',
]
MIXED_TYPES = STANDARD_TYPES + OWN_TYPES


# ----------------------------------------------------------------------------- values
def plain(value: Any) -> Any:
    """The same normalisation as rt_rclpy_peer.plain, for our messages' dicts."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (bytes, bytearray)):
        return list(value)
    if isinstance(value, np.ndarray):
        return [plain(item) for item in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


_SCALAR_KINDS = {'bool': 'boolean', 'boolean': 'boolean', 'byte': 'octet', 'octet': 'octet',
                 'char': 'uint8', 'float32': 'float', 'float': 'float', 'float64': 'double',
                 'double': 'double'}


def _scalar(kind: str, salt: int) -> Any:
    kind = _SCALAR_KINDS.get(kind, kind)
    if kind == 'boolean':
        return salt % 2 == 1
    if kind == 'octet':
        return salt % 256
    if kind in ('float', 'double'):
        return salt * 0.25 + 0.5
    return {'int8': -(salt % 100), 'uint8': (salt + 200) % 256, 'int16': -1000 - salt,
            'uint16': 60000 + salt % 5000, 'int32': -100000 - salt,
            'uint32': 4_000_000_000 + salt, 'int64': -(2 ** 40) - salt,
            'uint64': 2 ** 63 + salt}[kind]


def sample(typename: str, salt: int = 0) -> Any:
    """Our message of ``typename`` with every field set (the rules of rt_rclpy_peer.sample)."""
    cls = get_message(typename)

    def value(spec: str, k: int) -> Any:
        spec = spec.strip()
        fixed = re.fullmatch(r'(.+)\[(\d+)\]', spec)
        if fixed:
            return [value(fixed.group(1), k + j) for j in range(int(fixed.group(2)))]
        seq = re.fullmatch(r'sequence<(.+?)(?:,\s*(\d+))?>', spec)
        if seq:
            size = min(3, int(seq.group(2) or 3))
            return [value(seq.group(1), k + j) for j in range(size)]
        bounded = re.fullmatch(r'w?string(?:<=(\d+))?', spec)
        if bounded:
            text = f'héllo ✓ {k}'
            return text[:int(bounded.group(1))] if bounded.group(1) else text
        if '/' in spec:
            package, name = spec.split('/')[-2:] if spec.count('/') == 1 else (
                spec.split('/')[0], spec.split('/')[-1])
            return sample(f'{package}/msg/{name}', k)
        return _scalar(spec, k)

    msg = cls()
    for index, (name, spec) in enumerate(cls.get_fields_and_field_types().items()):
        setattr(msg, name, value(spec, salt + 7 * index + 1))
    return msg


def _close(ours: Any, theirs: Any, path: str = '') -> list[str]:
    """Differences between two plain values (floats compared in float32 precision)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        if ours.keys() != theirs.keys():
            return [f'{path}: keys {sorted(ours)} != {sorted(theirs)}']
        return [d for key in ours for d in _close(ours[key], theirs[key], f'{path}.{key}')]
    if isinstance(ours, list) and isinstance(theirs, list):
        if len(ours) != len(theirs):
            return [f'{path}: length {len(ours)} != {len(theirs)}']
        return [d for i, (a, b) in enumerate(zip(ours, theirs))
                for d in _close(a, b, f'{path}[{i}]')]
    if isinstance(ours, float) or isinstance(theirs, float):
        if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)) and math.isclose(
                ours, theirs, rel_tol=1e-6, abs_tol=1e-9):
            return []
    elif ours == theirs and type(ours) is type(theirs):
        return []
    return [f'{path}: ours {ours!r} != rclpy {theirs!r}']


def _topic_of(typename: str) -> str:
    return '/mixed/' + typename.replace('/msg/', '_').replace('/', '_')


# ----------------------------------------------------------------------------- tests
def test_type_hashes_equal_rosidl(ros: RosEnv) -> None:
    """RIHS01 of every message both sides know: ours vs the hash rosidl wrote beside the .msg."""
    prefixes = [Path(p) for p in ros.ros_env['AMENT_PREFIX_PATH'].split(':') if p]
    ours = set(registry().known_types())
    compared, wrong = 0, []
    for prefix in prefixes:
        for path in sorted((prefix / 'share').glob('*/msg/*.json')):
            typename = f'{path.parent.parent.name}/msg/{path.stem}'
            if typename not in ours:
                continue
            hashes = {h['type_name']: h['hash_string']
                      for h in json.loads(path.read_text(encoding='utf-8'))['type_hashes']}
            compared += 1
            if registry().type_hash(typename) != hashes[typename]:
                wrong.append(f'{typename}: ours {registry().type_hash(typename)} != '
                             f'rosidl {hashes[typename]}')
    print(f'\ntype hashes compared with rosidl: {compared}')
    assert not wrong, '\n'.join(wrong)
    assert compared >= 100 and set(OWN_TYPES) <= ours


@pytest.mark.parametrize('default', [False, True], ids=['values', 'defaults'])
def test_every_type_from_ours_to_rclpy(ros: RosEnv, default: bool) -> None:
    from ior_ros.runtime.dds import DdsContext
    from ior_ros.runtime.qos import QoSProfile

    topics = ros.tmp_path / 'topics.json'
    topics.write_text(json.dumps([[_topic_of(t), t] for t in MIXED_TYPES]), encoding='utf-8')
    echo = ros.rclpy(Path(PEER).read_text(encoding='utf-8'), 'echo', str(topics))
    echo.wait_for(r'"ready": true', timeout=90)
    ctx = DdsContext()
    try:
        sent = {}
        writers = {}
        for index, typename in enumerate(MIXED_TYPES):
            msg = get_message(typename)() if default else sample(typename, 100 * index)
            sent[_topic_of(typename)] = (plain(message_to_dict(msg)),
                                         registry().serialize(msg, typename))
            writers[_topic_of(typename)] = ctx.create_writer(_topic_of(typename), typename,
                                                             QoSProfile(depth=10))

        def all_heard() -> bool:
            heard = {json.loads(m.group(0))['topic'] for m in echo.matches(r'^\{"topic".*')}
            for topic, writer in writers.items():
                if topic not in heard and writer.matched_count():
                    writer.write(sent[topic][1])
            return heard >= set(writers)

        assert wait_until(all_heard, timeout=90, period=0.3), echo.text()[-3000:]
    finally:
        ctx.close()
    received = {}
    for match in echo.matches(r'^\{"topic".*'):
        record = json.loads(match.group(0))
        received.setdefault(record['topic'], record['msg'])
    problems = [f'{topic}{d}' for topic, (ours, _) in sent.items()
                for d in _close(ours, received[topic])]
    print(f'\nours → rclpy: {len(sent)} types, {len(problems)} differences')
    assert not problems, '\n'.join(problems[:40])


@pytest.mark.parametrize('default', [False, True], ids=['values', 'defaults'])
def test_every_type_from_rclpy_to_ours(ros: RosEnv, default: bool) -> None:
    from ior_ros.runtime.dds import DdsContext
    from ior_ros.runtime.qos import QoSProfile

    topics = ros.tmp_path / 'topics.json'
    topics.write_text(json.dumps([[_topic_of(t), t] for t in MIXED_TYPES]), encoding='utf-8')
    ctx = DdsContext()
    try:
        readers = {_topic_of(t): (ctx.create_reader(_topic_of(t), t, QoSProfile(depth=10)), t)
                   for t in MIXED_TYPES}
        args = ['publish', str(topics)] + (['--default'] if default else [])
        pub = ros.rclpy(Path(PEER).read_text(encoding='utf-8'), *args)
        pub.wait_for(r'"sent"', timeout=90, count=len(MIXED_TYPES))
        received: dict[str, Any] = {}

        def all_heard() -> bool:
            ctx.wait(100_000_000)
            for topic, (reader, typename) in readers.items():
                for data, _ in reader.take():
                    received.setdefault(topic, plain(message_to_dict(
                        registry().deserialize(data, typename))))
            return len(received) == len(readers)

        assert wait_until(all_heard, timeout=90, period=0.0), (sorted(set(readers) - set(
            received)), pub.text()[-2000:])
    finally:
        ctx.close()
    sent = {}
    for match in pub.matches(r'^\{"topic".*'):
        record = json.loads(match.group(0))
        sent[record['topic']] = record['sent']
    problems = [f'{topic}{d}' for topic, theirs in sent.items()
                for d in _close(received[topic], theirs)]
    fields = {}
    for match in pub.matches(r'^\{"fields".*'):
        record = json.loads(match.group(0))
        fields[record['type']] = record['fields']
    problems += [f'{t}: fields {get_message(t).get_fields_and_field_types()} != rclpy {fields[t]}'
                 for t in MIXED_TYPES if get_message(t).get_fields_and_field_types() != fields[t]]
    if default:  # and our own default-constructed messages equal rclpy's
        problems += [f'default {typename}{d}' for typename in MIXED_TYPES
                     for d in _close(plain(message_to_dict(get_message(typename)())),
                                     sent[_topic_of(typename)])]
    print(f'\nrclpy → ours: {len(sent)} types, {len(problems)} differences')
    assert not problems, '\n'.join(problems[:40])


def test_tools_are_nodes_of_the_graph(ros: RosEnv) -> None:
    """ior topic pub/echo/hz and bag record show in ros2 node list and own their endpoints."""
    pub = ros.ior('topic', 'pub', '/tool_probe', 'std_msgs/msg/String', '{data: x}', '-r', '20')
    echo = ros.ior('topic', 'echo', '/tool_probe')
    hz = ros.ior('topic', 'hz', '/tool_probe')
    bag = ros.ior('bag', 'record', '-o', str(ros.tmp_path / 'bag'), '/tool_probe')
    echo.wait_for(r'data: x', timeout=90)
    expected = {f'/ior_topic_pub_{pub.pid}', f'/ior_topic_echo_{echo.pid}',
                f'/ior_topic_hz_{hz.pid}', f'/ior_bag_record_{bag.pid}'}

    def listed() -> bool:
        done = ros.run_ros2('node', 'list', '--no-daemon', '--spin-time', '2')
        return expected <= set(done.stdout.split())

    assert wait_until(listed, timeout=60, period=0.5)
    info = ros.run_ros2('topic', 'info', '-v', '/tool_probe', '--no-daemon', '--spin-time', '2')
    assert '_NODE_NAME_UNKNOWN_' not in info.stdout, info.stdout
    owners = set(re.findall(r'Node name: (\S+)', info.stdout))
    assert {f'ior_topic_pub_{pub.pid}', f'ior_topic_echo_{echo.pid}', f'ior_topic_hz_{hz.pid}',
            f'ior_bag_record_{bag.pid}'} <= owners, info.stdout
    node_info = ros.run_ros2('node', 'info', f'/ior_topic_pub_{pub.pid}', '--no-daemon',
                             '--spin-time', '2')
    assert re.search(r'Publishers:\s+/tool_probe: std_msgs/msg/String', node_info.stdout), \
        node_info.stdout
    for proc in (pub, echo, hz, bag):
        proc.interrupt()


@pytest.mark.parametrize('ours_role', ['publisher', 'subscription'])
def test_qos_incompatibility_is_reported_as_rclpy_reports_it(ros: RosEnv, ours_role: str) -> None:
    """A best-effort publisher and a reliable subscription: both sides warn, in rclpy's words.

    The same pair is run with our node in one role and rclpy in the other, then with rclpy in
    both roles; the warnings must read the same."""
    topic = f'/qos_{ours_role}'
    if ours_role == 'publisher':
        ours = ros.node('talker', '-p', 'reliability:=best_effort', '-r', f'chatter:={topic}',
                        '-p', 'period_s:=0.2')
        theirs = ros.rclpy(Path(PEER).read_text(encoding='utf-8'), 'qos', 'sub', topic,
                           'reliable')
        ref_pub = ros.rclpy(Path(PEER).read_text(encoding='utf-8'), 'qos', 'pub',
                            topic + '_ref', 'best_effort')
        ref_sub = ros.rclpy(Path(PEER).read_text(encoding='utf-8'), 'qos', 'sub',
                            topic + '_ref', 'reliable')
        ours_line = r'New subscription discovered on topic .*'
        theirs_line = r'New publisher discovered on topic .*'
        ref_ours, ref_theirs = ref_pub, ref_sub
    else:
        ours = ros.node('listener', '-r', f'chatter:={topic}')
        theirs = ros.rclpy(Path(PEER).read_text(encoding='utf-8'), 'qos', 'pub', topic,
                           'best_effort')
        ref_sub = ros.rclpy(Path(PEER).read_text(encoding='utf-8'), 'qos', 'sub',
                            topic + '_ref', 'reliable')
        ref_pub = ros.rclpy(Path(PEER).read_text(encoding='utf-8'), 'qos', 'pub',
                            topic + '_ref', 'best_effort')
        ours_line = r'New publisher discovered on topic .*'
        theirs_line = r'New subscription discovered on topic .*'
        ref_ours, ref_theirs = ref_sub, ref_pub
    got_ours = ours.wait_for(r'\[WARN\] \[[\d.]+\] \[\w+\]: (' + ours_line + ')', timeout=90)
    got_theirs = theirs.wait_for(r'\[WARN\] \[[\d.]+\] \[\w+\]: (' + theirs_line + ')',
                                 timeout=90)
    want_ours = ref_ours.wait_for(r'\[WARN\] \[[\d.]+\] \[\w+\]: (' + ours_line + ')',
                                  timeout=90)
    want_theirs = ref_theirs.wait_for(r'\[WARN\] \[[\d.]+\] \[\w+\]: (' + theirs_line + ')',
                                      timeout=90)
    # our node gave 'chatter' (remapped to the topic): rclpy names the topic as given
    assert got_ours[0].group(1).replace("'chatter'", "'T'") == \
        want_ours[0].group(1).replace(topic + '_ref', 'T')
    assert got_theirs[0].group(1).replace(topic, 'T') == \
        want_theirs[0].group(1).replace(topic + '_ref', 'T')
    assert 'Last incompatible policy: RELIABILITY' in got_ours[0].group(1)
    assert not ours.matches(r'I heard') and not theirs.matches(r'"heard"')


@both_backends
def test_ros2_param_verbs_and_node_info_on_our_node(ros: RosEnv) -> None:
    """The same node on both backends: the ros2 tools must print the same answers."""
    node = ros.node('param_reporter', '-r', '__node:=reporter', '-r', '__ns:=/p',
                    '-p', 'label:=start')
    node.wait_for(r'^\{.*\}$', timeout=90)
    listed = ros.run_ros2('param', 'list', '/p/reporter', '--no-daemon')
    assert listed.returncode == 0, listed.stderr
    names = {line.strip() for line in listed.stdout.splitlines()}
    assert {'rate_hz', 'label', 'count', 'enabled', 'gains', 'nested.depth',
            'use_sim_time'} <= names, listed.stdout
    got = ros.run_ros2('param', 'get', '/p/reporter', 'rate_hz', '--no-daemon')
    assert got.stdout.strip() == 'Double value is: 1.0', got.stdout + got.stderr
    got = ros.run_ros2('param', 'get', '/p/reporter', 'gains', '--no-daemon')
    assert got.stdout.strip() == 'Double values are: [0.0]', got.stdout
    done = ros.run_ros2('param', 'set', '/p/reporter', 'label', 'changed', '--no-daemon')
    assert done.stdout.strip() == 'Set parameter successful', done.stdout + done.stderr
    done = ros.run_ros2('param', 'set', '/p/reporter', 'rate_hz', 'text', '--no-daemon')
    assert done.stderr.strip() == ("Setting parameter failed: Wrong parameter type, expected "
                                   "'Type.DOUBLE' got 'Type.STRING'"), done.stdout + done.stderr
    dumped = ros.run_ros2('param', 'dump', '/p/reporter', '--no-daemon')
    assert dumped.returncode == 0, dumped.stderr
    import yaml

    values = yaml.safe_load(dumped.stdout)['/p/reporter']['ros__parameters']
    assert values['label'] == 'changed' and values['rate_hz'] == 1.0
    assert values['nested'] == {'depth': 0}
    params = ros.tmp_path / 'load.yaml'
    params.write_text('/p/reporter:\n  ros__parameters:\n    count: 42\n    label: loaded\n',
                      encoding='utf-8')
    loaded = ros.run_ros2('param', 'load', '/p/reporter', str(params), '--no-daemon')
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    got = ros.run_ros2('param', 'get', '/p/reporter', 'count', '--no-daemon')
    assert got.stdout.strip() == 'Integer value is: 42', got.stdout
    info = ros.run_ros2('node', 'info', '/p/reporter', '--no-daemon', '--spin-time', '2')
    assert info.returncode == 0, info.stderr
    text = info.stdout
    assert re.search(r'Publishers:[\s\S]*/p/chatter: std_msgs/msg/String', text), text
    assert '/rosout: rcl_interfaces/msg/Log' in text
    assert '/parameter_events: rcl_interfaces/msg/ParameterEvent' in text
    for service in ('describe_parameters', 'get_parameter_types', 'get_parameters',
                    'list_parameters', 'set_parameters', 'set_parameters_atomically'):
        assert f'/p/reporter/{service}: rcl_interfaces/srv/' in text, text
    node.interrupt()


def test_ros2_topic_hz_and_bw_on_our_topic(ros: RosEnv) -> None:
    talker = ros.node('talker', '-p', 'period_s:=0.05', '-r', 'chatter:=/rate_probe')
    talker.wait_for(r'Publishing', timeout=90)
    hz = ros.ros2('topic', 'hz', '/rate_probe')
    bw = ros.ros2('topic', 'bw', '/rate_probe')
    rates = hz.wait_for(r'average rate: ([\d.]+)', timeout=60, count=3)
    assert all(15.0 < float(m.group(1)) < 25.0 for m in rates[1:]), hz.text()
    bws = bw.wait_for(r'([\d.]+) (B|KB)/s from \d+ messages', timeout=60, count=2)
    assert all(float(m.group(1)) > 0 for m in bws), bw.text()
    for proc in (hz, bw, talker):
        proc.interrupt()
