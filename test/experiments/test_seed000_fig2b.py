"""
``ior reproduce seed000-fig2b`` (ior_ros/experiments/seed000_fig2b.py, issue 13): the short
version of seed 000 Fig. 2b in network namespaces, 3 s per phase. Three robots push UDP through
an AP namespace whose egress carries the HTB slices. Sent at 0.8 x their rate, each slice gets
all it sends and its probes wait for no queue; sent at 1.2 x, the server measures 45/35/15 Mb/s
within 5 % and the probes wait at most the slice's queue (its delay budget); while the 3D cart
floods far above the AP's 100 Mb/s the others keep their rates. The run writes the contract's
files and leaves no namespace or process behind, also when it fails half-way or is stopped
with Ctrl-C.

Skipped, with the reason, where namespaces cannot be created.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ior_ros.clients.netns import Netns, NetnsDenied, unavailable
from ior_ros.core.errors import ConfigError
from ior_ros.experiments.contract import ReproContext, write_result
from ior_ros.experiments.seed000_fig2b import Fig2bConfig, run, run_fig2b

REPO = Path(__file__).resolve().parents[2]
WIFI = REPO / 'config' / 'slices_wifi'

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope='module', autouse=True)
def _namespaces_allowed() -> None:
    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)
    probe = Netns('f2bprobe')
    try:
        probe.add('x')
    except NetnsDenied as exc:
        pytest.skip(str(exc))
    finally:
        probe.close()


def _ours(tag: str) -> list[str]:
    """Namespaces whose name starts with ``tag``."""
    out = subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(tag)]


def _traffic_children(parent: int) -> list[int]:
    """Sender/receiver processes whose parent is ``parent`` (read from /proc; nothing is
    signalled). ``ip netns exec`` execs the command, so they are the run's direct children."""
    found = []
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / 'cmdline').read_bytes()
                stat = (entry / 'stat').read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(')', 1)[1].split()[1])
            if b'ior_ros.clients.traffic' in cmdline and ppid == parent:
                found.append(int(entry.name))
    return found


def _pids_in(namespaces: list[str]) -> set[int]:
    """Processes inside the named namespaces (``ip netns pids``)."""
    pids: set[int] = set()
    for name in namespaces:
        out = subprocess.run(['ip', 'netns', 'pids', name], capture_output=True, text=True)
        pids.update(int(p) for p in out.stdout.split())
    return pids


def test_quick_reproduction_matches_rates_isolates_and_cleans_up(tmp_path: Path) -> None:
    started = time.perf_counter()
    result = run(ReproContext(out_dir=tmp_path, quick=True, seed=0))
    result.wall_s = time.perf_counter() - started
    write_result(result, tmp_path, result.plot)
    doc = json.loads((tmp_path / 'seed000-fig2b.json').read_text())
    slices, flood = doc['phases']['slices'], doc['phases']['flood']
    for phase in (slices, flood):
        print([(r['slice'], round(r['sent_mbps'], 2), round(r['measured_mbps'], 3),
                r['latency_ms'] and round(r['latency_ms'], 1)) for r in phase])
    assert doc['x']['values'] == ['video', 'spider robot', '3D cart']
    assert doc['series']['configured_mbps'] == [45.0, 35.0, 15.0]
    # every robot sent more than its slice's rate; the server got the slice's rate (5 %)
    for row in slices:
        assert row['sent_mbps'] > 1.1 * row['configured_mbps']
        assert abs(row['measured_mbps'] / row['configured_mbps'] - 1) <= 0.05, row
    # the 3D cart floods far above the AP's 100 Mb/s; video and spider keep their rates and
    # the cart gets its ceil, no more
    cart = next(r for r in flood if r['slice'] == 'cart_3d')
    assert cart['sent_mbps'] > 1.5 * doc['capacity_mbps']
    for row in flood:
        assert abs(row['measured_mbps'] / row['configured_mbps'] - 1) <= 0.05, row
    # below its rate a slice gets all it sends and its probes wait for no queue
    loaded = {r['slice']: r['latency_ms'] for r in slices}
    for row in doc['phases']['light']:
        assert abs(row['measured_mbps'] / (0.8 * row['configured_mbps']) - 1) <= 0.05, row
        assert row['latency_ms'] < min(20.0, loaded[row['slice']]), row
    # latency under load: a probe waits at most the slice's queue, its delay budget
    for row in slices + flood:
        budget = doc['delay_budget_ms'][row['slice']]
        assert row['latency_ms'] is not None and 0.0 < row['latency_ms']
        if doc['leaf'] == 'bfifo':
            assert row['latency_p95_ms'] <= budget + 40.0, row  # + scheduling on 2 busy cores
    assert [c['holds'] for c in doc['paper']['claims']][:4] == [True] * 4
    assert {p.name for p in tmp_path.iterdir()} >= {'seed000-fig2b.json', 'seed000-fig2b.csv',
                                                   'seed000-fig2b.png'}
    assert not _ours(f'f2b{os.getpid() % 1_000_000}x')
    assert not _traffic_children(os.getpid())


def test_a_failure_half_way_removes_what_it_created(tmp_path: Path) -> None:
    folder = tmp_path / 'slices'
    shutil.copytree(WIFI, folder)
    bindings = yaml.safe_load((folder / 'equipment' / 'bindings.yaml').read_text())
    bindings['slices']['video']['address'] = '10.77.9.2'  # not robot1's address
    (folder / 'equipment' / 'bindings.yaml').write_text(yaml.safe_dump(bindings))
    with pytest.raises(ConfigError, match=r"bindings field 'slices.video.address' = "
                                          r'10.77.9.2/32: .* gives robot1 10.77.1.2'):
        run_fig2b(Fig2bConfig(templates_dir=str(folder)), 3.0)
    assert not _ours(f'f2b{os.getpid() % 1_000_000}x')


def test_ctrl_c_stops_the_run_and_removes_everything(tmp_path: Path) -> None:
    ior = Path(sys.executable).with_name('ior')
    proc = subprocess.Popen([str(ior), 'reproduce', 'seed000-fig2b', '--quick', '--out',
                             str(tmp_path / 'out'), '--no-progress'], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    tag = f'f2b{proc.pid % 1_000_000}x'
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline and len(_ours(tag)) < 5:
        time.sleep(0.05)  # until ap, server and the three robots exist
    assert len(_ours(tag)) == 5, proc.communicate(timeout=30)
    while time.monotonic() < deadline and len(_traffic_children(proc.pid)) < 4:
        time.sleep(0.05)  # ... and the receiver and the three senders run in them
    running = _pids_in(_ours(tag))
    assert len(running) >= 4 and set(_traffic_children(proc.pid)) <= running
    time.sleep(2.0)  # into the first phase
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert not _ours(tag), err
    assert not [pid for pid in running if Path(f'/proc/{pid}').exists()]
    assert not (tmp_path / 'out' / 'seed000-fig2b.json').exists()
