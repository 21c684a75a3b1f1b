"""
Parameter services of a node in another process, called over DDS the way rmw_cyclonedds does.

The requests are built here with rosbags from rcl_interfaces' service definitions (registered in
this test's own typestore) plus the 16-byte request header, and the replies are decoded with
rosbags; the runtime process only sees DDS samples. The endpoints are also checked through DDS
discovery: ROS 2's service topic and type names and a shared ``serviceid`` in their USER_DATA.
"""

from __future__ import annotations

import struct
import time

import numpy as np
import pytest
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rt_helpers import RosEnv, both_backends, wait_until

pytestmark = [pytest.mark.xdist_group('dds'), pytest.mark.timeout(240)]

# rcl_interfaces/srv/*.srv of ROS 2 Jazzy (fields only)
_DEFS = {
    'GetParameters': ('string[] names', 'rcl_interfaces/ParameterValue[] values'),
    'ListParameters': ('string[] prefixes\nuint64 depth',
                       'rcl_interfaces/ListParametersResult result'),
    'SetParameters': ('rcl_interfaces/Parameter[] parameters',
                      'rcl_interfaces/SetParametersResult[] results'),
    'GetParameterTypes': ('string[] names', 'uint8[] types'),
}
STORE = get_typestore(Stores.ROS2_JAZZY)
for _name, (_req, _rep) in _DEFS.items():
    for _suffix, _text in (('Request', _req), ('Response', _rep)):
        _key = f'rcl_interfaces/srv/{_name}_{_suffix}'
        STORE.register({_key: next(iter(get_types_from_msg(_text, _key).values()))})
T = STORE.types


class _Client:
    """A raw DDS client of one service (request writer + reply reader)."""

    def __init__(self, ctx, service: str, srv: str) -> None:  # type: ignore[no-untyped-def]
        from ior_ros.runtime.qos import qos_profile_services_default

        self.srv = srv
        self.writer = ctx.create_writer(f'rq{service}Request', f'rcl_interfaces/srv/{srv}_Request',
                                        qos_profile_services_default)
        self.reader = ctx.create_reader(f'rr{service}Reply', f'rcl_interfaces/srv/{srv}_Response',
                                        qos_profile_services_default)
        self.guid = int.from_bytes(self.writer.gid[8:], 'little')
        self.seq = 0

    def call(self, request: object, timeout: float = 30.0) -> object:
        body = bytes(STORE.serialize_cdr(request, f'rcl_interfaces/srv/{self.srv}_Request'))
        self.seq += 1
        data = body[:4] + struct.pack('<Qq', self.guid, self.seq) + body[4:]
        data += b'\0' * (-len(data) % 4)
        assert wait_until(lambda: self.writer.matched_count() > 0
                          and self.reader.matched_count() > 0, timeout=timeout)
        self.writer.write(data)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for raw, _info in self.reader.take():
                guid, seq = struct.unpack_from('<Qq', raw, 4)
                if (guid, seq) == (self.guid, self.seq):
                    return STORE.deserialize_cdr(bytes(raw[:4]) + bytes(raw[20:]),
                                                 f'rcl_interfaces/srv/{self.srv}_Response')
            time.sleep(0.01)
        raise AssertionError(f'no reply from {self.srv} within {timeout} s')


def test_parameter_services_answer_over_dds(ros: RosEnv) -> None:
    node = ros.node('param_reporter', '-r', '__node:=reporter', '-r', '__ns:=/svc',
                    '-p', 'rate_hz:=2.5', '-p', 'label:=arm', '-p', 'nested.depth:=3')
    node.wait_for(r'"rate_hz": 2.5', timeout=90)
    ros.apply()
    from ior_ros.runtime.dds import DdsContext
    from ior_ros.runtime.parameter_service import register_service_types

    register_service_types()  # the DDS topics of the raw client need the types (transport only)
    ctx = DdsContext(ros.domain_id)
    try:
        base = '/svc/reporter'
        # 1. discovery shows ROS 2's names and one serviceid shared by both endpoints
        assert wait_until(lambda: f'rr{base}/get_parametersReply' in _dds_topics(ctx)
                          and f'rq{base}/get_parametersRequest' in _dds_topics(ctx), timeout=60)
        found = _dds_topics(ctx)
        for suffix in ('describe_parameters', 'get_parameters', 'get_parameter_types',
                       'list_parameters', 'set_parameters', 'set_parameters_atomically'):
            assert f'rq{base}/{suffix}Request' in found and f'rr{base}/{suffix}Reply' in found
        req_type, req_user = found[f'rq{base}/get_parametersRequest']
        rep_type, rep_user = found[f'rr{base}/get_parametersReply']
        assert req_type == 'rcl_interfaces::srv::dds_::GetParameters_Request_'
        assert rep_type == 'rcl_interfaces::srv::dds_::GetParameters_Response_'
        req_id = req_user.split(';')[0]
        assert req_id.startswith('serviceid=') and rep_user.split(';')[0] == req_id
        assert req_user.split(';')[1] == ('typehash='
                                          + STORE.hash_rihs01('rcl_interfaces/srv/'
                                                              'GetParameters_Request'))

        # 2. get_parameters (values set by -p), list_parameters, get_parameter_types
        get = _Client(ctx, f'{base}/get_parameters', 'GetParameters')
        reply = get.call(T['rcl_interfaces/srv/GetParameters_Request'](['rate_hz', 'label']))
        values = reply.values  # type: ignore[attr-defined]
        assert [v.type for v in values] == [3, 4]
        assert values[0].double_value == 2.5 and values[1].string_value == 'arm'
        missing = get.call(T['rcl_interfaces/srv/GetParameters_Request'](['rate_hz', 'nope']))
        assert list(missing.values) == []  # type: ignore[attr-defined]  (rclpy's answer)

        lister = _Client(ctx, f'{base}/list_parameters', 'ListParameters')
        listed = lister.call(T['rcl_interfaces/srv/ListParameters_Request']([], 0)).result  # type: ignore[attr-defined]
        assert {'rate_hz', 'label', 'nested.depth', 'use_sim_time'} <= set(listed.names)
        assert 'nested' in listed.prefixes
        top = lister.call(T['rcl_interfaces/srv/ListParameters_Request']([], 1)).result  # type: ignore[attr-defined]
        assert 'nested.depth' not in top.names and 'rate_hz' in top.names
        under = lister.call(T['rcl_interfaces/srv/ListParameters_Request'](['nested'], 0)).result  # type: ignore[attr-defined]
        assert list(under.names) == ['nested.depth']

        types = _Client(ctx, f'{base}/get_parameter_types', 'GetParameterTypes')
        got = types.call(T['rcl_interfaces/srv/GetParameterTypes_Request'](['label', 'nope']))
        assert list(got.types) == [4, 0]  # type: ignore[attr-defined]

        # 3. set_parameters: a good value applies (read back), a wrong type is refused
        setter = _Client(ctx, f'{base}/set_parameters', 'SetParameters')
        value = T['rcl_interfaces/msg/ParameterValue']
        empty = dict(bool_value=False, integer_value=0, double_value=0.0, string_value='',
                     byte_array_value=np.zeros(0, np.uint8),
                     bool_array_value=np.zeros(0, bool),
                     integer_array_value=np.zeros(0, np.int64),
                     double_array_value=np.zeros(0, np.float64), string_array_value=[])
        param = T['rcl_interfaces/msg/Parameter']
        good = param('rate_hz', value(type=3, **dict(empty, double_value=7.25)))
        bad = param('label', value(type=2, **dict(empty, integer_value=3)))
        results = setter.call(T['rcl_interfaces/srv/SetParameters_Request']([good, bad])).results  # type: ignore[attr-defined]
        assert [r.successful for r in results] == [True, False]
        assert 'type' in results[1].reason
        after = get.call(T['rcl_interfaces/srv/GetParameters_Request'](['rate_hz', 'label']))
        assert after.values[0].double_value == 7.25  # type: ignore[attr-defined]
        assert after.values[1].string_value == 'arm'  # type: ignore[attr-defined]
    finally:
        ctx.close()
    node.interrupt()


def _dds_topics(ctx) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    """DDS topic → (type name, USER_DATA) of every endpoint seen through builtin discovery."""
    return {e.dds_topic: (e.dds_type, e.user_data.decode()) for e in ctx.graph().endpoints}


@both_backends
def test_ior_param_list_get_set_reach_a_running_node(ros: RosEnv) -> None:
    talker = ros.node('talker', '-r', '__ns:=/cli', '-p', 'period_s:=0.2')
    talker.wait_for('Publishing', timeout=90)
    listed = ros.run_ior('param', 'list', '/cli/talker', '--timeout', '30')
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == ['  count', '  period_s', '  prefix', '  reliability',
                                          '  start_type_description_service', '  use_sim_time']
    got = ros.run_ior('param', 'get', '/cli/talker', 'period_s', '--timeout', '30')
    assert got.stdout.strip() == 'Double value is: 0.2', got.stderr
    done = ros.run_ior('param', 'set', '/cli/talker', 'prefix', 'Bonjour', '--timeout', '30')
    assert (done.returncode, done.stdout.strip()) == (0, 'Set parameter successful'), done.stderr
    talker.wait_for(r'Publishing: "Bonjour \d+"', timeout=30)  # the node uses the new value
    refused = ros.run_ior('param', 'set', '/cli/talker', 'period_s', 'fast', '--timeout', '30')
    assert refused.returncode == 2
    assert refused.stderr.strip() == ("Setting parameter failed: Wrong parameter type, expected "
                                      "'Type.DOUBLE' got 'Type.STRING'")  # rclpy's words
    missing = ros.run_ior('param', 'get', '/cli/nobody', 'x', '--timeout', '1')
    assert missing.returncode == 2
    assert "node '/cli/nobody': its parameter service get_parameters was not found" in \
        missing.stderr
    talker.interrupt()
