"""
An srsRAN Project gNB remote-control server without a radio: a real WebSocket server that
answers as ``apps/services/remote_control/remote_server.cpp`` and the DU's
``rrm_policy_ratio_set`` handling do (ran-equipment §3.3, §3.4, §7), so the real client
(:mod:`ior_ros.clients.srsran`), ``websocat`` or a user's script run unchanged against it.

What is modelled, from the srsRAN sources:

* the envelope: TEXT frames only (a binary frame gets the error ``This WebSocket server only
  supports opcode TEXT messages``), 16 KiB maximum payload (a larger frame closes the connection
  with 1009), any path, one compact JSON response per request with keys in nlohmann's (sorted)
  order and a UTC ``%Y-%m-%dT%H:%M:%S.mmm`` timestamp; ``'cmd' object is missing ...``,
  ``'cmd' object value type should be a string``, ``Unknown command type: X``; a JSON syntax
  error answers in nlohmann's ``[json.exception.parse_error.101] parse error at line L, column
  C: ...`` form (same form, not the same words after the colon);
* ``rrm_policy_ratio_set``: the validation order and strings of §3.3 (negative ratios wrap to
  unsigned, SST taken modulo 256 as ``get<uint8_t>`` does), absent min = 0 and max = 100,
  neither present = no-op success, ratios truncated to PRBs
  (``static_cast<int>(ratio / 100.0 * nof_prbs)``), applied to every cell, the dedicated ratio
  ignored (reset to 0), success answered for a member no cell has (``No RRM policy member found
  for ... in cell N`` logged) and for min_prb > max_prb (``Invalid min/max ... Skipping update.``
  logged);
* ``metrics_subscribe``/``metrics_unsubscribe`` and a periodic push of 25.10 scheduler JSON
  (indent 2 plus a newline) whose ``dl_brate`` follows the policy: every UE is backlogged, each
  slice with UEs first gets its min PRBs, the rest is shared equally up to each slice's max, a
  slice's PRBs are shared equally by its UEs, and a PRB carries ``bps_per_prb`` bit/s (this
  allocation is the emulator's, not srsRAN's scheduler);
* ``quit`` (stops the server), ``ssb_set`` (validated, accepted);
* release 25.04 (``release='25.04'``): only ``quit`` and ``ssb_set``, so ``rrm_policy_ratio_set``
  and ``metrics_subscribe`` answer ``Unknown command type: ...``;
* :meth:`GnbEmulator.restart`: stop and start on the same port; the state reverts to the YAML.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from ior_ros.clients.errors import EquipmentUnavailable, EquipmentValidationError
from ior_ros.clients.srsran_yaml import CellConfig, SliceEntry

__all__ = ['GnbEmulator', 'GnbEmulatorThread', 'EmulatedUe', 'SliceState', 'MAX_PAYLOAD',
           'TEXT_ONLY_ERROR', 'default_cells']

MAX_PAYLOAD = 16 * 1024
"""uWebSockets ``maxPayloadLength`` of srsRAN's remote server [bytes]."""

TEXT_ONLY_ERROR = 'This WebSocket server only supports opcode TEXT messages'

_RATIO_KEYS = ('min_prb_policy_ratio', 'max_prb_policy_ratio', 'dedicated_ratio')
_SD_NONE = 0xFFFFFF


def default_cells() -> list[CellConfig]:
    """One 20 MHz / 30 kHz cell (51 PRBs, PLMN 00101) with slices SST 1 SD 1 and SST 2 SD 1
    (the ids of ``config/slices/``), min 0 / max 100 as a YAML without ratios gives."""
    return [CellConfig(pci=1, plmn='00101', nof_prbs=51,
                       slices=(SliceEntry(sst=1, sd=1), SliceEntry(sst=2, sd=1)))]


@dataclass
class SliceState:
    """One configured slice of one cell: its ratios and the PRB bounds the scheduler uses."""

    sst: int
    sd: int | None
    min_ratio: int
    max_ratio: int
    min_prb: int
    max_prb: int
    dedicated_ratio: int = 0


@dataclass(frozen=True)
class EmulatedUe:
    """A backlogged UE of the emulated cell ``cell`` in slice (sst, sd); (None, None) = the
    default slice."""

    rnti: int
    sst: int | None = None
    sd: int | None = None
    cell: int = 0
    cqi: int = 15
    dl_mcs: int = 27
    ul_mcs: int = 20
    pusch_snr_db: float = 25.0


def _prbs(ratio: int, nof_prbs: int) -> int:
    """du_cell_manager.cpp: ``static_cast<int>((1.0 * ratio / 100) * nof_prbs)``."""
    return int((1.0 * ratio / 100) * nof_prbs)


def _timestamp() -> str:
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime('%Y-%m-%dT%H:%M:%S.') + f'{now.microsecond // 1000:03d}'


def _dump(obj: Mapping[str, Any]) -> str:
    """nlohmann ``dump()``: compact, keys sorted (std::map)."""
    return json.dumps(obj, separators=(',', ':'), sort_keys=True, ensure_ascii=False)


def _is_integer(value: Any) -> bool:
    """nlohmann ``is_number_integer`` (a JSON integer within 64 bits; not a bool or float)."""
    return isinstance(value, int) and not isinstance(value, bool) and \
        -(1 << 63) <= value < (1 << 64)


def _as_unsigned_of_int(value: int) -> int:
    """``static_cast<unsigned>(j.get<int>())``: to int32, then to uint32."""
    return value & 0xFFFFFFFF


def _plmn_ok(text: str) -> bool:
    return len(text) in (5, 6) and text.isascii() and text.isdigit()


def _no_constant(name: str) -> Any:
    raise ValueError(f'invalid literal {name}')


class _CommandError(Exception):
    pass


class GnbEmulator:
    """
    The emulated gNB (module docstring); asyncio: ``await start()`` / ``await stop()`` on the
    loop that serves it (:class:`GnbEmulatorThread` runs one on a thread of its own).

    Args:
        cells: the cells and their ``cell_cfg.slicing`` (:func:`default_cells` if None; build
            them from a gNB YAML with :func:`~ior_ros.clients.srsran_yaml.read_gnb_cells`).
        release: ``'25.10'`` (runtime PRB quotas, metrics push) or ``'25.04'``.
        host, port: where to listen (port 0: any free port; :attr:`url` tells which).
        metrics_period_s: period of the metrics push [s].
        bps_per_prb: throughput one PRB carries for a backlogged UE [bit/s].
        ues: the UEs (default: one per configured slice per cell, RNTI 0x4601 upwards).
        reply_delay_s: time before each answer [s] (0: at once).
        metrics_enabled: ``metrics: enable_json: true`` (else the metrics commands are unknown).
    """

    def __init__(self, cells: Sequence[CellConfig] | None = None, *, release: str = '25.10',
                 host: str = '127.0.0.1', port: int = 0, metrics_period_s: float = 0.1,
                 bps_per_prb: float = 1.0e6, ues: Sequence[EmulatedUe] | None = None,
                 reply_delay_s: float = 0.0, metrics_enabled: bool = True) -> None:
        if release not in ('25.04', '25.10'):
            raise EquipmentValidationError(f'gNB emulator release {release!r}: allowed 25.10 '
                                           f'(runtime PRB quotas) or 25.04 (YAML only)')
        if not (metrics_period_s > 0):
            raise EquipmentValidationError(f'gNB emulator metrics_period_s = '
                                           f'{metrics_period_s!r}: allowed a number > 0')
        self.cells = list(default_cells() if cells is None else cells)
        self.release = release
        self.host = host
        self.port = port
        self.metrics_period_s = float(metrics_period_s)
        self.bps_per_prb = float(bps_per_prb)
        self.reply_delay_s = float(reply_delay_s)
        self.metrics_enabled = metrics_enabled
        if ues is None:
            rnti = 0x4601
            built = []
            for index, cell in enumerate(self.cells):
                for entry in cell.slices:
                    built.append(EmulatedUe(rnti=rnti, sst=entry.sst, sd=entry.sd, cell=index))
                    rnti += 1
            ues = built
        self.ues = list(ues)
        self.log: list[str] = []
        """Log lines as the gNB writes them (warnings of skipped updates, confirmations)."""
        self.received: list[str | bytes] = []
        """Every frame received, in order (a test can assert nothing was sent)."""
        self.fail_next_apply = False
        """Answer the next valid policy that has a min or max ratio with ``RRM policy ratio
        remote command procedure failed to be applied by the DU`` (a fault to inject)."""
        self.state: list[list[SliceState]] = []
        self._server: Any = None
        self._subscribers: set[Any] = set()
        self._metrics_task: asyncio.Task[None] | None = None
        self._quit = asyncio.Event()
        self.reset_state()

    # -- state -------------------------------------------------------------------------------

    def reset_state(self) -> None:
        """The per-cell slice state of the YAML (what a fresh gNB starts with)."""
        self.state = [[SliceState(sst=s.sst, sd=s.sd, min_ratio=s.min_ratio,
                                  max_ratio=s.max_ratio, min_prb=_prbs(s.min_ratio, c.nof_prbs),
                                  max_prb=_prbs(s.max_ratio, c.nof_prbs),
                                  dedicated_ratio=s.dedicated_ratio)
                       for s in c.slices] for c in self.cells]

    def slice_state(self, sst: int, sd: int | None, cell: int = 0) -> SliceState:
        """A copy of one slice's state (KeyError if the cell has no such slice)."""
        for entry in self.state[cell]:
            if entry.sst == sst and entry.sd == sd:
                return replace(entry)
        raise KeyError((sst, sd))

    @property
    def url(self) -> str:
        """``ws://HOST:PORT/`` once started."""
        return f'ws://{self.host}:{self.port}/'

    @property
    def running(self) -> bool:
        """The server is listening."""
        return self._server is not None

    # -- server ------------------------------------------------------------------------------

    async def start(self) -> str:
        """Listen (on :attr:`port`; a port of 0 is replaced by the one chosen); the URL."""
        from websockets.asyncio.server import serve

        if self._server is not None:
            return self.url
        try:
            self._server = await serve(self._handle, self.host, self.port,
                                       max_size=MAX_PAYLOAD, compression=None,
                                       ping_interval=None)
        except OSError as exc:
            raise EquipmentUnavailable(f'gNB emulator: cannot listen on {self.host}:{self.port}: '
                                       f'{exc.strerror or exc}') from None
        self.port = self._server.sockets[0].getsockname()[1]
        self._quit = asyncio.Event()
        self._metrics_task = asyncio.get_running_loop().create_task(self._push_metrics())
        self.log.append(f'Remote control server listening on {self.host}:{self.port}')
        return self.url

    async def stop(self) -> None:
        """Close every connection and stop listening (the state is kept until :meth:`start`
        after :meth:`restart`)."""
        server, self._server = self._server, None
        task, self._metrics_task = self._metrics_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._subscribers.clear()
        if server is not None:
            server.close()
            await server.wait_closed()

    async def restart(self, down_s: float = 0.0) -> str:
        """Stop, wait ``down_s``, revert to the YAML state and start on the same port."""
        await self.stop()
        if down_s > 0:
            await asyncio.sleep(down_s)
        self.reset_state()
        self.log.append('gNB restarted: slicing reverted to cell_cfg.slicing')
        return await self.start()

    async def serve_until_quit(self) -> None:
        """Wait until a ``quit`` command (or cancellation), then stop."""
        try:
            await self._quit.wait()
        finally:
            await self.stop()

    async def _handle(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for message in ws:
                self.received.append(message)
                if isinstance(message, bytes):
                    reply = _dump({'error': TEXT_ONLY_ERROR, 'timestamp': _timestamp()})
                else:
                    reply = self.handle_command(message, ws)
                if self.reply_delay_s > 0:
                    await asyncio.sleep(self.reply_delay_s)
                await ws.send(reply)
        except ConnectionClosed:
            pass
        finally:
            self._subscribers.discard(ws)

    # -- commands ----------------------------------------------------------------------------

    def handle_command(self, text: str, client: Any = None) -> str:
        """The response frame to one TEXT request (remote_server.cpp ``handle_command``)."""
        try:
            request = json.loads(text, parse_constant=_no_constant)
        except ValueError as exc:
            line = getattr(exc, 'lineno', 1)
            column = getattr(exc, 'colno', 1)
            why = getattr(exc, 'msg', str(exc))
            return _dump({'error': f'[json.exception.parse_error.101] parse error at line '
                                   f'{line}, column {column}: syntax error while parsing value '
                                   f'- {why}', 'timestamp': _timestamp()})
        if not isinstance(request, dict) or 'cmd' not in request:
            return _dump({'error': "'cmd' object is missing and it is mandatory",
                          'timestamp': _timestamp()})
        cmd = request['cmd']
        if not isinstance(cmd, str):
            return _dump({'error': "'cmd' object value type should be a string",
                          'timestamp': _timestamp()})
        handlers: dict[str, Callable[[dict[str, Any], Any], None]] = {
            'quit': self._quit_command, 'ssb_set': self._ssb_set}
        if self.release == '25.10':
            handlers['rrm_policy_ratio_set'] = self._rrm_policy_ratio_set
            if self.metrics_enabled:
                handlers['metrics_subscribe'] = self._subscribe
                handlers['metrics_unsubscribe'] = self._unsubscribe
        handler = handlers.get(cmd)
        if handler is None:
            return _dump({'cmd': cmd, 'error': f'Unknown command type: {cmd}',
                          'timestamp': _timestamp()})
        try:
            handler(request, client)
        except _CommandError as exc:
            return _dump({'cmd': cmd, 'error': str(exc), 'timestamp': _timestamp()})
        return _dump({'cmd': cmd, 'timestamp': _timestamp()})

    def _quit_command(self, request: dict[str, Any], client: Any) -> None:
        self._quit.set()

    def _subscribe(self, request: dict[str, Any], client: Any) -> None:
        if client is not None:
            self._subscribers.add(client)

    def _unsubscribe(self, request: dict[str, Any], client: Any) -> None:
        self._subscribers.discard(client)

    def _ssb_set(self, request: dict[str, Any], client: Any) -> None:
        cells = request.get('cells')
        if cells is None:
            raise _CommandError("'cells' object is missing and it is mandatory")
        if not isinstance(cells, list):
            raise _CommandError("'cells' object value type should be an array")
        if not cells:
            raise _CommandError("'cells' object does not contain any cell entries")
        for cell in cells:
            cell = cell if isinstance(cell, dict) else {}
            if 'plmn' not in cell:
                raise _CommandError("'plmn' object is missing and it is mandatory")
            if not isinstance(cell['plmn'], str):
                raise _CommandError("'plmn' object value type should be a string")
            if 'nci' not in cell:
                raise _CommandError("'nci' object is missing and it is mandatory")
            if not _is_integer(cell['nci']) or cell['nci'] < 0:
                raise _CommandError("'nci' object value type should be an integer")
            if not _plmn_ok(cell['plmn']):
                raise _CommandError('Invalid PLMN identity value')
            if cell['nci'] >= 1 << 36:
                raise _CommandError('Invalid NR cell identity value')
            key = 'ssb_block_power_dbm'
            if key not in cell:
                raise _CommandError(f"'{key}' object is missing and it is mandatory")
            if not _is_integer(cell[key]):
                raise _CommandError(f"'{key}' object value type should be an integer")
            power = cell[key]
            if not -60 <= power <= 50:
                raise _CommandError(f"'{key}' value out of range, received '{power}', valid "
                                    f'range is from -60 to 50')

    def _rrm_policy_ratio_set(self, request: dict[str, Any], client: Any) -> None:
        """du_high_remote_commands.cpp, then du_cell_manager.cpp (module docstring)."""
        if 'policies' not in request:
            raise _CommandError("'policies' object is missing and it is mandatory")
        policies = request['policies']
        policies = policies if isinstance(policies, dict) else {}  # find() on a non-object
        if 'resourceType' not in policies:
            raise _CommandError("'resourceType' object is missing and it is mandatory")
        if not isinstance(policies['resourceType'], str):
            raise _CommandError("'resourceType' object value type should be a string")
        if policies['resourceType'] != 'PRB':
            raise _CommandError("Only 'resourceType' PRB value is supported")
        if 'rRMPolicyMemberList' not in policies:
            raise _CommandError("'rRMPolicyMemberList' object is missing and it is mandatory")
        members_raw = policies['rRMPolicyMemberList']
        if not isinstance(members_raw, list):
            raise _CommandError("'rRMPolicyMemberList' object value type should be an array")
        members: list[tuple[str, int, int]] = []
        for raw in members_raw:
            member = raw if isinstance(raw, dict) else {}
            if 'plmn' not in member:
                raise _CommandError("'plmn' object is missing and it is mandatory")
            if not isinstance(member['plmn'], str):
                raise _CommandError("'plmn' object value type should be a string")
            if not _plmn_ok(member['plmn']):
                raise _CommandError('Invalid PLMN identity value')
            if 'sst' not in member:
                raise _CommandError("'sst' object is missing and it is mandatory")
            if not _is_integer(member['sst']):
                raise _CommandError("'sst' object value type should be an integer")
            sst = member['sst'] & 0xFF  # get<uint8_t>()
            sd = _SD_NONE
            if 'sd' in member:
                if not _is_integer(member['sd']):
                    raise _CommandError("'sd' object value type should be an integer")
                sd = member['sd'] & 0xFFFFFFFF  # get<uint32_t>()
                if sd > _SD_NONE:
                    raise _CommandError('Invalid slice differentiator value')
            members.append((member['plmn'], sst, sd))
        ratios: dict[str, int | None] = {}
        for key in _RATIO_KEYS:
            ratios[key] = None
            if key in policies:
                if not _is_integer(policies[key]):
                    raise _CommandError(f"'{key}' object value type should be an integer")
                value = _as_unsigned_of_int(policies[key])
                if value > 100:
                    raise _CommandError(f"'{key}' value out of range, received '{value}', valid "
                                        f'range is from 0 to 100')
                ratios[key] = value
        changes = ratios['min_prb_policy_ratio'] is not None or \
            ratios['max_prb_policy_ratio'] is not None
        if self.fail_next_apply and changes:
            self.fail_next_apply = False
            raise _CommandError('RRM policy ratio remote command procedure failed to be '
                                'applied by the DU')
        self._apply(members, ratios['min_prb_policy_ratio'], ratios['max_prb_policy_ratio'])

    def _apply(self, members: list[tuple[str, int, int]], low: int | None,
               high: int | None) -> None:
        if low is None and high is None:
            return  # neither present: no-op (du_cell_manager.cpp `continue`)
        min_ratio = 0 if low is None else low
        max_ratio = 100 if high is None else high
        for index, cell in enumerate(self.cells):
            for plmn, sst, sd in members:
                shown = f'{{plmn={plmn} sst={sst} sd={sd:#x}}}'
                target = None
                if plmn == cell.plmn:
                    for entry in self.state[index]:
                        if entry.sst == sst and (_SD_NONE if entry.sd is None else entry.sd) == sd:
                            target = entry
                            break
                if target is None:
                    self.log.append(f'No RRM policy member found for {shown} in cell {index}')
                    continue
                min_prb = _prbs(min_ratio, cell.nof_prbs)
                max_prb = _prbs(max_ratio, cell.nof_prbs)
                if min_prb > max_prb:
                    self.log.append(f'Invalid min/max PRB policy ratio for {shown} in cell '
                                    f'{index}: min_prb={min_prb} > max_prb={max_prb}. Skipping '
                                    f'update.')
                    continue
                target.min_ratio, target.max_ratio = min_ratio, max_ratio
                target.min_prb, target.max_prb = min_prb, max_prb
                target.dedicated_ratio = 0
        self.log.append('DU reconfiguration procedure for RRM policy update completed')

    # -- metrics -----------------------------------------------------------------------------

    def slice_prbs(self, cell: int = 0) -> dict[tuple[int | None, int | None], float]:
        """PRBs each slice with UEs gets when every UE is backlogged (module docstring); the
        default slice is (None, None)."""
        nof = self.cells[cell].nof_prbs
        active = {(ue.sst, ue.sd) for ue in self.ues if ue.cell == cell}
        bounds: dict[tuple[int | None, int | None], tuple[float, float]] = {}
        for key in active:
            entry = next((s for s in self.state[cell] if (s.sst, s.sd) == key), None)
            bounds[key] = (0.0, float(nof)) if entry is None else \
                (float(entry.min_prb), float(entry.max_prb))
        total_min = sum(low for low, _ in bounds.values())
        scale = min(1.0, nof / total_min) if total_min > 0 else 1.0
        given = {k: low * scale for k, (low, _) in bounds.items()}
        left = nof - sum(given.values())
        while left > 1e-9:
            open_keys = [k for k in given if given[k] < bounds[k][1] - 1e-9]
            if not open_keys:
                break
            share = left / len(open_keys)
            for key in open_keys:
                extra = min(share, bounds[key][1] - given[key])
                given[key] += extra
                left -= extra
        return given

    def metrics_frame(self) -> dict[str, Any]:
        """One 25.10 scheduler metrics object (ran-equipment §3.4)."""
        cells = []
        for index, cell in enumerate(self.cells):
            prbs = self.slice_prbs(index)
            ues = [ue for ue in self.ues if ue.cell == index]
            counts: dict[tuple[int | None, int | None], int] = {}
            for ue in ues:
                counts[(ue.sst, ue.sd)] = counts.get((ue.sst, ue.sd), 0) + 1
            ue_list = []
            for ue in ues:
                key = (ue.sst, ue.sd)
                dl = prbs.get(key, 0.0) / counts[key] * self.bps_per_prb
                ue_list.append({'pci': cell.pci, 'rnti': ue.rnti, 'cqi': ue.cqi, 'dl_ri': 1,
                                'ul_ri': 1, 'dl_mcs': ue.dl_mcs, 'ul_mcs': ue.ul_mcs,
                                'dl_brate': round(dl, 3), 'ul_brate': round(0.2 * dl, 3),
                                'dl_nof_ok': 100, 'dl_nof_nok': 0, 'ul_nof_ok': 100,
                                'ul_nof_nok': 0, 'dl_bs': 100000, 'bsr': 20000,
                                'pusch_snr_db': ue.pusch_snr_db})
            cells.append({'cell_metrics': {'pci': cell.pci, 'nof_prbs': cell.nof_prbs},
                          'ue_list': ue_list, 'event_list': []})
        return {'timestamp': round(time.time(), 3), 'cells': cells}

    async def _push_metrics(self) -> None:
        from websockets.exceptions import ConnectionClosed

        while True:
            await asyncio.sleep(self.metrics_period_s)
            if not self._subscribers:
                continue
            text = json.dumps(self.metrics_frame(), indent=2) + '\n'
            for ws in list(self._subscribers):
                try:
                    await ws.send(text)
                except ConnectionClosed:
                    self._subscribers.discard(ws)


T = TypeVar('T')


@dataclass
class GnbEmulatorThread:
    """
    A :class:`GnbEmulator` served from an event loop on a daemon thread (for blocking code:
    the CLI, tests of the blocking facade). ``start()``/``stop()``/``restart()`` block;
    :meth:`call` runs a function on the emulator's loop (reads its state safely).
    """

    emulator: GnbEmulator
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _thread: threading.Thread | None = None

    def _run(self, factory: Callable[[], Any], timeout_s: float = 10.0) -> Any:
        async def run() -> Any:
            result = factory()
            if asyncio.iscoroutine(result):
                return await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout_s)

    def start(self) -> str:
        """Start the loop thread and the server; the URL."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop.run_forever, name='gnb-emulator',
                                            daemon=True)
            self._thread.start()
        url: str = self._run(self.emulator.start)
        return url

    def restart(self, down_s: float = 0.0) -> str:
        """:meth:`GnbEmulator.restart`."""
        url: str = self._run(lambda: self.emulator.restart(down_s), 10.0 + down_s)
        return url

    def stop_server(self) -> None:
        """Stop listening, keep the loop (start again with :meth:`start`)."""
        self._run(self.emulator.stop)

    def call(self, function: Callable[[GnbEmulator], T]) -> T:
        """``function(emulator)`` on the emulator's loop."""
        result: T = self._run(lambda: function(self.emulator))
        return result

    def stop(self) -> None:
        """Stop the server and the loop thread."""
        if self._thread is None:
            return
        self._run(self.emulator.stop)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10.0)
        self._loop.close()
        self._thread = None

    def __enter__(self) -> GnbEmulatorThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

