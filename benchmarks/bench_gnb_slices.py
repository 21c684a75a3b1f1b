"""
gNB slice lifecycle benchmark: how long creating, modifying and deleting a slice's PRB quota
takes through the srsRAN remote-control client (:mod:`ior_ros.clients.srsran`) against the gNB
emulator (:mod:`ior_ros.clients.gnb_emulator`) over a real WebSocket on loopback, and through
the 24.10/25.04 YAML path (:mod:`ior_ros.clients.srsran_yaml`).

* create: the first policy for a slice (min 0 %, max 50 %) — one ``rrm_policy_ratio_set``;
* modify: new ratios for it (max 30 %);
* delete: the policy back to min 0 % / max 100 % (the gNB's only 'removal'), forgotten by the
  client;
* yaml: ``cell_cfg.slicing`` of all slices written atomically (temporary file, fsync, rename)
  plus the restart command (here ``true``: the time of a real gNB restart, tens of seconds with
  a USRP, is not in it), write and restart timed apart.

The emulator runs on its own thread and event loop (the client's loop is another thread, as in
the CLI and the ROS node); each time includes client-side validation, the JSON round trip and
the emulator's handling. One cell of 51 PRBs with N configured slices (SST 1, SD 1..N).

Rerun: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_gnb_slices.py [--slices 200]
[--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ior_ros.clients.gnb_emulator import GnbEmulator, GnbEmulatorThread
from ior_ros.clients.srsran import SlicePolicy, SrsranGnb
from ior_ros.clients.srsran_yaml import CellConfig, SliceEntry, YamlGnbConfigurator


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {'n': len(ordered), 'p50_ms': pick(0.50) * 1e3, 'p99_ms': pick(0.99) * 1e3,
            'mean_ms': statistics.fmean(ordered) * 1e3, 'max_ms': ordered[-1] * 1e3}


def run(slices: int) -> dict[str, Any]:
    """The lifecycle timings over ``slices`` slices (each created, modified, deleted once)."""
    cell = CellConfig(pci=1, plmn='00101', nof_prbs=51,
                      slices=tuple(SliceEntry(sst=1, sd=k) for k in range(1, slices + 1)))
    times: dict[str, list[float]] = {'create': [], 'modify': [], 'delete': []}
    with GnbEmulatorThread(GnbEmulator([cell], ues=[], metrics_period_s=1.0)) as emu, \
            SrsranGnb(emu.emulator.url, timeout_s=2.0) as gnb:
        gnb.connect()
        for k in range(1, slices + 1):
            policy = SlicePolicy(sst=1, sd=k, min_ratio=0, max_ratio=50)
            start = time.perf_counter()
            gnb.apply_slice_policy(policy)
            times['create'].append(time.perf_counter() - start)
        for k in range(1, slices + 1):
            start = time.perf_counter()
            gnb.apply_slice_policy(SlicePolicy(sst=1, sd=k, min_ratio=0, max_ratio=30))
            times['modify'].append(time.perf_counter() - start)
        check = emu.call(lambda e: e.slice_state(1, slices).max_prb)
        assert check == 15, check  # 30 % of 51 PRBs, truncated
        for k in range(1, slices + 1):
            start = time.perf_counter()
            gnb.release_slice(('00101', 1, k))
            times['delete'].append(time.perf_counter() - start)
        assert not gnb.applied

    folder = Path(tempfile.mkdtemp(prefix='bench_gnb_'))
    try:
        restart = shutil.which('true') or '/bin/true'
        yaml_path = YamlGnbConfigurator(folder / 'slicing.yml', [restart], release='25.04')
        policies = [SlicePolicy(sst=1, sd=k, min_ratio=0, max_ratio=50) for k in range(1, 4)]
        write, restart_s, total = [], [], []
        for i in range(slices):
            policies[0] = SlicePolicy(sst=1, sd=1, min_ratio=0, max_ratio=20 + i % 80)
            outcome = yaml_path.apply(policies)
            write.append(outcome.write_s)
            restart_s.append(outcome.restart_s)
            total.append(outcome.total_s)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result = {name: _percentiles(values) for name, values in times.items()}
    result['yaml_write'] = _percentiles(write)
    result['yaml_restart_true'] = _percentiles(restart_s)
    result['yaml_total'] = _percentiles(total)
    return result


def main() -> None:
    """Print the table (or JSON) and how to rerun."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--slices', type=int, default=200,
                        help='slices created, modified and deleted (>= 200 for the p99)')
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args()
    out = run(max(1, args.slices))
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(f'gNB slice lifecycle against the emulator ({args.slices} slices, 51 PRBs, '
          f'{os.cpu_count()} CPUs; WebSocket on loopback, client and emulator on their own '
          f'threads)')
    for name, row in out.items():
        print(f"  {name:18s} n={row['n']:4d}  p50 {row['p50_ms']:8.3f} ms  p99 "
              f"{row['p99_ms']:8.3f} ms  mean {row['mean_ms']:8.3f} ms  max "
              f"{row['max_ms']:8.3f} ms")
    print('rerun: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_gnb_slices.py '
          '[--slices 200] [--json]')


if __name__ == '__main__':
    main()
