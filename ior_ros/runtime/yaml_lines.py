"""
YAML loading that remembers line numbers, so errors in launch and parameter files name the line.

Mappings load as :class:`LineDict` (``.line`` of the mapping, ``.key_lines[key]`` of each key) and
sequences as :class:`LineList` (``.line``, ``.item_lines``); scalars load as usual.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

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
                         text: str | None = None) -> Any:
    """Parse a YAML file (or ``text``); malformed YAML raises ``error('file:line: problem')``."""
    file = Path(path)
    if text is None:
        try:
            text = file.read_text(encoding='utf-8')
        except OSError as exc:
            raise error(f'{file}: cannot read: {exc.strerror}') from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506  (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        problem_mark = getattr(exc, 'problem_mark', None)
        context_mark = getattr(exc, 'context_mark', None)
        problem = getattr(exc, 'problem', None) or str(exc)
        mark = problem_mark or context_mark
        detail = ''
        if context_mark is not None and problem_mark is not None and \
                '<stream end>' in problem and context_mark.line != problem_mark.line:
            # an unclosed bracket or quote: the line where it opened is the useful one
            mark = context_mark
            detail = f' ({getattr(exc, "context", "")} at line {context_mark.line + 1}, ' \
                     f'still open at the end of the file)'
        line = f':{mark.line + 1}' if mark is not None else ''
        raise error(f'{file}{line}: malformed YAML: {problem}{detail}') from None


def line_of(container: Any, key: Any = None) -> int | None:
    """Line of ``container[key]`` (or of the container itself) when known."""
    if key is not None:
        if isinstance(container, LineDict):
            return container.key_lines.get(key, container.line)
        if isinstance(container, LineList) and isinstance(key, int) \
                and 0 <= key < len(container.item_lines):
            return container.item_lines[key]
    return getattr(container, 'line', None)
