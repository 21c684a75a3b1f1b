"""
Per-dimension standardization ``z = (x - μ) / σ`` kept inside a module's ``state_dict``.

The statistics are buffers (not parameters): they are saved and loaded with the network they
belong to, so a twin loaded from disk normalizes exactly as it did when it was trained. ``σ`` is
floored at ``min_std`` so that a constant input dimension (for example a joint at its limit in
every sample) maps to 0 instead of dividing by zero.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ior_ros.core.errors import DimensionError

__all__ = ['Standardizer']


class Standardizer(nn.Module):
    """Standardizes ``[..., dim]`` tensors with stored mean and standard deviation."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, dim: int, min_std: float = 1e-6) -> None:
        super().__init__()
        self.dim = dim
        self.min_std = min_std
        self.register_buffer('mean', torch.zeros(dim))  # [dim]
        self.register_buffer('std', torch.ones(dim))  # [dim]

    def fit(self, data: np.ndarray) -> None:
        """Set ``μ`` and ``σ`` from ``data`` of shape ``[N, dim]`` (statistics in float64)."""
        array = np.asarray(data, dtype=np.float64)  # [N, dim]
        if array.ndim != 2 or array.shape[1] != self.dim or array.shape[0] < 1:
            raise DimensionError(f'Standardizer.fit: expected [N >= 1, {self.dim}], '
                                 f'got {list(array.shape)}')
        mean = array.mean(axis=0)  # [dim]
        std = np.maximum(array.std(axis=0), self.min_std)  # [dim]
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.std.copy_(torch.as_tensor(std, dtype=torch.float32))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - μ) / σ``; ``x``: ``[..., dim]``."""
        return (x - self.mean) / self.std  # [..., dim]

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        """``z σ + μ``; ``z``: ``[..., dim]``."""
        return z * self.std + self.mean  # [..., dim]
