"""
The robots behind the URLLC users: where each robot's dexterity index DI comes from.

The slicing environment closes the loop of seed 003 Fig. 1: PRBs -> URLLC rate -> command delay
-> the robot's delayed-command tracking of a figure-eight -> tracking, orientation and curvature
errors -> DI (eq. 3) -> URLLC service rate (eq. 4). This module is the adapter between the
environment and the control package (``ior_ros.core.control``): the environment only sees
:class:`DexterityModel`.

* :class:`FixedDexterity`: every robot has the same constant DI (open loop; used to sweep DI).
* :class:`TrackingDexterity`: the closed loop, backed by the one tracking dynamics
  (:mod:`ior_ros.core.control.tracking_dynamics`) and :mod:`ior_ros.core.control.dexterity`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from ior_ros.core.errors import DimensionError, ModelError
from ior_ros.core.slicing.config import DexterityMode, SlicingEnvConfig

__all__ = ['DexterityModel', 'FixedDexterity', 'make_dexterity_model']

FloatArray = npt.NDArray[np.float64]


class DexterityModel(Protocol):
    """What the environment needs from the robots (one robot per URLLC user)."""

    def reset(self, rng: np.random.Generator) -> FloatArray:
        """Start a new episode; return the initial DI ``[n_u]`` in [0, 1]."""
        ...

    def advance(self, command_delay_s: FloatArray) -> FloatArray:
        """
        One controller sample of every robot, with commands that are ``command_delay_s`` ``[n_u]``
        old [s]; return the updated DI ``[n_u]`` in [0, 1].
        """
        ...


class FixedDexterity:
    """Every robot reports the same DI, whatever the delay (open loop)."""

    def __init__(self, n_robots: int, value: float) -> None:
        if n_robots < 1:
            raise ModelError(f'n_robots = {n_robots}: must be >= 1')
        if not 0.0 <= value <= 1.0:
            raise ModelError(f'fixed DI = {value!r}: must be in [0, 1]')
        self._di = np.full(n_robots, float(value))

    def reset(self, rng: np.random.Generator) -> FloatArray:
        """The constant DI."""
        return self._di.copy()

    def advance(self, command_delay_s: FloatArray) -> FloatArray:
        """The constant DI (the delay has no effect)."""
        if np.shape(command_delay_s) != self._di.shape:
            raise DimensionError(f'command_delay_s has shape {np.shape(command_delay_s)}; '
                                 f'expected {self._di.shape}')
        return self._di.copy()


def make_dexterity_model(config: SlicingEnvConfig) -> DexterityModel:
    """The DI source the configuration asks for (``task.mode``)."""
    if config.task.mode is DexterityMode.FIXED:
        return FixedDexterity(config.n_urllc, config.task.fixed_di)
    from ior_ros.core.slicing.teleop_tracking import TrackingDexterity
    return TrackingDexterity(config)
