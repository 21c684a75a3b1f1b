"""
Service clients on the DDS runtime (wire format: :mod:`ior_ros.runtime.service_wire`).

:class:`Client` is a node's client (rclpy.client.Client): the executor spinning the node
completes the Futures of ``call_async``. :class:`ServiceClient` is a synchronous client on a
bare DDS context, what the tools (``ior param``, ``ior service call``) use.

A reply that does not decode is dropped like a lost one: a node's client warns
(:class:`~ior_ros.runtime.drop_report.DropReport`, at most every 5 s, naming the server's node)
and leaves the Future pending, so ``call`` returns None after its timeout and no callback sees
a made-up response (what rclpy hands a subscription callback for an undecodable sample is a
default-constructed message; :mod:`~ior_ros.runtime.cdr_decode`); the tools'
:class:`ServiceClient` raises MessageDecodeError, one line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ior_ros.runtime.drop_report import DropReport, WriterNames
from ior_ros.runtime.errors import MessageDecodeError, RosInputError
from ior_ros.runtime.qos import QoSProfile, qos_profile_services_default
from ior_ros.runtime.registry import get_message, get_service, registry
from ior_ros.runtime.service_wire import (
    ENDPOINT_IDS,
    SEQUENCE_NUMBERS,
    dotted_id,
    fold_guid,
    join_sample,
    service_topics,
    service_typename,
    split_sample,
)

__all__ = ['Client', 'ServiceClient']


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
        ident = dds.gid[:12] + next(ENDPOINT_IDS).to_bytes(4, 'big')
        prefix = f'clientid={dotted_id(ident)};'
        request_topic, reply_topic = service_topics(srv_name)
        self._writer = dds.create_writer(request_topic, self.request_type, qos_profile,
                                         user_data_prefix=prefix)
        self._reader = dds.create_reader(reply_topic, self.response_type, qos_profile,
                                         user_data_prefix=prefix)
        self._guid = fold_guid(bytes(self._writer.gid))
        self._lock = threading.Lock()
        self._pending: dict[int, Any] = {}
        self._drops = DropReport(f'on the replies of service {srv_name} ({self.response_type})',
                                 node.get_logger().warning)
        self._writer_names = WriterNames(self._reader.reader, dds.graph)
        use = getattr(node, '_use_type', None)
        if use is not None:
            use(self.srv_typename)

    @property
    def dropped_samples(self) -> int:
        """How many replies to this client were dropped because they did not decode."""
        return self._drops.total

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
        seq = next(SEQUENCE_NUMBERS)
        with self._lock:
            self._pending[seq] = future
        future.add_done_callback(self.remove_pending_request)
        self._writer.write(join_sample(body, self._guid, seq))
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
            for data, info in samples:
                split = split_sample(bytes(data))
                if split is None:
                    continue  # no request header: whose reply it is cannot be known
                guid, seq, body = split
                if guid != self._guid:
                    continue  # the reply to another client of the service
                with self._lock:
                    future = self._pending.get(seq)
                if future is not None:
                    out.append(self._make_completion(future, body, info))

    def _make_completion(self, future: Any, body: bytes, info: Any = None) -> Callable[[], None]:
        def complete() -> None:
            if future.done():
                return
            try:
                response = self._registry.decode(body, self.response_type)
            except MessageDecodeError as exc:  # dropped like a lost reply: the Future waits on
                self._drops.drop(str(exc), lambda: self._server_of(info))
                return
            self._drops.tick()
            future.set_result(response)
        return complete

    def _server_of(self, info: Any) -> str:
        """The node (or GUID) of the server that sent a reply, for the drop report."""
        return 'an unknown server' if info is None else self._writer_names(
            info.publication_handle)

    def destroy(self) -> bool:
        """Delete the client (Node.destroy_client)."""
        return bool(self._node.destroy_client(self))

    def _close(self) -> None:
        self._drops.flush()
        self._writer.close()
        self._reader.close()
        unuse = getattr(self._node, '_unuse_type', None)
        if unuse is not None:
            unuse(self.srv_typename)


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
        ident = ctx.gid[:12] + next(ENDPOINT_IDS).to_bytes(4, 'big')
        prefix = f'clientid={dotted_id(ident)};'
        request_topic, reply_topic = service_topics(service)
        self._writer = ctx.create_writer(request_topic, self.request_type, qos,
                                         user_data_prefix=prefix)
        self._reader = ctx.create_reader(reply_topic, self.response_type, qos,
                                         user_data_prefix=prefix)
        self._guid = fold_guid(bytes(self._writer.gid))
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
        self._seq = next(SEQUENCE_NUMBERS)
        self._writer.write(join_sample(body, self._guid, self._seq))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for data, _info in self._reader.take():
                split = split_sample(bytes(data))
                if split is not None and split[:2] == (self._guid, self._seq):
                    try:
                        return self._registry.decode(split[2], self.response_type)
                    except MessageDecodeError as exc:
                        raise MessageDecodeError(f'service {self.service_name}: malformed '
                                                 f'reply: {exc}') from None
            time.sleep(0.005)
        raise RosInputError(f'service {self.service_name}: no reply within {timeout_s} s')

    def close(self) -> None:
        """Delete both endpoints."""
        self._writer.close()
        self._reader.close()
