"""
Reading a file the user named: one way, one line per problem.

Every file a user names on the command line or in another file (``--config``, parameter files,
launch files, gain files, checkpoints, saved policies, ``--from`` folders) is opened here, so the
same mistakes get the same answer everywhere:

* the path is missing, is a folder, or cannot be opened (permissions);
* the file is larger than the limit for its kind (:class:`SizeLimit` states the limit and why);
* a text file holds a NUL byte (a binary file), is not UTF-8 (the first bad byte's line and
  column are named) or is empty;
* a YAML file does not parse (``path:line: malformed YAML (column C): problem``, where an
  unclosed bracket or quote names the line where it opened), nests deeper than
  :data:`MAX_YAML_DEPTH`, expands its aliases to more than :data:`MAX_YAML_VALUES` values, or has
  the wrong top-level type (a list where a mapping is wanted);
* a JSON file does not parse.

Each problem is raised as one :class:`InputFileError` (a :class:`~ior_ros.core.errors.ConfigError`,
so the CLI prints it on one line and exits with code 2) or as the error class the caller passes
(the ROS layer passes its ``LaunchError``/``ParameterFileError``). Messages about the whole file
read ``WHAT PATH: problem``; messages about a place inside it read ``PATH:LINE: problem`` like a
compiler's. A path with spaces or control characters is quoted so the message stays one line.

Only the standard library and PyYAML are imported here: the ROS layer uses this module and must
stay light (no numpy, torch or pydantic at import).
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from ior_ros.core.errors import ConfigError, IorError

__all__ = ['InputFileError', 'SizeLimit', 'YAML_LIMIT', 'JSON_LIMIT', 'ARRAY_LIMIT',
           'TORCH_LIMIT', 'MAX_YAML_DEPTH', 'MAX_YAML_VALUES', 'display_path', 'input_file',
           'input_folder', 'read_input_bytes', 'read_input_text', 'parse_yaml_text',
           'read_input_yaml', 'read_input_json', 'yaml_type_name', 'yaml_value_or_text',
           'YamlShape']

ErrorFactory = Callable[[str], IorError]
"""An error class (or any callable) that turns a message into the exception to raise."""

YamlShape = Literal['mapping', 'sequence', 'any']
"""What a YAML file must hold at its top level."""


class InputFileError(ConfigError):
    """A file the user named is missing, unreadable, binary, too large or malformed."""


@dataclass(frozen=True)
class SizeLimit:
    """
    The largest file of a kind that is read, and why (both appear in the error).

    Attributes:
        max_bytes: files larger than this are refused before they are read.
        reason: why the limit is there (the memory or time a larger file would take).
    """

    max_bytes: int
    reason: str

    def describe(self) -> str:
        """``'1 MiB'``-style size of the limit."""
        return _size_words(self.max_bytes)


YAML_LIMIT = SizeLimit(
    1 << 20, 'PyYAML parses about 0.1 to 0.5 MB/s here, so 1 MiB already takes seconds, while '
    'configuration, launch and parameter files are a few kB')
"""Limit of hand-written YAML: configurations, launch files, parameter files."""
JSON_LIMIT = SizeLimit(
    64 << 20, 'a decoded JSON document takes about ten times its size in memory; a gain schedule '
    'of 200 delays is below 2 MiB')
"""Limit of JSON documents: gain schedules and files, policy descriptions, run states."""
ARRAY_LIMIT = SizeLimit(
    512 << 20, 'a numpy archive is decompressed into memory whole; a slicing policy is a few '
    'hundred kB')
"""Limit of numpy ``.npz`` artifacts (policies)."""
TORCH_LIMIT = SizeLimit(
    4 << 30, 'torch.load reads the whole file into memory; a checkpoint with full replay buffers '
    'is a few hundred MiB')
"""Limit of ``torch.save`` files: checkpoints, trained agents, twins."""

MAX_YAML_DEPTH = 100
"""Deepest nesting of lists and mappings read from YAML (configurations nest 3 or 4 levels)."""
MAX_YAML_VALUES = 1_000_000
"""Most values a YAML document may expand to through its aliases (a 'billion laughs' file of a
few hundred bytes expands to 10⁹ values and would hang every later step)."""

_QUOTE_CHARS = frozenset(' \t\'"')


def _size_words(size: int) -> str:
    for unit, shift in (('GiB', 30), ('MiB', 20), ('kiB', 10)):
        if size >= 1 << shift:
            value = size / (1 << shift)
            return f'{value:.0f} {unit}' if value == int(value) else f'{value:.1f} {unit}'
    return f'{size} bytes'


def display_path(path: str | Path) -> str:
    """The path as messages show it: plain, or quoted when it has spaces, quotes or controls."""
    text = str(path)
    if not text or any(ch in _QUOTE_CHARS or not ch.isprintable() for ch in text):
        return repr(text)
    return text


def _subject(what: str, path: str | Path) -> str:
    return f'{what} {display_path(path)}' if what else display_path(path)


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return 'no such file'
    if exc.errno in (errno.EACCES, errno.EPERM):
        return 'permission denied'
    if exc.errno == errno.EISDIR:
        return 'it is a folder, not a file'
    if exc.errno == errno.ENAMETOOLONG:
        return 'the file name is too long'
    return (exc.strerror or type(exc).__name__).lower()


def input_file(path: str | Path, what: str, *, error: ErrorFactory = InputFileError,
               hint: str = '') -> Path:
    """
    The path as a :class:`Path`, once it names an existing regular file this process may read.

    Args:
        path: what the user gave.
        what: what the file is, for messages (``'--config'``, ``'launch file'``).
        error: the exception class to raise.
        hint: appended to the 'no such file' message (``'written by `ior train slicing`'``).

    Raises:
        the ``error`` class: missing, a folder, a special file, or not readable.
    """
    file = Path(path)
    subject = _subject(what, path)
    if not str(path):
        raise error(f'{what or "file"}: empty path; expected a file name')
    try:
        info = file.stat()
    except OSError as exc:
        more = f' ({hint})' if hint and exc.errno == errno.ENOENT else ''
        raise error(f'{subject}: cannot read: {_os_reason(exc)}{more}') from None
    except ValueError:  # an embedded NUL in the name
        raise error(f'{subject}: cannot read: the name holds a NUL character') from None
    import stat

    if stat.S_ISDIR(info.st_mode):
        raise error(f'{subject}: cannot read: it is a folder, not a file')
    if not stat.S_ISREG(info.st_mode):
        raise error(f'{subject}: cannot read: not a regular file (a device, pipe or socket)')
    if not os.access(file, os.R_OK):
        raise error(f'{subject}: cannot read: permission denied')
    return file


def input_folder(path: str | Path, what: str, *, error: ErrorFactory = InputFileError) -> Path:
    """
    The path as a :class:`Path`, once it names an existing folder this process may list.

    Raises:
        the ``error`` class: missing, a file, or not readable.
    """
    folder = Path(path)
    subject = _subject(what, path)
    if not str(path):
        raise error(f'{what or "folder"}: empty path; expected a folder')
    try:
        is_dir = folder.is_dir()
        exists = folder.exists()
    except (OSError, ValueError):
        is_dir = exists = False
    if not exists:
        raise error(f'{subject}: no such folder')
    if not is_dir:
        raise error(f'{subject}: is a file; expected a folder')
    if not os.access(folder, os.R_OK | os.X_OK):
        raise error(f'{subject}: cannot read the folder: permission denied')
    return folder


def read_input_bytes(path: str | Path, what: str, limit: SizeLimit, *,
                     error: ErrorFactory = InputFileError, hint: str = '') -> bytes:
    """
    The bytes of a file checked by :func:`input_file`, refused above ``limit``.

    Raises:
        the ``error`` class: see :func:`input_file`; larger than the limit; a read error.
    """
    file = input_file(path, what, error=error, hint=hint)
    subject = _subject(what, path)
    try:
        with file.open('rb') as handle:
            data = handle.read(limit.max_bytes + 1)
    except OSError as exc:
        raise error(f'{subject}: cannot read: {_os_reason(exc)}') from None
    if len(data) > limit.max_bytes:
        raise error(f'{subject}: larger than {limit.describe()}, the limit for this kind of '
                    f'file ({limit.reason})')
    return data


def read_input_text(path: str | Path, what: str, limit: SizeLimit = YAML_LIMIT, *,
                    expected: str = 'UTF-8 text', allow_empty: bool = False,
                    error: ErrorFactory = InputFileError, hint: str = '') -> str:
    """
    The UTF-8 text of a file: not binary (no NUL byte), valid UTF-8, not empty, within ``limit``.

    Args:
        expected: what the file should be, for messages (``'UTF-8 YAML text'``).
        allow_empty: accept a file of zero bytes or only white space.
        hint: see :func:`input_file`.

    Raises:
        the ``error`` class: any problem of :func:`read_input_bytes`, a NUL byte, a byte
        sequence that is not UTF-8 (its line and column named), an empty file.
    """
    data = read_input_bytes(path, what, limit, error=error, hint=hint)
    subject = _subject(what, path)
    nul = data.find(b'\0')
    if nul >= 0:
        raise error(f'{subject}: a binary file (NUL byte at offset {nul}); expected {expected}')
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as exc:
        line = data.count(b'\n', 0, exc.start) + 1
        column = exc.start - (data.rfind(b'\n', 0, exc.start) + 1) + 1
        raise error(f'{subject}: not UTF-8 (byte 0x{data[exc.start]:02x} at line {line}, '
                    f'column {column}); expected {expected}') from None
    if text.startswith('\ufeff'):  # a byte-order mark is valid UTF-8 but not content
        text = text[1:]
    if not allow_empty and not text.strip():
        raise error(f'{subject}: the file is empty; expected {expected}')
    return text


def _yaml_problem(exc: yaml.YAMLError) -> tuple[Any, str]:
    """(mark, one-line problem) of a PyYAML error; an unclosed bracket points at its opening."""
    problem_mark = getattr(exc, 'problem_mark', None)
    context_mark = getattr(exc, 'context_mark', None)
    problem = getattr(exc, 'problem', None) or str(exc)
    mark = problem_mark or context_mark
    detail = ''
    if context_mark is not None and problem_mark is not None and \
            '<stream end>' in problem and context_mark.line != problem_mark.line:
        mark = context_mark
        detail = (f' ({getattr(exc, "context", "")} at line {context_mark.line + 1}, still open '
                  'at the end of the file)')
    return mark, ' '.join(f'{problem}{detail}'.split())


def parse_yaml_text(text: str, source: str | Path, *,
                    loader: type[yaml.SafeLoader] = yaml.SafeLoader,
                    error: ErrorFactory = InputFileError) -> Any:
    """
    Parse YAML ``text`` from ``source`` (a path, for messages) with a safe loader.

    Raises:
        the ``error`` class: ``SOURCE:LINE: malformed YAML (column C): problem``; nesting deeper
        than :data:`MAX_YAML_DEPTH`; aliases expanding beyond :data:`MAX_YAML_VALUES` values.
    """
    where = display_path(source)
    try:
        data = yaml.load(text, Loader=loader)  # noqa: S506  (SafeLoader or a subclass)
    except yaml.YAMLError as exc:
        mark, problem = _yaml_problem(exc)
        if mark is None:
            raise error(f'{where}: malformed YAML: {problem}') from None
        raise error(f'{where}:{mark.line + 1}: malformed YAML (column {mark.column + 1}): '
                    f'{problem}') from None
    except RecursionError:
        raise error(f'{where}: YAML nested too deeply to read (the limit is '
                    f'{MAX_YAML_DEPTH} levels)') from None
    _check_yaml_size(data, where, error)
    return data


def yaml_value_or_text(text: str, source: str, *,
                       error: ErrorFactory = InputFileError) -> Any:
    """
    A value given on the command line read as YAML (``4``, ``0.5``, ``[1, 2]``), or the text
    itself when it is not YAML (``--set name=a: b`` keeps ``'a: b'``).

    Raises:
        the ``error`` class: the value nests deeper than :data:`MAX_YAML_DEPTH` or expands its
        aliases beyond :data:`MAX_YAML_VALUES` values (``source`` names it).
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    except RecursionError:
        raise error(f'{source}: YAML nested too deeply to read (the limit is '
                    f'{MAX_YAML_DEPTH} levels)') from None
    _check_yaml_size(data, source, error)
    return data


def _check_yaml_size(data: Any, where: str, error: ErrorFactory) -> None:
    """Refuse documents nested deeper than MAX_YAML_DEPTH or with more than MAX_YAML_VALUES."""
    count = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_YAML_VALUES:
            raise error(f'{where}: the YAML expands to more than {MAX_YAML_VALUES:,} values '
                        '(aliases that repeat each other?)')
        if isinstance(value, (dict, list)):
            if depth > MAX_YAML_DEPTH:
                raise error(f'{where}: YAML nested deeper than {MAX_YAML_DEPTH} levels')
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items)
            if isinstance(value, dict):
                count += len(value)  # the keys


_SHAPES: dict[str, tuple[type, str]] = {'mapping': (dict, 'a mapping (key: value lines)'),
                                        'sequence': (list, 'a list (- item lines)')}


def yaml_type_name(value: Any) -> str:
    """How a YAML value's type reads in messages: 'a list', 'a mapping', 'the number 3'."""
    if isinstance(value, dict):
        return 'a mapping'
    if isinstance(value, list):
        return 'a list'
    if isinstance(value, bool):
        return f'the boolean {str(value).lower()}'
    if isinstance(value, (int, float)):
        return f'the number {value!r}'
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + '...'
        return f'the text {shown!r}'
    if value is None:
        return 'nothing (null)'
    return f'a {type(value).__name__}'


def read_input_yaml(path: str | Path, what: str, *, shape: YamlShape = 'mapping',
                    allow_empty: bool = False, limit: SizeLimit = YAML_LIMIT,
                    loader: type[yaml.SafeLoader] = yaml.SafeLoader,
                    error: ErrorFactory = InputFileError) -> Any:
    """
    Read and parse a YAML file the user named (see the module docstring for every check).

    Args:
        what: what the file is (``'--config'``, ``'launch file'``).
        shape: what the top level must be; ``'any'`` accepts every value.
        allow_empty: an empty file (or one of only comments) gives None instead of an error.
        limit: the size limit (default :data:`YAML_LIMIT`).
        loader: the PyYAML loader, a ``SafeLoader`` subclass (the ROS layer's keeps line numbers).
        error: the exception class to raise.

    Raises:
        the ``error`` class: one line naming the file and what is wrong.
    """
    text = read_input_text(path, what, limit, expected='UTF-8 YAML text',
                           allow_empty=allow_empty, error=error)
    data = parse_yaml_text(text, path, loader=loader, error=error)
    if data is None:
        if allow_empty:
            return None
        raise error(f'{_subject(what, path)}: holds no YAML value (only comments or null); '
                    f'expected {_SHAPES[shape][1] if shape in _SHAPES else "a YAML value"}')
    if shape in _SHAPES and not isinstance(data, _SHAPES[shape][0]):
        raise error(f'{_subject(what, path)}: the top level is {yaml_type_name(data)}; expected '
                    f'{_SHAPES[shape][1]}')
    return data


def read_input_json(path: str | Path, what: str, *, limit: SizeLimit = JSON_LIMIT,
                    error: ErrorFactory = InputFileError, hint: str = '') -> Any:
    """
    Read and decode a JSON file the user named (NaN and Infinity are refused: not JSON).

    Raises:
        the ``error`` class: file problems as :func:`read_input_text`; malformed JSON with its
        line and column.
    """
    text = read_input_text(path, what, limit, expected='a UTF-8 JSON document', error=error,
                           hint=hint)

    def no_constant(name: str) -> Any:
        raise ValueError(f'{name} is not JSON')

    try:
        return json.loads(text, parse_constant=no_constant)
    except json.JSONDecodeError as exc:
        raise error(f'{display_path(path)}:{exc.lineno}: malformed JSON (column {exc.colno}): '
                    f'{exc.msg}') from None
    except ValueError as exc:
        raise error(f'{_subject(what, path)}: malformed JSON: {exc}') from None
    except RecursionError:
        raise error(f'{_subject(what, path)}: JSON nested too deeply to read') from None
