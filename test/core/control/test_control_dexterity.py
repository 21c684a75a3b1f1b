"""Seed 003 eq. 3 (dexterity index) and eq. 4 (URLLC service rate)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ior_ros.core.control.control_config import DexterityConfig
from ior_ros.core.control.dexterity import (
    dexterity_index,
    dexterity_index_scalar,
    urllc_service_rate,
)
from ior_ros.core.errors import DimensionError, ModelError


def test_perfect_execution_is_one() -> None:
    assert float(dexterity_index(0.0, 0.0, 0.0)) == pytest.approx(1.0)


def test_hand_computed_value() -> None:
    # 5 cm, 90°, 0.5 1/m: 0.4·0.5 + 0.3·(0.5 + 0.5) = 0.5
    assert float(dexterity_index(0.05, 90.0, 0.5)) == pytest.approx(0.5)
    # 2 cm, 18°, 0.2 1/m: 0.4·0.8 + 0.3·(0.9 + 0.8) = 0.83
    assert float(dexterity_index(0.02, 18.0, 0.2)) == pytest.approx(0.83)


def test_terms_clip_at_zero() -> None:
    assert float(dexterity_index(0.5, 400.0, 3.0)) == 0.0
    assert float(dexterity_index(np.inf, 0.0, 0.0)) == pytest.approx(0.6)


def test_vectorised_broadcasting() -> None:
    track = np.array([[0.0], [0.05], [0.1]])  # [3, 1]
    orient = np.array([0.0, 180.0])  # [2]
    di = dexterity_index(track, orient, 0.0)
    assert di.shape == (3, 2)
    expected = 0.4 * np.maximum(0, 1 - track / 0.1) + 0.3 * (np.maximum(0, 1 - orient / 180) + 1)
    np.testing.assert_allclose(di, expected)


def test_configurable_scales() -> None:
    config = DexterityConfig(tracking_error_scale_m=0.2)
    assert float(dexterity_index(0.1, 0.0, 0.0, config)) == pytest.approx(0.8)


def test_invalid_inputs() -> None:
    with pytest.raises(ModelError, match='tracking_error_m must be >= 0'):
        dexterity_index(-0.01, 0.0, 0.0)
    with pytest.raises(ModelError, match='NaN'):
        dexterity_index(0.0, np.nan, 0.0)
    with pytest.raises(DimensionError, match='do not broadcast'):
        dexterity_index(np.zeros(3), np.zeros(2), 0.0)


def test_service_rate() -> None:
    mu = urllc_service_rate([10.0, 10.0, 1.0], [0.0, 0.5, 1.0], beta=4.0)
    np.testing.assert_allclose(mu, [10.0, 8.0, 0.0])  # floored at 0
    raw = urllc_service_rate(1.0, 1.0, beta=4.0, clip_at_zero=False)
    assert float(raw) == pytest.approx(-3.0)
    with pytest.raises(ModelError, match='beta'):
        urllc_service_rate(1.0, 0.5, beta=0.0)
    with pytest.raises(ModelError, match=r'\[0, 1\]'):
        urllc_service_rate(1.0, 1.5, beta=1.0)


_finite_or_inf = st.one_of(st.floats(min_value=0.0, max_value=1e6, allow_nan=False),
                           st.just(float('inf')))


@settings(max_examples=300, deadline=None)
@given(track=_finite_or_inf, orient=_finite_or_inf, curv=_finite_or_inf)
def test_the_scalar_form_is_the_array_form_bit_for_bit(track: float, orient: float,
                                                       curv: float) -> None:
    """What a node calls every sample gives the array form's value to the bit."""
    config = DexterityConfig(tracking_error_scale_m=0.07, curvature_weight=0.25)
    for cfg in (None, config):
        scalar = dexterity_index_scalar(track, orient, curv, cfg)
        array = dexterity_index(np.array([track]), np.array([orient]), np.array([curv]), cfg)
        assert type(scalar) is float and scalar == float(array[0])
        # scalars given to the array API take the scalar path and keep its 0-d result
        zero_d = dexterity_index(track, orient, curv, cfg)
        assert zero_d.shape == () and float(zero_d) == scalar


def test_the_scalar_form_refuses_what_the_array_form_refuses() -> None:
    with pytest.raises(ModelError, match=r'tracking_error_m must be >= 0, got minimum -0\.01'):
        dexterity_index_scalar(-0.01, 0.0, 0.0)
    with pytest.raises(ModelError, match='orientation_error_deg has NaN'):
        dexterity_index_scalar(0.0, float('nan'), 0.0)
    with pytest.raises(ModelError, match='curvature_per_m must be >= 0'):
        dexterity_index(0.0, 0.0, np.float64(-1.0))  # numpy scalars take the scalar path too
