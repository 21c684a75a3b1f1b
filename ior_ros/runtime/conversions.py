"""
Messages as plain data: nested dicts for printing (``ros2 topic echo``) and YAML-style values
for filling a message (``ros2 topic pub``, ``ros2 service call``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ior_ros.runtime.errors import MessageTypeError
from ior_ros.runtime.field_types import BASE, DTYPES, NAME
from ior_ros.runtime.message_classes import RosMessage, coerce_byte
from ior_ros.runtime.registry import registry

__all__ = ['message_to_dict', 'set_message_fields']


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
                       now_ns: int | None = None) -> Any:
    """
    Fill ``message`` from a nested mapping as ``ros2 topic pub`` takes it (YAML values).

    ``now`` for a ``builtin_interfaces/Time`` field and ``auto`` for a ``std_msgs/Header`` field
    put the current time there (``now_ns``). Unknown keys raise MessageTypeError naming the key.
    """
    if values is None:
        return message
    if not isinstance(values, Mapping):
        raise MessageTypeError(f'{message.__msgtype__}: expected a mapping of field values, got '
                               f'{values!r}')
    reg = registry()
    fields = dict(reg.fields(message.__msgtype__))
    for key, value in values.items():
        if key not in fields:
            raise MessageTypeError(f"{message.__msgtype__} has no field '{key}' (fields: "
                                   f"{', '.join(fields) or 'none'})")
        setattr(message, key, _from_plain(fields[key], value, now_ns, f'{message.__msgtype__}.'
                                                                     f'{key}'))
    return message


def _from_plain(desc: Any, value: Any, now_ns: int | None, where: str) -> Any:
    reg = registry()
    kind = desc[0]
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
            raise MessageTypeError(f"{where}: '{value}' only fits a Time or Header field")
        return set_message_fields(cls(), value, now_ns)
    if kind == BASE:
        base = desc[1][0]
        try:
            if base in ('string', 'wstring'):
                return value if isinstance(value, str) else str(value)
            if base == 'bool':
                if not isinstance(value, bool):
                    raise ValueError('expected true or false')
                return value
            if base in ('float32', 'float64'):
                return float(value)
            if base == 'byte' and isinstance(value, (bytes, str)):
                return coerce_byte(value.encode() if isinstance(value, str) else value)
            return int(value)
        except (TypeError, ValueError) as exc:
            raise MessageTypeError(f'{where} ({base}): cannot use {value!r}: {exc}') from None
    if not isinstance(value, (list, tuple)):
        raise MessageTypeError(f'{where}: expected a list, got {value!r}')
    sub = desc[1][0]
    items = [_from_plain(sub, item, now_ns, f'{where}[{i}]') for i, item in enumerate(value)]
    if sub[0] == BASE and sub[1][0] in DTYPES:
        return np.asarray(items, dtype=DTYPES[sub[1][0]])
    return items
