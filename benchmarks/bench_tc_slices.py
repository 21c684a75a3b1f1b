"""
Slice lifecycle on Linux traffic control: how long creating, modifying and deleting the HTB
slices of seed 000 Fig. 2b takes (seed 000's argument for slice templates is fast
instantiation), with :class:`~ior_ros.clients.tc.TcSlices` on a veth end inside a network
namespace of its own (created and deleted by the benchmark).

Each figure is the wall time of one call, reading the interface's state included, over ``--n``
repetitions (p50 and p99, ms):

* ``create_set``: the three-slice set (config/slices_wifi) on a bare interface: root qdisc, link
  and unclassified classes, per slice a class, a leaf queue and a u32 filter (12 tc commands);
* ``reapply_set``: the same set again (state read, nothing to run);
* ``modify_slice``: one slice's rate changed (video 45 <-> 40 Mb/s: its class and leaf queue and
  the unclassified class's share);
* ``add_slice`` / ``delete_slice``: the 3D cart slice added to / removed from the two others;
* ``delete_set``: the whole tree removed (one command);
* ``tc_command``: one ``tc`` process (the unit all of the above are made of).

Rerun (root, or CAP_NET_ADMIN): ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_tc_slices.py
[--n 50] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
WIFI = REPO / 'config' / 'slices_wifi'


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return {'p50_ms': statistics.median(ordered) * 1e3, 'p99_ms': p99 * 1e3, 'n': len(ordered)}


def _variant(folder: Path, video_bps: float | None = None, drop: str | None = None) -> Path:
    """A copy of the Fig. 2b set with the video rate changed or one slice dropped."""
    shutil.copytree(WIFI, folder)
    if video_bps is not None:
        path = folder / 'video.yaml'
        data = yaml.safe_load(path.read_text())
        data.update(guaranteed_bitrate_bps=video_bps, max_bitrate_bps=video_bps,
                    prb_ratio={'dedicated': 0.0, 'min': video_bps / 100e6,
                               'max': video_bps / 100e6})
        path.write_text(yaml.safe_dump(data))
    if drop is not None:
        (folder / f'{drop}.yaml').unlink()
        bindings = folder / 'equipment' / 'bindings.yaml'
        data = yaml.safe_load(bindings.read_text())
        del data['slices'][drop]
        bindings.write_text(yaml.safe_dump(data))
    return folder


def run(n: int) -> dict[str, Any]:
    """Measure (module docstring)."""
    from ior_ros.clients.netns import Netns
    from ior_ros.clients.tc import TcSlices, tc_plan
    from ior_ros.core.slicing.equipment_plan import load_slice_set

    with tempfile.TemporaryDirectory() as tmp:
        base = tc_plan(load_slice_set([WIFI]))
        slower = tc_plan(load_slice_set([_variant(Path(tmp) / 'slow', video_bps=40e6)]))
        two = tc_plan(load_slice_set([_variant(Path(tmp) / 'two', drop='cart_3d')]))
    # the two-slice set numbers its classes from 1:10 as well; for add/delete keep the cart
    # last so that the other two classes stay where they are
    samples: dict[str, list[float]] = {k: [] for k in (
        'create_set', 'reapply_set', 'modify_slice', 'add_slice', 'delete_slice', 'delete_set',
        'tc_command')}
    with Netns('tcb') as ns:
        name = ns.add('a')
        dev, _ = ns.link(name, name, '10.89.0.1/24', '10.89.0.2/24')
        tc = TcSlices(dev, name)
        tc.apply(base)
        leaf = sorted({c.leaf for c in tc.read().classes if c.leaf})
        tc.remove()
        three = base.__class__(base.capacity_bps, (*two.slices, base.slices[0]), base.leaf)
        for _ in range(n):
            result = tc.apply(base)
            samples['create_set'].append(result.seconds)
            samples['tc_command'].extend(a.seconds for a in result.actions)
            samples['reapply_set'].append(tc.apply(base).seconds)
            samples['modify_slice'].append(tc.apply(slower).seconds)
            samples['modify_slice'].append(tc.apply(base).seconds)
            tc.apply(two)
            samples['add_slice'].append(tc.apply(three).seconds)
            samples['delete_slice'].append(tc.apply(two).seconds)
            samples['delete_set'].append(tc.remove().seconds)
    return {'figures': {k: _percentiles(v) for k, v in samples.items()},
            'machine': {'cpu': platform.processor() or platform.machine(),
                        'python': sys.version.split()[0], 'kernel': platform.release()},
            'leaf': ','.join(leaf), 'n': n}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--n', type=int, default=50, help='repetitions')
    parser.add_argument('--json', action='store_true', help='print one JSON object as well')
    args = parser.parse_args()
    start = time.perf_counter()
    out = run(args.n)
    print(f'tc slice lifecycle, {args.n} repetitions (wall time per call, state read included)')
    for key, fig in out['figures'].items():
        print(f"  {key:<13} p50 {fig['p50_ms']:7.2f} ms   p99 {fig['p99_ms']:7.2f} ms   "
              f"(n={fig['n']})")
    print(f'  leaf queues {out["leaf"]}, kernel {out["machine"]["kernel"]}, '
          f'python {out["machine"]["python"]}, '
          f'{time.perf_counter() - start:.1f} s')
    print('rerun: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_tc_slices.py --n 50')
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
