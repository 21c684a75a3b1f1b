"""
Helpers for the runtime tests (imported by conftest.py and the test modules): real processes
over DDS on loopback.

Every test gets its own ``ROS_DOMAIN_ID`` (a range per xdist worker) and the LOCALHOST discovery
range, so tests never see each other's traffic. Processes are started with the same interpreter,
their output is collected by a thread, and tests wait for lines (never sleep as synchronisation).
Every process a test starts is killed at teardown.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_COUNTER = itertools.count()

# A test decorated with this runs twice: our nodes on the DDS runtime, then on rclpy.
both_backends = pytest.mark.parametrize(
    'ros', ['dds', pytest.param('rclpy', marks=pytest.mark.ros2)], indirect=True)


def _worker_index() -> int:
    name = os.environ.get('PYTEST_XDIST_WORKER', 'gw0')
    digits = re.sub(r'\D', '', name)
    return int(digits) if digits else 0


def next_domain_id() -> int:
    """A domain id not used by another test of this session (20..219, per worker range)."""
    base = 20 + (_worker_index() % 4) * 50
    return base + (next(_COUNTER) + os.getpid()) % 50


class Proc:
    """A child process whose merged stdout/stderr lines are collected as they come."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path | None = None,
                 group: bool = False) -> None:
        """``group``: a process group of its own, signalled as a whole (what Ctrl-C in a terminal
        does; ``ros2 run`` and ``ros2 launch`` rely on their children getting the signal too)."""
        self.args = args
        self.group = group
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=env, cwd=cwd or REPO, text=True, bufsize=1,
                                     start_new_session=group)
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip('\n'))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        with self._cond:
            return '\n'.join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 60.0, count: int = 1) -> list[re.Match[str]]:
        """Wait until ``count`` lines match ``pattern``; returns the matches."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in (regex.search(line) for line in self.lines) if m]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._thread.is_alive()):
                    raise AssertionError(
                        f'{pattern!r} x{count} not seen within {timeout} s in '
                        f'{" ".join(self.args[-6:])}; output:\n' + '\n'.join(self.lines[-60:]))
                self._cond.wait(min(left, 0.2))

    def matches(self, pattern: str) -> list[re.Match[str]]:
        regex = re.compile(pattern)
        with self._cond:
            return [m for m in (regex.search(line) for line in self.lines) if m]

    def interrupt(self, timeout: float = 30.0) -> int:
        """SIGINT, then wait; returns the exit code."""
        if self.proc.poll() is None:
            self._signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # where is it stuck? (IOR_FAULTHANDLER=1: SIGUSR1 prints every thread's stack)
            self._signal(signal.SIGUSR1)
            time.sleep(2.0)
            raise AssertionError(
                f'{" ".join(self.args[-6:])} still running {timeout} s after SIGINT; its last '
                'output and stacks:\n' + '\n'.join(self.lines[-150:])) from None
        self._thread.join(timeout=5)
        return code

    def wait(self, timeout: float = 60.0) -> int:
        code = self.proc.wait(timeout=timeout)
        self._thread.join(timeout=5)
        return code

    def _signal(self, signum: int) -> None:
        if self.group:
            try:
                os.killpg(self.proc.pid, signum)
            except ProcessLookupError:
                pass
        else:
            self.proc.send_signal(signum)

    def kill(self) -> None:
        if self.group:  # children may outlive the leader
            self._signal(signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


class RosEnv:
    """
    A domain of its own plus process helpers.

    ``backend`` is what our node processes run on: ``dds`` (the runtime of this package, from the
    source tree) or ``rclpy`` (the real ROS 2 with this package built by colcon: needs ROS 2,
    see rt_ros2.py). :meth:`ros2` and :meth:`rclpy` start real ROS 2 processes in the same
    domain whatever the backend.
    """

    def __init__(self, tmp_path: Path, backend: str = 'dds') -> None:
        self.domain_id = next_domain_id()
        self.tmp_path = tmp_path
        self.backend = backend
        self.log_dir = tmp_path / 'ros_log'
        if backend == 'rclpy':
            import rt_ros2

            self.env = rt_ros2.domain_environment(rt_ros2.overlay_environment(),
                                                  self.domain_id, self.log_dir)
        else:
            self.env = dict(os.environ)
            self.env.update({'ROS_DOMAIN_ID': str(self.domain_id),
                             'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST',
                             'PYTHONUNBUFFERED': '1', 'OMP_NUM_THREADS': '1',
                             'ROS_LOG_DIR': str(self.log_dir)})
            self.env.pop('CYCLONEDDS_URI', None)
        self.env['IOR_ROS_BACKEND'] = backend
        self.env['IOR_FAULTHANDLER'] = '1'  # SIGUSR1: stacks of a process that does not stop
        self._ros_env: dict[str, str] | None = None
        self.procs: list[Proc] = []

    @property
    def ros_env(self) -> dict[str, str]:
        """The real ROS 2 (with this package's colcon overlay) in this domain."""
        if self._ros_env is None:
            import rt_ros2

            self._ros_env = rt_ros2.domain_environment(rt_ros2.overlay_environment(),
                                                       self.domain_id, self.log_dir)
            self._ros_env['IOR_ROS_BACKEND'] = 'rclpy'
        return self._ros_env

    def ros2(self, *args: str) -> Proc:
        """Start a ``ros2`` command of the real ROS 2 in this domain."""
        proc = Proc(['ros2', *args], self.ros_env, cwd=self.tmp_path, group=True)
        self.procs.append(proc)
        return proc

    def run_ros2(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run a ``ros2`` command of the real ROS 2 to completion."""
        return subprocess.run(['ros2', *args], env=self.ros_env, cwd=self.tmp_path,
                              capture_output=True, text=True, timeout=timeout)

    def rclpy(self, script: str, *args: str) -> Proc:
        """Start a Python script (source text) that uses rclpy, in this domain."""
        path = self.tmp_path / f'rclpy_{next(_COUNTER)}.py'
        path.write_text(script, encoding='utf-8')
        proc = Proc([sys.executable, str(path), *args], self.ros_env, cwd=self.tmp_path)
        self.procs.append(proc)
        return proc

    def start(self, *args: str) -> Proc:
        """Start ``python args...`` (module or script) in this domain."""
        proc = Proc([sys.executable, *args], self.env)
        self.procs.append(proc)
        return proc

    def node(self, executable: str, *ros_args: str) -> Proc:
        """Start an ior_ros node executable with optional ``--ros-args``."""
        args = ['-m', 'ior_ros.runtime.exec', 'ior_ros', executable]
        if ros_args:
            args += ['--ros-args', *ros_args]
        return self.start(*args)

    def ior(self, *args: str) -> Proc:
        """Start an ``ior`` CLI command."""
        return self.start('-m', 'ior_ros.cli', *args)

    def run_ior(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run an ``ior`` command to completion."""
        return subprocess.run([sys.executable, '-m', 'ior_ros.cli', *args], env=self.env,
                              cwd=REPO, capture_output=True, text=True, timeout=timeout)

    def apply(self) -> None:
        """Use this domain in the test process itself (for in-process DDS readers)."""
        for key in ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE', 'IOR_ROS_BACKEND'):
            os.environ[key] = self.env[key]

    def close(self) -> None:
        for proc in self.procs:
            proc.kill()


def wait_until(predicate, timeout: float = 30.0, period: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``predicate()`` until true or the timeout; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return bool(value)
        time.sleep(period)
