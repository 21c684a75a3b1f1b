"""
The Python classes of ROS messages and services, generated from their field descriptions.

Classes behave like rclpy's generated ones for the common subset: keyword (or positional, in field
order) construction with every field defaulted as rosidl/rclpy does (the default value the
``.msg`` declares, else 0, 0.0, False, '', nested default, zero-filled fixed array, empty
sequence), attribute access, ``==``, ``repr`` (``std_msgs.msg.String(data='x')``), class
constants (``Marker.ADD``) and ``get_fields_and_field_types()``. Fixed-size numeric arrays are
numpy arrays; received sequences are numpy arrays too (read-only views into the received buffer,
which is what makes a 1 MB image cheap to receive).

Each type also gets a generated *prep* function that runs before serialization: lists, tuples,
``bytes`` and arrays of another dtype become numpy arrays of the field's dtype, fixed array
lengths and string types are checked, nested messages visited. The registry
(:mod:`ior_ros.runtime.registry`) builds the classes on first use and keeps them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import numpy as np

from ior_ros.runtime.field_types import ARRAY, BASE, DTYPES, MISSING, NAME, rclpy_type_name

__all__ = ['RosMessage', 'RosService', 'make_class', 'make_prep', 'coerce_array',
           'coerce_byte']


class RosService:
    """Base of every generated service class: ``Request``, ``Response`` and ``Event`` messages
    (rosidl's service classes have the same three attributes)."""

    __srvtype__: ClassVar[str] = ''
    Request: ClassVar[type[RosMessage]]
    Response: ClassVar[type[RosMessage]]
    Event: ClassVar[type[RosMessage]]

    def __init__(self) -> None:
        raise NotImplementedError('Service classes can not be instantiated (as in rosidl)')


class RosMessage:
    """Base of every generated message class (rclpy-like behaviour, see the module docstring)."""

    __slots__ = ()
    __msgtype__: ClassVar[str] = ''
    _fields: ClassVar[tuple[str, ...]] = ()
    _field_types: ClassVar[dict[str, str]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # replaced in every generated class
        raise TypeError('RosMessage is abstract; use get_message("pkg/msg/Name")')

    def __getattr__(self, name: str) -> Any:  # pragma: no cover - typing aid; slots answer first
        raise AttributeError(f'{type(self).__msgtype__ or "message"} has no field {name!r}')

    @classmethod
    def get_fields_and_field_types(cls) -> dict[str, str]:
        """Field name → type string as rclpy gives it (``'double'``, ``'sequence<uint8>'``)."""
        return dict(cls._field_types)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        for name in self._fields:
            mine, theirs = getattr(self, name), getattr(other, name)
            if isinstance(mine, np.ndarray) or isinstance(theirs, np.ndarray):
                if not np.array_equal(np.asarray(mine), np.asarray(theirs)):
                    return False
            elif mine != theirs:
                return False
        return True

    __hash__ = None  # type: ignore[assignment]  # mutable, like rclpy messages

    def __repr__(self) -> str:
        pkg, kind, short = self.__msgtype__.split('/')
        parts = []
        for name in self._fields:
            value = getattr(self, name)
            if isinstance(value, np.ndarray):
                text = (f'array(len={value.size}, dtype={value.dtype})' if value.size > 16
                        else f'array({value.tolist()!r})')
            else:
                text = repr(value)
            parts.append(f'{name}={text}')
        return f"{pkg}.{kind}.{short}({', '.join(parts)})"  # std_srvs.srv.SetBool_Request(..)


def coerce_array(value: Any, dtype: np.dtype[Any], field: str, typename: str,
                 length: int | None) -> np.ndarray:
    """Turn a list/tuple/bytes/array into a contiguous numpy array of ``dtype`` (checked)."""
    if isinstance(value, np.ndarray):
        if dtype.itemsize == 1 and value.dtype.itemsize == 1 and value.dtype.kind in 'iub' \
                and dtype.kind != 'b':
            array = np.ascontiguousarray(value)
        else:
            array = np.ascontiguousarray(value, dtype=dtype)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        if dtype.itemsize != 1:
            raise TypeError(f'{typename}.{field}: bytes are only accepted for 8-bit arrays, this '
                            f'field holds {dtype}')
        array = np.frombuffer(value, dtype=np.uint8)
    else:
        try:
            array = np.asarray(list(value), dtype=dtype)
        except (TypeError, ValueError, OverflowError) as exc:
            raise TypeError(f'{typename}.{field}: cannot convert {type(value).__name__} to an '
                            f'array of {dtype}: {exc}') from None
    if array.ndim != 1:
        raise TypeError(f'{typename}.{field}: expected a 1-D array, got shape {array.shape}')
    if length is not None and array.size != length:
        raise ValueError(f'{typename}.{field}: fixed-size array needs exactly {length} '
                         f'elements, got {array.size}')
    return array


def coerce_byte(value: Any) -> int:
    """rclpy gives ``byte`` fields as 1-byte ``bytes``; rosbags packs them as signed int8."""
    if isinstance(value, (bytes, bytearray)):
        if len(value) != 1:
            raise ValueError(f'a byte field takes exactly one byte, got {len(value)}')
        value = value[0]
    number = int(value)
    return number - 256 if number > 127 else number


def _default_code(desc: Any, ns: dict[str, Any], key: str, declared: Any,
                  nested_class: Callable[[str], type[RosMessage]]) -> str:
    """
    Python expression of a field's default (names it needs go into ``ns`` under ``key``):
    the ``.msg`` default when one is declared (a fresh array or list per instance), else
    rosidl's zero value.
    """
    kind = desc[0]
    if declared is not MISSING:
        if kind == BASE:  # bool, int, float or str: immutable
            ns[key] = declared
            return key
        sub = desc[1][0]
        if sub[1][0] in DTYPES:  # numeric array or sequence: numpy, as received ones are
            ns[key] = np.array(declared, dtype=DTYPES[sub[1][0]])
            return f'{key}.copy()'
        ns[key] = tuple(declared)  # strings
        return f'list({key})'
    if kind == BASE:
        base = desc[1][0]
        return {'bool': 'False', 'string': "''", 'wstring': "''",
                'float32': '0.0', 'float64': '0.0'}.get(base, '0')
    if kind == NAME:
        ns[key] = nested_class(desc[1])
        return f'{key}()'
    sub, count = desc[1]
    if kind == ARRAY:
        if sub[0] == BASE and sub[1][0] in DTYPES:
            ns[key] = DTYPES[sub[1][0]]
            return f'_np.zeros({count}, {key})'
        if sub[0] == BASE:
            return f"[''] * {count}"
        ns[key] = nested_class(sub[1])
        return f'[{key}() for _ in range({count})]'
    return '[]'


def make_class(typename: str, fields: list[tuple[str, Any]],
               consts: Iterable[tuple[str, Any, Any]], defaults: list[Any] | None,
               nested_class: Callable[[str], type[RosMessage]]) -> type[RosMessage]:
    """
    The class of ``typename``: ``fields`` are ``[(name, desc), ...]``, ``consts`` rosbags'
    ``(name, type, value)``, ``defaults`` the declared default of each field (or MISSING);
    ``nested_class(typename)`` gives the (already built) class of a nested message type.
    """
    pkg, kind, short = typename.split('/')
    ns: dict[str, Any] = {'_MISSING': MISSING, '_np': np}
    args = ', '.join(f'{name}=_MISSING' for name, _ in fields)
    body = []
    for index, (name, desc) in enumerate(fields):
        declared = defaults[index] if defaults is not None else MISSING
        default = _default_code(desc, ns, f'_d{index}', declared, nested_class)
        body.append(f'    self.{name} = {default} if {name} is _MISSING else {name}')
    code = f'def __init__(self, {args}):\n' + ('\n'.join(body) or '    pass') + '\n'
    exec(compile(code, f'<ior_ros message {typename}>', 'exec'), ns)  # noqa: S102
    attrs: dict[str, Any] = {
        '__slots__': tuple(name for name, _ in fields),
        '__init__': ns['__init__'],
        '__module__': f'{pkg}.{kind}',
        '__qualname__': short,
        '__msgtype__': typename,
        '_fields': tuple(name for name, _ in fields),
        '_field_types': {name: rclpy_type_name(desc) for name, desc in fields},
        '__doc__': f'ROS 2 message {typename} (generated from its definition).',
    }
    for cname, _ctype, cvalue in consts:
        attrs[cname] = cvalue
    return type(short, (RosMessage,), attrs)


def make_prep(typename: str, fields: list[tuple[str, Any]],
              nested_prep: Callable[[str], Callable[[Any], None] | None]
              ) -> Callable[[Any], None] | None:
    """
    Generate the pre-serialization check: arrays to numpy of the right dtype, strings checked,
    nested messages visited. Returns None when the type needs nothing (most small types).
    ``nested_prep(typename)`` gives the (already built) prep function of a nested message type.
    """
    ns: dict[str, Any] = {'_np': np, '_nd': np.ndarray, '_coerce': coerce_array,
                          '_byte': coerce_byte, '_T': typename}
    lines: list[str] = []
    for index, (name, desc) in enumerate(fields):
        kind = desc[0]
        if kind == BASE:
            base = desc[1][0]
            if base == 'byte':
                lines.append(f'    m.{name} = _byte(m.{name})')
            elif base in ('string', 'wstring'):
                lines.append(f'    if type(m.{name}) is not str:')
                lines.append(f"        raise TypeError(_T + '.{name}: expected str, got ' + "
                             f'type(m.{name}).__name__)')
        elif kind == NAME:
            nested = nested_prep(desc[1])
            if nested is not None:
                ns[f'_p{index}'] = nested
                lines.append(f'    _p{index}(m.{name})')
        else:
            sub, count = desc[1]
            length = count if kind == ARRAY else None
            if sub[0] == BASE and sub[1][0] in DTYPES:
                dtype = DTYPES[sub[1][0]]
                ns[f'_dt{index}'] = dtype
                lines.append(f'    v = m.{name}')
                lines.append(f'    if type(v) is not _nd or v.dtype != _dt{index} '
                             'or not v.flags.c_contiguous'
                             + (f' or v.size != {length}' if length is not None else '') + ':')
                lines.append(f"        m.{name} = _coerce(v, _dt{index}, '{name}', _T, "
                             f'{length})')
            elif sub[0] == BASE:
                lines.append(f'    if isinstance(m.{name}, str):')
                lines.append(f"        raise TypeError(_T + '.{name}: expected a list of "
                             "str')")
                if length is not None:
                    lines.append(f'    if len(m.{name}) != {length}:')
                    lines.append(f"        raise ValueError(_T + '.{name}: fixed-size array "
                                 f"needs exactly {length} elements')")
            else:
                nested = nested_prep(sub[1])
                if length is not None:
                    lines.append(f'    if len(m.{name}) != {length}:')
                    lines.append(f"        raise ValueError(_T + '.{name}: fixed-size array "
                                 f"needs exactly {length} elements')")
                if nested is not None:
                    ns[f'_p{index}'] = nested
                    lines.append(f'    for item in m.{name}:')
                    lines.append(f'        _p{index}(item)')
    if not lines:
        return None
    code = 'def prep(m):\n' + '\n'.join(lines) + '\n'
    exec(compile(code, f'<ior_ros prep {typename}>', 'exec'), ns)  # noqa: S102
    return ns['prep']  # type: ignore[no-any-return]
