"""
``ros2 bag record`` on the DDS runtime, writing rosbag2 bags (``mcap`` and ``sqlite3`` storage, as
Jazzy's rosbag2 writes them) that survive the recorder being killed.

It subscribes (raw CDR, no decoding) to the given topics or to every topic discovery
finds (``-a``), adapting QoS to the publishers as rosbag2 does, and writes each sample as
received with its reception time (ns since the epoch) into ``<out>/<out>.mcap`` (or
``<out>.db3`` with ``storage='sqlite3'``) plus ``metadata.yaml`` (rosbag2 format version 9).
Schemas / ``message_definitions`` are the ``ros2msg`` definitions and messages are ``cdr``, and
each topic's ``offered_qos_profiles`` is the YAML list Jazzy writes (string enums, infinite
durations as ``{sec: 9223372036, nsec: 854775807}``), so ``ros2 bag info`` / ``ros2 bag play``
read the bag and replay each topic with its publishers' reliability and durability. A topic
with publishers of several types is not recorded (one line; Jazzy's recorder refuses it too).

Crash consistency (:mod:`~ior_ros.runtime.bag_writers`): data reaches the file (fsynced unless
``fsync=False``) at least every ``max_chunk_interval_s`` (default 0.5 s) or every
``max_cache_size`` bytes, and ``metadata.yaml`` exists from the start and is refreshed every
``metadata_period_s``; a recorder killed by SIGKILL or a power cut loses at most the last
interval, and ``ior bag reindex`` makes the bag whole again. It stops on SIGINT/SIGTERM, after
``duration_s`` or after ``max_messages``, and then closes the bag properly.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from ior_ros.runtime.bag_qos import qos_to_rosbags
from ior_ros.runtime.bag_storage import STORAGES
from ior_ros.runtime.bag_writers import (
    DEFAULT_CACHE_SIZE,
    DEFAULT_CHUNK_INTERVAL_S,
    DEFAULT_METADATA_PERIOD_S,
    McapBagWriter,
    Sqlite3BagWriter,
    open_bag_writer,
)
from ior_ros.runtime.errors import RosInputError
from ior_ros.runtime.qos import QoSProfile, adapt_subscription_qos
from ior_ros.runtime.registry import registry

__all__ = ['record', 'StopFlag']

_HIDDEN = ('/rosout', '/parameter_events')


class StopFlag:
    """Set by SIGINT/SIGTERM while a tool runs (handlers restored afterwards)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopFlag:
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
           poll_period_s: float = 0.1, storage: str = 'mcap',
           max_chunk_interval_s: float = DEFAULT_CHUNK_INTERVAL_S,
           max_cache_size: int = DEFAULT_CACHE_SIZE, fsync: bool = True,
           metadata_period_s: float = DEFAULT_METADATA_PERIOD_S) -> dict[str, int]:
    """Record into a new bag folder (``storage`` mcap or sqlite3); returns messages written
    per topic. ``max_chunk_interval_s`` [s] and ``max_cache_size`` [bytes]: the most data
    held in memory before it is written (see the module docstring)."""
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
    if not 0 < max_chunk_interval_s < float('inf'):
        raise RosInputError(f'--max-chunk-interval {max_chunk_interval_s}: must be a number of '
                            'seconds > 0')
    if max_cache_size < 0:
        raise RosInputError(f'--max-cache-size {max_cache_size}: must be a number of bytes >= 0')
    wanted = {expand_topic_name(t, 'recorder', '/') for t in topics or []}
    reg = registry()
    ctx = open_context('bag_record')
    writer: McapBagWriter | Sqlite3BagWriter | None = None
    counts: dict[str, int] = {}
    readers: dict[str, tuple[Any, Any, str]] = {}  # topic → (reader, writer key, type)
    several_types: set[str] = set()  # topics reported as having publishers of several types
    written = 0
    failure: OSError | None = None  # the disk refused a write (full, read-only, gone)
    try:
        writer = open_bag_writer(path, storage, max_chunk_interval_s=max_chunk_interval_s,
                                 max_cache_size=max_cache_size, fsync=fsync,
                                 metadata_period_s=metadata_period_s)
        with StopFlag() as flag:
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
                        connection = writer.add_topic(
                            topic, typename, reg.message_definition(typename),
                            reg.type_hash(typename), [qos_to_rosbags(p) for p in profiles])
                        readers[topic] = (reader, connection, typename)
                        counts[topic] = 0
                        stream.write(f"[INFO] [rosbag2_recorder]: Subscribed to topic '{topic}'\n")
                        stream.flush()
                ctx.wait(20_000_000)
                for topic, (reader, connection, _typename) in readers.items():
                    if reader is None:
                        continue
                    for data, info in reader.take():
                        writer.write(connection, time.time_ns(), data, info.source_timestamp)
                        counts[topic] += 1
                        written += 1
                writer.tick()
                if max_messages is not None and written >= max_messages:
                    break
            # drain what already arrived
            for topic, (reader, connection, _typename) in readers.items():
                if reader is not None:
                    for data, info in reader.take(10_000):
                        writer.write(connection, time.time_ns(), data, info.source_timestamp)
                        counts[topic] += 1
    except OSError as exc:
        failure = exc
    finally:
        try:
            if writer is not None and failure is None:
                writer.close()
        except OSError as exc:
            failure = exc
        finally:
            ctx.close()
    if failure is not None:  # what reached the file before stays readable, as after a crash
        raise RosInputError(f'{path}: cannot write the bag ({failure.strerror or failure}); '
                            f'what was written before is kept: run `ior bag reindex {path}`') \
            from None
    stream.write(f'[INFO] [rosbag2_recorder]: Recording stopped; {sum(counts.values())} '
                 f'messages in {path}\n')
    stream.flush()
    return counts
