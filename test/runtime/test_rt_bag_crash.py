"""
``ior bag record`` killed with SIGKILL at random moments while a publisher process sends
sequence-numbered messages (20 Hz and 1 kHz): after ``ior bag reindex`` every bag opens with
``ior bag info`` and ``ior bag play`` (and the real ``ros2 bag info`` when ROS 2 is installed),
and the messages recovered are a run of consecutive sequence numbers that holds every message
published from discovery until ``LOSS_BOUND_S`` before the kill.

The short tests run three moments (MCAP) and one with sqlite3; the ``slow`` one runs 20 random
moments at each rate and prints the largest loss per rate (seconds before the kill of the last
recovered message's send time, and messages sent before the kill but not recovered).
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rt_ros2
from rt_helpers import RosEnv

pytestmark = [pytest.mark.xdist_group('dds'), pytest.mark.timeout(1800)]

HELPER = str(Path(__file__).resolve().parent / 'rt_seq_helper.py')
LOSS_BOUND_S = 1.0  # the recorder writes every 0.5 s by default: the last second at most
DISCOVERY_S = 1.0  # from the recorder's "Subscribed" line until it matched the publisher


@dataclass
class Crash:
    """One recording killed ``moment_s`` after it subscribed."""

    bag: Path
    subscribed_ns: int
    killed_ns: int


@dataclass
class Outcome:
    """What one crash left, as read after reindex."""

    recovered: int
    loss_s: float  # kill time - send time of the last recovered message (since subscribing if
    # none was recovered)
    lost: int  # messages sent before the kill and after the last recovered one


def _record_and_kill(ros: RosEnv, tmp_path: Path, rate_hz: int, moments_s: list[float],
                     storage: str = 'mcap') -> tuple[list[Crash], list[int]]:
    """Start the publisher, then one recorder per moment, each SIGKILLed at its moment;
    returns the crashes and the publisher's send times (index = sequence number)."""
    sent_file = tmp_path / f'sent_{rate_hz}_{storage}.json'
    publisher = ros.start(HELPER, 'pub', str(rate_hz), str(sent_file))
    publisher.wait_for('^PUBLISHING$', timeout=120)
    crashes = []
    for index, moment in enumerate(moments_s):
        bag = tmp_path / f'bag_{storage}_{rate_hz}_{index}'
        recorder = ros.ior('bag', 'record', '-s', storage, '-o', str(bag), '/seq')
        recorder.wait_for("Subscribed to topic '/seq'", timeout=120)
        subscribed = time.time_ns()
        time.sleep(moment)
        killed = time.time_ns()
        os.kill(recorder.pid, signal.SIGKILL)
        recorder.wait(timeout=30)
        crashes.append(Crash(bag, subscribed, killed))
    assert publisher.interrupt() == 0, publisher.text()
    publisher.wait_for('^DONE$', timeout=30)
    return crashes, json.loads(sent_file.read_text())


def _recovered(bag: Path) -> list[tuple[int, int]]:
    """(sequence number, send time ns) of every message in the bag, read with rosbags."""
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    out = []
    with Reader(bag) as reader:
        for conn, _stamp, data in reader.messages():
            seq, sent = store.deserialize_cdr(bytes(data), conn.msgtype).data.split()
            out.append((int(seq), int(sent)))
    return out


def _check(ros: RosEnv, crash: Crash, sent: list[int], ros2: bool) -> Outcome:
    """Reindex the bag, open it with every tool, and check what it holds."""
    reindexed = ros.run_ior('bag', 'reindex', str(crash.bag))
    assert reindexed.returncode == 0, reindexed.stdout + reindexed.stderr
    recovered = _recovered(crash.bag)
    seqs = [s for s, _ in recovered]
    # a run of consecutive sequence numbers, each with the time it was sent (nothing invented)
    if seqs:
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs[:20]
    assert all(sent[s] == t and t < crash.killed_ns for s, t in recovered)
    # every message sent from discovery until LOSS_BOUND_S before the kill is there
    first, last_due = crash.subscribed_ns + DISCOVERY_S * 1e9, crash.killed_ns - LOSS_BOUND_S * 1e9
    must = [i for i, t in enumerate(sent) if first <= t <= last_due]
    assert set(must) <= set(seqs), (len(must), len(seqs), crash)
    last = recovered[-1][1] if recovered else crash.subscribed_ns
    loss_s = (crash.killed_ns - last) / 1e9
    lost = sum(1 for s, t in enumerate(sent)
               if t < crash.killed_ns and s > (seqs[-1] if seqs else -1) and
               t >= crash.subscribed_ns)

    info = ros.run_ior('bag', 'info', str(crash.bag))
    assert info.returncode == 0 and info.stderr == '', info.stdout + info.stderr
    assert re.search(rf'^Messages:\s+{len(seqs)}$', info.stdout, re.M), info.stdout
    play = ros.run_ior('bag', 'play', str(crash.bag), '--rate', '50', '--no-progress')
    assert play.returncode == 0, play.stdout + play.stderr
    assert f'Playback finished; {len(seqs)} messages published' in play.stdout, play.stdout
    if ros2:
        real = ros.run_ros2('bag', 'info', str(crash.bag))
        assert real.returncode == 0, real.stdout + real.stderr
        assert re.search(rf'^Messages:\s+{len(seqs)}$', real.stdout, re.M), real.stdout
    return Outcome(len(seqs), loss_s, lost)


def test_a_killed_recorder_leaves_a_bag_that_reindex_makes_whole(ros: RosEnv,
                                                                  tmp_path: Path) -> None:
    crashes, sent = _record_and_kill(ros, tmp_path, 20, [1.7])
    fast, fast_sent = _record_and_kill(ros, tmp_path, 1000, [0.05, 2.3])
    # before reindex: info reads the cut file as it is and says so (one line)
    before = ros.run_ior('bag', 'info', str(fast[1].bag))
    assert before.returncode == 0, before.stderr
    assert len(before.stderr.strip().splitlines()) == 1 and 'not closed' in before.stderr, \
        before.stderr
    outcomes = [_check(ros, c, sent, False) for c in crashes]
    outcomes += [_check(ros, c, fast_sent, False) for c in fast]
    assert outcomes[0].recovered >= 10 and outcomes[2].recovered >= 500, outcomes
    for outcome in outcomes:
        if outcome.recovered:
            assert outcome.loss_s <= LOSS_BOUND_S, outcomes


def test_a_killed_sqlite3_recorder_keeps_what_it_committed(ros: RosEnv, tmp_path: Path) -> None:
    crashes, sent = _record_and_kill(ros, tmp_path, 20, [2.0], storage='sqlite3')
    outcome = _check(ros, crashes[0], sent, False)
    assert outcome.recovered >= 10 and outcome.loss_s <= LOSS_BOUND_S, outcome


@pytest.mark.slow
@pytest.mark.parametrize('rate_hz', [20, 1000])
def test_a_recorder_killed_at_20_random_moments(ros: RosEnv, tmp_path: Path,
                                                rate_hz: int) -> None:
    rng = np.random.default_rng(rate_hz)
    moments = [float(m) for m in rng.uniform(0.0, 4.0, size=20)]
    crashes, sent = _record_and_kill(ros, tmp_path, rate_hz, moments)
    outcomes = [_check(ros, c, sent, rt_ros2.available()) for c in crashes]
    with_data = [o for o in outcomes if o.recovered]
    worst = max(with_data, key=lambda o: o.loss_s)
    print(f'\n{rate_hz} Hz: {len(outcomes)} kills at {", ".join(f"{m:.2f}" for m in moments)} '
          f's; recovered {[o.recovered for o in outcomes]}; max loss {worst.loss_s:.3f} s / '
          f'{max(o.lost for o in outcomes)} messages; losses (s) '
          f'{[round(o.loss_s, 3) for o in outcomes]}')
    assert worst.loss_s <= LOSS_BOUND_S
