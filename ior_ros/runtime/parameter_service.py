"""
The six parameter services of every node, as rclpy's ``ParameterService``
(``~/list_parameters``, ``~/get_parameters``, ``~/get_parameter_types``,
``~/describe_parameters``, ``~/set_parameters``, ``~/set_parameters_atomically``), and the
conversions between parameters and their rcl_interfaces messages.

``get_parameters`` answers an empty list when any name is undeclared, ``get_parameter_types``
answers NOT_SET (0) for one, ``describe_parameters`` the full descriptors (description, ranges,
read-only, dynamic typing) or an empty list, ``set_parameters`` sets each parameter atomically
on its own and reports "not declared" as an unsuccessful result with rclpy's words (``Invalid
access to undeclared parameter(s): ['name']``; rclpy itself prints ``[]`` there, a generator
spent by ``any()`` in ``Node._check_undeclared_parameters``), ``list_parameters`` filters by
prefixes and depth as rclpy's ``Node.list_parameters`` does.
"""

from __future__ import annotations

from typing import Any

from ior_ros.runtime.errors import RosInputError
from ior_ros.runtime.parameters import (
    Parameter,
    ParameterNotDeclaredException,
    ParameterType,
    SetParametersResult,
)
from ior_ros.runtime.qos import qos_profile_parameters
from ior_ros.runtime.registry import get_message, get_service
from ior_ros.runtime.service import ServiceServer

__all__ = ['PARAMETER_SERVICES', 'UNDECLARED_REASON', 'register_service_types',
           'start_parameter_services', 'value_from_msg', 'parameter_from_msg']

#: how rclpy's set_parameters answers for an undeclared parameter (str of its
#: ParameterNotDeclaredException), followed by the names
UNDECLARED_REASON = 'Invalid access to undeclared parameter(s)'

#: service name suffix → rcl_interfaces service type (what rclpy's ParameterService creates)
PARAMETER_SERVICES: dict[str, str] = {
    'describe_parameters': 'DescribeParameters',
    'get_parameters': 'GetParameters',
    'get_parameter_types': 'GetParameterTypes',
    'list_parameters': 'ListParameters',
    'set_parameters': 'SetParameters',
    'set_parameters_atomically': 'SetParametersAtomically',
}


def register_service_types() -> None:
    """Register the six rcl_interfaces parameter services (once per process)."""
    for srv in PARAMETER_SERVICES.values():
        get_service(f'rcl_interfaces/srv/{srv}')


_VALUE_FIELDS = {ParameterType.BOOL: 'bool_value', ParameterType.INTEGER: 'integer_value',
                 ParameterType.DOUBLE: 'double_value', ParameterType.STRING: 'string_value',
                 ParameterType.BYTE_ARRAY: 'byte_array_value',
                 ParameterType.BOOL_ARRAY: 'bool_array_value',
                 ParameterType.INTEGER_ARRAY: 'integer_array_value',
                 ParameterType.DOUBLE_ARRAY: 'double_array_value',
                 ParameterType.STRING_ARRAY: 'string_array_value'}


def value_from_msg(msg: Any) -> tuple[ParameterType, Any]:
    """``(type, Python value)`` of an rcl_interfaces/ParameterValue."""
    try:
        type_ = ParameterType(int(msg.type))
    except ValueError:
        raise RosInputError(f'parameter type {msg.type} is not an rcl_interfaces '
                            'ParameterType') from None
    if type_ == ParameterType.NOT_SET:
        return type_, None
    value = getattr(msg, _VALUE_FIELDS[type_])
    if type_ == ParameterType.BYTE_ARRAY:
        value = [bytes([int(v) & 0xFF]) for v in value]
    elif type_ in (ParameterType.BOOL_ARRAY, ParameterType.INTEGER_ARRAY,
                   ParameterType.DOUBLE_ARRAY):
        value = [v.item() if hasattr(v, 'item') else v for v in value]
    elif type_ == ParameterType.STRING_ARRAY:
        value = list(value)
    elif hasattr(value, 'item'):
        value = value.item()
    return type_, value


def parameter_from_msg(msg: Any) -> Parameter:
    """A Parameter from an rcl_interfaces/Parameter message."""
    type_, value = value_from_msg(msg.value)
    return Parameter(msg.name, type_, value)


def _result_msg(result: Any) -> Any:
    cls = get_message('rcl_interfaces/msg/SetParametersResult')
    return cls(successful=bool(result.successful), reason=str(result.reason))


def _list_names(names: list[str], prefixes: list[str], depth: int) -> Any:
    """rclpy Node.list_parameters: names under the prefixes, at most ``depth`` levels deep."""
    sep = '.'
    result = get_message('rcl_interfaces/msg/ListParametersResult')()
    found: list[str] = []
    found_prefixes: list[str] = []

    def shallow(text: str) -> bool:
        return text.count(sep) < depth

    for name in names:
        if prefixes or depth != 0:
            wanted = not prefixes and shallow(name)
            if not wanted:
                wanted = any(name == p or (name.startswith(p + sep)
                                           and (depth == 0 or shallow(name[len(p) + 1:])))
                             for p in prefixes)
            if not wanted:
                continue
        found.append(name)
        if sep in name:
            prefix = name.rsplit(sep, 1)[0]
            if prefix not in found_prefixes:
                found_prefixes.append(prefix)
    result.names = found
    result.prefixes = found_prefixes
    return result


class _ParameterHandlers:
    """The six handlers of rclpy's ParameterService on one node."""

    def __init__(self, node: Any) -> None:
        self.node = node

    def _response(self, srv: str) -> Any:
        return get_message(f'rcl_interfaces/srv/{srv}_Response')()

    def describe_parameters(self, request: Any) -> Any:
        response = self._response('DescribeParameters')
        out = []
        for name in request.names:
            try:
                out.append(self.node.describe_parameter(name).to_msg())
            except ParameterNotDeclaredException:
                return response  # rclpy: an undeclared name empties the answer
        response.descriptors = out
        return response

    def get_parameters(self, request: Any) -> Any:
        response = self._response('GetParameters')
        if all(self.node.has_parameter(n) for n in request.names):
            response.values = [self.node.get_parameter(n).get_parameter_value()
                               for n in request.names]
        return response

    def get_parameter_types(self, request: Any) -> Any:
        import numpy as np

        response = self._response('GetParameterTypes')
        response.types = np.array([int(self.node.get_parameter(n).type_)
                                   if self.node.has_parameter(n) else 0
                                   for n in request.names], dtype=np.uint8)
        return response

    def list_parameters(self, request: Any) -> Any:
        response = self._response('ListParameters')
        response.result = _list_names(sorted(self.node._parameters), list(request.prefixes),
                                      int(request.depth))
        return response

    def _set(self, params: list[Any]) -> Any:
        try:
            return _result_msg(self.node.set_parameters_atomically(params))
        except ParameterNotDeclaredException:
            names = [p.name for p in params if not self.node.has_parameter(p.name)]
            return _result_msg(SetParametersResult(False, f'{UNDECLARED_REASON}: {names}'))
        except (RosInputError, ValueError, TypeError) as exc:
            return _result_msg(SetParametersResult(False, str(exc)))

    def set_parameters(self, request: Any) -> Any:
        response = self._response('SetParameters')
        results = []
        for msg in request.parameters:
            try:
                param = parameter_from_msg(msg)
            except (RosInputError, ValueError, TypeError) as exc:
                results.append(_result_msg(SetParametersResult(False, str(exc))))
                continue
            results.append(self._set([param]))
        response.results = results
        return response

    def set_parameters_atomically(self, request: Any) -> Any:
        response = self._response('SetParametersAtomically')
        try:
            params = [parameter_from_msg(m) for m in request.parameters]
        except (RosInputError, ValueError, TypeError) as exc:
            response.result = _result_msg(SetParametersResult(False, str(exc)))
            return response
        response.result = self._set(params)
        return response


def start_parameter_services(node: Any) -> list[ServiceServer]:
    """The six parameter services of ``node`` under ``<node fqn>/<service>``."""
    handlers = _ParameterHandlers(node)
    base = node.get_fully_qualified_name()
    return [ServiceServer(node, f'{base}/{suffix}', f'rcl_interfaces/srv/{srv}',
                          getattr(handlers, suffix), qos_profile_parameters)
            for suffix, srv in PARAMETER_SERVICES.items()]
