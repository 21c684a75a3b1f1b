"""
Malformed samples that a subscription, a service, a client or a tool drops: counted, and
reported without flooding the log.

A peer's bad sample never stops a node (:mod:`ior_ros.runtime.cdr_decode`): the endpoint drops
it and reports it through its node's logger: the first one at once, then at most one summary
per ``period_s`` (5 s) for the samples dropped since the last report::

    dropped 1 malformed sample on /chatter (std_msgs/msg/String) from /demo/talker
    [gid 01.10.2e.6f.…]: std_msgs/msg/String.data: string length 4000 at offset 4 overruns …

The publisher is named by its node when ``ros_discovery_info`` lists the writer's GUID (rmw's
gid), otherwise by the GUID alone; the name is looked up when the sample is dropped (the writer
may be gone by the time a summary is written) and kept per writer (:class:`WriterNames`). A
summary that is due is written with the next sample that arrives, valid or not, and whatever
is pending when the endpoint closes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ['DropReport', 'WriterNames', 'format_gid', 'describe_writer', 'REPORT_PERIOD_S']

REPORT_PERIOD_S = 5.0  # at most one summary per endpoint in this many seconds


def format_gid(gid: bytes) -> str:
    """A GUID as ``ros2 topic info -v`` prints it: two hex digits per byte, dot-separated."""
    return '.'.join(f'{byte:02x}' for byte in gid)


def describe_writer(reader: Any, publication_handle: int, graph: Callable[[], Any]) -> str:
    """
    ``/ns/node [gid 01.10.…]`` of the writer that sent a sample: ``reader`` is the cyclonedds
    DataReader that took it, ``publication_handle`` the sample's, ``graph()`` the graph snapshot
    (:class:`~ior_ros.runtime.graph.GraphSnapshot`). ``gid 01.10.…`` when no node lists the
    writer, ``an unknown publisher`` when the writer is gone already.
    """
    return _lookup(reader, publication_handle, graph)[0]


def _lookup(reader: Any, publication_handle: int, graph: Callable[[], Any]) -> tuple[str, bool]:
    """(:func:`describe_writer`'s text, whether the node was found)."""
    try:
        endpoint = reader.get_matched_publication_data(publication_handle)
        gid = bytes(endpoint.key.bytes)
    except Exception:  # noqa: BLE001  (the writer left, or the handle is not a writer's)
        return f'an unknown publisher (instance handle {publication_handle})', False
    try:
        snapshot = graph()
        for nodes in snapshot.nodes.values():
            for namespace, name, _readers, writers in nodes:
                if gid in writers:
                    fqn = f'/{name}' if namespace in ('', '/') else \
                        f'{namespace.rstrip("/")}/{name}'
                    return f'{fqn} [gid {format_gid(gid)}]', True
    except Exception:  # noqa: BLE001, S110  (the context is closing: the gid alone will do)
        pass
    return f'gid {format_gid(gid)}', False


class WriterNames:
    """
    :func:`describe_writer` for the samples of one reader, kept per writer: looked up once for
    a writer whose node the graph lists, at most once per ``retry_s`` for one it does not (yet:
    ``ros_discovery_info`` may arrive after the first data).
    """

    def __init__(self, reader: Any, graph: Callable[[], Any], retry_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._reader = reader
        self._graph = graph
        self._retry_s = retry_s
        self._clock = clock
        self._names: dict[int, tuple[str, bool, float]] = {}

    def __call__(self, publication_handle: int) -> str:
        now = self._clock()
        found = self._names.get(publication_handle)
        if found is not None and (found[1] or now - found[2] < self._retry_s):
            return found[0]
        text, known = _lookup(self._reader, publication_handle, self._graph)
        if len(self._names) >= 256:  # writers come and go: keep the memory bounded
            self._names.clear()
        self._names[publication_handle] = (text, known, now)
        return text


class DropReport:
    """
    The dropped-sample count of one endpoint and its rate-limited report.

    Args:
        where: what the endpoint is, e.g. ``on /chatter (std_msgs/msg/String)``.
        log: writes one report line (a node logger's ``warning``).
        period_s: the least time between two reports [s].
        clock: monotonic time [s] (a parameter so that tests need not wait).
    """

    def __init__(self, where: str, log: Callable[[str], Any],
                 period_s: float = REPORT_PERIOD_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.where = where
        self.total = 0
        self._log = log
        self._period_s = period_s
        self._clock = clock
        self._pending = 0
        self._reason = ''
        self._source = 'an unknown publisher'
        self._last_report_s: float | None = None

    def drop(self, reason: str, source: Callable[[], str]) -> None:
        """Count one dropped sample: ``reason`` why, ``source()`` who sent it (called now,
        while the writer is still known; :class:`WriterNames` makes that cheap)."""
        self.total += 1
        self._pending += 1
        self._reason = reason
        try:
            self._source = source()
        except Exception:  # noqa: BLE001  (naming the publisher is a courtesy)
            self._source = 'an unknown publisher'
        now = self._clock()
        if self._last_report_s is None or now - self._last_report_s >= self._period_s:
            self._report(now)

    def tick(self) -> None:
        """A valid sample arrived: write the summary if one is pending and due."""
        if self._pending and self._clock() - (self._last_report_s or 0.0) >= self._period_s:
            self._report(self._clock())

    def flush(self) -> None:
        """Write what is pending now (the endpoint closes)."""
        if self._pending:
            self._report(self._clock())

    def _report(self, now: float) -> None:
        count = self._pending
        noun = 'sample' if count == 1 else 'samples'
        self._pending = 0
        self._last_report_s = now
        self._log(f'dropped {count} malformed {noun} {self.where} from {self._source}: '
                  f'{self._reason}')
