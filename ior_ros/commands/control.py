"""
``ior control``: delay-robust gains.

* ``ior control schedule --max-delay H --out DIR``: the certified gain schedule ``K̂(h)``,
  ``h = 0..H`` (``DIR/schedule.json``) and the plot of the exact lifted spectral radius against the
  delay for the nominal and the scheduled gains (``DIR/spectral_radius.png``).
* ``ior control certify --gain-file F --max-delay H``: is the gain certified for every
  time-varying delay in ``[0, H]``, and with which margins.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ior_ros.commands.common import (
    add_config_options,
    add_out_option,
    input_path,
    number,
)

if TYPE_CHECKING:
    from ior_ros.core.control.control_config import ControlConfig
    from ior_ros.core.control.gain_schedule import GainSchedule
    from ior_ros.core.control.robot_models import DelayedPlant

__all__ = ['register', 'render_spectral_radius_plot']

MAX_DELAY_STEPS = 200
"""Largest delay bound H [samples]; the same limit as ``schedule.max_delay_steps``."""
MAX_SEARCH_STEPS = 2 * MAX_DELAY_STEPS
_DELAY_WHY = ('one LMI solve per delay bound, each growing with it (an H of 200 already takes '
              'minutes per bound); schedule.max_delay_steps has the same limit')
_DELAY = number(int, 0, MAX_DELAY_STEPS, unit='samples', why=_DELAY_WHY)
_SEARCH = number(int, 0, MAX_SEARCH_STEPS, unit='samples', why=(
    'the search solves one LMI per step up to it and the exact test builds a lifted matrix of '
    'that many delay states'))
_WORKERS = number(int, 1, 64, why='one process per worker, each with its own solver and its own '
                                  'copy of the problem in memory')


def register(subparsers: Any) -> None:
    """Add the ``control`` command group."""
    parser = subparsers.add_parser(
        'control', help='delay-robust gains: certified schedule, certification',
        description='Delay-robust control of the teleoperated base (seed 003 lower level): '
                    'Lyapunov-Krasovskii certificates, the certified gain schedule and checks.')
    sub = parser.add_subparsers(dest='control_command', metavar='SUBCOMMAND')
    sub.required = True

    sched = sub.add_parser(
        'schedule', help='build the certified gain schedule K(h), h = 0..H',
        description='Build the certified gain closest to the nominal LQR gain for every delay '
                    'bound h = 0..H (LK certificate for time-varying delays in [0, h], detuned '
                    'LQR + V-K alternation), in parallel over h. Writes DIR/schedule.json, '
                    'DIR/spectral_radius.png and DIR/config.resolved.yaml.')
    add_config_options(sched)
    sched.add_argument('--max-delay', type=_DELAY, required=True, metavar='H',
                       help='largest delay bound [samples] (default config: 30)')
    add_out_option(sched)
    sched.add_argument('--workers', type=_WORKERS, default=None, metavar='N',
                       help='worker processes (default: schedule.workers or min(2, cpu))')
    sched.add_argument('--no-progress', action='store_true', help='no progress bar')
    sched.set_defaults(handler=_schedule)

    cert = sub.add_parser(
        'certify', help='certify a gain for time-varying delays in [0, H]',
        description='Certify u = -K x for every time-varying input delay in [0, H] (LMI (a), '
                    're-verified in floating point) and report the margins: the largest '
                    'certified bound and the exact constant-delay margin (lifted test). '
                    'Exit status 0: certified; 1: not certified; 2: error.',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_options(cert)
    cert.add_argument('--gain-file', type=input_path, required=True, metavar='F',
                      help='JSON: a schedule written by "ior control schedule" (with its '
                           'plant), {"gain": [[..]]} or a plain matrix [[..], ..] (plant from '
                           'the config)')
    cert.add_argument('--max-delay', type=_DELAY, required=True, metavar='H',
                      help='delay bound to certify [samples]')
    which = cert.add_mutually_exclusive_group()
    which.add_argument('--entry', type=_DELAY, default=None, metavar='h',
                       help='with a schedule file: the entry to check (default: H)')
    which.add_argument('--nominal', action='store_true',
                       help='with a schedule file: check its nominal gain')
    cert.add_argument('--decay-rate', type=number(float, 0, 1, low_open=True, why=(
        'the certified decay |x(k)| <= c LAMBDA^k; 1 is plain stability')), default=None,
        metavar='LAMBDA',
                      help='decay rate in (0, 1] (default: certificate.decay_rate)')
    cert.add_argument('--search-limit', type=_SEARCH, default=None, metavar='STEPS',
                      help='search the certified bound up to this (default: max(2H, H + 20))')
    add_out_option(cert, required=False)
    cert.set_defaults(handler=_certify)


def _load_config(args: argparse.Namespace) -> ControlConfig:
    from ior_ros.commands.common import resolve_config
    from ior_ros.core.control.control_config import ControlConfig
    config: ControlConfig = resolve_config(ControlConfig, args)
    return config


def _schedule(args: argparse.Namespace) -> int:
    from ior_ros.commands.common import save_resolved_config
    from ior_ros.commands.progress import terminal_progress
    from ior_ros.core.artifacts import atomic_write_bytes, ensure_out_dir
    from ior_ros.core.config import config_to_dict, validate_config
    from ior_ros.core.control.control_config import ControlConfig
    from ior_ros.core.control.schedule_build import schedule_from_config

    config = _load_config(args)
    data = config_to_dict(config)
    data['schedule']['max_delay_steps'] = args.max_delay
    # validated again (not model_copy), so the field's range applies to --max-delay as well
    config = validate_config(ControlConfig, data)
    out = ensure_out_dir(args.out)
    save_resolved_config(out, config)
    progress = terminal_progress(not args.no_progress)
    with progress('gain schedule', args.max_delay + 1, unit='h') as bar:
        schedule = schedule_from_config(config, args.max_delay, workers=args.workers,
                                        progress=bar.update)
    path = schedule.save(out / 'schedule.json')
    plot = atomic_write_bytes(out / 'spectral_radius.png', render_spectral_radius_plot(schedule))
    print(_schedule_summary(schedule))
    print(f'wrote {path}, {plot}, {out / "config.resolved.yaml"}')
    return 0


def _schedule_summary(schedule: GainSchedule) -> str:
    import numpy as np
    doc = schedule.to_dict()['nominal_delay_margin']
    lines = [f"nominal gain: certified on [0, {doc['certified_steps']}], exact constant-delay "
             f"margin {doc['exact_constant_steps']} samples (unstable from "
             f"{doc['first_unstable_steps']}, growth {doc['growth_per_sample_at_first_unstable']}"
             ' per sample)', '',
             f"{'h':>3}  {'certified':>9}  {'method':>11}  {'|K-K0|_F':>9}  "
             f"{'max rho(d<=h)':>13}  gain row 0"]
    for e in schedule.entries:
        gain = '-' if e.gain is None else np.array2string(e.gain[0], precision=3)
        dist = '-' if e.distance_to_nominal is None else f'{e.distance_to_nominal:.3f}'
        rho = '-' if e.max_spectral_radius is None else f'{e.max_spectral_radius:.5f}'
        lines.append(f'{e.max_delay_steps:>3}  {str(e.certified):>9}  {e.method:>11}  '
                     f'{dist:>9}  {rho:>13}  {gain}')
    return '\n'.join(lines)


def render_spectral_radius_plot(schedule: GainSchedule) -> bytes:
    """
    PNG: exact lifted spectral radius ρ(𝒜(d)) vs constant delay d for the nominal gain, the
    scheduled gain K̂(d) (at its own bound) and the most conservative gain.
    """
    import numpy as np

    from ior_ros.core.control.lifted_stability import spectral_radius_profile
    from ior_ros.experiments.plotting import figure_png, new_figure

    plant = schedule.plant
    nominal = schedule.nominal_spectral_radius
    delays = np.arange(len(nominal))
    fig, ax = new_figure(figsize=(7.5, 4.5))
    ax.plot(delays, nominal, marker='o', ms=3, label='nominal LQR gain')
    sched_d, sched_rho = [], []
    for entry in schedule.entries:
        if entry.certified and entry.gain is not None:
            sched_d.append(entry.max_delay_steps)
            sched_rho.append(spectral_radius_profile(plant.A, plant.B, entry.gain,
                                                     entry.max_delay_steps)[-1])
    ax.plot(sched_d, sched_rho, marker='s', ms=3, label='scheduled gain K(h) at d = h')
    top = schedule.most_conservative_steps
    if top >= 0:
        gain = schedule.entries[top].gain
        ax.plot(delays, spectral_radius_profile(plant.A, plant.B, gain, int(delays[-1])),
                ls='--', label=f'most conservative gain K({top})')
    ax.axhline(1.0, color='k', lw=0.8)
    cert = schedule.nominal_certified_steps
    if cert >= 0:
        ax.axvline(cert, color='tab:green', ls=':', lw=1,
                   label=f'nominal certified bound ({cert})')
    unstable = np.nonzero(nominal >= 1.0)[0]
    if unstable.size:
        ax.axvline(int(unstable[0]), color='tab:red', ls=':', lw=1,
                   label=f'nominal unstable from d = {int(unstable[0])}')
    ax.set_xlabel('constant input delay d [samples]')
    ax.set_ylabel('spectral radius of the lifted loop')
    ax.set_title(f'Exact lifted test, T_s = {plant.sample_period_s * 1e3:g} ms')
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return figure_png(fig)


def _read_gain_file(path: Path, args: argparse.Namespace,
                    config: ControlConfig) -> tuple[DelayedPlant, object, str]:
    """
    (plant, gain, description) from a gain file: a schedule (the file or its folder), a
    ``{"gain": [[..]]}`` document or a plain matrix.
    """
    import dataclasses

    from ior_ros.core.artifacts import artifact_file, check_format, read_json_file
    from ior_ros.core.control.gain_schedule import SCHEDULE_ARTIFACT
    from ior_ros.core.control.robot_models import planar_double_integrator
    from ior_ros.core.errors import ArtifactError, ConfigError
    gain_file = dataclasses.replace(SCHEDULE_ARTIFACT, what='gain file')
    try:
        file = artifact_file(path, gain_file)
        doc = read_json_file(file, gain_file)
        if isinstance(doc, dict) and 'entries' in doc:
            doc = check_format(doc, gain_file, file)
    except ArtifactError as exc:
        raise ArtifactError(f'--gain-file: {exc}') from None
    default_plant = planar_double_integrator(config.plant.sample_period_s, config.plant.axes)
    try:
        return _interpret_gain_document(doc, args, default_plant)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        from ior_ros.core.input_files import display_path
        detail = f'no {exc}' if isinstance(exc, KeyError) else ' '.join(str(exc).split())[:120]
        raise ArtifactError(f'--gain-file {display_path(path)}: malformed document ({detail}); '
                            'expected a schedule, {"gain": [[..]]} or a matrix') from None


def _interpret_gain_document(doc: Any, args: argparse.Namespace,
                             default_plant: DelayedPlant) -> tuple[DelayedPlant, object, str]:
    from ior_ros.core.control.robot_models import DelayedPlant
    from ior_ros.core.errors import ConfigError
    if isinstance(doc, dict) and 'entries' in doc:
        plant = DelayedPlant.from_dict(doc['plant'])
        if args.nominal:
            return plant, doc['nominal_gain'], 'nominal gain of the schedule'
        wanted = args.entry if args.entry is not None else args.max_delay
        for entry in doc['entries']:
            if entry.get('max_delay_steps') == wanted:
                if entry.get('gain') is None:
                    raise ConfigError(f'schedule entry h={wanted} has no gain (not certified: '
                                      f"{entry.get('reason')})")
                return plant, entry['gain'], f'schedule entry h={wanted}'
        raise ConfigError(f'the schedule has no entry h={wanted}; use --entry or --nominal')
    if args.entry is not None or args.nominal:
        raise ConfigError('--entry/--nominal need a schedule file')
    if isinstance(doc, dict) and 'gain' in doc:
        plant = DelayedPlant.from_dict(doc['plant']) if 'plant' in doc else default_plant
        return plant, doc['gain'], 'gain from file'
    if isinstance(doc, list):
        return default_plant, doc, 'matrix from file'
    raise ConfigError(f'--gain-file {args.gain_file}: expected a schedule, {{"gain": [[..]]}} '
                      'or a matrix')


def _certify(args: argparse.Namespace) -> int:
    import numpy as np

    from ior_ros.commands.common import save_resolved_config
    from ior_ros.core.artifacts import atomic_write_json, ensure_out_dir
    from ior_ros.core.control.lifted_stability import exact_delay_margin, spectral_radius_profile
    from ior_ros.core.control.lk_certificate import certified_delay_bound, certify
    from ior_ros.core.control.robot_models import check_gain
    from ior_ros.core.control.schedule_build import lmi_options_from_config
    from ior_ros.core.errors import ControlError

    config = _load_config(args)
    decay = config.certificate.decay_rate if args.decay_rate is None else args.decay_rate
    plant, raw_gain, what = _read_gain_file(args.gain_file, args, config)
    gain = check_gain(plant, raw_gain)
    options = lmi_options_from_config(config)
    h = args.max_delay
    limit = args.search_limit if args.search_limit is not None else max(2 * h, h + 20)
    report: dict[str, Any] = {'gain_file': str(args.gain_file), 'gain_source': what,
                              'gain': gain.tolist(), 'max_delay_steps': h, 'decay_rate': decay}
    try:
        cert = certify(gain, h, decay, plant=plant, options=options)
        report.update(certified=True, normalized_margin=cert.normalized_margin,
                      psi_max_eigenvalues=list(cert.psi_max_eigenvalues),
                      certificate=cert.to_dict())
    except ControlError as exc:
        report.update(certified=False, reason=str(exc))
    bound = certified_delay_bound(gain, max(limit, h), decay, plant=plant, options=options)
    exact = exact_delay_margin(plant.A, plant.B, gain, max(limit, h) + 40, threshold=decay) \
        if plant.delay_form.value == 'input' else None
    profile = spectral_radius_profile(plant.A, plant.B, gain, h) \
        if plant.delay_form.value == 'input' else None
    report['certified_delay_bound_steps'] = bound
    report['certified_delay_bound_searched_up_to'] = max(limit, h)
    if exact is not None and profile is not None:
        report['exact_constant_delay_margin_steps'] = exact.margin_steps
        report['max_spectral_radius_up_to_h'] = float(np.max(profile))
    verdict = 'CERTIFIED' if report['certified'] else 'NOT CERTIFIED'
    print(f'{what}: {verdict} for every time-varying delay in [0, {h}] samples '
          f'(decay rate {decay:g})')
    if report['certified']:
        print(f"  LMI slack (normalised margin): {report['normalized_margin']:.3g}")
    else:
        print(f"  reason: {report['reason']}")
    top = '' if bound < max(limit, h) else ' (or more)'
    print(f'  certified delay bound: [0, {bound}]{top} samples = '
          f'{max(bound, 0) * plant.sample_period_s * 1e3:g} ms')
    if exact is not None and profile is not None:
        print(f'  exact constant-delay margin: {exact.margin_steps} samples; '
              f'max spectral radius for d <= {h}: {float(np.max(profile)):.5f}')
    if args.out is not None:
        out = ensure_out_dir(args.out)
        save_resolved_config(out, config)
        print(f"wrote {atomic_write_json(out / 'certify.json', report)}")
    return 0 if report['certified'] else 1
