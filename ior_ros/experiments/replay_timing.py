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

The copy is an MCAP bag of its own (schemas and channels as recorded, log time = publish time,
sorted) with a ``metadata.yaml``, so ``ior bag play`` and a real ``ros2 bag play`` both play it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from ior_ros.core.errors import ConfigError

__all__ = ['retime_by_publish_time']


def retime_by_publish_time(bag: Path, out: Path, topics: Sequence[str]) -> int:
    """
    Write the messages of ``topics`` in the MCAP bag ``bag`` to the new bag folder ``out``, timed
    by their publish times (module docstring); returns how many were written.

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
