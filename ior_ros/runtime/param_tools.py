"""
``ros2 param list | get | set`` on the DDS runtime: they call a node's parameter services
(:mod:`ior_ros.runtime.parameter_service`) through a :class:`~ior_ros.runtime.client.ServiceClient`
of the graph node ``ior_param_<pid>``, and print what ``ros2 param`` prints.
"""

from __future__ import annotations

from typing import Any

from ior_ros.runtime.client import ServiceClient
from ior_ros.runtime.errors import RosInputError
from ior_ros.runtime.parameter_service import PARAMETER_SERVICES, value_from_msg
from ior_ros.runtime.parameters import Parameter, ParameterType
from ior_ros.runtime.registry import get_message

__all__ = ['param_list', 'param_get', 'param_set']


def _node_client(ctx: Any, node: str, suffix: str, timeout_s: float) -> ServiceClient:
    from ior_ros.runtime.names import normalize_namespace

    fqn = normalize_namespace(node if node.startswith('/') else '/' + node)
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


def param_set(node: str, name: str, value_text: str, timeout_s: float = 5.0) -> tuple[bool, str]:
    """``ros2 param set NODE NAME VALUE`` (VALUE read as YAML): ``(successful, reason)``."""
    import yaml

    from ior_ros.runtime.topic_tools import open_context

    try:
        value = yaml.safe_load(value_text)
    except yaml.YAMLError as exc:
        raise RosInputError(f'parameter value {value_text!r} is not YAML: {exc}') from None
    try:
        msg = Parameter(name, value=value).to_parameter_msg()
    except (TypeError, ValueError) as exc:
        raise RosInputError(f'parameter value {value_text!r}: {exc}') from None
    ctx = open_context('param')
    try:
        client = _node_client(ctx, node, 'set_parameters', timeout_s)
        request = get_message('rcl_interfaces/srv/SetParameters_Request')(parameters=[msg])
        (result,) = client.call(request, timeout_s).results
    finally:
        ctx.close()
    return bool(result.successful), str(result.reason)
