"""
The DDS transport: one Cyclone DDS participant per process, speaking rmw_cyclonedds_cpp's dialect.

Wire rules (``docs/reference/ros2-dds-wire.md``):

* topic ``/a/b`` is DDS topic ``rt/a/b``; type ``pkg/msg/Name`` is ``pkg::msg::dds_::Name_``;
* payloads are XCDR1 little-endian (``00 01 00 00``), keyless, zero-padded to 4 bytes; readers and
  writers offer only XCDR1 (``DataRepresentation(use_cdrv0_representation=True)``);
* participant USER_DATA ``enclave=/;``; every endpoint's USER_DATA ``typehash=RIHS01_<hex>;``;
* the graph (which node owns which endpoint) is published on ``ros_discovery_info`` as
  rmw_dds_common/ParticipantEntitiesInfo, republished whenever a node or endpoint changes.

Readers and writers of raw CDR (the fast path) are in :mod:`ior_ros.runtime.dds_endpoints`, the
discovered graph in :mod:`ior_ros.runtime.graph`.

Discovery configuration follows ROS 2 Jazzy (rcl discovery_options.c): with
``ROS_AUTOMATIC_DISCOVERY_RANGE`` unset or ``SUBNET`` the plain Cyclone default (plus
``ROS_STATIC_PEERS``); with ``LOCALHOST`` the loopback-only fragment of rmw_node.cpp:1083-1240
(:data:`LOCALHOST_CONFIG`); ``OFF`` isolates the process. ``CYCLONEDDS_URI`` is appended after that
fragment, as rmw does, so one file can serve both sides.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from ior_ros.runtime.dds_endpoints import (
    RawReader,
    RawWriter,
    delete_entity,
    forget_deleted_entities,
    idl_type,
)
from ior_ros.runtime.errors import DdsError
from ior_ros.runtime.graph import (
    DISCOVERY_TOPIC,
    DISCOVERY_TYPE,
    DISCOVERY_WRITER_QOS,
    DiscoveryGraph,
    GraphSnapshot,
)
from ior_ros.runtime.names import ros_topic_to_dds
from ior_ros.runtime.qos import QoSProfile
from ior_ros.runtime.registry import registry
from ior_ros.runtime.type_names import dds_type_name

__all__ = ['DdsContext', 'LOCALHOST_CONFIG', 'discovery_config', 'domain_id_from_env',
           'keep_large_buffers']

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


_DOMAIN_LOCK = threading.RLock()

STATUS_PERIOD_S = 0.2
"""How often the executor reads the endpoints' incompatible-QoS statuses [s] (DdsContext.
check_statuses): rclpy reports the event when its executor runs it; a fifth of a second later
changes nothing for a warning that a match was refused."""
_DOMAINS: dict[int, Any] = {}  # domain id → the cyclonedds Domain holding its configuration


def delete_domains_at_exit() -> None:
    """
    Delete the process's DDS domains that no participant uses any more (every node's, once its
    context has shut down), registered with :mod:`atexit`: this runs before the interpreter
    finalizes, while Cyclone's threads can still take the GIL. Left to the garbage collector, the
    domain's ``dds_delete`` happens during finalization; freeing a cyclonedds-python topic type
    then calls into Python from a Cyclone thread, CPython ends that thread as it asks for the GIL,
    and ``dds_delete`` waits for it forever (nodes were seen hanging at exit with
    ``Entity.__del__`` as their only stack). A domain with a live participant (a context never
    closed, a thread still spinning on it) is left as it was.
    """
    try:
        from cyclonedds.core import Entity
        from cyclonedds.domain import DomainParticipant
    except ImportError:  # pragma: no cover - the DDS backend is not installed
        return
    forget_deleted_entities()
    in_use = set()
    for entity in list(Entity._entities.values()):
        if isinstance(entity, DomainParticipant):
            try:
                in_use.add(int(entity.domain_id))  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001, S112  (deleted meanwhile)
                continue
    with _DOMAIN_LOCK:
        idle = [(i, d) for i, d in _DOMAINS.items() if i not in in_use]
        for domain_id, _domain in idle:
            del _DOMAINS[domain_id]
    for _domain_id, domain in idle:
        delete_entity(domain)
    forget_deleted_entities()


atexit.register(delete_domains_at_exit)


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
            with _DOMAIN_LOCK:
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
                                      DISCOVERY_WRITER_QOS)
        self._graph: DiscoveryGraph | None = None
        self.events: deque[Callable[[], None]] = deque()  # see post()
        self._tool: tuple[str, str] | None = None
        self._tool_endpoints: tuple[list[bytes], list[bytes]] = ([], [])
        self._status_checks: list[Any] = []  # see watch_status()
        self._next_status_check_ns = 0
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
        """Hand ``callback`` to the executor (thread-safe: from any thread)."""
        self.events.append(callback)
        self.wake()

    def watch_status(self, check: Any) -> None:
        """Poll ``check.check()`` (an endpoint's status event) from :meth:`check_statuses`; it is
        dropped when it returns False (its endpoint is gone)."""
        with self._lock:
            self._status_checks.append(check)

    def check_statuses(self, now_ns: int | None = None) -> None:
        """Read the watched endpoint statuses (incompatible QoS), at most every
        STATUS_PERIOD_S; the executor calls this from its thread on every wake-up."""
        now = time.monotonic_ns() if now_ns is None else now_ns
        if now < self._next_status_check_ns or not self._status_checks:
            return
        self._next_status_check_ns = now + int(STATUS_PERIOD_S * 1e9)
        with self._lock:
            checks = list(self._status_checks)
        gone = [check for check in checks if not check.check()]
        if gone:
            with self._lock:
                self._status_checks = [c for c in self._status_checks if c not in gone]

    def create_writer(self, topic: str, typename: str, qos: QoSProfile,
                      user_data_prefix: str = '',
                      on_incompatible_qos: Callable[[str], None] | None = None) -> RawWriter:
        """A raw writer on ROS topic ``topic`` (absolute name) or raw DDS topic (no ``/``);
        ``on_incompatible_qos(policy)`` is called (from :meth:`check_statuses`, in the
        executor's thread) after a reader with an incompatible QoS was found."""
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
                self._graph = DiscoveryGraph(self)
        return self._graph.refresh()

    def close(self) -> None:
        """Delete the participant (and everything in it)."""
        if self.closed:
            return
        self.closed = True
        self.wake()
        if self._graph is not None:
            self._graph.close()
        delete_entity(self.participant)
        forget_deleted_entities()
