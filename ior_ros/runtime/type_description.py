"""
REP-2011 type descriptions, type sources and ``RIHS01`` type hashes, as rosidl makes them.

A type description is what rosidl_generator_type_description writes into ``<Type>.json``: the
type's fields (rosidl's FieldType ids, default-value strings) plus every type it refers to,
sorted by name. Its hash, ``RIHS01_<sha256>``, goes into every endpoint's USER_DATA (rmw) and
into bags; ``~/get_type_description`` answers with the description and the definition texts
(type sources). Built from the registry's definitions, so a ``.msg`` ``char`` is
FIELD_TYPE_UINT8 as rosidl_adapter maps it (the rosbags typestore hashes it as FIELD_TYPE_CHAR,
which gave wrong hashes for std_msgs/Char and every type holding a ``char`` field).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ior_ros.runtime.field_types import ARRAY, BASE, MISSING, NAME, SEQUENCE, msg_type_text
from ior_ros.runtime.interface_files import find_interface_file

__all__ = ['TypeDescriptions', 'rihs01']


# rosidl's FieldType ids (type_description_interfaces/msg/FieldType); a .msg ``char`` is IDL
# uint8 for rosidl (rosidl_adapter's mapping), so it is UINT8 here too
_FIELD_TYPE_IDS = {'int8': 2, 'uint8': 3, 'int16': 4, 'uint16': 5, 'int32': 6, 'uint32': 7,
                   'int64': 8, 'uint64': 9, 'float32': 10, 'float64': 11, 'float128': 12,
                   'char': 3, 'bool': 15, 'byte': 16, 'string': 17, 'wstring': 18}


def _field_type(desc: Any) -> dict[str, Any]:
    """A field's FieldType (type_id, capacity, string_capacity, nested_type_name) as rosidl."""
    kind = desc[0]
    increment = capacity = 0
    if kind == ARRAY:
        increment, (desc, capacity) = 48, desc[1]
    elif kind == SEQUENCE:
        desc, count = desc[1]
        increment, capacity = (96, count) if count else (144, 0)
    string_capacity, nested = 0, ''
    if desc[0] == NAME:
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
    base = desc[1][0][1][0] if desc[0] in (ARRAY, SEQUENCE) else desc[1][0]

    def one(item: Any) -> Any:
        if base in ('float32', 'float64'):
            return float(item)
        if base == 'byte':
            return int(item) & 0xFF
        return item

    if desc[0] in (ARRAY, SEQUENCE):
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


class TypeDescriptions:
    """The type descriptions and type sources of the types of one registry (built on first use,
    then cached)."""

    def __init__(self, registry: Any) -> None:
        self._registry = registry  # a MessageRegistry
        self._descriptions: dict[str, dict[str, Any]] = {}
        self._source_cache: dict[str, tuple[str, str]] = {}

    def description(self, typename: str) -> dict[str, Any]:
        """
        The REP-2011 TypeDescription of a type as rosidl writes it into ``<Type>.json``
        (``type_description`` plus the ``referenced_type_descriptions`` sorted by name; field
        ``default_value`` strings as rosidl_generator_type_description makes them).
        """
        name = self._registry.resolve(typename)
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
        if typename not in self._registry.store.fielddefs:
            self._registry.resolve(typename)
        _, fields = self._registry.store.fielddefs[typename]
        declared = self._registry.declared_defaults(typename)
        out = []
        empty: list[Any] = [('structure_needs_at_least_one_member', (BASE, ('uint8', 0)))]
        for fname, desc in fields or empty:
            ftype = _field_type(desc)
            value = declared.get(fname, MISSING)
            out.append({'name': fname, 'type': ftype,
                        'default_value': '' if value is MISSING else _default_text(desc, value)})
        return {'type_name': typename, 'fields': out}

    def sources(self, typename: str) -> list[tuple[str, str, str]]:
        """
        ``[(type_name, encoding, raw_file_contents), ...]`` of a type and every type it refers to
        (the order of :meth:`description`), as rosidl's generated type support gives them:
        the ``.msg``/``.srv``/``.idl`` file text (line ends normalized, no trailing newline);
        ``implicit`` and no text for the Request/Response/Event of a service. Without the file
        (no ROS 2 installation) the text is the definition as registered, without comments.
        """
        description = self.description(typename)
        names = [description['type_description']['type_name']] + [
            d['type_name'] for d in description['referenced_type_descriptions']]
        return [(n, *self._individual_source(n)) for n in names]

    def _individual_source(self, typename: str) -> tuple[str, str]:
        found = self._source_cache.get(typename)
        if found is not None:
            return found
        pkg, kind, short = typename.split('/')
        result: tuple[str, str]
        srv = self._registry.srv_definition(typename) if kind == 'srv' else None
        if kind == 'srv' and srv is None:
            result = ('implicit', '')  # Name_Request, _Response, _Event
        elif srv is not None:
            result = ('srv', _source_text(srv[1]))
        else:
            known = self._registry.definition_source(typename)
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
        consts, fields = self._registry.store.fielddefs[typename]
        declared = self._registry.declared_defaults(typename)
        lines = [f'{ctype} {cname}={_literal(cvalue)}' for cname, ctype, cvalue in consts]
        for fname, desc in fields:
            line = f'{msg_type_text(desc)} {fname}'
            if fname in declared:
                line += f' {_literal(declared[fname])}'
            lines.append(line)
        return '\n'.join(lines)
