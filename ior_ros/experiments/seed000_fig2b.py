"""
``ior reproduce seed000-fig2b``: seed 000's WiFi slices (Liang et al., IEEE Network 2024, Fig. 2b)
rebuilt on Linux traffic control in network namespaces.

The paper gives a video-transmission slice, a spider-robot slice and a 3D-cart slice bandwidth
on demand on an OpenWrt/OVS access point, measures 45, 35 and 15 Mb/s ("these results align with
the allocated resources, ensuring bandwidth isolation") and latencies of about 135, 52 and 10 ms.
Here (``config/slices_wifi``: the three templates and their bindings):

* namespaces ``robot1..3`` (video, spider robot, 3D cart), ``ap`` and ``server``; a veth link from
  each robot to the AP (10.77.<i>.0/24) and one from the AP to the server (10.77.100.0/24); the
  AP routes;
* the slice plan (:mod:`ior_ros.core.slicing.equipment_plan`) applied with
  :class:`~ior_ros.clients.tc.TcSlices` on the AP's egress towards the server: an HTB link class
  at the bindings' capacity (100 Mb/s: veth itself is not a bottleneck, so the AP is made one, as
  a WiFi AP's air time is), one class per slice with rate = ceil = its allocation, classified by
  the robot's source address (or DSCP);
* phase ``light``: every robot sends ``light_load`` x its slice rate (0.8): the latency of a
  slice that is not overloaded;
* phase ``slices``: every robot sends ``overdrive`` x its slice rate of UDP
  (:mod:`ior_ros.clients.traffic`); the server measures each slice's throughput (frame bits, as
  tc counts them) and the one-way delay of probes sent every ``probe_interval_s`` inside each
  slice's traffic (so they wait in its queue: latency under load);
* phase ``flood``: one slice (``flood_slice``) sends ``flood_bps``, far above the AP's capacity;
  the others must keep their rates (isolation).

Throughput is measured over each phase after ``warmup_s``; latency is the median probe delay of
the phase (``latency_ms`` in ``slices``, ``latency_light_ms`` in ``light``). Everything is
created and deleted by the run itself (try/finally, also on Ctrl-C). Where namespaces cannot be
created the run stops with one line saying why.

``seed000-fig2b.json`` holds, besides the contract's keys, ``phases`` (per phase and slice:
configured, sent and measured rates, probe delay percentiles and losses), ``tc`` (the classes'
counters read back after the run) and ``timeline`` (per 0.5 s bin, each slice's rate).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ior_ros.core.config import FrozenModel, config_to_dict, load_config
from ior_ros.core.errors import ConfigError
from ior_ros.experiments.contract import Claim, FigureResult, ReproContext

__all__ = ['Fig2bConfig', 'run', 'run_fig2b', 'ID', 'PAPER_MBPS', 'PAPER_LATENCY_MS']

ID = 'seed000-fig2b'
PAPER_MBPS = {'video': 45.0, 'spider_robot': 35.0, 'cart_3d': 15.0}
"""Seed 000 Fig. 2b, text: transmission rates of the three slices [Mb/s]."""
PAPER_LATENCY_MS = {'video': 135.0, 'spider_robot': 52.0, 'cart_3d': 10.0}
"""Seed 000 Fig. 2b, text: latencies ("about 10 ms", 52 ms, 135 ms)."""
LABELS = {'video': 'video', 'spider_robot': 'spider robot', 'cart_3d': '3D cart'}
PORT = 5201
_SUBNET = '10.77'
_SERVER_LINK = 100


class Fig2bConfig(FrozenModel):
    """The run (defaults; ``--config``/``--set`` change them)."""

    templates_dir: str = ''
    """Templates folder with ``equipment/bindings.yaml``; empty: the package's
    ``config/slices_wifi``."""
    order: tuple[str, ...] = ('video', 'spider_robot', 'cart_3d')
    """Slice of robot1, robot2, robot3 (and the figure's x order)."""
    phase_s: float = Field(20.0, gt=1.0, le=3600.0)
    """Seconds per phase [s]."""
    quick_phase_s: float = Field(3.0, gt=1.0, le=3600.0)
    """Seconds per phase with ``--quick`` [s]."""
    warmup_s: float = Field(1.0, ge=0.0, le=60.0)
    """Start of each phase left out of the measurement [s]."""
    overdrive: float = Field(1.2, gt=1.0, le=10.0)
    """Each robot sends this times its slice rate in phases ``slices`` and ``flood`` [1]."""
    light_load: float = Field(0.8, gt=0.0, lt=1.0)
    """Each robot sends this times its slice rate in phase ``light`` [1]."""
    flood_slice: str = 'cart_3d'
    """The slice that floods in the second phase."""
    flood_bps: float = Field(300e6, gt=0.0, le=10e9)
    """What the flooding robot sends [bit/s] (3 x the AP's 100 Mb/s)."""
    by: Literal['addr', 'dscp'] = 'addr'
    """tc classifier: the robot's source address or the DSCP."""
    leaf: Literal['auto', 'fq_codel', 'sfq', 'bfifo', 'pfifo'] = 'auto'
    """Leaf queue of each slice class (ior_ros/clients/tc.py)."""
    probe_interval_s: float = Field(0.02, gt=0.0, le=1.0)
    """Probe period per slice [s]."""
    payload_bytes: int = Field(1472, ge=64, le=1472)
    """UDP payload of data datagrams [B] (1472: full 1500-byte frames)."""
    tolerance: float = Field(0.05, gt=0.0, lt=1.0)
    """Measured within this fraction of configured for the claim to hold."""
    startup_s: float = Field(1.5, ge=0.2, le=30.0)
    """Time given to the sender and receiver processes to start [s]."""


def _templates_dir(config: Fig2bConfig) -> Path:
    if config.templates_dir:
        return Path(config.templates_dir)
    from ior_ros.runtime.packages import find_package_share
    return find_package_share('ior_ros') / 'config' / 'slices_wifi'


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))]


def run_fig2b(config: Fig2bConfig, phase_s: float) -> dict[str, Any]:
    """
    Build the namespaces, apply the slices, run both phases, measure, tear everything down.

    Returns:
        ``{'slices': [...], 'phases': {...}, 'tc': ..., 'timeline': ..., 'leaf': ...}``
        (module docstring).

    Raises:
        NetnsDenied / EquipmentUnavailable: namespaces, veth or tc are not available here.
        ConfigError: the slice set or the configuration is refused (nothing is created).
    """
    from ior_ros.clients.netns import Netns, NetnsDenied, unavailable
    from ior_ros.clients.tc import TcSlices, tc_plan
    from ior_ros.clients.traffic import ReceiveReport
    from ior_ros.core.slicing.equipment_plan import load_slice_set

    plan = load_slice_set([_templates_dir(config)])
    names = plan.names()
    if sorted(config.order) != sorted(names):
        raise ConfigError(f"{ID}: field 'order' = {list(config.order)}: allowed: the slices of "
                          f'{plan.source} in any order ({", ".join(names)})')
    if config.flood_slice not in names:
        raise ConfigError(f"{ID}: field 'flood_slice' = {config.flood_slice!r}: allowed: "
                          f'{", ".join(names)}')
    if config.warmup_s >= phase_s - 0.5:
        raise ConfigError(f"{ID}: field 'warmup_s' = {config.warmup_s:g}: allowed: less than "
                          f'the phase ({phase_s:g} s) minus 0.5 s')
    by_name = {s.name: s for s in plan.slices}
    reason = unavailable()
    if reason is not None:
        raise NetnsDenied(f'{ID} needs network namespaces: {reason}')

    procs: list[subprocess.Popen[str]] = []
    with Netns('f2b') as ns:
        try:
            ap = ns.add('ap')
            server = ns.add('server')
            _, ap_out = ns.link(server, ap, f'{_SUBNET}.{_SERVER_LINK}.2/24',
                                f'{_SUBNET}.{_SERVER_LINK}.1/24')
            ns.route(server, 'default', f'{_SUBNET}.{_SERVER_LINK}.1')
            ns.forwarding(ap)
            robots: dict[str, str] = {}
            bindings: dict[str, str] = {}
            for i, name in enumerate(config.order, start=1):
                robot = ns.add(f'robot{i}')
                robots[name] = robot
                address = f'{_SUBNET}.{i}.2'
                ns.link(robot, ap, f'{address}/24', f'{_SUBNET}.{i}.1/24')
                ns.route(robot, 'default', f'{_SUBNET}.{i}.1')
                bindings[name] = address
            for name, address in bindings.items():
                bound = by_name[name].tc.address
                if config.by == 'addr' and bound != f'{address}/32':
                    raise ConfigError(
                        f"{plan.source}: bindings field 'slices.{name}.address' = {bound}: "
                        f'{ID} gives robot{config.order.index(name) + 1} {address}; allowed: '
                        f'{address}')
            tcp = tc_plan(plan, by=config.by, direction='src', leaf=config.leaf)
            tc = TcSlices(ap_out, ap)
            applied = tc.apply(tcp)

            start_ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC) + int(config.startup_s * 1e9)
            total_s = 3 * phase_s
            procs.append(ns.popen(server, sys.executable, '-m', 'ior_ros.clients.traffic',
                                  'receive', '--port', str(PORT), '--duration',
                                  f'{total_s + 0.5}', '--start-ns', str(start_ns)))
            senders: dict[str, subprocess.Popen[str]] = {}
            for index, name in enumerate(config.order):
                light = by_name[name].tc.rate_bps * config.light_load
                rate = by_name[name].tc.rate_bps * config.overdrive
                third = config.flood_bps if name == config.flood_slice else rate
                args = ['send', '--dst', f'{_SUBNET}.{_SERVER_LINK}.2', '--port', str(PORT),
                        '--phase', f'0:{light}', '--phase', f'{phase_s}:{rate}',
                        '--phase', f'{2 * phase_s}:{third}',
                        '--duration', f'{total_s}', '--start-ns', str(start_ns),
                        '--slice', str(index), '--payload', str(config.payload_bytes),
                        '--probe-interval', f'{config.probe_interval_s}']
                dscp = by_name[name].tc.dscp
                if dscp is not None:
                    args += ['--dscp', str(dscp)]
                senders[name] = ns.popen(robots[name], sys.executable, '-m',
                                         'ior_ros.clients.traffic', *args)
                procs.append(senders[name])
            timeout = config.startup_s + total_s + 30.0
            outputs: dict[str, dict[str, Any]] = {}
            for name, proc in senders.items():
                outputs[name] = _report(proc, timeout, f'sender of {name}')
            received = ReceiveReport.from_dict(_report(procs[0], timeout, 'receiver'))
            state = tc.read([s.name for s in tcp.slices])
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
    return _summarize(config, plan.capacity_bps, phase_s, start_ns, received, outputs,
                      by_name, state.as_dict(), applied.seconds, tc_leaf(state.as_dict()))


def tc_leaf(state: dict[str, Any]) -> str | None:
    """The leaf qdisc kind of the slice classes (None when they have none)."""
    kinds = {c['leaf'] for c in state['classes'] if c['name'] not in (None, 'link',
                                                                      'unclassified')}
    return ','.join(sorted(k for k in kinds if k)) or None


def _report(proc: subprocess.Popen[str], timeout: float, what: str) -> dict[str, Any]:
    from ior_ros.clients.errors import EquipmentError

    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise EquipmentError(f'{ID}: the {what} did not finish within {timeout:.0f} s') from None
    if proc.returncode != 0 or not out.strip():
        tail = ' '.join((err or '').strip().splitlines()[-1:]) or f'exit {proc.returncode}'
        raise EquipmentError(f'{ID}: the {what} failed: {tail}')
    doc: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return doc


def _summarize(config: Fig2bConfig, capacity_bps: float, phase_s: float, start_ns: int,
               received: Any, sent: dict[str, dict[str, Any]], by_name: dict[str, Any],
               tc_state: dict[str, Any], apply_s: float, leaf: str | None) -> dict[str, Any]:
    phases: dict[str, list[dict[str, Any]]] = {}
    for p, phase in enumerate(('light', 'slices', 'flood')):
        begin = start_ns + int((p * phase_s + config.warmup_s) * 1e9)
        end = start_ns + int(((p + 1) * phase_s - 0.1) * 1e9)
        rows = []
        for index, name in enumerate(config.order):
            configured = by_name[name].tc.rate_bps
            delays = [d * 1e3 for d in received.probe_delays_s(index, begin, end)]
            expected = max(1, int((end - begin) * 1e-9 / config.probe_interval_s))
            measured = received.rate_bps(index, begin, end)
            rows.append({
                'slice': name, 'configured_mbps': configured / 1e6,
                'ceil_mbps': by_name[name].tc.ceil_bps / 1e6,
                'sent_mbps': sent[name]['phases'][p]['sent_bps'] / 1e6,
                'measured_mbps': measured / 1e6,
                'error': measured / configured - 1.0,
                'latency_ms': statistics.median(delays) if delays else None,
                'latency_p95_ms': _percentile(delays, 0.95),
                'latency_max_ms': max(delays) if delays else None,
                'probe_loss': max(0.0, 1.0 - len(delays) / expected),
                'send_errors': sent[name]['errors'],
            })
        phases[phase] = rows
    bin_ns = int(received.bin_s * 1e9)
    timeline = []
    step = max(1, int(round(0.5 / received.bin_s)))
    for first in range(0, int(3 * phase_s / received.bin_s), step):
        t0 = start_ns + first * bin_ns
        timeline.append({'t_s': round(first * received.bin_s, 3),
                         **{name: received.rate_bps(i, t0, t0 + step * bin_ns) / 1e6
                            for i, name in enumerate(config.order)}})
    return {'phases': phases, 'capacity_mbps': capacity_bps / 1e6, 'tc': tc_state,
            'tc_apply_s': apply_s, 'leaf': leaf, 'timeline': timeline,
            'rcvbuf_errors': received.rcvbuf_errors, 'phase_s': phase_s,
            'delay_budget_ms': {n: by_name[n].tc.delay_budget_s * 1e3 for n in config.order}}


def run(ctx: ReproContext) -> FigureResult:
    """Run the reproduction (module docstring)."""
    config = load_config(Fig2bConfig, ctx.config_path, ctx.overrides, section='seed000_fig2b')
    phase_s = config.quick_phase_s if ctx.quick else config.phase_s
    with ctx.progress(ID, total=3, unit='phase') as bar:
        bar.set_postfix(phase=f'3 x {phase_s:g} s in namespaces')
        outcome = run_fig2b(config, phase_s)
        bar.update(3)
    slices = outcome['phases']['slices']
    flood = outcome['phases']['flood']
    labels = [LABELS.get(r['slice'], r['slice']) for r in slices]
    series = {
        'configured_mbps': [r['configured_mbps'] for r in slices],
        'measured_mbps': [r['measured_mbps'] for r in slices],
        'latency_ms': [r['latency_ms'] for r in slices],
        'latency_light_ms': [r['latency_ms'] for r in outcome['phases']['light']],
    }
    return FigureResult(
        id=ID, title='WiFi slices on Linux tc in network namespaces: configured vs measured '
                     'throughput and latency under load (seed 000 Fig. 2b)',
        x_name='slice', x_values=labels, y_name='Mb/s; ms', series=series,
        claims=_claims(config, slices, flood, outcome), config=config_to_dict(config),
        seed=ctx.seed, quick=ctx.quick, extra={k: v for k, v in outcome.items()},
        plot=_plot)


def _claims(config: Fig2bConfig, slices: list[dict[str, Any]], flood: list[dict[str, Any]],
            outcome: dict[str, Any]) -> list[Claim]:
    tol = config.tolerance
    claims = []
    for row in slices:
        name = row['slice']
        claims.append(Claim(
            text=f'{LABELS.get(name, name)} slice throughput [Mb/s], robot sending '
                 f'{config.overdrive:g} x its rate (within {tol:.0%})',
            paper=PAPER_MBPS.get(name, '-'), ours=round(row['measured_mbps'], 2),
            holds=abs(row['error']) <= tol))
    others = [r for r in flood if r['slice'] != config.flood_slice]
    flooder = next(r for r in flood if r['slice'] == config.flood_slice)
    before = {r['slice']: r['measured_mbps'] for r in slices}
    worst = max(abs(r['error']) for r in others) if others else 0.0
    claims.append(Claim(
        text=f'isolation: {LABELS.get(config.flood_slice, config.flood_slice)} floods (asked '
             f"{config.flood_bps / 1e6:g} Mb/s, sent {flooder['sent_mbps']:.0f}; the AP carries "
             f"{outcome['capacity_mbps']:g}); the others keep their rate (within {tol:.0%})",
        paper='bandwidth isolation between slices',
        ours=', '.join(f"{LABELS.get(r['slice'], r['slice'])} {r['measured_mbps']:.2f} "
                       f"(was {before[r['slice']]:.2f})" for r in others)
             + f"; flooder {flooder['measured_mbps']:.2f}",
        holds=worst <= tol and abs(flooder['measured_mbps'] / flooder['ceil_mbps'] - 1) <= tol))
    lat = {r['slice']: r['latency_ms'] for r in slices}
    known = [n for n in ('cart_3d', 'spider_robot', 'video') if lat.get(n) is not None]
    ordered = len(known) == 3 and lat['cart_3d'] < lat['spider_robot'] < lat['video']
    claims.append(Claim(
        text='latency under load: 3D cart < spider robot < video [ms] (ours: median probe '
             f"delay; each slice's queue holds its delay budget, leaf {outcome['leaf']})",
        paper='10 < 52 < 135',
        ours=(' < '.join(f'{lat[n]:.1f}' for n in known) if known else '-') + (
            f' (sending {config.light_load:g} x the rate: '
            + ', '.join(f"{r['latency_ms']:.2f}" for r in outcome['phases']['light']
                        if r['latency_ms'] is not None) + ')'),
        holds=ordered if len(known) == 3 else None))
    return claims


def _plot(result: FigureResult) -> bytes:
    """Throughput per slice (configured, measured, measured under the flood) and latency."""
    import numpy as np

    from ior_ros.experiments.plotting import figure_png, new_figure

    labels = list(result.x_values)
    flood = [r['measured_mbps'] for r in result.extra['phases']['flood']]
    fig, axes = new_figure(1, 2, figsize=(10.0, 4.0))
    x = np.arange(len(labels))
    width = 0.27
    axes[0].bar(x - width, result.series['configured_mbps'], width, label='configured')
    axes[0].bar(x, result.series['measured_mbps'], width, label='measured')
    axes[0].bar(x + width, flood, width,
                label=f"measured, {result.config['flood_slice']} flooding")
    axes[0].set_xticks(x, labels)
    axes[0].set_ylabel('throughput [Mb/s]')
    axes[0].legend(fontsize=8)
    latency = [np.nan if v is None else v for v in result.series['latency_ms']]
    light = [np.nan if v is None else v for v in result.series['latency_light_ms']]
    axes[1].bar(x - 0.2, latency, 0.4, label='ours, sending 1.2 x the rate')
    axes[1].bar(x + 0.2, light, 0.4, label='ours, sending 0.8 x the rate')
    axes[1].plot(x, [PAPER_LATENCY_MS.get(r['slice'], np.nan)
                     for r in result.extra['phases']['slices']], 'kx', label='paper')
    axes[1].set_xticks(x, labels)
    axes[1].set_ylabel('latency [ms]')
    axes[1].set_yscale('log')
    axes[1].legend(fontsize=8)
    fig.suptitle(f'{result.id}: WiFi slices on tc/HTB' + (' (quick)' if result.quick else ''),
                 fontsize=10)
    return figure_png(fig)
