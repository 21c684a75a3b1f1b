"""
The slice_broker's link to a real gNB (issue 13): the broker's PRB split, as TS 28.541
``RRMPolicyRatio`` policies, sent to an srsRAN gNB through its remote control
(:class:`ior_ros.clients.srsran.SrsranGnb`; the gNB emulator of ``ior gnb emulate`` speaks the same
protocol).

The broker decides every ``period_s`` (100 ms); a DU reconfiguration is a procedure of the gNB,
not a per-slot knob, so the link sends at most one set of policies every ``gnb_period_s`` and
only when a slice's minimum moved by at least ``gnb_change_percent``. Per admitted template:

* ``min_prb_policy_ratio`` = the slice's share of the broker's split, in whole percent rounded
  down (the gNB guarantees it while the slice has data; the sum stays <= 100 as TS 28.541 asks);
* ``max_prb_policy_ratio`` = the template's ``prb_ratio.max`` (the slice may take idle PRBs up to
  its cap, as the template says), never below the minimum;
* ``dedicated_ratio`` 0 (srsRAN resets it to 0 anyway; ran-equipment §3.3).

A rejected template gets no policy. The link runs on a thread of its own: the node's executor
never waits for the network. The client validates before sending, keeps what was applied and
re-applies it after a gNB restart; an error is logged (one warning per ``WARN_PERIOD_S``) and
the next period tries again: a gNB that is down, slow or refusing never stops the broker.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

__all__ = ['GnbLink', 'policies_for', 'WARN_PERIOD_S']

WARN_PERIOD_S = 5.0
"""At most one warning per this many seconds about a failing gNB [s]."""


def policies_for(allocation: Any, templates: dict[str, Any], plmn: str) -> list[Any]:
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


class GnbLink:
    """
    Sends the newest allocation's policies to the gNB at ``url`` from a thread of its own
    (module docstring). :meth:`offer` is what the node calls every decision; :meth:`close` at
    the end.
    """

    def __init__(self, url: str, plmn: str, templates: dict[str, Any], logger: Any, *,
                 period_s: float = 1.0, change_percent: int = 2,
                 timeout_s: float = 2.0) -> None:
        self.url = url
        self.plmn = plmn
        self.templates = templates
        self.logger = logger
        self.period_s = float(period_s)
        self.change_percent = int(change_percent)
        self.timeout_s = float(timeout_s)
        self.applied: dict[Any, tuple[int, int]] = {}
        """(plmn, sst, sd) → (min %, max %) the gNB accepted."""
        self.sent = 0
        self.failures = 0
        self._wanted: list[Any] | None = None
        self._cond = threading.Condition()
        self._closed = False
        self._gnb: Any = None
        self._warned_at: float | None = None
        self._thread = threading.Thread(target=self._run, name='gnb-link', daemon=True)
        self._thread.start()

    def offer(self, allocation: Any) -> None:
        """The broker's newest allocation; sent when it differs enough (module docstring)."""
        try:
            wanted = policies_for(allocation, self.templates, self.plmn)
        except Exception as exc:  # a policy the client refuses: say so, keep the broker going
            self._warn(f'gNB {self.url}: allocation not sendable: {exc}')
            return
        if not self._differs(wanted):
            return
        with self._cond:
            self._wanted = wanted
            self._cond.notify()

    def _differs(self, wanted: list[Any]) -> bool:
        if {p.key for p in wanted} != set(self.applied):
            return True
        return any(abs(p.min_ratio - self.applied[p.key][0]) >= self.change_percent
                   or p.max_ratio != self.applied[p.key][1] for p in wanted)

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

    def _send(self, wanted: list[Any]) -> None:
        from ior_ros.clients.srsran import SrsranGnb

        try:
            if self._gnb is None:
                self._gnb = SrsranGnb(self.url, timeout_s=self.timeout_s,
                                      connect_timeout_s=self.timeout_s)
                caps = self._gnb.connect()
                self.logger.info(f'gNB {self.url}: connected (srsRAN {caps.release})')
            self._gnb.apply_slice_policy(wanted)
        except Exception as exc:  # the gNB down, slow or refusing: the broker goes on
            self.failures += 1
            if self._gnb is not None and not self._gnb.client.connected:
                self._drop_client()  # never connected, or gave up: connect afresh next time
            self._warn(f'gNB {self.url}: slice policies not applied ({exc}); the next '
                       f'allocation tries again')
            if not self._differs(wanted):
                return
            with self._cond:  # try again next period unless a newer allocation came
                if self._wanted is None:
                    self._wanted = wanted
            return
        first = not self.applied
        self.applied = {p.key: (p.min_ratio, p.max_ratio) for p in wanted}
        self.sent += 1
        if first:
            shares = ', '.join(f'{p.text}: min {p.min_ratio} % max {p.max_ratio} %'
                               for p in wanted)
            self.logger.info(f'gNB {self.url}: slice policies applied: {shares}')

    def _drop_client(self) -> None:
        gnb, self._gnb = self._gnb, None
        if gnb is not None:
            try:
                gnb.close()
            except Exception as exc:  # closing a broken link must not fail the node
                self.logger.debug(f'gNB {self.url}: close: {exc!r}')

    def close(self) -> None:
        """Stop the thread and the client."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=5.0)
        self._drop_client()
