"""ior bag record → play round trip across processes; the bag opens with rosbags and mcap."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from rt_helpers import RosEnv

pytestmark = [pytest.mark.xdist_group('dds'), pytest.mark.timeout(300)]

HELPER = str(Path(__file__).resolve().parent / 'rt_bag_helper.py')
COUNT = 30
GAP_S = 0.04


def _expected() -> dict[str, list[object]]:
    return {'/bag/text': [f'item {i}' for i in range(COUNT)],
            '/bag/pose': [[i, i / 2, 'map'] for i in range(COUNT)]}


def test_record_play_round_trip(ros: RosEnv, tmp_path: Path) -> None:
    bag = tmp_path / 'session'
    recorder = ros.ior('bag', 'record', '-o', str(bag), '/bag/text', '/bag/pose')
    source = ros.start(HELPER, 'source', str(COUNT), str(GAP_S))
    recorder.wait_for("Subscribed to topic '/bag/pose'", timeout=120)
    source.wait_for('^DONE$', timeout=120)
    assert recorder.interrupt() == 0, recorder.text()
    assert (bag / 'metadata.yaml').is_file()

    # 1. rosbags: count, content and order
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    recorded: dict[str, list[object]] = {'/bag/text': [], '/bag/pose': []}
    stamps = []
    with Reader(bag) as reader:
        assert reader.message_count == 2 * COUNT
        for conn, stamp, raw in reader.messages():
            stamps.append(stamp)
            msg = store.deserialize_cdr(raw, conn.msgtype)
            if conn.topic == '/bag/text':
                recorded[conn.topic].append(msg.data)
            else:
                recorded[conn.topic].append([msg.header.stamp.sec, msg.pose.position.x,
                                             msg.header.frame_id])
        types = {c.topic: c.msgtype for c in reader.connections}
    assert recorded == _expected()
    assert stamps == sorted(stamps)
    assert types == {'/bag/text': 'std_msgs/msg/String',
                     '/bag/pose': 'geometry_msgs/msg/PoseStamped'}

    # 2. the mcap library's ROS 2 decoder reads the same messages from the schemas in the file
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    decoded: dict[str, list[object]] = {'/bag/text': [], '/bag/pose': []}
    files = list(bag.glob('*.mcap'))
    assert len(files) == 1
    with files[0].open('rb') as handle:
        for schema, channel, _message, msg in make_reader(
                handle, decoder_factories=[DecoderFactory()]).iter_decoded_messages():
            assert schema.encoding == 'ros2msg' and channel.message_encoding == 'cdr'
            if channel.topic == '/bag/text':
                decoded[channel.topic].append(msg.data)
            else:
                decoded[channel.topic].append([msg.header.stamp.sec, msg.pose.position.x,
                                               msg.header.frame_id])
    assert decoded == _expected()

    # 3. ior bag info
    info = ros.run_ior('bag', 'info', str(bag))
    assert info.returncode == 0, info.stderr
    assert re.search(r'Messages:\s+60', info.stdout)
    assert re.search(r'Topic: /bag/pose\s*\| Type: geometry_msgs/msg/PoseStamped \| Count: 30',
                     info.stdout), info.stdout

    # 4. play at twice the speed into a subscriber in another process
    out = tmp_path / 'played.json'
    sink = ros.start(HELPER, 'sink', str(2 * COUNT), str(out))
    sink.wait_for('^READY$', timeout=120)
    play = ros.run_ior('bag', 'play', str(bag), '--rate', '2', '--wait-for-subscribers', '60',
                       '--no-progress', timeout=180)
    assert play.returncode == 0, play.stderr
    assert 'Playback finished; 60 messages published' in play.stdout
    sink.wait_for('^DONE$', timeout=120)
    played = json.loads(out.read_text())
    by_topic: dict[str, list[object]] = {'/bag/text': [], '/bag/pose': []}
    for item in played:
        by_topic[item['topic']].append(item['value'])
    assert by_topic == _expected()
    # timing: the recorded span divided by the rate (play never sends early; slack for load)
    recorded_span = (stamps[-1] - stamps[0]) / 1e9
    played_span = played[-1]['t'] - played[0]['t']
    assert played_span >= 0.8 * recorded_span / 2, (played_span, recorded_span)
    assert played_span <= recorded_span / 2 + 1.5, (played_span, recorded_span)


def test_record_refuses_an_existing_folder_and_play_needs_a_bag(ros: RosEnv,
                                                                tmp_path: Path) -> None:
    result = ros.run_ior('bag', 'record', '-o', str(tmp_path), '/x')
    assert result.returncode == 2
    assert 'already exists' in result.stderr
    result = ros.run_ior('bag', 'play', str(tmp_path))
    assert result.returncode == 2
    assert 'not a rosbag2 folder' in result.stderr
