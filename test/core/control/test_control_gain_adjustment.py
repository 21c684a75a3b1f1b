"""The closest certified gain (detuned LQR, V–K), checked with the independent lifted test."""

from __future__ import annotations

import numpy as np
import pytest

from ior_ros.core.control.gain_adjustment import AdjustOptions, adjust
from ior_ros.core.control.lifted_stability import spectral_radius_profile
from ior_ros.core.errors import ControlError


def test_infeasible_adjustment_names_h(plant, nominal_gain, lqr_weights) -> None:
    # decay 0.9 per sample with up to 25 samples of input delay on a double integrator: impossible
    with pytest.raises(ControlError, match=r'h=25') as info:
        adjust(nominal_gain, 25, 0.9, plant=plant, lqr_weights=lqr_weights,
               adjust_options=AdjustOptions(detune_grid=(10.0, 1e3, 1e5), vk_iterations=0))
    assert 'passed LMI (a)' in str(info.value)


def test_adjust_returns_the_nominal_gain_when_it_is_certified(plant, nominal_gain,
                                                              lqr_weights) -> None:
    result = adjust(nominal_gain, 12, plant=plant, lqr_weights=lqr_weights)
    assert result.method == 'nominal' and result.distance == 0.0
    np.testing.assert_array_equal(result.gain, nominal_gain)


def test_adjust_finds_a_closer_certified_gain(plant, nominal_gain, lqr_weights) -> None:
    h = 15
    detuned = adjust(nominal_gain, h, plant=plant, lqr_weights=lqr_weights,
                     adjust_options=AdjustOptions(vk_iterations=0))
    result = adjust(nominal_gain, h, plant=plant, lqr_weights=lqr_weights)
    assert detuned.method == 'detuned_lqr' and result.method == 'vk'
    assert result.distance < detuned.distance
    assert result.distance == pytest.approx(np.linalg.norm(result.gain - nominal_gain))
    assert all(b <= a + 1e-12 for a, b in zip(result.distance_history,
                                               result.distance_history[1:]))
    assert result.certificate.max_delay_steps == h
    # independent check: exactly stable for every constant delay 0..h
    assert spectral_radius_profile(plant.A, plant.B, result.gain, h).max() < 1.0
