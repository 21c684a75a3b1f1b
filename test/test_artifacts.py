"""Atomic writers: the target holds the old or the new content, never half; no temp files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ior_ros.core.artifacts import atomic_write_bytes, atomic_write_csv, atomic_write_json


def test_json_with_numpy_and_nan(tmp_path: Path) -> None:
    path = atomic_write_json(tmp_path / 'a' / 'b.json',
                             {'x': np.arange(3), 'y': np.float64(1.5), 'z': float('nan')})
    assert json.loads(path.read_text()) == {'x': [0, 1, 2], 'y': 1.5, 'z': None}
    assert [p.name for p in path.parent.iterdir()] == ['b.json']


def test_failed_write_keeps_old_content(tmp_path: Path) -> None:
    target = tmp_path / 'keep.txt'
    atomic_write_bytes(target, b'old')

    class Boom:
        def __bytes__(self) -> bytes:
            raise RuntimeError('boom')

    with pytest.raises(TypeError):
        atomic_write_bytes(target, Boom())  # type: ignore[arg-type]
    assert target.read_bytes() == b'old'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['keep.txt']


def test_csv(tmp_path: Path) -> None:
    path = atomic_write_csv(tmp_path / 't.csv', ['a', 'b'], [[1, None], [2, 3.5]])
    assert path.read_text() == 'a,b\n1,\n2,3.5\n'
