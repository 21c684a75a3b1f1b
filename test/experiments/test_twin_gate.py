"""`ior twin gate-eval`: the gate on a trained Hopper run, and the robot under delay spikes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ior_ros.experiments.twin_gate import (
    DelaySpikeTrackingEnv,
    TrackingControllers,
    run_robot_gate_eval,
)

REPO = Path(__file__).resolve().parents[2]
IOR = [sys.executable, '-m', 'ior_ros.cli']
ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}

SUMMARY_KEYS = {'steps', 'falls_without_gate', 'falls_with_gate', 'reward_without_gate',
                'reward_with_gate', 'gate_precision', 'gate_recall'}


def _ior(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*IOR, *args], capture_output=True, text=True, cwd=cwd, env=ENV,
                          timeout=300)


def test_feedforward_of_the_controllers_is_the_reference_acceleration() -> None:
    from ior_ros.core.control.control_config import ControlConfig
    from ior_ros.core.control.gain_schedule import REFERENCE_SCHEDULE, GainSchedule
    env = DelaySpikeTrackingEnv(ControlConfig(), 'persistent', 4, 200)
    controllers = TrackingControllers(env, GainSchedule.load(REFERENCE_SCHEDULE))
    obs, _ = env.reset(seed=5)
    params = env.inner._params
    for _ in range(30):
        on_track = obs.copy()
        on_track[:4] = 0.0  # no tracking error: both controllers send r̈
        t = params.sample_period_s * env.inner.state.step + env.inner.state.time_offset_s
        expected = params.reference.sample(np.array([t])).acceleration_mps2[0]
        np.testing.assert_allclose(controllers.nominal(on_track[None])[0], expected, atol=1e-4)
        np.testing.assert_allclose(controllers.certified(on_track[None])[0], expected,
                                   atol=1e-4)
        obs, *_ = env.step(controllers.nominal(obs[None])[0])
    assert env.bound == int(env.bounds[30 // env.slot_steps])


def test_robot_gate_with_certified_fallback_prevents_divergence_short() -> None:
    # persistent congestion above the nominal gain's certified delay: the nominal controller
    # diverges; behind the gate, with the certified gain as the fallback, it does not
    summary = run_robot_gate_eval(None, episodes=3, episode_steps=1200, violation_slots=12,
                                  twin_episodes=4, twin_fit_steps=600, seed=0)
    arms = summary['arms']
    assert summary['divergences_without_gate'] >= 1
    assert summary['divergences_with_gate'] == 0
    assert arms['nominal_with_gate']['vetoes'] > 0
    assert summary['divergences_certified_only'] == 0
    # the gate keeps the agent in control most of the time
    assert arms['nominal_with_gate']['vetoes'] < 0.5 * arms['nominal_with_gate']['steps']


def test_gate_eval_on_a_trained_run(tmp_path: Path) -> None:
    run = tmp_path / 'run'
    trained = _ior('train', 'twin', '--env', 'Hopper-v5', '--variant', 'twin', '--epochs', '1',
                   '--epoch-steps', '200', '--eval-episodes', '0', '--out', str(run),
                   '--no-progress', '--set', 'learning_starts=100', '--set',
                   'twin.start_steps=100', '--set', 'twin.initial_train_steps=100')
    assert trained.returncode == 0, trained.stderr
    out = tmp_path / 'eval'
    done = _ior('twin', 'gate-eval', '--run', str(run), '--steps', '60', '--seeds', '0', '1',
                '--calibration-steps', '80', '--out', str(out), '--no-progress',
                '--set', 'gate.planner.iterations=1')
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / 'summary.json').read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert summary['steps'] == 60 and summary['steps_with_gate'] == 60
    assert summary['gate']['rule'] == 'risk' and summary['gate']['fallback'] == 'plan'
    assert summary['gate']['planner']['iterations'] == 1
    assert 0.0 < summary['threshold']['threshold'] <= 1.0
    assert summary['vetoes'] <= summary['steps']
    if summary['vetoes']:
        assert 0.0 <= summary['gate_precision'] <= 1.0
    assert summary['decision_ms_p50'] > 0
    assert (out / 'gate_eval.png').read_bytes()[:4] == b'\x89PNG'
    text = (out / 'command.txt').read_text()
    assert 'gate-eval' in text and 'agent.pt' in text
    if not summary['vetoes']:
        assert summary['gate_precision'] is None  # no veto: precision undefined, not 0 or 1


def test_gate_eval_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    done = _ior('twin', 'gate-eval', '--run', str(tmp_path), '--out', str(tmp_path / 'o'))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and 'config.resolved.yaml' in lines[0]
    bad = _ior('twin', 'gate-eval', '--run', str(tmp_path), '--seeds', '1000', '--out',
               str(tmp_path / 'o'))
    assert bad.returncode == 2 and '1000' in bad.stderr
    assert not (tmp_path / 'o').exists()


@pytest.mark.slow
def test_robot_gate_twenty_episodes(tmp_path: Path) -> None:
    summary = run_robot_gate_eval(tmp_path, episodes=20, episode_steps=3000, seed=0)
    assert summary['divergences_with_gate'] < summary['divergences_without_gate']
    assert json.loads((tmp_path / 'summary.json').read_text())['episodes'] == 20
