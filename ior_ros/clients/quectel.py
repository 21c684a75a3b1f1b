"""
Quectel RM500Q-GL driver over its AT port: typed methods on top of :class:`~ior_ros.clients.at.
AtChannel`.

Sources (docs/reference: ran-equipment.md §2): Quectel RG50xQ & RM5xxQ Series Network
Application Note V1.0.0 ("app note") and RG520N & ... RM5x0N Series AT Commands Manual V1.1
("manual"); 3GPP TS 27.007 for the non-``Q`` commands; TS 24.501 for S-NSSAI octet lengths and
5GMM causes; TS 23.003 §9.1 for the DNN grammar. Shapes that real firmware writes differently from
the documents (a space before the MCC in ``+QENG``, the 21-field ``+CGDCONT`` read of
RM500QGLABR11A06M4G) are parsed as the firmware writes them.

Every string that goes into an AT command (DNN/APN, S-NSSAI, PLMN) is checked against a strict
grammar first (:func:`validate_dnn`, :func:`validate_at_snssai`, :func:`validate_plmn`): a value
with a quote, a ``;``, a comma or a control character is refused with
:class:`~ior_ros.clients.errors.EquipmentValidationError` before anything is written, so
configuration can never inject a command. Settings kept in the modem's NVM (``C5GNSSAI``,
``CGDCONT``) are read first and written only when they differ.

The response parsers (``parse_*``) are pure functions of the information lines; they raise
:class:`~ior_ros.clients.at.AtParseError` and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from ior_ros.clients.at import (
    DEFAULT_TIMEOUT_S,
    AtChannel,
    AtInfo,
    AtParseError,
    AtValue,
    Urc,
    as_int,
    parse_info,
)
from ior_ros.clients.errors import EquipmentRejected, EquipmentTimeout, EquipmentValidationError

__all__ = ['RadioMode', 'CellMeasurement', 'ServingCell', 'ModemIdentity', 'Registration5gs',
           'RxChains', 'Qcsq', 'Signal', 'NssaiState', 'PdpContext', 'RejectCauses',
           'Throughput', 'SliceRejected', 'QuectelRM500Q', 'validate_dnn', 'validate_plmn',
           'validate_at_snssai', 'snssai_to_at', 'nssai_to_at', 'snssai_octets',
           'parse_identity', 'parse_serving_cell', 'parse_c5greg', 'parse_c5gnssai',
           'parse_c5gnssairdp', 'parse_cgdcont', 'parse_qnetrc', 'parse_signal',
           'parse_throughput', 'C5GREG_QUERY_FIELDS', 'C5GREG_URC_FIELDS', 'FIVEGMM_CAUSES',
           'REGISTRATION_STATUS', 'INVALID_MEASUREMENT']

INVALID_MEASUREMENT = -32768
"""The firmware's 'no value' for a measurement (besides ``-``)."""

#: +C5GREG query lines carry <n> first (27.007 §7.44): 2, 5, 7 or 9 fields; the URC, without <n>,
#: 1, 4, 6 or 8. The two share the prefix, so the count tells them apart (ran-equipment.md §2.7).
C5GREG_QUERY_FIELDS = frozenset({2, 5, 7, 9})
C5GREG_URC_FIELDS = frozenset({1, 4, 6, 8})

#: 27.007 §7.44 <stat>
REGISTRATION_STATUS: dict[int, str] = {
    0: 'not registered', 1: 'registered, home', 2: 'searching', 3: 'registration denied',
    4: 'unknown', 5: 'registered, roaming', 8: 'emergency services only',
}

#: TS 24.501 Annex A (5GMM causes), the ones a slice or registration change can produce
FIVEGMM_CAUSES: dict[int, str] = {
    3: 'illegal UE', 5: 'PEI not accepted', 6: 'illegal ME', 7: '5GS services not allowed',
    9: 'UE identity cannot be derived by the network', 10: 'implicitly de-registered',
    11: 'PLMN not allowed', 12: 'tracking area not allowed',
    13: 'roaming not allowed in this tracking area', 15: 'no suitable cells in tracking area',
    22: 'congestion', 27: 'N1 mode not allowed', 62: 'no network slices available',
    65: 'maximum number of PDU sessions reached',
    67: 'insufficient resources for specific slice and DNN',
    69: 'insufficient resources for specific slice',
    91: 'DNN not supported or not subscribed in the slice', 111: 'protocol error, unspecified',
}

#: app note §3.2.2: NR DL bandwidth code -> MHz; LTE bandwidth code -> MHz (TS 36.101 5.6)
_NR_BANDWIDTH_MHZ = {0: 5, 1: 10, 2: 15, 3: 20, 4: 25, 5: 30, 6: 40, 7: 50, 8: 60, 9: 70, 10: 80,
                     11: 90, 12: 100, 13: 200, 14: 400, 15: 35, 16: 45}
_LTE_BANDWIDTH_MHZ = {0: 1.4, 1: 3.0, 2: 5.0, 3: 10.0, 4: 15.0, 5: 20.0}
_SCS_KHZ = {0: 15, 1: 30, 2: 60, 3: 120, 4: 240}
_PDP_TYPES = ('IP', 'PPP', 'IPV6', 'IPV4V6', 'NON-IP', 'ETHERNET')
_MAX_CID = 42
_MAX_NSSAI_ENTRIES = 16  # TS 24.501 §9.11.3.37: a configured NSSAI holds up to 16 S-NSSAIs

_SNSSAI_RE = re.compile(
    r'^[0-9A-F]{2}(?:;[0-9A-F]{2}|\.[0-9A-F]{6}(?:;[0-9A-F]{2}(?:\.[0-9A-F]{6})?)?)?$')
_SNSSAI_IN_CGDCONT = re.compile(r'^[0-9A-Fa-f]{2}(\.[0-9A-Fa-f]{6})?')
_DNN_LABEL = re.compile(r'^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$')
_PLMN_RE = re.compile(r'^[0-9]{5,6}$')
_MAX_DNN = 100  # TS 23.003 §9.1: an APN is at most 100 octets

_SNSSAI_ALLOWED = ('two hex digits SST, optionally .SD (six hex digits) and ;mapped SST[.SD], '
                   'e.g. "01" or "01.000001" (ran-equipment.md §2.4)')


# --------------------------------------------------------------------------------------------
# Validation of the strings that go into commands
# --------------------------------------------------------------------------------------------

def _refuse(field: str, value: object, allowed: str) -> EquipmentValidationError:
    return EquipmentValidationError(f'{field}: {value!r} is not allowed; {allowed}; nothing was '
                                    'sent to the modem')


def validate_dnn(value: object, field: str = 'apn') -> str:
    """
    A DNN (APN network identifier, TS 23.003 §9.1): labels of letters, digits and ``-`` joined
    by ``.``, each 1-63 characters, at most 100 in all; ``''`` asks for the network's default.

    Raises:
        EquipmentValidationError: anything else (quotes, ``;``, commas, spaces and control
            characters included), naming ``field`` and the value.
    """
    allowed = ("a DNN is labels of letters, digits and '-' joined by '.', each 1-63 characters, "
               f'at most {_MAX_DNN} in all (TS 23.003 §9.1), or empty for the default')
    if not isinstance(value, str):
        raise _refuse(field, value, allowed)
    if value == '':
        return value
    if len(value) > _MAX_DNN or not all(_DNN_LABEL.match(label) for label in value.split('.')):
        raise _refuse(field, value, allowed)
    return value


def validate_plmn(value: object, field: str = 'plmn') -> str:
    """
    A PLMN id as the modem writes it: MCC and MNC digits, 5 or 6 of them (``"00101"``).

    Raises:
        EquipmentValidationError: anything else.
    """
    if not isinstance(value, str) or not _PLMN_RE.match(value):
        raise _refuse(field, value, 'a PLMN is 5 or 6 decimal digits (MCC + MNC, e.g. "00101")')
    return value


def validate_at_snssai(value: object, field: str = 'snssai') -> str:
    """
    One S-NSSAI in the AT form (hex, ran-equipment.md §2.4), returned in upper case.

    Raises:
        EquipmentValidationError: anything else.
    """
    if not isinstance(value, str) or not _SNSSAI_RE.match(value.upper()):
        raise _refuse(field, value, f'an S-NSSAI is {_SNSSAI_ALLOWED}')
    return value.upper()


class _SnssaiLike(Protocol):
    @property
    def sst(self) -> int: ...

    @property
    def sd(self) -> str | None: ...


def snssai_to_at(value: object, field: str = 'snssai') -> str:
    """
    The AT form of an S-NSSAI: a string already in that form (checked), or anything with ``sst``
    (int 0-255) and ``sd`` (six hex digits or ``None``) such as the slice templates'
    :class:`~ior_ros.core.slicing.slice_templates.Snssai`, or a template holding one in
    ``.snssai``. SST 1 SD 000001 becomes ``"01.000001"``; SST 1 without SD ``"01"``; SD
    ``FFFFFF`` (TS 23.003 §28.4.2: no SD) is dropped.

    Raises:
        EquipmentValidationError: the value cannot be written as an S-NSSAI.
    """
    if isinstance(value, str):
        return validate_at_snssai(value, field)
    inner = getattr(value, 'snssai', None)
    if inner is not None and not isinstance(value, str) and hasattr(inner, 'sst'):
        value = inner
    sst = getattr(value, 'sst', None)
    sd = getattr(value, 'sd', None)
    if not isinstance(sst, int) or isinstance(sst, bool) or not 0 <= sst <= 255:
        raise _refuse(f'{field}.sst', sst, 'an SST is an integer 0-255')
    if sd is None or (isinstance(sd, str) and sd.upper() == 'FFFFFF'):
        return f'{sst:02X}'
    if not isinstance(sd, str) or not re.fullmatch(r'[0-9A-Fa-f]{6}', sd):
        raise _refuse(f'{field}.sd', sd, 'an SD is six hex digits or null')
    return f'{sst:02X}.{sd.upper()}'


def snssai_octets(at_snssai: str) -> int:
    """Length in octets of the S-NSSAI contents (TS 24.501 §9.11.2.8: 1, 2, 4, 5 or 8)."""
    main, _, mapped = at_snssai.partition(';')
    octets = 1 + (3 if '.' in main else 0)
    if mapped:
        octets += 1 + (3 if '.' in mapped else 0)
    return octets


def nssai_to_at(snssais: Iterable[object], field: str = 'nssai') -> tuple[int, str]:
    """
    The ``<length>,"<nssai>"`` pair of ``AT+C5GNSSAI``: the S-NSSAIs joined by ``:`` and the sum
    of their content lengths in octets (the form the testbed capture ``4,"01.000001"`` used).

    Raises:
        EquipmentValidationError: an entry is not an S-NSSAI, or there are more than 16.
    """
    items = [snssai_to_at(item, f'{field}[{i}]') for i, item in enumerate(snssais)]
    if len(items) > _MAX_NSSAI_ENTRIES:
        raise _refuse(field, items, f'an NSSAI holds at most {_MAX_NSSAI_ENTRIES} S-NSSAIs')
    if len(set(items)) != len(items):
        raise _refuse(field, items, 'each S-NSSAI at most once')
    return sum(snssai_octets(item) for item in items), ':'.join(items)


# --------------------------------------------------------------------------------------------
# Typed results
# --------------------------------------------------------------------------------------------

class RadioMode(str, Enum):
    """The serving system of ``AT+QENG="servingcell"``."""

    NR5G_SA = 'NR5G-SA'
    NR5G_NSA = 'NR5G-NSA'
    LTE = 'LTE'


@dataclass(frozen=True)
class CellMeasurement:
    """
    One cell of ``+QENG: "servingcell"`` (app note §3.2.2). ``None`` where the modem reports
    no value (``-``, ``-32768``) or the measurement is the out-of-sync sentinel
    (:attr:`out_of_sync`).
    """

    rat: str
    """``NR5G`` or ``LTE``."""
    mcc: int | None = None
    mnc: str | None = None
    cell_id: int | None = None
    """NR cell identity (36 bits) or E-UTRAN cell id (28 bits), from hex."""
    pci: int | None = None
    tac: int | None = None
    arfcn: int | None = None
    """NR-ARFCN, or the EARFCN for LTE."""
    band: int | None = None
    bandwidth_mhz: float | None = None
    """DL bandwidth (NR: valid only when RRC-connected)."""
    rsrp_dbm: float | None = None
    rsrq_db: float | None = None
    sinr_db: float | None = None
    """SINR [dB]; LTE's raw value X converted as 2X - 20 (ran-equipment.md §2.6)."""
    rssi_dbm: float | None = None
    scs_khz: int | None = None
    srxlev: int | None = None
    out_of_sync: bool = False


@dataclass(frozen=True)
class ServingCell:
    """The serving cell(s): one NR cell (SA), an LTE anchor plus an NR leg (EN-DC), or LTE."""

    state: str | None
    """``SEARCH``, ``LIMSRV`` (camped, not registered), ``NOCONN`` (idle), ``CONNECT``."""
    mode: RadioMode | None
    """``None`` while searching (no cell)."""
    duplex: str | None = None
    nr: CellMeasurement | None = None
    lte: CellMeasurement | None = None

    @property
    def primary(self) -> CellMeasurement | None:
        """The cell whose figures describe the link: the NR cell when there is one, else LTE."""
        return self.nr if self.nr is not None else self.lte

    def as_dict(self) -> dict[str, Any]:
        """The `ior modem cell --json` object (issue 13), plus ``state`` and the EN-DC anchor."""
        cell = self.primary
        out: dict[str, Any] = {
            'mode': self.mode.value if self.mode is not None else None,
            'state': self.state,
            'rsrp_dbm': cell.rsrp_dbm if cell else None,
            'rsrq_db': cell.rsrq_db if cell else None,
            'sinr_db': cell.sinr_db if cell else None,
            'band': cell.band if cell else None,
            'pci': cell.pci if cell else None,
            'arfcn': cell.arfcn if cell else None,
        }
        if self.mode is RadioMode.NR5G_NSA and self.lte is not None:
            out['lte_anchor'] = {'rsrp_dbm': self.lte.rsrp_dbm, 'rsrq_db': self.lte.rsrq_db,
                                 'sinr_db': self.lte.sinr_db, 'band': self.lte.band,
                                 'pci': self.lte.pci, 'arfcn': self.lte.arfcn}
        return out


@dataclass(frozen=True)
class ModemIdentity:
    """``ATI``, ``AT+CGMR``, ``AT+CGSN``."""

    manufacturer: str
    model: str
    revision: str
    imei: str


@dataclass(frozen=True)
class Registration5gs:
    """``+C5GREG`` (27.007 §7.44; manual §5.5), query or URC."""

    stat: int
    n: int | None = None
    """The URC mode of the query (``None`` for a URC)."""
    tac: int | None = None
    cell_id: int | None = None
    act: int | None = None
    """10 E-UTRAN connected to 5GCN, 11 NR connected to 5GCN."""
    allowed_nssai: tuple[str, ...] = ()

    @property
    def registered(self) -> bool:
        """Home or roaming registration."""
        return self.stat in (1, 5)

    @property
    def status(self) -> str:
        """The meaning of :attr:`stat`."""
        return REGISTRATION_STATUS.get(self.stat, f'status {self.stat}')


@dataclass(frozen=True)
class RxChains:
    """Per-antenna figures of one system (``AT+QRSRP``/``QRSRQ``/``QSINR``: PRX, DRX, RX2, RX3)."""

    sysmode: str
    rsrp_dbm: tuple[int | None, ...] = ()
    rsrq_db: tuple[int | None, ...] = ()
    sinr_db: tuple[int | None, ...] = ()


@dataclass(frozen=True)
class Qcsq:
    """``+QCSQ: <sysmode>,...`` (values as the modem writes them; ``None`` if absent)."""

    sysmode: str
    values: tuple[int | None, ...] = ()


@dataclass(frozen=True)
class Signal:
    """Signal figures per system (one entry per sysmode) and the ``AT+QCSQ`` summary."""

    chains: tuple[RxChains, ...]
    qcsq: Qcsq | None


@dataclass(frozen=True)
class NssaiState:
    """The UE's NSSAIs (``AT+C5GNSSAI?`` and ``AT+C5GNSSAIRDP=3,<plmn>``)."""

    default_configured: tuple[str, ...]
    plmn: str | None = None
    configured: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    rejected: tuple[str, ...] = ()


@dataclass(frozen=True)
class PdpContext:
    """One ``+CGDCONT`` line; :attr:`snssai` found by pattern (ran-equipment.md §2.4)."""

    cid: int
    pdp_type: str
    apn: str
    address: str | None
    snssai: str | None
    fields: int


@dataclass(frozen=True)
class RejectCauses:
    """The last reject causes (``AT+QNETRC?``); 0 or absent is ``None``."""

    fivegmm: int | None = None
    emm: int | None = None
    esm: int | None = None

    @property
    def fivegmm_text(self) -> str | None:
        """TS 24.501 Annex A name of the 5GMM cause."""
        if self.fivegmm is None:
            return None
        return FIVEGMM_CAUSES.get(self.fivegmm, f'5GMM cause {self.fivegmm}')


@dataclass(frozen=True)
class Throughput:
    """``AT+QNWCFG="up/down"``: the modem's own rate counters."""

    ul_bps: int
    dl_bps: int
    interval_s: int


class SliceRejected(EquipmentRejected):
    """The network refused the requested slice(s); :attr:`cause` is the 5GMM cause (or None)."""

    def __init__(self, message: str, cause: int | None, requested: tuple[str, ...]) -> None:
        super().__init__(message, detail=str(cause))
        self.cause = cause
        self.requested = requested


# --------------------------------------------------------------------------------------------
# Response parsers (pure; AtParseError only)
# --------------------------------------------------------------------------------------------

def _infos(lines: Sequence[str], prefix: str) -> list[AtInfo]:
    out = []
    for line in lines:
        info = parse_info(line)
        if info.prefix == prefix:
            out.append(info)
    return out


def _measure(value: AtValue | None, what: str) -> int | None:
    number = as_int(value, what) if value is not None else None
    return None if number == INVALID_MEASUREMENT else number


def _hex(value: AtValue | None, what: str) -> int | None:
    return as_int(value, what, 16) if value is not None else None


def _text(value: AtValue | None) -> str | None:
    if value is None or value.text in ('', '-'):
        return None
    return value.text


def _at(fields: Sequence[AtValue], index: int) -> AtValue | None:
    return fields[index] if index < len(fields) else None


def parse_identity(ati: Sequence[str], cgmr: Sequence[str], cgsn: Sequence[str]) -> ModemIdentity:
    """
    ``ATI`` (``Quectel`` / ``RM500Q-GL`` / ``Revision: ...``), ``AT+CGMR`` and ``AT+CGSN``
    (bare, or with a ``+CGMR:``/``+CGSN:`` head on some firmware).

    Raises:
        AtParseError: a response is missing.
    """
    lines = [line.strip() for line in ati if line.strip()]
    if len(lines) < 2:
        raise AtParseError(f'ATI: expected manufacturer and model lines, got {list(ati)!r}')
    revision = next((line.split(':', 1)[1].strip() for line in lines
                     if line.lower().startswith('revision:')), '')

    def single(response: Sequence[str], what: str) -> str:
        texts = [line.strip() for line in response if line.strip()]
        if len(texts) != 1:
            raise AtParseError(f'{what}: expected one line, got {list(response)!r}')
        text = texts[0]
        if text.upper().startswith('+' + what.split('+')[-1].upper() + ':'):
            text = text.split(':', 1)[1].strip().strip('"').strip()
        return text

    firmware = single(cgmr, 'AT+CGMR')
    return ModemIdentity(lines[0], lines[1], revision or firmware, single(cgsn, 'AT+CGSN'))


def _levels(rsrp: int | None, rsrq: int | None, sinr_db: float | None, srxlev: int | None
            ) -> tuple[bool, float | None, float | None, float | None]:
    """(out of sync, RSRP, RSRQ, SINR) of a serving-cell line: RSRP -140 with RSRQ -40, or an
    srxlev of -3000 or less, is the modem's out-of-sync sentinel, and then no level is valid."""
    out = (rsrp == -140 and rsrq == -40) or (srxlev is not None and srxlev <= -3000)

    def level(value: float | None) -> float | None:
        return None if out or value is None else float(value)

    return out, level(rsrp), level(rsrq), level(sinr_db)


def _nr_sa(fields: Sequence[AtValue]) -> CellMeasurement:
    """Fields of the SA line from MCC on (app note indexes 4.. of the whole line)."""
    srxlev = _measure(_at(fields, 12), 'srxlev')
    out_of_sync, rsrp, rsrq, sinr = _levels(
        _measure(_at(fields, 8), 'RSRP'), _measure(_at(fields, 9), 'RSRQ'),
        _measure(_at(fields, 10), 'SINR'), srxlev)
    bw = as_int(_at(fields, 7), 'NR_DL_bandwidth')
    scs = as_int(_at(fields, 11), 'scs')
    return CellMeasurement(
        rat='NR5G', mcc=as_int(_at(fields, 0), 'MCC'), mnc=_text(_at(fields, 1)),
        cell_id=_hex(_at(fields, 2), 'cellID'), pci=_measure(_at(fields, 3), 'PCID'),
        tac=_hex(_at(fields, 4), 'TAC'), arfcn=_measure(_at(fields, 5), 'ARFCN'),
        band=_measure(_at(fields, 6), 'band'),
        bandwidth_mhz=float(_NR_BANDWIDTH_MHZ[bw]) if bw in _NR_BANDWIDTH_MHZ else None,
        rsrp_dbm=rsrp, rsrq_db=rsrq, sinr_db=sinr,
        scs_khz=_SCS_KHZ.get(scs) if scs is not None else None, srxlev=srxlev,
        out_of_sync=out_of_sync)


def _lte(fields: Sequence[AtValue]) -> CellMeasurement:
    """Fields of an LTE cell from ``is_tdd`` on."""
    sinr_raw = _measure(_at(fields, 13), 'SINR')
    srxlev = _measure(_at(fields, 16), 'srxlev')
    out_of_sync, rsrp, rsrq, sinr = _levels(
        _measure(_at(fields, 10), 'RSRP'), _measure(_at(fields, 11), 'RSRQ'),
        None if sinr_raw is None else 2.0 * sinr_raw - 20.0, srxlev)  # LTE SINR: 2X - 20 dB
    rssi = _measure(_at(fields, 12), 'RSSI')
    bw = as_int(_at(fields, 8), 'DL_bandwidth')
    return CellMeasurement(
        rat='LTE', mcc=as_int(_at(fields, 1), 'MCC'), mnc=_text(_at(fields, 2)),
        cell_id=_hex(_at(fields, 3), 'cellID'), pci=_measure(_at(fields, 4), 'PCID'),
        arfcn=_measure(_at(fields, 5), 'EARFCN'), band=_measure(_at(fields, 6), 'band'),
        bandwidth_mhz=_LTE_BANDWIDTH_MHZ.get(bw) if bw is not None else None,
        tac=_hex(_at(fields, 9), 'TAC'),
        rsrp_dbm=rsrp, rsrq_db=rsrq, sinr_db=sinr,
        rssi_dbm=None if rssi is None else float(rssi), srxlev=srxlev, out_of_sync=out_of_sync)


def _nr_nsa(fields: Sequence[AtValue]) -> CellMeasurement:
    """Fields of the ``"NR5G-NSA"`` line from MCC on."""
    rsrp = _measure(_at(fields, 3), 'RSRP')
    sinr = _measure(_at(fields, 4), 'SINR')
    rsrq = _measure(_at(fields, 5), 'RSRQ')
    bw = as_int(_at(fields, 8), 'NR_DL_bandwidth')
    scs = as_int(_at(fields, 9), 'scs')
    return CellMeasurement(
        rat='NR5G', mcc=as_int(_at(fields, 0), 'MCC'), mnc=_text(_at(fields, 1)),
        pci=_measure(_at(fields, 2), 'PCID'),
        rsrp_dbm=None if rsrp is None else float(rsrp),
        sinr_db=None if sinr is None else float(sinr),
        rsrq_db=None if rsrq is None else float(rsrq),
        arfcn=_measure(_at(fields, 6), 'ARFCN'), band=_measure(_at(fields, 7), 'band'),
        bandwidth_mhz=float(_NR_BANDWIDTH_MHZ[bw]) if bw in _NR_BANDWIDTH_MHZ else None,
        scs_khz=_SCS_KHZ.get(scs) if scs is not None else None)


def parse_serving_cell(lines: Sequence[str]) -> ServingCell:
    """
    ``AT+QENG="servingcell"`` in SA, EN-DC (NSA) or LTE mode, or while searching.

    Raises:
        AtParseError: no ``"servingcell"`` line, too few fields, or a non-numeric number.
    """
    infos = _infos(lines, '+QENG')
    head = next((info for info in infos if info.fields and
                 info.fields[0].text.lower() == 'servingcell'), None)
    if head is None:
        raise AtParseError(f'+QENG: no "servingcell" line in {list(lines)!r}')
    state = _text(_at(head.fields, 1))
    system = _text(_at(head.fields, 2))
    nr = lte = None
    duplex = None
    mode: RadioMode | None = None
    if system is not None and system.upper() == 'NR5G-SA':
        if len(head.fields) < 15:
            raise AtParseError(f'+QENG NR5G-SA line has {len(head.fields)} fields, needs >= 15')
        duplex = _text(head.fields[3])
        nr = _nr_sa(head.fields[4:])
        mode = RadioMode.NR5G_SA
    elif system is not None and system.upper() == 'LTE':
        if len(head.fields) < 17:
            raise AtParseError(f'+QENG LTE line has {len(head.fields)} fields, needs >= 17')
        lte = _lte(head.fields[3:])
        mode = RadioMode.LTE
        duplex = 'TDD' if head.fields[3].text.upper() == 'TDD' else 'FDD'
    elif system is not None:
        raise AtParseError(f'+QENG: unknown system {system!r}')
    for info in infos:
        tag = info.fields[0].text.upper() if info.fields else ''
        if tag == 'LTE':
            if len(info.fields) < 15:
                raise AtParseError(f'+QENG "LTE" line has {len(info.fields)} fields, needs >= 15')
            lte = _lte(info.fields[1:])
            mode = mode or RadioMode.LTE
            duplex = duplex or _text(info.fields[1])  # the EN-DC anchor's "FDD"/"TDD"
        elif tag == 'NR5G-NSA':
            if len(info.fields) < 7:
                raise AtParseError(f'+QENG "NR5G-NSA" line has {len(info.fields)} fields, '
                                   'needs >= 7')
            nr = _nr_nsa(info.fields[1:])
            mode = RadioMode.NR5G_NSA
    return ServingCell(state=state, mode=mode, duplex=duplex, nr=nr, lte=lte)


def _nssai_list(value: AtValue | None) -> tuple[str, ...]:
    if value is None or not value.text.strip():
        return ()
    return tuple(item.strip().upper() for item in value.text.split(':') if item.strip())


def parse_c5greg(line: str) -> Registration5gs:
    """
    One ``+C5GREG`` line: the query form (with ``<n>``) or the URC, told apart by field count.

    Raises:
        AtParseError: not a ``+C5GREG`` line, or a field count of neither form.
    """
    info = parse_info(line)
    if info.prefix != '+C5GREG':
        raise AtParseError(f'not a +C5GREG line: {line!r}')
    fields = info.fields
    n = None
    if len(fields) in C5GREG_QUERY_FIELDS:
        n = as_int(fields[0], '+C5GREG <n>')
        fields = fields[1:]
    elif len(fields) not in C5GREG_URC_FIELDS:
        raise AtParseError(f'+C5GREG with {len(fields)} fields: {line!r}')
    stat = as_int(fields[0], '+C5GREG <stat>')
    if stat is None:
        raise AtParseError(f'+C5GREG without <stat>: {line!r}')
    return Registration5gs(stat=stat, n=n, tac=_hex(_at(fields, 1), 'tac'),
                           cell_id=_hex(_at(fields, 2), 'ci'),
                           act=as_int(_at(fields, 3), 'AcT'),
                           allowed_nssai=_nssai_list(_at(fields, 5)))


def parse_c5gnssai(lines: Sequence[str]) -> tuple[str, ...]:
    """
    ``+C5GNSSAI: [<length>,<nssai>]`` (the default configured NSSAI; ``0,""`` = none).

    Raises:
        AtParseError: no such line.
    """
    infos = _infos(lines, '+C5GNSSAI')
    if len(infos) != 1:
        raise AtParseError(f'+C5GNSSAI: expected one line, got {list(lines)!r}')
    return _nssai_list(_at(infos[0].fields, 1))


def parse_c5gnssairdp(lines: Sequence[str]) -> NssaiState:
    """
    ``AT+C5GNSSAIRDP=3,<plmn>``: a first line ``<def_len>,<def>[,<rej_len>,<rej>...]`` (even
    field count) and a PLMN line ``<plmn>[,<cfg_len>,<cfg>[,<allowed_len>,<allowed>,...]]``
    (odd field count).

    Raises:
        AtParseError: no line of either form.
    """
    default: tuple[str, ...] = ()
    rejected: tuple[str, ...] = ()
    plmn = None
    configured: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    seen = False
    for info in _infos(lines, '+C5GNSSAIRDP'):
        fields = info.fields
        if len(fields) == 1 and not fields[0].text:
            seen = True
            continue
        seen = True
        if len(fields) % 2 == 0:
            default = _nssai_list(_at(fields, 1))
            rejected = _nssai_list(_at(fields, 3))
        else:
            plmn = _text(fields[0])
            configured = _nssai_list(_at(fields, 2))
            allowed = _nssai_list(_at(fields, 4))
    if not seen:
        raise AtParseError(f'+C5GNSSAIRDP: no line in {list(lines)!r}')
    return NssaiState(default_configured=default, plmn=plmn, configured=configured,
                      allowed=allowed, rejected=rejected)


def parse_cgdcont(lines: Sequence[str]) -> tuple[PdpContext, ...]:
    """
    ``AT+CGDCONT?``: one line per context. The S-NSSAI is the first quoted field after index 8
    that looks like one (the real read has 21 fields with it at index 16; 27.007 puts it at 17).

    Raises:
        AtParseError: a line with fewer than 3 fields or a non-numeric cid.
    """
    out = []
    for info in _infos(lines, '+CGDCONT'):
        fields = info.fields
        if len(fields) < 3:
            raise AtParseError(f'+CGDCONT line with {len(fields)} fields')
        cid = as_int(fields[0], '+CGDCONT <cid>')
        if cid is None:
            raise AtParseError('+CGDCONT line without <cid>')
        snssai = next((f.text.upper() for f in fields[9:]
                       if f.quoted and _SNSSAI_IN_CGDCONT.match(f.text)), None)
        out.append(PdpContext(cid=cid, pdp_type=fields[1].text, apn=fields[2].text,
                              address=_text(_at(fields, 3)), snssai=snssai, fields=len(fields)))
    return tuple(out)


def parse_qnetrc(lines: Sequence[str]) -> RejectCauses:
    """
    ``AT+QNETRC?``: ``+QNETRC: "5gmm_cause",<c>`` (also ``"emm_cause"``, ``"esm_cause"``).

    Raises:
        AtParseError: a line of another shape.
    """
    causes: dict[str, int | None] = {}
    for info in _infos(lines, '+QNETRC'):
        if len(info.fields) != 2:
            raise AtParseError(f'+QNETRC line with {len(info.fields)} fields (expected 2)')
        value = as_int(info.fields[1], '+QNETRC cause')
        causes[info.fields[0].text.lower()] = value or None
    return RejectCauses(fivegmm=causes.get('5gmm_cause'), emm=causes.get('emm_cause'),
                        esm=causes.get('esm_cause'))


def parse_signal(qrsrp: Sequence[str], qrsrq: Sequence[str], qsinr: Sequence[str],
                 qcsq: Sequence[str]) -> Signal:
    """
    ``AT+QRSRP``, ``AT+QRSRQ``, ``AT+QSINR`` (``<PRX>,<DRX>,<RX2>,<RX3>,<sysmode>``, one line
    per system) and ``AT+QCSQ``. ``-32768`` (antenna not in use) is ``None``.

    Raises:
        AtParseError: a line without the sysmode or with a non-numeric value.
    """
    table: dict[str, dict[str, tuple[int | None, ...]]] = {}
    for lines, prefix in ((qrsrp, '+QRSRP'), (qrsrq, '+QRSRQ'), (qsinr, '+QSINR')):
        for info in _infos(lines, prefix):
            if len(info.fields) < 2:
                raise AtParseError(f'{prefix} line with {len(info.fields)} fields')
            sysmode = info.fields[-1].text.upper()
            values = tuple(_measure(f, prefix) for f in info.fields[:-1])
            table.setdefault(sysmode, {})[prefix] = values
    chains = tuple(RxChains(sysmode=mode, rsrp_dbm=v.get('+QRSRP', ()),
                            rsrq_db=v.get('+QRSRQ', ()), sinr_db=v.get('+QSINR', ()))
                   for mode, v in table.items())
    summary = None
    for info in _infos(qcsq, '+QCSQ'):
        if info.fields and info.fields[0].text:
            summary = Qcsq(sysmode=info.fields[0].text.upper(),
                           values=tuple(_measure(f, '+QCSQ') for f in info.fields[1:]))
    return Signal(chains=chains, qcsq=summary)


def parse_throughput(lines: Sequence[str]) -> Throughput:
    """
    ``+QNWCFG: "up/down",<UL bps>,<DL bps>,<interval s>``.

    Raises:
        AtParseError: no such line or missing values.
    """
    for info in _infos(lines, '+QNWCFG'):
        if info.fields and info.fields[0].text.lower() == 'up/down':
            if len(info.fields) != 4:
                raise AtParseError(f'+QNWCFG "up/down" with {len(info.fields)} fields')
            ul = as_int(info.fields[1], 'UL')
            dl = as_int(info.fields[2], 'DL')
            interval = as_int(info.fields[3], 'interval')
            if ul is None or dl is None or interval is None:
                raise AtParseError('+QNWCFG "up/down" with an empty value')
            return Throughput(ul_bps=ul, dl_bps=dl, interval_s=interval)
    raise AtParseError(f'+QNWCFG: no "up/down" line in {list(lines)!r}')


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------

class QuectelRM500Q:
    """
    A Quectel RM500Q on one AT port.

    Args:
        port: the AT port (``/dev/ttyUSB2``) or the emulator's path.
        timeout_s: answer time of quick queries (slow commands get their own, see
            :data:`~ior_ros.clients.at.SLOW_COMMAND_TIMEOUTS_S`).
        retries: re-sends of an idempotent query after a timeout or a lost port.
        reconnect_timeout_s: how long a command waits for a lost port to come back.
        configure: on open and after every reconnection send ``ATE0``, ``AT+CMEE=1`` and
            ``AT+C5GREG=2`` (the start-up of ran-equipment.md §2.3); ``False`` leaves the
            modem's settings alone.
    """

    def __init__(self, port: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, retries: int = 1,
                 reconnect_timeout_s: float = 5.0, configure: bool = True) -> None:
        self.channel = AtChannel(port, default_timeout_s=timeout_s, retries=retries,
                                 reconnect_timeout_s=reconnect_timeout_s, name='modem')
        self.configure = configure

    # ---- life cycle ------------------------------------------------------------------------

    def open(self) -> QuectelRM500Q:
        """Open the port and (if :attr:`configure`) apply the start-up settings."""
        self.channel.open()
        if self.configure:
            self.channel.on_sync = self._configure_after_sync
            try:
                self.channel.command('AT', idempotent=True)
                self._configure(self.channel.command)
            except BaseException:
                self.channel.close()
                raise
        return self

    def close(self) -> None:
        """Close the port."""
        self.channel.close()

    def __enter__(self) -> QuectelRM500Q:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _configure(send: Any) -> None:
        send('ATE0')
        send('AT+CMEE=1')
        send('AT+C5GREG=2')

    def _configure_after_sync(self) -> None:
        self._configure(self.channel.send_raw)

    @property
    def urcs(self) -> list[Urc]:
        """The URCs received so far (bounded history)."""
        return self.channel.urcs.since(0)

    # ---- queries ---------------------------------------------------------------------------

    def _query(self, text: str, prefix: str | None, fields: Iterable[int] | None = None,
               timeout_s: float | None = None) -> tuple[str, ...]:
        return self.channel.command(text, prefix=prefix, idempotent=True, fields=fields,
                                    timeout_s=timeout_s).lines

    def identify(self) -> ModemIdentity:
        """Manufacturer, model, firmware revision and IMEI (``ATI``, ``CGMR``, ``CGSN``)."""
        return parse_identity(self._query('ATI', None), self._query('AT+CGMR', None),
                              self._query('AT+CGSN', None))

    def registration_5gs(self) -> Registration5gs:
        """``AT+C5GREG?``: status, TAC, cell, access technology and allowed NSSAI."""
        lines = self._query('AT+C5GREG?', '+C5GREG', fields=C5GREG_QUERY_FIELDS)
        if len(lines) != 1:
            raise AtParseError(f'AT+C5GREG?: expected one +C5GREG line, got {list(lines)!r}')
        return parse_c5greg(lines[0])

    def serving_cell(self) -> ServingCell:
        """``AT+QENG="servingcell"`` (SA, EN-DC or LTE)."""
        return parse_serving_cell(self._query('AT+QENG="servingcell"', '+QENG'))

    def signal(self) -> Signal:
        """Per-antenna RSRP/RSRQ/SINR and the QCSQ summary."""
        return parse_signal(self._query('AT+QRSRP', '+QRSRP'), self._query('AT+QRSRQ', '+QRSRQ'),
                            self._query('AT+QSINR', '+QSINR'), self._query('AT+QCSQ', '+QCSQ'))

    def throughput(self) -> Throughput:
        """The modem's UL/DL rate counters (``AT+QNWCFG="up/down"``)."""
        return parse_throughput(self._query('AT+QNWCFG="up/down"', '+QNWCFG', fields={4}))

    def default_nssai(self) -> tuple[str, ...]:
        """The default configured NSSAI in NVM (``AT+C5GNSSAI?``)."""
        return parse_c5gnssai(self._query('AT+C5GNSSAI?', '+C5GNSSAI'))

    def nssai(self, plmn: str) -> NssaiState:
        """
        Default configured, configured, allowed and rejected NSSAI for ``plmn``
        (``AT+C5GNSSAI?`` and ``AT+C5GNSSAIRDP=3,"<plmn>"``).

        Raises:
            EquipmentValidationError: ``plmn`` is not 5-6 digits (nothing is sent).
        """
        plmn = validate_plmn(plmn)
        default = self.default_nssai()
        state = parse_c5gnssairdp(self._query(f'AT+C5GNSSAIRDP=3,"{plmn}"', '+C5GNSSAIRDP'))
        return NssaiState(default_configured=state.default_configured or default,
                          plmn=state.plmn, configured=state.configured, allowed=state.allowed,
                          rejected=state.rejected)

    def pdp_contexts(self) -> tuple[PdpContext, ...]:
        """``AT+CGDCONT?``."""
        return parse_cgdcont(self._query('AT+CGDCONT?', '+CGDCONT'))

    def reject_causes(self) -> RejectCauses:
        """``AT+QNETRC?``: the last EMM/ESM/5GMM reject causes."""
        return parse_qnetrc(self._query('AT+QNETRC?', '+QNETRC'))

    # ---- writes (read-compare-write) -----------------------------------------------------

    def set_default_nssai(self, snssais: Iterable[object]) -> bool:
        """
        Store the default configured NSSAI (``AT+C5GNSSAI``) if it differs from the modem's;
        it is used at the next registration (:meth:`reattach`). Returns whether it was written.

        Raises:
            EquipmentValidationError: an entry is not an S-NSSAI (nothing is sent).
        """
        length, text = nssai_to_at(snssais)
        if (tuple(text.split(':')) if text else ()) == self.default_nssai():
            return False
        self.channel.command(f'AT+C5GNSSAI={length},"{text}"')
        return True

    def set_pdp_context(self, cid: int, apn: str, pdp_type: str = 'IP',
                        snssai: object | None = None) -> bool:
        """
        Define PDP context ``cid`` with its DNN and S-NSSAI (``AT+CGDCONT``, S-NSSAI at
        27.007's parameter 18) if the read-back differs. Returns whether it was written.

        Raises:
            EquipmentValidationError: a bad cid, type, DNN or S-NSSAI (nothing is sent).
        """
        if not isinstance(cid, int) or isinstance(cid, bool) or not 1 <= cid <= _MAX_CID:
            raise _refuse('cid', cid, f'a context id is an integer 1-{_MAX_CID}')
        if pdp_type not in _PDP_TYPES:
            raise _refuse('pdp_type', pdp_type, f'one of {", ".join(_PDP_TYPES)}')
        apn = validate_dnn(apn)
        at_snssai = snssai_to_at(snssai) if snssai is not None else None
        current = next((c for c in self.pdp_contexts() if c.cid == cid), None)
        if (current is not None and current.pdp_type == pdp_type and current.apn == apn
                and current.snssai == at_snssai):
            return False
        command = f'AT+CGDCONT={cid},"{pdp_type}","{apn}"'
        if at_snssai is not None:
            command += ',' * 15 + f'"{at_snssai}"'
        self.channel.command(command)
        return True

    def reattach(self, timeout_s: float = 40.0) -> Registration5gs:
        """
        Detach and attach (``AT+CFUN=0`` then ``AT+CFUN=1``, 15 s each) and wait for the
        registration outcome, the first ``+C5GREG`` URC after the attach whose status is final
        (registered, denied or emergency only). Needs ``AT+C5GREG=2`` (:attr:`configure`).

        Raises:
            EquipmentTimeout: no final registration URC within ``timeout_s``.
        """
        self.channel.command('AT+CFUN=0')
        after = self.channel.urcs.last_seq
        self.channel.command('AT+CFUN=1')

        def final(urc: Urc) -> bool:
            if urc.prefix != '+C5GREG':
                return False
            try:
                return parse_c5greg(urc.line).stat in (1, 3, 5, 8)
            except AtParseError:
                return False

        urc = self.channel.urcs.wait_for(final, after, timeout_s)
        if urc is None:
            raise EquipmentTimeout(f'{self.channel.where}: no registration outcome (+C5GREG URC) '
                                   f'within {timeout_s:g} s after AT+CFUN=1')
        return parse_c5greg(urc.line)

    def select_slices(self, snssais: Iterable[object], timeout_s: float = 40.0
                      ) -> Registration5gs:
        """
        Make the modem register with ``snssais`` (ran-equipment.md §2.4 "slice switch"): write
        the default configured NSSAI where it differs, re-attach, and check that every requested
        slice is allowed.

        Raises:
            EquipmentValidationError: an entry is not an S-NSSAI (nothing is sent).
            SliceRejected: registration denied or a slice not allowed; carries the 5GMM cause
                read with ``AT+QNETRC?``.
        """
        length, text = nssai_to_at(snssais)
        requested = tuple(text.split(':')) if text else ()
        self.set_default_nssai(requested)
        registration = self.reattach(timeout_s)
        missing = [s for s in requested if s not in registration.allowed_nssai]
        if registration.registered and not missing:
            return registration
        causes = self.reject_causes()
        cause = causes.fivegmm
        reason = (f'5GMM cause {cause} ({causes.fivegmm_text})' if cause is not None
                  else 'no reject cause reported')
        raise SliceRejected(
            f'{self.channel.where}: slice(s) {", ".join(missing) or text} refused by the network '
            f'({registration.status}; {reason}); allowed NSSAI: '
            f'{":".join(registration.allowed_nssai) or "none"}', cause, requested)
