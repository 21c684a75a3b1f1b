"""
ROS 2 message types as Python classes, their CDR (XCDR1) serialization, and their type hashes.

Source of truth: the rosbags typestore for ROS 2 Jazzy (every standard message package: std_msgs,
geometry_msgs, sensor_msgs, nav_msgs, visualization_msgs, builtin_interfaces, rosgraph_msgs,
rcl_interfaces, rmw_dds_common, ...) plus the project's own ``msg/*.msg`` files, parsed and checked
here line by line so that a syntax error names the file and line.

Classes behave like rclpy's generated ones for the common subset: keyword (or positional, in field
order) construction with every field defaulted as rosidl/rclpy does (the default value the
``.msg`` declares, else 0, 0.0, False, '', nested default, zero-filled fixed array, empty
sequence; the typestore drops declared defaults, so those of the Jazzy types are in
``_JAZZY_DEFAULTS``), attribute access, ``==``, ``repr``
(``std_msgs.msg.String(data='x')``), class constants (``Marker.ADD``) and
``get_fields_and_field_types()``. Fixed-size numeric arrays are numpy arrays; received sequences
are numpy arrays too (read-only views into the received buffer, which is what makes a 1 MB image
cheap to receive); lists, tuples, ``bytes`` and arrays of another
dtype are converted when the message is serialized.

Serialization is rosbags' generated code (no per-element packing: ``uint8[]`` is one memcpy),
written into a buffer whose length is padded to a multiple of 4 with zeros, as rmw_cyclonedds does
(serdata.cpp:732); the encapsulation header is ``00 01 00 00`` (CDR little-endian, XCDR1). The type
hash is REP-2011 ``RIHS01`` (SHA-256 over the type description), as rosbags computes it.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ior_ros.runtime.errors import MessageDefinitionError, MessageTypeError, at

__all__ = ['RosMessage', 'MessageRegistry', 'registry', 'get_message', 'normalize_type_name',
           'dds_type_name', 'ros_type_from_dds', 'message_to_dict', 'set_message_fields',
           'parse_msg_definition', 'serialize', 'deserialize', 'type_hash', 'typename_of',
           'PRIMITIVE_TYPES', 'RosService', 'get_service', 'normalize_service_name',
           'find_interface_file', 'rihs01', 'EMBEDDED_SERVICES']

PRIMITIVE_TYPES = ('bool', 'byte', 'char', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32',
                   'int64', 'uint64', 'float32', 'float64', 'string', 'wstring')

# numpy dtypes used by rosbags when it deserializes arrays (``byte`` is numpy.byte, i.e. int8)
_DTYPES: dict[str, np.dtype[Any]] = {
    'bool': np.dtype(np.bool_), 'byte': np.dtype(np.byte), 'char': np.dtype(np.uint8),
    'int8': np.dtype(np.int8), 'uint8': np.dtype(np.uint8), 'int16': np.dtype(np.int16),
    'uint16': np.dtype(np.uint16), 'int32': np.dtype(np.int32), 'uint32': np.dtype(np.uint32),
    'int64': np.dtype(np.int64), 'uint64': np.dtype(np.uint64), 'float32': np.dtype(np.float32),
    'float64': np.dtype(np.float64),
}
_INT_RANGES = {'int8': (-2**7, 2**7 - 1), 'uint8': (0, 2**8 - 1), 'char': (0, 2**8 - 1),
               'byte': (-2**7, 2**8 - 1), 'int16': (-2**15, 2**15 - 1), 'uint16': (0, 2**16 - 1),
               'int32': (-2**31, 2**31 - 1), 'uint32': (0, 2**32 - 1),
               'int64': (-2**63, 2**63 - 1), 'uint64': (0, 2**64 - 1)}

_BASE = 1      # rosbags Nodetype.BASE
_NAME = 2      # rosbags Nodetype.NAME
_ARRAY = 3     # rosbags Nodetype.ARRAY
_SEQUENCE = 4  # rosbags Nodetype.SEQUENCE

_MISSING = object()

# Default values that Jazzy's standard messages declare in their .msg files (rosbags' typestore
# drops them; rosidl/rclpy apply them). Found by parsing every /opt/ros/jazzy/share/*/msg/*.msg
# with rosidl_adapter (fields whose default_value is set):
#   geometry_msgs/msg/Quaternion.msg          float64 x 0 / y 0 / z 0 / w 1
#   sensor_msgs/msg/NavSatStatus.msg          int8 status -2          (STATUS_UNKNOWN)
#   rcl_interfaces/msg/ParameterDescriptor.msg bool read_only false / bool dynamic_typing false
#   type_description_interfaces/msg/FieldType.msg  uint8 type_id 0
# No array or string field of a Jazzy message declares a default. (The only srv one,
# type_description_interfaces/srv/GetTypeDescription request ``bool include_type_sources true``,
# is not a type this runtime knows.) test/runtime/test_rt_msg_defaults.py checks the table against
# rclpy for every type both know.
_JAZZY_DEFAULTS: dict[str, dict[str, Any]] = {
    'geometry_msgs/msg/Quaternion': {'x': 0.0, 'y': 0.0, 'z': 0.0, 'w': 1.0},
    'sensor_msgs/msg/NavSatStatus': {'status': -2},
    'rcl_interfaces/msg/ParameterDescriptor': {'read_only': False, 'dynamic_typing': False},
    'type_description_interfaces/msg/FieldType': {'type_id': 0},
}


def normalize_type_name(name: str) -> str:
    """
    ``pkg/Name`` or ``pkg/msg/Name`` → ``pkg/msg/Name``; ``pkg/srv/Name_Request`` (the halves of a
    service, see :mod:`ior_ros.runtime.services`) stays as it is; anything else is a
    MessageTypeError.
    """
    text = name.strip()
    parts = text.split('/')
    if len(parts) == 2 and all(parts):
        return f'{parts[0]}/msg/{parts[1]}'
    if len(parts) == 3 and all(parts) and parts[1] in ('msg', 'srv'):
        return text
    raise MessageTypeError(f"message type {name!r}: expected 'pkg/msg/Name' or 'pkg/Name'")


def dds_type_name(typename: str) -> str:
    """ROS type ``pkg/msg/Name`` → DDS type ``pkg::msg::dds_::Name_`` (serdata.cpp:659-676)."""
    pkg, kind, short = normalize_type_name(typename).split('/')
    return f'{pkg}::{kind}::dds_::{short}_'


def ros_type_from_dds(dds_name: str) -> str | None:
    """DDS type name ``pkg::msg::dds_::Name_`` → ``pkg/msg/Name``; None for a non-ROS type."""
    match = re.fullmatch(r'([A-Za-z0-9_]+)::(msg|srv|action)::dds_::([A-Za-z0-9_]+)_', dds_name)
    if not match:
        return None
    return f'{match.group(1)}/{match.group(2)}/{match.group(3)}'


def normalize_service_name(name: str) -> str:
    """``pkg/Name`` or ``pkg/srv/Name`` → ``pkg/srv/Name``; anything else is a MessageTypeError."""
    parts = name.strip().split('/')
    if len(parts) == 2 and all(parts):
        parts = [parts[0], 'srv', parts[1]]
    if len(parts) != 3 or not all(parts) or parts[1] != 'srv':
        raise MessageTypeError(f"service type {name!r}: expected 'pkg/srv/Name' or 'pkg/Name'")
    return '/'.join(parts)


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


# rosidl's names for the .msg primitive types (the IDL types rosidl_adapter maps them to), which
# rclpy's get_fields_and_field_types() shows: float64 is 'double', bool 'boolean', byte 'octet'
_IDL_NAMES = {'bool': 'boolean', 'byte': 'octet', 'char': 'uint8', 'float32': 'float',
              'float64': 'double'}


def _type_string(desc: Any) -> str:
    """A field's type as rclpy spells it (``'double'``, ``'sequence<uint8>'``, ``'pkg/Name'``)."""
    kind = desc[0]
    if kind == _BASE:
        name, bound = desc[1]
        return f'{name}<={bound}' if bound else _IDL_NAMES.get(name, name)
    if kind == _NAME:
        pkg, _, short = desc[1].split('/')
        return f'{pkg}/{short}'
    sub, count = desc[1]
    inner = _type_string(sub)
    if kind == _ARRAY:
        return f'{inner}[{count}]'
    return f'sequence<{inner}, {count}>' if count else f'sequence<{inner}>'


class _Entry:
    """Everything the registry knows about one type: class, rosbags msgdef, prep function."""

    __slots__ = ('typename', 'cls', 'msgdef', 'prep', 'hash', 'fields')

    def __init__(self, typename: str, cls: type[RosMessage], fields: list[tuple[str, Any]]):
        self.typename = typename
        self.cls = cls
        self.fields = fields
        self.msgdef: Any = None
        self.prep: Callable[[Any], None] | None = None
        self.hash: str | None = None


def _coerce_array(value: Any, dtype: np.dtype[Any], field: str, typename: str,
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


def _coerce_byte(value: Any) -> int:
    """rclpy gives ``byte`` fields as 1-byte ``bytes``; rosbags packs them as signed int8."""
    if isinstance(value, (bytes, bytearray)):
        if len(value) != 1:
            raise ValueError(f'a byte field takes exactly one byte, got {len(value)}')
        value = value[0]
    number = int(value)
    return number - 256 if number > 127 else number


class MessageRegistry:
    """
    The process-wide set of message types (rosbags Jazzy typestore + project ``.msg`` files).

    Args:
        msg_dirs: extra ``(package, folder)`` pairs whose ``*.msg`` files are registered as
            ``package/msg/<file stem>``. By default the ior_ros package's ``msg/`` folder and every
            ``<dir>/<pkg>/msg`` under the folders of ``IOR_ROS_MSG_PATH`` are used.
    """

    def __init__(self, msg_dirs: Iterable[tuple[str, Path]] | None = None) -> None:
        from rosbags.typesys import Stores, get_typestore

        self.store = get_typestore(Stores.ROS2_JAZZY)
        self._lock = threading.RLock()
        self._entries: dict[str, _Entry] = {}
        self._sources: dict[str, tuple[Path, int]] = {}  # typename → (file, first line)
        # typename → {field (as the .msg names it): declared default value}
        self._defaults: dict[str, dict[str, Any]] = {
            name: dict(values) for name, values in _JAZZY_DEFAULTS.items()}
        self._services: dict[str, type[RosService]] = {}
        self._srv_texts: dict[str, tuple[Path | str, str]] = {}  # pkg/srv/Name → (source, text)
        self._descriptions: dict[str, dict[str, Any]] = {}
        self._source_cache: dict[str, tuple[str, str]] = {}
        self.store.types = _LazyTypes(self)  # our classes, built on first use
        if msg_dirs is None:
            msg_dirs = list(_default_msg_dirs())
        for package, folder in msg_dirs:
            self.register_msg_folder(package, folder)

    # ----------------------------------------------------------------- registration
    def register_msg_folder(self, package: str, folder: Path) -> list[str]:
        """Parse and register every ``*.msg`` of a folder (one package); returns the type names."""
        files = sorted(Path(folder).glob('*.msg'))
        texts = {f'{package}/msg/{path.stem}': (path, path.read_text(encoding='utf-8'))
                 for path in files}
        return self.register_definitions(texts)

    def register_definitions(self, texts: Mapping[str, tuple[Path | str, str]]) -> list[str]:
        """
        Register message definitions ``{typename: (source, text)}`` (checked together, so they may
        refer to each other). Raises MessageDefinitionError naming file and line.
        """
        from rosbags.typesys import TypesysError, get_types_from_msg

        with self._lock:
            parsed: dict[str, Any] = {}
            defaults: dict[str, dict[str, Any]] = {}
            references: list[tuple[str, str, Path | str, int]] = []
            for typename, (source, text) in texts.items():
                pkg, _, short = normalize_type_name(typename).split('/')
                if not re.fullmatch(r'[A-Z][A-Za-z0-9]*', short):
                    raise MessageDefinitionError(
                        f'{at(source, None)}message name {short!r} must be UpperCamelCase '
                        '(letters and digits)')
                defaults[f'{pkg}/msg/{short}'] = {}
                refs = parse_msg_definition(text, f'{pkg}/msg/{short}', source,
                                            defaults=defaults[f'{pkg}/msg/{short}'])
                references.extend((typename, ref, source, line) for ref, line in refs)
                try:
                    parsed.update(get_types_from_msg(text, f'{pkg}/msg/{short}'))
                except TypesysError as exc:  # pragma: no cover - our checker runs first
                    raise MessageDefinitionError(f'{at(source, None)}{exc}') from None
            self._check_references(parsed, references)
            for typename, (_, fields) in parsed.items():
                if not fields:  # an empty message carries one uint8, as rosidl makes it
                    parsed[typename] = (parsed[typename][0],
                                        [('structure_needs_at_least_one_member',
                                          (_BASE, ('uint8', 0)))])
            try:
                self.store.register(parsed)
            except TypesysError as exc:
                raise MessageDefinitionError(str(exc)) from None
            for typename, (source, _) in texts.items():
                self._sources[normalize_type_name(typename)] = (Path(source), 1)
            self._defaults.update(defaults)
            return sorted(parsed)

    # ----------------------------------------------------------------- lookups
    def known_types(self) -> list[str]:
        """Every registered type name (``pkg/msg/Name``)."""
        return sorted(self.store.fielddefs)

    def _check_references(self, parsed: Mapping[str, Any],
                          references: list[tuple[str, str, Path | str, int]]) -> None:
        """Every referenced type must be defined, known, or found as a ``.msg`` file (loaded)."""
        for owner, ref, source, line in references:
            if ref not in parsed and ref not in self.store.fielddefs \
                    and not self._load_message_file(ref):
                raise MessageDefinitionError(
                    f"{at(source, line)}unknown type '{ref}' in {owner} (not a primitive "
                    'type, a Jazzy message or a message of the same package)')

    def _load_message_file(self, typename: str) -> bool:
        """Register ``pkg/msg/Name`` from its ``.msg`` file (interface folders, then
        ``share/<pkg>/msg`` of AMENT_PREFIX_PATH); False when there is none."""
        parts = typename.split('/')
        if len(parts) != 3 or parts[1] != 'msg':
            return False
        path = find_interface_file(parts[0], 'msg', parts[2])
        if path is None or path.suffix != '.msg':
            return False
        with self._lock:
            if typename not in self.store.fielddefs:
                self.register_definitions({typename: (path, path.read_text(encoding='utf-8'))})
        return True

    def _load_service_of(self, typename: str) -> bool:
        """Register the service that ``pkg/srv/Name[_Request|_Response|_Event]`` belongs to."""
        if '/srv/' not in typename:
            return False
        try:
            self.get_service(re.sub(r'_(Request|Response|Event)$', '', typename))
        except MessageTypeError:
            return False
        return typename in self.store.fielddefs

    def _check_known(self, typename: str) -> str:
        name = normalize_type_name(typename)
        if name not in self.store.fielddefs and not self._load_message_file(name) \
                and not self._load_service_of(name):
            close = difflib.get_close_matches(name, self.store.fielddefs.keys(), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ''
            raise MessageTypeError(f"unknown message type '{typename}'{hint}")
        return name

    def entry(self, typename: str) -> _Entry:
        """The registry entry of a type (class, msgdef, prep); built on first use."""
        found = self._entries.get(typename)
        if found is not None:
            return found
        with self._lock:
            name = self._check_known(typename)
            if name in self._entries:
                self._entries[typename] = self._entries[name]
                return self._entries[name]
            entry = self._build(name)
            self._entries[typename] = entry
            return entry

    def get_class(self, typename: str) -> type[RosMessage]:
        """The message class of ``pkg/msg/Name`` (or ``pkg/Name``)."""
        return self.entry(typename).cls

    def fields(self, typename: str) -> list[tuple[str, Any]]:
        """The rosbags field descriptions ``[(name, desc), ...]`` of a type."""
        return self.entry(typename).fields

    def type_hash(self, typename: str) -> str:
        """REP-2011 ``RIHS01_<sha256>`` of the type (what rmw puts into endpoint USER_DATA)."""
        entry = self.entry(typename)
        if entry.hash is None:
            entry.hash = rihs01(self.type_description(entry.typename))
        return entry.hash

    def message_definition(self, typename: str) -> str:
        """The concatenated ``.msg`` text (ros2msg) that bags and MCAP schemas carry."""
        name = self._check_known(typename)
        text, _ = self.store.generate_msgdef(name, ros_version=2)
        return text

    # ----------------------------------------------------------------- services
    def register_srv_definitions(self, texts: Mapping[str, tuple[Path | str, str]]) -> list[str]:
        """
        Register service definitions ``{'pkg/srv/Name': (source, .srv text)}`` as rosidl does:
        the messages ``pkg/srv/Name_Request`` and ``_Response`` (the two halves around the line
        ``---``), ``pkg/srv/Name_Event`` (``service_msgs/ServiceEventInfo info``,
        ``Name_Request[<=1] request``, ``Name_Response[<=1] response``) and the service type
        ``pkg/srv/Name`` (``request_message``, ``response_message``, ``event_message``), whose
        REP-2011 hash is the service's hash. Errors name the file and line.
        """
        from rosbags.typesys import TypesysError, get_types_from_msg
        from rosbags.typesys.base import Nodetype  # type: ignore[attr-defined]

        with self._lock:
            parsed: dict[str, Any] = {}
            defaults: dict[str, dict[str, Any]] = {}
            references: list[tuple[str, str, Path | str, int]] = []
            for srvname, (source, text) in texts.items():
                pkg, short = normalize_service_name(srvname).split('/srv/')
                if not re.fullmatch(r'[A-Z][A-Za-z0-9]*', short):
                    raise MessageDefinitionError(
                        f'{at(source, None)}service name {short!r} must be UpperCamelCase '
                        '(letters and digits)')
                lines = text.splitlines()
                separators = [i for i, line in enumerate(lines) if line == '---']
                if len(separators) != 1:
                    raise MessageDefinitionError(
                        f"{at(source, None)}a service definition needs exactly one line '---' "
                        f'between request and response, found {len(separators)}')
                cut = separators[0]
                halves = {'Request': range(0, cut), 'Response': range(cut + 1, len(lines))}
                for suffix, kept in halves.items():
                    # the other half blanked, so that errors name the line of the .srv file
                    checked = '\n'.join(line if i in kept else '' for i, line in enumerate(lines))
                    as_msg, key = f'{pkg}/msg/{short}_{suffix}', f'{pkg}/srv/{short}_{suffix}'
                    defaults[key] = {}
                    refs = parse_msg_definition(checked, as_msg, source, defaults=defaults[key])
                    references.extend((key, ref, source, line) for ref, line in refs)
                    try:
                        (fields,) = get_types_from_msg(checked, as_msg).values()
                    except TypesysError as exc:  # pragma: no cover - our checker runs first
                        raise MessageDefinitionError(f'{at(source, None)}{exc}') from None
                    if not fields[1]:  # an empty half carries one uint8, as rosidl makes it
                        fields = (fields[0], [('structure_needs_at_least_one_member',
                                               (Nodetype.BASE, ('uint8', 0)))])
                    parsed[key] = fields
                request, response = f'{pkg}/srv/{short}_Request', f'{pkg}/srv/{short}_Response'
                event = f'{pkg}/srv/{short}_Event'
                parsed[event] = ([], [
                    ('info', (Nodetype.NAME, 'service_msgs/msg/ServiceEventInfo')),
                    ('request', (Nodetype.SEQUENCE, ((Nodetype.NAME, request), 1))),
                    ('response', (Nodetype.SEQUENCE, ((Nodetype.NAME, response), 1)))])
                parsed[f'{pkg}/srv/{short}'] = ([], [
                    ('request_message', (Nodetype.NAME, request)),
                    ('response_message', (Nodetype.NAME, response)),
                    ('event_message', (Nodetype.NAME, event))])
            self._check_references(parsed, references)
            try:
                self.store.register(parsed)
            except TypesysError as exc:
                raise MessageDefinitionError(str(exc)) from None
            for srvname, (source, text) in texts.items():
                self._srv_texts[normalize_service_name(srvname)] = (source, text)
            self._defaults.update(defaults)
            return sorted(parsed)

    def get_service(self, srvname: str) -> type[RosService]:
        """
        The service class of ``pkg/srv/Name`` (``.Request``, ``.Response``, ``.Event``), its
        definition found on first use: ``srv/`` beside the ``msg/`` of this package and of the
        ``IOR_ROS_MSG_PATH`` folders, ``share/<pkg>/srv`` of every AMENT_PREFIX_PATH prefix, then
        the embedded set (std_srvs Empty/SetBool/Trigger, the rcl_interfaces parameter services,
        type_description_interfaces GetTypeDescription).
        """
        name = normalize_service_name(srvname)
        found = self._services.get(name)
        if found is not None:
            return found
        with self._lock:
            if name not in self._services:
                if name not in self._srv_texts:
                    self._load_service(name, srvname)
                pkg, short = name.split('/srv/')
                attrs = {'Request': self.get_class(f'{name}_Request'),
                         'Response': self.get_class(f'{name}_Response'),
                         'Event': self.get_class(f'{name}_Event'),
                         '__srvtype__': name, '__module__': f'{pkg}.srv', '__qualname__': short,
                         '__doc__': f'ROS 2 service {name} (generated from its definition).'}
                self._services[name] = type(short, (RosService,), attrs)
            return self._services[name]

    def _load_service(self, name: str, asked: str) -> None:
        pkg, short = name.split('/srv/')
        path = find_interface_file(pkg, 'srv', short)
        if path is not None and path.suffix == '.srv':
            self.register_srv_definitions({name: (path, path.read_text(encoding='utf-8'))})
        elif name in EMBEDDED_SERVICES:
            self.register_srv_definitions({name: (f'<embedded {name}>', EMBEDDED_SERVICES[name])})
        else:
            known = sorted(set(EMBEDDED_SERVICES) | set(self._srv_texts))
            close = difflib.get_close_matches(name, known, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ''
            raise MessageTypeError(
                f"unknown service type '{asked}'{hint}: no {short}.srv in srv/ of this package, "
                'IOR_ROS_MSG_PATH or share/' f'{pkg}/srv of AMENT_PREFIX_PATH')

    def known_services(self) -> list[str]:
        """The service types registered so far (``pkg/srv/Name``)."""
        return sorted(self._srv_texts)

    # ----------------------------------------------------------------- type descriptions
    def type_description(self, typename: str) -> dict[str, Any]:
        """
        The REP-2011 TypeDescription of a type as rosidl writes it into ``<Type>.json``
        (``type_description`` plus the ``referenced_type_descriptions`` sorted by name; field
        ``default_value`` strings as rosidl_generator_type_description makes them).
        """
        name = self._check_known(typename)
        cache = self._descriptions
        if name not in cache:
            referenced: dict[str, dict[str, Any]] = {}
            queue = [name]
            top = None
            while queue:
                current = queue.pop()
                individual = self._individual_description(current)
                if current == name:
                    top = individual
                else:
                    referenced[current] = individual
                for field in individual['fields']:
                    nested = field['type']['nested_type_name']
                    if nested and nested != name and nested not in referenced \
                            and nested not in queue:
                        queue.append(nested)
            cache[name] = {'type_description': top,
                           'referenced_type_descriptions': [referenced[k]
                                                            for k in sorted(referenced)]}
        return cache[name]

    def _individual_description(self, typename: str) -> dict[str, Any]:
        if typename not in self.store.fielddefs:
            self._check_known(typename)
        _, fields = self.store.fielddefs[typename]
        declared = self._defaults.get(typename, {})
        out = []
        empty: list[Any] = [('structure_needs_at_least_one_member', (_BASE, ('uint8', 0)))]
        for fname, desc in fields or empty:
            ftype = _field_type(desc)
            value = declared.get(fname, _MISSING)
            out.append({'name': fname, 'type': ftype,
                        'default_value': '' if value is _MISSING else _default_text(desc, value)})
        return {'type_name': typename, 'fields': out}

    def type_sources(self, typename: str) -> list[tuple[str, str, str]]:
        """
        ``[(type_name, encoding, raw_file_contents), ...]`` of a type and every type it refers to
        (the order of :meth:`type_description`), as rosidl's generated type support gives them:
        the ``.msg``/``.srv``/``.idl`` file text (line ends normalized, no trailing newline);
        ``implicit`` and no text for the Request/Response/Event of a service. Without the file
        (no ROS 2 installation) the text is the definition as registered, without comments.
        """
        description = self.type_description(typename)
        names = [description['type_description']['type_name']] + [
            d['type_name'] for d in description['referenced_type_descriptions']]
        return [(n, *self._individual_source(n)) for n in names]

    def _individual_source(self, typename: str) -> tuple[str, str]:
        found = self._source_cache.get(typename)
        if found is not None:
            return found
        pkg, kind, short = typename.split('/')
        result: tuple[str, str]
        if kind == 'srv' and typename not in self._srv_texts:
            result = ('implicit', '')  # Name_Request, _Response, _Event
        elif kind == 'srv':
            source, text = self._srv_texts[typename]
            result = ('srv', _source_text(text))
        else:
            known = self._sources.get(typename)
            path = known[0] if known and Path(known[0]).is_file() else \
                find_interface_file(pkg, 'msg', short)
            if path is not None:
                result = (path.suffix[1:], _source_text(path.read_text(encoding='utf-8')))
            else:
                result = ('msg', self._definition_text(typename))
        self._source_cache[typename] = result
        return result

    def _definition_text(self, typename: str) -> str:
        """A ``.msg`` text of the registered definition (constants, fields, defaults)."""
        consts, fields = self.store.fielddefs[typename]
        declared = self._defaults.get(typename, {})
        lines = [f'{ctype} {cname}={_literal(cvalue)}' for cname, ctype, cvalue in consts]
        for fname, desc in fields:
            line = f'{_msg_type_text(desc)} {fname}'
            if fname in declared:
                line += f' {_literal(declared[fname])}'
            lines.append(line)
        return '\n'.join(lines)

    # ----------------------------------------------------------------- building classes
    def _build(self, typename: str) -> _Entry:
        from rosbags.typesys.base import normalize_fieldname

        consts, raw_fields = self.store.fielddefs[typename]
        fields = [(normalize_fieldname(name), desc) for name, desc in raw_fields]
        declared = self._defaults.get(typename, {})
        defaults = [declared.get(name, _MISSING) for name, _ in raw_fields]
        for _, desc in fields:  # nested classes first
            for nested in _nested_names(desc):
                if nested != typename:
                    self.entry(nested)
        cls = self._make_class(typename, fields, consts, defaults)
        entry = _Entry(typename, cls, fields)
        self._entries[typename] = entry
        self.store.types[typename] = cls
        # rosbags' serializer code is generated on the first serialize (entry.msgdef) or
        # deserialize (the store's cache): a node's service endpoints cost little at start-up
        entry.prep = self._make_prep(typename, fields)
        return entry

    def _default_code(self, desc: Any, ns: dict[str, Any], key: str,
                      declared: Any = _MISSING) -> str:
        """
        Python expression of a field's default (names it needs go into ``ns`` under ``key``):
        the ``.msg`` default when one is declared (a fresh array or list per instance), else
        rosidl's zero value.
        """
        kind = desc[0]
        if declared is not _MISSING:
            if kind == _BASE:  # bool, int, float or str: immutable
                ns[key] = declared
                return key
            sub = desc[1][0]
            if sub[1][0] in _DTYPES:  # numeric array or sequence: numpy, as received ones are
                ns[key] = np.array(declared, dtype=_DTYPES[sub[1][0]])
                return f'{key}.copy()'
            ns[key] = tuple(declared)  # strings
            return f'list({key})'
        if kind == _BASE:
            base = desc[1][0]
            return {'bool': 'False', 'string': "''", 'wstring': "''",
                    'float32': '0.0', 'float64': '0.0'}.get(base, '0')
        if kind == _NAME:
            ns[key] = self._entries[desc[1]].cls
            return f'{key}()'
        sub, count = desc[1]
        if kind == _ARRAY:
            if sub[0] == _BASE and sub[1][0] in _DTYPES:
                ns[key] = _DTYPES[sub[1][0]]
                return f'_np.zeros({count}, {key})'
            if sub[0] == _BASE:
                return f"[''] * {count}"
            ns[key] = self._entries[sub[1]].cls
            return f'[{key}() for _ in range({count})]'
        return '[]'

    def _make_class(self, typename: str, fields: list[tuple[str, Any]],
                    consts: Iterable[tuple[str, Any, Any]],
                    defaults: list[Any] | None = None) -> type[RosMessage]:
        pkg, kind, short = typename.split('/')
        ns: dict[str, Any] = {'_MISSING': _MISSING, '_np': np}
        args = ', '.join(f'{name}=_MISSING' for name, _ in fields)
        body = []
        for index, (name, desc) in enumerate(fields):
            declared = defaults[index] if defaults is not None else _MISSING
            default = self._default_code(desc, ns, f'_d{index}', declared)
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
            '_field_types': {name: _type_string(desc) for name, desc in fields},
            '__doc__': f'ROS 2 message {typename} (generated from its definition).',
        }
        for cname, _ctype, cvalue in consts:
            attrs[cname] = cvalue
        return type(short, (RosMessage,), attrs)

    def _make_prep(self, typename: str,
                   fields: list[tuple[str, Any]]) -> Callable[[Any], None] | None:
        """
        Generate the pre-serialization check: arrays to numpy of the right dtype, strings checked,
        nested messages visited. Returns None when the type needs nothing (most small types).
        """
        ns: dict[str, Any] = {'_np': np, '_nd': np.ndarray, '_coerce': _coerce_array,
                              '_byte': _coerce_byte, '_T': typename}
        lines: list[str] = []
        for index, (name, desc) in enumerate(fields):
            kind = desc[0]
            if kind == _BASE:
                base = desc[1][0]
                if base == 'byte':
                    lines.append(f'    m.{name} = _byte(m.{name})')
                elif base in ('string', 'wstring'):
                    lines.append(f'    if type(m.{name}) is not str:')
                    lines.append(f"        raise TypeError(_T + '.{name}: expected str, got ' + "
                                 f'type(m.{name}).__name__)')
            elif kind == _NAME:
                nested = self._entries[desc[1]].prep
                if nested is not None:
                    ns[f'_p{index}'] = nested
                    lines.append(f'    _p{index}(m.{name})')
            else:
                sub, count = desc[1]
                length = count if kind == _ARRAY else None
                if sub[0] == _BASE and sub[1][0] in _DTYPES:
                    dtype = _DTYPES[sub[1][0]]
                    ns[f'_dt{index}'] = dtype
                    lines.append(f'    v = m.{name}')
                    lines.append(f'    if type(v) is not _nd or v.dtype != _dt{index} '
                                 'or not v.flags.c_contiguous'
                                 + (f' or v.size != {length}' if length is not None else '') + ':')
                    lines.append(f"        m.{name} = _coerce(v, _dt{index}, '{name}', _T, "
                                 f'{length})')
                elif sub[0] == _BASE:
                    lines.append(f'    if isinstance(m.{name}, str):')
                    lines.append(f"        raise TypeError(_T + '.{name}: expected a list of "
                                 "str')")
                    if length is not None:
                        lines.append(f'    if len(m.{name}) != {length}:')
                        lines.append(f"        raise ValueError(_T + '.{name}: fixed-size array "
                                     f"needs exactly {length} elements')")
                else:
                    nested = self._entries[sub[1]].prep
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

    # ----------------------------------------------------------------- serialization
    def serialize(self, message: Any, typename: str | None = None) -> bytearray:
        """
        CDR (XCDR1, little-endian) bytes of ``message``: header ``00 01 00 00``, body, zero padding
        to a multiple of 4 (the bytes rmw_cyclonedds puts on the wire).
        """
        name = typename or typename_of(message)
        entry = self.entry(name)
        if type(message) is not entry.cls:
            raise TypeError(f'expected a {entry.typename} message, got {type(message).__name__}'
                            f' ({getattr(message, "__msgtype__", "not a ROS message")})')
        if entry.prep is not None:
            entry.prep(message)
        msgdef = entry.msgdef or self.prepare(entry.typename)
        store = self.store
        try:
            size = 4 + msgdef.getsize_cdr(0, message, store)
            buffer = bytearray((size + 3) & ~3)
            buffer[1] = 1
            msgdef.serialize_cdr_le(memoryview(buffer)[4:], 0, message, store)
        except Exception as exc:
            raise TypeError(self._diagnose(message, entry.typename) or
                            f'cannot serialize {entry.typename}: {exc}') from None
        return buffer

    def prepare(self, typename: str) -> Any:
        """
        Generate the type's (de)serializers now (rosbags' msgdef; once per type), so the first
        message does not pay for it. Publishers and subscriptions call this when created.

        rosbags generates them with ``exec`` of source text, and CPython marks a KeyboardInterrupt
        that escapes ``exec(str)`` as unhandled even when a caller catches it: the process then
        ends by SIGINT (exit -2) instead of the node's clean exit. SIGINT is therefore held back
        while generating and delivered right after (:func:`_sigint_deferred`).
        """
        entry = self.entry(typename)
        if entry.msgdef is None:
            with _sigint_deferred():
                entry.msgdef = self.store.get_msgdef(entry.typename)
        return entry.msgdef

    def deserialize(self, data: bytes | bytearray | memoryview, typename: str) -> Any:
        """Decode CDR bytes (with their 4-byte encapsulation header) into a message object."""
        entry = self.entry(typename)
        if entry.msgdef is None:
            self.prepare(entry.typename)
        raw = data if not isinstance(data, bytearray) else memoryview(data)
        return self.store.deserialize_cdr(raw, entry.typename)

    def _diagnose(self, message: Any, typename: str, path: str = '') -> str | None:
        """Find the first field whose value does not fit its type (for a clear error)."""
        for name, desc in self.entry(typename).fields:
            where = f'{path}{name}'
            try:
                value = getattr(message, name)
            except AttributeError:
                return f'{typename}: field {where!r} is missing'
            kind = desc[0]
            if kind == _BASE:
                base = desc[1][0]
                if base in _INT_RANGES:
                    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                        return (f'{typename}.{where} ({base}): expected an integer, got '
                                f'{type(value).__name__} {value!r}')
                    low, high = _INT_RANGES[base]
                    if not low <= int(value) <= high:
                        return f'{typename}.{where} ({base}): {value} is outside [{low}, {high}]'
                elif base in ('float32', 'float64'):
                    if not isinstance(value, (int, float, np.floating, np.integer)):
                        return (f'{typename}.{where} ({base}): expected a number, got '
                                f'{type(value).__name__} {value!r}')
            elif kind == _NAME:
                nested = self.entry(desc[1]).cls
                if type(value) is not nested:
                    return (f'{typename}.{where}: expected {desc[1]}, got '
                            f'{type(value).__name__}')
                found = self._diagnose(value, desc[1], f'{where}.')
                if found:
                    return found
        return None


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold a SIGINT that arrives inside the block and deliver it when the block ends (main
    thread only; elsewhere Python runs no signal handlers anyway)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[Any] = []
    previous = signal.signal(signal.SIGINT, lambda _signum, frame: pending.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if pending:
            if callable(previous):
                previous(signal.SIGINT, pending[0])  # default_int_handler: KeyboardInterrupt
            elif previous == signal.SIG_DFL:
                signal.raise_signal(signal.SIGINT)


class _LazyTypes(dict):  # type: ignore[type-arg]
    """``typestore.types`` that builds our class when rosbags asks for a type first."""

    def __init__(self, owner: MessageRegistry) -> None:
        super().__init__()
        self._owner = owner

    def __missing__(self, key: str) -> type[RosMessage]:
        self._owner.entry(key)
        return dict.__getitem__(self, key)  # type: ignore[no-any-return]


def _nested_names(desc: Any) -> list[str]:
    if desc[0] == _NAME:
        return [desc[1]]
    if desc[0] in (_ARRAY, _SEQUENCE) and desc[1][0][0] == _NAME:
        return [desc[1][0][1]]
    return []


# ---------------------------------------------------------------------------- .msg syntax check
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
    if base in _INT_RANGES:
        try:
            number = int(text)
        except ValueError:
            number = int(text, 0)
        low, high = (0, 255) if base in ('byte', 'char') else _INT_RANGES[base]
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


def _default_msg_dirs() -> Iterable[tuple[str, Path]]:
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


# ---------------------------------------------------------------------------- module-level API
_REGISTRY: MessageRegistry | None = None
_REGISTRY_LOCK = threading.Lock()


def registry() -> MessageRegistry:
    """The process-wide registry (built on first use)."""
    global _REGISTRY
    if _REGISTRY is None:
        with _REGISTRY_LOCK:
            if _REGISTRY is None:
                _REGISTRY = MessageRegistry()
    return _REGISTRY


def get_message(typename: str) -> Any:
    """The message class of ``pkg/msg/Name`` (like rosidl_runtime_py.utilities.get_message)."""
    return registry().get_class(typename)


def get_service(srvname: str) -> Any:
    """The service class of ``pkg/srv/Name`` (like rosidl_runtime_py.utilities.get_service):
    ``.Request``, ``.Response`` and ``.Event`` are message classes."""
    return registry().get_service(srvname)


# ---------------------------------------------------------------------------- interface files
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


# rosidl's FieldType ids (type_description_interfaces/msg/FieldType); a .msg ``char`` is IDL
# uint8 for rosidl (rosidl_adapter's mapping), so it is UINT8 here too
_FIELD_TYPE_IDS = {'int8': 2, 'uint8': 3, 'int16': 4, 'uint16': 5, 'int32': 6, 'uint32': 7,
                   'int64': 8, 'uint64': 9, 'float32': 10, 'float64': 11, 'float128': 12,
                   'char': 3, 'bool': 15, 'byte': 16, 'string': 17, 'wstring': 18}


def _field_type(desc: Any) -> dict[str, Any]:
    """A field's FieldType (type_id, capacity, string_capacity, nested_type_name) as rosidl."""
    kind = desc[0]
    increment = capacity = 0
    if kind == _ARRAY:
        increment, (desc, capacity) = 48, desc[1]
    elif kind == _SEQUENCE:
        desc, count = desc[1]
        increment, capacity = (96, count) if count else (144, 0)
    string_capacity, nested = 0, ''
    if desc[0] == _NAME:
        type_id = 1
        nested = desc[1]
    else:
        base, bound = desc[1]
        type_id = _FIELD_TYPE_IDS[base]
        if base in ('string', 'wstring') and bound:
            type_id, string_capacity = type_id + 4, int(bound)  # BOUNDED_(W)STRING: 21, 22
    return {'type_id': increment + type_id, 'capacity': int(capacity),
            'string_capacity': string_capacity, 'nested_type_name': nested}


def _default_text(desc: Any, value: Any) -> str:
    """A declared default as rosidl_generator_type_description writes it: ``str()`` of the value
    rosidl_parser reads back from the generated IDL (``0.0``, ``True``, ``'(1, 2)'`` for an
    array, a string as it is)."""
    base = desc[1][0][1][0] if desc[0] in (_ARRAY, _SEQUENCE) else desc[1][0]

    def one(item: Any) -> Any:
        if base in ('float32', 'float64'):
            return float(item)
        if base == 'byte':
            return int(item) & 0xFF
        return item

    if desc[0] in (_ARRAY, _SEQUENCE):
        return repr(tuple(one(item) for item in value))
    return str(one(value))


def _source_text(text: str) -> str:
    """A definition file's text as rosidl embeds it: lines joined by \\n, no trailing newline."""
    return '\n'.join(text.splitlines())


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return '[' + ', '.join(_literal(v) for v in value) + ']'
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    return str(value)


def _msg_type_text(desc: Any) -> str:
    """A field type as a .msg writes it (``float64``, ``string<=8``, ``pkg/Name[]``)."""
    kind = desc[0]
    if kind == _BASE:
        name, bound = desc[1]
        return f'{name}<={bound}' if bound else name
    if kind == _NAME:
        pkg, _, short = desc[1].split('/')
        return f'{pkg}/{short}'
    sub, count = desc[1]
    if kind == _ARRAY:
        return f'{_msg_type_text(sub)}[{count}]'
    return f'{_msg_type_text(sub)}[<={count}]' if count else f'{_msg_type_text(sub)}[]'


def typename_of(message: Any) -> str:
    """``pkg/msg/Name`` of a message object (ours or rclpy's)."""
    name = getattr(type(message), '__msgtype__', None)
    if name:
        return str(name)
    module = type(message).__module__  # rclpy: 'std_msgs.msg._string', 'std_srvs.srv._set_bool'
    parts = module.split('.')
    if len(parts) >= 2 and parts[1] in ('msg', 'srv'):
        return f'{parts[0]}/{parts[1]}/{type(message).__name__}'
    raise MessageTypeError(f'{type(message).__name__} is not a ROS message')


def serialize(message: Any, typename: str | None = None) -> bytearray:
    """CDR bytes of a message (see :meth:`MessageRegistry.serialize`)."""
    return registry().serialize(message, typename)


def deserialize(data: bytes | bytearray | memoryview, typename: str) -> Any:
    """Message object from CDR bytes."""
    return registry().deserialize(data, typename)


def rihs01(description: Mapping[str, Any]) -> str:
    """
    REP-2011 ``RIHS01_<sha256>`` of a type description (:meth:`MessageRegistry.type_description`),
    as rosidl_generator_type_description computes it: the JSON of the description without the
    fields' ``default_value`` (separators ``', '`` and ``': '``, ASCII), hashed with SHA-256.

    The description is built from the registry's definitions with rosidl's field types, in
    particular a ``.msg`` ``char`` is FIELD_TYPE_UINT8 (rosidl_adapter maps it to IDL uint8); the
    rosbags typestore hashes it as FIELD_TYPE_CHAR, which gave wrong hashes for std_msgs/Char and
    every type with a ``char`` field (rmw_dds_common/Gid, service_msgs/ServiceEventInfo, ...).
    """
    import hashlib
    import json

    def strip(individual: Mapping[str, Any]) -> dict[str, Any]:
        return {'type_name': individual['type_name'],
                'fields': [{'name': f['name'], 'type': f['type']} for f in individual['fields']]}

    hashable = {'type_description': strip(description['type_description']),
                'referenced_type_descriptions': [
                    strip(d) for d in description['referenced_type_descriptions']]}
    text = json.dumps(hashable, ensure_ascii=True, indent=None, separators=(', ', ': '),
                      sort_keys=False)
    return 'RIHS01_' + hashlib.sha256(text.encode('utf-8')).hexdigest()


def type_hash(typename: str) -> str:
    """``RIHS01_...`` type hash."""
    return registry().type_hash(typename)


# ---------------------------------------------------------------------------- dict conversion
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
    if kind == _NAME:
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
    if kind == _BASE:
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
                return _coerce_byte(value.encode() if isinstance(value, str) else value)
            return int(value)
        except (TypeError, ValueError) as exc:
            raise MessageTypeError(f'{where} ({base}): cannot use {value!r}: {exc}') from None
    if not isinstance(value, (list, tuple)):
        raise MessageTypeError(f'{where}: expected a list, got {value!r}')
    sub = desc[1][0]
    items = [_from_plain(sub, item, now_ns, f'{where}[{i}]') for i, item in enumerate(value)]
    if sub[0] == _BASE and sub[1][0] in _DTYPES:
        return np.asarray(items, dtype=_DTYPES[sub[1][0]])
    return items
