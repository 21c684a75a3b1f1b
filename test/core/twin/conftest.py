"""
Twin tests run torch on one thread (small networks are faster so, and CI has two cores).
``toy_twin(fit_steps)``: the toy twin of twin_toys.py, built once per fit length in a session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope='session')
def toy_twin() -> Callable[[int], Any]:
    """``toy_twin(fit_steps)`` → (twin, its training data), cached per ``fit_steps``."""
    from twin_toys import train_toy_twin

    built: dict[int, Any] = {}

    def make(fit_steps: int) -> Any:
        if fit_steps not in built:
            built[fit_steps] = train_toy_twin(fit_steps)
        return built[fit_steps]

    return make
