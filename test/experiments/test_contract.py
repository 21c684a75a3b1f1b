"""The reproduction contract: registry entries and the files every reproduction writes."""

from __future__ import annotations

import json
from pathlib import Path

from ior_ros.experiments.contract import Claim, FigureResult, format_claims_table, write_result
from ior_ros.experiments.registry import REPRODUCTIONS


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
    doc = json.loads((tmp_path / 'demo-fig.json').read_text())
    for key in ('id', 'title', 'x', 'y', 'series', 'paper', 'config', 'seed', 'quick', 'wall_s'):
        assert key in doc
    assert doc['paper']['claims'][0]['holds'] is True
    assert (tmp_path / 'demo-fig.csv').read_text().splitlines()[0] == 'x,a,b.m,b.n'
    assert (tmp_path / 'demo-fig.png').read_bytes()[:4] == b'\x89PNG'
    table = format_claims_table(result)
    assert 'a rises' in table and 'yes' in table
