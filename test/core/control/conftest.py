"""Fixtures of the control tests: the reference robot and the shipped certified schedule."""

from __future__ import annotations

import numpy as np
import pytest

from ior_ros.core.control.gain_schedule import REFERENCE_SCHEDULE, GainSchedule
from ior_ros.core.control.lqr_design import reference_lqr_weights, reference_nominal_design
from ior_ros.core.control.robot_models import DelayedPlant, planar_double_integrator


@pytest.fixture(scope='session')
def plant() -> DelayedPlant:
    """The reference planar base: two double integrators, 10 ms, input delay."""
    return planar_double_integrator(0.01)


@pytest.fixture(scope='session')
def nominal_gain() -> np.ndarray:
    """Nominal LQR gain of the reference robot."""
    return np.array(reference_nominal_design(0.01).gain)


@pytest.fixture(scope='session')
def lqr_weights():
    """LQR weights of the reference robot."""
    return reference_lqr_weights()


@pytest.fixture(scope='session')
def shipped_schedule() -> GainSchedule:
    """The reference robot's schedule h = 0..30 shipped in core/control (re-verified on load)."""
    return GainSchedule.load(REFERENCE_SCHEDULE, verify=True)
