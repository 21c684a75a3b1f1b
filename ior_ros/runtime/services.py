"""
ROS 2 services on the DDS runtime: servers and clients of nodes, the parameter services, the
``~/get_type_description`` service, and the synchronous client the tools use.

Wire rules of rmw_cyclonedds_cpp (``shared/reference/ros2-dds-wire.md`` §1, §4, §7):

* service ``/node/get_parameters`` is a request topic ``rq/node/get_parametersRequest`` of type
  ``rcl_interfaces::srv::dds_::GetParameters_Request_`` and a reply topic
  ``rr/node/get_parametersReply`` of type ``..._Response_``;
* every sample is ``00 01 00 00 | client guid u64 | sequence number i64 | body``; the body is the
  CDR of the request or response message laid out as if it started at offset 16 (8-aligned, so
  rosbags' body without its 4-byte header follows the 16 header bytes unchanged);
* the server echoes guid and sequence number; both server endpoints carry the same
  ``serviceid=<16 bytes in dotted hex>;`` before ``typehash=...;`` in their USER_DATA, which is
  what ``rmw_service_server_is_available`` compares (both client endpoints carry the same
  ``clientid=``); the dotted hex is rmw's ``csid_to_string`` (first byte padded to width 2 with
  a space, the others unpadded: `` 1.10.52.5a.0.0.0.7``); the request endpoint's ``typehash`` is
  the hash of ``<Srv>_Request``, the reply endpoint's that of ``<Srv>_Response`` (as a live
  rmw_cyclonedds_cpp server shows them).

Service types come from :func:`ior_ros.runtime.messages.get_service` (``.srv`` files or the
embedded set). A server callback that raises, or returns something that is not the response,
is logged as an error naming the service and the request gets no reply; the node goes on (rclpy
would let the exception out of ``spin``).

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
from ior_ros.runtime.messages import get_message, get_service, registry
from ior_ros.runtime.parameters import Parameter, ParameterType
from ior_ros.runtime.qos import QoSProfile, qos_profile_parameters, qos_profile_services_default

__all__ = ['ServiceServer', 'ServiceClient', 'Service', 'Client', 'register_service_types',
           'PARAMETER_SERVICES', 'param_list', 'param_get', 'param_set',
           'start_parameter_services', 'start_type_description_service', 'service_topics',
           'service_typename', 'parse_type_hash', 'type_description_msg', 'parameter_from_msg',
           'value_from_msg', 'TYPE_DESCRIPTION_SERVICE', 'START_TYPE_DESCRIPTION_SERVICE_PARAM']

TYPE_DESCRIPTION_SERVICE = 'type_description_interfaces/srv/GetTypeDescription'
START_TYPE_DESCRIPTION_SERVICE_PARAM = 'start_type_description_service'

#: service name suffix → rcl_interfaces service type (what rclpy's ParameterService creates)
PARAMETER_SERVICES: dict[str, str] = {
    'describe_parameters': 'DescribeParameters',
    'get_parameters': 'GetParameters',
    'get_parameter_types': 'GetParameterTypes',
    'list_parameters': 'ListParameters',
    'set_parameters': 'SetParameters',
    'set_parameters_atomically': 'SetParametersAtomically',
}

_ID_COUNTER = itertools.count(1)
_SEQUENCE = itertools.count(1)  # request sequence numbers: one counter per process, as rmw's
_HEADER = struct.Struct('<Qq')
_HEADER_BE = struct.Struct('>Qq')


def register_service_types() -> None:
    """Register the six rcl_interfaces parameter services (once per process)."""
    for srv in PARAMETER_SERVICES.values():
        get_service(f'rcl_interfaces/srv/{srv}')


def service_typename(srv_type: Any) -> str:
    """``pkg/srv/Name`` of a service class (ours, or a ``pkg/srv/Name`` string)."""
    name = getattr(srv_type, '__srvtype__', None)
    if isinstance(name, str) and name:
        return name
    if isinstance(srv_type, str):
        return str(get_service(srv_type).__srvtype__)
    raise TypeError(f'{srv_type!r} is not a service class (use ior_ros.runtime.get_service)')


def service_topics(service: str) -> tuple[str, str]:
    """DDS request and reply topics of the service ``/a/b`` (rmw_node.cpp:4975-4991)."""
    return f'rq{service}Request', f'rr{service}Reply'


def _dotted_id(raw: bytes) -> str:
    """rmw_cyclonedds' ``csid_to_string``: hex, the first byte ``setw(2)``, the others bare."""
    return f'{raw[0]:2x}' + ''.join(f'.{b:x}' for b in raw[1:])


def _fold_guid(gid: bytes) -> int:
    """A u64 client id from a 16-byte DDS GUID (both halves XORed; never 0)."""
    return (int.from_bytes(gid[:8], 'little') ^ int.from_bytes(gid[8:16], 'little')) or 1


def _where(exc: BaseException) -> str:
    """`` (at file.py:42)`` for the innermost frame of an exception's traceback."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return ''
    import os

    return f' (at {os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno})'


class ServiceServer:
    """
    One service of a node: a request reader on the node's waitset and a reply writer.

    ``handler(request) -> response`` runs in the executor like a subscription callback.
    """

    def __init__(self, node: Any, service: str, srv_type: str,
                 handler: Callable[[Any], Any], qos: QoSProfile) -> None:
        srv_type = service_typename(srv_type)
        self.service_name = service
        self.srv_typename = srv_type
        self.request_type = f'{srv_type}_Request'
        self.response_type = f'{srv_type}_Response'
        self._handler = handler
        self._node = node
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
        use = getattr(node, '_use_type', None)
        if use is not None:  # rcl's node type cache: the service type is in use by the node
            use(srv_type)

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
        # a malformed request or a failing callback is logged; it never stops the node's spin
        name = self.service_name
        try:
            if len(data) < 20:
                raise ValueError(f'{len(data)} bytes is shorter than the request header')
            header = _HEADER if data[1] == 1 else _HEADER_BE
            guid, seq = header.unpack_from(data, 4)
            request = self._registry.deserialize(data[:4] + data[20:], self.request_type)
        except Exception as exc:  # noqa: BLE001
            self._logger.error(f'service {name}: malformed request dropped: {exc}')
            return
        try:
            response = self._handler(request)
        except Exception as exc:  # noqa: BLE001
            self._logger.error(f'service {name}: the callback raised {type(exc).__name__}: '
                               f'{exc}{_where(exc)}; no reply sent')
            return
        if type(response) is not self._response_cls:
            got = 'None' if response is None else getattr(response, '__msgtype__',
                                                          type(response).__name__)
            self._logger.error(f'service {name}: the callback returned {got}, not a '
                               f'{self.response_type}; no reply sent')
            return
        try:
            body = self._registry.serialize(response, self.response_type)
        except Exception as exc:  # noqa: BLE001
            self._logger.error(f'service {name}: the response can not be sent: {exc}')
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
        unuse = getattr(self._node, '_unuse_type', None)
        if unuse is not None:
            unuse(self.srv_typename)


class Service(ServiceServer):
    """
    A service server of a node (rclpy.service.Service): ``callback(request, response)`` returns
    the response (``response`` is a fresh ``srv_type.Response()``) and runs in the executor.
    """

    def __init__(self, node: Any, srv_type: Any, srv_name: str,
                 callback: Callable[[Any, Any], Any], qos_profile: QoSProfile) -> None:
        self.srv_type = srv_type if not isinstance(srv_type, str) else get_service(srv_type)
        self.srv_name = srv_name  # the name as the node gave it (rclpy); service_name: resolved
        self.callback = callback
        self.qos_profile = qos_profile
        super().__init__(node, srv_name, service_typename(self.srv_type), self._call,
                         qos_profile)

    def _call(self, request: Any) -> Any:
        return self.callback(request, self.srv_type.Response())

    def destroy(self) -> bool:
        """Delete the service (Node.destroy_service)."""
        return bool(self._node.destroy_service(self))


class Client:
    """
    A service client of a node (rclpy.client.Client).

    ``call_async(request)`` sends the request and returns a Future that the executor spinning the
    node completes when the reply arrives (replies are matched on client id and sequence number);
    ``call(request, timeout_sec)`` blocks on that Future, so, as in rclpy, another thread must be
    spinning the node (called from a callback of the same executor it only times out).
    ``wait_for_service`` polls :meth:`service_is_ready` (a matched server reader and writer).
    """

    def __init__(self, node: Any, srv_type: Any, srv_name: str, qos_profile: QoSProfile) -> None:
        self.srv_type = srv_type if not isinstance(srv_type, str) else get_service(srv_type)
        self.srv_name = srv_name  # the name as the node gave it (rclpy); service_name: resolved
        self._service_name = srv_name
        self.qos_profile = qos_profile
        self.context = node.context
        self._node = node
        self.srv_typename = service_typename(self.srv_type)
        self.request_type = f'{self.srv_typename}_Request'
        self.response_type = f'{self.srv_typename}_Response'
        self._request_cls = get_message(self.request_type)
        self._registry = registry()
        dds = node.context.dds
        ident = dds.gid[:12] + next(_ID_COUNTER).to_bytes(4, 'big')
        prefix = f'clientid={_dotted_id(ident)};'
        request_topic, reply_topic = service_topics(srv_name)
        self._writer = dds.create_writer(request_topic, self.request_type, qos_profile,
                                         user_data_prefix=prefix)
        self._reader = dds.create_reader(reply_topic, self.response_type, qos_profile,
                                         user_data_prefix=prefix)
        self._guid = _fold_guid(bytes(self._writer.gid))
        self._lock = threading.Lock()
        self._pending: dict[int, Any] = {}
        use = getattr(node, '_use_type', None)
        if use is not None:
            use(self.srv_typename)

    @property
    def service_name(self) -> str:
        """The resolved service name."""
        return self._service_name

    @property
    def reader_gid(self) -> bytes:
        """GUID of the reply reader."""
        return bytes(self._reader.gid)

    @property
    def writer_gid(self) -> bytes:
        """GUID of the request writer."""
        return bytes(self._writer.gid)

    def service_is_ready(self) -> bool:
        """True when a server's request reader and reply writer are matched."""
        try:
            return bool(self._writer.matched_count() > 0 and self._reader.matched_count() > 0)
        except Exception:  # noqa: BLE001  (destroyed, or the context is gone)
            return False

    def wait_for_service(self, timeout_sec: float | None = None) -> bool:
        """Wait until :meth:`service_is_ready` (None: for ever); False after the timeout."""
        deadline = None if timeout_sec is None else time.monotonic() + max(0.0, timeout_sec)
        while self.context.ok() and not self.service_is_ready():
            if deadline is not None and time.monotonic() >= deadline:
                break
            time.sleep(0.02)
        return self.service_is_ready()

    def call_async(self, request: Any) -> Any:
        """Send ``request``; the returned Future completes with the response."""
        from ior_ros.runtime.executor import Future

        if type(request) is not self._request_cls:
            raise TypeError(f'client of {self._service_name} sends {self.request_type}, got '
                            f'{getattr(request, "__msgtype__", type(request).__name__)}')
        body = self._registry.serialize(request, self.request_type)
        future = Future()
        seq = next(_SEQUENCE)
        with self._lock:
            self._pending[seq] = future
        future.add_done_callback(self.remove_pending_request)
        self._writer.write(bytearray(body[:4]) + _HEADER.pack(self._guid, seq) + body[4:])
        return future

    def call(self, request: Any, timeout_sec: float | None = None) -> Any:
        """
        Send ``request`` and block until the response (None after ``timeout_sec``). The reply is
        handed over by the executor spinning this node in another thread, as in rclpy.
        """
        event = threading.Event()
        future = self.call_async(request)
        future.add_done_callback(lambda _f: event.set())
        if not future.done() and not event.wait(timeout_sec):
            self.remove_pending_request(future)
        if future.exception() is not None:
            raise future.exception()
        return future.result()

    def remove_pending_request(self, future: Any) -> None:
        """Forget a request (its reply, if it comes, is dropped)."""
        with self._lock:
            for seq in [k for k, v in self._pending.items() if v is future]:
                del self._pending[seq]

    def _collect(self, out: Any) -> None:
        """Take every waiting reply and queue the completion of its Future."""
        while True:
            samples = self._reader.take()
            if not samples:
                return
            for data, _info in samples:
                raw = bytes(data)
                if len(raw) < 20:
                    continue
                header = _HEADER if raw[1] == 1 else _HEADER_BE
                guid, seq = header.unpack_from(raw, 4)
                if guid != self._guid:
                    continue  # the reply to another client of the service
                with self._lock:
                    future = self._pending.get(seq)
                if future is not None:
                    out.append(self._make_completion(future, raw))

    def _make_completion(self, future: Any, raw: bytes) -> Callable[[], None]:
        def complete() -> None:
            if future.done():
                return
            try:
                response = self._registry.deserialize(raw[:4] + raw[20:], self.response_type)
            except Exception as exc:  # noqa: BLE001
                future.set_exception(RosInputError(f'service {self._service_name}: malformed '
                                                   f'reply: {exc}'))
                return
            future.set_result(response)
        return complete

    def destroy(self) -> bool:
        """Delete the client (Node.destroy_client)."""
        return bool(self._node.destroy_client(self))

    def _close(self) -> None:
        self._writer.close()
        self._reader.close()
        unuse = getattr(self._node, '_unuse_type', None)
        if unuse is not None:
            unuse(self.srv_typename)


# ---------------------------------------------------------------------------- type descriptions
def parse_type_hash(text: str) -> bytes | None:
    """
    The 32 hash bytes of a ``RIHS01_<64 hex>`` string, or None, with the rules of rosidl's
    ``rosidl_parse_type_hash_string`` (Jazzy): ``RIHS`` + two hex digits of version 1, total
    length 71, hex digits in either case (the character after the version is not checked).
    """
    digits = '0123456789abcdefABCDEF'
    if len(text) < 7 or not text.startswith('RIHS'):
        return None
    if text[4] not in digits or text[5] not in digits or int(text[4:6], 16) != 1:
        return None
    value = text[7:]
    if len(text) != 71 or any(c not in digits for c in value):
        return None
    return bytes.fromhex(value)


def type_description_msg(typename: str) -> Any:
    """type_description_interfaces/TypeDescription of a type (as rcl's type cache holds it)."""
    cls = {name: get_message(f'type_description_interfaces/msg/{name}')
           for name in ('TypeDescription', 'IndividualTypeDescription', 'Field', 'FieldType')}

    def individual(desc: dict[str, Any]) -> Any:
        return cls['IndividualTypeDescription'](
            type_name=desc['type_name'],
            fields=[cls['Field'](name=f['name'], type=cls['FieldType'](**f['type']),
                                 default_value=f['default_value']) for f in desc['fields']])

    description = registry().type_description(typename)
    return cls['TypeDescription'](
        type_description=individual(description['type_description']),
        referenced_type_descriptions=[individual(d) for d in
                                      description['referenced_type_descriptions']])


class _TypeDescriptionHandler:
    """rcl_node_type_description_service_handle_request (rcl 9.2, node.c) for one node."""

    def __init__(self, node: Any) -> None:
        self.node = node

    def __call__(self, request: Any) -> Any:
        response = get_service(TYPE_DESCRIPTION_SERVICE).Response(successful=False)
        digest = parse_type_hash(str(request.type_hash))
        if digest is None:
            from ior_ros.runtime.ros_logging import get_logger

            get_logger('rcl').error(f"Failed to parse type hash '{request.type_hash}'")
            response.failure_reason = 'Failed to parse type hash'
            return response
        typename = self.node._type_in_use(digest)  # the request's type_name is not used (rcl)
        if typename is None:
            response.failure_reason = 'Type not currently in use by this node'
            return response
        response.type_description = type_description_msg(typename)
        if request.include_type_sources:
            source = get_message('type_description_interfaces/msg/TypeSource')
            response.type_sources = [source(type_name=name, encoding=encoding,
                                            raw_file_contents=text)
                                     for name, encoding, text in registry().type_sources(typename)]
        response.successful = True
        return response


def start_type_description_service(node: Any) -> ServiceServer:
    """The node's ``~/get_type_description`` service (rclpy's TypeDescriptionService)."""
    return ServiceServer(node, node.resolve_topic_name('~/get_type_description'),
                         TYPE_DESCRIPTION_SERVICE, _TypeDescriptionHandler(node),
                         qos_profile_services_default)


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
        srv_type = service_typename(srv_type)
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
        self._guid = _fold_guid(bytes(self._writer.gid))
        self._seq = 0

    def wait_for_service(self, timeout_s: float) -> bool:
        """True once a server's request reader and reply writer are both matched."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self._writer.matched_count() > 0 and self._reader.matched_count() > 0:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def call(self, request: Any, timeout_s: float) -> Any:
        """Send ``request``, return the response (RosInputError after ``timeout_s``)."""
        body = self._registry.serialize(request, self.request_type)
        self._seq = next(_SEQUENCE)
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

    ctx = open_context('param')
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

    ctx = open_context('param')
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
    ctx = open_context('param')
    try:
        client = _node_client(ctx, node, 'set_parameters', timeout_s)
        request = get_message('rcl_interfaces/srv/SetParameters_Request')(parameters=[msg])
        (result,) = client.call(request, timeout_s).results
    finally:
        ctx.close()
    return bool(result.successful), str(result.reason)
