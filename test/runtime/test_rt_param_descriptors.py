"""
Parameter descriptors (ranges, read-only, descriptions), start values a descriptor refuses,
``ior param set``/``describe`` and nodes that share a name, on the DDS runtime.

The expected reasons are rclpy's (Jazzy) as ``ros2 param set`` printed them against a real
rclpy node declaring the same descriptors; test_ros2_param_descriptors.py checks them against
the real thing again, beside our nodes.
"""

from __future__ import annotations

import math
import os
import re
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rt_helpers import RosEnv, both_backends, wait_until

from ior_ros.runtime.parameter_checks import check_descriptor
from ior_ros.runtime.parameters import (
    FloatingPointRange,
    IntegerRange,
    InvalidParameterValueException,
    Parameter,
    ParameterDescriptor,
    ParameterType,
)

pytestmark = [pytest.mark.xdist_group('dds'), pytest.mark.timeout(240)]

PERIOD = ParameterDescriptor(type=int(ParameterType.DOUBLE),
                             floating_point_range=[FloatingPointRange(0.001, 3600.0)])
FSTEP = ParameterDescriptor(type=int(ParameterType.DOUBLE),
                            floating_point_range=[FloatingPointRange(0.0, 1.0, 0.1)])
ISTEP = ParameterDescriptor(type=int(ParameterType.INTEGER),
                            integer_range=[IntegerRange(0, 10, 2)])


def _reason(name: str, value: object, descriptor: ParameterDescriptor,
            check_read_only: bool = True) -> str:
    result = check_descriptor(Parameter(name, value=value), descriptor,
                              check_read_only=check_read_only, declared=True)
    return 'ok' if result.successful else result.reason


def test_descriptor_checks_give_rclpys_reasons() -> None:
    # word for word what `ros2 param set` printed against an rclpy node with these descriptors
    assert _reason('period_s', -1.0, PERIOD) == ('Parameter period_s out of range Min: 0.001, '
                                                 'Max: 3600.0, value: -1.0')
    assert _reason('period_s', math.nan, PERIOD) == ('Parameter period_s out of range Min: '
                                                     '0.001, Max: 3600.0, value: nan')
    assert _reason('period_s', math.inf, PERIOD).endswith('value: inf')
    assert _reason('period_s', 1e-7, PERIOD).endswith('value: 1e-07')
    assert _reason('f', 0.15, FSTEP) == ('The parameter value for f is not close enough to a '
                                         'valid step. Min: 0.0, max: 1.0, value: 0.15, step: 0.1')
    assert _reason('i', 3, ISTEP) == ('The parameter value for i is not a valid step. Min: 0, '
                                      'max: 10, value: 3, step: 2')
    assert _reason('i', 12, ISTEP) == 'Parameter i out of range. Min: 0, Max: 10, value: 12'
    assert _reason('period_s', 'fast', PERIOD) == ("Wrong parameter type, expected "
                                                   "'Type.DOUBLE' got 'Type.STRING'")
    fixed = ParameterDescriptor(type=int(ParameterType.INTEGER), read_only=True,
                                integer_range=[IntegerRange(0, 10)])
    assert _reason('count', 4, fixed) == 'Trying to set a read-only parameter: count.'
    assert _reason('count', 40, fixed, check_read_only=False).startswith('Parameter count out')
    assert _reason('period_s', None, PERIOD) == 'Static parameter cannot be undeclared'
    # accepted: both ends (within rclpy's relative tolerance 1e-6), on a step, inside
    for value in (0.001, 3600.0, 3600.0 * (1 + 5e-7), 0.5):
        assert _reason('period_s', value, PERIOD) == 'ok', value
    assert _reason('f', 0.3, FSTEP) == 'ok'  # 0.30000000000000004 = 3 steps, within tolerance
    assert (_reason('i', 4, ISTEP), _reason('i', 10, ISTEP)) == ('ok', 'ok')
    dynamic = ParameterDescriptor(type=int(ParameterType.DOUBLE), dynamic_typing=True)
    assert _reason('any', 'text', dynamic) == 'ok' and dynamic.type == ParameterType.STRING


@given(low=st.floats(-1e6, 1e6), width=st.floats(1e-3, 1e6), value=st.floats())
def test_a_double_range_holds_every_value_inside_and_none_outside(
        low: float, width: float, value: float) -> None:
    high = low + width
    descriptor = ParameterDescriptor(type=int(ParameterType.DOUBLE),
                                     floating_point_range=[FloatingPointRange(high, low)])
    accepted = check_descriptor(Parameter('x', value=value), descriptor, check_read_only=True,
                                declared=True).successful
    if low <= value <= high:
        assert accepted
    elif math.isnan(value) or value < low - 2e-6 * abs(low) or value > high + 2e-6 * abs(high):
        assert not accepted  # NaN, infinities and everything beyond the 1e-6 relative tolerance


def test_node_declares_checks_and_describes_like_rclpy(ros: RosEnv) -> None:
    from ior_ros.runtime.context import Context
    from ior_ros.runtime.node import Node
    from ior_ros.runtime.registry import get_message

    context = Context()
    context.init(['prog', '--ros-args', '-p', 'bad:=-2.5', '-p', 'gain:=0.5'])
    node = Node('probe', context=context)
    try:
        # an rcl_interfaces message (what an rclpy node passes) and this runtime's dataclass
        msg = get_message('rcl_interfaces/msg/ParameterDescriptor')(
            description='a gain [1]', floating_point_range=[
                get_message('rcl_interfaces/msg/FloatingPointRange')(from_value=0.0,
                                                                     to_value=1.0, step=0.0)])
        assert node.declare_parameter('gain', 0.1, msg).value == 0.5  # the override, in range
        node.declare_parameter('fixed', 3, ParameterDescriptor(read_only=True,
                                                               integer_range=[IntegerRange(0, 9)]))
        with pytest.raises(InvalidParameterValueException) as caught:
            node.declare_parameter('bad', 1.0, PERIOD)
        text = str(caught.value)
        assert text == ("parameter 'bad' of node /probe: override -2.5 is not allowed: the "
                        'parameter takes a double in [0.001, 3600.0]'), text
        assert not node.has_parameter('bad')
        results = node.set_parameters([Parameter('gain', value=1.5), Parameter('gain', value=1.0),
                                       Parameter('fixed', value=4)])
        assert [(r.successful, r.reason) for r in results] == [
            (False, 'Parameter gain out of range Min: 0.0, Max: 1.0, value: 1.5'), (True, ''),
            (False, 'Trying to set a read-only parameter: fixed.')]
        assert node.get_parameter('gain').value == 1.0
        described = node.describe_parameter('gain')
        assert (described.name, described.type, described.description) == (
            'gain', int(ParameterType.DOUBLE), 'a gain [1]')
        assert described.floating_point_range == [FloatingPointRange(0.0, 1.0, 0.0)]
        wire = described.to_msg()
        assert float(wire.floating_point_range[0].to_value) == 1.0
        assert node.describe_parameter('fixed').read_only
    finally:
        node.destroy_node()
        context.shutdown()


@both_backends
def test_a_start_value_outside_the_range_is_one_line_and_exit_2(ros: RosEnv) -> None:
    values = ['-1.0', '0.0', '.inf', '.nan', '0.0000001']
    nodes = {value: ros.node('talker', '-p', f'period_s:={value}') for value in values}
    shown = {'-1.0': '-1.0', '0.0': '0.0', '.inf': 'inf', '.nan': 'nan', '0.0000001': '1e-07'}
    for value, node in nodes.items():
        assert node.wait(timeout=90) == 2, node.text()
        lines = [line for line in node.text().splitlines() if line.strip()]
        assert len(lines) == 1 and 'Traceback' not in node.text(), node.text()
        if ros.backend == 'dds':
            assert lines[0] == (f"ior: error: parameter 'period_s' of node /talker: override "
                                f'{shown[value]} is not allowed: the parameter takes a double in '
                                '[0.001, 3600.0] (publishing period [s]: at least 1 ms, since '
                                'faster the demo floods the network; at most one hour; a change '
                                'restarts the timer)'), lines
        else:  # rclpy's InvalidParameterValueException, in its words, on one line
            assert lines[0] == (f'ior: error: Invalid parameter value ({shown[value]}) for '
                                'parameter. Reason: Parameter period_s out of range Min: 0.001, '
                                f'Max: 3600.0, value: {shown[value]}: period_s'), lines


def _gaps_s(talker, count: int) -> list[float]:  # type: ignore[no-untyped-def]
    stamps = [float(m.group(1)) for m in talker.matches(r'\[INFO\] \[([\d.]+)\] .*Publishing')]
    return [b - a for a, b in zip(stamps[-count - 1:], stamps[-count:])]


def test_ior_param_set_refusals_print_the_reason_and_exit_2(ros: RosEnv) -> None:
    talker = ros.node('talker', '-r', '__ns:=/demo', '-p', 'period_s:=0.5')
    talker.wait_for('Publishing', timeout=90, count=2)
    for value, reason in (
            ('-1.0', 'Parameter period_s out of range Min: 0.001, Max: 3600.0, value: -1.0'),
            ('.nan', 'Parameter period_s out of range Min: 0.001, Max: 3600.0, value: nan'),
            ('fast', "Wrong parameter type, expected 'Type.DOUBLE' got 'Type.STRING'")):
        refused = ros.run_ior('param', 'set', '/demo/talker', 'period_s', value, '--timeout', '30')
        assert (refused.returncode, refused.stdout, refused.stderr.strip()) == (
            2, '', f'Setting parameter failed: {reason}'), value
    from ior_ros.runtime.param_tools import param_set

    ros.apply()  # the remaining cases in this process (the same code the CLI runs)
    assert param_set('/demo/talker', 'period_s', '0.0', 30) == (
        False, 'Parameter period_s out of range Min: 0.001, Max: 3600.0, value: 0.0')
    assert param_set('/demo/talker', 'period_s', '.inf', 30)[1].endswith('value: inf')
    assert param_set('/demo/talker', 'count', '5', 30) == (
        False, 'Trying to set a read-only parameter: count.')
    assert param_set('/demo/talker', 'reliability', 'best_effort', 30)[0] is False
    unknown = ros.run_ior('param', 'set', '/demo/talker', 'nope', '1', '--timeout', '30')
    assert (unknown.returncode, unknown.stderr.strip()) == (
        2, "ior: error: node '/demo/talker' has no parameter 'nope' (ior param list /demo/talker "
           'shows those it has)')
    missing = ros.run_ior('param', 'set', '/demo/nobody', 'period_s', '1.0', '--timeout', '1')
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert "node '/demo/nobody': its parameter service set_parameters was not found" in \
        missing.stderr

    # a value in range is applied: the talker restarts its timer at the new period
    assert max(_gaps_s(talker, 1)) > 0.3
    assert param_set('/demo/talker', 'period_s', '0.05', 30) == (True, '')
    before = len(talker.matches('Publishing'))
    talker.wait_for('Publishing', timeout=30, count=before + 12)
    assert statistics.median(_gaps_s(talker, 10)) < 0.2, _gaps_s(talker, 10)

    described = ros.run_ior('param', 'describe', '/demo/talker', 'period_s', 'count',
                            'reliability', '--timeout', '30')
    assert described.returncode == 0, described.stderr
    assert described.stdout.splitlines() == [
        'Parameter name: period_s', '  Type: double',
        '  Description: publishing period [s]: at least 1 ms, since faster the demo floods the '
        'network; at most one hour; a change restarts the timer',
        '  Constraints:', '    Min value: 0.001', '    Max value: 3600.0',
        'Parameter name: count', '  Type: integer',
        '  Description: messages to publish before stopping; 0: publish for ever',
        '  Constraints:', '    Read only: true', '    Min value: 0',
        '    Max value: 1000000000',
        'Parameter name: reliability', '  Type: string',
        '  Description: reliability of chatter: reliable (resend lost messages) or best_effort '
        '(drop them); fixed when the node starts',
        '  Constraints:', '    Read only: true',
        "    Additional constraints: one of 'reliable', 'best_effort'"]
    nothing = ros.run_ior('param', 'describe', '/demo/talker', 'nope', '--timeout', '30')
    assert (nothing.returncode, nothing.stderr.strip()) == (
        2, "ior: error: node '/demo/talker' has no parameter 'nope'")
    talker.interrupt()


def test_launch_with_a_bad_period_stops_the_talker_alone(ros: RosEnv) -> None:
    launch = ros.ior('launch', 'launch/talker_listener.launch.yaml', 'period_s:=-1.0')
    died = launch.wait_for(r'\[ERROR\] \[talker-1\]: process has died \[pid \d+, exit code 2,',
                           timeout=120)
    assert died
    launch.wait_for(r'^\[WARNING\] \[launch\]: talker-1 stopped because it refused its '
                    r'configuration \(its error line is above\); still running: listener-2 ',
                    timeout=30)
    talker_lines = [line for line in launch.text().splitlines() if line.startswith('[talker-1]')]
    assert talker_lines == [
        "[talker-1] ior: error: parameter 'period_s' of node /demo/talker: override -1.0 is not "
        'allowed: the parameter takes a double in [0.001, 3600.0] (publishing period [s]: at '
        'least 1 ms, since faster the demo floods the network; at most one hour; a change '
        'restarts the timer)'], launch.text()
    listener_pid = int(launch.matches(r'\[listener-2\]: process started with pid \[(\d+)\]')[0]
                       .group(1))
    assert not wait_until(lambda: launch.proc.poll() is not None, timeout=2.0)
    os.kill(listener_pid, 0)  # still there
    assert launch.interrupt(timeout=60) == 0
    assert launch.matches(r'\[INFO\] \[listener-2\]: process has finished cleanly')
    assert 'Traceback' not in launch.text()


WARNING = ('Be aware that there are nodes in the graph that share an exact name, which can have '
           'unintended side effects.')


def test_nodes_sharing_a_name_are_warned_about(ros: RosEnv) -> None:
    first = ros.node('talker', '-r', '__ns:=/dup', '-p', 'prefix:=first')
    solo = ros.node('listener', '-r', '__ns:=/dup')
    first.wait_for('Publishing', timeout=90)
    listed = ros.run_ior('node', 'list', '--spin-time', '2')
    assert listed.returncode == 0 and WARNING not in listed.stderr, listed.stderr
    assert {'/dup/talker', '/dup/listener'} <= set(listed.stdout.split())
    second = ros.node('talker', '-r', '__ns:=/dup', '-p', 'prefix:=second')
    found = second.wait_for(r'^\[WARN\] \[[\d.]+\] \[dup\.talker\]: (.*)$', timeout=60)
    assert found[0].group(1) == (f'{WARNING} Another node is also named /dup/talker: services '
                                 'addressed to it (ros2 param set, say) reach both.')
    listed = ros.run_ior('node', 'list', '--spin-time', '2')
    assert listed.stderr.strip() == f'WARNING: {WARNING}', listed.stderr
    assert listed.stdout.split().count('/dup/talker') == 2, listed.stdout
    assert not solo.matches(r'\[WARN\]'), solo.text()
    assert len(second.matches(re.escape(WARNING))) == 1  # once, not at every check
    for proc in (first, second, solo):
        proc.interrupt()
