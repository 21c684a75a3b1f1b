"""
YAML loading that remembers line numbers, so errors in launch and parameter files name the line.

Mappings load as :class:`LineDict` (``.line`` of the mapping, ``.key_lines[key]`` of each key) and
sequences as :class:`LineList` (``.line``, ``.item_lines``); scalars load as usual.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ior_ros.core.input_files import YAML_LIMIT, display_path, parse_yaml_text, read_input_text
from ior_ros.runtime.errors import RosInputError

__all__ = ['LineDict', 'LineList', 'load_yaml_with_lines', 'line_of']


class LineDict(dict):  # type: ignore[type-arg]
    """A dict from YAML with the line of the mapping and of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class LineList(list):  # type: ignore[type-arg]
    """A list from YAML with the line of the sequence and of each item (1-based)."""

    line: int = 0
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, 'unhashable mapping key', key_node.start_mark) from None
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml_with_lines(path: str | Path, error: type[RosInputError] = RosInputError,
                         text: str | None = None, *, what: str = '',
                         allow_empty: bool = True) -> Any:
    """
    Parse a YAML file (or ``text``) keeping line numbers.

    The file is read by :func:`ior_ros.core.input_files.read_input_text` (missing, a folder,
    unreadable, binary, not UTF-8, empty or larger than 1 MiB: one line naming the file) and
    parsed by :func:`~ior_ros.core.input_files.parse_yaml_text` (``file:line: malformed YAML
    (column C): problem``); both raise ``error``.

    Args:
        what: what the file is, for messages (``'launch file'``).
        allow_empty: an empty file (or only comments) gives None instead of an error.
    """
    if text is None:
        text = read_input_text(path, what, YAML_LIMIT, expected='UTF-8 YAML text',
                               allow_empty=allow_empty, error=error)
    data = parse_yaml_text(text, path, loader=_Loader, error=error)
    if data is None and not allow_empty:
        raise error(f'{what + " " if what else ""}{display_path(path)}: holds no YAML value '
                    '(only comments or null)')
    return data


def line_of(container: Any, key: Any = None) -> int | None:
    """Line of ``container[key]`` (or of the container itself) when known."""
    if key is not None:
        if isinstance(container, LineDict):
            return container.key_lines.get(key, container.line)
        if isinstance(container, LineList) and isinstance(key, int) \
                and 0 <= key < len(container.item_lines):
            return container.item_lines[key]
    return getattr(container, 'line', None)
