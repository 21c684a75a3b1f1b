"""
The package on a real ROS 2 Jazzy, as a ROS user installs it: ``colcon build`` from a clean copy,
then messages, executables and launch files through the ros2 tools (Debian's python, as
``ros2 run`` uses it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import rt_ros2
from rt_helpers import Proc, next_domain_id, wait_until

pytestmark = [pytest.mark.ros2, pytest.mark.xdist_group('dds'), pytest.mark.timeout(900)]

REPO = rt_ros2.REPO
MESSAGES = sorted(p.stem for p in (REPO / 'msg').glob('*.msg'))
NODE_MODULES = sorted(p.stem for p in (REPO / 'ior_ros' / 'nodes').glob('*.py')
                      if not p.stem.startswith('_'))
LAUNCH_FILES = sorted(p.name for p in (REPO / 'launch').glob('*.launch.*'))


@pytest.fixture(scope='module')
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], float, str]:
    """A fresh colcon workspace holding a clean copy of the repo, built once for this module."""
    workspace = tmp_path_factory.mktemp('colcon_ws')
    rt_ros2.copy_package(workspace / 'src' / 'ior_ros')
    start = time.monotonic()
    result = rt_ros2.colcon_build(workspace, rt_ros2.ros_environment())
    seconds = time.monotonic() - start
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    env = rt_ros2.sourced_environment(workspace / 'install' / 'setup.bash',
                                      base=rt_ros2.ros_environment())
    env = rt_ros2.domain_environment(env, next_domain_id(), workspace / 'ros_log')
    env.pop('IOR_ROS_BACKEND', None)  # the default: rclpy, since it imports
    print(f'\ncolcon build of ior_ros from a clean copy: {seconds:.1f} s')
    return workspace, env, seconds, result.stdout


def _run(env: dict[str, str], *args: str, timeout: float = 120.0
         ) -> subprocess.CompletedProcess[str]:
    # run outside the checkout, so that nothing imports from the source tree by accident
    return subprocess.run(list(args), env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=env['ROS_LOG_DIR'].rsplit('/', 1)[0])


def test_colcon_build_succeeds_without_warnings_about_the_package(built) -> None:  # type: ignore[no-untyped-def]
    workspace, _, seconds, stdout = built
    assert 'Finished <<< ior_ros' in stdout
    install = workspace / 'install' / 'ior_ros'
    site = next((install / 'lib').glob('python3*/site-packages/ior_ros'))
    # the generated messages and the source tree share one package folder
    assert (site / 'msg' / '__init__.py').is_file()
    assert (site / 'runtime' / 'node.py').is_file() and (site / 'core').is_dir()
    assert seconds > 0


def test_messages_import_beside_the_package_with_the_ros_python(built) -> None:  # type: ignore[no-untyped-def]
    _, env, _, _ = built
    names = ', '.join(MESSAGES)
    code = (f'import ior_ros, ior_ros.runtime.exec\n'
            f'from ior_ros.msg import {names}\n'
            f'print(ior_ros.__file__)\n'
            f'for cls in ({names}):\n'
            f'    print(cls.__module__, type(cls()).__name__)\n')
    done = _run(env, '/usr/bin/python3', '-c', code)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(str(built[0] / 'install')), lines[0]
    assert sorted(line.split()[1] for line in lines[1:]) == MESSAGES


@pytest.mark.parametrize('name', MESSAGES)
def test_ros2_interface_show_prints_each_message(built, name: str) -> None:  # type: ignore[no-untyped-def]
    _, env, _, _ = built
    done = _run(env, 'ros2', 'interface', 'show', f'ior_ros/msg/{name}')
    assert done.returncode == 0, done.stderr
    source = (REPO / 'msg' / f'{name}.msg').read_text(encoding='utf-8')
    fields = [line.split('#')[0].split()[:2] for line in source.splitlines()
              if line.split('#')[0].strip()]
    top = [line.split('#')[0].split()[:2] for line in done.stdout.splitlines()
           if line.strip() and not line.startswith(('\t', ' ')) and not line.startswith('#')]
    assert top == fields


def test_pkg_executables_lists_every_node(built) -> None:  # type: ignore[no-untyped-def]
    _, env, _, _ = built
    done = _run(env, 'ros2', 'pkg', 'executables', 'ior_ros')
    assert done.returncode == 0, done.stderr
    listed = {line.split()[1] for line in done.stdout.splitlines() if line.startswith('ior_ros ')}
    assert set(NODE_MODULES) | {'ior'} == listed


def _needs_pydantic(env: dict[str, str], workspace: Path, name: str) -> bool:
    """The node imports the core, whose configuration objects need pydantic v2, which ROS 2's
    system python lacks (Debian ships 1.10): it runs with the venv's python first on PATH, as
    the README's 'On a ROS 2 machine' section says (the executables start `env python3`)."""
    probe = subprocess.run(['python3', '-c', f'import ior_ros.nodes.{name}'], env=env,
                           cwd=workspace, capture_output=True, text=True, timeout=120)
    return probe.returncode != 0 and "No module named 'pydantic'" in probe.stderr


def test_ros2_run_starts_every_node(built) -> None:  # type: ignore[no-untyped-def]
    workspace, env, _, _ = built
    executables = NODE_MODULES
    venv_env = dict(env, PATH=f'{Path(sys.executable).parent}{os.pathsep}{env["PATH"]}')
    with_venv = {name for name in executables if _needs_pydantic(env, workspace, name)}
    # modem_client needs its AT port: one that is not there (it warns and retries, as it does
    # while a modem is unplugged)
    extra = {'modem_client': ['-p', 'port:=/tmp/ior_no_modem_here']}
    procs = {name: Proc(['ros2', 'run', 'ior_ros', name, '--ros-args', '-r',
                         f'__node:=run_{name}', *extra.get(name, [])],
                        venv_env if name in with_venv else env, cwd=workspace, group=True)
             for name in executables}
    try:
        expected = {f'/run_{name}' for name in executables}

        def listed() -> bool:
            done = _run(env, 'ros2', 'node', 'list', '--no-daemon', '--spin-time', '2')
            return expected <= set(done.stdout.split())

        assert wait_until(listed, timeout=120, period=0.5), {
            name: proc.text()[-500:] for name, proc in procs.items()}
        for name, proc in procs.items():
            assert proc.proc.poll() is None, f'{name} exited:\n{proc.text()}'
            assert 'Traceback' not in proc.text(), proc.text()
        codes = {name: proc.interrupt() for name, proc in procs.items()}
        assert all(code == 0 for code in codes.values()), codes
    finally:
        for proc in procs.values():
            proc.kill()


def _venv_first(env: dict[str, str]) -> dict[str, str]:
    """``env`` with this venv's python first on PATH: the nodes that import the core need
    pydantic v2, which ROS 2's system python lacks (see _needs_pydantic)."""
    return dict(env, PATH=f'{Path(sys.executable).parent}{os.pathsep}{env["PATH"]}')


@pytest.mark.parametrize('launch_file', LAUNCH_FILES)
def test_ros2_launch_runs_each_launch_file(built, launch_file: str) -> None:  # type: ignore[no-untyped-def]
    """``ros2 launch ior_ros FILE`` starts exactly the processes ``ior launch`` plans for the
    same file and default arguments (includes, conditions and lets followed by both), none
    dies; the closed loop of sim.launch.yaml closes (a command delay reaches /robot/delay)."""
    from ior_ros.runtime.launch_yaml import load_launch

    workspace, env, _, _ = built
    env = _venv_first(env)
    planned = sorted(p.label for p in load_launch(REPO / 'launch' / launch_file, {}).processes)
    proc = Proc(['ros2', 'launch', 'ior_ros', launch_file], env, cwd=workspace, group=True)
    try:
        assert proc.wait_for(r'\[INFO\] \[([\w.-]+)\]: process started with pid', timeout=60,
                             count=len(planned))
        if launch_file == 'sim.launch.yaml':
            echo = _run(env, 'ros2', 'topic', 'echo', '--once', '/robot/delay',
                        'ior_ros/msg/DelayMeasurement', timeout=120)
            assert echo.returncode == 0 and 'one_way_delay_s' in echo.stdout, (
                echo.stderr + proc.text()[-3000:])
        else:
            time.sleep(5.0)  # let every node come up and run a while
        text = proc.text()
        assert 'process has died' not in text and 'Traceback' not in text, text
        names = sorted(set(re.findall(r'\[INFO\] \[([\w.-]+)\]: process started', text)))
        assert names == planned, (names, planned)
        assert proc.interrupt(timeout=60) == 0, proc.text()
    finally:
        proc.kill()
