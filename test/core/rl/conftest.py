"""RL tests run torch on one thread (small networks are faster so, and CI has two cores)."""

from __future__ import annotations

import torch

torch.set_num_threads(1)
