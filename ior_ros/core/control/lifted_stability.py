"""
Exact stability test for a constant integer delay, independent of the LMI code.

For ``x(k+1) = A0 x(k) + A1 x(k - d)`` and the lifted state ``z(k) = [x(k); x(k-1); ...; x(k-d)]``,
``z(k+1) = 𝒜(d) z(k)`` with the block companion matrix (reference §3)::

    𝒜(d) = [[A0, 0, ..., 0, A1],
            [I,  0, ..., 0, 0 ],
            [0,  I, ..., 0, 0 ],
            ...
            [0,  0, ..., I, 0 ]]        (n(d+1) × n(d+1)),   𝒜(0) = A0 + A1.

The loop is asymptotically stable **iff** the spectral radius ``ρ(𝒜(d)) < 1``; ``ρ`` is also the
exact asymptotic growth (or decay) factor per sample.

For an input delay (``A0 = A``, ``A1 = -B K``) a smaller *input-buffer* lifting has the same
nonzero spectrum: with ``v = -K x`` and the state ``[x(k); v(k-d); ...; v(k-1)]`` (dimension
``n + m d``)::

    𝒜_u(d) = [[A,  B, 0, ..., 0],
              [0,  0, I, ..., 0],
              ...
              [0,  0, 0, ..., I],
              [-K, 0, 0, ..., 0]].

A time-varying delay has no finite exact test (it is a joint spectral radius problem); products of
these matrices can only falsify. This module shares no code with the LMI module, so that it can
check what the LMIs certify.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ior_ros.core.errors import DimensionError, ModelError

__all__ = ['state_lifted_matrix', 'input_buffer_lifted_matrix', 'spectral_radius',
           'lifted_spectral_radius', 'input_delay_spectral_radius', 'spectral_radius_profile',
           'exact_delay_margin', 'DelayMargin', 'input_delay_margin', 'growth_steps']

FloatArray = npt.NDArray[np.float64]


def _square(matrix: object, name: str) -> FloatArray:
    array = np.asarray(matrix, dtype=float)
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise DimensionError(f'{name} must be a square matrix, got shape {array.shape}')
    return array


def _delay(value: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise ModelError(f'delay = {value!r}: must be an integer number of samples >= 0')
    return int(value)


def state_lifted_matrix(a0: object, a1: object, delay_steps: int) -> FloatArray:
    """
    ``𝒜(d)``, the companion lifting of ``x(k+1) = A0 x(k) + A1 x(k-d)`` ``[n(d+1), n(d+1)]``.

    Raises:
        DimensionError: A0 or A1 not square, or not the same shape.
    """
    m0 = _square(a0, 'A0')
    m1 = _square(a1, 'A1')
    if m0.shape != m1.shape:
        raise DimensionError(f'A0 shape {m0.shape} and A1 shape {m1.shape} must agree')
    d = _delay(delay_steps)
    n = m0.shape[0]
    if d == 0:
        return m0 + m1
    size = n * (d + 1)
    lifted = np.zeros((size, size))  # [n(d+1), n(d+1)]
    lifted[:n, :n] = m0
    lifted[:n, n * d:] = m1
    lifted[n:, :n * d] = np.eye(n * d)
    return lifted


def input_buffer_lifted_matrix(a: object, b: object, k: object, delay_steps: int) -> FloatArray:
    """
    ``𝒜_u(d)``, the input-buffer lifting of ``x(k+1) = A x(k) - B K x(k-d)`` ``[n+md, n+md]``.

    Raises:
        DimensionError: A not square, B rows differ from A, K not ``[m, n]``.
    """
    ma = _square(a, 'A')
    mb = np.asarray(b, dtype=float)
    mk = np.asarray(k, dtype=float)
    n = ma.shape[0]
    if mb.ndim != 2 or mb.shape[0] != n:
        raise DimensionError(f'B shape {mb.shape} does not match A shape {ma.shape}')
    m = mb.shape[1]
    if mk.shape != (m, n):
        raise DimensionError(f'K shape {mk.shape} does not match A shape {ma.shape} and B shape '
                             f'{mb.shape}: expected ({m}, {n})')
    d = _delay(delay_steps)
    if d == 0:
        return np.asarray(ma - mb @ mk, dtype=np.float64)
    size = n + m * d
    lifted = np.zeros((size, size))  # [n+md, n+md]
    lifted[:n, :n] = ma
    lifted[:n, n:n + m] = mb  # the oldest buffered command v(k-d) acts now
    lifted[n:n + m * (d - 1), n + m:] = np.eye(m * (d - 1))  # shift the buffer
    lifted[n + m * (d - 1):, :n] = -mk  # newest command v(k) = -K x(k)
    return lifted


def spectral_radius(matrix: FloatArray) -> float:
    """``max |eig(M)|``."""
    return float(np.max(np.abs(np.linalg.eigvals(matrix))))


def lifted_spectral_radius(a0: object, a1: object, delay_steps: int) -> float:
    """``ρ(𝒜(d))`` of the state lifting."""
    return spectral_radius(state_lifted_matrix(a0, a1, delay_steps))


def input_delay_spectral_radius(a: object, b: object, k: object, delay_steps: int) -> float:
    """``ρ(𝒜_u(d))`` of the input-buffer lifting (same value as the state lifting)."""
    return spectral_radius(input_buffer_lifted_matrix(a, b, k, delay_steps))


def spectral_radius_profile(a: object, b: object, k: object, max_delay_steps: int) -> FloatArray:
    """``[ρ(𝒜_u(d)) for d = 0..max_delay_steps]`` ``[max_delay_steps + 1]``."""
    top = _delay(max_delay_steps)
    return np.array([input_delay_spectral_radius(a, b, k, d) for d in range(top + 1)])


class DelayMargin(NamedTuple):
    """Exact constant-delay margin of a gain."""

    margin_steps: int
    """Largest d such that every constant delay 0..d is stable (-1: unstable without delay)."""
    first_unstable_steps: int | None
    """Smallest unstable constant delay (None: none up to the search limit)."""
    radius_at_first_unstable: float | None
    """ρ(𝒜(d)) there: the exact growth factor per sample."""


def exact_delay_margin(a: object, b: object, k: object, search_limit_steps: int = 200,
                       threshold: float = 1.0) -> DelayMargin:
    """
    The exact constant-input-delay margin: scan ``d = 0, 1, ...`` until ``ρ(𝒜_u(d)) >= threshold``.

    Args:
        threshold: 1 for stability; ``λ < 1`` for the margin of a decay rate λ.
    """
    limit = _delay(search_limit_steps)
    for d in range(limit + 1):
        radius = input_delay_spectral_radius(a, b, k, d)
        if radius >= threshold:
            return DelayMargin(d - 1, d, radius)
    return DelayMargin(limit, None, None)


def input_delay_margin(a: object, b: object, k: object, search_limit_steps: int = 200) -> int:
    """Largest d with every constant delay ``0..d`` stable (see :func:`exact_delay_margin`)."""
    return exact_delay_margin(a, b, k, search_limit_steps).margin_steps


def growth_steps(radius: float, tolerated_growth: float) -> float:
    """
    Samples until the exact growth ``ρ^N`` reaches ``tolerated_growth``: ``log G / log ρ``.

    Infinite when ``ρ <= 1`` (no asymptotic growth).
    """
    if not tolerated_growth > 1.0:
        raise ModelError(f'tolerated_growth = {tolerated_growth!r}: must be > 1')
    if radius <= 1.0:
        return float('inf')
    return float(np.log(tolerated_growth) / np.log(radius))
