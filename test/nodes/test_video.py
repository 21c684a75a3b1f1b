"""
The eMBB video of the teleoperation loop over real DDS on loopback (our runtime, a domain per
test): robot_controller publishes sensor_msgs/CompressedImage frames at ``video_fps`` with sizes
from the eMBB traffic model (core/ran/video_frames.py: mean ``λ_e L_e / (8 fps)`` = 65 000 bytes
at 30 frames/s), ``video_fps:=0`` publishes none, the frames do not disturb the control timer
(its period jitter with and without video, measured from the RobotState stamps), the operator
measures each frame's latency (log line and ior_ros/DelayMeasurement on ``video_latency``) and
latches the reference as nav_msgs/Path (transient local: a late reader, like RViz, gets it; the
real ROS 2 one too). Every FRAME/STATE/VLAT/REFERENCE line comes from nd_video_probe.py, a
reader process in the same domain.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import yaml
from rt_helpers import REPO, Proc, RosEnv

from ior_ros.nodes._config import RobotControllerConfig, TeleopOperatorConfig
from ior_ros.nodes.teleop_operator import (
    REFERENCE_LINE_S,
    REFERENCE_POSES,
    reference_path,
    reference_position,
)
from ior_ros.runtime.launch_yaml import load_launch

HERE = Path(__file__).resolve().parent
PROBE = str(HERE / 'nd_video_probe.py')
PERIOD_S = 0.01  # the control period of the shipped gain schedule


class Run(NamedTuple):
    """What the probe saw of one controller (its namespace) in the common window."""

    frame_stamps_s: np.ndarray  # [frames]
    frame_bytes: np.ndarray  # [frames]
    frame_lines: list[tuple[str, str, int]]  # (frame_id, format, distinct byte values)
    tick_gaps_s: np.ndarray  # [ticks - 1] gaps between consecutive RobotState stamps


def _run(lines: list[str], ns: str) -> Run:
    frames = [line.split() for line in lines if line.startswith(f'FRAME {ns}/')]
    states = np.array([int(line.split()[2]) for line in lines
                       if line.startswith(f'STATE {ns}/')])
    return Run(np.array([int(f[2]) * 1e-9 for f in frames]), np.array([int(f[3]) for f in frames]),
               [(f[4], f[5], int(f[6])) for f in frames], np.diff(states) * 1e-9)


def _jitter_ms(gaps_s: np.ndarray) -> tuple[float, float, float]:
    """|gap − period|: mean, 99th percentile and max [ms]."""
    dev = np.abs(gaps_s - PERIOD_S) * 1e3
    return float(dev.mean()), float(np.percentile(dev, 99)), float(dev.max())


def _two_controllers(ros: RosEnv, run_s: float) -> tuple[Run, Run]:
    """Two robot_controllers at once, ``/on`` with video (30 frames/s) and ``/off`` with
    ``video_fps:=0``, read by one probe for ``run_s`` seconds: both see the same machine load,
    so their control jitter can be compared (this machine is shared and often busy)."""
    on = ros.node('robot_controller', '-r', '__ns:=/on')
    off = ros.node('robot_controller', '-r', '__ns:=/off', '-p', 'video_fps:=0')
    probe = ros.start(PROBE, 'state:/on/state', 'video:/on/video', 'state:/off/state',
                      'video:/off/video')
    for proc in (on, off):
        proc.wait_for('control period 10 ms', timeout=30)
    probe.wait_for('probe ready', timeout=30)
    probe.wait_for(r'^FRAME /on/', timeout=30)
    probe.wait_for(r'^STATE /off/', timeout=30)
    start = len(probe.lines)
    time.sleep(run_s)
    lines = probe.lines[start:]
    for proc in (on, off, probe):
        proc.kill()
    return _run(lines, '/on'), _run(lines, '/off')


def _check_video_and_jitter(ros: RosEnv, run_s: float) -> tuple[tuple[float, float, float],
                                                                 tuple[float, float, float]]:
    """The checks of both tests below; the jitter with and without video (mean, p99, max)."""
    mean_bytes = RobotControllerConfig().video_mean_frame_bytes
    assert mean_bytes == 65_000.0
    with_video, without = _two_controllers(ros, run_s)

    # frames at 30 per second of the controller's clock, each a stamped zero-filled "jpeg"
    stamps = with_video.frame_stamps_s
    gaps = np.diff(stamps)
    rate = (stamps.size - 1) / (stamps[-1] - stamps[0])
    sizes = with_video.frame_bytes
    print(f'video: {stamps.size} frames in {run_s:g} s, {rate:.2f} frames/s (median gap '
          f'{np.median(gaps) * 1e3:.2f} ms), mean {sizes.mean():.0f} bytes (model {mean_bytes:.0f}'
          f'), CV {sizes.std() / sizes.mean():.3f} (model 0.3), '
          f'{sizes.sum() * 8 / (stamps[-1] - stamps[0]) / 1e6:.2f} Mb/s')
    assert stamps.size >= 0.9 * 30 * run_s
    assert 28.5 < rate < 31.5 and abs(np.median(gaps) - 1 / 30) < 0.002
    assert np.all(gaps > 0)
    assert abs(sizes.mean() - mean_bytes) < 0.1 * mean_bytes
    assert 0.15 < sizes.std() / sizes.mean() < 0.45  # drawn, not constant (model CV 0.3)
    assert set(with_video.frame_lines) == {('camera', 'jpeg', 1)}  # one byte value: zeros

    # video_fps 0: that controller runs (its states arrive) and sends no frame at all
    assert without.frame_stamps_s.size == 0
    assert without.tick_gaps_s.size > 0.8 * run_s / PERIOD_S

    # the control timer: its period jitter with 15.6 Mb/s of video beside it and without
    on, off = _jitter_ms(with_video.tick_gaps_s), _jitter_ms(without.tick_gaps_s)
    print('control period jitter |gap - 10 ms| mean/p99/max [ms]: with video '
          f'{on[0]:.3f}/{on[1]:.3f}/{on[2]:.3f} ({with_video.tick_gaps_s.size} gaps), without '
          f'{off[0]:.3f}/{off[1]:.3f}/{off[2]:.3f} ({without.tick_gaps_s.size} gaps)')
    assert abs(statistics.fmean(with_video.tick_gaps_s) - PERIOD_S) < 2e-4  # no drift
    # the mean only: one preemption of a few ms on this shared machine moves the p99 of 500
    # gaps; the frame's own cost is checked below, where the machine's load cannot hide it
    assert on[0] < off[0] + 0.5
    return on, off


def test_video_frames_follow_the_embb_model_and_leave_the_control_period_alone(
        ros: RosEnv) -> None:
    _check_video_and_jitter(ros, 5.0)


def test_a_frame_takes_less_executor_time_than_a_control_sample(ros: RosEnv) -> None:
    """What the jitter above cannot resolve on a busy machine: a frame (draw, 65 kB payload,
    serialize, DDS write to a matched reader) costs the shared executor less than a control
    sample does, so 30 frames a second take at most a few percent of it. A frame built
    byte by byte in Python would take milliseconds."""
    cost = ros.start(str(HERE / 'nd_video_cost.py'))
    assert cost.wait(timeout=60) == 0, cost.text()
    match = cost.wait_for(r'^COST frame_median_ms=(\S+) tick_median_ms=(\S+) received=(\d+)')
    frame_ms, tick_ms, received = (float(g) for g in match[0].groups())
    print(f'executor time per call (median): video frame {frame_ms:.3f} ms, control sample '
          f'{tick_ms:.3f} ms; {received:.0f} of 300 frames received')
    assert frame_ms < max(tick_ms, 0.5)
    assert received >= 0.9 * 300  # the frames really went out


@pytest.mark.slow
def test_control_jitter_with_and_without_video_over_a_minute(ros: RosEnv) -> None:
    """The test above over 60 s (6000 control periods each) for steadier numbers."""
    on, off = _check_video_and_jitter(ros, 60.0)
    assert on[1] < off[1] + 2.0


def _log_stats(proc: Proc, what: str) -> list[tuple[int, float, float]]:
    return [(int(m.group(1)), float(m.group(2)), float(m.group(3)))
            for m in proc.matches(rf'{what} latency: n=(\d+) mean=(\S+) ms max=(\S+) ms')]


def _reference(line: str) -> tuple[str, int, float, np.ndarray]:
    """frame, stamp ns, max | |q| - 1 | and the ``[N, 2]`` positions of a REFERENCE line."""
    _, frame, stamp, count, q_error, poses = line.split()
    xy = np.array([[float(v) for v in pose.split(',')] for pose in poses.split(';')])
    assert xy.shape == (int(count), 2)
    return frame, int(stamp), float(q_error), xy


def _distance_m(points: np.ndarray, path: np.ndarray) -> np.ndarray:
    """``[P]`` distance of each point ``[P, 2]`` to the nearest pose of ``path`` ``[N, 2]``."""
    return np.min(np.linalg.norm(points[:, None, :] - path[None, :, :], axis=-1), axis=1)


def test_operator_measures_video_latency_and_anchors_the_reference(ros: RosEnv) -> None:
    """The operator starts 2 s before the robot (its first ~200 commands are lost): the robot's
    set-point is the figure eight shifted by −r(t_s) of the first command it hears, and the
    operator re-publishes the reference there once the robot acknowledges a command. A 40 s
    figure eight, so that r(t_s) is far from the origin wherever t_s falls in 2-10 s."""
    config = TeleopOperatorConfig(period_s=40.0)
    operator = ros.node('teleop_operator', '-p', 'period_s:=40.0')
    operator.wait_for('reference figure_eight: 401 poses published', timeout=30)
    probe = ros.start(PROBE, 'video_latency', 'state')
    probe.wait_for('probe ready', timeout=30)
    time.sleep(2.0)
    controller = ros.node('robot_controller')
    controller.wait_for('control period 10 ms', timeout=30)
    anchored = operator.wait_for(r'reference anchored at command (\d+) \(t = (\S+) s\): '
                                 r'shifted by \((\S+), (\S+)\) m', timeout=30)[0]
    operator.wait_for(r'video latency: n=', timeout=30, count=4)

    # video latency: one line a second, ~30 frames each, a few ms on one host (one clock)
    stats = _log_stats(operator, 'video')[1:]  # the first second may be partial
    print(f'video latency per second (n, mean ms, max ms): {stats}')
    assert len(stats) >= 3
    assert all(25 <= n <= 35 for n, _, _ in stats)
    assert all(0.0 < mean < 20.0 for _, mean, _ in stats)
    # one DelayMeasurement per frame, consistent with its own stamps
    vlat = [m.groups() for m in probe.matches(r'^VLAT (\d+) (\S+) (\S+) (\S+) (\S+)$')]
    assert len(vlat) >= 60
    sequences = [int(v[0]) for v in vlat]
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
    for _, one_way, difference, rtt, frame in vlat:
        assert 0.0 < float(one_way) < 0.1 and frame == 'camera'
        assert abs(float(one_way) - float(difference)) < 1e-6
        assert abs(float(rtt) - 2 * float(one_way)) < 1e-6
    assert _log_stats(operator, 'feedback')  # the state feedback is still measured

    # a reader that joins late (as RViz does) gets the newest reference, the anchored one
    late = ros.start(PROBE, 'reference')
    line = late.wait_for(r'^REFERENCE ', timeout=30)[0].string
    frame, stamp, q_error, path = _reference(line)
    assert (frame, stamp, path.shape[0]) == ('odom', 0, REFERENCE_POSES + 1)
    assert q_error < 1e-9
    sent_t = float(anchored.group(2))
    offset = np.array([float(anchored.group(3)), float(anchored.group(4))])
    nominal = reference_path(config)
    nominal_xy = np.array([[p.pose.position.x, p.pose.position.y] for p in nominal.poses])
    assert np.allclose(path, nominal_xy + offset, atol=1e-4)  # the log line's 4 decimals
    # the robot came up at rest at the origin: the shift is -r(t_s), to within its first tick
    assert sent_t > 1.5 and np.linalg.norm(offset) > 0.3  # it missed the first 1.5 s at least
    assert np.allclose(offset, -np.array(reference_position(config, sent_t)), atol=0.01)
    # the robot tracks the anchored reference: all its states from 1 s after the anchoring
    # command lie within 3 cm of it (the nominal one is |offset| > 0.3 m away at the anchor)
    states = [m.groups() for m in probe.matches(r'^STATE state (\d+) (\S+) (\S+) (\d+)$')]
    xy = np.array([[float(x), float(y)] for _, x, y, seq in states
                   if int(seq) > int(anchored.group(1)) + 100])
    near = _distance_m(xy, path)
    print(f'reference anchored at t = {sent_t:.3f} s, offset {offset.round(4).tolist()} m; '
          f'{len(xy)} robot states: max distance {near.max() * 1e3:.1f} mm to it')
    assert len(xy) > 150 and near.max() < 0.03
    time.sleep(1.0)
    assert len(late.matches('^REFERENCE')) == 1  # published again only once


def test_reference_path_of_the_line() -> None:
    path = reference_path(TeleopOperatorConfig(reference='line', line_speed_mps=0.3))
    xs = [p.pose.position.x for p in path.poses]
    assert path.header.frame_id == 'odom' and len(xs) == REFERENCE_POSES + 1
    assert xs[0] == 0.0 and xs[-1] == pytest.approx(0.3 * REFERENCE_LINE_S)
    assert {p.pose.position.y for p in path.poses} == {0.0}
    assert {(p.pose.orientation.z, p.pose.orientation.w) for p in path.poses} == {(0.0, 1.0)}


def test_bad_video_parameters_stop_the_controller_with_one_line(ros: RosEnv) -> None:
    cases = [(ros.node('robot_controller', '-p', 'video_fps:=-1'), 'video_fps'),
             (ros.node('robot_controller', '-p', 'video_fps:=121'), 'video_fps'),
             (ros.node('robot_controller', '-p', 'video_frame_cv:=-0.5'), 'video_frame_cv'),
             (ros.node('robot_controller', '-p', 'video_fps:=1', '-p',
                       'video_packet_rate_pps:=100000.0'), 'a mean frame of')]
    for proc, words in cases:
        assert proc.wait(timeout=30) == 2, proc.text()
        lines = proc.text().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith('ior: error:') and words in lines[0], lines


def _remaps(cmd: list[str]) -> dict[str, str]:
    """``-r from:=to`` of one node's command line."""
    pairs = [cmd[i + 1].split(':=') for i, arg in enumerate(cmd[:-1]) if arg == '-r']
    return {source: target for source, target in pairs if not source.startswith('__')}


def _launched(cmd: list[str]) -> dict[str, object]:
    """The parameters the launch file itself set (its own --params-file, the last one)."""
    files = [cmd[i + 1] for i, arg in enumerate(cmd[:-1]) if arg == '--params-file']
    (params,) = yaml.safe_load(Path(files[-1]).read_text(encoding='utf-8')).values()
    return dict(params['ros__parameters'])


def test_launch_files_carry_video_robot_to_emulator_to_operator(tmp_path: Path) -> None:
    sim = load_launch(REPO / 'launch' / 'sim.launch.yaml', {'video_fps': '15'},
                      temp_dir=tmp_path)
    nodes = {p.node_name: p.cmd for p in sim.processes}
    robot, emulator = _remaps(nodes['robot_controller']), _remaps(nodes['ran_emulator'])
    operator = _remaps(nodes['teleop_operator'])
    assert robot['video'] == '/robot/video' == emulator['video_in']
    assert emulator['video_out'] == '/teleop/video' == operator['video']
    assert (operator['video_latency'], operator['reference']) == \
        ('/teleop/video_latency', '/teleop/reference')
    assert _launched(nodes['robot_controller'])['video_fps'] == 15  # an integer parameter
    # without the emulator the operator reads the robot's video directly
    edge = load_launch(REPO / 'launch' / 'edge_server.launch.yaml',
                       {'network': 'none', 'twin': 'false', 'broker': 'false'},
                       temp_dir=tmp_path)
    (operator_only,) = edge.processes
    assert _remaps(operator_only.cmd)['video'] == '/robot/video'
    # the reference RViz shows is the one the operator publishes, with its QoS
    rviz = yaml.safe_load((REPO / 'config' / 'ior.rviz').read_text(encoding='utf-8'))
    (display,) = [d for d in rviz['Visualization Manager']['Displays']
                  if d.get('Topic', {}).get('Value') == operator['reference']]
    assert display['Class'] == 'rviz_default_plugins/Path' and display['Enabled']
    assert display['Topic']['Durability Policy'] == 'Transient Local'
    assert display['Topic']['Reliability Policy'] == 'Reliable'


REFERENCE_READER = """
import sys
import rclpy
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from nav_msgs.msg import Path
rclpy.init()
node = rclpy.create_node('rviz_like_reference_reader')
qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                 durability=DurabilityPolicy.TRANSIENT_LOCAL)
got = []
node.create_subscription(Path, '/reference', got.append, qos)
print('reader ready', flush=True)
while not got:
    rclpy.spin_once(node, timeout_sec=0.1)
path = got[0]
print(f'PATH {path.header.frame_id} {path.header.stamp.sec} {len(path.poses)} '
      f'{max(p.pose.position.x for p in path.poses):.6f}', flush=True)
"""


@pytest.mark.ros2
def test_a_real_ros2_reader_that_joins_late_gets_the_reference(ros: RosEnv) -> None:
    """What RViz does: rclpy (rmw_cyclonedds_cpp) asks for the reference, transient local, after
    our operator published it."""
    import rt_ros2

    operator = ros.node('teleop_operator')
    operator.wait_for('reference figure_eight: 401 poses published', timeout=30)
    script = ros.tmp_path / 'reference_reader.py'
    script.write_text(REFERENCE_READER, encoding='utf-8')
    env = rt_ros2.domain_environment(rt_ros2.ros_environment(), ros.domain_id, ros.log_dir)
    reader = Proc([sys.executable, str(script)], env, cwd=ros.tmp_path)
    ros.procs.append(reader)
    match = reader.wait_for(r'^PATH (\S+) (\d+) (\d+) (\S+)$', timeout=60)
    assert match[0].groups()[:3] == ('odom', '0', str(REFERENCE_POSES + 1))
    assert math.isclose(float(match[0].group(4)), 1.0, abs_tol=1e-4)
    assert operator.proc.poll() is None
