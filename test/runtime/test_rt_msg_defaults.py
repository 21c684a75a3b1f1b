"""
Default values declared in ``.msg`` files, applied as rosidl/rclpy applies them.

Without ROS 2: the Jazzy fact table (Quaternion.w = 1, NavSatStatus.status = -2) and project
messages from ``IOR_ROS_MSG_PATH`` with defaults of every kind. With ROS 2 (marked ``ros2``):
every message type rclpy imports, default-constructed and compared with ours, value by value.
"""

from __future__ import annotations

import json
import math
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rt_ros2
from rosbags.typesys import Stores, get_typestore

from ior_ros.runtime import messages as m
from ior_ros.runtime.errors import MessageDefinitionError
from ior_ros.runtime.registry import _JAZZY_DEFAULTS

# defaults of every kind the ROS 2 .msg grammar allows (rosidl_adapter parse_value_string)
DEFAULTS_MSG = """\
bool flag true                       # [-]
bool flag_num 1                      # [-]
int32 count -5                       # [-]
int32 mask 0x1F                      # [-] hexadecimal, as int(s, 0) reads it
uint8 level 255                      # [-]
byte raw 200                         # [-] kept as the signed int8 deserialization gives: -56
char letter 65                       # [-]
float32 gain 0.1                     # [1]
float64 scale 1e3                    # [1]
float64 offset -2                    # [m]
string name "hello world"            # [-]
string bare plain text               # [-] unquoted: the rest of the line
string quoted 'it\\'s'                # [-]
string padded "  padded  "           # [-] quotes keep the spaces
string<=5 tag abc                    # [-]
int32[3] fixed [1, 2, 3]             # [-]
float32[<=3] bounded [0.5, 1.5]      # [m]
float64[] unbounded [1, 2]           # [m]
string[] words ["a", "b,c", 'd']     # [-]
string[2] pair [x, "y z"]            # [-]
bool[2] bits [true, false]           # [-]
byte[2] octets [1, 255]              # [-]
int32 plain                          # [-] no default: 0
"""

EXPECTED = {
    'flag': True, 'flag_num': True, 'count': -5, 'mask': 31, 'level': 255, 'raw': -56,
    'letter': 65, 'gain': 0.1, 'scale': 1000.0, 'offset': -2.0, 'name': 'hello world',
    'bare': 'plain text', 'quoted': "it's", 'padded': '  padded  ', 'tag': 'abc',
    'fixed': [1, 2, 3], 'bounded': [0.5, 1.5], 'unbounded': [1.0, 2.0],
    'words': ['a', 'b,c', 'd'], 'pair': ['x', 'y z'], 'bits': [True, False], 'octets': [1, -1],
    'plain': 0,
}


@pytest.fixture
def defaults_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> m.MessageRegistry:
    """A registry that finds ``demo_defaults/msg/Defaults.msg`` through IOR_ROS_MSG_PATH."""
    folder = tmp_path / 'msgs' / 'demo_defaults' / 'msg'
    folder.mkdir(parents=True)
    (folder / 'Defaults.msg').write_text(DEFAULTS_MSG, encoding='utf-8')
    monkeypatch.setenv('IOR_ROS_MSG_PATH', str(tmp_path / 'msgs'))
    reg = m.MessageRegistry()  # the default folders: ior_ros/msg and IOR_ROS_MSG_PATH
    assert 'demo_defaults/msg/Defaults' in reg.known_types()
    return reg


# ---------------------------------------------------------------------------- without ROS 2
def test_quaternion_defaults_to_identity_and_serializes_w_1() -> None:
    quaternion = m.get_message('geometry_msgs/msg/Quaternion')
    msg = quaternion()
    assert (msg.x, msg.y, msg.z, msg.w) == (0.0, 0.0, 0.0, 1.0)
    data = bytes(m.serialize(msg))
    assert data[:4] == b'\x00\x01\x00\x00'
    assert struct.unpack_from('<4d', data, 4) == (0.0, 0.0, 0.0, 1.0)
    assert m.deserialize(data, 'geometry_msgs/msg/Quaternion').w == 1.0
    # rosbags (no defaults of its own) reads the same w from our bytes
    assert get_typestore(Stores.ROS2_JAZZY).deserialize_cdr(
        data, 'geometry_msgs/msg/Quaternion').w == 1.0
    # nested: a default Pose has the identity orientation, as rclpy's does
    assert m.get_message('geometry_msgs/msg/Pose')().orientation.w == 1.0
    assert quaternion(w=0.5).w == 0.5


def test_jazzy_fact_table_defaults() -> None:
    status = m.get_message('sensor_msgs/msg/NavSatStatus')()
    assert status.status == -2 == status.STATUS_UNKNOWN
    assert m.deserialize(m.serialize(status), 'sensor_msgs/msg/NavSatStatus').status == -2
    descriptor = m.get_message('rcl_interfaces/msg/ParameterDescriptor')()
    assert descriptor.read_only is False and descriptor.dynamic_typing is False
    assert m.get_message('type_description_interfaces/msg/FieldType')().type_id == 0


def test_project_message_defaults_of_every_kind(defaults_registry: m.MessageRegistry) -> None:
    cls = defaults_registry.get_class('demo_defaults/msg/Defaults')
    msg = cls()
    assert m.message_to_dict(msg) == EXPECTED
    assert isinstance(msg.fixed, np.ndarray) and msg.fixed.dtype == np.int32
    assert msg.bounded.dtype == np.float32 and msg.octets.dtype == np.int8
    assert type(msg.gain) is float and type(msg.flag) is bool and type(msg.words) is list
    back = defaults_registry.deserialize(defaults_registry.serialize(msg),
                                         'demo_defaults/msg/Defaults')
    plain = m.message_to_dict(back)
    assert plain['gain'] == pytest.approx(0.1)  # float32 on the wire
    assert {k: v for k, v in plain.items() if k != 'gain'} == \
        {k: v for k, v in EXPECTED.items() if k != 'gain'}


def test_explicit_arguments_override_defaults(defaults_registry: m.MessageRegistry) -> None:
    cls = defaults_registry.get_class('demo_defaults/msg/Defaults')
    msg = cls(flag=False, count=7, name='x', fixed=[4, 5, 6], words=[], bounded=[2.5])
    assert (msg.flag, msg.count, msg.name, msg.words) == (False, 7, 'x', [])
    assert list(msg.fixed) == [4, 5, 6] and list(msg.bounded) == [2.5]
    assert msg.mask == 31  # the others keep their defaults
    positional = cls(False, False)
    assert (positional.flag, positional.flag_num, positional.count) == (False, False, -5)


def test_default_arrays_are_fresh_per_instance(defaults_registry: m.MessageRegistry) -> None:
    cls = defaults_registry.get_class('demo_defaults/msg/Defaults')
    first, second = cls(), cls()
    for name in ('fixed', 'bounded', 'unbounded', 'words', 'pair', 'bits', 'octets'):
        assert getattr(first, name) is not getattr(second, name), name
    first.fixed[0] = 99
    first.words.append('e')
    first.unbounded[1] = -1.0
    assert list(second.fixed) == [1, 2, 3] and second.words == ['a', 'b,c', 'd']
    assert list(cls().unbounded) == [1.0, 2.0]
    assert list(cls().fixed) == [1, 2, 3]


@pytest.mark.parametrize('line, pattern', [
    ('int32[3] a [1, 2]', 'exactly 3 elements, not 2'),
    ('int32[<=2] a [1, 2, 3]', 'at most 2 elements, not 3'),
    ('bool a yes', "'true' / '1' or 'false' / '0'"),
    ('uint8 a 256', r'256 is outside \[0, 255\]'),
    ('byte a -1', r'-1 is outside \[0, 255\]'),
    ('string<=3 a abcd', 'longer than its bound 3'),
    ('string a "x"y"', 'inner quotes not properly escaped'),
    ('float64[2] a 1, 2', "must start with '\\[' and end with '\\]'"),
    ('string[] a ["x", "y]', 'incorrectly quoted'),
])
def test_bad_default_literals_name_file_and_line(tmp_path: Path, line: str,
                                                 pattern: str) -> None:
    reg = m.MessageRegistry(msg_dirs=[])
    with pytest.raises(MessageDefinitionError, match=rf'bad\.msg:2: field a: default value .* '
                                                     rf'literal \(.*{pattern}'):
        reg.register_definitions({'pkg_a/msg/Bad': ('bad.msg', f'int32 ok 1\n{line}\n')})


# ---------------------------------------------------------------------------- against rclpy
# runs on rclpy (the ROS environment's PYTHONPATH): every message type rclpy imports from the
# packages of AMENT_PREFIX_PATH (or only those named in argv), default-constructed, as JSON
_DUMP = r"""
import json, sys
from rosidl_runtime_py import get_message_interfaces
from rosidl_runtime_py.convert import message_to_ordereddict
from rosidl_runtime_py.utilities import get_message

wanted = set(sys.argv[1:])
out = {'types': {}, 'errors': {}}
for pkg, names in sorted(get_message_interfaces().items()):
    if wanted and pkg not in wanted:
        continue
    for name in names:
        typename = f'{pkg}/{name}'
        try:
            out['types'][typename] = message_to_ordereddict(get_message(typename)())
        except Exception as exc:
            out['errors'][typename] = f'{type(exc).__name__}: {exc}'
json.dump(out, sys.stdout)
"""

# rosidl's Python class hides the member an empty message carries; ours shows it
_HIDDEN = 'structure_needs_at_least_one_member'


def _rclpy_defaults(env: dict[str, str], cwd: Path, packages: list[str]) -> dict[str, Any]:
    # cwd outside the checkout: ``ior_ros`` must come from the colcon overlay, not the sources
    result = subprocess.run([sys.executable, '-c', _DUMP, *packages], env=env, cwd=cwd,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _difference(ours: Any, theirs: Any, path: str) -> str | None:
    """None when equal as values; else where and how they differ."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        mine = {k: v for k, v in ours.items() if k != _HIDDEN or k in theirs}
        if set(mine) != set(theirs):
            return f'{path}: fields {sorted(mine)} != {sorted(theirs)}'
        for key in mine:
            found = _difference(mine[key], theirs[key], f'{path}.{key}')
            if found:
                return found
        return None
    if isinstance(ours, list) and isinstance(theirs, list):
        if len(ours) != len(theirs):
            return f'{path}: {ours!r} != {theirs!r}'
        for index, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            found = _difference(a, b, f'{path}[{index}]')
            if found:
                return found
        return None
    # a ``byte`` is bytes in rclpy (message_to_ordereddict makes it a 1-char str), an int in ours
    if type(ours) is int and isinstance(theirs, str) and len(theirs) == 1:
        return None if ours & 0xFF == ord(theirs) else f'{path}: {ours!r} != {theirs!r}'
    if type(ours) is not type(theirs):
        return f'{path}: {ours!r} ({type(ours).__name__}) != {theirs!r} ({type(theirs).__name__})'
    if isinstance(ours, float) and math.isnan(ours) and math.isnan(theirs):
        return None
    return None if ours == theirs else f'{path}: {ours!r} != {theirs!r}'


def _compare(reg: m.MessageRegistry, dump: dict[str, Any], label: str) -> list[str]:
    """Compare every type both sides know; returns the names compared (fails on a mismatch)."""
    ours_known = set(reg.known_types())
    theirs = dump['types']
    both = sorted(set(theirs) & ours_known)
    mismatches = []
    for typename in both:
        found = _difference(m.message_to_dict(reg.get_class(typename)()), theirs[typename],
                            typename)
        if found:
            mismatches.append(found)
    only_rclpy = sorted(set(theirs) - ours_known)
    print(f'\n{label}: {len(both)} message types compared with rclpy, {len(mismatches)} differ; '
          f'rclpy only: {only_rclpy or "none"}; rclpy import errors: {dump["errors"] or "none"}')
    assert not mismatches, f'{len(mismatches)} of {len(both)} types differ:\n' + \
        '\n'.join(mismatches)
    return both


@pytest.mark.ros2
def test_every_jazzy_message_default_constructs_as_rclpy(tmp_path: Path) -> None:
    dump = _rclpy_defaults(rt_ros2.ros_environment(), tmp_path, [])
    compared = _compare(m.registry(), dump, 'Jazzy (rclpy from /opt/ros/jazzy)')
    assert len(compared) >= 100
    # the fact table is complete: every type it names is compared, and every type whose rclpy
    # default is not the zero value is in it (the comparison above proves the values)
    assert set(_JAZZY_DEFAULTS) <= set(compared)


@pytest.mark.ros2
def test_project_messages_default_construct_as_rclpy(tmp_path: Path) -> None:
    dump = _rclpy_defaults(rt_ros2.overlay_environment(), tmp_path, ['ior_ros'])
    compared = _compare(m.registry(), dump, 'ior_ros (colcon overlay)')
    expected = {f'ior_ros/msg/{p.stem}' for p in (rt_ros2.REPO / 'msg').glob('*.msg')}
    assert set(compared) == expected


@pytest.mark.ros2
@pytest.mark.timeout(600)
def test_declared_defaults_of_every_kind_match_rosidl(tmp_path: Path,
                                                      defaults_registry: m.MessageRegistry
                                                      ) -> None:
    """DEFAULTS_MSG built by colcon (rosidl_adapter + rosidl_generator_py) gives our values."""
    src = tmp_path / 'ws' / 'src' / 'demo_defaults'
    (src / 'msg').mkdir(parents=True)
    (src / 'msg' / 'Defaults.msg').write_text(DEFAULTS_MSG, encoding='utf-8')
    (src / 'package.xml').write_text(
        '<?xml version="1.0"?>\n<package format="3">\n  <name>demo_defaults</name>\n'
        '  <version>0.0.0</version>\n  <description>test</description>\n'
        '  <maintainer email="dev@example.com">dev</maintainer>\n  <license>MIT</license>\n'
        '  <buildtool_depend>ament_cmake</buildtool_depend>\n'
        '  <buildtool_depend>rosidl_default_generators</buildtool_depend>\n'
        '  <exec_depend>rosidl_default_runtime</exec_depend>\n'
        '  <member_of_group>rosidl_interface_packages</member_of_group>\n'
        '  <export><build_type>ament_cmake</build_type></export>\n</package>\n',
        encoding='utf-8')
    (src / 'CMakeLists.txt').write_text(
        'cmake_minimum_required(VERSION 3.8)\nproject(demo_defaults)\n'
        'find_package(ament_cmake REQUIRED)\nfind_package(rosidl_default_generators REQUIRED)\n'
        'rosidl_generate_interfaces(${PROJECT_NAME} "msg/Defaults.msg")\nament_package()\n',
        encoding='utf-8')
    result = rt_ros2.colcon_build(tmp_path / 'ws', rt_ros2.ros_environment(), timeout=500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    env = rt_ros2.sourced_environment(tmp_path / 'ws' / 'install' / 'setup.bash',
                                      base=rt_ros2.ros_environment())
    dump = _rclpy_defaults(env, tmp_path, ['demo_defaults'])
    assert _compare(defaults_registry, dump, 'demo_defaults (colcon)') == \
        ['demo_defaults/msg/Defaults']
