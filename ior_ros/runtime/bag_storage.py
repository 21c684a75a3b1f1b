"""
Reading rosbag2 folders with rosbags: the storages this runtime reads and writes (``mcap`` and
``sqlite3``, as Jazzy's rosbag2), ``metadata.yaml``, and a reader whose every failure (unsupported
storage, corrupt or truncated file, bad compression) is one
:class:`~ior_ros.runtime.errors.RosInputError` naming the file.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from ior_ros.runtime.errors import RosInputError

__all__ = ['STORAGES', 'bag_metadata', 'BagReader']

STORAGES = ('mcap', 'sqlite3')


def bag_metadata(bag: str | Path) -> tuple[Path, dict[str, Any]]:
    """The bag folder and its ``rosbag2_bagfile_information``; RosInputError (naming the file)
    when it is not a bag this tool reads."""
    import yaml

    path = Path(bag)
    meta_path = path / 'metadata.yaml'
    if not meta_path.is_file():
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
    """``with BagReader(path, info) as reader`` opens rosbags' Reader; every read error,
    opening or while iterating, becomes one RosInputError naming the file."""

    def __init__(self, path: Path, info: dict[str, Any]) -> None:
        self.path = path
        self.info = info
        self.errors = _reader_errors()
        self.reader: Any = None

    def __enter__(self) -> Any:
        from rosbags.rosbag2 import Reader

        try:
            self.reader = Reader(self.path)
            self.reader.open()
        except Exception as exc:
            if isinstance(exc, (*self.errors, OSError, KeyError, ValueError)):
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
