"""
An emulated Quectel RM500Q on a pseudo-terminal, for users without the hardware and for tests:
the real driver (:mod:`ior_ros.clients.quectel`, pyserial on the device path) runs against it
unchanged.

What is modelled (docs/reference: ran-equipment.md §2 and §7; docs/equipment/modem.md):

* framing: echo on by default (``ATE0``/``ATE1``), ``<LF>`` ignored, ``;`` chaining (a failure
  stops the rest), ``AT+CMEE`` 0/1/2 (plain ``ERROR``, ``+CME ERROR: <n>``, ``+CME ERROR:
  <text>``), unknown commands answer plain ``ERROR`` in every mode;
* the response shapes of the captures: ``ATI``, ``+QENG: "servingcell"`` in SA (with the space
  before the MCC and ``-`` for srxlev), EN-DC and LTE, the 21-field ``+CGDCONT`` read, the
  ``+C5GREG`` query and URC forms, ``+C5GNSSAI``, ``+C5GNSSAIRDP``, ``+QNETRC``, ``+QRSRP``...;
* NAS state: ``AT+CFUN=0`` deregisters; ``AT+CFUN=1`` registers (after ``register_delay_s``)
  with the stored default configured NSSAI where the emulated network offers those slices
  (``offered``), else ``+C5GREG: 3`` with 5GMM cause 62 (no network slices available) readable
  by ``AT+QNETRC?``; the allowed NSSAI appears in ``+C5GREG`` answers and URCs;
* faults: URCs injected between the lines of the next response, a delay before every answer
  (``answer_delay_s``), silence (commands read, never answered), split writes, reboot (``RDY``,
  ``+CPIN: READY``, ``+QUSIM: 1``, ``+QIND: PB DONE``), unplug (the master is closed and the path
  disappears) and replug (a new pseudo-terminal behind the same link).

Every command line received is kept in :attr:`ModemEmulator.received` so tests can show that a
refused value never reached the "modem".
"""

from __future__ import annotations

import errno
import functools
import heapq
import itertools
import os
import re
import select
import threading
import time
import tty
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ior_ros.clients.errors import EquipmentError, EquipmentValidationError

__all__ = ['ModemEmulator', 'EmulatedCell', 'MODES', 'FIRMWARE', 'serve']

MODES = ('sa', 'nsa', 'lte')
FIRMWARE = 'RM500QGLABR11A06M4G'
IMEI = '869710030002905'

#: +CME ERROR texts under AT+CMEE=2, as Quectel writes them (manual Table 9)
_CME_TEXT = {3: 'operation not allowed', 4: 'operation not supported', 10: 'SIM not inserted',
             30: 'no network service', 50: 'Incorrect parameters', 100: 'unknown'}

_SNSSAI_RE = re.compile(
    r'^[0-9A-F]{2}(?:;[0-9A-F]{2}|\.[0-9A-F]{6}(?:;[0-9A-F]{2}(?:\.[0-9A-F]{6})?)?)?$')
_NR_BW_CODE = {5: 0, 10: 1, 15: 2, 20: 3, 25: 4, 30: 5, 40: 6, 50: 7, 60: 8, 70: 9, 80: 10,
               90: 11, 100: 12}


@dataclass
class EmulatedCell:
    """The emulated serving cell's figures (change them while running to move the 'radio')."""

    rsrp_dbm: int = -90
    rsrq_db: int = -11
    sinr_db: int = 11
    pci: int = 2
    arfcn: int = 647232
    band: int = 78
    bandwidth_mhz: int = 20
    tac: int = 0x000001
    nci: int = 0x000000301
    lte_earfcn: int = 1300
    lte_band: int = 3
    lte_pci: int = 123
    lte_rsrp_dbm: int = -95
    lte_rsrq_db: int = -10
    lte_sinr_db: int = 10


class _Fail(Exception):
    """A command failed: ``code`` is the CME number, ``None`` for plain ``ERROR``."""

    def __init__(self, code: int | None) -> None:
        super().__init__(code)
        self.code = code


def _snssai_octets(item: str) -> int:
    main, _, mapped = item.partition(';')
    return 1 + (3 if '.' in main else 0) + ((1 + (3 if '.' in mapped else 0)) if mapped else 0)


def _split_args(text: str) -> list[tuple[str, bool]]:
    """Split AT arguments at commas outside quotes: (text, quoted) pairs."""
    out: list[tuple[str, bool]] = []
    current: list[str] = []
    quoted = in_quotes = False
    for ch in text:
        if in_quotes:
            if ch == '"':
                in_quotes = False
            else:
                current.append(ch)
        elif ch == '"':
            quoted = in_quotes = True
        elif ch == ',':
            out.append((''.join(current).strip(), quoted))
            current, quoted = [], False
        else:
            current.append(ch)
    if in_quotes:
        raise _Fail(50)
    out.append((''.join(current).strip(), quoted))
    return out


def _split_chain(body: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    in_quotes = False
    for ch in body:
        if ch == '"':
            in_quotes = not in_quotes
        if ch == ';' and not in_quotes:
            parts.append(''.join(current))
            current = []
        else:
            current.append(ch)
    parts.append(''.join(current))
    return parts


class ModemEmulator:
    """
    An RM500Q answering on a pseudo-terminal.

    Args:
        mode: serving system, ``sa`` (NR5G-SA), ``nsa`` (EN-DC) or ``lte``.
        offered: the S-NSSAIs (AT form) the emulated network accepts.
        link: a path to keep pointing at the current device (a symlink, replaced atomically);
            clients that open it find the device again after :meth:`replug`.
        plmn: MCC+MNC of the emulated network.
        answer_delay_s: delay before every answer (slow mode).
        register_delay_s: time from ``AT+CFUN=1`` to the registration outcome.
        chunk_size: write answers in pieces of this many bytes (0: whole), 1 ms apart.
        qeng_lines: replay these lines as the answer to ``AT+QENG="servingcell"`` (a
            per-firmware capture) instead of generating them.
        sim_inserted: ``False`` makes ``AT+CPIN?`` answer CME 10.
    """

    def __init__(self, *, mode: str = 'sa', offered: Iterable[str] = ('01.000001',),
                 link: str | os.PathLike[str] | None = None, plmn: str = '00101',
                 answer_delay_s: float = 0.0, register_delay_s: float = 0.05,
                 chunk_size: int = 0, qeng_lines: Sequence[str] | None = None,
                 sim_inserted: bool = True) -> None:
        if mode not in MODES:
            raise EquipmentValidationError(f'mode: {mode!r} is not allowed; one of '
                                           f'{", ".join(MODES)}')
        offered = tuple(s.upper() for s in offered)
        for item in offered:
            if not _SNSSAI_RE.match(item):
                raise EquipmentValidationError(
                    f'offered: {item!r} is not an S-NSSAI in the AT form ("01" or "01.000001")')
        if not re.fullmatch(r'[0-9]{5,6}', plmn):
            raise EquipmentValidationError(f'plmn: {plmn!r} is not 5 or 6 digits')
        self.mode = mode
        self.offered = offered
        self.link = Path(link) if link is not None else None
        self.plmn = plmn
        self.answer_delay_s = answer_delay_s
        self.register_delay_s = register_delay_s
        self.chunk_size = chunk_size
        self.qeng_lines = tuple(qeng_lines) if qeng_lines is not None else None
        self.sim_inserted = sim_inserted
        self.cell = EmulatedCell()
        self.ul_bps = 2056
        self.dl_bps = 384
        self.silent = False
        self.received: list[str] = []
        self.received_bytes = 0
        self.device_path = ''
        self._master = -1
        self._slave = -1
        self._wake_r, self._wake_w = -1, -1
        self._thread: threading.Thread | None = None
        self._running = False
        self._calls: list[tuple[Callable[[], None], threading.Event]] = []
        self._calls_lock = threading.Lock()
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._counter = itertools.count()
        self._busy_until = 0.0
        self._line = bytearray()
        self._injected: list[str] = []
        self._reset_state()
        self.default_nssai: tuple[str, ...] = ()
        self.contexts: dict[int, tuple[str, str, str]] = {1: ('IP', 'internet', '')}

    # ---- state -------------------------------------------------------------------------------

    def _reset_state(self) -> None:
        """Power-on state (factory defaults of ran-equipment.md §2.2)."""
        self.echo = True
        self.cmee = 1
        self.creg_n = 0
        self.qnetrc_mode = 0
        self.cfun = 1
        self.stat = 0
        self.allowed: tuple[str, ...] = ()
        self.rejected: tuple[str, ...] = ()
        self.cause_5gmm = 0
        self.configured: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        """The path clients should open: the link if there is one, else the device."""
        return str(self.link) if self.link is not None else self.device_path

    # ---- life cycle --------------------------------------------------------------------------

    def start(self) -> str:
        """Open the pseudo-terminal, register on the network and answer; returns :attr:`path`."""
        if self._thread is not None:
            return self.path
        self._wake_r, self._wake_w = os.pipe()
        self._open_pty()
        self._running = True
        self._thread = threading.Thread(target=self._loop, name='modem-emulator', daemon=True)
        self._thread.start()
        self.call(self._power_on)
        return self.path

    def stop(self) -> None:
        """Stop answering, close the pseudo-terminal and remove the link (idempotent)."""
        if self._thread is None:
            return
        self._running = False
        os.write(self._wake_w, b'x')
        self._thread.join(timeout=5.0)
        self._thread = None
        self._close_pty()
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)
        self._wake_r = self._wake_w = -1

    def __enter__(self) -> ModemEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no kernel echo or line editing: the emulator does the echo
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.device_path = os.ttyname(slave)
        if self.link is not None:
            tmp = self.link.with_name(f'.{self.link.name}.{os.getpid()}.tmp')
            if tmp.is_symlink() or tmp.exists():
                tmp.unlink()
            os.symlink(self.device_path, tmp)
            os.replace(tmp, self.link)

    def _close_pty(self) -> None:
        if self.link is not None and self.link.is_symlink():
            self.link.unlink()
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1

    def call(self, fn: Callable[[], None], timeout_s: float = 5.0) -> None:
        """Run ``fn`` on the emulator's thread and wait for it (all state changes go there)."""
        if self._thread is None:
            fn()
            return
        done = threading.Event()
        with self._calls_lock:
            self._calls.append((fn, done))
        os.write(self._wake_w, b'x')
        if not done.wait(timeout_s):
            raise EquipmentError(f'modem emulator: a call did not run within {timeout_s:g} s')

    def unplug(self) -> None:
        """Take the device away: the link is removed first, then the master is closed."""
        self.call(self._unplug)

    def _unplug(self) -> None:
        self._events.clear()
        self._close_pty()
        self._line.clear()

    def replug(self) -> str:
        """A new pseudo-terminal behind the same link, with a freshly booted modem."""
        def plug() -> None:
            if self._master < 0:
                self._open_pty()
            self._power_on()
        self.call(plug)
        return self.path

    def reboot(self) -> None:
        """Restart the modem (settings back to defaults, boot URCs, registration again)."""
        self.call(self._power_on)

    def _power_on(self) -> None:
        self._reset_state()
        self._events.clear()
        self._busy_until = 0.0
        for urc in ('RDY', '+CPIN: READY', '+QUSIM: 1', '+QIND: PB DONE'):
            self._write_line(urc)
        self._schedule(self.register_delay_s, self._register)

    def send_urc(self, line: str) -> None:
        """Write one URC now (between two answers)."""
        self.call(lambda: self._write_line(line))

    def inject_urcs(self, lines: Sequence[str]) -> None:
        """Put these URCs between the lines of the next answer (after its first information
        line, or before its final code if it has none)."""
        def add() -> None:
            self._injected.extend(lines)
        self.call(add)

    def commands_received(self) -> int:
        """How many command lines have been received so far."""
        return len(self.received)

    # ---- I/O loop ----------------------------------------------------------------------------

    def _schedule(self, delay_s: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._events, (time.monotonic() + delay_s, next(self._counter), fn))

    def _loop(self) -> None:
        while self._running:
            timeout = None
            if self._events:
                timeout = max(0.0, self._events[0][0] - time.monotonic())
            fds = [self._wake_r] + ([self._master] if self._master >= 0 else [])
            try:
                readable, _, _ = select.select(fds, [], [], timeout)
            except (OSError, ValueError):
                readable = []
            if self._wake_r in readable:
                os.read(self._wake_r, 4096)
                with self._calls_lock:
                    calls, self._calls = self._calls, []
                for fn, done in calls:
                    try:
                        fn()
                    finally:
                        done.set()
            if self._master >= 0 and self._master in readable:
                try:
                    data = os.read(self._master, 4096)
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EIO):
                        raise
                    data = b''
                if data:
                    self._on_bytes(data)
            now = time.monotonic()
            while self._events and self._events[0][0] <= now:
                _, _, fn = heapq.heappop(self._events)
                fn()

    def _write(self, data: bytes) -> None:
        if self._master < 0:
            return
        pieces = [data] if self.chunk_size <= 0 else [
            data[i:i + self.chunk_size] for i in range(0, len(data), self.chunk_size)]
        for i, piece in enumerate(pieces):
            if i:
                time.sleep(0.001)
            try:
                os.write(self._master, piece)
            except OSError as exc:  # nobody reading and the buffer full: output is lost
                if exc.errno not in (errno.EAGAIN, errno.EIO):
                    raise
                return

    def _write_line(self, line: str) -> None:
        self._write(b'\r\n' + line.encode('ascii') + b'\r\n')

    def _on_bytes(self, data: bytes) -> None:
        self.received_bytes += len(data)
        if self.echo and not self.silent:
            self._write(data)
        for byte in data:
            if byte == 0x0A:  # <LF> is ignored on input (manual §1.4)
                continue
            if byte != 0x0D:
                self._line.append(byte)
                continue
            line = self._line.decode('ascii', errors='replace').strip()
            self._line.clear()
            if not line:
                continue
            self.received.append(line)
            if self.silent:
                continue
            lines = self._execute(line)
            if lines is None:
                continue
            start = max(time.monotonic(), self._busy_until) + self.answer_delay_s
            self._busy_until = start
            self._schedule(start - time.monotonic(), functools.partial(self._answer, lines))

    def _answer(self, lines: list[str]) -> None:
        injected, self._injected = self._injected, []
        info, final = lines[:-1], lines[-1]
        out = info[:1] + injected + info[1:] if info else injected
        payload = b''.join(b'\r\n' + text.encode('ascii') + b'\r\n' for text in out)
        self._write(payload + b'\r\n' + final.encode('ascii') + b'\r\n')

    # ---- command interpreter ---------------------------------------------------------------

    def _execute(self, line: str) -> list[str] | None:
        """The answer lines (information lines, then the final code) to one command line."""
        if not line[:2].upper() == 'AT':
            return None  # not a command: a modem ignores it
        out: list[str] = []
        for i, part in enumerate(_split_chain(line[2:])):
            part = part.strip()
            if i and not part.startswith('+'):
                return out + ['ERROR']
            try:
                out += self._one(part)
            except _Fail as fail:
                return out + [self._error(fail.code)]
        return out + ['OK']

    def _error(self, code: int | None) -> str:
        if code is None or self.cmee == 0:
            return 'ERROR'
        if self.cmee == 2:
            return f'+CME ERROR: {_CME_TEXT.get(code, code)}'
        return f'+CME ERROR: {code}'

    def _one(self, cmd: str) -> list[str]:
        upper = cmd.upper()
        if not upper.startswith('+'):
            return self._basic(upper)
        match = re.match(r'^(\+[A-Z0-9]+)(=\?|\?|=(.*))?$', cmd, re.IGNORECASE)
        if match is None:
            raise _Fail(None)
        name = match.group(1).upper()
        form = match.group(2) or ''
        args = match.group(3)
        handler = getattr(self, '_cmd_' + name[1:].lower(), None)
        if handler is None:
            raise _Fail(None)
        kind = 'test' if form == '=?' else 'read' if form == '?' else 'set' if args is not None \
            else 'exec'
        result: list[str] = handler(kind, _split_args(args) if args is not None else [])
        return result

    def _basic(self, cmd: str) -> list[str]:
        if cmd == '':
            return []
        if cmd == 'I' or cmd == 'I0':
            return ['Quectel', 'RM500Q-GL', f'Revision: {FIRMWARE}']
        if cmd in ('E0', 'E'):
            self.echo = False
            return []
        if cmd == 'E1':
            self.echo = True
            return []
        if cmd in ('Z', 'V1', 'Q0'):
            return []
        if cmd == '&F':
            self.echo, self.cmee = True, 1
            return []
        raise _Fail(None)

    # each _cmd_<name>(kind, args) returns information lines or raises _Fail

    @staticmethod
    def _int(args: list[tuple[str, bool]], i: int, allowed: Iterable[int]) -> int:
        try:
            value = int(args[i][0])
        except (IndexError, ValueError):
            raise _Fail(50) from None
        if value not in allowed:
            raise _Fail(50)
        return value

    def _cmd_cmee(self, kind: str, args: list[tuple[str, bool]]) -> list[str]:
        if kind == 'read':
            return [f'+CMEE: {self.cmee}']
        if kind == 'test':
            return ['+CMEE: (0-2)']
        self.cmee = self._int(args, 0, range(3))
        return []

    def _cmd_cgmr(self, kind: str, args: list[tuple[str, bool]]) -> list[str]:
        return [FIRMWARE]

    _cmd_gmr = _cmd_cgmr

    def _cmd_cgsn(self, kind: str, args: list[tuple[str, bool]]) -> list[str]:
        return [IMEI]

    _cmd_gsn = _cmd_cgsn

    def _cmd_cpin(self, kind: str, args: list[tuple[str, bool]]) -> list[str]:
        if not self.sim_inserted:
            raise _Fail(10)
        return ['+CPIN: READY']

    def _cmd_cfun(self, kind: str, args: list[tuple[str, bool]]) -> list[str]:
        if kind == 'read':
            return [f'+CFUN: {self.cfun}']
        if kind == 'test':
            return ['+CFUN: (0,1,4),(0-1)']
        fun = self._int(args, 0, (0, 1, 4))
        reset = self._int(args, 1, (0, 1)) if len(args) > 1 else 0
        if reset:
            self._schedule(0.01, self._power_on)
            return []
        if fun != 1:
            self.cfun = fun
            if self.stat != 0:
                self._set_registration(0)
        elif self.cfun != 1:
            self.cfun = 1
            self._set_registration(2)
            self._schedule(self.register_delay_s, self._register)
        return []

    def _cmd_c5greg(self, kind: str, args: list[tuple[str, bool]]) -> list[str]:
        if kind == 'read':
            return ['+C5GREG: ' + ','.join([str(self.creg_n), *self._c5greg_fields()])]
        if kind == 'test':
            return ['+C5GREG: (0-2)']
        self.creg_n = self._int(args, 0, range(3))
        return []

    def _cmd_cereg(self, kind: str, args: list[tuple[str, bool]]) -> list[str]:
        if kind == 'read':
            return [f'+CEREG: 0,{4 if self.mode == "sa" else self.stat}']
        return []

    def _cmd_cpas(self, kind: str, args: list[tuple[str, bool]]) -> list[str]:
        return ['+CPAS: 0']

    def _cmd_c5gnssai(self, kind: str, args: list[tuple[str, bool]]) -> list[str]:
        if kind == 'read':
            text = ':'.join(self.default_nssai)
            return [f'+C5GNSSAI: {sum(map(_snssai_octets, self.default_nssai))},"{text}"']
        if kind == 'test':
            return ['+C5GNSSAI: (0-159),"nssai"']
        length = self._int(args, 0, range(160))
        text = args[1][0].upper() if len(args) > 1 else ''
        items = tuple(text.split(':')) if text else ()
        if len(args) > 2 or any(not _SNSSAI_RE.match(item) for item in items) \
                or sum(map(_snssai_octets, items)) != length:
            raise _Fail(50)
        self.default_nssai = items
        return []

    def _cmd_c5gnssairdp(self, kind: str, args: list[tuple[str, bool]]) -> list[str]:
        if kind == 'test':
            return ['+C5GNSSAIRDP: (0-3),"plmn"']
        if kind != 'set':
            raise _Fail(None)
        nssai_type = self._int(args, 0, range(4))
        if len(args) > 1 and not re.fullmatch(r'[0-9]{5,6}', args[1][0]):
            raise _Fail(50)

        def pair(items: tuple[str, ...]) -> str:
            return f'{sum(_snssai_octets(i.split("#")[0]) for i in items)},"{":".join(items)}"'

        first = '+C5GNSSAIRDP: ' + pair(self.default_nssai)
        if nssai_type >= 1 and self.rejected:
            first += ',' + pair(tuple(f'{s}#0' for s in self.rejected)) + ',0,""'
        lines = [first]
        if nssai_type >= 2 and len(args) > 1:
            second = f'+C5GNSSAIRDP: "{args[1][0]}",' + pair(self.configured)
            if nssai_type >= 3:
                second += ',' + pair(self.allowed) + ',0,""'
            lines.append(second)
        return lines

    def _cmd_cgdcont(self, kind: str, args: list[tuple[str, bool]]) -> list[str]:
        if kind == 'read':
            # the 21-field read of firmware RM500QGLABR11A06M4G: S-NSSAI at index 16
            return [f'+CGDCONT: {cid},"{t}","{apn}","0.0.0.0",0,0,0,0,,,,,,,,,"{sn}",,,,0'
                    for cid, (t, apn, sn) in sorted(self.contexts.items())]
        if kind == 'test':
            return ['+CGDCONT: (1-42),"IP",,,(0-2),(0-4),(0-1),(0-1),,,,,,,,,,(0-2)']
        cid = self._int(args, 0, range(1, 43))
        if len(args) == 1:
            self.contexts.pop(cid, None)
            return []
        pdp_type = args[1][0].upper()
        if pdp_type not in ('IP', 'PPP', 'IPV6', 'IPV4V6'):
            raise _Fail(50)
        apn = args[2][0] if len(args) > 2 else ''
        snssai = args[17][0].upper() if len(args) > 17 else ''  # 27.007: parameter 18
        if snssai and not _SNSSAI_RE.match(snssai):
            raise _Fail(50)
        self.contexts[cid] = (pdp_type, apn, snssai)
        return []

    def _cmd_qeng(self, kind: str, args: list[tuple[str, bool]]) -> list[str]:
        if kind != 'set' or not args or args[0][0].lower() != 'servingcell':
            raise _Fail(50) if kind == 'set' else _Fail(None)
        if self.qeng_lines is not None:
            return list(self.qeng_lines)
        if self.cfun != 1 or self.stat == 0:
            return ['+QENG: "servingcell","SEARCH"']
        state = 'NOCONN' if self.stat in (1, 5) else 'LIMSRV'
        c = self.cell
        mcc, mnc = self.plmn[:3], self.plmn[3:]
        bw = _NR_BW_CODE.get(c.bandwidth_mhz, 3)
        lte = (f'{"FDD"},{mcc},{mnc},{c.nci >> 8:X},{c.lte_pci},{c.lte_earfcn},{c.lte_band},'
               f'5,5,{c.tac:X},{c.lte_rsrp_dbm},{c.lte_rsrq_db},-65,'
               f'{round((c.lte_sinr_db + 20) / 2)},15,-,-32768')
        if self.mode == 'sa':
            return [f'+QENG: "servingcell","{state}","NR5G-SA","TDD", {mcc},{mnc},{c.nci:X},'
                    f'{c.pci},{c.tac:X},{c.arfcn},{c.band},{bw},{c.rsrp_dbm},{c.rsrq_db},'
                    f'{c.sinr_db},1,-']
        if self.mode == 'nsa':
            return [f'+QENG: "servingcell","{state}"', f'+QENG: "LTE",{lte}',
                    f'+QENG:"NR5G-NSA",{mcc},{mnc},{c.pci},{c.rsrp_dbm},{c.sinr_db},'
                    f'{c.rsrq_db},{c.arfcn},{c.band},{bw},1']
        return [f'+QENG: "servingcell","{state}","LTE",{lte}']

    def _rx(self, prefix: str, nr_value: int, lte_value: int) -> list[str]:
        lines = []
        if self.mode in ('nsa', 'lte'):
            lines.append(f'{prefix}: {lte_value},{lte_value - 2},-32768,-32768,LTE')
        if self.mode in ('sa', 'nsa'):
            lines.append(f'{prefix}: {nr_value},{nr_value - 2},-32768,-32768,NR5G')
        return lines

    def _cmd_qrsrp(self, kind: str, args: list[tuple[str, bool]]) -> list[str]:
        return self._rx('+QRSRP', self.cell.rsrp_dbm, self.cell.lte_rsrp_dbm)

    def _cmd_qrsrq(self, kind: str, args: list[tuple[str, bool]]) -> list[str]:
        return self._rx('+QRSRQ', self.cell.rsrq_db, self.cell.lte_rsrq_db)

    def _cmd_qsinr(self, kind: str, args: list[tuple[str, bool]]) -> list[str]:
        return self._rx('+QSINR', self.cell.sinr_db, self.cell.lte_sinr_db)

    def _cmd_qcsq(self, kind: str, args: list[tuple[str, bool]]) -> list[str]:
        if self.stat not in (1, 5):
            return ['+QCSQ: "NOSERVICE"']
        c = self.cell
        if self.mode == 'lte':
            return [f'+QCSQ: "LTE",-65,{c.lte_rsrp_dbm},{c.lte_sinr_db},{c.lte_rsrq_db}']
        return [f'+QCSQ: "NR5G",{c.rsrp_dbm},{c.sinr_db},{c.rsrq_db}']

    def _cmd_qnwcfg(self, kind: str, args: list[tuple[str, bool]]) -> list[str]:
        if kind == 'set' and args and args[0][0].lower() == 'up/down' and len(args) == 1:
            return [f'+QNWCFG: "up/down",{self.ul_bps},{self.dl_bps},2']
        raise _Fail(50)

    def _cmd_qnetrc(self, kind: str, args: list[tuple[str, bool]]) -> list[str]:
        if kind == 'read':
            return [f'+QNETRC: "5gmm_cause",{self.cause_5gmm}']
        if kind == 'set':
            self.qnetrc_mode = self._int(args, 0, range(8))
            return []
        return ['+QNETRC: (0-7)']

    def _cmd_qnwinfo(self, kind: str, args: list[tuple[str, bool]]) -> list[str]:
        if self.stat not in (1, 5):
            return ['+QNWINFO: No Service']
        c = self.cell
        if self.mode == 'lte':
            return [f'+QNWINFO: "FDD LTE","{self.plmn}","LTE BAND {c.lte_band}",{c.lte_earfcn}']
        return [f'+QNWINFO: "TDD NR5G","{self.plmn}","NR5G BAND {c.band}",{c.arfcn}']

    def _cmd_cops(self, kind: str, args: list[tuple[str, bool]]) -> list[str]:
        if kind != 'read':
            raise _Fail(3)
        if self.stat not in (1, 5):
            return ['+COPS: 0']
        act = {'sa': 11, 'nsa': 13, 'lte': 7}[self.mode]
        return [f'+COPS: 0,0,"Emulated",{act}']

    # ---- NAS ---------------------------------------------------------------------------------

    def _c5greg_fields(self) -> list[str]:
        if self.stat in (1, 5) and self.creg_n == 2:
            allowed = ':'.join(self.allowed)
            length = sum(map(_snssai_octets, self.allowed))
            return [str(self.stat), f'"{self.cell.tac:06X}"', f'"{self.cell.nci:08X}"',
                    '11' if self.mode == 'sa' else '10', str(length), f'"{allowed}"']
        return [str(self.stat)]

    def _set_registration(self, stat: int) -> None:
        self.stat = stat
        if stat == 0:
            self.allowed = ()
        if self.creg_n >= 1 and self._master >= 0:
            fields = self._c5greg_fields() if self.creg_n == 2 else [str(stat)]
            self._write_line('+C5GREG: ' + ','.join(fields))

    def _register(self) -> None:
        """The network's answer to a registration request with the stored NSSAI."""
        if self.cfun != 1:
            return
        requested = self.default_nssai or self.offered[:1]
        accepted = tuple(s for s in requested if s in self.offered)
        self.configured = self.offered
        if accepted:
            self.allowed = accepted
            self.rejected = tuple(s for s in requested if s not in self.offered)
            self.cause_5gmm = 0
            self._set_registration(1)
        else:
            self.allowed = ()
            self.rejected = tuple(requested)
            self.cause_5gmm = 62  # TS 24.501 Annex A: no network slices available
            self._set_registration(3)
            if self.qnetrc_mode & 4 and self._master >= 0:
                self._write_line('+QNETRC: "5gmm_cause",62')


def serve(emulator: ModemEmulator, *, on_ready: Callable[[str], None] | None = None,
          stop: threading.Event | None = None) -> None:
    """Start ``emulator``, report its path and answer until ``stop`` is set or Ctrl-C."""
    path = emulator.start()
    try:
        if on_ready is not None:
            on_ready(path)
        while stop is None or not stop.is_set():
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
