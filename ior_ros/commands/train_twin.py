"""
``ior train twin``: twin-assisted SAC (seed 000 §III) on a gymnasium environment.

    ior train twin --env Hopper-v5 --variant twin_gan --epochs 50 --seed 0 --out runs/tg/seed0

Writes the run folder of :mod:`ior_ros.experiments.twin_training` (``epochs.csv`` with reward and
falls per epoch, ``checkpoint.pt``, ``agent.pt``, ``twin/twin.pt``, ``config.resolved.yaml``,
``run.json``); ``--resume`` continues an interrupted run from its last checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ior_ros.commands.common import add_config_options, number, output_folder, seed_number

if TYPE_CHECKING:
    from ior_ros.core.rl.twin_sac import TwinTrainConfig

__all__ = ['register_train', 'resolve_train_config']

MAX_EPOCHS = 10_000
MAX_EPOCH_STEPS = 1_000_000
_EPOCHS = number(int, 1, MAX_EPOCHS, why='each epoch is --epoch-steps environment steps of '
                                         'training; the limit is weeks on two cores')
_EPOCH_STEPS = number(int, 1, MAX_EPOCH_STEPS, unit='steps', why=(
    'an epoch is checkpointed only at its end, and its rows and transitions are held in memory '
    'until then'))
_EVAL_EPISODES = number(int, 0, 1000, why='the evaluation episodes run after every epoch')

VARIANT_HELP = ('sac: SAC alone; twin: + world model (twin buffer, risk gate); '
                'twin_gan: + GAN samples through the world model')


def register_train(subparsers: Any) -> None:
    """Add ``twin`` to the ``ior train`` group."""
    parser = subparsers.add_parser(
        'twin', help='twin-assisted SAC (seed 000 Fig. 4): sac, twin or twin_gan',
        description='Train SAC with or without the digital twin (world model, GAN, risk gate) '
                    'and write reward and falls per epoch. Defaults: config/twin.yaml.')
    parser.add_argument('--env', default=None, metavar='ID',
                        help='gymnasium environment id with Box spaces (default: Hopper-v5); '
                             'also ior/RobotTracking-v0 and ior/TeleopSlicing-v0')
    parser.add_argument('--variant', choices=('sac', 'twin', 'twin_gan'), default=None,
                        help=VARIANT_HELP + ' (default: twin_gan)')
    parser.add_argument('--epochs', type=_EPOCHS, default=None,
                        help='epochs to run (default 50)')
    parser.add_argument('--epoch-steps', type=_EPOCH_STEPS, default=None,
                        help='real environment steps per epoch (default 1000; smaller for tests)')
    parser.add_argument('--seed', type=seed_number(), default=None, help='random seed (0)')
    parser.add_argument('--eval-episodes', type=_EVAL_EPISODES, default=None,
                        help='deterministic evaluation episodes after each epoch (5)')
    parser.add_argument('--out', type=output_folder(), required=True, metavar='DIR',
                        help='run folder (created; files written atomically)')
    parser.add_argument('--resume', action='store_true',
                        help='continue the run in --out from its last checkpoint')
    parser.add_argument('--checkpoint-every', type=_EPOCHS, default=1, metavar='N',
                        help='epochs between checkpoints (default 1)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    add_config_options(parser)
    parser.set_defaults(handler=_run)


def resolve_train_config(args: argparse.Namespace) -> TwinTrainConfig:
    """Defaults ← ``--config`` ← ``--set`` ← the explicit flags (``--env``, ``--variant``, …)."""
    from ior_ros.core.config import config_to_dict, load_config, validate_config
    from ior_ros.core.rl.twin_sac import TwinTrainConfig
    base = load_config(TwinTrainConfig, args.config, args.overrides, what='--config')
    flags = {'env_id': args.env, 'variant': args.variant, 'epochs': args.epochs,
             'epoch_steps': args.epoch_steps, 'seed': args.seed,
             'eval_episodes': getattr(args, 'eval_episodes', None)}
    data = config_to_dict(base)
    data.update({k: v for k, v in flags.items() if v is not None})
    config: TwinTrainConfig = validate_config(TwinTrainConfig, data)
    return config


def _run(args: argparse.Namespace) -> int:
    import torch

    from ior_ros.commands.progress import terminal_progress
    from ior_ros.experiments.twin_training import run_twin_training
    torch.set_num_threads(1)
    config = resolve_train_config(args)
    rows = run_twin_training(config, args.out, progress=terminal_progress(not args.no_progress),
                             resume=args.resume, checkpoint_every=args.checkpoint_every,
                             command=['ior', *sys.argv[1:]])
    if rows:
        last = rows[-1]
        falls = sum(int(r['falls']) for r in rows)
        print(f'{config.variant} seed {config.seed}: {len(rows)} epochs, reward at the last epoch '
              f'{float(last["reward"]):.1f}, falls in total {falls}; wrote {args.out}/epochs.csv')
    return 0
