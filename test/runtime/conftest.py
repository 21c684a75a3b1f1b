"""Fixtures of the runtime tests (see rt_helpers.py and rt_ros2.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rt_helpers import RosEnv


def _ros_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str) -> Iterator[RosEnv]:
    env = RosEnv(tmp_path, backend=backend)
    for key in ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE'):
        monkeypatch.setenv(key, env.env[key])
    monkeypatch.setenv('IOR_ROS_BACKEND', 'dds')  # the test process itself is always ours
    monkeypatch.delenv('CYCLONEDDS_URI', raising=False)
    try:
        yield env
    finally:
        env.close()


@pytest.fixture
def ros(request: pytest.FixtureRequest, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[RosEnv]:
    """
    A fresh ROS domain on loopback; every process started through it dies at teardown.

    Our nodes run on the DDS runtime, or on the backend a test names through
    ``rt_helpers.both_backends`` (indirect parametrization): the node-level tests run with the
    same assertions on ours and on rclpy (colcon-built), so that a difference is a bug in ours or
    an rclpy behaviour the test documents.
    """
    yield from _ros_env(tmp_path, monkeypatch, getattr(request, 'param', 'dds'))
