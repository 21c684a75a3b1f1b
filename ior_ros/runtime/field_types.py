"""
The field descriptions of the rosbags typestore, which every part of the message layer reads.

A field's type is rosbags' nested tuple: ``(BASE, (name, string bound))`` for a primitive,
``(NAME, 'pkg/msg/Name')`` for a nested message, ``(ARRAY, (element, length))`` and
``(SEQUENCE, (element, bound or 0))``. This module names those kinds, the primitive types with
their numpy dtypes and integer ranges, and spells a field type the way rclpy
(``get_fields_and_field_types``) and a ``.msg`` file write it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ['PRIMITIVE_TYPES', 'DTYPES', 'INT_RANGES', 'BASE', 'NAME', 'ARRAY', 'SEQUENCE',
           'MISSING', 'rclpy_type_name', 'msg_type_text', 'nested_names']

PRIMITIVE_TYPES = ('bool', 'byte', 'char', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32',
                   'int64', 'uint64', 'float32', 'float64', 'string', 'wstring')

# numpy dtypes used by rosbags when it deserializes arrays (``byte`` is numpy.byte, i.e. int8)
DTYPES: dict[str, np.dtype[Any]] = {
    'bool': np.dtype(np.bool_), 'byte': np.dtype(np.byte), 'char': np.dtype(np.uint8),
    'int8': np.dtype(np.int8), 'uint8': np.dtype(np.uint8), 'int16': np.dtype(np.int16),
    'uint16': np.dtype(np.uint16), 'int32': np.dtype(np.int32), 'uint32': np.dtype(np.uint32),
    'int64': np.dtype(np.int64), 'uint64': np.dtype(np.uint64), 'float32': np.dtype(np.float32),
    'float64': np.dtype(np.float64),
}
INT_RANGES = {'int8': (-2**7, 2**7 - 1), 'uint8': (0, 2**8 - 1), 'char': (0, 2**8 - 1),
              'byte': (-2**7, 2**8 - 1), 'int16': (-2**15, 2**15 - 1), 'uint16': (0, 2**16 - 1),
              'int32': (-2**31, 2**31 - 1), 'uint32': (0, 2**32 - 1),
              'int64': (-2**63, 2**63 - 1), 'uint64': (0, 2**64 - 1)}

BASE = 1      # rosbags Nodetype.BASE
NAME = 2      # rosbags Nodetype.NAME
ARRAY = 3     # rosbags Nodetype.ARRAY
SEQUENCE = 4  # rosbags Nodetype.SEQUENCE

MISSING = object()  # no declared default value


# rosidl's names for the .msg primitive types (the IDL types rosidl_adapter maps them to), which
# rclpy's get_fields_and_field_types() shows: float64 is 'double', bool 'boolean', byte 'octet'
_IDL_NAMES = {'bool': 'boolean', 'byte': 'octet', 'char': 'uint8', 'float32': 'float',
              'float64': 'double'}


def rclpy_type_name(desc: Any) -> str:
    """A field's type as rclpy spells it (``'double'``, ``'sequence<uint8>'``, ``'pkg/Name'``)."""
    kind = desc[0]
    if kind == BASE:
        name, bound = desc[1]
        return f'{name}<={bound}' if bound else _IDL_NAMES.get(name, name)
    if kind == NAME:
        pkg, _, short = desc[1].split('/')
        return f'{pkg}/{short}'
    sub, count = desc[1]
    inner = rclpy_type_name(sub)
    if kind == ARRAY:
        return f'{inner}[{count}]'
    return f'sequence<{inner}, {count}>' if count else f'sequence<{inner}>'


def msg_type_text(desc: Any) -> str:
    """A field type as a .msg writes it (``float64``, ``string<=8``, ``pkg/Name[]``)."""
    kind = desc[0]
    if kind == BASE:
        name, bound = desc[1]
        return f'{name}<={bound}' if bound else name
    if kind == NAME:
        pkg, _, short = desc[1].split('/')
        return f'{pkg}/{short}'
    sub, count = desc[1]
    if kind == ARRAY:
        return f'{msg_type_text(sub)}[{count}]'
    return f'{msg_type_text(sub)}[<={count}]' if count else f'{msg_type_text(sub)}[]'


def nested_names(desc: Any) -> list[str]:
    """The message type a field holds (itself, or as array/sequence elements), if any."""
    if desc[0] == NAME:
        return [desc[1]]
    if desc[0] in (ARRAY, SEQUENCE) and desc[1][0][0] == NAME:
        return [desc[1][0][1]]
    return []
