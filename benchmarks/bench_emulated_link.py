"""
Emulated-link benchmark (issue 12: the closed loop in one process at real-time factor >= 20).

Measured in one run, on CPU time (``time.process_time``, best of ``--repeat``):

* ``link``: slots per second of :class:`~ior_ros.core.ran.emulated_link.EmulatedLink` under the
  load of config/closed_loop.yaml (URLLC 2 Mb/s and eMBB 20 Mb/s of background) plus the relays
  of the three-node loop (a command every 10 slots on URLLC, a robot state every 10 and a 65 kB
  video frame every 33 on eMBB; metrics every 100 slots), driven as the ran_emulator node drives
  it (``advance`` to the next packet, release or metrics instant); and the same load on
  :class:`PerSlotLink`, the per-slot path this replaced (a Poisson draw, a Rayleigh draw per PRB
  and a rate per slot and slice, in Python), stepped slot by slot. The relayed packets' mean
  delays of both come with it: the same model, drawn differently, so they agree within noise.
* ``loop``: the real-time factor (virtual over CPU seconds) of the three-node in-process loop of
  test/nodes/test_inproc_loop.py (teleop_operator → ran_emulator → robot_controller and back,
  video relayed), with the closed-loop background traffic and without, and with a pass-through
  node (relays at once, no radio) instead of the emulator: what the loop costs without the radio.
  ``--profile`` prints the functions that take the most CPU in the loop with background traffic.

Target (issue 12): the loop >= 20 × real time.

Rerun: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_emulated_link.py`` (``--quick``: a
shorter run; ``--json``: one JSON object).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import time
from collections import deque
from collections.abc import Callable
from typing import Any

os.environ.setdefault('OMP_NUM_THREADS', '1')

import numpy as np  # noqa: E402

from ior_ros.core.config import validate_config  # noqa: E402
from ior_ros.core.ran.channel import rayleigh_power_gain  # noqa: E402
from ior_ros.core.ran.emulated_link import (  # noqa: E402
    SLICE_EMBB,
    SLICE_URLLC,
    SLICES,
    EmulatedLink,
    EmulatedLinkConfig,
)

RERUN = 'OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_emulated_link.py'
BACKGROUND = {'urllc_background_bps': 2e6, 'embb_background_bps': 2e7}  # closed_loop.yaml
FRAME_BITS = 8 * 65_000  # robot_controller's mean video frame (15.6 Mb/s at 30 frames/s)
RADIO = {'cmd_in': '/teleop/cmd', 'cmd_out': '/robot/cmd', 'state_in': '/robot/state',
         'state_out': '/teleop/state', 'verdict_in': '/teleop/twin_prediction',
         'verdict_out': '/robot/twin_prediction', 'video_in': '/robot/video',
         'video_out': '/teleop/video'}


class PerSlotLink:
    """
    The per-slot path of the earlier EmulatedLink, kept here to compare: every slot draws its
    background arrivals (one Poisson draw, then one uniform per packet for the injected loss),
    its Rayleigh gains (one draw per slice) and its rate, and serves a deque of packets.
    """

    def __init__(self, config: EmulatedLinkConfig, rng: np.random.Generator) -> None:
        self.config = config
        self.rng = rng
        self.slot = 0
        self.queues: dict[int, deque[list[float]]] = {s: deque() for s in SLICES}
        self.queued = {s: 0.0 for s in SLICES}
        self.mean_snr = {s: float(config.link.mean_snr(config.slice(s).distance_m))
                         for s in SLICES}

    def offer(self, slice_id: int, packet_id: int, bits: float | None = None) -> bool:
        cfg = self.config.slice(slice_id)
        size = float(cfg.packet_bits if bits is None else bits)
        if cfg.loss > 0.0 and float(self.rng.random()) < cfg.loss:
            return False
        if self.queued[slice_id] + size > cfg.max_queue_bits:
            return False
        self.queues[slice_id].append([packet_id, self.slot, size])
        self.queued[slice_id] += size
        return True

    def step(self) -> list[tuple[int, float]]:
        """One slot; the relayed packets that left in it: (id, delay [s])."""
        out = []
        slot_s = self.config.slot_s
        for s in SLICES:
            cfg = self.config.slice(s)
            if cfg.background_bps > 0:
                mean = cfg.background_bps * slot_s / cfg.packet_bits
                for _ in range(int(self.rng.poisson(mean))):
                    self.offer(s, -1)
            queue = self.queues[s]
            gains = rayleigh_power_gain(self.rng, (cfg.prbs,), self.config.link.rayleigh_scale)
            budget = float(np.sum(self.config.link.rate_bps(self.mean_snr[s] * gains))) * slot_s
            while queue and budget > 0.0:
                head = queue[0]
                take = min(head[2], budget)
                head[2] -= take
                budget -= take
                self.queued[s] -= take
                if head[2] > 1e-9:
                    break
                queue.popleft()
                if head[0] >= 0:
                    out.append((int(head[0]), (self.slot - head[1] + 1) * slot_s))
            if not queue:
                self.queued[s] = 0.0
        self.slot += 1
        return out


def _offers(slots: int) -> dict[int, list[tuple[int, float | None]]]:
    """The relays of the three-node loop: slot -> (slice, bits or None for packet_bits)."""
    out: dict[int, list[tuple[int, float | None]]] = {}
    for t in range(slots):
        todo: list[tuple[int, float | None]] = []
        if t % 10 == 0:
            todo += [(SLICE_URLLC, None), (SLICE_EMBB, None)]
        if t % 33 == 5:
            todo.append((SLICE_EMBB, float(FRAME_BITS)))
        if todo:
            out[t] = todo
    return out


def _cell() -> EmulatedLinkConfig:
    return validate_config(EmulatedLinkConfig, {
        'urllc': {'prbs': 10, 'packet_bits': 800, 'background_bps': BACKGROUND[
            'urllc_background_bps']},
        'embb': {'prbs': 40, 'packet_bits': 12_000, 'background_bps': BACKGROUND[
            'embb_background_bps']}})


def _run_new(slots: int) -> tuple[float, dict[int, float]]:
    """CPU seconds of the fast path driven as the node drives it; mean delay per slice [s]."""
    cell, offers = _cell(), _offers(slots)
    link = EmulatedLink(cell, np.random.default_rng(1))
    events = sorted({*offers, *range(0, slots + 1, 100)})
    delays: dict[int, list[float]] = {s: [] for s in SLICES}
    slice_of: dict[int, int] = {}
    pid = 0
    start = time.process_time()
    for t in events:
        while link.slot < t:  # to the next release, or to the event
            due = link.next_release_slot()
            ahead = t - link.slot if due is None else max(1, min(t - link.slot,
                                                                 due + 1 - link.slot))
            for d in link.advance(ahead):
                delays[slice_of.pop(d.packet_id)].append(d.delay_s)
        if t % 100 == 0:
            link.report()
        for slice_id, bits in offers.get(t, []):
            if link.offer(slice_id, pid, bits):
                slice_of[pid] = slice_id
            pid += 1
    took = time.process_time() - start
    return took, {s: float(np.mean(v)) for s, v in delays.items()}


def _run_old(slots: int) -> tuple[float, dict[int, float]]:
    """CPU seconds of the per-slot path, one step() per slot; mean delay per slice [s]."""
    offers = _offers(slots)
    link = PerSlotLink(_cell(), np.random.default_rng(1))
    delays: dict[int, list[float]] = {s: [] for s in SLICES}
    slice_of: dict[int, int] = {}
    pid = 0
    start = time.process_time()
    for t in range(slots):
        for slice_id, bits in offers.get(t, []):
            if link.offer(slice_id, pid, bits):
                slice_of[pid] = slice_id
            pid += 1
        for packet_id, delay in link.step():
            delays[slice_of.pop(packet_id)].append(delay)
    took = time.process_time() - start
    return took, {s: float(np.mean(v)) for s, v in delays.items()}


def _pass_through() -> Any:
    """A node that relays the loop's topics at once (no radio): the loop's floor."""
    from ior_ros.runtime import QoSProfile, ReliabilityPolicy, get_message
    from ior_ros.runtime.node import Node

    class PassThrough(Node):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__('ran_emulator')
            best_effort = QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)
            for src, dst, typename in (('cmd_in', 'cmd_out', 'ior_ros/msg/TeleopCommand'),
                                       ('state_in', 'state_out', 'ior_ros/msg/RobotState'),
                                       ('video_in', 'video_out',
                                        'sensor_msgs/msg/CompressedImage')):
                msg_type = get_message(typename)
                pub = self.create_publisher(msg_type, dst, QoSProfile(depth=100))
                self.create_subscription(msg_type, src, self._relay(pub), best_effort,
                                         raw=True)

        @staticmethod
        def _relay(pub: Any) -> Callable[[bytes], None]:
            return lambda data: pub.publish(bytes(data))

    return PassThrough


def _loop(emulator: str, seconds: float, profile: bool = False) -> tuple[float, str]:
    """CPU seconds of ``seconds`` virtual seconds of the three-node loop (and a profile)."""
    from ior_ros.runtime.inproc import InprocWorld

    with InprocWorld(seed=1) as world:
        from ior_ros.nodes.ran_emulator import RanEmulator
        from ior_ros.nodes.robot_controller import RobotController
        from ior_ros.nodes.teleop_operator import TeleopOperator

        world.add(TeleopOperator, remaps={'cmd': '/teleop/cmd', 'state': '/teleop/state',
                                          'video': '/teleop/video'})
        if emulator == 'pass_through':
            world.add(_pass_through(), remaps=RADIO)
        else:
            world.add(RanEmulator, remaps=RADIO,
                      parameters=BACKGROUND if emulator == 'background' else {})
        world.add(RobotController, remaps={'cmd': '/robot/cmd', 'state': '/robot/state',
                                           'delay': '/robot/delay', 'video': '/robot/video'})
        profiler = cProfile.Profile() if profile else None
        start = time.process_time()
        if profiler is not None:
            profiler.enable()
        world.run(seconds)
        if profiler is not None:
            profiler.disable()
        took = time.process_time() - start
    text = ''
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats('tottime').print_stats(25)
        text = out.getvalue()
    return took, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='a shorter run')
    parser.add_argument('--repeat', type=int, default=3, help='runs of each; the best counts')
    parser.add_argument('--profile', action='store_true',
                        help='print the loop profile (background traffic)')
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    args = parser.parse_args()
    slots = 5_000 if args.quick else 30_000
    seconds = 5.0 if args.quick else 20.0
    from ior_ros.experiments.contract import machine_info

    new = [_run_new(slots) for _ in range(args.repeat)]
    old = [_run_old(slots) for _ in range(args.repeat)]
    new_s, old_s = min(t for t, _ in new), min(t for t, _ in old)
    link = {'slots': slots,
            'new_slots_per_s': slots / new_s, 'per_slot_slots_per_s': slots / old_s,
            'speed_up': old_s / new_s,
            'mean_delay_ms': {name: {'new': new[0][1][s] * 1e3, 'per_slot': old[0][1][s] * 1e3}
                              for name, s in (('urllc', SLICE_URLLC), ('embb', SLICE_EMBB))}}
    loop: dict[str, Any] = {'virtual_s': seconds}
    for name in ('background', 'no_background', 'pass_through'):
        cpu = min(_loop(name, seconds)[0] for _ in range(args.repeat))
        loop[name] = {'cpu_s': cpu, 'real_time_factor': seconds / cpu}
    loop['emulator_share_of_cpu'] = 1.0 - loop['pass_through']['cpu_s'] / \
        loop['background']['cpu_s']
    profile = _loop('background', seconds, profile=True)[1] if args.profile else ''
    result = {'link': link, 'loop': loop, 'machine': machine_info(), 'rerun': RERUN,
              'target': 'loop real_time_factor >= 20 (issue 12)'}
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f'link, closed-loop load, {slots} slots: {link["new_slots_per_s"]:,.0f} slots/s '
              f'(per-slot path {link["per_slot_slots_per_s"]:,.0f}; {link["speed_up"]:.0f}x)')
        for name, d in link['mean_delay_ms'].items():
            print(f'  {name} relayed mean delay: {d["new"]:.2f} ms (per-slot path '
                  f'{d["per_slot"]:.2f} ms)')
        for name in ('background', 'no_background', 'pass_through'):
            print(f'loop {name}: {seconds:g} s virtual in {loop[name]["cpu_s"]:.2f} s CPU, '
                  f'real-time factor {loop[name]["real_time_factor"]:.1f}')
        print(f'  the emulator: {loop["emulator_share_of_cpu"]:.0%} of the loop\'s CPU')
        print(f'rerun: {RERUN}')
    if profile:
        print(profile)


if __name__ == '__main__':
    main()
