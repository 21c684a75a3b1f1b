"""
The radio link model: one configuration (:class:`LinkConfig`) and one set of functions that every
radio simulator embeds (the cell simulator as ``CellConfig.link``, the coexistence simulator as
``RadioConfig.link``, the slicing environment as ``SlicingEnvConfig.link``), so a policy trained
in one sees the same radio as the simulator it is deployed against.

Model of the link from the gNB to UE ``i`` on resource block (RB) ``j`` in slot ``t``:

* transmit power ``P`` per RB [dBm] (``tx_power_dbm_per_rb``; equal power on every RB);
* noise ``N`` per RB [dBm]: a given value (``noise_dbm_per_rb``), or thermal noise over the RB
  bandwidth plus the receiver noise figure, ``-174 dBm/Hz + 10 log10(B_RB) + NF``;
* path loss ``PL_i`` [dB] of the UE's distance (:func:`ior_ros.core.ran.channel.path_loss_db`;
  kind ``fixed`` for a loss that does not depend on distance);
* Rayleigh block fading ``g_ij(t) = |h_ij(t)|²``, exponential with mean ``2σ²`` (σ the amplitude
  scale, :mod:`ior_ros.core.ran.channel`), constant over ``coherence_slots`` slots and
  ``coherence_rbs`` adjacent RBs;
* SNR ``γ_ij(t) = P g_ij(t) 10^(-PL_i/10) / N``; the mean SNR before fading is
  ``γ̄_i = P 10^(-PL_i/10) / N`` (the mean over the fading is ``2σ² γ̄_i``);
* rate per RB: Shannon, ``r_ij = B_RB log2(1 + γ_ij)`` (seed 003 eq. 1). The finite-blocklength
  rate (:mod:`ior_ros.core.ran.rates`) takes the same SNR.

The choices (noise per what bandwidth, power per what unit, default path loss) and the papers'
values (:data:`LINK_PRESETS`) are in docs/models/ran.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from ior_ros.core.config import FrozenModel
from ior_ros.core.errors import DimensionError
from ior_ros.core.ran.channel import (
    PathLossConfig,
    PathLossKind,
    block_fading_power_gain,
    path_loss_db,
    rayleigh_power_gain,
)
from ior_ros.core.ran.fast_fading import FastRateSampler
from ior_ros.core.ran.rates import shannon_rate_bps, snr_linear

__all__ = ['THERMAL_NOISE_DBM_PER_HZ', 'LinkConfig', 'LINK_PRESETS', 'link_preset',
           'thermal_noise_dbm', 'upgrade_link_keys', 'RateDraw']

FloatArray = npt.NDArray[np.floating]
F64Array = npt.NDArray[np.float64]
RateDraw = Callable[[], FloatArray]
"""A callable returning one draw of per-RB rates [bit/s]."""

THERMAL_NOISE_DBM_PER_HZ = -174.0
"""Thermal noise density k T0 at T0 = 290 K, -173.98 dBm/Hz, rounded as 3GPP does."""


def thermal_noise_dbm(bandwidth_hz: float, noise_figure_db: float) -> float:
    """Noise power of a receiver with noise figure NF over ``bandwidth_hz`` [dBm]:
    ``-174 dBm/Hz + 10 log10(B) + NF``."""
    return THERMAL_NOISE_DBM_PER_HZ + 10.0 * math.log10(bandwidth_hz) + noise_figure_db


class LinkConfig(FrozenModel):
    """
    The radio link (module docstring). Defaults: the physical model of docs/models/ran.md (a
    180 kHz PRB, 20 dBm per PRB, thermal noise with a 9 dB noise figure, log-distance path loss
    with exponent 3 at 3.5 GHz, unit-mean Rayleigh fading redrawn every slot and RB). The papers'
    settings are presets: ``link: seed003`` or ``link: seed000`` in a YAML file
    (:data:`LINK_PRESETS`).
    """

    rb_bandwidth_hz: float = Field(180e3, gt=0)
    """Bandwidth of one resource block B_RB [Hz] (a PRB: 12 subcarriers × 15 kHz; the
    coexistence simulator's RU: 3 PRBs × 12 × 30 kHz)."""
    tx_power_dbm_per_rb: float = 20.0
    """Transmit power on each resource block [dBm] (equal power over the RBs; a total power P_tot
    over n RBs is ``P_tot - 10 log10(n)`` per RB)."""
    noise_dbm_per_rb: float | None = None
    """Noise power per resource block [dBm]; null: thermal noise over ``rb_bandwidth_hz`` plus
    ``noise_figure_db``."""
    noise_figure_db: float = Field(9.0, ge=0)
    """Receiver noise figure NF [dB] (used only when ``noise_dbm_per_rb`` is null; 9 dB: the
    UE noise figure of 3GPP system evaluations)."""
    path_loss: PathLossConfig = Field(default_factory=PathLossConfig)
    """Path loss (default: log-distance, exponent 3, free space at 1 m, 3.5 GHz; kind ``fixed``
    for one loss at every distance)."""
    rayleigh_scale: float = Field(1.0 / math.sqrt(2.0), gt=0)
    """Rayleigh amplitude scale σ; mean power gain 2σ² (1/√2: unit mean, the path loss alone sets
    the mean SNR)."""
    coherence_slots: int = Field(1, ge=1)
    """Slots over which a fading gain stays constant (1: redrawn every slot)."""
    coherence_rbs: int = Field(1, ge=1)
    """Adjacent resource blocks sharing one fading gain (1: independent per RB)."""

    @model_validator(mode='before')
    @classmethod
    def _preset_by_name(cls, data: Any) -> Any:
        if isinstance(data, str):
            return link_preset(data).model_dump()
        return data

    # ------------------------------------------------------------------------------------------
    # link budget

    @property
    def noise_dbm(self) -> float:
        """Noise power per resource block N [dBm] (given, or thermal + noise figure)."""
        if self.noise_dbm_per_rb is not None:
            return self.noise_dbm_per_rb
        return thermal_noise_dbm(self.rb_bandwidth_hz, self.noise_figure_db)

    def path_loss_db(self, distance_m: float | npt.ArrayLike) -> F64Array:
        """``[*d]`` path loss PL [dB] at the given distances [m]."""
        return path_loss_db(np.asarray(distance_m, dtype=float), self.path_loss)

    def mean_snr(self, distance_m: float | npt.ArrayLike) -> F64Array:
        """``[*d]`` mean SNR before fading, ``γ̄ = P 10^(-PL/10) / N`` (linear)."""
        return self.snr(1.0, self.path_loss_db(distance_m))

    def snr(self, gain: float | npt.ArrayLike,
            path_loss_db: float | npt.ArrayLike = 0.0) -> F64Array:
        """SNR ``γ = P g 10^(-PL/10) / N`` of power gains g (linear; broadcasting)."""
        return snr_linear(self.tx_power_dbm_per_rb, np.asarray(gain, dtype=float),
                          self.noise_dbm, np.asarray(path_loss_db, dtype=float))

    def snr_db(self, path_loss_db: float = 0.0) -> float:
        """``P - N - PL`` [dB]: the SNR of a unit power gain at path loss PL."""
        return self.tx_power_dbm_per_rb - self.noise_dbm - path_loss_db

    def rate_bps(self, snr: float | npt.ArrayLike) -> F64Array:
        """Shannon rate of one resource block, ``B_RB log2(1 + γ)`` [bit/s]."""
        return shannon_rate_bps(self.rb_bandwidth_hz, np.asarray(snr, dtype=float))

    @property
    def mean_power_gain(self) -> float:
        """E[g] = 2σ²."""
        return 2.0 * self.rayleigh_scale * self.rayleigh_scale

    # ------------------------------------------------------------------------------------------
    # random draws

    def draw_gains(self, rng: np.random.Generator, n_slots: int, n_ue: int,
                   n_rb: int) -> F64Array:
        """``[n_slots, n_ue, n_rb]`` Rayleigh block-fading power gains (float64)."""
        return block_fading_power_gain(rng, n_slots, n_ue, n_rb, scale=self.rayleigh_scale,
                                       coherence_slots=self.coherence_slots,
                                       coherence_res=self.coherence_rbs)

    def rate_sampler(self, rng: np.random.Generator, mean_snr: npt.ArrayLike,
                     shape: tuple[int, ...], ue_axis: int, single_precision: bool) -> RateDraw:
        """
        Per-RB Shannon rates of independent fading draws, ``B_RB log2(1 + γ̄_i g)``, ``[*shape]``
        with the UE along ``ue_axis`` (one entry per fading block: the caller repeats blocks
        over ``coherence_slots`` × ``coherence_rbs``).

        Args:
            mean_snr: ``[n_ue]`` γ̄_i (:meth:`mean_snr`).
            single_precision: float32 rates from the inversion draw of
                :mod:`ior_ros.core.ran.fast_fading` (the returned callable refills and returns one
                buffer); else float64 from :func:`~ior_ros.core.ran.channel.rayleigh_power_gain`
                (a fresh array per call).

        Returns:
            A callable; each call draws fresh gains and returns their rates [bit/s].
        """
        snr = np.asarray(mean_snr, dtype=np.float64)
        if snr.ndim != 1 or snr.shape[0] != shape[ue_axis]:
            raise DimensionError(f'mean_snr has shape {snr.shape} but shape[{ue_axis}] = '
                                 f'{shape[ue_axis]}; expected [n_ue]')
        if single_precision:
            return FastRateSampler(rng, snr, shape, ue_axis, self.rayleigh_scale,
                                   self.rb_bandwidth_hz).draw
        snr_shape = [1] * len(shape)
        snr_shape[ue_axis] = shape[ue_axis]
        snr_b = snr.reshape(snr_shape)
        scale, bandwidth = self.rayleigh_scale, self.rb_bandwidth_hz

        def draw() -> FloatArray:
            gains = rayleigh_power_gain(rng, shape, scale)  # [*shape]
            return np.asarray(shannon_rate_bps(bandwidth, gains * snr_b), dtype=np.float64)
        return draw


# --------------------------------------------------------------------------------------------
# the papers' settings


def _seed003() -> LinkConfig:
    return LinkConfig(rb_bandwidth_hz=180e3, tx_power_dbm_per_rb=20.0, noise_dbm_per_rb=-110.0,
                      path_loss=PathLossConfig(kind=PathLossKind.FIXED, fixed_loss_db=0.0),
                      rayleigh_scale=1.0)


def _seed000() -> LinkConfig:
    return LinkConfig(rb_bandwidth_hz=3 * 12 * 30e3, tx_power_dbm_per_rb=20.0,
                      noise_dbm_per_rb=-110.0,
                      path_loss=PathLossConfig(kind=PathLossKind.LOG_DISTANCE, exponent=3.5),
                      rayleigh_scale=1.0 / math.sqrt(2.0))


LINK_PRESETS: dict[str, Callable[[], LinkConfig]] = {
    'physical': LinkConfig,
    'seed003': _seed003,
    'seed000': _seed000,
}
"""Named link settings (docs/models/ran.md): ``physical`` (the defaults), ``seed003`` (seed 003
Table I: 20 dBm and -110 dBm per 180 kHz PRB, normalised channel: fixed 0 dB loss, σ = 1), and
``seed000`` (seed 000 §IV as docs/models/ran-coexistence.md reads it: 20 dBm and -110 dBm per
1.08 MHz RU, log-distance exponent 3.5, σ = 1/√2)."""


def link_preset(name: str) -> LinkConfig:
    """The :data:`LINK_PRESETS` setting called ``name``."""
    factory = LINK_PRESETS.get(name)
    if factory is None:
        raise ValueError(f'unknown link preset {name!r}; allowed: {", ".join(LINK_PRESETS)}')
    return factory()


# --------------------------------------------------------------------------------------------
# configuration upgrade: the owners' old radio keys


def _deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def upgrade_link_keys(data: Any, *, default: LinkConfig,
                      legacy: Mapping[str, str | Callable[[Any], Mapping[str, Any]]],
                      legacy_base: LinkConfig, key: str = 'link') -> Any:
    """
    A "before" validator step of a configuration that embeds a :class:`LinkConfig` as ``key``:

    * a partial ``link`` mapping is completed from the owner's ``default`` (so
      ``link.path_loss.exponent=3.5`` changes only the exponent of the owner's path loss);
    * the owner's old radio keys (``legacy``: old key -> new ``LinkConfig`` field, or a function
      of the old value giving the fields) are moved into ``link``. The fields they do not name
      come from ``legacy_base`` (the owner's old defaults: an old file means the model it meant),
      or from ``link`` when the same input also gives ``link``; an old key given beside ``link``
      overrides that field (a ``--set old_key=value`` on top of a saved new-form file).

    Returns ``data`` unchanged when it is not a mapping (pydantic then reports it).
    """
    if not isinstance(data, Mapping):
        return data
    old = [name for name in legacy if name in data]
    link = data.get(key)
    if not old and not isinstance(link, Mapping):
        return data
    out = dict(data)
    base: dict[str, Any]
    if link is None:
        base = (legacy_base if old else default).model_dump()
    elif isinstance(link, Mapping):
        base = _deep_merge(default.model_dump(), link)
    elif isinstance(link, LinkConfig):
        base = link.model_dump()
    elif isinstance(link, str):
        base = link_preset(link).model_dump()
    else:
        return data
    for name in old:
        value = out.pop(name)
        target = legacy[name]
        base = _deep_merge(base, target(value) if callable(target) else {target: value})
    out[key] = base
    return out
