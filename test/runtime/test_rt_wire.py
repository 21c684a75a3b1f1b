"""
Wire compatibility, checked from outside the runtime.

The publishers are separate processes of the runtime; everything is read back with plain
cyclonedds (hand-written IDL types, builtin discovery topics) or straight off the loopback
interface, and compared with rosbags' CDR serialization and with ROS 2's naming rules.
"""

from __future__ import annotations

import secrets
import socket
import struct
import time

import pytest
from rosbags.typesys import Stores, get_typestore
from rt_helpers import RosEnv, wait_until

pytestmark = [pytest.mark.xdist_group('dds'), pytest.mark.timeout(240)]

ROSBAGS = get_typestore(Stores.ROS2_JAZZY)
STRING_HASH = 'RIHS01_df668c740482bbd48fb39d76a70dfd4bd59db1288021743503259e948f6b1a18'


def _padded(data: bytes) -> bytes:
    return data + b'\0' * (-len(data) % 4)


def _idl_types() -> dict[str, type]:
    """Hand-written IDL of the ROS types used here (what rosidl generates for DDS)."""
    from cyclonedds.idl import make_idl_struct as struct
    from cyclonedds.idl import types as t

    string = struct('String_', 'std_msgs::msg::dds_::String_', {'data': str})
    vector3 = struct('Vector3_', 'geometry_msgs::msg::dds_::Vector3_',
                     {'x': t.float64, 'y': t.float64, 'z': t.float64})
    twist = struct('Twist_', 'geometry_msgs::msg::dds_::Twist_',
                   {'linear': vector3, 'angular': vector3})
    stamp = struct('Time_', 'builtin_interfaces::msg::dds_::Time_',
                   {'sec': t.int32, 'nanosec': t.uint32})
    header = struct('Header_', 'std_msgs::msg::dds_::Header_', {'stamp': stamp, 'frame_id': str})
    image = struct('Image_', 'sensor_msgs::msg::dds_::Image_',
                   {'header': header, 'height': t.uint32, 'width': t.uint32, 'encoding': str,
                    'is_bigendian': t.uint8, 'step': t.uint32, 'data': t.sequence[t.uint8]})
    return {'std_msgs/msg/String': string, 'geometry_msgs/msg/Twist': twist,
            'sensor_msgs/msg/Image': image}


class PlainDds:
    """A plain cyclonedds participant on the test's domain (loopback config, no ior runtime)."""

    def __init__(self, domain_id: int) -> None:
        from cyclonedds.domain import Domain, DomainParticipant

        from ior_ros.runtime.dds import _DOMAINS, LOCALHOST_CONFIG

        if domain_id not in _DOMAINS:  # one Domain per id and process (Cyclone's rule)
            _DOMAINS[domain_id] = Domain(domain_id, LOCALHOST_CONFIG)
        self.participant = DomainParticipant(domain_id)

    def raw_reader(self, dds_topic: str, idl: type, reliable: bool = True,
                   transient_local: bool = False) -> object:
        from cyclonedds.core import Policy, Qos
        from cyclonedds.sub import DataReader
        from cyclonedds.topic import Topic

        policies = [Policy.History.KeepLast(100),
                    Policy.Durability.TransientLocal if transient_local else
                    Policy.Durability.Volatile,
                    Policy.DataRepresentation(use_cdrv0_representation=True),
                    Policy.Reliability.Reliable(max_blocking_time=10**9) if reliable else
                    Policy.Reliability.BestEffort]
        return DataReader(self.participant, Topic(self.participant, dds_topic, idl),
                          Qos(*policies))

    @staticmethod
    def take_raw(reader: object) -> list[bytes]:
        from cyclonedds._clayer import ddspy_take
        from cyclonedds.core import InstanceState, SampleState, ViewState

        mask = SampleState.Any | ViewState.Any | InstanceState.Any
        return [d for d, info in ddspy_take(reader._ref, mask, 64) if info.valid_data]

    def close(self) -> None:
        self.participant.__del__()


def _ros_values(typename: str) -> tuple[str, object]:
    """YAML values for `ior topic pub` and the same message built by rosbags."""
    types = ROSBAGS.types
    if typename == 'std_msgs/msg/String':
        return "{data: 'odd len'}", types[typename]('odd len')
    if typename == 'geometry_msgs/msg/Twist':
        vec = types['geometry_msgs/msg/Vector3']
        return ('{linear: {x: 1.5, y: -2.0, z: 0.0}, angular: {x: 0.0, y: 0.0, z: 0.25}}',
                types[typename](vec(1.5, -2.0, 0.0), vec(0.0, 0.0, 0.25)))
    import numpy as np

    header = types['std_msgs/msg/Header'](types['builtin_interfaces/msg/Time'](7, 9), 'cam')
    return ('{header: {stamp: {sec: 7, nanosec: 9}, frame_id: cam}, height: 2, width: 3, '
            'encoding: mono8, step: 3, data: [1, 2, 3, 4, 5, 250]}',
            types[typename](header, 2, 3, 'mono8', 0, 3,
                            np.array([1, 2, 3, 4, 5, 250], dtype=np.uint8)))


@pytest.mark.parametrize('typename', ['std_msgs/msg/String', 'geometry_msgs/msg/Twist',
                                      'sensor_msgs/msg/Image'])
def test_published_bytes_equal_rosbags_cdr(ros: RosEnv, typename: str) -> None:
    values, reference = _ros_values(typename)
    expected = _padded(bytes(ROSBAGS.serialize_cdr(reference, typename)))
    pkg, _, name = typename.split('/')
    publisher = ros.ior('topic', 'pub', f'/wire/{name.lower()}', typename, values, '-r', '20',
                        '-p', '0')
    plain = PlainDds(ros.domain_id)
    try:
        reader = plain.raw_reader(f'rt/wire/{name.lower()}', _idl_types()[typename])
        got: list[bytes] = []
        assert wait_until(lambda: got.extend(plain.take_raw(reader)) or len(got) >= 3,
                          timeout=90), publisher.text()
        assert all(sample == expected for sample in got), (got[0].hex(' '), expected.hex(' '))
        assert got[0][:4] == b'\x00\x01\x00\x00'  # CDR_LE, XCDR1, options 0
    finally:
        plain.close()
    publisher.interrupt()


def _rtps_payloads(frame: bytes) -> list[bytes]:
    """Serialized payloads of the DATA submessages of one captured loopback frame."""
    if len(frame) < 14 + 20 + 8 or frame[12:14] != b'\x08\x00':
        return []
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    if ip[9] != 17:
        return []
    udp = ip[ihl + 8:]
    if udp[:4] != b'RTPS':
        return []
    out = []
    pos = 20
    while pos + 4 <= len(udp):
        sub_id, flags = udp[pos], udp[pos + 1]
        order = '<' if flags & 1 else '>'
        (length,) = struct.unpack(order + 'H', udp[pos + 2:pos + 4])
        body = udp[pos + 4: pos + 4 + length] if length else udp[pos + 4:]
        if sub_id == 0x15 and flags & 0x04:  # DATA with serialized payload
            (to_qos,) = struct.unpack(order + 'H', body[2:4])
            start = 4 + to_qos
            if flags & 0x02:  # inline QoS: parameter list up to PID_SENTINEL
                while start + 4 <= len(body):
                    pid, plen = struct.unpack(order + 'HH', body[start:start + 4])
                    start += 4 + plen
                    if pid == 1:
                        break
            out.append(bytes(body[start:]))
        if not length:
            break
        pos += 4 + length
    return out


def test_bytes_on_the_loopback_wire_equal_rosbags_cdr(ros: RosEnv) -> None:
    try:
        sniffer = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
        sniffer.bind(('lo', 0))
    except (PermissionError, OSError, AttributeError) as exc:
        pytest.skip(f'packet capture needs CAP_NET_RAW on Linux: {exc}')
    marker = f'wire-{secrets.token_hex(6)}'
    expected = _padded(bytes(ROSBAGS.serialize_cdr(
        ROSBAGS.types['std_msgs/msg/String'](marker), 'std_msgs/msg/String')))
    sniffer.settimeout(0.2)
    publisher = ros.ior('topic', 'pub', '/wire/sniffed', 'std_msgs/msg/String',
                        f'{{data: {marker}}}', '-r', '20', '-p', '0')
    listener = ros.ior('topic', 'echo', '/wire/sniffed', 'std_msgs/msg/String')
    found: list[bytes] = []
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline and len(found) < 3:
            try:
                frame = sniffer.recv(65535)
            except TimeoutError:
                continue
            found += [p for p in _rtps_payloads(frame) if marker.encode() in p]
    finally:
        sniffer.close()
    assert found, 'no RTPS DATA carrying the marker was seen on lo\n' + publisher.text()
    assert all(p == expected for p in found), (found[0].hex(' '), expected.hex(' '))
    publisher.interrupt()
    listener.interrupt()


def test_names_user_data_and_graph_read_back_through_dds_discovery(ros: RosEnv) -> None:
    from cyclonedds.builtin import (
        BuiltinDataReader,
        BuiltinTopicDcpsParticipant,
        BuiltinTopicDcpsPublication,
        BuiltinTopicDcpsSubscription,
    )

    talker = ros.node('talker', '-r', '__ns:=/wire_ns', '-r', '__node:=speaker',
                      '-p', 'period_s:=0.2')
    talker.wait_for('Publishing', timeout=90)
    plain = PlainDds(ros.domain_id)
    try:
        pubs = BuiltinDataReader(plain.participant, BuiltinTopicDcpsPublication)
        subs = BuiltinDataReader(plain.participant, BuiltinTopicDcpsSubscription)
        parts = BuiltinDataReader(plain.participant, BuiltinTopicDcpsParticipant)
        info_reader = plain.raw_reader('ros_discovery_info', _discovery_idl(),
                                       transient_local=True)
        seen_pubs: dict[str, object] = {}
        infos: list[bytes] = []

        def complete() -> bool:
            for sample in pubs.take(N=100):
                seen_pubs[sample.topic_name] = sample
            infos.extend(plain.take_raw(info_reader))
            return 'rt/wire_ns/chatter' in seen_pubs and bool(infos)

        assert wait_until(complete, timeout=90), sorted(seen_pubs)
        chatter = seen_pubs['rt/wire_ns/chatter']
        assert chatter.type_name == 'std_msgs::msg::dds_::String_'
        user_data = [p.data for p in chatter.qos if type(p).__name__ == 'Userdata']
        assert user_data == [f'typehash={STRING_HASH};'.encode()]
        for topic, typ in (('rt/rosout', 'rcl_interfaces::msg::dds_::Log_'),
                           ('rt/parameter_events', 'rcl_interfaces::msg::dds_::ParameterEvent_'),
                           ('ros_discovery_info',
                            'rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_')):
            assert seen_pubs[topic].type_name == typ
        reprs = [str(p) for p in chatter.qos]
        assert any('DataRepresentation' in r and 'use_cdrv0_representation=True' in r
                   and 'use_xcdrv2_representation=False' in r for r in reprs), reprs
        participants = {s.key: s for s in parts.take(N=100)}
        owner = participants[chatter.participant_key]
        assert [p.data for p in owner.qos if type(p).__name__ == 'Userdata'] == [b'enclave=/;']
        # ros_discovery_info (decoded by rosbags) names the node and lists the chatter writer
        nodes = []
        for raw in infos:
            msg = ROSBAGS.deserialize_cdr(raw, 'rmw_dds_common/msg/ParticipantEntitiesInfo')
            if bytes(msg.gid.data) == chatter.participant_key.bytes:
                nodes = msg.node_entities_info_seq
        assert [(n.node_namespace, n.node_name) for n in nodes] == [('/wire_ns', 'speaker')]
        writer_gids = {bytes(g.data) for g in nodes[0].writer_gid_seq}
        assert chatter.key.bytes in writer_gids
        assert subs is not None
    finally:
        plain.close()
    talker.interrupt()


def _discovery_idl() -> type:
    from cyclonedds.idl import make_idl_struct as struct
    from cyclonedds.idl import types as t

    gid = struct('Gid_', 'rmw_dds_common::msg::dds_::Gid_', {'data': t.array[t.uint8, 16]})
    node = struct('NodeEntitiesInfo_', 'rmw_dds_common::msg::dds_::NodeEntitiesInfo_',
                  {'node_namespace': t.bounded_str[256], 'node_name': t.bounded_str[256],
                   'reader_gid_seq': t.sequence[gid], 'writer_gid_seq': t.sequence[gid]})
    return struct('ParticipantEntitiesInfo_',  # type: ignore[no-any-return]
                  'rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_',
                  {'gid': gid, 'node_entities_info_seq': t.sequence[node]})
