"""
Closed-loop benchmark (issue 12): the five nodes of ``launch/sim.launch.yaml``.

Measured in one run:

* ``per_process``: every node its own process over DDS (``ior launch launch/sim.launch.yaml``)
  for ``--duration`` simulated seconds at ``real_time_factor`` 1: the real-time factor the
  ran_emulator's ``/clock`` achieved (simulated over wall time, from a ``/clock`` subscriber), the
  machine's CPU idle over the same window (``/proc/stat``: the margin left), CPU [% of one core]
  and resident memory (VmRSS, VmHWM) of every node process and of the whole stack;
* ``in_process``: node classes in one :class:`~ior_ros.runtime.inproc.InprocWorld` (virtual
  time, no DDS), three loops, each run once to warm up and then for ``--duration`` simulated
  seconds: ``three_nodes`` (teleop_operator, ran_emulator, robot_controller with the background
  traffic of config/closed_loop.yaml: test/nodes/test_inproc_loop.py's loop), ``five_nodes``
  (``ior reproduce closed-loop``'s cell, PF broker, certified schedule, twin off) and
  ``five_nodes_twin`` (the same with the digital twin and the robot's veto gate). For each: the
  real-time factor on the CPU time of ``InprocWorld.run`` (simulated seconds over CPU seconds of
  this process: what the machine's other work does not change much) and on its wall time (node
  construction excluded; the taps' decoding included), and the RSS of this process after all
  three. The twin trains ``train_budget_s`` of CPU every ``train_period_s`` of node time (0.05 s
  every 0.5 s by default), so its real-time factor cannot exceed 10 however fast the rest is;
* ``command_latency``: operator → ran_emulator → robot over DDS with the emulator's radio made
  negligible (``slot_s`` 0.1 ms, the URLLC slice 200 PRBs at 10 m, no background): the robot's
  measured delay (``/robot/delay``, wall clock) minus the radio's own delay (what the emulator
  reports in RanMetrics for the URLLC UE): p50 and p99 of the part of the command path that is
  processes and DDS, two hops.

Targets (issue 12): per-process RTF >= 1 with CPU idle left; in-process RTF >= 20.

Rerun: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_closed_loop.py --json``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault('OMP_NUM_THREADS', '1')

import numpy as np  # noqa: E402

from ior_ros.experiments.contract import machine_info  # noqa: E402

RERUN = 'OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_closed_loop.py --json'
REPO = Path(__file__).resolve().parents[1]
_TICK = os.sysconf('SC_CLK_TCK')


def _cpu_times() -> tuple[float, float]:
    """(idle, total) jiffies of the whole machine."""
    with open('/proc/stat', encoding='ascii') as f:
        fields = [float(x) for x in f.readline().split()[1:]]
    return fields[3] + fields[4], sum(fields)


def _proc(pid: int) -> dict[str, float]:
    """utime+stime [s] and VmRSS/VmHWM [MiB] of one process (empty when it is gone)."""
    try:
        with open(f'/proc/{pid}/stat', encoding='ascii', errors='replace') as f:
            stat = f.read().rsplit(')', 1)[1].split()
        status = Path(f'/proc/{pid}/status').read_text(encoding='ascii', errors='replace')
    except OSError:
        return {}
    out = {'cpu_s': (float(stat[11]) + float(stat[12])) / _TICK}
    for line in status.splitlines():
        if line.startswith(('VmRSS:', 'VmHWM:')):
            out[line.split(':')[0]] = float(line.split()[1]) / 1024.0
    return out


def _nodes_of(root: int) -> dict[str, int]:
    from ior_ros.experiments.demo import _children
    return _children(root)


class _ClockWatch:
    def __init__(self) -> None:
        from ior_ros import runtime as rt

        self.rt = rt
        if not rt.ok():
            rt.init(args=[])
        self.node = rt.Node('bench_clock_watch')
        self.samples: list[tuple[float, float]] = []  # (wall, sim)
        self.delays: list[tuple[int, float]] = []
        self.radio: list[float] = []
        self.node.create_subscription(rt.get_message('rosgraph_msgs/msg/Clock'), '/clock',
                                      self._clock, rt.qos_profile_clock)
        self.node.create_subscription(rt.get_message('ior_ros/msg/DelayMeasurement'),
                                      '/robot/delay', self._delay, 1000)
        self.node.create_subscription(rt.get_message('ior_ros/msg/RanMetrics'), '/ran_metrics',
                                      self._metrics, 100)

    def _clock(self, msg: Any) -> None:
        self.samples.append((time.monotonic(), msg.clock.sec + msg.clock.nanosec * 1e-9))

    def _delay(self, msg: Any) -> None:
        self.delays.append((int(msg.sequence), float(msg.one_way_delay_s)))

    def _metrics(self, msg: Any) -> None:
        for ue in msg.ues:
            if int(ue.slice_id) == 1 and ue.delay_s > 0:
                self.radio.append(float(ue.delay_s))

    def spin(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.rt.spin_once(self.node, timeout_sec=0.05)

    def close(self) -> None:
        self.node.destroy_node()
        self.rt.try_shutdown()


def _launch(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    with open(log, 'wb') as out:
        return subprocess.Popen([sys.executable, '-m', 'ior_ros.cli', 'launch', *args],
                                stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def per_process(duration_s: float, tmp: Path) -> dict[str, Any]:
    """The five nodes as processes at RTF 1 (see the module docstring)."""
    launch = _launch([str(REPO / 'launch' / 'sim.launch.yaml')], tmp / 'launch.log')
    watch = _ClockWatch()
    wanted = {'teleop_operator', 'digital_twin', 'slice_broker', 'ran_emulator',
              'robot_controller'}
    try:
        deadline = time.monotonic() + 180
        while not wanted <= set(watch.node.get_node_names()):
            watch.spin(0.5)
            if time.monotonic() > deadline or launch.poll() is not None:
                raise RuntimeError('the five nodes did not come up; see ' + str(tmp))
        watch.spin(5.0)  # start-up (torch imports, first training) is not the steady state
        pids = _nodes_of(launch.pid)
        before = {name: _proc(pid) for name, pid in pids.items()}
        idle0, total0 = _cpu_times()
        watch.samples.clear()
        wall0 = time.monotonic()
        watch.spin(duration_s)
        wall = time.monotonic() - wall0
        idle1, total1 = _cpu_times()
        after = {name: _proc(pid) for name, pid in pids.items()}
    finally:
        watch.close()
        _stop(launch)
    sim = [s for _, s in watch.samples]
    walls = [w for w, _ in watch.samples]
    rtf = (sim[-1] - sim[0]) / (walls[-1] - walls[0]) if len(sim) > 2 else math.nan
    nodes = {}
    for name in sorted(pids):
        a, b = after.get(name, {}), before.get(name, {})
        nodes[name] = {'cpu_pct_of_core': round(100 * (a.get('cpu_s', 0) - b.get('cpu_s', 0))
                                                / wall, 1),
                       'rss_mib': round(a.get('VmRSS', math.nan), 1),
                       'peak_rss_mib': round(a.get('VmHWM', math.nan), 1)}
    return {'duration_s': round(wall, 1), 'real_time_factor': round(rtf, 3),
            'cpu_idle_pct': round(100 * (idle1 - idle0) / max(total1 - total0, 1), 1),
            'cores': os.cpu_count(), 'nodes': nodes,
            'stack_rss_mib': round(sum(n['rss_mib'] for n in nodes.values()), 1),
            'stack_cpu_pct_of_core': round(sum(n['cpu_pct_of_core']
                                               for n in nodes.values()), 1)}


def _timed_runs() -> tuple[list[tuple[float, float]], Any]:
    """Time every ``InprocWorld.run`` from now on: a list that receives (CPU, wall) seconds of
    each, and a function that stops timing (run_cell builds its world itself)."""
    from ior_ros.runtime import inproc

    real_run = inproc.InprocWorld.run
    timed: list[tuple[float, float]] = []

    def run(world: Any, until_s: float, progress: Any = None) -> None:
        cpu, wall = time.process_time(), time.perf_counter()
        real_run(world, until_s, progress)
        timed.append((time.process_time() - cpu, time.perf_counter() - wall))

    def stop() -> None:
        inproc.InprocWorld.run = real_run  # type: ignore[method-assign]

    inproc.InprocWorld.run = run  # type: ignore[method-assign]
    return timed, stop


def _three_nodes(duration_s: float, seed: int) -> None:
    """test/nodes/test_inproc_loop.py's loop."""
    from ior_ros.runtime.inproc import InprocWorld

    with InprocWorld(seed=seed) as world:
        from ior_ros.nodes.ran_emulator import RanEmulator
        from ior_ros.nodes.robot_controller import RobotController
        from ior_ros.nodes.teleop_operator import TeleopOperator
        from ior_ros.runtime import get_message

        world.add(TeleopOperator, remaps={'cmd': '/teleop/cmd', 'state': '/teleop/state',
                                          'video': '/teleop/video'})
        world.add(RanEmulator, parameters={'urllc_background_bps': 2e6,
                                           'embb_background_bps': 2e7}, remaps={
            'cmd_in': '/teleop/cmd', 'cmd_out': '/robot/cmd', 'state_in': '/robot/state',
            'state_out': '/teleop/state', 'video_in': '/robot/video',
            'video_out': '/teleop/video'})
        world.add(RobotController, remaps={'cmd': '/robot/cmd', 'state': '/robot/state',
                                           'delay': '/robot/delay', 'video': '/robot/video'})
        world.tap('/robot/state', get_message('ior_ros/msg/RobotState'), raw=True)
        world.tap('/robot/delay', get_message('ior_ros/msg/DelayMeasurement'))
        world.run(duration_s)


def _five_nodes(duration_s: float, seed: int, twin: bool) -> None:
    """``ior reproduce closed-loop``'s cell: PF broker, certified schedule."""
    from ior_ros.core.config import load_config
    from ior_ros.experiments import closed_loop

    config = load_config(closed_loop.ClosedLoopConfig, REPO / 'config' / 'closed_loop.yaml',
                         section='closed_loop')
    closed_loop.run_cell(config, 'pf', 'certified', twin, seed=seed, duration_s=duration_s)


def in_process(duration_s: float) -> dict[str, Any]:
    """Three loops in one world each (see the module docstring)."""
    import resource

    loops = {
        'three_nodes': lambda d, seed: _three_nodes(d, seed),
        'five_nodes': lambda d, seed: _five_nodes(d, seed, twin=False),
        'five_nodes_twin': lambda d, seed: _five_nodes(d, seed, twin=True),
    }
    out: dict[str, Any] = {'simulated_s': duration_s}
    for name, loop in loops.items():
        loop(2.0, 1)  # warm-up: imports, code generation, caches
        timed, stop = _timed_runs()
        try:
            loop(duration_s, 2)
        finally:
            stop()
        cpu, wall = timed[-1]
        out[name] = {'cpu_s': round(cpu, 2), 'wall_s': round(wall, 2),
                     'real_time_factor_cpu': round(duration_s / cpu, 2),
                     'real_time_factor_wall': round(duration_s / wall, 2)}
    out['process_peak_rss_mib'] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    return out


def command_latency(duration_s: float, tmp: Path) -> dict[str, Any]:
    """Processes and DDS on the command path (see the module docstring)."""
    args = [str(REPO / 'launch' / 'edge_server.launch.yaml'), 'twin:=false', 'broker:=false']
    robot = _launch([str(REPO / 'launch' / 'robot.launch.yaml')], tmp / 'robot.log')
    # the emulator's radio made negligible: its parameters come from a file of our own
    params = tmp / 'fast_radio.yaml'
    params.write_text('ran_emulator:\n  ros__parameters:\n    slot_s: 0.0001\n'
                      '    total_prbs: 275\n    urllc_prbs: 200\n    embb_prbs: 75\n'
                      '    urllc_distance_m: 10.0\n', encoding='ascii')
    env_args = [*args, f'emulator_params:={params}']
    edge = _launch(env_args, tmp / 'edge.log')
    watch = _ClockWatch()
    try:
        deadline = time.monotonic() + 120
        while len(watch.delays) < 50:
            watch.spin(0.5)
            if time.monotonic() > deadline:
                raise RuntimeError('no command reached the robot; see ' + str(tmp))
        watch.delays.clear()
        watch.radio.clear()
        watch.spin(duration_s)
    finally:
        watch.close()
        _stop(edge)
        _stop(robot)
    total = np.array([d for _, d in watch.delays]) * 1e3
    radio = float(np.mean(watch.radio)) * 1e3 if watch.radio else 0.0
    return {'commands': int(total.size), 'radio_mean_ms': round(radio, 3),
            'measured_p50_ms': round(float(np.percentile(total, 50)), 3),
            'measured_p99_ms': round(float(np.percentile(total, 99)), 3),
            'outside_radio_p50_ms': round(float(np.percentile(total, 50)) - radio, 3),
            'outside_radio_p99_ms': round(float(np.percentile(total, 99)) - radio, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--duration', type=float, default=30.0,
                        help='seconds measured per part (default 30)')
    parser.add_argument('--parts', default='per_process,in_process,command_latency',
                        help='comma-separated parts to run')
    parser.add_argument('--json', action='store_true', help='print one JSON document')
    args = parser.parse_args()
    parts = args.parts.split(',')
    out: dict[str, Any] = {'machine': machine_info(), 'rerun': RERUN}
    with tempfile.TemporaryDirectory(prefix='bench_closed_loop_') as tmp:
        if 'per_process' in parts:
            out['per_process'] = per_process(args.duration, Path(tmp))
        if 'command_latency' in parts:
            out['command_latency'] = command_latency(args.duration, Path(tmp))
        if 'in_process' in parts:
            out['in_process'] = in_process(args.duration)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for key, value in out.items():
            print(f'{key}: {value}')
    print(f'rerun: {RERUN}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
