"""
The two-queue teleoperation model of seed 003 §III-C: URLLC command queues F with modified-Poisson
arrivals and DI-dependent service, eMBB video queues G with Poisson arrivals.

Units: queues count **packets** (URLLC command packets of ``L_u`` bits, eMBB packets of ``L_e``
bits); rates are bit/s and are turned into packets/s by dividing by the packet size. That makes
seed 003's ``λ(u) = λ0 - α r`` (eq. 2) and ``μ = r - β DI`` (eq. 4) dimensionally consistent with a
dimensionless ``0 < α < 1``, as the seed requires, and β in packets/s. Service is fluid (a fraction
of a packet may be left), arrivals are whole packets.

* eq. 2: ``A1_i(t) ~ Poisson((λ0 - α r_i/L_u)^+ · w)`` with ``w`` the counting window;
* eq. 4: ``μ_i = (r_i/L_u - β DI_i)^+`` [packets/s];
* eq. 5: ``F_i(t+1) = [F_i(t) + A1_i(t) - μ_i τ]^+``;
* eq. 6: ``G_i(t+1) = [G_i(t) + A2_i(t) - r_i^e τ / L_e]^+`` with ``A2_i ~ Poisson(λ_e τ)``.

The eq. 2 draw itself is :func:`ior_ros.core.ran.traffic.modified_poisson_counts`, called with
``rate_unit_bps = L_u`` so that ``α r`` is in packets/s. The URLLC queues are first-in first-out
with arrival stamps, so the delay of every command is known exactly: :class:`FifoDelayQueues`.
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ior_ros.core.errors import DimensionError, ModelError

__all__ = ['QueueStep', 'FifoDelayQueues', 'urllc_service_pps', 'fluid_queue_update']

FloatArray = npt.NDArray[np.float64]


def urllc_service_pps(rate_bps: FloatArray, packet_bits: float, service_coefficient_pps: float,
                      dexterity: FloatArray) -> FloatArray:
    """
    Seed 003 eq. 4: ``μ_i = (r_i / L_u - β DI_i)^+`` [packets/s].

    The positive part keeps the service physical when β DI exceeds the link's packet rate.
    """
    mu: FloatArray = np.maximum(np.asarray(rate_bps, dtype=float) / packet_bits
                                - service_coefficient_pps * np.asarray(dexterity, dtype=float),
                                0.0)
    return mu


def fluid_queue_update(queue: FloatArray, arrivals: FloatArray,
                       service: FloatArray) -> tuple[FloatArray, FloatArray]:
    """
    ``Q(t+1) = [Q(t) + A(t) - S(t)]^+`` (seed 003 eq. 6); returns ``(Q(t+1), served)``.
    """
    total = np.asarray(queue, dtype=float) + np.asarray(arrivals, dtype=float)
    served = np.minimum(total, np.maximum(np.asarray(service, dtype=float), 0.0))
    new_queue: FloatArray = total - served
    return new_queue, served


class QueueStep(NamedTuple):
    """What one slot of :meth:`FifoDelayQueues.step` did (all ``[n]``)."""

    lengths: FloatArray
    """Queue lengths after the slot [packets]."""
    served: FloatArray
    """Packets served in the slot."""
    delay_slots: FloatArray
    """Delay D_ti [slots]: the larger of the sojourn of the oldest packet served in the slot and
    the age of the oldest packet still waiting; 0 when the queue was and stays empty."""
    late: FloatArray
    """Packets served in the slot whose sojourn exceeded the deadline."""


class FifoDelayQueues:
    """
    Per-user first-in first-out fluid queues that remember when each batch of packets arrived.

    A batch arriving in slot a and leaving in slot t has sojourn ``t - a + 1`` slots (arrivals
    join before the slot's service, as eq. 5 writes ``F + A - D``). A slot is a *violation* for
    user i when ``D_ti`` exceeds ``deadline_slots``.
    """

    def __init__(self, n_users: int, deadline_slots: int) -> None:
        if n_users < 1:
            raise ModelError(f'n_users = {n_users}: must be >= 1')
        if deadline_slots < 0:
            raise ModelError(f'deadline_slots = {deadline_slots}: must be >= 0')
        self._n = n_users
        self._deadline = deadline_slots
        self._batches: list[deque[list[float]]] = [deque() for _ in range(n_users)]
        self._lengths = np.zeros(n_users)

    @property
    def lengths(self) -> FloatArray:
        """Current queue lengths ``[n]`` [packets] (a copy)."""
        return self._lengths.copy()

    def head_of_line_age(self, slot: int) -> FloatArray:
        """Age ``[n]`` [slots] at the end of ``slot`` of the oldest waiting packet (0 if none)."""
        ages = np.zeros(self._n)
        for i, batches in enumerate(self._batches):
            if batches:
                ages[i] = slot - batches[0][0] + 1
        return ages

    def reset(self) -> None:
        """Empty every queue."""
        for batches in self._batches:
            batches.clear()
        self._lengths[:] = 0.0

    def step(self, slot: int, arrivals: FloatArray, service: FloatArray) -> QueueStep:
        """
        Add the slot's arrivals, then serve up to ``service`` packets per user in arrival order.

        Args:
            slot: index t of this slot.
            arrivals: ``[n]`` packets arriving in slot t (>= 0).
            service: ``[n]`` packets the link can carry in slot t (>= 0, fractional).
        """
        a = np.asarray(arrivals, dtype=float)
        s = np.asarray(service, dtype=float)
        if a.shape != (self._n,) or s.shape != (self._n,):
            raise DimensionError(f'arrivals {a.shape} and service {s.shape} must both be '
                                 f'({self._n},)')
        served = np.zeros(self._n)
        delay = np.zeros(self._n)
        late = np.zeros(self._n)
        for i in range(self._n):
            batches = self._batches[i]
            if a[i] > 0:
                batches.append([float(slot), float(a[i])])
            budget = max(float(s[i]), 0.0)
            oldest_served = 0.0
            while batches and budget > 0.0:
                front = batches[0]
                sojourn = slot - front[0] + 1.0
                if oldest_served == 0.0:
                    oldest_served = sojourn
                take = min(front[1], budget)
                budget -= take
                served[i] += take
                if sojourn > self._deadline:
                    late[i] += take
                if take >= front[1] - 1e-12:
                    batches.popleft()
                else:
                    front[1] -= take
            waiting = slot - batches[0][0] + 1.0 if batches else 0.0
            delay[i] = max(oldest_served, waiting)
            self._lengths[i] = sum(batch[1] for batch in batches)
        return QueueStep(self._lengths.copy(), served, delay, late)
