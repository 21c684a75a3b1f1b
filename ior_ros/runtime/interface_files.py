"""
Where the ``.msg`` and ``.srv`` definitions come from.

The ``msg/`` folder of this package and of the ``IOR_ROS_MSG_PATH`` folders (registered at
start-up), then ``share/<pkg>/msg|srv`` of every ``AMENT_PREFIX_PATH`` prefix (looked up when a
type is first asked for), and an embedded set of services that works without ROS 2
(:data:`EMBEDDED_SERVICES`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

__all__ = ['EMBEDDED_SERVICES', 'default_msg_dirs', 'find_interface_file']


def default_msg_dirs() -> Iterable[tuple[str, Path]]:
    """``(package, msg folder)`` registered at start-up: this package's ``msg/``, then every
    ``<dir>/msg`` or ``<dir>/<pkg>/msg`` of the folders in ``IOR_ROS_MSG_PATH``."""
    from ior_ros.runtime.packages import PROJECT_PACKAGE, package_msg_dir

    own = package_msg_dir(PROJECT_PACKAGE)
    if own is not None:
        yield PROJECT_PACKAGE, own
    for entry in os.environ.get('IOR_ROS_MSG_PATH', '').split(os.pathsep):
        if not entry:
            continue
        root = Path(entry)
        if (root / 'msg').is_dir():
            yield root.name, root / 'msg'
        elif root.is_dir():
            for sub in sorted(root.iterdir()):
                if (sub / 'msg').is_dir():
                    yield sub.name, sub / 'msg'


#: Services known without a ROS 2 installation (field definitions of ROS 2 Jazzy; std_srvs' files
#: are short and kept verbatim, the others without their comments).
EMBEDDED_SERVICES: dict[str, str] = {
    'std_srvs/srv/Empty': '---\n',
    'std_srvs/srv/SetBool': (
        'bool data # e.g. for hardware enabling / disabling\n---\n'
        'bool success   # indicate successful run of triggered service\n'
        'string message # informational, e.g. for error messages\n'),
    'std_srvs/srv/Trigger': (
        '---\nbool success   # indicate successful run of triggered service\n'
        'string message # informational, e.g. for error messages\n'),
    'rcl_interfaces/srv/DescribeParameters': (
        'string[] names\n---\nParameterDescriptor[] descriptors\n'),
    'rcl_interfaces/srv/GetParameters': 'string[] names\n---\nParameterValue[] values\n',
    'rcl_interfaces/srv/GetParameterTypes': 'string[] names\n---\nuint8[] types\n',
    'rcl_interfaces/srv/ListParameters': (
        'uint64 DEPTH_RECURSIVE=0\nstring[] prefixes\nuint64 depth\n---\n'
        'ListParametersResult result\n'),
    'rcl_interfaces/srv/SetParameters': (
        'Parameter[] parameters\n---\nSetParametersResult[] results\n'),
    'rcl_interfaces/srv/SetParametersAtomically': (
        'Parameter[] parameters\n---\nSetParametersResult result\n'),
    'rcl_interfaces/srv/GetLoggerLevels': 'string[] names\n---\nLoggerLevel[] levels\n',
    'rcl_interfaces/srv/SetLoggerLevels': (
        'LoggerLevel[] levels\n---\nSetLoggerLevelsResult[] results\n'),
    'type_description_interfaces/srv/GetTypeDescription': (
        'string type_name\nstring type_hash\nbool include_type_sources true\n---\n'
        'bool successful\nstring failure_reason\nTypeDescription type_description\n'
        'TypeSource[] type_sources\nKeyValue[] extra_information\n'),
}


def _interface_roots(package: str) -> Iterable[Path]:
    """Folders holding ``msg/``/``srv/`` of ``package``: this package's source or share folder,
    then ``IOR_ROS_MSG_PATH`` entries (``<dir>`` named after the package, or ``<dir>/<pkg>``)."""
    from ior_ros.runtime.packages import PROJECT_PACKAGE, package_msg_dir

    if package == PROJECT_PACKAGE:
        own = package_msg_dir(PROJECT_PACKAGE)
        if own is not None:
            yield own.parent
    for entry in os.environ.get('IOR_ROS_MSG_PATH', '').split(os.pathsep):
        if not entry:
            continue
        root = Path(entry)
        if root.name == package and ((root / 'msg').is_dir() or (root / 'srv').is_dir()):
            yield root
        elif (root / package).is_dir():
            yield root / package


def find_interface_file(package: str, kind: str, name: str) -> Path | None:
    """
    The definition file of ``package/kind/name`` (kind ``msg`` or ``srv``): ``<kind>/<name>.msg``
    (or ``.srv``) in the package's interface folders (:func:`_interface_roots`), then
    ``share/<package>/<kind>/`` of every AMENT_PREFIX_PATH prefix (``.msg``/``.srv``, else the
    ``.idl`` rosidl installs beside it). None when there is none.
    """
    if not re.fullmatch(r'[A-Za-z0-9_]+', package) or not re.fullmatch(r'[A-Za-z0-9_]+', name):
        return None
    for root in _interface_roots(package):
        candidate = root / kind / f'{name}.{kind}'
        if candidate.is_file():
            return candidate
    for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep):
        if not prefix:
            continue
        folder = Path(prefix) / 'share' / package / kind
        for suffix in (kind, 'idl'):
            candidate = folder / f'{name}.{suffix}'
            if candidate.is_file():
                return candidate
    return None
