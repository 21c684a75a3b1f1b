"""
An in-process world for experiments: the node classes of :mod:`ior_ros.nodes` (unchanged), all in
one process, with no DDS, on a virtual clock, deterministic from a seed and as fast as the CPU
allows (the in-process executor of issue 12).

::

    with InprocWorld(seed=1) as world:
        world.add(TeleopOperator, remaps={'cmd': '/teleop/cmd'})
        world.add(RobotController, parameters={'command_timeout_s': 0.3})
        states = world.tap('/robot/state', RobotState)
        world.run(20.0)

How it works. Each node is built by calling its class inside :func:`~ior_ros.runtime.context.
use_context` (a context of its own: its ``--ros-args`` are the ``name``, ``namespace``,
``parameters`` and ``remaps`` given to :meth:`InprocWorld.add`, exactly what ``ros2 launch``
passes, so they reach ``Node.__init__`` through the same parameter-override and remap rules) and
:func:`~ior_ros.runtime.clock.virtual_time` (every clock it creates — its ROS clock, a system or
steady clock for a timer — reads the world's time). The context's transport is the world's bus
instead of a DDS participant; the nodes' publishers and subscriptions are the runtime's own
(:mod:`~ior_ros.runtime.publisher`, :mod:`~ior_ros.runtime.subscription`).

Semantics (docs/models/runtime.md, "In-process world"):

* **Time** stands still while callbacks run and jumps to the next timer's call time between
  them. Timers fire in call-time order, ties broken by creation order (timer creation index).
  A ROS clock with ``use_sim_time`` reads ``/clock`` as on DDS (zero until a node of the world
  publishes it); its timers fire at the instant a ``/clock`` sample moves their time past their
  call time. The armed timers wait in a heap keyed (call time, creation index); a node's timers
  are read again after each of its callbacks (a timer callback, a sample, a service call: where
  a node re-arms, cancels or creates its timers, and where its ``/clock`` moves), all of them at
  the start of :meth:`InprocWorld.run`, after a node is added or a timer created, and after a
  posted callback. (A callback that re-arms a timer of *another* node reaches the heap at that
  node's next callback: nodes share nothing on DDS, and the shipped nodes never do it.)
* **Topics**: a publish reaches every subscription of the world with the same resolved topic
  name (after remaps) and type and a compatible QoS (a reliable reader and a best-effort writer,
  or a transient-local reader and a volatile writer, do not match: both sides log rclpy's
  incompatible-QoS warning). Each subscription holds a keep-last queue of its QoS depth (keep all:
  unbounded); callbacks run after the current callback returns, at the same virtual instant, in
  the order of publication (FIFO over the whole world). Samples travel serialized, as on DDS:
  raw subscriptions get the CDR bytes, others a decoded copy (publishing bytes delivers decoded
  messages), so no two nodes share a message object. A message nobody reads is not serialized.
  Transient-local writers keep their last ``depth`` samples for transient-local readers that
  come later.
* **Services** work the same way (requests and replies are topics); a blocking ``Client.call``
  would wait forever (time does not move inside a callback): use ``call_async``.
* **Off or trivial**: discovery (the graph is the world's nodes and endpoints), ``/rosout``
  (published, read by nobody unless subscribed), the shared-name check (two nodes of one fully
  qualified name are refused at :meth:`InprocWorld.add`).
* **Seed**: the k-th node added (k = 0, 1, ...) gets the parameter override ``seed`` =
  ``SeedSequence([world seed, k])`` (below 2^31), unless ``parameters`` sets ``seed``; a node that
  does not declare ``seed`` ignores it. The same seed and the same calls give the same samples,
  byte for byte (test/runtime/test_inproc.py).

Only the DDS runtime's ``Node`` can live in a world: with the rclpy backend the node classes
derive from rclpy's ``Node`` and :meth:`InprocWorld.add` refuses them (creating the world before
importing the node modules selects the DDS runtime, as ``IOR_ROS_BACKEND=dds`` does).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any, NamedTuple

import numpy as np

from ior_ros.core.errors import IorError
from ior_ros.core.progress import ProgressFn
from ior_ros.runtime.clock import ROSClock, virtual_time
from ior_ros.runtime.context import Context, ExternalShutdownException, use_context
from ior_ros.runtime.graph import EndpointInfo, GraphSnapshot
from ior_ros.runtime.names import RemapRule, ros_topic_to_dds
from ior_ros.runtime.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
)
from ior_ros.runtime.registry import message_typename, registry
from ior_ros.runtime.ros_args import RosArgs
from ior_ros.runtime.type_names import dds_type_name

__all__ = ['InprocWorld', 'InprocError', 'MAX_CALLBACKS_PER_INSTANT']

#: callbacks at one virtual instant beyond which the world stops with an error: nodes that answer
#: each other's samples at once without end (time would never move on)
MAX_CALLBACKS_PER_INSTANT = 1_000_000

_PROGRESS_EVERY_NS = 100_000_000  # progress is reported in virtual milliseconds, every 100 ms


class InprocError(IorError):
    """A misuse of the in-process world (one line: what, the value, what is allowed)."""


class _SampleInfo(NamedTuple):
    """What a subscription's MessageInfo reads from a sample (DDS SampleInfo's fields)."""

    source_timestamp: int
    publication_handle: int


_Sample = tuple[bytes, _SampleInfo]


def _reliable(qos: QoSProfile) -> bool:
    return qos.reliability != ReliabilityPolicy.BEST_EFFORT  # SYSTEM_DEFAULT is RELIABLE (rmw)


def _transient(qos: QoSProfile) -> bool:
    return qos.durability == DurabilityPolicy.TRANSIENT_LOCAL


def _incompatible(writer: QoSProfile, reader: QoSProfile) -> str | None:
    """The rmw name of the policy that keeps a writer and a reader apart (DDS RxO), or None."""
    if _reliable(reader) and not _reliable(writer):
        return 'RELIABILITY'
    if _transient(reader) and not _transient(writer):
        return 'DURABILITY'
    return None


def _queue(qos: QoSProfile) -> deque[_Sample]:
    if qos.history == HistoryPolicy.KEEP_ALL:
        return deque()
    return deque(maxlen=max(1, qos.depth))


class _Endpoint:
    def __init__(self, bus: _Bus, topic: str, typename: str, qos: QoSProfile,
                 on_incompatible_qos: Callable[[str], None] | None) -> None:
        self.bus = bus
        self.topic = topic
        self.typename = typename
        self.qos = qos
        self.on_incompatible_qos = on_incompatible_qos
        self.gid = bus.gid[:12] + next(bus.endpoint_ids).to_bytes(4, 'big')  # per world: the
        # handles a MessageInfo shows are the same in every run
        self.handle = int.from_bytes(self.gid[-4:], 'big')
        self.closed = False

    def info(self, is_writer: bool) -> EndpointInfo:
        dds_topic = ros_topic_to_dds(self.topic) if self.topic.startswith('/') else self.topic
        return EndpointInfo(self.gid, self.bus.gid, dds_topic, dds_type_name(self.typename),
                            self.qos, b'', is_writer)


class _Reader(_Endpoint):
    """A subscription's (or a service's) end: a keep-last queue the world drains FIFO."""

    def __init__(self, bus: _Bus, topic: str, typename: str, qos: QoSProfile,
                 on_incompatible_qos: Callable[[str], None] | None) -> None:
        super().__init__(bus, topic, typename, qos, on_incompatible_qos)
        self.queue = _queue(qos)
        self.handler: Callable[[bytes, _SampleInfo], None] | None = None
        self.owner: Any = None  # the node whose callback the handler runs (set with it)
        self.reader = self  # Subscription hands ``reader.reader`` to its drop report

    def take(self) -> list[_Sample]:
        """Every waiting sample (what services and clients collect)."""
        out = list(self.queue)
        self.queue.clear()
        return out

    def matched_count(self) -> int:
        return sum(1 for w in self.bus.writers_of(self.topic, self.typename)
                   if _incompatible(w.qos, self.qos) is None)

    def close(self) -> None:
        self.closed = True
        self.queue.clear()
        self.bus.remove(self)


class _Writer(_Endpoint):
    """A publisher's end: hands each sample to the matched readers and the taps."""

    def __init__(self, bus: _Bus, topic: str, typename: str, qos: QoSProfile,
                 on_incompatible_qos: Callable[[str], None] | None) -> None:
        super().__init__(bus, topic, typename, qos, on_incompatible_qos)
        self.history: deque[bytes] | None = None  # transient local: the last depth samples
        if _transient(qos):
            self.history = deque(maxlen=None if qos.history == HistoryPolicy.KEEP_ALL
                                 else max(1, qos.depth))
        self._matched: tuple[int, list[_Reader]] = (-1, [])

    def readers(self) -> list[_Reader]:
        """The matched readers, in creation order (cached until an endpoint comes or goes)."""
        version, readers = self._matched
        if version != self.bus.version:
            readers = [r for r in self.bus.readers_of(self.topic, self.typename)
                       if _incompatible(self.qos, r.qos) is None]
            self._matched = (self.bus.version, readers)
        return readers

    def read_by_anyone(self) -> bool:
        """Whether a sample written now would be read (Publisher skips serializing otherwise)."""
        return bool(self.readers()) or self.history is not None or \
            self.topic in self.bus.taps

    def write(self, data: bytes | bytearray | memoryview) -> None:
        sample = bytes(data)
        bus = self.bus
        if self.history is not None:
            self.history.append(sample)
        taps = bus.taps.get(self.topic)
        if taps:
            for tap in taps:
                tap.add(sample, self.typename)
        version, readers = self._matched
        if version != bus.version:
            readers = self.readers()
        if readers:
            info = _SampleInfo(bus.world._now, self.handle)
            fifo = bus.world.fifo
            for reader in readers:
                reader.queue.append((sample, info))
                fifo.append(reader)

    def matched_count(self) -> int:
        return len(self.readers())

    def wait_for_acks(self, _timeout_s: float) -> bool:
        return True  # delivery is immediate: nothing is ever unacknowledged

    def close(self) -> None:
        self.closed = True
        self.bus.remove(self)


class _Tap:
    """Collects every sample published on one topic (decoded, or bytes with ``raw``)."""

    def __init__(self, typename: str, raw: bool) -> None:
        self.typename = typename
        self.raw = raw
        self.samples: list[Any] = []

    def add(self, data: bytes, typename: str) -> None:
        if typename != self.typename:
            return
        self.samples.append(data if self.raw else registry().decode(data, typename))


class _Bus:
    """What a node's context hands out instead of a DDS participant (DdsContext's interface)."""

    in_process = True  # Node: no shared-name check thread

    def __init__(self, world: InprocWorld) -> None:
        self.world = world
        self.gid = b'\x01\x0fIOR-INPROC' + bytes(4)
        self.version = 0  # bumped whenever an endpoint comes or goes
        self.endpoint_ids = itertools.count(1)
        self._writers: dict[str, list[_Writer]] = {}
        self._readers: dict[str, list[_Reader]] = {}
        self.taps: dict[str, list[_Tap]] = {}
        self.events = world.fifo  # post()'s hand-over, as DdsContext.events

    # endpoints
    def create_writer(self, topic: str, typename: str, qos: QoSProfile, *,
                      on_incompatible_qos: Callable[[str], None] | None = None,
                      user_data_prefix: str | None = None) -> _Writer:
        writer = _Writer(self, topic, typename, qos, on_incompatible_qos)
        self._writers.setdefault(topic, []).append(writer)
        self.version += 1
        for reader in self.readers_of(topic, typename):
            self._match(writer, reader)
        return writer

    def create_reader(self, topic: str, typename: str, qos: QoSProfile, *,
                      on_incompatible_qos: Callable[[str], None] | None = None,
                      user_data_prefix: str | None = None) -> _Reader:
        reader = _Reader(self, topic, typename, qos, on_incompatible_qos)
        self._readers.setdefault(topic, []).append(reader)
        self.version += 1
        for writer in self.writers_of(topic, typename):
            self._match(writer, reader)
        return reader

    def _match(self, writer: _Writer, reader: _Reader) -> None:
        policy = _incompatible(writer.qos, reader.qos)
        if policy is not None:
            for endpoint in (writer, reader):
                if endpoint.on_incompatible_qos is not None:
                    endpoint.on_incompatible_qos(policy)
            return
        if writer.history and _transient(reader.qos):  # a late joiner gets the kept samples
            info = _SampleInfo(self.world.now_ns, writer.handle)
            for sample in writer.history:
                reader.queue.append((sample, info))
                self.world.fifo.append(reader)

    def writers_of(self, topic: str, typename: str) -> list[_Writer]:
        return [w for w in self._writers.get(topic, ()) if w.typename == typename]

    def readers_of(self, topic: str, typename: str) -> list[_Reader]:
        return [r for r in self._readers.get(topic, ()) if r.typename == typename]

    def remove(self, endpoint: _Endpoint) -> None:
        table: Mapping[str, list[Any]] = (self._writers if isinstance(endpoint, _Writer)
                                          else self._readers)
        found = table.get(endpoint.topic, [])
        if endpoint in found:
            found.remove(endpoint)
            self.version += 1

    # what nodes call on their DdsContext
    def post(self, callback: Callable[[], None]) -> None:
        self.world.fifo.append(callback)

    def add_node(self, node: Any) -> None:
        """Nothing to announce: the world lists its nodes itself."""

    def remove_node(self, node: Any) -> None:
        """Nothing to announce."""

    def publish_graph(self) -> None:
        """Nothing to announce."""

    def check_statuses(self, now_ns: int | None = None) -> None:
        """Nothing to poll: an incompatible match is reported when the endpoints are made."""

    def wake(self) -> None:
        """Nobody waits: the world runs callbacks as they come. (Node.create_timer calls it:
        the world reads its timers again.)"""
        self.world._rescan_all = True

    def wait(self, timeout_ns: int) -> None:
        raise InprocError('an executor cannot spin a node of an in-process world: call '
                          'InprocWorld.run(until_s)')

    def graph(self) -> GraphSnapshot:
        """The world's nodes and endpoints, as discovery would list them."""
        endpoints = [w.info(True) for ws in self._writers.values() for w in ws]
        endpoints += [r.info(False) for rs in self._readers.values() for r in rs]
        nodes = [node.graph_entry() for node in self.world.nodes]
        return GraphSnapshot(endpoints=endpoints, participants={self.gid: b'enclave=/;'},
                             nodes={self.gid: nodes})

    def close(self) -> None:
        """Nothing to release."""


class _WorldContext(Context):
    """One node's context in a world: its ``--ros-args`` and the world's bus."""

    def __init__(self, world: InprocWorld, ros_args: RosArgs) -> None:
        super().__init__()
        self._world = world
        self.ros_args = ros_args
        self._initialized = True

    @property
    def dds(self) -> Any:
        if self._world.closed:
            raise ExternalShutdownException('the in-process world is closed')
        return self._world.bus

    def has_dds(self) -> bool:
        return not self._world.closed

    def ok(self) -> bool:
        return not self._world.closed


def _seed_for(world_seed: int, index: int) -> int:
    return int(np.random.SeedSequence([world_seed, index]).generate_state(1)[0]) % 2**31


def _check_value(node: str, name: str, value: Any) -> Any:
    scalar = (bool, int, float, str)
    if isinstance(value, scalar):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, scalar) for v in value):
        return list(value)
    raise InprocError(f'parameter {name!r} of node {node}: {value!r} is not a parameter value '
                      '(allowed: bool, int, float, str, or a list of one of them)')


class InprocWorld:
    """
    Nodes in one process on a virtual clock (module docstring). A context manager; the time
    starts at ``start_s`` (virtual seconds).
    """

    def __init__(self, seed: int = 0, *, start_s: float = 0.0) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InprocError(f'seed {seed!r}: allowed an integer >= 0')
        if not (math.isfinite(start_s) and start_s >= 0):
            raise InprocError(f'start_s {start_s!r}: allowed a finite number of seconds >= 0')
        _prefer_dds_runtime()
        self.seed = seed
        self._now = int(round(start_s * 1e9))
        self.fifo: deque[Any] = deque()  # _Reader (deliver one sample) or a posted callable
        self.bus = _Bus(self)
        self.nodes: list[Any] = []
        self.closed = False
        self._read_now = self._now_ns  # one bound method: the clocks' source, compared by identity
        self._callbacks_now = 0
        # armed timers: (call time, creation index, serial, timer, node); the newest entry of a
        # timer is _queued[timer] = (serial, call time), older ones are dropped when they surface
        self._heap: list[tuple[int, int, int, Any, Any]] = []
        self._queued: dict[Any, tuple[int, int]] = {}
        self._serials = itertools.count()
        self._dirty: dict[Any, None] = {}  # nodes whose timers are read again (insertion order)
        self._rescan_all = True

    # ------------------------------------------------------------------ time
    def _now_ns(self) -> int:
        return self._now

    @property
    def now_ns(self) -> int:
        """The virtual time [ns]."""
        return self._now

    @property
    def now_s(self) -> float:
        """The virtual time [s]."""
        return self._now * 1e-9

    @contextmanager
    def _inside(self, context: Context | None = None) -> Iterator[None]:
        with ExitStack() as stack:
            stack.enter_context(virtual_time(self._read_now))
            if context is not None:
                stack.enter_context(use_context(context))
            yield

    # ------------------------------------------------------------------ nodes
    def add(self, node_class: Callable[[], Any], name: str | None = None,
            parameters: Mapping[str, Any] | None = None,
            remaps: Mapping[str, str] | None = None, *, namespace: str | None = None) -> Any:
        """
        Build a node of ``node_class`` (called without arguments, as its ``main`` does) with the
        node name ``name``, ``namespace``, parameter overrides and topic remaps (``{'cmd':
        '/robot/cmd'}``) that a launch file would give it; returns the node.
        """
        self._check_open()
        from ior_ros.runtime.node import Node as DdsNode

        label = str(name or getattr(node_class, '__name__', repr(node_class)))
        if isinstance(node_class, type) and not issubclass(node_class, DdsNode):
            raise InprocError(f"node class {label}: derives from another runtime's Node "
                              '(rclpy?); an in-process world needs the DDS runtime '
                              '(IOR_ROS_BACKEND=dds, or create the world before importing the '
                              'node modules)')
        rules: list[RemapRule] = []
        if name is not None:
            rules.append(RemapRule('__node', str(name)))
        if namespace is not None:
            rules.append(RemapRule('__ns', str(namespace)))
        for source, target in (remaps or {}).items():
            if not isinstance(source, str) or not isinstance(target, str) or not source \
                    or not target:
                raise InprocError(f'remap {source!r} -> {target!r} of node {label}: allowed two '
                                  'non-empty topic names')
            rules.append(RemapRule(source, target))
        values = dict(parameters or {})
        params: list[tuple[str | None, str, Any]] = []
        if 'seed' not in values:
            params.append((None, 'seed', _seed_for(self.seed, len(self.nodes))))
        params += [(None, str(k), _check_value(label, str(k), v)) for k, v in values.items()]
        context = _WorldContext(self, RosArgs(remaps=rules, params=params))
        with self._inside(context):
            try:
                node = node_class()  # type: ignore[call-arg]  # a node class or a factory
            except BaseException:
                context.try_shutdown()  # the endpoints a half-built node made leave the bus
                raise
        if not isinstance(node, DdsNode):
            raise InprocError(f'{label}() returned {type(node).__name__}, not a node of the DDS '
                              'runtime')
        fqn = node.get_fully_qualified_name()
        if any(other.get_fully_qualified_name() == fqn for other in self.nodes):
            node.destroy_node()
            raise InprocError(f'node name {fqn}: the world already has a node of that name '
                              '(give name= or namespace=)')
        self.nodes.append(node)
        self._rescan_all = True
        return node

    def tap(self, topic: str, msg_type: Any, *, raw: bool = False) -> list[Any]:
        """
        A list that receives every sample published on ``topic`` (a resolved name: ``/a/b``)
        from now on, decoded (a copy) or, with ``raw``, as CDR bytes; regardless of QoS.
        """
        self._check_open()
        if not isinstance(topic, str) or not topic.startswith('/'):
            raise InprocError(f'tap topic {topic!r}: allowed a fully qualified name (/a/b)')
        tap = _Tap(message_typename(msg_type), raw)
        self.bus.taps.setdefault(topic, []).append(tap)
        self.bus.version += 1
        return tap.samples

    # ------------------------------------------------------------------ running
    def run(self, until_s: float, progress: ProgressFn | None = None) -> None:
        """
        Run every callback due up to the virtual time ``until_s`` [s] (inclusive), then set the
        time to it. ``progress`` is called with the virtual milliseconds advanced since its
        previous call (every 100 virtual ms, and at the end).
        """
        self._check_open()
        if not isinstance(until_s, (int, float)) or not math.isfinite(until_s):
            raise InprocError(f'until_s {until_s!r}: allowed a finite number of seconds')
        end = int(round(until_s * 1e9))
        if end < self._now:
            raise InprocError(f'until_s {until_s!r}: the world is already at {self.now_s:.9g} s '
                              '(time only moves forward)')
        reported = self._now
        self._rescan_all = True  # timers may have been touched between runs
        with self._inside():
            self._drain()
            while True:
                timer, node, due = self._next_timer()
                if timer is None or due > end:
                    break
                heapq.heappop(self._heap)  # the entry of ``timer``: it runs now
                del self._queued[timer]
                self._dirty[node] = None  # its next call time, and whatever its callback did
                if due > self._now:
                    self._now = due
                    self._callbacks_now = 0
                if timer._take_call():
                    self._count()
                    timer.callback()
                self._drain()
                if progress is not None and self._now - reported >= _PROGRESS_EVERY_NS:
                    done = (self._now - reported) // 1_000_000
                    progress(int(done))
                    reported += done * 1_000_000
            if end > self._now:
                self._now = end
                self._callbacks_now = 0
        if progress is not None and self._now > reported:
            progress(int((self._now - reported) // 1_000_000))

    def _count(self) -> None:
        self._callbacks_now += 1
        if self._callbacks_now > MAX_CALLBACKS_PER_INSTANT:
            raise InprocError(f'more than {MAX_CALLBACKS_PER_INSTANT} callbacks at virtual time '
                              f'{self.now_s:.9g} s: nodes answer each other without end')

    def _drain(self) -> None:
        """Run the queued deliveries (and posted callbacks) FIFO until none is left."""
        fifo = self.fifo
        dirty = self._dirty
        while fifo:
            item = fifo.popleft()
            self._callbacks_now += 1
            if self._callbacks_now > MAX_CALLBACKS_PER_INSTANT:
                self._count()  # raises
            if type(item) is _Reader:
                if item.closed or not item.queue:
                    self._callbacks_now -= 1
                    continue  # closed, or the keep-last queue dropped this token's sample
                handler = item.handler or self._handler_of(item)
                data, info = item.queue.popleft()
                handler(data, info)
                if item.owner is not None:
                    dirty[item.owner] = None
            else:
                item()
                self._rescan_all = True  # a posted callback may belong to any node

    def _handler_of(self, reader: _Reader) -> Callable[[bytes, _SampleInfo], None]:
        """What runs a sample of ``reader``: its subscription's callback (or a service's)."""
        for node in self.nodes:
            for sub in node._subscriptions:
                if sub._reader is reader:
                    def deliver(data: bytes, info: _SampleInfo, sub: Any = sub) -> None:
                        sub._make_call(data, info)()
                    reader.handler = deliver
                    reader.owner = node
                    return deliver
            for owner in (*node._services, *node._clients):
                if getattr(owner, '_reader', None) is reader:
                    def collect(data: bytes, info: _SampleInfo, owner: Any = owner) -> None:
                        reader.queue.appendleft((data, info))
                        calls: deque[Callable[[], None]] = deque()
                        owner._collect(calls)
                        for call in calls:
                            call()
                    reader.handler = collect
                    reader.owner = node
                    return collect

        def drop(data: bytes, info: _SampleInfo) -> None:
            """A reader without a live owner (its node is being destroyed)."""
        return drop

    def _call_time(self, timer: Any, node: Any) -> int | None:
        """The virtual time [ns] ``timer`` fires next, None when it is not armed (canceled, no
        callback, its node destroyed, or on ``/clock`` and not ready)."""
        if node._destroyed or timer._destroyed or timer.callback is None or timer._canceled:
            return None
        clock = timer._clock
        now = self._now
        if isinstance(clock, ROSClock) and clock.ros_time_is_active:
            return now if timer.is_ready() else None  # else it waits for /clock
        if clock._source is not self._read_now:
            raise InprocError(f'a timer of node {node.get_fully_qualified_name()} runs on a '
                              'clock made outside the world; create clocks in the node')
        if timer._sim:  # it was on /clock until now: let it restart (Timer._sync)
            return now + max(0, timer.time_until_next_call() or 0)
        call: int = timer._next_call_ns
        return call if call > now else now

    def _rescan(self, node: Any) -> None:
        """Read ``node``'s timers again: queue an entry for each whose call time changed."""
        queued = self._queued
        now = self._now
        for timer in node._timers:
            clock = timer._clock
            if (clock._source is self._read_now and not timer._sim and not node._destroyed
                    and not (timer._destroyed or timer._canceled or timer.callback is None)
                    and not (isinstance(clock, ROSClock) and clock.ros_time_is_active)):
                next_call: int = timer._next_call_ns  # the common case, read directly
                call: int | None = next_call if next_call > now else now
            else:
                call = self._call_time(timer, node)
            entry = queued.get(timer)
            if call is None:
                if entry is not None:
                    del queued[timer]  # its entry is dropped when it surfaces
            elif entry is None or entry[1] != call:
                serial = next(self._serials)
                queued[timer] = (serial, call)
                heapq.heappush(self._heap, (call, timer.creation_index, serial, timer, node))

    def _next_timer(self) -> tuple[Any, Any, int]:
        """The timer to run next, its node and its virtual call time (None when no timer is
        armed); its entry is left on top of the heap."""
        if self._rescan_all:
            self._rescan_all = False
            self._dirty.clear()
            for node in self.nodes:
                self._rescan(node)
        elif self._dirty:
            dirty = list(self._dirty)
            self._dirty.clear()
            for node in dirty:
                self._rescan(node)
        heap, queued = self._heap, self._queued
        while heap:
            call, _, serial, timer, node = heap[0]
            entry = queued.get(timer)
            if entry is not None and entry[0] == serial:
                now_call = self._call_time(timer, node)
                if now_call == call:
                    return timer, node, call
                heapq.heappop(heap)  # changed since it was queued (by another node's callback)
                del queued[timer]
                if now_call is not None:
                    serial = next(self._serials)
                    queued[timer] = (serial, now_call)
                    heapq.heappush(heap, (now_call, timer.creation_index, serial, timer, node))
                continue
            heapq.heappop(heap)  # superseded by a newer entry, or no longer armed
        return None, None, 0

    # ------------------------------------------------------------------ lifetime
    def _check_open(self) -> None:
        if self.closed:
            raise InprocError('the in-process world is closed')

    def close(self) -> None:
        """Destroy every node (last added first)."""
        if self.closed:
            return
        with self._inside():
            for node in reversed(self.nodes):
                node.destroy_node()
        self.fifo.clear()
        self.closed = True

    def __enter__(self) -> InprocWorld:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _prefer_dds_runtime() -> None:
    """Select the DDS runtime when nothing has resolved ``ior_ros.runtime`` names yet."""
    import ior_ros.runtime as runtime
    from ior_ros.runtime import backend

    if not runtime._CACHE and backend._CHOICE[0] is None:  # noqa: SLF001
        backend.select_backend('dds')
