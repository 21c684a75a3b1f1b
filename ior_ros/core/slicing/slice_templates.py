"""
Slice templates of the slice broker: what one network slice asks of the cell, read from the YAML
files of ``config/slices/``.

A template names the slice (S-NSSAI: SST and optional SD, 3GPP TS 23.003 §28.4.2 and
TS 23.501 §5.15.2), its QoS class (5QI, TS 23.501 Table 5.7.4-1), its kind (``embb`` or
``urllc``, which of the emulated cell's two slices carries it: msg/UeMetrics.msg SLICE_EMBB and
SLICE_URLLC), its bit-rate targets, its delay budget and its share of the carrier's PRBs as the
three ratios of an RRM policy (3GPP TS 28.541, information object class ``RRMPolicyRatio``:
attributes ``rRMPolicyDedicatedRatio``, ``rRMPolicyMinRatio`` and ``rRMPolicyMaxRatio``, given
there in percent and here as fractions of the carrier):

* **dedicated**: PRBs only this slice may use, kept for it even when it has nothing to send;
* **min** (prioritised): PRBs the slice gets whenever it has data; when it has none they may go to
  other slices;
* **max**: the most PRBs the slice may ever get.

with ``0 <= dedicated <= min <= max <= 1`` (TS 28.541 states the order of the three ratios).

Every problem with a file is one :class:`~ior_ros.core.errors.ConfigError` line naming the file,
the field, the value and what is allowed.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from ior_ros.core.config import FrozenModel, validate_config
from ior_ros.core.errors import ConfigError
from ior_ros.core.input_files import display_path, input_folder, read_input_yaml

__all__ = ['SliceKind', 'Snssai', 'PrbRatio', 'SliceTemplate', 'DELAY_CRITICAL_GBR_5QI',
           'GBR_5QI', 'NON_GBR_5QI', 'STANDARD_5QI', 'load_template', 'load_templates',
           'TEMPLATE_SUFFIXES']

#: TS 23.501 Table 5.7.4-1 (Rel-17): standardized 5QI values by resource type
GBR_5QI = frozenset({1, 2, 3, 4, 65, 66, 67, 71, 72, 73, 74, 75, 76})
NON_GBR_5QI = frozenset({5, 6, 7, 8, 9, 10, 69, 70, 79, 80})
DELAY_CRITICAL_GBR_5QI = frozenset({82, 83, 84, 85, 86, 87, 88, 89, 90})
STANDARD_5QI = GBR_5QI | NON_GBR_5QI | DELAY_CRITICAL_GBR_5QI

TEMPLATE_SUFFIXES = ('.yaml', '.yml')
"""File names read from a templates folder."""

_SD_PATTERN = re.compile(r'^[0-9A-Fa-f]{6}$')


class SliceKind(str, Enum):
    """Which of the cell's two slices carries the template's traffic."""

    EMBB = 'embb'
    URLLC = 'urllc'

    @property
    def slice_id(self) -> int:
        """msg/UeMetrics.msg slice id: SLICE_EMBB 0, SLICE_URLLC 1."""
        return 1 if self is SliceKind.URLLC else 0


class Snssai(FrozenModel):
    """Single Network Slice Selection Assistance Information (TS 23.003 §28.4.2)."""

    sst: int = Field(ge=1, le=255)
    """Slice/Service Type, 8 bits (TS 23.501 §5.15.2.2: 1 eMBB, 2 URLLC, 3 MIoT, ...); 0 is not
    used here."""
    sd: str | None = None
    """Slice Differentiator, 24 bits as six hex digits (quoted in YAML), or null for none;
    ``FFFFFF`` is the reserved 'no SD' value (TS 23.003 §28.4.2), so it is written as null."""

    @field_validator('sd', mode='before')
    @classmethod
    def _sd_text(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError('must be six hex digits in quotes, e.g. "000001" (YAML reads an '
                             'unquoted 000001 as a number), or null')
        if not _SD_PATTERN.match(value):
            raise ValueError('must be six hex digits (24 bits), e.g. "000001", or null')
        if value.upper() == 'FFFFFF':
            raise ValueError('FFFFFF is the reserved "no SD" value (TS 23.003 §28.4.2); write '
                             'null instead')
        return value.upper()

    def text(self) -> str:
        """``SST`` or ``SST-SD`` as logs show it."""
        return f'{self.sst}' if self.sd is None else f'{self.sst}-{self.sd}'


class PrbRatio(FrozenModel):
    """TS 28.541 RRMPolicyRatio as fractions of the carrier's PRBs."""

    dedicated: float = Field(0.0, ge=0.0, le=1.0)
    """rRMPolicyDedicatedRatio: PRBs reserved for the slice even when idle [1]."""
    min: float = Field(0.0, ge=0.0, le=1.0)
    """rRMPolicyMinRatio: PRBs the slice gets whenever it has data [1]."""
    max: float = Field(1.0, ge=0.0, le=1.0)
    """rRMPolicyMaxRatio: the most PRBs the slice may get [1]."""

    @model_validator(mode='after')
    def _ordered(self) -> PrbRatio:
        if not self.dedicated <= self.min <= self.max:
            raise ValueError(f'dedicated {self.dedicated:g} <= min {self.min:g} <= max '
                             f'{self.max:g} must hold (TS 28.541 RRMPolicyRatio)')
        return self


class SliceTemplate(FrozenModel):
    """One slice the broker may admit (module docstring)."""

    name: str = Field(min_length=1, max_length=64, pattern=r'^[A-Za-z][A-Za-z0-9_\-]*$')
    """Unique name: a letter, then letters, digits, ``_`` or ``-``."""
    kind: SliceKind
    """``embb`` or ``urllc``: the cell slice that carries it."""
    snssai: Snssai
    five_qi: int = Field(ge=1, le=255)
    """5QI (TS 23.501 Table 5.7.4-1); a standardized value, and delay-critical GBR (82-90) for
    a URLLC slice."""
    guaranteed_bitrate_bps: float = Field(ge=0.0, le=100e9)
    """Rate the slice must be able to get [bit/s] (admission checks it against its max ratio)."""
    max_bitrate_bps: float = Field(gt=0.0, le=100e9)
    """Rate above which the slice gets nothing more [bit/s] (reported with the state)."""
    delay_budget_s: float = Field(gt=0.0, le=10.0)
    """Packet delay budget [s] (the 5QI's PDB or tighter): the DPP allocator's constraint."""
    prb_ratio: PrbRatio = Field(default_factory=PrbRatio)
    priority: int = Field(0, ge=0, le=1000)
    """Admission order: lower first (ties: by name)."""

    @field_validator('five_qi')
    @classmethod
    def _standard_5qi(cls, value: int) -> int:
        if value not in STANDARD_5QI:
            raise ValueError(f'not a standardized 5QI of TS 23.501 Table 5.7.4-1 (one of '
                             f'{", ".join(str(v) for v in sorted(STANDARD_5QI))})')
        return value

    @model_validator(mode='after')
    def _consistent(self) -> SliceTemplate:
        if self.guaranteed_bitrate_bps > self.max_bitrate_bps:
            raise ValueError(f'guaranteed_bitrate_bps {self.guaranteed_bitrate_bps:g} must be '
                             f'<= max_bitrate_bps {self.max_bitrate_bps:g}')
        if self.kind is SliceKind.URLLC and self.five_qi not in DELAY_CRITICAL_GBR_5QI:
            raise ValueError(f'five_qi {self.five_qi} of a urllc slice must be delay-critical '
                             f'GBR: one of {", ".join(map(str, sorted(DELAY_CRITICAL_GBR_5QI)))}')
        return self


def load_template(path: str | Path) -> SliceTemplate:
    """
    One template file.

    Raises:
        ConfigError: ``slice template PATH: field 'F' = VALUE: allowed ...`` (or the file's
            problem: missing, malformed YAML, not a mapping).
    """
    data = read_input_yaml(path, 'slice template', shape='mapping')
    try:
        return validate_config(SliceTemplate, data)
    except ConfigError as exc:
        raise ConfigError(f'slice template {display_path(path)}: {exc}') from None


def load_templates(folder: str | Path) -> list[SliceTemplate]:
    """
    Every ``*.yaml``/``*.yml`` template of ``folder``, in admission order (priority, then name).

    Raises:
        ConfigError: a bad file (:func:`load_template`), no template in the folder, or two
            templates with the same name.
    """
    root = input_folder(folder, 'slices_dir')
    files = sorted(p for p in root.iterdir() if p.suffix in TEMPLATE_SUFFIXES and p.is_file())
    if not files:
        raise ConfigError(f'slices_dir {display_path(root)}: holds no slice template '
                          f'({" or ".join("*" + s for s in TEMPLATE_SUFFIXES)})')
    seen: dict[str, Path] = {}
    templates = []
    for file in files:
        template = load_template(file)
        if template.name in seen:
            raise ConfigError(f"slice template {display_path(file)}: field 'name' = "
                              f'{template.name!r}: already used by '
                              f'{display_path(seen[template.name])}; names must be unique')
        seen[template.name] = file
        templates.append(template)
    return sorted(templates, key=lambda t: (t.priority, t.name))
