"""
Crash-recovered bags with the real rosbag2 of ROS 2 Jazzy (marked ``ros2``):

* a bag of ``ior bag record`` killed with SIGKILL, after ``ior bag reindex``: ``ros2 bag info``
  counts what rosbags reads and ``ros2 bag play`` republishes every recovered message, in
  order, into an rclpy subscriber;
* a ``ros2 bag record`` bag closed normally: ``ior bag info`` reads it without a note, and
  ``ior bag reindex`` rebuilds the metadata.yaml rosbag2 wrote (same counts, times, topics, QoS,
  hashes, distro) without rewriting the file;
* ``ros2 bag record`` killed with SIGKILL (Jazzy leaves a 0-byte MCAP file and no metadata):
  ``ior bag reindex`` says in one line what it found, and never shows a traceback.

(A ``ros2 bag record`` bag closed normally is read by ``ior bag info``/``play`` without any
warning: test_ros2_bags.py.)
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest
import yaml
from rt_helpers import RosEnv
from test_rt_bag_crash import HELPER, _check, _record_and_kill, _recovered

pytestmark = [pytest.mark.ros2, pytest.mark.xdist_group('dds'), pytest.mark.timeout(600)]

SINK = """
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.qos import QoSProfile
from std_msgs.msg import String

rclpy.init()
node = rclpy.create_node('crash_sink')
node.create_subscription(String, '/seq', lambda msg: print('GOT', msg.data, flush=True),
                         QoSProfile(depth=1000))
print('READY', flush=True)
try:
    rclpy.spin(node)
except (KeyboardInterrupt, ExternalShutdownException):
    pass
"""


def test_a_crash_recovered_bag_plays_into_ros2(ros: RosEnv, tmp_path: Path) -> None:
    crashes, sent = _record_and_kill(ros, tmp_path, 20, [2.0])
    outcome = _check(ros, crashes[0], sent, ros2=True)  # ros2 bag info included
    assert outcome.recovered >= 10
    recovered = _recovered(crashes[0].bag)
    sink = ros.rclpy(SINK)
    sink.wait_for('^READY$', timeout=90)
    play = ros.run_ros2('bag', 'play', str(crashes[0].bag), '--delay', '2',
                        '--disable-keyboard-controls', '--wait-for-all-acked', '5000')
    assert play.returncode == 0, play.stdout + play.stderr
    sink.wait_for('^GOT ', timeout=60, count=len(recovered))
    got = [(int(m.group(1)), int(m.group(2))) for m in sink.matches(r'^GOT (\d+) (\d+)$')]
    assert got == recovered


def test_reindex_rebuilds_the_metadata_of_a_ros2_bag(ros: RosEnv, tmp_path: Path) -> None:
    publisher = ros.start(HELPER, 'pub', '20', str(tmp_path / 'sent.json'))
    publisher.wait_for('^PUBLISHING$', timeout=120)
    bag = tmp_path / 'closed_by_ros2'
    recorder = ros.ros2('bag', 'record', '-s', 'mcap', '-o', str(bag), '/seq')
    recorder.wait_for("Subscribed to topic '/seq'", timeout=120)
    time.sleep(2.0)
    assert recorder.interrupt() == 0, recorder.text()
    publisher.interrupt()
    info = ros.run_ior('bag', 'info', str(bag))  # a whole rosbag2 file: no note at all
    assert info.returncode == 0 and info.stderr == '', info.stderr
    original = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    (bag / 'metadata.yaml').unlink()
    reindexed = ros.run_ior('bag', 'reindex', str(bag))
    assert reindexed.returncode == 0, reindexed.stderr
    assert not list(bag.glob('*.orig'))  # nothing to repair
    rebuilt = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    for key in ('version', 'storage_identifier', 'duration', 'starting_time', 'message_count',
                'topics_with_message_count', 'relative_file_paths', 'files', 'ros_distro'):
        assert rebuilt[key] == original[key], key
    real = ros.run_ros2('bag', 'info', str(bag))
    assert real.returncode == 0, real.stderr
    assert re.search(rf"^Messages:\s+{original['message_count']}$", real.stdout, re.M)


def test_a_killed_ros2_recorder_gets_one_line_from_reindex(ros: RosEnv, tmp_path: Path) -> None:
    publisher = ros.start(HELPER, 'pub', '20', str(tmp_path / 'sent.json'))
    publisher.wait_for('^PUBLISHING$', timeout=120)
    bag = tmp_path / 'by_ros2'
    recorder = ros.ros2('bag', 'record', '-s', 'mcap', '-o', str(bag), '/seq')
    recorder.wait_for("Subscribed to topic '/seq'", timeout=120)
    time.sleep(3.0)
    os.killpg(recorder.pid, signal.SIGKILL)
    recorder.wait(timeout=30)
    publisher.interrupt()
    left = {f.name: f.stat().st_size for f in bag.iterdir()}
    print(f'\nros2 bag record killed after 3 s at 20 Hz left {left}')
    result = ros.run_ior('bag', 'reindex', str(bag))
    assert 'Traceback' not in result.stdout + result.stderr
    if result.returncode == 0:  # it kept something: the bag opens with both tools
        assert ros.run_ior('bag', 'info', str(bag)).returncode == 0
        assert ros.run_ros2('bag', 'info', str(bag)).returncode == 0
    else:
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and re.search(r'empty|not an MCAP|no bag storage', lines[0]), \
            result.stderr
