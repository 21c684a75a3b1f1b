"""
``ros2 bag info`` on the DDS runtime: the summary ``ros2 bag info`` prints (bag size of the whole
folder, ROS distro, the recorded duration, a ``Compression:`` line for compressed bags), for bags
of either storage.

An MCAP bag cut by a crash (no footer, a partial or garbage tail) is summarized from what can be
read, up to its last complete message, and one line on ``err`` says what was cut; an MCAP bag
without metadata.yaml is read from its files, and one line says so.
"""

from __future__ import annotations

import datetime
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ior_ros.runtime.bag_storage import BagReader

__all__ = ['info', 'BagSummary']


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


def info(bag: str | Path, out: IO[str] | None = None, err: IO[str] | None = None
         ) -> BagSummary:
    """Summarize a bag (and print it like ``ros2 bag info``); notes on a damaged bag go to
    ``err`` (default stderr), one line each."""
    from ior_ros.runtime.bag_reindex import metadata_or_rebuilt

    errors = err or sys.stderr

    def note(text: str) -> None:
        errors.write(f'[WARN] [ior_bag_info]: {text}\n')
        errors.flush()

    path, meta, scan = metadata_or_rebuilt(bag, note)
    files = [str(f) for f in meta.get('relative_file_paths') or []]
    size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())  # as rosbag2 counts
    storage = str(meta.get('storage_identifier', '?'))
    bag_reader = BagReader(path, meta, scan=scan)
    with bag_reader as reader:
        for damage in bag_reader.damage:
            note(f'{damage} (`ior bag reindex {path}` repairs it)')
        topics = sorted((c.topic, c.msgtype, c.msgcount,
                         getattr(c.ext, 'serialization_format', 'cdr'))
                        for c in reader.connections)
        count = reader.message_count
        # the recorded values (rosbags adds 1 ns to its duration and end); for a scanned bag
        # what its files hold (metadata.yaml may be older than the data)
        duration, start = max(0, reader.duration - 1), reader.start_time
        if not bag_reader.scanned:
            try:
                duration = int(meta['duration']['nanoseconds']) if count else 0
                start = int(meta['starting_time']['nanoseconds_since_epoch'])
            except (KeyError, TypeError, ValueError):
                pass
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
