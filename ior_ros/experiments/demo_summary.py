"""
What a closed-loop run did, computed from its bag: the summary of ``ior demo`` and its figures.

The bag is the one record of a run (a live run and its replay are summarised by the same code),
read with the runtime's bag reader (rosbags underneath; MCAP or sqlite3). Topics (the names of
``launch/sim.launch.yaml``):

* ``/robot/delay`` (DelayMeasurement, one per command the robot received): URLLC one-way delay
  percentiles; sequence numbers give the commands lost on the way;
* ``/teleop/cmd`` (TeleopCommand): commands sent (the denominator of the violation rate);
* ``/robot/state`` (RobotState): tracking error (RMSE), dexterity index (mean), the robot's path;
* ``/ran_metrics`` (RanMetrics): eMBB throughput (mean delivered rate of the eMBB UEs);
* ``/slice_policy`` (SlicePolicy): PRBs per slice over time;
* ``/teleop/twin_prediction`` (TwinPrediction): vetoes;
* ``/clock``: simulated time, against the bag's receive stamps (wall time): the real-time factor;
* ``/robot/status`` (ControllerStatus): seconds during which the robot tracked with a gain that
  is not certified for the delay bound in force (``gain_uncertified_s``; a stop command needs no
  certificate), and when the robot stopped on its command timeout (``stop_after_s``: from the
  last command it received), and the control samples its timer missed in the window
  (``control_samples_missed``: a process starved of CPU; the plant held its last command);
* ``/teleop/video_latency`` (DelayMeasurement of the operator, one per video frame): the latency
  of the eMBB video feedback.

URLLC violation (seed 003, constraint 8a): a command violates when it arrives later than the
deadline ``D_max`` (Table I: 20 ms) or never arrives; the rate is violations over commands sent in
the window. Commands vetoed by the twin arrived: they count by their delay like any other.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ior_ros.core.errors import ConfigError

__all__ = ['DEFAULT_DEADLINE_S', 'SUMMARY_KEYS', 'RunRecord', 'RunCollector', 'read_run',
           'summarize',
           'write_figures', 'RECORDED_TOPICS']

DEFAULT_DEADLINE_S = 0.02
"""D_max of the URLLC slice [s] (seed 003 Table I)."""

#: the keys ``summary.json`` promises (issue 12), in this order
SUMMARY_KEYS = ('urllc_delay_p50_ms', 'urllc_delay_p99_ms', 'urllc_violation_rate',
                'embb_throughput_mbps', 'tracking_rmse_m', 'mean_dexterity_index', 'twin_vetoes',
                'real_time_factor', 'bag')

#: what a demo records (the path is left out: the robot's states hold every pose)
RECORDED_TOPICS = ('/clock', '/teleop/cmd', '/robot/cmd', '/robot/state', '/teleop/state',
                   '/robot/delay', '/robot/odom', '/tf', '/ran_metrics', '/slice_policy',
                   '/slice_states', '/slice_markers', '/teleop/twin_prediction',
                   '/robot/twin_prediction', '/twin_markers', '/robot/status',
                   '/teleop/video_latency', '/teleop/reference', '/robot/link_quality',
                   '/rosout')


@dataclass
class RunRecord:
    """The samples of one run that the summary needs, as numpy arrays (times in seconds)."""

    sent_seq: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    sent_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    delay_seq: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    delay_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    delay_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    state_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    state_xy: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    tracking_error_m: np.ndarray = field(default_factory=lambda: np.zeros(0))
    dexterity: np.ndarray = field(default_factory=lambda: np.zeros(0))
    embb_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    embb_rate_bps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    urllc_prb_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    slice_prbs: dict[int, np.ndarray] = field(default_factory=dict)
    policy_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    verdict_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    verdict_risk: np.ndarray = field(default_factory=lambda: np.zeros(0))
    verdict_veto: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    clock_sim_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    clock_wall_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    status_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    status_covered: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    status_tracking: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    status_missed: np.ndarray = field(default_factory=lambda: np.zeros(0))
    video_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    video_latency_s: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _stamp_s(stamp: Any) -> float:
    return int(stamp.sec) + int(stamp.nanosec) * 1e-9


def _iter_bag(bag: Path, topics: Iterable[str]) -> Iterable[tuple[str, int, Any]]:
    """``(topic, receive time [ns], message)`` of the wanted topics, in bag order."""
    from ior_ros.runtime.bag_play import _ensure_type
    from ior_ros.runtime.bag_reindex import metadata_or_rebuilt
    from ior_ros.runtime.bag_storage import BagReader
    from ior_ros.runtime.errors import RosInputError
    from ior_ros.runtime.registry import registry

    wanted = set(topics)
    path, meta, scan = metadata_or_rebuilt(bag, lambda _text: None)
    reg = registry()
    reader_box = BagReader(path, meta, scan=scan)
    with reader_box as reader:
        conns = []
        types: dict[int, str] = {}
        for conn in reader.connections:
            if conn.topic not in wanted:
                continue
            try:
                types[conn.id] = _ensure_type(reg, conn)
            except RosInputError:
                continue
            conns.append(conn)
        if not conns:
            return
        for conn, t_ns, data in reader.messages(connections=conns):
            yield conn.topic, int(t_ns), reg.decode(data, types[conn.id])


def read_run(bag: str | Path, prefix_edge: str = '/teleop', prefix_robot: str = '/robot',
             verdict_topic: str = '/teleop/twin_prediction') -> RunRecord:
    """The samples of ``bag`` (a rosbag2 folder) the summary uses (a replay has the twin's
    verdicts on ``/robot/twin_prediction``: its twin sits beside the robot)."""
    path = Path(bag)
    if not path.exists():
        raise ConfigError(f"bag '{bag}': no such folder")
    topics = {f'{prefix_edge}/cmd': 'sent', f'{prefix_robot}/delay': 'delay',
              f'{prefix_robot}/state': 'state', '/ran_metrics': 'embb', '/slice_policy': 'policy',
              verdict_topic: 'verdict', '/clock': 'clock', f'{prefix_robot}/status': 'status',
              f'{prefix_edge}/video_latency': 'video'}
    collector = RunCollector()
    for topic, t_ns, msg in _iter_bag(path, topics):
        collector.add(topics[topic], msg, t_ns)
    return collector.record()


class RunCollector:
    """Builds a :class:`RunRecord` from messages, one :meth:`add` per sample (from a bag, or
    from the taps of an in-process world)."""

    KINDS = ('sent', 'delay', 'state', 'embb', 'policy', 'verdict', 'clock', 'status', 'video')

    def __init__(self) -> None:
        self.rows: dict[str, list[Any]] = {k: [] for k in self.KINDS}

    def add(self, kind: str, msg: Any, t_ns: int = 0) -> None:
        """One sample: ``kind`` is one of :attr:`KINDS` (TeleopCommand, DelayMeasurement,
        RobotState, RanMetrics, SlicePolicy, TwinPrediction, Clock, ControllerStatus,
        DelayMeasurement of a video frame); ``t_ns`` the receive time (used for /clock only)."""
        rows = self.rows[kind]
        if kind == 'sent':
            rows.append((int(msg.sequence), _stamp_s(msg.send_time)))
        elif kind == 'delay':
            rows.append((int(msg.sequence), _stamp_s(msg.receive_time),
                         float(msg.one_way_delay_s)))
        elif kind == 'state':
            p = msg.pose.position
            rows.append((_stamp_s(msg.header.stamp), float(p.x), float(p.y),
                         float(msg.tracking_error_m), float(msg.dexterity_index)))
        elif kind == 'embb':
            rate = [float(ue.rate_bps) for ue in msg.ues if int(ue.slice_id) == 0]
            if rate:
                rows.append((_stamp_s(msg.header.stamp), float(sum(rate))))
        elif kind == 'policy':
            rows.append((_stamp_s(msg.header.stamp),
                         dict(zip((int(s) for s in msg.slice_id),
                                  (int(n) for n in msg.slice_prbs), strict=False))))
        elif kind == 'verdict':
            rows.append((_stamp_s(msg.header.stamp), float(msg.risk), bool(msg.veto)))
        elif kind == 'status':
            tracking = bool(msg.tracking)
            covered = bool(msg.certified) or msg.gain_mode == 'stop' or not tracking
            rows.append((_stamp_s(msg.header.stamp), covered, tracking,
                         float(getattr(msg, 'samples_missed', 0))))
        elif kind == 'video':
            rows.append((_stamp_s(msg.receive_time), float(msg.one_way_delay_s)))
        else:
            rows.append((_stamp_s(msg.clock), t_ns * 1e-9))

    def record(self) -> RunRecord:
        """The arrays of everything added so far."""
        rows = self.rows
        rec = RunRecord()
        if rows['sent']:
            a = np.array(rows['sent'])
            rec.sent_seq, rec.sent_t = a[:, 0].astype(np.int64), a[:, 1]
        if rows['delay']:
            a = np.array(rows['delay'])
            rec.delay_seq, rec.delay_t, rec.delay_s = a[:, 0].astype(np.int64), a[:, 1], a[:, 2]
        if rows['state']:
            a = np.array(rows['state'])
            rec.state_t, rec.state_xy = a[:, 0], a[:, 1:3]
            rec.tracking_error_m, rec.dexterity = a[:, 3], a[:, 4]
        if rows['embb']:
            a = np.array(rows['embb'])
            rec.embb_t, rec.embb_rate_bps = a[:, 0], a[:, 1]
        if rows['policy']:
            rec.policy_t = np.array([t for t, _ in rows['policy']])
            ids = sorted({s for _, d in rows['policy'] for s in d})
            rec.slice_prbs = {s: np.array([d.get(s, 0) for _, d in rows['policy']])
                              for s in ids}
        if rows['verdict']:
            a = np.array(rows['verdict'])
            rec.verdict_t, rec.verdict_risk = a[:, 0], a[:, 1]
            rec.verdict_veto = a[:, 2] > 0.5
        if rows['clock']:
            a = np.array(rows['clock'])
            rec.clock_sim_s, rec.clock_wall_s = a[:, 0], a[:, 1]
        if rows['status']:
            a = np.array(rows['status'], dtype=float)
            order = np.argsort(a[:, 0], kind='stable')
            rec.status_t, rec.status_covered = a[order, 0], a[order, 1] > 0.5
            rec.status_tracking = a[order, 2] > 0.5
            rec.status_missed = a[order, 3]
        if rows['video']:
            a = np.array(rows['video'])
            rec.video_t, rec.video_latency_s = a[:, 0], a[:, 1]
        return rec


def _window(t: np.ndarray, start: float, end: float) -> np.ndarray:
    return (t >= start) & (t <= end)


def loop_window(rec: RunRecord, settle_s: float = 1.0) -> tuple[float, float]:
    """``(start, end)`` [s, sim time]: from ``settle_s`` after the first command the robot
    received to the last robot state (before, the run is start-up, not behaviour)."""
    if rec.delay_t.size == 0 or rec.state_t.size == 0:
        raise ConfigError('bag: no command reached the robot (/robot/delay is empty): the loop '
                         'never closed; see the launch log')
    start, end = float(rec.delay_t.min()), float(rec.state_t.max())
    return min(start + settle_s, end), end


def summarize(rec: RunRecord, bag: str | Path, deadline_s: float = DEFAULT_DEADLINE_S,
              window: tuple[float, float] | None = None) -> dict[str, Any]:
    """The summary of a run (keys :data:`SUMMARY_KEYS` first, then details)."""
    start, end = window or loop_window(rec)
    sent = _window(rec.sent_t, start, end - 0.1)  # the last 100 ms may still be in flight
    sent_seq = rec.sent_seq[sent]
    got = _window(rec.delay_t, start, end)
    delays = rec.delay_s[got]
    received = set(rec.delay_seq.tolist())
    lost = int(sum(1 for s in sent_seq.tolist() if s not in received))
    late = int(np.sum(delays > deadline_s))
    n_sent = int(sent_seq.size)
    states = _window(rec.state_t, start, end)
    err = rec.tracking_error_m[states]
    embb = rec.embb_rate_bps[_window(rec.embb_t, start, end)]
    vetoes = int(np.sum(rec.verdict_veto[_window(rec.verdict_t, start, end)]))
    rtf = float('nan')
    if rec.clock_sim_s.size >= 2:
        c = _window(rec.clock_sim_s, start, end)
        if np.count_nonzero(c) >= 2:
            sim, wall = rec.clock_sim_s[c], rec.clock_wall_s[c]
            rtf = float((sim[-1] - sim[0]) / max(wall[-1] - wall[0], 1e-9))

    def pct(q: float) -> float:
        return float(np.percentile(delays, q) * 1e3) if delays.size else float('nan')

    summary: dict[str, Any] = {
        'urllc_delay_p50_ms': pct(50),
        'urllc_delay_p99_ms': pct(99),
        'urllc_violation_rate': (min(1.0, (late + lost) / n_sent) if n_sent else float('nan')),
        'embb_throughput_mbps': float(np.mean(embb) / 1e6) if embb.size else float('nan'),
        'tracking_rmse_m': float(np.sqrt(np.mean(err ** 2))) if err.size else float('nan'),
        'mean_dexterity_index': float(np.mean(rec.dexterity[states])) if err.size else math.nan,
        'twin_vetoes': vetoes,
        'real_time_factor': rtf,
        'bag': str(bag),
        'window_s': [start, end],
        'commands_sent': n_sent,
        'commands_received': int(delays.size),
        'commands_lost': lost,
        'commands_late': late,
        'deadline_ms': deadline_s * 1e3,
        'max_tracking_error_m': float(np.max(err)) if err.size else float('nan'),
        'gain_uncertified_s': _uncertified_s(rec, start, end),
        'stop_after_s': _stop_after_s(rec, start, end),
        'control_samples_missed': _missed(rec, start, end),
    }
    video = rec.video_latency_s[_window(rec.video_t, start, end)]
    summary.update({
        'video_frames_received': int(video.size),
        'video_latency_p50_ms': float(np.percentile(video, 50) * 1e3) if video.size else math.nan,
        'video_latency_p99_ms': float(np.percentile(video, 99) * 1e3) if video.size else math.nan,
    })
    return summary


def _uncertified_s(rec: RunRecord, start: float, end: float) -> float:
    """Seconds of ``[start, end]`` during which the robot's gain was not certified for the delay
    bound in force (each ControllerStatus holds until the next); NaN without one."""
    if rec.status_t.size == 0:
        return math.nan
    t = np.clip(np.append(rec.status_t, end), start, end)
    return float(np.sum(np.diff(t)[~rec.status_covered]))


def _missed(rec: RunRecord, start: float, end: float) -> int:
    """Control samples the robot's timer missed in ``[start, end]`` (a starved process; the
    simulated plant held its command over them): the growth of the status' running count."""
    inside = _window(rec.status_t, start, end)
    if not np.any(inside):
        return 0
    before = rec.status_missed[rec.status_t < start]
    return int(rec.status_missed[inside].max() - (before.max() if before.size else 0.0))


def _stop_after_s(rec: RunRecord, start: float, end: float) -> float:
    """The first stop on the command timeout in ``[start, end]``: seconds from the last command
    the robot received before it to the ControllerStatus that reports it; NaN if none."""
    inside = _window(rec.status_t, start, end)
    stops = np.flatnonzero(inside[1:] & rec.status_tracking[:-1] & ~rec.status_tracking[1:]) + 1
    if stops.size == 0 or rec.delay_t.size == 0:
        return math.nan
    t_stop = float(rec.status_t[stops[0]])
    before = rec.delay_t[rec.delay_t <= t_stop]
    return t_stop - float(before.max()) if before.size else math.nan


def write_figures(rec: RunRecord, out_dir: Path, reference: Callable[[np.ndarray], np.ndarray]
                  | None = None, deadline_s: float = DEFAULT_DEADLINE_S,
                  window: tuple[float, float] | None = None) -> list[Path]:
    """Four PNGs (tracking vs reference, URLLC delay CDF, slice shares, vetoes); their paths."""
    from ior_ros.core.artifacts import atomic_write_bytes
    from ior_ros.experiments.plotting import figure_png, new_figure

    start, end = window or loop_window(rec)
    written = []

    fig, ax = new_figure(figsize=(5.5, 5.0))
    s = _window(rec.state_t, start, end)
    if reference is not None:
        ref = reference(np.linspace(0.0, max(end - start, 1e-3), 2000))
        if np.any(s):  # the robot starts the curve where it stands
            ref = ref + rec.state_xy[s][0]
        ax.plot(ref[:, 0], ref[:, 1], 'k--', lw=1.0, label='reference')
    ax.plot(rec.state_xy[s, 0], rec.state_xy[s, 1], lw=1.2, label='robot')
    ax.set_xlabel('x [m]')
    ax.set_ylabel('y [m]')
    ax.set_aspect('equal', adjustable='datalim')
    ax.legend(loc='best')
    ax.set_title('tracking (odom frame)')
    written.append(('tracking.png', figure_png(fig)))

    fig, ax = new_figure(figsize=(6.0, 4.0))
    d = np.sort(rec.delay_s[_window(rec.delay_t, start, end)]) * 1e3
    if d.size:
        ax.step(d, np.arange(1, d.size + 1) / d.size, where='post', label='measured at robot')
    ax.axvline(deadline_s * 1e3, color='r', ls=':', label=f'D_max = {deadline_s * 1e3:g} ms')
    ax.set_xlabel('URLLC one-way delay [ms]')
    ax.set_ylabel('CDF')
    ax.legend(loc='lower right')
    written.append(('urllc_delay_cdf.png', figure_png(fig)))

    fig, ax = new_figure(figsize=(7.0, 3.6))
    p = _window(rec.policy_t, start, end)
    names = {0: 'eMBB', 1: 'URLLC'}
    for sid, prbs in rec.slice_prbs.items():
        ax.step(rec.policy_t[p] - start, prbs[p], where='post',
                label=names.get(sid, f'slice {sid}'))
    ax.set_xlabel('time [s]')
    ax.set_ylabel('PRBs')
    ax.set_title('slice shares' if rec.slice_prbs else 'slice shares (no broker in this run)')
    if rec.slice_prbs:
        ax.legend(loc='best')
    written.append(('slice_shares.png', figure_png(fig)))

    fig, ax = new_figure(figsize=(7.0, 3.6))
    v = _window(rec.verdict_t, start, end)
    if np.any(v):
        ax.plot(rec.verdict_t[v] - start, rec.verdict_risk[v], '.', ms=2, label='risk')
        vetoed = v & rec.verdict_veto
        ax.plot(rec.verdict_t[vetoed] - start, rec.verdict_risk[vetoed], 'rx', label='veto')
        ax.legend(loc='best')
    ax.set_xlabel('time [s]')
    ax.set_ylabel('risk [1]')
    ax.set_title(f'digital twin: {int(np.sum(rec.verdict_veto[v]))} vetoes'
                 if np.any(v) else 'digital twin (off in this run)')
    written.append(('twin_vetoes.png', figure_png(fig)))

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in written:
        atomic_write_bytes(out_dir / name, data)
        paths.append(out_dir / name)
    return paths
