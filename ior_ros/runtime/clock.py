"""
Time, Duration and clocks with rclpy's names (rclpy.time, rclpy.duration, rclpy.clock).

A node's clock is a ROS clock (``ClockType.ROS_TIME``): system time, or, once ``use_sim_time`` is
true, the last time received on ``/clock`` (rosgraph_msgs/Clock) — zero until the first message
arrives, as in rcl. Timers created on that clock fire when the simulated time passes their next
call time; while ``/clock`` stands still they do not fire, however much wall time passes.

A clock created inside :func:`virtual_time` (what :class:`~ior_ros.runtime.inproc.InprocWorld`
does while it builds and runs its nodes) reads that time source instead of the system and steady
clocks, for its whole life: every clock of a node in an in-process world reads the world's
virtual time, whichever type it is (``/clock`` still wins for a ROS clock with ``use_sim_time``).
"""

from __future__ import annotations

import threading
import time as _time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import IntEnum
from typing import Any

__all__ = ['ClockType', 'Time', 'Duration', 'Clock', 'ROSClock', 'S_TO_NS', 'virtual_time']

S_TO_NS = 1_000_000_000

_SOURCES = threading.local()  # .stack: the time sources of virtual_time(), innermost last


@contextmanager
def virtual_time(now_ns: Callable[[], int]) -> Iterator[None]:
    """While inside (in this thread), new clocks read ``now_ns()`` instead of the system clock."""
    stack: list[Callable[[], int]] = getattr(_SOURCES, 'stack', None) or []
    _SOURCES.stack = stack
    stack.append(now_ns)
    try:
        yield
    finally:
        stack.pop()


def _current_source() -> Callable[[], int] | None:
    stack = getattr(_SOURCES, 'stack', None)
    return stack[-1] if stack else None


class ClockType(IntEnum):
    """rcl_clock_type_t."""

    UNINITIALIZED = 0
    ROS_TIME = 1
    SYSTEM_TIME = 2
    STEADY_TIME = 3


class Duration:
    """A signed time span in nanoseconds (rclpy.duration.Duration)."""

    __slots__ = ('_ns',)

    def __init__(self, *, seconds: float = 0, nanoseconds: int = 0) -> None:
        self._ns = int(round(seconds * S_TO_NS)) + int(nanoseconds)

    @property
    def nanoseconds(self) -> int:
        """The span in ns."""
        return self._ns

    def to_msg(self) -> Any:
        """builtin_interfaces/Duration."""
        from ior_ros.runtime.registry import get_message

        sec, nsec = divmod(self._ns, S_TO_NS)
        return get_message('builtin_interfaces/msg/Duration')(sec=sec, nanosec=nsec)

    @classmethod
    def from_msg(cls, msg: Any) -> Duration:
        """From builtin_interfaces/Duration."""
        return cls(seconds=msg.sec, nanoseconds=msg.nanosec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Duration) and self._ns == other._ns

    def __lt__(self, other: Duration) -> bool:
        return self._ns < other._ns

    def __le__(self, other: Duration) -> bool:
        return self._ns <= other._ns

    def __gt__(self, other: Duration) -> bool:
        return self._ns > other._ns

    def __ge__(self, other: Duration) -> bool:
        return self._ns >= other._ns

    def __hash__(self) -> int:
        return hash(self._ns)

    def __repr__(self) -> str:
        return f'Duration(nanoseconds={self._ns})'


class Time:
    """A point in time of one clock type, in nanoseconds (rclpy.time.Time)."""

    __slots__ = ('_ns', '_clock_type')

    def __init__(self, *, seconds: float = 0, nanoseconds: int = 0,
                 clock_type: ClockType = ClockType.SYSTEM_TIME) -> None:
        total = int(round(seconds * S_TO_NS)) + int(nanoseconds)
        if total < 0:
            raise ValueError('Time must not be negative')
        self._ns = total
        self._clock_type = ClockType(clock_type)

    @property
    def nanoseconds(self) -> int:
        """Nanoseconds since the clock's epoch."""
        return self._ns

    @property
    def clock_type(self) -> ClockType:
        """The clock this time belongs to."""
        return self._clock_type

    def seconds_nanoseconds(self) -> tuple[int, int]:
        """``(sec, nanosec)``."""
        sec, nsec = divmod(self._ns, S_TO_NS)
        return sec, nsec

    def to_msg(self) -> Any:
        """builtin_interfaces/Time."""
        from ior_ros.runtime.registry import get_message

        sec, nsec = divmod(self._ns, S_TO_NS)
        return get_message('builtin_interfaces/msg/Time')(sec=sec, nanosec=nsec)

    @classmethod
    def from_msg(cls, msg: Any, clock_type: ClockType = ClockType.ROS_TIME) -> Time:
        """From builtin_interfaces/Time."""
        return cls(seconds=msg.sec, nanoseconds=msg.nanosec, clock_type=clock_type)

    def __add__(self, other: Duration) -> Time:
        if not isinstance(other, Duration):
            return NotImplemented
        return Time(nanoseconds=self._ns + other.nanoseconds, clock_type=self._clock_type)

    __radd__ = __add__

    def __sub__(self, other: Any) -> Any:
        if isinstance(other, Time):
            if other.clock_type != self._clock_type:
                raise TypeError("Can't subtract times with different clock types")
            return Duration(nanoseconds=self._ns - other._ns)
        if isinstance(other, Duration):
            return Time(nanoseconds=self._ns - other.nanoseconds, clock_type=self._clock_type)
        return NotImplemented

    def _check(self, other: Time) -> None:
        if not isinstance(other, Time):
            raise TypeError('Can only compare Time with Time')
        if other.clock_type != self._clock_type:
            raise TypeError("Can't compare times with different clock types")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Time):
            return NotImplemented
        self._check(other)
        return self._ns == other._ns

    def __lt__(self, other: Time) -> bool:
        self._check(other)
        return self._ns < other._ns

    def __le__(self, other: Time) -> bool:
        self._check(other)
        return self._ns <= other._ns

    def __gt__(self, other: Time) -> bool:
        self._check(other)
        return self._ns > other._ns

    def __ge__(self, other: Time) -> bool:
        self._check(other)
        return self._ns >= other._ns

    def __hash__(self) -> int:
        return hash((self._ns, self._clock_type))

    def __repr__(self) -> str:
        return f'Time(nanoseconds={self._ns}, clock_type={self._clock_type.name})'


class Clock:
    """A clock of one type: SYSTEM_TIME (wall), STEADY_TIME (monotonic) or ROS_TIME."""

    def __init__(self, *, clock_type: ClockType = ClockType.SYSTEM_TIME) -> None:
        self._clock_type = ClockType(clock_type)
        if type(self) is Clock and self._clock_type == ClockType.ROS_TIME:
            raise TypeError('use ROSClock for ROS_TIME')
        self._source = _current_source()  # virtual_time(): an in-process world's time

    @property
    def virtual_source(self) -> Callable[[], int] | None:
        """The time source of :func:`virtual_time` this clock reads (None: the real clocks)."""
        return self._source

    @property
    def clock_type(self) -> ClockType:
        """The clock's type."""
        return self._clock_type

    def now_ns(self) -> int:
        """Current time in ns (fast path used by timers)."""
        if self._source is not None:
            return self._source()
        if self._clock_type == ClockType.STEADY_TIME:
            return _time.monotonic_ns()
        return _time.time_ns()

    def now(self) -> Time:
        """Current time."""
        return Time(nanoseconds=self.now_ns(), clock_type=self._clock_type)

    def sleep_for(self, rel_time: Duration) -> bool:
        """Sleep for a duration of this clock (wall sleep for non-ROS clocks)."""
        return self.sleep_until(self.now() + rel_time)

    def sleep_until(self, until: Time) -> bool:
        """Sleep until the clock reaches ``until``."""
        if self._source is not None:
            raise RuntimeError('a clock of an in-process world cannot sleep (its time moves only '
                               'between callbacks): use a timer')
        while True:
            left = until.nanoseconds - self.now_ns()
            if left <= 0:
                return True
            _time.sleep(min(left / S_TO_NS, 0.05))

    def __repr__(self) -> str:
        return f'Clock(clock_type={self._clock_type.name})'


class ROSClock(Clock):
    """ROS time: system time, or the ``/clock`` time while ROS time is active (use_sim_time)."""

    def __init__(self) -> None:
        super().__init__(clock_type=ClockType.ROS_TIME)
        self._ros_time_active = False
        self._override_ns = 0
        self._lock = threading.Lock()
        self._listeners: list[Any] = []

    @property
    def ros_time_is_active(self) -> bool:
        """True when time comes from /clock."""
        return self._ros_time_active

    def _set_ros_time_is_active(self, enabled: bool) -> None:
        with self._lock:
            self._ros_time_active = bool(enabled)
        self._notify()

    def set_ros_time_override(self, time_value: Time | int) -> None:
        """Set the simulated time (what a /clock message does)."""
        value = time_value.nanoseconds if isinstance(time_value, Time) else int(time_value)
        with self._lock:
            self._override_ns = value
        self._notify()

    def add_time_listener(self, callback: Any) -> None:
        """Call ``callback()`` whenever the simulated time changes (executors wake up on it)."""
        self._listeners.append(callback)

    def _notify(self) -> None:
        for callback in list(self._listeners):
            callback()

    def now_ns(self) -> int:
        """Current ROS time in ns."""
        if self._ros_time_active:
            return self._override_ns
        if self._source is not None:
            return self._source()
        return _time.time_ns()
