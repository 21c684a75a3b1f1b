"""
``ior train SUBCOMMAND``: the training command group.

Each subcommand lives in its own module that exposes ``register_train(subparsers)`` (it adds one
parser to the ``train`` group and sets ``handler``). The modules are listed in
:data:`TRAIN_SUBCOMMAND_MODULES`; a listed module that does not exist yet is skipped, so a later
issue adds a subcommand by creating its module (``ior_ros.commands.train_slicing`` for
``ior train slicing``) without touching this file. Code outside the list can also call
:func:`register_train_subcommand` before the parser is built.
"""

from __future__ import annotations

import argparse
from typing import Any

from ior_ros.commands import import_available

__all__ = ['register', 'register_train_subcommand', 'TRAIN_SUBCOMMAND_MODULES']

TRAIN_SUBCOMMAND_MODULES: list[str] = [
    'ior_ros.commands.train_twin',     # `ior train twin` (twin-assisted SAC, Hopper)
    'ior_ros.commands.train_slicing',  # `ior train slicing`
]


def register_train_subcommand(module_name: str) -> None:
    """Add a module (with ``register_train(subparsers)``) to the ``train`` group."""
    if module_name not in TRAIN_SUBCOMMAND_MODULES:
        TRAIN_SUBCOMMAND_MODULES.append(module_name)


def register(subparsers: Any) -> None:
    """Add the ``train`` group and every available subcommand."""
    parser = subparsers.add_parser(
        'train', help='train an agent (twin-assisted SAC, slicing agents)',
        description='Train an agent; every run writes into --out DIR (resolved config, per-epoch '
                    'CSV, checkpoints).')
    group = parser.add_subparsers(dest='train_command', metavar='SUBCOMMAND')
    group.required = True
    for module in import_available(TRAIN_SUBCOMMAND_MODULES):
        module.register_train(group)
    parser.set_defaults(handler=lambda args: _no_subcommand(parser))


def _no_subcommand(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2
