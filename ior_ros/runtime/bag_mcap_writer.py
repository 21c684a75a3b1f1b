"""
A crash-consistent MCAP writer: the file on disk is a readable MCAP prefix at every moment.

The layout follows the MCAP specification (https://mcap.dev/spec, format version 0; profile
``ros2`` as rosbag2_storage_mcap writes it):

* at open: the magic and a Header record, written and flushed at once;
* when a topic appears: its Schema (once per type) and Channel records, outside any chunk,
  written and flushed at once (so a bag cut before its first message still names its topics);
* messages collect in an uncompressed Chunk (with the CRC32 of its records) that is closed and
  written with one ``write`` when its oldest message is ``max_chunk_interval_s`` old or it holds
  ``max_chunk_bytes``; its MessageIndex records follow it;
* at close: a Metadata record ``rosbag2`` (``serialized_metadata``, as rosbag2 writes), DataEnd
  (with the CRC32 of the data section), the summary (Schemas, Channels, Statistics, ChunkIndexes,
  MetadataIndex), SummaryOffsets, the Footer and the closing magic.

Nothing already written is ever rewritten, so a process killed at any moment (SIGKILL, power
loss) leaves every closed chunk intact; :mod:`~ior_ros.runtime.bag_mcap_scan` reads such a file up
to its last complete record and ``ior bag reindex`` rewrites it with a summary.

Why a writer of our own: rosbags' MCAP writer closes a chunk only when it holds 1 MiB and writes
the summary on close (a killed recorder left a 0-byte file: its buffered file object was never
flushed), and the mcap library's ``Writer.flush()`` closes a chunk but keeps Schema and Channel
records inside chunks, so a topic is on disk only once a message of it is.

fsync policy (``fsync=True``, the default): the file is fsynced after the header, after each
Schema/Channel group and after each chunk, so a power cut loses at most the chunk being filled
(at most ``max_chunk_interval_s`` of data). With ``fsync=False`` the kernel's page cache decides,
which is enough against a killed process but not against a power cut.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ['MAGIC', 'Op', 'McapWriter', 'encode_string', 'encode_map']

MAGIC = b'\x89MCAP0\r\n'


class Op:
    """MCAP record opcodes (specification, "Records")."""

    HEADER = 0x01
    FOOTER = 0x02
    SCHEMA = 0x03
    CHANNEL = 0x04
    MESSAGE = 0x05
    CHUNK = 0x06
    MESSAGE_INDEX = 0x07
    CHUNK_INDEX = 0x08
    ATTACHMENT = 0x09
    ATTACHMENT_INDEX = 0x0A
    STATISTICS = 0x0B
    METADATA = 0x0C
    METADATA_INDEX = 0x0D
    SUMMARY_OFFSET = 0x0E
    DATA_END = 0x0F


_RECORD_HEAD = struct.Struct('<BQ')  # opcode, body length
# a Message record's head: opcode, length, channel id, sequence, log time, publish time
_MESSAGE_HEAD = struct.Struct('<BQHIQQ')
_MESSAGE_FIXED = _MESSAGE_HEAD.size - _RECORD_HEAD.size  # 22 bytes before the payload


def encode_string(text: str) -> bytes:
    """An MCAP ``String``: uint32 byte length, then UTF-8."""
    data = text.encode()
    return struct.pack('<I', len(data)) + data


def encode_map(items: dict[str, str]) -> bytes:
    """An MCAP ``Map<String, String>``: uint32 byte length, then key/value strings."""
    body = b''.join(encode_string(k) + encode_string(v) for k, v in items.items())
    return struct.pack('<I', len(body)) + body


def _record(op: int, body: bytes) -> bytes:
    return _RECORD_HEAD.pack(op, len(body)) + body


@dataclass
class _Chunk:
    """The chunk being filled: its records, time range and per-channel message index."""

    parts: list[bytes] = field(default_factory=list)
    size: int = 0
    start_ns: int = 0
    end_ns: int = 0
    opened_at: float = 0.0  # monotonic time of its first message
    index: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # channel → (t, offset)


class McapWriter:
    """
    Append-only MCAP writer for one rosbag2 storage file (see the module docstring).

    ``write`` only buffers; :meth:`flush_if_due` (called by the recorder's loop) and
    :meth:`flush` write the chunk. ``flushed_counts`` (per channel), ``flushed_message_count``,
    ``flushed_start_ns`` and ``flushed_end_ns`` describe what is on disk (what a crash would
    keep), for ``metadata.yaml``.
    """

    def __init__(self, path: Path, *, max_chunk_interval_s: float = 0.5,
                 max_chunk_bytes: int = 1 << 20, fsync: bool = True,
                 library: str = 'ior_ros bag_mcap_writer',
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self.max_chunk_interval_s = max_chunk_interval_s
        self.max_chunk_bytes = max_chunk_bytes
        self.fsync = fsync
        self._clock = clock
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self._offset = 0
        self._data_crc = 0
        self._schemas: dict[int, bytes] = {}  # id → Schema record
        self._channels: dict[int, bytes] = {}  # id → Channel record
        self._schema_ids: dict[tuple[str, str, str], int] = {}
        self._sequence: dict[int, int] = {}
        self._chunk = _Chunk()
        self._chunk_indexes: list[bytes] = []
        self.counts: dict[int, int] = {}  # messages per channel, buffered ones included
        self.flushed_counts: dict[int, int] = {}
        self.message_count = 0
        self.flushed_message_count = 0
        self.flushed_start_ns = 0
        self.flushed_end_ns = 0
        self._pending_start_ns = 0  # the time range of every message, buffered ones included
        self._pending_end_ns = 0
        self._write_data(MAGIC + _record(Op.HEADER, encode_string('ros2') +
                                         encode_string(library)))
        self._sync()

    # ------------------------------------------------------------------------- output
    def _write_raw(self, data: bytes) -> None:
        if self._fd is None:
            raise ValueError(f'{self.path}: the MCAP writer is closed')
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._offset += len(data)

    def _write_data(self, data: bytes) -> None:
        """Write bytes of the data section (they count in DataEnd's CRC)."""
        self._data_crc = zlib.crc32(data, self._data_crc)
        self._write_raw(data)

    def _sync(self) -> None:
        if self.fsync and self._fd is not None:
            os.fsync(self._fd)

    # ------------------------------------------------------------------------- topics
    def add_schema(self, name: str, encoding: str, data: str) -> int:
        """The id of the schema (written now, once per name/encoding/definition)."""
        key = (name, encoding, data)
        found = self._schema_ids.get(key)
        if found is not None:
            return found
        schema_id = len(self._schemas) + 1
        body = struct.pack('<H', schema_id) + encode_string(name) + encode_string(encoding)
        raw = data.encode()
        record = _record(Op.SCHEMA, body + struct.pack('<I', len(raw)) + raw)
        self._schemas[schema_id] = record
        self._schema_ids[key] = schema_id
        self._write_data(record)
        self._sync()
        return schema_id

    def add_channel(self, topic: str, message_encoding: str, schema_id: int,
                    metadata: dict[str, str]) -> int:
        """The id of a new channel (its record written and synced now)."""
        channel_id = len(self._channels) + 1
        body = struct.pack('<HH', channel_id, schema_id) + encode_string(topic) + \
            encode_string(message_encoding) + encode_map(metadata)
        record = _record(Op.CHANNEL, body)
        self._channels[channel_id] = record
        self.counts[channel_id] = 0
        self.flushed_counts[channel_id] = 0
        self._sequence[channel_id] = 0
        self._write_data(record)
        self._sync()
        return channel_id

    # ------------------------------------------------------------------------- messages
    def write(self, channel_id: int, log_time_ns: int, data: bytes | bytearray | memoryview,
              publish_time_ns: int | None = None) -> None:
        """Buffer one message into the open chunk (closed here when it is full)."""
        if channel_id not in self._channels:
            raise ValueError(f'{self.path}: channel {channel_id} was not added')
        chunk = self._chunk
        if not chunk.parts:
            chunk.opened_at = self._clock()
            chunk.start_ns = chunk.end_ns = log_time_ns
        chunk.start_ns = min(chunk.start_ns, log_time_ns)
        chunk.end_ns = max(chunk.end_ns, log_time_ns)
        sequence = self._sequence[channel_id] = (self._sequence[channel_id] + 1) & 0xFFFFFFFF
        payload = bytes(data)
        head = _MESSAGE_HEAD.pack(Op.MESSAGE, _MESSAGE_FIXED + len(payload), channel_id,
                                  sequence, log_time_ns,
                                  log_time_ns if publish_time_ns is None else publish_time_ns)
        chunk.index.setdefault(channel_id, []).append((log_time_ns, chunk.size))
        chunk.parts.append(head)
        chunk.parts.append(payload)
        chunk.size += len(head) + len(payload)
        self.counts[channel_id] += 1
        self.message_count += 1
        if self.message_count == 1:
            self._pending_start_ns = self._pending_end_ns = log_time_ns
        self._pending_start_ns = min(self._pending_start_ns, log_time_ns)
        self._pending_end_ns = max(self._pending_end_ns, log_time_ns)
        if chunk.size >= self.max_chunk_bytes:
            self.flush()

    def flush_if_due(self, now: float | None = None) -> bool:
        """Close and write the chunk when its oldest message waited ``max_chunk_interval_s``;
        True when a chunk was written."""
        chunk = self._chunk
        if not chunk.parts:
            return False
        if (self._clock() if now is None else now) - chunk.opened_at < self.max_chunk_interval_s:
            return False
        self.flush()
        return True

    def flush(self) -> None:
        """Close the open chunk (if it holds messages), write it with its message indexes,
        and fsync (per the policy)."""
        chunk = self._chunk
        if not chunk.parts:
            return
        records = b''.join(chunk.parts)
        body = struct.pack('<QQQI', chunk.start_ns, chunk.end_ns, len(records),
                           zlib.crc32(records)) + encode_string('') + \
            struct.pack('<Q', len(records)) + records
        chunk_record = _record(Op.CHUNK, body)
        chunk_start = self._offset
        index_start = chunk_start + len(chunk_record)
        index_records: list[bytes] = []
        offsets: dict[int, int] = {}
        position = index_start
        for channel_id, entries in chunk.index.items():
            packed = b''.join(struct.pack('<QQ', t, o) for t, o in entries)
            record = _record(Op.MESSAGE_INDEX, struct.pack('<HI', channel_id, len(packed)) +
                             packed)
            offsets[channel_id] = position
            position += len(record)
            index_records.append(record)
        index_bytes = b''.join(index_records)
        self._write_data(chunk_record + index_bytes)
        self._sync()
        offset_map = b''.join(struct.pack('<HQ', c, o) for c, o in offsets.items())
        self._chunk_indexes.append(_record(Op.CHUNK_INDEX, struct.pack(
            '<QQQQ', chunk.start_ns, chunk.end_ns, chunk_start, len(chunk_record)) +
            struct.pack('<I', len(offset_map)) + offset_map + struct.pack('<Q', len(index_bytes))
            + encode_string('') + struct.pack('<QQ', len(records), len(records))))
        if not self.flushed_message_count:
            self.flushed_start_ns = chunk.start_ns
        for channel_id, entries in chunk.index.items():
            self.flushed_counts[channel_id] += len(entries)
            self.flushed_message_count += len(entries)
        self.flushed_start_ns = min(self.flushed_start_ns, chunk.start_ns)
        self.flushed_end_ns = max(self.flushed_end_ns, chunk.end_ns)
        self._chunk = _Chunk()

    # ------------------------------------------------------------------------- closing
    def close(self, serialized_metadata: str | None = None) -> None:
        """Write the last chunk, the ``rosbag2`` metadata record, DataEnd, the summary and the
        footer; then close the file (fsynced per the policy)."""
        if self._fd is None:
            return
        self.flush()
        metadata_index = b''
        if serialized_metadata is not None:
            record = _record(Op.METADATA, encode_string('rosbag2') + encode_map(
                {'serialized_metadata': serialized_metadata}))
            metadata_index = _record(Op.METADATA_INDEX, struct.pack(
                '<QQ', self._offset, len(record)) + encode_string('rosbag2'))
            self._write_data(record)
        self._write_raw(_record(Op.DATA_END, struct.pack('<I', self._data_crc)))

        summary_start = self._offset
        groups: list[tuple[int, bytes]] = [
            (Op.SCHEMA, b''.join(self._schemas.values())),
            (Op.CHANNEL, b''.join(self._channels.values())),
            (Op.STATISTICS, self._statistics(1 if metadata_index else 0)),
            (Op.CHUNK_INDEX, b''.join(self._chunk_indexes)),
            (Op.METADATA_INDEX, metadata_index)]
        summary = b''
        offsets = b''
        for op, data in groups:
            if data:
                offsets += _record(Op.SUMMARY_OFFSET, struct.pack(
                    '<BQQ', op, summary_start + len(summary), len(data)))
                summary += data
        summary_offset_start = summary_start + len(summary)
        footer_head = _RECORD_HEAD.pack(Op.FOOTER, 20) + struct.pack(
            '<QQ', summary_start, summary_offset_start)
        crc = zlib.crc32(summary + offsets + footer_head)
        self._write_raw(summary + offsets + footer_head + struct.pack('<I', crc) + MAGIC)
        self._sync()
        os.close(self._fd)
        self._fd = None

    def _statistics(self, metadata_count: int) -> bytes:
        total = self.message_count
        counts = b''.join(struct.pack('<HQ', c, n) for c, n in sorted(self.counts.items()))
        return _record(Op.STATISTICS, struct.pack(
            '<QHIIIIQQ', total, len(self._schemas), len(self._channels), 0, metadata_count,
            len(self._chunk_indexes), self._pending_start_ns if total else 0,
            self._pending_end_ns if total else 0) + struct.pack('<I', len(counts)) + counts)

    def abort(self) -> None:
        """Close the file as it is (no summary): what a crash leaves, minus the open chunk."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @property
    def closed(self) -> bool:
        """Whether the file was closed."""
        return self._fd is None

    @property
    def buffered_messages(self) -> int:
        """Messages in the open chunk (not on disk yet)."""
        return sum(len(v) for v in self._chunk.index.values())
