"""
The crash-consistent MCAP writer behind ``ior bag record``, in process with a fake clock: what is
on disk at each moment (header and topics at once, a chunk once its oldest message is
``max_chunk_interval_s`` old or ``max_cache_size`` bytes wait, metadata.yaml from the start and
refreshed), and the closed file as the mcap library (an independent reader, CRCs checked) and
rosbags see it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ior_ros.runtime.bag_mcap_scan import scan_mcap

T0 = 1_790_000_000_000_000_000
TYPE = 'std_msgs/msg/String'


def _writer(folder: Path, clock: list[float], **options: Any) -> tuple[Any, int]:
    from ior_ros.runtime.bag_qos import qos_to_rosbags
    from ior_ros.runtime.bag_writers import McapBagWriter
    from ior_ros.runtime.qos import QoSProfile
    from ior_ros.runtime.registry import registry

    reg = registry()
    writer = McapBagWriter(folder, fsync=False, clock=lambda: clock[0], **options)
    key = writer.add_topic('/chatter', TYPE, reg.message_definition(TYPE), reg.type_hash(TYPE),
                           [qos_to_rosbags(QoSProfile(depth=7))])
    return writer, key


def _payload(i: int) -> bytes:
    from ior_ros.runtime.registry import registry

    reg = registry()
    return bytes(reg.serialize(reg.get_class(TYPE)(data=f'hello {i}'), TYPE))


def _meta(folder: Path) -> dict[str, Any]:
    loaded = yaml.safe_load((folder / 'metadata.yaml').read_text())
    return dict(loaded['rosbag2_bagfile_information'])


def test_what_is_on_disk_at_each_moment(tmp_path: Path) -> None:
    folder = tmp_path / 'bag'
    clock = [100.0]
    writer, key = _writer(folder, clock, max_chunk_interval_s=0.5, metadata_period_s=2.0)
    mcap = folder / 'bag.mcap'
    # at once: header, schema and channel (fsync or not, the bytes are in the file)
    scan = scan_mcap(mcap)
    assert [c.topic for c in scan.channels.values()] == ['/chatter'] and scan.message_count == 0
    topics = _meta(folder)['topics_with_message_count']
    assert topics[0]['topic_metadata']['name'] == '/chatter'
    assert topics[0]['topic_metadata']['offered_qos_profiles'][0]['depth'] == 7

    for i in range(10):
        writer.write(key, T0 + i, _payload(i))
        clock[0] += 0.04
        writer.tick()
    assert scan_mcap(mcap).message_count == 0  # the chunk's oldest message is 0.4 s old
    clock[0] += 0.1
    writer.tick()
    assert scan_mcap(mcap).message_count == 10  # 0.5 s: written
    assert _meta(folder)['message_count'] == 0  # metadata.yaml is refreshed every 2 s
    clock[0] += 2.0
    writer.tick()
    meta = _meta(folder)
    assert meta['message_count'] == 10
    assert meta['duration'] == {'nanoseconds': 9}
    assert meta['starting_time'] == {'nanoseconds_since_epoch': T0}
    writer.write(key, T0 + 10, _payload(10))
    writer.close()
    assert _meta(folder)['message_count'] == 11 and scan_mcap(mcap).footer


def test_max_cache_size_writes_without_waiting(tmp_path: Path) -> None:
    clock = [0.0]
    by_size, key = _writer(tmp_path / 'by_size', clock, max_cache_size=200)
    for i in range(20):  # ~60 bytes a message record: a chunk every 4
        by_size.write(key, T0 + i, _payload(i))
    on_disk = scan_mcap(tmp_path / 'by_size' / 'by_size.mcap').message_count
    assert 12 <= on_disk < 20
    every_batch, key = _writer(tmp_path / 'every', clock, max_cache_size=0)
    every_batch.write(key, T0, _payload(0))
    every_batch.write(key, T0 + 1, _payload(1))
    assert scan_mcap(tmp_path / 'every' / 'every.mcap').message_count == 0
    every_batch.tick()
    scan = scan_mcap(tmp_path / 'every' / 'every.mcap')
    assert scan.message_count == 2 and len(scan.chunks) == 1  # one chunk per batch


def test_the_closed_file_reads_with_the_mcap_library_and_rosbags(tmp_path: Path) -> None:
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory
    from rosbags.rosbag2 import Reader

    folder = tmp_path / 'whole'
    clock = [0.0]
    writer, key = _writer(folder, clock, max_chunk_interval_s=0.5)
    for i in range(30):
        writer.write(key, T0 + i * 1000, _payload(i), T0 + i * 1000 - 5)
        clock[0] += 0.1
        writer.tick()
    writer.close()
    with (folder / 'whole.mcap').open('rb') as handle:
        reader = make_reader(handle, validate_crcs=True, decoder_factories=[DecoderFactory()])
        summary = reader.get_summary()
        assert summary is not None and summary.statistics is not None
        assert summary.statistics.message_count == 30 and len(summary.chunk_indexes) >= 5
        assert [m.data for _s, _c, _m, m in reader.iter_decoded_messages()] == \
            [f'hello {i}' for i in range(30)]
        assert [m.publish_time for _s, _c, m in reader.iter_messages()] == \
            [T0 + i * 1000 - 5 for i in range(30)]
        assert [r.name for r in reader.iter_metadata()] == ['rosbag2']
    with Reader(folder) as bag:
        assert bag.message_count == 30
        assert [c.msgcount for c in bag.connections] == [30]


@pytest.mark.parametrize('args,words', [
    (['--max-chunk-interval', '0'], 'argument --max-chunk-interval'),
    (['--max-cache-size', '-1'], 'argument --max-cache-size')])
def test_record_options_are_checked(tmp_path: Path, args: list[str], words: str) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, '-m', 'ior_ros.cli', 'bag', 'record', '-o',
                           str(tmp_path / 'x'), '/x', *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and words in done.stderr and 'must be' in done.stderr, \
        done.stderr
    assert not (tmp_path / 'x').exists()
