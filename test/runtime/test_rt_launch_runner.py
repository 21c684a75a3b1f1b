"""ior launch with real node processes: output prefixes, SIGKILL of one node, required nodes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from rt_helpers import RosEnv, both_backends, wait_until

pytestmark = [pytest.mark.xdist_group('dds'), pytest.mark.timeout(300)]

LAUNCH = """
launch:
  - arg: {{name: period_s, default: '0.2'}}
  - node:
      pkg: ior_ros
      exec: talker
      exec_name: victim
      name: victim
      output: screen
      {victim_extra}
      param:
        - {{name: period_s, value: $(var period_s)}}
      remap:
        - {{from: chatter, to: victim_chatter}}
  - node:
      pkg: ior_ros
      exec: talker
      name: talker
      output: screen
      param:
        - {{name: period_s, value: $(var period_s)}}
  - node:
      pkg: ior_ros
      exec: listener
      name: listener
      output: screen
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        with open(f'/proc/{pid}/stat', encoding='utf-8') as handle:
            return handle.read().split(')')[-1].split()[0] != 'Z'
    except OSError:
        return False


def _pids(launch) -> dict[str, int]:  # type: ignore[no-untyped-def]
    found = launch.matches(r'\[INFO\] \[(\w+)-\d+\]: process started with pid \[(\d+)\]')
    return {m.group(1): int(m.group(2)) for m in found}


@both_backends
def test_killed_node_leaves_the_others_running_and_ctrl_c_stops_all(ros: RosEnv,
                                                                    tmp_path: Path) -> None:
    path = tmp_path / 'three.launch.yaml'
    path.write_text(LAUNCH.format(victim_extra=''), encoding='utf-8')
    launch = ros.ior('launch', str(path), 'period_s:=0.1')
    launch.wait_for(r'^\[listener-3\] \[INFO\] .*\[listener\]: I heard: \[Hello World: \d+\]$',
                    timeout=120)
    launch.wait_for(r'^\[victim-1\] \[INFO\] .*\[victim\]: Publishing', timeout=60)
    pids = _pids(launch)
    assert set(pids) == {'victim', 'talker', 'listener'}
    os.kill(pids['victim'], signal.SIGKILL)
    launch.wait_for(rf"\[ERROR\] \[victim-1\]: process has died \[pid {pids['victim']}, exit "
                    r'code -9 \(SIGKILL\)', timeout=60)
    heard = r'^\[listener-3\] \[INFO\] .*\[listener\]: I heard'  # node logs go to stderr
    heard_before = len(launch.matches(heard))
    launch.wait_for(heard, timeout=60, count=heard_before + 5)
    assert launch.proc.poll() is None
    assert _alive(pids['talker']) and _alive(pids['listener'])
    assert launch.interrupt(timeout=60) == 0
    assert wait_until(lambda: not _alive(pids['talker']) and not _alive(pids['listener']),
                      timeout=30)
    assert launch.matches(r'\[INFO\] \[listener-3\]: process has finished cleanly')


@both_backends
def test_required_node_dying_stops_the_launch_naming_it(ros: RosEnv, tmp_path: Path) -> None:
    path = tmp_path / 'required.launch.yaml'
    path.write_text(LAUNCH.format(victim_extra='on_exit: shutdown'), encoding='utf-8')
    launch = ros.ior('launch', str(path))
    launch.wait_for(r'^\[victim-1\] \[INFO\] .*Publishing', timeout=120)
    pids = _pids(launch)
    os.kill(pids['victim'], signal.SIGKILL)
    code = launch.wait(timeout=90)
    assert code != 0
    assert launch.matches(r"ior: error: required node 'victim' \(victim-1, .*required\.launch"
                          r'\.yaml:\d+\) exited with code -9 \(SIGKILL\); the launch was '
                          'stopped'), launch.text()
    assert wait_until(lambda: not _alive(pids['talker']) and not _alive(pids['listener']),
                      timeout=30)


def test_launch_input_errors_are_one_line_with_file_and_line(ros: RosEnv,
                                                             tmp_path: Path) -> None:
    bad = tmp_path / 'bad.launch.yaml'
    bad.write_text('launch:\n  - node:\n      pkg: ior_ros\n      exec: $(nope x)\n',
                   encoding='utf-8')
    result = ros.run_ior('launch', str(bad))
    assert result.returncode == 2
    assert result.stderr.strip() == (f"ior: error: {bad}:4: unknown substitution '$(nope x)' "
                                     '(known: var, env, optenv, find-pkg-share, '
                                     'find-pkg-prefix, dirname, filename, anon, eval, not, and, '
                                     'or, equals, not-equals)')
    shown = ros.run_ior('launch', 'ior_ros', 'talker_listener.launch.yaml', '--show-args')
    assert shown.returncode == 0 and "'topic':" in shown.stdout


def test_bad_input_errors_through_the_cli(ros: RosEnv, tmp_path: Path) -> None:
    unknown = ros.run_ior('topic', 'pub', '/x', 'std_msgs/msg/Strin', '{data: a}', '--once')
    assert unknown.returncode == 2
    assert "unknown message type 'std_msgs/msg/Strin'" in unknown.stderr
    params = tmp_path / 'params.yaml'
    params.write_text('/**:\n  ros__parameters:\n    a: 1\n   b: 2\n', encoding='utf-8')
    node = ros.node('param_reporter', '--params-file', str(params))
    assert node.wait(timeout=90) == 2
    assert f'{params}:4: malformed YAML' in node.text()
    pkg = tmp_path / 'msgs' / 'demo_pkg' / 'msg'
    pkg.mkdir(parents=True)
    (pkg / 'Broken.msg').write_text('float64 x  # [m]\nfloat64 y z w\nstring[ name\n',
                                    encoding='utf-8')
    env_ior = dict(ros.env, IOR_ROS_MSG_PATH=str(tmp_path / 'msgs'))
    import subprocess
    import sys

    result = subprocess.run([sys.executable, '-m', 'ior_ros.cli', 'topic', 'pub', '/y',
                             'demo_pkg/msg/Broken', '{}', '--once'], env=env_ior,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert f"{pkg / 'Broken.msg'}:2: field y: default value 'z w' is not a float64" in \
        result.stderr, result.stderr
