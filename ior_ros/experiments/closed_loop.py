"""
``ior reproduce closed-loop``: the whole system in one scenario, every combination of its parts.

Neither paper closes the loop between slicing, delay-robust control and the twin; issue 12 does,
and this reproduction measures what each part buys. One scenario (``config/closed_loop.yaml``:
the operator's figure eight with slips, a robot at the cell edge whose URLLC slice carries
other robots' commands with congestion episodes beyond the slice's maximum bit rate (MMPP-2
bursts), video and other UEs' video in the eMBB slice) runs under

* broker policy ∈ {PF, DRL, DPP} (the slice_broker's ``policy``),
* controller ∈ {``nominal``: the nominal LQR gain whatever the delay (the switching policy told to
  ride out any growth), ``certified``: the certified gain schedule with a switch at every delay
  beyond the nominal bound},
* twin ∈ {off, on} (the digital_twin node, and the robot's veto gate),

each cell for ``seeds`` runs of ``duration_s`` simulated seconds. Every run is the five nodes of
``launch/sim.launch.yaml`` — the same classes, the same parameter files, the same remaps — in one
process (:class:`~ior_ros.runtime.inproc.InprocWorld`: virtual time, no DDS, deterministic from
the seed). Metrics (:mod:`ior_ros.experiments.demo_summary`, as ``ior demo`` computes them from a
bag, over the run after ``settle_s``):

* URLLC violation rate: commands later than ``deadline_s`` (seed 003 Table I: 20 ms) or lost,
  over commands sent;
* tracking RMSE [m] of the robot to its set-point (runs that diverged are left out of it);
* divergences: runs whose tracking error exceeded ``divergence_error_m`` (0.5 m: a quarter of the
  figure eight's width) at any sample;
* vetoes: commands the twin vetoed (all runs of the cell).

What must hold (issue 12): the full system (learned or DPP broker, certified schedule, twin on)
has no divergence and no more violations than PF with the same controller and twin — compared
over paired runs (the same seeds: the same traffic, bursts and fading), "more" meaning beyond
the 95 % interval of the paired differences. The paper
column quotes the nearest published number: seed 003 Fig. 8 (slicing alone, no robot in the loop:
DRL 1.87 % vs PF 28.11 % URLLC violations).

``closed-loop.json`` holds, besides the contract's keys, ``cells``: one object per cell with
``policy``, ``controller``, ``twin``, ``urllc_violation_rate``, ``tracking_rmse_m``,
``divergences``, ``vetoes`` (and per-seed details).
"""

from __future__ import annotations

import math
import time
from typing import Any, Literal

import numpy as np
from pydantic import Field

from ior_ros.core.config import FrozenModel, config_to_dict, load_config
from ior_ros.core.progress import ProgressFn
from ior_ros.experiments.contract import Claim, FigureResult, ReproContext
from ior_ros.experiments.demo_summary import RunCollector, summarize

__all__ = ['ClosedLoopConfig', 'run', 'run_cell', 'run_one', 'run_key', 'CONTROLLERS', 'ID']

ID = 'closed-loop'

Policy = Literal['pf', 'drl', 'dpp', 'puncturing', 'static']
ControllerName = Literal['nominal', 'certified']

#: robot_controller parameters of each controller of the table
CONTROLLERS: dict[str, dict[str, Any]] = {
    'nominal': {'tolerated_growth': 1e6, 'always_switch': False},
    'certified': {'always_switch': True},
}

PAPER_FIG8 = 'seed 003 Fig. 8 (slicing alone): DRL 1.87 % vs PF 28.11 %'


class ClosedLoopConfig(FrozenModel):
    """The scenario and the table (``config/closed_loop.yaml``)."""

    duration_s: float = Field(60.0, gt=1.0, le=86400.0)
    """Simulated seconds per run [s]."""
    quick_duration_s: float = Field(15.0, gt=1.0, le=86400.0)
    """Simulated seconds per run with ``--quick`` [s]."""
    seeds: int = Field(3, ge=1, le=1000)
    """Runs per cell."""
    quick_seeds: int = Field(1, ge=1, le=1000)
    """Runs per cell with ``--quick``."""
    settle_s: float = Field(1.0, ge=0.0)
    """Start of each run left out of the metrics [s] (the robot starts at rest)."""
    deadline_s: float = Field(0.02, gt=0.0)
    """URLLC deadline D_max [s] (seed 003 Table I)."""
    divergence_error_m: float = Field(0.5, gt=0.0)
    """A run diverged when the tracking error exceeds this [m]."""
    policies: tuple[Policy, ...] = ('pf', 'drl', 'dpp')
    controllers: tuple[ControllerName, ...] = ('nominal', 'certified')
    twin: tuple[bool, ...] = (False, True)
    operator: dict[str, Any] = Field(default_factory=dict)
    """teleop_operator parameters on top of config/nodes/teleop_operator.yaml."""
    emulator: dict[str, Any] = Field(default_factory=dict)
    """ran_emulator parameters on top of config/nodes/ran_emulator.yaml."""
    broker: dict[str, Any] = Field(default_factory=dict)
    """slice_broker parameters on top of config/nodes/slice_broker.yaml."""
    twin_node: dict[str, Any] = Field(default_factory=dict)
    """digital_twin parameters on top of config/nodes/digital_twin.yaml."""
    robot: dict[str, Any] = Field(default_factory=dict)
    """robot_controller parameters on top of config/nodes/robot_controller.yaml (the
    controller of the cell is applied after them)."""


def _node_params(node: str, extra: dict[str, Any]) -> dict[str, Any]:
    """The node's parameter file (as the launch files load it) without its ``seed`` (the world
    gives every node one of its own from the run's seed, as sim.launch.yaml's ``seed`` argument
    does), then ``extra``."""
    from ior_ros.core.input_files import read_input_yaml
    from ior_ros.runtime.packages import find_package_share

    path = find_package_share('ior_ros') / 'config' / 'nodes' / f'{node}.yaml'
    data = read_input_yaml(path, f'{node} parameter file')
    params = dict((data.get(node) or {}).get('ros__parameters') or {})
    params.pop('seed', None)
    params.update(extra)
    return params


def run_cell(config: ClosedLoopConfig, policy: str, controller: str, twin: bool, seed: int,
             duration_s: float, progress: ProgressFn | None = None,
             timings: dict[str, float] | None = None, log_level: str = 'error'
             ) -> dict[str, Any]:
    """One run of the scenario in an in-process world; its metrics (``timings['run_s']``:
    the wall time of the run itself, node construction excluded). The nodes log at
    ``log_level`` and above (their info lines are not results)."""
    from ior_ros.runtime import ros_logging

    saved = ros_logging.default_level()
    ros_logging.set_default_level(log_level)
    try:
        return _run_cell(config, policy, controller, twin, seed, duration_s, progress, timings)
    finally:
        ros_logging.set_default_level(saved)


def _run_cell(config: ClosedLoopConfig, policy: str, controller: str, twin: bool, seed: int,
              duration_s: float, progress: ProgressFn | None,
              timings: dict[str, float] | None) -> dict[str, Any]:
    from ior_ros.runtime.inproc import InprocWorld

    with InprocWorld(seed=seed) as world:
        from ior_ros.nodes.digital_twin import DigitalTwinNode
        from ior_ros.nodes.ran_emulator import RanEmulator
        from ior_ros.nodes.robot_controller import RobotController
        from ior_ros.nodes.slice_broker import SliceBroker
        from ior_ros.nodes.teleop_operator import TeleopOperator
        from ior_ros.runtime import get_message

        # in one process every clock reads the world's time: no /clock, no use_sim_time
        world.add(RanEmulator, parameters=_node_params('ran_emulator', {
            **config.emulator, 'publish_clock': False}), remaps={
            'cmd_in': '/teleop/cmd', 'cmd_out': '/robot/cmd',
            'verdict_in': '/teleop/twin_prediction', 'verdict_out': '/robot/twin_prediction',
            'state_in': '/robot/state', 'state_out': '/teleop/state',
            'video_in': '/robot/video', 'video_out': '/teleop/video',
            'ran_metrics': '/ran_metrics', 'slice_policy': '/slice_policy'})
        world.add(TeleopOperator, parameters=_node_params('teleop_operator', config.operator),
                  remaps={'cmd': '/teleop/cmd', 'state': '/teleop/state',
                          'video': '/teleop/video', 'video_latency': '/teleop/video_latency',
                          'reference': '/teleop/reference'})
        world.add(SliceBroker, parameters=_node_params('slice_broker', {
            **config.broker, 'policy': policy}), remaps={
            'ran_metrics': '/ran_metrics', 'state': '/teleop/state', 'delay': '/robot/delay',
            'slice_policy': '/slice_policy'})
        if twin:
            world.add(DigitalTwinNode, parameters=_node_params('digital_twin', config.twin_node),
                      remaps={'cmd': '/teleop/cmd', 'state': '/teleop/state',
                              'twin_prediction': '/teleop/twin_prediction',
                              'ran_metrics': '/ran_metrics', 'slice_policy': '/slice_policy'})
        world.add(RobotController, parameters=_node_params('robot_controller', {
            **config.robot, **CONTROLLERS[controller], 'twin_gate': twin}), remaps={
            'cmd': '/robot/cmd', 'state': '/robot/state', 'delay': '/robot/delay',
            'odom': '/robot/odom', 'path': '/robot/path', 'status': '/robot/status',
            'video': '/robot/video',
            'twin_prediction': '/robot/twin_prediction'})
        taps = {
            'sent': world.tap('/teleop/cmd', get_message('ior_ros/msg/TeleopCommand')),
            'delay': world.tap('/robot/delay', get_message('ior_ros/msg/DelayMeasurement')),
            'state': world.tap('/robot/state', get_message('ior_ros/msg/RobotState')),
            'embb': world.tap('/ran_metrics', get_message('ior_ros/msg/RanMetrics')),
            'policy': world.tap('/slice_policy', get_message('ior_ros/msg/SlicePolicy')),
            'verdict': world.tap('/teleop/twin_prediction',
                                 get_message('ior_ros/msg/TwinPrediction')),
            'status': world.tap('/robot/status', get_message('ior_ros/msg/ControllerStatus')),
            'video': world.tap('/teleop/video_latency',
                               get_message('ior_ros/msg/DelayMeasurement')),
        }
        started = time.perf_counter()
        world.run(duration_s, progress=progress)
        if timings is not None:
            timings['run_s'] = time.perf_counter() - started
    collector = RunCollector()
    for kind, samples in taps.items():
        for msg in samples:
            collector.add(kind, msg)
    rec = collector.record()
    if rec.delay_t.size == 0:
        return {'seed': seed, 'closed': False, 'urllc_violation_rate': 1.0,
                'tracking_rmse_m': math.nan, 'diverged': False, 'vetoes': 0}
    start = float(rec.delay_t.min()) + config.settle_s
    summary = summarize(rec, '', deadline_s=config.deadline_s, window=(start, duration_s))
    err = rec.tracking_error_m[rec.state_t >= start]
    diverged = bool(err.size and (not np.all(np.isfinite(err))
                                  or float(np.max(err)) > config.divergence_error_m))
    return {'seed': seed, 'closed': True,
            'urllc_violation_rate': summary['urllc_violation_rate'],
            'urllc_delay_p99_ms': summary['urllc_delay_p99_ms'],
            'tracking_rmse_m': summary['tracking_rmse_m'],
            'max_tracking_error_m': summary['max_tracking_error_m'],
            'embb_throughput_mbps': summary['embb_throughput_mbps'],
            'mean_dexterity_index': summary['mean_dexterity_index'],
            'diverged': diverged, 'vetoes': int(summary['twin_vetoes']),
            'gain_uncertified_s': summary['gain_uncertified_s'],
            'video_latency_p99_ms': summary['video_latency_p99_ms'],
            'commands_sent': summary['commands_sent'], 'commands_lost': summary['commands_lost']}


def _cell_summary(policy: str, controller: str, twin: bool, runs: list[dict[str, Any]]
                  ) -> dict[str, Any]:
    kept = [r['tracking_rmse_m'] for r in runs if not r['diverged']
            and r['tracking_rmse_m'] is not None and math.isfinite(r['tracking_rmse_m'])]
    return {'policy': policy, 'controller': controller, 'twin': twin,
            'urllc_violation_rate': float(np.mean([r['urllc_violation_rate'] for r in runs])),
            'tracking_rmse_m': float(np.mean(kept)) if kept else None,
            'divergences': int(sum(r['diverged'] for r in runs)),
            'vetoes': int(sum(r['vetoes'] for r in runs)),
            'runs': runs}


def run_one(config: dict[str, Any], policy: str, controller: str, twin: bool, seed: int,
            duration_s: float, out_dir: str | None = None) -> dict[str, Any]:
    """One run as a sweep target (:mod:`ior_ros.experiments.sweep`): :func:`run_cell` from
    JSON-able arguments (``config``: a :class:`ClosedLoopConfig` as a dict). ``out_dir`` is the
    run's folder; the run writes nothing there but its result (the sweep does)."""
    del out_dir
    return run_cell(ClosedLoopConfig.model_validate(config), policy, controller, twin,
                    seed=seed, duration_s=duration_s)


def run_key(policy: str, controller: str, twin: bool, seed: int) -> str:
    """The sweep key of one run (and its folder under ``OUT/runs/``):
    ``dpp/certified/twin/seed2``."""
    return f"{policy}/{controller}/{'twin' if twin else 'no-twin'}/seed{seed}"


def run(ctx: ReproContext) -> FigureResult:
    """Run the table (see the module docstring). Its runs (cells x seeds) are independent: they
    go through a :class:`~ior_ros.experiments.sweep.Sweep` (``--workers``, ``--ray-address``);
    a full run keeps each run's result in ``OUT/runs/<key>/`` and skips finished runs when it is
    run again (``--force``: rerun them); ``--seeds`` replaces the seeds ``1000 * seed + k``."""
    from pathlib import Path

    from ior_ros.experiments.sweep import Sweep, SweepRun
    from ior_ros.runtime.packages import find_package_share

    path = ctx.config_path or find_package_share('ior_ros') / 'config' / 'closed_loop.yaml'
    config = load_config(ClosedLoopConfig, path, ctx.overrides, section='closed_loop')
    duration = config.quick_duration_s if ctx.quick else config.duration_s
    run_seeds = list(ctx.seeds) if ctx.seeds is not None else [
        ctx.seed * 1000 + k for k in range(config.quick_seeds if ctx.quick else config.seeds)]
    seeds = len(run_seeds)
    combos = [(p, c, t) for p in config.policies for c in config.controllers
              for t in config.twin]
    config_doc = config_to_dict(config)
    root = None if ctx.quick else Path(ctx.out_dir) / 'runs'  # --quick: nothing kept
    sweep = Sweep([SweepRun(run_key(p, c, t, s), f'{__name__}:run_one',
                            {'config': config_doc, 'policy': p, 'controller': c, 'twin': t,
                             'seed': s, 'duration_s': duration},
                            None if root is None else root / run_key(p, c, t, s))
                   for p, c, t in combos for s in run_seeds], name=ID)
    outputs = sweep.run(workers=ctx.workers, ray_address=ctx.ray_address, force=ctx.force,
                        progress=ctx.progress)
    cells = [_cell_summary(p, c, t, outputs[i * seeds:(i + 1) * seeds])
             for i, (p, c, t) in enumerate(combos)]
    labels = [f"{c['policy']}/{c['controller']}/{'twin' if c['twin'] else 'no twin'}"
              for c in cells]
    series = {
        'urllc_violation_rate': [c['urllc_violation_rate'] for c in cells],
        'tracking_rmse_m': [c['tracking_rmse_m'] for c in cells],
        'divergences': [c['divergences'] for c in cells],
        'vetoes': [c['vetoes'] for c in cells],
    }
    claims = _claims(cells, seeds)
    return FigureResult(
        id=ID, title='Closed loop: broker policy x controller x twin (issue 12)',
        x_name='cell', x_values=labels, y_name='URLLC violation rate, RMSE [m], counts',
        series=series, claims=claims, config=config_to_dict(config), seed=ctx.seed,
        quick=ctx.quick, extra={'cells': cells, 'duration_s': duration,
                                'seeds_per_cell': seeds},
        plot=_plot)


def _find(cells: list[dict[str, Any]], policy: str, controller: str, twin: bool
          ) -> dict[str, Any] | None:
    for cell in cells:
        if (cell['policy'], cell['controller'], cell['twin']) == (policy, controller, twin):
            return cell
    return None


def _excess_violations(full: dict[str, Any], pf: dict[str, Any]) -> tuple[float, float]:
    """``(mean, half-width)`` of full − PF URLLC violation rate over the paired runs (same
    seeds: the same traffic and bursts). Half-width: the 95 % t-interval of the paired
    differences with two runs or more; with one run, 1.96 binomial standard errors of the
    difference of two rates over the commands sent (a floor on the noise: bursts correlate
    the commands)."""
    from scipy import stats

    a = np.array([r['urllc_violation_rate'] for r in full['runs']], dtype=float)
    b = np.array([r['urllc_violation_rate'] for r in pf['runs']], dtype=float)
    diff = a - b
    if diff.size >= 2:
        half = float(stats.t.ppf(0.975, diff.size - 1) * diff.std(ddof=1) / math.sqrt(diff.size))
    else:
        n = max(1, int(pf['runs'][0].get('commands_sent', 1)))
        p = float((a[0] + b[0]) / 2.0)
        half = 1.96 * math.sqrt(2.0 * p * (1.0 - p) / n)
    return float(diff.mean()), half


def _claims(cells: list[dict[str, Any]], seeds: int) -> list[Claim]:
    claims: list[Claim] = []
    pf = _find(cells, 'pf', 'certified', True)
    for policy in ('dpp', 'drl'):
        full = _find(cells, policy, 'certified', True)
        if full is None:
            continue
        claims.append(Claim(
            text=f'full system ({policy.upper()} broker, certified schedule, twin on): '
                 'no divergence',
            paper='not in the papers (issue 12 requirement)',
            ours=f"{full['divergences']} of {seeds} runs diverged",
            holds=full['divergences'] == 0))
        if pf is not None:
            excess, half = _excess_violations(full, pf)
            claims.append(Claim(
                text=f'full system ({policy.upper()}): URLLC violations no more than PF (same '
                     'controller, twin on; paired runs, beyond noise)',
                paper=PAPER_FIG8,
                ours=f"{policy.upper()} {full['urllc_violation_rate']:.2%} vs PF "
                     f"{pf['urllc_violation_rate']:.2%} (difference {excess:+.2%} "
                     f"± {half:.2%})",
                holds=excess <= half))
    for twin, label in ((True, 'twin on (slips withheld)'), (False, 'twin off')):
        nominal = sum(c['divergences'] for c in cells
                      if c['controller'] == 'nominal' and c['twin'] is twin)
        certified = sum(c['divergences'] for c in cells
                        if c['controller'] == 'certified' and c['twin'] is twin)
        runs = seeds * sum(1 for c in cells if c['controller'] == 'certified' and
                           c['twin'] is twin)
        if runs:
            claims.append(Claim(
                text=f'divergences, nominal gain vs certified schedule, {label}',
                paper='seed 003 Table II: the adjusted gain keeps tracking under violations',
                ours=f'nominal {nominal} vs certified {certified} of {runs} runs each',
                holds=certified <= nominal))
    vetoes_on = sum(c['vetoes'] for c in cells if c['twin'])
    vetoes_off = sum(c['vetoes'] for c in cells if not c['twin'])
    claims.append(Claim(text='twin vetoes (twin on vs off)', paper='seed 000 §III: the twin '
                        'withholds actions it predicts to be harmful',
                        ours=f'{vetoes_on} vs {vetoes_off}', holds=vetoes_off == 0))
    return claims


def _plot(result: FigureResult) -> bytes:
    """Violation rate and RMSE per cell (bars), divergences written above the RMSE bars."""
    from ior_ros.experiments.plotting import figure_png, new_figure

    labels = result.x_values
    fig, axes = new_figure(2, 1, figsize=(max(7.0, 0.65 * len(labels)), 6.4), sharex=True)
    x = np.arange(len(labels))
    viol = np.array(result.series['urllc_violation_rate'], dtype=float)
    rmse = np.array([np.nan if v is None else v for v in result.series['tracking_rmse_m']],
                    dtype=float)
    colours = ['tab:blue' if '/certified/' in str(lab) else 'tab:orange' for lab in labels]
    axes[0].bar(x, viol * 100.0, color=colours)
    axes[0].set_ylabel('URLLC violations [%]')
    axes[1].bar(x, rmse * 1e3, color=colours)
    axes[1].set_ylabel('tracking RMSE [mm]')
    for i, n in enumerate(result.series['divergences']):
        if n:
            axes[1].annotate(f'{n} div.', (i, 0), textcoords='offset points', xytext=(0, 3),
                             ha='center', color='red', fontsize=8)
    axes[1].set_xticks(x)
    axes[1].set_xticklabels(labels, rotation=60, ha='right', fontsize=8)
    axes[0].set_title('closed loop (blue: certified schedule, orange: nominal gain)')
    return figure_png(fig)
