"""
The closed loop of issue 12 in one process (ior_ros.runtime.inproc): teleop_operator →
ran_emulator → robot_controller and back, the shipped node classes with the topic names of the
launch files, on the world's virtual clock, with the background traffic of
config/closed_loop.yaml in both slices. The loop closes (the robot tracks the figure eight as it
does over DDS), one seed gives the same bytes twice and another seed other bytes, and the
real-time factor is measured. The emulator alone in a world gives exactly the delays of the core
model stepped slot by slot (with and without background traffic; video frames by their size),
and relays the twin's verdicts.
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

import numpy as np
import pytest

from ior_ros.core.config import validate_config
from ior_ros.core.ran.emulated_link import (
    SLICE_EMBB,
    SLICE_URLLC,
    EmulatedLink,
    EmulatedLinkConfig,
)
from ior_ros.runtime.inproc import InprocWorld
from ior_ros.runtime.node import Node
from ior_ros.runtime.qos import QoSProfile
from ior_ros.runtime.registry import decode, get_message, serialize

RUN_S = 20.0
SETTLE_S = 2.0  # the robot starts at rest; the first set-point is a velocity step

TeleopCommand = get_message('ior_ros/msg/TeleopCommand')
RobotState = get_message('ior_ros/msg/RobotState')
DelayMeasurement = get_message('ior_ros/msg/DelayMeasurement')
TwinPrediction = get_message('ior_ros/msg/TwinPrediction')
CompressedImage = get_message('sensor_msgs/msg/CompressedImage')

RADIO = {'cmd_in': '/teleop/cmd', 'cmd_out': '/robot/cmd', 'state_in': '/robot/state',
         'state_out': '/teleop/state', 'verdict_in': '/teleop/twin_prediction',
         'verdict_out': '/robot/twin_prediction', 'video_in': '/robot/video',
         'video_out': '/teleop/video'}
#: the load of config/closed_loop.yaml: other robots' commands, other UEs' video [bit/s]
BACKGROUND = {'urllc_background_bps': 2e6, 'embb_background_bps': 2e7}
#: real-time factor on CPU time the loop must beat (issue 12 asks 20; module test below)
RTF_FLOOR = 6.0


def _loop(seed: int, run_s: float = RUN_S) -> tuple[list[bytes], list[Any], tuple[float, float]]:
    """The three nodes for ``run_s`` virtual seconds: raw /robot/state samples, the controller's
    DelayMeasurements and the (wall, CPU) time the run took."""
    from ior_ros.nodes.ran_emulator import RanEmulator
    from ior_ros.nodes.robot_controller import RobotController
    from ior_ros.nodes.teleop_operator import TeleopOperator

    with InprocWorld(seed=seed) as world:
        world.add(TeleopOperator, remaps={'cmd': '/teleop/cmd', 'state': '/teleop/state',
                                          'video': '/teleop/video'})
        world.add(RanEmulator, remaps=RADIO, parameters=BACKGROUND)
        world.add(RobotController, remaps={'cmd': '/robot/cmd', 'state': '/robot/state',
                                           'delay': '/robot/delay', 'video': '/robot/video'})
        states = world.tap('/robot/state', RobotState, raw=True)
        delays = world.tap('/robot/delay', DelayMeasurement)
        start, cpu = time.perf_counter(), time.process_time()
        world.run(run_s)
        took = time.perf_counter() - start, time.process_time() - cpu
    return states, delays, took


def test_loop_closes_repeats_from_its_seed_and_runs_faster_than_real_time() -> None:
    states_raw, delays, (wall, cpu) = _loop(seed=1)
    states = [decode(d, 'ior_ros/msg/RobotState') for d in states_raw]
    assert len(states) == int(RUN_S / 0.01)  # one per control period of 10 ms
    t = [s.header.stamp.sec + s.header.stamp.nanosec * 1e-9 for s in states]
    window = [s.tracking_error_m for s, ts in zip(states, t, strict=True) if ts > SETTLE_S]
    rmse = math.sqrt(statistics.fmean(e * e for e in window))
    one_way = [d.one_way_delay_s for d in delays]
    rate = (states[-1].command_sequence - states[0].command_sequence) / (t[-1] - t[0])
    print(f'in-process loop: {RUN_S:g} s virtual in {wall:.2f} s wall, {cpu:.2f} s CPU (real-time '
          f'factor {RUN_S / wall:.1f}, on CPU time {RUN_S / cpu:.1f}), tracking RMSE '
          f'{rmse * 1e3:.2f} mm, max {max(window) * 1e3:.2f} mm, '
          f'{len(one_way)} commands, delay median {statistics.median(one_way) * 1e3:.2f} ms '
          f'max {max(one_way) * 1e3:.2f} ms, command rate {rate:.1f}/s')
    # the loop closes: the robot follows the figure eight (a = 1 m) within a few mm, as over DDS
    assert 0.2e-3 < rmse < 5e-3
    assert abs(max(s.pose.position.x for s in states) - 1.0) < 0.05
    assert abs(min(s.pose.position.y for s in states) + 0.5) < 0.05
    # commands cross the URLLC slice: 800 bit on 10 PRBs leave in their slot (1 ms); the
    # controller measures the delay of every command it receives (its subscription keeps 16),
    # so every command sent is measured once
    assert 85.0 < rate < 115.0 and 0.9 * 100 * RUN_S < len(one_way) < 1.1 * 100 * RUN_S
    assert all(1e-3 - 1e-12 <= d < 5e-3 for d in one_way)
    # issue 12 asks for >= 20 (benchmarks/bench_emulated_link.py and BENCHMARKS.md: what the
    # loop costs, node by node); CPU time, because the wall time of a machine shared with other
    # work says more about the others
    assert RUN_S / cpu > RTF_FLOOR

    # the same seed: the same bytes; another seed: other bytes
    again, _, _ = _loop(seed=1)
    assert again == states_raw
    other, _, _ = _loop(seed=2, run_s=5.0)
    assert other != states_raw[:len(other)]


def test_loop_on_the_emulators_clock() -> None:
    """The simulation set-up of the launch files: ran_emulator publishes /clock (every 1 ms of
    its simulated time, at real_time_factor 2 of the world's time) and the other two nodes use
    sim time; the loop runs on the emulator's time."""
    from ior_ros.nodes.ran_emulator import RanEmulator
    from ior_ros.nodes.robot_controller import RobotController
    from ior_ros.nodes.teleop_operator import TeleopOperator

    sim = {'use_sim_time': True}
    with InprocWorld(seed=5) as world:
        world.add(TeleopOperator, parameters=sim,
                  remaps={'cmd': '/teleop/cmd', 'state': '/teleop/state'})
        world.add(RanEmulator, remaps=RADIO, parameters={
            'publish_clock': True, 'clock_period_s': 0.001, 'real_time_factor': 2.0})
        world.add(RobotController, parameters=sim,
                  remaps={'cmd': '/robot/cmd', 'state': '/robot/state'})
        states = world.tap('/robot/state', RobotState)
        world.run(2.5)
    stamps = [s.header.stamp.sec + s.header.stamp.nanosec * 1e-9 for s in states]
    window = [s.tracking_error_m for s, t in zip(states, stamps, strict=True) if t > SETTLE_S]
    rmse = math.sqrt(statistics.fmean(e * e for e in window))
    print(f'sim time: {len(states)} states up to {stamps[-1]:.3f} s, RMSE {rmse * 1e3:.2f} mm')
    assert len(states) == 500 and stamps[-1] == pytest.approx(5.0)  # 5 s simulated in 2.5 s
    assert states[-1].command_sequence > 400 and rmse < 5e-3


def test_every_output_of_a_sample_is_that_samples() -> None:
    """The robot refills one message of each kind per sample, and the operator one command:
    every sample's odometry, transforms and path poses carry that sample's values (a path pose
    is its own, not the reused state's), every DelayMeasurement its command's."""
    from ior_ros.nodes.ran_emulator import RanEmulator
    from ior_ros.nodes.robot_controller import RobotController
    from ior_ros.nodes.teleop_operator import TeleopOperator

    with InprocWorld(seed=4) as world:
        world.add(TeleopOperator, remaps={'cmd': '/teleop/cmd', 'state': '/teleop/state'})
        world.add(RanEmulator, remaps=RADIO)
        world.add(RobotController, remaps={'cmd': '/robot/cmd', 'state': '/robot/state',
                                           'delay': '/robot/delay', 'odom': '/robot/odom',
                                           'path': '/robot/path'})
        taps = {name: world.tap(topic, get_message(kind)) for name, topic, kind in [
            ('state', '/robot/state', 'ior_ros/msg/RobotState'),
            ('odom', '/robot/odom', 'nav_msgs/msg/Odometry'),
            ('tf', '/tf', 'tf2_msgs/msg/TFMessage'),
            ('path', '/robot/path', 'nav_msgs/msg/Path'),
            ('delay', '/robot/delay', 'ior_ros/msg/DelayMeasurement'),
            ('sent', '/teleop/cmd', 'ior_ros/msg/TeleopCommand')]}
        world.run(2.5)

    def ns(stamp: Any) -> int:
        return stamp.sec * 1_000_000_000 + stamp.nanosec

    states = taps['state']
    assert len(states) == len(taps['odom']) == len(taps['tf']) == 250
    for state, odom, tf in zip(states, taps['odom'], taps['tf'], strict=True):
        stamp = ns(state.header.stamp)
        assert ns(odom.header.stamp) == stamp and odom.header.frame_id == 'odom'
        assert odom.child_frame_id == 'base_link'
        assert (odom.pose.pose.position.x, odom.pose.pose.position.y) == (
            state.pose.position.x, state.pose.position.y)
        assert odom.pose.pose.orientation == state.pose.orientation
        to_odom, to_base = tf.transforms
        assert (to_odom.header.frame_id, to_odom.child_frame_id) == ('map', 'odom')
        assert to_odom.transform.rotation.w == 1.0 and ns(to_odom.header.stamp) == stamp
        assert (to_base.header.frame_id, to_base.child_frame_id) == ('odom', 'base_link')
        assert (to_base.transform.translation.x, to_base.transform.translation.y) == (
            state.pose.position.x, state.pose.position.y)
        assert to_base.transform.rotation == state.pose.orientation
    # the path: a pose every 10 samples, published every 100 (sample k is states[k - 1])
    assert len(taps['path']) == 2  # samples 100 and 200
    last = taps['path'][-1]
    assert ns(last.header.stamp) == ns(states[199].header.stamp)
    expected = states[9:200:10]
    assert len(last.poses) == len(expected) == 20
    for pose, state in zip(last.poses, expected, strict=True):
        assert ns(pose.header.stamp) == ns(state.header.stamp)
        assert pose.header.frame_id == 'odom' and pose.pose == state.pose
    assert len({pose.pose.position.x for pose in last.poses}) == 20  # the robot moved
    # every command is measured once, with its own send time and sequence
    sent = {cmd.sequence: ns(cmd.send_time) for cmd in taps['sent']}
    assert all(ns(cmd.header.stamp) == ns(cmd.send_time) for cmd in taps['sent'])
    delays = taps['delay']
    assert len(delays) > 200 and len({d.sequence for d in delays}) == len(delays)
    for d in delays:
        assert ns(d.send_time) == sent[d.sequence] and ns(d.receive_time) == ns(d.header.stamp)
        assert d.one_way_delay_s == pytest.approx((ns(d.receive_time) - ns(d.send_time)) * 1e-9)


class _Sender(Node):  # type: ignore[misc]
    """A TeleopCommand on /cmd_in every 10 ms (from 10 ms); notes each /cmd_out's delay [ns]."""

    def __init__(self) -> None:
        super().__init__('sender')
        self.pub = self.create_publisher(TeleopCommand, '/cmd_in', QoSProfile(depth=100))
        self.create_subscription(TeleopCommand, '/cmd_out', self.on_out, QoSProfile(depth=100))
        self.sequence = 0
        self.received: list[tuple[int, int]] = []  # (sequence, delay ns)
        self.create_timer(0.01, self.tick)

    def tick(self) -> None:
        self.sequence += 1
        msg = TeleopCommand(sequence=self.sequence, send_time=self.get_clock().now().to_msg())
        self.pub.publish(msg)

    def on_out(self, msg: Any) -> None:
        sent = msg.send_time.sec * 1_000_000_000 + msg.send_time.nanosec
        self.received.append((msg.sequence, self.get_clock().now().nanoseconds - sent))


def _model(config: EmulatedLinkConfig, seed: int, slots: int, every: int = 10,
           slice_id: int = SLICE_URLLC, bits: list[int] | None = None) -> list[tuple[int, int]]:
    """What the core model gives, one step() per slot, to packet k = 1, 2, ... offered in slot
    ``k × every`` (the sender's times), of ``bits[k - 1]`` bits if given: (k, delay ns), in
    release order."""
    link = EmulatedLink(config, np.random.default_rng(seed))
    out: list[tuple[int, int]] = []
    for slot in range(slots):
        k = slot // every
        if slot and slot % every == 0 and (bits is None or k <= len(bits)):
            link.offer(slice_id, k, None if bits is None else bits[k - 1])
        out += [(d.packet_id, round(d.delay_s * 1e9)) for d in link.step()]
    return out


@pytest.mark.parametrize('params', [
    # 1 Mbit/s of background on 1 PRB: queueing
    {'urllc_prbs': 1, 'urllc_packet_bits': 3000, 'urllc_background_bps': 1.0e6,
     'urllc_extra_delay_s': 0.02},
    # no background: 10 % injected loss
    {'urllc_prbs': 1, 'urllc_packet_bits': 5000, 'urllc_loss': 0.1,
     'urllc_extra_delay_s': 0.005},
], ids=['background', 'no-background'])
def test_emulator_delays_are_the_core_models_exactly(params: dict[str, Any]) -> None:
    from ior_ros.nodes.ran_emulator import RanEmulator

    with InprocWorld() as world:
        world.add(RanEmulator, parameters={**params, 'seed': 7},
                  remaps={'cmd_in': '/cmd_in', 'cmd_out': '/cmd_out'})
        sender = world.add(_Sender)
        world.run(5.0)
    config = validate_config(EmulatedLinkConfig, {'urllc': {
        k.removeprefix('urllc_'): v for k, v in params.items()}})
    model = [d for d in _model(config, 7, 5000) if d[0] < sender.sequence - 10]
    got = sender.received[:len(model)]
    delays = np.array([d for _, d in got]) * 1e-6
    print(f'{len(got)} of {sender.sequence} commands: delay p10/p50/p90 '
          f'{np.percentile(delays, [10, 50, 90])} ms')
    assert len(model) > 300 and got == model  # same packets lost, same delays, to the ns


class _Camera(Node):  # type: ignore[misc]
    """A CompressedImage on /video_in every 33 ms (from 33 ms) of 1 to 60 kB, frame 40 of 150 kB;
    notes each frame's serialized size and each /video_out's delay [ns]."""

    def __init__(self) -> None:
        super().__init__('camera')
        self.pub = self.create_publisher(CompressedImage, '/video_in', QoSProfile(depth=10))
        self.create_subscription(CompressedImage, '/video_out', self.on_out, QoSProfile(depth=10))
        self.rng = np.random.default_rng(3)
        self.sizes: list[int] = []  # serialized bytes of each frame sent
        self.received: list[tuple[int, int]] = []  # (frame, delay ns)
        self.create_timer(0.033, self.tick)

    def tick(self) -> None:
        frame = len(self.sizes) + 1
        msg = CompressedImage(format='jpeg', data=bytes(
            150_000 if frame == 40 else int(self.rng.integers(1000, 60_000))))
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = str(frame)
        self.sizes.append(len(serialize(msg)))
        self.pub.publish(msg)

    def on_out(self, msg: Any) -> None:
        sent = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self.received.append((int(msg.header.frame_id),
                              self.get_clock().now().nanoseconds - sent))


def test_video_frames_take_their_size_on_the_air() -> None:
    from ior_ros.nodes.ran_emulator import RanEmulator

    params = {'embb_prbs': 10, 'embb_packet_bits': 12000, 'embb_background_bps': 2e6,
              'embb_max_queue_bits': 1e6, 'embb_extra_delay_s': 0.002}
    with InprocWorld() as world:
        world.add(RanEmulator, parameters={**params, 'seed': 9},
                  remaps={'video_in': '/video_in', 'video_out': '/video_out'})
        camera = world.add(_Camera)
        world.run(4.0)
    config = validate_config(EmulatedLinkConfig, {'embb': {
        k.removeprefix('embb_'): v for k, v in params.items()}})
    model = [(k, d) for k, d in _model(config, 9, 4000, every=33, slice_id=SLICE_EMBB,
                                        bits=[8 * n for n in camera.sizes])
             if k * 33 + d // 1_000_000 - 1 < 4000]  # released by the end of the run
    got = camera.received
    delays = np.array([d for _, d in got]) * 1e-6
    big, small = (np.median([d for k, d in got if (camera.sizes[k - 1] > 40_000) == flag])
                  for flag in (True, False))
    print(f'{len(got)} of {len(camera.sizes)} frames; delay p10/p50/p90 '
          f'{np.percentile(delays, [10, 50, 90])} ms; median > 40 kB {big * 1e-6:.1f} ms, '
          f'<= 40 kB {small * 1e-6:.1f} ms')
    assert len(model) > 100 and got == model  # same frames, same delays, to the ns
    assert 40 not in {k for k, _ in camera.received}  # 1.2 Mbit: more than the queue holds
    assert big > small + 10e6  # ~17 kbit per slot on 10 PRBs: the size shows in the delay


def test_twin_verdicts_cross_the_urllc_slice() -> None:
    from ior_ros.nodes.ran_emulator import RanEmulator

    class Twin(Node):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__('twin')
            self.pub = self.create_publisher(TwinPrediction, '/teleop/twin_prediction',
                                             QoSProfile(depth=100))
            self.count = 0
            self.create_timer(0.02, self.tick)

        def tick(self) -> None:
            self.count += 1
            msg = TwinPrediction(command_sequence=self.count, veto=self.count % 3 == 0)
            msg.header.stamp = self.get_clock().now().to_msg()
            self.pub.publish(msg)

    class Robot(Node):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__('robot')
            self.got: list[tuple[int, bool, int]] = []
            self.create_subscription(TwinPrediction, '/robot/twin_prediction', self.on_verdict,
                                     QoSProfile(depth=100))

        def on_verdict(self, msg: Any) -> None:
            sent = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            self.got.append((msg.command_sequence, msg.veto,
                             self.get_clock().now().nanoseconds - sent))

    with InprocWorld(seed=3) as world:
        world.add(RanEmulator, remaps=RADIO, parameters={'urllc_extra_delay_s': 0.004})
        twin = world.add(Twin)
        robot = world.add(Robot)
        world.run(2.0)
    assert [(seq, veto) for seq, veto, _ in robot.got] == [
        (k, k % 3 == 0) for k in range(1, twin.count + 1)][:len(robot.got)]
    assert len(robot.got) >= twin.count - 1
    assert {delay for _, _, delay in robot.got} == {5_000_000}  # 1 slot of air + 4 ms injected
