"""
Reading an MCAP file record by record, up to its last complete message, whatever follows.

rosbags' and rosbag2's readers start from the footer and the summary, so a file cut by a crash
(no summary, a partial last chunk) or with a garbage tail cannot be opened. :func:`scan_mcap`
walks the data section from the start instead (MCAP specification, https://mcap.dev/spec:
records are ``opcode u8, length u64, body``) and stops at the first record that is incomplete or
not valid: an unknown opcode, a chunk whose CRC32 does not match, a message on an undeclared
channel. From a chunk cut short it keeps the complete message records (an uncompressed chunk, as
ours and rosbag2's are, is read as far as it goes; a zstd or lz4 one only as far as its stream
decompresses, which is often nothing). The result says
where reading stopped and why, how many bytes followed, and where every chunk is, so that
:class:`ScannedMcapReader` can replay the messages (timestamp order, as rosbags does) and
``ior bag reindex`` can rewrite the file with a summary.
"""

from __future__ import annotations

import heapq
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ior_ros.runtime.bag_mcap_writer import MAGIC, Op
from ior_ros.runtime.errors import NameError_, RosInputError
from ior_ros.runtime.names import expand_topic_name

__all__ = ['McapChannel', 'McapChunk', 'McapScan', 'scan_mcap', 'mcap_has_footer',
           'chunk_messages', 'loose_message', 'ScannedMcapReader']

_TYPE_NAME = re.compile(r'[A-Za-z][A-Za-z0-9_]*/(msg|srv|action)/[A-Za-z][A-Za-z0-9_]*')
_KNOWN_OPS = frozenset(range(Op.HEADER, Op.DATA_END + 1))
_COMPRESSIONS = ('', 'zstd', 'lz4')
_FOOTER_LENGTH = 9 + 20 + len(MAGIC)  # footer record + closing magic


class _Bad(Exception):
    """A record that does not parse (internal: becomes the scan's ``problem``)."""


class _Body:
    """A cursor over a record body; every read past its end raises :class:`_Bad`."""

    def __init__(self, data: bytes | memoryview) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def take(self, size: int) -> memoryview:
        if size < 0 or self.pos + size > len(self.data):
            raise _Bad('record shorter than its fields')
        out = self.data[self.pos:self.pos + size]
        self.pos += size
        return out

    def u16(self) -> int:
        return int(struct.unpack('<H', self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack('<I', self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack('<Q', self.take(8))[0])

    def string(self) -> str:
        try:
            return bytes(self.take(self.u32())).decode()
        except UnicodeDecodeError:
            raise _Bad('string is not UTF-8') from None

    def string_map(self) -> dict[str, str]:
        inner = _Body(self.take(self.u32()))
        out: dict[str, str] = {}
        while inner.pos < len(inner.data):
            key = inner.string()
            out[key] = inner.string()
        return out


@dataclass
class McapChannel:
    """A Channel record (with its schema's name, encoding and definition text)."""

    id: int
    topic: str
    message_encoding: str
    metadata: dict[str, str]
    schema_name: str
    schema_encoding: str
    schema_data: str


@dataclass
class McapChunk:
    """Where a chunk is, its time range and message count; ``partial``: the file ends inside
    it (its complete messages were read from the bytes there)."""

    offset: int
    length: int
    start_ns: int
    end_ns: int
    count: int
    partial: bool = False


@dataclass
class McapScan:
    """What :func:`scan_mcap` found (``channels`` keyed by channel id)."""

    path: Path
    size: int
    library: str = ''
    channels: dict[int, McapChannel] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=dict)
    message_count: int = 0
    start_ns: int = 0
    end_ns: int = 0
    chunks: list[McapChunk] = field(default_factory=list)
    loose: list[tuple[int, int, int]] = field(default_factory=list)  # (log time, offset, length)
    data_complete: bool = False  # DataEnd (or the footer) was reached: no message was cut
    footer: bool = False  # the footer and closing magic are intact (readers can use the summary)
    good_end: int = 0  # offset after the last byte read as a complete record (or message)
    problem: str = ''  # why reading stopped before DataEnd ('' when it did not)
    salvaged: int = 0  # complete messages read from a chunk the file ends inside
    rosbag2_metadata: str = ''  # serialized_metadata of the rosbag2 Metadata record, if any

    @property
    def cut_bytes(self) -> int:
        """Bytes after the last complete message that could not be read (0 when the data
        section is complete)."""
        return 0 if self.data_complete else self.size - self.good_end

    def cut_text(self) -> str:
        """One phrase on what was cut ('' for an intact file)."""
        if self.footer:
            return ''
        if self.data_complete:
            return (f'the summary at its end is cut or damaged (every one of its '
                    f'{self.message_count} messages is intact)')
        salvaged = f' ({self.salvaged} of them from a chunk cut short)' if self.salvaged else ''
        if not self.cut_bytes:
            return (f'read {self.message_count} messages{salvaged}; the file ends after a '
                    'complete record, without summary or footer (the recording was not closed)')
        return (f'read {self.message_count} messages{salvaged} up to byte {self.good_end} of '
                f'{self.size}; the {self.cut_bytes} bytes after the last complete message were '
                f'cut ({self.problem})')


def mcap_has_footer(path: Path) -> bool:
    """Whether the file ends with an MCAP footer and magic (what summary readers need)."""
    try:
        size = path.stat().st_size
        if size < len(MAGIC) + _FOOTER_LENGTH:
            return False
        with path.open('rb') as handle:
            start = handle.read(len(MAGIC))
            handle.seek(size - _FOOTER_LENGTH)
            tail = handle.read(_FOOTER_LENGTH)
    except OSError:
        return False
    if start != MAGIC or tail[-len(MAGIC):] != MAGIC:
        return False
    op, length = struct.unpack_from('<BQ', tail)
    summary_start, summary_offset_start = struct.unpack_from('<QQ', tail, 9)
    footer_at = size - _FOOTER_LENGTH
    return op == Op.FOOTER and length == 20 and summary_start <= footer_at and \
        summary_offset_start <= footer_at


def _decompress(compression: str, data: bytes, complete: bool) -> bytes:
    """Decompress a chunk's records; for a cut chunk, as much as the stream gives."""
    if compression == '':
        return data
    if compression == 'zstd':
        try:
            from compression import zstd  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            from backports import zstd  # type: ignore[no-redef, import-not-found, unused-ignore]
        decompressor: Any = zstd.ZstdDecompressor()
        errors: tuple[type[BaseException], ...] = (zstd.ZstdError,)
    else:
        import lz4.frame  # type: ignore[import-untyped]

        decompressor = lz4.frame.LZ4FrameDecompressor()
        errors = (RuntimeError,)
    try:
        return bytes(decompressor.decompress(data))
    except errors:
        if complete:
            raise _Bad(f'{compression} data does not decompress') from None
        return b''


def _parse_schema(body: _Body) -> tuple[int, str, str, str]:
    schema_id = body.u16()
    name = body.string()
    encoding = body.string()
    raw = bytes(body.take(body.u32()))
    return schema_id, name, encoding, raw.decode(errors='replace')


class _Scanner:
    """State of one scan: schemas and channels seen so far, and the message tally."""

    def __init__(self, scan: McapScan) -> None:
        self.scan = scan
        self.schemas: dict[int, tuple[str, str, str]] = {}

    def schema(self, body: _Body) -> None:
        schema_id, name, encoding, data = _parse_schema(body)
        if schema_id == 0:
            raise _Bad('schema id 0')
        if not _TYPE_NAME.fullmatch(name):
            raise _Bad(f'schema {schema_id} names the type {name!r}, not a ROS type name')
        self.schemas[schema_id] = (name, encoding, data)

    def channel(self, body: _Body) -> None:
        channel_id = body.u16()
        schema_id = body.u16()
        topic = body.string()
        encoding = body.string()
        metadata = body.string_map()
        if schema_id and schema_id not in self.schemas:
            raise _Bad(f'channel {channel_id} names schema {schema_id}, not declared before it')
        # a channel is not inside a checksummed chunk: garbage after the last chunk can parse
        # as one, so it must look like what a ROS 2 recorder writes (a topic a DDS reader could
        # have had, a message encoding)
        try:
            valid_topic = expand_topic_name(topic, 'bag', '/') == topic
        except NameError_:
            valid_topic = False
        if not valid_topic:
            raise _Bad(f'channel {channel_id} has the topic {topic!r}, not a ROS topic name')
        if not encoding or not encoding.isprintable():
            raise _Bad(f'channel {channel_id} has the message encoding {encoding!r}')
        name, schema_encoding, data = self.schemas.get(schema_id, ('', '', ''))
        self.scan.channels.setdefault(channel_id, McapChannel(
            channel_id, topic, encoding, metadata, name, schema_encoding, data))
        self.scan.counts.setdefault(channel_id, 0)

    def message(self, channel_id: int, log_time: int) -> None:
        if channel_id not in self.scan.channels:
            raise _Bad(f'message on channel {channel_id}, not declared before it')
        scan = self.scan
        scan.counts[channel_id] += 1
        if scan.message_count == 0:
            scan.start_ns = scan.end_ns = log_time
        scan.message_count += 1
        scan.start_ns = min(scan.start_ns, log_time)
        scan.end_ns = max(scan.end_ns, log_time)


def _chunk_records(body: memoryview, complete: bool
                   ) -> tuple[int, int, str, bytes, bool, int]:
    """(start, end, compression, records, whole, records offset in the body) of a Chunk
    body; ``whole`` is False when the file ends inside it. Raises _Bad when its header is not
    valid."""
    head = _Body(body)
    start, end, size, crc = head.u64(), head.u64(), head.u64(), head.u32()
    compression = head.string()
    if compression not in _COMPRESSIONS:
        raise _Bad(f'chunk compression {compression!r} unknown')
    length = head.u64()
    if start > end:
        raise _Bad('chunk ends before it starts')
    available = len(body) - head.pos
    if complete and available != length:
        raise _Bad('chunk length does not match its record')
    raw = bytes(body[head.pos:head.pos + min(length, available)])
    whole = complete and available >= length
    records = _decompress(compression, raw, whole)
    if whole:
        if len(records) != size:
            raise _Bad('chunk size does not match its header')
        if crc and zlib.crc32(records) != crc:
            raise _Bad('chunk CRC32 does not match')
    return start, end, compression, records, whole, head.pos


def _complete_prefix(records: bytes) -> int:
    """The length of the run of complete records at the start of a cut chunk's records."""
    pos = 0
    while len(records) - pos >= 9:
        end = pos + 9 + int(struct.unpack_from('<Q', records, pos + 1)[0])
        if end > len(records):
            break
        pos = end
    return pos


def _walk_chunk(records: bytes, whole: bool, scanner: _Scanner | None,
                known: dict[int, Any] | None = None
                ) -> Iterator[tuple[int, int, int, memoryview]]:
    """Yield ``(log_time, publish_time, channel_id, data)`` of the message records in a
    chunk's records
    (declaring its schemas/channels to ``scanner``). A cut chunk ends at its last complete
    record; a whole one must parse to its end (else _Bad)."""
    view = memoryview(records)
    pos = 0
    while pos < len(view):
        if len(view) - pos < 9:
            if whole:
                raise _Bad('chunk ends inside a record header')
            return
        op, length = struct.unpack_from('<BQ', view, pos)
        end = pos + 9 + length
        if end > len(view):
            if whole:
                raise _Bad('chunk record longer than the chunk')
            return
        body = _Body(view[pos + 9:end])
        if op == Op.MESSAGE:
            channel_id, _sequence, log_time, publish_time = struct.unpack(
                '<HIQQ', body.take(22))
            if scanner is not None:
                scanner.message(channel_id, log_time)
            elif known is not None and channel_id not in known:
                raise _Bad(f'message on channel {channel_id}, not declared before it')
            yield log_time, publish_time, channel_id, view[pos + 9 + 22:end]
        elif op == Op.SCHEMA and scanner is not None:
            scanner.schema(body)
        elif op == Op.CHANNEL and scanner is not None:
            scanner.channel(body)
        elif op not in (Op.SCHEMA, Op.CHANNEL):
            raise _Bad(f'record 0x{op:02x} inside a chunk')
        pos = end


def scan_mcap(path: str | Path) -> McapScan:
    """
    Scan an MCAP file from its start (see the module docstring).

    Raises:
        RosInputError: the file cannot be read, is empty or does not start with the MCAP magic
            and a Header record (one line naming the file).
    """
    path = Path(path)
    try:
        with path.open('rb') as handle:
            size = path.stat().st_size
            return _scan(path, handle, size)
    except OSError as exc:
        raise RosInputError(f'{path}: cannot read it ({exc.strerror or exc})') from None


def _scan(path: Path, handle: Any, size: int) -> McapScan:
    scan = McapScan(path, size)
    start = handle.read(len(MAGIC))
    if not start:
        raise RosInputError(f'{path}: the file is empty (0 bytes): nothing was recorded in it')
    if start != MAGIC:
        raise RosInputError(f'{path}: not an MCAP file (it starts with {bytes(start[:8])!r}, '
                            f'not the MCAP magic)')
    scanner = _Scanner(scan)
    pos = scan.good_end = len(MAGIC)
    first = True
    while True:
        if pos == size:
            scan.problem = 'the file ends after a complete record: the recording was not closed'
            break
        head = handle.read(9)
        if len(head) < 9:
            scan.problem = 'the file ends inside a record header'
            break
        op, length = struct.unpack('<BQ', head)
        if op not in _KNOWN_OPS or (first and op != Op.HEADER):
            scan.problem = f'byte {pos} is not the start of an MCAP record (opcode 0x{op:02x})'
            break
        complete = length <= size - pos - 9
        if not complete and op != Op.CHUNK:
            scan.problem = f'the file ends inside a record (opcode 0x{op:02x} at byte {pos})'
            break
        body = memoryview(handle.read(min(length, size - pos - 9)))
        try:
            if _record(scanner, op, body, pos, complete):
                scan.data_complete = True
                scan.good_end = pos + 9 + length
                break
        except _Bad as exc:
            scan.problem = f'record at byte {pos}: {exc}' if complete else \
                f'the file ends inside the chunk at byte {pos}'
            break
        if not complete:
            scan.problem = f'the file ends inside the chunk at byte {pos}'
            break
        first = False
        pos += 9 + length
        scan.good_end = pos
    if scan.data_complete:
        scan.footer = mcap_has_footer(path)
    return scan


def _record(scanner: _Scanner, op: int, data: memoryview, pos: int, complete: bool) -> bool:
    """Take in one top-level record; True at DataEnd/Footer (the data section is complete)."""
    scan = scanner.scan
    body = _Body(data)
    if op == Op.HEADER:
        body.string()
        scan.library = body.string()
    elif op == Op.SCHEMA:
        scanner.schema(body)
    elif op == Op.CHANNEL:
        scanner.channel(body)
    elif op == Op.MESSAGE:
        channel_id, _sequence, log_time, _publish = struct.unpack('<HIQQ', body.take(22))
        scanner.message(channel_id, log_time)
        scan.loose.append((log_time, pos, 9 + len(data)))
    elif op == Op.CHUNK:
        before = scan.message_count
        start, end, compression, records, whole, at = _chunk_records(data, complete)
        counts = dict(scan.counts)
        try:
            good = 0
            for _message in _walk_chunk(records, whole, scanner):
                good += 1
        except _Bad:
            scan.counts.update(counts)  # the chunk is damaged: none of it counts
            scan.message_count = before
            raise
        if good:
            scan.chunks.append(McapChunk(pos, 9 + len(data), start, end, good, not whole))
        if not whole:
            scan.salvaged = good
            if good and compression == '':  # else the cut is counted from the chunk's start
                scan.good_end = pos + 9 + at + _complete_prefix(records)
    elif op == Op.METADATA:
        name = body.string()
        items = body.string_map()
        if name == 'rosbag2':
            scan.rosbag2_metadata = items.get('serialized_metadata', '')
    elif op in (Op.DATA_END, Op.FOOTER):
        return True
    return False


def chunk_messages(path: Path, chunk: McapChunk, channels: dict[int, Any]
                   ) -> list[tuple[int, int, int, bytes]]:
    """The messages of a scanned chunk as ``(log_time, publish_time, channel_id, data)``, in
    time order (stable)."""
    with path.open('rb') as handle:
        handle.seek(chunk.offset + 9)
        data = memoryview(handle.read(chunk.length - 9))
    try:
        _s, _e, _c, records, whole, _at = _chunk_records(data, not chunk.partial)
        out = [(t, p, c, bytes(d)) for t, p, c, d in _walk_chunk(records, whole, None,
                                                                  channels)]
    except _Bad as exc:
        raise RosInputError(f'{path}: the chunk at byte {chunk.offset} changed since it was '
                            f'scanned ({exc})') from None
    out.sort(key=lambda item: item[0])
    return out


def loose_message(path: Path, offset: int, length: int) -> tuple[int, int, int, bytes]:
    """A Message record outside chunks, found by the scan at ``offset``: ``(log_time,
    publish_time, channel_id, data)``."""
    with path.open('rb') as handle:
        handle.seek(offset + 9)
        raw = handle.read(length - 9)
    channel_id, _sequence, log_time, publish_time = struct.unpack_from('<HIQQ', raw)
    return int(log_time), int(publish_time), int(channel_id), raw[22:]


class ScannedMcapReader:
    """
    The part of rosbags' ``Reader`` that ``ior bag info``/``play`` use, over scanned MCAP files
    (one bag, one or more files): ``connections``, ``message_count``, ``start_time``,
    ``duration``, ``messages(connections=...)`` in timestamp order.

    Channels of several files with the same topic, type and encoding are one connection.
    """

    def __init__(self, scans: list[McapScan]) -> None:
        from rosbags.interfaces import (
            Connection,
            ConnectionExtRosbag2,
            MessageDefinition,
            MessageDefinitionFormat,
        )
        from rosbags.rosbag2.metadata import parse_qos

        formats = {'ros2msg': MessageDefinitionFormat.MSG, 'ros2idl': MessageDefinitionFormat.IDL,
                   'omgidl': MessageDefinitionFormat.IDL}
        self.scans = scans
        self._by_key: dict[tuple[str, str, str], Any] = {}
        self._map: list[dict[int, Any]] = []  # per file: channel id → connection
        counts: dict[tuple[str, str, str], int] = {}
        for scan in scans:
            mapping: dict[int, Any] = {}
            for channel in scan.channels.values():
                key = (channel.topic, channel.schema_name, channel.message_encoding)
                counts[key] = counts.get(key, 0) + scan.counts.get(channel.id, 0)
                if key not in self._by_key:
                    try:
                        qos = parse_qos(channel.metadata.get('offered_qos_profiles', '') or [])
                    except Exception:  # noqa: BLE001 - a damaged QoS string: no recorded QoS
                        qos = []
                    fmt = formats.get(channel.schema_encoding, MessageDefinitionFormat.NONE)
                    self._by_key[key] = Connection(
                        len(self._by_key) + 1, channel.topic, channel.schema_name,
                        MessageDefinition(fmt, channel.schema_data if fmt !=
                                          MessageDefinitionFormat.NONE else ''),
                        channel.metadata.get('topic_type_hash', ''), 0,
                        ConnectionExtRosbag2(channel.message_encoding, qos), self)
                mapping[channel.id] = self._by_key[key]
            self._map.append(mapping)
        self.connections = [c._replace(msgcount=counts[k]) for k, c in self._by_key.items()]
        by_id = {c.id: c for c in self.connections}
        self._map = [{cid: by_id[c.id] for cid, c in m.items()} for m in self._map]
        with_messages = [s for s in scans if s.message_count]
        self.message_count = sum(s.message_count for s in scans)
        self.start_time = min((s.start_ns for s in with_messages), default=2**63 - 1)
        end = max((s.end_ns for s in with_messages), default=0)
        self.duration = end - self.start_time + 1 if with_messages else 0

    def messages(self, connections: list[Any] | None = None
                 ) -> Iterator[tuple[Any, int, bytes]]:
        """``(connection, timestamp, data)`` of every message, in timestamp order."""
        wanted = None if connections is None else {c.id for c in connections}
        sources: list[Iterator[tuple[int, int, int, Any, bytes]]] = []
        order = 0
        for scan, mapping in zip(self.scans, self._map, strict=True):
            for chunk in scan.chunks:
                sources.append(self._chunk_source(scan.path, chunk, mapping, order))
                order += 1
            if scan.loose:
                sources.append(self._loose_source(scan, mapping, order))
                order += 1
        for _stamp, _order, _index, conn, data in heapq.merge(*sources):
            if conn is not None and (wanted is None or conn.id in wanted):
                yield conn, _stamp, data

    @staticmethod
    def _chunk_source(path: Path, chunk: McapChunk, mapping: dict[int, Any], order: int
                      ) -> Iterator[tuple[int, int, int, Any, bytes]]:
        # a first item at the chunk's start time, so heapq.merge reads a chunk only when its
        # time comes (one chunk in memory at a time, as rosbags' reader does)
        yield chunk.start_ns, order, -1, None, b''
        for index, (stamp, _publish, channel_id, data) in enumerate(
                chunk_messages(path, chunk, mapping)):
            yield stamp, order, index, mapping[channel_id], data

    @staticmethod
    def _loose_source(scan: McapScan, mapping: dict[int, Any], order: int
                      ) -> Iterator[tuple[int, int, int, Any, bytes]]:
        for index, (_stamp, offset, length) in enumerate(sorted(scan.loose)):
            stamp, _publish, channel_id, data = loose_message(scan.path, offset, length)
            yield stamp, order, index, mapping.get(channel_id), data

    def close(self) -> None:
        """Nothing to release (files are opened per chunk)."""
