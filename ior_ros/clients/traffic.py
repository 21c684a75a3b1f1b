"""
A measured UDP sender and receiver (what iperf3 would do, here with per-slice probes), for the tc
slices' tests and the seed 000 Fig. 2b reproduction.

Every datagram starts with a 20-byte header (network byte order)::

    magic b'IORT' | version 1 (u8) | kind (u8: 0 data, 1 probe) | slice (u16) | seq (u32)
    | sent (u64: CLOCK_MONOTONIC ns)

The sender paces data datagrams to a rate schedule (``(offset_s, rate_bps)`` phases) and sends a
small probe every ``probe_interval_s`` on the same socket, so probes share the slice's queue and
see its delay. Rates count what a Linux qdisc counts on an Ethernet/veth egress: the frame, i.e.
UDP payload + 8 (UDP) + 20 (IPv4) + 14 (Ethernet) bytes; HTB's ``rate`` is met by that count.

The receiver counts, per slice, the frame bytes that arrive in bins of ``bin_s`` (receive time)
and keeps each probe's one-way delay (receive minus send time). Sender and receiver must share
CLOCK_MONOTONIC: processes on one host do, whatever their network namespace (a time namespace
would not, and none is used).

Both run as ``python -m ior_ros.clients.traffic send|receive …`` (so each is one process,
started inside a namespace with ``ip netns exec``) and print one JSON object on stdout when they
finish; :func:`send` and :func:`receive` are the same in-process.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import select
import socket
import struct
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ['HEADER', 'HEADER_BYTES', 'FRAME_OVERHEAD_BYTES', 'send', 'receive', 'SendReport',
           'ReceiveReport', 'SliceCounts', 'main']

HEADER = struct.Struct('!4sBBHIQ')
HEADER_BYTES = HEADER.size
MAGIC = b'IORT'
VERSION = 1
DATA, PROBE = 0, 1
FRAME_OVERHEAD_BYTES = 8 + 20 + 14
"""UDP + IPv4 + Ethernet header bytes added to a payload on the wire (and in tc's counts)."""
MAX_PAYLOAD = 1472  # 1500-byte MTU minus IPv4 and UDP headers: no fragmentation
_MAX_BURST = 32  # packets a late sender may catch up at once


def _now_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


@dataclass
class SendReport:
    """What the sender did."""

    packets: int = 0
    frame_bytes: int = 0
    probes: int = 0
    errors: int = 0
    """sendto failures (ENOBUFS and alike): datagrams not sent."""
    phases: list[dict[str, float]] = field(default_factory=list)
    """Per phase: ``start_s``, ``rate_bps`` asked and ``sent_bps`` achieved."""

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dict(self.__dict__)


def send(dst: str, port: int, phases: Sequence[tuple[float, float]], duration_s: float,
         start_ns: int | None = None, payload: int = MAX_PAYLOAD, slice_index: int = 0,
         dscp: int | None = None, probe_interval_s: float = 0.02, probe_payload: int = 64
         ) -> SendReport:
    """
    Send data datagrams paced to ``phases`` and probes, from ``start_ns`` (CLOCK_MONOTONIC; now
    when None) for ``duration_s``.

    Args:
        phases: ``(offset_s, rate_bps)`` from the start, in order; a rate holds until the next
            phase (frame bits per second, module docstring).
        dscp: set on every datagram (IP_TOS = DSCP << 2).
    """
    if not phases or phases[0][0] != 0.0:
        raise ValueError('phases must start at offset 0')
    payload = max(HEADER_BYTES, min(MAX_PAYLOAD, payload))
    probe_payload = max(HEADER_BYTES, min(MAX_PAYLOAD, probe_payload))
    frame_bits = (payload + FRAME_OVERHEAD_BYTES) * 8
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if dscp is not None:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, dscp << 2)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
    sock.setblocking(False)
    target = (dst, port)
    data = bytearray(payload)
    probe = bytearray(probe_payload)
    report = SendReport()
    start = _now_ns() if start_ns is None else start_ns
    while _now_ns() < start:
        time.sleep(min(0.01, max(0.0, (start - _now_ns()) * 1e-9)))
    end = start + int(duration_s * 1e9)
    bounds = [start + int(off * 1e9) for off, _ in phases] + [end]
    phase_sent = [0] * len(phases)
    seq = probe_seq = 0
    due = 0.0
    last = start
    next_probe = start
    interval_ns = int(probe_interval_s * 1e9)
    index = 0
    while True:
        now = _now_ns()
        if now >= end:
            break
        while now >= bounds[index + 1]:
            index += 1
        rate = phases[index][1]
        due = min(due + rate * (now - last) * 1e-9 / frame_bits, float(_MAX_BURST))
        last = now
        if interval_ns > 0 and now >= next_probe:
            HEADER.pack_into(probe, 0, MAGIC, VERSION, PROBE, slice_index, probe_seq, now)
            try:
                sock.sendto(probe, target)
                report.probes += 1
            except OSError:
                report.errors += 1
            probe_seq += 1
            next_probe += interval_ns
        while due >= 1.0:
            HEADER.pack_into(data, 0, MAGIC, VERSION, DATA, slice_index, seq & 0xFFFFFFFF,
                             _now_ns())
            try:
                sock.sendto(data, target)
                report.packets += 1
                phase_sent[index] += 1
            except OSError:
                report.errors += 1
            seq += 1
            due -= 1.0
        wait = (1.0 - due) * frame_bits / rate if rate > 0 else 0.005
        if interval_ns > 0:
            wait = min(wait, (next_probe - _now_ns()) * 1e-9)
        time.sleep(min(0.005, max(0.0002, wait)))
    sock.close()
    report.frame_bytes = report.packets * (payload + FRAME_OVERHEAD_BYTES)
    for i, (offset, rate) in enumerate(phases):
        span = (bounds[i + 1] - bounds[i]) * 1e-9
        report.phases.append({'start_s': offset, 'rate_bps': rate,
                              'sent_bps': phase_sent[i] * frame_bits / span if span > 0 else 0.0})
    return report


@dataclass
class SliceCounts:
    """What the receiver saw of one slice."""

    bins: dict[int, int] = field(default_factory=dict)
    """Bin index (receive time from the start, ``bin_s`` wide) -> frame bytes."""
    packets: int = 0
    probes: list[tuple[int, int, int]] = field(default_factory=list)
    """``(seq, sent_ns, delay_ns)`` per probe received."""


@dataclass
class ReceiveReport:
    """What the receiver saw."""

    start_ns: int
    bin_s: float
    slices: dict[int, SliceCounts]
    foreign: int = 0
    """Datagrams without the header (not ours)."""
    rcvbuf_errors: int = 0
    """UDP receive-buffer drops in the namespace during the run (/proc/net/snmp)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {'start_ns': self.start_ns, 'bin_s': self.bin_s, 'foreign': self.foreign,
                'rcvbuf_errors': self.rcvbuf_errors,
                'slices': {str(k): {'bins': {str(b): n for b, n in v.bins.items()},
                                    'packets': v.packets, 'probes': v.probes}
                           for k, v in self.slices.items()}}

    @staticmethod
    def from_dict(doc: dict[str, Any]) -> ReceiveReport:
        """Back from :meth:`as_dict`."""
        slices = {int(k): SliceCounts(bins={int(b): int(n) for b, n in v['bins'].items()},
                                      packets=int(v['packets']),
                                      probes=[(int(a), int(b), int(c)) for a, b, c in v['probes']])
                  for k, v in doc['slices'].items()}
        return ReceiveReport(int(doc['start_ns']), float(doc['bin_s']), slices,
                             int(doc.get('foreign', 0)), int(doc.get('rcvbuf_errors', 0)))

    def rate_bps(self, slice_index: int, start_ns: int, end_ns: int) -> float:
        """Frame bit rate of ``slice_index`` received between two CLOCK_MONOTONIC times (whole
        bins inside the window)."""
        counts = self.slices.get(slice_index)
        bin_ns = int(self.bin_s * 1e9)
        first = math.ceil((start_ns - self.start_ns) / bin_ns)
        last = math.floor((end_ns - self.start_ns) / bin_ns)  # exclusive
        if counts is None or last <= first:
            return 0.0
        total = sum(counts.bins.get(b, 0) for b in range(first, last))
        return total * 8 / ((last - first) * self.bin_s)

    def probe_delays_s(self, slice_index: int, start_ns: int, end_ns: int) -> list[float]:
        """One-way delays [s] of the probes of ``slice_index`` sent within the window."""
        counts = self.slices.get(slice_index)
        if counts is None:
            return []
        return [d * 1e-9 for _, sent, d in counts.probes if start_ns <= sent < end_ns]


def _rcvbuf_errors() -> int:
    try:
        with open('/proc/net/snmp', encoding='ascii') as handle:
            lines = [line.split() for line in handle if line.startswith('Udp:')]
    except OSError:
        return 0
    if len(lines) < 2 or 'RcvbufErrors' not in lines[0]:
        return 0
    return int(lines[1][lines[0].index('RcvbufErrors')])


def receive(port: int, duration_s: float, start_ns: int | None = None, bin_s: float = 0.1,
            bind: str = '0.0.0.0') -> ReceiveReport:
    """Count datagrams on ``port`` from ``start_ns`` (CLOCK_MONOTONIC; now when None) for
    ``duration_s`` (module docstring)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 24)
    sock.bind((bind, port))
    sock.setblocking(False)
    start = _now_ns() if start_ns is None else start_ns
    end = start + int(duration_s * 1e9)
    bin_ns = int(bin_s * 1e9)
    report = ReceiveReport(start, bin_s, {})
    errors_before = _rcvbuf_errors()
    buffer = bytearray(2048)
    view = memoryview(buffer)
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    while True:
        now = _now_ns()
        if now >= end:
            break
        if not poller.poll(min(100, max(1, (end - now) // 1_000_000))):
            continue
        while True:
            try:
                size = sock.recv_into(buffer)
            except BlockingIOError:
                break
            arrived = _now_ns()
            if size < HEADER_BYTES:
                report.foreign += 1
                continue
            magic, version, kind, index, seq, sent = HEADER.unpack_from(view)
            if magic != MAGIC or version != VERSION:
                report.foreign += 1
                continue
            counts = report.slices.get(index)
            if counts is None:
                counts = report.slices[index] = SliceCounts()
            if kind == PROBE:
                counts.probes.append((seq, sent, arrived - sent))
            else:
                counts.packets += 1
            slot = (arrived - start) // bin_ns
            counts.bins[slot] = counts.bins.get(slot, 0) + size + FRAME_OVERHEAD_BYTES
    sock.close()
    report.rcvbuf_errors = _rcvbuf_errors() - errors_before
    return report


def _phase(text: str) -> tuple[float, float]:
    offset, _, rate = text.partition(':')
    return float(offset), float(rate)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ior_ros.clients.traffic send|receive …``: one JSON object on stdout."""
    parser = argparse.ArgumentParser(prog='python -m ior_ros.clients.traffic',
                                     description='Measured UDP sender and receiver.')
    sub = parser.add_subparsers(dest='role', required=True)
    s = sub.add_parser('send', help='paced sender with probes')
    s.add_argument('--dst', required=True)
    s.add_argument('--port', type=int, required=True)
    s.add_argument('--phase', action='append', type=_phase, required=True,
                   metavar='OFFSET_S:RATE_BPS', help='rate from OFFSET_S on (first at 0)')
    s.add_argument('--duration', type=float, required=True, metavar='S')
    s.add_argument('--start-ns', type=int, default=None)
    s.add_argument('--payload', type=int, default=MAX_PAYLOAD)
    s.add_argument('--slice', type=int, default=0)
    s.add_argument('--dscp', type=int, default=None)
    s.add_argument('--probe-interval', type=float, default=0.02, metavar='S')
    r = sub.add_parser('receive', help='per-slice counter')
    r.add_argument('--port', type=int, required=True)
    r.add_argument('--duration', type=float, required=True, metavar='S')
    r.add_argument('--start-ns', type=int, default=None)
    r.add_argument('--bin', type=float, default=0.1, metavar='S')
    args = parser.parse_args(argv)
    if args.role == 'send':
        out: dict[str, Any] = send(args.dst, args.port, args.phase, args.duration, args.start_ns,
                                   args.payload, args.slice, args.dscp,
                                   args.probe_interval).as_dict()
    else:
        out = receive(args.port, args.duration, args.start_ns, args.bin).as_dict()
    sys.stdout.write(json.dumps(out) + '\n')
    sys.stdout.flush()
    return 0


if __name__ == '__main__':
    os.environ.setdefault('PYTHONUNBUFFERED', '1')
    sys.exit(main())
