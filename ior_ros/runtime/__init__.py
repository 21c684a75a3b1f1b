"""
The ROS 2 layer: one node API on two backends.

``from ior_ros.runtime import Node, init, spin, shutdown, get_message, qos_profile_sensor_data``
gives rclpy's objects when rclpy is importable (unless ``IOR_ROS_BACKEND=dds``), and otherwise the
DDS runtime of this package, which speaks ROS 2's wire protocol (rmw_cyclonedds_cpp) over Cyclone
DDS. See :mod:`ior_ros.runtime.backend` for the selection rules and ``docs/models/runtime.md`` for
the supported subset. Names resolve on first access, so importing this package is cheap and
submodules (launch runner, bag tools) can be used without a DDS participant.
"""

from __future__ import annotations

from typing import Any

__all__ = ['Node', 'init', 'shutdown', 'try_shutdown', 'ok', 'spin', 'spin_once',
           'spin_until_future_complete', 'get_message', 'get_service', 'Parameter', 'Time',
           'Duration', 'Clock',
           'ROSClock', 'ClockType', 'SetParametersResult', 'ExternalShutdownException',
           'SingleThreadedExecutor', 'MultiThreadedExecutor', 'get_logger', 'QoSProfile',
           'HistoryPolicy', 'ReliabilityPolicy', 'DurabilityPolicy', 'LivelinessPolicy',
           'QoSPresetProfiles', 'qos_profile_system_default', 'qos_profile_sensor_data',
           'qos_profile_services_default', 'qos_profile_parameters',
           'qos_profile_parameter_events', 'qos_profile_action_status_default',
           'qos_profile_rosout_default', 'qos_profile_transient_local', 'qos_profile_clock',
           'ParameterNotDeclaredException', 'ParameterAlreadyDeclaredException',
           'InvalidParameterTypeException', 'ParameterUninitializedException',
           'ParameterImmutableException', 'BACKEND', 'backend_name', 'select_backend']

_EXCEPTIONS = ('ParameterNotDeclaredException', 'ParameterAlreadyDeclaredException',
               'InvalidParameterTypeException', 'ParameterUninitializedException',
               'ParameterImmutableException')

_CACHE: dict[str, Any] = {}


def _dds_exports() -> dict[str, Any]:
    from ior_ros.runtime import clock, context, executor, node, parameters, qos, registry
    from ior_ros.runtime.ros_logging import get_logger

    out: dict[str, Any] = {
        'Node': node.Node, 'init': context.init, 'shutdown': context.shutdown,
        'try_shutdown': context.try_shutdown, 'ok': context.ok, 'spin': executor.spin,
        'spin_once': executor.spin_once,
        'spin_until_future_complete': executor.spin_until_future_complete,
        'get_message': registry.get_message, 'get_service': registry.get_service,
        'Parameter': parameters.Parameter,
        'Time': clock.Time, 'Duration': clock.Duration, 'Clock': clock.Clock,
        'ROSClock': clock.ROSClock, 'ClockType': clock.ClockType,
        'SetParametersResult': parameters.SetParametersResult,
        'ExternalShutdownException': context.ExternalShutdownException,
        'SingleThreadedExecutor': executor.SingleThreadedExecutor,
        'MultiThreadedExecutor': executor.MultiThreadedExecutor, 'get_logger': get_logger,
    }
    for name in __all__:
        if name.startswith(('qos_profile_', 'QoS')) or name.endswith('Policy'):
            out[name] = getattr(qos, name)
    for name in _EXCEPTIONS:
        out[name] = getattr(parameters, name)
    return out


def __getattr__(name: str) -> Any:
    if name in ('backend_name', 'select_backend'):
        from ior_ros.runtime import backend

        return getattr(backend, name)
    if name == 'BACKEND':
        from ior_ros.runtime.backend import backend_name

        return backend_name()
    if name not in __all__:
        raise AttributeError(f'module ior_ros.runtime has no attribute {name!r}')
    if not _CACHE:
        from ior_ros.runtime.backend import backend_name

        if backend_name() == 'rclpy':
            from ior_ros.runtime.rclpy_backend import exports
            _CACHE.update(exports())
        else:
            _CACHE.update(_dds_exports())
    return _CACHE[name]
