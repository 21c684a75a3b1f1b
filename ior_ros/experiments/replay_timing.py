"""
The input of ``ior demo --replay``: the replayed topics of a recorded run, timed by when each
message was **published**, not by when the recorder took it.

A bag's log time is the recorder's receive time, and a recorder that falls behind (a loaded
machine; ``/clock`` at 1 kHz is most of its work) stamps a backlog late: ``/clock`` and the
commands it recorded drift apart by up to hundreds of milliseconds, and a replay by log time hands
the robot its commands at other simulated times than the recorded robot had them. Every MCAP
message also keeps its publish time (``ior bag record`` stores the DDS source timestamp; rosbag2
its send timestamp), which comes from the publisher: ``/clock`` and the relayed commands are both
published by the ran_emulator, so ordered by publish time the commands meet the clock as they met
it in the run. A message without a publish time keeps its log time.

Commands go one step further when the run recorded when its robot took them: the robot_controller
publishes a DelayMeasurement for every command it takes, with the simulated time it took it
(``receive_time``) and the command's ``sequence``. A controller starved of CPU takes a command
later than the emulator relayed it (a backlog of ``/clock`` first, the commands after it), and how
it tracked depends on that; a replay that hands the fresh controller the command on time replays
another run. So a command with a receipt (``received_at``: command topic → delay topic) is placed
right after the ``/clock`` message of its receive time: the fresh controller takes it at the
simulated time the recorded one did and measures the same delay. A command the relay published
but the robot never took (its reader's queue overflowed while it was starved) is left out, as
the recorded robot went without it; in a bag without the delay topic every command keeps its
publish time.

One case is still open after that: a command taken at the very time of a control sample, where
the recorded robot may have run the sample first or taken the command first (both wait on the
same ``/clock`` message). The robot's state (``applied_in``: command topic → state topic, whose
samples carry their time and the ``command_sequence`` in force) says which: when the recorded
sample at the receive time still had an older command, the replayed command comes after the next
``/clock`` message instead (one clock tick, 1 ms, later: the sample runs first, as recorded).

The copy is an MCAP bag of its own (schemas and channels as recorded, log time = publish time,
sorted) with a ``metadata.yaml``, so ``ior bag play`` and a real ``ros2 bag play`` both play it.
"""

from __future__ import annotations

import bisect
import io
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ior_ros.core.errors import ConfigError

__all__ = ['retime_by_publish_time']


def retime_by_publish_time(bag: Path, out: Path, topics: Sequence[str],
                           received_at: Mapping[str, str] | None = None,
                           clock_topic: str = '/clock',
                           applied_in: Mapping[str, str] | None = None) -> int:
    """
    Write the messages of ``topics`` in the MCAP bag ``bag`` to the new bag folder ``out``, timed
    by their publish times, and the commands of ``received_at``'s topics by their receipts
    (module docstring); returns how many were written.

    Raises:
        ConfigError: ``bag`` holds no MCAP file (a sqlite3 bag keeps no publish time), or none of
            ``topics``.
    """
    from mcap.reader import make_reader
    from mcap.writer import Writer

    from ior_ros.runtime.bag_reindex import reindex

    files = sorted(Path(bag).glob('*.mcap'))
    if not files:
        raise ConfigError(f"bag '{bag}': no MCAP file: the replay needs the publish times an "
                          'MCAP bag keeps (record with the default storage, mcap)')
    schemas: dict[str, tuple[str, bytes]] = {}  # name → (encoding, data)
    channels: dict[tuple[str, str], tuple[str, dict[str, str]]] = {}
    records: list[tuple[int, int, tuple[str, str], bytes]] = []
    for path in files:
        with open(path, 'rb') as stream:
            for schema, channel, message in make_reader(stream).iter_messages(
                    topics=list(topics)):
                name = schema.name if schema is not None else ''
                if schema is not None:
                    schemas.setdefault(name, (schema.encoding, bytes(schema.data)))
                key = (channel.topic, name)
                channels.setdefault(key, (channel.message_encoding, dict(channel.metadata)))
                when = int(message.publish_time) or int(message.log_time)
                records.append((when, int(message.log_time), key, bytes(message.data)))
    if not records:
        raise ConfigError(f"bag '{bag}': none of {', '.join(topics)} recorded")
    if received_at:
        records = _at_receipt(files, records, channels, dict(received_at), clock_topic,
                              dict(applied_in or {}))
    records.sort(key=lambda r: (r[0], r[1]))
    out.mkdir(parents=True, exist_ok=False)
    target = out / f'{out.name}_0.mcap'
    with open(target, 'wb') as stream:
        writer = Writer(stream)
        writer.start(profile='ros2', library='ior_ros replay_timing')
        schema_ids = {name: writer.register_schema(name, encoding, data)
                      for name, (encoding, data) in schemas.items()}
        channel_ids = {key: writer.register_channel(key[0], encoding, schema_ids.get(key[1], 0),
                                                    metadata)
                       for key, (encoding, metadata) in channels.items()}
        for sequence, (when, _logged, key, data) in enumerate(records):
            writer.add_message(channel_ids[key], log_time=when, data=data, publish_time=when,
                               sequence=sequence)
        writer.finish()
    reindex(out, keep_original=False, fsync=False, out=io.StringIO())
    return len(records)


def _stamp_ns(stamp: object) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)  # type: ignore[attr-defined]


def _read(files: list[Path], topics: Sequence[str]) -> Iterator[tuple[str, Any]]:
    """(topic, decoded message) of ``topics`` in the MCAP ``files``; undecodable ones skipped."""
    from mcap.reader import make_reader

    from ior_ros.runtime.registry import registry

    types = registry()
    for path in files:
        with open(path, 'rb') as stream:
            for schema, channel, message in make_reader(stream).iter_messages(
                    topics=list(topics)):
                if schema is None:
                    continue
                try:
                    yield channel.topic, types.decode(message.data, schema.name)
                except Exception:  # noqa: BLE001, S112  (not what the topic should hold)
                    continue


def _at_receipt(files: list[Path], records: list[tuple[int, int, tuple[str, str], bytes]],
                channels: Mapping[tuple[str, str], object], received_at: dict[str, str],
                clock_topic: str, applied_in: dict[str, str]
                ) -> list[tuple[int, int, tuple[str, str], bytes]]:
    """``records`` with each command of ``received_at`` that has a receipt moved to just after
    the ``/clock`` message of its receive time (or the next one, where ``applied_in``'s state
    shows the sample at that time ran first), and those without a receipt left out (module
    docstring)."""
    from ior_ros.runtime.registry import registry

    types = registry()
    clock = sorted((when, key, data) for when, _log, key, data in records
                   if key[0] == clock_topic)
    if not clock:
        return records
    clock_sim = [_stamp_ns(types.decode(data, key[1]).clock) for _when, key, data in clock]
    receipts: dict[tuple[str, int], list[int]] = {}  # (command topic, sequence) → receive times
    by_delay = {delay: command for command, delay in received_at.items()}
    for topic, got in _read(files, list(by_delay)):
        try:
            receipts.setdefault((by_delay[topic], int(got.sequence)), []).append(
                _stamp_ns(got.receive_time))
        except AttributeError:  # not a DelayMeasurement: no receipt
            continue
    if not receipts:
        return records
    for times in receipts.values():
        times.sort()
    in_force: dict[tuple[str, int], int] = {}  # (command topic, sample time) → sequence in force
    by_state = {state: command for command, state in applied_in.items()}
    for topic, got in _read(files, list(by_state)):
        try:
            in_force[(by_state[topic], _stamp_ns(got.header.stamp))] = int(got.command_sequence)
        except AttributeError:
            continue
    moved = []
    for record in records:
        when, logged, key, data = record
        topic = key[0]
        if topic in received_at and key in channels:
            try:
                sequence = int(types.decode(data, key[1]).sequence)
            except Exception:  # noqa: BLE001  (undecodable: replayed as recorded, at its time)
                moved.append(record)
                continue
            found = receipts.get((topic, sequence))
            if not found:
                continue  # never taken by the recorded robot
            taken = found.pop(0)
            at = bisect.bisect_left(clock_sim, taken)  # the clock message of the receive time
            if in_force.get((topic, taken), sequence) < sequence:
                at = bisect.bisect_right(clock_sim, taken)  # the sample there ran first
            if at < len(clock):  # right after that clock message
                record = (max(when, clock[at][0] + 1), logged, key, data)
        moved.append(record)
    return moved
