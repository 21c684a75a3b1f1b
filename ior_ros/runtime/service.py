"""
Service servers of a node (rclpy.service.Service) on the DDS runtime: a request reader on the
node's waitset and a reply writer (wire format: :mod:`ior_ros.runtime.service_wire`).

The callback runs in the executor like a subscription callback. A server callback that raises,
or returns something that is not the response, is logged as an error naming the service and the
request gets no reply; the node goes on (rclpy would let the exception out of ``spin``). A
request that does not decode is dropped unanswered (the callback is not called) and reported
like a subscription's malformed sample (:class:`~ior_ros.runtime.drop_report.DropReport`, a
warning at most every 5 s, naming the client's node); ``dropped_samples`` counts them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ior_ros.runtime.drop_report import DropReport, WriterNames
from ior_ros.runtime.errors import MessageDecodeError
from ior_ros.runtime.qos import QoSProfile
from ior_ros.runtime.registry import get_message, get_service, registry
from ior_ros.runtime.service_wire import (
    ENDPOINT_IDS,
    dotted_id,
    join_sample,
    service_topics,
    service_typename,
    split_sample,
)

__all__ = ['ServiceServer', 'Service']


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
        ident = dds.gid[:12] + next(ENDPOINT_IDS).to_bytes(4, 'big')
        prefix = f'serviceid={dotted_id(ident)};'
        request_topic, reply_topic = service_topics(service)
        self._reader = dds.create_reader(request_topic, self.request_type, qos,
                                         user_data_prefix=prefix)
        self._writer = dds.create_writer(reply_topic, self.response_type, qos,
                                         user_data_prefix=prefix)
        self._drops = DropReport(f'on service {service} ({self.request_type})',
                                 self._logger.warning)
        self._writer_names = WriterNames(self._reader.reader, dds.graph)
        use = getattr(node, '_use_type', None)
        if use is not None:  # rcl's node type cache: the service type is in use by the node
            use(srv_type)

    @property
    def dropped_samples(self) -> int:
        """How many requests were dropped because they did not decode."""
        return self._drops.total

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
            for data, info in samples:
                out.append(self._make_call(bytes(data), info))

    def _make_call(self, data: bytes, info: Any = None) -> Callable[[], None]:
        def call() -> None:
            self._serve(data, info)
        return call

    def _serve(self, data: bytes, info: Any = None) -> None:
        # a malformed request or a failing callback is logged; it never stops the node's spin
        name = self.service_name
        try:
            split = split_sample(data)
            if split is None:
                raise MessageDecodeError(
                    f'{self.request_type}: the {len(data)}-byte request is shorter than the '
                    '4-byte encapsulation and 16-byte request header')
            guid, seq, request_body = split
            request = self._registry.decode(request_body, self.request_type)
        except MessageDecodeError as exc:
            self._drops.drop(str(exc), lambda: self._client_of(info))
            return
        self._drops.tick()
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
        reply = join_sample(body, guid, seq)
        # rmw waits up to 100 ms for the client's reply reader before answering (§7)
        deadline = time.monotonic() + 0.1
        while self._writer.matched_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        self._writer.write(reply)

    def _client_of(self, info: Any) -> str:
        """The node (or GUID) of the client that sent a request, for the drop report."""
        return 'an unknown client' if info is None else self._writer_names(
            info.publication_handle)

    def close(self) -> None:
        """Delete both endpoints."""
        self._drops.flush()
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
