"""
``ran_emulator``: the simulated gNodeB and air interface between the teleoperation nodes.

Relays four topics (remap them as any topic) with the delay and loss that
:class:`~ior_ros.core.ran.emulated_link.EmulatedLink` decides per packet for the slice's PRBs,
channel, load and injected faults:

==============  ===============  ===============================  ======  =====================
in              out              type                             slice   QoS (in and out)
==============  ===============  ===============================  ======  =====================
``cmd_in``      ``cmd_out``      ior_ros/TeleopCommand            URLLC   in: best effort, depth
                                                                          100; out: reliable,
                                                                          depth 100
``state_in``    ``state_out``    ior_ros/RobotState               eMBB    as cmd
``verdict_in``  ``verdict_out``  ior_ros/TwinPrediction           URLLC   reliable, depth 100
``video_in``    ``video_out``    sensor_msgs/CompressedImage      eMBB    in: best effort, depth
                                                                          10; out: reliable,
                                                                          depth 10
==============  ===============  ===============================  ======  =====================

The command, state and video inputs are best effort so that they match best-effort publishers as
well as reliable ones (a reliable reader does not match a best-effort writer); the outputs are
reliable, which best-effort and reliable readers both accept. Video keeps 10 (frames are
bulky). The twin's verdicts (one per judged command, matched by ``command_sequence``) cross the
URLLC slice towards the robot like the commands they judge, reliable both ways (a lost veto
would let a risky command through). Messages are relayed as serialized bytes (raw
subscriptions), unchanged. On the air a video frame takes ``8 × len(serialized bytes)`` bits (a
frame bigger than ``embb_max_queue_bits`` is always dropped, counted as lost); every other
message takes its slice's ``packet_bits`` (the traffic model's packet, whatever the
serializer makes of it). A slice policy (ior_ros/SlicePolicy on ``slice_policy``) sets the PRBs
per slice from the slot in progress; a policy that does not fit the carrier is logged and
ignored.

Time: the node's wall time is a steady :class:`Clock` (so an in-process world drives it with its
virtual time, :mod:`ior_ros.runtime.inproc`); simulated time is ``slot index × slot_s`` and runs
``real_time_factor`` times as fast. The link finds a packet's departure when the packet arrives
(:meth:`~ior_ros.core.ran.emulated_link.EmulatedLink.offer`) and runs many slots at once, with
or without background traffic, so the node runs no per-slot loop: when a packet arrives and when
its one timer fires, it runs the slots up to now, in stretches that end at events, and sets the
timer to the next event: the end of the slot in which a queued or held packet is due for release
(``extra_delay_s`` included), the next metrics instant or the next ``/clock`` publication, and
at most ``tick_period_s`` of wall time ahead. A packet is published at the end of its release
slot. A node that fell more than ``MAX_CATCH_UP_SLOTS`` slots behind its wall time (suspended,
overloaded) runs only the last ones of them: its simulated time falls behind. With
``publish_clock`` the node publishes the simulated time on ``/clock`` every ``clock_period_s``
of simulated time, so nodes with ``use_sim_time`` follow the emulated network. Metrics
(ior_ros/RanMetrics on ``ran_metrics``, one UeMetrics per slice: UE 0 the eMBB UE, UE 1 the
URLLC UE) every ``metrics_period_s`` of simulated time.

Parameters (``ros2 param describe`` shows each with its range): the cell (``slot_s``,
``total_prbs``, ``link_preset``, ``seed``), per slice (prefix ``urllc_`` or ``embb_``): ``prbs``,
``distance_m``, ``packet_bits``, ``background_bps``, ``burst_bps``, ``burst_on_s``,
``burst_off_s``, ``max_queue_bits``, ``loss`` and
``extra_delay_s`` (the last two change at run time with ``ros2 param set``; the others are
read-only), and the node's timing (``real_time_factor``, ``tick_period_s``, ``metrics_period_s``,
``publish_clock``, ``clock_period_s``). A start value outside its range, or slices with more PRBs
than the carrier, stops the node with one line (exit code 2).
"""

from __future__ import annotations

import heapq
import itertools
import math
import sys
from typing import Any

import numpy as np
from pydantic import Field

from ior_ros.core.config import FrozenModel, validate_config
from ior_ros.core.errors import ConfigError
from ior_ros.core.ran.emulated_link import (
    SLICE_EMBB,
    SLICE_URLLC,
    EmulatedLink,
    EmulatedLinkConfig,
)
from ior_ros.core.ran.link_budget import LINK_PRESETS
from ior_ros.nodes._descriptors import describe
from ior_ros.nodes._main import spin_node
from ior_ros.runtime import (
    Clock,
    ClockType,
    Node,
    QoSProfile,
    ReliabilityPolicy,
    SetParametersResult,
    get_message,
    qos_profile_clock,
)

ClockMsg = get_message('rosgraph_msgs/msg/Clock')
TimeMsg = get_message('builtin_interfaces/msg/Time')
TeleopCommand = get_message('ior_ros/msg/TeleopCommand')
RobotState = get_message('ior_ros/msg/RobotState')
TwinPrediction = get_message('ior_ros/msg/TwinPrediction')
SlicePolicy = get_message('ior_ros/msg/SlicePolicy')
RanMetrics = get_message('ior_ros/msg/RanMetrics')
UeMetrics = get_message('ior_ros/msg/UeMetrics')
CompressedImage = get_message('sensor_msgs/msg/CompressedImage')

#: most slots one run of the slot loop may run: a node that fell further behind (suspended,
#: overloaded) skips the rest instead of stalling its relays while it catches up
MAX_CATCH_UP_SLOTS = 2000
#: depth of the video relay's reader and writer (frames are bulky)
VIDEO_DEPTH = 10

_SLICES = {'urllc': SLICE_URLLC, 'embb': SLICE_EMBB}


class RanEmulatorConfig(FrozenModel):
    """Everything the node's parameters set: the emulated cell plus the node's timing."""

    cell: EmulatedLinkConfig = Field(default_factory=EmulatedLinkConfig)
    seed: int = Field(0, ge=0)
    """Seed of the link's random generator (fading, losses, background arrivals)."""
    real_time_factor: float = Field(1.0, ge=0.01, le=100.0)
    """Simulated seconds per wall second."""
    tick_period_s: float = Field(0.1, ge=1e-4, le=10.0)
    """Longest wall time between two runs of the slot loop [s] (they run at events)."""
    metrics_period_s: float = Field(0.1, ge=1e-3, le=3600.0)
    """Simulated time between two RanMetrics [s]."""
    publish_clock: bool = False
    """Publish the simulated time on /clock."""
    clock_period_s: float = Field(0.01, ge=1e-4, le=10.0)
    """Simulated time between two /clock messages [s]."""


def declare_config(node: Any) -> RanEmulatorConfig:
    """Declare the node's parameters (with descriptors) and build its configuration."""
    def param(name: str, default: Any, text: str, **kw: Any) -> Any:
        return node.declare_parameter(name, default, describe(text, **kw)).value

    ro = {'read_only': True}
    cell: dict[str, Any] = {
        'slot_s': param('slot_s', 1e-3, 'slot length [s]; 1 ms is NR numerology 0; from 10 us '
                        'to 100 ms', float_range=(1e-5, 0.1), **ro),
        'total_prbs': param('total_prbs', 50, 'PRBs of the carrier (275: the largest NR '
                            'carrier)', int_range=(1, 275), **ro),
        'link': param('link_preset', 'physical', 'radio link model preset (docs/models/ran.md)',
                      additional_constraints='one of ' + ', '.join(LINK_PRESETS), **ro),
    }
    defaults = EmulatedLinkConfig()
    for prefix, slice_id in _SLICES.items():
        d = defaults.slice(slice_id)
        cell[prefix] = {
            'prbs': param(f'{prefix}_prbs', d.prbs, f'PRBs of the {prefix} slice until a slice '
                          'policy arrives', int_range=(0, 275), **ro),
            'distance_m': param(f'{prefix}_distance_m', d.distance_m, f'distance of the {prefix} '
                                'UE from the gNB [m]', float_range=(0.1, 100e3), **ro),
            'packet_bits': param(f'{prefix}_packet_bits', d.packet_bits, 'size of one '
                                 f'{prefix} packet on the air [bit]',
                                 int_range=(8, 100_000_000), **ro),
            'background_bps': param(f'{prefix}_background_bps', d.background_bps, 'background '
                                    f'traffic sharing the {prefix} queue [bit/s], Poisson',
                                    float_range=(0.0, 10e9), **ro),
            'burst_bps': param(f'{prefix}_burst_bps', d.burst_bps, f'extra {prefix} background '
                               'rate during bursts [bit/s] (MMPP-2); 0: no bursts',
                               float_range=(0.0, 10e9), **ro),
            'burst_on_s': param(f'{prefix}_burst_on_s', d.burst_on_s, f'mean {prefix} burst '
                                'length [s], exponential', float_range=(1e-3, 3600.0), **ro),
            'burst_off_s': param(f'{prefix}_burst_off_s', d.burst_off_s, f'mean gap between '
                                 f'{prefix} bursts [s], exponential',
                                 float_range=(1e-3, 3600.0), **ro),
            'max_queue_bits': param(f'{prefix}_max_queue_bits', d.max_queue_bits, f'{prefix} '
                                    'queue capacity [bit]; a packet beyond it is dropped',
                                    float_range=(1.0, 1e12), **ro),
            'loss': param(f'{prefix}_loss', d.loss, f'injected loss probability of {prefix} '
                          'packets [1]; follows ros2 param set', float_range=(0.0, 1.0)),
            'extra_delay_s': param(f'{prefix}_extra_delay_s', d.extra_delay_s, 'injected delay '
                                   f'added to every {prefix} packet [s]; follows ros2 param set',
                                   float_range=(0.0, 60.0)),
        }
    name = node.get_name()
    if cell['link'] not in LINK_PRESETS:
        raise ConfigError(f"parameter 'link_preset' of node {name}: {cell['link']!r} is not "
                          f"one of {', '.join(LINK_PRESETS)}")
    used = cell['urllc']['prbs'] + cell['embb']['prbs']
    if used > cell['total_prbs']:
        raise ConfigError(f"parameters 'urllc_prbs' + 'embb_prbs' of node {name} = {used}: at "
                          f"most 'total_prbs' = {cell['total_prbs']}")
    return validate_config(RanEmulatorConfig, {
        'cell': cell,
        'seed': param('seed', 0, 'seed of the random generator; fixed at start',
                      int_range=(0, 2**31 - 1), **ro),
        'real_time_factor': param('real_time_factor', 1.0, 'simulated seconds per wall second',
                                  float_range=(0.01, 100.0), **ro),
        'tick_period_s': param('tick_period_s', 0.1, 'longest wall time between two runs of the '
                               'slot loop [s]; they run at events (packets, releases, metrics, '
                               '/clock)', float_range=(1e-4, 10.0), **ro),
        'metrics_period_s': param('metrics_period_s', 0.1, 'simulated time between RanMetrics '
                                  '[s]', float_range=(1e-3, 3600.0), **ro),
        'publish_clock': param('publish_clock', False, 'publish the simulated time on /clock',
                               **ro),
        'clock_period_s': param('clock_period_s', 0.01, 'simulated time between /clock '
                                'messages [s]', float_range=(1e-4, 10.0), **ro),
    })


class RanEmulator(Node):  # type: ignore[misc]
    """Relays the teleoperation topics through the emulated radio."""

    def __init__(self) -> None:
        super().__init__('ran_emulator')
        self.config = declare_config(self)
        cell = self.config.cell
        self.link = EmulatedLink(cell, np.random.default_rng(self.config.seed))
        qos = QoSProfile(depth=100)  # reliable (module docstring: the QoS of each relay)
        accept_any = QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.cmd_pub = self.create_publisher(TeleopCommand, 'cmd_out', qos)
        self.state_pub = self.create_publisher(RobotState, 'state_out', qos)
        self.verdict_pub = self.create_publisher(TwinPrediction, 'verdict_out', qos)
        self.video_pub = self.create_publisher(CompressedImage, 'video_out',
                                               QoSProfile(depth=VIDEO_DEPTH))
        self.metrics_pub = self.create_publisher(RanMetrics, 'ran_metrics', 10)
        self.clock_pub = (self.create_publisher(ClockMsg, '/clock', qos_profile_clock)
                          if self.config.publish_clock else None)
        self.create_subscription(TeleopCommand, 'cmd_in', self._relay(SLICE_URLLC, self.cmd_pub),
                                 accept_any, raw=True)
        self.create_subscription(RobotState, 'state_in',
                                 self._relay(SLICE_EMBB, self.state_pub), accept_any, raw=True)
        self.create_subscription(TwinPrediction, 'verdict_in',
                                 self._relay(SLICE_URLLC, self.verdict_pub), qos, raw=True)
        self.create_subscription(
            CompressedImage, 'video_in', self._relay(SLICE_EMBB, self.video_pub, sized=True),
            QoSProfile(depth=VIDEO_DEPTH, reliability=ReliabilityPolicy.BEST_EFFORT), raw=True)
        self.create_subscription(SlicePolicy, 'slice_policy', self.on_policy, 10)
        self._ids = itertools.count()
        self._held: dict[int, tuple[Any, bytes]] = {}
        self._due: list[tuple[int, int]] = []  # (release slot, packet id)
        self._metrics_slots = max(1, round(self.config.metrics_period_s / cell.slot_s))
        self._clock_slots = max(1, round(self.config.clock_period_s / cell.slot_s))
        wall = Clock(clock_type=ClockType.STEADY_TIME)
        # its time in ns: the DDS runtime's clocks read it without building a Time; rclpy's
        self._wall_ns = getattr(wall, 'now_ns', None) or (lambda: wall.now().nanoseconds)
        self._start_ns = self._wall_ns()
        self._slots_per_ns = self.config.real_time_factor / (cell.slot_s * 1e9)
        self._max_wait_ns = int(round(self.config.tick_period_s * 1e9))
        self._slots_done = 0  # slots of wall time accounted for (the link's, plus skipped ones)
        self._wake_ns = -1  # when the timer is armed for (steady clock) [ns]
        self.add_on_set_parameters_callback(self.on_set_parameters)
        self.timer = self.create_timer(self.config.tick_period_s, self.tick, clock=wall)
        self._schedule()
        self.get_logger().info(
            f'ran_emulator: slot {cell.slot_s * 1e3:g} ms, PRBs urllc {cell.urllc.prbs} / embb '
            f'{cell.embb.prbs} of {cell.total_prbs}, mean SNR urllc '
            f'{self.link.mean_snr_db(SLICE_URLLC):.1f} dB, embb '
            f'{self.link.mean_snr_db(SLICE_EMBB):.1f} dB')

    def _relay(self, slice_id: int, publisher: Any, sized: bool = False) -> Any:
        """The callback of one relay; ``sized``: the message takes its own size on the air."""
        def on_message(data: bytes) -> None:
            self.advance()  # run the slots due first: the packet arrives in the slot of its time
            packet_id = next(self._ids)
            bits = 8 * len(data) if sized else None
            if self.link.offer(slice_id, packet_id, bits):
                self._held[packet_id] = (publisher, bytes(data))
            self._schedule()
        return on_message

    def on_policy(self, msg: Any) -> None:
        """New PRBs per slice; a policy that does not fit is logged and ignored."""
        self.advance()  # the slots before now keep the old PRBs
        ids, prbs = list(msg.slice_id), list(msg.slice_prbs)
        if len(ids) != len(prbs):
            self.get_logger().warning(f'slice_policy ignored: {len(ids)} slice_id but '
                                      f'{len(prbs)} slice_prbs (must be parallel arrays)')
            return
        try:
            self.link.set_prbs({int(s): int(n) for s, n in zip(ids, prbs, strict=True)})
        except ValueError as exc:  # ModelError
            self.get_logger().warning(f'slice_policy ignored: {exc}')
            return
        self.get_logger().info('slice policy: PRBs urllc '
                               f'{self.link.prbs(SLICE_URLLC)}, embb {self.link.prbs(SLICE_EMBB)}')
        self._schedule()  # the queued packets have new departures

    def on_set_parameters(self, params: list[Any]) -> Any:
        """``<slice>_loss`` and ``<slice>_extra_delay_s`` apply from the next packet/slot."""
        self.advance()  # the slots before now keep the old faults
        for p in params:
            prefix, _, rest = p.name.partition('_')
            if prefix in _SLICES and rest == 'loss':
                self.link.set_fault(_SLICES[prefix], loss=float(p.value))
            elif prefix in _SLICES and rest == 'extra_delay_s':
                self.link.set_fault(_SLICES[prefix], extra_delay_s=float(p.value))
        self._schedule()
        return SetParametersResult(successful=True)

    @property
    def sim_time_ns(self) -> int:
        """Simulated time: start of the slot in progress [ns]."""
        return int(round(self.link.slot * self.config.cell.slot_s * 1e9))

    def tick(self) -> None:
        """The timer: run the slots due, set the timer to the next event."""
        self.advance()
        self._schedule()

    def advance(self) -> None:
        """Run the slots up to now, in stretches that end where something is to be done."""
        elapsed_ns = self._wall_ns() - self._start_ns
        target = int(elapsed_ns * self._slots_per_ns + 1e-9)
        if target - self._slots_done > MAX_CATCH_UP_SLOTS:
            self._slots_done = target - MAX_CATCH_UP_SLOTS
        while self._slots_done < target:
            count = min(target - self._slots_done, self._slots_to_next_event())
            for delivery in self.link.advance(count):
                heapq.heappush(self._due, (delivery.release_slot, delivery.packet_id))
            self._slots_done += count
            self._end_of_slot()

    def _end_of_slot(self) -> None:
        """What happens when a slot ends: releases, metrics, /clock."""
        slot = self.link.slot  # slots finished so far
        while self._due and self._due[0][0] < slot:
            _, packet_id = heapq.heappop(self._due)
            publisher, data = self._held.pop(packet_id)
            publisher.publish(data)
        if slot % self._metrics_slots == 0:
            self.publish_metrics()
        if self.clock_pub is not None and slot % self._clock_slots == 0:
            sec, nsec = divmod(self.sim_time_ns, 1_000_000_000)
            self.clock_pub.publish(ClockMsg(clock=TimeMsg(sec=sec, nanosec=nsec)))

    def _slots_to_next_event(self) -> int:
        """Slots from the slot in progress to the next end of a slot with something to do: a
        release (of a held packet, or of one still in the link), metrics, /clock."""
        slot = self.link.slot
        ahead = self._metrics_slots - slot % self._metrics_slots
        if self.clock_pub is not None:
            ahead = min(ahead, self._clock_slots - slot % self._clock_slots)
        if self._due:
            ahead = min(ahead, self._due[0][0] + 1 - slot)
        release = self.link.next_release_slot()
        if release is not None:
            ahead = min(ahead, release + 1 - slot)
        return max(1, ahead)

    def _schedule(self) -> None:
        """Set the timer to the next event (at most ``tick_period_s`` of wall time ahead)."""
        ahead = self._slots_to_next_event()
        wake_ns = self._start_ns + math.ceil((self._slots_done + ahead) / self._slots_per_ns)
        now_ns = self._wall_ns()
        wake_ns = min(max(now_ns + 1, wake_ns), now_ns + self._max_wait_ns)
        if wake_ns == self._wake_ns:
            return  # armed for it already (a second packet in the same slot)
        self._wake_ns = wake_ns
        self.timer.timer_period_ns = wake_ns - now_ns
        self.timer.reset()

    def publish_metrics(self) -> None:
        sec, nsec = divmod(self.sim_time_ns, 1_000_000_000)
        stamp = TimeMsg(sec=sec, nanosec=nsec)
        msg = RanMetrics(interval_s=self.config.metrics_period_s,
                         total_prbs=self.config.cell.total_prbs)
        msg.header.stamp = stamp
        ues = []
        for report in self.link.report():
            ue = UeMetrics(ue_id=report.slice_id, slice_id=report.slice_id,
                           rate_bps=report.rate_bps, queue_bits=report.queue_bits,
                           delay_s=report.delay_s, sinr_db=report.sinr_db, prbs=report.prbs,
                           packet_loss_ratio=report.loss_ratio)
            ue.header.stamp = stamp
            ues.append(ue)
        msg.ues = ues
        self.metrics_pub.publish(msg)


def main(args: list[str] | None = None) -> int:
    return spin_node(RanEmulator, args)


if __name__ == '__main__':
    sys.exit(main())
