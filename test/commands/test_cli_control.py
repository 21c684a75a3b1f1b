"""``ior control schedule|certify`` and ``ior reproduce seed003-table2 --quick`` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ior_ros.core.control.lifted_stability import input_delay_spectral_radius

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
REPO = Path(__file__).resolve().parents[2]


def _run_ior(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    return subprocess.run([sys.executable, '-m', 'ior_ros.cli', *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope='module')
def schedule_dir(tmp_path_factory):
    """One `ior control schedule --max-delay 13` run shared by the tests below."""
    out = tmp_path_factory.mktemp('schedule')
    proc = _run_ior('control', 'schedule', '--max-delay', '13', '--out', str(out),
                   '--no-progress', '--workers', '1', '--set', 'schedule.vk_iterations=6')
    assert proc.returncode == 0, proc.stderr
    return out


def test_schedule_json_shape(schedule_dir) -> None:
    doc = json.loads((schedule_dir / 'schedule.json').read_text())
    assert set(doc['plant']) >= {'A', 'B', 'sample_period_s', 'delay'}
    assert doc['plant']['delay'] == 'input' and doc['plant']['sample_period_s'] == 0.01
    a, b = np.array(doc['plant']['A']), np.array(doc['plant']['B'])
    assert a.shape == (4, 4) and b.shape == (4, 2)
    assert np.array(doc['nominal_gain']).shape == (2, 4)
    entries = doc['entries']
    assert [e['max_delay_steps'] for e in entries] == list(range(14))
    for entry in entries:
        assert entry['certified'] is True
        gain = np.array(entry['gain'])
        assert gain.shape == (2, 4)
        assert entry['certificate']['max_delay_steps'] == entry['max_delay_steps']
        # independent of the LMI path: exactly stable for every constant delay 0..h
        for d in range(entry['max_delay_steps'] + 1):
            assert input_delay_spectral_radius(a, b, gain, d) < 1.0
    assert doc['nominal_delay_margin']['exact_constant_steps'] == 13
    assert doc['nominal_delay_margin']['certified_steps'] == 12
    assert (schedule_dir / 'spectral_radius.png').read_bytes()[:8] == PNG_MAGIC
    assert (schedule_dir / 'config.resolved.yaml').is_file()


def test_certify_schedule_entry_and_nominal(ior, schedule_dir) -> None:
    path = str(schedule_dir / 'schedule.json')
    proc = ior('control', 'certify', '--gain-file', path, '--max-delay', '13')
    assert proc.returncode == 0, proc.stderr
    assert 'CERTIFIED' in proc.stdout and 'certified delay bound' in proc.stdout
    proc = ior('control', 'certify', '--gain-file', path, '--max-delay', '13', '--nominal')
    assert proc.returncode == 1
    assert 'NOT CERTIFIED' in proc.stdout and 'h=13' in proc.stdout
    assert 'certified delay bound: [0, 12]' in proc.stdout
    assert 'exact constant-delay margin: 13' in proc.stdout


def test_certify_plain_matrix_with_report(ior, tmp_path) -> None:
    gain = np.kron(np.eye(2), [[5.0, 3.0]]).tolist()
    path = tmp_path / 'gain.json'
    path.write_text(json.dumps(gain))
    proc = ior('control', 'certify', '--gain-file', str(path), '--max-delay', '25', '--out',
               str(tmp_path / 'out'))
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / 'out' / 'certify.json').read_text())
    assert report['certified'] is True and report['certified_delay_bound_steps'] >= 25


def test_certify_bad_gain_shape_is_one_clear_error(ior, tmp_path) -> None:
    path = tmp_path / 'gain.json'
    path.write_text(json.dumps([[1.0, 2.0, 3.0]]))
    proc = ior('control', 'certify', '--gain-file', str(path), '--max-delay', '5')
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and 'K shape (1, 3)' in lines[0] and 'A shape (4, 4)' in lines[0]


def test_certify_missing_file_and_negative_delay(ior, tmp_path) -> None:
    proc = ior('control', 'certify', '--gain-file', str(tmp_path / 'none.json'),
               '--max-delay', '5')
    assert proc.returncode == 2 and 'none.json' in proc.stderr
    proc = ior('control', 'certify', '--gain-file', 'x.json', '--max-delay', '-3')
    assert proc.returncode == 2 and 'integer >= 0' in proc.stderr


def test_control_help(ior) -> None:
    for args in (('control', '--help'), ('control', 'schedule', '--help'),
                 ('control', 'certify', '--help')):
        proc = ior(*args)
        assert proc.returncode == 0 and 'usage' in proc.stdout


def test_reproduce_table2_quick_writes_the_contract_files(ior, tmp_path) -> None:
    out = tmp_path / 'table2'
    proc = ior('reproduce', 'seed003-table2', '--quick', '--no-progress', '--out', str(out),
               '--set', 'reproduction.quick_seeds=3', '--set', 'tracking.n_slots=60')
    assert proc.returncode == 0, proc.stderr
    for suffix in ('json', 'csv', 'png', 'config.yaml'):
        assert (out / f'seed003-table2.{suffix}').is_file()
    doc = json.loads((out / 'seed003-table2.json').read_text())
    assert doc['x']['values'] == [5, 10, 20]
    assert set(doc['series']) == {'nominal_persistent', 'adjusted_persistent',
                                  'nominal_isolated', 'adjusted_isolated'}
    assert doc['quick'] is True and doc['seeds_per_cell'] == 3
    assert set(doc['diverged']) >= set(doc['series'])
    assert all(len(v) == 3 for v in doc['diverged'].values())
    # adjusted (certified schedule) runs are finite; the claims quote the paper's numbers
    assert all(v is not None for v in doc['series']['adjusted_persistent'])
    papers = [c['paper'] for c in doc['paper']['claims']]
    assert any('0.7077' in str(p) and '0.8962' in str(p) for p in papers)
    assert (out / 'seed003-table2.png').read_bytes()[:8] == PNG_MAGIC
