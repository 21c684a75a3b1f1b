"""
Typed, validated, frozen configuration.

Every configurable object in ior_ros is a :class:`FrozenModel` (pydantic v2, ``extra='forbid'``,
``frozen=True``). A configuration is built from, in order: the model's defaults, an optional
YAML file (``--config FILE``) and dotted overrides (``--set ran.mini_slots_per_slot=4``). Any
problem is raised as one :class:`~ior_ros.core.errors.ConfigError` whose message names the
field, the value and what is allowed.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from ior_ros.core.artifacts import atomic_write_yaml, ensure_out_dir
from ior_ros.core.errors import ConfigError
from ior_ros.core.input_files import read_input_yaml, yaml_value_or_text

__all__ = ['FrozenModel', 'load_config', 'parse_override', 'apply_overrides', 'read_yaml',
           'validate_config', 'config_to_dict', 'save_resolved_config',
           'format_validation_error', 'why']

ModelT = TypeVar('ModelT', bound='FrozenModel')


class FrozenModel(BaseModel):
    """Base of every configuration object: immutable, unknown keys rejected, validated on build."""

    model_config = ConfigDict(extra='forbid', frozen=True, validate_default=True,
                              allow_inf_nan=False)

    @field_validator('*', mode='before')
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """
        Refuse true/false for a number: pydantic would read them as 1 and 0, and YAML reads
        ``yes``, ``no``, ``on`` and ``off`` as booleans, so ``--set lr=yes`` would train with 1.
        """
        if isinstance(value, bool) and info.field_name is not None:
            field = cls.model_fields.get(info.field_name)
            if field is not None and _is_number_type(field.annotation):
                raise ValueError(f'expected a number, got the boolean {str(value).lower()} '
                                 '(YAML reads yes, no, on, off, true and false as booleans)')
        return value


def _is_number_type(annotation: Any) -> bool:
    """int or float, possibly optional (not bool, not a union with other types)."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, UnionType):
        kinds = [a for a in get_args(annotation) if a is not type(None)]
        return bool(kinds) and all(_is_number_type(k) for k in kinds)
    return annotation in (int, float)


def format_validation_error(error: ValidationError, prefix: str = '',
                            model: type[BaseModel] | None = None) -> str:
    """
    Turn a pydantic error into one line: ``field 'a.b' = VALUE: what is allowed``.

    Only the first problem is reported (one clear error); the count of further ones is
    appended. With ``model`` (the class validated), an unknown key's message lists the keys
    allowed at that level.
    """
    problems = error.errors()
    first = problems[0]
    loc = '.'.join(_show_key(part) for part in first.get('loc', ()))
    field = f'{prefix}.{loc}' if prefix and loc else (prefix or loc or '<root>')
    kind = first.get('type', '')
    message = first.get('msg', 'invalid value')
    if kind == 'extra_forbidden':
        text = f"unknown field '{field}' (value {_short(first.get('input'))})"
        allowed = _allowed_keys(model, first.get('loc', ())[:-1]) if model is not None else None
        text += f'; allowed: {", ".join(allowed)}' if allowed else '; check the spelling'
    elif kind == 'missing':
        text = f"missing required field '{field}'"
    else:
        text = f"field '{field}' = {_short(first.get('input'))}: {_one_line(message)}"
        reason = _limit_reason(model, first.get('loc', ())) if model is not None else None
        if reason and kind in _RANGE_ERRORS:
            text += f' ({reason})'
    if len(problems) > 1:
        text += f' (and {len(problems) - 1} more problem(s))'
    return text


_RANGE_ERRORS = frozenset({'less_than', 'less_than_equal', 'greater_than', 'greater_than_equal',
                           'too_long', 'too_short'})


def why(reason: str) -> dict[str, Any]:
    """
    ``json_schema_extra`` of a field whose limit needs a reason: the range error then says it,
    e.g. ``Field(5, ge=1, le=1000, json_schema_extra=why('each user adds ...'))``.
    """
    return {'why': reason}


def _limit_reason(model: type[BaseModel], loc: Iterable[int | str]) -> str | None:
    """The ``why`` of the field at ``loc`` (items of a list field share the list's)."""
    parts = [part for part in loc if isinstance(part, str)]
    if not parts:
        return None
    parent = _model_at(model, parts[:-1])
    info = parent.model_fields.get(parts[-1]) if parent is not None else None
    extra = info.json_schema_extra if info is not None else None
    reason = extra.get('why') if isinstance(extra, dict) else None
    return reason if isinstance(reason, str) else None


def _model_at(model: type[BaseModel], names: list[str]) -> type[BaseModel] | None:
    current: type[BaseModel] = model
    for name in names:
        info = current.model_fields.get(name)
        if info is None:
            return None
        found = [a for a in (info.annotation, *get_args(info.annotation))
                 if isinstance(a, type) and issubclass(a, BaseModel)]
        if not found:
            return None
        current = found[0]
    return current


def _show_key(part: Any) -> str:
    """A key of a field path as messages show it: plain, or quoted when it is odd."""
    text = str(part)
    if text and text.isprintable() and not any(ch in text for ch in ' \'".'):
        return text
    return repr(part)


def _one_line(message: str) -> str:
    """A pydantic message on one line, in lower case."""
    text = ' '.join(message.split())
    for prefix in ('Value error, ', 'Assertion failed, '):  # pydantic's wrapping of validators
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text.lower()  # it follows a colon; (callers match these words in lower case)


def _allowed_keys(model: type[BaseModel], parents: Iterable[int | str]) -> list[str] | None:
    """The field names of the (nested) model found by following ``parents``; None if unknown."""
    current: Any = model
    for part in parents:
        if isinstance(part, int):  # a list index: the list's item type
            current = next((a for a in get_args(current) if a is not type(None)), None)
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        info = current.model_fields.get(part)
        if info is None:
            return None
        current = info.annotation
        candidates = [a for a in (current, *get_args(current))
                      if isinstance(a, type) and issubclass(a, BaseModel)]
        if candidates:
            current = candidates[0]
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(current.model_fields)
    return None


def read_yaml(path: str | Path, what: str = 'config file') -> Any:
    """
    Read a YAML configuration file (a mapping at the top level).

    Raises:
        ConfigError: one line naming the file and the problem: missing, a folder, unreadable,
            binary, not UTF-8, empty, too large, malformed YAML (line and column) or not a
            mapping (:func:`~ior_ros.core.input_files.read_input_yaml`).
    """
    return read_input_yaml(path, what, shape='mapping')


def parse_override(text: str) -> tuple[list[str], Any]:
    """
    Parse one ``dotted.key=value`` override.

    The value is read as YAML (``4``, ``0.5``, ``[1, 2]``).
    """
    shown = _short(text)
    if '=' not in text:
        raise ConfigError(f"override {shown}: expected 'dotted.key=value'")
    key, raw = text.split('=', 1)
    key = key.strip()
    if not key or any(not part.strip() for part in key.split('.')):
        raise ConfigError(f"override {shown}: the key must be 'name' or 'dotted.name'")
    if len(raw) > _MAX_OVERRIDE_CHARS:
        raise ConfigError(f'override {key}=...: the value has {len(raw):,} characters; at most '
                          f'{_MAX_OVERRIDE_CHARS:,} (put long values in a --config file)')
    # not YAML: the text itself (validation says if text is wrong there)
    value = yaml_value_or_text(raw, f'--set {key}', error=ConfigError) if raw.strip() else ''
    return key.split('.'), value


_MAX_OVERRIDE_CHARS = 65536
_SHOWN_CHARS = 80


def _short(value: Any) -> str:
    """``repr(value)`` cut to a readable length (messages stay one short line)."""
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS - 3] + '...'


def apply_overrides(data: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a deep copy of ``data`` with every ``dotted.key=value`` override applied."""
    result: dict[str, Any] = copy.deepcopy(dict(data))
    for text in overrides:
        path, value = parse_override(text)
        node: dict[str, Any] = result
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = {}
                node[part] = child
            if not isinstance(child, dict):
                raise ConfigError(f"override {_short(text)}: '{part}' is a value, not a "
                                  'section')
            node = child
        node[path[-1]] = value
    return result


def load_config(model: type[ModelT], path: str | Path | None = None,
                overrides: Iterable[str] = (), section: str | None = None,
                what: str = 'config file') -> ModelT:
    """
    Build a validated configuration.

    Args:
        model: the FrozenModel subclass to build.
        path: optional YAML file; a mapping of field names (a ``section`` key may wrap it).
        overrides: ``dotted.key=value`` strings applied on top of the file.
        section: when the file holds several sections, the top-level key to read.
        what: what the file is called in messages (the CLI passes ``'--config'``).

    Raises:
        ConfigError: unreadable file, malformed YAML, unknown key or invalid value.
    """
    data: dict[str, Any] = {}
    if path is not None:
        loaded = read_yaml(path, what)
        if section is not None and section in loaded and isinstance(loaded[section], dict):
            loaded = loaded[section]
        data = loaded
    data = apply_overrides(data, overrides)
    return validate_config(model, data)


def validate_config(model: type[ModelT], data: Any) -> ModelT:
    """
    ``model`` built from plain data (a mapping), every problem as one ConfigError line.

    Raises:
        ConfigError: unknown key, missing key or invalid value (the first one, and a count).
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, model=model)) from None
    except RecursionError:
        raise ConfigError(f'{model.__name__}: the configuration is nested too deeply') from None


def config_to_dict(config: BaseModel) -> dict[str, Any]:
    """A JSON-ready dict of a configuration (what is saved beside every run)."""
    return config.model_dump(mode='json')


def save_resolved_config(out_dir: str | Path, config: BaseModel,
                         name: str = 'config.resolved.yaml') -> Path:
    """Save the resolved configuration beside the run's results (``out_dir`` is created)."""
    out = ensure_out_dir(out_dir)
    return atomic_write_yaml(out / name, config_to_dict(config))
