"""
ROS 2 services on the DDS runtime, as far as the parameter services need them.

Wire rules of rmw_cyclonedds_cpp (``shared/reference/ros2-dds-wire.md`` §1, §4, §7):

* service ``/node/get_parameters`` is a request topic ``rq/node/get_parametersRequest`` of type
  ``rcl_interfaces::srv::dds_::GetParameters_Request_`` and a reply topic
  ``rr/node/get_parametersReply`` of type ``..._Response_``;
* every sample is ``00 01 00 00 | client guid u64 | sequence number i64 | body``; the body is the
  CDR of the request or response message laid out as if it started at offset 16 (8-aligned, so
  rosbags' body without its 4-byte header follows the 16 header bytes unchanged);
* the server echoes guid and sequence number; both server endpoints carry the same
  ``serviceid=<16 bytes in dotted hex>;`` before ``typehash=...;`` in their USER_DATA, which is
  what ``rmw_service_server_is_available`` compares.

The Jazzy typestore has no ``srv`` types, so the six rcl_interfaces parameter services are
registered here from their definitions (field lists of rcl_interfaces/srv/*.srv in Jazzy; the
REP-2011 type hash covers only names and types, so comments and constants do not matter).

The parameter services follow rclpy's ``ParameterService``: ``get_parameters`` answers an empty
list when any name is undeclared, ``get_parameter_types`` answers NOT_SET (0) for one,
``describe_parameters`` an empty list, ``set_parameters`` sets each parameter atomically on its
own and reports "not declared" as an unsuccessful result, ``list_parameters`` filters by prefixes
and depth as rclpy's ``Node.list_parameters`` does.
"""

from __future__ import annotations

import itertools
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from ior_ros.runtime.errors import RosInputError
from ior_ros.runtime.messages import get_message, registry
from ior_ros.runtime.parameters import Parameter, ParameterType
from ior_ros.runtime.qos import QoSProfile, qos_profile_parameters

__all__ = ['ServiceServer', 'ServiceClient', 'register_service_types', 'PARAMETER_SERVICES',
           'param_list', 'param_get', 'param_set',
           'start_parameter_services', 'service_topics', 'parameter_from_msg', 'value_from_msg']

_SRV_FIELDS: dict[str, tuple[str, str]] = {
    'DescribeParameters': ('string[] names\n',
                           'rcl_interfaces/ParameterDescriptor[] descriptors\n'),
    'GetParameters': ('string[] names\n', 'rcl_interfaces/ParameterValue[] values\n'),
    'GetParameterTypes': ('string[] names\n', 'uint8[] types\n'),
    'ListParameters': ('uint64 DEPTH_RECURSIVE=0\nstring[] prefixes\nuint64 depth\n',
                       'rcl_interfaces/ListParametersResult result\n'),
    'SetParameters': ('rcl_interfaces/Parameter[] parameters\n',
                      'rcl_interfaces/SetParametersResult[] results\n'),
    'SetParametersAtomically': ('rcl_interfaces/Parameter[] parameters\n',
                                'rcl_interfaces/SetParametersResult result\n'),
}

#: service name suffix → rcl_interfaces service type (what rclpy's ParameterService creates)
PARAMETER_SERVICES: dict[str, str] = {
    'describe_parameters': 'DescribeParameters',
    'get_parameters': 'GetParameters',
    'get_parameter_types': 'GetParameterTypes',
    'list_parameters': 'ListParameters',
    'set_parameters': 'SetParameters',
    'set_parameters_atomically': 'SetParametersAtomically',
}

_REGISTER_LOCK = threading.Lock()
_ID_COUNTER = itertools.count(1)
_HEADER = struct.Struct('<Qq')
_HEADER_BE = struct.Struct('>Qq')


def register_service_types() -> None:
    """Register ``rcl_interfaces/srv/<Name>_Request`` and ``_Response`` (once per process)."""
    from rosbags.typesys import get_types_from_msg

    reg = registry()
    with _REGISTER_LOCK:
        if 'rcl_interfaces/srv/GetParameters_Request' in reg.store.fielddefs:
            return
        parsed: dict[str, Any] = {}
        for name, halves in _SRV_FIELDS.items():
            for suffix, text in zip(('Request', 'Response'), halves, strict=True):
                typename = f'rcl_interfaces/srv/{name}_{suffix}'
                # rosbags keys a 'pkg/srv/X' definition as 'pkg/srv/msg/X': take the one value
                (fields,) = get_types_from_msg(text, typename).values()
                parsed[typename] = fields
        reg.store.register(parsed)


def service_topics(service: str) -> tuple[str, str]:
    """DDS request and reply topics of the service ``/a/b`` (rmw_node.cpp:4975-4991)."""
    return f'rq{service}Request', f'rr{service}Reply'


def _dotted_id(raw: bytes) -> str:
    return '.'.join(f'{b:02x}' for b in raw)


class ServiceServer:
    """
    One service of a node: a request reader on the node's waitset and a reply writer.

    ``handler(request) -> response`` runs in the executor like a subscription callback.
    """

    def __init__(self, node: Any, service: str, srv_type: str,
                 handler: Callable[[Any], Any], qos: QoSProfile) -> None:
        register_service_types()
        self.service_name = service
        self.request_type = f'{srv_type}_Request'
        self.response_type = f'{srv_type}_Response'
        self._handler = handler
        self._logger = node.get_logger()
        self._registry = registry()
        self._response_cls = get_message(self.response_type)
        dds = node.context.dds
        ident = dds.gid[:12] + next(_ID_COUNTER).to_bytes(4, 'big')
        prefix = f'serviceid={_dotted_id(ident)};'
        request_topic, reply_topic = service_topics(service)
        self._reader = dds.create_reader(request_topic, self.request_type, qos,
                                         user_data_prefix=prefix)
        self._writer = dds.create_writer(reply_topic, self.response_type, qos,
                                         user_data_prefix=prefix)

    @property
    def reader_gid(self) -> bytes:
        """GUID of the request reader."""
        return bytes(self._reader.gid)

    @property
    def writer_gid(self) -> bytes:
        """GUID of the reply writer."""
        return bytes(self._writer.gid)

    def _collect(self, out: Any) -> None:
        """Take every waiting request and queue its handling."""
        while True:
            samples = self._reader.take()
            if not samples:
                return
            for data, _info in samples:
                out.append(self._make_call(bytes(data)))

    def _make_call(self, data: bytes) -> Callable[[], None]:
        def call() -> None:
            self._serve(data)
        return call

    def _serve(self, data: bytes) -> None:
        # a malformed request or a failing handler is logged; it never stops the node's spin
        try:
            if len(data) < 20:
                raise ValueError(f'{len(data)} bytes is shorter than the request header')
            header = _HEADER if data[1] == 1 else _HEADER_BE
            guid, seq = header.unpack_from(data, 4)
            request = self._registry.deserialize(data[:4] + data[20:], self.request_type)
            response = self._handler(request)
            body = self._registry.serialize(response, self.response_type)
        except Exception as exc:  # noqa: BLE001
            self._logger.error(f'service {self.service_name}: request not answered: {exc}')
            return
        reply = bytearray(body[:4]) + _HEADER.pack(guid, seq) + body[4:]
        # rmw waits up to 100 ms for the client's reply reader before answering (§7)
        deadline = time.monotonic() + 0.1
        while self._writer.matched_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        self._writer.write(reply)

    def close(self) -> None:
        """Delete both endpoints."""
        self._reader.close()
        self._writer.close()


# ---------------------------------------------------------------------------- parameter services
_VALUE_FIELDS = {ParameterType.BOOL: 'bool_value', ParameterType.INTEGER: 'integer_value',
                 ParameterType.DOUBLE: 'double_value', ParameterType.STRING: 'string_value',
                 ParameterType.BYTE_ARRAY: 'byte_array_value',
                 ParameterType.BOOL_ARRAY: 'bool_array_value',
                 ParameterType.INTEGER_ARRAY: 'integer_array_value',
                 ParameterType.DOUBLE_ARRAY: 'double_array_value',
                 ParameterType.STRING_ARRAY: 'string_array_value'}


def value_from_msg(msg: Any) -> tuple[ParameterType, Any]:
    """``(type, Python value)`` of an rcl_interfaces/ParameterValue."""
    try:
        type_ = ParameterType(int(msg.type))
    except ValueError:
        raise RosInputError(f'parameter type {msg.type} is not an rcl_interfaces '
                            'ParameterType') from None
    if type_ == ParameterType.NOT_SET:
        return type_, None
    value = getattr(msg, _VALUE_FIELDS[type_])
    if type_ == ParameterType.BYTE_ARRAY:
        value = [bytes([int(v) & 0xFF]) for v in value]
    elif type_ in (ParameterType.BOOL_ARRAY, ParameterType.INTEGER_ARRAY,
                   ParameterType.DOUBLE_ARRAY):
        value = [v.item() if hasattr(v, 'item') else v for v in value]
    elif type_ == ParameterType.STRING_ARRAY:
        value = list(value)
    elif hasattr(value, 'item'):
        value = value.item()
    return type_, value


def parameter_from_msg(msg: Any) -> Parameter:
    """A Parameter from an rcl_interfaces/Parameter message."""
    type_, value = value_from_msg(msg.value)
    return Parameter(msg.name, type_, value)


def _result_msg(result: Any) -> Any:
    cls = get_message('rcl_interfaces/msg/SetParametersResult')
    return cls(successful=bool(result.successful), reason=str(result.reason))


def _list_names(names: list[str], prefixes: list[str], depth: int) -> Any:
    """rclpy Node.list_parameters: names under the prefixes, at most ``depth`` levels deep."""
    sep = '.'
    result = get_message('rcl_interfaces/msg/ListParametersResult')()
    found: list[str] = []
    found_prefixes: list[str] = []

    def shallow(text: str) -> bool:
        return text.count(sep) < depth

    for name in names:
        if prefixes or depth != 0:
            wanted = not prefixes and shallow(name)
            if not wanted:
                wanted = any(name == p or (name.startswith(p + sep)
                                           and (depth == 0 or shallow(name[len(p) + 1:])))
                             for p in prefixes)
            if not wanted:
                continue
        found.append(name)
        if sep in name:
            prefix = name.rsplit(sep, 1)[0]
            if prefix not in found_prefixes:
                found_prefixes.append(prefix)
    result.names = found
    result.prefixes = found_prefixes
    return result


class _ParameterHandlers:
    """The six handlers of rclpy's ParameterService on one node."""

    def __init__(self, node: Any) -> None:
        self.node = node

    def _response(self, srv: str) -> Any:
        return get_message(f'rcl_interfaces/srv/{srv}_Response')()

    def describe_parameters(self, request: Any) -> Any:
        response = self._response('DescribeParameters')
        cls = get_message('rcl_interfaces/msg/ParameterDescriptor')
        out = []
        for name in request.names:
            if not self.node.has_parameter(name):
                return response  # rclpy: an undeclared name empties the answer
            param = self.node.get_parameter(name)
            found = self.node._descriptors.get(name)
            out.append(cls(name=name, type=int(param.type_),
                           description=getattr(found, 'description', ''),
                           read_only=bool(getattr(found, 'read_only', False)),
                           dynamic_typing=bool(getattr(found, 'dynamic_typing', False))))
        response.descriptors = out
        return response

    def get_parameters(self, request: Any) -> Any:
        response = self._response('GetParameters')
        if all(self.node.has_parameter(n) for n in request.names):
            response.values = [self.node.get_parameter(n).get_parameter_value()
                               for n in request.names]
        return response

    def get_parameter_types(self, request: Any) -> Any:
        import numpy as np

        response = self._response('GetParameterTypes')
        response.types = np.array([int(self.node.get_parameter(n).type_)
                                   if self.node.has_parameter(n) else 0
                                   for n in request.names], dtype=np.uint8)
        return response

    def list_parameters(self, request: Any) -> Any:
        response = self._response('ListParameters')
        response.result = _list_names(sorted(self.node._parameters), list(request.prefixes),
                                      int(request.depth))
        return response

    def _set(self, params: list[Any]) -> Any:
        try:
            return _result_msg(self.node.set_parameters_atomically(params))
        except (RosInputError, ValueError, TypeError) as exc:
            return _result_msg(type('R', (), {'successful': False, 'reason': str(exc)}))

    def set_parameters(self, request: Any) -> Any:
        response = self._response('SetParameters')
        results = []
        for msg in request.parameters:
            try:
                param = parameter_from_msg(msg)
            except (RosInputError, ValueError, TypeError) as exc:
                results.append(_result_msg(type('R', (), {'successful': False,
                                                          'reason': str(exc)})))
                continue
            results.append(self._set([param]))
        response.results = results
        return response

    def set_parameters_atomically(self, request: Any) -> Any:
        response = self._response('SetParametersAtomically')
        try:
            params = [parameter_from_msg(m) for m in request.parameters]
        except (RosInputError, ValueError, TypeError) as exc:
            response.result = _result_msg(type('R', (), {'successful': False,
                                                         'reason': str(exc)}))
            return response
        response.result = self._set(params)
        return response


def start_parameter_services(node: Any) -> list[ServiceServer]:
    """The six parameter services of ``node`` under ``<node fqn>/<service>``."""
    handlers = _ParameterHandlers(node)
    base = node.get_fully_qualified_name()
    return [ServiceServer(node, f'{base}/{suffix}', f'rcl_interfaces/srv/{srv}',
                          getattr(handlers, suffix), qos_profile_parameters)
            for suffix, srv in PARAMETER_SERVICES.items()]


# ---------------------------------------------------------------------------- client and tools
class ServiceClient:
    """
    A service client on a bare DDS context (what ``ior param`` uses): request writer and reply
    reader with one ``clientid``, replies matched on (client guid, sequence number).
    """

    def __init__(self, ctx: Any, service: str, srv_type: str,
                 qos: QoSProfile | None = None) -> None:
        from ior_ros.runtime.qos import qos_profile_services_default

        register_service_types()
        self.service_name = service
        self.request_type = f'{srv_type}_Request'
        self.response_type = f'{srv_type}_Response'
        self._registry = registry()
        qos = qos or qos_profile_services_default
        ident = ctx.gid[:12] + next(_ID_COUNTER).to_bytes(4, 'big')
        prefix = f'clientid={_dotted_id(ident)};'
        request_topic, reply_topic = service_topics(service)
        self._writer = ctx.create_writer(request_topic, self.request_type, qos,
                                         user_data_prefix=prefix)
        self._reader = ctx.create_reader(reply_topic, self.response_type, qos,
                                         user_data_prefix=prefix)
        self._guid = int.from_bytes(ident[8:], 'little') or 1
        self._seq = 0

    def wait_for_service(self, timeout_s: float) -> bool:
        """True once a server's request reader and reply writer are both matched."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._writer.matched_count() > 0 and self._reader.matched_count() > 0:
                return True
            time.sleep(0.02)
        return False

    def call(self, request: Any, timeout_s: float) -> Any:
        """Send ``request``, return the response (RosInputError after ``timeout_s``)."""
        body = self._registry.serialize(request, self.request_type)
        self._seq += 1
        self._writer.write(bytearray(body[:4]) + _HEADER.pack(self._guid, self._seq) + body[4:])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for data, _info in self._reader.take():
                raw = bytes(data)
                if len(raw) < 20:
                    continue
                header = _HEADER if raw[1] == 1 else _HEADER_BE
                if header.unpack_from(raw, 4) == (self._guid, self._seq):
                    return self._registry.deserialize(raw[:4] + raw[20:], self.response_type)
            time.sleep(0.005)
        raise RosInputError(f'service {self.service_name}: no reply within {timeout_s} s')

    def close(self) -> None:
        """Delete both endpoints."""
        self._writer.close()
        self._reader.close()


def _node_client(ctx: Any, node: str, suffix: str, timeout_s: float) -> ServiceClient:
    from ior_ros.runtime.names import normalize_namespace

    fqn = normalize_namespace(node if node.startswith('/') else '/' + node)
    client = ServiceClient(ctx, f'{fqn}/{suffix}',
                           f'rcl_interfaces/srv/{PARAMETER_SERVICES[suffix]}')
    if not client.wait_for_service(timeout_s):
        client.close()
        raise RosInputError(f"node '{fqn}': its parameter service {suffix} was not found "
                            f'within {timeout_s} s (is the node running, in this '
                            'ROS_DOMAIN_ID?)')
    return client


def param_list(node: str, timeout_s: float = 5.0) -> list[str]:
    """``ros2 param list NODE``: the node's parameter names, sorted."""
    from ior_ros.runtime.topic_tools import open_context

    ctx = open_context()
    try:
        client = _node_client(ctx, node, 'list_parameters', timeout_s)
        request = get_message('rcl_interfaces/srv/ListParameters_Request')(prefixes=[], depth=0)
        return sorted(client.call(request, timeout_s).result.names)
    finally:
        ctx.close()


_TYPE_WORDS = {ParameterType.BOOL: 'Boolean', ParameterType.INTEGER: 'Integer',
               ParameterType.DOUBLE: 'Double', ParameterType.STRING: 'String',
               ParameterType.BYTE_ARRAY: 'Byte', ParameterType.BOOL_ARRAY: 'Boolean',
               ParameterType.INTEGER_ARRAY: 'Integer', ParameterType.DOUBLE_ARRAY: 'Double',
               ParameterType.STRING_ARRAY: 'String'}


def param_get(node: str, name: str, timeout_s: float = 5.0) -> str:
    """``ros2 param get NODE NAME``: 'Double value is: 2.5' (or '... values are: [...]')."""
    from ior_ros.runtime.topic_tools import open_context

    ctx = open_context()
    try:
        client = _node_client(ctx, node, 'get_parameters', timeout_s)
        request = get_message('rcl_interfaces/srv/GetParameters_Request')(names=[name])
        values = list(client.call(request, timeout_s).values)
    finally:
        ctx.close()
    if not values:
        raise RosInputError(f"node '{node}' has no parameter '{name}'")
    type_, value = value_from_msg(values[0])
    if type_ == ParameterType.NOT_SET:
        return 'Parameter not set.'
    if type_ in (ParameterType.BYTE_ARRAY, ParameterType.BOOL_ARRAY, ParameterType.INTEGER_ARRAY,
                 ParameterType.DOUBLE_ARRAY, ParameterType.STRING_ARRAY):
        return f'{_TYPE_WORDS[type_]} values are: {value}'
    return f'{_TYPE_WORDS[type_]} value is: {value}'


def param_set(node: str, name: str, value_text: str, timeout_s: float = 5.0) -> tuple[bool, str]:
    """``ros2 param set NODE NAME VALUE`` (VALUE read as YAML): ``(successful, reason)``."""
    import yaml

    from ior_ros.runtime.topic_tools import open_context

    try:
        value = yaml.safe_load(value_text)
    except yaml.YAMLError as exc:
        raise RosInputError(f'parameter value {value_text!r} is not YAML: {exc}') from None
    try:
        msg = Parameter(name, value=value).to_parameter_msg()
    except (TypeError, ValueError) as exc:
        raise RosInputError(f'parameter value {value_text!r}: {exc}') from None
    ctx = open_context()
    try:
        client = _node_client(ctx, node, 'set_parameters', timeout_s)
        request = get_message('rcl_interfaces/srv/SetParameters_Request')(parameters=[msg])
        (result,) = client.call(request, timeout_s).results
    finally:
        ctx.close()
    return bool(result.successful), str(result.reason)
