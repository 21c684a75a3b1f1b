"""
Writing run outputs: never a half-written file.

Every writer puts the bytes into a temporary file in the destination folder and renames it over the
target (``os.replace`` is atomic on POSIX), so a crash leaves either the old file or the new one.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

__all__ = ['atomic_write_bytes', 'atomic_write_text', 'atomic_write_json', 'atomic_write_yaml',
           'atomic_write_csv', 'ensure_out_dir', 'to_jsonable']


def ensure_out_dir(path: str | Path) -> Path:
    """Create the output folder (and parents) and return it as a Path."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f'.{target.name}.', suffix='.tmp', dir=target.parent)
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    return target


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically."""
    return atomic_write_bytes(path, text.encode('utf-8'))


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and Paths into plain JSON types."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, 'tolist'):
        return to_jsonable(value.tolist())
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    return value


def atomic_write_json(path: str | Path, data: Any, indent: int = 2) -> Path:
    """Write JSON atomically (numpy values converted; NaN written as null)."""
    return atomic_write_text(path, json.dumps(to_jsonable(data), indent=indent, allow_nan=False)
                             + '\n')


def atomic_write_yaml(path: str | Path, data: Any) -> Path:
    """Write YAML atomically."""
    return atomic_write_text(path, yaml.safe_dump(to_jsonable(data), sort_keys=False))


def atomic_write_csv(path: str | Path, header: Sequence[str],
                     rows: Sequence[Sequence[Any]]) -> Path:
    """Write a CSV table atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator='\n')
    writer.writerow(header)
    for row in rows:
        writer.writerow(['' if v is None else v for v in to_jsonable(list(row))])
    return atomic_write_text(path, buffer.getvalue())
