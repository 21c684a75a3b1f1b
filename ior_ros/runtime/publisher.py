"""
``Publisher`` (rclpy.publisher.Publisher) on the DDS runtime: a raw-CDR DataWriter on the node's
participant. ``publish`` takes a message of the publisher's type, or already-serialized CDR bytes
(what bag play and the zero-copy fast path use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ior_ros.runtime.ack_wait import stall_text
from ior_ros.runtime.clock import Duration
from ior_ros.runtime.qos import QoSProfile
from ior_ros.runtime.registry import message_typename, registry

if TYPE_CHECKING:
    from ior_ros.runtime.node import Node

__all__ = ['Publisher']


class Publisher:
    """A topic publisher (rclpy.publisher.Publisher)."""

    def __init__(self, node: Node, msg_type: Any, topic: str, qos: QoSProfile) -> None:
        self.msg_type = msg_type
        self.typename = message_typename(msg_type)
        self.topic_name = topic
        self.event_topic = topic  # the name as the node gave it: rclpy's QoS event messages use it
        self.qos_profile = qos
        self._node = node
        self._registry = registry()
        dds = node.context.dds
        self._writer = dds.create_writer(
            topic, self.typename, qos,
            on_incompatible_qos=lambda policy: dds.post(lambda: self._incompatible(policy)))
        self._stall_reported = False
        self._entry = self._registry.entry(self.typename)
        self._registry.prepare(self.typename)  # the first publish does not pay for codegen
        # an in-process writer (runtime/inproc.py) says whether anything would read a sample:
        # a message nobody reads is not serialized
        self._read_by = getattr(self._writer, 'read_by_anyone', None)

    def _incompatible(self, policy: str) -> None:
        # rclpy's default event callback (rclpy/event_handler.py), same words
        self._node.get_logger().warn(
            f"New subscription discovered on topic '{self.event_topic}', requesting incompatible "
            f'QoS. No messages will be sent to it. Last incompatible policy: {policy}')

    @property
    def topic(self) -> str:
        """The resolved topic name."""
        return self.topic_name

    @property
    def gid(self) -> bytes:
        """The 16-byte DDS GUID of the writer."""
        return bytes(self._writer.gid)

    def publish(self, msg: Any) -> None:
        """Publish a message, or already-serialized CDR bytes (the zero-copy fast path)."""
        if isinstance(msg, (bytes, bytearray, memoryview)):
            data = msg if len(msg) % 4 == 0 else bytes(msg) + b'\0' * (-len(msg) % 4)
            self._writer.write(data)
            return
        if type(msg) is not self._entry.cls:
            raise TypeError(f'publisher on {self.topic_name} expects {self.typename}, got '
                            f'{getattr(msg, "__msgtype__", type(msg).__name__)}')
        if self._read_by is not None and not self._read_by():
            return
        self._writer.write(self._registry.serialize(msg, self.typename))

    def get_subscription_count(self) -> int:
        """Number of matched subscriptions (DDS readers)."""
        return int(self._writer.matched_count())

    def wait_for_all_acked(self, timeout: Duration | None = None) -> bool:
        """
        Block until all reliable subscribers acknowledged every sample: True, or False when
        ``timeout`` passed first (None or negative: wait forever), as rclpy. A subscriber that
        does not acknowledge in time (a stopped or vanished process) is reported once per
        publisher, as a warning of the node's logger naming it.
        """
        seconds = 1e9 if timeout is None or timeout.nanoseconds < 0 else timeout.nanoseconds / 1e9
        if self._writer.wait_for_acks(seconds):
            return True
        if not self._stall_reported:
            self._stall_reported = True
            self._node.get_logger().warning(
                stall_text(self._node.context.dds, [self._writer], seconds))
        return False

    def destroy(self) -> bool:
        """Delete the writer."""
        return self._node.destroy_publisher(self)

    def _close(self) -> None:
        self._writer.close()
