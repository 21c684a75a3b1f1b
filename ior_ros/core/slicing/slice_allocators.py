"""
The slice broker's allocators: how many PRBs each admitted slice should get this period, from
the :class:`CellView` the broker builds (:mod:`ior_ros.core.slicing.broker`; docs/models/slicing.md
§10). Each returns a *wish*; :func:`~ior_ros.core.slicing.broker.fit_counts` turns it into
integer counts within the slices' TS 28.541 PRB bounds.

The ``policy`` parameter picks one:

* ``static``: the template ratios, shares proportional to the min ratios.
* ``pf``: proportional fair over the slices' average delivered rates T_i (EWMA, β
  ``pf_beta`` per period, :func:`ior_ros.core.ran.schedulers.ewma_update`): PRB by PRB to the
  slice with the largest gain of ``w_i log(β T_i + (1 - β) n_i c_i)`` (c_i the rate of one
  PRB); the objective is concave, so the greedy split is the maximiser.
* ``dpp``: drift-plus-penalty (Neely 2010, ch. 3; the per-slot minimiser of seed 003's
  Lagrangian, eq. 13, as :class:`~ior_ros.core.slicing.baselines.DriftPlusPenaltySlicer`
  computes it per user) at the slice level: over the URLLC PRB count, minimise
  ``Σ_i w_i [½((Q_i + A_i T - n_i c_i T)^+² - Q_i²) / Q_ref,i² + V h(n_i c_i)]
  - w_u Z y(n_u c_u)``, with Q the reported backlog [bit], A the estimated arrival rate,
  ``Q_ref,i = GBR_i · D_budget,i`` (the backlog its guaranteed rate clears within its delay
  budget: a queue counts by the delay it means, so a saturated eMBB queue of seconds of
  video does not outweigh a URLLC backlog that already breaks a 10 ms budget),
  h the rate cost of eq. 7 (:func:`~ior_ros.core.slicing.reward.rate_cost`) with each
  slice's guaranteed bit rate as its rate reference (so an idle cell is split by what the
  slices need, not evenly; ``dpp_rate_reference_bps`` for a slice without one), y the
  delay-tail slack of eq. 12 with the backlog (:func:`~ior_ros.core.slicing.reward.
  delay_constraint_slack`) at the URLLC delay budget, and Z a virtual queue on the URLLC
  delay-budget violations, ``Z ← max(Z + 1{D > D_budget} - (1 - χ), 0)`` per period (Neely's
  virtual queue for the time-average constraint ``P(D > D_budget) <= 1 - χ``, seed 003's
  reliability constraint 8a): every period with a violation raises Z, and Z buys URLLC PRBs.
  The rate in h is, for eMBB, what its PRBs deliver, ``min(n_e c_e, Q_e / T + A_e)``, not what
  they could carry (capacity beyond its backlog and arrivals earns no throughput, so a lightly
  loaded eMBB slice does not hold PRBs that URLLC could use); for URLLC its service rate
  ``n_u c_u`` (capacity beyond its arrivals is what shortens its queueing delay). Among equal
  costs URLLC gets the most.
* ``drl``: the deployable actors of :class:`~ior_ros.core.slicing.policy.SlicingPolicy`
  (:class:`DrlAllocator` says how the two-slice cell is mapped to the policy's users).
* ``puncturing``: issue 2's rule (URLLC first, :mod:`ior_ros.core.ran.puncturing`) at the
  period scale: URLLC gets the PRBs that clear its reported backlog within its delay budget
  and carry its arrivals, ``ceil(w_u (Q_u / D_budget + A_u) / c_u)``, up to its max ratio;
  eMBB the rest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ior_ros.core.ran.schedulers import ewma_update
from ior_ros.core.slicing.policy import SlicingPolicy
from ior_ros.core.slicing.reward import delay_constraint_slack, rate_cost
from ior_ros.core.slicing.slice_templates import SliceKind, SliceTemplate

__all__ = ['AllocatorName', 'CellView', 'Allocator', 'StaticAllocator', 'PfAllocator',
           'DppSettings', 'DppAllocator', 'DrlAllocator', 'PuncturingAllocator',
           'RAYLEIGH_MEAN_LOG2_GAIN']

FloatArray = npt.NDArray[np.float64]

_EPS = 1e-9
#: E[log2 g] of a unit-mean Rayleigh power gain g ~ Exp(1): -γ / ln 2 (γ Euler's constant)
RAYLEIGH_MEAN_LOG2_GAIN = -0.5772156649015329 / math.log(2.0)


class AllocatorName(str, Enum):
    """The ``policy`` parameter: which allocator splits the PRBs."""

    PF = 'pf'
    DPP = 'dpp'
    DRL = 'drl'
    PUNCTURING = 'puncturing'
    STATIC = 'static'


@dataclass(frozen=True)
class CellView:
    """What an allocator decides from, per admitted slice (same order in every list)."""

    kinds: list[SliceKind]
    templates: list[SliceTemplate]
    low: list[int]
    high: list[int]
    prb_rate_bps: list[float]
    """c_i: rate of one PRB at the slice's SE [bit/s]."""
    queue_bits: list[float]
    arrival_bps: list[float]
    delay_s: list[float | None]
    weight: list[float]
    """w_i: the closed-loop weight (URLLC) or 1."""
    total_prbs: int
    period_s: float
    virtual_queue: float
    dexterity_index: float | None

    def index(self, kind: SliceKind) -> int | None:
        """Position of the admitted slice of ``kind``, or None."""
        return self.kinds.index(kind) if kind in self.kinds else None


class Allocator(Protocol):
    """Gives the PRBs each admitted slice should get (a wish; :func:`fit_counts` makes it fit)."""

    def wish(self, view: CellView) -> list[float]:
        """PRBs wished per admitted slice."""

    def observe(self, view: CellView, delivered_bps: list[float | None]) -> None:
        """The rates the slices delivered since the last decision (for stateful allocators)."""


class StaticAllocator:
    """The template ratios: shares proportional to ``w_i · min_i`` (max ratios if all mins 0)."""

    def wish(self, view: CellView) -> list[float]:
        """K · w_i m_i / Σ w_j m_j."""
        share = [w * t.prb_ratio.min for w, t in zip(view.weight, view.templates, strict=True)]
        if sum(share) <= 0.0:
            share = [w * t.prb_ratio.max for w, t in zip(view.weight, view.templates,
                                                         strict=True)]
        total = sum(share) or 1.0
        return [view.total_prbs * s / total for s in share]

    def observe(self, view: CellView, delivered_bps: list[float | None]) -> None:
        """Stateless."""


class PfAllocator:
    """Proportional fair over the slices' average delivered rates (module docstring)."""

    def __init__(self, beta: float) -> None:
        self.beta = beta
        self.average_bps: dict[SliceKind, float] = {}

    def _avg(self, view: CellView, i: int) -> float:
        return max(self.average_bps.get(view.kinds[i], view.prb_rate_bps[i]), 1.0)

    def wish(self, view: CellView) -> list[float]:
        """Greedy PRB by PRB on the weighted log-utility gain, from the low bounds."""
        b = self.beta
        counts = list(view.low)
        left = view.total_prbs - sum(counts)
        while left > 0:
            best, gain = -1, -math.inf
            for i, n in enumerate(counts):
                if n >= view.high[i]:
                    continue
                base = b * self._avg(view, i)
                c = (1.0 - b) * view.prb_rate_bps[i]
                g = view.weight[i] * math.log((base + (n + 1) * c) / (base + n * c))
                if g > gain:
                    best, gain = i, g
            if best < 0:
                break
            counts[best] += 1
            left -= 1
        return [float(n) for n in counts]

    def observe(self, view: CellView, delivered_bps: list[float | None]) -> None:
        """T_i ← β T_i + (1 - β) r_i (:func:`~ior_ros.core.ran.schedulers.ewma_update`)."""
        for i, kind in enumerate(view.kinds):
            r = delivered_bps[i]
            if r is not None:
                avg = self.average_bps.get(kind, view.prb_rate_bps[i])
                self.average_bps[kind] = float(ewma_update(np.array([avg]), np.array([r]),
                                                           self.beta)[0])


@dataclass(frozen=True)
class DppSettings:
    """The DPP allocator's constants: the ``dpp_*``, ``urllc_reliability`` and
    ``tail_coefficient_per_bit`` fields of :class:`~ior_ros.core.slicing.broker.BrokerConfig`."""

    dpp_penalty_weight: float = 1.0
    dpp_rate_reference_bps: float = 20e6
    dpp_rate_epsilon: float = 1e-3
    dpp_queue_reference_bits: float = 1e5
    urllc_reliability: float = 0.95
    tail_coefficient_per_bit: float = 1e-5


class DppAllocator:
    """Drift-plus-penalty over the URLLC PRB count (module docstring)."""

    def __init__(self, settings: DppSettings) -> None:
        self.config = settings

    def queue_reference_bits(self, template: SliceTemplate) -> float:
        """Q_ref of a slice: what its guaranteed rate serves within its delay budget [bit]
        (``dpp_queue_reference_bits`` without a guaranteed rate)."""
        q = template.guaranteed_bitrate_bps * template.delay_budget_s
        return q if q > 0.0 else self.config.dpp_queue_reference_bits

    def costs(self, view: CellView) -> dict[int, float]:
        """The objective per feasible URLLC count (only with both slices admitted)."""
        cfg = self.config
        u, e = view.index(SliceKind.URLLC), view.index(SliceKind.EMBB)
        assert u is not None and e is not None
        t = view.period_s
        hi_u = max(min(view.high[u], view.total_prbs - view.low[e]), view.low[u])
        n_u = np.arange(view.low[u], hi_u + 1, dtype=np.float64)  # [C] URLLC counts
        n_e = np.minimum(float(view.high[e]), view.total_prbs - n_u)  # [C]
        cost: FloatArray = np.zeros(n_u.shape)
        for i, n in ((u, n_u), (e, n_e)):
            q = view.queue_bits[i]
            served: FloatArray = n * view.prb_rate_bps[i]  # [C] bit/s the PRBs can carry
            # the rate that counts: for URLLC its service rate (capacity beyond its arrivals is
            # what shortens its delay); for eMBB what it delivers, no more than its backlog and
            # arrivals (a PRB with nothing to send earns no throughput)
            delivered: FloatArray = served if i == u else np.minimum(
                served, q / t + view.arrival_bps[i])  # [C]
            q_next: FloatArray = np.maximum(q + (view.arrival_bps[i] - served) * t, 0.0)
            q_ref = self.queue_reference_bits(view.templates[i])
            reference = view.templates[i].guaranteed_bitrate_bps or cfg.dpp_rate_reference_bps
            cost += view.weight[i] * (0.5 * (q_next ** 2 - q ** 2) / q_ref ** 2
                                      + cfg.dpp_penalty_weight
                                      * rate_cost(delivered, reference, cfg.dpp_rate_epsilon))
            if i == u:
                slack = delay_constraint_slack(served, cfg.tail_coefficient_per_bit,
                                               view.templates[u].delay_budget_s,
                                               cfg.urllc_reliability, q_next)
                cost -= view.weight[u] * view.virtual_queue * slack
        return {int(n): float(c) for n, c in zip(n_u, cost, strict=True)}

    def wish(self, view: CellView) -> list[float]:
        """The URLLC count of least cost, eMBB the rest (one slice: all of it)."""
        u, e = view.index(SliceKind.URLLC), view.index(SliceKind.EMBB)
        if u is None or e is None:
            return [float(view.total_prbs)] * len(view.kinds)
        costs = self.costs(view)
        # among equal costs the most URLLC PRBs: PRBs neither slice needs now go to the one
        # whose delay they shorten (work-conserving; they are back for eMBB next period)
        n_u = min(costs, key=lambda n: (costs[n], -n))
        out = [0.0] * len(view.kinds)
        out[u], out[e] = float(n_u), float(view.total_prbs - n_u)
        return out

    def observe(self, view: CellView, delivered_bps: list[float | None]) -> None:
        """The virtual queue lives in the broker (it needs the measured delay)."""


class PuncturingAllocator:
    """URLLC first, from the backlog it reports; eMBB the rest (module docstring)."""

    def wish(self, view: CellView) -> list[float]:
        """``ceil(w_u (Q_u / D_budget + A_u) / c_u)`` for URLLC, K minus that for eMBB."""
        u = view.index(SliceKind.URLLC)
        out = [float(view.total_prbs)] * len(view.kinds)
        if u is None:
            return out
        budget = view.templates[u].delay_budget_s
        need_bps = view.queue_bits[u] / budget + view.arrival_bps[u]
        n_u = math.ceil(view.weight[u] * need_bps / max(view.prb_rate_bps[u], 1.0) - _EPS)
        n_u = min(max(n_u, view.low[u]), view.high[u])
        for i in range(len(view.kinds)):
            out[i] = float(n_u) if i == u else float(view.total_prbs - n_u)
        return out

    def observe(self, view: CellView, delivered_bps: list[float | None]) -> None:
        """Stateless."""


class DrlAllocator:
    """
    The shipped dual-agent slicer on the two-slice cell.

    The policy was trained for ``n_e`` eMBB and ``n_u`` URLLC users on ``n_prb`` PRBs of 1 ms
    slots (the shipped one: 5, 5, 25); the cell has one UE per slice. Mapping: each slice's
    backlog is split evenly over the policy's users of that slice (``Q / n_k``, in the policy's
    packets of ``embb_packet_bits``/``urllc_packet_bits``, over the queue references, clipped as
    in training); every URLLC user sees the slice's measured delay over the policy's deadline and
    the robot's DI (``task.fixed_di`` until one is heard); every user's channel feature is the
    slice's SINR deviation from its running mean, in the training units, plus the Rayleigh mean of
    ``log2 g`` the training features carry (the emulator's mean SNR differs from the seed's
    normalised channel, so only the deviation carries over). The decision's PRB counts summed per
    slice give the slice shares ``s_k = Σ c_i / n_prb``, and the URLLC wish is
    ``K w_u s_u / (w_u s_u + s_e)``.
    """

    def __init__(self, policy: SlicingPolicy) -> None:
        self.policy = policy
        env: Mapping[str, Any] = policy.metadata.get('env_config') or {}
        task: Mapping[str, Any] = env.get('task') or {}
        self.embb_packet_bits = float(env.get('embb_packet_bits', 12000.0))
        self.urllc_packet_bits = float(env.get('urllc_packet_bits', 4000.0))
        self.embb_reference = float(env.get('embb_queue_reference_packets', 100.0))
        self.urllc_reference = float(env.get('urllc_queue_reference_packets', 100.0))
        self.deadline_s = float(env.get('deadline_s', 0.02))
        self.clip = float(env.get('observation_clip', 10.0))
        self.default_di = float(task.get('fixed_di', 0.7))
        self.mean_sinr_db: dict[SliceKind, float] = {}
        self.sinr_db: dict[SliceKind, float] = {}

    def note_sinr(self, kind: SliceKind, sinr_db: float) -> None:
        """A measured SINR of a slice: the newest and the running mean (β 0.9)."""
        self.sinr_db[kind] = sinr_db
        prev = self.mean_sinr_db.get(kind, sinr_db)
        self.mean_sinr_db[kind] = 0.9 * prev + 0.1 * sinr_db

    def _channel(self, kind: SliceKind) -> float:
        dev_db = self.sinr_db.get(kind, 0.0) - self.mean_sinr_db.get(kind, 0.0)
        return float(np.clip((dev_db / (10.0 * math.log10(2.0)) + RAYLEIGH_MEAN_LOG2_GAIN) / 4.0,
                             -10.0, 10.0))

    def observation(self, view: CellView) -> np.ndarray[Any, np.dtype[np.float32]]:
        """The policy's observation vector for the cell (class docstring)."""
        lay = self.policy.layout
        u, e = view.index(SliceKind.URLLC), view.index(SliceKind.EMBB)
        q_e = view.queue_bits[e] if e is not None else 0.0
        q_u = view.queue_bits[u] if u is not None else 0.0
        d_u = (view.delay_s[u] or 0.0) if u is not None else 0.0
        di = view.dexterity_index if view.dexterity_index is not None else self.default_di
        ones_e, ones_u = np.ones(lay.n_embb), np.ones(lay.n_urllc)
        channel = np.concatenate([ones_e * self._channel(SliceKind.EMBB),
                                  ones_u * self._channel(SliceKind.URLLC)])
        return lay.build(
            ones_e * min(q_e / lay.n_embb / self.embb_packet_bits / self.embb_reference,
                         self.clip),
            ones_u * min(q_u / lay.n_urllc / self.urllc_packet_bits / self.urllc_reference,
                         self.clip),
            ones_u * min(d_u / self.deadline_s, self.clip), channel,
            ones_u * float(np.clip(di, 0.0, 1.0)))

    def wish(self, view: CellView) -> list[float]:
        """Slice shares from the policy's PRB counts, the URLLC share weighted by w_u."""
        counts = self.policy.decide(self.observation(view))
        n_e = self.policy.layout.n_embb
        s_e = float(counts[:n_e].sum()) / self.policy.n_prb
        s_u = float(counts[n_e:].sum()) / self.policy.n_prb
        u = view.index(SliceKind.URLLC)
        w = view.weight[u] if u is not None else 1.0
        share_u = w * s_u / (w * s_u + s_e)
        return [view.total_prbs * (share_u if k is SliceKind.URLLC else 1.0 - share_u)
                for k in view.kinds]

    def observe(self, view: CellView, delivered_bps: list[float | None]) -> None:
        """The SINR averages are fed by the broker (:meth:`note_sinr`)."""
