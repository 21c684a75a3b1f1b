"""ior_ros.core must never import ROS or DDS: walk every module's imports with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / 'ior_ros' / 'core'
FORBIDDEN_ROOTS = {'rclpy', 'cyclonedds', 'rosbags', 'mcap', 'mcap_ros2', 'launch', 'launch_ros',
                   'std_msgs', 'geometry_msgs', 'sensor_msgs', 'nav_msgs', 'rosgraph_msgs',
                   'builtin_interfaces', 'visualization_msgs', 'rosidl_runtime_py'}
FORBIDDEN_PACKAGES = ('ior_ros.runtime', 'ior_ros.nodes', 'ior_ros.clients', 'ior_ros.msg')


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


CORE_FILES = sorted(CORE.rglob('*.py'))


def test_core_has_modules() -> None:
    assert len(CORE_FILES) >= 5


@pytest.mark.parametrize('path', CORE_FILES, ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_imports_no_ros(path: Path) -> None:
    for name in _imports(path):
        root = name.split('.')[0]
        assert root not in FORBIDDEN_ROOTS, f'{path} imports {name}'
        assert not name.startswith(FORBIDDEN_PACKAGES), f'{path} imports {name}'


def test_walker_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / 'bad.py'
    bad.write_text('import numpy\nfrom rclpy.node import Node\n')
    assert 'rclpy.node' in _imports(bad)
