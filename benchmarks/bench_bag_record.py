"""
Bag recording benchmark: what crash consistency costs.

* ``writer_*``: the storage writer alone, in this process: ``--writer-n`` std_msgs/String
  messages (``"<i> <ns>"``, 28 bytes of CDR) through rosbags' MCAP writer (what ``ior bag
  record`` used before: one chunk per MiB, written at close) and through the crash-consistent
  :class:`~ior_ros.runtime.bag_writers.McapBagWriter` (a chunk every 0.5 s of the real clock,
  fsynced, and metadata.yaml every 2 s), as messages per second and microseconds per message.
* ``record_*``: ``ior bag record`` as a process recording a 1 kHz publisher process for
  ``--duration`` seconds (loopback, a domain of its own): the recorder's CPU time over its
  wall time (in %, of one core) and the messages it wrote. ``--before-ref REF`` also runs the
  recorder of git revision REF (its ``ior_ros/runtime/bag_record.py``, with today's rest of the
  package) in the same run, for a before/after figure.

Rerun: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_bag_record.py --json``
(``--before-ref HEAD`` on a tree whose recorder change is not committed yet).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _payloads(n: int) -> list[bytes]:
    from ior_ros.runtime.registry import registry

    reg = registry()
    cls = reg.get_class('std_msgs/msg/String')
    return [bytes(reg.serialize(cls(data=f'{i} {1_790_000_000_000_000_000 + i}'),
                                'std_msgs/msg/String')) for i in range(n)]


def bench_writers(n: int, folder: Path) -> dict[str, float]:
    """Messages per second through each writer (module docstring)."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    from ior_ros.runtime.bag_qos import qos_to_rosbags
    from ior_ros.runtime.bag_writers import McapBagWriter
    from ior_ros.runtime.qos import QoSProfile
    from ior_ros.runtime.registry import registry

    reg = registry()
    typename = 'std_msgs/msg/String'
    msgdef, digest = reg.message_definition(typename), reg.type_hash(typename)
    offered = [qos_to_rosbags(QoSProfile(depth=10))]
    data = _payloads(n)
    out: dict[str, float] = {}

    start = time.perf_counter()
    old = Writer(folder / 'rosbags', version=9, storage_plugin=StoragePlugin.MCAP)
    old.open()
    conn = old.add_connection('/seq', typename, msgdef=msgdef, rihs01=digest,
                              offered_qos_profiles=offered)
    for i, payload in enumerate(data):
        old.write(conn, 1_790_000_000_000_000_000 + i * 1_000_000, payload)
    old.close()
    out['writer_rosbags_msgs_per_s'] = n / (time.perf_counter() - start)

    for fsync in (True, False):
        start = time.perf_counter()
        new = McapBagWriter(folder / f'crash_consistent_{fsync}', fsync=fsync)
        key = new.add_topic('/seq', typename, msgdef, digest, offered)
        for i, payload in enumerate(data):
            new.write(key, 1_790_000_000_000_000_000 + i * 1_000_000, payload)
            if i % 20 == 0:  # the recorder ticks once per batch it takes
                new.tick()
        new.close()
        name = 'fsync' if fsync else 'no_fsync'
        out[f'writer_crash_consistent_{name}_msgs_per_s'] = n / (time.perf_counter() - start)
    for key in list(out):
        out[key.replace('msgs_per_s', 'us_per_msg')] = 1e6 / out[key]
    return out


def _environment(domain: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update({'ROS_DOMAIN_ID': str(domain), 'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST',
                'PYTHONUNBUFFERED': '1', 'OMP_NUM_THREADS': '1'})
    env.pop('CYCLONEDDS_URI', None)
    return env


def _record_child(module_file: str, output: str, duration_s: float) -> None:
    """(child) record /seq for ``duration_s`` with the recorder in ``module_file``; print the
    CPU seconds and wall seconds of the record() call and the messages written, as JSON."""
    if module_file:
        spec = importlib.util.spec_from_file_location('bag_record_under_test', module_file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        record = module.record
    else:
        from ior_ros.runtime.bag_record import record
    import io

    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0, wall0 = usage.ru_utime + usage.ru_stime, time.monotonic()
    counts = record(output, ['/seq'], duration_s=duration_s, out=io.StringIO())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({'cpu_s': usage.ru_utime + usage.ru_stime - cpu0,
                      'wall_s': time.monotonic() - wall0, 'messages': sum(counts.values())}),
          flush=True)


def bench_record(duration_s: float, rate_hz: float, domain: int, folder: Path,
                 before_ref: str | None) -> dict[str, Any]:
    """The recorder's CPU % with a 1 kHz publisher (module docstring)."""
    env = _environment(domain)
    helper = REPO / 'test' / 'runtime' / 'rt_seq_helper.py'
    variants = {'after': ''}
    if before_ref:
        old = subprocess.run(['git', 'show', f'{before_ref}:ior_ros/runtime/bag_record.py'],
                             cwd=REPO, capture_output=True, text=True, check=True).stdout
        old_file = folder / 'bag_record_before.py'
        old_file.write_text(old, encoding='utf-8')
        variants = {'before': str(old_file), 'after': ''}
    publisher = subprocess.Popen([sys.executable, str(helper), 'pub', str(rate_hz),
                                  str(folder / 'sent.json')], env=env, cwd=REPO,
                                 stdout=subprocess.PIPE, text=True)
    out: dict[str, Any] = {'record_rate_hz': rate_hz, 'record_duration_s': duration_s}
    try:
        assert publisher.stdout is not None
        publisher.stdout.readline()  # PUBLISHING
        for name, module_file in variants.items():
            done = subprocess.run([sys.executable, __file__, '--role', 'record',
                                   '--module', module_file, '--output',
                                   str(folder / f'bag_{name}'), '--duration', str(duration_s)],
                                  env=env, cwd=REPO, capture_output=True, text=True,
                                  timeout=duration_s + 120, check=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            out[f'record_{name}_cpu_percent'] = 100 * result['cpu_s'] / result['wall_s']
            out[f'record_{name}_messages'] = result['messages']
    finally:
        publisher.terminate()
        publisher.wait(timeout=30)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    parser.add_argument('--writer-n', type=int, default=50_000, help='messages per writer')
    parser.add_argument('--duration', type=float, default=10.0, help='seconds recorded')
    parser.add_argument('--rate', type=float, default=1000.0, help='publisher rate [Hz]')
    parser.add_argument('--domain', type=int, default=191, help='ROS_DOMAIN_ID to use')
    parser.add_argument('--before-ref', default=None, metavar='REF',
                        help='also measure the recorder of this git revision')
    parser.add_argument('--role', default=None, help=argparse.SUPPRESS)
    parser.add_argument('--module', default='', help=argparse.SUPPRESS)
    parser.add_argument('--output', default='', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == 'record':
        _record_child(args.module, args.output, args.duration)
        return 0
    with tempfile.TemporaryDirectory(prefix='bench_bag_') as tmp:
        folder = Path(tmp)
        figures: dict[str, Any] = bench_writers(args.writer_n, folder)
        figures.update(bench_record(args.duration, args.rate, args.domain, folder,
                                    args.before_ref))
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f'{key}: {value:.2f}' if isinstance(value, float) else f'{key}: {value}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
