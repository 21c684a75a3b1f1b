"""
ROS 2 messages and services: the names user code imports (``get_message``, ``get_service``,
``registry``, ``message_to_dict``, ...), gathered from the modules of the message layer.

* :mod:`~ior_ros.runtime.msg_parser`: the ``.msg``/``.srv`` grammar (errors name file and line)
  and declared default values;
* :mod:`~ior_ros.runtime.interface_files`: where definitions are found (``msg/``,
  ``IOR_ROS_MSG_PATH``, ``AMENT_PREFIX_PATH``, the embedded services);
* :mod:`~ior_ros.runtime.field_types`: rosbags' field descriptions and the primitive types;
* :mod:`~ior_ros.runtime.message_classes`: the generated, rclpy-like Python classes;
* :mod:`~ior_ros.runtime.registry`: the process-wide registry of types, classes and their CDR
  serialization;
* :mod:`~ior_ros.runtime.type_description`: REP-2011 type descriptions and RIHS01 hashes;
* :mod:`~ior_ros.runtime.type_names`: ``pkg/msg/Name`` and the DDS type names;
* :mod:`~ior_ros.runtime.conversions`: messages to dicts, and filled from YAML values.
"""

from __future__ import annotations

from ior_ros.runtime.conversions import message_to_dict, set_message_fields
from ior_ros.runtime.field_types import PRIMITIVE_TYPES
from ior_ros.runtime.interface_files import EMBEDDED_SERVICES, find_interface_file
from ior_ros.runtime.message_classes import RosMessage, RosService
from ior_ros.runtime.msg_parser import parse_msg_definition
from ior_ros.runtime.registry import (
    MessageRegistry,
    deserialize,
    get_message,
    get_service,
    registry,
    serialize,
    type_hash,
)
from ior_ros.runtime.type_description import rihs01
from ior_ros.runtime.type_names import (
    dds_type_name,
    normalize_service_name,
    normalize_type_name,
    ros_type_from_dds,
    typename_of,
)

__all__ = ['RosMessage', 'MessageRegistry', 'registry', 'get_message', 'normalize_type_name',
           'dds_type_name', 'ros_type_from_dds', 'message_to_dict', 'set_message_fields',
           'parse_msg_definition', 'serialize', 'deserialize', 'type_hash', 'typename_of',
           'PRIMITIVE_TYPES', 'RosService', 'get_service', 'normalize_service_name',
           'find_interface_file', 'rihs01', 'EMBEDDED_SERVICES']
