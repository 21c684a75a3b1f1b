"""
Messages as plain data: nested dicts for printing (``ros2 topic echo``) and YAML-style values
for filling a message (``ros2 topic pub``, ``ros2 service call``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ior_ros.runtime.errors import MessageTypeError
from ior_ros.runtime.field_types import (
    ARRAY,
    BASE,
    DTYPES,
    INT_RANGES,
    NAME,
    SEQUENCE,
    msg_type_text,
)
from ior_ros.runtime.message_classes import RosMessage, coerce_byte
from ior_ros.runtime.registry import registry

__all__ = ['message_to_dict', 'set_message_fields', 'FLOAT32_MAX']

FLOAT32_MAX = float(np.finfo(np.float32).max)
"""Largest finite float32 (rosidl checks float32 fields against ±3.402823466e+38)."""


def message_to_dict(message: Any, no_arr: bool = False) -> dict[str, Any]:
    """Plain nested dict/list/scalar view of a message (the shape ``ros2 topic echo`` prints)."""
    out: dict[str, Any] = {}
    for name in type(message)._fields:
        out[name] = _to_plain(getattr(message, name), no_arr)
    return out


def _to_plain(value: Any, no_arr: bool) -> Any:
    if isinstance(value, RosMessage):
        return message_to_dict(value, no_arr)
    if isinstance(value, np.ndarray):
        return f'<array type: {value.dtype}, length: {value.size}>' if no_arr else value.tolist()
    if isinstance(value, (list, tuple)):
        if no_arr:
            return f'<sequence length: {len(value)}>'
        return [_to_plain(v, no_arr) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def set_message_fields(message: Any, values: Mapping[str, Any] | None,
                       now_ns: int | None = None, where: str = '') -> Any:
    """
    Fill ``message`` from a nested mapping as ``ros2 topic pub`` takes it (YAML values).

    ``now`` for a ``builtin_interfaces/Time`` field and ``auto`` for a ``std_msgs/Header`` field
    put the current time there (``now_ns``). Every value is checked against its field's type,
    stricter than ``ros2 topic pub`` (which publishes ``300`` in a ``uint8`` field unchecked and
    ``[1, 2]`` in a string field as the text ``'[1, 2]'``): an integer outside the type's range,
    a float32 outside its finite range, a list for a scalar, a mapping for a number, a string
    longer than its bound, an array of the wrong length or an unknown field name is one
    MessageTypeError naming the field path, its type and what is allowed
    (``std_msgs/msg/UInt8.data (uint8): cannot use 300: outside [0, 255]``).
    """
    if values is None:
        return message
    typename = message.__msgtype__
    if not isinstance(values, Mapping):
        raise MessageTypeError(f'{where or typename}: expected a mapping of field values, got '
                               f'{_kind_of(values)}')
    fields = dict(registry().fields(typename))
    for key, value in values.items():
        if key not in fields:
            inside = f' in {where}' if where else ''
            raise MessageTypeError(f"{typename} has no field {str(key)!r} (fields: "
                                   f"{', '.join(fields) or 'none'}){inside}")
        setattr(message, key, _from_plain(fields[key], value, now_ns,
                                          f'{where or typename}.{key}'))
    return message


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + '...'


def _kind_of(value: Any) -> str:
    if isinstance(value, Mapping):
        return 'a mapping'
    if isinstance(value, (list, tuple)):
        return 'a list'
    if isinstance(value, bool):
        return 'a boolean'
    if isinstance(value, str):
        return 'text'
    if value is None:
        return 'null'
    return f'{_short(value)}'


def _from_plain(desc: Any, value: Any, now_ns: int | None, where: str) -> Any:
    reg = registry()
    kind = desc[0]
    type_text = msg_type_text(desc)
    if kind == NAME:
        cls = reg.get_class(desc[1])
        if isinstance(value, str) and value in ('now', 'auto'):
            stamp_ns = now_ns if now_ns is not None else 0
            time_cls = reg.get_class('builtin_interfaces/msg/Time')
            stamp = time_cls(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
            if desc[1] == 'builtin_interfaces/msg/Time':
                return stamp
            if desc[1] == 'std_msgs/msg/Header':
                return cls(stamp=stamp)
            raise MessageTypeError(f"{where} ({type_text}): cannot use '{value}': it only fits "
                                   'a Time or Header field')
        if not isinstance(value, Mapping):
            raise MessageTypeError(f'{where} ({type_text}): cannot use {_short(value)}: expected '
                                   'a mapping of its fields')
        return set_message_fields(cls(), value, now_ns, where)
    if kind == BASE:
        return _primitive(desc[1][0], desc[1][1], value, where, type_text)
    if not isinstance(value, (list, tuple)):
        raise MessageTypeError(f'{where} ({type_text}): cannot use {_short(value)}: expected '
                               'a list')
    sub, count = desc[1]
    if kind == ARRAY and len(value) != count:
        raise MessageTypeError(f'{where} ({type_text}): cannot use a list of {len(value)}: '
                               f'expected exactly {count} items')
    if kind == SEQUENCE and count and len(value) > count:
        raise MessageTypeError(f'{where} ({type_text}): cannot use a list of {len(value)}: '
                               f'at most {count} items')
    items = [_from_plain(sub, item, now_ns, f'{where}[{i}]') for i, item in enumerate(value)]
    if sub[0] == BASE and sub[1][0] in DTYPES:
        return np.asarray(items, dtype=DTYPES[sub[1][0]])
    return items


def _primitive(base: str, bound: int, value: Any, where: str, type_text: str) -> Any:
    """A YAML value checked and converted for a primitive field (see set_message_fields)."""
    def fail(problem: str) -> MessageTypeError:
        return MessageTypeError(f'{where} ({type_text}): cannot use {_short(value)}: {problem}')

    if isinstance(value, (Mapping, list, tuple)) or value is None:
        allowed = 'text' if base in ('string', 'wstring') else \
            'true or false' if base == 'bool' else 'a number'
        raise fail(f'expected {allowed}, got {_kind_of(value)}')
    if base in ('string', 'wstring'):
        if not isinstance(value, str):
            # YAML read 12 or true; the user meant the text (ros2 topic pub does the same)
            value = str(value).lower() if isinstance(value, bool) else str(value)
        if bound and len(value) > bound:
            raise fail(f'{len(value)} characters; at most {bound}')
        if base == 'string' and '\0' in value:
            raise fail('a string field cannot hold a NUL character')
        return value
    if base == 'bool':
        if not isinstance(value, bool):
            raise fail('expected true or false')
        return value
    if isinstance(value, bool):
        raise fail('expected a number, got a boolean')
    if base in ('float32', 'float64'):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise fail('not a number') from None
        if base == 'float32' and math.isfinite(number) and abs(number) > FLOAT32_MAX:
            raise fail(f'outside the finite float32 range [-{FLOAT32_MAX:.7g}, '
                       f'{FLOAT32_MAX:.7g}] (YAML .inf is infinity)')
        return number
    if base == 'byte' and isinstance(value, (bytes, str)) and not _is_integer_text(value):
        data = value.encode() if isinstance(value, str) else value
        try:
            return coerce_byte(data)
        except ValueError as exc:
            raise fail(str(exc)) from None
    integer = _integer(value)
    if integer is None:
        raise fail('not an integer')
    low, high = INT_RANGES[base]
    if not low <= integer <= high:
        raise fail(f'outside [{low}, {high}]')
    return coerce_byte(integer) if base == 'byte' else integer


def _is_integer_text(value: bytes | str) -> bool:
    return isinstance(value, str) and value.strip().lstrip('+-').isdigit()


def _integer(value: Any) -> int | None:
    """An int from an int, an integral float (``3.0``) or integer text (``'12'``); else None."""
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and _is_integer_text(value):
        return int(value.strip())
    return None
