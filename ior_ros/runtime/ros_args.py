"""
``--ros-args`` as ``ros2 run``/``ros2 launch`` pass them, and parameter YAML files.

Command line (rcl_parse_arguments): everything between ``--ros-args`` and ``--`` (or the end) is a
ROS argument; several sections may appear. Supported:

* ``-r``/``--remap [node:]from:=to`` (``__node:=`` renames the node, ``__ns:=`` sets its
  namespace),
* ``-p``/``--param [node:]name:=value`` (value read as YAML: ``1``, ``1.5``, ``true``, ``[1, 2]``),
* ``--params-file FILE``,
* ``--log-level [logger:=]LEVEL``; ``-e/--enclave``, ``--log-config-file`` and the
  ``--enable/--disable-*-logs`` switches are accepted and ignored.

Parameter files follow rcl_yaml_param_parser: ``<node>: ros__parameters: {...}`` where ``<node>``
is ``/**`` (every node), ``/*`` or ``/ns/*`` (one level), ``/**/name``, a fully qualified
``/ns/name`` or a name without slash (taken as ``/name``), possibly split over nested keys
(``ns: {name: {...}}``).
Nested parameter mappings flatten with dots (``a: {b: 1}`` is ``a.b``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ior_ros.core.input_files import yaml_value_or_text
from ior_ros.runtime.errors import ParameterFileError, RosArgsError, at
from ior_ros.runtime.names import RemapRule
from ior_ros.runtime.yaml_lines import LineDict, LineList, line_of, load_yaml_with_lines

__all__ = ['RosArgs', 'parse_ros_args', 'strip_ros_args', 'load_params_file', 'parse_param_value',
           'node_pattern_matches', 'ParamsFileEntry']

_IGNORED_FLAGS = {'--enable-rosout-logs', '--disable-rosout-logs', '--enable-stdout-logs',
                  '--disable-stdout-logs', '--enable-external-lib-logs',
                  '--disable-external-lib-logs'}
_IGNORED_WITH_VALUE = {'-e', '--enclave', '--log-config-file'}


@dataclass(frozen=True)
class ParamsFileEntry:
    """Parameters of one node pattern in a file: ``pattern`` like ``/**`` or ``/ns/node``."""

    pattern: str
    parameters: dict[str, Any]
    source: str
    line: int | None


@dataclass
class RosArgs:
    """The parsed ROS arguments of a process."""

    remaps: list[RemapRule] = field(default_factory=list)
    params: list[tuple[str | None, str, Any]] = field(default_factory=list)  # (node, name, value)
    params_files: list[ParamsFileEntry] = field(default_factory=list)
    log_level: str | None = None
    user_args: list[str] = field(default_factory=list)

    def node_name_override(self, node_name: str) -> str | None:
        """``__node:=`` (or ``name:__node:=``) that applies to a node created as ``node_name``."""
        return self._special('__node', node_name) or self._special('__name', node_name)

    def namespace_override(self, node_name: str) -> str | None:
        """``__ns:=`` that applies to the node."""
        return self._special('__ns', node_name)

    def _special(self, key: str, node_name: str) -> str | None:
        found = None
        for rule in self.remaps:
            if rule.source == key and rule.node in (None, node_name):
                found = rule.target
        return found

    def parameter_overrides(self, node_name: str, namespace: str) -> dict[str, Any]:
        """Every parameter value that applies to the node ``namespace/node_name``, in order."""
        fqn = f'/{node_name}' if namespace in ('', '/') else f'{namespace}/{node_name}'
        out: dict[str, Any] = {}
        for entry in self.params_files:  # file order; later entries override earlier ones
            if node_pattern_matches(entry.pattern, fqn):
                out.update(entry.parameters)
        for node, name, value in self.params:
            if node is None or node in (node_name, fqn):
                out[name] = value
        return out


def strip_ros_args(argv: list[str]) -> list[str]:
    """``argv`` without its ``--ros-args ... [--]`` sections (rclpy.utilities.remove_ros_args)."""
    out: list[str] = []
    inside = False
    for arg in argv:
        if arg == '--ros-args':
            inside = True
        elif inside and arg == '--':
            inside = False
        elif not inside:
            out.append(arg)
    return out


def parse_param_value(text: str) -> Any:
    """A ``-p`` value as rcl reads it: YAML scalar or a homogeneous list."""
    value = yaml_value_or_text(text, f'parameter value {text[:40]!r}', error=RosArgsError) \
        if text.strip() else ''
    if value is None:
        return text if text.strip() not in ('', '~', 'null') else ''
    return _check_param_value(value, 'value', None, None)


def _check_param_value(value: Any, name: str, source: str | None, line: int | None) -> Any:
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        if not value:
            return list(value)
        kinds = {bool if isinstance(v, bool) else float if isinstance(v, float)
                 else int if isinstance(v, int) else str if isinstance(v, str) else None
                 for v in value}
        if None in kinds:
            raise ParameterFileError(f'{at(source, line)}parameter {name!r}: list items must be '
                                     'scalars (bool, int, float or string)')
        if kinds == {int, float}:
            return [float(v) for v in value]
        if len(kinds) > 1:
            raise ParameterFileError(f'{at(source, line)}parameter {name!r}: list mixes types '
                                     f'{sorted(k.__name__ for k in kinds if k)}; ROS 2 arrays are '
                                     'homogeneous')
        return list(value)
    raise ParameterFileError(f'{at(source, line)}parameter {name!r}: unsupported value '
                             f'{value!r} (use a scalar or a list of scalars)')


def _split_rule(text: str, what: str) -> tuple[str | None, str, str]:
    if ':=' not in text:
        raise RosArgsError(f"{what} {text!r}: expected 'name:=value'")
    left, value = text.split(':=', 1)
    node = None
    if ':' in left:
        node, left = left.split(':', 1)
    if not left:
        raise RosArgsError(f'{what} {text!r}: empty name')
    return node, left, value


def parse_ros_args(argv: list[str], load_files: bool = True) -> RosArgs:
    """Parse every ``--ros-args`` section of ``argv`` (argv[0] included or not, both work)."""
    args = RosArgs()
    inside = False
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == '--ros-args':
            inside = True
            index += 1
            continue
        if not inside:
            args.user_args.append(arg)
            index += 1
            continue
        if arg == '--':
            inside = False
            index += 1
            continue

        def value_of(flag: str, at_index: int = index) -> str:
            if at_index + 1 >= len(argv):
                raise RosArgsError(f'--ros-args: {flag} needs a value')
            return argv[at_index + 1]

        if arg in ('-r', '--remap'):
            node, source, target = _split_rule(value_of(arg), 'remap rule')
            args.remaps.append(RemapRule(source, target, node))
            index += 2
        elif arg in ('-p', '--param'):
            node, name, value = _split_rule(value_of(arg), 'parameter')
            args.params.append((node, name, parse_param_value(value)))
            index += 2
        elif arg == '--params-file':
            path = value_of(arg)
            if load_files:
                args.params_files.extend(load_params_file(path))
            index += 2
        elif arg == '--log-level':
            level = value_of(arg)
            args.log_level = level.split(':=', 1)[-1].lower()
            index += 2
        elif arg in _IGNORED_WITH_VALUE:
            value_of(arg)
            index += 2
        elif arg in _IGNORED_FLAGS:
            index += 1
        else:
            raise RosArgsError(f'unknown ROS argument {arg!r} (allowed: -r/--remap, -p/--param, '
                               '--params-file, --log-level, -e/--enclave)')
    return args


def node_pattern_matches(pattern: str, fqn: str) -> bool:
    """rcl wildcard match of a parameter-file node key against ``/ns/node``."""
    if pattern in ('/**', '**'):
        return True
    pat = pattern if pattern.startswith('/') else '/' + pattern
    regex = ''
    for token in pat[1:].split('/'):
        if token == '**':
            regex += r'(?:/[^/]+)*'
        else:
            regex += '/' + ''.join('[^/]*' if ch == '*' else re.escape(ch) for ch in token)
    return re.fullmatch(regex, fqn) is not None


def load_params_file(path: str | Path) -> list[ParamsFileEntry]:
    """
    Read a ``node: ros__parameters:`` YAML file; errors name the file and line.

    The file is read through :mod:`ior_ros.core.input_files` (missing, a folder, unreadable,
    binary, not UTF-8, larger than 1 MiB or malformed: one ParameterFileError line). An empty
    file sets no parameter, as rcl accepts it.
    """
    source = str(path)
    # an empty file (or only comments) sets nothing, as rcl_yaml_param_parser reads it
    data = load_yaml_with_lines(path, ParameterFileError, what='parameter file',
                                allow_empty=True)
    if data is None:
        return []
    if not isinstance(data, dict):
        raise ParameterFileError(f'{at(source, line_of(data))}expected a mapping of node names '
                                 '(e.g. "/**:" or "my_node:") at the top level')
    entries: list[ParamsFileEntry] = []
    _walk_nodes(data, [], source, entries)
    return entries


def _walk_nodes(mapping: LineDict | dict[str, Any], prefix: list[str], source: str,
                entries: list[ParamsFileEntry]) -> None:
    for key, value in mapping.items():
        line = line_of(mapping, key)
        if not isinstance(key, str):
            raise ParameterFileError(f'{at(source, line)}node name {key!r} must be a string')
        if key == 'ros__parameters':
            if not prefix:
                raise ParameterFileError(f'{at(source, line)}ros__parameters must be under a '
                                         'node name (e.g. "/**:")')
            if value is None:
                value = {}
            if not isinstance(value, dict):
                raise ParameterFileError(f'{at(source, line)}ros__parameters must be a mapping '
                                         'of parameter names to values')
            params: dict[str, Any] = {}
            _flatten(value, '', source, params)
            pattern = '/'.join(prefix)
            if not pattern.startswith('/'):
                pattern = '/' + pattern
            entries.append(ParamsFileEntry(pattern, params, source, line))
            continue
        if not isinstance(value, dict):
            raise ParameterFileError(
                f'{at(source, line)}{key!r}: expected "ros__parameters:" under the node name, '
                f'got {type(value).__name__} {value!r}')
        _walk_nodes(value, prefix + [key.strip('/')] if key not in ('/**', '/*') else
                    prefix + [key.lstrip('/')], source, entries)


def _flatten(mapping: dict[str, Any], prefix: str, source: str, out: dict[str, Any]) -> None:
    for key, value in mapping.items():
        line = line_of(mapping, key)
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            _flatten(value, name + '.', source, out)
        else:
            if isinstance(value, LineList):
                value = list(value)
            out[name] = _check_param_value(value, name, source, line)
