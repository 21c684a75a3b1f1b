"""
Executors and ``spin`` (rclpy.executors, rclpy.spin/spin_once/spin_until_future_complete).

One thread runs every callback. The executor blocks on the participant's DDS waitset (a reader got
data, a wake-up was requested) with a timeout equal to the time left until the next wall-clock
timer; timers on simulated time are checked whenever anything arrives, in particular every
``/clock`` message. Waits are cut into slices of at most 100 ms so that Ctrl-C (KeyboardInterrupt)
is handled promptly, because Python delivers signals only between bytecodes.

``spin_once`` runs at most one callback, like rclpy; ``spin`` loops while the context is ok: it
returns when the context was shut down in a callback, and raises
:class:`~ior_ros.runtime.context.ExternalShutdownException` when that happened during a wait
(SIGINT, SIGTERM, ``shutdown()`` from another thread), as rclpy's SingleThreadedExecutor does.
``MultiThreadedExecutor`` is accepted and runs callbacks in one thread.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ior_ros.runtime.context import Context, ExternalShutdownException, get_default_context
from ior_ros.runtime.errors import DdsError

__all__ = ['Executor', 'SingleThreadedExecutor', 'MultiThreadedExecutor', 'Future', 'spin',
           'spin_once', 'spin_until_future_complete', 'get_global_executor']

_MAX_WAIT_NS = 100_000_000


class Future:
    """A minimal rclpy.task.Future: ``done()``, ``result()``, ``set_result()``, callbacks."""

    def __init__(self) -> None:
        self._done = False
        self._result: Any = None
        self._exception: BaseException | None = None
        self._callbacks: list[Callable[[Future], None]] = []

    def done(self) -> bool:
        """True once a result or exception is set."""
        return self._done

    def result(self) -> Any:
        """The result (raises the stored exception)."""
        if self._exception is not None:
            raise self._exception
        return self._result

    def exception(self) -> BaseException | None:
        """The stored exception."""
        return self._exception

    def set_result(self, result: Any) -> None:
        """Complete with a value."""
        self._result, self._done = result, True
        for callback in self._callbacks:
            callback(self)

    def set_exception(self, exception: BaseException) -> None:
        """Complete with an exception."""
        self._exception, self._done = exception, True
        for callback in self._callbacks:
            callback(self)

    def add_done_callback(self, callback: Callable[[Future], None]) -> None:
        """Call ``callback(self)`` on completion."""
        if self._done:
            callback(self)
        else:
            self._callbacks.append(callback)


class Executor:
    """Runs the callbacks of its nodes (subscriptions first-come, then due timers)."""

    def __init__(self, *, context: Context | None = None) -> None:
        self.context = context or get_default_context()
        self._nodes: list[Any] = []
        self._queue: deque[Callable[[], None]] = deque()
        self._is_shutdown = False
        self.context.on_shutdown(self._wake)

    def add_node(self, node: Any) -> bool:
        """Add a node; False when it was already there."""
        if node in self._nodes:
            return False
        self._nodes.append(node)
        self._wake()
        return True

    def remove_node(self, node: Any) -> None:
        """Stop serving a node."""
        if node in self._nodes:
            self._nodes.remove(node)

    def get_nodes(self) -> list[Any]:
        """The nodes served."""
        return list(self._nodes)

    def _wake(self) -> None:
        if self.context.has_dds():
            try:
                self.context.dds.wake()
            except Exception:  # noqa: S110  (shutting down)
                pass

    def _gather(self) -> None:
        if self.context.has_dds():
            dds = self.context.dds
            dds.check_statuses()  # incompatible-QoS events: they post their warnings
            events = dds.events  # handed over by other threads (DdsContext.post)
            while events:
                self._queue.append(events.popleft())
        for node in list(self._nodes):
            if getattr(node, '_destroyed', False):
                continue
            for subscription in list(node._subscriptions):
                subscription._collect(self._queue)
            for service in list(getattr(node, '_services', ())):
                service._collect(self._queue)
            for client in list(getattr(node, '_clients', ())):
                client._collect(self._queue)
            for timer in list(node._timers):
                if timer.callback is not None and timer._take_call():
                    self._queue.append(timer.callback)

    def _timer_timeout_ns(self) -> int:
        best = _MAX_WAIT_NS
        for node in self._nodes:
            for timer in node._timers:
                if timer.is_canceled() or not timer.waits_on_wall_clock():
                    continue
                left = timer.time_until_next_call()
                if left is not None:
                    best = min(best, max(0, left))
        return best

    def _check_context(self) -> None:
        if not self.context.ok() or self._is_shutdown:
            raise ExternalShutdownException('context shut down while spinning')

    def spin_once(self, timeout_sec: float | None = None) -> None:
        """Run at most one ready callback, waiting up to ``timeout_sec`` (None: forever)."""
        self._check_context()
        if not self._queue:
            deadline = None if timeout_sec is None or timeout_sec < 0 else \
                time.monotonic_ns() + int(timeout_sec * 1e9)
            while True:
                try:
                    self._gather()
                except DdsError:
                    self._check_context()
                    raise
                if self._queue:
                    break
                wait_ns = self._timer_timeout_ns()
                if deadline is not None:
                    left = deadline - time.monotonic_ns()
                    if left <= 0:
                        return
                    wait_ns = min(wait_ns, left)
                self.context.dds.wait(wait_ns)
                self._check_context()
        if self._queue:
            self._queue.popleft()()

    def spin(self) -> None:
        """Run callbacks until the context shuts down: returns when that happened in a
        callback, raises ExternalShutdownException when it happened during a wait (rclpy's
        SingleThreadedExecutor does the same)."""
        import gc

        gc.freeze()  # start-up objects leave the GC's generations: shorter pauses while spinning
        while self.context.ok() and not self._is_shutdown:  # rclpy's loop, to the letter
            self.spin_once(None)

    def spin_until_future_complete(self, future: Future, timeout_sec: float | None = None
                                   ) -> None:
        """Spin until ``future.done()`` or the timeout."""
        deadline = None if timeout_sec is None else time.monotonic() + timeout_sec
        while not future.done():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            self.spin_once(min(left, 0.1) if left is not None else 0.1)

    def shutdown(self, timeout_sec: float | None = None) -> bool:
        """Stop serving; ``spin`` returns (or raises ExternalShutdownException from a wait)."""
        self._is_shutdown = True
        self._nodes.clear()
        self._wake()
        return True


class SingleThreadedExecutor(Executor):
    """rclpy.executors.SingleThreadedExecutor."""


class MultiThreadedExecutor(Executor):
    """Accepted for compatibility; callbacks still run in the spinning thread."""

    def __init__(self, num_threads: int | None = None, *, context: Context | None = None) -> None:
        super().__init__(context=context)


_GLOBAL: dict[int, Executor] = {}


def get_global_executor() -> Executor:
    """The executor ``spin(node)`` uses when none is given."""
    ctx = get_default_context()
    found = _GLOBAL.get(id(ctx))
    if found is None or found._is_shutdown:
        found = SingleThreadedExecutor(context=ctx)
        _GLOBAL[id(ctx)] = found
    return found


def spin(node: Any, executor: Executor | None = None) -> None:
    """Run ``node``'s callbacks until shutdown (rclpy.spin)."""
    executor = executor or get_global_executor()
    added = executor.add_node(node)
    try:
        executor.spin()
    finally:
        if added:
            executor.remove_node(node)


def spin_once(node: Any, *, executor: Executor | None = None,
              timeout_sec: float | None = None) -> None:
    """Run at most one callback of ``node`` (rclpy.spin_once)."""
    executor = executor or get_global_executor()
    added = executor.add_node(node)
    try:
        executor.spin_once(timeout_sec)
    finally:
        if added:
            executor.remove_node(node)


def spin_until_future_complete(node: Any, future: Future, executor: Executor | None = None,
                               timeout_sec: float | None = None) -> None:
    """Spin ``node`` until ``future`` completes (rclpy.spin_until_future_complete)."""
    executor = executor or get_global_executor()
    added = executor.add_node(node)
    try:
        executor.spin_until_future_complete(future, timeout_sec)
    finally:
        if added:
            executor.remove_node(node)
