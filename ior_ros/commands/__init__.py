"""Sub-commands of the `ior` command line."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from types import ModuleType

__all__ = ['import_available']


def import_available(module_names: Iterable[str]) -> Iterator[ModuleType]:
    """
    Import each listed command module, skipping one that does not exist (a command group not
    built yet); an import error inside an existing module is raised, never hidden.
    """
    for module_name in module_names:
        try:
            yield importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
