"""
The DDS endpoints of the runtime: raw-CDR readers and writers, and the Cyclone types behind them.

Fast path: samples are serialized by rosbags' generated code (``uint8[]`` is one memcpy) and
written as raw CDR with cyclonedds' ``ddspy_write``/``ddspy_write_ts``; readers take raw CDR with
``ddspy_take`` and rosbags decodes it (``uint8[]`` is a zero-copy numpy view). The cyclonedds
typed path, which packs ``uint8[]`` element by element (14 MB/s for 1 MB images), is never used;
the IDL type (:func:`idl_type`) exists only because Cyclone needs one to create a topic (and
checks raw payloads against it). These ``ddspy_*`` functions are private API of cyclonedds 11.0.x
(pinned).

Every endpoint's USER_DATA carries ``typehash=RIHS01_<hex>;`` (after a ``serviceid=``/
``clientid=`` prefix for service endpoints), as rmw_cyclonedds_cpp writes it. An incompatible QoS
match is reported with rmw's policy name (:func:`rmw_policy_name`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ior_ros.runtime.errors import DdsError
from ior_ros.runtime.qos import QoSProfile, to_dds_qos
from ior_ros.runtime.registry import registry
from ior_ros.runtime.type_names import dds_type_name

if TYPE_CHECKING:
    from ior_ros.runtime.dds import DdsContext

__all__ = ['RawWriter', 'RawReader', 'idl_type', 'rmw_policy_name', 'delete_entity']

_TAKE_BATCH = 64
# dds_return_t values and DDS_INFINITY (ddsrt/retcode.h, dds/ddsrt/time.h)
_DDS_RETCODE_OK = 0
_DDS_RETCODE_TIMEOUT = -10
_DDS_INFINITY = 2**63 - 1

_IDL_CACHE: dict[str, Any] = {}
_IDL_LOCK = threading.RLock()


def idl_type(typename: str) -> Any:
    """The cyclonedds IdlStruct of a ROS type (``pkg::msg::dds_::Name_``), cached per process."""
    with _IDL_LOCK:
        return _idl_type_locked(typename)


def _idl_type_locked(typename: str) -> Any:
    found = _IDL_CACHE.get(typename)
    if found is not None:
        return found
    from cyclonedds.idl import make_idl_struct
    from cyclonedds.idl import types as t

    base_types = {'bool': bool, 'byte': t.byte, 'char': t.uint8, 'int8': t.int8,
                  'uint8': t.uint8, 'int16': t.int16, 'uint16': t.uint16, 'int32': t.int32,
                  'uint32': t.uint32, 'int64': t.int64, 'uint64': t.uint64,
                  'float32': t.float32, 'float64': t.float64}
    reg = registry()

    def field_type(desc: Any) -> Any:
        kind = desc[0]
        if kind == 1:
            name, bound = desc[1]
            if name in ('string', 'wstring'):
                return t.bounded_str[bound] if bound else str  # type: ignore[misc]
            return base_types[name]
        if kind == 2:
            return _idl_type_locked(desc[1])
        sub, count = desc[1]
        if kind == 3:
            return t.array[field_type(sub), count]  # type: ignore[misc]
        return (t.sequence[field_type(sub), count]  # type: ignore[misc]
                if count else t.sequence[field_type(sub)])  # type: ignore[misc]

    fields = {name: field_type(desc) for name, desc in reg.fields(typename)}
    if typename.split('/')[1] == 'srv':
        # rmw_cyclonedds writes a request header (client guid u64, sequence number i64) before
        # the body of every service sample (serdata.hpp:73-77); Cyclone checks raw payloads
        # against this type, so it carries the header as its first two members
        fields = {'ior_client_guid_': t.uint64, 'ior_sequence_number_': t.int64, **fields}
    short = typename.split('/')[-1]
    cls = make_idl_struct(f'{short}_', dds_type_name(typename), fields)
    _IDL_CACHE[typename] = cls
    return cls


def forget_deleted_entities() -> None:
    """
    Drop from cyclonedds' entity table every entity whose DDS handle is gone (the children of a
    deleted participant), so that their Python objects, when collected later, do not call
    ``dds_delete`` again. Such a late call from the garbage collector during interpreter
    finalization was seen to block forever (a node that did not exit after SIGINT; its only stack
    was ``Entity.__del__`` → ``dds_delete``): deleting happens at shutdown, while the interpreter
    and its threads are alive, and never from finalization.
    """
    try:
        from cyclonedds.core import Entity
    except ImportError:  # pragma: no cover - the DDS backend is not installed
        return
    table = Entity._entities
    for ref, entity in list(table.items()):
        try:
            entity.get_parent()  # type: ignore[no-untyped-call]
        except Exception:  # noqa: BLE001  (a deleted handle: DDSException)
            table.pop(ref, None)


def delete_entity(entity: Any) -> None:
    """Delete a cyclonedds entity now (nothing when it went with its parent already)."""
    try:
        entity.__del__()
    except Exception:  # noqa: S110  (already deleted with its parent)
        pass


# rmw_cyclonedds_cpp reports an incompatible QoS with rmw's policy kind, mapped from the DDS QoS
# policy id (rmw_node.cpp, dds_qos_policy_to_rmw_qos_policy); rclpy prints that kind's name.
_RMW_POLICY_NAMES = {2: 'DURABILITY', 4: 'DEADLINE', 8: 'LIVELINESS', 11: 'RELIABILITY',
                     13: 'HISTORY', 21: 'LIFESPAN'}


def rmw_policy_name(dds_policy_id: int) -> str:
    """The rmw QoS policy name of a DDS QoS policy id ('INVALID' for those rmw does not map)."""
    return _RMW_POLICY_NAMES.get(int(dds_policy_id), 'INVALID')


class _IncompatibleQosCheck:
    """
    The incompatible-QoS event of one endpoint, read by polling its status from the executor's
    thread (:meth:`~ior_ros.runtime.dds.DdsContext.check_statuses`), not by a listener: a
    cyclonedds listener runs Python on a Cyclone thread, which must take the GIL inside Cyclone
    (a thread killed at interpreter exit in the middle of a callback leaves Cyclone waiting for
    it forever). So no Python code runs on Cyclone's threads.
    """

    def __init__(self, entity: Any, writer: bool, callback: Callable[[str], None]) -> None:
        self.callback = callback
        self._get = entity.get_offered_incompatible_qos_status if writer else \
            entity.get_requested_incompatible_qos_status

    def check(self) -> bool:
        """Call the callback (policy name) if a new incompatible match happened since the last
        check; False when the endpoint is gone."""
        try:
            status = self._get()
        except Exception:  # noqa: BLE001  (deleted endpoint: stop checking it)
            return False
        if status.total_count_change > 0:
            self.callback(rmw_policy_name(status.last_policy_id))
        return True


class RawWriter:
    """A DataWriter that writes pre-serialized CDR (the fast path)."""

    def __init__(self, ctx: DdsContext, topic: str, typename: str, qos: QoSProfile,
                 user_data_prefix: str = '',
                 on_incompatible_qos: Callable[[str], None] | None = None) -> None:
        from cyclonedds.pub import DataWriter

        self.ctx = ctx
        self.topic = topic
        self.typename = typename
        self.qos = qos
        user_data = f'{user_data_prefix}typehash={registry().type_hash(typename)};'.encode()
        self.writer = DataWriter(ctx.participant, ctx.topic(topic, typename),
                                 to_dds_qos(qos, user_data, writer=True))
        self.gid = self.writer.guid.bytes
        if on_incompatible_qos is not None:
            ctx.watch_status(_IncompatibleQosCheck(self.writer, True, on_incompatible_qos))
        from cyclonedds._clayer import ddspy_write, ddspy_write_ts

        self._write = ddspy_write
        self._write_ts = ddspy_write_ts
        self._ref = self.writer._ref

    def write(self, data: bytes | bytearray, timestamp_ns: int | None = None) -> None:
        """Write one serialized sample (with its 4-byte header, padded to 4)."""
        if timestamp_ns is None:
            ret = self._write(self._ref, data)
        else:
            ret = self._write_ts(self._ref, data, timestamp_ns)
        if ret < 0:
            raise DdsError(f'DDS write on {self.topic} failed with return code {ret} (payload '
                           f'{len(data)} bytes rejected by the {self.typename} type?)')

    def matched_count(self) -> int:
        """Number of matched readers."""
        status = self.writer.get_publication_matched_status()  # type: ignore[no-untyped-call]
        return int(status.current_count)

    def wait_for_acks(self, timeout_s: float) -> bool:
        """
        Block until every matched reliable reader acknowledged (True) or ``timeout_s`` passed
        (False, e.g. a reader in a stopped process).

        Calls ``dds_wait_for_acks`` through cyclonedds' binding and reads its return code here:
        cyclonedds 11.0.x's ``DataWriter.wait_for_acks`` compares it with
        ``Exception.DDS_RETCODE_TIMEOUT`` (pub.py), so it raises AttributeError exactly when the
        wait times out.
        """
        timeout_ns = min(_DDS_INFINITY, max(0, int(timeout_s * 1e9)))
        ret = int(self.writer._wait_for_acks(self._ref, timeout_ns))
        if ret == _DDS_RETCODE_OK:
            return True
        if ret == _DDS_RETCODE_TIMEOUT:
            return False
        raise DdsError(f'DDS wait_for_acks on {self.topic} failed with return code {ret}')

    def matched_reader_gids(self) -> list[bytes]:
        """The 16-byte GUIDs of the matched readers (those that vanished meanwhile left out)."""
        found = []
        for handle in self.writer.get_matched_subscriptions():  # type: ignore[no-untyped-call]
            try:
                endpoint = self.writer.get_matched_subscription_data(handle)
            except Exception:  # noqa: BLE001, S112 - unmatched since the list was taken
                continue
            if endpoint is not None:
                found.append(bytes(endpoint.key.bytes))
        return found

    def close(self) -> None:
        """Delete the DDS writer."""
        delete_entity(self.writer)


class RawReader:
    """A DataReader that takes raw CDR samples; attached to the context's waitset."""

    def __init__(self, ctx: DdsContext, topic: str, typename: str, qos: QoSProfile,
                 attach: bool = True, user_data_prefix: str = '',
                 on_incompatible_qos: Callable[[str], None] | None = None) -> None:
        from cyclonedds._clayer import ddspy_take
        from cyclonedds.core import InstanceState, ReadCondition, SampleState, ViewState
        from cyclonedds.sub import DataReader

        self.ctx = ctx
        self.topic = topic
        self.typename = typename
        self.qos = qos
        user_data = f'{user_data_prefix}typehash={registry().type_hash(typename)};'.encode()
        self.reader = DataReader(ctx.participant, ctx.topic(topic, typename),
                                 to_dds_qos(qos, user_data, writer=False))
        self.gid = self.reader.guid.bytes
        if on_incompatible_qos is not None:
            ctx.watch_status(_IncompatibleQosCheck(self.reader, False, on_incompatible_qos))
        self._mask = SampleState.Any | ViewState.Any | InstanceState.Any
        self.condition = ReadCondition(self.reader, self._mask)
        self._take = ddspy_take
        self._ref = self.reader._ref
        self._attached = attach
        if attach:
            ctx.attach(self.condition)

    def take(self, max_samples: int = _TAKE_BATCH) -> list[tuple[bytes, Any]]:
        """Up to ``max_samples`` valid samples as ``(cdr_bytes, sample_info)``."""
        ret = self._take(self._ref, self._mask, max_samples)
        if isinstance(ret, int):
            raise DdsError(f'DDS take on {self.topic} failed with return code {ret}')
        return [(data, info) for data, info in ret if info.valid_data]

    def matched_count(self) -> int:
        """Number of matched writers."""
        status = self.reader.get_subscription_matched_status()  # type: ignore[no-untyped-call]
        return int(status.current_count)

    def close(self) -> None:
        """Detach and delete the DDS reader."""
        if self._attached:
            self.ctx.detach(self.condition)
        delete_entity(self.condition)
        delete_entity(self.reader)
