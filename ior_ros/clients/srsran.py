"""
Remote control of an srsRAN Project gNB: per-slice PRB quotas and per-UE metrics over its
WebSocket server (srsRAN 25.10 and later; ``docs/reference`` ran-equipment §3.3, §3.4).

The gNB takes one ``rrm_policy_ratio_set`` command per policy (3GPP TS 28.541 ``RRMPolicyRatio``:
a member list of PLMN + S-NSSAI and min/max/dedicated ratios in percent of the cell's PRBs) and
applies it to **every** cell (the command carries no NR-CGI). It cannot be read back, it answers
success for a member it does not know and for a policy whose min exceeds its max after the ratios
are truncated to PRBs (both only logged), and it ignores the dedicated ratio. So this client

* validates each policy and the whole set per cell with the TS 28.541 rules (dedicated <= min <=
  max <= 100, sum of min <= 100, sum of dedicated <= 100) **before** anything is sent
  (:class:`~ior_ros.clients.errors.EquipmentValidationError`);
* keeps what it applied itself (:attr:`SrsranClient.applied`, the shadow state), and re-sends it
  after the gNB restarts (a restart reverts the gNB to its YAML);
* matches each response to its request: the gNB answers one frame per request, in order, and a
  frame holding ``cmd`` or ``error`` is a response; metrics frames (``metrics_subscribe``)
  interleave with them and go to a queue;
* raises the gNB's own error text as :class:`~ior_ros.clients.errors.EquipmentRejected`, a late
  answer as :class:`~ior_ros.clients.errors.EquipmentTimeout`, a refused or lost connection as
  :class:`~ior_ros.clients.errors.EquipmentUnavailable`.

Releases before 25.10 (24.10, 25.04) have no ``rrm_policy_ratio_set``: :meth:`SrsranClient.connect`
detects it by sending a no-op policy (no min and no max: a no-op success on 25.10, ``Unknown
command type: rrm_policy_ratio_set`` on 25.04) and then applies policies through a
:class:`YamlFallback` (``ior_ros.clients.srsran_yaml``: ``cell_cfg.slicing`` plus a restart).

:class:`SrsranClient` is asyncio; :class:`SrsranGnb` is a blocking facade that runs it on its own
event-loop thread, for the CLI and for a ROS node calling from its executor thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import math
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from ior_ros.clients.errors import (
    EquipmentError,
    EquipmentRejected,
    EquipmentTimeout,
    EquipmentUnavailable,
    EquipmentValidationError,
)

__all__ = ['SlicePolicy', 'SliceKey', 'validate_policy_set', 'policy_from_template',
           'GnbCapabilities', 'ApplyResult', 'UeMetrics', 'CellMetrics', 'MetricsReport',
           'parse_metrics_frame', 'YamlFallback', 'SrsranClient', 'SrsranGnb', 'SD_NONE',
           'UNKNOWN_RRM_COMMAND']

SD_NONE = 0xFFFFFF
"""The reserved 'no SD' value of TS 23.003 §28.4.2 (srsRAN's default slice differentiator)."""

UNKNOWN_RRM_COMMAND = 'Unknown command type: rrm_policy_ratio_set'
"""What a gNB before 25.10 answers to the policy command (remote_server.cpp)."""

_PLMN = re.compile(r'^[0-9]{5,6}$')

SliceKey = tuple[str, int, 'int | None']
"""(PLMN, SST, SD or None): the identity of one RRM policy member."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _slice_text(plmn: str, sst: int, sd: int | None) -> str:
    return f'plmn {plmn} sst {sst}' + ('' if sd is None else f' sd {sd:#x}')


@dataclass(frozen=True)
class SlicePolicy:
    """
    One TS 28.541 ``RRMPolicyRatio`` for one slice, in whole percent of the cell's PRBs.

    Attributes:
        sst: Slice/Service Type, 0..255.
        sd: Slice Differentiator, 0..0xFFFFFE, or None for none (0xFFFFFF is 'none' on the wire
            and is refused here: write None).
        min_ratio: rRMPolicyMinRatio: PRBs the slice gets whenever it has data [%].
        max_ratio: rRMPolicyMaxRatio: the most PRBs the slice may get [%].
        dedicated_ratio: rRMPolicyDedicatedRatio: PRBs kept for it even when idle [%]; srsRAN
            accepts it and resets it to 0 (ran-equipment §3.3), the YAML of 25.10 applies it.
        plmn: PLMN identity, MCC + MNC as 5 or 6 digits (``"00101"``).
        priority: srsRAN slice scheduling priority 0..254 (YAML path of 25.04 and later only;
            None: not written).

    Raises:
        EquipmentValidationError: a field outside what is allowed; the message names the slice,
            the field, the value and the allowed range (nothing is sent).
    """

    sst: int
    sd: int | None = None
    min_ratio: int = 0
    max_ratio: int = 100
    dedicated_ratio: int = 0
    plmn: str = '00101'
    priority: int | None = None

    def __post_init__(self) -> None:
        where = 'slice policy'
        if not isinstance(self.plmn, str) or not _PLMN.match(self.plmn):
            raise EquipmentValidationError(
                f"{where}: field 'plmn' = {self.plmn!r}: allowed MCC + MNC as 5 or 6 digits, "
                f"e.g. '00101'")
        if not _is_int(self.sst) or not 0 <= self.sst <= 255:
            raise EquipmentValidationError(
                f"{where} plmn {self.plmn}: field 'sst' = {self.sst!r}: allowed an integer "
                f'0..255 (TS 23.003 §28.4.2)')
        if self.sd is not None and (not _is_int(self.sd) or not 0 <= self.sd < SD_NONE):
            raise EquipmentValidationError(
                f"{where} plmn {self.plmn} sst {self.sst}: field 'sd' = {self.sd!r}: allowed an "
                f'integer 0..0xFFFFFE (16777214), or none (0xFFFFFF is the reserved no-SD value)')
        name = f'{where} {self.text}'
        for key in ('min_ratio', 'max_ratio', 'dedicated_ratio'):
            value = getattr(self, key)
            if not _is_int(value) or not 0 <= value <= 100:
                raise EquipmentValidationError(
                    f"{name}: field '{key}' = {value!r}: allowed an integer percent 0..100 "
                    f'(TS 28.541 RRMPolicyRatio)')
        if not self.dedicated_ratio <= self.min_ratio <= self.max_ratio:
            raise EquipmentValidationError(
                f"{name}: fields 'dedicated_ratio' {self.dedicated_ratio} <= 'min_ratio' "
                f"{self.min_ratio} <= 'max_ratio' {self.max_ratio} must hold (TS 28.541 "
                f'RRMPolicyRatio)')
        if self.priority is not None and (not _is_int(self.priority)
                                          or not 0 <= self.priority <= 254):
            raise EquipmentValidationError(
                f"{name}: field 'priority' = {self.priority!r}: allowed an integer 0..254 "
                f'(255 is the SRB slice)')

    @property
    def key(self) -> SliceKey:
        """(plmn, sst, sd): the policy member this policy is for."""
        return (self.plmn, self.sst, self.sd)

    @property
    def text(self) -> str:
        """``plmn 00101 sst 1 sd 0x1`` as messages show it."""
        return _slice_text(self.plmn, self.sst, self.sd)

    def member(self) -> dict[str, Any]:
        """The ``rRMPolicyMemberList`` entry (``sd`` omitted when there is none)."""
        entry: dict[str, Any] = {'plmn': self.plmn, 'sst': self.sst}
        if self.sd is not None:
            entry['sd'] = self.sd
        return entry

    def command(self) -> dict[str, Any]:
        """The ``rrm_policy_ratio_set`` request of ran-equipment §3.3."""
        return {'cmd': 'rrm_policy_ratio_set',
                'policies': {'resourceType': 'PRB', 'rRMPolicyMemberList': [self.member()],
                             'min_prb_policy_ratio': self.min_ratio,
                             'max_prb_policy_ratio': self.max_ratio,
                             'dedicated_ratio': self.dedicated_ratio}}

    def released(self) -> SlicePolicy:
        """The same slice back at min 0 / max 100 (the gNB's only 'removal' of a quota)."""
        return SlicePolicy(sst=self.sst, sd=self.sd, min_ratio=0, max_ratio=100,
                           dedicated_ratio=0, plmn=self.plmn, priority=self.priority)


def validate_policy_set(policies: Iterable[SlicePolicy], what: str = 'slice policies') -> None:
    """
    Check the policies one cell would hold together (every cell: srsRAN applies a policy to all).

    TS 28.541 Annex E ``RRMPolicyRatio``: the sum of rRMPolicyMinRatio and the sum of
    rRMPolicyDedicatedRatio over an entity's policies are each at most 100; one policy per
    member. srsRAN does not check the sums itself (ran-equipment §3.2), so this is the only check.

    Raises:
        EquipmentValidationError: a repeated slice, or a sum above 100 (naming the slices).
    """
    seen: set[SliceKey] = set()
    listed = list(policies)
    for policy in listed:
        if policy.key in seen:
            raise EquipmentValidationError(f'{what}: {policy.text} is given twice; one policy '
                                           f'per slice')
        seen.add(policy.key)
    # The dedicated sum follows from dedicated <= min and the min sum; checked as TS 28.541
    # states it all the same.
    for field_name, label in (('min_ratio', 'min'), ('dedicated_ratio', 'dedicated')):
        total = sum(getattr(p, field_name) for p in listed)
        if total > 100:
            parts = ' + '.join(f'{getattr(p, field_name)} ({p.text})' for p in listed
                               if getattr(p, field_name))
            raise EquipmentValidationError(
                f"{what}: sum of '{field_name}' = {parts} = {total} %: allowed at most 100 % "
                f'per cell (TS 28.541 RRMPolicyRatio: the {label} ratios of a cell sum to <= 100)')


def _whole_percent(template_name: str, field_name: str, fraction: float) -> int:
    percent = fraction * 100.0
    whole = round(percent)
    if not math.isfinite(percent) or abs(percent - whole) > 1e-6:
        raise EquipmentValidationError(
            f"slice template '{template_name}': field 'prb_ratio.{field_name}' = {fraction:g} "
            f'is {percent:g} %: the gNB takes whole percents (0..100)')
    return int(whole)


def policy_from_template(template: Any, plmn: str = '00101') -> SlicePolicy:
    """
    The gNB policy of a slice template (:class:`ior_ros.core.slicing.slice_templates.
    SliceTemplate`: S-NSSAI with SD as six hex digits, PRB ratios as fractions) in whole percent.

    Raises:
        EquipmentValidationError: a ratio that is not a whole percent, or a bad PLMN.
    """
    ratio = template.prb_ratio
    sd_text = template.snssai.sd
    return SlicePolicy(sst=int(template.snssai.sst),
                       sd=None if sd_text is None else int(sd_text, 16),
                       min_ratio=_whole_percent(template.name, 'min', ratio.min),
                       max_ratio=_whole_percent(template.name, 'max', ratio.max),
                       dedicated_ratio=_whole_percent(template.name, 'dedicated',
                                                      ratio.dedicated),
                       plmn=plmn)


@dataclass(frozen=True)
class GnbCapabilities:
    """
    What the gNB at the other end can do (ran-equipment §3.1, §6).

    Attributes:
        release: ``'25.10+'`` (runtime PRB quotas) or ``'24.10/25.04'`` (YAML and restart).
        runtime_policy: ``rrm_policy_ratio_set`` is there.
        metrics: ``metrics_subscribe`` is there (``metrics: enable_json: true``).
        dedicated: the dedicated ratio is applied (never at runtime: srsRAN resets it to 0).
        read_back: the applied policy can be read from the gNB (never at runtime).
        needs_preconfigured_slices: only slices of ``cell_cfg.slicing`` can be given a quota.
    """

    release: str
    runtime_policy: bool
    metrics: bool
    dedicated: bool = False
    read_back: bool = False
    needs_preconfigured_slices: bool = True


@dataclass(frozen=True)
class ApplyResult:
    """
    The outcome of :meth:`SrsranClient.apply_slice_policy`.

    Attributes:
        path: ``'websocket'`` (one command per policy) or ``'yaml'`` (file written, gNB
            restarted).
        policies: the policies sent, in order.
        seconds: time of each command (WebSocket) or of the whole write + restart (YAML) [s].
        notes: what the gNB will not do as asked (a dedicated ratio it resets to 0).
    """

    path: str
    policies: tuple[SlicePolicy, ...]
    seconds: tuple[float, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class UeMetrics:
    """
    One UE of a scheduler metrics report (ran-equipment §3.4; srsRAN ``ue_list`` entry).

    Attributes:
        rnti: C-RNTI. pci: the cell's physical cell id (None if absent).
        dl_bps, ul_bps: ``dl_brate``/``ul_brate`` [bit/s].
        cqi: wideband CQI (None: not observed). dl_mcs, ul_mcs: MCS index (None: absent).
        pusch_snr_db: PUSCH SNR [dB] (None: srsRAN omits it when NaN or 0).
        dl_buffer_bytes: ``dl_bs`` [bytes]. ul_buffer_bytes: ``bsr`` [bytes].
    """

    rnti: int
    pci: int | None
    dl_bps: float
    ul_bps: float
    cqi: int | None = None
    dl_mcs: int | None = None
    ul_mcs: int | None = None
    pusch_snr_db: float | None = None
    dl_buffer_bytes: int | None = None
    ul_buffer_bytes: int | None = None


@dataclass(frozen=True)
class CellMetrics:
    """One cell of a report: its PCI (None if absent) and its UEs."""

    pci: int | None
    ues: tuple[UeMetrics, ...]


@dataclass(frozen=True)
class MetricsReport:
    """
    One scheduler metrics frame.

    Attributes:
        timestamp: the gNB's timestamp [s since the epoch] (None if absent).
        received_s: when this client got it (``time.monotonic()``) [s].
        cells: the cells of the frame.
    """

    timestamp: float | None
    received_s: float
    cells: tuple[CellMetrics, ...]

    @property
    def ues(self) -> tuple[UeMetrics, ...]:
        """Every UE of every cell."""
        return tuple(ue for cell in self.cells for ue in cell.ues)


def _opt_int(entry: Mapping[str, Any], key: str) -> int | None:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value) if math.isfinite(value) else None


def _opt_float(entry: Mapping[str, Any], key: str) -> float | None:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _ue(entry: Any, pci: int | None) -> UeMetrics | None:
    if isinstance(entry, Mapping) and isinstance(entry.get('ue_container'), Mapping):
        entry = entry['ue_container']  # 24.10/25.04 UDP shape
    if not isinstance(entry, Mapping):
        return None
    rnti = _opt_int(entry, 'rnti')
    if rnti is None:
        return None
    ue_pci = _opt_int(entry, 'pci')
    return UeMetrics(rnti=rnti, pci=pci if ue_pci is None else ue_pci,
                     dl_bps=_opt_float(entry, 'dl_brate') or 0.0,
                     ul_bps=_opt_float(entry, 'ul_brate') or 0.0,
                     cqi=_opt_int(entry, 'cqi'), dl_mcs=_opt_int(entry, 'dl_mcs'),
                     ul_mcs=_opt_int(entry, 'ul_mcs'),
                     pusch_snr_db=_opt_float(entry, 'pusch_snr_db'),
                     dl_buffer_bytes=_opt_int(entry, 'dl_bs'),
                     ul_buffer_bytes=_opt_int(entry, 'bsr'))


def parse_metrics_frame(data: Any, received_s: float | None = None) -> MetricsReport | None:
    """
    A scheduler metrics frame as typed records, or None for a frame of another producer
    (top keys ``du``, ``rlc_metrics``, ``cu-cp``, ``cu-up``) or of an unknown shape.

    Reads the 25.10 shape ``{"timestamp", "cells": [{"cell_metrics", "ue_list"}]}`` and the
    24.10/25.04 shape ``{"timestamp", "cell_metrics", "ue_list": [{"ue_container"}]}``; a UE
    entry without an integer ``rnti`` is left out; absent or non-finite values are None.
    """
    if not isinstance(data, Mapping):
        return None
    now = time.monotonic() if received_s is None else received_s
    stamp = _opt_float(data, 'timestamp')
    if isinstance(data.get('cells'), list):
        raw_cells: list[Any] = data['cells']
    elif isinstance(data.get('ue_list'), list):
        raw_cells = [data]
    else:
        return None
    cells = []
    for raw in raw_cells:
        if not isinstance(raw, Mapping):
            continue
        cell_metrics = raw.get('cell_metrics')
        pci = _opt_int(cell_metrics, 'pci') if isinstance(cell_metrics, Mapping) else None
        ue_list = raw.get('ue_list')
        ues = [_ue(e, pci) for e in ue_list] if isinstance(ue_list, list) else []
        cells.append(CellMetrics(pci=pci, ues=tuple(u for u in ues if u is not None)))
    return MetricsReport(timestamp=stamp, received_s=now, cells=tuple(cells))


class YamlFallback(Protocol):
    """The 24.10/25.04 path: write ``cell_cfg.slicing`` and restart the gNB
    (:class:`ior_ros.clients.srsran_yaml.YamlGnbConfigurator`)."""

    def apply(self, policies: Sequence[SlicePolicy]) -> Any:
        """Write the whole policy set and restart; returns an object with ``total_s``."""


T = TypeVar('T')


@dataclass
class _Stats:
    reconnects: int = 0
    reapplied: int = 0
    metrics_frames: int = 0
    dropped_frames: int = 0
    last_reconnect_error: str = ''
    log: list[str] = field(default_factory=list)


class SrsranClient:
    """
    asyncio client of one gNB's remote-control WebSocket (module docstring).

    Args:
        url: ``ws://HOST:PORT/`` of the gNB (``remote_control: {enabled: true, port: 8001}``).
        timeout_s: the longest wait for one response [s].
        connect_timeout_s: the longest wait for the connection and handshake [s].
        reconnect: reconnect after the connection is lost (backoff from ``backoff_s`` doubling
            to ``backoff_max_s``), then re-subscribe to metrics and re-apply :attr:`applied`.
        configured_slices: the slices of the gNB's ``cell_cfg.slicing`` (keys); when given, a
            policy for another slice is refused before sending (the gNB would skip it silently).
        yaml_fallback: used instead of the WebSocket when the gNB has no
            ``rrm_policy_ratio_set`` (24.10/25.04).
        metrics_queue: how many metrics reports are kept for :meth:`next_metrics` (the oldest is
            dropped first).
    """

    def __init__(self, url: str, *, timeout_s: float = 2.0, connect_timeout_s: float = 2.0,
                 reconnect: bool = True, backoff_s: float = 0.05, backoff_max_s: float = 2.0,
                 configured_slices: Iterable[SliceKey] | None = None,
                 yaml_fallback: YamlFallback | None = None, metrics_queue: int = 256) -> None:
        if not isinstance(url, str) or not url.startswith(('ws://', 'wss://')):
            raise EquipmentValidationError(f'gNB url {url!r}: allowed ws://HOST:PORT/ or '
                                           f'wss://HOST:PORT/')
        for name, value in (('timeout_s', timeout_s), ('connect_timeout_s', connect_timeout_s),
                            ('backoff_s', backoff_s), ('backoff_max_s', backoff_max_s)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise EquipmentValidationError(f'gNB client: {name} = {value!r}: allowed a '
                                               f'number of seconds > 0')
        self.url = url
        self.timeout_s = float(timeout_s)
        self.connect_timeout_s = float(connect_timeout_s)
        self.reconnect = reconnect
        self.backoff_s = float(backoff_s)
        self.backoff_max_s = max(float(backoff_max_s), self.backoff_s)
        self.configured = None if configured_slices is None else set(configured_slices)
        self.yaml_fallback = yaml_fallback
        self.stats = _Stats()
        self._applied: dict[SliceKey, SlicePolicy] = {}
        self._caps: GnbCapabilities | None = None
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._reconnector: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._lock = asyncio.Lock()
        self._pending: asyncio.Future[dict[str, Any]] | None = None
        self._subscribed = False
        self._closing = False
        self._metrics: asyncio.Queue[MetricsReport] = asyncio.Queue(max(1, metrics_queue))
        self.latest_metrics: MetricsReport | None = None

    # -- state -------------------------------------------------------------------------------

    @property
    def applied(self) -> dict[SliceKey, SlicePolicy]:
        """The policies this client applied and the gNB accepted (the gNB has no read-back)."""
        return dict(self._applied)

    @property
    def capabilities(self) -> GnbCapabilities | None:
        """What :meth:`connect` detected (None before)."""
        return self._caps

    @property
    def connected(self) -> bool:
        """A connection is open and its state restored."""
        return self._connected.is_set()

    # -- connection --------------------------------------------------------------------------

    async def _open(self) -> Any:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake, InvalidURI

        try:
            ws = await connect(self.url, open_timeout=self.connect_timeout_s, compression=None,
                               max_size=4 * 1024 * 1024, ping_interval=20.0, ping_timeout=20.0)
        except InvalidURI as exc:
            raise EquipmentValidationError(f'gNB url {self.url!r}: {exc}') from None
        except TimeoutError:
            raise EquipmentTimeout(f'gNB {self.url}: no WebSocket handshake within '
                                   f'{self.connect_timeout_s:g} s') from None
        except ConnectionRefusedError:
            raise EquipmentUnavailable(f'gNB {self.url}: connection refused (is the gNB '
                                       f'running with remote_control enabled?)') from None
        except (OSError, InvalidHandshake) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            if 'Connect call failed' in reason:  # every address refused (OSError of several)
                raise EquipmentUnavailable(f'gNB {self.url}: connection refused (is the gNB '
                                           f'running with remote_control enabled?)') from None
            raise EquipmentUnavailable(f'gNB {self.url}: cannot connect: '
                                       f'{reason or type(exc).__name__}') from None
        self._ws = ws
        self._reader = asyncio.get_running_loop().create_task(self._read(ws))
        return ws

    async def connect(self) -> GnbCapabilities:
        """
        Open the WebSocket and detect what the gNB can do (a no-op ``rrm_policy_ratio_set``:
        neither min nor max present; and a ``metrics_unsubscribe``, which changes nothing).

        Raises:
            EquipmentUnavailable: refused or closed; EquipmentTimeout: no handshake or answer.
        """
        self._closing = False
        if self._ws is None:
            await self._open()
        self._caps = await self._detect()
        self._connected.set()
        return self._caps

    async def _detect(self) -> GnbCapabilities:
        probe = {'cmd': 'rrm_policy_ratio_set',
                 'policies': {'resourceType': 'PRB', 'rRMPolicyMemberList': []}}
        answer = await self._exchange(probe)
        if 'error' not in answer:
            runtime = True
        elif answer['error'] == UNKNOWN_RRM_COMMAND:
            runtime = False
        else:
            raise EquipmentRejected(f'gNB {self.url}: the no-op rrm_policy_ratio_set probe was '
                                    f'refused: {answer["error"]}', detail=str(answer['error']))
        metrics = 'error' not in await self._exchange({'cmd': 'metrics_unsubscribe'})
        return GnbCapabilities(release='25.10+' if runtime else '24.10/25.04',
                               runtime_policy=runtime, metrics=metrics)

    async def close(self) -> None:
        """Close the connection and stop reconnecting (the applied state is kept)."""
        self._closing = True
        self._connected.clear()
        for task in (self._reconnector,):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        self._reader = None

    async def _read(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for frame in ws:
                self._dispatch(frame)
        except ConnectionClosed:
            pass
        finally:
            if self._pending is not None and not self._pending.done():
                self._pending.set_exception(EquipmentUnavailable(
                    f'gNB {self.url}: connection lost before the answer'))
            if ws is self._ws:
                self._ws = None
                self._connected.clear()
                if not self._closing and self.reconnect and (
                        self._reconnector is None or self._reconnector.done()):
                    self.stats.log.append('connection lost; reconnecting')
                    self._reconnector = asyncio.get_running_loop().create_task(
                        self._reconnect_loop())

    def _dispatch(self, frame: str | bytes) -> None:
        if isinstance(frame, bytes):
            self.stats.dropped_frames += 1
            return
        try:
            data = json.loads(frame)
        except ValueError:
            self.stats.dropped_frames += 1
            return
        if isinstance(data, dict) and ('cmd' in data or 'error' in data):
            if self._pending is not None and not self._pending.done():
                self._pending.set_result(data)
            else:
                self.stats.dropped_frames += 1  # an answer nobody waits for
            return
        report = parse_metrics_frame(data)
        if report is None:
            self.stats.dropped_frames += 1
            return
        self.stats.metrics_frames += 1
        self.latest_metrics = report
        if self._metrics.full():
            self._metrics.get_nowait()
        self._metrics.put_nowait(report)

    async def _reconnect_loop(self) -> None:
        delay = self.backoff_s
        while not self._closing:
            try:
                ws = await self._open()
                # Re-detect (the gNB may have been replaced by another release), then restore
                # the state before requests may go again (they wait for _connected).
                self._caps = await self._detect()
                if self._subscribed:
                    await self._command({'cmd': 'metrics_subscribe'})
                if self._caps.runtime_policy:
                    for policy in list(self._applied.values()):
                        await self._apply_one(policy)
                        self.stats.reapplied += 1
                if ws is self._ws:
                    self.stats.reconnects += 1
                    self.stats.log.append(f'reconnected; re-applied {len(self._applied)} '
                                          f'policies')
                    self._connected.set()
                    return
            except EquipmentError as exc:
                self.stats.last_reconnect_error = str(exc)
                self._connected.clear()
                ws, self._ws = self._ws, None
                if ws is not None:
                    await ws.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2.0, self.backoff_max_s)

    # -- requests ----------------------------------------------------------------------------

    async def _exchange(self, payload: Mapping[str, Any] | str | bytes) -> dict[str, Any]:
        """Send one frame and wait for its response frame (no lock: callers hold it or are the
        connect/reconnect path)."""
        from websockets.exceptions import ConnectionClosed

        ws = self._ws
        if ws is None:
            raise EquipmentUnavailable(f'gNB {self.url}: not connected')
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._pending = future
        text = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
        try:
            await ws.send(text)
            return await asyncio.wait_for(future, self.timeout_s)
        except ConnectionClosed:
            raise EquipmentUnavailable(f'gNB {self.url}: connection lost while sending') \
                from None
        except TimeoutError:
            # A late answer would be taken for the next request's: start from a clean
            # connection (the reader reconnects and restores the state).
            await ws.close()
            raise EquipmentTimeout(f'gNB {self.url}: no answer within {self.timeout_s:g} s '
                                   f'to {_command_name(payload)}') from None
        finally:
            self._pending = None

    async def _wait_connected(self) -> None:
        if self._connected.is_set():
            return
        if self._closing or (self._ws is None and self._reconnector is None):
            raise EquipmentUnavailable(f'gNB {self.url}: not connected (call connect first)')
        try:
            await asyncio.wait_for(self._connected.wait(), self.timeout_s)
        except TimeoutError:
            reason = self.stats.last_reconnect_error or 'reconnecting'
            raise EquipmentUnavailable(f'gNB {self.url}: connection lost and not back within '
                                       f'{self.timeout_s:g} s ({reason})') from None

    async def request(self, payload: Mapping[str, Any] | str | bytes) -> dict[str, Any]:
        """
        Send one raw frame (a JSON object, text or bytes) and return the gNB's response object
        as it came, errors included (no validation: for tools and tests).
        """
        async with self._lock:
            await self._wait_connected()
            return await self._exchange(payload)

    async def _command(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        answer = await self._exchange(payload)
        if 'error' in answer:
            text = str(answer['error'])
            raise EquipmentRejected(f'gNB {self.url} refused {_command_name(payload)}: {text}',
                                    detail=text)
        return answer

    async def _apply_one(self, policy: SlicePolicy) -> float:
        start = time.perf_counter()
        try:
            await self._command(policy.command())
        except EquipmentRejected as exc:
            raise EquipmentRejected(f'gNB {self.url} refused the policy for {policy.text}: '
                                    f'{exc.detail}', detail=exc.detail) from None
        return time.perf_counter() - start

    def check(self, policies: Iterable[SlicePolicy]) -> list[SlicePolicy]:
        """
        The policies, checked as :meth:`apply_slice_policy` checks them (nothing sent): types,
        the configured slices, and the set they make with :attr:`applied`.

        Raises:
            EquipmentValidationError: the first problem found.
        """
        listed = list(policies)
        for policy in listed:
            if not isinstance(policy, SlicePolicy):
                raise EquipmentValidationError(f'slice policies: {policy!r} is not a '
                                               f'SlicePolicy')
            if self.configured is not None and policy.key not in self.configured:
                known = ', '.join(_slice_text(*k) for k in sorted(
                    self.configured, key=lambda k: (k[0], k[1], -1 if k[2] is None else k[2])))
                raise EquipmentValidationError(
                    f"slice policy {policy.text}: not a slice of the gNB's cell_cfg.slicing "
                    f'(allowed: {known or "none"}); the gNB would skip it and answer success')
        validate_policy_set(listed, 'slice policies (this request)')
        merged = {**self._applied, **{p.key: p for p in listed}}
        validate_policy_set(merged.values(), 'slice policies (this request with those applied)')
        return listed

    async def apply_slice_policy(self, policies: SlicePolicy | Iterable[SlicePolicy]) \
            -> ApplyResult:
        """
        Apply policies: validate, then one ``rrm_policy_ratio_set`` per policy (25.10+), or the
        whole set through the YAML fallback (24.10/25.04). Each accepted policy joins
        :attr:`applied`.

        Raises:
            EquipmentValidationError: refused before sending (nothing sent).
            EquipmentRejected: the gNB's error text (the policies before it stay applied).
            EquipmentTimeout, EquipmentUnavailable: no answer, or no connection.
        """
        listed = self.check([policies] if isinstance(policies, SlicePolicy) else policies)
        notes = tuple(f'{p.text}: dedicated_ratio {p.dedicated_ratio} is not applied at '
                      f'runtime (srsRAN resets it to 0)' for p in listed if p.dedicated_ratio)
        async with self._lock:
            await self._wait_connected()
            caps = self._caps
            if caps is not None and not caps.runtime_policy:
                if self.yaml_fallback is None:
                    raise EquipmentRejected(
                        f'gNB {self.url} is {caps.release}: it has no rrm_policy_ratio_set; '
                        f'configure the YAML path (gNB config file and restart command)',
                        detail=UNKNOWN_RRM_COMMAND)
                merged = {**self._applied, **{p.key: p for p in listed}}
                fallback = self.yaml_fallback
                outcome = await asyncio.to_thread(fallback.apply, list(merged.values()))
                self._applied = merged
                return ApplyResult(path='yaml', policies=tuple(listed),
                                   seconds=(float(getattr(outcome, 'total_s', 0.0)),))
            seconds = []
            for policy in listed:
                seconds.append(await self._apply_one(policy))
                self._applied[policy.key] = policy
        return ApplyResult(path='websocket', policies=tuple(listed), seconds=tuple(seconds),
                           notes=notes)

    async def release_slice(self, key: SliceKey) -> ApplyResult:
        """Put a slice back at min 0 / max 100 (the only 'delete' the gNB has) and forget it."""
        policy = self._applied.get(key)
        if policy is None:
            plmn, sst, sd = key
            policy = SlicePolicy(sst=sst, sd=sd, plmn=plmn)
        result = await self.apply_slice_policy(policy.released())
        self._applied.pop(key, None)
        return result

    async def metrics_subscribe(self) -> None:
        """Ask for the metrics push (kept across reconnections)."""
        async with self._lock:
            await self._wait_connected()
            await self._command({'cmd': 'metrics_subscribe'})
            self._subscribed = True

    async def metrics_unsubscribe(self) -> None:
        """Stop the metrics push."""
        async with self._lock:
            await self._wait_connected()
            await self._command({'cmd': 'metrics_unsubscribe'})
            self._subscribed = False

    async def next_metrics(self, timeout_s: float | None = None) -> MetricsReport:
        """
        The oldest metrics report not yet taken.

        Raises:
            EquipmentTimeout: none within ``timeout_s`` (default: the client's timeout).
        """
        wait = self.timeout_s if timeout_s is None else timeout_s
        try:
            return await asyncio.wait_for(self._metrics.get(), wait)
        except TimeoutError:
            hint = '' if self._subscribed else ' (not subscribed: call metrics_subscribe)'
            raise EquipmentTimeout(f'gNB {self.url}: no metrics report within {wait:g} s'
                                   f'{hint}') from None


def _command_name(payload: Mapping[str, Any] | str | bytes) -> str:
    if isinstance(payload, Mapping):
        return str(payload.get('cmd', 'the request'))
    return 'the request'


class SrsranGnb:
    """
    Blocking facade of :class:`SrsranClient`: the client runs on an event loop in a daemon
    thread of its own; each method waits for its result (for the CLI, and for a ROS node that
    calls from its executor thread). Same arguments as :class:`SrsranClient`.
    """

    def __init__(self, url: str, **options: Any) -> None:
        self._options = options
        self._url = url
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name='srsran-gnb',
                                        daemon=True)
        self._thread.start()
        try:
            self.client: SrsranClient = self._call(self._make, 5.0)
        except BaseException:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5.0)
            self._loop.close()
            raise

    async def _make(self) -> SrsranClient:
        return SrsranClient(self._url, **self._options)

    def _call(self, factory: Callable[[], Awaitable[T]], wait_s: float) -> T:
        async def run() -> T:
            return await factory()

        future = asyncio.run_coroutine_threadsafe(run(), self._loop)
        try:
            return future.result(wait_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise EquipmentTimeout(f'gNB {self._url}: no result within {wait_s:g} s') from None

    def _budget(self, n: int = 1) -> float:
        c = self.client
        return c.connect_timeout_s + (n + 2) * c.timeout_s + 5.0

    def connect(self) -> GnbCapabilities:
        """:meth:`SrsranClient.connect`."""
        return self._call(self.client.connect, self._budget(2))

    def apply_slice_policy(self, policies: SlicePolicy | Iterable[SlicePolicy]) -> ApplyResult:
        """:meth:`SrsranClient.apply_slice_policy` (a YAML restart may take longer: no cap)."""
        listed = [policies] if isinstance(policies, SlicePolicy) else list(policies)
        wait = self._budget(len(listed)) + (3600.0 if self.client.yaml_fallback else 0.0)
        return self._call(lambda: self.client.apply_slice_policy(listed), wait)

    def release_slice(self, key: SliceKey) -> ApplyResult:
        """:meth:`SrsranClient.release_slice`."""
        return self._call(lambda: self.client.release_slice(key), self._budget())

    def metrics_subscribe(self) -> None:
        """:meth:`SrsranClient.metrics_subscribe`."""
        self._call(self.client.metrics_subscribe, self._budget())

    def next_metrics(self, timeout_s: float | None = None) -> MetricsReport:
        """:meth:`SrsranClient.next_metrics`."""
        wait = self.client.timeout_s if timeout_s is None else timeout_s
        return self._call(lambda: self.client.next_metrics(timeout_s), wait + 5.0)

    def request(self, payload: Mapping[str, Any] | str | bytes) -> dict[str, Any]:
        """:meth:`SrsranClient.request`."""
        return self._call(lambda: self.client.request(payload), self._budget())

    @property
    def applied(self) -> dict[SliceKey, SlicePolicy]:
        """:attr:`SrsranClient.applied`."""
        return self.client.applied

    @property
    def capabilities(self) -> GnbCapabilities | None:
        """:attr:`SrsranClient.capabilities`."""
        return self.client.capabilities

    def close(self) -> None:
        """Close the connection and stop the loop thread."""
        if not self._loop.is_running():
            return
        with contextlib.suppress(EquipmentError):
            self._call(self.client.close, 10.0)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10.0)
        self._loop.close()

    def __enter__(self) -> SrsranGnb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
