"""Configuration: defaults, YAML, dotted overrides, one-line errors that name field and value."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from ior_ros.core.config import FrozenModel, apply_overrides, load_config, parse_override
from ior_ros.core.errors import ConfigError


class Radio(FrozenModel):
    mini_slots: int = Field(4, ge=1)
    noise_dbm: float = -110.0


class Experiment(FrozenModel):
    radio: Radio = Radio()
    probability: float = Field(0.5, ge=0.0, le=1.0)
    name: str = 'x'


def test_defaults_are_frozen() -> None:
    cfg = load_config(Experiment)
    assert cfg.radio.mini_slots == 4
    with pytest.raises(ValueError):
        cfg.radio.mini_slots = 3  # type: ignore[misc]


def test_yaml_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / 'c.yaml'
    path.write_text('radio:\n  mini_slots: 2\nprobability: 0.25\n')
    cfg = load_config(Experiment, path, ['radio.noise_dbm=-100', 'name=run one'])
    assert cfg.radio.mini_slots == 2
    assert cfg.radio.noise_dbm == -100.0
    assert cfg.probability == 0.25
    assert cfg.name == 'run one'


def test_override_values_are_yaml() -> None:
    assert parse_override('a.b=[1, 2]') == (['a', 'b'], [1, 2])
    assert parse_override('x=0.5') == (['x'], 0.5)
    assert apply_overrides({'a': {'b': 1}}, ['a.c=2']) == {'a': {'b': 1, 'c': 2}}


@pytest.mark.parametrize('override, field, value', [
    ('radio.mini_slots=0', 'radio.mini_slots', '0'),
    ('probability=1.5', 'probability', '1.5'),
    ('radio.mini_slot=4', 'radio.mini_slot', '4'),
])
def test_errors_name_field_and_value(override: str, field: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(Experiment, None, [override])
    message = str(info.value)
    assert field in message
    assert value in message
    assert '\n' not in message


def test_unknown_key_is_called_unknown() -> None:
    with pytest.raises(ConfigError, match="unknown field 'bogus'"):
        load_config(Experiment, None, ['bogus=1'])


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / 'bad.yaml'
    path.write_text('radio:\n  mini_slots: 2\n  noise_dbm: [1, 2\nname: y\n')
    with pytest.raises(ConfigError) as info:
        load_config(Experiment, path)
    assert 'bad.yaml:' in str(info.value)


def test_missing_file_and_bad_override() -> None:
    with pytest.raises(ConfigError, match='cannot read'):
        load_config(Experiment, '/nonexistent/file.yaml')
    with pytest.raises(ConfigError, match='dotted.key=value'):
        load_config(Experiment, None, ['noequals'])


def test_unknown_key_lists_the_allowed_keys_of_its_section() -> None:
    from ior_ros.core.ran.coexistence_config import CoexistenceConfig

    with pytest.raises(ConfigError) as info:
        load_config(CoexistenceConfig, overrides=['radio.bogus_key=1'])
    text = str(info.value)
    assert "unknown field 'radio.bogus_key'" in text
    allowed = text.split('allowed: ')[1].split(', ')
    assert allowed == sorted(CoexistenceConfig.model_fields['radio'].annotation.model_fields)
