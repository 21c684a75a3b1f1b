"""
Sweeps: the independent runs of a reproduction (seeds x variants x points), run in order, on local
worker processes, or on a Ray cluster; resumable.

A :class:`Sweep` is a list of :class:`SweepRun`: a stable key (``dpp/certified/twin/seed2``), a
target ``'package.module:function'``, JSON-able keyword arguments, and optionally an output folder.
:meth:`Sweep.run` calls ``function(**kwargs)`` for every run (plus ``out_dir=str(folder)`` when the
run has one) and returns the results in the sweep's order, whatever order they finish in:

* ``workers=1``: inline, in order, in this process;
* ``workers=N``: N worker processes of the ``spawn`` start method (a fresh interpreter each, so no
  state of this process leaks into a run; the target is imported by name);
* ``ray_address='auto'`` or ``'HOST:PORT'``: one Ray task per run (``num_cpus=1``) on an existing
  cluster (``ray.init(address=...)``); ``ray`` is imported only then (``pip install
  ior_ros[cluster]``). Output folders must be on a file system the workers and this process share.

Same seeds, same numbers, whatever the mode: a run takes its seed from its kwargs, never from the
worker it lands on; every run executes with one BLAS/OpenMP thread (``OMP_NUM_THREADS=1`` and
friends in the workers' environment; inline, in this process's environment while the run runs)
and ``torch.set_num_threads(1)`` once torch is loaded, so
float reductions happen in the same order; and every result, fresh or resumed, passes through
JSON (NaN becomes ``None``), so a resumed result is the same object as a fresh one.

Resuming: when a run succeeds, ``<out_dir>/sweep_result.json`` (:data:`RESULT_FILE`: the key,
target, kwargs and result) is written atomically. A later sweep skips a run whose folder holds that
file with the same key, target and kwargs, and uses the stored result; a file left by other kwargs
is removed and the run runs again (the target decides what to do with what else is in the folder:
``ior train twin`` resumes from its checkpoint). ``force=True`` empties the run's folder first and
reruns it from scratch.

Failures: a run that raises is reported by its key and error (its traceback in
``<out_dir>/sweep_error.txt`` when it has a folder); the other runs finish; then
:class:`SweepError` names every failed key. A worker process that dies fails only the runs it held.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import multiprocessing
import os
import re
import shutil
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ior_ros.core.artifacts import atomic_write_json, atomic_write_text, to_jsonable
from ior_ros.core.errors import ConfigError, IorError
from ior_ros.core.progress import Progress, ProgressBar, no_progress

__all__ = ['SweepRun', 'RunOutcome', 'Sweep', 'SweepError', 'RESULT_FILE', 'ERROR_FILE',
           'THREAD_ENV', 'check_ray_address', 'parse_seeds', 'execute', 'MAX_SEEDS']

RESULT_FILE = 'sweep_result.json'
"""The completion marker of a run: written atomically when it succeeds."""
ERROR_FILE = 'sweep_error.txt'
"""The traceback of a run that raised."""
MAX_SEEDS = 10_000
"""Most seeds ``--seeds`` takes: each is a run (or one per variant)."""

THREAD_ENV: dict[str, str] = {name: '1' for name in (
    'OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'NUMEXPR_NUM_THREADS')}
"""The environment of every worker: one thread per run (the libraries read it when loaded)."""

_KEY = re.compile(r'[A-Za-z0-9_.=+-]+(/[A-Za-z0-9_.=+-]+)*')
_HOST = re.compile(r'[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]')


class SweepError(IorError, RuntimeError):
    """Runs of a sweep failed; :attr:`outcomes` holds every run's outcome, in the sweep's order."""

    def __init__(self, message: str, outcomes: Sequence[RunOutcome]) -> None:
        super().__init__(message)
        self.outcomes = list(outcomes)


@dataclass(frozen=True)
class SweepRun:
    """
    One independent run.

    Attributes:
        key: stable name, ``/``-separated words (``twin_gan/seed3``); unique in its sweep.
        target: ``'package.module:function'``, imported where the run executes.
        kwargs: JSON-able keyword arguments (the seed among them).
        out_dir: the run's folder (created when it runs), or None: not resumable.
    """

    key: str
    target: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    out_dir: Path | None = None

    def __post_init__(self) -> None:
        if not _KEY.fullmatch(self.key):
            raise ConfigError(f'sweep run key {self.key!r}: must be words of letters, digits and '
                              '_.=+- separated by /')
        module, _, func = self.target.partition(':')
        if not module or not func.isidentifier():
            raise ConfigError(f'sweep run {self.key}: target {self.target!r} must be '
                              "'package.module:function'")
        if 'out_dir' in self.kwargs:
            raise ConfigError(f'sweep run {self.key}: kwargs must not hold out_dir (it is the '
                              "run's out_dir field)")


@dataclass(frozen=True)
class RunOutcome:
    """What one run gave: its result, or its error (``'ValueError: message'``)."""

    key: str
    result: Any = None
    error: str | None = None
    resumed: bool = False
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the run succeeded (or was found finished)."""
        return self.error is None


def _normalise(value: Any) -> Any:
    """``value`` as it comes back from JSON (tuples as lists, NaN as None); TypeError if it
    cannot be written as JSON."""
    return json.loads(json.dumps(to_jsonable(value), allow_nan=False))


def _limit_threads() -> None:
    """A worker's start: one thread per run for libraries still to be loaded, torch if loaded."""
    os.environ.update(THREAD_ENV)
    _torch_one_thread()


def _torch_one_thread() -> None:
    torch = sys.modules.get('torch')
    if torch is not None:
        torch.set_num_threads(1)


def _load_target(target: str) -> Callable[..., Any]:
    module_name, _, func_name = target.partition(':')
    func: Callable[..., Any] = getattr(importlib.import_module(module_name), func_name)
    return func


def _describe(exc: BaseException) -> str:
    text = ' '.join(str(exc).split())
    if len(text) > 200:
        text = text[:197] + '...'
    return f'{type(exc).__name__}: {text}' if text else type(exc).__name__


def execute(target: str, kwargs: Mapping[str, Any], out_dir: str | None
            ) -> tuple[bool, Any, str, float]:
    """
    Run one target where it lands (this process, a worker process, a Ray task).

    Returns ``(True, result as JSON gives it back, '', wall_s)`` or ``(False, 'Type: message',
    traceback, wall_s)``; it never raises for the run's own errors, so every error crosses the
    process boundary as text.
    """
    started = time.perf_counter()
    try:
        func = _load_target(target)
        _torch_one_thread()  # inline too: the same reduction order as in a worker
        call = dict(kwargs)
        if out_dir is not None:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            call['out_dir'] = out_dir
        result = _normalise(func(**call))
    except Exception as exc:  # the run's own error, whatever it is, reported by its key
        return False, _describe(exc), traceback.format_exc(), time.perf_counter() - started
    return True, result, '', time.perf_counter() - started


def check_ray_address(text: str) -> str:
    """``'auto'`` or ``HOST:PORT`` (port 1-65535; IPv6 host in brackets); else ConfigError."""
    if text == 'auto':
        return text
    host, sep, port = text.rpartition(':')
    if sep and _HOST.fullmatch(host) and port.isdigit() and 1 <= int(port) <= 65535:
        return text
    raise ConfigError(f"--ray-address {text!r}: must be 'auto' (the cluster this machine belongs "
                      'to) or HOST:PORT of its head (port 1-65535, e.g. 10.0.0.5:6379)')


def parse_seeds(text: str, *, low: int = 0, high: int = 2 ** 32 - 1) -> tuple[int, ...]:
    """
    ``--seeds``: integers separated by commas or spaces, ``A-B`` for every seed from A to B
    (``0-4,10``); each in ``[low, high]``, none twice, at most :data:`MAX_SEEDS`.
    """
    seeds: list[int] = []
    for item in re.split(r'[,\s]+', text.strip()):
        if not item:
            continue
        first, dash, last = item.partition('-')
        try:
            a = int(first)
            b = int(last) if dash else a
        except ValueError:
            raise ConfigError(f'--seeds {text!r}: {item!r} is not an integer or a range A-B; '
                              'expected e.g. 0,1,2 or 0-4') from None
        if b < a:
            raise ConfigError(f'--seeds {text!r}: range {item!r} runs backwards')
        if a < low or b > high:
            raise ConfigError(f'--seeds {text!r}: {item!r} is outside [{low}, {high}]')
        if len(seeds) + b - a + 1 > MAX_SEEDS:
            raise ConfigError(f'--seeds {text!r}: more than {MAX_SEEDS} seeds')
        seeds.extend(range(a, b + 1))
    if not seeds:
        raise ConfigError(f'--seeds {text!r}: no seed given; expected e.g. 0,1,2 or 0-4')
    repeated = sorted({s for s in seeds if seeds.count(s) > 1}) if len(set(seeds)) < len(
        seeds) else []
    if repeated:
        raise ConfigError(f'--seeds {text!r}: seed {repeated[0]} is given twice')
    return tuple(seeds)


@contextlib.contextmanager
def _thread_env() -> Iterator[None]:
    """:data:`THREAD_ENV` in this process's environment while worker processes are spawned
    (they inherit it before loading numpy or torch); restored afterwards."""
    saved = {name: os.environ.get(name) for name in THREAD_ENV}
    os.environ.update(THREAD_ENV)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class Sweep:
    """Independent runs, run by :meth:`run` (see the module docstring)."""

    def __init__(self, runs: Sequence[SweepRun], name: str = 'sweep') -> None:
        seen: set[str] = set()
        for run in runs:
            if run.key in seen:
                raise ConfigError(f'{name}: run key {run.key!r} appears twice')
            seen.add(run.key)
        self.runs = list(runs)
        self.name = name

    def run(self, *, workers: int = 1, ray_address: str | None = None, force: bool = False,
            progress: Progress = no_progress) -> list[Any]:
        """
        Every run's result, in the sweep's order.

        Raises:
            SweepError: one run or more failed (after all the others finished).
            ConfigError: bad ``workers``/``ray_address``, ray missing, no cluster at the address.
        """
        outcomes = self.outcomes(workers=workers, ray_address=ray_address, force=force,
                                 progress=progress)
        failed = [o for o in outcomes if not o.ok]
        if failed:
            shown = '; '.join(f'{o.key} ({o.error})' for o in failed[:5])
            more = f'; and {len(failed) - 5} more' if len(failed) > 5 else ''
            where = (f" (tracebacks in each run folder's {ERROR_FILE})"
                     if any(self._by_key(o.key).out_dir is not None for o in failed) else '')
            raise SweepError(f'{self.name}: {len(failed)} of {len(outcomes)} runs failed: '
                             f'{shown}{more}{where}', outcomes)
        return [o.result for o in outcomes]

    def _by_key(self, key: str) -> SweepRun:
        return next(run for run in self.runs if run.key == key)

    def outcomes(self, *, workers: int = 1, ray_address: str | None = None, force: bool = False,
                 progress: Progress = no_progress) -> list[RunOutcome]:
        """Every run's :class:`RunOutcome`, in the sweep's order (never raises for a run)."""
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ConfigError(f'--workers {workers!r}: must be an integer >= 1')
        if ray_address is not None:
            check_ray_address(ray_address)
        results: list[RunOutcome | None] = [None] * len(self.runs)
        pending: list[int] = []
        for index, run in enumerate(self.runs):
            stored = None if force else self._stored(run)
            if stored is not None:
                results[index] = stored
            else:
                self._prepare(run, force)
                pending.append(index)
        done = len(self.runs) - len(pending)
        with progress(self.name, total=len(self.runs), unit='run', initial=done) as bar:
            if pending:
                if ray_address is not None:
                    self._on_ray(ray_address, pending, results, bar)
                elif workers == 1 or len(pending) == 1:
                    self._inline(pending, results, bar)
                else:
                    self._on_processes(workers, pending, results, bar)
        return [outcome for outcome in results if outcome is not None]

    # resuming --------------------------------------------------------------------------------

    def _stored(self, run: SweepRun) -> RunOutcome | None:
        """The stored outcome of a finished run with the same key, target and kwargs."""
        if run.out_dir is None:
            return None
        path = run.out_dir / RESULT_FILE
        try:
            doc = json.loads(path.read_text(encoding='utf-8'))
        except (OSError, ValueError):
            return None
        if not isinstance(doc, dict) or 'result' not in doc:
            return None
        if (doc.get('key'), doc.get('target'), doc.get('kwargs')) != (
                run.key, run.target, _normalise(run.kwargs)):
            return None
        return RunOutcome(run.key, doc['result'], resumed=True,
                          wall_s=float(doc.get('wall_s') or 0.0))

    @staticmethod
    def _prepare(run: SweepRun, force: bool) -> None:
        """Before a run: no stale marker (a killed rerun must not look finished); with
        ``force``, an empty folder."""
        if run.out_dir is None:
            return
        if force and run.out_dir.is_dir():
            shutil.rmtree(run.out_dir)
        for name in (RESULT_FILE, ERROR_FILE):
            with contextlib.suppress(FileNotFoundError):
                (run.out_dir / name).unlink()

    def _finish(self, index: int, reply: tuple[bool, Any, str, float],
                results: list[RunOutcome | None], bar: ProgressBar) -> None:
        ok, payload, trace, wall_s = reply
        run = self.runs[index]
        if ok:
            if run.out_dir is not None:
                atomic_write_json(run.out_dir / RESULT_FILE, {
                    'key': run.key, 'target': run.target, 'kwargs': _normalise(run.kwargs),
                    'result': payload, 'wall_s': round(wall_s, 3)})
            results[index] = RunOutcome(run.key, payload, wall_s=wall_s)
        else:
            if run.out_dir is not None and trace:
                with contextlib.suppress(OSError):
                    run.out_dir.mkdir(parents=True, exist_ok=True)
                    atomic_write_text(run.out_dir / ERROR_FILE, f'{run.key}\n{trace}')
            results[index] = RunOutcome(run.key, error=str(payload), wall_s=wall_s)
        bar.update(1)

    def _show_running(self, bar: ProgressBar, running: Sequence[int]) -> None:
        keys = [self.runs[i].key for i in sorted(running)]
        shown = ', '.join(keys[:3]) + (f' +{len(keys) - 3}' if len(keys) > 3 else '')
        bar.set_postfix(running=shown)

    @staticmethod
    def _call(run: SweepRun) -> tuple[str, dict[str, Any], str | None]:
        return (run.target, _normalise(run.kwargs),
                None if run.out_dir is None else str(run.out_dir.resolve()))

    # the three ways to run -------------------------------------------------------------------

    def _inline(self, pending: list[int], results: list[RunOutcome | None],
                bar: ProgressBar) -> None:
        for index in pending:
            self._show_running(bar, [index])
            with _thread_env():  # for libraries the run loads (torch reads it when imported)
                reply = execute(*self._call(self.runs[index]))
            self._finish(index, reply, results, bar)

    def _on_processes(self, workers: int, pending: list[int], results: list[RunOutcome | None],
                      bar: ProgressBar) -> None:
        queue = deque(pending)
        running: dict[Future[tuple[bool, Any, str, float]], int] = {}
        context = multiprocessing.get_context('spawn')
        with _thread_env():
            pool = ProcessPoolExecutor(max_workers=min(workers, len(pending)),
                                       mp_context=context, initializer=_limit_threads)
        try:
            while queue or running:
                while queue and len(running) < workers:
                    index = queue.popleft()
                    try:
                        with _thread_env():
                            running[pool.submit(execute, *self._call(self.runs[index]))] = index
                    except Exception as exc:  # a broken pool refuses new work
                        self._finish(index, (False, _describe(exc), '', 0.0), results, bar)
                if not running:
                    continue
                self._show_running(bar, list(running.values()))
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in finished:
                    index = running.pop(future)
                    try:
                        reply = future.result()
                    except Exception as exc:  # the worker process died (killed, out of memory)
                        reply = (False, f'worker process died ({_describe(exc)})', '', 0.0)
                    self._finish(index, reply, results, bar)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

    def _on_ray(self, address: str, pending: list[int], results: list[RunOutcome | None],
                bar: ProgressBar) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError(f'--ray-address {address}: ray is not installed; pip install '
                              "'ior_ros[cluster]'") from None
        started_here = not ray.is_initialized()
        if started_here:
            try:
                ray.init(address=address, runtime_env={'env_vars': dict(THREAD_ENV)},
                         logging_level=logging.WARNING, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConfigError(f'--ray-address {address}: cannot join a Ray cluster there '
                                  f'({_describe(exc)})') from None
        try:
            task = ray.remote(num_cpus=1, max_retries=0)(execute)
            refs = {task.remote(*self._call(self.runs[index])): index for index in pending}
            while refs:
                self._show_running(bar, list(refs.values()))
                ready, _ = ray.wait(list(refs), num_returns=1)
                for ref in ready:
                    index = refs.pop(ref)
                    try:
                        reply = ray.get(ref)
                    except Exception as exc:  # the task's worker died, the node was lost
                        reply = (False, f'ray task failed ({_describe(exc)})', '', 0.0)
                    self._finish(index, tuple(reply), results, bar)  # type: ignore[arg-type]
        finally:
            if started_here:
                ray.shutdown()
