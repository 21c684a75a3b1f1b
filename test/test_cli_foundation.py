"""The `ior` command: help, the reproduction list, exit code 2 with one line on bad input."""

from __future__ import annotations

from pathlib import Path

from ior_ros.experiments.contract import Claim, FigureResult, format_claims_table, write_result
from ior_ros.experiments.registry import REPRODUCTIONS


def test_help_lists_groups(ior) -> None:
    proc = ior('--help')
    assert proc.returncode == 0
    assert 'reproduce' in proc.stdout


def test_reproduce_list(ior) -> None:
    proc = ior('reproduce', '--list')
    assert proc.returncode == 0
    for key in ('seed000-fig6a', 'seed000-fig6b', 'seed003-table2'):
        assert key in proc.stdout


def test_unknown_reproduction_exit_2_one_line(ior, tmp_path: Path) -> None:
    out = tmp_path / 'out'
    proc = ior('reproduce', 'seed999-fig1', '--out', str(out))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and 'seed999-fig1' in lines[0]
    assert not out.exists()


def test_bad_seed_is_argparse_error(ior) -> None:
    proc = ior('reproduce', 'seed000-fig6a', '--seed', '-3')
    assert proc.returncode == 2
    assert '-3' in proc.stderr


def test_registry_targets_are_well_formed() -> None:
    for entry in REPRODUCTIONS.values():
        module, func = entry.target.split(':')
        assert module.startswith('ior_ros.experiments.') and func


def test_contract_files(tmp_path: Path) -> None:
    result = FigureResult(id='demo-fig', title='demo', x_name='x', x_values=[1, 2],
                          y_name='y', series={'a': [0.1, 0.2], 'b': {'m': [1, 2], 'n': [3, 4]}},
                          claims=[Claim('a rises', 'yes', 0.1, True)], config={'k': 1}, seed=3,
                          quick=True, wall_s=0.5)
    paths = write_result(result, tmp_path)
    names = sorted(p.name for p in paths)
    assert names == ['demo-fig.config.yaml', 'demo-fig.csv', 'demo-fig.json', 'demo-fig.png']
    import json
    doc = json.loads((tmp_path / 'demo-fig.json').read_text())
    for key in ('id', 'title', 'x', 'y', 'series', 'paper', 'config', 'seed', 'quick', 'wall_s'):
        assert key in doc
    assert doc['paper']['claims'][0]['holds'] is True
    assert (tmp_path / 'demo-fig.csv').read_text().splitlines()[0] == 'x,a,b.m,b.n'
    assert (tmp_path / 'demo-fig.png').read_bytes()[:4] == b'\x89PNG'
    table = format_claims_table(result)
    assert 'a rises' in table and 'yes' in table
