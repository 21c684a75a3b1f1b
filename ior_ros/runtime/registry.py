"""
The process-wide message registry: every ROS message and service type this process knows, their
Python classes and their CDR (XCDR1) serialization.

Source of truth: the rosbags typestore for ROS 2 Jazzy (every standard message package: std_msgs,
geometry_msgs, sensor_msgs, nav_msgs, visualization_msgs, builtin_interfaces, rosgraph_msgs,
rcl_interfaces, rmw_dds_common, ...) plus the project's own ``msg/*.msg`` files, checked by
:mod:`ior_ros.runtime.msg_parser` so that a syntax error names the file and line. Types not in
the typestore are loaded from their ``.msg``/``.srv`` files on first use
(:mod:`ior_ros.runtime.interface_files`). The typestore drops the default values that ``.msg``
files declare; those of the Jazzy types are in ``_JAZZY_DEFAULTS``.

Classes (:mod:`ior_ros.runtime.message_classes`) are built on first use. Serialization is
rosbags' generated code (no per-element packing: ``uint8[]`` is one memcpy), written into a
buffer whose length is padded to a multiple of 4 with zeros, as rmw_cyclonedds does
(serdata.cpp:732); the encapsulation header is ``00 01 00 00`` (CDR little-endian, XCDR1). Type
hashes and descriptions: :mod:`ior_ros.runtime.type_description`.

Decoding (:meth:`MessageRegistry.decode`, the one entry point for bytes from a peer or a bag) is
tolerant: rosbags' generated deserializer first, and when that fails the interpreter of
:mod:`ior_ros.runtime.cdr_decode`, which decodes what rclpy decodes (invalid UTF-8 as U+FFFD,
trailing bytes ignored) or raises MessageDecodeError with a one-line reason.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ior_ros.runtime.cdr_decode import decode_cdr
from ior_ros.runtime.errors import (
    MessageDecodeError,
    MessageDefinitionError,
    MessageTypeError,
    at,
)
from ior_ros.runtime.field_types import BASE, INT_RANGES, MISSING, NAME, nested_names
from ior_ros.runtime.interface_files import (
    EMBEDDED_SERVICES,
    default_msg_dirs,
    find_interface_file,
)
from ior_ros.runtime.message_classes import RosMessage, RosService, make_class, make_prep
from ior_ros.runtime.msg_parser import parse_msg_definition, split_srv_definition
from ior_ros.runtime.type_description import TypeDescriptions, rihs01
from ior_ros.runtime.type_names import normalize_service_name, normalize_type_name, typename_of

__all__ = ['MessageRegistry', 'registry', 'get_message', 'get_service', 'message_typename',
           'serialize', 'deserialize', 'decode', 'type_hash']

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
        self.descriptions = TypeDescriptions(self)
        self.store.types = _LazyTypes(self)  # our classes, built on first use
        if msg_dirs is None:
            msg_dirs = list(default_msg_dirs())
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
                                          (BASE, ('uint8', 0)))])
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

    def resolve(self, typename: str) -> str:
        """The normalized name of a known type (loaded from its ``.msg`` file, or registered with
        its service, when it is not registered yet); MessageTypeError naming close matches."""
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
            name = self.resolve(typename)
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
            entry.hash = rihs01(self.descriptions.description(entry.typename))
        return entry.hash

    def message_definition(self, typename: str) -> str:
        """The concatenated ``.msg`` text (ros2msg) that bags and MCAP schemas carry."""
        name = self.resolve(typename)
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
                for suffix, checked in split_srv_definition(text, source).items():
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

    def srv_definition(self, srvname: str) -> tuple[Path | str, str] | None:
        """``(source, .srv text)`` of a registered service type (``pkg/srv/Name``), or None."""
        return self._srv_texts.get(srvname)

    def definition_source(self, typename: str) -> tuple[Path, int] | None:
        """``(file, first line)`` a message type was registered from, or None."""
        return self._sources.get(typename)

    def declared_defaults(self, typename: str) -> dict[str, Any]:
        """``{field: value}`` of the default values a type's definition declares."""
        return self._defaults.get(typename, {})

    # ----------------------------------------------------------------- type descriptions
    def type_description(self, typename: str) -> dict[str, Any]:
        """The REP-2011 TypeDescription of a type (:meth:`TypeDescriptions.description`)."""
        return self.descriptions.description(typename)

    def type_sources(self, typename: str) -> list[tuple[str, str, str]]:
        """The definition texts of a type and the types it refers to
        (:meth:`TypeDescriptions.sources`)."""
        return self.descriptions.sources(typename)

    # ----------------------------------------------------------------- building classes
    def _build(self, typename: str) -> _Entry:
        from rosbags.typesys.base import normalize_fieldname

        consts, raw_fields = self.store.fielddefs[typename]
        fields = [(normalize_fieldname(name), desc) for name, desc in raw_fields]
        declared = self._defaults.get(typename, {})
        defaults = [declared.get(name, MISSING) for name, _ in raw_fields]
        for _, desc in fields:  # nested classes first
            for nested in nested_names(desc):
                if nested != typename:
                    self.entry(nested)
        cls = make_class(typename, fields, consts, defaults, self._nested_class)
        entry = _Entry(typename, cls, fields)
        self._entries[typename] = entry
        self.store.types[typename] = cls
        # rosbags' serializer code is generated on the first serialize (entry.msgdef) or
        # deserialize (the store's cache): a node's service endpoints cost little at start-up
        entry.prep = make_prep(typename, fields, self._nested_prep)
        return entry


    def _nested_class(self, typename: str) -> type[RosMessage]:
        return self._entries[typename].cls

    def _nested_prep(self, typename: str) -> Callable[[Any], None] | None:
        return self._entries[typename].prep


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

    def decode(self, data: bytes | bytearray | memoryview, typename: str) -> Any:
        """
        The message in CDR bytes (4-byte encapsulation header, then the body), decoded as rclpy
        decodes them (:mod:`ior_ros.runtime.cdr_decode`): the one way bytes from a peer or a bag
        become a message.

        Fast path: rosbags' generated deserializer, called directly on a view of ``data`` (no
        copy; numeric arrays are views) and without rosbags' size check, so trailing bytes are
        ignored. It is strict (UTF-8, terminators, lengths); any failure hands the sample to
        :func:`~ior_ros.runtime.cdr_decode.decode_cdr`, which decides.

        Raises:
            MessageDecodeError: the bytes are no sample of ``typename`` (one line: type, field,
                offset, what is wrong). Nothing else, whatever the bytes.
        """
        entry = self._entries.get(typename) or self.entry(typename)
        msgdef = entry.msgdef or self.prepare(entry.typename)
        view = memoryview(data)
        if view.format != 'B' or view.ndim != 1:
            view = view.cast('B')
        if view[:2] == b'\x00\x01':
            try:
                return msgdef.deserialize_cdr_le(view[4:], 0, msgdef.cls, self.store)[0]
            except Exception:  # noqa: BLE001, S110  (malformed or merely unusual: decode_cdr rules)
                pass
        elif view[:2] == b'\x00\x00':
            try:
                return msgdef.deserialize_cdr_be(view[4:], 0, msgdef.cls, self.store)[0]
            except Exception:  # noqa: BLE001, S110
                pass
        try:
            return decode_cdr(view, entry.typename, self)
        except MessageDecodeError:
            raise
        except Exception as exc:  # a decoder bug must not kill a node (the fuzz tests would
            # find it: they call decode_cdr directly)
            raise MessageDecodeError(f'{entry.typename}: undecodable sample '
                                     f'({type(exc).__name__}: {exc})') from exc

    def deserialize(self, data: bytes | bytearray | memoryview, typename: str) -> Any:
        """The message in CDR bytes: :meth:`decode` (rclpy's name, deserialize_message)."""
        return self.decode(data, typename)

    def _diagnose(self, message: Any, typename: str, path: str = '') -> str | None:
        """Find the first field whose value does not fit its type (for a clear error)."""
        for name, desc in self.entry(typename).fields:
            where = f'{path}{name}'
            try:
                value = getattr(message, name)
            except AttributeError:
                return f'{typename}: field {where!r} is missing'
            kind = desc[0]
            if kind == BASE:
                base = desc[1][0]
                if base in INT_RANGES:
                    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                        return (f'{typename}.{where} ({base}): expected an integer, got '
                                f'{type(value).__name__} {value!r}')
                    low, high = INT_RANGES[base]
                    if not low <= int(value) <= high:
                        return f'{typename}.{where} ({base}): {value} is outside [{low}, {high}]'
                elif base in ('float32', 'float64'):
                    if not isinstance(value, (int, float, np.floating, np.integer)):
                        return (f'{typename}.{where} ({base}): expected a number, got '
                                f'{type(value).__name__} {value!r}')
            elif kind == NAME:
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


def message_typename(msg_type: Any) -> str:
    """``pkg/msg/Name`` of a message class (ours, or a ``pkg/msg/Name`` string)."""
    name = getattr(msg_type, '__msgtype__', None)
    if isinstance(name, str) and name:
        return name
    if isinstance(msg_type, str):
        return registry().entry(msg_type).typename
    raise TypeError(f'{msg_type!r} is not a message class (use ior_ros.runtime.get_message)')


def serialize(message: Any, typename: str | None = None) -> bytearray:
    """CDR bytes of a message (see :meth:`MessageRegistry.serialize`)."""
    return registry().serialize(message, typename)


def deserialize(data: bytes | bytearray | memoryview, typename: str) -> Any:
    """Message object from CDR bytes (:meth:`MessageRegistry.decode`)."""
    return registry().decode(data, typename)


def decode(data: bytes | bytearray | memoryview, typename: str) -> Any:
    """Message object from CDR bytes, or MessageDecodeError (:meth:`MessageRegistry.decode`)."""
    return registry().decode(data, typename)


def type_hash(typename: str) -> str:
    """``RIHS01_...`` type hash."""
    return registry().type_hash(typename)
