"""
The ROS graph as DDS discovery shows it: which endpoints, participants and nodes exist.

Endpoints and participants come from Cyclone's builtin topics; which node owns which endpoint
comes from ``ros_discovery_info`` (rmw_dds_common/ParticipantEntitiesInfo, reliable, transient
local), which every participant republishes whenever one of its nodes or endpoints changes
(:meth:`ior_ros.runtime.dds.DdsContext.publish_graph`). Services are demangled as rmw_dds_common
does: a request (``rq<name>Request``) or reply (``rr<name>Reply``) topic of a ``::srv::dds_::``
type.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ior_ros.runtime.dds_endpoints import RawReader, delete_entity
from ior_ros.runtime.errors import MessageDecodeError
from ior_ros.runtime.names import dds_topic_to_ros, dds_topic_to_service
from ior_ros.runtime.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_from_dds,
)
from ior_ros.runtime.registry import registry
from ior_ros.runtime.type_names import ros_type_from_dds, service_type_from_dds

if TYPE_CHECKING:
    from ior_ros.runtime.dds import DdsContext

__all__ = ['DISCOVERY_TOPIC', 'DISCOVERY_TYPE', 'DISCOVERY_WRITER_QOS', 'EndpointInfo',
           'GraphSnapshot', 'DiscoveryGraph', 'SHARED_NAME_WARNING', 'shared_names']

DISCOVERY_TOPIC = 'ros_discovery_info'
DISCOVERY_TYPE = 'rmw_dds_common/msg/ParticipantEntitiesInfo'

DISCOVERY_WRITER_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                                  reliability=ReliabilityPolicy.RELIABLE,
                                  durability=DurabilityPolicy.TRANSIENT_LOCAL)
_DISCOVERY_READER_QOS = QoSProfile(history=HistoryPolicy.KEEP_ALL,
                                   reliability=ReliabilityPolicy.RELIABLE,
                                   durability=DurabilityPolicy.TRANSIENT_LOCAL)

#: what ``ros2 node list`` prints (after ``WARNING: ``) when two nodes share a fully qualified
#: name (ros2node/verb/list.py, Jazzy)
SHARED_NAME_WARNING = ('Be aware that there are nodes in the graph that share an exact name, '
                       'which can have unintended side effects.')


def shared_names(full_names: list[str]) -> list[str]:
    """The fully qualified node names that occur more than once, sorted (ros2node's
    ``has_duplicates``, naming them)."""
    seen: set[str] = set()
    twice: set[str] = set()
    for name in full_names:
        (twice if name in seen else seen).add(name)
    return sorted(twice)


@dataclass(frozen=True)
class EndpointInfo:
    """A discovered reader or writer (read from DDS builtin topics)."""

    gid: bytes
    participant_gid: bytes
    dds_topic: str
    dds_type: str
    qos: QoSProfile
    user_data: bytes
    is_writer: bool

    @property
    def topic(self) -> str | None:
        """The ROS topic name (None for non-ROS DDS topics)."""
        return dds_topic_to_ros(self.dds_topic)

    @property
    def ros_type(self) -> str | None:
        """``pkg/msg/Name`` (None for non-ROS types)."""
        return ros_type_from_dds(self.dds_type)


@dataclass
class GraphSnapshot:
    """What discovery knows right now."""

    endpoints: list[EndpointInfo] = field(default_factory=list)
    participants: dict[bytes, bytes] = field(default_factory=dict)  # gid → USER_DATA
    nodes: dict[bytes, list[tuple[str, str, list[bytes], list[bytes]]]] = field(
        default_factory=dict)  # participant gid → [(ns, name, reader gids, writer gids)]

    def node_names(self) -> list[tuple[str, str]]:
        """Every ``(namespace, name)`` of live participants."""
        out: list[tuple[str, str]] = []
        for gid, nodes in self.nodes.items():
            if gid in self.participants:
                out.extend((ns, name) for ns, name, _, _ in nodes)
        return sorted(out)

    def node_full_names(self) -> list[str]:
        """Every node's ``/ns/name`` (a name twice when two nodes share it), sorted."""
        return sorted(f'/{name}' if ns in ('', '/') else f'{ns.rstrip("/")}/{name}'
                      for ns, name in self.node_names())

    def topic_names_and_types(self) -> dict[str, list[str]]:
        """ROS topic → sorted ROS type names of every reader and writer."""
        out: dict[str, set[str]] = {}
        for ep in self.endpoints:
            topic, typ = ep.topic, ep.ros_type
            if topic is None or typ is None:
                continue
            out.setdefault(topic, set()).add(typ)
        return {k: sorted(v) for k, v in sorted(out.items())}

    def service_names_and_types(self, gids: set[bytes] | None = None,
                                kinds: tuple[str, ...] = ('request', 'reply')
                                ) -> dict[str, list[str]]:
        """
        ROS service → sorted service types (``pkg/srv/Name``), demangled as rmw_dds_common does:
        request (``rq``/``Request``) and reply (``rr``/``Reply``) topics of ``::srv::dds_::``
        types (``_Request_``/``_Response_`` dropped). ``gids`` keeps only those readers (a
        node's; rmw's ``*_by_node`` look at readers: request readers are servers, reply readers
        clients).
        """
        out: dict[str, set[str]] = {}
        for ep in self.endpoints:
            if gids is not None and (ep.is_writer or ep.gid not in gids):
                continue
            found = dds_topic_to_service(ep.dds_topic)
            typ = service_type_from_dds(ep.dds_type)
            if found is None or typ is None or found[1] not in kinds:
                continue
            out.setdefault(found[0], set()).add(typ)
        return {k: sorted(v) for k, v in sorted(out.items())}

    def count_service_readers(self, service: str, kind: str) -> int:
        """Readers of a service's request topic (servers) or reply topic (clients)."""
        return sum(1 for ep in self.endpoints if not ep.is_writer
                   and dds_topic_to_service(ep.dds_topic) == (service, kind))


def _user_data(qos: Any) -> bytes:
    """The USER_DATA bytes of a discovered entity's QoS (b'' when it carries none)."""
    data = b''
    for policy in qos:
        if type(policy).__name__ == 'Userdata':
            data = policy.data
    return data


class DiscoveryGraph:
    """Builtin-topic readers plus a ros_discovery_info reader, updated on demand (one per
    DdsContext, created by its first :meth:`~ior_ros.runtime.dds.DdsContext.graph`)."""

    def __init__(self, ctx: DdsContext) -> None:
        from cyclonedds.builtin import (
            BuiltinDataReader,
            BuiltinTopicDcpsParticipant,
            BuiltinTopicDcpsPublication,
            BuiltinTopicDcpsSubscription,
        )

        self.ctx = ctx
        self._pub = BuiltinDataReader(ctx.participant, BuiltinTopicDcpsPublication)
        self._sub = BuiltinDataReader(ctx.participant, BuiltinTopicDcpsSubscription)
        self._part = BuiltinDataReader(ctx.participant, BuiltinTopicDcpsParticipant)
        self._info = RawReader(ctx, DISCOVERY_TOPIC, DISCOVERY_TYPE, _DISCOVERY_READER_QOS,
                               attach=False)
        self.endpoints: dict[bytes, EndpointInfo] = {}
        self.participants: dict[bytes, bytes] = {}
        self.nodes: dict[bytes, list[tuple[str, str, list[bytes], list[bytes]]]] = {}
        self.dropped_samples = 0  # ros_discovery_info samples that did not decode
        self._lock = threading.Lock()

    def refresh(self) -> GraphSnapshot:
        """Take what discovery reported since the last call; the graph as it is now."""
        from cyclonedds.core import InstanceState

        with self._lock:
            for reader, is_writer in ((self._pub, True), (self._sub, False)):
                while True:
                    samples = reader.take(N=256)
                    if not samples:
                        break
                    for s in samples:
                        key = s.key.bytes
                        if s.sample_info.instance_state != InstanceState.Alive:
                            self.endpoints.pop(key, None)
                            continue
                        self.endpoints[key] = EndpointInfo(
                            key, s.participant_key.bytes, s.topic_name, s.type_name,
                            qos_from_dds(s.qos), _user_data(s.qos), is_writer)
            while True:
                samples = self._part.take(N=256)
                if not samples:
                    break
                for s in samples:
                    key = s.key.bytes
                    if s.sample_info.instance_state != InstanceState.Alive:
                        self.participants.pop(key, None)
                        self.nodes.pop(key, None)
                        continue
                    self.participants[key] = _user_data(s.qos)
            while True:
                raw = self._info.take()
                if not raw:
                    break
                for data, _info in raw:
                    try:
                        msg = registry().decode(data, DISCOVERY_TYPE)
                    except MessageDecodeError:  # a malformed foreign sample: counted, skipped
                        self.dropped_samples += 1
                        continue
                    gid = bytes(msg.gid.data)
                    self.nodes[gid] = [
                        (n.node_namespace, n.node_name,
                         [bytes(g.data) for g in n.reader_gid_seq],
                         [bytes(g.data) for g in n.writer_gid_seq])
                        for n in msg.node_entities_info_seq]
            live = set(self.participants)
            return GraphSnapshot(
                endpoints=[e for e in self.endpoints.values() if e.participant_gid in live],
                participants=dict(self.participants),
                nodes={k: list(v) for k, v in self.nodes.items()})

    def close(self) -> None:
        """Delete the readers."""
        self._info.close()
        for reader in (self._pub, self._sub, self._part):
            delete_entity(reader)
