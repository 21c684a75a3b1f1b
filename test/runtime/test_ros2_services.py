"""
Services in mixed graphs: our nodes and tools beside rclpy nodes and the real ``ros2 service``,
``ros2 node info`` tools, in one ROS domain; service type hashes against rosidl's.

Every test here needs a real ROS 2 Jazzy (marked ``ros2``; skipped with the reason without one).
Our side runs from the source tree on the DDS backend; the ROS side runs on rclpy with this
package built by colcon.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from rt_helpers import RosEnv, wait_until

from ior_ros.runtime.messages import MessageRegistry, registry
from ior_ros.runtime.type_description_service import TYPE_DESCRIPTION_SERVICE

pytestmark = [pytest.mark.ros2, pytest.mark.xdist_group('dds'), pytest.mark.timeout(400)]

WAITING = 'waiting for service to become available...\n'
CALL_OUTPUT = ("requester: making request: std_srvs.srv.SetBool_Request(data=True)\n\n"
               "response:\nstd_srvs.srv.SetBool_Response(success=True, message='enabled')\n\n")
CLIENT_LINES = ['response 1: data=True -> success=True message=enabled',
                'response 2: data=False -> success=True message=disabled',
                'response 3: data=True -> success=True message=enabled',
                'response 4: data=False -> success=True message=disabled']

# a plain rclpy server with the behaviour of our set_bool_server
RCLPY_SERVER = """
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from std_srvs.srv import SetBool

rclpy.init()
node = Node('rclpy_set_bool_server')


def on_request(request, response):
    response.success = True
    response.message = 'enabled' if request.data else 'disabled'
    print(f'request: data={request.data} -> {response.message}', flush=True)
    return response


node.create_service(SetBool, 'set_enabled', on_request)
print('ready', flush=True)
try:
    rclpy.spin(node)
except (KeyboardInterrupt, ExternalShutdownException):
    pass
finally:
    node.destroy_node()
    rclpy.try_shutdown()
"""

# the same node code on both backends: publishers of three types and one service
TYPES_NODE = """
import sys

from ior_ros.runtime import (BACKEND, ExternalShutdownException, Node, get_message, get_service,
                             init, spin, try_shutdown)

init()
node = Node(sys.argv[1])
for index, name in enumerate(['std_msgs/msg/String', 'geometry_msgs/msg/PoseStamped',
                              'ior_ros/msg/RobotState']):
    node.create_publisher(get_message(name), f'types_{index}', 10)
node.create_service(get_service('std_srvs/srv/SetBool'), '~/set', lambda req, resp: resp)
print(f'ready on {BACKEND}', flush=True)
try:
    spin(node)
except (KeyboardInterrupt, ExternalShutdownException):
    pass
finally:
    node.destroy_node()
    try_shutdown()
"""


def _ros2_call(ros: RosEnv, *args: str) -> str:
    done = ros.run_ros2('service', 'call', *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.replace(WAITING, '')


def _node_info(ros: RosEnv, node: str) -> str:
    done = ros.run_ros2('node', 'info', node, '--no-daemon', '--spin-time', '3')
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_ros2_tools_on_our_server_and_client(ros: RosEnv) -> None:
    """ros2 service call/list/type and ros2 node info on our set_bool_server and client; the
    node info of our server equals that of the same node code run on rclpy."""
    ours = ros.node('set_bool_server', '-r', '__ns:=/ours')
    theirs = ros.ros2('run', 'ior_ros', 'set_bool_server', '--ros-args', '-r', '__ns:=/theirs')
    waiting = ros.node('set_bool_client', '-r', 'set_enabled:=/nobody')  # waits for ever
    waiting.wait_for('service not available, waiting again', timeout=90)

    assert _ros2_call(ros, '/ours/set_enabled', 'std_srvs/srv/SetBool', '{data: true}') == \
        CALL_OUTPUT
    ours.wait_for(r'^request: data=True -> enabled', timeout=30)

    def listed() -> list[str]:
        return ros.run_ros2('service', 'list', '-t', '--no-daemon', '--spin-time', '3'
                            ).stdout.splitlines()

    assert wait_until(lambda: {'/ours/set_enabled [std_srvs/srv/SetBool]',
                               '/theirs/set_enabled [std_srvs/srv/SetBool]'} <= set(listed()),
                      timeout=60, period=0.5)
    lines = listed()
    for service in ('get_type_description', 'list_parameters', 'set_parameters'):
        assert any(line.startswith(f'/ours/set_bool_server/{service} [') for line in lines)
    assert '/nobody [std_srvs/srv/SetBool]' in lines  # a client alone makes a service name
    typed = ros.run_ros2('service', 'type', '/ours/set_enabled')
    assert typed.stdout == 'std_srvs/srv/SetBool\n', typed.stdout + typed.stderr

    mine = _node_info(ros, '/ours/set_bool_server')
    reference = _node_info(ros, '/theirs/set_bool_server')
    assert re.search(r'Service Servers:[\s\S]*/ours/set_enabled: std_srvs/srv/SetBool', mine), mine
    assert '/ours/set_bool_server/get_type_description: type_description_interfaces/srv/' \
           'GetTypeDescription' in mine
    assert mine.replace('/ours', '/X') == reference.replace('/theirs', '/X'), (mine, reference)
    client_info = _node_info(ros, '/set_bool_client')
    assert re.search(r'Service Clients:\s+/nobody: std_srvs/srv/SetBool', client_info), \
        client_info
    for proc in (ours, theirs, waiting):
        proc.interrupt()


def test_our_client_and_tool_reach_an_rclpy_server(ros: RosEnv) -> None:
    server = ros.rclpy(RCLPY_SERVER)
    server.wait_for('ready', timeout=90)
    client = ros.node('set_bool_client', '-p', 'count:=4', '-p', 'period_s:=0.1')
    assert client.wait(timeout=150) == 0, client.text()
    assert [line for line in client.text().splitlines() if line.startswith('response ')] == \
        CLIENT_LINES
    called = ros.run_ior('service', 'call', '/set_enabled', 'std_srvs/srv/SetBool',
                         '{data: true}', '--timeout', '60')
    assert called.returncode == 0, called.stderr
    assert called.stdout.replace(WAITING, '') == CALL_OUTPUT
    server.wait_for(r'^request: data=True -> enabled', count=3, timeout=30)

    # the endpoints of rmw_cyclonedds' server and of ours carry the same USER_DATA shape
    ours = ros.node('set_bool_server', '-r', 'set_enabled:=/ours_enable')
    ros.apply()
    from ior_ros.runtime.topic_tools import open_context

    ctx = open_context()
    try:
        def user_data() -> dict[str, str]:
            return {e.dds_topic: e.user_data.decode() for e in ctx.graph().endpoints
                    if e.dds_topic.endswith(('set_enabledRequest', 'set_enabledReply',
                                             'ours_enableRequest', 'ours_enableReply'))}

        assert wait_until(lambda: len(user_data()) == 4, timeout=60)
        found = user_data()
    finally:
        ctx.close()
    shape = r'serviceid=[ 0-9a-f]{2}(\.[0-9a-f]{1,2}){15};typehash=(RIHS01_[0-9a-f]{64});'
    for topic, data in found.items():
        assert re.fullmatch(shape, data), (topic, data)
    hashes = {topic: re.fullmatch(shape, data).group(2) for topic, data in found.items()}  # type: ignore[union-attr]
    assert hashes['rq/set_enabledRequest'] == hashes['rq/ours_enableRequest'] == \
        registry().type_hash('std_srvs/srv/SetBool_Request')
    assert hashes['rr/set_enabledReply'] == hashes['rr/ours_enableReply'] == \
        registry().type_hash('std_srvs/srv/SetBool_Response')
    assert found['rq/ours_enableRequest'].split(';')[0] == \
        found['rr/ours_enableReply'].split(';')[0]
    server.interrupt()
    ours.interrupt()


def test_get_type_description_answers_equal_rclpy(ros: RosEnv) -> None:
    """ros2 service call ~/get_type_description on our node and on the same node code on rclpy:
    the answers (type description, sources, failure reasons) are the same, field by field."""
    ros.env['AMENT_PREFIX_PATH'] = ros.ros_env['AMENT_PREFIX_PATH']  # the .msg/.srv files
    script = ros.tmp_path / 'types_node.py'
    script.write_text(TYPES_NODE, encoding='utf-8')
    ours = ros.start(str(script), 'types_ours')
    theirs = ros.rclpy(TYPES_NODE, 'types_theirs')
    ours.wait_for('ready on dds', timeout=90)
    theirs.wait_for('ready on rclpy', timeout=90)
    cases = [(name, registry().type_hash(name)) for name in (
        'std_msgs/msg/String', 'geometry_msgs/msg/PoseStamped', 'ior_ros/msg/RobotState',
        'std_srvs/srv/SetBool', 'rcl_interfaces/msg/Log')]
    cases += [('sensor_msgs/msg/Image', registry().type_hash('sensor_msgs/msg/Image')),
              ('std_msgs/msg/String', 'RIHS01_not_a_hash')]
    for typename, type_hash in cases:
        request = f'{{type_name: {typename}, type_hash: {type_hash}, include_type_sources: true}}'
        answers = [_ros2_call(ros, f'/{node}/get_type_description', TYPE_DESCRIPTION_SERVICE,
                              request) for node in ('types_ours', 'types_theirs')]
        assert answers[0] == answers[1], f'{typename}:\nours   {answers[0]}\nrclpy  {answers[1]}'
        if type_hash.startswith('RIHS01_not'):
            assert "failure_reason='Failed to parse type hash'" in answers[0]
        elif typename == 'sensor_msgs/msg/Image':
            assert "failure_reason='Type not currently in use by this node'" in answers[0]
        else:
            assert 'successful=True' in answers[0] and "encoding='msg'" in answers[0]
    ours.interrupt()
    theirs.interrupt()


def test_srv_type_hashes_equal_rosidl(ros: RosEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every service with a .srv in the ROS installation: the hashes of the service, its
    Request, Response and Event and the whole type description equal rosidl's JSON."""
    monkeypatch.setenv('AMENT_PREFIX_PATH', ros.ros_env['AMENT_PREFIX_PATH'])
    reg = MessageRegistry()  # a registry of its own: the process-wide one stays as it was
    compared, services, only_idl, wrong = 0, 0, [], []
    for prefix in [Path(p) for p in ros.ros_env['AMENT_PREFIX_PATH'].split(':') if p]:
        for path in sorted((prefix / 'share').glob('*/srv/*.json')):
            name = f'{path.parent.parent.name}/srv/{path.stem}'
            if not path.with_suffix('.srv').is_file():
                only_idl.append(name)  # generated from .idl: not a definition we read
                continue
            reg.get_service(name)
            services += 1
            data = json.loads(path.read_text(encoding='utf-8'))
            for entry in data['type_hashes']:
                if '/srv/' not in entry['type_name']:
                    continue
                compared += 1
                if reg.type_hash(entry['type_name']) != entry['hash_string']:
                    wrong.append(f"{entry['type_name']}: ours {reg.type_hash(entry['type_name'])}"
                                 f" != rosidl {entry['hash_string']}")
            if reg.type_description(name) != data['type_description_msg']:
                wrong.append(f'{name}: type description differs')
    print(f'\nservice types compared with rosidl: {services} services, {compared} hashes; '
          f'.idl only (skipped): {only_idl or "none"}')
    assert not wrong, '\n'.join(wrong)
    assert services >= 40 and compared >= 4 * services
