"""
The random sample of a coexistence run (seed 000 §IV): every random input drawn once per seed, so
every scheme, parameter point and swept requirement or batch size sees the same arrivals, works,
fading and decoding draws (common random numbers); and the sample's channel as the air interface
needs it, through the radio link model (``RadioConfig.link``,
:mod:`ior_ros.core.ran.link_budget`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ior_ros.core.ran.coexistence_config import CoexistenceConfig
from ior_ros.core.ran.rates import fbl_error_probability
from ior_ros.core.ran.traffic import poisson_arrival_times

__all__ = ['CoexistenceSample', 'draw_sample', 'ChannelArrays', 'channel_arrays']

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ChannelArrays = tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]
"""``(embb_slot_bits [n_slots, n_embb, n_ru], urllc_snr [n_slots, n_ru],
urllc_success [n_slots, minislots, n_ru])``."""


@dataclass(frozen=True)
class CoexistenceSample:
    """
    Every random input of a run, drawn once (common random numbers across schemes, parameters
    and the swept requirement or batch size).

    Attributes:
        horizon_s, n_slots: simulated time.
        urllc_batch_times_s: ``[n_b]`` batch instants.
        urllc_batch_uniforms: ``[n_b]`` uniforms that fix each batch's size by CDF inversion.
        urllc_unit_work: ``[n_u_max]`` Exp(1) draws: URLLC work = draw / μ_u.
        embb_unit_times: ``[n_e_max]`` unit-rate Poisson epochs: eMBB arrivals = epochs / λ_e.
        embb_unit_work: ``[n_e_max]`` Exp(1) draws: eMBB work = draw / μ_e.
        embb_ue: ``[n_e_max]`` robot of each eMBB packet.
        gain: ``[n_slots, n_embb + 1, n_ru]`` Rayleigh power gains (last row: URLLC robot),
            block fading as ``radio.link`` says.
        decode_uniforms: ``[n_slots, minislots, n_ru]`` uniforms for URLLC decoding.
    """

    horizon_s: float
    n_slots: int
    urllc_batch_times_s: FloatArray
    urllc_batch_uniforms: FloatArray
    urllc_unit_work: FloatArray
    embb_unit_times: FloatArray
    embb_unit_work: FloatArray
    embb_ue: IntArray
    gain: FloatArray
    decode_uniforms: FloatArray


def draw_sample(config: CoexistenceConfig, rng: np.random.Generator,
                max_embb_rate_per_s: float | None = None,
                max_urllc_mean_batch: float | None = None) -> CoexistenceSample:
    """
    Draw the sample for ``config`` (and for sweeps up to the given eMBB packet rate and mean
    batch size, so that one sample serves a whole figure).
    """
    radio, traffic, sim = config.radio, config.traffic, config.simulation
    horizon = sim.horizon_s
    n_slots = int(round(horizon / radio.slot_s))
    lam_e = traffic.embb_requirement_bps / traffic.embb_packet_bits
    lam_e_max = max(lam_e, max_embb_rate_per_s or 0.0)
    b_max = max(traffic.urllc_mean_batch_size, max_urllc_mean_batch or 0.0)
    batch_times = poisson_arrival_times(traffic.urllc_batch_rate_per_s, horizon, rng)
    batch_u = rng.random(batch_times.size)
    n_u_max = int(batch_times.size * b_max + 12.0 * math.sqrt(batch_times.size * b_max + 1.0)
                  + 100)
    u_work = rng.exponential(1.0, size=n_u_max)
    n_e_max = int(lam_e_max * horizon + 10.0 * math.sqrt(lam_e_max * horizon + 1.0) + 100)
    e_times = np.cumsum(rng.exponential(1.0, size=n_e_max))
    e_work = rng.exponential(1.0, size=n_e_max)
    e_ue = rng.integers(0, radio.n_embb, size=n_e_max).astype(np.int64)
    gain = radio.link.draw_gains(rng, n_slots, radio.n_embb + 1, radio.n_ru)
    decode_u = rng.random((n_slots, radio.minislots_per_slot, radio.n_ru))
    return CoexistenceSample(horizon, n_slots, batch_times, batch_u, u_work, e_times, e_work,
                             e_ue, gain, decode_u)



def channel_arrays(config: CoexistenceConfig, sample: CoexistenceSample) -> ChannelArrays:
    """
    The sample's channel as the air interface needs it: ``(embb_slot_bits [n_slots, n_embb,
    n_ru], urllc_snr [n_slots, n_ru], urllc_success [n_slots, minislots, n_ru])``; a URLLC packet
    on an RU-mini-slot is decoded when the stored uniform is below ``1 − ε`` (finite-blocklength
    error probability of ``urllc_packet_bits`` in ``data_re_per_ru_minislot`` channel uses).
    """
    radio = config.radio
    dist = np.asarray([*radio.embb_distances_m, radio.urllc_distance_m])  # [n_embb + 1]
    pl = radio.link.path_loss_db(dist)  # [n_embb + 1]
    snr = radio.link.snr(sample.gain, pl[None, :, None])  # [n_slots, n_embb + 1, n_ru]
    n_data = radio.data_re_per_ru_minislot
    embb_slot_bits = radio.minislots_per_slot * n_data * np.log2(1.0 + snr[:, :-1, :])
    urllc_snr = np.ascontiguousarray(snr[:, -1, :])  # [n_slots, n_ru]
    eps = fbl_error_probability(config.traffic.urllc_packet_bits, n_data, urllc_snr)
    success = sample.decode_uniforms < (1.0 - eps)[:, None, :]  # [n_slots, minislots, n_ru]
    return embb_slot_bits, urllc_snr, success

