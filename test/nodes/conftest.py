"""
Fixtures of the node tests: the runtime tests' ``ros`` fixture (test/runtime/conftest.py),
re-exported unchanged, so ``rt_helpers.both_backends`` runs a node test on our DDS runtime and on
rclpy alike (a fresh ROS domain on loopback; every process dies at teardown).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_PATH = Path(__file__).resolve().parents[1] / 'runtime' / 'conftest.py'
_SPEC = importlib.util.spec_from_file_location('_ior_runtime_conftest', _PATH)
assert _SPEC is not None and _SPEC.loader is not None
_RUNTIME = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_RUNTIME)

ros = _RUNTIME.ros
