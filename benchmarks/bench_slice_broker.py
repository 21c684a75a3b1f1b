"""
Slice broker benchmark: every allocator on the ran_emulator's cell model, in one process and in
simulated time (no DDS, no wall clock: the numbers do not depend on how busy the machine is).

The cell is :class:`~ior_ros.core.ran.emulated_link.EmulatedLink` with the ran_emulator's
defaults (1 ms slots, 50 PRBs, the physical link at 100 m, 800-bit URLLC and 12-kbit eMBB
packets); the broker (:class:`~ior_ros.core.slicing.broker.Broker`, the shipped templates of
config/slices) decides every 100 ms from the link's report of the last 100 ms, as the node does.
Traffic: one URLLC command every 10 ms (the relayed packets whose delays are measured), the eMBB
slice saturated by 100 Mbit/s of background (so its rate is what its PRBs carry), and in the
``loaded`` scenario 4 Mbit/s of URLLC background on top (``default``: none, the emulator's
default load); ``starved`` is ``loaded`` with templates whose static split leaves URLLC 2 PRBs
(URLLC min ratio 0.02, eMBB max 0.96; the node test's case).

Measured per scenario and allocator: URLLC command delay p50/p99 [ms] (air delay in whole slots,
seed 003 eq. 5), commands lost, eMBB rate [Mbit/s], mean URLLC PRBs; and the broker's decision
time (p50/p99 µs of :meth:`Broker.step`) and its share of one core at a 0.1 s period.

Rerun: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_slice_broker.py [--seconds 20]``
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault('OMP_NUM_THREADS', '1')

import numpy as np  # noqa: E402

from ior_ros.core.config import validate_config  # noqa: E402
from ior_ros.core.ran.emulated_link import (  # noqa: E402
    SLICE_EMBB,
    SLICE_URLLC,
    EmulatedLink,
    EmulatedLinkConfig,
)
from ior_ros.core.slicing.broker import (  # noqa: E402
    AllocatorName,
    Broker,
    BrokerConfig,
    BrokerMetrics,
    SliceMetrics,
)
from ior_ros.core.slicing.policy import SlicingPolicy  # noqa: E402
from ior_ros.core.slicing.slice_templates import (  # noqa: E402
    PrbRatio,
    SliceKind,
    SliceTemplate,
    load_templates,
)

REPO = Path(__file__).resolve().parents[1]
#: name: (URLLC background [bit/s], starving templates)
SCENARIOS = {'default': (0.0, False), 'loaded': (4e6, False), 'starved': (4e6, True)}
PERIOD_SLOTS = 100
COMMAND_SLOTS = 10


def starving(templates: list[SliceTemplate]) -> list[SliceTemplate]:
    """URLLC min ratio 0.02, eMBB max 0.96: the static split leaves URLLC 2 of 50 PRBs (the
    node test's starved static split)."""
    out = []
    for t in templates:
        ratio = PrbRatio(dedicated=0.02, min=0.02, max=0.6) if t.kind is SliceKind.URLLC else \
            PrbRatio(dedicated=t.prb_ratio.dedicated, min=t.prb_ratio.min, max=0.96)
        out.append(t.model_copy(update={'prb_ratio': ratio}))
    return out


def run_one(policy: AllocatorName, urllc_background_bps: float, starve: bool, seconds: float,
            seed: int = 1) -> dict[str, Any]:
    """One allocator on one scenario; the measurements."""
    cell = validate_config(EmulatedLinkConfig, {
        'embb': {'prbs': 40, 'packet_bits': 12000, 'background_bps': 100e6},
        'urllc': {'prbs': 10, 'packet_bits': 800, 'background_bps': urllc_background_bps}})
    link = EmulatedLink(cell, np.random.default_rng(seed))
    templates = load_templates(REPO / 'config' / 'slices')
    if starve:
        templates = starving(templates)
    shipped = SlicingPolicy.load(REPO / 'config' / 'policies' / 'seed003_slicing') \
        if policy is AllocatorName.DRL else None
    broker = Broker(templates, BrokerConfig(policy=policy), shipped)
    slots = int(seconds / cell.slot_s)
    sent: dict[int, int] = {}
    delays: list[float] = []
    embb_bits = 0.0
    urllc_prbs: list[int] = []
    step_s: list[float] = []
    allocation = broker.step()
    link.set_prbs(allocation.slice_prbs)
    for t in range(slots):
        if t % COMMAND_SLOTS == 0 and link.offer(SLICE_URLLC, t):
            sent[t] = t
        for d in link.step():
            delays.append(d.delay_s)
        if (t + 1) % PERIOD_SLOTS == 0:
            reports = {r.slice_id: r for r in link.report()}
            embb_bits += reports[SLICE_EMBB].rate_bps * PERIOD_SLOTS * cell.slot_s
            metrics = BrokerMetrics({s: SliceMetrics(r.rate_bps, r.queue_bits, r.delay_s,
                                                     r.sinr_db) for s, r in reports.items()},
                                    interval_s=PERIOD_SLOTS * cell.slot_s)
            start = time.perf_counter()
            allocation = broker.step(metrics)
            step_s.append(time.perf_counter() - start)
            link.set_prbs(allocation.slice_prbs)
            urllc_prbs.append(allocation.slice_prbs[SLICE_URLLC])
    d = np.array(delays) * 1e3
    steps = np.array(step_s) * 1e6
    return {'policy': policy.value, 'urllc_delay_p50_ms': float(np.percentile(d, 50)),
            'urllc_delay_p99_ms': float(np.percentile(d, 99)),
            'commands_lost': len(sent) - len(delays),
            'embb_rate_mbps': embb_bits / seconds / 1e6,
            'urllc_prbs_mean': float(np.mean(urllc_prbs)),
            'step_p50_us': float(np.percentile(steps, 50)),
            'step_p99_us': float(np.percentile(steps, 99)),
            'cpu_share_at_0_1_s': float(np.mean(steps)) * 1e-6 / 0.1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=20.0, help='simulated seconds per run')
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    args = parser.parse_args()
    out: dict[str, list[dict[str, Any]]] = {}
    for name, (background, starve) in SCENARIOS.items():
        out[name] = [run_one(p, background, starve, args.seconds) for p in AllocatorName]
    if args.json:
        print(json.dumps(out, indent=1))
        return
    for name, rows in out.items():
        background, starve = SCENARIOS[name]
        print(f'scenario {name} (URLLC background {background / 1e6:g} Mbit/s, eMBB saturated'
              f'{", starving templates" if starve else ""}, {args.seconds:g} s simulated)')
        for r in rows:
            print(f"  {r['policy']:10s} URLLC PRBs {r['urllc_prbs_mean']:5.1f}  delay p50 "
                  f"{r['urllc_delay_p50_ms']:6.1f} ms p99 {r['urllc_delay_p99_ms']:7.1f} ms  "
                  f"lost {r['commands_lost']:3d}  eMBB {r['embb_rate_mbps']:6.2f} Mbit/s  step "
                  f"p50 {r['step_p50_us']:6.0f} us p99 {r['step_p99_us']:6.0f} us "
                  f"({r['cpu_share_at_0_1_s'] * 100:.2f} % of a core)")


if __name__ == '__main__':
    main()
