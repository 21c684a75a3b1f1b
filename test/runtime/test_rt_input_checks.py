"""
Input checks of the ROS layer: launch arguments, launch and parameter files, message values
from YAML; and, against the real ROS 2 Jazzy, where ours deliberately differs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rt_helpers import RosEnv

from ior_ros.runtime.conversions import set_message_fields
from ior_ros.runtime.errors import LaunchError, MessageTypeError, ParameterFileError
from ior_ros.runtime.launch_yaml import load_launch, resolve_launch_file
from ior_ros.runtime.registry import registry
from ior_ros.runtime.ros_args import load_params_file

LAUNCH = """launch:
  - arg: {name: rate, default: '1'}
  - group:
      if: 'false'
      children:
        - arg: {name: only_when_enabled, default: x}
  - log: {message: 'rate $(var rate)'}
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding='utf-8')
    return path


def test_undeclared_launch_argument_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path / 'a.launch.yaml', LAUNCH)
    plan = load_launch(path, {'rate': '5', 'only_when_enabled': 'y'}, temp_dir=tmp_path / 't')
    assert plan.messages == ['rate 5']  # a declared argument, even in a skipped branch
    with pytest.raises(LaunchError) as info:
        load_launch(path, {'rte': '5'}, temp_dir=tmp_path / 't')
    assert str(info.value) == (
        f"{path}: launch argument 'rte' not declared by the launch file or its includes; "
        'declared: [rate, only_when_enabled] (ior launch -s FILE lists them)')
    with pytest.raises(LaunchError, match="launch argument 'rate=5': expected 'name:=value'"):
        resolve_launch_file(str(path), 'rate=5')


def test_arguments_declared_by_an_include_are_known(tmp_path: Path) -> None:
    _write(tmp_path / 'inner.launch.yaml', "launch:\n  - arg: {name: inner, default: '0'}\n")
    outer = _write(tmp_path / 'outer.launch.yaml',
                   'launch:\n  - include: {file: inner.launch.yaml}\n')
    load_launch(outer, {'inner': '3'}, temp_dir=tmp_path / 't')
    with pytest.raises(LaunchError, match=r'declared: \[inner\]'):
        load_launch(outer, {'outer': '3'}, temp_dir=tmp_path / 't')


@pytest.mark.parametrize('content, words', [
    (b'', 'launch file {p}: the file is empty'),
    (b'launch: []\n\x00', 'launch file {p}: a binary file (NUL byte at offset 11)'),
    (b'launch:\n  - log: {message: caf\xe9}\n', 'launch file {p}: not UTF-8 (byte 0xe9 at line 2'),
    (b'# nothing\n', 'launch file {p}: holds no YAML value'),
])
def test_launch_file_problems(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / 'bad.launch.yaml'
    path.write_bytes(content)
    with pytest.raises(LaunchError) as info:
        load_launch(path, temp_dir=tmp_path / 't')
    assert str(info.value).startswith(words.format(p=path)), str(info.value)


def test_parameter_files(tmp_path: Path) -> None:
    assert load_params_file(_write(tmp_path / 'empty.yaml', '')) == []  # as rcl reads it
    assert load_params_file(_write(tmp_path / 'comment.yaml', '# none\n')) == []
    binary = tmp_path / 'binary.yaml'
    binary.write_bytes(b'/**:\n\x00')
    with pytest.raises(ParameterFileError, match=r'^parameter file .*binary\.yaml: a binary'):
        load_params_file(binary)


def _fill(typename: str, values: Any) -> Any:
    return set_message_fields(registry().get_class(typename)(), values)


@pytest.mark.parametrize('typename, field, low, high', [
    ('std_msgs/msg/Int8', 'int8', -128, 127), ('std_msgs/msg/UInt8', 'uint8', 0, 255),
    ('std_msgs/msg/Int16', 'int16', -2**15, 2**15 - 1),
    ('std_msgs/msg/UInt16', 'uint16', 0, 2**16 - 1),
    ('std_msgs/msg/Int32', 'int32', -2**31, 2**31 - 1),
    ('std_msgs/msg/UInt32', 'uint32', 0, 2**32 - 1),
    ('std_msgs/msg/Int64', 'int64', -2**63, 2**63 - 1),
    ('std_msgs/msg/UInt64', 'uint64', 0, 2**64 - 1),
])
def test_integer_ranges(typename: str, field: str, low: int, high: int) -> None:
    assert _fill(typename, {'data': low}).data == low
    assert _fill(typename, {'data': high}).data == high
    for value in (low - 1, high + 1):
        with pytest.raises(MessageTypeError) as info:
            _fill(typename, {'data': value})
        assert str(info.value) == (f'{typename}.data ({field}): cannot use {value}: outside '
                                   f'[{low}, {high}]')


def test_values_are_never_stringified_or_truncated() -> None:
    assert _fill('std_msgs/msg/String', {'data': 12}).data == '12'  # YAML read a number
    with pytest.raises(MessageTypeError, match=r'\(string\): cannot use \[1, 2\]: expected text'):
        _fill('std_msgs/msg/String', {'data': [1, 2]})
    with pytest.raises(MessageTypeError, match='outside the finite float32 range'):
        _fill('std_msgs/msg/Float32', {'data': 3.5e38})
    assert _fill('std_msgs/msg/Float32', {'data': float('inf')}).data == float('inf')
    with pytest.raises(MessageTypeError, match=r'\(int32\): cannot use 1.5: not an integer'):
        _fill('std_msgs/msg/Int32', {'data': 1.5})
    assert _fill('std_msgs/msg/Int32', {'data': 2.0}).data == 2
    with pytest.raises(MessageTypeError, match=r'cannot use a list of 2: expected exactly 36'):
        _fill('geometry_msgs/msg/AccelWithCovariance', {'covariance': [0.0, 1.0]})
    with pytest.raises(MessageTypeError, match=r'\(int32\): cannot use \[1, 2\]: expected a'):
        _fill('builtin_interfaces/msg/Time', {'sec': [1, 2]})


@pytest.mark.ros2
def test_rcl_accepts_an_empty_parameter_file(ros: RosEnv, tmp_path: Path) -> None:
    """rcl reads an empty parameter file as no parameters; ours does the same (above)."""
    empty = _write(tmp_path / 'empty.yaml', '')
    rcl = subprocess.run(
        [sys.executable, '-c', 'import rclpy; rclpy.init(args=["x", "--ros-args", '
         f'"--params-file", "{empty}"]); print("accepted")'],
        env=ros.ros_env, capture_output=True, text=True, timeout=60)
    assert rcl.stdout.strip() == 'accepted', rcl.stderr


@pytest.mark.ros2
@pytest.mark.slow
def test_ros2_differs_where_ours_refuses(ros: RosEnv, tmp_path: Path) -> None:
    """
    What the real Jazzy tools do with the inputs ours refuses (about 30 s: ros2 launch and
    ros2 topic pub start slowly): ``ros2 launch`` runs with an undeclared argument (ignored),
    ``ros2 topic pub`` publishes 300 in a uint8 field and a list in a string field as text.
    """
    path = _write(tmp_path / 'a.launch.yaml', LAUNCH)
    theirs = ros.run_ros2('launch', str(path), 'rte:=5', timeout=60)
    assert theirs.returncode == 0 and 'rate 1' in theirs.stdout + theirs.stderr
    ours = ros.run_ior('launch', str(path), 'rte:=5')
    assert ours.returncode == 2 and "launch argument 'rte' not declared" in ours.stderr
    pub = ros.run_ros2('topic', 'pub', '-t', '1', '-w', '0', '/probe', 'std_msgs/msg/UInt8',
                       '{data: 300}', timeout=60)
    assert pub.returncode == 0 and 'data=300' in pub.stdout, pub.stdout + pub.stderr
    pub = ros.run_ros2('topic', 'pub', '-t', '1', '-w', '0', '/probe', 'std_msgs/msg/String',
                       '{data: [1, 2]}', timeout=60)
    assert pub.returncode == 0 and "data='[1, 2]'" in pub.stdout, pub.stdout + pub.stderr
    ours = ros.run_ior('topic', 'pub', '-1', '/probe', 'std_msgs/msg/UInt8', '{data: 300}')
    assert (ours.returncode, ours.stderr) == (
        2, 'ior: error: std_msgs/msg/UInt8.data (uint8): cannot use 300: outside [0, 255]\n')
