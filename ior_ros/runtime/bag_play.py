"""
``ros2 bag play`` on the DDS runtime, reading rosbag2 bags with rosbags (``mcap`` and ``sqlite3``,
also what ``ros2 bag record`` writes).

It republishes every message in timestamp order with the recorded gaps divided by
``rate``, offering each topic the recorded QoS as ``ros2 bag play`` does (the recorded profile
when every publisher offered the same, else reliable/volatile). Message types missing from the
type registry are registered from the definitions stored in the bag (MCAP schemas, sqlite3
``message_definitions``); a topic whose type is unknown and whose definition is absent is
skipped with one warning line. Optional ``/clock`` publishing.

An MCAP bag cut by a crash is played up to its last complete message (one line on ``err`` says
what was cut), an MCAP bag without metadata.yaml from its files. At the end, reliable topics wait
up to ``ack_timeout_s`` in all for their subscribers' acknowledgements; a subscriber that does
not give them (a stopped or vanished process) is named in one warning line on ``err`` and the
playback still ends normally.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ior_ros.runtime.ack_wait import DEFAULT_ACK_TIMEOUT_S, wait_for_acks
from ior_ros.runtime.bag_qos import playback_qos
from ior_ros.runtime.bag_record import StopFlag
from ior_ros.runtime.bag_storage import BagReader
from ior_ros.runtime.errors import DdsError, RosInputError
from ior_ros.runtime.qos import ReliabilityPolicy
from ior_ros.runtime.registry import registry

__all__ = ['play']


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


def play(bag: str | Path, *, rate: float = 1.0, topics: list[str] | None = None,
         loop: bool = False, clock_hz: float | None = None, delay_s: float = 0.0,
         start_offset_s: float = 0.0, wait_for_subscribers_s: float | None = None,
         out: IO[str] | None = None, progress: bool = False,
         on_message: Callable[[str, int], None] | None = None,
         ack_timeout_s: float = DEFAULT_ACK_TIMEOUT_S, err: IO[str] | None = None) -> int:
    """Republish a bag; returns the number of messages published."""
    from ior_ros.runtime.bag_reindex import metadata_or_rebuilt
    from ior_ros.runtime.names import expand_topic_name
    from ior_ros.runtime.topic_tools import open_context

    if rate <= 0:
        raise RosInputError(f'--rate {rate}: must be > 0')
    stream = out or sys.stdout
    errors = err or sys.stderr

    def warn(text: str) -> None:
        stream.write(f'[WARN] [rosbag2_player]: {text}\n')
        stream.flush()

    def note(text: str) -> None:
        errors.write(f'[WARN] [rosbag2_player]: {text}\n')
        errors.flush()

    path, meta, scan = metadata_or_rebuilt(bag, note)
    wanted = {expand_topic_name(t, 'player', '/') for t in topics or []}
    reg = registry()
    ctx = open_context('bag_play')
    published = 0
    refused: dict[str, int] = {}
    try:
        bag_reader = BagReader(path, meta, scan=scan)
        with bag_reader as reader:
            for damage in bag_reader.damage:
                note(f'{damage}; playing what was read')
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
            with StopFlag() as flag:
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
                        try:
                            writers[conn.id].write(payload)
                        except DdsError:
                            # Cyclone checks a sample against its type before sending; a damaged
                            # record is skipped (counted, one line at the end), play goes on
                            refused[conn.topic] = refused.get(conn.topic, 0) + 1
                            continue
                        published += 1
                        if on_message is not None:
                            on_message(conn.topic, stamp)
                        if bar is not None:
                            bar.update(1)
                    if not loop or flag.event.is_set():
                        break
            if bar is not None:
                bar.close()
            for topic, count in refused.items():
                warn(f"skipped {count} record{'s' if count > 1 else ''} on '{topic}' that DDS "
                     'refused to send (damaged: not a valid sample of the topic type)')
            stalled = wait_for_acks([w for w in writers.values()
                                     if w.qos.reliability == ReliabilityPolicy.RELIABLE],
                                    ack_timeout_s, ctx)
            if stalled:
                note(stalled)
    finally:
        ctx.close()
    stream.write(f'[INFO] [rosbag2_player]: Playback finished; {published} messages '
                 'published\n')
    stream.flush()
    return published
