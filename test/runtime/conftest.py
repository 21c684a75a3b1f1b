"""Fixtures of the runtime tests (see rt_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rt_helpers import RosEnv


@pytest.fixture
def ros(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RosEnv]:
    """A fresh ROS domain on loopback; every process started through it dies at teardown."""
    env = RosEnv(tmp_path)
    for key in ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE', 'IOR_ROS_BACKEND'):
        monkeypatch.setenv(key, env.env[key])
    monkeypatch.delenv('CYCLONEDDS_URI', raising=False)
    try:
        yield env
    finally:
        env.close()
