"""The switching policy over the shipped schedule: ride out, switch, dwell, switch back."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ior_ros.core.control.gain_schedule import GainSchedule
from ior_ros.core.control.switching_policy import SwitchingMode, SwitchingPolicy


def _policy(schedule: GainSchedule, growth: float = 3.0, dwell: int = 100) -> SwitchingPolicy:
    return SwitchingPolicy(schedule, growth, dwell)


def test_policy_keeps_the_nominal_gain_within_its_bound(shipped_schedule) -> None:
    policy = _policy(shipped_schedule)
    for bound in (0, 5, 12, 3):
        decision = policy.decide(bound, 50)
        assert decision.mode is SwitchingMode.NOMINAL and decision.certified_for_bound


def test_policy_switches_when_the_violation_outlasts_the_tolerance(shipped_schedule) -> None:
    policy = _policy(shipped_schedule, growth=3.0)
    rho = shipped_schedule.nominal_radius(30)
    assert policy.tolerated_steps(30) == pytest.approx(math.log(3.0) / math.log(rho))
    assert policy.tolerated_steps(30) < 50  # a 50-sample slot at delay 30 is not tolerated
    decision = policy.decide(30, 50)
    assert decision.mode is SwitchingMode.SCHEDULED and decision.certified_for_bound
    np.testing.assert_array_equal(decision.gain, shipped_schedule.entries[30].gain)


def test_policy_rides_out_a_short_mild_violation(shipped_schedule) -> None:
    policy = _policy(shipped_schedule, growth=3.0)
    assert policy.tolerated_steps(14) > 50
    decision = policy.decide(14, 50)
    assert decision.mode is SwitchingMode.NOMINAL and not decision.certified_for_bound
    # the same mild violation, persisting, is predicted to outlast the tolerance: switch
    modes = [policy.decide(14, 50).mode for _ in range(6)]
    assert SwitchingMode.SCHEDULED in modes


def test_policy_switches_back_after_the_dwell_time(shipped_schedule, nominal_gain) -> None:
    policy = _policy(shipped_schedule, growth=2.0, dwell=100)
    assert policy.tolerated_steps(25) < 50
    assert policy.decide(25, 50).mode is SwitchingMode.SCHEDULED
    # commands of the violation slot may still arrive: the next bound covers both slots
    after = policy.decide(5, 50)
    assert after.mode is SwitchingMode.SCHEDULED and after.delay_bound_steps == 25
    assert policy.decide(5, 50).mode is SwitchingMode.SCHEDULED  # 50 calm samples < dwell
    back = policy.decide(5, 50)
    assert back.mode is SwitchingMode.NOMINAL
    # the shipped schedule's nominal gain vs the one solved here: equal to solver precision
    # (the last digits depend on the scipy/LAPACK build)
    np.testing.assert_allclose(back.gain, nominal_gain, rtol=1e-9, atol=1e-9)


def test_always_switch_policy(shipped_schedule) -> None:
    policy = SwitchingPolicy(shipped_schedule, 3.0, 0, always_switch=True)
    assert policy.decide(13, 50).mode is SwitchingMode.SCHEDULED
