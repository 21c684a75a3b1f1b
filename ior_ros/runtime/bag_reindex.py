"""
``ior bag reindex DIR`` (as ``ros2 bag reindex``): rebuild a bag's ``metadata.yaml`` from its
storage files, and make an MCAP file cut by a crash readable by every reader again.

* ``metadata.yaml`` is rebuilt from what the files hold: message counts (in total, per topic,
  per file), start and duration, and each topic's type, serialization format, offered QoS
  profiles and type hash (MCAP Channel metadata ``offered_qos_profiles``/``topic_type_hash``
  as rosbag2 and ``ior bag record`` write them; the ``topics`` table of a sqlite3 file, after
  SQLite rolled back what a crash left uncommitted). It is written atomically.
* An MCAP file without a footer (no summary: the recorder was killed, or a garbage or cut tail)
  is rewritten with every complete message (:mod:`~ior_ros.runtime.bag_mcap_scan` reads it up to
  the last one), a summary and a footer, so ``ros2 bag info``/``play`` and rosbags open it. The
  copy is written next to it under a temporary name, fsynced, and renamed over it; the original
  is kept as ``<file>.orig`` (a hard link made before the rename, so the file name always holds
  a whole file) unless ``keep_original=False``.

Each file gets one line saying what was recovered and what was cut (bytes, and the complete
messages read from a chunk cut short).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ior_ros.runtime.bag_mcap_scan import McapScan, chunk_messages, loose_message, scan_mcap
from ior_ros.runtime.bag_mcap_writer import McapWriter
from ior_ros.runtime.bag_storage import STORAGE_SUFFIXES, bag_metadata, storage_files
from ior_ros.runtime.bag_yaml import (
    EMPTY_START_NS,
    ROS_DISTRO,
    TMP_SUFFIX,
    FileEntry,
    TopicEntry,
    bagfile_information,
    qos_list,
    sync_folder,
    write_metadata,
)
from ior_ros.runtime.errors import RosInputError

__all__ = ['Rebuilt', 'FileReport', 'rebuild_metadata', 'repair_mcap', 'reindex',
           'metadata_or_rebuilt']


@dataclass
class FileReport:
    """What reindex found in one storage file."""

    path: Path
    storage: str
    messages: int
    topics: int
    cut: str = ''  # what was cut ('' when the file is whole)
    cut_bytes: int = 0
    repaired: bool = False
    original: Path | None = None  # where the original was kept


@dataclass
class Rebuilt:
    """A bag's metadata as rebuilt from its storage files."""

    folder: Path
    storage: str
    information: dict[str, Any]
    files: list[FileReport] = field(default_factory=list)
    scans: dict[Path, McapScan] = field(default_factory=dict)


def _qos_from_text(text: Any) -> list[dict[str, Any]]:
    """An ``offered_qos_profiles`` value (YAML text of any version, or a list) → the version 9
    list; [] when it cannot be read."""
    from rosbags.rosbag2.metadata import parse_qos

    try:
        return qos_list(parse_qos(text or []))
    except Exception:  # noqa: BLE001 - a damaged QoS value is not a reason to lose the bag
        return []


def _serialized(scan: McapScan) -> dict[str, Any]:
    """The rosbag2 metadata stored in the MCAP file (what rosbag2 writes on close), or {}."""
    import yaml

    if not scan.rosbag2_metadata:
        return {}
    try:
        loaded = yaml.safe_load(scan.rosbag2_metadata)
    except yaml.YAMLError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _mcap_entries(scan: McapScan) -> tuple[FileEntry, list[TopicEntry], str]:
    stored = _serialized(scan)
    hashes = {}
    for item in stored.get('topics_with_message_count') or []:
        meta = item.get('topic_metadata') if isinstance(item, dict) else None
        if isinstance(meta, dict) and meta.get('type_description_hash'):
            hashes[(meta.get('name'), meta.get('type'))] = str(meta['type_description_hash'])
    topics = []
    for channel in scan.channels.values():
        digest = channel.metadata.get('topic_type_hash') or \
            hashes.get((channel.topic, channel.schema_name), '')
        topics.append(TopicEntry(channel.topic, channel.schema_name, channel.message_encoding,
                                 _qos_from_text(channel.metadata.get('offered_qos_profiles')),
                                 digest, scan.counts.get(channel.id, 0)))
    count = scan.message_count
    entry = FileEntry(scan.path.name, scan.start_ns if count else EMPTY_START_NS,
                      scan.end_ns - scan.start_ns if count else 0, count)
    return entry, topics, str(stored.get('ros_distro') or '')


def _sqlite_entries(path: Path) -> tuple[FileEntry, list[TopicEntry], str]:
    import sqlite3

    try:
        # read-write on purpose: SQLite rolls back a transaction a crash left in the journal
        db = sqlite3.connect(f'file:{path}?mode=rw', uri=True)
    except sqlite3.Error as exc:
        raise RosInputError(f'{path}: cannot open this sqlite3 bag: {exc}') from None
    try:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE "
                                               "type='table'")}
        if not {'topics', 'messages'} <= tables:
            raise RosInputError(f'{path}: not a rosbag2 sqlite3 file (no topics/messages '
                                'tables)')
        columns = {row[1] for row in db.execute('PRAGMA table_info(topics)')}
        qos_col = 'offered_qos_profiles' if 'offered_qos_profiles' in columns else "''"
        hash_col = 'type_description_hash' if 'type_description_hash' in columns else "''"
        rows = db.execute(f'SELECT id, name, type, serialization_format, {qos_col}, '  # noqa: S608
                          f'{hash_col} FROM topics ORDER BY id').fetchall()
        stats = {row[0]: row[1:] for row in db.execute(
            'SELECT topic_id, COUNT(*), MIN(timestamp), MAX(timestamp) FROM messages '
            'GROUP BY topic_id')}
        distro = ''
        if 'schema' in tables:
            found = db.execute('SELECT ros_distro FROM schema').fetchone()
            distro = str(found[0]) if found else ''
    except sqlite3.Error as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RosInputError(f'{path}: cannot read this sqlite3 bag: {reason}') from None
    finally:
        db.close()
    topics = [TopicEntry(str(name), str(typename), str(fmt or 'cdr'), _qos_from_text(qos),
                         str(digest or ''), int(stats.get(tid, (0,))[0]))
              for tid, name, typename, fmt, qos, digest in rows]
    counted = [v for v in stats.values() if v[0]]
    total = sum(int(v[0]) for v in counted)
    start = min((int(v[1]) for v in counted), default=EMPTY_START_NS)
    end = max((int(v[2]) for v in counted), default=start)
    return FileEntry(path.name, start, end - start if total else 0, total), topics, distro


def rebuild_metadata(folder: str | Path) -> Rebuilt:
    """The metadata of the bag in ``folder`` rebuilt from its storage files (nothing written).

    Raises:
        RosInputError: no storage files, files of two storages, or a file that is not a bag
            file at all (one line naming it).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise RosInputError(f"'{folder}' is not a folder")
    files = storage_files(folder)
    if not files:
        raise RosInputError(f"'{folder}' holds no bag storage file "
                            f"({', '.join('*' + s for s in STORAGE_SUFFIXES)})")
    kinds = {STORAGE_SUFFIXES[f.suffix] for f in files}
    if len(kinds) > 1:
        raise RosInputError(f"'{folder}' holds files of two storages "
                            f"({', '.join(f.name for f in files)}); keep one kind")
    storage = kinds.pop()
    entries: list[FileEntry] = []
    topics: dict[tuple[str, str, str], TopicEntry] = {}
    rebuilt = Rebuilt(folder, storage, {})
    distro = ''
    for path in files:
        if storage == 'mcap':
            scan = scan_mcap(path)
            rebuilt.scans[path] = scan
            entry, file_topics, file_distro = _mcap_entries(scan)
            report = FileReport(path, storage, entry.message_count, len(file_topics),
                                scan.cut_text(), scan.cut_bytes)
        else:
            entry, file_topics, file_distro = _sqlite_entries(path)
            report = FileReport(path, storage, entry.message_count, len(file_topics))
        distro = distro or file_distro
        entries.append(entry)
        rebuilt.files.append(report)
        for topic in file_topics:
            key = (topic.name, topic.type, topic.serialization_format)
            if key in topics:
                topics[key].message_count += topic.message_count
            else:
                topics[key] = topic
    if not distro:
        try:
            distro = str(bag_metadata(folder)[1].get('ros_distro') or '')
        except RosInputError:
            distro = ''
    rebuilt.information = bagfile_information(storage=storage, files=entries,
                                              topics=list(topics.values()),
                                              ros_distro=distro or ROS_DISTRO)
    return rebuilt


def _free_name(path: Path) -> Path:
    candidate = path.with_name(path.name + '.orig')
    index = 1
    while candidate.exists():
        candidate = path.with_name(f'{path.name}.orig.{index}')
        index += 1
    return candidate


def repair_mcap(scan: McapScan, *, keep_original: bool = True, fsync: bool = True,
                serialized_metadata: str | None = None) -> Path | None:
    """
    Rewrite a scanned MCAP file with every message the scan found, a summary and a footer
    (see the module docstring); returns where the original was kept (None when it was not).
    """
    path = scan.path
    tmp = path.with_name(f'.{path.name}{TMP_SUFFIX}')
    tmp.unlink(missing_ok=True)
    writer = McapWriter(tmp, max_chunk_interval_s=float('inf'), fsync=False,
                        library='ior_ros bag reindex')
    try:
        channel_ids: dict[int, int] = {}
        for channel in scan.channels.values():
            schema_id = writer.add_schema(channel.schema_name, channel.schema_encoding,
                                          channel.schema_data) if channel.schema_name else 0
            channel_ids[channel.id] = writer.add_channel(channel.topic, channel.message_encoding,
                                                         schema_id, channel.metadata)
        units: list[tuple[int, Any]] = [(c.offset, c) for c in scan.chunks]
        units += [(offset, (offset, length)) for _t, offset, length in scan.loose]
        for _offset, unit in sorted(units, key=lambda item: item[0]):
            if isinstance(unit, tuple):
                messages = [loose_message(path, *unit)]
            else:
                messages = chunk_messages(path, unit, scan.channels)
            for log_time, publish_time, channel_id, data in messages:
                writer.write(channel_ids[channel_id], log_time, data, publish_time)
        writer.close(serialized_metadata)
        if fsync:
            with tmp.open('rb') as handle:
                os.fsync(handle.fileno())
    except BaseException:
        writer.abort()
        tmp.unlink(missing_ok=True)
        raise
    kept = None
    if keep_original:
        kept = _free_name(path)
        try:
            os.link(path, kept)
        except OSError:  # no hard links here: a copy (the rename below is still atomic)
            shutil.copy2(path, kept)
    os.replace(tmp, path)
    if fsync:
        sync_folder(path.parent)
    return kept


def _count(number: int, noun: str) -> str:
    return f'{number} {noun}' if number == 1 else f'{number} {noun}s'


def _say(stream: IO[str], text: str) -> None:
    stream.write(f'[INFO] [ior_bag_reindex]: {text}\n')
    stream.flush()


def reindex(folder: str | Path, *, keep_original: bool = True, fsync: bool = True,
            out: IO[str] | None = None) -> Rebuilt:
    """Rebuild ``metadata.yaml`` and repair cut MCAP files (module docstring); prints one line
    per file and one for the metadata."""
    stream = out or sys.stdout
    folder = Path(folder)
    rebuilt = rebuild_metadata(folder)
    try:
        _rewrite(rebuilt, keep_original, fsync, stream)
    except OSError as exc:  # a read-only folder, a full disk: the files are as they were
        raise RosInputError(f"'{folder}': cannot write the reindexed bag "
                            f'({exc.strerror or exc})') from None
    return rebuilt


def _rewrite(rebuilt: Rebuilt, keep_original: bool, fsync: bool, stream: IO[str]) -> None:
    """Repair the MCAP files without a footer, then write metadata.yaml."""
    import yaml

    folder = rebuilt.folder
    inner = str(yaml.safe_dump(rebuilt.information, default_flow_style=False,
                               sort_keys=False)).strip()
    for report in rebuilt.files:
        scan = rebuilt.scans.get(report.path)
        text = f'{report.path}: {_count(report.messages, "message")} on ' \
            f'{_count(report.topics, "topic")}'
        if scan is not None and report.cut:
            text += f'; {report.cut}'
        _say(stream, text)
        if scan is not None and not scan.footer:
            report.original = repair_mcap(scan, keep_original=keep_original, fsync=fsync,
                                          serialized_metadata=inner)
            report.repaired = True
            kept = f'; the original is kept as {report.original}' if report.original else \
                '; the original was replaced'
            _say(stream, f'{report.path}: rewritten with a summary and footer '
                         f'({_count(report.messages, "message")}){kept}')
    for stale in folder.glob(f'.*{TMP_SUFFIX}'):  # what a killed writer left half-written
        stale.unlink(missing_ok=True)
    write_metadata(folder, rebuilt.information, fsync)
    info = rebuilt.information
    duration = int(info['duration']['nanoseconds'])
    _say(stream, f"wrote {folder / 'metadata.yaml'}: "
                 f"{_count(int(info['message_count']), 'message')}, "
                 f"{_count(len(info['topics_with_message_count']), 'topic')}, duration "
                 f'{duration / 1e9:.3f} s')


def metadata_or_rebuilt(bag: str | Path, warn: Callable[[str], None]
                        ) -> tuple[Path, dict[str, Any], bool]:
    """
    ``(folder, rosbag2_bagfile_information, scan)`` of a bag for info and play: its
    metadata.yaml, or, for an MCAP bag without one, the metadata rebuilt from its files
    (``scan`` True, and ``warn`` says so once). A sqlite3 bag without metadata.yaml is an error
    that says to run ``ior bag reindex``.
    """
    folder = Path(bag)
    if folder.is_dir() and not (folder / 'metadata.yaml').is_file():
        files = storage_files(folder)
        if files and all(f.suffix == '.mcap' for f in files):
            rebuilt = rebuild_metadata(folder)
            warn(f"'{folder}' has no metadata.yaml: read {', '.join(f.name for f in files)} "
                 f'directly (run `ior bag reindex {folder}` to write it)')
            return folder, rebuilt.information, True
    path, info = bag_metadata(folder)
    return path, info, False
