"""
``Node`` with rclpy's interface for the subset the ior_ros nodes use, on the DDS transport.

Supported (names and semantics as rclpy.node.Node, Jazzy): construction with ``namespace``,
``cli_args``, ``parameter_overrides``, ``use_global_arguments``, ``enable_rosout``,
``allow_undeclared_parameters`` and ``automatically_declare_parameters_from_overrides``;
``create_publisher``/``create_subscription`` (message class, topic, QoS profile or depth;
``raw=True`` subscriptions get the CDR bytes), ``create_timer`` (on the node's ROS clock, so timers
follow ``/clock`` when ``use_sim_time`` is true), parameters (``declare_parameter(s)``,
``get_parameter(s)``, ``get_parameter_or``, ``has_parameter``, ``set_parameters``,
``undeclare_parameter``, ``describe_parameter(s)``, ``add_on_set_parameters_callback``),
``get_logger``, ``get_clock``, ``get_name``/``get_namespace``/``get_fully_qualified_name``, graph
queries (``get_node_names``, ``get_node_names_and_namespaces``, ``get_topic_names_and_types``,
``count_publishers``, ``count_subscribers``, ``get_service_names_and_types`` and the ``_by_node``
variants, ``count_services``, ``count_clients``), services (``create_service``/``create_client``),
``destroy_publisher``/``destroy_subscription``/``destroy_timer``/``destroy_service``/
``destroy_client`` and ``destroy_node``.

Every node publishes ``/rosout`` (its log records) and ``/parameter_events``, serves rclpy's six
parameter services (``start_parameter_services=False`` turns them off) and
``~/get_type_description`` (read-only parameter ``start_type_description_service``, default
true), and is listed in ``ros_discovery_info`` so ``ros2 node list`` and ``ros2 node info`` show
it. Like rcl, a node keeps a count of the types its publishers, subscriptions, services and
clients use: ``~/get_type_description`` answers for those. A node that finds another node of its
fully qualified name in the graph during its first seconds logs one warning (ROS 2 itself only
warns in ``ros2 node list``): two nodes of one name both answer the services addressed to it, so
one ``ros2 param set`` changes both. Parameters with descriptors (ranges, read-only):
:mod:`~ior_ros.runtime.node_parameters`. Not provided: actions, callback groups
(accepted, ignored: everything runs in the executor's thread), lifecycle nodes, guard conditions.

The node's parts have a file each, as in rclpy: :mod:`~ior_ros.runtime.publisher`,
:mod:`~ior_ros.runtime.subscription`, :mod:`~ior_ros.runtime.timer`, the parameter methods
:mod:`~ior_ros.runtime.node_parameters`, services :mod:`~ior_ros.runtime.service`,
:mod:`~ior_ros.runtime.client`, :mod:`~ior_ros.runtime.parameter_service` and
:mod:`~ior_ros.runtime.type_description_service`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from ior_ros.runtime.clock import Clock, ClockType, Duration, ROSClock, Time
from ior_ros.runtime.context import Context, get_default_context
from ior_ros.runtime.errors import RosInputError
from ior_ros.runtime.graph import SHARED_NAME_WARNING
from ior_ros.runtime.message_classes import RosMessage
from ior_ros.runtime.names import (
    fully_qualified_node_name,
    normalize_namespace,
    remap_topic_name,
    validate_node_name,
)
from ior_ros.runtime.node_parameters import NodeParameters
from ior_ros.runtime.parameters import (
    Parameter,
    ParameterDescriptor,
    ParameterType,
    SetParametersResult,
)
from ior_ros.runtime.publisher import Publisher
from ior_ros.runtime.qos import (
    QoSProfile,
    as_profile,
    qos_profile_clock,
    qos_profile_parameter_events,
    qos_profile_rosout_default,
    qos_profile_services_default,
)
from ior_ros.runtime.registry import get_message, registry
from ior_ros.runtime.ros_args import parse_ros_args
from ior_ros.runtime.ros_logging import LoggingSeverity, RcutilsLogger
from ior_ros.runtime.subscription import MessageInfo, Subscription
from ior_ros.runtime.timer import Timer
from ior_ros.runtime.type_names import typename_of

__all__ = ['Node', 'NodeNameNonExistentError', 'SHARED_NAME_CHECKS_S']

#: seconds after its creation at which a node looks for another node of its name in the graph
#: (discovery on one host takes 0.1 to 1 s; a loaded machine more). The look-ups run in the
#: node's executor, so creating a node does not wait for discovery.
SHARED_NAME_CHECKS_S = (0.3, 1.0, 2.0, 4.0)


class NodeNameNonExistentError(RosInputError):
    """A graph query named a node that discovery does not know (rclpy's exception of the same
    name)."""


class _Rosout:
    """Publishes a node's log records on /rosout (rcl_interfaces/Log)."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._cls = get_message('rcl_interfaces/msg/Log')
        self._time_cls = get_message('builtin_interfaces/msg/Time')
        self.publisher: Publisher | None = None

    def __call__(self, severity: LoggingSeverity, name: str, message: str, stamp_ns: int,
                 file: str, function: str, line: int) -> None:
        if self.publisher is None or self._node._destroyed:
            return
        sec, nsec = divmod(stamp_ns, 1_000_000_000)
        self.publisher.publish(self._cls(
            stamp=self._time_cls(sec=sec, nanosec=nsec), level=int(severity), name=name,
            msg=message, file=file, function=function, line=int(line)))


class Node(NodeParameters):
    """A ROS 2 node on the DDS runtime (see the module docstring for what is supported)."""

    def __init__(self, node_name: str, *, context: Context | None = None,
                 cli_args: list[str] | None = None, namespace: str | None = None,
                 use_global_arguments: bool = True, enable_rosout: bool = True,
                 start_parameter_services: bool = True,
                 parameter_overrides: list[Parameter] | None = None,
                 allow_undeclared_parameters: bool = False,
                 automatically_declare_parameters_from_overrides: bool = False,
                 **_ignored: Any) -> None:
        self.context = context or get_default_context()
        if not self.context.ok():
            raise RuntimeError('call ior_ros.runtime.init() (rclpy.init) before creating a node')
        self._destroyed = False
        self._name_warned = False
        self._name_checked = threading.Event()  # set: warned, destroyed, or the checks are over
        original = validate_node_name(node_name)
        ros_args = [parse_ros_args(['--ros-args', *_strip_prefix(cli_args)])] if cli_args else []
        if use_global_arguments:
            ros_args.insert(0, self.context.ros_args)
        name, ns = original, normalize_namespace(namespace)
        for args in ros_args:
            name = args.node_name_override(original) or name
            override_ns = args.namespace_override(original)
            if override_ns is not None:
                ns = normalize_namespace(override_ns)
        self._original_name = original
        self._name = validate_node_name(name)
        self._namespace = ns
        self._remaps = [rule for args in ros_args for rule in args.remaps]
        self._overrides: dict[str, Any] = {}
        for args in ros_args:
            self._overrides.update(args.parameter_overrides(self._name, self._namespace))
        for param in parameter_overrides or []:
            self._overrides[param.name] = param.value
        self._allow_undeclared = allow_undeclared_parameters
        self._parameters: dict[str, Parameter] = {}
        self._descriptors: dict[str, ParameterDescriptor] = {}
        self._set_callbacks: list[Callable[[list[Parameter]], SetParametersResult]] = []
        self._publishers: list[Publisher] = []
        self._subscriptions: list[Subscription] = []
        self._timers: list[Timer] = []
        self._services: list[Any] = []  # service.ServiceServer (parameter services, user ones)
        self._clients: list[Any] = []  # client.Client
        self._type_uses: dict[str, int] = {}  # rcl's node type cache: type → users
        self._clock = ROSClock()
        self._clock_sub: Subscription | None = None
        logger_name = (self._namespace.strip('/').replace('/', '.') + '.' + self._name
                       if self._namespace != '/' else self._name)
        self._logger = RcutilsLogger(logger_name)
        dds = self.context.dds
        self._rosout = _Rosout(self)
        self._param_events: Publisher | None = None
        self.context.track_node(self)
        if enable_rosout:
            self._rosout.publisher = self._make_publisher(
                get_message('rcl_interfaces/msg/Log'), '/rosout', qos_profile_rosout_default)
            self._logger.add_sink(self._rosout)
        self._param_events = self._make_publisher(
            get_message('rcl_interfaces/msg/ParameterEvent'), '/parameter_events',
            qos_profile_parameter_events)
        if start_parameter_services:  # as rclpy: ros2 param list/get/set reach the node
            from ior_ros.runtime.parameter_service import (
                start_parameter_services as _start_services,
            )

            self._services = _start_services(self)
        dds.add_node(self)
        self.declare_parameter('use_sim_time', False)
        if automatically_declare_parameters_from_overrides:
            for pname, value in self._overrides.items():
                if pname not in self._parameters:
                    self.declare_parameter(pname, value)
        self._start_type_description_service()
        if not getattr(dds, 'in_process', False):  # an in-process world refuses a shared name
            threading.Thread(target=self._schedule_name_checks, args=(dds,), daemon=True,
                             name=f'ior-name-check-{self._name}').start()

    # ------------------------------------------------------------------ shared names
    def _schedule_name_checks(self, dds: Any) -> None:
        """Hand :meth:`_check_shared_name` to the executor at each of SHARED_NAME_CHECKS_S
        (DdsContext.post: the graph is read in the executor's thread, never beside a close)."""
        start = time.monotonic()
        for at_s in SHARED_NAME_CHECKS_S:
            if self._name_checked.wait(max(0.0, start + at_s - time.monotonic())):
                return
            dds.post(self._check_shared_name)
        self._name_checked.set()

    def _check_shared_name(self) -> None:
        """Warn once when the graph holds another node of this fully qualified name."""
        if self._destroyed or self._name_warned:
            return
        try:
            names = self.context.dds.graph().node_full_names()
        except Exception:  # noqa: BLE001  (the context is closing: nothing to warn about)
            return
        fqn = self.get_fully_qualified_name()
        if names.count(fqn) > 1:
            self._name_warned = True
            self._name_checked.set()
            self._logger.warning(f'{SHARED_NAME_WARNING} Another node is also named {fqn}: '
                                 'services addressed to it (ros2 param set, say) reach both.')

    def _start_type_description_service(self) -> None:
        """rclpy's TypeDescriptionService: the read-only parameter decides (default true)."""
        from ior_ros.runtime import type_description_service as tds

        param_name = tds.START_TYPE_DESCRIPTION_SERVICE_PARAM
        if param_name not in self._parameters:
            self.declare_parameter(param_name, True, ParameterDescriptor(
                name=param_name, type=int(ParameterType.BOOL),
                description='If enabled, start the ~/get_type_description service.',
                read_only=True))
        param = self._parameters[param_name]
        if param.type_ == ParameterType.BOOL:
            enabled = bool(param.value)
        else:
            enabled = False
            if param.type_ != ParameterType.NOT_SET:
                self._logger.error(f"Invalid type for parameter '{param_name}' "
                                   f'{param.type_!r} should be bool')
        if enabled:
            self._services.append(tds.start_type_description_service(self))
            self.context.dds.publish_graph()

    # ------------------------------------------------------------------ type cache
    def _use_type(self, typename: str) -> None:
        """A publisher, subscription, service or client of ``typename`` was created."""
        self._type_uses[typename] = self._type_uses.get(typename, 0) + 1

    def _unuse_type(self, typename: str) -> None:
        """One user of ``typename`` is gone."""
        left = self._type_uses.get(typename, 0) - 1
        if left > 0:
            self._type_uses[typename] = left
        else:
            self._type_uses.pop(typename, None)

    def _type_in_use(self, digest: bytes) -> str | None:
        """The type in use by this node whose RIHS01 hash is ``digest`` (32 bytes), or None."""
        reg = registry()
        for typename in list(self._type_uses):
            if bytes.fromhex(reg.type_hash(typename)[7:]) == digest:
                return typename
        return None

    # ------------------------------------------------------------------ names
    def get_name(self) -> str:
        """The node's name (after ``__node:=``)."""
        return self._name

    def get_namespace(self) -> str:
        """The node's namespace (after ``__ns:=``)."""
        return self._namespace

    def get_fully_qualified_name(self) -> str:
        """``/ns/name``."""
        return fully_qualified_node_name(self._namespace, self._name)

    def resolve_topic_name(self, topic: str, *, only_expand: bool = False) -> str:
        """Expand (and remap) a topic name the way publishers and subscriptions do."""
        rules = [] if only_expand else self._remaps
        return remap_topic_name(topic, self._name, self._namespace, rules, self._original_name)

    def graph_entry(self) -> tuple[str, str, list[bytes], list[bytes]]:
        """``(namespace, name, reader gids, writer gids)`` for ros_discovery_info."""
        return (self._namespace, self._name,
                [s.gid for s in self._subscriptions] + [v.reader_gid for v in self._services]
                + [c.reader_gid for c in self._clients],
                [p.gid for p in self._publishers] + [v.writer_gid for v in self._services]
                + [c.writer_gid for c in self._clients])

    # ------------------------------------------------------------------ logging and time
    def get_logger(self) -> RcutilsLogger:
        """The node's logger (name ``ns.node``; records also go to /rosout)."""
        return self._logger

    def get_clock(self) -> ROSClock:
        """The node's ROS clock (simulated time when use_sim_time is true)."""
        return self._clock

    # ------------------------------------------------------------------ pub/sub/timers
    def _check_alive(self) -> None:
        if self._destroyed:
            raise RuntimeError(f'node {self.get_fully_qualified_name()} was destroyed')

    def _make_publisher(self, msg_type: Any, topic: str, qos: QoSProfile) -> Publisher:
        publisher = Publisher(self, msg_type, topic, qos)
        self._publishers.append(publisher)
        self._use_type(publisher.typename)
        return publisher

    def create_publisher(self, msg_type: Any, topic: str, qos_profile: QoSProfile | int,
                         *, callback_group: Any = None, event_callbacks: Any = None,
                         qos_overriding_options: Any = None,
                         publisher_class: Any = None) -> Publisher:
        """A publisher of ``msg_type`` on ``topic`` (expanded and remapped)."""
        self._check_alive()
        publisher = self._make_publisher(msg_type, self.resolve_topic_name(topic),
                                         as_profile(qos_profile))
        publisher.event_topic = topic
        self.context.dds.publish_graph()
        return publisher

    def create_subscription(self, msg_type: Any, topic: str, callback: Callable[..., Any],
                            qos_profile: QoSProfile | int, *, callback_group: Any = None,
                            event_callbacks: Any = None, qos_overriding_options: Any = None,
                            raw: bool = False) -> Subscription:
        """A subscription calling ``callback(msg)`` (or ``callback(msg, info)``) per sample."""
        self._check_alive()
        subscription = Subscription(self, msg_type, self.resolve_topic_name(topic), callback,
                                    as_profile(qos_profile), raw)
        subscription.event_topic = topic
        self._subscriptions.append(subscription)
        self._use_type(subscription.typename)
        self.context.dds.publish_graph()
        return subscription

    def create_service(self, srv_type: Any, srv_name: str,
                       callback: Callable[[Any, Any], Any], *,
                       qos_profile: QoSProfile = qos_profile_services_default,
                       callback_group: Any = None) -> Any:
        """A service server: ``callback(request, response)`` returns the response (rclpy)."""
        from ior_ros.runtime.service import Service

        self._check_alive()
        service = Service(self, srv_type, self.resolve_topic_name(srv_name), callback,
                          as_profile(qos_profile))
        service.srv_name = srv_name  # as rclpy: the given name; service_name is the resolved one
        self._services.append(service)
        self.context.dds.publish_graph()
        return service

    def create_client(self, srv_type: Any, srv_name: str, *,
                      qos_profile: QoSProfile = qos_profile_services_default,
                      callback_group: Any = None) -> Any:
        """A service client (``call_async``, ``call``, ``wait_for_service``; rclpy)."""
        from ior_ros.runtime.client import Client

        self._check_alive()
        client = Client(self, srv_type, self.resolve_topic_name(srv_name),
                        as_profile(qos_profile))
        client.srv_name = srv_name  # as rclpy: the given name; service_name is the resolved one
        self._clients.append(client)
        self.context.dds.publish_graph()
        return client

    def create_timer(self, timer_period_sec: float, callback: Callable[[], Any] | None,
                     callback_group: Any = None, clock: Clock | None = None,
                     autostart: bool = True) -> Timer:
        """A timer on the node's clock (follows /clock when use_sim_time is true)."""
        self._check_alive()
        timer = Timer(callback, int(round(float(timer_period_sec) * 1e9)), clock or self._clock,
                      autostart)
        self._timers.append(timer)
        self.context.dds.wake()
        return timer

    def destroy_publisher(self, publisher: Publisher) -> bool:
        """Delete a publisher of this node."""
        if publisher not in self._publishers:
            return False
        self._publishers.remove(publisher)
        publisher._close()
        self._unuse_type(publisher.typename)
        self.context.dds.publish_graph()
        return True

    def destroy_subscription(self, subscription: Subscription) -> bool:
        """Delete a subscription of this node."""
        if subscription not in self._subscriptions:
            return False
        self._subscriptions.remove(subscription)
        subscription._close()
        self._unuse_type(subscription.typename)
        self.context.dds.publish_graph()
        return True

    def destroy_service(self, service: Any) -> bool:
        """Delete a service server of this node."""
        if service not in self._services:
            return False
        self._services.remove(service)
        service.close()
        self.context.dds.publish_graph()
        return True

    def destroy_client(self, client: Any) -> bool:
        """Delete a service client of this node."""
        if client not in self._clients:
            return False
        self._clients.remove(client)
        client._close()
        self.context.dds.publish_graph()
        return True

    def destroy_timer(self, timer: Timer) -> bool:
        """Delete a timer of this node."""
        if timer not in self._timers:
            return False
        self._timers.remove(timer)
        timer.destroy()
        return True

    @property
    def publishers(self) -> Iterable[Publisher]:
        """The node's publishers."""
        return list(self._publishers)

    @property
    def subscriptions(self) -> Iterable[Subscription]:
        """The node's subscriptions."""
        return list(self._subscriptions)

    @property
    def timers(self) -> Iterable[Timer]:
        """The node's timers."""
        return list(self._timers)

    @property
    def services(self) -> Iterable[Any]:
        """The node's services (the parameter and type description services included)."""
        return list(self._services)

    @property
    def clients(self) -> Iterable[Any]:
        """The node's service clients."""
        return list(self._clients)

    # ------------------------------------------------------------------ sim time
    # (the parameters: node_parameters.NodeParameters)
    def _set_sim_time(self, enabled: bool) -> None:
        if enabled and self._clock_sub is None:
            self._clock_sub = self.create_subscription(
                get_message('rosgraph_msgs/msg/Clock'), '/clock', self._on_clock,
                qos_profile_clock)
            self._clock.set_ros_time_override(0)
            self._clock._set_ros_time_is_active(True)
        elif not enabled and self._clock_sub is not None:
            self.destroy_subscription(self._clock_sub)
            self._clock_sub = None
            self._clock._set_ros_time_is_active(False)

    def _on_clock(self, msg: Any) -> None:
        self._clock.set_ros_time_override(msg.clock.sec * 1_000_000_000 + msg.clock.nanosec)

    # ------------------------------------------------------------------ graph
    def _graph(self) -> Any:
        return self.context.dds.graph()

    def get_node_names(self) -> list[str]:
        """Names of every node discovery knows (this one included)."""
        return [name for _, name in self._graph().node_names()]

    def get_node_names_and_namespaces(self) -> list[tuple[str, str]]:
        """``(name, namespace)`` of every known node."""
        return [(name, ns) for ns, name in self._graph().node_names()]

    def get_topic_names_and_types(self, no_demangle: bool = False) -> list[tuple[str, list[str]]]:
        """``(topic, [types])`` of every ROS topic with a reader or writer."""
        return list(self._graph().topic_names_and_types().items())

    def count_publishers(self, topic_name: str) -> int:
        """Writers on a topic (expanded and remapped like a subscription's)."""
        topic = self.resolve_topic_name(topic_name)
        return sum(1 for e in self._graph().endpoints if e.is_writer and e.topic == topic)

    def count_subscribers(self, topic_name: str) -> int:
        """Readers on a topic."""
        topic = self.resolve_topic_name(topic_name)
        return sum(1 for e in self._graph().endpoints if not e.is_writer and e.topic == topic)

    def get_service_names_and_types(self) -> list[tuple[str, list[str]]]:
        """``(service, [types])`` of every service with a server or a client (rmw's rule)."""
        return list(self._graph().service_names_and_types().items())

    def _node_readers(self, node_name: str, node_namespace: str, request: bool
                      ) -> list[tuple[str, list[str]]]:
        graph = self._graph()
        namespace = normalize_namespace(node_namespace)
        gids: set[bytes] = set()
        found = False
        for participant, nodes in graph.nodes.items():
            if participant not in graph.participants:
                continue
            for ns, name, readers, _writers in nodes:
                if name == node_name and normalize_namespace(ns) == namespace:
                    found = True
                    gids.update(readers)
        if not found:
            raise NodeNameNonExistentError(
                f"node '{fully_qualified_node_name(namespace, node_name)}' is not in the graph")
        return list(graph.service_names_and_types(
            gids=gids, kinds=('request',) if request else ('reply',)).items())

    def get_service_names_and_types_by_node(self, node_name: str, node_namespace: str
                                            ) -> list[tuple[str, list[str]]]:
        """The services a node serves (its request readers)."""
        return self._node_readers(node_name, node_namespace, request=True)

    def get_client_names_and_types_by_node(self, node_name: str, node_namespace: str
                                           ) -> list[tuple[str, list[str]]]:
        """The services a node is a client of (its reply readers)."""
        return self._node_readers(node_name, node_namespace, request=False)

    def count_services(self, service_name: str) -> int:
        """Servers of a service (expanded, not remapped, as rclpy)."""
        name = self.resolve_topic_name(service_name, only_expand=True)
        return int(self._graph().count_service_readers(name, 'request'))

    def count_clients(self, service_name: str) -> int:
        """Clients of a service (expanded, not remapped, as rclpy)."""
        name = self.resolve_topic_name(service_name, only_expand=True)
        return int(self._graph().count_service_readers(name, 'reply'))

    # ------------------------------------------------------------------ lifetime
    def destroy_node(self) -> None:
        """Delete every endpoint of the node and drop it from the graph."""
        if self._destroyed:
            return
        self._destroyed = True
        self._name_checked.set()
        for timer in self._timers:
            timer.destroy()
        self._timers.clear()
        endpoints: list[Any] = [*self._subscriptions, *self._publishers, *self._clients]
        services = list(self._services)
        self._subscriptions.clear()
        self._publishers.clear()
        self._services.clear()
        self._clients.clear()
        self._param_events = None
        self._rosout.publisher = None
        for endpoint in endpoints:
            try:
                endpoint._close()
            except Exception:  # noqa: S110  (participant already gone)
                pass
        for service in services:
            try:
                service.close()
            except Exception:  # noqa: S110  (participant already gone)
                pass
        self.context.untrack_node(self)
        if self.context.has_dds():
            try:
                self.context.dds.remove_node(self)
            except Exception:  # noqa: S110
                pass

    def __repr__(self) -> str:
        return f'Node({self.get_fully_qualified_name()!r})'


def _strip_prefix(cli_args: list[str]) -> list[str]:
    args = list(cli_args)
    if args and args[0] == '--ros-args':
        args = args[1:]
    return args


# rclpy exposes these on the module level too; keep the names reachable from here.
_ = (Time, Duration, ClockType, RosMessage, typename_of, MessageInfo)
