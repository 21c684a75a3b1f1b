"""
srsRAN gNB slicing in its YAML configuration: ``cell_cfg.slicing`` (ran-equipment §3.1, §3.2).

Releases 24.10 and 25.04 have no runtime PRB quota: the policies go into the gNB's YAML and the
gNB is restarted. This module

* renders policies as ``cell_cfg.slicing`` entries for a release (24.10: ``sst``, ``sd``,
  ``sched_cfg`` min/max; 25.04 adds ``priority``; 25.10 adds ``ded_prb_policy_ratio``), leaving
  out a max or dedicated ratio of 0 (srsRAN parses both with ``CLI::Range(1, 100)``, so an
  explicit 0 stops the gNB; an absent key is the default: max 100, dedicated 0);
* writes them into a YAML file atomically (temporary file + ``os.replace``), keeping every other
  key of the file: the gNB can be started with ``gnb -c gnb.yml -c slicing.yml`` so only the
  second file is written;
* runs the configured restart command (split with :func:`shlex.split`, run without a shell) and
  times the write and the restart (:class:`YamlGnbConfigurator`);
* reads a gNB YAML back into cells and slices (:func:`read_gnb_cells`): the emulator is built from
  it and the written file is the YAML path's read-back.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ior_ros.clients.errors import (
    EquipmentRejected,
    EquipmentTimeout,
    EquipmentUnavailable,
    EquipmentValidationError,
)
from ior_ros.clients.srsran import SD_NONE, SlicePolicy, validate_policy_set
from ior_ros.core.errors import ConfigError
from ior_ros.core.input_files import display_path, parse_yaml_text, read_input_yaml

__all__ = ['RELEASES', 'NR_PRBS', 'nof_prbs', 'SliceEntry', 'CellConfig', 'slicing_entries',
           'read_gnb_cells', 'read_policies', 'write_slicing_yaml', 'YamlApplyResult',
           'YamlGnbConfigurator']

RELEASES = ('24.10', '25.04', '25.10')
"""Releases whose ``cell_cfg.slicing`` this module writes."""

NR_PRBS: dict[int, dict[int, int]] = {
    15: {5: 25, 10: 52, 15: 79, 20: 106, 25: 133, 30: 160, 40: 216, 50: 270},
    30: {5: 11, 10: 24, 15: 38, 20: 51, 25: 65, 30: 78, 40: 106, 50: 133, 60: 162, 70: 189,
         80: 217, 90: 245, 100: 273},
}
"""3GPP TS 38.101-1 Table 5.3.2-1 (FR1): transmission bandwidth N_RB by SCS [kHz] and channel
bandwidth [MHz]."""


def nof_prbs(bandwidth_mhz: int, scs_khz: int) -> int:
    """N_RB of an FR1 carrier (TS 38.101-1 Table 5.3.2-1); ConfigError for a pair not there."""
    table = NR_PRBS.get(scs_khz)
    if table is None or bandwidth_mhz not in table:
        pairs = '; '.join(f'{scs} kHz: {", ".join(map(str, sorted(t)))} MHz'
                          for scs, t in NR_PRBS.items())
        raise ConfigError(f'channel_bandwidth_MHz {bandwidth_mhz} with common_scs {scs_khz}: '
                          f'allowed (TS 38.101-1 Table 5.3.2-1) {pairs}')
    return table[bandwidth_mhz]


@dataclass(frozen=True)
class SliceEntry:
    """One ``cell_cfg.slicing`` entry as the gNB reads it (absent keys at srsRAN's defaults)."""

    sst: int
    sd: int | None
    min_ratio: int = 0
    max_ratio: int = 100
    dedicated_ratio: int = 0
    priority: int | None = None


@dataclass(frozen=True)
class CellConfig:
    """One cell of a gNB YAML: PCI, PLMN, N_RB and the configured slices."""

    pci: int
    plmn: str
    nof_prbs: int
    slices: tuple[SliceEntry, ...]


def slicing_entries(policies: Sequence[SlicePolicy], release: str = '25.04') \
        -> list[dict[str, Any]]:
    """
    The ``cell_cfg.slicing`` list for ``policies`` (ran-equipment §3.2).

    A max or dedicated ratio of 0 is left out (an explicit 0 fails srsRAN's parse; a max of 0
    cannot be written at all and is refused); ``ded_prb_policy_ratio`` only from 25.10,
    ``priority`` only from 25.04. The PLMN is the cell's (``cell_cfg.plmn``), not written here.

    Raises:
        EquipmentValidationError: an unknown release, a max ratio of 0, or a set that breaks
            TS 28.541 (:func:`~ior_ros.clients.srsran.validate_policy_set`).
    """
    if release not in RELEASES:
        raise EquipmentValidationError(f'gNB release {release!r}: allowed {", ".join(RELEASES)}')
    validate_policy_set(policies)
    entries = []
    for policy in policies:
        if policy.max_ratio == 0:
            raise EquipmentValidationError(
                f"slice policy {policy.text}: field 'max_ratio' = 0: the gNB YAML takes 1..100 "
                f'(CLI::Range(1, 100)); give the slice at least 1 %')
        sched: dict[str, Any] = {'min_prb_policy_ratio': policy.min_ratio}
        if policy.max_ratio != 100:
            sched['max_prb_policy_ratio'] = policy.max_ratio
        if release == '25.10' and policy.dedicated_ratio:
            sched['ded_prb_policy_ratio'] = policy.dedicated_ratio
        if release != '24.10' and policy.priority is not None:
            sched['priority'] = policy.priority
        entry: dict[str, Any] = {'sst': policy.sst}
        if policy.sd is not None:
            entry['sd'] = policy.sd
        entry['sched_cfg'] = sched
        entries.append(entry)
    return entries


def _int_field(where: str, data: Mapping[str, Any], key: str, low: int, high: int,
               default: int | None) -> int | None:
    value = data.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}: field '{key}' = {value!r}: allowed an integer "
                          f'{low}..{high}')
    return value


def _slice_entry(where: str, raw: Any) -> SliceEntry:
    if not isinstance(raw, Mapping):
        raise ConfigError(f'{where}: expected a mapping with sst, sd, sched_cfg; got {raw!r}')
    sst = _int_field(where, raw, 'sst', 0, 255, None)
    if sst is None:
        raise ConfigError(f"{where}: field 'sst' is missing: allowed an integer 0..255")
    sd = _int_field(where, raw, 'sd', 0, SD_NONE, SD_NONE)
    sched = raw.get('sched_cfg', {}) or {}
    if not isinstance(sched, Mapping):
        raise ConfigError(f"{where}: field 'sched_cfg' = {sched!r}: expected a mapping")
    low = _int_field(where, sched, 'min_prb_policy_ratio', 0, 100, 0)
    high = _int_field(where, sched, 'max_prb_policy_ratio', 1, 100, 100)
    ded = _int_field(where, sched, 'ded_prb_policy_ratio', 1, 100, None)
    prio = _int_field(where, sched, 'priority', 0, 254, None)
    assert low is not None and high is not None
    if low > high:
        raise ConfigError(f'{where}: min_prb_policy_ratio {low} > max_prb_policy_ratio {high}')
    if ded is not None and ded > low:
        raise ConfigError(f'{where}: ded_prb_policy_ratio {ded} > min_prb_policy_ratio {low}')
    return SliceEntry(sst=sst, sd=None if sd == SD_NONE else sd, min_ratio=low, max_ratio=high,
                      dedicated_ratio=ded or 0, priority=prio)


def _cell(where: str, base: Mapping[str, Any], override: Mapping[str, Any]) -> CellConfig:
    merged = {**base, **override}
    plmn = merged.get('plmn', '00101')
    if not isinstance(plmn, str) or not plmn.isdigit() or len(plmn) not in (5, 6):
        raise ConfigError(f"{where}: field 'plmn' = {plmn!r}: allowed MCC + MNC as 5 or 6 digits")
    pci = _int_field(where, merged, 'pci', 0, 1007, 1)
    bandwidth = _int_field(where, merged, 'channel_bandwidth_MHz', 5, 100, 20)
    scs = _int_field(where, merged, 'common_scs', 15, 30, 30)
    assert pci is not None and bandwidth is not None and scs is not None
    try:
        prbs = nof_prbs(bandwidth, scs)
    except ConfigError as exc:
        raise ConfigError(f'{where}: {exc}') from None
    raw_slices = merged.get('slicing', []) or []
    if not isinstance(raw_slices, list):
        raise ConfigError(f"{where}: field 'slicing' = {raw_slices!r}: expected a list")
    slices = tuple(_slice_entry(f'{where} slicing[{i}]', s) for i, s in enumerate(raw_slices))
    keys = [(s.sst, s.sd) for s in slices]
    if len(set(keys)) != len(keys):
        raise ConfigError(f'{where}: a slice (sst, sd) is listed twice in slicing')
    return CellConfig(pci=pci, plmn=plmn, nof_prbs=prbs, slices=slices)


def read_gnb_cells(data: Mapping[str, Any], source: str = 'gNB config') -> list[CellConfig]:
    """
    The cells of a gNB YAML mapping: ``cell_cfg`` (``pci``, ``plmn``, ``channel_bandwidth_MHz``,
    ``common_scs``, ``slicing``), and for several cells ``cells: [{pci: ...}, ...]`` whose keys
    override ``cell_cfg`` (srsRAN's multi-cell form). Defaults: PCI 1, PLMN 00101, 20 MHz at
    30 kHz (51 PRBs), no slice.

    Raises:
        ConfigError: ``SOURCE cell_cfg slicing[I]: field 'K' = V: allowed ...``.
    """
    cell_cfg = data.get('cell_cfg', {}) or {}
    if not isinstance(cell_cfg, Mapping):
        raise ConfigError(f"{source}: field 'cell_cfg' = {cell_cfg!r}: expected a mapping")
    cells = data.get('cells')
    if cells is None:
        return [_cell(f'{source} cell_cfg', cell_cfg, {})]
    if not isinstance(cells, list) or not cells or not all(isinstance(c, Mapping) for c in cells):
        raise ConfigError(f"{source}: field 'cells' = {cells!r}: expected a list of mappings")
    return [_cell(f'{source} cells[{i}]', cell_cfg, c) for i, c in enumerate(cells)]


def read_policies(path: str | Path) -> list[SlicePolicy]:
    """The policies a gNB YAML holds (the YAML path's read-back; the cell's PLMN)."""
    data = read_input_yaml(path, 'gNB config', shape='mapping')
    cell = read_gnb_cells(data, f'gNB config {display_path(path)}')[0]
    return [SlicePolicy(sst=s.sst, sd=s.sd, min_ratio=s.min_ratio, max_ratio=s.max_ratio,
                        dedicated_ratio=s.dedicated_ratio, plmn=cell.plmn, priority=s.priority)
            for s in cell.slices]


def write_slicing_yaml(path: str | Path, policies: Sequence[SlicePolicy],
                       release: str = '25.04') -> Path:
    """
    Put ``policies`` as ``cell_cfg.slicing`` into the YAML file ``path`` (created if missing;
    every other key kept; comments are not kept), through a temporary file and a rename.

    Raises:
        EquipmentValidationError: see :func:`slicing_entries`; ConfigError: the existing file
            is not a YAML mapping.
    """
    target = Path(path)
    entries = slicing_entries(policies, release)
    data: dict[str, Any] = {}
    if target.exists():
        text = target.read_text(encoding='utf-8')
        loaded = parse_yaml_text(text, target) if text.strip() else {}
        if not isinstance(loaded, dict):
            raise ConfigError(f'gNB config {display_path(target)}: expected a YAML mapping')
        data = loaded
    cell_cfg = data.get('cell_cfg')
    if not isinstance(cell_cfg, dict):
        cell_cfg = {}
    cell_cfg['slicing'] = entries
    data['cell_cfg'] = cell_cfg
    text = ('# cell_cfg.slicing written by ior_ros (ior_ros/clients/srsran_yaml.py)\n'
            + yaml.safe_dump(data, sort_keys=False))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{target.name}.', suffix='.tmp', dir=target.parent)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


@dataclass(frozen=True)
class YamlApplyResult:
    """The YAML path's outcome: the file, and the time to write it and to restart [s]."""

    path: Path
    write_s: float
    restart_s: float

    @property
    def total_s(self) -> float:
        """Write + restart [s]."""
        return self.write_s + self.restart_s


class YamlGnbConfigurator:
    """
    The 24.10/25.04 path: write ``cell_cfg.slicing`` and restart the gNB through a command.

    Args:
        config_path: the YAML file the gNB reads (a second ``-c`` file is the cleanest).
        restart_command: e.g. ``'systemctl restart srsran-gnb'``; split with :func:`shlex.split`
            and run without a shell; a non-zero exit is an error.
        release: ``'24.10'``, ``'25.04'`` or ``'25.10'`` (which keys may be written).
        restart_timeout_s: the longest the restart command may run [s].
    """

    def __init__(self, config_path: str | Path, restart_command: str | Sequence[str],
                 release: str = '25.04', restart_timeout_s: float = 120.0) -> None:
        if release not in RELEASES:
            raise EquipmentValidationError(f'gNB release {release!r}: allowed '
                                           f'{", ".join(RELEASES)}')
        try:
            argv = (shlex.split(restart_command) if isinstance(restart_command, str)
                    else [str(a) for a in restart_command])
        except ValueError as exc:
            raise EquipmentValidationError(f'restart command {restart_command!r}: {exc}') \
                from None
        if not argv:
            raise EquipmentValidationError('restart command: empty; allowed a program and its '
                                           'arguments, e.g. "systemctl restart srsran-gnb"')
        self.path = Path(config_path)
        self.argv = argv
        self.release = release
        self.restart_timeout_s = float(restart_timeout_s)

    def restart(self) -> float:
        """Run the restart command; its duration [s]."""
        start = time.perf_counter()
        try:
            done = subprocess.run(self.argv, capture_output=True, text=True,
                                  timeout=self.restart_timeout_s, check=False)
        except FileNotFoundError:
            raise EquipmentUnavailable(f'restart command {self.argv[0]!r}: not found') from None
        except PermissionError:
            raise EquipmentUnavailable(f'restart command {self.argv[0]!r}: not executable') \
                from None
        except subprocess.TimeoutExpired:
            raise EquipmentTimeout(f'restart command {shlex.join(self.argv)!r}: still running '
                                   f'after {self.restart_timeout_s:g} s') from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()
            why = tail[-1] if tail else 'no output'
            raise EquipmentRejected(f'restart command {shlex.join(self.argv)!r} exited with '
                                    f'{done.returncode}: {why}', detail=why)
        return time.perf_counter() - start

    def apply(self, policies: Sequence[SlicePolicy]) -> YamlApplyResult:
        """Write the whole policy set, then restart; the timings."""
        start = time.perf_counter()
        write_slicing_yaml(self.path, policies, self.release)
        written = time.perf_counter() - start
        return YamlApplyResult(path=self.path, write_s=written, restart_s=self.restart())

    def read_back(self) -> list[SlicePolicy]:
        """The policies the file holds now."""
        return read_policies(self.path)
