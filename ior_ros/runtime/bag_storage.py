"""
Reading rosbag2 folders with rosbags: the storages this runtime reads and writes (``mcap`` and
``sqlite3``, as Jazzy's rosbag2), ``metadata.yaml``, and a reader whose every failure (unsupported
storage, corrupt or truncated file, bad compression) is one
:class:`~ior_ros.runtime.errors.RosInputError` naming the file.

An MCAP file without its footer (a recording that was killed, a copy cut short, a garbage tail)
is read by :class:`~ior_ros.runtime.bag_mcap_scan.ScannedMcapReader` up to its last complete
message instead; :attr:`BagReader.damage` then says what was cut.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from ior_ros.runtime.errors import RosInputError

__all__ = ['STORAGES', 'STORAGE_SUFFIXES', 'bag_metadata', 'storage_files', 'BagReader']

STORAGES = ('mcap', 'sqlite3')
STORAGE_SUFFIXES = {'.mcap': 'mcap', '.db3': 'sqlite3'}  # storage file name ending → storage


def storage_files(folder: Path) -> list[Path]:
    """The storage files (``*.mcap``, ``*.db3``, not hidden) of a bag folder, sorted."""
    try:
        return sorted(f for f in folder.iterdir() if f.suffix in STORAGE_SUFFIXES and
                      not f.name.startswith('.') and f.is_file())
    except OSError:
        return []


def bag_metadata(bag: str | Path) -> tuple[Path, dict[str, Any]]:
    """The bag folder and its ``rosbag2_bagfile_information``; RosInputError (naming the file)
    when it is not a bag this tool reads."""
    import yaml

    path = Path(bag)
    meta_path = path / 'metadata.yaml'
    if not meta_path.is_file():
        found = storage_files(path) if path.is_dir() else []
        if found:
            raise RosInputError(f"'{path}' has no metadata.yaml but holds "
                                f"{', '.join(f.name for f in found)} (a recording that was "
                                f'cut?): run `ior bag reindex {path}` to write it')
        raise RosInputError(f"'{path}' is not a rosbag2 folder (no metadata.yaml)")
    try:
        meta = yaml.safe_load(meta_path.read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = (str(exc).strip().splitlines() or ['?'])[0]
        raise RosInputError(f'{meta_path}: not a readable rosbag2 metadata file ({reason})') \
            from None
    info = meta.get('rosbag2_bagfile_information') if isinstance(meta, dict) else None
    if not isinstance(info, dict):
        raise RosInputError(f"{meta_path}: no 'rosbag2_bagfile_information' mapping")
    storage = info.get('storage_identifier')
    if storage not in STORAGES:
        raise RosInputError(f"{meta_path}: storage '{storage}' cannot be read here (readable: "
                            f"{', '.join(STORAGES)})")
    return path, info


def _read_error(path: Path, info: dict[str, Any], exc: BaseException) -> RosInputError:
    """One line naming the bag's storage file (or folder) and what rosbags found wrong."""
    files = [str(f) for f in info.get('relative_file_paths') or []]
    where = path / Path(files[0]).name if len(files) == 1 else path
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    reason = reason.replace(f'Cannot open database {where}: ', '')  # rosbags names it too
    return RosInputError(f'{where}: cannot read this {info.get("storage_identifier")} bag: '
                         f'{reason}')


def _reader_errors() -> tuple[type[BaseException], ...]:
    """What rosbags' readers raise on a damaged file (not on programming errors)."""
    import sqlite3
    import struct

    from rosbags.rosbag2 import ReaderError

    errors: list[type[BaseException]] = [ReaderError, sqlite3.Error, struct.error, EOFError,
                                          UnicodeDecodeError]
    try:
        import apsw

        errors.append(apsw.Error)
    except ImportError:  # pragma: no cover - rosbags depends on it
        pass
    for module in ('compression.zstd', 'backports.zstd'):  # what rosbags decompresses with
        try:
            errors.append(importlib.import_module(module).ZstdError)
            break
        except (ImportError, AttributeError):
            continue
    return tuple(errors)


class BagReader:
    """
    ``with BagReader(path, info) as reader`` opens rosbags' Reader, or the scanning reader for
    MCAP files without a footer (and for every MCAP file with ``scan=True``, for a folder
    without metadata.yaml); every read error, opening or while iterating, becomes one
    RosInputError naming the file. ``damage``: one phrase per file that was read only in part
    (or whose summary is missing), ``file: what was cut``.
    """

    def __init__(self, path: Path, info: dict[str, Any], scan: bool = False) -> None:
        self.path = path
        self.info = info
        self.scan = scan
        self.errors = _reader_errors()
        self.reader: Any = None
        self.damage: list[str] = []
        self.scanned = False

    def _mcap_files(self) -> list[Path]:
        """The bag's MCAP files when it is an uncompressed MCAP bag, else []."""
        if self.info.get('storage_identifier') != 'mcap':
            return []
        files = [self.path / Path(str(f)).name for f in self.info.get('relative_file_paths') or
                 []]
        return files if files and all(f.suffix == '.mcap' for f in files) else []

    def _scanned_reader(self, files: list[Path]) -> Any:
        from ior_ros.runtime.bag_mcap_scan import ScannedMcapReader, scan_mcap

        scans = [scan_mcap(f) for f in files]
        self.damage = [f'{s.path}: {s.cut_text()}' for s in scans if s.cut_text()]
        self.scanned = True
        return ScannedMcapReader(scans)

    def __enter__(self) -> Any:
        from rosbags.rosbag2 import Reader

        from ior_ros.runtime.bag_mcap_scan import mcap_has_footer

        mcap_files = self._mcap_files()
        if mcap_files and (self.scan or not all(mcap_has_footer(f) for f in mcap_files)):
            self.reader = self._scanned_reader(mcap_files)
            return self.reader
        try:
            self.reader = Reader(self.path)
            self.reader.open()
        except Exception as exc:
            if isinstance(exc, (*self.errors, OSError, KeyError, ValueError)):
                if mcap_files:  # a footer, but a damaged summary: read the data section
                    self.reader = self._scanned_reader(mcap_files)
                    return self.reader
                raise _read_error(self.path, self.info, exc) from None
            raise
        return self.reader

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        try:
            self.reader.close()
        except Exception:  # noqa: BLE001, S110 - closing a damaged bag may fail again
            pass
        if exc is not None and isinstance(exc, self.errors):
            raise _read_error(self.path, self.info, exc) from None
