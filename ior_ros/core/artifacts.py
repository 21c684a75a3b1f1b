"""
Run outputs and saved models: never a half-written file, one way to save and load.

Every writer puts the bytes into a temporary file in the destination folder and renames it over the
target (``os.replace`` is atomic on POSIX), so a crash leaves either the old file or the new one.

Every saved model, policy and schedule is an *artifact* of an :class:`ArtifactFormat`: a format id
``name/version`` written into the file (``ior_ros.twin/1``), a file name inside a run folder
(``twin.pt``) and an encoding (a JSON document; a numpy ``.npz`` whose ``metadata`` array holds
the JSON document; a ``torch.save`` dict). :func:`write_artifact` stamps the id and writes
atomically; :func:`read_artifact` takes a file or the folder holding it, checks that it exists,
reads it and checks the format id and version. Each failure is one :class:`ArtifactError` line
that names the path, what was found and what was expected.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt
import yaml

from ior_ros.core.errors import ArtifactError, ConfigError, IorError
from ior_ros.core.input_files import (
    ARRAY_LIMIT,
    JSON_LIMIT,
    TORCH_LIMIT,
    SizeLimit,
    display_path,
    read_input_bytes,
    read_input_text,
)

__all__ = ['OutputPathError', 'check_out_dir', 'check_out_file',
           'atomic_write_bytes', 'atomic_write_text', 'atomic_write_json', 'atomic_write_yaml',
           'atomic_write_csv', 'ensure_out_dir', 'to_jsonable', 'ArtifactEncoding',
           'ArtifactFormat', 'Artifact', 'artifact_file', 'read_json_file', 'check_format',
           'read_artifact', 'artifact_contents', 'write_artifact', 'NPZ_METADATA']


class OutputPathError(ConfigError):
    """An output path (``--out``) that cannot be written: a file where a folder is wanted, a
    parent that is a file, or a folder this process may not write into."""


def _first_existing(path: Path) -> Path:
    """The path itself or its nearest existing ancestor."""
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def _probe_writable(folder: Path, what: str, target: Path) -> None:
    """Create and remove a temporary file in ``folder``; OutputPathError when that fails."""
    try:
        fd, name = tempfile.mkstemp(prefix='.ior-probe-', dir=folder)
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        where = '' if folder == target else f' (in {display_path(folder)})'
        raise OutputPathError(f'{what} {display_path(target)}: cannot write there{where}: '
                              f'{reason}') from None
    os.close(fd)
    os.unlink(name)


def check_out_dir(path: str | Path, what: str = '--out') -> Path:
    """
    Check, before any work, that ``path`` can be the output folder; create nothing.

    It must be an existing folder, or a path whose nearest existing ancestor is a folder. The
    folder that will be written into (the path, or that ancestor) is probed by creating and
    removing a temporary file, so permissions, read-only file systems and the like are found
    now and not after a long run.

    Raises:
        OutputPathError: one line naming the path and the problem.
    """
    target = Path(path)
    shown = f'{what} {display_path(target)}'
    if not str(path):
        raise OutputPathError(f'{what}: empty path; expected a folder')
    try:
        existing = _first_existing(target)
    except (OSError, ValueError) as exc:
        raise OutputPathError(f'{shown}: not a usable path ({exc})') from None
    if existing == target and not target.is_dir():
        raise OutputPathError(f'{shown}: exists and is a file; expected a folder (remove it or '
                              'choose another path)')
    if not existing.is_dir():
        raise OutputPathError(f'{shown}: {display_path(existing)} is a file, so the folder '
                              'cannot be created under it')
    _probe_writable(existing, what, target)
    return target


def check_out_file(path: str | Path, what: str = '--out') -> Path:
    """
    Check, before any work, that a file can be written at ``path`` (replacing a file there);
    create nothing.

    Raises:
        OutputPathError: the path is a folder, or its folder cannot be created or written.
    """
    target = Path(path)
    if target.is_dir():
        raise OutputPathError(f'{what} {display_path(target)}: is a folder; expected a file '
                              'name')
    parent = target.parent if str(target.parent) else Path('.')
    existing = _first_existing(parent)
    if not existing.is_dir():
        raise OutputPathError(f'{what} {display_path(target)}: {display_path(existing)} is a '
                              'file, so the file cannot be created under it')
    _probe_writable(existing, what, target)
    return target


def ensure_out_dir(path: str | Path) -> Path:
    """Create the output folder (and parents) and return it as a Path."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputPathError(f'{display_path(out)}: exists and is a file; expected a folder') \
            from None
    except OSError as exc:
        raise OutputPathError(f'{display_path(out)}: cannot create the folder: '
                              f'{(exc.strerror or type(exc).__name__).lower()}') from None
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


# --------------------------------------------------------------------------------------------
# Saved models, policies and schedules

ArtifactEncoding = Literal['json', 'npz', 'torch']
"""How an artifact is stored: see the module docstring."""

NPZ_METADATA = 'metadata'
"""The array of an ``npz`` artifact that holds its JSON document (a 0-d string array)."""

_ENCODING_WORDS: dict[str, str] = {'json': 'a JSON document', 'npz': 'a numpy .npz archive',
                                   'torch': 'a torch.save file'}
_REASON_CHARS = 160


@dataclass(frozen=True)
class ArtifactFormat:
    """
    A kind of saved artifact.

    Attributes:
        name: the format's name (``'ior_ros.twin'``); files carry ``name/version``.
        version: the version this code writes; the loader reads ``min_version..version``.
        file_name: the artifact's file inside a run folder (``'twin.pt'``); a folder given to
            :func:`read_artifact` or :func:`write_artifact` means ``folder/file_name``.
        encoding: 'json', 'npz' or 'torch' (module docstring).
        what: what it is, in words, for messages (``'twin'``).
        made_by: what writes one (``'`ior train twin`'``), named when the file is missing.
        min_version: the oldest version still read (None: only ``version``).
    """

    name: str
    version: int
    file_name: str
    encoding: ArtifactEncoding
    what: str
    made_by: str = ''
    min_version: int | None = None

    @property
    def id(self) -> str:
        """The format id written into the file: ``name/version``."""
        return f'{self.name}/{self.version}'


class Artifact(NamedTuple):
    """What :func:`read_artifact` returns."""

    path: Path
    """The file that was read."""
    document: dict[str, Any]
    """The JSON document, the torch dict, or the ``metadata`` JSON of an npz (with 'format')."""
    arrays: dict[str, npt.NDArray[Any]]
    """The arrays of an npz artifact other than ``metadata`` (empty for the other encodings)."""


def _one_line(exc: BaseException) -> str:
    """The exception's message on one line; a long one cut to its first sentence."""
    text = ' '.join(str(exc).split()) or type(exc).__name__
    if len(text) <= _REASON_CHARS:
        return text
    first = text.split('. ', 1)[0] + '.'
    return first if len(first) <= _REASON_CHARS else text[:_REASON_CHARS - 3] + '...'


def _target(path: str | Path, fmt: ArtifactFormat) -> Path:
    given = Path(path)
    if given.is_dir() or given.suffix != Path(fmt.file_name).suffix:
        return given / fmt.file_name
    return given


def artifact_file(path: str | Path, fmt: ArtifactFormat) -> Path:
    """
    The existing file an artifact path names: the path, or ``path/fmt.file_name`` for a folder.

    Raises:
        ArtifactError: no such file.
    """
    given = Path(path)
    file = given / fmt.file_name if given.is_dir() else given
    if not file.is_file():
        made = f' written by {fmt.made_by}' if fmt.made_by else ''
        raise ArtifactError(f'no {fmt.what} at {str(file)!r}: the file does not exist (expected '
                            f'{fmt.file_name}{made}, or a folder holding one)')
    return file


def _cannot_read(file: Path, fmt: ArtifactFormat, reason: str) -> ArtifactError:
    return ArtifactError(f'{fmt.what} file {str(file)!r} cannot be read: {reason} (expected '
                         f'{_ENCODING_WORDS[fmt.encoding]} of format {fmt.id!r})')


def read_json_file(file: Path, fmt: ArtifactFormat) -> Any:
    """
    The decoded JSON of an artifact file, format not checked (for files that may also hold
    something else, such as a plain gain matrix).

    Raises:
        ArtifactError: unreadable, binary, empty, too large or not JSON (one line).
    """
    text = read_input_text(file, f'{fmt.what} file', JSON_LIMIT, expected='JSON',
                           error=_reading_error(file, fmt, content='not JSON'))

    def no_constant(name: str) -> Any:
        raise ValueError(f'{name} is not JSON')

    try:
        return json.loads(text, parse_constant=no_constant)
    except json.JSONDecodeError as exc:
        raise _cannot_read(file, fmt, f'not JSON (line {exc.lineno}, column {exc.colno}: '
                           f'{exc.msg})') from None
    except (ValueError, RecursionError) as exc:
        raise _cannot_read(file, fmt, f'not JSON ({_one_line(exc)})') from None


def _reading_error(file: Path, fmt: ArtifactFormat,
                   content: str = '') -> Callable[[str], ArtifactError]:
    """
    An error factory for :mod:`ior_ros.core.input_files` that keeps this module's wording;
    ``content`` prefixes a problem with the bytes (binary, not UTF-8, empty): ``not JSON (...)``.
    """
    prefix = f'{fmt.what} file {display_path(file)}: '

    def make(message: str) -> ArtifactError:
        reason = message[len(prefix):] if message.startswith(prefix) else message
        if reason.startswith('cannot read: '):
            reason = reason.removeprefix('cannot read: ')
        elif content:
            reason = f'{content} ({reason.split("; expected ")[0]})'
        return _cannot_read(file, fmt, reason)
    return make


_LIMITS: dict[str, SizeLimit] = {'json': JSON_LIMIT, 'npz': ARRAY_LIMIT, 'torch': TORCH_LIMIT}


def _decode(file: Path, fmt: ArtifactFormat) -> tuple[Any, dict[str, npt.NDArray[Any]]]:
    if fmt.encoding == 'json':
        return read_json_file(file, fmt), {}
    data_bytes = read_input_bytes(file, f'{fmt.what} file', _LIMITS[fmt.encoding],
                                  error=_reading_error(file, fmt))
    if not data_bytes:
        raise _cannot_read(file, fmt, 'the file is empty')
    if fmt.encoding == 'npz':
        try:
            with np.load(io.BytesIO(data_bytes), allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except Exception as exc:  # zipfile, numpy and OS errors for a damaged file
            raise _cannot_read(file, fmt, _one_line(exc)) from None
        if NPZ_METADATA not in arrays:
            raise _cannot_read(file, fmt, f'no {NPZ_METADATA!r} array')
        try:
            document = json.loads(str(arrays.pop(NPZ_METADATA)))
        except (json.JSONDecodeError, RecursionError) as exc:
            raise _cannot_read(file, fmt, f'{NPZ_METADATA!r} is not JSON ({_one_line(exc)})') \
                from None
        return document, arrays
    import torch
    try:
        return torch.load(io.BytesIO(data_bytes), map_location='cpu', weights_only=True), {}
    except Exception as exc:  # torch raises several kinds for a damaged file
        raise _cannot_read(file, fmt, _one_line(exc)) from None


def check_format(document: Any, fmt: ArtifactFormat, file: Path) -> dict[str, Any]:
    """
    The document, once its ``format`` is ``fmt.name/v`` with ``min_version <= v <= version``.

    Raises:
        ArtifactError: not a mapping, no format, another format, or a version outside the range.
    """
    expected = repr(fmt.id) if fmt.min_version in (None, fmt.version) else \
        f'{fmt.name!r} version {fmt.min_version}..{fmt.version}'
    found = document.get('format') if isinstance(document, Mapping) else None
    if not isinstance(document, Mapping) or found is None:
        what = 'has no format id' if isinstance(document, Mapping) else \
            f'holds a {type(document).__name__}, not a document with a format id'
        raise ArtifactError(f'{fmt.what} file {str(file)!r} {what}; expected {expected}')
    name, _, version = str(found).rpartition('/')
    if name != fmt.name or not version.isdigit():
        raise ArtifactError(f'{str(file)!r} is not a {fmt.what} file: it has format {found!r}; '
                            f'expected {expected}')
    lowest = fmt.version if fmt.min_version is None else fmt.min_version
    if int(version) > fmt.version:
        raise ArtifactError(f'{fmt.what} file {str(file)!r} has format {found!r}, newer than '
                            f'this ior_ros reads; expected {expected} (update ior_ros)')
    if int(version) < lowest:
        raise ArtifactError(f'{fmt.what} file {str(file)!r} has format {found!r}, older than '
                            f'this ior_ros reads; expected {expected} (write it again)')
    return {str(k): v for k, v in document.items()}


@contextlib.contextmanager
def artifact_contents(path: str | Path, fmt: ArtifactFormat) -> Iterator[None]:
    """
    Build an object from a read artifact inside this block: an entry that is missing or of the
    wrong kind (a file of the right format and version whose contents were cut or edited)
    becomes one :class:`ArtifactError` naming the file, instead of a KeyError or a shape error
    from deep inside the loader. An error of the project (a layer of the wrong shape, a spec
    mismatch) keeps its class and gets the file's name in front.
    """
    file = artifact_file(path, fmt) if Path(path).exists() else Path(path)
    try:
        yield
    except IorError as exc:
        shown = display_path(file)
        if shown in str(exc):
            raise
        raise type(exc)(f'{fmt.what} file {shown}: {exc}') from None
    except KeyError as exc:
        raise _cannot_read(file, fmt, f'incomplete: it has no {exc.args[0]!r} entry') from None
    except (TypeError, ValueError, AttributeError, IndexError, RuntimeError) as exc:
        raise _cannot_read(file, fmt, f'its contents do not fit ({_one_line(exc)})') from None


def read_artifact(path: str | Path, fmt: ArtifactFormat) -> Artifact:
    """
    Read an artifact from its file or the folder holding it, and check its format.

    Raises:
        ArtifactError: missing, unreadable, or of another format or version (one line naming
            the path, what was found and what was expected).
    """
    file = artifact_file(path, fmt)
    document, arrays = _decode(file, fmt)
    return Artifact(file, check_format(document, fmt, file), arrays)


def write_artifact(path: str | Path, fmt: ArtifactFormat, document: Mapping[str, Any],
                   arrays: Mapping[str, npt.NDArray[Any]] | None = None) -> Path:
    """
    Write an artifact atomically, its format id first in the document; returns the file.

    Args:
        path: the file, or a folder (an existing one, or a path without the file's suffix) to
            hold ``fmt.file_name``.
        document: the JSON document / torch dict / npz metadata (any 'format' is replaced).
        arrays: the npz arrays (npz only).
    """
    target = _target(path, fmt)
    doc = {'format': fmt.id, **{k: v for k, v in document.items() if k != 'format'}}
    if fmt.encoding == 'json':
        return atomic_write_json(target, doc)
    buffer = io.BytesIO()
    if fmt.encoding == 'npz':
        payload = {**(arrays or {}), NPZ_METADATA: np.array(json.dumps(doc, sort_keys=True))}
        np.savez_compressed(buffer, **payload)  # type: ignore[arg-type]
    else:
        import torch
        torch.save(doc, buffer)
    return atomic_write_bytes(target, buffer.getvalue())
