"""
teleop_operator with ``input:=joy`` → robot_controller (the simulated robot) over real DDS on
loopback (our runtime, a domain per test): a scripted joystick (nd_joy.py, sensor_msgs/Joy at
20 Hz as joy_node's autorepeat sends it) deflects the stick with the deadman button held, the
robot moves along the stick's direction at the scaled speed; the button released, the robot
stops; the stick the other way, it follows again; the Joy stream stopped, the commands say stop
within ``joy_timeout_s`` and the robot stops, without waiting for its own command timeout. An
axis index the Joy message does not have is warned about once and read as 0. Every STATE line
comes from nd_probe.py, a reader process in the same domain. With the real ROS 2 (rclpy), a
joystick and a base of its own at both ends of operator and controller (``robot:=cmd_vel``).
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from pathlib import Path

import pytest
from rt_helpers import Proc, RosEnv

from ior_ros.nodes._config import TeleopOperatorConfig

HERE = Path(__file__).resolve().parent
JOY_RATE_HZ = 20.0
SCALE_MPS = TeleopOperatorConfig().joy_max_speed_mps  # 0.5 m/s at full deflection
JOY_TIMEOUT_S = TeleopOperatorConfig().joy_timeout_s  # 0.5 s
COMMAND_TIMEOUT_S = 0.5  # robot_controller's default
# (seconds, axes, buttons): axes[1] is x and axes[0] is y (the defaults), button 0 the deadman
PHASES = [
    '1.0:0,0,0,0:1',  # 0: centred, deadman held: the robot stays
    '3.0:0.8,0.6,0,0:1',  # 1: stick up-left: v = 0.5 (0.6, 0.8) = (0.3, 0.4) m/s
    '2.0:0.8,0.6,0,0:0',  # 2: deadman released (stick still deflected): stop
    '2.5:0,-1.0,0,0:1',  # 3: held again, stick down: v = (-0.5, 0) m/s
    '3.0:stop',  # 4: the joystick dies (no Joy at all)
]


def _states(probe: Proc) -> list[tuple[float, float, float, float, float, int]]:
    """(t [s], px, py, vx, vy, command_sequence) of every RobotState."""
    out = []
    for m in probe.matches(r'^STATE (\S+) \S+ (\S+) (\S+) \S+ \S+ (\d+) \S+ (\S+) (\S+)'):
        g = m.groups()
        out.append((int(g[0]) * 1e-9, float(g[4]), float(g[5]), float(g[1]), float(g[2]),
                    int(g[3])))
    return out


def _log_time(line: str) -> float:
    """The wall time of a log line ``[LEVEL] [sec.nsec] [node]: ...``."""
    return float(line.split('] [')[1])


def _window(states: list[tuple[float, float, float, float, float, int]], start: float,
            end: float) -> list[tuple[float, float, float, float, float, int]]:
    return [s for s in states if start <= s[0] < end]


def test_robot_follows_the_stick_stops_on_release_and_when_joy_stops(ros: RosEnv) -> None:
    controller = ros.node('robot_controller', '-p', 'video_fps:=0')
    operator = ros.node('teleop_operator', '-p', 'input:=joy')
    probe = ros.start(str(HERE / 'nd_probe.py'))
    controller.wait_for('control period 10 ms', timeout=30)
    operator.wait_for('input joy on /joy', timeout=30)
    probe.wait_for('probe ready', timeout=30)
    joy = ros.start(str(HERE / 'nd_joy.py'), str(JOY_RATE_HZ), *PHASES)
    joy.wait_for('joy done', timeout=60)
    probe.wait_for(r'^STATE', timeout=5)
    # the phases' start times (wall clock of this host, as the states' stamps)
    starts = [int(m.group(1)) * 1e-9 for m in joy.matches(r'^PHASE \d+ (\d+)')]
    last_joy = int(joy.wait_for(r'^LAST (\d+)')[0].group(1)) * 1e-9
    end = starts[-1] + 3.0
    states = _states(probe)

    # before the first Joy the commands say stop: the robot never started before phase 0
    before = [s for s in states if s[0] < starts[0]]
    assert before and all(math.hypot(s[3], s[4]) < 1e-9 for s in before)
    # phase 0, stick centred: set-point zero, the robot stays where it is
    assert all(math.hypot(s[3], s[4]) < 1e-3 for s in _window(states, starts[0], starts[1]))

    # phase 1: after a second to settle, the velocity is the stick's, scaled: (0.3, 0.4) m/s
    moving = _window(states, starts[1] + 1.0, starts[2])
    vx = statistics.fmean(s[3] for s in moving)
    vy = statistics.fmean(s[4] for s in moving)
    direction = math.degrees(math.atan2(vy, vx))
    print(f'stick (0.6, 0.8): robot velocity ({vx:.3f}, {vy:.3f}) m/s, direction '
          f'{direction:.2f} deg (stick {math.degrees(math.atan2(0.8, 0.6)):.2f})')
    assert len(moving) > 150  # ~100 Hz
    assert abs(vx - 0.6 * SCALE_MPS) < 0.01 and abs(vy - 0.8 * SCALE_MPS) < 0.01
    moved = _window(states, starts[1], starts[2])
    dx, dy = moved[-1][1] - moved[0][1], moved[-1][2] - moved[0][2]
    assert abs(math.atan2(dy, dx) - math.atan2(0.8, 0.6)) < 0.02 and math.hypot(dx, dy) > 1.0

    # phase 2, deadman released: one stop line soon after the release, then the robot brakes
    # (a = -2 v: below 5 % of its speed 1.5 s after the stop) although the stick stays deflected
    stops = controller.matches(r'command \d+ without deadman: stopping the robot')
    assert len(stops) == 2, controller.text()  # here and when Joy stops (below)
    release_s = _log_time(stops[0].string) - starts[2]
    speed_then = math.hypot(vx, vy)
    braked = _window(states, _log_time(stops[0].string) + 1.6, starts[3])
    print(f'deadman released: stop after {release_s * 1e3:.0f} ms, speed 1.6 s later '
          f'{max(math.hypot(s[3], s[4]) for s in braked):.4f} m/s')
    assert 0.0 <= release_s < 0.1 + 1.0 / JOY_RATE_HZ
    assert max(math.hypot(s[3], s[4]) for s in braked) < 0.05 * speed_then
    assert all(s[5] > moved[-1][5] for s in braked)  # commands kept arriving (deadman false)

    # phase 3: held again, stick down: (-0.5, 0) m/s, from where the robot stopped
    back = _window(states, starts[3] + 1.0, starts[4])
    assert abs(statistics.fmean(s[3] for s in back) + SCALE_MPS) < 0.01
    assert abs(statistics.fmean(s[4] for s in back)) < 0.01

    # phase 4, no Joy: after joy_timeout_s the commands say stop; the robot stops at once
    # (not after its own command timeout: the commands never stopped)
    silent = operator.matches(r'no Joy message for (\S+) s: commands say stop')
    assert len(silent) == 2, operator.text()  # before the joystick came, and now
    assert _log_time(silent[0].string) < starts[0] < _log_time(silent[1].string)
    assert len(operator.matches('Joy on /joy: 4 axes, 1 buttons: commands follow')) == 1
    assert len(operator.matches('Joy again')) == 0  # phase 4 is the last
    silent = silent[1:]
    noticed_s = _log_time(silent[0].string) - last_joy
    stopped_s = _log_time(stops[1].string) - last_joy
    print(f'Joy stopped: operator noticed after {noticed_s:.3f} s, robot stopping after '
          f'{stopped_s:.3f} s (joy_timeout_s {JOY_TIMEOUT_S:g} s)')
    assert JOY_TIMEOUT_S <= noticed_s < JOY_TIMEOUT_S + 0.1
    assert stopped_s < JOY_TIMEOUT_S + 0.15
    assert not controller.matches('no command for')
    late = _window(states, starts[4] + JOY_TIMEOUT_S + 1.4, end)
    assert late and max(math.hypot(s[3], s[4]) for s in late) < 0.1 * SCALE_MPS
    assert late[-1][5] > back[-1][5]  # still commanded: stop commands, not silence


def test_an_axis_the_joy_message_lacks_is_warned_once_and_reads_zero(ros: RosEnv) -> None:
    """joy_axis_x:=7 with a 4-axis Joy: one warning naming axis 7 and the 4 axes; the node keeps
    sending commands (the robot moves along y only, the axis that exists)."""
    controller = ros.node('robot_controller', '-p', 'video_fps:=0')
    operator = ros.node('teleop_operator', '-p', 'input:=joy', '-p', 'joy_axis_x:=7')
    probe = ros.start(str(HERE / 'nd_probe.py'))
    controller.wait_for('control period 10 ms', timeout=30)
    operator.wait_for('input joy on /joy', timeout=30)
    probe.wait_for('probe ready', timeout=30)
    joy = ros.start(str(HERE / 'nd_joy.py'), str(JOY_RATE_HZ), '2.5:1.0,1.0,0,0:1')
    joy.wait_for('joy done', timeout=60)
    warnings = operator.matches(r'WARN.*Joy axis 7 does not exist: the message has 4 axes')
    assert len(warnings) == 1, operator.text()
    assert operator.proc.poll() is None
    start = int(joy.matches(r'^PHASE 0 (\d+)')[0].group(1)) * 1e-9
    moving = _window(_states(probe), start + 1.0, start + 2.5)
    assert len(moving) > 100
    assert abs(statistics.fmean(s[3] for s in moving)) < 0.01  # x: the missing axis, 0
    assert abs(statistics.fmean(s[4] for s in moving) - SCALE_MPS) < 0.01  # y: axis 0


def test_bad_joy_and_robot_parameters_stop_the_node_with_one_line(ros: RosEnv) -> None:
    cases = [
        (ros.node('teleop_operator', '-p', 'input:=keyboard'), "'keyboard'"),
        (ros.node('teleop_operator', '-p', 'joy_axis_x:=0'), "'joy_axis_x' and 'joy_axis_y'"),
        (ros.node('teleop_operator', '-p', 'joy_deadman_button:=-2'), 'joy_deadman_button'),
        (ros.node('teleop_operator', '-p', 'joy_max_speed_mps:=0.0'), 'joy_max_speed_mps'),
        (ros.node('robot_controller', '-p', 'robot:=tank'), "'tank'"),
        (ros.node('robot_controller', '-p', 'cmd_vel_frame:=map'), "'map'"),
        (ros.node('robot_controller', '-p', 'odom_timeout_s:=0.0'), 'odom_timeout_s'),
        (ros.node('robot_controller', '-p', 'base_lag_s:=-0.1'), 'base_lag_s'),
    ]
    for proc, words in cases:
        assert proc.wait(timeout=60) == 2, proc.text()
        lines = proc.text().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith('ior: error:') and words in lines[0], lines


@pytest.mark.ros2
def test_a_real_ros2_joystick_drives_a_real_ros2_base(ros: RosEnv) -> None:
    """rclpy at both ends (nd_ros2_joy_base.py), with ROS 2's default QoS (reliable, keep last
    10) as joy_node and base drivers use it: its Joy reaches the operator's best-effort reader,
    the controller's reliable Twist its base, the base's Odometry the controller's best-effort
    reader; stick up (+1 on axis 1): the base, turned 0.3 rad, goes along +x of odom at
    joy_max_speed_mps."""
    import rt_ros2

    controller = ros.node('robot_controller', '-p', 'robot:=cmd_vel', '-p', 'video_fps:=0',
                          '-r', 'odom_in:=/base/odom', '-r', 'cmd_vel:=/base/cmd_vel')
    operator = ros.node('teleop_operator', '-p', 'input:=joy')
    probe = ros.start(str(HERE / 'nd_probe.py'))
    env = rt_ros2.domain_environment(rt_ros2.ros_environment(), ros.domain_id, ros.log_dir)
    peer = Proc([sys.executable, str(HERE / 'nd_ros2_joy_base.py')], env, cwd=ros.tmp_path)
    ros.procs.append(peer)
    controller.wait_for(r'odometry from /base/odom .*yaw 0\.300 rad', timeout=60)
    operator.wait_for('Joy on /joy: 2 axes, 1 buttons: commands follow the stick', timeout=60)
    probe.wait_for(r'^STATE', timeout=30, count=200)  # two seconds of states
    # the base's once-a-second reports until it has had 250 moving twists (2.5 s at the
    # controller's 100 Hz: how long that takes depends on the load, what it did does not)
    pattern = r'^PEER twists=(\d+) nonzero=(\d+) x=(\S+) y=(\S+)'
    deadline = time.monotonic() + 60.0
    while True:
        report = peer.wait_for(pattern, timeout=max(1.0, deadline - time.monotonic()),
                               count=len(peer.matches('^PEER')) + 1)[-1]
        twists, nonzero, x, y = (float(v) for v in report.groups())
        if nonzero > 250 or time.monotonic() > deadline:
            break
    moving = _states(probe)[-100:]  # the last second
    vx = statistics.fmean(s[3] for s in moving)
    vy = statistics.fmean(s[4] for s in moving)
    print(f'real ROS 2 joystick and base: {twists:.0f} twists ({nonzero:.0f} non-zero), base '
          f'at ({x:.3f}, {y:.3f}) m, velocity ({vx:.3f}, {vy:.3f}) m/s')
    assert nonzero > 250 and x > 1.1 and abs(y) < 0.02
    assert abs(vx - SCALE_MPS) < 0.01 and abs(vy) < 0.01


def test_a_stop_passes_the_twin_gate_at_once() -> None:
    """With twin_gate and no verdicts, every command waits twin_wait_s (0.2 s here) before the
    robot applies it; a command without deadman (a stop) is applied when it arrives. In one
    process (virtual time): commands at 100 Hz, deadman true until 1 s, false after."""
    from ior_ros.nodes.robot_controller import RobotController
    from ior_ros.nodes.teleop_operator import command_qos
    from ior_ros.runtime.inproc import InprocWorld
    from ior_ros.runtime.node import Node
    from ior_ros.runtime.registry import get_message

    command_type = get_message('ior_ros/msg/TeleopCommand')

    class Commander(Node):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__('commander')
            self.pub = self.create_publisher(command_type, 'cmd', command_qos())
            self.sequence = 0
            self.timer = self.create_timer(0.01, self.send)

        def send(self) -> None:
            now = self.get_clock().now()
            self.sequence += 1
            msg = command_type(sequence=self.sequence, deadman=now.nanoseconds < 1_000_000_000)
            msg.header.stamp = msg.send_time = now.to_msg()
            msg.twist.linear.x = 0.3 if msg.deadman else 0.0
            self.pub.publish(msg)

    with InprocWorld(seed=1) as world:
        world.add(RobotController, parameters={
            'twin_gate': True, 'twin_wait_s': 0.2, 'twin_silence_s': 60.0, 'video_fps': 0})
        world.add(Commander)
        status = world.tap('/status', get_message('ior_ros/msg/ControllerStatus'))
        world.run(2.0)
    changes = []
    for s in status:
        t = s.header.stamp.sec + s.header.stamp.nanosec * 1e-9
        if not changes or changes[-1][1] != s.tracking:
            changes.append((t, s.tracking))
    print(f'tracking changes (virtual s): {changes}')
    # starts 0.2 s after the first command (0.01 s), held for its verdict (the gate checks every
    # twin_wait_s / 2); stops at the first control sample after the first stop (1.00 s)
    assert [tracking for _, tracking in changes] == [False, True, False]
    assert 0.21 <= changes[1][0] <= 0.31 + 1e-9
    assert changes[2][0] > 1.0 and changes[2][0] <= 1.01 + 1e-9
