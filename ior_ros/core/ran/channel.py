"""
Radio channel: distance path loss and Rayleigh block fading.

Every random draw comes from an explicit :class:`numpy.random.Generator` passed by the caller.

Rayleigh scale convention (used by seed 003, which varies the "Rayleigh scale" σ in Fig. 5): the
complex channel coefficient is ``h = σ (x + j y)`` with ``x, y ~ N(0, 1)`` i.i.d., so the amplitude
``|h|`` is Rayleigh distributed with parameter σ (``numpy.random.Generator.rayleigh(scale=σ)``) and
the power gain ``|h|²`` is exponential with mean ``2 σ²``. σ = 1/√2 gives unit mean power. See
docs/models/ran.md.

This is the one path-loss function of the radio model: :class:`PathLossConfig` is a field of
:class:`ior_ros.core.ran.link_budget.LinkConfig`, which every radio simulator embeds.
"""

from __future__ import annotations

import math
from enum import Enum

import numpy as np
import numpy.typing as npt

from ior_ros.core.config import FrozenModel
from ior_ros.core.errors import ModelError

__all__ = ['PathLossKind', 'PathLossConfig', 'path_loss_db', 'rayleigh_power_gain',
           'block_fading_power_gain', 'mean_power_gain']

FloatArray = npt.NDArray[np.float64]

SPEED_OF_LIGHT_M_PER_S = 299_792_458.0


class PathLossKind(str, Enum):
    """Path-loss models; each cites its source in :func:`path_loss_db`."""

    NONE = 'none'
    FIXED = 'fixed'
    FREE_SPACE = 'free_space'
    LOG_DISTANCE = 'log_distance'
    UMI_LOS = '3gpp_umi_los'
    INH_OFFICE_LOS = '3gpp_inh_los'


class PathLossConfig(FrozenModel):
    """
    Configuration of the path loss. Default: log-distance, exponent 3, free-space loss at 1 m,
    3.5 GHz (docs/models/ran.md says why).
    """

    kind: PathLossKind = PathLossKind.LOG_DISTANCE
    carrier_hz: float = 3.5e9
    """Carrier frequency [Hz] (3.5 GHz: NR band n78)."""
    reference_distance_m: float = 1.0
    """d0 of the log-distance model [m]."""
    reference_loss_db: float | None = None
    """PL(d0) [dB] of the log-distance model; free-space loss at d0 when None."""
    exponent: float = 3.0
    """Path-loss exponent n of the log-distance model."""
    min_distance_m: float = 1.0
    """Distances below this are clamped (the models are not valid in the near field) [m]."""
    fixed_loss_db: float = 0.0
    """The loss of kind ``fixed``, the same for every link whatever its distance [dB]."""

    @property
    def depends_on_distance(self) -> bool:
        """False for ``none`` and ``fixed`` (the loss is the same at every distance)."""
        return self.kind not in (PathLossKind.NONE, PathLossKind.FIXED)


def _free_space_db(distance_m: FloatArray, carrier_hz: float) -> FloatArray:
    # Friis: PL = 20 log10(4 π d f / c)
    return np.asarray(20.0 * np.log10(4.0 * math.pi * distance_m * carrier_hz
                                      / SPEED_OF_LIGHT_M_PER_S), dtype=float)


def path_loss_db(distance_m: float | FloatArray, config: PathLossConfig) -> FloatArray:
    """
    Path loss [dB] at the given distances [m].

    Models:
        * ``none``: 0 dB (the seeds' normalized channels).
        * ``fixed``: ``fixed_loss_db`` at every distance (a normalized channel with a given
          coupling loss, e.g. seed 003's slicing cell, which has no distance law).
        * ``free_space``: Friis, ``20 log10(4π d f_c / c)``.
        * ``log_distance``: ``PL(d0) + 10 n log10(d / d0)`` (Rappaport, Wireless Communications,
          2nd ed., eq. 4.68).
        * ``3gpp_umi_los``: ``32.4 + 21 log10(d) + 20 log10(f_c / 1 GHz)`` (3GPP TR 38.901 Table
          7.4.1-1, UMi-Street Canyon LOS, PL1, d ≤ d_BP).
        * ``3gpp_inh_los``: ``32.4 + 17.3 log10(d) + 20 log10(f_c / 1 GHz)`` (TR 38.901 Table
          7.4.1-1, InH-Office LOS).

    Raises:
        ModelError: a negative or non-finite distance.
    """
    d = np.asarray(distance_m, dtype=float)
    if not np.all(np.isfinite(d)) or np.any(d < 0):
        raise ModelError(f'distance_m = {distance_m!r}: must be finite and >= 0')
    d = np.maximum(d, config.min_distance_m)
    fc_ghz = config.carrier_hz / 1e9
    if config.kind is PathLossKind.NONE:
        return np.zeros_like(d)
    if config.kind is PathLossKind.FIXED:
        return np.full_like(d, config.fixed_loss_db)
    if config.kind is PathLossKind.FREE_SPACE:
        return _free_space_db(d, config.carrier_hz)
    if config.kind is PathLossKind.LOG_DISTANCE:
        d0 = config.reference_distance_m
        pl0 = (config.reference_loss_db if config.reference_loss_db is not None
               else float(_free_space_db(np.asarray(d0), config.carrier_hz)))
        return np.asarray(pl0 + 10.0 * config.exponent * np.log10(d / d0), dtype=float)
    if config.kind is PathLossKind.UMI_LOS:
        return np.asarray(32.4 + 21.0 * np.log10(d) + 20.0 * np.log10(fc_ghz), dtype=float)
    if config.kind is PathLossKind.INH_OFFICE_LOS:
        return np.asarray(32.4 + 17.3 * np.log10(d) + 20.0 * np.log10(fc_ghz), dtype=float)
    raise ModelError(f'unknown path-loss kind {config.kind!r}')  # pragma: no cover


def _check_scale(scale: float) -> None:
    if not (math.isfinite(scale) and scale > 0):
        raise ModelError(f'rayleigh scale = {scale!r}: must be a finite number > 0')


def mean_power_gain(scale: float) -> float:
    """E|h|² = 2 σ² for Rayleigh amplitude scale σ."""
    _check_scale(scale)
    return 2.0 * scale * scale


def rayleigh_power_gain(rng: np.random.Generator, shape: tuple[int, ...],
                        scale: float = 1.0 / math.sqrt(2.0)) -> FloatArray:
    """
    Independent Rayleigh power gains ``|h|²`` (exponential, mean 2σ²).

    Args:
        rng: the random generator.
        shape: output shape, e.g. ``[n_slots, n_ue, n_prb]``.
        scale: Rayleigh amplitude parameter σ.

    Returns:
        ``[*shape]`` float64 power gains (linear).
    """
    _check_scale(scale)
    return rng.exponential(2.0 * scale * scale, size=shape)


def block_fading_power_gain(rng: np.random.Generator, n_slots: int, n_ue: int, n_res: int,
                            scale: float = 1.0 / math.sqrt(2.0), coherence_slots: int = 1,
                            coherence_res: int = 1) -> FloatArray:
    """
    Rayleigh block fading: a gain is constant over ``coherence_slots`` slots and ``coherence_res``
    adjacent resources (PRBs or subcarriers), independent across blocks and UEs.

    Returns:
        ``[n_slots, n_ue, n_res]`` power gains.
    """
    for name, value in (('n_slots', n_slots), ('n_ue', n_ue), ('n_res', n_res),
                        ('coherence_slots', coherence_slots), ('coherence_res', coherence_res)):
        if value < 1:
            raise ModelError(f'{name} = {value}: must be >= 1')
    t_blocks = -(-n_slots // coherence_slots)
    f_blocks = -(-n_res // coherence_res)
    # [t_blocks, n_ue, f_blocks]
    blocks = rayleigh_power_gain(rng, (t_blocks, n_ue, f_blocks), scale)
    if coherence_slots == 1 and coherence_res == 1:
        return blocks  # one block per (slot, resource): nothing to repeat
    gains = np.repeat(np.repeat(blocks, coherence_slots, axis=0), coherence_res, axis=2)
    return np.ascontiguousarray(gains[:n_slots, :, :n_res])
