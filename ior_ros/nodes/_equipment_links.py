"""
The slice_broker's links to equipment (issue 13): its PRB split applied to a real srsRAN gNB
(:class:`GnbLink`) and to Linux traffic-control slices on a WiFi or Ethernet interface
(:class:`TcLink`).

The broker decides every ``period_s`` (100 ms); reconfiguring a DU or an HTB tree is a procedure,
not a per-slot knob, so a link applies at most one configuration every ``equipment_period_s``
(wall clock) and only when a slice moved by at least ``equipment_change_percent`` of the carrier
(gNB) or of the link capacity (tc). Each link runs on a thread of its own, so the node's executor
never waits for the network or for ``tc``; only the newest allocation is kept. A failure (the gNB
down, slow or refusing; ``tc`` refused) is logged, one warning per :data:`WARN_PERIOD_S`, and the
next period tries again: equipment never stops the broker.

**gNB** (:class:`ior_ros.clients.srsran.SrsranGnb`, the remote control of srsRAN 25.10+, or
``ior gnb emulate``), per admitted template, as TS 28.541 ``RRMPolicyRatio``:

* ``min_prb_policy_ratio`` = the slice's share of the split in whole percent, rounded down (the
  gNB guarantees it while the slice has data; the sum stays <= 100 as TS 28.541 asks);
* ``max_prb_policy_ratio`` = the template's ``prb_ratio.max`` (the slice may take idle PRBs up to
  its cap), never below the minimum;
* ``dedicated_ratio`` 0 (srsRAN resets it to 0 anyway; ran-equipment §3.3).

**tc** (:class:`ior_ros.clients.tc.TcSlices`): the slice set's HTB tree
(:mod:`ior_ros.core.slicing.equipment_plan`, the templates with their ``equipment/bindings.yaml``)
with each slice's ``rate`` = max(its guaranteed bit rate, its share of the split × the link
capacity) and ``ceil`` = max(its cap, that rate); packets are classified by DSCP or by robot
address as the bindings say. The tree stays when the broker stops (``ior slices remove`` takes it
away), as a gNB keeps its last policy.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from typing import Any

__all__ = ['EquipmentLink', 'GnbLink', 'TcLink', 'gnb_policies', 'tc_rates', 'WARN_PERIOD_S']

WARN_PERIOD_S = 5.0
"""At most one warning per this many seconds about failing equipment [s]."""


class EquipmentLink:
    """
    The thread, the newest-wins hand-over and the retries of a link (module docstring);
    subclasses say what an allocation becomes (:meth:`wanted`), whether it differs enough from
    what was applied (:meth:`differs`) and how it is applied (:meth:`apply`).
    """

    what = 'equipment'

    def __init__(self, logger: Any, *, period_s: float = 1.0, change_percent: int = 2) -> None:
        self.logger = logger
        self.period_s = float(period_s)
        self.change_percent = int(change_percent)
        self.applied: Any = None
        """The configuration the equipment accepted last (None before)."""
        self.sent = 0
        self.failures = 0
        self._wanted: Any = None
        self._cond = threading.Condition()
        self._closed = False
        self._warned_at: float | None = None
        self._thread = threading.Thread(target=self._run, name=f'{self.what}-link',
                                        daemon=True)
        self._thread.start()

    # -- what a subclass says ------------------------------------------------------------------
    def wanted(self, allocation: Any) -> Any:
        """The configuration of one broker allocation."""
        raise NotImplementedError

    def differs(self, wanted: Any) -> bool:
        """``wanted`` moved enough from :attr:`applied` to be applied."""
        raise NotImplementedError

    def apply(self, wanted: Any) -> None:
        """Apply ``wanted`` (on the link's thread); raise on failure."""
        raise NotImplementedError

    noun = 'configuration'
    """What is applied, in words (the log line of the first success)."""

    def describe(self, wanted: Any) -> str:
        """``wanted`` in words, for the log line of the first success."""
        return str(wanted)

    def drop(self) -> None:
        """Forget a broken connection (a fresh one next time); nothing by default."""

    # -- the machinery -------------------------------------------------------------------------
    def offer(self, allocation: Any) -> None:
        """The broker's newest allocation; applied when it differs enough."""
        try:
            wanted = self.wanted(allocation)
        except Exception as exc:  # a configuration the client refuses: say so, keep going
            self._warn(f'{self.what}: allocation not applicable: {exc}')
            return
        if not self.differs(wanted):
            return
        with self._cond:
            self._wanted = wanted
            self._cond.notify()

    def _warn(self, text: str) -> None:
        now = time.monotonic()
        if self._warned_at is None or now - self._warned_at >= WARN_PERIOD_S:
            self._warned_at = now
            self.logger.warning(text)

    def _run(self) -> None:
        last = -math.inf
        while True:
            with self._cond:
                while not self._closed and self._wanted is None:
                    self._cond.wait()
                if self._closed:
                    return
                wait = last + self.period_s - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)  # newer allocations may replace this one meanwhile
                    if self._closed:
                        return
                wanted, self._wanted = self._wanted, None
            if wanted is None:
                continue
            last = time.monotonic()
            self._send(wanted)

    def _send(self, wanted: Any) -> None:
        if self.applied is not None and not self.differs(wanted):
            return  # offered while the previous one was being applied, and no different
        try:
            self.apply(wanted)
        except Exception as exc:  # down, slow or refusing: the broker goes on
            self.failures += 1
            self.drop()
            self._warn(f'{self.what}: not applied ({exc}); the next allocation tries again')
            with self._cond:  # try again next period unless a newer allocation came
                if self._wanted is None:
                    self._wanted = wanted
            return
        first = self.applied is None
        self.applied = wanted
        self.sent += 1
        if first:
            self.logger.info(f'{self.what}: {self.noun} applied: {self.describe(wanted)}')

    def close(self) -> None:
        """Stop the thread (and the connection)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=5.0)
        self.drop()


def gnb_policies(allocation: Any, templates: dict[str, Any], plmn: str) -> list[Any]:
    """The gNB policies of one broker allocation (module docstring)."""
    from ior_ros.clients.srsran import SlicePolicy

    total = max(int(allocation.total_prbs), 1)
    out = []
    for name, prbs in allocation.prbs.items():
        template = templates.get(name)
        if template is None or prbs <= 0:
            continue
        low = min(100, math.floor(100.0 * prbs / total + 1e-9))
        high = max(low, min(100, round(100.0 * template.prb_ratio.max)))
        sd = template.snssai.sd
        out.append(SlicePolicy(sst=int(template.snssai.sst),
                               sd=None if sd is None else int(sd, 16),
                               min_ratio=low, max_ratio=high, dedicated_ratio=0, plmn=plmn))
    return out


class GnbLink(EquipmentLink):
    """The split to the gNB at ``url`` as per-slice PRB quotas (module docstring)."""

    def __init__(self, url: str, plmn: str, templates: dict[str, Any], logger: Any, *,
                 period_s: float = 1.0, change_percent: int = 2,
                 timeout_s: float = 2.0) -> None:
        self.url = url
        self.what = f'gNB {url}'
        self.plmn = plmn
        self.templates = templates
        self.timeout_s = float(timeout_s)
        self._gnb: Any = None
        super().__init__(logger, period_s=period_s, change_percent=change_percent)

    def wanted(self, allocation: Any) -> list[Any]:
        return gnb_policies(allocation, self.templates, self.plmn)

    def differs(self, wanted: list[Any]) -> bool:
        applied = {p.key: p for p in self.applied or []}
        if {p.key for p in wanted} != set(applied):
            return True
        return any(abs(p.min_ratio - applied[p.key].min_ratio) >= self.change_percent
                   or p.max_ratio != applied[p.key].max_ratio for p in wanted)

    def apply(self, wanted: list[Any]) -> None:
        from ior_ros.clients.srsran import SrsranGnb

        if self._gnb is None:
            self._gnb = SrsranGnb(self.url, timeout_s=self.timeout_s,
                                  connect_timeout_s=self.timeout_s)
            caps = self._gnb.connect()
            self.logger.info(f'{self.what}: connected (srsRAN {caps.release})')
        self._gnb.apply_slice_policy(wanted)

    noun = 'slice policies'

    def describe(self, wanted: list[Any]) -> str:
        return ', '.join(
            f'{p.text}: min {p.min_ratio} % max {p.max_ratio} %' for p in wanted)

    def drop(self) -> None:
        gnb = self._gnb
        if gnb is None or gnb.client.connected:
            return  # a connected client reconnects by itself after a gNB restart
        self._gnb = None
        try:
            gnb.close()
        except Exception as exc:  # closing a broken link must not fail the node
            self.logger.debug(f'{self.what}: close: {exc!r}')

    def close(self) -> None:
        super().close()
        gnb, self._gnb = self._gnb, None
        if gnb is not None:
            try:
                gnb.close()
            except Exception as exc:  # closing a broken link must not fail the node's exit
                self.logger.debug(f'{self.what}: close: {exc!r}')


def tc_rates(allocation: Any, base: Any) -> Any:
    """The HTB plan of one allocation: ``base`` (a :class:`~ior_ros.clients.tc.TcPlan` of the
    slice set) with each slice's rate raised to its share of the capacity (module docstring)."""
    total = max(int(allocation.total_prbs), 1)
    slices = []
    for spec in base.slices:
        share = allocation.prbs.get(spec.name, 0) / total
        rate = max(spec.rate_bps, int(round(share * base.capacity_bps / 1000.0)) * 1000)
        slices.append(dataclasses.replace(spec, rate_bps=rate,
                                          ceil_bps=max(spec.ceil_bps, rate)))
    return dataclasses.replace(base, slices=tuple(slices))


class TcLink(EquipmentLink):
    """The split to HTB slices on ``dev`` (in namespace ``netns``; module docstring)."""

    def __init__(self, dev: str, netns: str | None, base: Any, logger: Any, *,
                 period_s: float = 1.0, change_percent: int = 2) -> None:
        from ior_ros.clients.tc import TcSlices

        self.what = f'tc {dev}' + (f' (netns {netns})' if netns else '')
        self.base = base
        self.slices = TcSlices(dev, netns)  # checks the names now: a bad one stops the node
        super().__init__(logger, period_s=period_s, change_percent=change_percent)

    def wanted(self, allocation: Any) -> Any:
        return tc_rates(allocation, self.base)

    def differs(self, wanted: Any) -> bool:
        if self.applied is None:
            return True
        step = self.change_percent / 100.0 * wanted.capacity_bps
        return any(abs(a.rate_bps - b.rate_bps) >= step
                   for a, b in zip(wanted.slices, self.applied.slices, strict=True))

    def apply(self, wanted: Any) -> None:
        self.slices.apply(wanted)

    noun = 'HTB slices'

    def describe(self, wanted: Any) -> str:
        return ', '.join(
            f'{s.name}: rate {s.rate_bps / 1e6:g} ceil {s.ceil_bps / 1e6:g} Mbit/s'
            for s in wanted.slices)
