"""
Parameter descriptors against the real ROS 2: ``ros2 param set``/``describe`` on our talker,
the same descriptors on an rclpy node answering ``ior param set`` and ``ros2 param describe``
exactly as ours, and ``ros2 node list``'s warning for our nodes sharing a name.

Needs ROS 2 Jazzy (marked ``ros2``); our nodes run from the source tree on the DDS backend, the
rclpy ones with this package built by colcon.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rt_helpers import RosEnv

from ior_ros.runtime.graph import SHARED_NAME_WARNING

pytestmark = [pytest.mark.ros2, pytest.mark.xdist_group('dds'), pytest.mark.timeout(400)]

PROBE = Path(__file__).with_name('rt_param_probe.py')
RANGE = 'Parameter period_s out of range Min: 0.001, Max: 3600.0, value:'


def test_ros2_param_set_and_describe_on_our_talker(ros: RosEnv) -> None:
    talker = ros.node('talker', '-r', '__ns:=/demo', '-p', 'period_s:=0.5')
    talker.wait_for('Publishing', timeout=90)
    for name, value, reason in (
            ('period_s', '-1.0', f'{RANGE} -1.0'), ('period_s', '.nan', f'{RANGE} nan'),
            ('period_s', '0.0000001', f'{RANGE} 1e-07'),
            ('period_s', 'fast', "Wrong parameter type, expected 'Type.DOUBLE' got "
                                 "'Type.STRING'"),
            ('count', '5', 'Trying to set a read-only parameter: count.')):
        done = ros.run_ros2('param', 'set', '/demo/talker', name, value, '--no-daemon',
                            '--timeout', '20')
        # ros2 param set prints a refusal on stderr and exits 0 (ior param set exits 2)
        assert (done.returncode, done.stdout, done.stderr.strip()) == (
            0, '', f'Setting parameter failed: {reason}'), (value, done.stdout, done.stderr)
    names = ('period_s', 'count', 'reliability', 'prefix')
    theirs = ros.run_ros2('param', 'describe', '/demo/talker', *names, '--no-daemon',
                          '--timeout', '20')
    ours = ros.run_ior('param', 'describe', '/demo/talker', *names, '--timeout', '30')
    assert theirs.returncode == 0 and '    Min value: 0.001' in theirs.stdout, theirs.stderr
    assert ours.stdout == theirs.stdout

    twin = ros.node('talker', '-r', '__ns:=/demo', '-p', 'prefix:=twin')
    twin.wait_for(r'\[WARN\] .*share an exact name', timeout=60)
    listed = ros.run_ros2('node', 'list', '--no-daemon', '--spin-time', '3')
    assert listed.stderr.strip() == f'WARNING: {SHARED_NAME_WARNING}', listed.stderr
    assert listed.stdout.split().count('/demo/talker') == 2
    twin.interrupt()
    talker.interrupt()


def test_the_same_descriptors_on_rclpy_refuse_and_describe_alike(ros: RosEnv) -> None:
    ours = ros.start(str(PROBE), '--ros-args', '-r', '__ns:=/ours')
    theirs = ros.rclpy(PROBE.read_text(encoding='utf-8'), '--ros-args', '-r', '__ns:=/theirs')
    ours.wait_for('^READY$', timeout=90)
    theirs.wait_for('^READY$', timeout=90)
    from ior_ros.runtime.param_tools import param_set

    ros.apply()
    answers = {}
    for name, value in (('period_s', '-1.0'), ('period_s', '.nan'), ('period_s', '-.inf'),
                        ('period_s', '3600.0'), ('period_s', '1'), ('fstep', '0.15'),
                        ('fstep', '0.3'), ('fstep', '1.0'), ('istep', '3'), ('istep', '12'),
                        ('istep', '4'), ('fixed', 'b')):
        answers[name, value] = param_set('/ours/probe', name, value, 30)
        assert answers[name, value] == param_set('/theirs/probe', name, value, 30), (name, value)
    assert answers['fstep', '0.15'] == (
        False, 'The parameter value for fstep is not close enough to a valid step. Min: 0.0, '
               'max: 1.0, value: 0.15, step: 0.1')
    assert [answers['fstep', '0.3'], answers['istep', '4']] == [(True, '')] * 2
    for args in (('period_s', '-1.0'), ('nope', '1')):  # printed alike, exit 2 alike
        mine = ros.run_ior('param', 'set', '/ours/probe', *args, '--timeout', '30')
        real = ros.run_ior('param', 'set', '/theirs/probe', *args, '--timeout', '30')
        assert mine.returncode == real.returncode == 2, (mine.stderr, real.stderr)
        assert (mine.stdout, mine.stderr.replace('/ours/', '/theirs/')) == (real.stdout,
                                                                             real.stderr)
    names = ('period_s', 'fstep', 'istep', 'fixed')
    described = [ros.run_ros2('param', 'describe', f'/{side}/probe', *names, '--no-daemon',
                              '--timeout', '20').stdout for side in ('ours', 'theirs')]
    assert described[0] == described[1] and '    Step: 2\n' in described[0], described
    assert ros.run_ior('param', 'describe', '/ours/probe', *names).stdout == described[1]
    ours.interrupt()
    theirs.interrupt()
