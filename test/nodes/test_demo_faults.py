"""
Faults of issue 12, injected into the closed loop of ``ior demo`` (every node its own process
over real DDS on loopback): 30 % loss on the URLLC relay, the operator killed (the robot stops
within its command timeout), the digital twin or the slice broker killed under load (the others
keep running and the robot keeps a certified gain), a malformed parameter file. What held is
read from the run's bag through summary.json (the robot's ControllerStatus: certified gain, stop
on timeout; the robot's delay measurements).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from ior_ros.experiments.demo import NODES

pytestmark = pytest.mark.xdist_group('dds')

COMMAND_TIMEOUT_S = 0.5  # config/nodes/robot_controller.yaml, robot.launch.yaml's default
CONTROL_PERIOD_S = 0.01


def _demo(ros: Any, out: Path, *args: str, duration: float,
          timeout: float = 360) -> dict[str, Any]:
    done = ros.run_ior('demo', '--duration', f'{duration:g}', '--out', str(out), '--no-progress',
                       *args, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'Traceback' not in done.stderr
    summary: dict[str, Any] = json.loads((out / 'summary.json').read_text())
    print(json.dumps({k: summary.get(k) for k in (
        'fault', 'fault_note', 'urllc_violation_rate', 'commands_sent', 'commands_lost',
        'commands_received', 'commands_received_after_fault', 'tracking_rmse_m',
        'gain_uncertified_s', 'stop_after_s', 'nodes_at_end', 'twin_vetoes')}, indent=1))
    return summary


def test_urllc_loss_degrades_the_link_not_the_controller(ros, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    summary = _demo(ros, tmp_path / 'loss', '--fault', 'urllc-loss', '--no-twin', '--no-broker',
                    duration=8)
    sent, lost = summary['commands_sent'], summary['commands_lost']
    # 30 % of the URLLC packets are lost in the emulator: the summary shows it ...
    assert 0.2 < lost / sent < 0.4, (lost, sent)
    assert summary['urllc_violation_rate'] >= lost / sent
    # ... and the robot keeps tracking on a certified gain (a lost command is a longer hold of
    # the last one: the delay bound does not grow, the loss does not make the gain uncertain)
    assert summary['gain_uncertified_s'] == 0.0
    assert summary['tracking_rmse_m'] < 0.3
    assert math.isnan(summary['stop_after_s'])  # 30 % loss never starves it for 0.5 s


def test_operator_stopped_robot_stops_within_its_timeout(ros, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    summary = _demo(ros, tmp_path / 'stop', '--fault', 'stop-operator', '--no-twin',
                    '--no-broker', duration=8)
    assert 'teleop_operator' in summary['fault_note']
    # the stop comes one control period after the timeout runs out, on the robot's own clock
    # (sim time, 1 ms resolution): within the configured timeout plus one sample
    assert COMMAND_TIMEOUT_S <= summary['stop_after_s'] <= COMMAND_TIMEOUT_S + CONTROL_PERIOD_S \
        + 0.002, summary['stop_after_s']
    assert summary['commands_received_after_fault'] <= 2  # at most what was on the air
    assert {'ran_emulator', 'robot_controller'} <= set(summary['nodes_at_end'])
    assert summary['gain_uncertified_s'] == 0.0


@pytest.mark.slow
@pytest.mark.parametrize('fault, victim', [('kill-twin', 'digital_twin'),
                                           ('kill-broker', 'slice_broker')])
def test_killed_twin_or_broker_leaves_the_loop_running(ros, tmp_path: Path, fault: str,  # type: ignore[no-untyped-def]
                                                       victim: str) -> None:
    duration = 20.0
    summary = _demo(ros, tmp_path / fault, '--fault', fault, duration=duration, timeout=600)
    assert victim in summary['fault_note']
    others = set(NODES) - {victim}
    assert others <= set(summary['nodes_at_end']), summary['nodes_at_end']
    # commands keep reaching the robot after the kill: ~100/s for the second half of the run
    # (without the twin's verdicts the robot waits twin_silence_s = 1 s, then lets them pass)
    after = summary['commands_received_after_fault']
    assert after > 0.6 * 100 * (duration / 2 - 1.0), after
    assert summary['gain_uncertified_s'] == 0.0
    assert math.isnan(summary['stop_after_s'])
    if victim == 'slice_broker':  # the emulator keeps the last policy: tracking as before
        assert summary['tracking_rmse_m'] < 0.1
    # (without its twin the robot executes the operator's slips: its error grows, by design)


def test_malformed_parameter_file_names_the_node_and_the_parameter(ros, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A value out of range: the node exits 2 with one line naming the parameter, the launch
    names the node that died and keeps the others; broken YAML: the launch refuses to start,
    naming the file and line."""
    bad = tmp_path / 'bad.yaml'
    bad.write_text('ran_emulator:\n  ros__parameters:\n    urllc_prbs: -5\n')
    launch = ros.ior('launch', 'launch/edge_server.launch.yaml', f'emulator_params:={bad}',
                     'twin:=false', 'broker:=false')
    died = launch.wait_for(r'\[ERROR\] \[(ran_emulator-\d+)\]: process has died \[pid \d+, '
                           r'exit code 2,', timeout=120)
    label = died[0].group(1)
    said = [line for line in launch.text().splitlines() if line.startswith(f'[{label}] ')]
    assert said == [f"[{label}] ior: error: parameter 'urllc_prbs' of node /ran_emulator: "
                    'override -5 is not allowed: the parameter takes an integer in [0, 275] '
                    '(PRBs of the urllc slice until a slice policy arrives)'], said
    launch.wait_for(rf'\[WARNING\] \[launch\]: {label} stopped because it refused its '
                    r'configuration \(its error line is above\); still running: '
                    r'teleop_operator-\d+', timeout=30)
    assert launch.interrupt(timeout=60) == 0
    assert 'Traceback' not in launch.text()

    broken = tmp_path / 'broken.yaml'
    broken.write_text('ran_emulator:\n  ros__parameters:\n    urllc_prbs: [1, 2\n')
    done = ros.run_ior('launch', 'launch/edge_server.launch.yaml', f'emulator_params:={broken}')
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"ior: error: {broken}:3: malformed YAML (column 17): expected ',' or ']', but got "
        "'<stream end>' (while parsing a flow sequence at line 3, still open at the end of the "
        'file)']
