"""Message classes, CDR bytes, type hashes and .msg parsing (no DDS)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from ior_ros.runtime import messages as m
from ior_ros.runtime.errors import MessageDefinitionError, MessageTypeError
from ior_ros.runtime.field_types import DTYPES

REPO = Path(__file__).resolve().parents[2]
ROSBAGS = get_typestore(Stores.ROS2_JAZZY)
# rosbags' own parser reads the project messages for the reference store (independent of ours)
ROSBAGS.register({name: fields for path in sorted((REPO / 'msg').glob('*.msg'))
                  for name, fields in get_types_from_msg(path.read_text(encoding='utf-8'),
                                                         f'ior_ros/msg/{path.stem}').items()})


def _padded(data: bytes) -> bytes:
    return data + b'\0' * (-len(data) % 4)


def _rosbags_bytes(ours: object, typename: str) -> bytes:
    """rosbags' own serialization of the same values (via its own classes)."""
    reference = ROSBAGS.deserialize_cdr(bytes(m.serialize(ours)), typename)
    return bytes(ROSBAGS.serialize_cdr(reference, typename))


def test_string_bytes_match_the_captured_rmw_payload() -> None:
    string = m.get_message('std_msgs/msg/String')
    data = bytes(m.serialize(string(data='hello 0')))
    assert data.hex(' ') == '00 01 00 00 08 00 00 00 68 65 6c 6c 6f 20 30 00'


@pytest.mark.parametrize('text', ['a', 'ab', 'abc', 'abcd', 'hello world!'])
def test_payload_is_rosbags_cdr_zero_padded_to_4(text: str) -> None:
    string = m.get_message('std_msgs/String')
    ours = bytes(m.serialize(string(data=text)))
    reference = bytes(ROSBAGS.serialize_cdr(ROSBAGS.types['std_msgs/msg/String'](text),
                                            'std_msgs/msg/String'))
    assert ours == _padded(reference)
    assert len(ours) % 4 == 0
    assert ours[:4] == b'\x00\x01\x00\x00'


def _sample(typename: str, rng: np.random.Generator) -> object:
    """A message with every field set to random values of its type."""
    cls = m.get_message(typename)
    msg = cls()
    for name, desc in m.registry().fields(typename):
        setattr(msg, name, _value(desc, rng))
    return msg


def _value(desc: tuple, rng: np.random.Generator) -> object:  # type: ignore[type-arg]
    kind = desc[0]
    if kind == 1:
        base = desc[1][0]
        if base == 'string':
            return ''.join(rng.choice(list('abcxyz _'), size=int(rng.integers(0, 9))))
        if base == 'bool':
            return bool(rng.integers(0, 2))
        if base in ('float32', 'float64'):
            return float(np.float32(rng.normal())) if base == 'float32' else float(rng.normal())
        if base == 'byte':
            return int(rng.integers(-128, 128))
        bits = {'int8': 7, 'uint8': 8, 'char': 8, 'int16': 15, 'uint16': 16, 'int32': 31,
                'uint32': 32, 'int64': 40, 'uint64': 40}[base]
        return int(rng.integers(0, 2 ** bits))
    if kind == 2:
        return _sample(desc[1], rng)
    sub, count = desc[1]
    length = count if kind == 3 else int(rng.integers(0, 4))
    items = [_value(sub, rng) for _ in range(length)]
    if sub[0] == 1 and sub[1][0] not in ('string',):
        dtype = DTYPES[sub[1][0]]
        return np.asarray(items, dtype=dtype)
    return items


STANDARD = ['std_msgs/msg/Header', 'geometry_msgs/msg/Twist', 'geometry_msgs/msg/PoseStamped',
            'sensor_msgs/msg/JointState', 'sensor_msgs/msg/Image', 'sensor_msgs/msg/LaserScan',
            'nav_msgs/msg/Odometry', 'visualization_msgs/msg/MarkerArray',
            'rosgraph_msgs/msg/Clock', 'rcl_interfaces/msg/Log',
            'rcl_interfaces/msg/ParameterEvent', 'rmw_dds_common/msg/ParticipantEntitiesInfo',
            'diagnostic_msgs/msg/DiagnosticStatus', 'std_msgs/msg/Empty']
PROJECT = [f'ior_ros/msg/{p.stem}' for p in sorted((REPO / 'msg').glob('*.msg'))]


@pytest.mark.parametrize('typename', STANDARD + PROJECT)
def test_random_messages_roundtrip_and_equal_rosbags_bytes(typename: str,
                                                           rng: np.random.Generator) -> None:
    for _ in range(3):
        msg = _sample(typename, rng)
        ours = bytes(m.serialize(msg))
        assert len(ours) % 4 == 0
        assert ours == _padded(_rosbags_bytes(msg, typename))
        back = m.deserialize(ours, typename)
        assert back == msg
        assert type(back) is type(msg)


def test_rosbags_reads_our_image_and_the_data_is_zero_copy() -> None:
    image = m.get_message('sensor_msgs/msg/Image')
    pixels = np.arange(640 * 480 * 3, dtype=np.uint32).astype(np.uint8)  # [h * w * 3]
    msg = image(height=480, width=640, encoding='rgb8', step=1920, data=pixels)
    data = m.serialize(msg)
    decoded = ROSBAGS.deserialize_cdr(bytes(data), 'sensor_msgs/msg/Image')
    assert np.array_equal(decoded.data, pixels)
    back = m.deserialize(data, 'sensor_msgs/msg/Image')
    assert back.data.base is not None  # a view into the received buffer, not a copy
    assert np.array_equal(back.data, pixels)


# Full REP-2011 hashes (the reference lists their first and last digits).
KNOWN_HASHES = {
    'std_msgs/msg/String': ('RIHS01_df668c74', '6b1a18'),
    'geometry_msgs/msg/Twist': ('RIHS01_9c45bf16', 'fb8d2a'),
    'std_msgs/msg/Header': ('RIHS01_f49fb3ae', '7ce6a01'),
    'rcl_interfaces/msg/Log': ('RIHS01_e28ce254', '18eac'),
}


@pytest.mark.parametrize('typename', sorted(KNOWN_HASHES))
def test_type_hash_is_rep2011_rihs01(typename: str) -> None:
    value = m.type_hash(typename)
    head, tail = KNOWN_HASHES[typename]
    assert re.fullmatch(r'RIHS01_[0-9a-f]{64}', value)
    assert value.startswith(head) and value.endswith(tail)


def test_project_type_hash_changes_with_the_definition(tmp_path: Path) -> None:
    reg = m.MessageRegistry(msg_dirs=[])
    reg.register_definitions({'pkg_a/msg/Probe': ('a.msg', 'float64 x  # [m]\n')})
    other = m.MessageRegistry(msg_dirs=[])
    other.register_definitions({'pkg_a/msg/Probe': ('a.msg', 'float32 x  # [m]\n')})
    assert reg.type_hash('pkg_a/msg/Probe') != other.type_hash('pkg_a/msg/Probe')


def test_dds_names() -> None:
    assert m.dds_type_name('geometry_msgs/msg/Twist') == 'geometry_msgs::msg::dds_::Twist_'
    assert m.dds_type_name('ior_ros/UeMetrics') == 'ior_ros::msg::dds_::UeMetrics_'
    assert m.ros_type_from_dds('std_msgs::msg::dds_::String_') == 'std_msgs/msg/String'
    assert m.ros_type_from_dds('DCPSParticipant') is None


def test_classes_behave_like_rclpy_messages() -> None:
    twist = m.get_message('geometry_msgs/msg/Twist')
    vector = m.get_message('geometry_msgs/msg/Vector3')
    msg = twist()
    assert msg.linear == vector(x=0.0, y=0.0, z=0.0)
    msg.linear.x = 1.5
    assert twist(linear=vector(x=1.5)) == msg
    assert repr(vector(x=1.0)) == 'geometry_msgs.msg.Vector3(x=1.0, y=0.0, z=0.0)'
    assert twist.get_fields_and_field_types() == {'linear': 'geometry_msgs/Vector3',
                                                  'angular': 'geometry_msgs/Vector3'}
    marker = m.get_message('visualization_msgs/msg/Marker')
    assert (marker.ADD, marker.DELETE) == (0, 2)
    with pytest.raises(TypeError):
        vector(w=1.0)
    with pytest.raises(AttributeError):
        msg.nonexistent = 1


def test_lists_and_bytes_are_converted_on_serialization() -> None:
    joint = m.get_message('sensor_msgs/msg/JointState')
    msg = joint(name=['a', 'b'], position=[1, 2.5], velocity=(0.5, 0.25), effort=[])
    data = m.serialize(msg)
    back = m.deserialize(data, 'sensor_msgs/msg/JointState')
    assert back.position.dtype == np.float64
    assert back.position.tolist() == [1.0, 2.5]
    image = m.get_message('sensor_msgs/msg/Image')
    small = image(data=b'\x01\x02\x03')
    assert m.deserialize(m.serialize(small), 'sensor_msgs/msg/Image').data.tolist() == [1, 2, 3]


def test_fixed_array_length_and_bad_values_give_clear_errors() -> None:
    imu = m.get_message('sensor_msgs/msg/Imu')
    with pytest.raises(ValueError, match='orientation_covariance.*exactly 9'):
        m.serialize(imu(orientation_covariance=[0.0] * 4))
    string = m.get_message('std_msgs/msg/String')
    with pytest.raises(TypeError, match=r'std_msgs/msg/String\.data: expected str'):
        m.serialize(string(data=5))
    int8 = m.get_message('std_msgs/msg/Int8')
    with pytest.raises(TypeError, match=r'Int8\.data \(int8\): 300 is outside \[-128, 127\]'):
        m.serialize(int8(data=300))
    with pytest.raises(TypeError, match='expected a std_msgs/msg/Int8 message'):
        m.serialize(string(data='x'), 'std_msgs/msg/Int8')


def test_unknown_message_type_error_names_it_and_suggests() -> None:
    with pytest.raises(MessageTypeError, match="unknown message type 'std_msgs/msg/Strng'.*"
                                               'std_msgs/msg/String'):
        m.get_message('std_msgs/msg/Strng')
    with pytest.raises(MessageTypeError, match='expected'):
        m.get_message('String')


def test_every_project_message_field_has_an_si_unit_comment() -> None:
    files = sorted((REPO / 'msg').glob('*.msg'))
    assert len(files) >= 6
    for path in files:
        for number, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1):
            body = line.split('#', 1)[0].strip()
            if not body:
                continue
            comment = line.split('#', 1)[1] if '#' in line else ''
            assert re.search(r'\[[^\]]+\]', comment), f'{path.name}:{number} has no [unit]: {line}'


def test_project_messages_are_registered() -> None:
    names = set(m.registry().known_types())
    for needed in ('UeMetrics', 'RanMetrics', 'LinkQuality', 'SlicePolicy', 'RobotState',
                   'TwinPrediction', 'TeleopCommand', 'DelayMeasurement'):
        assert f'ior_ros/msg/{needed}' in names
    ran = m.get_message('ior_ros/msg/RanMetrics')
    ue = m.get_message('ior_ros/msg/UeMetrics')
    msg = ran(interval_s=0.001, ues=[ue(ue_id=3, slice_id=ue.SLICE_URLLC, delay_s=0.002)])
    back = m.deserialize(m.serialize(msg), 'ior_ros/msg/RanMetrics')
    assert back.ues[0].slice_id == 1 and back.ues[0].delay_s == 0.002


@pytest.mark.parametrize('text, line, pattern', [
    ('float64 x  # [m]\nfloat64[ y  # [m]\n', 2, 'malformed type'),
    ('float64 x\n\n3d_point y\n', 3, 'malformed type|field name'),
    ('float64 x\nint32 Bad_Name\n', 2, 'lower_snake_case'),
    ('float64 x\nint32 MAX=\n', 2, 'has no value'),
    ('float64 x\nfoo y\n', 2, "unknown type 'foo'"),
    ('float64 x\nfloat64 x\n', 2, 'defined twice'),
    ('# header comment\nint32<=5 x\n', 2, 'only string types take a bound'),
    ('float64 x\nfloat64\n', 2, 'has no name'),
    ('float64 x 1.5\nfloat64 y z w\n', 2, "default value 'z w' is not a float64"),
    ('int32[] x [1, 2]\nint32[] y 3\n', 2, 'is not a int32\\[\\] literal'),
    ('bool ok true\nint8 n 1.5\n', 2, 'is not a int8 literal'),
])
def test_msg_syntax_errors_name_file_and_line(tmp_path: Path, text: str, line: int,
                                              pattern: str) -> None:
    folder = tmp_path / 'test_pkg' / 'msg'
    folder.mkdir(parents=True)
    path = folder / 'Bad.msg'
    path.write_text(text, encoding='utf-8')
    reg = m.MessageRegistry(msg_dirs=[])
    with pytest.raises(MessageDefinitionError) as info:
        reg.register_msg_folder('test_pkg', folder)
    message = str(info.value)
    assert message.startswith(f'{path}:{line}: '), message
    assert re.search(pattern, message), message


def test_unknown_nested_type_names_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / 'msg'
    folder.mkdir()
    (folder / 'Outer.msg').write_text('float64 a  # [m]\nInner b  # [-]\nMissing c  # [-]\n',
                                      encoding='utf-8')
    (folder / 'Inner.msg').write_text('int32 v  # [1]\n', encoding='utf-8')
    reg = m.MessageRegistry(msg_dirs=[])
    with pytest.raises(MessageDefinitionError, match=r"Outer\.msg:3: unknown type "
                                                     r"'test_pkg/msg/Missing'"):
        reg.register_msg_folder('test_pkg', folder)
    (folder / 'Outer.msg').write_text('float64 a  # [m]\nInner b  # [-]\n', encoding='utf-8')
    assert reg.register_msg_folder('test_pkg', folder) == ['test_pkg/msg/Inner',
                                                           'test_pkg/msg/Outer']
    outer = reg.get_class('test_pkg/msg/Outer')
    assert reg.deserialize(reg.serialize(outer()), 'test_pkg/msg/Outer').b.v == 0


def test_set_message_fields_from_yaml_values() -> None:
    pose = m.get_message('geometry_msgs/msg/PoseStamped')
    msg = m.set_message_fields(pose(), {'header': 'auto', 'pose': {'position': {'x': 1}}},
                               now_ns=12_500_000_001)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (12, 500_000_001)
    assert msg.pose.position.x == 1.0 and isinstance(msg.pose.position.x, float)
    with pytest.raises(MessageTypeError, match="has no field 'nope'"):
        m.set_message_fields(pose(), {'nope': 1})
    as_dict = m.message_to_dict(msg)
    assert as_dict['pose']['position'] == {'x': 1.0, 'y': 0.0, 'z': 0.0}
