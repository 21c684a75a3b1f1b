"""
Observation layout and action mapping of the slicing problem (numpy only, no gymnasium/torch).

Shared by the environment (:mod:`ior_ros.core.slicing.env`), the baselines and the deployable
policy (:mod:`ior_ros.core.slicing.policy`), so that a trained actor sees in deployment exactly the
features it was trained on.

Action mapping (holds seed 003 constraints 8b-8d by construction):

1. the action ``a ∈ [-1, 1]^(n_e + n_u)`` (eMBB users first) becomes logits ``z = s a`` and shares
   ``w = softmax(z)``;
2. every user gets one PRB (8d), and the other ``K - n`` PRBs are split by the largest-remainder
   (Hamilton) method on ``w (K - n)``, so the counts ``c_i >= 1`` sum to K (8b). With a *carry*
   (the default in the environment and the deployable policy) the rounding residue
   ``e_i = w_i (K - n) + e_i - (c_i - 1)`` is kept from slot to slot and added to the next slot's
   quota (error feedback, as deficit round robin does with byte credits: Shreedhar & Varghese,
   SIGCOMM 1995), so the time-average count equals the continuous share. Without it, users with
   equal shares always round the same way (25 PRBs for 10 users: five get 3, five get 2, every
   slot);
3. which PRBs each user gets is an assignment problem: PRB j goes to exactly one user (8c) and
   user i gets ``c_i`` PRBs, maximising the sum rate ``Σ_ij ρ_ij r_ij`` (solved exactly with the
   Hungarian method on the K x K matrix with user i's row repeated ``c_i`` times, scipy's
   ``linear_sum_assignment``). This is the MAC scheduler inside the quota the slicer set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ior_ros.core.errors import DimensionError, ModelError

__all__ = ['ObservationLayout', 'softmax', 'shares_to_prb_counts', 'action_to_prb_counts',
           'assign_prbs', 'allocation_matrix', 'check_allocation', 'CARRY_BOUND',
           'round_quota']

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ObservationLayout:
    """
    Where each feature sits in the flat observation vector (n = n_e + n_u users).

    | slice | feature | unit / normalisation |
    |---|---|---|
    | ``embb_queue`` (n_e) | eMBB queue G_i | / ``embb_queue_reference_packets``, clipped |
    | ``urllc_queue`` (n_u) | URLLC queue F_i | / ``urllc_queue_reference_packets``, clipped |
    | ``urllc_delay`` (n_u) | URLLC delay D_ti of the last slot | s / D_max, clipped |
    | ``channel`` (n) | mean over PRBs of log2(1 + SNR_ij) minus log2(P/N), / 4 | bit/s/Hz / 4 |
    | ``dexterity`` (n_u) | dexterity index DI_i (seed 003 eq. 3) | [0, 1] |
    """

    n_embb: int
    n_urllc: int

    @property
    def n_users(self) -> int:
        """n_e + n_u."""
        return self.n_embb + self.n_urllc

    @property
    def embb_queue(self) -> slice:
        """Indices of the eMBB queues."""
        return slice(0, self.n_embb)

    @property
    def urllc_queue(self) -> slice:
        """Indices of the URLLC queues."""
        return slice(self.n_embb, self.n_users)

    @property
    def urllc_delay(self) -> slice:
        """Indices of the URLLC delays."""
        start = self.n_users
        return slice(start, start + self.n_urllc)

    @property
    def channel(self) -> slice:
        """Indices of the per-user channel quality (eMBB users first)."""
        start = self.n_users + self.n_urllc
        return slice(start, start + self.n_users)

    @property
    def dexterity(self) -> slice:
        """Indices of the URLLC robots' dexterity index."""
        start = 2 * self.n_users + self.n_urllc
        return slice(start, start + self.n_urllc)

    @property
    def size(self) -> int:
        """Length of the observation vector."""
        return 2 * self.n_users + 2 * self.n_urllc

    def user_index(self, slice_name: str) -> IntArray:
        """
        Indices ``[n_k, d_k]`` of each user's own features, for the per-user actors.

        eMBB user j: (G_j, channel_j); URLLC user i: (F_i, D_ti, channel_i, DI_i).
        """
        if slice_name == 'embb':
            j = np.arange(self.n_embb)
            return np.stack([self.embb_queue.start + j, self.channel.start + j], axis=1)
        if slice_name == 'urllc':
            i = np.arange(self.n_urllc)
            return np.stack([self.urllc_queue.start + i, self.urllc_delay.start + i,
                             self.channel.start + self.n_embb + i, self.dexterity.start + i],
                            axis=1)
        raise ModelError(f"slice_name = {slice_name!r}: must be 'embb' or 'urllc'")

    CONTEXT_SIZE = 8
    """Length of :meth:`context`."""

    def context(self, obs: FloatArray) -> FloatArray:
        """
        Cell-wide summary ``[..., 8]`` every user's actor input shares: mean and max of the eMBB
        queues, the URLLC queues and the URLLC delays, mean channel, mean DI.
        """
        o = np.asarray(obs)
        parts = [o[..., self.embb_queue].mean(-1), o[..., self.embb_queue].max(-1),
                 o[..., self.urllc_queue].mean(-1), o[..., self.urllc_queue].max(-1),
                 o[..., self.urllc_delay].mean(-1), o[..., self.urllc_delay].max(-1),
                 o[..., self.channel].mean(-1), o[..., self.dexterity].mean(-1)]
        ctx: FloatArray = np.stack(parts, axis=-1)
        return ctx

    def build(self, embb_queue: FloatArray, urllc_queue: FloatArray, urllc_delay: FloatArray,
              channel: FloatArray, dexterity: FloatArray,
              out: npt.NDArray[np.float32] | None = None) -> npt.NDArray[np.float32]:
        """Pack already-normalised features into one float32 vector ``[size]``."""
        obs = np.empty(self.size, dtype=np.float32) if out is None else out
        obs[self.embb_queue] = embb_queue
        obs[self.urllc_queue] = urllc_queue
        obs[self.urllc_delay] = urllc_delay
        obs[self.channel] = channel
        obs[self.dexterity] = dexterity
        return obs


def softmax(logits: FloatArray) -> FloatArray:
    """Numerically stable softmax over the last axis."""
    z = np.asarray(logits, dtype=float)
    z = z - np.max(z, axis=-1, keepdims=True)
    e = np.exp(z)
    shares: FloatArray = e / np.sum(e, axis=-1, keepdims=True)
    return shares


CARRY_BOUND = 2.0
"""The rounding carry is clipped to [-CARRY_BOUND, CARRY_BOUND] PRBs per user (it stays within
(-1, 1) in normal operation; the clip only guards against drift)."""


def round_quota(quota: FloatArray, spare: int) -> IntArray:
    """Integers ``>= 0`` summing to ``spare``, each the floor or ceiling of ``max(quota, 0)``
    where possible: floor, then the largest remainders get one more (or, when the floors already
    exceed ``spare`` because of negative quotas, the smallest remainders give one back)."""
    base = np.floor(np.maximum(quota, 0.0)).astype(np.int64)  # [n]
    left = spare - int(base.sum())
    while left != 0:
        remainder = quota - base  # [n]
        if left > 0:
            order = np.argsort(-remainder, kind='stable')
            base[order[:left]] += 1
            left = 0
        else:
            order = np.argsort(np.where(base > 0, remainder, np.inf), kind='stable')
            take = min(-left, int(np.count_nonzero(base > 0)))
            base[order[:take]] -= 1
            left += take
    return base


def shares_to_prb_counts(shares: FloatArray, n_prb: int,
                         carry: FloatArray | None = None) -> IntArray:
    """
    Integer PRB counts from shares: one PRB each (8d), the rest by largest remainder (8b).

    Args:
        shares: ``[n]`` non-negative weights (normalised here).
        n_prb: K >= n.
        carry: ``[n]`` rounding residue of the previous slots, **updated in place** (error
            feedback, see the module docstring); None: stateless rounding.

    Returns:
        ``[n]`` int64 counts, each >= 1, summing to K. Ties in the remainders go to the lower
        user index (deterministic).

    Raises:
        ModelError: K < n, or shares negative / not finite / all zero.
        DimensionError: ``carry`` of another length.
    """
    w = np.asarray(shares, dtype=float)
    n = w.shape[0]
    if n_prb < n:
        raise ModelError(f'n_prb = {n_prb} must be >= the number of users {n} (constraint 8d)')
    if not np.all(np.isfinite(w)) or np.any(w < 0) or not np.sum(w) > 0:
        raise ModelError('shares must be finite, >= 0 and not all zero')
    spare = n_prb - n
    quota = w * (spare / np.sum(w))  # [n]
    if carry is None:
        extra = round_quota(quota, spare)
    else:
        if carry.shape != (n,):
            raise DimensionError(f'carry has shape {carry.shape}; expected ({n},)')
        target = quota + carry  # [n]
        extra = round_quota(target, spare)
        np.clip(target - extra, -CARRY_BOUND, CARRY_BOUND, out=carry)
    counts: IntArray = extra + 1
    return counts


def action_to_prb_counts(action: FloatArray, n_prb: int, logit_scale: float,
                         carry: FloatArray | None = None) -> IntArray:
    """``shares_to_prb_counts(softmax(logit_scale * clip(action, -1, 1)), K, carry)``."""
    a = np.clip(np.asarray(action, dtype=float), -1.0, 1.0)
    z = logit_scale * a
    # unnormalised softmax weights: the same arithmetic as the deployable policy's decide()
    return shares_to_prb_counts(np.exp(z - np.max(z)), n_prb, carry)


def assign_prbs(counts: IntArray, prb_rates: FloatArray) -> IntArray:
    """
    Which user each PRB goes to, maximising the sum rate given the counts (8c holds).

    Args:
        counts: ``[n]`` PRBs per user, >= 0, summing to K.
        prb_rates: ``[n, K]`` rate (or any additive utility) of PRB j for user i.

    Returns:
        ``[K]`` owner index per PRB.

    Raises:
        DimensionError: shapes do not agree.
        ModelError: counts do not sum to K or are negative.
    """
    from scipy.optimize import linear_sum_assignment

    c = np.asarray(counts, dtype=np.int64)
    rates = np.asarray(prb_rates, dtype=float)
    if rates.ndim != 2 or rates.shape[0] != c.shape[0]:
        raise DimensionError(f'prb_rates has shape {rates.shape}; expected [{c.shape[0]}, K] '
                             'to match counts')
    n_prb = rates.shape[1]
    if np.any(c < 0) or int(np.sum(c)) != n_prb:
        raise ModelError(f'counts {c.tolist()} must be >= 0 and sum to K = {n_prb}')
    rows = np.repeat(np.arange(c.shape[0]), c)  # [K] user of each expanded row
    expanded = rates[rows]  # [K, K]
    row_ind, col_ind = linear_sum_assignment(expanded, maximize=True)
    owner = np.empty(n_prb, dtype=np.int64)
    owner[col_ind] = rows[row_ind]
    return owner


def allocation_matrix(owner: IntArray, n_users: int) -> npt.NDArray[np.bool_]:
    """ρ_ij as a boolean ``[n_users, K]`` matrix from the owner of each PRB."""
    o = np.asarray(owner, dtype=np.int64)
    rho: npt.NDArray[np.bool_] = o[np.newaxis, :] == np.arange(n_users)[:, np.newaxis]
    return rho


def check_allocation(rho: npt.NDArray[np.bool_], n_prb: int) -> None:
    """
    Raise ModelError unless ρ satisfies seed 003 constraints 8b-8d.

    8b: Σ_ij ρ_ij = K; 8c: every PRB to exactly one user; 8d: every user at least one PRB.
    """
    r = np.asarray(rho, dtype=np.int64)
    if r.ndim != 2 or r.shape[1] != n_prb:
        raise DimensionError(f'rho has shape {r.shape}; expected [n_users, {n_prb}]')
    if int(r.sum()) != n_prb:
        raise ModelError(f'constraint 8b: {int(r.sum())} PRBs allocated, K = {n_prb}')
    per_prb = r.sum(axis=0)
    if np.any(per_prb != 1):
        raise ModelError(f'constraint 8c: PRBs {np.flatnonzero(per_prb != 1).tolist()} are not '
                         'allocated to exactly one user')
    per_user = r.sum(axis=1)
    if np.any(per_user < 1):
        raise ModelError(f'constraint 8d: users {np.flatnonzero(per_user < 1).tolist()} have no '
                         'PRB')
