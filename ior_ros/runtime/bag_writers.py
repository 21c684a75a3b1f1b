"""
The storage writers behind ``ior bag record``: what is on disk stays readable if the recorder
dies at any moment (SIGKILL, power loss), and ``metadata.yaml`` exists from the start.

* :class:`McapBagWriter` (``mcap``): :class:`~ior_ros.runtime.bag_mcap_writer.McapWriter`
  writes a chunk at least every ``max_chunk_interval_s`` (and whenever ``max_cache_size`` bytes
  are waiting; with 0, after every batch the recorder takes), fsynced per its policy.
* :class:`Sqlite3BagWriter` (``sqlite3``): rosbags' writer, committed at the same moments
  (SQLite's journal keeps the database consistent across a crash).

Both write ``metadata.yaml`` atomically when they open, whenever a topic is added, every
``metadata_period_s`` while messages arrive (describing what is on disk: flushed chunks or
committed rows) and a final one on close. After a crash, ``ior bag reindex`` rebuilds it from
the storage file and, for MCAP, writes the summary the recorder could not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ior_ros.runtime.bag_mcap_writer import McapWriter
from ior_ros.runtime.bag_yaml import (
    EMPTY_START_NS,
    FileEntry,
    TopicEntry,
    bagfile_information,
    qos_list,
    qos_text,
    write_metadata,
)
from ior_ros.runtime.errors import RosInputError

__all__ = ['McapBagWriter', 'Sqlite3BagWriter', 'open_bag_writer', 'DEFAULT_CHUNK_INTERVAL_S',
           'DEFAULT_CACHE_SIZE', 'DEFAULT_METADATA_PERIOD_S']

DEFAULT_CHUNK_INTERVAL_S = 0.5  # at most this much data is lost when the recorder is killed
DEFAULT_CACHE_SIZE = 1 << 20  # bytes buffered before a chunk is written anyway (mcap's default)
DEFAULT_METADATA_PERIOD_S = 2.0


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        raise RosInputError(f"output folder '{folder}' already exists; give a new name with -o") \
            from None
    except OSError as exc:
        raise RosInputError(f"output folder '{folder}' cannot be created: "
                            f'{exc.strerror or exc}') from None


class _Tally:
    """Per-topic counts and the time range of the messages it was told about."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.total = 0
        self.start_ns = EMPTY_START_NS
        self.end_ns = 0

    def add(self, key: int, stamp_ns: int) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1
        self.total += 1
        self.start_ns = min(self.start_ns, stamp_ns)
        self.end_ns = max(self.end_ns, stamp_ns)


class _BagWriterBase:
    """What both storages share: topics, the metadata.yaml refresh and the timing."""

    storage = ''
    ros_distro = ''

    def __init__(self, folder: Path, *, max_chunk_interval_s: float, max_cache_size: int,
                 fsync: bool, metadata_period_s: float, clock: Callable[[], float]) -> None:
        self.folder = Path(folder)
        self.max_chunk_interval_s = max_chunk_interval_s
        self.max_cache_size = max_cache_size
        self.fsync = fsync
        self.metadata_period_s = metadata_period_s
        self.clock = clock
        self.topics: dict[int, TopicEntry] = {}
        self.file_name = ''
        self._next_metadata = 0.0
        self._metadata_written: tuple[int, int] | None = None  # (topics, messages) last written

    def _information(self, counts: dict[int, int], total: int, start_ns: int,
                     end_ns: int) -> dict[str, Any]:
        topics = [TopicEntry(t.name, t.type, t.serialization_format, t.offered_qos_profiles,
                             t.type_description_hash, counts.get(key, 0))
                  for key, t in self.topics.items()]
        files = [FileEntry(self.file_name, start_ns if total else EMPTY_START_NS,
                           max(0, end_ns - start_ns) if total else 0, total)]
        return bagfile_information(storage=self.storage, files=files, topics=topics,
                                   ros_distro=self.ros_distro)

    def _on_disk(self) -> tuple[dict[int, int], int, int, int]:
        raise NotImplementedError

    def _refresh_metadata(self, now: float, force: bool = False) -> None:
        counts, total, start, end = self._on_disk()
        state = (len(self.topics), total)
        if not force and (state == self._metadata_written or now < self._next_metadata):
            return
        write_metadata(self.folder, self._information(counts, total, start, end), self.fsync)
        self._metadata_written = state
        self._next_metadata = now + self.metadata_period_s


class McapBagWriter(_BagWriterBase):
    """``<folder>/<folder name>.mcap`` written by the crash-consistent MCAP writer."""

    storage = 'mcap'
    ros_distro = 'jazzy'

    def __init__(self, folder: Path, *, max_chunk_interval_s: float = DEFAULT_CHUNK_INTERVAL_S,
                 max_cache_size: int = DEFAULT_CACHE_SIZE, fsync: bool = True,
                 metadata_period_s: float = DEFAULT_METADATA_PERIOD_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(folder, max_chunk_interval_s=max_chunk_interval_s,
                         max_cache_size=max_cache_size, fsync=fsync,
                         metadata_period_s=metadata_period_s, clock=clock)
        _make_folder(self.folder)
        self.file_name = f'{self.folder.name}.mcap'
        self.mcap = McapWriter(self.folder / self.file_name,
                               max_chunk_interval_s=max_chunk_interval_s,
                               max_chunk_bytes=max_cache_size or 2**62, fsync=fsync, clock=clock)
        self._refresh_metadata(clock(), force=True)

    def add_topic(self, topic: str, typename: str, msgdef: str, rihs01: str,
                  offered_qos_profiles: list[Any]) -> int:
        """Declare a topic (its Schema and Channel records are on disk when this returns)."""
        encoding = 'ros2idl' if msgdef.startswith('=' * 80 + '\nIDL: ') else 'ros2msg'
        schema_id = self.mcap.add_schema(typename, encoding, msgdef)
        key = self.mcap.add_channel(topic, 'cdr', schema_id, {
            'offered_qos_profiles': qos_text(offered_qos_profiles), 'topic_type_hash': rihs01})
        self.topics[key] = TopicEntry(topic, typename, 'cdr', qos_list(offered_qos_profiles),
                                      rihs01)
        self._refresh_metadata(self.clock(), force=True)
        return key

    def write(self, key: int, stamp_ns: int, data: bytes | memoryview,
              publish_time_ns: int | None = None) -> None:
        """Buffer one message (written with its chunk)."""
        self.mcap.write(key, stamp_ns, data, publish_time_ns)

    def tick(self, now: float | None = None) -> None:
        """Write the chunk when it is due, and refresh metadata.yaml when it is due."""
        now = self.clock() if now is None else now
        if self.max_cache_size == 0:  # no cache: what came in this batch is written now
            self.mcap.flush()
        else:
            self.mcap.flush_if_due(now)
        self._refresh_metadata(now)

    def _on_disk(self) -> tuple[dict[int, int], int, int, int]:
        mcap = self.mcap
        return (dict(mcap.flushed_counts), mcap.flushed_message_count, mcap.flushed_start_ns,
                mcap.flushed_end_ns)

    def close(self) -> None:
        """Write the last chunk, the summary and footer, then the final metadata.yaml."""
        self.mcap.flush()
        information = self._information(*self._on_disk())
        self.mcap.close(_inner_yaml(information))
        write_metadata(self.folder, information, self.fsync)


def _inner_yaml(information: dict[str, Any]) -> str:
    """The information as the YAML rosbag2 stores in the MCAP ``rosbag2`` metadata record."""
    import yaml

    return str(yaml.safe_dump(information, default_flow_style=False, sort_keys=False)).strip()


class Sqlite3BagWriter(_BagWriterBase):
    """``<folder>/<folder name>.db3`` written by rosbags, committed every chunk interval."""

    storage = 'sqlite3'
    ros_distro = 'rosbags'  # what rosbags' writer puts in the database and its metadata.yaml

    def __init__(self, folder: Path, *, max_chunk_interval_s: float = DEFAULT_CHUNK_INTERVAL_S,
                 max_cache_size: int = DEFAULT_CACHE_SIZE, fsync: bool = True,
                 metadata_period_s: float = DEFAULT_METADATA_PERIOD_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        super().__init__(folder, max_chunk_interval_s=max_chunk_interval_s,
                         max_cache_size=max_cache_size, fsync=fsync,
                         metadata_period_s=metadata_period_s, clock=clock)
        if self.folder.exists():
            raise RosInputError(f"output folder '{self.folder}' already exists; give a new "
                                'name with -o')
        self.writer = Writer(self.folder, version=9, storage_plugin=StoragePlugin.SQLITE3)
        try:
            self.writer.open()
        except OSError as exc:
            raise RosInputError(f"output folder '{self.folder}' cannot be created: "
                                f'{exc.strerror or exc}') from None
        self.file_name = f'{self.folder.name}.db3'
        self._connections: dict[int, Any] = {}
        self._pending = _Tally()
        self._committed = _Tally()
        self._pending_bytes = 0
        self._oldest: float | None = None  # when the oldest uncommitted message came
        self._commit()
        self._refresh_metadata(clock(), force=True)

    def _commit(self) -> None:
        # rosbags commits only on close; committing here bounds what a crash loses (its
        # Sqlite3Writer keeps the connection as ``conn``)
        self.writer.storage.conn.commit()  # type: ignore[union-attr]
        self._committed = _copy_tally(self._pending)
        self._pending_bytes = 0
        self._oldest = None

    def add_topic(self, topic: str, typename: str, msgdef: str, rihs01: str,
                  offered_qos_profiles: list[Any]) -> int:
        """Declare a topic (committed when this returns)."""
        connection = self.writer.add_connection(topic, typename, msgdef=msgdef, rihs01=rihs01,
                                                offered_qos_profiles=offered_qos_profiles)
        key = int(connection.id)
        self._connections[key] = connection
        self.topics[key] = TopicEntry(topic, typename, 'cdr', qos_list(offered_qos_profiles),
                                      rihs01)
        self._commit()
        self._refresh_metadata(self.clock(), force=True)
        return key

    def write(self, key: int, stamp_ns: int, data: bytes | memoryview,
              publish_time_ns: int | None = None) -> None:
        """Insert one message (committed with the next commit)."""
        self.writer.write(self._connections[key], stamp_ns, data)
        self._pending.add(key, stamp_ns)
        self._pending_bytes += len(data)
        if self._oldest is None:
            self._oldest = self.clock()
        if self.max_cache_size and self._pending_bytes >= self.max_cache_size:
            self._commit()

    def tick(self, now: float | None = None) -> None:
        """Commit when due, and refresh metadata.yaml when due."""
        now = self.clock() if now is None else now
        if self._oldest is not None and (self.max_cache_size == 0 or
                                         now - self._oldest >= self.max_chunk_interval_s):
            self._commit()
        self._refresh_metadata(now)

    def _on_disk(self) -> tuple[dict[int, int], int, int, int]:
        done = self._committed
        return dict(done.counts), done.total, done.start_ns, done.end_ns

    def close(self) -> None:
        """Close the database; rosbags writes the final metadata.yaml."""
        self.writer.close()


def _copy_tally(tally: _Tally) -> _Tally:
    copy = _Tally()
    copy.counts = dict(tally.counts)
    copy.total, copy.start_ns, copy.end_ns = tally.total, tally.start_ns, tally.end_ns
    return copy


def open_bag_writer(folder: Path, storage: str, **options: Any) -> McapBagWriter | \
        Sqlite3BagWriter:
    """The writer of ``storage`` (``mcap`` or ``sqlite3``) for a new bag folder."""
    if storage == 'mcap':
        return McapBagWriter(folder, **options)
    return Sqlite3BagWriter(folder, **options)
