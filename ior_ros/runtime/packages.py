"""
Where a ROS package's files are: ``$(find-pkg-share pkg)`` and executables for ``node pkg= exec=``.

Search order for a package's share folder (the first that exists wins):

1. ``<prefix>/share/<pkg>`` for every prefix in ``AMENT_PREFIX_PATH`` that lists the package in its
   ament resource index (a sourced ROS 2 workspace, as ``ros2 pkg prefix`` does);
2. for ``ior_ros`` itself, the source tree this module runs from (``package.xml`` beside the
   ``ior_ros/`` package), so that a checkout works without installing;
3. ``<sys.prefix>/share/<pkg>`` (the pip route installs ``data_files`` there).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from ior_ros.runtime.errors import RosInputError

__all__ = ['find_package_share', 'find_package_prefix', 'source_tree_root', 'package_msg_dir',
           'resolve_executable', 'PROJECT_PACKAGE']

PROJECT_PACKAGE = 'ior_ros'


def source_tree_root() -> Path | None:
    """The checkout root (holding package.xml for ior_ros), or None when installed elsewhere."""
    root = Path(__file__).resolve().parent.parent.parent
    manifest = root / 'package.xml'
    try:
        if manifest.is_file() and f'<name>{PROJECT_PACKAGE}</name>' in manifest.read_text(
                encoding='utf-8'):
            return root
    except OSError:
        return None
    return None


def _ament_prefixes() -> list[Path]:
    raw = os.environ.get('AMENT_PREFIX_PATH', '')
    return [Path(p) for p in raw.split(os.pathsep) if p]


def find_package_prefix(package: str) -> Path:
    """The install prefix of ``package`` (``$(find-pkg-prefix pkg)``)."""
    for prefix in _ament_prefixes():
        if (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / package).exists():
            return prefix
    if package == PROJECT_PACKAGE:
        root = source_tree_root()
        if root is not None:
            return root
    if (Path(sys.prefix) / 'share' / package / 'package.xml').is_file():
        return Path(sys.prefix)
    raise RosInputError(f"package '{package}' not found (searched AMENT_PREFIX_PATH, the ior_ros "
                        f'source tree and {sys.prefix}/share)')


def find_package_share(package: str) -> Path:
    """The share folder of ``package`` (``$(find-pkg-share pkg)``)."""
    prefix = find_package_prefix(package)
    if package == PROJECT_PACKAGE and prefix == source_tree_root():
        return prefix
    return prefix / 'share' / package


def package_msg_dir(package: str = PROJECT_PACKAGE) -> Path | None:
    """The ``msg/`` folder of a package, or None when the package or folder is absent."""
    try:
        folder = find_package_share(package) / 'msg'
    except RosInputError:
        return None
    return folder if folder.is_dir() else None


def resolve_executable(package: str, executable: str) -> list[str]:
    """
    The command line that runs ``executable`` of ``package`` (what ``ros2 run`` would start).

    ior_ros executables run as ``python -m ior_ros.runtime.exec ior_ros <exec>`` with the same
    interpreter; other packages are found in ``<prefix>/lib/<pkg>/<exec>`` of a sourced workspace
    or on PATH.
    """
    if package == PROJECT_PACKAGE:
        return [sys.executable, '-m', 'ior_ros.runtime.exec', package, executable]
    for prefix in _ament_prefixes():
        candidate = prefix / 'lib' / package / executable
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    found = shutil.which(executable)
    if found:
        return [found]
    raise RosInputError(f"executable '{executable}' of package '{package}' not found (searched "
                        f'AMENT_PREFIX_PATH lib/{package}/ and PATH)')
