"""
QoS in rosbag2 metadata: the ``offered_qos_profiles`` a recorder writes for each topic (the YAML
list Jazzy writes: string enums, infinite durations as ``{sec: 9223372036, nsec: 854775807}``),
the profiles read back from bags of every version (4..9, older infinities included), and the
profile ``ros2 bag play`` offers for a topic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ior_ros.runtime.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    LivelinessPolicy,
    QoSProfile,
    ReliabilityPolicy,
)

__all__ = ['qos_to_rosbags', 'qos_from_rosbags', 'playback_qos']

# rmw's RMW_DURATION_INFINITE as Jazzy's rosbag2 writes it into offered_qos_profiles
_INFINITE_SEC, _INFINITE_NSEC = 9223372036, 854775807
# the infinities of older bags (rosbag2_storage/qos.cpp: Foxy's Fast DDS, Connext, Cyclone)
_OLD_INFINITE = {(0x7FFFFFFF, 0xFFFFFFFF), (0x7FFFFFFF, 0x7FFFFFFF)}


def _qos_time(ns: int) -> Any:
    from rosbags.interfaces import QosTime

    if ns <= 0 or ns >= 2**63 - 1:
        return QosTime(sec=_INFINITE_SEC, nsec=_INFINITE_NSEC)
    sec, nsec = divmod(int(ns), 1_000_000_000)
    return QosTime(sec=sec, nsec=nsec)


def _qos_ns(time_: Any) -> int:
    """A recorded duration in ns; 0 (our "infinite") for every spelling of infinity."""
    sec, nsec = int(time_.sec), int(time_.nsec)
    if (sec, nsec) in _OLD_INFINITE:
        return 0
    ns = sec * 1_000_000_000 + nsec
    return 0 if ns >= 2**63 - 1 or ns <= 0 else ns


def qos_to_rosbags(profile: QoSProfile) -> Any:
    """Our profile → rosbags' Qos tuple, with the values Jazzy's recorder stores in
    ``offered_qos_profiles`` (unset durations are infinite, default liveliness is automatic)."""
    from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability

    return Qos(
        history=QosHistory.KEEP_ALL if profile.history == HistoryPolicy.KEEP_ALL
        else QosHistory.KEEP_LAST,
        depth=profile.depth,
        reliability=QosReliability.BEST_EFFORT
        if profile.reliability == ReliabilityPolicy.BEST_EFFORT else QosReliability.RELIABLE,
        durability=QosDurability.TRANSIENT_LOCAL
        if profile.durability == DurabilityPolicy.TRANSIENT_LOCAL else QosDurability.VOLATILE,
        deadline=_qos_time(profile.deadline_ns), lifespan=_qos_time(profile.lifespan_ns),
        liveliness=QosLiveliness.MANUAL_BY_TOPIC
        if profile.liveliness == LivelinessPolicy.MANUAL_BY_TOPIC else QosLiveliness.AUTOMATIC,
        liveliness_lease_duration=_qos_time(profile.liveliness_lease_duration_ns),
        avoid_ros_namespace_conventions=bool(profile.avoid_ros_namespace_conventions))


def qos_from_rosbags(qos: Any) -> QoSProfile:
    """rosbags' Qos tuple (parsed from a version 4..9 ``offered_qos_profiles``) → our profile."""
    from rosbags.interfaces import QosDurability, QosHistory, QosLiveliness, QosReliability

    return QoSProfile(
        history=HistoryPolicy.KEEP_ALL if qos.history == QosHistory.KEEP_ALL
        else HistoryPolicy.KEEP_LAST,
        depth=max(1, int(qos.depth or 10)),
        reliability=ReliabilityPolicy.BEST_EFFORT
        if qos.reliability == QosReliability.BEST_EFFORT else ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL
        if qos.durability == QosDurability.TRANSIENT_LOCAL else DurabilityPolicy.VOLATILE,
        deadline=_qos_ns(qos.deadline), lifespan=_qos_ns(qos.lifespan),
        liveliness=LivelinessPolicy.MANUAL_BY_TOPIC
        if qos.liveliness == QosLiveliness.MANUAL_BY_TOPIC else LivelinessPolicy.AUTOMATIC,
        liveliness_lease_duration=_qos_ns(qos.liveliness_lease_duration),
        avoid_ros_namespace_conventions=bool(qos.avoid_ros_namespace_conventions))


def playback_qos(offered: list[Any], topic: str = '',
                 warn: Callable[[str], None] | None = None) -> QoSProfile:
    """
    The profile ``ros2 bag play`` offers for a topic (rosbag2_storage
    ``Rosbag2QoS::adapt_offer_to_recorded_offers``): the recorded one when every recorded
    publisher offered the same reliability, durability, deadline and liveliness, else the
    default (reliable, volatile). The depth is kept for transient-local topics (late joiners get
    what the publisher kept) and raised to 100 otherwise (no drops when playing fast).
    """
    profiles = [qos_from_rosbags(q) for q in offered]
    if not profiles:
        profile = QoSProfile(depth=10)
    else:
        first = profiles[0]
        same = all((p.reliability, p.durability, p.deadline_ns, p.liveliness,
                    p.liveliness_lease_duration_ns) ==
                   (first.reliability, first.durability, first.deadline_ns, first.liveliness,
                    first.liveliness_lease_duration_ns) for p in profiles[1:])
        if same:
            profile = first.with_(history=HistoryPolicy.KEEP_LAST)
        else:
            if warn is not None:
                warn(f'not all original publishers on topic {topic} offered the same QoS '
                     'profile; offering reliable/volatile')
            profile = QoSProfile(depth=10)
    if profile.durability != DurabilityPolicy.TRANSIENT_LOCAL:
        profile = profile.with_(depth=max(profile.depth, 100))
    return profile
