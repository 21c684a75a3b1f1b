"""
Benchmark of the AT round trip through a pseudo-terminal.

The emulated RM500Q (``ior modem emulate``) runs in its own process, as a modem is its own
device; the driver (:class:`ior_ros.clients.quectel.QuectelRM500Q`: pyserial, the reader thread,
the writer lock, the response parser) opens the device path and times, per command, from the
write of the command line to the parsed answer:

* ``at_p50_us`` / ``at_p99_us``: ``AT`` (an ``OK`` and nothing else);
* ``qeng_p50_us`` / ``qeng_p99_us``: ``AT+QENG="servingcell"`` answered and parsed into a
  :class:`~ior_ros.clients.quectel.ServingCell`.

What this measures is the host side (pty, threads, parsing); a real modem adds its own
processing time (queries answer within 300 ms, usually a few ms, manual §1).

Rerun: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_modem_at.py [--commands 1000]
[--mode sa|nsa|lte] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

IOR = [sys.executable, '-m', 'ior_ros.cli']
REPO = Path(__file__).resolve().parents[1]


def _percentiles_us(samples_s: list[float]) -> tuple[float, float, float]:
    arr = np.asarray(samples_s) * 1e6
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99)), float(arr.max())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--commands', type=int, default=1000, help='timed commands of each kind')
    parser.add_argument('--mode', choices=('sa', 'nsa', 'lte'), default='sa')
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    args = parser.parse_args(argv)

    from ior_ros.clients.quectel import QuectelRM500Q, parse_serving_cell

    with tempfile.TemporaryDirectory() as folder:
        link = str(Path(folder) / 'ttyRM500Q')
        emulator = subprocess.Popen(
            [*IOR, 'modem', 'emulate', '--mode', args.mode, '--link', link],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, 'OMP_NUM_THREADS': '1'})
        try:
            assert emulator.stdout is not None
            path = emulator.stdout.readline().strip()
            with QuectelRM500Q(path, timeout_s=1.0) as modem:
                channel = modem.channel
                for _ in range(50):  # warm-up
                    channel.command('AT')
                at_s = []
                for _ in range(args.commands):
                    started = time.perf_counter()
                    channel.command('AT')
                    at_s.append(time.perf_counter() - started)
                qeng_s = []
                for _ in range(args.commands):
                    started = time.perf_counter()
                    cell = parse_serving_cell(
                        channel.command('AT+QENG="servingcell"', prefix='+QENG').lines)
                    qeng_s.append(time.perf_counter() - started)
                assert cell.state is not None
        finally:
            emulator.terminate()
            emulator.wait(timeout=10)
    at_p50, at_p99, at_max = _percentiles_us(at_s)
    qeng_p50, qeng_p99, qeng_max = _percentiles_us(qeng_s)
    result = {
        'commands': args.commands, 'mode': args.mode,
        'at_p50_us': round(at_p50, 1), 'at_p99_us': round(at_p99, 1), 'at_max_us': round(at_max),
        'qeng_p50_us': round(qeng_p50, 1), 'qeng_p99_us': round(qeng_p99, 1),
        'qeng_max_us': round(qeng_max),
        'machine': f'{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, '
                   f'Python {platform.python_version()}, {platform.system()} '
                   f'{platform.release()}',
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f'AT round trip through a pseudo-terminal ({args.commands} commands each, '
              f'emulator in its own process, mode {args.mode})')
        print(f'  AT                     p50 {at_p50:8.1f} us   p99 {at_p99:8.1f} us   '
              f'max {at_max:8.0f} us')
        print(f'  AT+QENG="servingcell"  p50 {qeng_p50:8.1f} us   p99 {qeng_p99:8.1f} us   '
              f'max {qeng_max:8.0f} us   (parsed)')
        print(f'  machine: {result["machine"]}')
        print('  rerun: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_modem_at.py '
              f'--commands {args.commands} --mode {args.mode}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
