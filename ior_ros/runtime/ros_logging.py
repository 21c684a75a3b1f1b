"""
Node loggers with rclpy's interface (rclpy.impl.rcutils_logger.RcutilsLogger).

Output format is rcutils' default, ``[INFO] [1700000000.123456789] [node_name]: message``, on
stderr (stdout when ``RCUTILS_LOGGING_USE_STDOUT=1``); ``RCUTILS_CONSOLE_OUTPUT_FORMAT`` with the
tokens ``{severity} {time} {time_as_nanoseconds} {name} {message} {function_name} {file_name}
{line_number}`` is honoured. A node's logger also publishes every record on ``/rosout``
(rcl_interfaces/Log) when the node has rosout enabled. Supported call options: ``once``,
``skip_first``, ``throttle_duration_sec``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from enum import IntEnum
from typing import Any

__all__ = ['LoggingSeverity', 'RcutilsLogger', 'get_logger', 'set_default_level']


class LoggingSeverity(IntEnum):
    """rcutils severities (the numbers are rcl_interfaces/Log levels)."""

    UNSET = 0
    DEBUG = 10
    INFO = 20
    WARN = 30
    ERROR = 40
    FATAL = 50


_DEFAULT_LEVEL = [LoggingSeverity.INFO]
_LEVELS: dict[str, LoggingSeverity] = {}
_OUTPUT_LOCK = threading.Lock()
_DEFAULT_FORMAT = '[{severity}] [{time}] [{name}]: {message}'


def set_default_level(level: str | int | LoggingSeverity) -> None:
    """Set the level every logger without its own level uses (``--log-level``)."""
    _DEFAULT_LEVEL[0] = _parse_level(level)


def default_level() -> LoggingSeverity:
    """The level of every logger without its own level (:func:`set_default_level`)."""
    return _DEFAULT_LEVEL[0]


def _parse_level(level: str | int | LoggingSeverity) -> LoggingSeverity:
    if isinstance(level, str):
        name = level.strip().upper()
        name = {'WARNING': 'WARN'}.get(name, name)
        try:
            return LoggingSeverity[name]
        except KeyError:
            raise ValueError(f'unknown log level {level!r} (debug, info, warn, error, fatal)') \
                from None
    return LoggingSeverity(int(level))


class RcutilsLogger:
    """A named logger; children are named ``parent.child``."""

    def __init__(self, name: str = '') -> None:
        self.name = name
        self._sinks: list[Callable[[LoggingSeverity, str, str, int, str, str, int], None]] = []
        self._once: set[tuple[str, int]] = set()
        self._skipped: set[tuple[str, int]] = set()
        self._last: dict[tuple[str, int], float] = {}

    def get_child(self, name: str) -> RcutilsLogger:
        """The logger ``self.name + '.' + name`` (shares the /rosout sink)."""
        child = RcutilsLogger(f'{self.name}.{name}' if self.name else name)
        child._sinks = self._sinks
        return child

    def add_sink(self, sink: Callable[[LoggingSeverity, str, str, int, str, str, int], None]
                 ) -> None:
        """Also send every emitted record to ``sink`` (used for /rosout)."""
        self._sinks.append(sink)

    def set_level(self, level: str | int | LoggingSeverity) -> None:
        """Set this logger's threshold."""
        _LEVELS[self.name] = _parse_level(level)

    def get_effective_level(self) -> LoggingSeverity:
        """The threshold that applies (own, or the default)."""
        return _LEVELS.get(self.name, _DEFAULT_LEVEL[0])

    def is_enabled_for(self, severity: LoggingSeverity | int) -> bool:
        """True when a record of ``severity`` would be emitted."""
        return int(severity) >= int(self.get_effective_level())

    def log(self, message: Any, severity: LoggingSeverity | int, **kwargs: Any) -> bool:
        """Emit ``message`` at ``severity``; returns whether it was emitted."""
        severity = LoggingSeverity(int(severity))
        if not self.is_enabled_for(severity):
            return False
        frame = sys._getframe(int(kwargs.pop('_depth', 1)))
        site = (frame.f_code.co_filename, frame.f_lineno)
        if kwargs.pop('once', False):
            if site in self._once:
                return False
            self._once.add(site)
        if kwargs.pop('skip_first', False) and site not in self._skipped:
            self._skipped.add(site)
            return False
        throttle = kwargs.pop('throttle_duration_sec', None)
        kwargs.pop('throttle_time_source_type', None)
        if throttle:
            now = time.monotonic()
            last = self._last.get(site)
            if last is not None and now - last < float(throttle):
                return False
            self._last[site] = now
        if kwargs:
            raise TypeError(f'unsupported logging options: {sorted(kwargs)}')
        text = str(message)
        stamp_ns = time.time_ns()
        _emit(severity, self.name, text, stamp_ns, frame.f_code.co_filename,
              frame.f_code.co_name, frame.f_lineno)
        for sink in self._sinks:
            try:
                sink(severity, self.name, text, stamp_ns, frame.f_code.co_filename,
                     frame.f_code.co_name, frame.f_lineno)
            except Exception:  # noqa: S110  (a closed node must not break logging)
                pass
        return True

    def debug(self, message: Any, **kwargs: Any) -> bool:
        """Log at DEBUG."""
        return self.log(message, LoggingSeverity.DEBUG, _depth=2, **kwargs)

    def info(self, message: Any, **kwargs: Any) -> bool:
        """Log at INFO."""
        return self.log(message, LoggingSeverity.INFO, _depth=2, **kwargs)

    def warning(self, message: Any, **kwargs: Any) -> bool:
        """Log at WARN."""
        return self.log(message, LoggingSeverity.WARN, _depth=2, **kwargs)

    def warn(self, message: Any, **kwargs: Any) -> bool:
        """Deprecated alias of :meth:`warning` (as in rclpy)."""
        return self.log(message, LoggingSeverity.WARN, _depth=2, **kwargs)

    def error(self, message: Any, **kwargs: Any) -> bool:
        """Log at ERROR."""
        return self.log(message, LoggingSeverity.ERROR, _depth=2, **kwargs)

    def fatal(self, message: Any, **kwargs: Any) -> bool:
        """Log at FATAL."""
        return self.log(message, LoggingSeverity.FATAL, _depth=2, **kwargs)


def _emit(severity: LoggingSeverity, name: str, message: str, stamp_ns: int, file: str,
          function: str, line: int) -> None:
    fmt = os.environ.get('RCUTILS_CONSOLE_OUTPUT_FORMAT') or _DEFAULT_FORMAT
    sec, nsec = divmod(stamp_ns, 1_000_000_000)
    values = {'severity': severity.name, 'time': f'{sec}.{nsec:09d}',
              'time_as_nanoseconds': str(stamp_ns), 'name': name, 'message': message,
              'function_name': function, 'file_name': file, 'line_number': str(line)}
    text = fmt
    for key, value in values.items():
        text = text.replace('{' + key + '}', value)
    stream = sys.stdout if os.environ.get('RCUTILS_LOGGING_USE_STDOUT') == '1' else sys.stderr
    with _OUTPUT_LOCK:
        try:
            stream.write(text + '\n')
            stream.flush()
        except (ValueError, OSError):  # stream closed at interpreter exit
            pass


def get_logger(name: str) -> RcutilsLogger:
    """A logger that is not tied to a node (rclpy.logging.get_logger)."""
    return RcutilsLogger(name)
