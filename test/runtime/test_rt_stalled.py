"""
Publishing tools and publishers facing a subscriber that stalls (its process SIGSTOPped, then
SIGCONT at the end) or vanishes (SIGKILLed, still matched until its DDS lease runs out):
``ior topic pub --times N`` and ``ior bag play`` finish within a bounded time with exit code 0,
name the subscriber in one warning line on stderr, and ``Publisher.wait_for_all_acked`` returns
False (warning once) instead of failing with cyclonedds 11.0.x's AttributeError
(``type object 'Exception' has no attribute 'DDS_RETCODE_TIMEOUT'``).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from rt_helpers import Proc, RosEnv, wait_until

pytestmark = [pytest.mark.xdist_group('dds'), pytest.mark.timeout(300)]

HELPER = str(Path(__file__).resolve().parent / 'rt_seq_helper.py')
STALL = 'did not acknowledge within 2.0 s; continuing'
# publishing ends, 2 s for acknowledgements, the writer lingers while closing (Cyclone), exit:
# generous on a loaded 2-core machine
BOUND_S = 20.0


def _sink(ros: RosEnv, topic: str) -> Proc:
    sink = ros.start(HELPER, 'sub', topic)
    sink.wait_for('^READY$', timeout=120)
    return sink


def _stop(pid: int) -> None:
    """SIGSTOP, and wait until every thread of the process stopped (Linux /proc): the signal is
    delivered asynchronously, and a DDS thread still running could acknowledge meanwhile."""
    os.kill(pid, signal.SIGSTOP)

    def states() -> set[str]:
        found = set()
        for task in Path(f'/proc/{pid}/task').iterdir():
            try:
                found.add(task.joinpath('stat').read_text().rsplit(')', 1)[1].split()[0])
            except (OSError, IndexError):
                continue
        return found

    assert wait_until(lambda: states() <= {'T', 't'}, timeout=10, period=0.005), states()


def _stall(sink: Proc, how: str) -> None:
    if how == 'stopped':
        _stop(sink.pid)
    else:
        os.kill(sink.pid, signal.SIGKILL)


def _resume(sink: Proc) -> None:
    if sink.proc.poll() is None:
        os.kill(sink.pid, signal.SIGCONT)


def _bag(folder: Path, topic: str, count: int, gap_ns: int) -> None:
    """A bag of ``count`` std_msgs/String on ``topic`` (reliable, volatile), ``gap_ns`` apart."""
    from ior_ros.runtime.bag_qos import qos_to_rosbags
    from ior_ros.runtime.bag_writers import McapBagWriter
    from ior_ros.runtime.qos import QoSProfile
    from ior_ros.runtime.registry import registry

    reg = registry()
    writer = McapBagWriter(folder, fsync=False)
    key = writer.add_topic(topic, 'std_msgs/msg/String',
                           reg.message_definition('std_msgs/msg/String'),
                           reg.type_hash('std_msgs/msg/String'),
                           [qos_to_rosbags(QoSProfile(depth=10))])
    cls = reg.get_class('std_msgs/msg/String')
    for i in range(count):
        writer.write(key, 1_790_000_000_000_000_000 + i * gap_ns,
                     reg.serialize(cls(data=f'played {i}'), 'std_msgs/msg/String'))
    writer.close()


@pytest.mark.parametrize('how', ['stopped', 'killed'])
def test_topic_pub_times_finishes_past_a_stalled_subscriber(ros: RosEnv, how: str) -> None:
    sink = _sink(ros, '/stall')
    pub = ros.ior('topic', 'pub', '/stall', 'std_msgs/msg/String', '{data: hi}', '--times', '5',
                  '-r', '5')
    try:
        sink.wait_for('^GOT hi$', timeout=120)
        _stall(sink, how)
        start = time.monotonic()
        assert pub.wait(timeout=120) == 0, pub.text()
        elapsed = time.monotonic() - start
    finally:
        _resume(sink)
    assert elapsed < BOUND_S, elapsed
    assert len(pub.matches(r'^publishing #\d')) == 5, pub.text()
    stalls = pub.matches(STALL)
    assert len(stalls) == 1, pub.text()
    assert 'subscriber /stall_sink on /stall' in stalls[0].string, stalls[0].string
    assert 'Traceback' not in pub.text() and 'AttributeError' not in pub.text()


@pytest.mark.parametrize('how', ['stopped', 'killed'])
def test_bag_play_finishes_past_a_stalled_subscriber(ros: RosEnv, tmp_path: Path,
                                                     how: str) -> None:
    bag = tmp_path / 'stall_bag'
    _bag(bag, '/stall', 40, 50_000_000)  # 2 s of data
    sink = _sink(ros, '/stall')
    play = ros.ior('bag', 'play', str(bag), '--wait-for-subscribers', '60', '--no-progress')
    try:
        sink.wait_for('^GOT played 0$', timeout=120)
        _stall(sink, how)
        start = time.monotonic()
        assert play.wait(timeout=120) == 0, play.text()
        elapsed = time.monotonic() - start
    finally:
        _resume(sink)
    assert elapsed < 2.0 + BOUND_S, elapsed
    assert 'Playback finished; 40 messages published' in play.text()
    stalls = play.matches(STALL)
    assert len(stalls) == 1, play.text()
    assert 'subscriber /stall_sink on /stall' in stalls[0].string, stalls[0].string
    assert 'Traceback' not in play.text()


def test_publisher_wait_for_all_acked_returns_false_then_true(
        ros: RosEnv, capfd: pytest.CaptureFixture[str]) -> None:
    from ior_ros.runtime import get_message
    from ior_ros.runtime.clock import Duration
    from ior_ros.runtime.context import Context
    from ior_ros.runtime.node import Node

    sink = _sink(ros, '/acked')
    context = Context()
    context.init([])
    node = Node('acker', context=context, start_parameter_services=False)
    string = get_message('std_msgs/msg/String')
    publisher = node.create_publisher(string, '/acked', 10)
    try:
        deadline = time.monotonic() + 120
        while publisher.get_subscription_count() < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        publisher.publish(string(data='first'))
        sink.wait_for('^GOT first$', timeout=60)
        assert publisher.wait_for_all_acked(Duration(seconds=5)) is True
        _stop(sink.pid)
        publisher.publish(string(data='while stopped'))
        start = time.monotonic()
        assert publisher.wait_for_all_acked(Duration(seconds=1)) is False
        assert publisher.wait_for_all_acked(Duration(seconds=0.5)) is False
        assert time.monotonic() - start < 10
        os.kill(sink.pid, signal.SIGCONT)
        assert publisher.wait_for_all_acked(Duration(seconds=30)) is True
        sink.wait_for('^GOT while stopped$', timeout=60)
    finally:
        _resume(sink)
        node.destroy_node()
        context.shutdown()
    err = capfd.readouterr().err
    assert err.count('did not acknowledge within') == 1, err  # reported once per publisher
    # named by its reader GUID here: this node's graph readers, created after the stop, cannot
    # get the stopped process's ros_discovery_info (the tools create theirs at start)
    assert 'on /acked did not acknowledge within 1.0 s' in err, err
