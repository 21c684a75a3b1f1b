"""
The one reference trajectory: the figure eight every tracking model follows.

The lemniscate of Gerono ``r(t) = (a sin ωt, (a/2) sin 2ωt)``, ``ω = 2π / period``, with its
velocity and acceleration (the controllers' feed-forward). A configuration names it
``reference: {amplitude_m, period_s, speed_scale}``
(:class:`~ior_ros.core.control.control_config.ReferenceConfig`); :meth:`FigureEight.from_config`
runs it ``speed_scale`` times faster than nominal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ior_ros.core.control.control_config import ReferenceConfig

__all__ = ['Reference', 'FigureEight']

FloatArray = npt.NDArray[np.float64]


class Reference(NamedTuple):
    """Samples of the reference ``[N, 2]`` each."""

    position_m: FloatArray
    velocity_mps: FloatArray
    acceleration_mps2: FloatArray


@dataclass(frozen=True)
class FigureEight:
    """The lemniscate of Gerono ``(a sin ωt, (a/2) sin 2ωt)``, ``ω = 2π / period``."""

    amplitude_m: float = 1.0
    period_s: float = 10.0

    @classmethod
    def from_config(cls, config: ReferenceConfig) -> FigureEight:
        """The curve a :class:`ReferenceConfig` describes (its period divided by the speed
        scale)."""
        return cls(config.amplitude_m, config.period_s / config.speed_scale)

    @property
    def omega_radps(self) -> float:
        """ω [rad/s]."""
        return 2.0 * math.pi / self.period_s

    def sample(self, time_s: npt.ArrayLike) -> Reference:
        """Position, velocity and acceleration at the given times ``[N]``."""
        t = np.asarray(time_s, dtype=float)  # [N]
        a, w = self.amplitude_m, 2.0 * math.pi / self.period_s
        s1, c1 = np.sin(w * t), np.cos(w * t)
        s2, c2 = np.sin(2 * w * t), np.cos(2 * w * t)
        pos = np.empty(t.shape + (2,))  # [N, 2]
        vel = np.empty(t.shape + (2,))  # [N, 2]
        acc = np.empty(t.shape + (2,))  # [N, 2]
        pos[..., 0], pos[..., 1] = a * s1, 0.5 * a * s2
        vel[..., 0], vel[..., 1] = a * w * c1, a * w * c2
        acc[..., 0], acc[..., 1] = -a * w * w * s1, -2.0 * a * w * w * s2
        return Reference(pos, vel, acc)

    def velocity_at(self, time_s: float) -> tuple[float, float]:
        """
        The velocity ``(v_x, v_y)`` at one time [m/s]: ``sample([t]).velocity_mps[0]`` without
        building arrays (a node's per-tick path). The same operations in the same order through
        the same numpy cosine, so the same bits as :meth:`sample` on every platform (numpy may
        use its own SIMD cosine where ``math.cos`` would use the C library's).
        """
        a, w = self.amplitude_m, 2.0 * math.pi / self.period_s
        t = float(time_s)
        return float(a * w * np.cos(w * t)), float(a * w * np.cos(2 * w * t))

    def state(self, time_s: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """The reference state ``(p_x, v_x, p_y, v_y)`` ``[N, 4]`` and feed-forward ``[N, 2]``."""
        ref = self.sample(time_s)
        state = np.empty(ref.position_m.shape[:-1] + (4,))  # [N, 4]
        state[..., 0::2] = ref.position_m
        state[..., 1::2] = ref.velocity_mps
        return state, ref.acceleration_mps2
