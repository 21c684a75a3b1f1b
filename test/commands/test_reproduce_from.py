"""``ior reproduce ID --from DIR`` rebuilds from the finished run in DIR, or says why it cannot."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHIPPED_POLICY = REPO / 'config' / 'policies' / 'seed003_slicing'
REFERENCE_SCHEDULE = REPO / 'ior_ros' / 'core' / 'control' / 'reference_schedule.json'


def test_fig2_reads_the_training_curve_of_the_run_given(ior, tmp_path: Path) -> None:
    """A run whose metrics.csv has 12 episodes gives a figure of 12 episodes (not the shipped
    policy's): --from is used, not ignored."""
    run = tmp_path / 'run'
    shutil.copytree(SHIPPED_POLICY, run)
    lines = (run / 'metrics.csv').read_text().splitlines()
    assert len(lines) > 13
    (run / 'metrics.csv').write_text('\n'.join(lines[:13]) + '\n')
    proc = ior('reproduce', 'seed003-fig2', '--from', str(run), '--out', str(tmp_path / 'out'),
               '--no-progress')
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / 'out' / 'seed003-fig2.json').read_text())
    assert len(doc['x']['values']) == 12
    assert doc['config']['policy'] == str(run)


def test_from_is_refused_where_there_is_no_run_to_read(ior, tmp_path: Path) -> None:
    out = tmp_path / 'out'
    proc = ior('reproduce', 'seed000-fig6a', '--from', str(tmp_path), '--out', str(out))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        'ior: error: --from: seed000-fig6a is computed from its model alone, there is no '
        'finished run to rebuild it from (--from works for: seed000-fig4, seed003-table2, '
        'seed003-fig2, seed003-fig3, seed003-fig4, seed003-fig5, seed003-fig6, seed003-fig7, '
        'seed003-fig8, seed003-table3)']
    assert not out.exists()


def test_table2_refuses_a_schedule_of_another_configuration(ior, tmp_path: Path) -> None:
    run = tmp_path / 'schedule_run'
    run.mkdir()
    shutil.copy(REFERENCE_SCHEDULE, run / 'schedule.json')
    proc = ior('reproduce', 'seed003-table2', '--quick', '--from', str(run), '--set',
               'lqr.input_weight=2', '--out', str(tmp_path / 'out'))
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1
    assert 'its schedule was built for another configuration' in proc.stderr
    assert not (tmp_path / 'out').exists()


@pytest.mark.slow
def test_table2_uses_the_schedule_of_the_run_given(ior, tmp_path: Path) -> None:
    run = tmp_path / 'schedule_run'
    run.mkdir()
    shutil.copy(REFERENCE_SCHEDULE, run / 'schedule.json')
    proc = ior('reproduce', 'seed003-table2', '--quick', '--from', str(run), '--out',
               str(tmp_path / 'out'), '--no-progress')
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / 'out' / 'seed003-table2.json').read_text())
    assert doc['schedule']['source'] == f'from {run}'
