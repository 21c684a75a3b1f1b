"""
QoS profiles with rclpy's names, defaults and presets, and their mapping onto Cyclone DDS.

rclpy semantics kept: ``QoSProfile`` needs ``history`` or ``depth``; ``create_publisher(T, topic,
10)`` means ``QoSProfile(depth=10)`` with every other policy from the default profile (KEEP_LAST,
RELIABLE, VOLATILE). The DDS mapping follows rmw_cyclonedds ``create_readwrite_qos``
(rmw_node.cpp:2153-2262): depth 0 → KEEP_LAST(1); RELIABLE blocks up to infinity; TRANSIENT_LOCAL
adds a matching durability service; liveliness AUTOMATIC with an infinite lease; writers do not
auto-dispose; data representation XCDR1 only.

Presets (rclpy.qos / rmw/qos_profiles.h):

=================================  =============  ============  ===============
profile                            history/depth  reliability   durability
=================================  =============  ============  ===============
qos_profile_system_default         KEEP_LAST/10   RELIABLE      VOLATILE
qos_profile_sensor_data            KEEP_LAST/5    BEST_EFFORT   VOLATILE
qos_profile_services_default       KEEP_LAST/10   RELIABLE      VOLATILE
qos_profile_parameters             KEEP_LAST/1000 RELIABLE      VOLATILE
qos_profile_parameter_events       KEEP_LAST/1000 RELIABLE      VOLATILE
qos_profile_rosout_default         KEEP_LAST/1000 RELIABLE      TRANSIENT_LOCAL (lifespan 10 s)
qos_profile_action_status_default  KEEP_LAST/1    RELIABLE      TRANSIENT_LOCAL
qos_profile_transient_local        KEEP_LAST/1    RELIABLE      TRANSIENT_LOCAL  (ours: latched)
qos_profile_clock                  KEEP_LAST/1    BEST_EFFORT   VOLATILE (rclpy TimeSource)
=================================  =============  ============  ===============

``qos_profile_system_default`` leaves every policy to the middleware in rclpy; on Cyclone the
result is the table's row, which is what is used here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Any

__all__ = ['HistoryPolicy', 'ReliabilityPolicy', 'DurabilityPolicy', 'LivelinessPolicy',
           'QoSProfile', 'QoSPresetProfiles', 'qos_profile_system_default',
           'qos_profile_sensor_data', 'qos_profile_services_default', 'qos_profile_parameters',
           'qos_profile_parameter_events', 'qos_profile_rosout_default',
           'qos_profile_action_status_default', 'qos_profile_transient_local',
           'qos_profile_clock', 'as_profile', 'to_dds_qos', 'INFINITE_NS', 'qos_from_dds',
           'adapt_subscription_qos']

INFINITE_NS = 2**63 - 1


class HistoryPolicy(IntEnum):
    """rmw_qos_history_policy_e."""

    SYSTEM_DEFAULT = 0
    KEEP_LAST = 1
    KEEP_ALL = 2
    UNKNOWN = 3


class ReliabilityPolicy(IntEnum):
    """rmw_qos_reliability_policy_e."""

    SYSTEM_DEFAULT = 0
    RELIABLE = 1
    BEST_EFFORT = 2
    UNKNOWN = 3
    BEST_AVAILABLE = 4


class DurabilityPolicy(IntEnum):
    """rmw_qos_durability_policy_e."""

    SYSTEM_DEFAULT = 0
    TRANSIENT_LOCAL = 1
    VOLATILE = 2
    UNKNOWN = 3
    BEST_AVAILABLE = 4


class LivelinessPolicy(IntEnum):
    """rmw_qos_liveliness_policy_e."""

    SYSTEM_DEFAULT = 0
    AUTOMATIC = 1
    MANUAL_BY_TOPIC = 3
    UNKNOWN = 4
    BEST_AVAILABLE = 5


@dataclass(frozen=True)
class QoSProfile:
    """
    A ROS 2 QoS profile (durations in nanoseconds; 0 means "not set", i.e. infinite).

    Args:
        history: KEEP_LAST or KEEP_ALL (defaults to KEEP_LAST when only ``depth`` is given).
        depth: queue depth for KEEP_LAST.
        reliability, durability, liveliness: the policies (rclpy defaults RELIABLE, VOLATILE,
            SYSTEM_DEFAULT → AUTOMATIC).
        deadline_ns, lifespan_ns, liveliness_lease_duration_ns: durations, 0 = infinite.
    """

    history: HistoryPolicy = HistoryPolicy.KEEP_LAST
    depth: int = 10
    reliability: ReliabilityPolicy = ReliabilityPolicy.RELIABLE
    durability: DurabilityPolicy = DurabilityPolicy.VOLATILE
    liveliness: LivelinessPolicy = LivelinessPolicy.SYSTEM_DEFAULT
    deadline_ns: int = 0
    lifespan_ns: int = 0
    liveliness_lease_duration_ns: int = 0
    avoid_ros_namespace_conventions: bool = False

    def __init__(self, *, history: HistoryPolicy | int | None = None, depth: int | None = None,
                 reliability: ReliabilityPolicy | int = ReliabilityPolicy.RELIABLE,
                 durability: DurabilityPolicy | int = DurabilityPolicy.VOLATILE,
                 liveliness: LivelinessPolicy | int = LivelinessPolicy.SYSTEM_DEFAULT,
                 deadline: Any = None, lifespan: Any = None,
                 liveliness_lease_duration: Any = None,
                 avoid_ros_namespace_conventions: bool = False) -> None:
        if history is None and depth is None:
            raise ValueError('QoSProfile requires the history policy or a depth')
        hist = HistoryPolicy(history) if history is not None else HistoryPolicy.KEEP_LAST
        if depth is None:
            depth = 0 if hist == HistoryPolicy.KEEP_ALL else 1
        if depth < 0:
            raise ValueError(f'QoS depth must be >= 0, got {depth}')
        object.__setattr__(self, 'history', hist)
        object.__setattr__(self, 'depth', int(depth))
        object.__setattr__(self, 'reliability', ReliabilityPolicy(reliability))
        object.__setattr__(self, 'durability', DurabilityPolicy(durability))
        object.__setattr__(self, 'liveliness', LivelinessPolicy(liveliness))
        object.__setattr__(self, 'deadline_ns', _ns(deadline))
        object.__setattr__(self, 'lifespan_ns', _ns(lifespan))
        object.__setattr__(self, 'liveliness_lease_duration_ns', _ns(liveliness_lease_duration))
        object.__setattr__(self, 'avoid_ros_namespace_conventions',
                           bool(avoid_ros_namespace_conventions))

    def with_(self, **changes: Any) -> QoSProfile:
        """A copy with some constructor arguments changed (``depth=1``, ``reliability=...``)."""
        args: dict[str, Any] = {
            'history': self.history, 'depth': self.depth, 'reliability': self.reliability,
            'durability': self.durability, 'liveliness': self.liveliness,
            'deadline': self.deadline_ns, 'lifespan': self.lifespan_ns,
            'liveliness_lease_duration': self.liveliness_lease_duration_ns,
            'avoid_ros_namespace_conventions': self.avoid_ros_namespace_conventions}
        args.update(changes)
        return QoSProfile(**args)


def _ns(value: Any) -> int:
    if value is None:
        return 0
    if hasattr(value, 'nanoseconds'):
        return int(value.nanoseconds)
    if isinstance(value, float):
        return int(round(value * 1e9))
    return int(value)


def _preset(depth: int, reliability: ReliabilityPolicy, durability: DurabilityPolicy,
            lifespan_ns: int = 0) -> QoSProfile:
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=reliability,
                      durability=durability, lifespan=lifespan_ns)


_R, _BE = ReliabilityPolicy.RELIABLE, ReliabilityPolicy.BEST_EFFORT
_V, _TL = DurabilityPolicy.VOLATILE, DurabilityPolicy.TRANSIENT_LOCAL
qos_profile_system_default = _preset(10, _R, _V)
qos_profile_sensor_data = _preset(5, _BE, _V)
qos_profile_services_default = _preset(10, _R, _V)
qos_profile_parameters = _preset(1000, _R, _V)
qos_profile_parameter_events = _preset(1000, _R, _V)
qos_profile_rosout_default = _preset(1000, _R, _TL, lifespan_ns=10 * 10**9)
qos_profile_action_status_default = _preset(1, _R, _TL)
qos_profile_transient_local = _preset(1, _R, _TL)
qos_profile_clock = _preset(1, _BE, _V)


class QoSPresetProfiles(Enum):
    """rclpy.qos.QoSPresetProfiles (plus TRANSIENT_LOCAL)."""

    SYSTEM_DEFAULT = qos_profile_system_default
    SENSOR_DATA = qos_profile_sensor_data
    SERVICES_DEFAULT = qos_profile_services_default
    PARAMETERS = qos_profile_parameters
    PARAMETER_EVENTS = qos_profile_parameter_events
    ACTION_STATUS_DEFAULT = qos_profile_action_status_default
    ROSOUT_DEFAULT = qos_profile_rosout_default
    TRANSIENT_LOCAL = qos_profile_transient_local

    @classmethod
    def get_from_short_key(cls, name: str) -> QoSProfile:
        """``'sensor_data'`` → profile (as ``ros2 topic --qos-profile`` takes it)."""
        profile: QoSProfile = cls[name.upper()].value
        return profile


def as_profile(qos: QoSProfile | int) -> QoSProfile:
    """``10`` → ``QoSProfile(depth=10)``; a profile is returned as is."""
    if isinstance(qos, QoSProfile):
        return qos
    if isinstance(qos, int) and not isinstance(qos, bool):
        return QoSProfile(depth=qos)
    raise TypeError(f'expected a QoSProfile or a history depth (int), got {qos!r}')


def to_dds_qos(profile: QoSProfile, user_data: bytes | None = None, writer: bool = True) -> Any:
    """The Cyclone DDS Qos of a reader or writer with this profile (rmw create_readwrite_qos)."""
    from cyclonedds.core import Policy, Qos

    policies: list[Any] = []
    if profile.history == HistoryPolicy.KEEP_ALL:
        history: Any = Policy.History.KeepAll
    else:
        history = Policy.History.KeepLast(max(1, profile.depth))
    policies.append(history)
    reliability = profile.reliability
    if reliability == ReliabilityPolicy.BEST_AVAILABLE:
        reliability = _R if writer else _BE
    if reliability in (ReliabilityPolicy.RELIABLE, ReliabilityPolicy.SYSTEM_DEFAULT):
        policies.append(Policy.Reliability.Reliable(max_blocking_time=INFINITE_NS))
    else:
        policies.append(Policy.Reliability.BestEffort)
    durability = profile.durability
    if durability == DurabilityPolicy.BEST_AVAILABLE:
        durability = _TL if writer else _V
    if durability == DurabilityPolicy.TRANSIENT_LOCAL:
        policies.append(Policy.Durability.TransientLocal)
        policies.append(Policy.DurabilityService(cleanup_delay=0, history=history,
                                                 max_samples=-1, max_instances=-1,
                                                 max_samples_per_instance=-1))
    else:
        policies.append(Policy.Durability.Volatile)
    if profile.deadline_ns:
        policies.append(Policy.Deadline(deadline=profile.deadline_ns))
    if profile.lifespan_ns and writer:
        policies.append(Policy.Lifespan(lifespan=profile.lifespan_ns))
    lease = profile.liveliness_lease_duration_ns or INFINITE_NS
    if profile.liveliness == LivelinessPolicy.MANUAL_BY_TOPIC:
        policies.append(Policy.Liveliness.ManualByTopic(lease_duration=lease))
    else:
        policies.append(Policy.Liveliness.Automatic(lease_duration=lease))
    if writer:
        policies.append(Policy.WriterDataLifecycle(autodispose=False))
    policies.append(Policy.DataRepresentation(use_cdrv0_representation=True))
    if user_data is not None:
        policies.append(Policy.Userdata(data=user_data))
    return Qos(*policies)


def qos_from_dds(qos: Any) -> QoSProfile:
    """A ROS profile from a discovered endpoint's Cyclone Qos (for adapting to publishers)."""
    from cyclonedds.core import Policy

    depth = 1
    history = HistoryPolicy.KEEP_LAST
    reliability = _R
    durability = _V
    for policy in qos:
        if isinstance(policy, Policy.History.KeepLast):
            depth = policy.depth
        elif policy is Policy.History.KeepAll:
            history = HistoryPolicy.KEEP_ALL
        elif policy is Policy.Reliability.BestEffort:
            reliability = _BE
        elif policy is Policy.Durability.TransientLocal:
            durability = _TL
    return QoSProfile(history=history, depth=depth, reliability=reliability,
                      durability=durability)


def adapt_subscription_qos(publisher_profiles: list[QoSProfile], depth: int = 10) -> QoSProfile:
    """
    The subscription profile that matches every publisher (what ``ros2 topic echo`` and ``ros2
    bag record`` do): RELIABLE only if all publishers are, TRANSIENT_LOCAL only if all are.
    """
    if not publisher_profiles:
        return QoSProfile(depth=depth)
    reliable = all(p.reliability == _R for p in publisher_profiles)
    latched = all(p.durability == _TL for p in publisher_profiles)
    return QoSProfile(depth=depth, reliability=_R if reliable else _BE,
                      durability=_TL if latched else _V)
