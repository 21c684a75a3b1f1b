"""
``ros2 param list | get | set | describe`` on the DDS runtime: they call a node's parameter
services (:mod:`ior_ros.runtime.parameter_service`) through a
:class:`~ior_ros.runtime.client.ServiceClient` of the graph node ``ior_param_<pid>``, and print
what ``ros2 param`` prints (ros2param/verb/*.py, Jazzy).

``set`` reads VALUE as ``ros2 param set`` does (rclpy.parameter.get_parameter_value): YAML, a
list of one type becomes an array, anything else (a mapping, a mixed list, text YAML cannot
read) the string as typed. A refusal comes back as ``(False, reason)``; an undeclared parameter
and a node that is not there are :class:`~ior_ros.runtime.errors.RosInputError` (one line).
"""

from __future__ import annotations

from typing import Any

from ior_ros.runtime.client import ServiceClient
from ior_ros.runtime.errors import RosInputError
from ior_ros.runtime.parameter_service import (
    PARAMETER_SERVICES,
    UNDECLARED_REASON,
    value_from_msg,
)
from ior_ros.runtime.parameters import Parameter, ParameterType
from ior_ros.runtime.registry import get_message

__all__ = ['param_list', 'param_get', 'param_set', 'param_describe', 'parameter_from_text',
           'describe_lines']


def _node_client(ctx: Any, node: str, suffix: str, timeout_s: float) -> ServiceClient:
    fqn = _absolute(node)
    client = ServiceClient(ctx, f'{fqn}/{suffix}',
                           f'rcl_interfaces/srv/{PARAMETER_SERVICES[suffix]}')
    if not client.wait_for_service(timeout_s):
        client.close()
        raise RosInputError(f"node '{fqn}': its parameter service {suffix} was not found "
                            f'within {timeout_s} s (is the node running, in this '
                            'ROS_DOMAIN_ID?)')
    return client


def param_list(node: str, timeout_s: float = 5.0) -> list[str]:
    """``ros2 param list NODE``: the node's parameter names, sorted."""
    from ior_ros.runtime.topic_tools import open_context

    ctx = open_context('param')
    try:
        client = _node_client(ctx, node, 'list_parameters', timeout_s)
        request = get_message('rcl_interfaces/srv/ListParameters_Request')(prefixes=[], depth=0)
        return sorted(client.call(request, timeout_s).result.names)
    finally:
        ctx.close()


_TYPE_WORDS = {ParameterType.BOOL: 'Boolean', ParameterType.INTEGER: 'Integer',
               ParameterType.DOUBLE: 'Double', ParameterType.STRING: 'String',
               ParameterType.BYTE_ARRAY: 'Byte', ParameterType.BOOL_ARRAY: 'Boolean',
               ParameterType.INTEGER_ARRAY: 'Integer', ParameterType.DOUBLE_ARRAY: 'Double',
               ParameterType.STRING_ARRAY: 'String'}


def param_get(node: str, name: str, timeout_s: float = 5.0) -> str:
    """``ros2 param get NODE NAME``: 'Double value is: 2.5' (or '... values are: [...]')."""
    from ior_ros.runtime.topic_tools import open_context

    ctx = open_context('param')
    try:
        client = _node_client(ctx, node, 'get_parameters', timeout_s)
        request = get_message('rcl_interfaces/srv/GetParameters_Request')(names=[name])
        values = list(client.call(request, timeout_s).values)
    finally:
        ctx.close()
    if not values:
        raise RosInputError(f"node '{node}' has no parameter '{name}'")
    type_, value = value_from_msg(values[0])
    if type_ == ParameterType.NOT_SET:
        return 'Parameter not set.'
    if type_ in (ParameterType.BYTE_ARRAY, ParameterType.BOOL_ARRAY, ParameterType.INTEGER_ARRAY,
                 ParameterType.DOUBLE_ARRAY, ParameterType.STRING_ARRAY):
        return f'{_TYPE_WORDS[type_]} values are: {value}'
    return f'{_TYPE_WORDS[type_]} value is: {value}'


def parameter_from_text(name: str, value_text: str) -> Parameter:
    """
    The parameter ``ros2 param set`` sends for VALUE (rclpy.parameter.get_parameter_value):
    YAML; a list of booleans, integers, doubles or strings is an array of that type (an empty
    list a boolean array, as there); null, a mapping, a mixed list or text that is not YAML is
    the string as typed.
    """
    import yaml

    try:
        value = yaml.safe_load(value_text)
    except yaml.YAMLError:
        value = value_text
    if isinstance(value, (bool, int, float, str)):
        return Parameter(name, value=value)
    if isinstance(value, list):
        for type_, kind in ((ParameterType.BOOL_ARRAY, bool), (ParameterType.INTEGER_ARRAY, int),
                            (ParameterType.DOUBLE_ARRAY, float),
                            (ParameterType.STRING_ARRAY, str)):
            if all(isinstance(v, kind) for v in value):
                return Parameter(name, type_, [kind(v) for v in value])
    return Parameter(name, ParameterType.STRING, value_text)


def param_set(node: str, name: str, value_text: str, timeout_s: float = 5.0) -> tuple[bool, str]:
    """``ros2 param set NODE NAME VALUE``: ``(successful, reason)`` of the node's answer."""
    from ior_ros.runtime.topic_tools import open_context

    msg = parameter_from_text(name, value_text).to_parameter_msg()
    ctx = open_context('param')
    try:
        client = _node_client(ctx, node, 'set_parameters', timeout_s)
        request = get_message('rcl_interfaces/srv/SetParameters_Request')(parameters=[msg])
        (result,) = client.call(request, timeout_s).results
    finally:
        ctx.close()
    reason = str(result.reason)
    if not result.successful and reason.startswith(UNDECLARED_REASON):
        raise RosInputError(f"node '{_absolute(node)}' has no parameter '{name}' (ior param list "
                            f'{_absolute(node)} shows those it has)')
    return bool(result.successful), reason


_DESCRIBE_TYPES = {ParameterType.NOT_SET: 'not set', ParameterType.BOOL: 'boolean',
                   ParameterType.INTEGER: 'integer', ParameterType.DOUBLE: 'double',
                   ParameterType.STRING: 'string', ParameterType.BYTE_ARRAY: 'byte array',
                   ParameterType.BOOL_ARRAY: 'boolean array',
                   ParameterType.INTEGER_ARRAY: 'integer array',
                   ParameterType.DOUBLE_ARRAY: 'double array',
                   ParameterType.STRING_ARRAY: 'string array'}


def _number(value: Any, integer: bool) -> int | float:
    plain = value.item() if hasattr(value, 'item') else value
    return int(plain) if integer else float(plain)


def describe_lines(descriptor: Any) -> list[str]:
    """What ``ros2 param describe`` prints for one rcl_interfaces/ParameterDescriptor."""
    lines = [f'Parameter name: {descriptor.name}',
             f'  Type: {_DESCRIBE_TYPES.get(ParameterType(int(descriptor.type)), "not set")}']
    if descriptor.description:
        lines.append(f'  Description: {descriptor.description}')
    lines.append('  Constraints:')
    if descriptor.read_only:
        lines.append('    Read only: true')
    ranges = [(r, False) for r in descriptor.floating_point_range]
    ranges += [(r, True) for r in descriptor.integer_range]
    if ranges:
        limits, integer = ranges[0]
        lines.append(f'    Min value: {_number(limits.from_value, integer)}')
        lines.append(f'    Max value: {_number(limits.to_value, integer)}')
        if limits.step:
            lines.append(f'    Step: {_number(limits.step, integer)}')
    if descriptor.additional_constraints:
        lines.append(f'    Additional constraints: {descriptor.additional_constraints}')
    return lines


def param_describe(node: str, names: list[str], timeout_s: float = 5.0) -> list[str]:
    """``ros2 param describe NODE NAME...``: the lines it prints (one block per parameter)."""
    from ior_ros.runtime.topic_tools import open_context

    ctx = open_context('param')
    try:
        client = _node_client(ctx, node, 'describe_parameters', timeout_s)
        request = get_message('rcl_interfaces/srv/DescribeParameters_Request')(names=names)
        descriptors = list(client.call(request, timeout_s).descriptors)
    finally:
        ctx.close()
    if not descriptors:  # the node answers nothing when any name is undeclared
        listed = ', '.join(f"'{n}'" for n in names)
        raise RosInputError(f"node '{_absolute(node)}' has no parameter {listed}"
                            if len(names) == 1 else
                            f"node '{_absolute(node)}' lacks at least one of the parameters "
                            f'{listed} (ior param list {_absolute(node)} shows those it has)')
    return [line for descriptor in descriptors for line in describe_lines(descriptor)]


def _absolute(node: str) -> str:
    from ior_ros.runtime.names import normalize_namespace

    return str(normalize_namespace(node if node.startswith('/') else '/' + node))
