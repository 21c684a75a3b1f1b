"""
How rmw_cyclonedds_cpp puts a ROS 2 service on DDS (``docs/reference/ros2-dds-wire.md`` §1,
§4, §7); servers (:mod:`ior_ros.runtime.service`) and clients (:mod:`ior_ros.runtime.client`)
follow these rules:

* service ``/node/get_parameters`` is a request topic ``rq/node/get_parametersRequest`` of type
  ``rcl_interfaces::srv::dds_::GetParameters_Request_`` and a reply topic
  ``rr/node/get_parametersReply`` of type ``..._Response_``;
* every sample is ``00 01 00 00 | client guid u64 | sequence number i64 | body``; the body is the
  CDR of the request or response message laid out as if it started at offset 16 (8-aligned, so
  rosbags' body without its 4-byte header follows the 16 header bytes unchanged);
* the server echoes guid and sequence number; both server endpoints carry the same
  ``serviceid=<16 bytes in dotted hex>;`` before ``typehash=...;`` in their USER_DATA, which is
  what ``rmw_service_server_is_available`` compares (both client endpoints carry the same
  ``clientid=``); the dotted hex is rmw's ``csid_to_string`` (first byte padded to width 2 with
  a space, the others unpadded: `` 1.10.52.5a.0.0.0.7``); the request endpoint's ``typehash`` is
  the hash of ``<Srv>_Request``, the reply endpoint's that of ``<Srv>_Response`` (as a live
  rmw_cyclonedds_cpp server shows them).

Service types come from :func:`ior_ros.runtime.registry.get_service` (``.srv`` files or the
embedded set).
"""

from __future__ import annotations

import itertools
import struct
from typing import Any

from ior_ros.runtime.registry import get_service

__all__ = ['HEADER', 'HEADER_BE', 'ENDPOINT_IDS', 'SEQUENCE_NUMBERS', 'service_typename',
           'service_topics', 'dotted_id', 'fold_guid', 'split_sample', 'join_sample']

ENDPOINT_IDS = itertools.count(1)  # the last 4 bytes of a serviceid/clientid, per process
SEQUENCE_NUMBERS = itertools.count(1)  # of requests: one counter per process, as rmw's
HEADER = struct.Struct('<Qq')
HEADER_BE = struct.Struct('>Qq')


def split_sample(data: bytes) -> tuple[int, int, bytes] | None:
    """
    ``(client guid, sequence number, body)`` of a request or reply sample, or None when it is
    shorter than the 4-byte encapsulation and the 16-byte header. rmw_cyclonedds writes the
    header in the sample's byte order (odd encapsulation ids are little-endian); the body is laid
    out as if it started at offset 16 (8-aligned), so encapsulation + bytes 20.. decode as one
    message.
    """
    if len(data) < 20:
        return None
    guid, seq = (HEADER if data[1] & 1 else HEADER_BE).unpack_from(data, 4)
    return guid, seq, data[:4] + data[20:]


def join_sample(body: bytes | bytearray, guid: int, seq: int) -> bytearray:
    """A request or reply sample: the serialized message ``body`` with the header put after its
    encapsulation (little-endian, as this runtime serializes)."""
    return bytearray(body[:4]) + HEADER.pack(guid, seq) + body[4:]


def service_typename(srv_type: Any) -> str:
    """``pkg/srv/Name`` of a service class (ours, or a ``pkg/srv/Name`` string)."""
    name = getattr(srv_type, '__srvtype__', None)
    if isinstance(name, str) and name:
        return name
    if isinstance(srv_type, str):
        return str(get_service(srv_type).__srvtype__)
    raise TypeError(f'{srv_type!r} is not a service class (use ior_ros.runtime.get_service)')


def service_topics(service: str) -> tuple[str, str]:
    """DDS request and reply topics of the service ``/a/b`` (rmw_node.cpp:4975-4991)."""
    return f'rq{service}Request', f'rr{service}Reply'


def dotted_id(raw: bytes) -> str:
    """rmw_cyclonedds' ``csid_to_string``: hex, the first byte ``setw(2)``, the others bare."""
    return f'{raw[0]:2x}' + ''.join(f'.{b:x}' for b in raw[1:])


def fold_guid(gid: bytes) -> int:
    """A u64 client id from a 16-byte DDS GUID (both halves XORed; never 0)."""
    return (int.from_bytes(gid[:8], 'little') ^ int.from_bytes(gid[8:16], 'little')) or 1
