"""
``ior demo``: the closed loop of launch/sim.launch.yaml run as separate processes over real DDS on
loopback (a domain of its own), recorded, summarised; the bag read back by rosbags and by mcap.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from ior_ros.experiments.demo import _died
from ior_ros.experiments.demo_summary import SUMMARY_KEYS

pytestmark = pytest.mark.xdist_group('dds')


def _bag_counts_rosbags(bag: Path) -> dict[str, int]:
    from rosbags.highlevel import AnyReader

    with AnyReader([bag]) as reader:
        return {c.topic: c.msgcount for c in reader.connections}


def _bag_counts_mcap(bag: Path) -> dict[str, int]:
    from mcap.reader import make_reader

    counts: dict[str, int] = {}
    for path in sorted(bag.glob('*.mcap')):
        with open(path, 'rb') as stream:
            for _schema, channel, _message in make_reader(stream).iter_messages():
                counts[channel.topic] = counts.get(channel.topic, 0) + 1
    return counts


def test_demo_runs_the_loop_records_and_summarises(ros, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / 'demo'
    # no slips: without the twin a slip reaches the robot, and how far it throws the robot
    # depends on whether a control sample falls between the slip and the next command of the
    # same operator tick (a sub-millisecond race that no replay can reproduce)
    done = ros.run_ior('demo', '--duration', '6', '--no-twin', '--no-broker', '--slip-rate', '0',
                       '--out', str(out), '--no-progress', timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'Traceback' not in done.stderr
    assert 'nodes up: ran_emulator, robot_controller, teleop_operator' in done.stdout
    summary = json.loads((out / 'summary.json').read_text())
    assert list(summary)[:len(SUMMARY_KEYS)] == list(SUMMARY_KEYS)
    for key in ('urllc_delay_p50_ms', 'urllc_delay_p99_ms', 'tracking_rmse_m',
                'embb_throughput_mbps', 'real_time_factor', 'mean_dexterity_index'):
        assert math.isfinite(summary[key]), (key, summary[key])
    assert 0.0 <= summary['urllc_violation_rate'] <= 1.0
    assert summary['urllc_delay_p50_ms'] <= summary['urllc_delay_p99_ms']
    # the loop tracks: a robot left behind or diverging is off by about a metre at once (the
    # figure eight is 2 m wide); a loaded 2-core machine costs centimetres, not that
    assert summary['tracking_rmse_m'] < 0.3
    assert summary['twin_vetoes'] == 0  # no twin in this run
    assert 0.5 < summary['real_time_factor'] < 1.5  # the emulator's clock at 1x
    assert summary['commands_received'] > 100  # ~100 commands/s for 6 s
    for name in ('tracking.png', 'urllc_delay_cdf.png', 'slice_shares.png', 'twin_vetoes.png'):
        assert (out / name).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    bag = out / 'bag'
    by_rosbags = _bag_counts_rosbags(bag)
    by_mcap = _bag_counts_mcap(bag)
    for topic in ('/robot/state', '/robot/delay', '/teleop/cmd', '/clock', '/ran_metrics'):
        assert by_rosbags.get(topic, 0) > 10, (topic, by_rosbags)
        assert by_mcap.get(topic) == by_rosbags[topic], (topic, by_mcap, by_rosbags)

    again = ros.run_ior('demo', '--summarize', str(bag), '--out', str(tmp_path / 'again'),
                        timeout=120)
    assert again.returncode == 0, again.stderr
    resummary = json.loads((tmp_path / 'again' / 'summary.json').read_text())
    # the bag and the window of its run's summary: the same numbers
    for key in ('tracking_rmse_m', 'urllc_delay_p99_ms', 'commands_received', 'window_s'):
        assert resummary[key] == summary[key], key

    # the bag drives a fresh controller (sim time from the bag's /clock): the recorded run again,
    # within the noise of a 2-core machine replaying at real time
    replay = ros.run_ior('demo', '--replay', str(bag), '--out', str(tmp_path / 'replay'),
                         '--no-progress', timeout=240)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert 'recorded run beside the replay' in replay.stdout
    again = json.loads((tmp_path / 'replay' / 'summary.json').read_text())
    assert again['original']['tracking_rmse_m'] == summary['tracking_rmse_m']
    assert again['window_s'] == summary['window_s']
    assert again['commands_received'] >= 0.95 * summary['commands_received']
    # the commands reach it at the simulated times the recorded robot took them (replay_timing),
    # so on a host that keeps up, the tracking error is the recorded one within a control
    # sample's jitter (RMSE 1.4-2.3 mm against 2.5 mm in docs/system.md). A run whose controller
    # was starved of CPU (missed control samples: a loaded 2-core machine running the suite) also
    # took commands late in its own way (a full suite run gave 13.6 mm recorded, 8.8 mm replayed,
    # with 9 and 27 samples missed; another 1.8 mm vs 7.7 mm with 11 and 4, the delays equal):
    # then only the size is checked, which a replay that drives the robot wrongly still fails (a
    # robot left behind or diverging is off by about a metre)
    keys = ('tracking_rmse_m', 'max_tracking_error_m', 'urllc_delay_p99_ms',
            'control_samples_missed', 'commands_received')
    seen = {key: (summary[key], again[key]) for key in keys}
    if max(summary['control_samples_missed'], again['control_samples_missed']) <= 5:
        assert again['tracking_rmse_m'] == pytest.approx(summary['tracking_rmse_m'], rel=0.25,
                                                         abs=2e-3), seen
    else:
        assert again['tracking_rmse_m'] == pytest.approx(summary['tracking_rmse_m'], rel=1.0,
                                                         abs=0.02), seen
    assert abs(again['urllc_delay_p50_ms'] - summary['urllc_delay_p50_ms']) <= 2.0
    assert again['mean_dexterity_index'] == pytest.approx(summary['mean_dexterity_index'],
                                                          abs=0.1)


def test_demo_refuses_bad_options_in_one_line(ros, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    done = ros.run_ior('demo', '--policy', 'greedy', '--out', str(tmp_path / 'x'))
    assert done.returncode == 2
    assert "--policy: invalid choice: 'greedy'" in done.stderr
    done = ros.run_ior('demo', '--duration', '-1', '--out', str(tmp_path / 'x'))
    assert done.returncode == 2 and '--duration' in done.stderr
    assert not (tmp_path / 'x').exists()
    done = ros.run_ior('demo', '--summarize', str(tmp_path / 'nope'), '--out', str(tmp_path / 'y'))
    assert done.returncode == 2 and 'nope' in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_node_death_is_named_with_its_error_line(tmp_path: Path) -> None:
    log = tmp_path / 'launch.log'
    log.write_text(
        '[INFO] [ran_emulator-1]: process started with pid [1]\n'
        "[ran_emulator-1] ior: error: parameter 'seed' of node /ran_emulator: -1: out of range\n"
        '[ERROR] [ran_emulator-1]: process has died [pid 1, exit code 2, cmd ...]\n')
    said = _died(log, 'none')
    assert said.startswith('node ran_emulator-1 died: ')
    assert "parameter 'seed'" in said
    # the node the fault kills on purpose is not a failure
    log.write_text('[ERROR] [digital_twin-1]: process has died [pid 1, exit code -9, cmd ...]\n')
    assert _died(log, 'kill-twin') == ''
    assert _died(log, 'none').startswith('node digital_twin-1 died')
