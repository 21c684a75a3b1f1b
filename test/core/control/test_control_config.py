"""config/control.yaml mirrors ControlConfig; invalid values are one clear ConfigError."""

from __future__ import annotations

from pathlib import Path

import pytest

from ior_ros.core.config import load_config
from ior_ros.core.control.control_config import ControlConfig
from ior_ros.core.control.schedule_build import schedule_fingerprint
from ior_ros.core.errors import ConfigError

CONFIG = Path(__file__).resolve().parents[3] / 'config' / 'control.yaml'


def test_yaml_equals_the_defaults() -> None:
    loaded = load_config(ControlConfig, CONFIG)
    assert loaded == ControlConfig()
    assert schedule_fingerprint(loaded) == schedule_fingerprint(ControlConfig())


@pytest.mark.parametrize(('override', 'field'), [
    ('plant.sample_period_s=0', 'plant.sample_period_s'),
    ('certificate.decay_rate=1.5', 'certificate.decay_rate'),
    ('switching.tolerated_growth=1.0', 'switching.tolerated_growth'),
    ('schedule.fallback=crash', 'schedule.fallback'),
    ('tracking.nominal_delay_steps=[5, 2]', 'nominal_delay_steps'),
])
def test_invalid_values_name_the_field(override: str, field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace('.', r'\.')):
        load_config(ControlConfig, None, [override])


def test_fingerprint_ignores_what_does_not_change_the_gains() -> None:
    base = schedule_fingerprint(ControlConfig())
    assert schedule_fingerprint(load_config(ControlConfig, None, ['schedule.workers=4'])) == base
    assert schedule_fingerprint(load_config(ControlConfig, None, ['tracking.n_slots=10'])) == base
    assert schedule_fingerprint(load_config(ControlConfig, None,
                                            ['certificate.decay_rate=0.995'])) != base
