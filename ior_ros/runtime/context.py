"""
The process context (rclpy.context.Context): global ``--ros-args``, the DDS participant, shutdown.

``init(args)`` parses the ROS arguments of ``args`` (``sys.argv`` by default) once for the process;
nodes combine them with their own ``cli_args``. The DDS participant is created with the first node
(one participant per process, however many nodes). ``shutdown()`` destroys the nodes, deletes the
participant and makes every ``spin`` return. SIGTERM marks the context as shutting down (``ok()``
turns false and
``spin`` raises :class:`ExternalShutdownException`, as in rclpy; the node's ``finally`` then calls
``try_shutdown()``); SIGINT does the same and raises Python's KeyboardInterrupt as well (rclpy's
handler does both).

Inside :func:`use_context` (in that thread) :func:`get_default_context` returns the given
context: that is how :class:`~ior_ros.runtime.inproc.InprocWorld` hands each node it builds its
own arguments and its in-process transport while the node class calls ``Node.__init__`` plainly.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ior_ros.core.errors import IorError
from ior_ros.runtime.ros_args import RosArgs, parse_ros_args

__all__ = ['Context', 'ExternalShutdownException', 'get_default_context', 'init', 'shutdown',
           'try_shutdown', 'ok', 'use_context']


class ExternalShutdownException(IorError):
    """The context was shut down from outside the spinning code (SIGTERM, ``shutdown()``)."""


class Context:
    """Everything one ``init()`` owns."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._initialized = False
        self._shutdown = False
        self._requested = False
        self.ros_args = RosArgs()
        self.domain_id: int | None = None
        self._dds: Any = None
        self._nodes: list[weakref.ref[Any]] = []
        self._on_shutdown: list[Callable[[], None]] = []

    def init(self, args: list[str] | None = None, domain_id: int | None = None) -> None:
        """Parse ROS arguments and mark the context usable (again, after a shutdown)."""
        with self._lock:
            if self._initialized and not self._shutdown:
                raise RuntimeError('Context.init() must only be called once')
            argv = list(sys.argv if args is None else args)
            self.ros_args = parse_ros_args(argv)
            if self.ros_args.log_level:
                from ior_ros.runtime.ros_logging import set_default_level

                set_default_level(self.ros_args.log_level)
            self.domain_id = domain_id
            self._initialized = True
            self._shutdown = False
            self._requested = False

    def ok(self) -> bool:
        """True between init() and shutdown()."""
        return self._initialized and not self._shutdown and not self._requested

    def request_shutdown(self) -> None:
        """Mark the context as shutting down and wake executors (safe in a signal handler)."""
        self._requested = True
        dds = self._dds
        if dds is not None:
            dds.wake()

    @property
    def dds(self) -> Any:
        """The process's DDS context (participant), created on first use."""
        with self._lock:
            if self._shutdown:
                raise ExternalShutdownException('the context is shut down')
            if self._dds is None:
                from ior_ros.runtime.dds import DdsContext

                self._dds = DdsContext(self.domain_id)
            return self._dds

    def has_dds(self) -> bool:
        """True once the participant exists."""
        return self._dds is not None

    def track_node(self, node: Any) -> None:
        """Remember a node so that shutdown() destroys it."""
        with self._lock:
            self._nodes.append(weakref.ref(node))

    def untrack_node(self, node: Any) -> None:
        """Forget a destroyed node."""
        with self._lock:
            self._nodes = [r for r in self._nodes if r() is not None and r() is not node]

    def on_shutdown(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` at shutdown (executors use it to wake up)."""
        self._on_shutdown.append(callback)

    def shutdown(self) -> None:
        """Destroy nodes, delete the participant, wake every executor."""
        with self._lock:
            if not self._initialized or self._shutdown:
                raise RuntimeError('Context must be initialized before it can be shutdown')
            self._shutdown = True
            nodes = [r() for r in self._nodes]
            self._nodes = []
        for node in nodes:
            if node is not None:
                try:
                    node.destroy_node()
                except Exception:  # noqa: S110  (best effort at shutdown)
                    pass
        for callback in list(self._on_shutdown):
            try:
                callback()
            except Exception:  # noqa: S110
                pass
        with self._lock:
            dds, self._dds = self._dds, None
        if dds is not None:
            dds.close()

    def try_shutdown(self) -> None:
        """shutdown() unless already shut down."""
        if self._initialized and not self._shutdown:
            self.shutdown()


_DEFAULT = Context()
_SIGNALS_INSTALLED = [False]
_OVERRIDES = threading.local()  # .stack: contexts of use_context(), innermost last


def get_default_context() -> Context:
    """The process-wide default context (or the one :func:`use_context` put in place)."""
    stack = getattr(_OVERRIDES, 'stack', None)
    return stack[-1] if stack else _DEFAULT


@contextmanager
def use_context(context: Context) -> Iterator[None]:
    """While inside (in this thread), :func:`get_default_context` returns ``context``."""
    stack: list[Context] = getattr(_OVERRIDES, 'stack', None) or []
    _OVERRIDES.stack = stack
    stack.append(context)
    try:
        yield
    finally:
        stack.pop()


def _install_sigterm() -> None:
    if _SIGNALS_INSTALLED[0] or threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum: int, frame: Any) -> None:
        _DEFAULT.request_shutdown()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, handler)
    # SIGINT: rclpy's handler shuts the context down and still raises KeyboardInterrupt. Both
    # matter: a KeyboardInterrupt that lands in code that swallows it (a callback's broad except,
    # a __del__, a ctypes callback) would otherwise leave the node spinning after Ctrl-C; with
    # the context marked, spin ends at its next wake-up (as in rclpy). A process
    # started in the background of a non-interactive shell (nohup, `&`) inherits SIGINT ignored;
    # rclpy installs its handler regardless, so Ctrl-C and a launch's SIGINT stop the node either
    # way: do the same.
    interrupt = signal.getsignal(signal.SIGINT)
    if not callable(interrupt):
        interrupt = signal.default_int_handler

    def on_sigint(signum: int, frame: Any) -> None:
        _DEFAULT.request_shutdown()
        interrupt(signum, frame)

    signal.signal(signal.SIGINT, on_sigint)
    install_stack_dump()
    _SIGNALS_INSTALLED[0] = True


def install_stack_dump() -> None:
    """With ``IOR_FAULTHANDLER=1`` in the environment, SIGUSR1 makes the process print every
    thread's Python stack to stderr (faulthandler) and go on: how a test finds out where a node
    that does not stop is stuck. Off by default (SIGUSR1 keeps its default action)."""
    if os.environ.get('IOR_FAULTHANDLER') != '1' or not hasattr(signal, 'SIGUSR1'):
        return
    import faulthandler

    faulthandler.register(signal.SIGUSR1, all_threads=True)


def init(args: list[str] | None = None, *, context: Context | None = None,
         domain_id: int | None = None, **_: Any) -> None:
    """rclpy.init(): parse ``--ros-args`` of ``args`` (default sys.argv)."""
    (context or _DEFAULT).init(args, domain_id)
    if context is None or context is _DEFAULT:
        _install_sigterm()


def shutdown(*, context: Context | None = None) -> None:
    """rclpy.shutdown()."""
    (context or _DEFAULT).shutdown()


def try_shutdown(*, context: Context | None = None) -> None:
    """rclpy.try_shutdown()."""
    (context or _DEFAULT).try_shutdown()


def ok(*, context: Context | None = None) -> bool:
    """rclpy.ok()."""
    return (context or _DEFAULT).ok()
