"""
The DDS transport: one Cyclone DDS participant per process, speaking rmw_cyclonedds_cpp's dialect.

Wire rules (``shared/reference/ros2-dds-wire.md``):

* topic ``/a/b`` is DDS topic ``rt/a/b``; type ``pkg/msg/Name`` is ``pkg::msg::dds_::Name_``;
* payloads are XCDR1 little-endian (``00 01 00 00``), keyless, zero-padded to 4 bytes; readers and
  writers offer only XCDR1 (``DataRepresentation(use_cdrv0_representation=True)``);
* participant USER_DATA ``enclave=/;``; every endpoint's USER_DATA ``typehash=RIHS01_<hex>;``;
* the graph (which node owns which endpoint) is published on ``ros_discovery_info`` as
  rmw_dds_common/ParticipantEntitiesInfo, republished whenever a node or endpoint changes.

Fast path: samples are serialized by rosbags' generated code (``uint8[]`` is one memcpy) and
written as raw CDR with cyclonedds' ``ddspy_write``/``ddspy_write_ts``; readers take raw CDR with
``ddspy_take`` and rosbags decodes it (``uint8[]`` is a zero-copy numpy view). The cyclonedds
typed path, which packs ``uint8[]`` element by element (14 MB/s for 1 MB images), is never used;
the IDL type exists only because Cyclone needs one to create a topic (and checks raw payloads
against it). These ``ddspy_*`` functions are private API of cyclonedds 11.0.x (pinned).

Discovery configuration follows ROS 2 Jazzy (rcl discovery_options.c): with
``ROS_AUTOMATIC_DISCOVERY_RANGE`` unset or ``SUBNET`` the plain Cyclone default (plus
``ROS_STATIC_PEERS``); with ``LOCALHOST`` the loopback-only fragment of rmw_node.cpp:1083-1240
(:data:`LOCALHOST_CONFIG`); ``OFF`` isolates the process. ``CYCLONEDDS_URI`` is appended after that
fragment, as rmw does, so one file can serve both sides.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ior_ros.runtime.errors import DdsError
from ior_ros.runtime.messages import dds_type_name, registry
from ior_ros.runtime.names import dds_topic_to_ros, dds_topic_to_service, ros_topic_to_dds
from ior_ros.runtime.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_from_dds,
    to_dds_qos,
)

__all__ = ['DdsContext', 'LOCALHOST_CONFIG', 'discovery_config', 'idl_type', 'RawWriter',
           'RawReader', 'EndpointInfo', 'GraphSnapshot', 'domain_id_from_env',
           'service_type_from_dds']

LOCALHOST_CONFIG = (
    '<CycloneDDS><Domain Id="any"><General>'
    '<Interfaces><NetworkInterface name="lo"/></Interfaces>'
    '<AllowMulticast>false</AllowMulticast></General>'
    '<Discovery><ParticipantIndex>auto</ParticipantIndex>'
    '<MaxAutoParticipantIndex>32</MaxAutoParticipantIndex>'
    '<Peers><Peer address="localhost"/></Peers></Discovery>'
    '</Domain></CycloneDDS>')

_OFF_CONFIG = (
    '<CycloneDDS><Domain Id="any"><General>'
    '<Interfaces><NetworkInterface name="lo"/></Interfaces>'
    '<AllowMulticast>false</AllowMulticast></General>'
    '<Discovery><ParticipantIndex>none</ParticipantIndex></Discovery>'
    '</Domain></CycloneDDS>')

DISCOVERY_TOPIC = 'ros_discovery_info'
DISCOVERY_TYPE = 'rmw_dds_common/msg/ParticipantEntitiesInfo'
_TAKE_BATCH = 64


def domain_id_from_env() -> int:
    """``ROS_DOMAIN_ID`` (default 0), validated."""
    raw = os.environ.get('ROS_DOMAIN_ID', '').strip()
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise DdsError(f'ROS_DOMAIN_ID={raw!r} is not an integer') from None
    if not 0 <= value <= 232:
        raise DdsError(f'ROS_DOMAIN_ID={value} is outside 0..232')
    return value


def discovery_config() -> str | None:
    """The Cyclone configuration string for the current environment (None = Cyclone default)."""
    scope = os.environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE', '').strip().upper()
    uri = os.environ.get('CYCLONEDDS_URI', '').strip()
    peers = [p for p in os.environ.get('ROS_STATIC_PEERS', '').replace(',', ';').split(';')
             if p.strip()]
    fragment: str | None = None
    if scope == 'LOCALHOST':
        fragment = LOCALHOST_CONFIG
    elif scope == 'OFF':
        fragment = _OFF_CONFIG
    elif scope in ('', 'SUBNET', 'SYSTEM_DEFAULT'):
        if peers:
            fragment = ('<CycloneDDS><Domain Id="any"><Discovery>'
                        '<ParticipantIndex>auto</ParticipantIndex>'
                        '<MaxAutoParticipantIndex>32</MaxAutoParticipantIndex><Peers>'
                        + ''.join(f'<Peer address="{p.strip()}"/>' for p in peers)
                        + '</Peers></Discovery></Domain></CycloneDDS>')
    else:
        raise DdsError(f'ROS_AUTOMATIC_DISCOVERY_RANGE={scope!r}: expected SUBNET, LOCALHOST or '
                       'OFF')
    if fragment and uri:
        return f'{fragment},{uri}'
    return fragment  # None → cyclonedds reads CYCLONEDDS_URI itself


# ---------------------------------------------------------------------------- IDL types
_IDL_CACHE: dict[str, Any] = {}
_IDL_LOCK = threading.RLock()
_DOMAINS: dict[int, Any] = {}


def idl_type(typename: str) -> Any:
    """The cyclonedds IdlStruct of a ROS type (``pkg::msg::dds_::Name_``), cached per process."""
    with _IDL_LOCK:
        return _idl_type_locked(typename)


def _idl_type_locked(typename: str) -> Any:
    found = _IDL_CACHE.get(typename)
    if found is not None:
        return found
    from cyclonedds.idl import make_idl_struct
    from cyclonedds.idl import types as t

    base_types = {'bool': bool, 'byte': t.byte, 'char': t.uint8, 'int8': t.int8,
                  'uint8': t.uint8, 'int16': t.int16, 'uint16': t.uint16, 'int32': t.int32,
                  'uint32': t.uint32, 'int64': t.int64, 'uint64': t.uint64,
                  'float32': t.float32, 'float64': t.float64}
    reg = registry()

    def field_type(desc: Any) -> Any:
        kind = desc[0]
        if kind == 1:
            name, bound = desc[1]
            if name in ('string', 'wstring'):
                return t.bounded_str[bound] if bound else str  # type: ignore[misc]
            return base_types[name]
        if kind == 2:
            return _idl_type_locked(desc[1])
        sub, count = desc[1]
        if kind == 3:
            return t.array[field_type(sub), count]  # type: ignore[misc]
        return (t.sequence[field_type(sub), count]  # type: ignore[misc]
                if count else t.sequence[field_type(sub)])  # type: ignore[misc]

    fields = {name: field_type(desc) for name, desc in reg.fields(typename)}
    if typename.split('/')[1] == 'srv':
        # rmw_cyclonedds writes a request header (client guid u64, sequence number i64) before
        # the body of every service sample (serdata.hpp:73-77); Cyclone checks raw payloads
        # against this type, so it carries the header as its first two members
        fields = {'ior_client_guid_': t.uint64, 'ior_sequence_number_': t.int64, **fields}
    short = typename.split('/')[-1]
    cls = make_idl_struct(f'{short}_', dds_type_name(typename), fields)
    _IDL_CACHE[typename] = cls
    return cls


def _delete(entity: Any) -> None:
    try:
        entity.__del__()
    except Exception:  # noqa: S110  (already deleted with its parent)
        pass


# ---------------------------------------------------------------------------- endpoints
# rmw_cyclonedds_cpp reports an incompatible QoS with rmw's policy kind, mapped from the DDS QoS
# policy id (rmw_node.cpp, dds_qos_policy_to_rmw_qos_policy); rclpy prints that kind's name.
_RMW_POLICY_NAMES = {2: 'DURABILITY', 4: 'DEADLINE', 8: 'LIVELINESS', 11: 'RELIABILITY',
                     13: 'HISTORY', 21: 'LIFESPAN'}


def rmw_policy_name(dds_policy_id: int) -> str:
    """The rmw QoS policy name of a DDS QoS policy id ('INVALID' for those rmw does not map)."""
    return _RMW_POLICY_NAMES.get(int(dds_policy_id), 'INVALID')


def _incompatible_qos_listener(writer: bool, callback: Callable[[str], None] | None) -> Any:
    """A listener that calls ``callback(policy name)`` on an incompatible-QoS match (or None).

    It runs on a Cyclone receive thread, so ``callback`` must only hand the event over."""
    if callback is None or os.environ.get('XX_NOLISTENER'):
        return None
    from cyclonedds.core import Listener

    def on_event(_entity: Any, status: Any) -> None:
        callback(rmw_policy_name(status.last_policy_id))

    if writer:
        return Listener(on_offered_incompatible_qos=on_event)
    return Listener(on_requested_incompatible_qos=on_event)


class RawWriter:
    """A DataWriter that writes pre-serialized CDR (the fast path)."""

    def __init__(self, ctx: DdsContext, topic: str, typename: str, qos: QoSProfile,
                 user_data_prefix: str = '',
                 on_incompatible_qos: Callable[[str], None] | None = None) -> None:
        from cyclonedds.pub import DataWriter

        self.ctx = ctx
        self.topic = topic
        self.typename = typename
        self.qos = qos
        user_data = f'{user_data_prefix}typehash={registry().type_hash(typename)};'.encode()
        self._listener = _incompatible_qos_listener(True, on_incompatible_qos)
        self.writer = DataWriter(ctx.participant, ctx.topic(topic, typename),
                                 to_dds_qos(qos, user_data, writer=True), listener=self._listener)
        self.gid = self.writer.guid.bytes
        from cyclonedds._clayer import ddspy_write, ddspy_write_ts

        self._write = ddspy_write
        self._write_ts = ddspy_write_ts
        self._ref = self.writer._ref

    def write(self, data: bytes | bytearray, timestamp_ns: int | None = None) -> None:
        """Write one serialized sample (with its 4-byte header, padded to 4)."""
        if timestamp_ns is None:
            ret = self._write(self._ref, data)
        else:
            ret = self._write_ts(self._ref, data, timestamp_ns)
        if ret < 0:
            raise DdsError(f'DDS write on {self.topic} failed with return code {ret} (payload '
                           f'{len(data)} bytes rejected by the {self.typename} type?)')

    def matched_count(self) -> int:
        """Number of matched readers."""
        status = self.writer.get_publication_matched_status()  # type: ignore[no-untyped-call]
        return int(status.current_count)

    def wait_for_acks(self, timeout_s: float) -> bool:
        """Block until every matched reliable reader acknowledged (or the timeout)."""
        return bool(self.writer.wait_for_acks(int(timeout_s * 1e9)))

    def close(self) -> None:
        """Delete the DDS writer."""
        _delete(self.writer)


class RawReader:
    """A DataReader that takes raw CDR samples; attached to the context's waitset."""

    def __init__(self, ctx: DdsContext, topic: str, typename: str, qos: QoSProfile,
                 attach: bool = True, user_data_prefix: str = '',
                 on_incompatible_qos: Callable[[str], None] | None = None) -> None:
        from cyclonedds._clayer import ddspy_take
        from cyclonedds.core import InstanceState, ReadCondition, SampleState, ViewState
        from cyclonedds.sub import DataReader

        self.ctx = ctx
        self.topic = topic
        self.typename = typename
        self.qos = qos
        user_data = f'{user_data_prefix}typehash={registry().type_hash(typename)};'.encode()
        self._listener = _incompatible_qos_listener(False, on_incompatible_qos)
        self.reader = DataReader(ctx.participant, ctx.topic(topic, typename),
                                 to_dds_qos(qos, user_data, writer=False), listener=self._listener)
        self.gid = self.reader.guid.bytes
        self._mask = SampleState.Any | ViewState.Any | InstanceState.Any
        self.condition = ReadCondition(self.reader, self._mask)
        self._take = ddspy_take
        self._ref = self.reader._ref
        self._attached = attach
        if attach:
            ctx.attach(self.condition)

    def take(self, max_samples: int = _TAKE_BATCH) -> list[tuple[bytes, Any]]:
        """Up to ``max_samples`` valid samples as ``(cdr_bytes, sample_info)``."""
        ret = self._take(self._ref, self._mask, max_samples)
        if isinstance(ret, int):
            raise DdsError(f'DDS take on {self.topic} failed with return code {ret}')
        return [(data, info) for data, info in ret if info.valid_data]

    def matched_count(self) -> int:
        """Number of matched writers."""
        status = self.reader.get_subscription_matched_status()  # type: ignore[no-untyped-call]
        return int(status.current_count)

    def close(self) -> None:
        """Detach and delete the DDS reader."""
        if self._attached:
            self.ctx.detach(self.condition)
        _delete(self.condition)
        _delete(self.reader)


# ---------------------------------------------------------------------------- graph
def service_type_from_dds(dds_name: str) -> str | None:
    """``pkg::srv::dds_::Name_Request_`` (or ``_Response_``) → ``pkg/srv/Name`` (rmw_dds_common's
    ``_demangle_service_type_only``); None for anything else."""
    import re

    match = re.fullmatch(r'(.+)::srv::dds_::(.+)_(?:Request|Response)_', dds_name)
    if not match:
        return None
    return f"{match.group(1).replace('::', '/')}/srv/{match.group(2)}"


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
        from ior_ros.runtime.messages import ros_type_from_dds

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


class _Graph:
    """Builtin-topic readers plus a ros_discovery_info reader, updated on demand."""

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
        self._lock = threading.Lock()

    def refresh(self) -> GraphSnapshot:
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
                        msg = registry().deserialize(data, DISCOVERY_TYPE)
                    except Exception:  # noqa: S112  (a malformed foreign sample)
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
        self._info.close()
        for reader in (self._pub, self._sub, self._part):
            _delete(reader)


_DISCOVERY_WRITER_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                                   reliability=ReliabilityPolicy.RELIABLE,
                                   durability=DurabilityPolicy.TRANSIENT_LOCAL)
_DISCOVERY_READER_QOS = QoSProfile(history=HistoryPolicy.KEEP_ALL,
                                   reliability=ReliabilityPolicy.RELIABLE,
                                   durability=DurabilityPolicy.TRANSIENT_LOCAL)


# ---------------------------------------------------------------------------- memory
_MALLOC_TUNED: list[bool] = []


def keep_large_buffers() -> bool:
    """
    Let glibc keep freed megabyte buffers for reuse instead of returning them to the kernel.

    Every publish of a large message allocates two fresh buffers of its size (the serialized
    sample and the DDS binding's copy). With glibc's defaults a buffer over the dynamic mmap
    threshold is mmap'ed and unmapped each time, so a 1 MiB image costs ~480 page faults and
    1.3 ms per publish, against 0.1 ms when the heap keeps them (measured, BENCHMARKS.md). This
    raises ``M_MMAP_THRESHOLD`` to its maximum (32 MiB) and ``M_TRIM_THRESHOLD`` to 64 MiB
    (mallopt(3)); the price is that up to that much freed memory stays in the process.
    ``IOR_ROS_MALLOC_TUNING=0`` turns it off. Once per process; False where it does not apply.
    """
    if _MALLOC_TUNED:
        return _MALLOC_TUNED[0]
    done = False
    if os.environ.get('IOR_ROS_MALLOC_TUNING', '1').strip() != '0':
        try:
            import ctypes

            libc = ctypes.CDLL('libc.so.6')
            m_trim_threshold, m_mmap_threshold = -1, -3
            done = bool(libc.mallopt(m_mmap_threshold, 32 << 20)) and bool(
                libc.mallopt(m_trim_threshold, 64 << 20))
        except (OSError, AttributeError):  # not glibc
            done = False
    _MALLOC_TUNED.append(done)
    return done


# ---------------------------------------------------------------------------- context
class DdsContext:
    """
    The process's DDS state: participant, topics, the waitset executors block on, and the
    ros_discovery_info publisher that tells ROS 2 tools which node owns which endpoint.
    """

    def __init__(self, domain_id: int | None = None) -> None:
        from cyclonedds.core import GuardCondition, Policy, Qos, WaitSet
        from cyclonedds.domain import Domain, DomainParticipant  # noqa: F401

        keep_large_buffers()
        self.domain_id = domain_id_from_env() if domain_id is None else int(domain_id)
        config = discovery_config()
        try:
            with _IDL_LOCK:
                if config and self.domain_id not in _DOMAINS:
                    # one Domain object per process and domain id, kept for the process's life:
                    # Cyclone refuses a second dds_create_domain for an id that exists
                    _DOMAINS[self.domain_id] = Domain(self.domain_id, config)
            self.participant = DomainParticipant(
                self.domain_id, qos=Qos(Policy.Userdata(data=b'enclave=/;')))
        except Exception as exc:
            raise DdsError(f'cannot create the DDS participant on domain {self.domain_id}: '
                           f'{exc}') from None
        self.gid: bytes = self.participant.guid.bytes
        self._lock = threading.RLock()
        self._topics: dict[tuple[str, str], Any] = {}
        self._woken = False
        self.waitset = WaitSet(self.participant)
        self.guard = GuardCondition(self.participant)
        self.waitset.attach(self.guard)
        self._nodes: list[weakref.ref[Any]] = []
        self._info_writer = RawWriter(self, DISCOVERY_TOPIC, DISCOVERY_TYPE,
                                      _DISCOVERY_WRITER_QOS)
        self._graph: _Graph | None = None
        self.events: deque[Callable[[], None]] = deque()  # see post()
        self._tool: tuple[str, str] | None = None
        self._tool_endpoints: tuple[list[bytes], list[bytes]] = ([], [])
        self.closed = False

    # topics and waitset
    def topic(self, topic: str, typename: str) -> Any:
        """The cyclonedds Topic of a ROS topic (``/a``) or of a raw DDS name (no leading /)."""
        from cyclonedds.topic import Topic

        dds_name = ros_topic_to_dds(topic) if topic.startswith('/') else topic
        key = (dds_name, typename)
        with self._lock:
            found = self._topics.get(key)
            if found is None:
                try:
                    found = Topic(self.participant, dds_name, idl_type(typename))
                except Exception as exc:
                    raise DdsError(f'cannot create DDS topic {dds_name!r} of type '
                                   f'{dds_type_name(typename)}: {exc}') from None
                self._topics[key] = found
            return found

    def attach(self, condition: Any) -> None:
        """Attach a read condition to the waitset executors block on."""
        with self._lock:
            self.waitset.attach(condition)
        self.wake()

    def detach(self, condition: Any) -> None:
        """Detach a read condition."""
        with self._lock:
            try:
                self.waitset.detach(condition)
            except Exception:  # noqa: S110  (already gone)
                pass

    def wake(self) -> None:
        """Make a blocked :meth:`wait` return now."""
        self._woken = True
        try:
            self.guard.set(True)
        except Exception:  # noqa: S110  (context closing)
            pass

    def wait(self, timeout_ns: int) -> None:
        """Block until a reader has data, :meth:`wake` is called, or the timeout."""
        if self.closed:
            return
        try:
            self.waitset.wait(max(0, int(timeout_ns)))
            if self._woken:  # reset the guard only when it was set (saves a C call per sample)
                self._woken = False
                self.guard.set(False)
        except Exception as exc:
            if not self.closed:
                raise DdsError(f'DDS wait failed: {exc}') from None

    # endpoints
    def post(self, callback: Callable[[], None]) -> None:
        """Hand ``callback`` to the executor (thread-safe; from DDS listener threads too)."""
        self.events.append(callback)
        self.wake()

    def create_writer(self, topic: str, typename: str, qos: QoSProfile,
                      user_data_prefix: str = '',
                      on_incompatible_qos: Callable[[str], None] | None = None) -> RawWriter:
        """A raw writer on ROS topic ``topic`` (absolute name) or raw DDS topic (no ``/``);
        ``on_incompatible_qos(policy)`` is called (on a DDS thread) when a reader with an
        incompatible QoS is found."""
        writer = RawWriter(self, topic, typename, qos, user_data_prefix=user_data_prefix,
                           on_incompatible_qos=on_incompatible_qos)
        if self._tool is not None:
            self._tool_endpoints[1].append(writer.gid)
            self.publish_graph()
        return writer

    def create_reader(self, topic: str, typename: str, qos: QoSProfile,
                      user_data_prefix: str = '',
                      on_incompatible_qos: Callable[[str], None] | None = None) -> RawReader:
        """A raw reader on ROS topic ``topic`` (absolute name) or raw DDS topic (no ``/``);
        ``on_incompatible_qos`` as for :meth:`create_writer`."""
        reader = RawReader(self, topic, typename, qos, user_data_prefix=user_data_prefix,
                           on_incompatible_qos=on_incompatible_qos)
        if self._tool is not None:
            self._tool_endpoints[0].append(reader.gid)
            self.publish_graph()
        return reader

    # graph
    def register_tool(self, name: str, namespace: str = '/') -> None:
        """
        Show this participant's endpoints as the node ``namespace/name`` in the ROS graph.

        For tools that have no :class:`~ior_ros.runtime.node.Node` (``ior topic pub``, ``echo``,
        ``hz``, ``bag record``/``play``): ``ros2 node list`` shows them and ``ros2 topic info
        -v`` names them as the owner of their endpoints, as it does for ros2cli's tool nodes.
        Every reader and writer created after this call belongs to that node.
        """
        from ior_ros.runtime.names import validate_node_name

        validate_node_name(name)
        self._tool = (namespace, name)
        self.publish_graph()

    def add_node(self, node: Any) -> None:
        """Register a node for ros_discovery_info (it exposes ``graph_entry()``)."""
        with self._lock:
            self._nodes.append(weakref.ref(node))
        self.publish_graph()

    def remove_node(self, node: Any) -> None:
        """Forget a node and republish the graph."""
        with self._lock:
            self._nodes = [r for r in self._nodes if r() is not None and r() is not node]
        self.publish_graph()

    def publish_graph(self) -> None:
        """Publish this participant's ParticipantEntitiesInfo (replaces the previous one)."""
        if self.closed:
            return
        reg = registry()
        info_cls = reg.get_class(DISCOVERY_TYPE)
        node_cls = reg.get_class('rmw_dds_common/msg/NodeEntitiesInfo')
        gid_cls = reg.get_class('rmw_dds_common/msg/Gid')
        import numpy as np

        def gid(raw: bytes) -> Any:
            return gid_cls(data=np.frombuffer(raw.ljust(16, b'\0')[:16], dtype=np.uint8).copy())

        entries = []
        with self._lock:
            nodes = [r() for r in self._nodes]
        for node in nodes:
            if node is None:
                continue
            namespace, name, readers, writers = node.graph_entry()
            entries.append(node_cls(node_namespace=namespace, node_name=name,
                                    reader_gid_seq=[gid(g) for g in readers],
                                    writer_gid_seq=[gid(g) for g in writers]))
        if self._tool is not None:
            readers, writers = self._tool_endpoints
            entries.append(node_cls(node_namespace=self._tool[0], node_name=self._tool[1],
                                    reader_gid_seq=[gid(g) for g in readers],
                                    writer_gid_seq=[gid(g) for g in writers]))
        msg = info_cls(gid=gid(self.gid), node_entities_info_seq=entries)
        self._info_writer.write(reg.serialize(msg, DISCOVERY_TYPE))

    def graph(self) -> GraphSnapshot:
        """What discovery knows now (endpoints, participants, nodes)."""
        with self._lock:
            if self._graph is None:
                self._graph = _Graph(self)
        return self._graph.refresh()

    def close(self) -> None:
        """Delete the participant (and everything in it)."""
        if self.closed:
            return
        self.closed = True
        self.wake()
        if self._graph is not None:
            self._graph.close()
        _delete(self.participant)
