"""
``ior eval SUBCOMMAND``: evaluate a trained model or a baseline on held-out seeds.

``ior eval slicing --policy DIR|pf|rr|maxweight|dpp --episodes N --out DIR`` runs the seed-003
slicing environment on the held-out channel seeds ``eval.first_seed + k`` and writes
``eval.json`` (per-user rates, URLLC delay-violation rate and reliability against χ, queues and
their growth, delays, DI), ``eval_episodes.csv`` and ``config.resolved.yaml``.

Other groups add subcommands by listing a module with ``register_eval(subparsers)`` in
:data:`EVAL_SUBCOMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any

from ior_ros.commands.common import add_config_options, add_out_option, number

__all__ = ['register', 'EVAL_SUBCOMMAND_MODULES']

EVAL_SUBCOMMAND_MODULES: list[str] = []

MAX_EVAL_EPISODES = 1000
MAX_EVAL_SLOTS = 1_000_000
_KEPT = ("every slot's URLLC delays are kept for the percentiles (about 150 bytes per slot and "
         'episode)')


def register(subparsers: Any) -> None:
    """Add the ``eval`` group."""
    parser = subparsers.add_parser(
        'eval', help='evaluate a trained policy or a baseline',
        description='Evaluate on held-out seeds; results go into --out DIR.')
    group = parser.add_subparsers(dest='eval_command', metavar='SUBCOMMAND')
    group.required = True
    _register_slicing(group)
    for module_name in EVAL_SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        module.register_eval(group)
    parser.set_defaults(handler=lambda args: _no_subcommand(parser))


def _no_subcommand(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _register_slicing(group: Any) -> None:
    parser = group.add_parser(
        'slicing', help='the seed-003 slicer or a baseline on held-out channel seeds',
        description='Evaluate a trained slicing policy (a folder with policy.npz, e.g. the '
                    'shipped config/policies/seed003_slicing) or a baseline: pf (proportional '
                    'fair), rr (round robin), maxweight, dpp (per-slot drift-plus-penalty). '
                    'The cell comes from --config/--set when given, else from the policy '
                    "(baselines: the defaults of config/slicing.yaml's env section).")
    parser.add_argument('--policy', required=True, metavar='DIR|pf|rr|maxweight|dpp',
                        help='policy folder/file or baseline name')
    parser.add_argument('--episodes', type=number(int, 1, MAX_EVAL_EPISODES, why=_KEPT),
                        default=None,
                        help='held-out episodes (default: eval.episodes)')
    parser.add_argument('--slots', type=number(int, 1, MAX_EVAL_SLOTS, why=_KEPT), default=None,
                        help='slots per episode (default: eval.episode_slots)')
    add_config_options(parser)
    add_out_option(parser)
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.set_defaults(handler=_run_slicing)


def _run_slicing(args: argparse.Namespace) -> int:
    import numpy as np

    from ior_ros.commands.common import resolve_config
    from ior_ros.commands.progress import terminal_progress
    from ior_ros.core.artifacts import atomic_write_csv, atomic_write_json, atomic_write_yaml
    from ior_ros.core.config import config_to_dict
    from ior_ros.core.errors import ConfigError
    from ior_ros.core.slicing.config import SlicingRunConfig
    from ior_ros.experiments.slicing_runs import (
        POLICY_NAMES,
        compare_table,
        evaluate_slicing,
        policy_env_config,
    )

    config = resolve_config(SlicingRunConfig, args)
    policy: str | Path = args.policy
    env_config = config.env
    if args.policy not in POLICY_NAMES:
        path = Path(args.policy)
        folder = path if path.is_dir() else path.parent
        if not path.exists():
            raise ConfigError(f'--policy {args.policy!r}: no such folder or file, and not one '
                              f'of {", ".join(POLICY_NAMES)}')
        if args.config is None and not args.overrides and (folder / 'policy.json').is_file():
            env_config = policy_env_config(folder)
        policy = path
    episodes = args.episodes or config.eval.episodes
    slots = args.slots or config.eval.episode_slots
    outcome = evaluate_slicing(policy, env_config, episodes, slots, config.eval.first_seed,
                               progress=terminal_progress(not args.no_progress))
    out = args.out
    atomic_write_yaml(out / 'config.resolved.yaml',
                      {**config_to_dict(config), 'env': config_to_dict(env_config)})
    summary = outcome.summary()
    summary['policy'] = str(args.policy)
    atomic_write_json(out / 'eval.json', summary)
    atomic_write_csv(out / 'eval_episodes.csv', ['episode', 'seed', 'violation_rate'],
                     [[k, seed, rate] for k, (seed, rate) in
                      enumerate(zip(outcome.seeds, outcome.per_episode_violation_rate))])
    print(compare_table([outcome]))
    print(f'reliability {outcome.reliability:.4f} (target χ = {env_config.reliability}); '
          f'queue growth ratio {outcome.queue_growth_ratio:.2f}; '
          f'mean per-user rate {np.mean(outcome.embb_rate_mbps + outcome.urllc_rate_mbps):.2f} '
          'Mb/s')
    print(f'wrote {out}/eval.json, eval_episodes.csv, config.resolved.yaml')
    return 0
