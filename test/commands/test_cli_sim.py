"""`ior sim` through the CLI (subprocess): compute-queue JSON, coexistence outputs, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ior_ros.core.config import load_config
from ior_ros.core.ran.coexistence_config import CoexistenceConfig
from ior_ros.core.ran.compute_queue import preemptive_priority_mean_sojourn_s

# a short coexistence run: 1.2 s of simulated time, a coarse beta grid, two schemes
SHORT = ['--set', 'simulation.horizon_s=1.2', '--set', 'simulation.warmup_s=0.1',
         '--set', 'scheme.shared_fraction_grid_step=0.1', '--set', 'schemes=[proposed, euad]']


def test_sim_help(ior) -> None:
    for args in (('sim', '--help'), ('sim', 'coexistence', '--help'),
                 ('sim', 'compute-queue', '--help')):
        proc = ior(*args)
        assert proc.returncode == 0, proc.stderr
        assert 'usage' in proc.stdout


def test_compute_queue_json_is_the_issue_form(ior) -> None:
    lam_u, lam_e, mu = 3000.0, 3000.0, 10_000.0  # total load 0.6
    proc = ior('sim', 'compute-queue', '--lambda-urllc', str(lam_u), '--lambda-embb', str(lam_e),
               '--mu', str(mu), '--discipline', 'preemptive-resume', '--packets', '400000',
               '--seed', '3', '--json')
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert set(doc) == {'discipline', 'classes'} and doc['discipline'] == 'preemptive-resume'
    assert set(doc['classes']) == {'urllc', 'embb'}
    for stats in doc['classes'].values():
        assert set(stats) == {'mean_sojourn_s', 'p99_sojourn_s', 'served'}
        assert stats['p99_sojourn_s'] > stats['mean_sojourn_s'] > 0
    assert doc['classes']['urllc']['served'] + doc['classes']['embb']['served'] == 400_000
    t_u, t_e = preemptive_priority_mean_sojourn_s(lam_u, mu, lam_e, mu)
    assert doc['classes']['urllc']['mean_sojourn_s'] == pytest.approx(t_u, rel=0.05)
    assert doc['classes']['embb']['mean_sojourn_s'] == pytest.approx(t_e, rel=0.05)
    # same seed, same numbers
    again = ior('sim', 'compute-queue', '--lambda-urllc', str(lam_u), '--lambda-embb',
                str(lam_e), '--mu', str(mu), '--discipline', 'preemptive-resume', '--packets',
                '400000', '--seed', '3', '--json')
    assert again.stdout == proc.stdout


def test_compute_queue_table_shows_the_closed_form(ior) -> None:
    proc = ior('sim', 'compute-queue', '--lambda-urllc', '100', '--lambda-embb', '300', '--mu',
               '1000', '--discipline', 'fifo', '--packets', '20000')
    assert proc.returncode == 0, proc.stderr
    assert 'closed form' in proc.stdout and 'urllc' in proc.stdout and 'embb' in proc.stdout


def test_coexistence_writes_metrics_and_resolved_config(ior, tmp_path: Path) -> None:
    out = tmp_path / 'coex'
    proc = ior('sim', 'coexistence', *SHORT, '--out', str(out), '--no-progress')
    assert proc.returncode == 0, proc.stderr
    assert 'URLLC mean [ms]' in proc.stdout
    assert 'proposed' in proc.stdout and 'euad' in proc.stdout
    doc = json.loads((out / 'metrics.json').read_text())
    assert set(doc['schemes']) == {'proposed', 'euad'}
    for res in doc['schemes'].values():
        met = res['metrics']
        assert 0.0 <= met['urllc_outage'] <= 1.0
        assert met['urllc_p99_delay_s'] >= met['urllc_mean_delay_s'] > 0
        assert met['max_urllc_per_minislot_seen'] <= met['max_urllc_per_minislot']
    resolved = load_config(CoexistenceConfig, out / 'config.resolved.yaml')
    assert resolved.simulation.horizon_s == 1.2
    assert [s.value for s in resolved.schemes] == ['proposed', 'euad']
    # the resolved file reproduces the run
    again = tmp_path / 'again'
    proc2 = ior('sim', 'coexistence', '--config', str(out / 'config.resolved.yaml'), '--out',
                str(again), '--no-progress')
    assert proc2.returncode == 0, proc2.stderr
    assert json.loads((again / 'metrics.json').read_text()) == doc


@pytest.mark.parametrize('override, field, value, allowed', [
    ('radio.no_such_key=1', 'no_such_key', '1', 'allowed: data_re_per_ru_minislot'),
    ('traffic.urllc_batch_rate_per_s=-5', 'traffic.urllc_batch_rate_per_s', '-5',
     'greater than or equal to 0'),
    ('compute.embb_service_rate_per_s=-1', 'compute.embb_service_rate_per_s', '-1',
     'greater than 0'),
    ('scheme.max_urllc_per_minislot=0', 'scheme.max_urllc_per_minislot', '0',
     'greater than or equal to 1'),
    ('requirements.urllc_max_outage=1.5', 'requirements.urllc_max_outage', '1.5',
     'less than or equal to 1'),
    ('requirements.throughput_tolerance=-0.1', 'requirements.throughput_tolerance', '-0.1',
     'greater than or equal to 0'),
    ('traffic.embb_requirement_bps=18e6', 'compute load', '1.166', 'must be < 1'),
])
def test_coexistence_bad_input(ior, tmp_path: Path, override: str, field: str, value: str,
                               allowed: str) -> None:
    out = tmp_path / 'out'
    proc = ior('sim', 'coexistence', '--set', override, '--out', str(out), '--no-progress')
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert field in lines[0] and value in lines[0] and allowed in lines[0]
    assert not out.exists()


def test_coexistence_missing_config_file(ior, tmp_path: Path) -> None:
    out = tmp_path / 'out'
    proc = ior('sim', 'coexistence', '--config', str(tmp_path / 'nope.yaml'), '--out', str(out))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and 'nope.yaml' in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize('args, field, value, allowed', [
    (['--lambda-urllc', '-1', '--lambda-embb', '10', '--mu', '100'], '--lambda-urllc', '-1',
     '>= 0'),
    (['--lambda-urllc', '10', '--lambda-embb', '10', '--mu', '0'], '--mu', '0', '> 0'),
    (['--lambda-urllc', '60', '--lambda-embb', '40', '--mu', '100'], 'load', '1', '< 1'),
    (['--lambda-urllc', '60', '--lambda-embb', '50', '--mu', '100'], 'load', '1.1', '< 1'),
    (['--lambda-urllc', '10', '--lambda-embb', '10', '--mu', '100', '--shared-fraction', '1.5'],
     '--shared-fraction', '1.5', '(0, 1]'),
    (['--lambda-urllc', '10', '--lambda-embb', '10', '--mu', '100', '--discipline', 'lifo'],
     '--discipline', 'lifo', 'fifo'),
])
def test_compute_queue_bad_input(ior, tmp_path: Path, args: list[str], field: str, value: str,
                                 allowed: str) -> None:
    out = tmp_path / 'out'
    full = ['sim', 'compute-queue', *args, '--packets', '1000', '--json', '--out', str(out)]
    if '--discipline' not in args:
        full += ['--discipline', 'fifo']
    proc = ior(*full)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert field in lines[0] and value in lines[0] and allowed in lines[0]
    assert proc.stdout == ''
    assert not out.exists()
