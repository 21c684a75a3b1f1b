"""
Services of the runtime: service types from .srv definitions, the node API (on both backends),
the set_bool demo nodes, ``ior service list|type|call``, ``~/get_type_description`` and faults.

The processes talk over DDS on loopback in a domain of their own (rt_helpers.RosEnv); the tests
marked by ``both_backends`` run the same assertions with our nodes on rclpy too (ROS 2 needed).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rt_helpers import REPO, RosEnv, both_backends, wait_until

from ior_ros.runtime.errors import MessageDefinitionError, MessageTypeError
from ior_ros.runtime.messages import MessageRegistry, get_service, registry
from ior_ros.runtime.type_description_service import TYPE_DESCRIPTION_SERVICE, parse_type_hash

pytestmark = [pytest.mark.xdist_group('dds'), pytest.mark.timeout(300)]

# rosidl's hashes (/opt/ros/jazzy/share/std_srvs/srv/SetBool.json), for machines without ROS 2
SET_BOOL_HASHES = {
    'std_srvs/srv/SetBool':
        'RIHS01_abe9e4bb6b41b40e6789712c00ec8871923e089af3f667a79992a428cff2da0a',
    'std_srvs/srv/SetBool_Request':
        'RIHS01_c62fbb99d94e1b25e8ef9e109f9581956bb1b3361a45a4e5810c36a90d29932e',
    'std_srvs/srv/SetBool_Response':
        'RIHS01_d0814e7f7b4880ab77e9c57426c7aa1562ab69f11eef8e2e968812f9cbd0b059',
}
CLIENT_LINES = ['response 1: data=True -> success=True message=enabled',
                'response 2: data=False -> success=True message=disabled',
                'response 3: data=True -> success=True message=enabled',
                'response 4: data=False -> success=True message=disabled']
SERVER_LINES = ['request: data=True -> enabled', 'request: data=False -> disabled',
                'request: data=True -> enabled', 'request: data=False -> disabled']
CALL_OUTPUT = ("requester: making request: std_srvs.srv.SetBool_Request(data=True)\n\n"
               "response:\nstd_srvs.srv.SetBool_Response(success=True, message='enabled')\n\n")


# ----------------------------------------------------------------------------- definitions
def test_embedded_service_types_match_rosidl() -> None:
    set_bool = get_service('std_srvs/srv/SetBool')
    assert set_bool.__srvtype__ == 'std_srvs/srv/SetBool'
    assert {name: registry().type_hash(name) for name in SET_BOOL_HASHES} == SET_BOOL_HASHES
    assert repr(set_bool.Response(success=True)) == \
        "std_srvs.srv.SetBool_Response(success=True, message='')"
    empty = get_service('std_srvs/Empty')  # 'pkg/Name' is 'pkg/srv/Name'
    assert [f['name'] for f in registry().type_description('std_srvs/srv/Empty_Request')[
        'type_description']['fields']] == ['structure_needs_at_least_one_member']
    assert empty.Event.get_fields_and_field_types() == {
        'info': 'service_msgs/ServiceEventInfo',
        'request': 'sequence<std_srvs/Empty_Request, 1>',
        'response': 'sequence<std_srvs/Empty_Response, 1>'}
    request = get_service(TYPE_DESCRIPTION_SERVICE).Request()
    assert request.include_type_sources is True  # `bool include_type_sources true`
    field = registry().type_description(f'{TYPE_DESCRIPTION_SERVICE}_Request')[
        'type_description']['fields'][2]
    assert field == {'name': 'include_type_sources', 'default_value': 'True',
                     'type': {'type_id': 15, 'capacity': 0, 'string_capacity': 0,
                              'nested_type_name': ''}}
    with pytest.raises(MessageTypeError, match=r"unknown service type 'std_srvs/srv/SetBoll' "
                                                r'\(did you mean std_srvs/srv/SetBool'):
        get_service('std_srvs/srv/SetBoll')
    with pytest.raises(MessageTypeError, match="expected 'pkg/srv/Name'"):
        get_service('std_srvs/msg/SetBool')


def test_srv_files_from_ior_ros_msg_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / 'demo_srvs'
    (package / 'msg').mkdir(parents=True)
    (package / 'srv').mkdir()
    (package / 'msg' / 'Factor.msg').write_text('float64 value 1.5\n', encoding='utf-8')
    (package / 'srv' / 'Scale.srv').write_text(
        '# scale a vector\r\nfloat64[] values\nFactor factor\n---\nfloat64[] scaled\n'
        'string<=8 unit "m"\n', encoding='utf-8')
    (package / 'srv' / 'Broken.srv').write_text('int32 a\n---\nint32 b\nfloat65 c\n',
                                                encoding='utf-8')
    (package / 'srv' / 'NoSeparator.srv').write_text('int32 a\n', encoding='utf-8')
    monkeypatch.setenv('IOR_ROS_MSG_PATH', str(tmp_path))
    monkeypatch.delenv('AMENT_PREFIX_PATH', raising=False)
    reg = MessageRegistry()  # a registry of its own: the process-wide one stays as it was
    scale = reg.get_service('demo_srvs/srv/Scale')
    request = scale.Request(values=[1.0, 2.0])
    assert request.factor.value == 1.5 and scale.Response().unit == 'm'
    back = reg.deserialize(reg.serialize(request), 'demo_srvs/srv/Scale_Request')
    assert list(back.values) == [1.0, 2.0] and back.factor.value == 1.5
    sources = reg.type_sources('demo_srvs/srv/Scale')
    assert [(name, encoding) for name, encoding, _ in sources] == [
        ('demo_srvs/srv/Scale', 'srv'), ('builtin_interfaces/msg/Time', 'msg'),
        ('demo_srvs/msg/Factor', 'msg'), ('demo_srvs/srv/Scale_Event', 'implicit'),
        ('demo_srvs/srv/Scale_Request', 'implicit'), ('demo_srvs/srv/Scale_Response', 'implicit'),
        ('service_msgs/msg/ServiceEventInfo', 'msg')]
    texts = {name: text for name, _, text in sources}
    # the file as rosidl embeds it (line ends normalized, no trailing newline)
    assert texts['demo_srvs/srv/Scale'] == ('# scale a vector\nfloat64[] values\nFactor factor\n'
                                            '---\nfloat64[] scaled\nstring<=8 unit "m"')
    assert texts['demo_srvs/msg/Factor'] == 'float64 value 1.5'
    assert texts['demo_srvs/srv/Scale_Event'] == ''
    # no ROS 2 installation: the definition as registered (no comments)
    assert texts['builtin_interfaces/msg/Time'] == 'int32 sec\nuint32 nanosec'
    assert texts['service_msgs/msg/ServiceEventInfo'].splitlines()[:2] == [
        'uint8 REQUEST_SENT=0', 'uint8 REQUEST_RECEIVED=1']
    with pytest.raises(MessageDefinitionError, match=r'Broken\.srv:4: .*float65'):
        reg.get_service('demo_srvs/srv/Broken')
    with pytest.raises(MessageDefinitionError, match=r"NoSeparator\.srv: .*exactly one line "
                                                     r"'---'"):
        reg.get_service('demo_srvs/srv/NoSeparator')


def test_type_hash_strings_are_parsed_as_rosidl_does() -> None:
    value = SET_BOOL_HASHES['std_srvs/srv/SetBool']
    digest = bytes.fromhex(value[7:])
    assert parse_type_hash(value) == digest
    assert parse_type_hash(value.upper()) == digest  # hex digits in either case
    assert parse_type_hash('RIHS01X' + value[7:]) == digest  # rosidl does not check the '_'
    for bad in ('RIHS02_' + value[7:], value[:-2], value + '0', 'garbage', '',
                'RIHS01_' + 'g' * 64):
        assert parse_type_hash(bad) is None, bad


# ----------------------------------------------------------------------------- node API
@both_backends
def test_service_api_in_one_process(ros: RosEnv) -> None:
    """create_service/create_client, call_async, call from another thread, timeouts, graph
    queries and destroy: the same checks (rt_services_script.py) on the DDS runtime and rclpy."""
    proc = ros.start(str(REPO / 'test' / 'runtime' / 'rt_services_script.py'))
    assert proc.wait(timeout=200) == 0, proc.text()
    assert f'SERVICES OK on {ros.backend}' in proc.text()


# ----------------------------------------------------------------------------- demo nodes, ior
def _lines(proc_text: str, pattern: str) -> list[str]:
    return [line for line in proc_text.splitlines() if re.match(pattern, line)]


@both_backends
def test_set_bool_server_and_client(ros: RosEnv) -> None:
    server = ros.node('set_bool_server')
    client = ros.node('set_bool_client', '-p', 'count:=4', '-p', 'period_s:=0.1')
    assert client.wait(timeout=150) == 0, client.text()
    assert _lines(client.text(), r'response \d') == CLIENT_LINES, client.text()
    server.wait_for(r'^request: ', count=4, timeout=30)
    assert _lines(server.text(), r'request: ') == SERVER_LINES, server.text()

    called = ros.run_ior('service', 'call', '/set_enabled', 'std_srvs/srv/SetBool',
                         '{data: true}', '--timeout', '60')
    assert called.returncode == 0, called.stderr
    assert called.stdout.replace('waiting for service to become available...\n', '') == \
        CALL_OUTPUT, called.stdout
    server.wait_for(r'^request: ', count=5, timeout=30)

    listed = ros.run_ior('service', 'list', '-t', '--spin-time', '3')
    lines = listed.stdout.splitlines()
    assert '/set_enabled [std_srvs/srv/SetBool]' in lines, listed.stdout
    assert '/set_bool_server/get_type_description [type_description_interfaces/srv/' \
           'GetTypeDescription]' in lines, listed.stdout
    assert '/set_bool_server/list_parameters [rcl_interfaces/srv/ListParameters]' in lines
    assert lines == sorted(lines)
    counted = ros.run_ior('service', 'list', '-c', '--spin-time', '3')
    assert int(counted.stdout) == len(lines)
    typed = ros.run_ior('service', 'type', '/set_enabled', '--spin-time', '5')
    assert (typed.returncode, typed.stdout) == (0, 'std_srvs/srv/SetBool\n'), typed.stderr
    assert server.interrupt() == 0


@both_backends
def test_remapped_service_name(ros: RosEnv) -> None:
    server = ros.node('set_bool_server', '-r', 'set_enabled:=/robot/enable')
    client = ros.node('set_bool_client', '-r', 'set_enabled:=/robot/enable', '-p', 'count:=2',
                      '-p', 'period_s:=0.1')
    assert client.wait(timeout=150) == 0, client.text()
    assert _lines(client.text(), r'response \d') == CLIENT_LINES[:2], client.text()
    names = ros.run_ior('service', 'list', '--spin-time', '3').stdout.splitlines()
    assert '/robot/enable' in names and '/set_enabled' not in names, names
    assert server.interrupt() == 0


def test_ior_service_call_bad_input(ros: RosEnv) -> None:
    """Unknown type, malformed values, no server: one error line each, exit 2."""
    cases = [
        (['std_srvs/srv/SetBoll', '{data: true}'],
         "ior: error: unknown service type 'std_srvs/srv/SetBoll' (did you mean "),
        (['std_srvs/srv/SetBool', '{data: maybe}'],
         "ior: error: std_srvs/srv/SetBool_Request.data (bool): cannot use 'maybe': expected "
         'true or false'),
        (['std_srvs/srv/SetBool', '{enabled: true}'],
         "ior: error: std_srvs/srv/SetBool_Request has no field 'enabled' (fields: data)"),
        (['std_srvs/srv/SetBool', '{data: [}'],
         "ior: error: values '{data: [}' are not valid YAML (line 1, column 9)"),
        (['std_srvs/srv/SetBool', 'true'],
         "ior: error: values 'true': expected a YAML mapping"),
        (['std_srvs/srv/SetBool', '{data: true}', '--timeout', '1'],
         "ior: error: service '/nobody' is not available within 1.0 s"),
    ]
    for args, expected in cases:
        done = ros.run_ior('service', 'call', '/nobody', *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith(expected), \
            (args, done.stderr)
    missing = ros.run_ior('service', 'type', '/nobody', '--spin-time', '0.5')
    assert missing.returncode == 2
    assert missing.stderr.startswith("ior: error: service '/nobody' not found within 0.5 s")


# ----------------------------------------------------------------------------- faults
FLAKY_NODE = """
from ior_ros.runtime import ExternalShutdownException, Node, get_service, init, spin, try_shutdown

set_bool = get_service('std_srvs/srv/SetBool')


def on_request(request, response):
    if not request.data:
        raise ValueError('refusing false')
    response.success = True
    return response


init()
node = Node('flaky')
node.create_service(set_bool, '~/set', on_request)
node.create_service(set_bool, '~/forgetful', lambda request, response: None)
print('ready', flush=True)
try:
    spin(node)
except (KeyboardInterrupt, ExternalShutdownException):
    pass
finally:
    node.destroy_node()
    try_shutdown()
"""


def test_server_callback_fault_does_not_take_the_node_down(ros: RosEnv) -> None:
    """A callback that raises (or returns None): an error naming the service, no reply, and the
    node keeps serving (rclpy would let the exception out of spin and the node would die)."""
    script = ros.tmp_path / 'flaky.py'
    script.write_text(FLAKY_NODE, encoding='utf-8')
    node = ros.start(str(script))
    node.wait_for('ready', timeout=60)
    good = ros.run_ior('service', 'call', '/flaky/set', 'std_srvs/srv/SetBool', '{data: true}',
                       '--timeout', '60')
    assert good.returncode == 0 and 'success=True' in good.stdout, good.stderr
    bad = ros.run_ior('service', 'call', '/flaky/set', 'std_srvs/srv/SetBool', '{data: false}',
                      '--timeout', '3')
    assert bad.returncode == 2
    assert bad.stderr.strip() == ("ior: error: service '/flaky/set' did not answer within 3.0 s "
                                  "(the server's log may say why)")
    node.wait_for(r'\[ERROR\] \[[\d.]+\] \[flaky\]: service /flaky/set: the callback raised '
                  r'ValueError: refusing false \(at flaky\.py:\d+\); no reply sent', timeout=30)
    forgot = ros.run_ior('service', 'call', '/flaky/forgetful', 'std_srvs/srv/SetBool', '{}',
                         '--timeout', '3')
    assert forgot.returncode == 2
    node.wait_for(r'service /flaky/forgetful: the callback returned None, not a '
                  r'std_srvs/srv/SetBool_Response; no reply sent', timeout=30)
    again = ros.run_ior('service', 'call', '/flaky/set', 'std_srvs/srv/SetBool', '{data: true}',
                        '--timeout', '60')
    assert again.returncode == 0 and 'success=True' in again.stdout, again.stderr
    assert node.interrupt() == 0


# ----------------------------------------------------------------------------- type description
def _describe(client, typename: str, type_hash: str | None = None,  # type: ignore[no-untyped-def]
              sources: bool = True):
    cls = get_service(TYPE_DESCRIPTION_SERVICE)
    request = cls.Request(type_name=typename, include_type_sources=sources,
                          type_hash=registry().type_hash(typename) if type_hash is None
                          else type_hash)
    return client.call(request, 30.0)


def test_get_type_description_of_our_node(ros: RosEnv) -> None:
    ros.env.pop('AMENT_PREFIX_PATH', None)  # no ROS 2 files: sources are the definitions
    talker = ros.node('talker', '-p', 'period_s:=0.2')
    quiet = ros.node('talker', '-r', '__node:=quiet', '-r', 'chatter:=quiet_chatter',
                     '-p', 'start_type_description_service:=false')
    talker.wait_for('Publishing', timeout=90)
    quiet.wait_for('Publishing', timeout=90)
    ros.apply()
    from ior_ros.runtime.client import ServiceClient
    from ior_ros.runtime.topic_tools import open_context

    ctx = open_context('type_description_test')
    try:
        client = ServiceClient(ctx, '/talker/get_type_description', TYPE_DESCRIPTION_SERVICE)
        assert client.wait_for_service(60)
        answer = _describe(client, 'std_msgs/msg/String')
        assert (answer.successful, answer.failure_reason) == (True, '')
        top = answer.type_description.type_description
        assert top.type_name == 'std_msgs/msg/String'
        assert [(f.name, f.type.type_id, f.type.capacity, f.type.string_capacity,
                 f.type.nested_type_name, f.default_value) for f in top.fields] == [
            ('data', 17, 0, 0, '', '')]
        assert list(answer.type_description.referenced_type_descriptions) == []
        assert [(s.type_name, s.encoding, s.raw_file_contents) for s in answer.type_sources] == [
            ('std_msgs/msg/String', 'msg', 'string data')]
        assert list(answer.extra_information) == []
        assert list(_describe(client, 'std_msgs/msg/String', sources=False).type_sources) == []
        # rcl looks the hash up and ignores the name
        renamed = _describe(client, 'not/a/Type', registry().type_hash('std_msgs/msg/String'))
        assert renamed.successful
        # the service types the node uses: its parameter services and this one
        own = _describe(client, TYPE_DESCRIPTION_SERVICE)
        assert own.successful
        assert [d.type_name for d in own.type_description.referenced_type_descriptions][-3:] == [
            f'{TYPE_DESCRIPTION_SERVICE}_Event', f'{TYPE_DESCRIPTION_SERVICE}_Request',
            f'{TYPE_DESCRIPTION_SERVICE}_Response']
        assert [s.encoding for s in own.type_sources][:1] == ['srv']
        assert _describe(client, 'rcl_interfaces/msg/Log').successful  # /rosout
        unused = _describe(client, 'geometry_msgs/msg/PoseStamped')
        assert (unused.successful, unused.failure_reason) == (
            False, 'Type not currently in use by this node')
        for bad in ('RIHS01_xyz', 'RIHS02_' + registry().type_hash('std_msgs/msg/String')[7:]):
            failed = _describe(client, 'std_msgs/msg/String', bad)
            assert (failed.successful, failed.failure_reason) == (
                False, 'Failed to parse type hash')
        talker.wait_for(r"\[ERROR\] \[[\d.]+\] \[rcl\]: Failed to parse type hash 'RIHS01_xyz'",
                        timeout=30)

        # start_type_description_service:=false: no service; the parameter is read-only
        assert wait_until(lambda: '/quiet/get_parameters' in ctx.graph().service_names_and_types(),
                          timeout=60)
        assert '/quiet/get_type_description' not in ctx.graph().service_names_and_types()
    finally:
        ctx.close()
    got = ros.run_ior('param', 'get', '/quiet', 'start_type_description_service')
    assert got.stdout.strip() == 'Boolean value is: False', got.stderr
    refused = ros.run_ior('param', 'set', '/talker', 'start_type_description_service', 'false')
    assert refused.returncode == 2
    assert refused.stderr.strip() == ('Setting parameter failed: Trying to set a read-only '
                                      'parameter: start_type_description_service.')
    talker.interrupt()
    quiet.interrupt()
