"""
``ior demo``: the closed loop of issue 12 as users run it — every node its own process over DDS.

One run:

1. ``launch/sim.launch.yaml`` starts under ``ior launch`` in its own process group (operator,
   digital twin, slice broker, ran_emulator owning ``/clock``, robot controller), its output in
   ``OUT/launch.log``; a recorder (``ior bag record``, MCAP) writes :data:`RECORDED_TOPICS` into
   ``OUT/bag``;
2. a small observer node in this process waits until every node of the run is in the ROS graph
   and the loop has closed (the first ``/robot/delay`` sample), then follows ``/clock`` for
   ``duration_s`` of simulated time (progress bar), injecting the fault asked for;
3. the recorder, then the launch, are stopped with SIGINT (as Ctrl-C would), the bag is read
   back and summarised (:mod:`ior_ros.experiments.demo_summary`): ``OUT/summary.json`` and four
   figures.

Faults (``--fault``): ``urllc-loss`` (30 % of URLLC packets lost in the emulator, from the
start), ``kill-twin`` and ``kill-broker`` (SIGKILL of that node's process halfway through),
``stop-operator`` (SIGKILL of the operator halfway: the robot stops within its command
timeout).
A node that dies on its own, or a launch that ends early, stops the run with one error line that
points to the launch log.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ior_ros.core.errors import IorError
from ior_ros.core.progress import Progress, no_progress
from ior_ros.experiments.demo_summary import (
    DEFAULT_DEADLINE_S,
    RECORDED_TOPICS,
    SUMMARY_KEYS,
    read_run,
    summarize,
    write_figures,
)

__all__ = ['DemoOptions', 'FAULTS', 'POLICIES', 'run_demo', 'replay_demo', 'DemoError',
           'summarize_bag', 'NODES', 'REPLAYED_TOPICS', 'EQUIPMENT', 'EQUIPMENT_NODES']

POLICIES = ('drl', 'pf', 'dpp', 'puncturing', 'static')
FAULTS = ('none', 'urllc-loss', 'kill-twin', 'kill-broker', 'stop-operator')
NODES = ('teleop_operator', 'digital_twin', 'slice_broker', 'ran_emulator', 'robot_controller')
#: ``--equipment``: none, or the emulated gNB and modem of issue 13 (launch/sim.launch.yaml
#: equipment:=emulated: the broker drives the gNB, the robot's modem_client reads the modem)
EQUIPMENT = ('none', 'emulated')
#: the nodes the emulated equipment adds (the emulators themselves are processes, not nodes)
EQUIPMENT_NODES = ('modem_client',)
_KILLED = {'kill-twin': 'digital_twin', 'kill-broker': 'slice_broker',
           'stop-operator': 'teleop_operator'}


SETTLE_S = 1.0
"""Start-up left out of the summary [s]: the robot starts at rest while the first command already
asks for the figure eight's speed, a transient of the start, not of the loop."""


class DemoError(IorError):
    """The closed loop could not be run (a node died, the loop never closed)."""


@dataclass(frozen=True)
class DemoOptions:
    """One ``ior demo`` run."""

    out_dir: Path
    duration_s: float = 60.0
    policy: str = 'dpp'
    fault: str = 'none'
    twin: bool = True
    broker: bool = True
    seed: int = 0
    real_time_factor: float = 1.0
    rviz: bool = False
    deadline_s: float = DEFAULT_DEADLINE_S
    start_timeout_s: float = 180.0
    launch_args: dict[str, str] = field(default_factory=dict)
    equipment: str = 'none'

    def nodes(self) -> tuple[str, ...]:
        off = {'digital_twin': not self.twin, 'slice_broker': not self.broker}
        extra = EQUIPMENT_NODES if self.equipment == 'emulated' else ()
        return tuple(n for n in NODES if not off.get(n, False)) + extra


#: what a replay plays from the recorded bag: time, the commands as the robot received them (and
#: as they were sent: the violation rate's denominator), and what the twin's network model hears
REPLAYED_TOPICS = ('/clock', '/robot/cmd', '/teleop/cmd', '/ran_metrics', '/slice_policy')


def _free_port() -> int:
    """A TCP port of 127.0.0.1 free now (for the emulated gNB's remote control)."""
    import socket

    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def _launch_file(name: str = 'sim.launch.yaml') -> Path:
    from ior_ros.runtime.packages import find_package_share
    return find_package_share('ior_ros') / 'launch' / name


def _children(root_pid: int) -> dict[str, int]:
    """``{node name: pid}`` of the processes under ``root_pid`` started with ``__node:=NAME``."""
    parents: dict[int, int] = {}
    cmdlines: dict[int, list[str]] = {}
    for entry in os.scandir('/proc'):
        if not entry.name.isdigit():
            continue
        try:
            with open(f'/proc/{entry.name}/stat', 'rb') as f:
                stat = f.read().decode(errors='replace')
            with open(f'/proc/{entry.name}/cmdline', 'rb') as f:
                cmd = f.read().decode(errors='replace').split('\0')
        except OSError:
            continue
        ppid = int(stat.rsplit(')', 1)[1].split()[1])
        parents[int(entry.name)] = ppid
        cmdlines[int(entry.name)] = cmd
    found: dict[str, int] = {}
    for pid, cmd in cmdlines.items():
        p = pid
        while p in parents and p != root_pid and p > 1:
            p = parents[p]
        if p != root_pid:
            continue
        for arg in cmd:
            if arg.startswith('__node:='):
                found[arg.split(':=', 1)[1]] = pid
    return found


class _Observer:
    """Follows /clock and /robot/delay, and lists the graph's nodes (this process's one node)."""

    def __init__(self) -> None:
        from ior_ros import runtime as rt

        self.rt = rt
        if not rt.ok():
            rt.init(args=[])
        self.node = rt.Node('ior_demo_observer')
        self.sim_s = math.nan
        self.first_delay_s = math.nan
        self.node.create_subscription(rt.get_message('rosgraph_msgs/msg/Clock'), '/clock',
                                      self._on_clock, rt.qos_profile_clock)
        self.node.create_subscription(rt.get_message('ior_ros/msg/DelayMeasurement'),
                                      '/robot/delay', self._on_delay, 100)

    def _on_clock(self, msg: Any) -> None:
        self.sim_s = msg.clock.sec + msg.clock.nanosec * 1e-9

    def _on_delay(self, msg: Any) -> None:
        if math.isnan(self.first_delay_s):
            t = msg.receive_time
            self.first_delay_s = t.sec + t.nanosec * 1e-9

    def spin(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            self.rt.spin_once(self.node, timeout_sec=min(left, 0.05))

    def node_names(self) -> set[str]:
        return set(self.node.get_node_names())

    def close(self) -> None:
        self.node.destroy_node()
        self.rt.try_shutdown()


def _stop(proc: subprocess.Popen[bytes], timeout_s: float, group: bool) -> int:
    if proc.poll() is None:
        try:
            if group:
                os.killpg(proc.pid, signal.SIGINT)
            else:
                proc.send_signal(signal.SIGINT)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL) if group else proc.kill()
            except ProcessLookupError:
                pass
            proc.wait()
    return int(proc.returncode)


def _died(log: Path, fault: str) -> str:
    """The first node death the launch reported (with the node's own error line), or ''."""
    try:
        lines = log.read_text(errors='replace').splitlines()
    except OSError:
        return ''
    killed = _KILLED.get(fault)
    for index, line in enumerate(lines):
        if 'process has died' in line:
            label = line.split('[', 3)[2].split(']')[0] if line.count('[') >= 2 else '?'
            if killed and label.startswith(killed):
                continue  # the fault this run injects
            said = [x for x in lines[:index] if x.startswith(f'[{label}]') and 'error' in x]
            return f'node {label} died' + (f': {said[-1]}' if said else '')
    return ''


def _tail(path: Path, lines: int = 8) -> str:
    try:
        return '\n'.join(path.read_text(errors='replace').splitlines()[-lines:])
    except OSError:
        return ''


def run_demo(opts: DemoOptions, progress: Progress = no_progress,
             say: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the closed loop (see the module docstring); the summary (also in summary.json)."""
    from ior_ros.core.artifacts import check_out_dir

    if opts.policy not in POLICIES:
        raise DemoError(f"--policy {opts.policy!r}: expected one of {', '.join(POLICIES)}")
    if opts.fault not in FAULTS:
        raise DemoError(f"--fault {opts.fault!r}: expected one of {', '.join(FAULTS)}")
    if opts.equipment not in EQUIPMENT:
        raise DemoError(f"--equipment {opts.equipment!r}: expected one of {', '.join(EQUIPMENT)}")
    out = check_out_dir(opts.out_dir)
    bag = out / 'bag'
    if bag.exists():
        raise DemoError(f"--out {out}: already holds a bag ('{bag}'); give a new folder")
    out.mkdir(parents=True, exist_ok=True)
    args = {'policy': opts.policy, 'twin': str(opts.twin).lower(),
            'broker': str(opts.broker).lower(), 'seed': str(opts.seed),
            'real_time_factor': repr(float(opts.real_time_factor)), 'rviz': str(opts.rviz).lower()}
    if opts.fault == 'urllc-loss':
        args['urllc_loss'] = '0.3'
    if opts.equipment == 'emulated':
        # a free port and a link inside the run's folder: parallel runs do not collide; the
        # emulators run on this interpreter (it imports ior_ros, whatever PATH says)
        args.update({'equipment': 'emulated', 'gnb_port': str(_free_port()),
                     'modem_link': str(out.resolve() / 'rm500q'), 'python': sys.executable})
    args.update(opts.launch_args)
    cli = [sys.executable, '-m', 'ior_ros.cli']
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    launch_cmd = [*cli, 'launch', str(_launch_file()), *(f'{k}:={v}' for k, v in args.items())]
    say(f'starting {len(opts.nodes())} nodes: ior launch sim.launch.yaml '
        + ' '.join(f'{k}:={v}' for k, v in args.items()))
    launch_log = open(out / 'launch.log', 'wb')  # noqa: SIM115 - closed in finally
    record_log = open(out / 'record.log', 'wb')  # noqa: SIM115
    launch = subprocess.Popen(launch_cmd, stdout=launch_log, stderr=subprocess.STDOUT, env=env,
                              start_new_session=True)
    recorder: subprocess.Popen[bytes] | None = None
    observer: _Observer | None = None
    wall: dict[str, float] = {}
    fault_note = ''
    fault_at = math.nan
    nodes_at_end: list[str] = []
    try:
        recorder = subprocess.Popen([*cli, 'bag', 'record', '-o', str(bag), *RECORDED_TOPICS],
                                    stdout=record_log, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
        observer = _Observer()
        t_start = time.monotonic()

        def check_alive(stage: str) -> None:
            for what, proc, log in (('the launch', launch, out / 'launch.log'),
                                    ('the recorder', recorder, out / 'record.log')):
                if proc is not None and proc.poll() is not None:
                    raise DemoError(f'{what} ended (exit {proc.returncode}) {stage}; last lines '
                                    f'of {log}:\n{_tail(log)}')
            died = _died(out / 'launch.log', opts.fault)
            if died:
                raise DemoError(f'{died} ({stage}); see {out / "launch.log"}')
            if time.monotonic() - t_start > opts.start_timeout_s and stage != 'while running':
                raise DemoError(f'{stage}: nothing after {opts.start_timeout_s:g} s; see '
                                f"{out / 'launch.log'}:\n{_tail(out / 'launch.log')}")

        wanted = {f'{n}' for n in opts.nodes()}
        while True:
            observer.spin(0.5)
            check_alive('before every node was up')
            names = observer.node_names()
            if wanted <= names:
                break
        say('nodes up: ' + ', '.join(sorted(wanted)))
        while math.isnan(observer.first_delay_s):
            observer.spin(0.2)
            check_alive('before the loop closed')
        t0 = observer.first_delay_s
        say(f'loop closed at t = {t0:.2f} s (simulated); running {opts.duration_s:g} s')
        wall['start'] = time.monotonic()
        sim_start = observer.sim_s
        killed = _KILLED.get(opts.fault)
        done = 0
        with progress('closed loop', total=int(round(opts.duration_s)), unit='s') as bar:
            while True:
                observer.spin(0.1)
                check_alive('while running')
                elapsed = observer.sim_s - t0
                now = int(max(0.0, min(elapsed, opts.duration_s)))
                if now > done:
                    bar.update(now - done)
                    done = now
                if killed and elapsed >= 0.5 * opts.duration_s:
                    pid = _children(launch.pid).get(killed)
                    if pid is None:
                        raise DemoError(f'--fault {opts.fault}: no process of {killed} found')
                    os.kill(pid, signal.SIGKILL)
                    fault_at = observer.sim_s
                    fault_note = f'{killed} (pid {pid}) killed at t = {fault_at:.2f} s'
                    say(fault_note)
                    killed = None
                if elapsed >= opts.duration_s:
                    nodes_at_end = sorted(observer.node_names()
                                          & set(NODES + EQUIPMENT_NODES))
                    break
        wall['end'] = time.monotonic()
        sim_span = observer.sim_s - sim_start
    finally:
        if observer is not None:
            observer.close()
        if recorder is not None:
            _stop(recorder, 30.0, group=True)
        _stop(launch, 30.0, group=True)
        launch_log.close()
        record_log.close()
    rec = read_run(bag)
    window = (t0 + min(SETTLE_S, 0.1 * opts.duration_s), t0 + opts.duration_s)
    summary = summarize(rec, bag, deadline_s=opts.deadline_s, window=window)
    summary['real_time_factor_observed'] = sim_span / max(wall['end'] - wall['start'], 1e-9)
    if not math.isfinite(summary['real_time_factor']):
        summary['real_time_factor'] = summary['real_time_factor_observed']
    if math.isfinite(fault_at):
        if opts.fault == 'stop-operator' and rec.sent_t.size:
            # the observer reads the clock every 0.1 s and lags a loaded machine's: the operator
            # was alive when it sent its last command, so the kill came after that
            fault_at = max(fault_at, float(rec.sent_t.max()))
        summary['fault_at_s'] = fault_at
        summary['commands_received_after_fault'] = int(np.sum(rec.delay_t > fault_at))
    summary['nodes_at_end'] = nodes_at_end
    summary.update({'policy': opts.policy, 'fault': opts.fault, 'twin': opts.twin,
                    'equipment': opts.equipment,
                    'seed': opts.seed, 'duration_s': opts.duration_s, 'nodes': list(opts.nodes()),
                    'fault_note': fault_note, 'command': ' '.join(launch_cmd[3:])})
    _finish(out, rec, summary, opts, window)
    return summary


def _reference(opts: DemoOptions) -> Callable[[np.ndarray], np.ndarray]:
    """The operator's figure eight (its parameter file), shifted to start at the origin."""
    from ior_ros.core.control.figure_eight import FigureEight
    from ior_ros.core.input_files import read_input_yaml
    from ior_ros.runtime.packages import find_package_share

    params = read_input_yaml(find_package_share('ior_ros') / 'config' / 'nodes' /
                             'teleop_operator.yaml', 'operator parameter file')
    p = params.get('teleop_operator', {}).get('ros__parameters', {})
    ref = FigureEight(amplitude_m=float(p.get('amplitude_m', 1.0)),
                      period_s=float(p.get('period_s', 10.0)))

    def positions(t: np.ndarray) -> np.ndarray:
        pos = ref.sample(t).position_m
        return pos - ref.sample(np.zeros(1)).position_m[0]
    return positions


def _finish(out: Path, rec: Any, summary: dict[str, Any], opts: DemoOptions,
            window: tuple[float, float]) -> None:
    from ior_ros.core.artifacts import atomic_write_bytes

    figures = write_figures(rec, out, reference=_reference(opts), deadline_s=opts.deadline_s,
                            window=window)
    summary['figures'] = [str(p) for p in figures]
    ordered = {k: summary[k] for k in SUMMARY_KEYS}
    ordered.update({k: v for k, v in summary.items() if k not in ordered})
    atomic_write_bytes(out / 'summary.json', (json.dumps(ordered, indent=2, default=_json)
                                              + '\n').encode())


def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def summarize_bag(bag: Path, out: Path, deadline_s: float = DEFAULT_DEADLINE_S
                  ) -> dict[str, Any]:
    """The summary and figures of an existing demo bag (no run): over the window of the run's
    own summary (``BAG/../summary.json``, so the same bag gives the same numbers), else from
    one second after the loop closed to the last robot state."""
    rec = read_run(bag)
    window = _recorded(Path(bag)).get('window_s')
    summary = summarize(rec, bag, deadline_s=deadline_s,
                        window=tuple(window) if window else None)  # type: ignore[arg-type]
    opts = DemoOptions(out_dir=out, deadline_s=deadline_s)
    _finish(out, rec, summary, opts, tuple(summary['window_s']))  # type: ignore[arg-type]
    return summary


def _recorded(bag: Path) -> dict[str, Any]:
    """The summary ``ior demo`` wrote beside ``bag`` ({} if there is none or it is unreadable)."""
    path = bag.parent / 'summary.json'
    try:
        data = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _wait_for_line(log: Path, text: str, proc: subprocess.Popen[bytes], timeout_s: float,
                   what: str) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            if text in log.read_text(errors='replace'):
                return
        except OSError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise DemoError(f'{what}: {text!r} not seen in {log} within {timeout_s:g} s:\n{_tail(log)}')


def replay_demo(bag: Path, out_dir: Path, twin: bool | None = None, seed: int = 0,
                deadline_s: float = DEFAULT_DEADLINE_S, progress: Progress = no_progress,
                say: Callable[[str], None] = print, start_timeout_s: float = 180.0
                ) -> dict[str, Any]:
    """
    Replay a recorded demo: ``launch/replay.launch.yaml`` (a fresh robot_controller and, when the
    run had one, a fresh digital_twin) driven by ``ior bag play`` of :data:`REPLAYED_TOPICS`,
    timed by publish time and the robot's commands by when the recorded robot took them
    (``OUT/replay_input``, :mod:`ior_ros.experiments.replay_timing`);
    the new run is recorded into ``OUT/bag`` and summarised over the recorded run's window, and
    the recorded summary (``BAG/../summary.json``) is put beside it (``original``).
    """
    from ior_ros.core.artifacts import check_out_dir
    from ior_ros.experiments.demo_summary import read_run as _read
    from ior_ros.experiments.replay_timing import retime_by_publish_time

    original = _recorded(Path(bag))
    if twin is None:
        twin = bool(original.get('twin', True))
    source = _read(bag)  # also checks the bag before anything starts
    window = (tuple(original['window_s']) if 'window_s' in original else None)
    out = check_out_dir(out_dir)
    new_bag = out / 'bag'
    if new_bag.exists():
        raise DemoError(f"--out {out}: already holds a bag ('{new_bag}'); give a new folder")
    out.mkdir(parents=True, exist_ok=True)
    replayed = out / 'replay_input'  # timed by publish time (experiments/replay_timing.py)
    if replayed.exists():
        raise DemoError(f"--out {out}: already holds '{replayed}'; give a new folder")
    if any(Path(bag).glob('*.mcap')):
        retime_by_publish_time(Path(bag), replayed, REPLAYED_TOPICS,
                               received_at={'/robot/cmd': '/robot/delay'},
                               applied_in={'/robot/cmd': '/robot/state'})
    else:  # sqlite3 keeps no publish time: by the recorder's receive time
        replayed = Path(bag)
    cli = [sys.executable, '-m', 'ior_ros.cli']
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    args = {'twin': str(twin).lower(), 'seed': str(seed)}
    launch_cmd = [*cli, 'launch', str(_launch_file('replay.launch.yaml')),
                  *(f'{k}:={v}' for k, v in args.items())]
    say(f'replaying {bag}: ior launch replay.launch.yaml '
        + ' '.join(f'{k}:={v}' for k, v in args.items()))
    logs = {name: open(out / f'{name}.log', 'wb')  # noqa: SIM115 - closed in finally
            for name in ('launch', 'record', 'play')}
    launch = subprocess.Popen(launch_cmd, stdout=logs['launch'], stderr=subprocess.STDOUT,
                              env=env, start_new_session=True)
    recorder = player = None
    observer: _Observer | None = None
    try:
        recorder = subprocess.Popen([*cli, 'bag', 'record', '-o', str(new_bag),
                                     *RECORDED_TOPICS], stdout=logs['record'],
                                    stderr=subprocess.STDOUT, env=env, start_new_session=True)
        observer = _Observer()
        wanted = {'robot_controller', *(('digital_twin',) if twin else ())}
        end = time.monotonic() + start_timeout_s
        while not wanted <= observer.node_names():
            observer.spin(0.5)
            died = _died(out / 'launch.log', 'none')
            if died or time.monotonic() > end:
                raise DemoError((died or f'nodes not up after {start_timeout_s:g} s')
                                + f'; see {out / "launch.log"}')
        _wait_for_line(out / 'record.log', "'/robot/delay'", recorder, start_timeout_s,
                       'recorder')
        say('nodes up: ' + ', '.join(sorted(wanted)) + '; playing the bag')
        player = subprocess.Popen([*cli, 'bag', 'play', str(replayed), '--no-progress',
                                   '--wait-for-subscribers', '30', '--topics',
                                   *REPLAYED_TOPICS], stdout=logs['play'],
                                  stderr=subprocess.STDOUT, env=env, start_new_session=True)
        first = float(source.clock_sim_s[0]) if source.clock_sim_s.size else 0.0
        last = float(source.clock_sim_s[-1]) if source.clock_sim_s.size else 0.0
        done = 0
        with progress('replay', total=max(1, int(last - first)), unit='s') as bar:
            while player.poll() is None:
                observer.spin(0.2)
                died = _died(out / 'launch.log', 'none')
                if died:
                    raise DemoError(f'{died} (during the replay); see {out / "launch.log"}')
                now = int(max(0.0, min(observer.sim_s - first, last - first)))
                if not math.isnan(observer.sim_s) and now > done:
                    bar.update(now - done)
                    done = now
        if player.returncode != 0:
            raise DemoError(f'ior bag play ended with exit {player.returncode}:\n'
                            f'{_tail(out / "play.log")}')
        observer.spin(0.5)  # the last outputs reach the recorder
    finally:
        if observer is not None:
            observer.close()
        for proc in (player, recorder):
            if proc is not None:
                _stop(proc, 30.0, group=True)
        _stop(launch, 30.0, group=True)
        for log in logs.values():
            log.close()
    rec = read_run(new_bag, verdict_topic='/robot/twin_prediction')
    rec.sent_seq, rec.sent_t = source.sent_seq, source.sent_t  # the commands the operator sent
    summary = summarize(rec, new_bag, deadline_s=deadline_s,
                        window=window)  # type: ignore[arg-type]
    summary.update({'replay_of': str(bag), 'twin': twin, 'seed': seed,
                    'original': {k: original.get(k) for k in SUMMARY_KEYS if k in original},
                    'command': ' '.join(launch_cmd[3:])})
    opts = DemoOptions(out_dir=out, deadline_s=deadline_s, twin=twin)
    _finish(out, rec, summary, opts, tuple(summary['window_s']))  # type: ignore[arg-type]
    return summary
