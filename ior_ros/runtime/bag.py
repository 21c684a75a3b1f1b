"""
``ros2 bag record | play | info`` on the DDS runtime, reading and writing rosbag2 bags with
rosbags (``mcap`` and ``sqlite3`` storage, as Jazzy's rosbag2 writes them).

* **record** subscribes (raw CDR, no decoding) to the given topics or to every topic discovery
  finds (``-a``), adapting QoS to the publishers as rosbag2 does, and writes each sample as
  received with its reception time (ns since the epoch) into ``<out>/<out>.mcap`` (or
  ``<out>.db3`` with ``storage='sqlite3'``) plus ``metadata.yaml`` (rosbag2 format version 9).
  Schemas / ``message_definitions`` are the ``ros2msg`` definitions and messages are ``cdr``, and
  each topic's ``offered_qos_profiles`` is the YAML list Jazzy writes (string enums, infinite
  durations as ``{sec: 9223372036, nsec: 854775807}``), so ``ros2 bag info`` / ``ros2 bag play``
  read the bag and replay each topic with its publishers' reliability and durability. A topic
  with publishers of several types is not recorded (one line; Jazzy's recorder refuses it too).
  It stops on SIGINT/SIGTERM, after ``duration_s`` or after ``max_messages``, and always closes
  the bag.
* **play** republishes every message in timestamp order with the recorded gaps divided by
  ``rate``, offering each topic the recorded QoS as ``ros2 bag play`` does (the recorded profile
  when every publisher offered the same, else reliable/volatile). Message types missing from the
  type registry are registered from the definitions stored in the bag (MCAP schemas, sqlite3
  ``message_definitions``); a topic whose type is unknown and whose definition is absent is
  skipped with one warning line. Optional ``/clock`` publishing.
* **info** prints the summary ``ros2 bag info`` prints.

A bag that cannot be read (unsupported storage, corrupt file) is one
:class:`~ior_ros.runtime.errors.RosInputError` naming the file.
"""

from __future__ import annotations

import datetime
import importlib
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
    LivelinessPolicy,
    QoSProfile,
    ReliabilityPolicy,
    adapt_subscription_qos,
)

__all__ = ['record', 'play', 'info', 'BagSummary', 'qos_to_rosbags', 'qos_from_rosbags',
           'playback_qos', 'STORAGES']

_HIDDEN = ('/rosout', '/parameter_events')


# rmw's RMW_DURATION_INFINITE as Jazzy's rosbag2 writes it into offered_qos_profiles
_INFINITE_SEC, _INFINITE_NSEC = 9223372036, 854775807
# the infinities of older bags (rosbag2_storage/qos.cpp: Foxy's Fast DDS, Connext, Cyclone)
_OLD_INFINITE = {(0x7FFFFFFF, 0xFFFFFFFF), (0x7FFFFFFF, 0x7FFFFFFF)}
STORAGES = ('mcap', 'sqlite3')


def _qos_time(ns: int) -> Any:
    from rosbags.interfaces import QosTime

    if ns <= 0 or ns >= 2**63 - 1:
        return QosTime(sec=_INFINITE_SEC, nsec=_INFINITE_NSEC)
    sec, nsec = divmod(int(ns), 1_000_000_000)
    return QosTime(sec=sec, nsec=nsec)


def _qos_ns(time_: Any) -> int:
    """A recorded duration in ns; 0 (our "infinite") for every spelling of infinity."""
    sec, nsec = int(time_.sec), int(time_.nsec)
    if (sec, nsec) in _OLD_INFINITE:
        return 0
    ns = sec * 1_000_000_000 + nsec
    return 0 if ns >= 2**63 - 1 or ns <= 0 else ns


def qos_to_rosbags(profile: QoSProfile) -> Any:
    """Our profile → rosbags' Qos tuple, with the values Jazzy's recorder stores in
    ``offered_qos_profiles`` (unset durations are infinite, default liveliness is automatic)."""
    from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability

    return Qos(
        history=QosHistory.KEEP_ALL if profile.history == HistoryPolicy.KEEP_ALL
        else QosHistory.KEEP_LAST,
        depth=profile.depth,
        reliability=QosReliability.BEST_EFFORT
        if profile.reliability == ReliabilityPolicy.BEST_EFFORT else QosReliability.RELIABLE,
        durability=QosDurability.TRANSIENT_LOCAL
        if profile.durability == DurabilityPolicy.TRANSIENT_LOCAL else QosDurability.VOLATILE,
        deadline=_qos_time(profile.deadline_ns), lifespan=_qos_time(profile.lifespan_ns),
        liveliness=QosLiveliness.MANUAL_BY_TOPIC
        if profile.liveliness == LivelinessPolicy.MANUAL_BY_TOPIC else QosLiveliness.AUTOMATIC,
        liveliness_lease_duration=_qos_time(profile.liveliness_lease_duration_ns),
        avoid_ros_namespace_conventions=bool(profile.avoid_ros_namespace_conventions))


def qos_from_rosbags(qos: Any) -> QoSProfile:
    """rosbags' Qos tuple (parsed from a version 4..9 ``offered_qos_profiles``) → our profile."""
    from rosbags.interfaces import QosDurability, QosHistory, QosLiveliness, QosReliability

    return QoSProfile(
        history=HistoryPolicy.KEEP_ALL if qos.history == QosHistory.KEEP_ALL
        else HistoryPolicy.KEEP_LAST,
        depth=max(1, int(qos.depth or 10)),
        reliability=ReliabilityPolicy.BEST_EFFORT
        if qos.reliability == QosReliability.BEST_EFFORT else ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL
        if qos.durability == QosDurability.TRANSIENT_LOCAL else DurabilityPolicy.VOLATILE,
        deadline=_qos_ns(qos.deadline), lifespan=_qos_ns(qos.lifespan),
        liveliness=LivelinessPolicy.MANUAL_BY_TOPIC
        if qos.liveliness == QosLiveliness.MANUAL_BY_TOPIC else LivelinessPolicy.AUTOMATIC,
        liveliness_lease_duration=_qos_ns(qos.liveliness_lease_duration),
        avoid_ros_namespace_conventions=bool(qos.avoid_ros_namespace_conventions))


def playback_qos(offered: list[Any], topic: str = '',
                 warn: Callable[[str], None] | None = None) -> QoSProfile:
    """
    The profile ``ros2 bag play`` offers for a topic (rosbag2_storage
    ``Rosbag2QoS::adapt_offer_to_recorded_offers``): the recorded one when every recorded
    publisher offered the same reliability, durability, deadline and liveliness, else the
    default (reliable, volatile). The depth is kept for transient-local topics (late joiners get
    what the publisher kept) and raised to 100 otherwise (no drops when playing fast).
    """
    profiles = [qos_from_rosbags(q) for q in offered]
    if not profiles:
        profile = QoSProfile(depth=10)
    else:
        first = profiles[0]
        same = all((p.reliability, p.durability, p.deadline_ns, p.liveliness,
                    p.liveliness_lease_duration_ns) ==
                   (first.reliability, first.durability, first.deadline_ns, first.liveliness,
                    first.liveliness_lease_duration_ns) for p in profiles[1:])
        if same:
            profile = first.with_(history=HistoryPolicy.KEEP_LAST)
        else:
            if warn is not None:
                warn(f'not all original publishers on topic {topic} offered the same QoS '
                     'profile; offering reliable/volatile')
            profile = QoSProfile(depth=10)
    if profile.durability != DurabilityPolicy.TRANSIENT_LOCAL:
        profile = profile.with_(depth=max(profile.depth, 100))
    return profile


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
           poll_period_s: float = 0.1, storage: str = 'mcap') -> dict[str, int]:
    """Record into a new bag folder (``storage`` mcap or sqlite3); returns messages written
    per topic."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    from ior_ros.runtime.names import expand_topic_name
    from ior_ros.runtime.topic_tools import open_context

    stream = out or sys.stdout
    path = Path(output)
    if path.exists():
        raise RosInputError(f"output folder '{path}' already exists; give a new name with -o")
    if not all_topics and not topics:
        raise RosInputError('give topics to record, or -a/--all for every topic')
    if storage not in STORAGES:
        raise RosInputError(f"storage '{storage}' is not supported; use one of "
                            f"{', '.join(STORAGES)}")
    wanted = {expand_topic_name(t, 'recorder', '/') for t in topics or []}
    reg = registry()
    ctx = open_context('bag_record')
    writer = Writer(path, version=9, storage_plugin=StoragePlugin.MCAP if storage == 'mcap'
                    else StoragePlugin.SQLITE3)
    counts: dict[str, int] = {}
    readers: dict[str, tuple[Any, Any, str]] = {}  # topic → (reader, connection, type)
    several_types: set[str] = set()  # topics reported as having publishers of several types
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
                        if wanted and topic not in wanted:
                            continue
                        if not wanted and not include_hidden and topic in _HIDDEN:
                            continue
                        types = sorted({str(e.ros_type) for e in eps})
                        if len(types) > 1 and topic not in several_types:
                            # as Jazzy's recorder (ros2 bag play could not replay such a topic);
                            # said once, also when the second type shows up after subscribing
                            several_types.add(topic)
                            what = 'skipping topic' if topic not in readers else \
                                f'recording only {readers[topic][2]} of topic'
                            stream.write(f"[WARN] [rosbag2_recorder]: {what} '{topic}': it has "
                                         f"more than one type ({', '.join(types)}); only "
                                         'topics with one type are recorded\n')
                            stream.flush()
                            readers.setdefault(topic, (None, None, types[0]))
                        if topic in readers:
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
    """The type of a bag connection, registered from the definition the bag stores when the
    registry does not know it (ros2msg or ros2idl); RosInputError when that is impossible."""
    typename = str(connection.msgtype)
    try:
        reg.entry(typename)
        return typename
    except RosInputError:
        pass
    from rosbags.interfaces import MessageDefinitionFormat
    from rosbags.typesys import get_types_from_idl, get_types_from_msg

    msgdef = connection.msgdef
    if msgdef is None or msgdef.format == MessageDefinitionFormat.NONE or not msgdef.data:
        raise RosInputError(f'type {typename} is unknown and the bag does not carry its '
                            'definition')
    try:
        if msgdef.format == MessageDefinitionFormat.IDL:
            types = get_types_from_idl(msgdef.data)
        else:
            types = get_types_from_msg(msgdef.data, typename)
        filler: Any = [('structure_needs_at_least_one_member', (1, ('uint8', 0)))]
        new = {name: (consts, fields or filler)  # an empty type carries one uint8, as in rosidl
               for name, (consts, fields) in types.items() if name not in reg.store.fielddefs}
        reg.store.register(new)
        reg.entry(typename)
    except Exception as exc:  # noqa: BLE001 - any parse failure is one line about this type
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RosInputError(f'the definition of {typename} stored in the bag cannot be used: '
                            f'{reason}') from None
    return typename


def _bag_metadata(bag: str | Path) -> tuple[Path, dict[str, Any]]:
    """The bag folder and its ``rosbag2_bagfile_information``; RosInputError (naming the file)
    when it is not a bag this tool reads."""
    import yaml

    path = Path(bag)
    meta_path = path / 'metadata.yaml'
    if not meta_path.is_file():
        raise RosInputError(f"'{path}' is not a rosbag2 folder (no metadata.yaml)")
    try:
        meta = yaml.safe_load(meta_path.read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = (str(exc).strip().splitlines() or ['?'])[0]
        raise RosInputError(f'{meta_path}: not a readable rosbag2 metadata file ({reason})') \
            from None
    info = meta.get('rosbag2_bagfile_information') if isinstance(meta, dict) else None
    if not isinstance(info, dict):
        raise RosInputError(f"{meta_path}: no 'rosbag2_bagfile_information' mapping")
    storage = info.get('storage_identifier')
    if storage not in STORAGES:
        raise RosInputError(f"{meta_path}: storage '{storage}' cannot be read here (readable: "
                            f"{', '.join(STORAGES)})")
    return path, info


def _read_error(path: Path, info: dict[str, Any], exc: BaseException) -> RosInputError:
    """One line naming the bag's storage file (or folder) and what rosbags found wrong."""
    files = [str(f) for f in info.get('relative_file_paths') or []]
    where = path / Path(files[0]).name if len(files) == 1 else path
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    reason = reason.replace(f'Cannot open database {where}: ', '')  # rosbags names it too
    return RosInputError(f'{where}: cannot read this {info.get("storage_identifier")} bag: '
                         f'{reason}')


def _reader_errors() -> tuple[type[BaseException], ...]:
    """What rosbags' readers raise on a damaged file (not on programming errors)."""
    import sqlite3
    import struct

    from rosbags.rosbag2 import ReaderError

    errors: list[type[BaseException]] = [ReaderError, sqlite3.Error, struct.error, EOFError,
                                          UnicodeDecodeError]
    try:
        import apsw

        errors.append(apsw.Error)
    except ImportError:  # pragma: no cover - rosbags depends on it
        pass
    for module in ('compression.zstd', 'backports.zstd'):  # what rosbags decompresses with
        try:
            errors.append(importlib.import_module(module).ZstdError)
            break
        except (ImportError, AttributeError):
            continue
    return tuple(errors)


class _BagReader:
    """``with _BagReader(path, info) as reader`` opens rosbags' Reader; every read error,
    opening or while iterating, becomes one RosInputError naming the file."""

    def __init__(self, path: Path, info: dict[str, Any]) -> None:
        self.path = path
        self.info = info
        self.errors = _reader_errors()
        self.reader: Any = None

    def __enter__(self) -> Any:
        from rosbags.rosbag2 import Reader

        try:
            self.reader = Reader(self.path)
            self.reader.open()
        except Exception as exc:
            if isinstance(exc, (*self.errors, OSError, KeyError, ValueError)):
                raise _read_error(self.path, self.info, exc) from None
            raise
        return self.reader

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        try:
            self.reader.close()
        except Exception:  # noqa: BLE001, S110 - closing a damaged bag may fail again
            pass
        if exc is not None and isinstance(exc, self.errors):
            raise _read_error(self.path, self.info, exc) from None


def play(bag: str | Path, *, rate: float = 1.0, topics: list[str] | None = None,
         loop: bool = False, clock_hz: float | None = None, delay_s: float = 0.0,
         start_offset_s: float = 0.0, wait_for_subscribers_s: float | None = None,
         out: IO[str] | None = None, progress: bool = False,
         on_message: Callable[[str, int], None] | None = None) -> int:
    """Republish a bag; returns the number of messages published."""
    from ior_ros.runtime.names import expand_topic_name
    from ior_ros.runtime.topic_tools import open_context

    if rate <= 0:
        raise RosInputError(f'--rate {rate}: must be > 0')
    stream = out or sys.stdout
    path, meta = _bag_metadata(bag)
    wanted = {expand_topic_name(t, 'player', '/') for t in topics or []}
    reg = registry()

    def warn(text: str) -> None:
        stream.write(f'[WARN] [rosbag2_player]: {text}\n')
        stream.flush()

    ctx = open_context('bag_play')
    published = 0
    try:
        with _BagReader(path, meta) as reader:
            connections = []
            writers: dict[int, Any] = {}
            for conn in reader.connections:
                if wanted and conn.topic not in wanted:
                    continue
                try:
                    typename = _ensure_type(reg, conn)
                except RosInputError as exc:
                    warn(f"skipping topic '{conn.topic}': {exc}")
                    continue
                offered = getattr(conn.ext, 'offered_qos_profiles', None) or []
                profile = playback_qos(offered, conn.topic, warn)
                writers[conn.id] = ctx.create_writer(conn.topic, typename, profile)
                connections.append(conn)
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

                bar = tqdm(total=sum(c.msgcount for c in connections), desc='bag play', unit='msg',
                           file=sys.stderr)
            with _StopFlag() as flag:
                while True:
                    first_stamp: int | None = None
                    wall_start = time.monotonic()
                    last_clock = 0.0
                    for conn, stamp, data in (reader.messages(connections=connections)
                                              if connections else ()):
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
    ros_distro: str = ''
    compression: str = ''  # '' or '<format>/<mode>' (zstd/file, zstd/message)


def _stamp(ns: int) -> str:
    """``Dec  7 2026 00:28:38.230773988 (1796603318.230773988)`` as ``ros2 bag info`` prints."""
    try:
        moment = datetime.datetime.fromtimestamp(ns // 1_000_000_000)
        text = f"{moment.strftime('%b %e %Y %H:%M:%S')}.{ns % 1_000_000_000:09d} "
    except (OverflowError, OSError, ValueError):  # an empty bag's start is 2**63 - 1
        text = ''
    return f'{text}({ns // 1_000_000_000}.{ns % 1_000_000_000:09d})'


def _size(size: int) -> str:
    """A size as rosbag2's format_file_size prints it (``30.0 KiB``)."""
    value, index = float(size), 0
    units = ('B', 'KiB', 'MiB', 'GiB', 'TiB')
    while value >= 1024 and index < len(units) - 1:
        value /= 1024
        index += 1
    return f'{value:.0f} B' if index == 0 else f'{value:.1f} {units[index]}'


def info(bag: str | Path, out: IO[str] | None = None) -> BagSummary:
    """Summarize a bag (and print it like ``ros2 bag info``)."""
    path, meta = _bag_metadata(bag)
    files = [str(f) for f in meta.get('relative_file_paths') or []]
    size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())  # as rosbag2 counts
    storage = str(meta.get('storage_identifier', '?'))
    with _BagReader(path, meta) as reader:
        topics = sorted((c.topic, c.msgtype, c.msgcount,
                         getattr(c.ext, 'serialization_format', 'cdr'))
                        for c in reader.connections)
        count = reader.message_count
        try:  # the recorded values (rosbags adds 1 ns to its duration and end)
            duration = int(meta['duration']['nanoseconds']) if count else 0
            start = int(meta['starting_time']['nanoseconds_since_epoch'])
        except (KeyError, TypeError, ValueError):
            duration, start = max(0, reader.duration - 1), reader.start_time
        mode = str(meta.get('compression_mode') or '').lower()
        compression = f"{meta.get('compression_format')}/{mode}" \
            if mode and mode != 'none' else ''
        summary = BagSummary(files, size, storage, duration, start, start + duration, count,
                             topics, str(meta.get('ros_distro') or ''), compression)
    stream = out or sys.stdout
    width = max((len(t[0]) for t in topics), default=0)
    lines = [f'Files:             {files[0] if files else ""}']
    lines += [f'                   {name}' for name in files[1:]]
    lines += [f'Bag size:          {_size(size)}',
              f'Storage id:        {storage}']
    if summary.ros_distro:
        lines.append(f'ROS Distro:        {summary.ros_distro}')
    if compression:
        lines.append(f'Compression:       {compression}')
    lines += [f'Duration:          {duration // 10**9}.{duration % 10**9:09d}s',
              f'Start:             {_stamp(start)}',
              f'End:               {_stamp(start + duration)}',
              f'Messages:          {count}']
    for index, (topic, typename, msgs, fmt) in enumerate(topics):
        head = 'Topic information: ' if index == 0 else '                   '
        lines.append(f'{head}Topic: {topic:<{width}} | Type: {typename} | Count: {msgs} | '
                     f'Serialization Format: {fmt}')
    stream.write('\n'.join(lines) + '\n')
    stream.flush()
    return summary
