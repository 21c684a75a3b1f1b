"""
``ior train slicing [--config F] --steps N --out DIR``: train the seed-003 dual-agent slicer.

Writes into DIR: ``config.resolved.yaml``, ``metrics.csv`` (one row per episode: returns of both
agents, queues, violation rate, rates, λ, losses), ``checkpoint.pt`` (every
``train.checkpoint_every_episodes`` episodes and at the end; ``--resume`` continues from it
exactly), ``policy.npz`` (the deployable actors, see :mod:`ior_ros.core.slicing.policy`) and
``policy.json`` (command, seed, steps, training wall time, final λ).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from ior_ros.commands.common import add_config_options, add_out_option, number, seed_number

__all__ = ['register_train', 'MAX_TRAIN_SLOTS']

MAX_TRAIN_SLOTS = 100_000_000
"""Most environment slots one ``ior train slicing`` may run (train.steps has the same limit)."""


def register_train(subparsers: Any) -> None:
    """Add ``slicing`` to the ``train`` group."""
    parser = subparsers.add_parser(
        'slicing', help='dual-agent TD3 slicer of seed 003 (eMBB + URLLC teleoperation)',
        description='Train the two agents (eMBB, URLLC) of seed 003 Algorithm 1 with a Lagrange '
                    'multiplier on the URLLC reliability constraint. Configuration keys: '
                    'config/slicing.yaml (env, agent, train, eval).')
    add_config_options(parser)
    parser.add_argument('--steps', type=number(int, 1, MAX_TRAIN_SLOTS, unit='slots', why=(
        'training takes about a millisecond per slot, so the limit is already more than a day')),
        default=None,
                        help='environment slots to train for (default: train.steps)')
    add_out_option(parser)
    parser.add_argument('--seed', type=seed_number(), default=None,
                        help='random seed (default: train.seed)')
    parser.add_argument('--resume', action='store_true',
                        help='continue from DIR/checkpoint.pt when it exists')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import torch

    from ior_ros.commands.common import resolve_config
    from ior_ros.commands.progress import terminal_progress
    from ior_ros.core.slicing.config import SlicingRunConfig
    from ior_ros.experiments.slicing_runs import train_slicing

    torch.set_num_threads(1)
    config = resolve_config(SlicingRunConfig, args)
    command = 'ior ' + ' '.join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else ''
    outcome = train_slicing(config, args.out, steps=args.steps, seed=args.seed,
                            resume=args.resume, progress=terminal_progress(not args.no_progress),
                            command=command)
    last = outcome.episodes[-1] if outcome.episodes else {}
    print(f'trained {outcome.total_steps} slots in {outcome.wall_s:.1f} s '
          f'({len(outcome.episodes)} episodes'
          + (f', resumed at {outcome.resumed_from_steps}' if outcome.resumed_from_steps else '')
          + f'); last episode: violation rate {last.get("violation_rate", float("nan")):.4f}, '
          f'λ {outcome.lagrange_multiplier:.3f}')
    print(f'wrote {outcome.out_dir}/policy.npz, metrics.csv, checkpoint.pt')
    return 0
