"""
Bags whose MCAP file was cut (at any byte: what a crash, a full disk or an interrupted copy
leaves), has a garbage tail, or is garbage: ``ior bag info``, ``ior bag play`` and
``ior bag reindex`` read what can be read, up to the last complete message, say what was cut
in one line, and never show a traceback; a file that is not MCAP at all is one error line.

The bags are written by the recorder's storage writer
(:class:`~ior_ros.runtime.bag_writers.McapBagWriter`, a chunk every few messages), then damaged;
what is read back is compared with what was written, message by message, with rosbags' reader
(independent of ours) on the reindexed bag.
"""

from __future__ import annotations

import io
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rt_helpers import RosEnv

pytestmark = [pytest.mark.xdist_group('dds'), pytest.mark.timeout(600)]

COUNT = 60  # messages per topic
T0 = 1_790_000_000_000_000_000


def _write_bag(folder: Path) -> list[tuple[str, bytes]]:
    """A closed two-topic MCAP bag, one chunk per ~6 messages; returns (topic, cdr) in order."""
    from ior_ros.runtime.bag_qos import qos_to_rosbags
    from ior_ros.runtime.bag_writers import McapBagWriter
    from ior_ros.runtime.qos import QoSProfile
    from ior_ros.runtime.registry import registry

    reg = registry()
    now = [0.0]
    writer = McapBagWriter(folder, max_chunk_interval_s=0.05, fsync=False,
                           clock=lambda: now[0])
    keys = {}
    for topic, typename in (('/text', 'std_msgs/msg/String'), ('/number', 'std_msgs/msg/Int64')):
        keys[topic] = (writer.add_topic(topic, typename, reg.message_definition(typename),
                                        reg.type_hash(typename),
                                        [qos_to_rosbags(QoSProfile(depth=10))]), typename)
    written = []
    for i in range(COUNT):
        for topic, value in (('/text', f'message {i}'), ('/number', i)):
            key, typename = keys[topic]
            data = bytes(reg.serialize(reg.get_class(typename)(data=value), typename))
            writer.write(key, T0 + len(written) * 1_000_000, data)
            written.append((topic, data))
        now[0] += 0.02
        writer.tick()
    writer.close()
    return written


@pytest.fixture(scope='module')
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, bytes]]]:
    folder = tmp_path_factory.mktemp('damaged') / 'bag'
    return folder, _write_bag(folder)


def _read_with_rosbags(folder: Path) -> list[tuple[str, bytes]]:
    from rosbags.rosbag2 import Reader

    with Reader(folder) as reader:
        return [(c.topic, bytes(d)) for c, _t, d in reader.messages()]


def _complete_chunks_before(path: Path, cut: int) -> int:
    """Messages in the chunks that end at or before byte ``cut`` (what must survive)."""
    from ior_ros.runtime.bag_mcap_scan import scan_mcap

    return sum(c.count for c in scan_mcap(path).chunks if c.offset + c.length <= cut)


def _damaged_copy(reference: Path, target: Path, cut: int, tail: bytes) -> Path:
    shutil.copytree(reference, target)
    mcap = target / f'{reference.name}.mcap'
    mcap.rename(target / f'{target.name}.mcap')
    mcap = target / f'{target.name}.mcap'
    meta = target / 'metadata.yaml'
    meta.write_text(meta.read_text().replace(f'{reference.name}.mcap', mcap.name))
    data = (reference / f'{reference.name}.mcap').read_bytes()
    mcap.write_bytes(data[:cut] + tail)
    return mcap


def _info(folder: Path) -> tuple[Any, str, str]:
    from ior_ros.runtime.bag_info import info

    out, err = io.StringIO(), io.StringIO()
    summary = info(folder, out=out, err=err)
    return summary, out.getvalue(), err.getvalue()


# ----------------------------------------------------------------------------- in process
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=10**6),
       tail=st.one_of(st.just(b''), st.binary(min_size=1, max_size=300),
                      st.integers(1, 5000).map(lambda n: b'\0' * n)))
def test_a_cut_or_garbage_tail_reads_up_to_the_last_complete_message(
        ros: RosEnv, reference: tuple[Path, list[tuple[str, bytes]]], tmp_path: Path, cut: int,
        tail: bytes) -> None:
    from ior_ros.runtime.bag_mcap_scan import scan_mcap
    from ior_ros.runtime.bag_play import play
    from ior_ros.runtime.bag_reindex import reindex
    from ior_ros.runtime.errors import RosInputError

    folder, written = reference
    size = (folder / f'{folder.name}.mcap').stat().st_size
    cut = cut % (size + 1)
    target = Path(tempfile.mkdtemp(dir=tmp_path)) / f'cut_{cut}_{len(tail)}'
    mcap = _damaged_copy(folder, target, cut, tail)
    must_survive = _complete_chunks_before(folder / f'{folder.name}.mcap', cut)
    damaged = cut < size or tail != b''
    try:
        summary, _out, err = _info(target)
    except RosInputError as exc:  # only when not even the MCAP magic and header survived
        assert cut < 8, exc
        assert '\n' not in str(exc) and str(mcap) in str(exc)
        with pytest.raises(RosInputError):
            reindex(target, out=io.StringIO())
        with pytest.raises(RosInputError):
            play(target, rate=1000, out=io.StringIO(), err=io.StringIO())
        return
    if cut < size:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and str(mcap) in lines[0], err
        assert 'were cut' in lines[0] or 'not closed' in lines[0] or 'summary' in lines[0], err
    assert summary.message_count >= must_survive
    played, play_err = io.StringIO(), io.StringIO()
    sent = play(target, rate=1000, out=played, err=play_err)
    # a record a garbage tail overwrote part of may be refused by DDS itself: skipped, one line
    skipped = sum(int(m) for m in re.findall(r'skipped (\d+) records? on', played.getvalue()))
    assert sent + skipped == summary.message_count and skipped <= 1, played.getvalue()
    cut_text = scan_mcap(mcap).cut_text()
    assert play_err.getvalue().count('\n') == (1 if cut_text else 0)
    assert cut_text in play_err.getvalue() and cut_text in err  # the same words on the cut

    # reindex: a whole file again, holding every message read (a prefix of what was written)
    out = io.StringIO()
    reindex(target, out=out)
    recovered = _read_with_rosbags(target)
    assert len(recovered) == summary.message_count
    if tail:  # the message a garbage tail overwrote part of cannot be told from a real one
        assert recovered[:must_survive] == written[:must_survive]
    else:
        assert recovered == written[:len(recovered)]
    meta = yaml.safe_load((target / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert meta['message_count'] == len(recovered)
    counts = {t['topic_metadata']['name']: t['message_count']
              for t in meta['topics_with_message_count']}
    for topic in ('/text', '/number'):
        assert counts.get(topic, 0) == sum(1 for t, _ in recovered if t == topic)
    if damaged and cut < size:
        assert (target / f'{mcap.name}.orig').is_file()
        assert 'rewritten with a summary' in out.getvalue()
    # and info on the repaired bag says nothing more
    again, _out, err = _info(target)
    assert again.message_count == len(recovered) and err == ''


def _channel_record(channel_id: int, schema_id: int, topic: bytes, encoding: bytes) -> bytes:
    """An MCAP Channel record (opcode 0x04) with an empty metadata map."""
    import struct

    body = (struct.pack('<HH', channel_id, schema_id) + struct.pack('<I', len(topic)) + topic
            + struct.pack('<I', len(encoding)) + encoding + struct.pack('<I', 0))
    return b'\x04' + struct.pack('<Q', len(body)) + body


@pytest.mark.parametrize('topic, encoding', [(b'', b'cdr'), (b'\0\0\0\0\0', b'cdr'),
                                             (b'/fine', b''), (b'no slash', b'cdr')])
def test_garbage_that_parses_as_a_channel_ends_the_good_part(
        reference: tuple[Path, list[tuple[str, bytes]]], tmp_path: Path, topic: bytes,
        encoding: bytes) -> None:
    """Channels are outside the checksummed chunks: bytes after the last chunk that happen to
    parse as a channel record with a topic no recorder writes (found by the fuzzing above) are
    the cut, not a topic that play would try to create or reindex would write."""
    from ior_ros.runtime.bag_mcap_scan import scan_mcap
    from ior_ros.runtime.bag_play import play
    from ior_ros.runtime.bag_reindex import reindex

    folder, written = reference
    chunks = scan_mcap(folder / f'{folder.name}.mcap').chunks
    cut = chunks[0].offset + chunks[0].length
    target = tmp_path / 'garbage_channel'
    mcap = _damaged_copy(folder, target, cut, _channel_record(9, 1, topic, encoding))
    scan = scan_mcap(mcap)
    assert 9 not in scan.channels and 'not a ROS topic name' in scan.problem or \
        'message encoding' in scan.problem, scan.problem
    summary, _out, err = _info(target)
    assert summary.message_count == chunks[0].count and 'were cut' in err or 'not closed' in err
    played = io.StringIO()
    assert play(target, rate=1000, out=played, err=io.StringIO()) == chunks[0].count
    reindex(target, out=io.StringIO())
    assert _read_with_rosbags(target) == written[:chunks[0].count]


def test_the_bag_folder_without_metadata_is_read_from_its_file(
        reference: tuple[Path, list[tuple[str, bytes]]], tmp_path: Path) -> None:
    from ior_ros.runtime.bag_reindex import reindex

    folder, written = reference
    target = tmp_path / 'nometa'
    _damaged_copy(folder, target, 10**9, b'')
    expected = yaml.safe_load((target / 'metadata.yaml').read_text())
    (target / 'metadata.yaml').unlink()
    summary, _out, err = _info(target)
    assert summary.message_count == len(written)
    assert 'no metadata.yaml' in err and f'ior bag reindex {target}' in err
    reindex(target, out=io.StringIO())
    rebuilt = yaml.safe_load((target / 'metadata.yaml').read_text())
    info, old = rebuilt['rosbag2_bagfile_information'], expected['rosbag2_bagfile_information']
    for key in ('message_count', 'duration', 'starting_time', 'topics_with_message_count',
                'storage_identifier', 'version'):
        assert info[key] == old[key], key
    assert not (target / 'nometa.mcap.orig').exists()  # a whole file is not rewritten


# ----------------------------------------------------------------------------- the CLI
@pytest.mark.parametrize('how', ['cut', 'zeros', 'garbage-file', 'empty', 'no-metadata'])
def test_the_cli_on_damaged_bags(ros: RosEnv, tmp_path: Path,
                                 reference: tuple[Path, list[tuple[str, bytes]]],
                                 how: str) -> None:
    from ior_ros.runtime.bag_mcap_scan import scan_mcap

    folder, written = reference
    size = (folder / f'{folder.name}.mcap').stat().st_size
    chunks = scan_mcap(folder / f'{folder.name}.mcap').chunks
    target = tmp_path / how
    # inside a chunk half way through; zeros (what a power cut can leave) from a third
    cut = {'cut': chunks[len(chunks) // 2].offset + 60,
           'zeros': chunks[len(chunks) // 3].offset + 30}.get(how, size)
    mcap = _damaged_copy(folder, target, cut, b'\0' * 4096 if how == 'zeros' else b'')
    if how == 'garbage-file':
        mcap.write_bytes(b'\x89MCAQ this is not a bag at all' * 50)
    elif how == 'empty':
        mcap.write_bytes(b'')
    elif how == 'no-metadata':
        (target / 'metadata.yaml').unlink()
    info = ros.run_ior('bag', 'info', str(target))
    play = ros.run_ior('bag', 'play', str(target), '--rate', '50')
    for result in (info, play):
        assert 'Traceback' not in result.stdout + result.stderr
    if how in ('garbage-file', 'empty'):
        for result in (info, play, ros.run_ior('bag', 'reindex', str(target))):
            assert result.returncode == 2, result.stdout + result.stderr
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith('ior: error: '), result.stderr
            assert str(mcap) in lines[0]
        return
    assert info.returncode == 0 and play.returncode == 0, info.stderr + play.stderr
    assert len(info.stderr.strip().splitlines()) == 1, info.stderr
    assert len(play.stderr.strip().splitlines()) == 1, play.stderr
    word = 'no metadata.yaml' if how == 'no-metadata' else 'were cut'
    assert word in info.stderr and word in play.stderr
    count = int(info.stdout.split('Messages:')[1].split()[0])
    assert f'Playback finished; {count} messages published' in play.stdout
    if how == 'no-metadata':
        assert count == len(written)
    else:
        assert 0 < count < len(written)
    reindexed = ros.run_ior('bag', 'reindex', str(target))
    assert reindexed.returncode == 0, reindexed.stderr
    assert f'{count} messages' in reindexed.stdout
    again = ros.run_ior('bag', 'info', str(target))
    assert again.returncode == 0 and again.stderr == '', again.stderr
    assert f'Messages:          {count}' in again.stdout
    assert _read_with_rosbags(target) == written[:count]
