"""
The switching policy: which gain of the schedule the remote controller applies, slot by slot.

The nominal gain stays in the loop while the announced delay bound is within its certified range.
When a violation comes, the nominal loop's exact growth per sample ``ρ_nom(h)`` (spectral radius of
the lifted matrix at the constant delay h) gives the number of samples it tolerates,
``N_tol = log G_max / log ρ_nom(h)``. The policy switches to ``K̂(h)``
(:meth:`~ior_ros.core.control.gain_schedule.GainSchedule.lookup`) when the violation is predicted
to outlast that, i.e. when the growth accumulated in this episode plus the predicted remaining
growth exceeds ``log G_max``; the prediction is that an episode lasts at least the current slot and
at least as long again as it has lasted so far. After the violation it keeps the robust gain until
the delay has stayed within the nominal bound for the dwell time, then switches back. Switching
itself is not certified (reference §8).
"""

from __future__ import annotations

import math
from enum import Enum
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ior_ros.core.control.gain_schedule import GainSchedule
from ior_ros.core.control.lifted_stability import growth_steps
from ior_ros.core.control.robot_models import validate_delay_steps
from ior_ros.core.errors import ModelError

__all__ = ['SwitchingMode', 'PolicyDecision', 'SwitchingPolicy']

FloatArray = npt.NDArray[np.float64]


class SwitchingMode(str, Enum):
    """Which kind of gain the policy applies."""

    NOMINAL = 'nominal'
    SCHEDULED = 'scheduled'
    STOP = 'stop'


class PolicyDecision(NamedTuple):
    """The policy's choice for one interval."""

    mode: SwitchingMode
    gain: FloatArray | None
    """``[m, n]``; None: stop command."""
    delay_bound_steps: int
    """The bound the gain was looked up for."""
    certified_for_bound: bool
    """Whether the applied gain is certified for that bound (the nominal gain riding out a
    short violation is not)."""


class SwitchingPolicy:
    """
    Nominal gain by default; switch to ``K̂(h)`` when a violation is predicted to outlast what the
    nominal loop tolerates (module docstring); back after a dwell time.

    Args:
        schedule: the certified schedule (gives ``K̂(h)`` and the nominal ``ρ_nom(h)``).
        tolerated_growth: G_max > 1.
        dwell_steps: samples within the nominal bound before returning to the nominal gain.
        delay_margin_steps: added to the announced bound before the lookup.
        always_switch: switch at every violation (the plain schedule, no growth test).
    """

    def __init__(self, schedule: GainSchedule, tolerated_growth: float, dwell_steps: int,
                 delay_margin_steps: int = 0, always_switch: bool = False) -> None:
        if not tolerated_growth > 1.0:
            raise ModelError(f'tolerated_growth = {tolerated_growth!r}: must be > 1')
        self.schedule = schedule
        self.log_tolerance = math.log(tolerated_growth)
        self.tolerated_growth = float(tolerated_growth)
        self.dwell_steps = validate_delay_steps(dwell_steps, 'dwell_steps')
        self.margin = validate_delay_steps(delay_margin_steps, 'delay_margin_steps')
        self.always_switch = always_switch
        self.nominal_bound = schedule.nominal_certified_steps
        self.reset()

    def reset(self) -> None:
        """Back to the nominal gain, no violation history."""
        self._previous_bound = 0
        self._mode = SwitchingMode.NOMINAL
        self._episode_steps = 0
        self._episode_log_growth = 0.0
        self._calm_steps = 0
        self._held: PolicyDecision | None = None

    def tolerated_steps(self, delay_bound_steps: int) -> float:
        """``log G_max / log ρ_nom(h)``: samples the nominal loop tolerates at bound h."""
        return growth_steps(self.schedule.nominal_radius(delay_bound_steps),
                            self.tolerated_growth)

    def _nominal(self, bound: int) -> PolicyDecision:
        return PolicyDecision(SwitchingMode.NOMINAL, self.schedule.nominal_gain, bound,
                              bound <= self.nominal_bound)

    def _scheduled(self, bound: int) -> PolicyDecision:
        found = self.schedule.lookup(bound)
        if found.gain is None:
            return PolicyDecision(SwitchingMode.STOP, None, bound, False)
        return PolicyDecision(SwitchingMode.SCHEDULED, found.gain, bound,
                              found.certified_for_bound)

    def decide(self, delay_bound_steps: int, interval_steps: int) -> PolicyDecision:
        """
        The gain for the next ``interval_steps`` samples, whose delays are announced to stay
        below ``delay_bound_steps``.
        """
        announced = validate_delay_steps(delay_bound_steps, 'delay_bound_steps')
        steps = validate_delay_steps(interval_steps, 'interval_steps')
        # commands of the previous interval may still be in flight: cover both bounds
        bound = max(announced, self._previous_bound) + self.margin
        self._previous_bound = announced
        if bound <= self.nominal_bound:
            self._episode_steps = 0
            self._episode_log_growth = 0.0
            if self._mode is SwitchingMode.NOMINAL:
                return self._nominal(bound)
            self._calm_steps += steps
            if self._calm_steps >= self.dwell_steps or self._held is None:
                self._mode = SwitchingMode.NOMINAL
                self._held = None
                return self._nominal(bound)
            return self._held
        # a violation
        self._calm_steps = 0
        self._episode_steps += steps
        log_rate = math.log(max(self.schedule.nominal_radius(bound), 1e-300))
        if self._mode is SwitchingMode.NOMINAL and not self.always_switch:
            remaining = max(steps, self._episode_steps)  # persistence predictor
            predicted = self._episode_log_growth + remaining * max(log_rate, 0.0)
            if predicted <= self.log_tolerance:
                self._episode_log_growth += steps * max(log_rate, 0.0)
                return self._nominal(bound)
        decision = self._scheduled(bound)
        self._mode = decision.mode
        self._held = decision
        return decision
