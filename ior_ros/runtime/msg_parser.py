"""
The ``.msg``/``.srv`` grammar of ROS 2, checked line by line so that an error names file and line.

:func:`parse_msg_definition` checks a ``.msg`` text (field and constant names, types, bounds,
default literals) and returns the message types it refers to; declared default values are read
with rosidl_adapter's rules (Jazzy). :func:`split_srv_definition` cuts a ``.srv`` text into its
request and response halves. The rosbags typestore parses the checked text afterwards
(:mod:`ior_ros.runtime.registry`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ior_ros.runtime.errors import MessageDefinitionError, at
from ior_ros.runtime.field_types import INT_RANGES, PRIMITIVE_TYPES

__all__ = ['parse_msg_definition', 'split_srv_definition']

_FIELD_NAME = re.compile(r'[a-z](?:[a-z0-9]|_(?!_))*')
_CONST_NAME = re.compile(r'[A-Z](?:[A-Z0-9]|_(?!_))*')
_TYPE = re.compile(
    r'(?P<base>(?:[A-Za-z][A-Za-z0-9_]*/)?(?:msg/)?[A-Za-z][A-Za-z0-9_]*)'
    r'(?P<strbound><=\d+)?'
    r'(?:\[(?P<array>(?:<=)?\d*)\])?')


def parse_msg_definition(text: str, typename: str, source: Path | str | None = None,
                         defaults: dict[str, Any] | None = None) -> list[tuple[str, int]]:
    """
    Check a ``.msg`` definition line by line (ROS 2 rules) and return the message types it refers
    to as ``[(pkg/msg/Name, line), ...]``.

    Accepted lines: blank, ``# comment``, ``TYPE name``, ``TYPE name DEFAULT``, ``TYPE NAME=VALUE``
    (constant, primitive types only). TYPE is a primitive (``float64``, ``string<=10``), ``Name``
    (same package), ``pkg/Name`` or ``pkg/msg/Name``, optionally followed by ``[]``, ``[N]`` or
    ``[<=N]``. Raises MessageDefinitionError ``file:line: ...`` for the first bad line.
    ``defaults``, when given, receives ``{field: value}`` for every declared default (parsed as
    rosidl_adapter does: see :func:`_parse_default`).
    """
    pkg = typename.split('/')[0]
    where = source if source is not None else typename
    refs: list[tuple[str, int]] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        head = line.split(None, 1)
        type_text = head[0]
        rest = head[1] if len(head) > 1 else ''
        match = _TYPE.fullmatch(type_text)
        if not match:
            raise MessageDefinitionError(f'{at(where, number)}malformed type {type_text!r} '
                                         f'in {raw.strip()!r}')
        base = match.group('base')
        is_primitive = base in PRIMITIVE_TYPES
        if match.group('strbound') and base not in ('string', 'wstring'):
            raise MessageDefinitionError(f'{at(where, number)}only string types take a bound '
                                         f'(<=N), got {type_text!r}')
        if '=' in rest.split('#', 1)[0] or ('=' in rest and base == 'string'):
            name, _, value = rest.partition('=')
            name = name.strip()
            if not _CONST_NAME.fullmatch(name):
                raise MessageDefinitionError(f'{at(where, number)}constant name {name!r} must be '
                                             'UPPER_CASE')
            if not is_primitive or match.group('array') is not None:
                raise MessageDefinitionError(f'{at(where, number)}constant {name} must have a '
                                             f'primitive scalar type, got {type_text!r}')
            if base not in ('string', 'wstring'):
                value = value.split('#', 1)[0]
            if not value.strip():
                raise MessageDefinitionError(f'{at(where, number)}constant {name} has no value')
            continue
        body = rest.split('#', 1)[0].split()
        if not body:
            raise MessageDefinitionError(f'{at(where, number)}field of type {type_text!r} has no '
                                         'name')
        name = body[0]
        if not _FIELD_NAME.fullmatch(name) or name.endswith('_'):
            raise MessageDefinitionError(
                f'{at(where, number)}field name {name!r} must be lower_snake_case (a letter '
                'first, no double or trailing underscore)')
        if name in seen:
            raise MessageDefinitionError(f'{at(where, number)}field {name!r} defined twice')
        seen.add(name)
        if len(body) > 1 and not is_primitive:
            raise MessageDefinitionError(f'{at(where, number)}field {name}: only primitive '
                                         'fields take a default value')
        if len(body) > 1:
            default = rest.split('#', 1)[0].strip()[len(name):].strip().replace('\t', ' ')
            value = _parse_default(default, base, match.group('strbound'), match.group('array'),
                                   name, where, number)
            if defaults is not None:
                defaults[name] = value
        if not is_primitive:
            parts = base.split('/')
            if len(parts) == 1:
                if base[0].islower():
                    raise MessageDefinitionError(
                        f"{at(where, number)}unknown type '{base}' (not a ROS 2 primitive; "
                        f"message names are UpperCamelCase: {', '.join(PRIMITIVE_TYPES)})")
                refs.append((f'{pkg}/msg/{base}', number))
            elif len(parts) == 2:
                refs.append((f'{parts[0]}/msg/{parts[1]}', number))
            else:
                refs.append((base, number))
    return refs


def _parse_default(text: str, base: str, strbound: str | None, array: str | None, name: str,
                   where: Path | str, number: int) -> Any:
    """
    The value of a field default as rosidl_adapter reads it (``parse_value_string`` of
    rosidl_adapter/parser.py, Jazzy): ``[a, b]`` for arrays (exactly N elements for ``[N]``, at
    most N for ``[<=N]``); bool ``true``/``false``/``1``/``0`` (any case); integers as Python's
    ``int(s)`` or ``int(s, 0)`` (``0x1F``) within the type's range (``byte``/``char`` 0..255);
    floats as ``float(s)``; strings as written, or inside ``"..."``/``'...'`` with ``\\"`` for an
    inner quote. A ``byte`` value is kept as the signed int8 that deserialization gives.
    """
    bound = int(strbound[2:]) if strbound else 0
    try:
        if array is None:
            value = _primitive_default(text, base, bound)
        else:
            if not (text.startswith('[') and text.endswith(']')):
                raise ValueError("an array value must start with '[' and end with ']'")
            inner = text[1:-1]
            if base in ('string', 'wstring'):
                items = _string_array_items(inner)
            else:
                items = inner.split(',') if inner else []
            size = int(array.lstrip('<=') or 0)
            if array and not array.startswith('<=') and len(items) != size:
                raise ValueError(f'the array needs exactly {size} elements, not {len(items)}')
            if array.startswith('<=') and len(items) > size:
                raise ValueError(f'the array takes at most {size} elements, not {len(items)}')
            value = [_primitive_default(item.strip(), base, bound) for item in items]
    except (ValueError, IndexError) as exc:
        kind = f'{base}[]' if array is not None else base
        raise MessageDefinitionError(f'{at(where, number)}field {name}: default value {text!r} '
                                     f'is not a {kind} literal ({exc})') from None
    if base == 'byte':
        return [v - 256 if v > 127 else v for v in value] if array is not None else \
            value - 256 if value > 127 else value
    return value


def _primitive_default(text: str, base: str, bound: int) -> Any:
    """One scalar default literal (rosidl_adapter ``parse_primitive_value_string``)."""
    if base == 'bool':
        if text.lower() not in ('true', '1', 'false', '0'):
            raise ValueError("a bool is 'true' / '1' or 'false' / '0'")
        return text.lower() in ('true', '1')
    if base in ('float32', 'float64'):
        return float(text)
    if base in INT_RANGES:
        try:
            number = int(text)
        except ValueError:
            number = int(text, 0)
        low, high = (0, 255) if base in ('byte', 'char') else INT_RANGES[base]
        if not low <= number <= high:
            raise ValueError(f'{number} is outside [{low}, {high}]')
        return number
    for quote in ('"', "'"):  # string or wstring: outer quotes keep leading/trailing spaces
        if text.startswith(quote) and text.endswith(quote):
            text = text[1:-1]
            if re.search(rf'(?<!\\){quote}', text):
                raise ValueError('string inner quotes not properly escaped')
            text = text.replace('\\' + quote, quote)
            break
    if bound and len(text) > bound:
        raise ValueError(f'the string is longer than its bound {bound}')
    return text


def _string_array_items(text: str) -> list[str]:
    """Elements of a string array default (rosidl_adapter ``parse_string_array_value_string``)."""
    items: list[str] = []
    while text:
        text = text.lstrip(' ')
        if text[0] == ',':
            raise ValueError(f"unexpected ',' at the beginning of [{text}]")
        quoted = False
        for quote in ('"', "'"):
            if text.startswith(quote):
                quoted = True
                end = _matching_end_quote(text, quote)
                if end == -1:
                    raise ValueError(f'string [{text}] incorrectly quoted')
                items.append(text[1:end + 1].replace('\\' + quote, quote))
                text = text[end + 2:]
        if not quoted:
            comma = text.find(',')
            items.append(text if comma == -1 else text[:comma])
            text = '' if comma == -1 else text[comma:]
        text = text.lstrip(' ')
        if text and text[0] == ',':
            text = text[1:]
    return items


def _matching_end_quote(text: str, quote: str) -> int:
    """rosidl_adapter ``find_matching_end_quote`` (index of the closing quote minus 1, or -1)."""
    end = -1
    offset = 0
    while text:
        end = text[1:].find(quote)
        if end == -1:
            return -1
        if text[end:end + 2] != '\\' + quote:
            return offset + end
        text = text[end + 2:]
        offset = end + 2
    return -1


def split_srv_definition(text: str, source: Path | str) -> dict[str, str]:
    """
    The halves of a ``.srv`` text around its line ``---``: ``{'Request': text, 'Response':
    text}``, each the whole file with the other half blanked, so that errors name the line of
    the ``.srv`` file. MessageDefinitionError unless exactly one line is ``---``.
    """
    lines = text.splitlines()
    separators = [i for i, line in enumerate(lines) if line == '---']
    if len(separators) != 1:
        raise MessageDefinitionError(
            f"{at(source, None)}a service definition needs exactly one line '---' "
            f'between request and response, found {len(separators)}')
    cut = separators[0]
    halves = {'Request': range(0, cut), 'Response': range(cut + 1, len(lines))}
    return {suffix: '\n'.join(line if i in kept else '' for i, line in enumerate(lines))
            for suffix, kept in halves.items()}
