"""
The sweep runner (ior_ros/experiments/sweep.py) and ``ior reproduce ... --workers/--ray-address/
--seeds/--force``: results in the sweep's order and the same numbers on one process, two worker
processes or a Ray cluster; a failing run reported by its key while the others finish; finished
runs skipped on the next call (counted by files each call leaves, not by mocks).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ior_ros.core.errors import ConfigError
from ior_ros.experiments.sweep import (
    ERROR_FILE,
    RESULT_FILE,
    Sweep,
    SweepError,
    SweepRun,
    check_ray_address,
    parse_seeds,
)

pytestmark = pytest.mark.timeout(300)

REPO = Path(__file__).resolve().parents[2]
IOR = [sys.executable, '-m', 'ior_ros.cli']
TARGET = f'{__name__}:square'

# a small closed-loop table: one policy and controller, twin off and on, two seeds, 3 s runs
SMALL_CLOSED_LOOP = ['--quick', '--seeds', '3,7', '--set', 'policies=[dpp]',
                     '--set', 'controllers=[certified]', '--set', 'twin=[true]',
                     '--set', 'quick_duration_s=3', '--no-progress']


def square(x: float, calls_dir: str, fail_on: float | None = None,
           out_dir: str | None = None) -> dict[str, Any]:
    """A sweep target: leaves one file per call in ``calls_dir`` (named by ``x``), then returns
    ``x**2``, the pid it ran in and a NaN (which comes back as None), or raises on ``fail_on``."""
    (Path(calls_dir) / f'{x:g}-{uuid.uuid4().hex}').touch()
    if x == fail_on:
        raise ValueError(f'x = {x:g} refused')
    if out_dir is not None:
        (Path(out_dir) / 'output.txt').write_text(f'{x * x}\n')
    return {'square': x * x, 'pid': os.getpid(), 'nan': float('nan'), 'pair': (x, x)}


def _calls(calls_dir: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in calls_dir.iterdir():
        x = path.name.split('-')[0]
        counts[x] = counts.get(x, 0) + 1
    return counts


def _sweep(tmp_path: Path, xs: list[float], fail_on: float | None = None,
           with_dirs: bool = True) -> Sweep:
    calls = tmp_path / 'calls'
    calls.mkdir(exist_ok=True)
    return Sweep([SweepRun(f'grid/x{x:g}', TARGET,
                           {'x': x, 'calls_dir': str(calls), 'fail_on': fail_on},
                           tmp_path / 'runs' / f'x{x:g}' if with_dirs else None)
                  for x in xs], name='test-sweep')


def test_workers_return_results_in_the_sweeps_order_from_other_processes(tmp_path: Path) -> None:
    xs = [5.0, 1.0, 4.0, 2.0, 3.0]
    results = _sweep(tmp_path, xs, with_dirs=False).run(workers=2)
    assert [r['square'] for r in results] == [x * x for x in xs]
    pids = {r['pid'] for r in results}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2  # two spawned workers, not this one
    assert results[0]['nan'] is None and results[0]['pair'] == [5.0, 5.0]  # as JSON gives back
    inline = _sweep(tmp_path, xs, with_dirs=False).run(workers=1)
    assert {r['pid'] for r in inline} == {os.getpid()}
    assert [r['square'] for r in inline] == [r['square'] for r in results]


def test_a_failing_run_is_named_by_its_key_and_the_others_finish_then_resume(
        tmp_path: Path) -> None:
    sweep = _sweep(tmp_path, [0.0, 1.0, 2.0, 3.0], fail_on=2.0)
    with pytest.raises(SweepError) as caught:
        sweep.run(workers=2)
    message = str(caught.value)
    assert '\n' not in message
    assert 'test-sweep: 1 of 4 runs failed: grid/x2 (ValueError: x = 2 refused)' in message
    outcomes = {o.key: o for o in caught.value.outcomes}
    assert [o.key for o in caught.value.outcomes] == ['grid/x0', 'grid/x1', 'grid/x2', 'grid/x3']
    assert outcomes['grid/x3'].ok and outcomes['grid/x3'].result['square'] == 9.0
    runs = tmp_path / 'runs'
    for name in ('x0', 'x1', 'x3'):  # finished: marker and output
        assert json.loads((runs / name / RESULT_FILE).read_text())['key'] == f'grid/{name}'
        assert (runs / name / 'output.txt').is_file()
    assert not (runs / 'x2' / RESULT_FILE).exists()
    assert 'ValueError: x = 2 refused' in (runs / 'x2' / ERROR_FILE).read_text()
    assert _calls(tmp_path / 'calls') == {'0': 1, '1': 1, '2': 1, '3': 1}
    # the next call runs only the failed run again (it fails again: same kwargs)
    with pytest.raises(SweepError):
        sweep.run(workers=2)
    assert _calls(tmp_path / 'calls') == {'0': 1, '1': 1, '2': 2, '3': 1}


def test_resume_skips_finished_runs_reruns_changed_ones_and_force_reruns_all(
        tmp_path: Path) -> None:
    first = _sweep(tmp_path, [1.0, 2.0, 3.0]).run(workers=1)
    assert _calls(tmp_path / 'calls') == {'1': 1, '2': 1, '3': 1}
    again = _sweep(tmp_path, [1.0, 2.0, 3.0]).run(workers=2)
    assert again == first  # the stored results, pids of the first call included
    assert _calls(tmp_path / 'calls') == {'1': 1, '2': 1, '3': 1}  # nothing ran
    # a run whose kwargs changed (fail_on) is not the finished one: it runs again
    changed = Sweep([SweepRun('grid/x2', TARGET, {'x': 2.0, 'calls_dir': str(tmp_path / 'calls'),
                                                  'fail_on': 99.0}, tmp_path / 'runs' / 'x2')])
    changed.run()
    assert _calls(tmp_path / 'calls')['2'] == 2
    stray = tmp_path / 'runs' / 'x1' / 'stray.txt'
    stray.write_text('left by an earlier run\n')
    forced = _sweep(tmp_path, [1.0, 2.0, 3.0]).run(force=True)
    assert _calls(tmp_path / 'calls') == {'1': 2, '2': 3, '3': 2}
    assert not stray.exists()  # --force empties the run's folder
    assert [r['square'] for r in forced] == [1.0, 4.0, 9.0]


def test_bad_sweeps_and_settings_are_one_line_config_errors(tmp_path: Path) -> None:
    run = SweepRun('a/b', TARGET, {'x': 1.0, 'calls_dir': str(tmp_path)})
    with pytest.raises(ConfigError, match="run key 'a/b' appears twice"):
        Sweep([run, run])
    with pytest.raises(ConfigError, match='must be words'):
        SweepRun('a b', TARGET)
    with pytest.raises(ConfigError, match="'package.module:function'"):
        SweepRun('a', 'no_function_here')
    with pytest.raises(ConfigError, match='--workers 0: must be an integer >= 1'):
        Sweep([run]).run(workers=0)
    for good in ('auto', '127.0.0.1:6379', 'head-node.example.org:10001', '[::1]:6379'):
        assert check_ray_address(good) == good
    for bad in ('', 'localhost', 'host:0', 'host:70000', ':6379', 'ray://h:1', 'h:p'):
        with pytest.raises(ConfigError, match="must be 'auto'"):
            check_ray_address(bad)
    assert parse_seeds('0-2, 7') == (0, 1, 2, 7)
    assert parse_seeds('3 4') == (3, 4)
    for bad, why in (('1,x', "'x' is not an integer"), ('4-2', 'runs backwards'),
                     ('1,1', 'seed 1 is given twice'), ('', 'no seed given'),
                     ('-1', "'-1' is not an integer"), ('0-99999', 'more than 10000')):
        with pytest.raises(ConfigError, match=why):
            parse_seeds(bad)


def _ior(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*IOR, *args], cwd=REPO, capture_output=True, text=True, timeout=240,
                          env={**os.environ, 'OMP_NUM_THREADS': '1', **(env or {})})


@pytest.mark.parametrize('args, line', [
    (['closed-loop', '--workers', '0'], 'argument --workers: 0: must be an integer >= 1'),
    (['closed-loop', '--ray-address', 'headnode'],
     "argument --ray-address: 'headnode': must be 'auto'"),
    (['closed-loop', '--seeds', '1,two'], "argument --seeds: '1,two': 'two' is not an integer"),
    (['seed000-fig6a', '--workers', '2'],
     'ior: error: --workers: seed000-fig6a has no independent runs to spread or resume '
     '(--workers works for: closed-loop, seed000-fig4)'),
])
def test_cli_refuses_bad_sweep_options_in_one_line(args: list[str], line: str) -> None:
    done = _ior('reproduce', *args)
    assert done.returncode == 2
    errors = [text for text in done.stderr.splitlines() if 'error' in text]
    assert len(errors) == 1 and line in errors[0], done.stderr


def test_cli_without_ray_says_how_to_install_it(tmp_path: Path) -> None:
    """A Python where ``import ray`` fails (the module blocked, as when it is not installed)."""
    code = ("import sys; sys.modules['ray'] = None; from ior_ros.cli import main; "
            f"sys.exit(main(['reproduce', 'closed-loop', '--out', {str(tmp_path)!r}, "
            f"*{SMALL_CLOSED_LOOP!r}, '--ray-address', 'auto']))")
    done = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "ior: error: --ray-address auto: ray is not installed; pip install 'ior_ros[cluster]'"]


def _cells(out: Path) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = json.loads((out / 'closed-loop.json').read_text())['cells']
    return cells


def test_closed_loop_gives_the_same_numbers_inline_and_on_two_workers(tmp_path: Path) -> None:
    started = time.perf_counter()
    one = _ior('reproduce', 'closed-loop', '--out', str(tmp_path / 'w1'), *SMALL_CLOSED_LOOP)
    assert one.returncode == 0, one.stderr
    two = _ior('reproduce', 'closed-loop', '--out', str(tmp_path / 'w2'), '--workers', '2',
               *SMALL_CLOSED_LOOP)
    assert two.returncode == 0, two.stderr
    print(f'closed-loop small table, workers 1 then 2: {time.perf_counter() - started:.1f} s')
    cells = _cells(tmp_path / 'w1')
    assert [r['seed'] for r in cells[0]['runs']] == [3, 7]  # --seeds: the runs' own seeds
    rmse = [r['tracking_rmse_m'] for r in cells[0]['runs']]
    assert all(value > 0 for value in rmse) and rmse[0] != rmse[1]  # two different runs
    assert _cells(tmp_path / 'w2') == cells  # every number of every run, exactly
    assert not (tmp_path / 'w1' / 'runs').exists()  # --quick keeps no run folders


# ---- Ray: a local head started and stopped by the test ---------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def ray_head() -> Iterator[str]:
    """A Ray head on 127.0.0.1 (2 CPUs, its own temp folder, no dashboard), in a process group
    of its own, killed by that group's id at teardown; yields its address."""
    pytest.importorskip('ray', reason="ray is not installed (pip install 'ior_ros[cluster]')")
    ray_cli = Path(sys.executable).with_name('ray')
    if not ray_cli.is_file():
        pytest.skip(f'ray is importable but its command is not beside python ({ray_cli})')
    port = _free_port()
    temp = tempfile.mkdtemp(prefix='iorray', dir='/tmp')  # short: Ray's unix sockets live there
    started = time.perf_counter()
    with open(Path(temp) / 'head.log', 'w', encoding='utf-8') as log:
        head = subprocess.Popen(
            [str(ray_cli), 'start', '--head', f'--port={port}', '--node-ip-address=127.0.0.1',
             '--num-cpus=2', f'--temp-dir={temp}', '--include-dashboard=false',
             '--disable-usage-stats', '--object-store-memory=200000000', '--block'],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, 'OMP_NUM_THREADS': '1'})
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with socket.create_connection(('127.0.0.1', port), timeout=1):
                    break
            except OSError:
                if head.poll() is not None or time.monotonic() > deadline:
                    pytest.fail('the Ray head did not start: '
                                + (Path(temp) / 'head.log').read_text()[-2000:])
                time.sleep(0.2)
        print(f'Ray head listening after {time.perf_counter() - started:.1f} s')
        yield f'127.0.0.1:{port}'
    finally:
        os.killpg(head.pid, signal.SIGTERM)  # the group of `ray start`: gcs, raylet, monitors
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
def test_ray_cluster_gives_the_same_numbers_as_local_workers(tmp_path: Path,
                                                             ray_head: str) -> None:
    started = time.perf_counter()
    on_ray = _ior('reproduce', 'closed-loop', '--out', str(tmp_path / 'ray'),
                  '--ray-address', ray_head, *SMALL_CLOSED_LOOP)
    assert on_ray.returncode == 0, on_ray.stderr
    print(f'closed-loop small table on Ray: {time.perf_counter() - started:.1f} s')
    local = _ior('reproduce', 'closed-loop', '--out', str(tmp_path / 'local'), '--workers', '2',
                 *SMALL_CLOSED_LOOP)
    assert local.returncode == 0, local.stderr
    assert _cells(tmp_path / 'ray') == _cells(tmp_path / 'local')
    # resumable on Ray too: a full (not --quick) run keeps its runs and skips them next time
    full = ['--set', 'duration_s=2', '--set', 'seeds=1', '--set', 'policies=[pf]',
            '--set', 'controllers=[certified]', '--set', 'twin=[false]', '--no-progress']
    out = tmp_path / 'full'
    first = _ior('reproduce', 'closed-loop', '--out', str(out), '--ray-address', ray_head, *full)
    assert first.returncode == 0, first.stderr
    cells = _cells(out)
    marker = out / 'runs' / 'pf' / 'certified' / 'no-twin' / 'seed0' / RESULT_FILE
    stamp = marker.stat().st_mtime_ns
    second = _ior('reproduce', 'closed-loop', '--out', str(out), '--ray-address', ray_head, *full)
    assert second.returncode == 0, second.stderr
    assert marker.stat().st_mtime_ns == stamp  # skipped: its marker was not written again
    assert _cells(out) == cells  # ... and its stored result used
