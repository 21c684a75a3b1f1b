"""
The slice_broker node in its own process over DDS on loopback, with the real ran_emulator: the
static allocation before any metrics, the broker's policy reaching the emulator (its RanMetrics
PRBs follow it), the URLLC delay under dpp and puncturing against a starved static split, a peer
sending garbage, and bad templates or parameters stopping the node with one line (exit 2). The
test process reads and writes the topics with raw DDS endpoints.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from rt_helpers import REPO, Proc, RosEnv, both_backends, wait_until

pytestmark = [pytest.mark.xdist_group('dds'), pytest.mark.timeout(240)]

SLICES = REPO / 'config' / 'slices'
CMD = 'ior_ros/msg/TeleopCommand'


class Bus:
    """DDS endpoints of the test process: the broker's outputs, the emulator's metrics and a
    command path through the emulator (``/cmd_in`` → ``/cmd_out``) stamped with wall time."""

    def __init__(self) -> None:
        from ior_ros.runtime.dds import DdsContext
        from ior_ros.runtime.messages import get_message
        from ior_ros.runtime.qos import QoSProfile

        self.ctx = DdsContext()
        self.qos = QoSProfile(depth=1000)
        self.readers = {name: self.ctx.create_reader(f'/{name}', f'{pkg}/msg/{typ}', self.qos)
                        for name, pkg, typ in (
                            ('slice_policy', 'ior_ros', 'SlicePolicy'),
                            ('slice_states', 'ior_ros', 'SliceStates'),
                            ('slice_markers', 'visualization_msgs', 'MarkerArray'),
                            ('ran_metrics', 'ior_ros', 'RanMetrics'))}
        self.types = {'slice_policy': 'ior_ros/msg/SlicePolicy',
                      'slice_states': 'ior_ros/msg/SliceStates',
                      'slice_markers': 'visualization_msgs/msg/MarkerArray',
                      'ran_metrics': 'ior_ros/msg/RanMetrics'}
        self.cmd = get_message(CMD)
        self.time = get_message('builtin_interfaces/msg/Time')
        self.cmd_writer = self.ctx.create_writer('/cmd_in', CMD, self.qos)
        self.cmd_reader = self.ctx.create_reader('/cmd_out', CMD, self.qos)
        self.delays: dict[int, float] = {}
        self.metrics: list[Any] = []

    def take(self, name: str) -> list[Any]:
        from ior_ros.runtime.messages import deserialize

        return [deserialize(d, self.types[name]) for d, _ in self.readers[name].take()]

    def writer(self, topic: str, typename: str) -> Any:
        return self.ctx.create_writer(topic, typename, self.qos)

    def drain(self, name: str) -> None:
        """Forget what has been received so far on ``name``."""
        while self.readers[name].take():
            pass

    def wait_for(self, name: str, count: int = 1, timeout: float = 30.0) -> list[Any]:
        """At least ``count`` messages of ``name`` (with those already received)."""
        got: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            got += self.take(name)
            time.sleep(0.01)
        assert len(got) >= count, f'{len(got)} of {count} {name} messages in {timeout} s'
        return got

    def commands(self, first: int, count: int, period_s: float, metrics: bool = False) -> None:
        """Send ``count`` commands every ``period_s`` (wall), reading the ones that come out
        (and the RanMetrics into :attr:`metrics` when ``metrics``)."""
        from ior_ros.runtime.messages import deserialize, serialize

        start = time.monotonic()
        for k in range(count + int(0.2 / period_s)):  # the last 0.2 s only reads
            if metrics and k < count:
                self.metrics += self.take('ran_metrics')
            while time.monotonic() < start + k * period_s:
                for data, _ in self.cmd_reader.take():
                    msg = deserialize(data, CMD)
                    sent = msg.send_time.sec + msg.send_time.nanosec * 1e-9
                    self.delays[msg.sequence] = time.time() - sent
                time.sleep(0.0005)
            if k < count:
                sec, nsec = divmod(time.time_ns(), 1_000_000_000)
                self.cmd_writer.write(serialize(self.cmd(sequence=first + k, send_time=self.time(
                    sec=sec, nanosec=nsec))))

    def command_delays(self, first: int, count: int) -> np.ndarray:
        return np.array([d for s, d in self.delays.items() if first <= s < first + count])

    def close(self) -> None:
        self.ctx.close()


@pytest.fixture
def bus(ros: RosEnv) -> Iterator[Bus]:
    ros.apply()
    b = Bus()
    try:
        yield b
    finally:
        b.close()


def run_node(ros: RosEnv, executable: str, *args: str) -> Proc:
    """Our runtime from the source tree, or on rclpy the colcon-installed executable run by this
    interpreter (as test_ran_emulator.installed_node: ``ros2 run`` uses the system python,
    which lacks pydantic)."""
    if ros.backend != 'rclpy':
        return ros.node(executable, *args)
    prefix = next(p for p in ros.env['AMENT_PREFIX_PATH'].split(os.pathsep)
                  if Path(p, 'lib', 'ior_ros', executable).is_file())
    proc = Proc([sys.executable, str(Path(prefix, 'lib', 'ior_ros', executable)), '--ros-args',
                 *args], ros.env, cwd=ros.tmp_path)
    ros.procs.append(proc)
    return proc


def start_broker(ros: RosEnv, *params: str, ready: bool = True) -> Proc:
    """The node with config/nodes/slice_broker.yaml (a bad value there fails here) and
    ``params`` on top."""
    args = ['--params-file', str(REPO / 'config/nodes/slice_broker.yaml'),
            *(a for p in params for a in ('-p', p))]
    node = run_node(ros, 'slice_broker', *args)
    if ready:
        node.wait_for(r'slice_broker: policy', timeout=60)
    return node


def start_emulator(ros: RosEnv, *params: str) -> Proc:
    args = ['--params-file', str(REPO / 'config/nodes/ran_emulator.yaml'), '-r',
            'cmd_in:=/cmd_in', '-r', 'cmd_out:=/cmd_out', *(a for p in params for a in ('-p', p))]
    node = run_node(ros, 'ran_emulator', *args)
    node.wait_for(r'ran_emulator: slot', timeout=60)
    return node


def policy_prbs(msg: Any) -> dict[int, int]:
    return {int(s): int(n) for s, n in zip(msg.slice_id, msg.slice_prbs, strict=True)}


def metrics_prbs(msg: Any) -> dict[int, int]:
    return {int(ue.slice_id): int(ue.prbs) for ue in msg.ues}


def starving_templates(folder: Path) -> Path:
    """The shipped templates with a URLLC min ratio of 0.02 and an eMBB max ratio of 0.96: the
    static split (shares in proportion to the min ratios) leaves URLLC 2 of 50 PRBs."""
    folder.mkdir()
    for path in SLICES.glob('*.yaml'):
        data = yaml.safe_load(path.read_text(encoding='utf-8'))
        if data['kind'] == 'urllc':
            data['prb_ratio'] = {'dedicated': 0.02, 'min': 0.02, 'max': 0.6}
        else:
            data['prb_ratio']['max'] = 0.96
        (folder / path.name).write_text(yaml.safe_dump(data), encoding='utf-8')
    return folder


@both_backends
def test_static_first_then_the_emulator_follows_the_broker(ros: RosEnv, bus: Bus) -> None:
    broker = start_broker(ros, 'policy:=dpp')
    # no metrics yet: the static split, shares in proportion to the min ratios 0.2 : 0.5
    first = bus.wait_for('slice_policy', 2)
    assert all(policy_prbs(m) == {1: 14, 0: 36} for m in first), first
    assert first[0].total_prbs == 50 and first[0].period_s == pytest.approx(0.1)
    states = bus.wait_for('slice_states')[-1]
    assert [(s.name, s.state, s.prbs, s.sst, s.sd, s.five_qi) for s in states.slices] == [
        ('urllc_control', 'admitted', 14, 2, '000001', 82),
        ('embb_video', 'admitted', 36, 1, '000001', 9)]
    assert np.isnan(states.slices[0].measured_rate_bps)
    markers = bus.wait_for('slice_markers')[-1].markers
    bars = [m for m in markers if m.ns == 'slice_shares']
    assert len(markers) == 4 and all(m.header.frame_id == 'map' for m in markers)
    assert [round(b.scale.z, 6) for b in bars] == [0.28, 0.72]
    assert [m.text for m in markers if m.ns == 'slice_labels'] == [
        'urllc_control: 14 PRBs (admitted)', 'embb_video: 36 PRBs (admitted)']

    # the emulator starts with 3 / 5 PRBs; its metrics then show the broker's split
    start_emulator(ros, 'urllc_prbs:=3', 'embb_prbs:=5', 'embb_background_bps:=20000000.0')
    broker.wait_for(r'slice allocation \(dpp\)', timeout=30)

    def follows() -> bool:
        policies = bus.take('slice_policy')
        reports = bus.take('ran_metrics')
        if policies:
            follows.want = policy_prbs(policies[-1])  # type: ignore[attr-defined]
        want = getattr(follows, 'want', None)
        return bool(reports) and want is not None and metrics_prbs(reports[-1]) == want

    assert wait_until(follows, timeout=30), broker.text()
    want = follows.want  # type: ignore[attr-defined]
    assert want != {1: 3, 0: 5} and sum(want.values()) == 50
    bus.drain('slice_states')
    active = bus.wait_for('slice_states')[-1]
    assert {s.state for s in active.slices} == {'active'}
    video = active.slices[1]
    # 20 Mbit/s offered, more while the backlog of the 5-PRB start drains; at most its PRBs carry
    assert 5e6 < video.measured_rate_bps < video.prbs * 1.8e6
    assert video.target_rate_bps == 20e6


def _phase(ros: RosEnv, bus: Bus, policy: str, slices: Path, first: int,
           seconds: float, metrics: bool = False) -> tuple[np.ndarray, dict[int, int], Proc]:
    """Run the broker with ``policy`` for ``seconds`` of commands; the delays and the split
    (with ``metrics``, the RanMetrics of the commands' time in ``bus.metrics``)."""
    broker = start_broker(ros, f'policy:={policy}', f'slices_dir:={slices}')
    broker.wait_for(rf'slice allocation \({policy}\)', timeout=30)
    time.sleep(1.0)  # the allocation settles (dpp's virtual queue needs a few violations)
    count = int(seconds / 0.01)
    bus.drain('ran_metrics')
    bus.metrics = []
    bus.commands(first, count, 0.01, metrics=metrics)
    bus.drain('slice_policy')
    split = policy_prbs(bus.wait_for('slice_policy')[-1])
    broker.kill()
    return bus.command_delays(first, count), split, broker


@pytest.mark.parametrize('policy', ['dpp', 'puncturing'])
def test_urllc_delay_below_a_starved_static_split(ros: RosEnv, bus: Bus, tmp_path: Path,
                                                   policy: str) -> None:
    slices = starving_templates(tmp_path / 'slices')
    # URLLC background 4 Mbit/s: more than the ~3 Mbit/s of 2 PRBs at the UE's ~29 dB
    start_emulator(ros, 'urllc_background_bps:=4000000.0', 'urllc_packet_bits:=1000')
    assert wait_until(lambda: bus.cmd_writer.matched_count() >= 1
                      and bus.cmd_reader.matched_count() >= 1, timeout=60)
    results = {}
    for k, name in enumerate((policy, 'static')):
        delays, split, _ = _phase(ros, bus, name, slices, 1000 * k, 1.5)
        results[name] = (delays, split)
        print(f'{name}: URLLC PRBs {split[1]}, command delay p50 '
              f'{np.percentile(delays, 50) * 1e3:.1f} ms, p99 '
              f'{np.percentile(delays, 99) * 1e3:.1f} ms ({len(delays)} of 150 arrived)')
    static_delays, static_split = results['static']
    delays, split = results[policy]
    assert static_split == {1: 2, 0: 48}
    assert split[1] > static_split[1]
    assert len(delays) >= 145  # no queue overflow: (almost) every command arrives
    assert np.percentile(delays, 50) < 0.01  # within the 10 ms budget
    # the starved slice's queue grows all the time: the delays reach far beyond the budget
    assert len(static_delays) == 0 or np.percentile(static_delays, 50) > 0.05
    assert len(static_delays) == 0 or np.percentile(static_delays, 50) > \
        10 * np.percentile(delays, 50)


def test_garbage_from_peers_does_not_stop_it(ros: RosEnv, bus: Bus) -> None:
    from ior_ros.runtime.messages import get_message, serialize

    broker = start_broker(ros, 'policy:=dpp')
    metrics_w = bus.writer('/ran_metrics', 'ior_ros/msg/RanMetrics')
    state_w = bus.writer('/state', 'ior_ros/msg/RobotState')
    delay_w = bus.writer('/delay', 'ior_ros/msg/DelayMeasurement')
    assert wait_until(lambda: min(w.matched_count() for w in (metrics_w, state_w, delay_w)) >= 1,
                      timeout=30)
    ran = get_message('ior_ros/msg/RanMetrics')
    ue = get_message('ior_ros/msg/UeMetrics')
    nan, inf = float('nan'), float('inf')
    for msg in (ran(interval_s=nan, total_prbs=0, ues=[]),
                ran(interval_s=0.1, ues=[ue(slice_id=7, rate_bps=1e6), ue(slice_id=1,
                    rate_bps=nan, queue_bits=inf, delay_s=-1.0, sinr_db=nan)]),
                ran(interval_s=-inf, ues=[ue(slice_id=0, rate_bps=1e300, queue_bits=1e300,
                                             delay_s=1e300, sinr_db=1e300)])):
        metrics_w.write(serialize(msg))
        time.sleep(0.15)
    state = get_message('ior_ros/msg/RobotState')(dexterity_index=nan, tracking_error_m=-inf)
    state_w.write(serialize(state))
    delay_w.write(serialize(get_message('ior_ros/msg/DelayMeasurement')(one_way_delay_s=nan)))
    time.sleep(0.5)
    bus.drain('slice_policy')
    later = bus.wait_for('slice_policy', 3)
    assert broker.proc.poll() is None, broker.text()
    assert all(sum(policy_prbs(m).values()) <= 50 for m in later)
    assert 'Traceback' not in broker.text() and 'allocation failed' not in broker.text()


@pytest.mark.parametrize(('setup', 'words'), [
    ('five_qi', r"slice template \S+bad\.yaml: field 'five_qi' = 11: not a standardized 5QI"),
    ('ratio', r"slice template \S+bad\.yaml: field 'prb_ratio' = .*dedicated 0\.3 <= min 0\.2"),
    ('yaml', r"parameter 'slices_dir' of node /slice_broker: \S+bad\.yaml:2: malformed YAML"),
    ('policy', r"parameter 'policy' of node /slice_broker: 'fast' is not one of pf, dpp, drl, "
               'puncturing, static'),
    ('period', r"parameter 'period_s' of node /slice_broker: .*double in \[0\.001, 60\.0\]"),
])
def test_bad_template_or_parameter_exits_2_with_one_line(ros: RosEnv, tmp_path: Path,
                                                         setup: str, words: str) -> None:
    folder = tmp_path / 'slices'
    folder.mkdir()
    data = yaml.safe_load((SLICES / 'urllc_control.yaml').read_text(encoding='utf-8'))
    params = [f'slices_dir:={folder}']
    if setup == 'five_qi':
        data['five_qi'] = 11
    elif setup == 'ratio':
        data['prb_ratio'] = {'dedicated': 0.3, 'min': 0.2, 'max': 0.6}
    elif setup == 'policy':
        params.append('policy:=fast')
    elif setup == 'period':
        params.append('period_s:=0.0')
    text = yaml.safe_dump(data) if setup != 'yaml' else 'name: x\nkind: [urllc\n'
    (folder / 'bad.yaml').write_text(text, encoding='utf-8')
    node = start_broker(ros, *params, ready=False)
    assert node.wait(timeout=60) == 2
    lines = [line for line in node.text().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith('ior: error: ')
    assert re.search(words, lines[0], re.IGNORECASE), lines[0]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f'/proc/{pid}/stat').read_text(encoding='ascii').rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_measure_every_allocator(ros: RosEnv, bus: Bus, tmp_path: Path) -> None:
    """The node-level numbers of the report: per allocator, URLLC command delay p50/p99 (wall
    time through DDS and the emulator) and the eMBB rate, at the emulator's default load plus a
    saturating eMBB background (so that its rate shows its PRBs), then the starved case of the
    test above; and the broker's CPU at period 0.1 s. benchmarks/bench_slice_broker.py gives the
    same comparison in simulated time, free of the machine's load."""
    starved = starving_templates(tmp_path / 'slices')
    for label, slices, extra in (
            ('default', SLICES, []),
            ('starved', starved, ['urllc_background_bps:=4000000.0', 'urllc_packet_bits:=1000'])):
        emulator = start_emulator(ros, 'embb_background_bps:=100000000.0', *extra)
        assert wait_until(lambda: bus.cmd_writer.matched_count() >= 1
                          and bus.cmd_reader.matched_count() >= 1, timeout=60)
        for k, policy in enumerate(('static', 'pf', 'dpp', 'drl', 'puncturing')):
            delays, _, broker = _phase(ros, bus, policy, slices, 10_000 * k, 3.0, metrics=True)
            reports = bus.metrics[-30:]  # the 3 s of commands
            rates = [u.rate_bps for m in reports for u in m.ues if u.slice_id == 0]
            prbs = {s: np.mean([u.prbs for m in reports for u in m.ues if u.slice_id == s])
                    for s in (0, 1)}
            print(f'[{label}] {policy:10s} mean PRBs URLLC/eMBB {prbs[1]:4.1f}/{prbs[0]:4.1f}  '
                  f'URLLC delay p50 {np.percentile(delays, 50) * 1e3:6.2f} ms p99 '
                  f'{np.percentile(delays, 99) * 1e3:7.2f} ms ({len(delays)}/300)  eMBB '
                  f'{np.mean(rates) / 1e6:6.2f} Mbit/s', flush=True)
        emulator.kill()
    broker = start_broker(ros, 'policy:=dpp')
    start_emulator(ros)
    broker.wait_for(r'slice allocation', timeout=30)
    time.sleep(1.0)
    c0, t0 = _cpu_seconds(broker.pid), time.monotonic()
    time.sleep(10.0)
    share = (_cpu_seconds(broker.pid) - c0) / (time.monotonic() - t0)
    print(f'slice_broker CPU at period 0.1 s (dpp): {share * 100:.2f} % of a core', flush=True)
    assert share < 0.5
