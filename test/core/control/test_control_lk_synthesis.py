"""Synthesis (LMI (b)): the gain is certified by LMI (a) and exactly stable."""

from __future__ import annotations

from ior_ros.core.control.lifted_stability import spectral_radius_profile
from ior_ros.core.control.lk_certificate import is_certified
from ior_ros.core.control.lk_synthesis import synthesize


def test_synthesis_gain_is_certified_and_exactly_stable(plant) -> None:
    result = synthesize(20, plant=plant)
    assert is_certified(result.gain, 20, plant=plant)
    assert spectral_radius_profile(plant.A, plant.B, result.gain, 20).max() < 1.0
