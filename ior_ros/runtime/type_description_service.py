"""
The ``~/get_type_description`` service of every node: rcl's
``rcl_node_type_description_service_handle_request`` (rcl 9.2) with rclpy's
TypeDescriptionService switch (read-only parameter ``start_type_description_service``).

A node counts the types its publishers, subscriptions, services and clients use (rcl's node type
cache); the service answers for those, looked up by the request's RIHS01 hash (``type_name`` is
not looked at, as in rcl).
"""

from __future__ import annotations

from typing import Any

from ior_ros.runtime.qos import qos_profile_services_default
from ior_ros.runtime.registry import get_message, get_service, registry
from ior_ros.runtime.service import ServiceServer

__all__ = ['TYPE_DESCRIPTION_SERVICE', 'START_TYPE_DESCRIPTION_SERVICE_PARAM', 'parse_type_hash',
           'type_description_msg', 'start_type_description_service']

TYPE_DESCRIPTION_SERVICE = 'type_description_interfaces/srv/GetTypeDescription'
START_TYPE_DESCRIPTION_SERVICE_PARAM = 'start_type_description_service'


def parse_type_hash(text: str) -> bytes | None:
    """
    The 32 hash bytes of a ``RIHS01_<64 hex>`` string, or None, with the rules of rosidl's
    ``rosidl_parse_type_hash_string`` (Jazzy): ``RIHS`` + two hex digits of version 1, total
    length 71, hex digits in either case (the character after the version is not checked).
    """
    digits = '0123456789abcdefABCDEF'
    if len(text) < 7 or not text.startswith('RIHS'):
        return None
    if text[4] not in digits or text[5] not in digits or int(text[4:6], 16) != 1:
        return None
    value = text[7:]
    if len(text) != 71 or any(c not in digits for c in value):
        return None
    return bytes.fromhex(value)


def type_description_msg(typename: str) -> Any:
    """type_description_interfaces/TypeDescription of a type (as rcl's type cache holds it)."""
    cls = {name: get_message(f'type_description_interfaces/msg/{name}')
           for name in ('TypeDescription', 'IndividualTypeDescription', 'Field', 'FieldType')}

    def individual(desc: dict[str, Any]) -> Any:
        return cls['IndividualTypeDescription'](
            type_name=desc['type_name'],
            fields=[cls['Field'](name=f['name'], type=cls['FieldType'](**f['type']),
                                 default_value=f['default_value']) for f in desc['fields']])

    description = registry().type_description(typename)
    return cls['TypeDescription'](
        type_description=individual(description['type_description']),
        referenced_type_descriptions=[individual(d) for d in
                                      description['referenced_type_descriptions']])


class _TypeDescriptionHandler:
    """rcl_node_type_description_service_handle_request (rcl 9.2, node.c) for one node."""

    def __init__(self, node: Any) -> None:
        self.node = node

    def __call__(self, request: Any) -> Any:
        response = get_service(TYPE_DESCRIPTION_SERVICE).Response(successful=False)
        digest = parse_type_hash(str(request.type_hash))
        if digest is None:
            from ior_ros.runtime.ros_logging import get_logger

            get_logger('rcl').error(f"Failed to parse type hash '{request.type_hash}'")
            response.failure_reason = 'Failed to parse type hash'
            return response
        typename = self.node._type_in_use(digest)  # the request's type_name is not used (rcl)
        if typename is None:
            response.failure_reason = 'Type not currently in use by this node'
            return response
        response.type_description = type_description_msg(typename)
        if request.include_type_sources:
            source = get_message('type_description_interfaces/msg/TypeSource')
            response.type_sources = [source(type_name=name, encoding=encoding,
                                            raw_file_contents=text)
                                     for name, encoding, text in registry().type_sources(typename)]
        response.successful = True
        return response


def start_type_description_service(node: Any) -> ServiceServer:
    """The node's ``~/get_type_description`` service (rclpy's TypeDescriptionService)."""
    return ServiceServer(node, node.resolve_topic_name('~/get_type_description'),
                         TYPE_DESCRIPTION_SERVICE, _TypeDescriptionHandler(node),
                         qos_profile_services_default)
