"""
AT command channel of a cellular modem: the response parser and one serialized engine.

Framing (3GPP TS 27.007 §4 and V.250 §5; Quectel RM5xx AT Commands Manual §1.3-1.7, §13): the
host sends ``AT...<CR>``; the modem answers with information lines ``<CR><LF>text<CR><LF>`` then
exactly one final result code, ``OK``, ``ERROR``, ``+CME ERROR: <err>`` or ``+CMS ERROR: <err>``.
Unsolicited result codes (URCs) may arrive at any time, including between the information lines
of a response and its final code (manual §13.7), so each command declares the prefix of its
information lines and every other line is a URC; prefixes shared by a response and a URC
(``+C5GREG:``, ``+QNWCFG: "rrc_state"``) are told apart by their number of fields
(docs/reference: ran-equipment.md §2.7). With echo on (the factory default ``ATE1``) the modem
first repeats the command line; that line is dropped.

The parser (:func:`parse_final`, :func:`split_fields`, :func:`parse_info`) raises
:class:`AtParseError` and nothing else on any input; the engine (:class:`AtChannel`) runs one
reader thread and one writer lock per port, applies a timeout per command, retries idempotent
queries, maps ``+CME ERROR`` to typed errors by code, and survives the port going away and
coming back without attributing a stale answer to a later command.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

from ior_ros.clients.errors import (
    EquipmentError,
    EquipmentRejected,
    EquipmentTimeout,
    EquipmentUnavailable,
)

__all__ = ['AtParseError', 'AtCommandError', 'CmeError', 'CmeOperationNotAllowed',
           'CmeOperationNotSupported', 'CmeSimNotInserted', 'CmeNoNetworkService',
           'CmeIncorrectParameters', 'CmeCellLockError', 'CmsError', 'FinalKind', 'FinalCode',
           'AtValue', 'AtInfo', 'AtResponse', 'Urc', 'UrcLog', 'AtChannel', 'KNOWN_URC_PREFIXES',
           'CME_TEXTS', 'parse_final', 'split_fields', 'parse_info', 'field_count', 'as_int',
           'command_timeout_s', 'error_for_final', 'DEFAULT_TIMEOUT_S']

DEFAULT_TIMEOUT_S = 0.5
"""Default answer time of a command: the manual's 300 ms for queries plus a host margin."""

#: Maximum response times of the commands that take longer than a query (manual §1.x tables,
#: ran-equipment.md §2.2); ``+QENG`` is given 2 s because a cell search can delay it.
SLOW_COMMAND_TIMEOUTS_S: dict[str, float] = {
    '+QENG': 2.0,
    '+CFUN': 15.0,
    '+COPS': 180.0,
    '+CGATT': 140.0,
    '+CGACT': 150.0,
}

#: Lines that are URCs whenever they are not the declared response of the outstanding command
#: (manual §13.7; ran-equipment.md §2.7).
KNOWN_URC_PREFIXES: tuple[str, ...] = (
    'RDY', 'POWERED DOWN', '+CPIN:', '+QUSIM:', '+QIND:', '+C5GREG:', '+CEREG:', '+CREG:',
    '+CGREG:', '+CGEV:', '+QNETRC:', '+QCSQ:', '+QNWCFG:', 'RING', 'NO CARRIER', '+QSTAT:',
)

#: TS 27.007 §9.2.1 texts of ``+CME ERROR`` under ``AT+CMEE=2`` (compared in lower case); the
#: Quectel manuals' texts differ in case and wording between documents, so codes are preferred.
CME_TEXTS: dict[str, int] = {
    'phone failure': 0,
    'no connection to phone': 1,
    'phone-adaptor link reserved': 2,
    'operation not allowed': 3,
    'operation not supported': 4,
    'ph-sim pin required': 5,
    'sim not inserted': 10,
    'sim pin required': 11,
    'sim puk required': 12,
    'sim failure': 13,
    'sim busy': 14,
    'sim wrong': 15,
    'incorrect password': 16,
    'memory full': 20,
    'invalid index': 21,
    'not found': 22,
    'memory failure': 23,
    'text string too long': 24,
    'invalid characters in text string': 25,
    'no network service': 30,
    'network timeout': 31,
    'network not allowed - emergency calls only': 32,
    'incorrect parameters': 50,
    'invalid parameters': 50,
    'unknown': 100,
}


class AtParseError(EquipmentError):
    """A line from the modem does not have the shape its command or URC prescribes."""


class AtCommandError(EquipmentRejected):
    """
    The modem answered a command with an error final code (plain ``ERROR``: unknown command or,
    under ``AT+CMEE=0``, any failure). :attr:`command` is the command line, :attr:`final` the
    final code line as received.
    """

    def __init__(self, message: str, command: str, final: str) -> None:
        super().__init__(message, detail=final)
        self.command = command
        self.final = final


class CmeError(AtCommandError):
    """``+CME ERROR: <err>`` (TS 27.007 §9.2): :attr:`code` is the number (``None`` for a text
    that is not in :data:`CME_TEXTS`), :attr:`text` the text as received."""

    def __init__(self, message: str, command: str, final: str, code: int | None,
                 text: str) -> None:
        super().__init__(message, command, final)
        self.code = code
        self.text = text


class CmeOperationNotAllowed(CmeError):
    """CME 3: operation not allowed."""


class CmeOperationNotSupported(CmeError):
    """CME 4: operation not supported."""


class CmeSimNotInserted(CmeError):
    """CME 10: SIM not inserted."""


class CmeNoNetworkService(CmeError):
    """CME 30: no network service."""


class CmeIncorrectParameters(CmeError):
    """CME 50: incorrect parameters."""


class CmeCellLockError(CmeError):
    """CME 900-908: Quectel cell-lock errors (manual Table 9)."""


class CmsError(AtCommandError):
    """``+CMS ERROR: <err>`` (TS 27.005 §3.2.5, message service)."""

    def __init__(self, message: str, command: str, final: str, code: int | None) -> None:
        super().__init__(message, command, final)
        self.code = code


_CME_CLASSES: dict[int, type[CmeError]] = {
    3: CmeOperationNotAllowed,
    4: CmeOperationNotSupported,
    10: CmeSimNotInserted,
    30: CmeNoNetworkService,
    50: CmeIncorrectParameters,
    **{code: CmeCellLockError for code in range(900, 909)},
}


# --------------------------------------------------------------------------------------------
# Parser: pure functions of one line; AtParseError is the only exception they raise.
# --------------------------------------------------------------------------------------------

class FinalKind(str, Enum):
    """The final result codes of V.250 §5.7.1 and TS 27.007 §9.2 that end a command."""

    OK = 'OK'
    ERROR = 'ERROR'
    CME_ERROR = '+CME ERROR'
    CMS_ERROR = '+CMS ERROR'


@dataclass(frozen=True)
class FinalCode:
    """One final result code: its kind, and for CME/CMS the number and/or the text."""

    kind: FinalKind
    line: str
    code: int | None = None
    text: str = ''

    @property
    def ok(self) -> bool:
        """True for ``OK``."""
        return self.kind is FinalKind.OK


class AtValue(NamedTuple):
    """One comma-separated field of an information line: its text (quotes removed, spaces
    outside quotes stripped) and whether it was quoted."""

    text: str
    quoted: bool


@dataclass(frozen=True)
class AtInfo:
    """An information line or URC ``+NAME: field,field,...`` split into prefix and fields."""

    prefix: str
    fields: tuple[AtValue, ...]

    def texts(self) -> tuple[str, ...]:
        """The fields' texts."""
        return tuple(value.text for value in self.fields)


def parse_final(line: str) -> FinalCode | None:
    """
    The final result code that ``line`` is, or ``None`` when it is not one.

    ``+CME ERROR:``/``+CMS ERROR:`` carry a number (``AT+CMEE=1``) or a text (``AT+CMEE=2``);
    a text listed in :data:`CME_TEXTS` is mapped to its number.

    Raises:
        AtParseError: ``line`` is not a string.
    """
    if not isinstance(line, str):
        raise AtParseError(f'AT line must be text, got {type(line).__name__}')
    text = line.strip()
    if text == 'OK':
        return FinalCode(FinalKind.OK, text)
    if text == 'ERROR':
        return FinalCode(FinalKind.ERROR, text)
    for kind in (FinalKind.CME_ERROR, FinalKind.CMS_ERROR):
        head = kind.value + ':'
        if text.upper().startswith(head):
            detail = text[len(head):].strip().strip('"').strip()
            if _is_decimal(detail):
                return FinalCode(kind, text, code=int(detail), text=detail)
            code = CME_TEXTS.get(detail.lower()) if kind is FinalKind.CME_ERROR else None
            return FinalCode(kind, text, code=code, text=detail)
    return None


def _is_decimal(text: str) -> bool:
    return 0 < len(text) <= 9 and all('0' <= ch <= '9' for ch in text)


def split_fields(payload: str) -> tuple[AtValue, ...]:
    """
    Split the part of an information line after ``:`` at the commas outside double quotes.

    Spaces around a field are dropped (firmware writes ``+QENG: "servingcell","NOCONN",...,"TDD",
    999,50`` with a space before the MCC); the quotes of a quoted field are removed and
    :attr:`AtValue.quoted` set. An empty payload is one empty field.

    Raises:
        AtParseError: a quote is not closed, or text follows a closing quote inside one field.
    """
    if not isinstance(payload, str):
        raise AtParseError(f'AT fields must be text, got {type(payload).__name__}')
    values: list[AtValue] = []
    current: list[str] = []
    quoted = False
    in_quotes = False
    closed = False
    for ch in payload:
        if in_quotes:
            if ch == '"':
                in_quotes = False
                closed = True
            else:
                current.append(ch)
        elif ch == ',':
            values.append(AtValue(''.join(current) if quoted else ''.join(current).strip(),
                                  quoted))
            current, quoted, closed = [], False, False
        elif ch == '"':
            if quoted or ''.join(current).strip():
                raise AtParseError(f'misplaced quote in AT fields {payload!r}')
            current, quoted, in_quotes = [], True, True
        elif closed:
            if not ch.isspace():
                raise AtParseError(f'text after a closing quote in AT fields {payload!r}')
        else:
            current.append(ch)
    if in_quotes:
        raise AtParseError(f'unterminated quote in AT fields {payload!r}')
    values.append(AtValue(''.join(current) if quoted else ''.join(current).strip(), quoted))
    return tuple(values)


def parse_info(line: str) -> AtInfo:
    """
    Split ``+NAME: f1,f2,...`` (with or without a space after the colon) into prefix and fields.

    Raises:
        AtParseError: the line has no ``+NAME:`` head, or its fields are malformed.
    """
    if not isinstance(line, str):
        raise AtParseError(f'AT line must be text, got {type(line).__name__}')
    text = line.strip()
    colon = text.find(':')
    if not text.startswith('+') or colon < 2:
        raise AtParseError(f'not an AT information line (+NAME: ...): {text!r}')
    prefix = text[:colon]
    if not all(ch.isalnum() or ch in '+_' for ch in prefix):
        raise AtParseError(f'bad AT information line name {prefix!r} in {text!r}')
    return AtInfo(prefix.upper(), split_fields(text[colon + 1:]))


def field_count(line: str) -> int | None:
    """Number of fields of an information line, or ``None`` when it does not parse."""
    try:
        return len(parse_info(line).fields)
    except AtParseError:
        return None


_DECIMAL_DIGITS = frozenset('0123456789')
_HEX_DIGITS = frozenset('0123456789abcdefABCDEF')


def as_int(value: AtValue | str | None, what: str, base: int = 10) -> int | None:
    """
    A field as an integer (``base`` 10 or 16); empty and ``-`` (the firmware's 'no value') are
    ``None``.

    Raises:
        AtParseError: the field is not an integer in ``base``.
    """
    text = value.text if isinstance(value, AtValue) else value
    if text is None:
        return None
    text = text.strip()
    if text in ('', '-'):
        return None
    digits = text[1:] if text[:1] in '+-' else text
    allowed = _HEX_DIGITS if base == 16 else _DECIMAL_DIGITS
    if not digits or len(digits) > 20 or not all(ch in allowed for ch in digits):
        raise AtParseError(f'{what}: {text!r} is not an integer (base {base})')
    return int(text, base)


def command_timeout_s(command: str, default_s: float = DEFAULT_TIMEOUT_S) -> float:
    """The answer time allowed for ``command``: the longest of its chained commands."""
    upper = command.upper()
    found = [t for name, t in SLOW_COMMAND_TIMEOUTS_S.items() if name in upper]
    return max([default_s, *found])


def error_for_final(final: FinalCode, command: str, where: str) -> AtCommandError:
    """The typed error for an error final code (``+CME ERROR`` mapped by its number)."""
    if final.kind is FinalKind.CME_ERROR:
        cls = _CME_CLASSES.get(final.code, CmeError) if final.code is not None else CmeError
        known = next((t for t, c in CME_TEXTS.items() if c == final.code), None)
        meaning = f' ({known})' if known and known != final.text.lower() else ''
        return cls(f'{where}: {command} refused: {final.line}{meaning}', command, final.line,
                   final.code, final.text)
    if final.kind is FinalKind.CMS_ERROR:
        return CmsError(f'{where}: {command} refused: {final.line}', command, final.line,
                        final.code)
    return AtCommandError(f'{where}: {command} refused: ERROR (unknown command, bad syntax, or '
                          'a failure reported without a code under AT+CMEE=0)', command,
                          final.line)


# --------------------------------------------------------------------------------------------
# URCs
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Urc:
    """One unsolicited result code: the line, its arrival number and time (monotonic s)."""

    seq: int
    line: str
    time_s: float

    @property
    def prefix(self) -> str:
        """``+NAME`` of the line, or the whole line for bare words such as ``RDY``."""
        colon = self.line.find(':')
        return self.line[:colon].strip().upper() if colon > 0 else self.line.strip()


class UrcLog:
    """
    The URCs received on one channel, numbered in arrival order (a bounded history), with a
    wait for the next one that satisfies a predicate.
    """

    def __init__(self, maxlen: int = 1000) -> None:
        self._items: collections.deque[Urc] = collections.deque(maxlen=maxlen)
        self._cond = threading.Condition()
        self._seq = 0

    @property
    def last_seq(self) -> int:
        """Number of the last URC received (0 before the first)."""
        with self._cond:
            return self._seq

    def append(self, line: str) -> Urc:
        """Record one URC (called by the reader thread)."""
        with self._cond:
            self._seq += 1
            urc = Urc(self._seq, line, time.monotonic())
            self._items.append(urc)
            self._cond.notify_all()
            return urc

    def since(self, seq: int) -> list[Urc]:
        """The URCs received after number ``seq`` (still in the history)."""
        with self._cond:
            return [urc for urc in self._items if urc.seq > seq]

    def wait_for(self, predicate: Callable[[Urc], bool], after_seq: int,
                 timeout_s: float) -> Urc | None:
        """The first URC after ``after_seq`` satisfying ``predicate``; ``None`` on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for urc in self._items:
                    if urc.seq > after_seq and predicate(urc):
                        return urc
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)


# --------------------------------------------------------------------------------------------
# Engine
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AtResponse:
    """The information lines of one command (echo and URCs removed) and its final code."""

    command: str
    lines: tuple[str, ...]
    final: FinalCode
    elapsed_s: float

    def info(self, prefix: str) -> list[AtInfo]:
        """The information lines starting with ``prefix`` (for example ``+QENG``), parsed."""
        return [parse_info(line) for line in self.lines
                if line.strip().upper().startswith(prefix.upper() + ':')]


@dataclass
class _Pending:
    text: str
    prefixes: tuple[str, ...]
    fields: frozenset[int] | None
    require_info: bool
    lines: list[str] = field(default_factory=list)
    echo_seen: bool = False
    final: FinalCode | None = None
    lost: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def accepts(self, line: str) -> bool:
        """Is ``line`` an information line of this command (rather than a URC)?"""
        upper = line.upper()
        if not self.prefixes:
            return not any(upper.startswith(p) for p in KNOWN_URC_PREFIXES)
        for prefix in self.prefixes:
            head = prefix.upper() + ':'
            if upper.startswith(head):
                return self.fields is None or field_count(line) in self.fields
        return False


class AtChannel:
    """
    One AT port: a reader thread that splits the byte stream into lines and routes them, and a
    writer lock so that one command is outstanding at a time.

    Args:
        port: device path (``/dev/ttyUSB2``, a pseudo-terminal, or the emulator's link).
        default_timeout_s: answer time of a command without a longer entry in
            :data:`SLOW_COMMAND_TIMEOUTS_S`.
        retries: how many times an *idempotent* command is sent again after a timeout or a lost
            port (writes are never repeated by the engine).
        reconnect_timeout_s: how long a command waits for a lost port to come back.
        baudrate: line speed (ignored by USB CDC ports and pseudo-terminals).
        name: what the messages call the device.

    After a timeout or a reconnection the next command is preceded by a resynchronisation
    probe, ``AT+CMEE?``: the modem answers in order, so any final code that arrives before the
    probe's own ``+CMEE:`` line is the late answer of an earlier command and is discarded
    (the driver never sends ``AT+CMEE?`` itself, so that line cannot be stale). :attr:`on_sync`
    (if set) then runs, for example to send ``ATE0`` again to a modem that rebooted.
    """

    SYNC_PROBE = 'AT+CMEE?'

    def __init__(self, port: str, *, default_timeout_s: float = DEFAULT_TIMEOUT_S,
                 retries: int = 1, reconnect_timeout_s: float = 5.0, baudrate: int = 115200,
                 name: str = 'modem') -> None:
        self.port = port
        self.default_timeout_s = default_timeout_s
        self.retries = retries
        self.reconnect_timeout_s = reconnect_timeout_s
        self.baudrate = baudrate
        self.name = name
        self.urcs = UrcLog()
        self.on_sync: Callable[[], None] | None = None
        self.reconnects = 0
        self.discarded: list[str] = []
        self._serial: object | None = None
        self._write_lock = threading.Lock()
        self._state = threading.Condition()
        self._pending: _Pending | None = None
        self._needs_sync = False
        self._stop = False
        self._buffer = bytearray()
        self._reader: threading.Thread | None = None
        self._lost_reason = ''
        self._stale_prefixes: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        """``modem /dev/...`` for messages."""
        return f'{self.name} {self.port}'

    # ---- opening and closing ------------------------------------------------------------

    def _open_serial(self) -> object:
        import serial

        try:
            return serial.Serial(self.port, self.baudrate, timeout=0.05, write_timeout=2.0,
                                 exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            code = getattr(exc, 'errno', None)
            reason = os.strerror(code) if isinstance(code, int) else str(exc)
            raise EquipmentUnavailable(
                f'{self.name} port {self.port!r}: cannot open ({reason}); give the AT port of '
                'the modem (for example /dev/ttyUSB2) or the path `ior modem emulate` '
                'printed') from None

    def open(self) -> AtChannel:
        """Open the port and start the reader thread; returns ``self``."""
        if self._reader is not None:
            return self
        self._serial = self._open_serial()
        self._stop = False
        self._reader = threading.Thread(target=self._read_loop, name=f'at-reader {self.port}',
                                        daemon=True)
        self._reader.start()
        return self

    def close(self) -> None:
        """Stop the reader thread and close the port (idempotent)."""
        self._stop = True
        ser = self._serial
        if ser is not None:
            try:
                ser.cancel_read()  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 - closing anyway
                pass
        if self._reader is not None:
            self._reader.join(timeout=2.0)
            self._reader = None
        self._close_serial()
        with self._state:
            self._fail_pending('the channel was closed')

    def __enter__(self) -> AtChannel:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _close_serial(self) -> None:
        ser, self._serial = self._serial, None
        if ser is not None:
            try:
                ser.close()  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 - a vanished device may fail to close
                pass

    @property
    def connected(self) -> bool:
        """Is the port open right now?"""
        return self._serial is not None

    # ---- reader thread --------------------------------------------------------------------

    def _read_loop(self) -> None:
        import serial

        while not self._stop:
            ser = self._serial
            if ser is None:
                self._try_reconnect()
                continue
            try:
                waiting = ser.in_waiting  # type: ignore[attr-defined]
                data = ser.read(max(1, waiting))  # type: ignore[attr-defined]
            except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                if self._stop:
                    return
                self._port_lost(str(exc))
                continue
            if data:
                self._feed(bytes(data))

    def _port_lost(self, reason: str) -> None:
        self._close_serial()
        self._buffer.clear()
        with self._state:
            self._lost_reason = reason
            self._needs_sync = True
            self._fail_pending(f'port lost ({reason})')
            self._state.notify_all()

    def _try_reconnect(self) -> None:
        time.sleep(0.02)
        if self._stop or not os.path.exists(self.port):
            return
        try:
            ser = self._open_serial()
        except EquipmentUnavailable:
            return
        with self._state:
            self._serial = ser
            self.reconnects += 1
            self._needs_sync = True
            self._state.notify_all()

    def _feed(self, data: bytes) -> None:
        self._buffer += data
        while True:
            cut = -1
            for i, byte in enumerate(self._buffer):
                if byte in (0x0D, 0x0A):
                    cut = i
                    break
            if cut < 0:
                if len(self._buffer) > 65536:  # a line that never ends: keep the tail only
                    del self._buffer[:-4096]
                return
            raw = bytes(self._buffer[:cut])
            del self._buffer[:cut + 1]
            line = raw.decode('ascii', errors='replace').strip()
            if line:
                self._route(line)

    def _route(self, line: str) -> None:
        with self._state:
            pending = self._pending
            final = parse_final(line)
            if pending is None:
                if final is not None or self._is_stale(line):
                    self._discard(line)  # a late answer after a timeout or a reconnect
                else:
                    self.urcs.append(line)
                return
            if (not pending.echo_seen and not pending.lines
                    and line.upper() == pending.text.upper()):
                pending.echo_seen = True  # the echo of the command line (ATE1)
                return
            if final is not None:
                if pending.require_info and not pending.lines:
                    self._discard(line)  # the final code of a command that timed out earlier
                    return
                pending.final = final
                self._pending = None
                pending.done.set()
            elif pending.accepts(line):
                pending.lines.append(line)
            elif self._is_stale(line):
                self._discard(line)
            else:
                self.urcs.append(line)

    def _is_stale(self, line: str) -> bool:
        upper = line.upper()
        return any(upper.startswith(p.upper() + ':') for p in self._stale_prefixes)

    def _discard(self, line: str) -> None:
        self.discarded.append(line)
        del self.discarded[:-100]

    def _fail_pending(self, reason: str) -> None:
        pending = self._pending
        if pending is not None:
            pending.lost = reason
            self._pending = None
            pending.done.set()

    # ---- commands --------------------------------------------------------------------------

    def command(self, text: str, *, prefix: str | Sequence[str] | None = None,
                timeout_s: float | None = None, idempotent: bool = False,
                fields: Iterable[int] | None = None) -> AtResponse:
        """
        Send one command line and return its information lines.

        Args:
            text: the command line without ``<CR>`` (``AT+QENG="servingcell"``).
            prefix: the prefix(es) of its information lines (``+QENG``); ``None`` for commands
                such as ``ATI`` whose lines have none (then every line that is not a known URC
                is taken).
            timeout_s: answer time (default: :func:`command_timeout_s`).
            idempotent: a query that may be sent again after a timeout or a lost port.
            fields: for a prefix shared with a URC, the field counts of the response's lines.

        Raises:
            AtCommandError: the modem answered ``ERROR``/``+CME ERROR``/``+CMS ERROR``.
            EquipmentTimeout: no final code within the time allowed.
            EquipmentUnavailable: the port is gone and did not come back in time.
        """
        prefixes = (prefix,) if isinstance(prefix, str) else tuple(prefix or ())
        wait_s = timeout_s if timeout_s is not None else command_timeout_s(
            text, self.default_timeout_s)
        count = frozenset(fields) if fields is not None else None
        attempts = 1 + (self.retries if idempotent else 0)
        for attempt in range(attempts):
            try:
                with self._write_lock:
                    self._ensure_ready(wait_s)
                    return self._transact(text, prefixes, count, wait_s, require_info=False)
            except (EquipmentTimeout, EquipmentUnavailable):
                if attempt + 1 >= attempts:
                    raise
        raise AssertionError('unreachable')  # pragma: no cover

    def _ensure_ready(self, wait_s: float) -> None:
        """Wait for the port (after a loss) and resynchronise after a timeout or reconnect."""
        if self._reader is None:
            raise EquipmentUnavailable(f'{self.where}: channel not open')
        deadline = time.monotonic() + self.reconnect_timeout_s
        with self._state:
            while self._serial is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise EquipmentUnavailable(
                        f'{self.where}: port gone ({self._lost_reason or "closed"}) and not back '
                        f'within {self.reconnect_timeout_s:g} s')
                self._state.wait(left)
            needs_sync = self._needs_sync
        if needs_sync:
            self._transact(self.SYNC_PROBE, ('+CMEE',), None, max(wait_s, 0.3),
                           require_info=True)
            with self._state:
                self._needs_sync = False
                self._stale_prefixes = ()
            if self.on_sync is not None:
                self.on_sync()

    def send_raw(self, text: str, *, prefix: str | Sequence[str] | None = None,
                 timeout_s: float | None = None,
                 fields: Iterable[int] | None = None) -> AtResponse:
        """:meth:`command` for use inside :attr:`on_sync` (the writer lock is already held)."""
        prefixes = (prefix,) if isinstance(prefix, str) else tuple(prefix or ())
        wait_s = timeout_s if timeout_s is not None else command_timeout_s(
            text, self.default_timeout_s)
        return self._transact(text, prefixes, frozenset(fields) if fields else None, wait_s,
                              require_info=False)

    def _transact(self, text: str, prefixes: tuple[str, ...], fields: frozenset[int] | None,
                  wait_s: float, *, require_info: bool) -> AtResponse:
        pending = _Pending(text, prefixes, fields, require_info)
        with self._state:
            ser = self._serial
            if ser is None:
                raise EquipmentUnavailable(f'{self.where}: port gone before {text} was sent')
            self._pending = pending
        started = time.monotonic()
        try:
            ser.write(text.encode('ascii') + b'\r')  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - any write failure is a lost port
            with self._state:
                if self._pending is pending:
                    self._pending = None
            self._port_lost(f'write failed: {exc}')
            raise EquipmentUnavailable(f'{self.where}: writing {text} failed ({exc})') from None
        answered = pending.done.wait(wait_s)
        with self._state:
            if not answered and not pending.done.is_set():
                if self._pending is pending:
                    self._pending = None
                self._needs_sync = True
                self._stale_prefixes = tuple({*self._stale_prefixes, *prefixes})
                raise EquipmentTimeout(
                    f'{self.where}: no answer to {text} within {wait_s:g} s')
        if pending.lost is not None:
            raise EquipmentUnavailable(f'{self.where}: {text} not answered: {pending.lost}')
        final = pending.final
        assert final is not None
        if not final.ok:
            raise error_for_final(final, text, self.where)
        return AtResponse(text, tuple(pending.lines), final, time.monotonic() - started)
