"""Linters as tests (as ament_lint does): ruff on the whole tree, mypy --strict on ior_ros/core."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f'{name} is not installed')
    return found


def test_ruff_clean() -> None:
    proc = subprocess.run([_tool('ruff'), 'check', '--output-format', 'concise', 'ior_ros', 'test',
                           'benchmarks'], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.xdist_group('mypy')
def test_mypy_clean() -> None:
    """The whole package type-checks (strict on core and clients, see pyproject.toml)."""
    proc = subprocess.run([sys.executable, '-m', 'mypy', 'ior_ros'], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
