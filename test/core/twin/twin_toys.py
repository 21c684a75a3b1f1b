"""The toy twin the gate, risk and planner tests share (test/core/twin/conftest.py builds it)."""

from __future__ import annotations

import numpy as np
import torch

from ior_ros.core.twin.buffers import Transitions
from ior_ros.core.twin.twin import DigitalTwin, TwinSpec
from ior_ros.core.twin.world_model import WorldModelConfig

TOY_SPEC = TwinSpec.from_bounds(2, act_low=[-1.0, -1.0], act_high=[1.0, 1.0])


def toy_falls(obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
    """A fall: the first coordinate below -0.5."""
    return np.atleast_2d(next_obs)[:, 0] < -0.5


def train_toy_twin(fit_steps: int, n: int = 3000) -> tuple[DigitalTwin, Transitions]:
    """A 3-member twin trained on s' = s + 0.5 a, r = a_0 (the first action component is the
    reward), and its training data."""
    rng = np.random.default_rng(0)
    s = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    a = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    data = Transitions(s, a, a[:, 0].copy(), s + 0.5 * a, np.zeros(n, bool))
    model = DigitalTwin(TOY_SPEC, WorldModelConfig(ensemble_size=3, hidden_sizes=(64, 64)),
                        toy_falls, torch.Generator().manual_seed(0))
    model.fit(data, fit_steps, rng)
    return model, data
