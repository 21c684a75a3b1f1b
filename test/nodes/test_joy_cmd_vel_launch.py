"""
The launch files' ``robot`` and ``input`` arguments: robot.launch.yaml ``robot:=cmd_vel`` sets
the controller's ``robot`` parameter and puts ``cmd_vel``/``odom_in`` on the base's topics
(``/cmd_vel``, ``/odom`` unless ``cmd_vel_topic``/``odom_in_topic`` say otherwise);
edge_server.launch.yaml ``input:=joy`` sets the operator's ``input`` and reads ``/joy``; the
defaults leave the simulation as it was. The real ``ros2 launch`` parses both files and lists
the arguments.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from rt_helpers import REPO

from ior_ros.runtime.launch_yaml import load_launch


def _node(path: str, args: dict[str, str], name: str, tmp_path: Path) -> list[str]:
    plan = load_launch(REPO / 'launch' / path, args, temp_dir=tmp_path)
    (cmd,) = [p.cmd for p in plan.processes if p.node_name == name]
    return cmd


def _remaps(cmd: list[str]) -> dict[str, str]:
    """``-r from:=to`` of one node's command line."""
    pairs = [cmd[i + 1].split(':=') for i, arg in enumerate(cmd[:-1]) if arg == '-r']
    return {source: target for source, target in pairs if not source.startswith('__')}


def _launched(cmd: list[str]) -> dict[str, object]:
    """The parameters the launch file itself set (its own --params-file, the last one)."""
    files = [cmd[i + 1] for i, arg in enumerate(cmd[:-1]) if arg == '--params-file']
    (params,) = yaml.safe_load(Path(files[-1]).read_text(encoding='utf-8')).values()
    return dict(params['ros__parameters'])


def test_robot_argument_drives_a_real_base_on_its_topics(tmp_path: Path) -> None:
    default = _node('robot.launch.yaml', {}, 'robot_controller', tmp_path)
    assert _launched(default)['robot'] == 'simulated'
    real = _node('robot.launch.yaml', {'robot': 'cmd_vel'}, 'robot_controller', tmp_path)
    assert _launched(real)['robot'] == 'cmd_vel'
    remaps = _remaps(real)
    assert (remaps['cmd_vel'], remaps['odom_in']) == ('/cmd_vel', '/odom')
    assert remaps['odom'] == '/robot/odom'  # its own odometry stays apart from the base's
    moved = _node('robot.launch.yaml', {'robot': 'cmd_vel', 'cmd_vel_topic': '/base/cmd_vel',
                                        'odom_in_topic': '/base/odom'}, 'robot_controller',
                  tmp_path)
    assert (_remaps(moved)['cmd_vel'], _remaps(moved)['odom_in']) == \
        ('/base/cmd_vel', '/base/odom')


def test_input_argument_reads_the_joystick_on_joy(tmp_path: Path) -> None:
    edge = {'network': 'none', 'twin': 'false', 'broker': 'false'}
    default = _node('edge_server.launch.yaml', edge, 'teleop_operator', tmp_path)
    assert _launched(default)['input'] == 'reference'
    joy = _node('edge_server.launch.yaml', {**edge, 'input': 'joy'}, 'teleop_operator', tmp_path)
    assert _launched(joy)['input'] == 'joy' and _remaps(joy)['joy'] == '/joy'
    sim = _node('sim.launch.yaml', {'twin': 'false', 'broker': 'false'}, 'teleop_operator',
                tmp_path)
    assert _launched(sim)['input'] == 'reference'


@pytest.mark.ros2
def test_real_ros2_launch_lists_the_arguments() -> None:
    import rt_ros2

    env = rt_ros2.ros_environment()
    for path, names in (('robot.launch.yaml', ('robot', 'cmd_vel_topic', 'odom_in_topic')),
                        ('edge_server.launch.yaml', ('input',))):
        out = subprocess.run(['ros2', 'launch', str(REPO / 'launch' / path), '--show-args'],
                             env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        for name in names:
            assert f"'{name}':" in out.stdout, out.stdout
