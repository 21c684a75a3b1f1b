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

from ior_ros.commands.common import add_config_options, non_negative_int, positive_int

if TYPE_CHECKING:
    from ior_ros.core.rl.twin_sac import TwinTrainConfig

__all__ = ['register_train', 'resolve_train_config']

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
    parser.add_argument('--epochs', type=positive_int, default=None,
                        help='epochs to run (default 50)')
    parser.add_argument('--epoch-steps', type=positive_int, default=None,
                        help='real environment steps per epoch (default 1000; smaller for tests)')
    parser.add_argument('--seed', type=non_negative_int, default=None, help='random seed (0)')
    parser.add_argument('--eval-episodes', type=non_negative_int, default=None,
                        help='deterministic evaluation episodes after each epoch (5)')
    parser.add_argument('--out', required=True, metavar='DIR',
                        help='run folder (created; files written atomically)')
    parser.add_argument('--resume', action='store_true',
                        help='continue the run in --out from its last checkpoint')
    parser.add_argument('--checkpoint-every', type=positive_int, default=1, metavar='N',
                        help='epochs between checkpoints (default 1)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    add_config_options(parser)
    parser.set_defaults(handler=_run)


def resolve_train_config(args: argparse.Namespace) -> TwinTrainConfig:
    """Defaults ← ``--config`` ← ``--set`` ← the explicit flags (``--env``, ``--variant``, …)."""
    from ior_ros.core.config import config_to_dict, load_config
    from ior_ros.core.errors import ConfigError
    from ior_ros.core.rl.twin_sac import TwinTrainConfig
    if args.config is not None and not args.config.is_file():
        raise ConfigError(f'--config {str(args.config)!r}: no such file')
    base = load_config(TwinTrainConfig, args.config, args.overrides)
    flags = {'env_id': args.env, 'variant': args.variant, 'epochs': args.epochs,
             'epoch_steps': args.epoch_steps, 'seed': args.seed,
             'eval_episodes': getattr(args, 'eval_episodes', None)}
    data = config_to_dict(base)
    data.update({k: v for k, v in flags.items() if v is not None})
    config: TwinTrainConfig = _validate(TwinTrainConfig, data)
    return config


def _validate(model: Any, data: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    from ior_ros.core.config import format_validation_error
    from ior_ros.core.errors import ConfigError
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, model=model)) from None


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
