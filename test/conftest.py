"""Shared pytest fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / 'test' / 'runtime'))  # rt_ros2: where ROS 2 is, for the ros2 marker


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``ros2`` need a real ROS 2 Jazzy: skip them, with the reason, without one."""
    marked = [item for item in items if item.get_closest_marker('ros2') is not None]
    if not marked:
        return
    import rt_ros2

    if rt_ros2.available():
        return
    skip = pytest.mark.skip(reason=rt_ros2.probe()[1])
    for item in marked:
        item.add_marker(skip)


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator per test."""
    return np.random.default_rng(12345)


def run_ior(*args: str, cwd: Path | None = None, timeout: float = 300.0,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the `ior` CLI in a subprocess (the way a user does); returns the completed process."""
    full_env = dict(os.environ)
    full_env.setdefault('OMP_NUM_THREADS', '1')
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, '-m', 'ior_ros.cli', *args], cwd=cwd or REPO,
                          capture_output=True, text=True, timeout=timeout, env=full_env)


@pytest.fixture
def ior():
    """The `run_ior` helper as a fixture."""
    return run_ior
