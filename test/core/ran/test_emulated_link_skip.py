"""
EmulatedLink.skip: many idle slots at once leave the link exactly where as many step() calls do
(same generator state, same counters, same later deliveries), and it refuses a busy link.
"""

from __future__ import annotations

import numpy as np
import pytest

from ior_ros.core.config import validate_config
from ior_ros.core.errors import ModelError
from ior_ros.core.ran.emulated_link import (
    SLICE_EMBB,
    SLICE_URLLC,
    EmulatedLink,
    EmulatedLinkConfig,
)


def _run(config: EmulatedLinkConfig, use_skip: bool, seed: int = 5) -> tuple[list, list, float]:
    """Offer a packet every 37 slots for 2000 slots; skip the idle stretches or step them."""
    link = EmulatedLink(config, np.random.default_rng(seed))
    deliveries, reports = [], []
    slot = 0
    while slot < 2000:
        if slot % 37 == 0:
            link.offer(SLICE_URLLC if slot % 2 else SLICE_EMBB, slot)
        if use_skip and link.idle():
            k = min(37 - slot % 37, 100 - slot % 100)  # to the next offer or report
            link.skip(k)
            slot += k
        else:
            deliveries += link.step()
            slot += 1
        if slot % 100 == 0:
            reports.append(link.report())
    return deliveries, reports, float(link._rng.random())  # noqa: SLF001  (generator state)


@pytest.mark.parametrize('prbs', [(40, 10), (0, 3), (7, 0)])
def test_skip_equals_stepping_bit_for_bit(prbs: tuple[int, int]) -> None:
    config = validate_config(EmulatedLinkConfig, {'embb': {'prbs': prbs[0]},
                                                  'urllc': {'prbs': prbs[1]}})
    stepped = _run(config, use_skip=False)
    skipped = _run(config, use_skip=True)
    assert stepped[0] and stepped[0] == skipped[0]  # same packets, same release slots
    assert repr(stepped[1]) == repr(skipped[1])  # every metric to the last bit (NaN included)
    assert stepped[2] == skipped[2]  # the generator is in the same state afterwards


def test_skip_refuses_a_busy_link_or_background_traffic() -> None:
    link = EmulatedLink(EmulatedLinkConfig(), np.random.default_rng(0))
    assert link.idle()
    link.offer(SLICE_URLLC, 1)
    assert not link.idle()
    with pytest.raises(ModelError, match='empty queues'):
        link.skip(3)
    with pytest.raises(ModelError, match='slots = -1'):
        EmulatedLink(EmulatedLinkConfig(), np.random.default_rng(0)).skip(-1)
    busy = validate_config(EmulatedLinkConfig, {'urllc': {'background_bps': 1e5}})
    assert not EmulatedLink(busy, np.random.default_rng(0)).idle()
