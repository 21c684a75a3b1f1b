"""
``Subscription`` (rclpy.subscription.Subscription) on the DDS runtime: a raw-CDR DataReader on
the node's waitset. Samples are taken raw and decoded only when their callback runs (in the
executor); a callback with two parameters also gets a :class:`MessageInfo`, and ``raw=True``
delivers the CDR bytes.

A sample that does not decode (:meth:`~ior_ros.runtime.registry.MessageRegistry.decode`) is
dropped: the callback is not called, ``dropped_samples`` counts it and the node's logger warns
(:class:`~ior_ros.runtime.drop_report.DropReport`: the first at once, then one summary at most
every 5 s, naming the publisher); the samples around it are delivered in order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ior_ros.runtime.drop_report import DropReport, WriterNames
from ior_ros.runtime.errors import MessageDecodeError
from ior_ros.runtime.qos import QoSProfile
from ior_ros.runtime.registry import message_typename, registry

if TYPE_CHECKING:
    from ior_ros.runtime.node import Node

__all__ = ['Subscription', 'MessageInfo']


class MessageInfo(dict):  # type: ignore[type-arg]
    """Reception info (``source_timestamp``, ``received_timestamp``, ``publication_handle``)."""


class Subscription:
    """A topic subscription (rclpy.subscription.Subscription)."""

    def __init__(self, node: Node, msg_type: Any, topic: str, callback: Callable[..., Any],
                 qos: QoSProfile, raw: bool) -> None:
        self.msg_type = msg_type
        self.typename = message_typename(msg_type)
        self.topic_name = topic
        self.event_topic = topic  # the name as the node gave it: rclpy's QoS event messages use it
        self.callback = callback
        self.qos_profile = qos
        self.raw = raw
        self._node = node
        self._registry = registry()
        dds = node.context.dds
        self._reader = dds.create_reader(
            topic, self.typename, qos,
            on_incompatible_qos=lambda policy: dds.post(lambda: self._incompatible(policy)))
        self._wants_info = _accepts_two_args(callback)
        self._drops = DropReport(f'on {topic} ({self.typename})', node.get_logger().warning)
        self._writer_names = WriterNames(self._reader.reader, dds.graph)
        if not raw:
            self._registry.prepare(self.typename)  # the first sample does not pay for codegen

    def _incompatible(self, policy: str) -> None:
        # rclpy's default event callback (rclpy/event_handler.py), same words
        self._node.get_logger().warn(
            f"New publisher discovered on topic '{self.event_topic}', offering incompatible QoS. "
            f'No messages will be received from it. Last incompatible policy: {policy}')

    @property
    def topic(self) -> str:
        """The resolved topic name."""
        return self.topic_name

    @property
    def gid(self) -> bytes:
        """The 16-byte DDS GUID of the reader."""
        return bytes(self._reader.gid)

    @property
    def dropped_samples(self) -> int:
        """How many samples were dropped because they did not decode."""
        return self._drops.total

    def get_publisher_count(self) -> int:
        """Number of matched publishers (DDS writers)."""
        return int(self._reader.matched_count())

    def _collect(self, out: list[Callable[[], None]]) -> None:
        """Take every waiting sample and queue its callback."""
        while True:
            samples = self._reader.take()
            if not samples:
                return
            for data, info in samples:
                out.append(self._make_call(data, info))

    def _make_call(self, data: bytes, info: Any) -> Callable[[], None]:
        def call() -> None:
            if self.raw:
                msg: Any = data
            else:
                try:
                    msg = self._registry.decode(data, self.typename)
                except MessageDecodeError as exc:
                    self._drops.drop(str(exc), lambda: self._writer_names(
                        info.publication_handle))
                    return
                self._drops.tick()
            if self._wants_info:
                self.callback(msg, MessageInfo(source_timestamp=info.source_timestamp,
                                               publication_handle=info.publication_handle))
            else:
                self.callback(msg)
        return call

    def destroy(self) -> bool:
        """Delete the reader."""
        return self._node.destroy_subscription(self)

    def _close(self) -> None:
        self._drops.flush()
        self._reader.close()


def _accepts_two_args(callback: Callable[..., Any]) -> bool:
    import inspect

    try:
        params = [p for p in inspect.signature(callback).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                  and p.default is p.empty]
    except (TypeError, ValueError):
        return False
    return len(params) >= 2
