"""
Bags without ROS 2: ``ior bag record -s sqlite3`` → info → play, bags in the forms rosbag2 writes
(Jazzy's version 9 and older version 8 metadata, custom types carried by definition, a topic with
several types, a type without definition) played into raw DDS readers, the QoS profiles as Jazzy
writes and reads them, and bags that cannot be read (one error line, exit 2).
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from rt_helpers import RosEnv, wait_until

from ior_ros.runtime.messages import message_to_dict, registry

pytestmark = [pytest.mark.xdist_group('dds'), pytest.mark.timeout(300)]

HELPER = str(Path(__file__).resolve().parent / 'rt_bag_helper.py')
COUNT = 20
GAP_S = 0.04
INFINITE = {'sec': 9223372036, 'nsec': 854775807}  # Jazzy's RMW_DURATION_INFINITE in a bag

# a type no registry knows, with a nested type of its own package (the bag carries both)
THING = 'bagtest_pkg/msg/Thing'
THING_MSG = 'string name\nint32 value\nbagtest_pkg/Inner inner\nfloat64[] samples\n'
INNER_MSG = 'float64 x\nuint8 flag\n'
# what Jazzy's recorder stored for a transient-local publisher (metadata.yaml, version 9)
JAZZY_QOS = """\
- history: keep_last
  depth: 10
  reliability: reliable
  durability: transient_local
  deadline:
    sec: 9223372036
    nsec: 854775807
  lifespan:
    sec: 9223372036
    nsec: 854775807
  liveliness: automatic
  liveliness_lease_duration:
    sec: 9223372036
    nsec: 854775807
  avoid_ros_namespace_conventions: false
"""
# what a Humble (version 5..8) recorder stored: a YAML string, integer enums, the Foxy-era
# Fast DDS infinity for the durations; best effort, volatile
HUMBLE_QOS = ('- history: 3\n  depth: 0\n  reliability: 2\n  durability: 2\n'
              '  deadline:\n    sec: 2147483647\n    nsec: 4294967295\n'
              '  lifespan:\n    sec: 2147483647\n    nsec: 4294967295\n  liveliness: 1\n'
              '  liveliness_lease_duration:\n    sec: 2147483647\n    nsec: 4294967295\n'
              '  avoid_ros_namespace_conventions: false\n')


def plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def decoded(data: bytes, typename: str) -> Any:
    return plain(message_to_dict(registry().deserialize(data, typename)))


# ----------------------------------------------------------------------------- record sqlite3
def test_sqlite3_record_info_play_round_trip(ros: RosEnv, tmp_path: Path) -> None:
    bag = tmp_path / 'session'
    recorder = ros.ior('bag', 'record', '-s', 'sqlite3', '-o', str(bag), '/bag/text',
                       '/bag/pose')
    source = ros.start(HELPER, 'source', str(COUNT), str(GAP_S))
    recorder.wait_for("Subscribed to topic '/bag/pose'", timeout=120)
    source.wait_for('^DONE$', timeout=120)
    assert recorder.interrupt() == 0, recorder.text()

    # the storage as Jazzy's sqlite3 plugin writes it: schema 4, definitions, QoS text
    meta = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert meta['storage_identifier'] == 'sqlite3' and meta['version'] == 9
    assert meta['relative_file_paths'] == ['session.db3']
    with sqlite3.connect(bag / 'session.db3') as db:
        assert db.execute('SELECT schema_version FROM schema').fetchone()[0] == 4
        definitions = dict(db.execute(
            'SELECT topic_type, encoded_message_definition FROM message_definitions'))
        stored_qos = dict(db.execute('SELECT name, offered_qos_profiles FROM topics'))
        assert db.execute('SELECT count(*) FROM messages').fetchone()[0] == 2 * COUNT
    assert set(definitions) == {'std_msgs/msg/String', 'geometry_msgs/msg/PoseStamped'}
    assert 'MSG: std_msgs/Header' in definitions['geometry_msgs/msg/PoseStamped']
    for topic in meta['topics_with_message_count']:
        profiles = topic['topic_metadata']['offered_qos_profiles']
        assert isinstance(profiles, list) and len(profiles) == 1  # Jazzy: a list, not a string
        assert profiles[0]['reliability'] == 'reliable'
        assert profiles[0]['durability'] == 'volatile'
        assert profiles[0]['history'] == 'keep_last' and profiles[0]['depth'] == 100
        assert profiles[0]['deadline'] == INFINITE and profiles[0]['lifespan'] == INFINITE
        assert profiles[0]['liveliness'] == 'automatic'
        assert yaml.safe_load(stored_qos[topic['topic_metadata']['name']]) == profiles

    info = ros.run_ior('bag', 'info', str(bag))
    assert info.returncode == 0, info.stderr
    assert re.search(r'Storage id:\s+sqlite3', info.stdout)
    assert re.search(r'Messages:\s+40\b', info.stdout)
    assert re.search(r'Topic: /bag/text\s*\| Type: std_msgs/msg/String \| Count: 20 ', info.stdout)
    duration = meta['duration']['nanoseconds']
    assert f'Duration:          {duration // 10**9}.{duration % 10**9:09d}s' in info.stdout

    out = tmp_path / 'played.json'
    sink = ros.start(HELPER, 'sink', str(2 * COUNT), str(out))
    sink.wait_for('^READY$', timeout=120)
    play = ros.run_ior('bag', 'play', str(bag), '--rate', '2', '--wait-for-subscribers', '60',
                       '--no-progress', timeout=180)
    assert play.returncode == 0, play.stderr
    assert f'Playback finished; {2 * COUNT} messages published' in play.stdout
    sink.wait_for('^DONE$', timeout=120)
    played = json.loads(out.read_text())
    assert [p['value'] for p in played if p['topic'] == '/bag/text'] == \
        [f'item {i}' for i in range(COUNT)]
    assert [p['value'] for p in played if p['topic'] == '/bag/pose'] == \
        [[i, i / 2, 'map'] for i in range(COUNT)]


# ----------------------------------------------------------------------------- bag forms
def _write_bag(path: Path, storage: str, version: int) -> dict[str, list[tuple[str, bytes]]]:
    """A bag as rosbag2 writes it (rosbags' writer); returns {topic: [(type, cdr), ...]}."""
    from rosbags.interfaces import (
        Qos,
        QosDurability,
        QosHistory,
        QosLiveliness,
        QosReliability,
        QosTime,
    )
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    types = get_types_from_msg(THING_MSG, THING)
    types.update(get_types_from_msg(INNER_MSG, 'bagtest_pkg/msg/Inner'))
    store.register(types)
    forever = QosTime(sec=INFINITE['sec'], nsec=INFINITE['nsec'])

    def qos(reliability: Any, durability: Any) -> Qos:
        return Qos(QosHistory.KEEP_LAST, 10, reliability, durability, forever, forever,
                   QosLiveliness.AUTOMATIC, forever, False)

    latched = qos(QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL)
    fast = qos(QosReliability.BEST_EFFORT, QosDurability.VOLATILE)
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    written: dict[str, list[tuple[str, bytes]]] = {}
    with Writer(path, version=version, storage_plugin=plugin) as writer:  # type: ignore[arg-type]
        thing = writer.add_connection('/thing', THING, typestore=store,
                                      offered_qos_profiles=[latched])
        text = writer.add_connection('/multi', 'std_msgs/msg/String', typestore=store)
        number = writer.add_connection('/multi', 'std_msgs/msg/Int64', typestore=store)
        nodef = writer.add_connection('/nodef', 'bagtest_pkg/msg/Missing', msgdef='',
                                      rihs01='RIHS01_' + '0' * 64)
        best = writer.add_connection('/fast', 'std_msgs/msg/Float64', typestore=store,
                                     offered_qos_profiles=[fast])
        cls = store.types
        stamp = 1_700_000_000_000_000_000
        for i in range(6):
            items = [
                (thing, THING, cls[THING](name=f'thing {i}', value=-i, inner=cls[
                    'bagtest_pkg/msg/Inner'](x=i / 4, flag=i), samples=np.arange(i, dtype=float))),
                (text, 'std_msgs/msg/String', cls['std_msgs/msg/String'](data=f'text {i}')),
                (number, 'std_msgs/msg/Int64', cls['std_msgs/msg/Int64'](data=100 + i)),
                (best, 'std_msgs/msg/Float64', cls['std_msgs/msg/Float64'](data=i * 1.5))]
            for conn, typename, msg in items:
                data = bytes(store.serialize_cdr(msg, typename))
                writer.write(conn, stamp, data)
                written.setdefault(conn.topic, []).append((typename, data))
                stamp += 10_000_000
            writer.write(nodef, stamp, b'\x00\x01\x00\x00\x05\x00\x00\x00')
            stamp += 10_000_000
    return written


@pytest.mark.parametrize('version', [9, 8])
@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_play_registers_types_from_the_bag_and_offers_the_recorded_qos(
        ros: RosEnv, tmp_path: Path, storage: str, version: int) -> None:
    from ior_ros.runtime.bag_info import info
    from ior_ros.runtime.dds import DdsContext
    from ior_ros.runtime.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    bag = tmp_path / f'forms_{storage}_{version}'
    written = _write_bag(bag, storage, version)
    meta = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    first = meta['topics_with_message_count'][0]['topic_metadata']['offered_qos_profiles']
    assert isinstance(first, list if version == 9 else str)

    text = io.StringIO()
    summary = info(bag, out=text)
    assert summary.storage == storage and summary.message_count == 30
    assert ('/multi', 'std_msgs/msg/Int64', 6, 'cdr') in summary.topics
    assert ('/multi', 'std_msgs/msg/String', 6, 'cdr') in summary.topics
    assert 'ROS Distro:        rosbags' in text.getvalue()

    # our readers know the custom type (the ior bag play process does not)
    registry().register_definitions({THING: ('test', THING_MSG),
                                     'bagtest_pkg/msg/Inner': ('test', INNER_MSG)})
    ctx = DdsContext()
    try:
        readers = {
            ('/thing', THING): ctx.create_reader(  # only a transient-local writer matches
                '/thing', THING, QoSProfile(depth=100,
                                            durability=DurabilityPolicy.TRANSIENT_LOCAL)),
            ('/multi', 'std_msgs/msg/String'): ctx.create_reader(
                '/multi', 'std_msgs/msg/String', QoSProfile(depth=100)),
            ('/multi', 'std_msgs/msg/Int64'): ctx.create_reader(
                '/multi', 'std_msgs/msg/Int64', QoSProfile(depth=100)),
            ('/fast', 'std_msgs/msg/Float64'): ctx.create_reader(
                '/fast', 'std_msgs/msg/Float64', QoSProfile(
                    depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)),
        }
        # matches only a reliable writer: must stay empty, the bag recorded best effort
        reliable_fast = ctx.create_reader('/fast', 'std_msgs/msg/Float64', QoSProfile(depth=100))
        play = ros.run_ior('bag', 'play', str(bag), '--wait-for-subscribers', '60',
                           '--no-progress', timeout=180)
        assert play.returncode == 0, play.stderr + play.stdout
        skipped = [line for line in play.stdout.splitlines() if 'skipping' in line]
        assert len(skipped) == 1 and "'/nodef'" in skipped[0] and \
            'bagtest_pkg/msg/Missing' in skipped[0], play.stdout
        assert 'Playback finished; 24 messages published' in play.stdout
        got: dict[tuple[str, str], list[bytes]] = {key: [] for key in readers}

        def all_arrived() -> bool:
            for key, reader in readers.items():
                got[key].extend(data for data, _ in reader.take())
            return all(len(items) == 6 for items in got.values())

        assert wait_until(all_arrived, timeout=30), {k: len(v) for k, v in got.items()}
        assert reliable_fast.take() == []
    finally:
        ctx.close()
    for (topic, typename), items in got.items():
        expected = [decoded(data, t) for t, data in written[topic] if t == typename]
        assert [decoded(data, typename) for data in items] == expected, topic
    assert decoded(got[('/thing', THING)][3], THING)['inner'] == {'x': 0.75, 'flag': 3}


@pytest.mark.parametrize('mode', ['file', 'message'])
def test_zstd_compressed_bags_play(ros: RosEnv, tmp_path: Path, mode: str) -> None:
    """``ros2 bag record --compression-format zstd --compression-mode file|message``."""
    from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    from ior_ros.runtime.bag_info import info
    from ior_ros.runtime.bag_play import play

    store = get_typestore(Stores.ROS2_JAZZY)
    bag = tmp_path / f'zstd_{mode}'
    writer = Writer(bag, version=9, storage_plugin=StoragePlugin.SQLITE3)
    writer.set_compression(CompressionMode[mode.upper()], CompressionFormat.ZSTD)
    with writer:
        conn = writer.add_connection('/z', 'std_msgs/msg/String', typestore=store)
        for i in range(5):
            writer.write(conn, 1_000 + i * 1_000_000, bytes(store.serialize_cdr(
                store.types['std_msgs/msg/String'](data=f'z {i}'), 'std_msgs/msg/String')))
    if mode == 'file':
        assert [f.name for f in bag.iterdir() if f.suffix == '.zstd'] == [f'zstd_{mode}.db3.zstd']
    text = io.StringIO()
    assert info(bag, out=text).message_count == 5
    assert f'Compression:       zstd/{mode}' in text.getvalue()
    played: list[str] = []
    assert play(bag, rate=10, out=io.StringIO(),
                on_message=lambda topic, _stamp: played.append(topic)) == 5
    assert played == ['/z'] * 5


def test_qos_profiles_in_the_form_jazzy_writes_and_older_forms() -> None:
    from rosbags.rosbag2.metadata import dump_qos_v9, parse_qos

    from ior_ros.runtime.bag_qos import playback_qos, qos_from_rosbags, qos_to_rosbags
    from ior_ros.runtime.qos import (
        DurabilityPolicy,
        HistoryPolicy,
        QoSProfile,
        ReliabilityPolicy,
        qos_profile_sensor_data,
    )

    latched = QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    assert dump_qos_v9([qos_to_rosbags(latched)]) == yaml.safe_load(JAZZY_QOS)
    assert qos_from_rosbags(parse_qos(yaml.safe_load(JAZZY_QOS))[0]) == latched.with_(
        liveliness=1)
    humble = qos_from_rosbags(parse_qos(HUMBLE_QOS)[0])
    assert humble.reliability == ReliabilityPolicy.BEST_EFFORT
    assert humble.durability == DurabilityPolicy.VOLATILE
    assert (humble.deadline_ns, humble.lifespan_ns, humble.liveliness_lease_duration_ns) == \
        (0, 0, 0)  # the old infinity is infinite, not 68 years
    finite = qos_to_rosbags(QoSProfile(depth=1, lifespan=10 * 10**9, deadline=1_500_000_000))
    assert (finite.lifespan.sec, finite.deadline.sec, finite.deadline.nsec) == (10, 1, 500_000_000)

    # play: the recorded profile when every publisher offered the same, else the default
    warnings: list[str] = []
    same = playback_qos(parse_qos(yaml.safe_load(JAZZY_QOS)) * 2, '/t', warnings.append)
    assert same.durability == DurabilityPolicy.TRANSIENT_LOCAL and same.depth == 10
    assert same.history == HistoryPolicy.KEEP_LAST and not warnings
    sensor = playback_qos([qos_to_rosbags(qos_profile_sensor_data)], '/s', warnings.append)
    assert sensor.reliability == ReliabilityPolicy.BEST_EFFORT and sensor.depth == 100
    mixed = playback_qos(parse_qos(yaml.safe_load(JAZZY_QOS)) + parse_qos(HUMBLE_QOS), '/m',
                         warnings.append)
    assert (mixed.reliability, mixed.durability) == (ReliabilityPolicy.RELIABLE,
                                                     DurabilityPolicy.VOLATILE)
    assert len(warnings) == 1 and '/m' in warnings[0]


def test_record_reports_a_topic_with_several_types_once(ros: RosEnv, tmp_path: Path) -> None:
    text = ros.ior('topic', 'pub', '/multi', 'std_msgs/msg/String', '{data: a}', '-r', '10')
    number = ros.ior('topic', 'pub', '/multi', 'std_msgs/msg/Int64', '{data: 1}', '-r', '10')
    single = ros.ior('topic', 'pub', '/single', 'std_msgs/msg/Bool', '{data: true}', '-r', '10')
    bag = tmp_path / 'several'
    recorder = ros.ior('bag', 'record', '-s', 'sqlite3', '-o', str(bag), '/multi', '/single')
    recorder.wait_for("Subscribed to topic '/single'", timeout=120)
    recorder.wait_for(r"'/multi': it has more than one type \(std_msgs/msg/Int64, "
                      r'std_msgs/msg/String\)', timeout=60)
    assert recorder.interrupt() == 0, recorder.text()
    assert len(recorder.matches('more than one type')) == 1, recorder.text()
    for proc in (text, number, single):
        proc.interrupt()


# ----------------------------------------------------------------------------- bad bags
def _damage(bag: Path, how: str) -> Path:
    """The file the error must name."""
    meta = bag / 'metadata.yaml'
    if how == 'storage':
        meta.write_text(meta.read_text().replace('storage_identifier: sqlite3',
                                                 'storage_identifier: rosbag_v1'))
        return meta
    target = next(bag.glob('*.db3'), None) or next(bag.glob('*.mcap'))
    if how == 'garbage':
        target.write_bytes(b'this is not a database at all' * 100)
    else:  # truncated
        target.write_bytes(target.read_bytes()[:2048])
    return target


@pytest.mark.parametrize('storage,how', [('sqlite3', 'storage'), ('sqlite3', 'garbage'),
                                         ('sqlite3', 'truncated'), ('mcap', 'garbage')])
# (a truncated MCAP file is read up to its last complete message: test_rt_bag_damaged.py)
def test_an_unreadable_bag_is_one_error_line(ros: RosEnv, tmp_path: Path, storage: str,
                                              how: str) -> None:
    bag = tmp_path / 'broken'
    _write_bag(bag, storage, 9)
    culprit = _damage(bag, how)
    for verb in ('info', 'play'):
        result = ros.run_ior('bag', verb, str(bag))
        assert result.returncode == 2, (verb, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith('ior: error: '), result.stderr
        assert str(culprit) in lines[0], lines[0]
        assert 'Traceback' not in result.stderr + result.stdout


def test_record_refuses_an_unknown_storage(ros: RosEnv, tmp_path: Path) -> None:
    result = ros.run_ior('bag', 'record', '-s', 'rosbag_v1', '-o', str(tmp_path / 'x'), '/x')
    assert result.returncode == 2
    assert "invalid choice: 'rosbag_v1'" in result.stderr
    assert not (tmp_path / 'x').exists()
