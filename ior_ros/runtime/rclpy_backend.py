"""
The names of :mod:`ior_ros.runtime` taken from rclpy (used when rclpy is importable).

Only mapping, no behaviour: a node written against ``ior_ros.runtime`` runs unchanged on rclpy.
Names rclpy lacks (``qos_profile_transient_local``, ``qos_profile_clock``, ``get_message`` for
``pkg/msg/Name`` strings) are built from rclpy's own pieces.
"""

from __future__ import annotations

from typing import Any

__all__ = ['exports']


def exports() -> dict[str, Any]:
    """Name → object for the rclpy backend."""
    import rclpy
    import rclpy.executors
    import rclpy.logging
    import rclpy.qos as q
    from rclpy.clock import Clock, ClockType, ROSClock
    from rclpy.duration import Duration
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from rclpy.time import Time
    from rosidl_runtime_py.utilities import get_message as _get_message
    from rosidl_runtime_py.utilities import get_service as _get_service

    def get_message(typename: str) -> Any:
        from ior_ros.runtime.type_names import normalize_type_name

        return _get_message(normalize_type_name(typename))

    def get_service(srvname: str) -> Any:
        from ior_ros.runtime.type_names import normalize_service_name

        return _get_service(normalize_service_name(srvname))

    try:
        from rclpy.executors import ExternalShutdownException
    except ImportError:  # pragma: no cover - older rclpy
        class ExternalShutdownException(Exception):  # type: ignore[no-redef]
            """Placeholder on rclpy versions without it."""

    from rcl_interfaces.msg import SetParametersResult
    from rclpy import exceptions

    transient_local = q.QoSProfile(depth=1, reliability=q.ReliabilityPolicy.RELIABLE,
                                   durability=q.DurabilityPolicy.TRANSIENT_LOCAL)
    clock_qos = q.QoSProfile(depth=1, reliability=q.ReliabilityPolicy.BEST_EFFORT)
    return {
        'Node': Node, 'init': rclpy.init, 'shutdown': rclpy.shutdown,
        'try_shutdown': rclpy.try_shutdown, 'ok': rclpy.ok, 'spin': rclpy.spin,
        'spin_once': rclpy.spin_once,
        'spin_until_future_complete': rclpy.spin_until_future_complete,
        'get_message': get_message, 'get_service': get_service, 'Parameter': Parameter,
        'Time': Time, 'Duration': Duration,
        'Clock': Clock, 'ROSClock': ROSClock, 'ClockType': ClockType,
        'SetParametersResult': SetParametersResult,
        'ExternalShutdownException': ExternalShutdownException,
        'SingleThreadedExecutor': rclpy.executors.SingleThreadedExecutor,
        'MultiThreadedExecutor': rclpy.executors.MultiThreadedExecutor,
        'get_logger': rclpy.logging.get_logger,
        'QoSProfile': q.QoSProfile, 'HistoryPolicy': q.HistoryPolicy,
        'ReliabilityPolicy': q.ReliabilityPolicy, 'DurabilityPolicy': q.DurabilityPolicy,
        'LivelinessPolicy': q.LivelinessPolicy, 'QoSPresetProfiles': q.QoSPresetProfiles,
        'qos_profile_system_default': q.qos_profile_system_default,
        'qos_profile_sensor_data': q.qos_profile_sensor_data,
        'qos_profile_services_default': q.qos_profile_services_default,
        'qos_profile_parameters': q.qos_profile_parameters,
        'qos_profile_parameter_events': q.qos_profile_parameter_events,
        'qos_profile_action_status_default': q.qos_profile_action_status_default,
        'qos_profile_rosout_default': getattr(q, 'qos_profile_rosout_default', transient_local),
        'qos_profile_transient_local': transient_local,
        'qos_profile_clock': clock_qos,
        **{name: getattr(exceptions, name) for name in (
            'ParameterNotDeclaredException', 'ParameterAlreadyDeclaredException',
            'InvalidParameterTypeException', 'ParameterUninitializedException',
            'ParameterImmutableException')},
    }
