"""
ROS interface type names and their DDS spellings.

``pkg/msg/Name`` (also written ``pkg/Name``) is a message, ``pkg/srv/Name`` a service, whose
halves are the messages ``pkg/srv/Name_Request`` and ``pkg/srv/Name_Response``. On the wire
rmw_cyclonedds_cpp names the DDS type ``pkg::msg::dds_::Name_`` (serdata.cpp:659-676).
"""

from __future__ import annotations

import re
from typing import Any

from ior_ros.runtime.errors import MessageTypeError

__all__ = ['normalize_type_name', 'normalize_service_name', 'dds_type_name', 'ros_type_from_dds',
           'service_type_from_dds', 'typename_of']


def normalize_type_name(name: str) -> str:
    """
    ``pkg/Name`` or ``pkg/msg/Name`` → ``pkg/msg/Name``; ``pkg/srv/Name_Request`` (the halves of a
    service, see :mod:`ior_ros.runtime.service`) stays as it is; anything else is a
    MessageTypeError.
    """
    text = name.strip()
    parts = text.split('/')
    if len(parts) == 2 and all(parts):
        return f'{parts[0]}/msg/{parts[1]}'
    if len(parts) == 3 and all(parts) and parts[1] in ('msg', 'srv'):
        return text
    raise MessageTypeError(f"message type {name!r}: expected 'pkg/msg/Name' or 'pkg/Name'")


def dds_type_name(typename: str) -> str:
    """ROS type ``pkg/msg/Name`` → DDS type ``pkg::msg::dds_::Name_`` (serdata.cpp:659-676)."""
    pkg, kind, short = normalize_type_name(typename).split('/')
    return f'{pkg}::{kind}::dds_::{short}_'


def ros_type_from_dds(dds_name: str) -> str | None:
    """DDS type name ``pkg::msg::dds_::Name_`` → ``pkg/msg/Name``; None for a non-ROS type."""
    match = re.fullmatch(r'([A-Za-z0-9_]+)::(msg|srv|action)::dds_::([A-Za-z0-9_]+)_', dds_name)
    if not match:
        return None
    return f'{match.group(1)}/{match.group(2)}/{match.group(3)}'


def normalize_service_name(name: str) -> str:
    """``pkg/Name`` or ``pkg/srv/Name`` → ``pkg/srv/Name``; anything else is a MessageTypeError."""
    parts = name.strip().split('/')
    if len(parts) == 2 and all(parts):
        parts = [parts[0], 'srv', parts[1]]
    if len(parts) != 3 or not all(parts) or parts[1] != 'srv':
        raise MessageTypeError(f"service type {name!r}: expected 'pkg/srv/Name' or 'pkg/Name'")
    return '/'.join(parts)


def service_type_from_dds(dds_name: str) -> str | None:
    """``pkg::srv::dds_::Name_Request_`` (or ``_Response_``) → ``pkg/srv/Name`` (rmw_dds_common's
    ``_demangle_service_type_only``); None for anything else."""
    match = re.fullmatch(r'(.+)::srv::dds_::(.+)_(?:Request|Response)_', dds_name)
    if not match:
        return None
    return f"{match.group(1).replace('::', '/')}/srv/{match.group(2)}"


def typename_of(message: Any) -> str:
    """``pkg/msg/Name`` of a message object (ours or rclpy's)."""
    name = getattr(type(message), '__msgtype__', None)
    if name:
        return str(name)
    module = type(message).__module__  # rclpy: 'std_msgs.msg._string', 'std_srvs.srv._set_bool'
    parts = module.split('.')
    if len(parts) >= 2 and parts[1] in ('msg', 'srv'):
        return f'{parts[0]}/{parts[1]}/{type(message).__name__}'
    raise MessageTypeError(f'{type(message).__name__} is not a ROS message')
