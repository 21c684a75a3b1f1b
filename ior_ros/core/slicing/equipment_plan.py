"""
A set of slice templates checked as a whole and mapped onto equipment.

One :class:`~ior_ros.core.slicing.slice_templates.SliceTemplate` is checked on its own when it is
loaded; what a gNB, a modem or a Linux traffic-control tree needs is checked here, on the set:

* **TS 28.541 RRMPolicyRatio** (V16.17.0, Annex E.5.26): each ratio a whole percent (the
  attributes are uint8 %), ``dedicated <= min <= max <= 100`` per slice, the minimums of the set
  add up to 100 % or less and so do the dedicated ratios (the maximums may exceed 100 %). A max of
  0 % is refused as well: srsRAN reads ``max_prb_policy_ratio`` in 1..100 and a slice with no PRB
  can carry nothing.
* **S-NSSAI**: two slices of one set may not share an S-NSSAI (the gNB and the core tell slices
  apart by it alone).
* **Admission against a capacity** [bit/s] (the cell's or the link's), in the templates'
  admission order (priority, then name): a slice whose guaranteed bit rate exceeds what its max
  ratio of the capacity carries is rejected; so is the first slice whose guaranteed bit rate
  does not fit beside the slices admitted before it (the message says by how much).
* **Names and DNNs**: a slice name must suit every layer (letters, digits, ``_`` or ``-``, at
  most 64 characters, no control character); a DNN follows the APN network identifier of
  TS 23.003 §9.1 (labels of letters, digits and ``-`` separated by ``.``, at most 100 octets),
  so it can be quoted inside an AT command without breaking out of the quotes.

Every refusal is one :class:`~ior_ros.core.errors.ConfigError` line naming the file (or
``slice set``), the field, the value and what is allowed; :func:`plan_equipment` raises before
anything can be sent to equipment.

The mapping (:class:`EquipmentPlan`) holds per slice

* for a gNB: min, max and dedicated PRB ratios in whole percent and the S-NSSAI as srsRAN writes
  it (``sst`` and integer ``sd``, ``None`` for no SD);
* for a modem: the S-NSSAI as the AT commands write it (``"01.000001"``, hex; ``"01"`` without an
  SD; ref. TS 27.007 ``+C5GNSSAI``) and the DNN;
* for Linux tc (HTB): ``rate`` = the guaranteed bit rate and ``ceil`` = the smaller of the max
  bit rate and the max ratio of the capacity [bit/s], and the classifier (the robot's IPv4
  address or a DSCP).

Equipment details that are not part of a template (DNN, robot address, DSCP, the capacity) come
from a bindings file (:class:`EquipmentBindings`), since the template schema is shared with the
broker and refuses unknown keys.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from ior_ros.core.config import FrozenModel, validate_config
from ior_ros.core.errors import ConfigError
from ior_ros.core.input_files import display_path, read_input_yaml
from ior_ros.core.slicing.slice_templates import SliceTemplate

__all__ = ['EquipmentBindings', 'SliceBinding', 'GnbSlice', 'ModemSlice', 'TcClass',
           'SlicePlan', 'EquipmentPlan', 'Admission', 'admission', 'check_ratio_set',
           'plan_equipment', 'load_bindings', 'check_name', 'check_dnn', 'snssai_at',
           'percent', 'BINDINGS_FILE', 'Classifier']

BINDINGS_FILE = Path('equipment') / 'bindings.yaml'
"""Where a templates folder keeps its bindings (a subfolder: every ``*.yaml`` at the top of the
folder is read as a template)."""

Classifier = Literal['addr', 'dscp']
"""How tc tells a slice's packets apart: by the robot's address or by the DSCP."""

_NAME = re.compile(r'^[A-Za-z][A-Za-z0-9_\-]{0,63}$')
_DNN_LABEL = re.compile(r'^[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?$')
_DNN_MAX_OCTETS = 100  # TS 23.003 §9.1: the APN network identifier, at most 100 octets
_EPS = 1e-9


def _show(value: object) -> str:
    """A value as messages show it: repr for text (control characters escaped)."""
    return repr(value) if isinstance(value, str) else f'{value}'


def check_name(name: str, where: str = 'slice set', field: str = 'name') -> str:
    """
    The slice name, once it suits every layer (module docstring).

    Raises:
        ConfigError: ``WHERE: field 'name' = 'bad\\x07': allowed ...``.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{where}: field '{field}' = {_show(name)}: allowed: a letter, then "
                          'letters, digits, "_" or "-" (at most 64 characters, no control '
                          'characters or spaces)')
    return name


_DNN_ALLOWED = ('labels of letters, digits and "-" separated by "." (TS 23.003 §9.1 APN network '
                f'identifier, at most {_DNN_MAX_OCTETS} octets; no control characters, quotes '
                'or spaces)')


def _dnn_ok(dnn: object) -> bool:
    if not isinstance(dnn, str) or not dnn or len(dnn.encode('utf-8')) > _DNN_MAX_OCTETS:
        return False
    return all(_DNN_LABEL.match(label) for label in dnn.split('.'))


def check_dnn(dnn: str, where: str = 'slice set', field: str = 'dnn') -> str:
    """
    The DNN, once it is an APN network identifier of TS 23.003 §9.1 (module docstring).

    Raises:
        ConfigError: one line naming the field, the value and what is allowed.
    """
    if not _dnn_ok(dnn):
        raise ConfigError(f"{where}: field '{field}' = {_show(dnn)}: allowed: {_DNN_ALLOWED}")
    return dnn


class SliceBinding(FrozenModel):
    """What the equipment needs of one slice beyond its template."""

    dnn: str | None = None
    """Data network name the robot's PDU session uses for this slice (TS 23.003 §9.1)."""
    address: str | None = None
    """The robot's IPv4 address or network (``10.0.1.2`` or ``10.0.1.0/24``): tc classifies by
    it (source at the uplink egress, destination at the downlink egress)."""
    dscp: int | None = Field(None, ge=0, le=63)
    """DSCP of the slice's packets (RFC 2474: six bits): tc classifies by it."""

    @field_validator('dnn')
    @classmethod
    def _dnn(cls, value: str | None) -> str | None:
        if value is not None and not _dnn_ok(value):
            raise ValueError(f'allowed: {_DNN_ALLOWED}')
        return value

    @field_validator('address')
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError('must be an IPv4 address or network, e.g. 10.0.1.2 or '
                             '10.0.1.0/24') from None
        if network.version != 4:
            raise ValueError('must be IPv4 (the u32 classifier matches IPv4 headers); '
                             'classify IPv6 traffic by DSCP')
        return str(network)


class EquipmentBindings(FrozenModel):
    """The bindings file of a templates folder (``equipment/bindings.yaml``)."""

    capacity_bps: float = Field(gt=0.0, le=100e9)
    """What the cell or link carries [bit/s]: admission checks the set against it, and tc
    shapes the interface to it (the AP is the bottleneck, as a WiFi AP's air time is)."""
    slices: dict[str, SliceBinding] = Field(default_factory=dict)
    """Per slice name: its DNN, robot address and DSCP."""

    @field_validator('slices')
    @classmethod
    def _names(cls, value: dict[str, SliceBinding]) -> dict[str, SliceBinding]:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(f'key {name!r}: a slice name: a letter, then letters, digits, '
                                 '"_" or "-" (no control characters)')
        return value


def load_bindings(path: str | Path) -> EquipmentBindings:
    """
    A bindings file.

    Raises:
        ConfigError: ``bindings PATH: field 'F' = VALUE: allowed ...`` or the file's problem.
    """
    data = read_input_yaml(path, 'bindings', shape='mapping')
    try:
        return validate_config(EquipmentBindings, data)
    except ConfigError as exc:
        raise ConfigError(f'bindings {display_path(path)}: {exc}') from None


def percent(fraction: float, where: str, field: str) -> int:
    """
    A ratio given as a fraction, as the whole percent TS 28.541 writes (uint8 %).

    Raises:
        ConfigError: not a whole percent in 0..100 (nothing is rounded silently).
    """
    value = fraction * 100.0
    whole = round(value)
    if not math.isfinite(value) or abs(value - whole) > 1e-6 or not 0 <= whole <= 100:
        raise ConfigError(f"{where}: field '{field}' = {fraction:g}: allowed: a whole percent "
                          'from 0 to 1 in steps of 0.01 (TS 28.541 RRMPolicyRatio attributes '
                          'are uint8 %)')
    return int(whole)


def snssai_at(sst: int, sd: str | None) -> str:
    """The S-NSSAI as AT commands write it: ``"01.000001"`` (hex), ``"01"`` without an SD."""
    return f'{sst:02X}' if sd is None else f'{sst:02X}.{sd.upper()}'


@dataclass(frozen=True)
class GnbSlice:
    """One slice's RRM policy on a gNB (TS 28.541 percents; srsRAN's member keys)."""

    sst: int
    sd: int | None
    """Slice differentiator as srsRAN's YAML and WebSocket take it (an integer; None: no SD)."""
    min_percent: int
    max_percent: int
    dedicated_percent: int


@dataclass(frozen=True)
class ModemSlice:
    """One slice on the robot's modem."""

    snssai: str
    """As ``AT+C5GNSSAI`` and ``AT+CGDCONT`` write it (``"01.000001"``)."""
    dnn: str | None


@dataclass(frozen=True)
class TcClass:
    """One slice as an HTB class [bit/s] and what classifies packets into it."""

    rate_bps: int
    """HTB ``rate``: the guaranteed bit rate."""
    ceil_bps: int
    """HTB ``ceil``: min(max bit rate, max ratio x capacity)."""
    address: str | None
    dscp: int | None
    delay_budget_s: float
    """The template's packet delay budget (sizes a FIFO leaf queue)."""


@dataclass(frozen=True)
class SlicePlan:
    """A slice mapped onto each kind of equipment."""

    name: str
    priority: int
    gnb: GnbSlice
    modem: ModemSlice
    tc: TcClass


@dataclass(frozen=True)
class Admission:
    """The admission verdict of one template against the capacity."""

    name: str
    admitted: bool
    reason: str
    """Why it was rejected (empty when admitted)."""


@dataclass(frozen=True)
class EquipmentPlan:
    """A validated, admitted set of slices mapped onto equipment, in admission order."""

    capacity_bps: float
    slices: tuple[SlicePlan, ...]
    source: str
    """Where the set came from (messages name it)."""

    def names(self) -> list[str]:
        """Slice names in admission order."""
        return [s.name for s in self.slices]

    def as_dict(self) -> dict[str, object]:
        """JSON form (``ior slices validate --json``)."""
        return {
            'source': self.source, 'capacity_bps': self.capacity_bps,
            'slices': [{
                'name': s.name, 'priority': s.priority,
                'gnb': {'sst': s.gnb.sst, 'sd': s.gnb.sd, 'min_percent': s.gnb.min_percent,
                        'max_percent': s.gnb.max_percent,
                        'dedicated_percent': s.gnb.dedicated_percent},
                'modem': {'snssai': s.modem.snssai, 'dnn': s.modem.dnn},
                'tc': {'rate_bps': s.tc.rate_bps, 'ceil_bps': s.tc.ceil_bps,
                       'address': s.tc.address, 'dscp': s.tc.dscp},
            } for s in self.slices]}


def _mbps(bps: float) -> str:
    return f'{bps / 1e6:.6g} Mbit/s'


def check_ratio_set(templates: Sequence[SliceTemplate], where: str = 'slice set'
                    ) -> dict[str, tuple[int, int, int]]:
    """
    TS 28.541 set rules on the templates' PRB ratios (module docstring).

    Returns:
        ``name -> (dedicated, min, max)`` in whole percent.

    Raises:
        ConfigError: the first rule broken, naming the slice, the field and the values.
    """
    out: dict[str, tuple[int, int, int]] = {}
    ded_sum = min_sum = 0
    for t in templates:
        at = f'{where}: slice {t.name!r}'
        r = t.prb_ratio
        ded = percent(r.dedicated, at, 'prb_ratio.dedicated')
        low = percent(r.min, at, 'prb_ratio.min')
        high = percent(r.max, at, 'prb_ratio.max')
        if not ded <= low <= high <= 100:
            raise ConfigError(f"{at}: field 'prb_ratio' = dedicated {ded} %, min {low} %, max "
                              f'{high} %: allowed: dedicated <= min <= max <= 100 % '
                              '(TS 28.541 RRMPolicyRatio)')
        if high == 0:
            raise ConfigError(f"{at}: field 'prb_ratio.max' = 0: allowed: 0.01 to 1 (a slice "
                              'with no PRB carries nothing; srsRAN reads max in 1..100 %)')
        ded_sum += ded
        min_sum += low
        if min_sum > 100:
            raise ConfigError(f"{at}: field 'prb_ratio.min' = {low} %: the minimums of the set "
                              f'add up to {min_sum} % > 100 % (allowed: sum <= 100 %, TS 28.541 '
                              'rRMPolicyMinRatio)')
        if ded_sum > 100:
            raise ConfigError(f"{at}: field 'prb_ratio.dedicated' = {ded} %: the dedicated "
                              f'ratios of the set add up to {ded_sum} % > 100 % (allowed: sum '
                              '<= 100 %, TS 28.541 rRMPolicyDedicatedRatio)')
        out[t.name] = (ded, low, high)
    return out


def admission(templates: Sequence[SliceTemplate], capacity_bps: float) -> list[Admission]:
    """
    Admission of the templates, in the order given, against ``capacity_bps`` (module
    docstring); every template gets a verdict.
    """
    out: list[Admission] = []
    admitted_bps = 0.0
    for t in templates:
        reach = t.prb_ratio.max * capacity_bps
        reason = ''
        if t.guaranteed_bitrate_bps > reach + _EPS:
            reason = (f'guaranteed {_mbps(t.guaranteed_bitrate_bps)} cannot be served: its max '
                      f'ratio {t.prb_ratio.max:g} of the capacity {_mbps(capacity_bps)} carries '
                      f'{_mbps(reach)}')
        elif admitted_bps + t.guaranteed_bitrate_bps > capacity_bps + _EPS:
            over = admitted_bps + t.guaranteed_bitrate_bps - capacity_bps
            reason = (f'over-subscribed: guaranteed {_mbps(t.guaranteed_bitrate_bps)} does not '
                      f'fit beside the {_mbps(admitted_bps)} admitted before it in the capacity '
                      f'{_mbps(capacity_bps)} (short by {_mbps(over)})')
        else:
            admitted_bps += t.guaranteed_bitrate_bps
        out.append(Admission(t.name, not reason, reason))
    return out


def plan_equipment(templates: Sequence[SliceTemplate], capacity_bps: float,
                   bindings: Mapping[str, SliceBinding] | None = None,
                   source: str = 'slice set') -> EquipmentPlan:
    """
    The set checked (module docstring) and mapped onto equipment; the templates are taken in
    admission order (priority, then name) whatever order they come in.

    Args:
        bindings: per slice name, its DNN, robot address and DSCP (a name that is not a
            template of the set is refused).
        source: the folder or files the set came from (messages name it).

    Raises:
        ConfigError: any rule broken, or a slice not admitted; one line naming
            ``source``, the slice, the field, the value and what is allowed.
    """
    if not templates:
        raise ConfigError(f'{source}: holds no slice template; allowed: one or more')
    if not (math.isfinite(capacity_bps) and capacity_bps > 0):
        raise ConfigError(f"{source}: field 'capacity_bps' = {capacity_bps!r}: allowed: a "
                          'positive bit rate [bit/s]')
    ordered = sorted(templates, key=lambda t: (t.priority, t.name))
    names: set[str] = set()
    snssais: dict[tuple[int, str | None], str] = {}
    for t in ordered:
        check_name(t.name, f'{source}: slice {t.name!r}')
        if t.name in names:
            raise ConfigError(f"{source}: field 'name' = {t.name!r}: used twice; allowed: "
                              'unique names')
        names.add(t.name)
        key = (t.snssai.sst, t.snssai.sd)
        if key in snssais:
            raise ConfigError(f"{source}: slice {t.name!r}: field 'snssai' = "
                              f'{t.snssai.text()}: already used by slice {snssais[key]!r}; '
                              'allowed: one S-NSSAI per slice')
        snssais[key] = t.name
    binds = dict(bindings or {})
    for name in binds:
        if name not in names:
            raise ConfigError(f"{source}: bindings field 'slices.{_show(name)}': not a slice "
                              f'of the set; allowed: {", ".join(sorted(names))}')
    ratios = check_ratio_set(ordered, source)
    for verdict in admission(ordered, capacity_bps):
        if not verdict.admitted:
            raise ConfigError(f'{source}: slice {verdict.name!r} not admitted: '
                              f'{verdict.reason}')
    plans = []
    for t in ordered:
        ded, low, high = ratios[t.name]
        bind = binds.get(t.name, SliceBinding())
        if bind.dnn is not None:
            check_dnn(bind.dnn, f'{source}: slice {t.name!r}', 'dnn')
        ceil = min(t.max_bitrate_bps, t.prb_ratio.max * capacity_bps)
        plans.append(SlicePlan(
            name=t.name, priority=t.priority,
            gnb=GnbSlice(sst=t.snssai.sst,
                         sd=None if t.snssai.sd is None else int(t.snssai.sd, 16),
                         min_percent=low, max_percent=high, dedicated_percent=ded),
            modem=ModemSlice(snssai=snssai_at(t.snssai.sst, t.snssai.sd), dnn=bind.dnn),
            tc=TcClass(rate_bps=int(round(t.guaranteed_bitrate_bps)),
                       ceil_bps=int(round(max(ceil, t.guaranteed_bitrate_bps))),
                       address=bind.address, dscp=bind.dscp,
                       delay_budget_s=t.delay_budget_s)))
    return EquipmentPlan(capacity_bps=float(capacity_bps), slices=tuple(plans), source=source)


def load_slice_set(paths: Sequence[str | Path], bindings: str | Path | None = None,
                   capacity_bps: float | None = None) -> EquipmentPlan:
    """
    The plan of a templates folder, or of template files, with their bindings.

    Args:
        paths: one folder (its ``*.yaml`` templates; its bindings at :data:`BINDINGS_FILE` if
            present), or one or more template files.
        bindings: a bindings file (overrides the folder's).
        capacity_bps: overrides the bindings' capacity; without bindings it is required.

    Raises:
        ConfigError: a bad file, a missing capacity, or any rule of :func:`plan_equipment`.
    """
    from ior_ros.core.slicing.slice_templates import load_template, load_templates

    if not paths:
        raise ConfigError('slice templates: no folder or file given; allowed: one folder or '
                          'one or more template files')
    first = Path(paths[0])
    if len(paths) == 1 and first.is_dir():
        templates = load_templates(first)
        source = display_path(first)
        if bindings is None and (first / BINDINGS_FILE).is_file():
            bindings = first / BINDINGS_FILE
    else:
        templates = [load_template(p) for p in paths]
        source = ', '.join(display_path(p) for p in paths)
    bound = load_bindings(bindings) if bindings is not None else None
    capacity = capacity_bps if capacity_bps is not None else (
        bound.capacity_bps if bound is not None else None)
    if capacity is None:
        raise ConfigError(f'{source}: no capacity: give a bindings file with capacity_bps '
                          f'({BINDINGS_FILE} in the folder) or a capacity [bit/s]')
    return plan_equipment(templates, capacity, bound.slices if bound is not None else None,
                          source=source)
