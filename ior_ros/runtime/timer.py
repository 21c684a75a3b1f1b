"""
``Timer`` (rclpy.timer.Timer) with rcl_timer's semantics, on any clock (the node's ROS clock
follows ``/clock`` when ``use_sim_time`` is true). The executor asks each timer when it is due.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from ior_ros.runtime.clock import Clock, ROSClock

__all__ = ['Timer']

_CREATION = itertools.count()  # Timer.creation_index: the in-process world breaks ties with it


class Timer:
    """
    A periodic timer on a clock (rclpy.timer.Timer, rcl_timer semantics).

    The first call is one period after creation; after a call the next call time advances by one
    period, and when calls were missed it jumps to the next future multiple of the period (one
    callback, not a burst). When the clock switches between system and simulated time, or
    simulated time goes backwards, the timer restarts from the current time.
    """

    def __init__(self, callback: Callable[[], Any] | None, period_ns: int, clock: Clock,
                 autostart: bool = True) -> None:
        if period_ns <= 0:
            raise ValueError(f'timer period must be > 0 s, got {period_ns / 1e9} s')
        self.callback = callback
        self._period_ns = int(period_ns)
        self._clock = clock
        self._canceled = not autostart
        self._sim = self._is_sim()
        now = clock.now_ns()
        self._last_call_ns = now
        self._next_call_ns = now + self._period_ns
        self._destroyed = False
        self.creation_index = next(_CREATION)
        """Order of creation among the process's timers (the in-process world's tie-break)."""

    def _is_sim(self) -> bool:
        return isinstance(self._clock, ROSClock) and self._clock.ros_time_is_active

    @property
    def clock(self) -> Clock:
        """The timer's clock."""
        return self._clock

    @property
    def timer_period_ns(self) -> int:
        """Period in ns."""
        return self._period_ns

    @timer_period_ns.setter
    def timer_period_ns(self, value: int) -> None:
        self._period_ns = int(value)
        self.reset()

    def is_canceled(self) -> bool:
        """True after cancel()."""
        return self._canceled

    def cancel(self) -> None:
        """Stop calling back until reset()."""
        self._canceled = True

    def reset(self) -> None:
        """Restart: next call one period from now."""
        now = self._clock.now_ns()
        self._sim = self._is_sim()
        self._last_call_ns = now
        self._next_call_ns = now + self._period_ns
        self._canceled = False

    def _sync(self, now: int) -> None:
        sim = self._is_sim()
        if sim != self._sim or now < self._last_call_ns:
            self._sim = sim
            self._last_call_ns = now
            self._next_call_ns = now + self._period_ns

    def is_ready(self) -> bool:
        """True when the next call time has passed."""
        if self._canceled or self._destroyed:
            return False
        now = self._clock.now_ns()
        self._sync(now)
        return now >= self._next_call_ns

    def time_until_next_call(self) -> int | None:
        """Nanoseconds until the next call (None when canceled)."""
        if self._canceled:
            return None
        now = self._clock.now_ns()
        self._sync(now)
        return self._next_call_ns - now

    def time_since_last_call(self) -> int:
        """Nanoseconds since the last call."""
        return self._clock.now_ns() - self._last_call_ns

    def waits_on_wall_clock(self) -> bool:
        """False when the timer follows simulated time (the executor cannot predict it)."""
        return not self._is_sim()

    def _take_call(self) -> bool:
        """Advance the schedule if ready; True when the callback must run now."""
        if not self.is_ready():
            return False
        now = self._clock.now_ns()
        self._last_call_ns = now
        nxt = self._next_call_ns + self._period_ns
        if nxt <= now:
            nxt += ((now - nxt) // self._period_ns + 1) * self._period_ns
        self._next_call_ns = nxt
        return True

    def destroy(self) -> None:
        """Stop for good."""
        self._destroyed = True
