"""
``ros2 bag record | play | info`` on the DDS runtime, writing MCAP bags with rosbags.

* **record** subscribes (raw CDR, no decoding) to the given topics or to every topic discovery
  finds (``-a``), adapting QoS to the publishers as rosbag2 does, and writes each sample as
  received with its reception time (ns since the epoch) into ``<out>/<out>.mcap`` plus
  ``metadata.yaml`` (rosbag2 format version 9). MCAP schemas are the ``ros2msg`` definitions and
  messages are ``cdr``, so ``ros2 bag`` and the ``mcap`` ROS 2 decoder read the bag. It stops on
  SIGINT/SIGTERM, after ``duration_s`` or after ``max_messages``, and always closes the bag.
* **play** republishes every message in timestamp order with the recorded gaps divided by
  ``rate``, using each topic's recorded QoS; message types missing from the type registry are
  registered from the definitions stored in the bag. Optional ``/clock`` publishing.
* **info** prints the summary ``ros2 bag info`` prints.
"""

from __future__ import annotations

import datetime
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ior_ros.runtime.errors import RosInputError
from ior_ros.runtime.messages import registry
from ior_ros.runtime.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    adapt_subscription_qos,
)

__all__ = ['record', 'play', 'info', 'BagSummary', 'qos_to_rosbags', 'qos_from_rosbags']

_HIDDEN = ('/rosout', '/parameter_events')


def qos_to_rosbags(profile: QoSProfile) -> Any:
    """Our profile → rosbags' Qos tuple (for offered_qos_profiles in metadata.yaml)."""
    from rosbags.interfaces import (
        Qos,
        QosDurability,
        QosHistory,
        QosLiveliness,
        QosReliability,
        QosTime,
    )

    infinite = QosTime(sec=2147483647, nsec=4294967295)
    return Qos(
        history=QosHistory.KEEP_ALL if profile.history == HistoryPolicy.KEEP_ALL
        else QosHistory.KEEP_LAST,
        depth=profile.depth,
        reliability=QosReliability.BEST_EFFORT
        if profile.reliability == ReliabilityPolicy.BEST_EFFORT else QosReliability.RELIABLE,
        durability=QosDurability.TRANSIENT_LOCAL
        if profile.durability == DurabilityPolicy.TRANSIENT_LOCAL else QosDurability.VOLATILE,
        deadline=infinite, lifespan=infinite, liveliness=QosLiveliness.AUTOMATIC,
        liveliness_lease_duration=infinite, avoid_ros_namespace_conventions=False)


def qos_from_rosbags(qos: Any) -> QoSProfile:
    """rosbags' Qos tuple → our profile (history/depth/reliability/durability)."""
    from rosbags.interfaces import QosDurability, QosHistory, QosReliability

    return QoSProfile(
        history=HistoryPolicy.KEEP_ALL if qos.history == QosHistory.KEEP_ALL
        else HistoryPolicy.KEEP_LAST,
        depth=max(1, int(qos.depth or 10)),
        reliability=ReliabilityPolicy.BEST_EFFORT
        if qos.reliability == QosReliability.BEST_EFFORT else ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL
        if qos.durability == QosDurability.TRANSIENT_LOCAL else DurabilityPolicy.VOLATILE)


class _StopFlag:
    """Set by SIGINT/SIGTERM while a tool runs (handlers restored afterwards)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, lambda *_: self.event.set())
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def record(output: str | Path, topics: list[str] | None = None, *, all_topics: bool = False,
           include_hidden: bool = False, duration_s: float | None = None,
           max_messages: int | None = None, qos_override: QoSProfile | None = None,
           out: IO[str] | None = None, stop: threading.Event | None = None,
           poll_period_s: float = 0.1) -> dict[str, int]:
    """Record into a new MCAP bag folder; returns messages written per topic."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    from ior_ros.runtime.names import expand_topic_name
    from ior_ros.runtime.topic_tools import open_context

    stream = out or sys.stdout
    path = Path(output)
    if path.exists():
        raise RosInputError(f"output folder '{path}' already exists; give a new name with -o")
    if not all_topics and not topics:
        raise RosInputError('give topics to record, or -a/--all for every topic')
    wanted = {expand_topic_name(t, 'recorder', '/') for t in topics or []}
    reg = registry()
    ctx = open_context('bag_record')
    writer = Writer(path, version=9, storage_plugin=StoragePlugin.MCAP)
    counts: dict[str, int] = {}
    readers: dict[str, tuple[Any, Any, str]] = {}  # topic → (reader, connection, type)
    written = 0
    try:
        writer.open()
        with _StopFlag() as flag:
            stop_event = stop or flag.event
            start = time.monotonic()
            next_poll = 0.0
            while not stop_event.is_set() and not flag.event.is_set():
                now = time.monotonic()
                if duration_s is not None and now - start >= duration_s:
                    break
                if now >= next_poll:
                    next_poll = now + poll_period_s
                    graph = ctx.graph()
                    by_topic: dict[str, list[Any]] = {}
                    for ep in graph.endpoints:
                        if ep.is_writer and ep.topic and ep.ros_type and \
                                ep.participant_gid != ctx.gid:
                            by_topic.setdefault(ep.topic, []).append(ep)
                    for topic, eps in sorted(by_topic.items()):
                        if topic in readers:
                            continue
                        if wanted and topic not in wanted:
                            continue
                        if not wanted and not include_hidden and topic in _HIDDEN:
                            continue
                        typename = eps[0].ros_type
                        try:
                            reg.entry(typename)
                        except RosInputError:
                            stream.write(f"[WARN] [rosbag2_recorder]: skipping topic '{topic}': "
                                         f'unknown type {typename}\n')
                            readers[topic] = (None, None, typename)
                            continue
                        profiles = [e.qos for e in eps]
                        profile = qos_override or adapt_subscription_qos(profiles, depth=1000)
                        reader = ctx.create_reader(topic, typename, profile)
                        connection = writer.add_connection(
                            topic, typename, msgdef=reg.message_definition(typename),
                            rihs01=reg.type_hash(typename),
                            offered_qos_profiles=[qos_to_rosbags(p) for p in profiles])
                        readers[topic] = (reader, connection, typename)
                        counts[topic] = 0
                        stream.write(f"[INFO] [rosbag2_recorder]: Subscribed to topic '{topic}'\n")
                        stream.flush()
                ctx.wait(20_000_000)
                for topic, (reader, connection, _typename) in readers.items():
                    if reader is None:
                        continue
                    for data, _info in reader.take():
                        writer.write(connection, time.time_ns(), data)
                        counts[topic] += 1
                        written += 1
                if max_messages is not None and written >= max_messages:
                    break
            # drain what already arrived
            for topic, (reader, connection, _typename) in readers.items():
                if reader is not None:
                    for data, _info in reader.take(10_000):
                        writer.write(connection, time.time_ns(), data)
                        counts[topic] += 1
    finally:
        writer.close()
        ctx.close()
    stream.write(f'[INFO] [rosbag2_recorder]: Recording stopped; {sum(counts.values())} '
                 f'messages in {path}\n')
    stream.flush()
    return counts


def _ensure_type(reg: Any, connection: Any) -> str:
    typename = connection.msgtype
    try:
        reg.entry(typename)
        return str(typename)
    except RosInputError:
        pass
    from rosbags.typesys import get_types_from_msg

    if connection.msgdef is None or not connection.msgdef.data:
        raise RosInputError(f'{connection.topic}: type {typename} is unknown and the bag does not '
                            'carry its definition')
    types = get_types_from_msg(connection.msgdef.data, typename)
    reg.store.register({k: v for k, v in types.items() if k not in reg.store.fielddefs})
    reg.entry(typename)
    return str(typename)


def play(bag: str | Path, *, rate: float = 1.0, topics: list[str] | None = None,
         loop: bool = False, clock_hz: float | None = None, delay_s: float = 0.0,
         start_offset_s: float = 0.0, wait_for_subscribers_s: float | None = None,
         out: IO[str] | None = None, progress: bool = False,
         on_message: Callable[[str, int], None] | None = None) -> int:
    """Republish a bag; returns the number of messages published."""
    from rosbags.rosbag2 import Reader

    from ior_ros.runtime.topic_tools import open_context

    if rate <= 0:
        raise RosInputError(f'--rate {rate}: must be > 0')
    stream = out or sys.stdout
    path = Path(bag)
    if not (path / 'metadata.yaml').is_file():
        raise RosInputError(f"'{path}' is not a rosbag2 folder (no metadata.yaml)")
    reg = registry()
    ctx = open_context('bag_play')
    published = 0
    try:
        with Reader(path) as reader:
            connections = [c for c in reader.connections
                           if not topics or c.topic in set(topics)]
            writers: dict[int, Any] = {}
            for conn in connections:
                typename = _ensure_type(reg, conn)
                offered = getattr(conn.ext, 'offered_qos_profiles', None) or []
                profile = qos_from_rosbags(offered[0]) if offered else QoSProfile(depth=10)
                profile = profile.with_(depth=max(profile.depth, 100))
                writers[conn.id] = ctx.create_writer(conn.topic, typename, profile)
            clock_writer = None
            if clock_hz:
                from ior_ros.runtime.qos import qos_profile_clock

                clock_writer = ctx.create_writer('/clock', 'rosgraph_msgs/msg/Clock',
                                                 qos_profile_clock)
            if wait_for_subscribers_s:
                deadline = time.monotonic() + wait_for_subscribers_s
                while time.monotonic() < deadline and not all(
                        w.matched_count() > 0 for w in writers.values()):
                    time.sleep(0.01)
            if delay_s > 0:
                time.sleep(delay_s)
            clock_cls = reg.get_class('rosgraph_msgs/msg/Clock')
            time_cls = reg.get_class('builtin_interfaces/msg/Time')
            bar = None
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=reader.message_count, desc='bag play', unit='msg',
                           file=sys.stderr)
            with _StopFlag() as flag:
                while True:
                    first_stamp: int | None = None
                    wall_start = time.monotonic()
                    last_clock = 0.0
                    for conn, stamp, data in reader.messages(connections=connections):
                        if flag.event.is_set():
                            break
                        if first_stamp is None:
                            first_stamp = stamp
                        offset = (stamp - first_stamp) / 1e9 - start_offset_s
                        if offset < 0:
                            continue
                        target = wall_start + offset / rate
                        while True:
                            left = target - time.monotonic()
                            if clock_writer is not None and time.monotonic() - last_clock >= \
                                    1.0 / clock_hz:  # type: ignore[operator]
                                sim = first_stamp + int((time.monotonic() - wall_start) * rate
                                                        * 1e9)
                                sec, nsec = divmod(sim, 1_000_000_000)
                                clock_writer.write(reg.serialize(
                                    clock_cls(clock=time_cls(sec=sec, nanosec=nsec))))
                                last_clock = time.monotonic()
                            if left <= 0 or flag.event.is_set():
                                break
                            time.sleep(min(left, 0.01 if clock_writer is None else
                                           1.0 / clock_hz))  # type: ignore[operator]
                        payload = data if len(data) % 4 == 0 else \
                            bytes(data) + b'\0' * (-len(data) % 4)
                        writers[conn.id].write(payload)
                        published += 1
                        if on_message is not None:
                            on_message(conn.topic, stamp)
                        if bar is not None:
                            bar.update(1)
                    if not loop or flag.event.is_set():
                        break
            if bar is not None:
                bar.close()
            for writer in writers.values():
                if writer.qos.reliability == ReliabilityPolicy.RELIABLE:
                    writer.wait_for_acks(5.0)
    finally:
        ctx.close()
    stream.write(f'[INFO] [rosbag2_player]: Playback finished; {published} messages '
                 'published\n')
    stream.flush()
    return published


@dataclass
class BagSummary:
    """What ``ros2 bag info`` shows."""

    files: list[str]
    size_bytes: int
    storage: str
    duration_ns: int
    start_ns: int
    end_ns: int
    message_count: int
    topics: list[tuple[str, str, int, str]]  # (topic, type, count, serialization format)


def _stamp(ns: int) -> str:
    moment = datetime.datetime.fromtimestamp(ns / 1e9)
    return f"{moment.strftime('%b %e %Y %H:%M:%S')}.{(ns // 1_000_000) % 1000:03d} " \
           f'({ns // 1_000_000_000}.{ns % 1_000_000_000:09d})'


def info(bag: str | Path, out: IO[str] | None = None) -> BagSummary:
    """Summarize a bag (and print it like ``ros2 bag info``)."""
    from rosbags.rosbag2 import Reader

    path = Path(bag)
    if not (path / 'metadata.yaml').is_file():
        raise RosInputError(f"'{path}' is not a rosbag2 folder (no metadata.yaml)")
    import yaml

    meta = yaml.safe_load((path / 'metadata.yaml').read_text(encoding='utf-8'))
    meta = (meta or {}).get('rosbag2_bagfile_information', {})
    files = [str(f) for f in meta.get('relative_file_paths', [])]
    size = sum((path / f).stat().st_size for f in files if (path / f).is_file())
    storage = str(meta.get('storage_identifier', '?'))
    with Reader(path) as reader:
        topics = sorted((c.topic, c.msgtype, c.msgcount,
                         getattr(c.ext, 'serialization_format', 'cdr'))
                        for c in reader.connections)
        summary = BagSummary(files, size, storage, reader.duration, reader.start_time,
                             reader.end_time, reader.message_count, topics)
    stream = out or sys.stdout
    width = max((len(t[0]) for t in topics), default=0)
    lines = [f"Files:             {', '.join(files)}",
             f'Bag size:          {size / 1024:.1f} KiB',
             f'Storage id:        {storage}',
             f'Duration:          {summary.duration_ns // 10**9}.'
             f'{summary.duration_ns % 10**9:09d}s',
             f'Start:             {_stamp(summary.start_ns)}',
             f'End:               {_stamp(summary.end_ns)}',
             f'Messages:          {summary.message_count}']
    for index, (topic, typename, count, fmt) in enumerate(topics):
        head = 'Topic information: ' if index == 0 else '                   '
        lines.append(f'{head}Topic: {topic:<{width}} | Type: {typename} | Count: {count} | '
                     f'Serialization Format: {fmt}')
    stream.write('\n'.join(lines) + '\n')
    stream.flush()
    return summary
