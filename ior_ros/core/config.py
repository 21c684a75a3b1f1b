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
from typing import Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from ior_ros.core.artifacts import atomic_write_yaml, ensure_out_dir
from ior_ros.core.errors import ConfigError

__all__ = ['FrozenModel', 'load_config', 'parse_override', 'apply_overrides', 'read_yaml',
           'config_to_dict', 'save_resolved_config', 'format_validation_error']

ModelT = TypeVar('ModelT', bound='FrozenModel')


class FrozenModel(BaseModel):
    """Base of every configuration object: immutable, unknown keys rejected, validated on build."""

    model_config = ConfigDict(extra='forbid', frozen=True, validate_default=True,
                              allow_inf_nan=False)


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
    loc = '.'.join(str(part) for part in first.get('loc', ()))
    field = f'{prefix}.{loc}' if prefix and loc else (prefix or loc or '<root>')
    kind = first.get('type', '')
    message = first.get('msg', 'invalid value')
    if kind == 'extra_forbidden':
        text = f"unknown field '{field}' (value {first.get('input')!r})"
        allowed = _allowed_keys(model, first.get('loc', ())[:-1]) if model is not None else None
        text += f'; allowed: {", ".join(allowed)}' if allowed else '; check the spelling'
    elif kind == 'missing':
        text = f"missing required field '{field}'"
    else:
        text = f"field '{field}' = {first.get('input')!r}: {message.lower()}"
    if len(problems) > 1:
        text += f' (and {len(problems) - 1} more problem(s))'
    return text


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


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file; raise ConfigError naming the file (and line) when it cannot be parsed."""
    file = Path(path)
    try:
        text = file.read_text(encoding='utf-8')
    except OSError as exc:
        raise ConfigError(f'cannot read config file {str(file)!r}: {exc.strerror}') from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None)
        where = f':{mark.line + 1}' if mark is not None else ''
        problem = getattr(exc, 'problem', None) or str(exc)
        raise ConfigError(f'malformed YAML in {file}{where}: {problem}') from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """
    Parse one ``dotted.key=value`` override.

    The value is read as YAML (``4``, ``0.5``, ``[1, 2]``).
    """
    if '=' not in text:
        raise ConfigError(f"override {text!r}: expected 'dotted.key=value'")
    key, raw = text.split('=', 1)
    key = key.strip()
    if not key or any(not part for part in key.split('.')):
        raise ConfigError(f"override {text!r}: the key must be 'name' or 'dotted.name'")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ''
    except yaml.YAMLError:
        value = raw
    return key.split('.'), value


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
                raise ConfigError(f"override {text!r}: '{part}' is a value, not a section")
            node = child
        node[path[-1]] = value
    return result


def load_config(model: type[ModelT], path: str | Path | None = None,
                overrides: Iterable[str] = (), section: str | None = None) -> ModelT:
    """
    Build a validated configuration.

    Args:
        model: the FrozenModel subclass to build.
        path: optional YAML file; a mapping of field names (a ``section`` key may wrap it).
        overrides: ``dotted.key=value`` strings applied on top of the file.
        section: when the file holds several sections, the top-level key to read.

    Raises:
        ConfigError: unreadable file, malformed YAML, unknown key or invalid value.
    """
    data: dict[str, Any] = {}
    if path is not None:
        loaded = read_yaml(path)
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f'config file {str(path)!r}: expected a mapping at the top level, '
                              f'got {type(loaded).__name__}')
        if section is not None and section in loaded and isinstance(loaded[section], dict):
            loaded = loaded[section]
        data = loaded
    data = apply_overrides(data, overrides)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, model=model)) from None


def config_to_dict(config: BaseModel) -> dict[str, Any]:
    """A JSON-ready dict of a configuration (what is saved beside every run)."""
    return config.model_dump(mode='json')


def save_resolved_config(out_dir: str | Path, config: BaseModel,
                         name: str = 'config.resolved.yaml') -> Path:
    """Save the resolved configuration beside the run's results (``out_dir`` is created)."""
    out = ensure_out_dir(out_dir)
    return atomic_write_yaml(out / name, config_to_dict(config))
