"""YAML launch files: parsing, substitutions, generated command lines, errors (no process)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ior_ros.runtime.errors import LaunchError
from ior_ros.runtime.launch_yaml import load_launch, parse_launch_arguments, resolve_launch_file
from ior_ros.runtime.ros_args import parse_ros_args

REPO = Path(__file__).resolve().parents[2]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding='utf-8')
    return path


def _ros_args(cmd: list[str]) -> list[str]:
    return cmd[cmd.index('--ros-args'):]


def test_demo_launch_file_builds_the_ros2_launch_command_lines(tmp_path: Path) -> None:
    plan = load_launch(REPO / 'launch' / 'talker_listener.launch.yaml',
                       {'topic': 'news', 'period_s': '0.25'}, temp_dir=tmp_path)
    talker, listener = plan.processes
    assert (talker.label, listener.label) == ('talker-1', 'listener-2')  # one counter
    assert talker.cmd[1:5] == ['-m', 'ior_ros.runtime.exec', 'ior_ros', 'talker']
    args = parse_ros_args(_ros_args(talker.cmd))
    assert args.node_name_override('talker') == 'talker'
    assert args.namespace_override('talker') == '/demo'
    assert args.parameter_overrides('talker', '/demo') == {'period_s': 0.25}
    assert [(r.source, r.target) for r in args.remaps if not r.source.startswith('__')] == \
        [('chatter', 'news')]
    params_file = Path(talker.cmd[talker.cmd.index('--params-file') + 1])
    assert yaml.safe_load(params_file.read_text()) == {
        '/demo/talker': {'ros__parameters': {'period_s': 0.25}}}
    assert [a.name for a in plan.arguments] == ['topic', 'period_s', 'namespace']


def test_groups_scopes_includes_conditions_and_substitutions(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.setenv('IOR_TEST_LABEL', 'from_env')
    params = _write(tmp_path / 'extra.yaml', '/**:\n  ros__parameters:\n    k: 1\n')
    _write(tmp_path / 'child.launch.yaml', """
launch:
  - arg: {name: who, default: nobody}
  - node:
      pkg: ior_ros
      exec: listener
      name: $(var who)
""")
    main = _write(tmp_path / 'main.launch.yaml', """
launch:
  - arg: {name: robot, default: r1}
  - arg: {name: use_extra, default: 'false'}
  - let: {name: twice, value: "$(eval '2 * 21')"}
  - group:
      children:
        - push-ros-namespace: {namespace: $(var robot)}
        - node:
            pkg: ior_ros
            exec: talker
            name: talker
            namespace: arm
            param:
              - {name: label, value: $(env IOR_TEST_LABEL)}
              - {name: other, value: $(optenv IOR_TEST_UNSET_VARIABLE fallback)}
              - {name: answer, value: $(var twice)}
              - {name: gains, value: [1.0, 2.0]}
              - name: nested
                param:
                  - {name: depth, value: 3}
              - from: $(dirname)/extra.yaml
        - node:
            if: $(var use_extra)
            pkg: ior_ros
            exec: talker
            name: extra
  - node:
      unless: $(var use_extra)
      pkg: ior_ros
      exec: talker
      name: outside
  - include:
      file: $(dirname)/child.launch.yaml
      arg:
        - {name: who, value: included_$(var robot)}
""")
    plan = load_launch(main, parse_launch_arguments(['robot:=r7']), temp_dir=tmp_path / 't')
    labels = [p.label for p in plan.processes]
    # as launch labels processes: executable (or exec_name), then one counter for the launch
    assert labels == ['talker-1', 'talker-2', 'listener-3']
    talker = parse_ros_args(_ros_args(plan.processes[0].cmd))
    assert talker.namespace_override('talker') == '/r7/arm'
    overrides = talker.parameter_overrides('talker', '/r7/arm')
    assert overrides == {'label': 'from_env', 'other': 'fallback', 'answer': 42,
                         'gains': [1.0, 2.0], 'nested.depth': 3, 'k': 1}
    assert str(params) in plan.processes[0].cmd
    outside = parse_ros_args(_ros_args(plan.processes[1].cmd))
    assert outside.namespace_override('talker') is None  # the group's namespace ended with it
    plan2 = load_launch(main, {'use_extra': 'true'}, temp_dir=tmp_path / 't2')
    # 'outside' is skipped (unless): a process that does not start takes no number
    assert [p.label for p in plan2.processes] == ['talker-1', 'talker-2', 'listener-3']


def test_required_and_output_flags(tmp_path: Path) -> None:
    path = _write(tmp_path / 'r.launch.yaml', """
launch:
  - node: {pkg: ior_ros, exec: talker, name: a, on_exit: shutdown, output: screen}
  - node: {pkg: ior_ros, exec: listener, name: b, required: true}
  - node: {pkg: ior_ros, exec: listener, name: c, respawn: true, respawn_delay: 0.5}
""")
    a, b, c = load_launch(path, temp_dir=tmp_path / 't').processes
    assert (a.required, a.output) == (True, 'screen')
    assert (b.required, b.output) == (True, 'log')
    assert (c.required, c.respawn, c.respawn_delay_s) == (False, True, 0.5)


@pytest.mark.parametrize('text, line, pattern', [
    ('launch:\n  - node:\n      pkg: ior_ros\n      exec: talker\n    name: [x\n', 5,
     'malformed YAML'),
    ('launch:\n  - node: {pkg: ior_ros, exec: talker, name: $(bogus x)}\n', 2,
     r"unknown substitution '\$\(bogus x\)'"),
    ('launch:\n  - arg: {name: a, default: x}\n  - node:\n      pkg: ior_ros\n'
     '      exec: $(var b)\n', 5, "launch argument 'b' is not declared"),
    ('launch:\n  - nodee: {pkg: ior_ros, exec: talker}\n', 2, "unknown launch tag 'nodee'"),
    ('launch:\n  - node:\n      pkg: ior_ros\n      exec: talker\n      colour: red\n', 5,
     "unknown attribute 'colour'"),
    ('launch:\n  - node: {exec: talker}\n', 2, "missing required attribute 'pkg'"),
    ('launch:\n  - arg: {name: needed}\n', 2, 'has no default and was not given'),
    ('launch:\n  - node: {pkg: ior_ros, exec: talker, name: "$(env IOR_SURELY_UNSET_VAR)"}\n',
     2, "environment variable 'IOR_SURELY_UNSET_VAR' is not set"),
    ('launch:\n  - node: {pkg: ior_ros, exec: talker, if: maybe}\n', 2, 'is not a boolean'),
    ('launch:\n  - node: {pkg: ior_ros, exec: talker, name: "$(var x"}\n', 2, 'unterminated'),
    ('launch:\n  - node:\n      pkg: ior_ros\n      exec: talker\n      param:\n'
     '        - from: missing.yaml\n', 6, 'parameter file'),
    ('nodes: []\n', 1, "the key 'launch'"),
    ('launch:\n  - node: {pkg: no_such_pkg_anywhere, exec: talker}\n', 2, 'not found'),
])
def test_launch_errors_name_file_and_line(tmp_path: Path, text: str, line: int,
                                          pattern: str) -> None:
    path = _write(tmp_path / 'bad.launch.yaml', text)
    with pytest.raises(LaunchError) as info:
        load_launch(path, temp_dir=tmp_path / 't')
    message = str(info.value)
    assert message.startswith(f'{path}:{line}: '), message
    assert __import__('re').search(pattern, message), message


def test_bad_params_file_in_launch_names_the_params_file(tmp_path: Path) -> None:
    _write(tmp_path / 'bad_params.yaml', '/**:\n  ros__parameters:\n    a: {b: [1, c}\n')
    path = _write(tmp_path / 'x.launch.yaml', 'launch:\n  - node:\n      pkg: ior_ros\n'
                  '      exec: talker\n      param:\n        - from: bad_params.yaml\n')
    with pytest.raises(Exception, match=r'bad_params\.yaml:3: malformed YAML'):
        load_launch(path, temp_dir=tmp_path / 't')


def test_launch_arguments_and_file_lookup() -> None:
    assert parse_launch_arguments(['a:=1', 'b:=x:=y']) == {'a': '1', 'b': 'x:=y'}
    with pytest.raises(LaunchError, match="expected 'name:=value'"):
        parse_launch_arguments(['a=1'])
    found = resolve_launch_file('ior_ros', 'talker_listener.launch.yaml')
    assert found == REPO / 'launch' / 'talker_listener.launch.yaml'
    with pytest.raises(LaunchError, match='not found'):
        resolve_launch_file('ior_ros', 'nope.launch.yaml')


def test_let_takes_if_and_unless_as_every_launch_action(tmp_path: Path) -> None:
    main = _write(tmp_path / 'let.launch.yaml', """
launch:
  - arg: {name: mode, default: a}
  - let: {name: where, value: /first, if: "$(equals $(var mode) a)"}
  - let: {name: where, value: /second, unless: "$(equals $(var mode) a)"}
  - node: {pkg: ior_ros, exec: listener, name: l, remap: [{from: chatter, to: $(var where)/x}]}
""")
    for mode, where in (('a', '/first'), ('b', '/second')):
        (node,) = load_launch(main, {'mode': mode}, temp_dir=tmp_path).processes
        remaps = parse_ros_args(_ros_args(node.cmd)).remaps
        assert [(r.source, r.target) for r in remaps if r.source == 'chatter'] == \
            [('chatter', f'{where}/x')]


def _remap_of(node_cmd: list[str], source: str) -> str:
    (target,) = [r.target for r in parse_ros_args(_ros_args(node_cmd)).remaps
                 if r.source == source]
    return target


def _params_given(cmd: list[str]) -> dict[str, object]:
    """Every parameter the --params-file arguments of one command line set (later files win)."""
    given: dict[str, object] = {}
    for index, arg in enumerate(cmd[:-1]):
        if arg == '--params-file':
            for params in yaml.safe_load(Path(cmd[index + 1]).read_text()).values():
                given.update(params['ros__parameters'])
    return given


def test_system_launch_files_wire_the_closed_loop(tmp_path: Path) -> None:
    """edge_server.launch.yaml with network:=none talks to /robot/* directly; with the
    emulator the operator's topics are /teleop/* and the emulator relays them."""
    edge = load_launch(REPO / 'launch' / 'edge_server.launch.yaml',
                       {'network': 'none', 'twin': 'false', 'broker': 'false'},
                       temp_dir=tmp_path)
    (operator,) = edge.processes
    assert _remap_of(operator.cmd, 'cmd') == '/robot/cmd'
    robot = load_launch(REPO / 'launch' / 'robot.launch.yaml', {}, temp_dir=tmp_path)
    (controller,) = robot.processes
    assert _remap_of(controller.cmd, 'cmd') == '/robot/cmd'
    assert _remap_of(controller.cmd, 'twin_prediction') == '/robot/twin_prediction'
    sim = load_launch(REPO / 'launch' / 'sim.launch.yaml', {'twin': 'false', 'broker': 'false'},
                      temp_dir=tmp_path)
    by_name = {p.label.rsplit('-', 1)[0]: p for p in sim.processes}
    assert set(by_name) == {'teleop_operator', 'ran_emulator', 'robot_controller'}
    assert _remap_of(by_name['teleop_operator'].cmd, 'cmd') == '/teleop/cmd'
    emulator = by_name['ran_emulator'].cmd
    assert (_remap_of(emulator, 'cmd_in'), _remap_of(emulator, 'cmd_out')) == \
        ('/teleop/cmd', '/robot/cmd')
    assert (_remap_of(emulator, 'state_in'), _remap_of(emulator, 'state_out')) == \
        ('/robot/state', '/teleop/state')
    launched = _params_given(emulator)
    assert launched['publish_clock'] is True and launched['real_time_factor'] == 1.0
    assert launched['clock_period_s'] == 0.001  # the sim-time nodes' clock resolution
    controller = _params_given(by_name['robot_controller'].cmd)
    assert controller['use_sim_time'] is True and controller['twin_gate'] is False


def test_quoted_literal_stays_text_substituted_text_is_typed(tmp_path: Path) -> None:
    """As launch_ros parses YAML ``param`` values: text without substitutions is kept as a
    string (``value: "true"`` is 'true', which a bool parameter refuses, under ros2 launch too);
    the result of a substitution is typed as YAML (``$(var t)`` with t = true is a bool)."""
    path = _write(tmp_path / 'typed.launch.yaml', """
launch:
  - arg: {name: t, default: 'true'}
  - node:
      pkg: ior_ros
      exec: talker
      name: talker
      param:
        - {name: quoted, value: "true"}
        - {name: plain, value: true}
        - {name: substituted, value: $(var t)}
        - {name: number_text, value: "0.5"}
        - {name: number, value: $(var t)_x}
""")
    plan = load_launch(path, {}, temp_dir=tmp_path / 't')
    args = parse_ros_args(_ros_args(plan.processes[0].cmd))
    assert args.parameter_overrides('talker', '/') == {
        'quoted': 'true', 'plain': True, 'substituted': True, 'number_text': '0.5',
        'number': 'true_x'}
