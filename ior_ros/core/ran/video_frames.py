"""
Video frames of the eMBB slice: the robot's camera traffic, sized from the eMBB traffic model.

Seed 003 §III-C (eq. 6) gives the eMBB queue Poisson arrivals ``A2 ~ Poisson(λ_e τ)`` of packets
of ``L_e`` bits but no numbers (Table I lists none); the project's calibration is
``λ_e = 1300`` packets/s and ``L_e = 12000`` bit (``SlicingEnvConfig.embb_arrival_rate_pps``,
``embb_packet_bits``; docs/models/slicing.md §2), a mean of ``λ_e L_e`` = 15.6 Mb/s per robot.

A camera does not send packets one by one: it sends a frame every ``1/fps`` seconds. The model
keeps the mean bit rate and splits it into frames:

* **mean frame size** ``S̄ = λ_e L_e / (8 fps)`` bytes (65 000 bytes at 30 frames/s);
* **frame sizes** independent lognormal draws with mean ``S̄`` and coefficient of variation
  ``c`` (standard deviation over mean): ``ln S ~ N(μ, σ²)`` with ``σ² = ln(1 + c²)`` and
  ``μ = ln S̄ − σ²/2``, so ``E[S] = S̄`` exactly and ``c = 0`` gives constant frames. A
  lognormal is positive and right-skewed, like the sizes of compressed frames (large key frames,
  small predicted ones); the draw is rounded to whole bytes, at least 1.

Every draw takes an explicit :class:`numpy.random.Generator`; nothing here reads a clock.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ior_ros.core.errors import ModelError

__all__ = ['mean_frame_bytes', 'lognormal_frame_bytes']

IntArray = npt.NDArray[np.int64]


def mean_frame_bytes(packet_rate_pps: float, packet_bits: float, fps_hz: float) -> float:
    """
    The mean frame size that carries the eMBB model's bit rate at ``fps_hz`` frames a second.

    Args:
        packet_rate_pps: λ_e, eMBB packets per second [1/s], at least 0.
        packet_bits: L_e, bits per eMBB packet [bit], more than 0.
        fps_hz: frames per second [1/s], more than 0.

    Returns:
        ``λ_e L_e / (8 fps)`` [byte].

    Raises:
        ModelError: an argument outside the ranges above (or not finite).
    """
    for name, value, low_ok in (('packet_rate_pps', packet_rate_pps, True),
                                ('packet_bits', packet_bits, False), ('fps_hz', fps_hz, False)):
        if not math.isfinite(value) or value < 0.0 or (value == 0.0 and not low_ok):
            bound = 'at least 0' if low_ok else 'more than 0'
            raise ModelError(f'{name} = {value!r}: must be finite and {bound}')
    return packet_rate_pps * packet_bits / (8.0 * fps_hz)


def lognormal_frame_bytes(rng: np.random.Generator, mean_bytes: float, cv: float,
                          count: int) -> IntArray:
    """
    ``count`` frame sizes, lognormal with mean ``mean_bytes`` and coefficient of variation ``cv``.

    Args:
        rng: the generator drawn from (``count`` standard normals, none when ``cv`` is 0).
        mean_bytes: S̄, the mean frame size [byte], more than 0.
        cv: c, standard deviation over mean [-], at least 0 (0: every frame ``round(S̄)``).
        count: frames to draw, at least 0.

    Returns:
        ``[count]`` int64 sizes [byte], each at least 1.

    Raises:
        ModelError: an argument outside the ranges above (or not finite).
    """
    if not math.isfinite(mean_bytes) or mean_bytes <= 0.0:
        raise ModelError(f'mean_bytes = {mean_bytes!r}: must be finite and more than 0')
    if not math.isfinite(cv) or cv < 0.0:
        raise ModelError(f'cv = {cv!r}: must be finite and at least 0')
    if count < 0:
        raise ModelError(f'count = {count!r}: must be at least 0')
    if cv == 0.0:
        sizes = np.full(count, mean_bytes)  # [count]
    else:
        sigma2 = math.log1p(cv * cv)
        sizes = rng.lognormal(math.log(mean_bytes) - 0.5 * sigma2, math.sqrt(sigma2),
                              count)  # [count]
    rounded: IntArray = np.maximum(np.rint(sizes), 1.0).astype(np.int64)  # [count]
    return rounded
