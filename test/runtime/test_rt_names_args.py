"""ROS names, remapping, --ros-args and parameter files (no DDS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ior_ros.runtime.errors import NameError_, ParameterFileError, RosArgsError
from ior_ros.runtime.names import (
    RemapRule,
    dds_topic_to_ros,
    expand_topic_name,
    normalize_namespace,
    remap_topic_name,
    ros_topic_to_dds,
)
from ior_ros.runtime.ros_args import (
    load_params_file,
    node_pattern_matches,
    parse_param_value,
    parse_ros_args,
    strip_ros_args,
)


@pytest.mark.parametrize('topic, ns, expected', [
    ('chatter', '/', '/chatter'),
    ('chatter', '/robot1', '/robot1/chatter'),
    ('/abs', '/robot1', '/abs'),
    ('~', '/robot1', '/robot1/node'),
    ('~/state', '/robot1', '/robot1/node/state'),
    ('{node}/out', '/a/b', '/a/b/node/out'),
    ('sub/topic', 'a', '/a/sub/topic'),
])
def test_topic_expansion(topic: str, ns: str, expected: str) -> None:
    assert expand_topic_name(topic, 'node', ns) == expected


@pytest.mark.parametrize('topic', ['', 'a//b', 'a/', '1abc', 'has space', '~x', '{nope}'])
def test_invalid_topic_names(topic: str) -> None:
    with pytest.raises(NameError_):
        expand_topic_name(topic, 'node', '/')


def test_namespaces() -> None:
    assert normalize_namespace('') == '/'
    assert normalize_namespace('demo') == '/demo'
    assert normalize_namespace('/a/b/') == '/a/b'
    with pytest.raises(NameError_):
        normalize_namespace('/a/1b')


def test_remap_rules_first_match_and_node_specific() -> None:
    rules = [RemapRule('other_node_only', '/x', node='other'),
             RemapRule('chatter', 'news'), RemapRule('chatter', '/ignored'),
             RemapRule('~/private', '/global_private'),
             RemapRule('other_node_only', '/mine', node='talker')]
    assert remap_topic_name('chatter', 'talker', '/demo', rules) == '/demo/news'
    assert remap_topic_name('/demo/chatter', 'talker', '/demo', rules) == '/demo/news'
    assert remap_topic_name('~/private', 'talker', '/demo', rules) == '/global_private'
    assert remap_topic_name('other_node_only', 'talker', '/', rules) == '/mine'
    assert remap_topic_name('unrelated', 'talker', '/', rules) == '/unrelated'


def test_dds_topic_mapping() -> None:
    assert ros_topic_to_dds('/ns/scan') == 'rt/ns/scan'
    assert dds_topic_to_ros('rt/ns/scan') == '/ns/scan'
    assert dds_topic_to_ros('ros_discovery_info') is None


def test_ros_args_as_ros2_launch_passes_them(tmp_path: Path) -> None:
    params = tmp_path / 'p.yaml'
    params.write_text('/**:\n  ros__parameters:\n    rate_hz: 10.0\n', encoding='utf-8')
    argv = ['talker', 'user_arg', '--ros-args', '-r', '__node:=renamed', '-r', '__ns:=/robot',
            '--params-file', str(params), '-p', 'count:=3', '-p', 'talker:gains:=[1.0, 2]',
            '-r', 'chatter:=news', '--log-level', 'debug', '--', 'after']
    args = parse_ros_args(argv)
    assert args.user_args == ['talker', 'user_arg', 'after']
    assert strip_ros_args(argv) == ['talker', 'user_arg', 'after']
    assert args.node_name_override('talker') == 'renamed'
    assert args.namespace_override('talker') == '/robot'
    assert args.log_level == 'debug'
    overrides = args.parameter_overrides('talker', '/robot')
    assert overrides == {'rate_hz': 10.0, 'count': 3, 'gains': [1.0, 2.0]}
    assert args.parameter_overrides('other', '/robot') == {'rate_hz': 10.0, 'count': 3}
    assert [(r.source, r.target) for r in args.remaps][-1] == ('chatter', 'news')


def test_unknown_ros_argument_is_an_error() -> None:
    with pytest.raises(RosArgsError, match="unknown ROS argument '--bogus'"):
        parse_ros_args(['--ros-args', '--bogus'])
    with pytest.raises(RosArgsError, match='needs a value'):
        parse_ros_args(['--ros-args', '-p'])
    with pytest.raises(RosArgsError, match="expected 'name:=value'"):
        parse_ros_args(['--ros-args', '-p', 'novalue'])


@pytest.mark.parametrize('text, value', [('1', 1), ('1.5', 1.5), ('true', True),
                                         ('hello', 'hello'), ('[1, 2]', [1, 2]),
                                         ('[1, 2.5]', [1.0, 2.5]), ("'007'", '007'),
                                         ('', '')])
def test_param_values_are_read_as_yaml(text: str, value: object) -> None:
    assert parse_param_value(text) == value


@pytest.mark.parametrize('pattern, fqn, expected', [
    ('/**', '/a/b/node', True), ('/*', '/node', True), ('/*', '/a/node', False),
    ('/a/*', '/a/node', True), ('/**/node', '/node', True), ('/**/node', '/x/y/node', True),
    ('/**/node', '/x/other', False), ('node', '/node', True), ('node', '/a/node', False),
    ('/a/node', '/a/node', True), ('/a/no*', '/a/node', True)])
def test_node_patterns(pattern: str, fqn: str, expected: bool) -> None:
    assert node_pattern_matches(pattern, fqn) is expected


def test_params_file_wildcards_nesting_and_order(tmp_path: Path) -> None:
    path = tmp_path / 'params.yaml'
    path.write_text(
        '/**:\n'
        '  ros__parameters:\n'
        '    shared: 1\n'
        '    label: wildcard\n'
        'robot1:\n'
        '  controller:\n'
        '    ros__parameters:\n'
        '      label: specific\n'
        '      gains:\n'
        '        kp: 2.0\n'
        '        kd: [0.1, 0.2]\n'
        '/robot1/*:\n'
        '  ros__parameters:\n'
        '    level: one\n', encoding='utf-8')
    args = parse_ros_args(['--ros-args', '--params-file', str(path)])
    assert args.parameter_overrides('controller', '/robot1') == {
        'shared': 1, 'label': 'specific', 'gains.kp': 2.0, 'gains.kd': [0.1, 0.2],
        'level': 'one'}
    assert args.parameter_overrides('controller', '/robot2') == {'shared': 1,
                                                                 'label': 'wildcard'}


@pytest.mark.parametrize('text, line, pattern', [
    ('/**:\n  ros__parameters:\n    a: [1, 2\n', 3, 'malformed YAML'),
    ('/**:\n  ros__parameters:\n    a: 1\n  b: 2\n', 4, 'expected "ros__parameters:"'),
    ('node:\n  ros__parameters:\n    mixed: [1, "a"]\n', 3, 'mixes types'),
    ('ros__parameters:\n  a: 1\n', 1, 'must be under a node name'),
    ('/**:\n  ros__parameters: 5\n', 2, 'must be a mapping'),
    ('- a\n- b\n', 1, 'expected a mapping of node names'),
])
def test_malformed_params_file_names_file_and_line(tmp_path: Path, text: str, line: int,
                                                   pattern: str) -> None:
    path = tmp_path / 'bad.yaml'
    path.write_text(text, encoding='utf-8')
    with pytest.raises(ParameterFileError) as info:
        load_params_file(path)
    assert str(info.value).startswith(f'{path}:{line}: '), str(info.value)
    assert pattern in str(info.value)
