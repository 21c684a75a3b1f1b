"""
Runs a :class:`~ior_ros.runtime.launch_plan.LaunchPlan` the way ``ros2 launch`` does: each
process on its own, output relayed, the whole launch stopped on Ctrl-C.

Supervision: output lines carry the prefix ``[label-N]`` (label = the node's ``exec_name``, else
the executable's file name; N counts the launch's processes in start order, as launch does).
``output: screen`` shows stdout and stderr; ``log`` (the default) shows stderr and writes both to
the log folder; ``both`` does both. Ctrl-C (or SIGTERM) sends SIGINT to every process, then SIGTERM
after ``sigterm_timeout`` s, then SIGKILL. A node with ``on_exit: shutdown`` or ``required: true``
that exits stops the whole launch, which then fails with an error naming it; other processes that
exit are reported (``process has died``, as ``ros2 launch`` says it, then one line saying the rest
keep running; exit code 2, an ior node's refusal of its configuration, points at the node's own
error line above) and the rest keep running.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from ior_ros.core.errors import IorError
from ior_ros.runtime.errors import LaunchError
from ior_ros.runtime.launch_plan import LaunchPlan, ProcessSpec
from ior_ros.runtime.launch_yaml import load_launch

__all__ = ['LaunchRunner', 'RequiredProcessExited', 'run_launch']


class RequiredProcessExited(IorError):
    """A node marked required (``on_exit: shutdown``) exited; the launch was stopped."""


def _log_root() -> Path:
    if os.environ.get('ROS_LOG_DIR'):
        return Path(os.environ['ROS_LOG_DIR'])
    home = Path(os.environ.get('ROS_HOME', Path.home() / '.ros'))
    return home / 'log'


def _signal_name(code: int) -> str:
    if code < 0:
        try:
            return f' ({signal.Signals(-code).name})'
        except ValueError:
            return ''
    return ''


class _Running:
    def __init__(self, spec: ProcessSpec) -> None:
        self.spec = spec
        self.proc: subprocess.Popen[bytes] | None = None
        self.threads: list[threading.Thread] = []
        self.done = False
        self.returncode: int | None = None
        self.restart_at: float | None = None


class LaunchRunner:
    """Starts and supervises the processes of a plan."""

    def __init__(self, plan: LaunchPlan, stdout: IO[str] | None = None,
                 stderr: IO[str] | None = None, sigterm_timeout_s: float = 5.0,
                 sigkill_timeout_s: float = 5.0, log_dir: Path | None = None) -> None:
        self.plan = plan
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.sigterm_timeout_s = sigterm_timeout_s
        self.sigkill_timeout_s = sigkill_timeout_s
        stamp = datetime.datetime.now().strftime('%Y-%m-%d-%H-%M-%S-%f')
        self.log_dir = log_dir or (_log_root() / f'{stamp}-{socket.gethostname()}-{os.getpid()}')
        self._lock = threading.Lock()
        self._signal_received: int | None = None
        self._stop = threading.Event()
        self._files: dict[str, IO[str]] = {}
        self.running: list[_Running] = []

    def _say(self, text: str, error: bool = False) -> None:
        stream = self.stderr if error else self.stdout
        with self._lock:
            stream.write(text + '\n')
            stream.flush()
            log = self._files.get('launch')
            if log is not None:
                log.write(text + '\n')
                log.flush()

    def _log_file(self, label: str) -> IO[str]:
        if label not in self._files:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._files[label] = open(self.log_dir / f'{label}.log', 'a',  # noqa: SIM115
                                      encoding='utf-8')
        return self._files[label]

    def _pump(self, run: _Running, stream: IO[bytes], is_err: bool) -> None:
        spec = run.spec
        to_screen = spec.output in ('screen', 'both') or is_err
        to_log = spec.output in ('log', 'both')
        target = self.stderr if is_err else self.stdout
        for raw in iter(stream.readline, b''):
            line = raw.decode('utf-8', 'replace').rstrip('\n')
            with self._lock:
                if to_screen:
                    target.write(f'[{spec.label}] {line}\n')
                    target.flush()
                if to_log:
                    handle = self._log_file(spec.label)
                    handle.write(line + '\n')
                    handle.flush()
        stream.close()

    def _start(self, run: _Running) -> None:
        spec = run.spec
        env = dict(os.environ)
        env.update({k: v for k, v in self.plan.env.items() if v is not None})
        for key, value in self.plan.env.items():
            if value is None:
                env.pop(key, None)
        for key, value in spec.env.items():
            if value == '\0unset':
                env.pop(key, None)
            else:
                env[key] = value
        env.setdefault('PYTHONUNBUFFERED', '1')
        try:
            run.proc = subprocess.Popen(spec.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env=env, cwd=spec.cwd, start_new_session=True,
                                        preexec_fn=_die_with_parent)
        except OSError as exc:
            raise LaunchError(f'{spec.source}: cannot start {spec.label}: {exc}') from None
        run.done = False
        run.returncode = None
        self._say(f'[INFO] [{spec.label}]: process started with pid [{run.proc.pid}]')
        assert run.proc.stdout is not None and run.proc.stderr is not None
        run.threads = [threading.Thread(target=self._pump, args=(run, run.proc.stdout, False),
                                        daemon=True),
                       threading.Thread(target=self._pump, args=(run, run.proc.stderr, True),
                                        daemon=True)]
        for thread in run.threads:
            thread.start()

    def _reap(self, run: _Running) -> int | None:
        if run.done or run.proc is None:
            return None
        code = run.proc.poll()
        if code is None:
            return None
        for thread in run.threads:
            thread.join(timeout=2.0)
        run.done = True
        run.returncode = code
        if code == 0:
            self._say(f'[INFO] [{run.spec.label}]: process has finished cleanly '
                      f'[pid {run.proc.pid}]')
        else:
            self._say(f'[ERROR] [{run.spec.label}]: process has died [pid {run.proc.pid}, exit '
                      f"code {code}{_signal_name(code)}, cmd '{shlex.join(run.spec.cmd)}']",
                      error=True)
        return code

    def _say_others_run_on(self, run: _Running, code: int) -> None:
        """After a non-required process failed: why (exit code 2) and what keeps running."""
        alive = [r.spec.label for r in self.running if not r.done]
        if not alive:
            return
        why = (' because it refused its configuration (its error line is above)' if code == 2
               else '')
        self._say(f'[WARNING] [launch]: {run.spec.label} stopped{why}; still running: '
                  f"{', '.join(alive)} (Ctrl-C stops them)", error=True)

    def request_stop(self) -> None:
        """Ask the supervisor loop to stop every process (what Ctrl-C does)."""
        self._stop.set()

    def _stop_all(self) -> None:
        alive = [r for r in self.running if r.proc is not None and not r.done
                 and r.proc.poll() is None]
        for run in alive:
            with contextlib.suppress(ProcessLookupError):
                assert run.proc is not None
                run.proc.send_signal(signal.SIGINT)
        for sig, timeout in ((signal.SIGTERM, self.sigterm_timeout_s),
                             (signal.SIGKILL, self.sigkill_timeout_s)):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and any(r.proc.poll() is None for r in alive
                                                      if r.proc is not None):
                time.sleep(0.05)
            for run in alive:
                if run.proc is not None and run.proc.poll() is None:
                    self._say(f'[WARNING] [{run.spec.label}]: still running; sending '
                              f'{sig.name}', error=True)
                    with contextlib.suppress(ProcessLookupError):
                        run.proc.send_signal(sig)
        for run in alive:
            if run.proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    run.proc.wait(timeout=self.sigkill_timeout_s)
            self._reap(run)

    def run(self) -> int:
        """Start everything and supervise until the end; returns the exit code."""
        self._files['launch'] = self._log_file('launch')
        self._say(f'[INFO] [launch]: All log files can be found below {self.log_dir}')
        for message in self.plan.messages:
            self._say(f'[INFO] [launch.user]: {message}')
        installed = self._install_signals()
        try:
            self.running = [_Running(spec) for spec in self.plan.processes]
            for run in self.running:
                self._start(run)
            failed_required: _Running | None = None
            any_failed = False
            while not self._stop.is_set() and self._signal_received is None:
                for run in self.running:
                    code = self._reap(run)
                    if code is None:
                        continue
                    if run.spec.required:
                        failed_required = run
                        break
                    if code != 0:
                        any_failed = True
                    if run.spec.respawn:
                        run.restart_at = time.monotonic() + run.spec.respawn_delay_s
                    elif code != 0:
                        self._say_others_run_on(run, code)
                if failed_required is not None:
                    break
                now = time.monotonic()
                for run in self.running:
                    if run.done and run.restart_at is not None and now >= run.restart_at:
                        run.restart_at = None
                        self._start(run)
                if all(r.done and r.restart_at is None for r in self.running):
                    return 1 if any_failed else 0
                time.sleep(0.05)  # not Event.wait: see the signal handler
            if self._signal_received is not None:
                self._say(f'[WARNING] [launch]: {signal.Signals(self._signal_received).name} '
                          'received; stopping all processes', error=True)
            self._stop_all()
            if failed_required is not None:
                spec = failed_required.spec
                code = failed_required.returncode or 0
                what = 'required node' if spec.node_name else 'required process'
                raise RequiredProcessExited(
                    f"{what} '{spec.node_name or spec.label}' ({spec.label}, {spec.source}) "
                    f'exited with code {code}{_signal_name(code)}; the launch was stopped')
            return 0
        finally:
            self._restore_signals(installed)
            for handle in self._files.values():
                with contextlib.suppress(Exception):
                    handle.close()
            self._files.clear()

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous: dict[int, Any] = {}

        def handler(signum: int, frame: Any) -> None:
            # a flag only: the handler runs in the main thread between two bytecodes, maybe while
            # that thread holds a lock (the output lock of _say, or an Event's inside wait()),
            # and taking it again here would wait for itself forever
            self._signal_received = signum

        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
        return previous

    def _restore_signals(self, previous: dict[int, Any]) -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _load_libc() -> Any:
    try:
        import ctypes

        return ctypes.CDLL('libc.so.6', use_errno=True)
    except (OSError, AttributeError):
        return None


_LIBC = _load_libc() if sys.platform.startswith('linux') else None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM when the launch process dies (no orphans after SIGKILL)."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG; libc loaded before fork (no imports)


def run_launch(path: str | Path, arguments: Mapping[str, str] | None = None,
               show_args: bool = False, stdout: IO[str] | None = None,
               stderr: IO[str] | None = None) -> int:
    """Parse and run a launch file; returns the exit code (see LaunchRunner.run)."""
    temp = Path(tempfile.mkdtemp(prefix='ior_launch_'))
    try:
        plan = load_launch(path, arguments, temp_dir=temp)
        out = stdout or sys.stdout
        if show_args:
            out.write("Arguments (pass arguments as '<name>:=<value>'):\n\n")
            for arg in plan.arguments:
                default = f"(default: '{arg.default}')" if arg.default is not None else \
                    '(required)'
                out.write(f"    '{arg.name}':\n        {arg.description or 'no description'}\n"
                          f'        {default}\n\n')
            return 0
        return LaunchRunner(plan, stdout=stdout, stderr=stderr).run()
    finally:
        import shutil

        shutil.rmtree(temp, ignore_errors=True)
