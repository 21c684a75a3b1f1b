"""
slice_broker with ``tc_dev``: its PRB split becomes HTB slices on a real interface (a veth in a
network namespace the test creates and removes; skipped with the reason where namespaces are not
allowed): each slice's rate its share of the link, packets classified by DSCP
(config/slices/equipment/bindings.yaml); the tree is not rewritten while the split holds. The
broker runs in this process (runtime/inproc.py); the link applies ``tc`` from a thread of its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ior_ros.clients.netns import NetnsDenied, unavailable, veth_loop
from ior_ros.clients.tc import TcSlices
from ior_ros.core.errors import ConfigError
from ior_ros.core.slicing.equipment_plan import load_bindings
from ior_ros.core.slicing.slice_templates import load_templates
from ior_ros.runtime.inproc import InprocWorld
from ior_ros.runtime.registry import get_message

SlicePolicy = get_message('ior_ros/msg/SlicePolicy')
SLICES = Path(__file__).resolve().parents[2] / 'config' / 'slices'
CAPACITY_BPS = load_bindings(SLICES / 'equipment' / 'bindings.yaml').capacity_bps
GUARANTEED = {t.name: t.guaranteed_bitrate_bps for t in load_templates(SLICES)}

PREFIX = 'tcb'
ADDRESSES = ('10.89.0.1/24', '10.89.0.2/24')


@pytest.fixture
def link() -> Iterator[tuple[str, str]]:
    """(namespace, interface): one end of a veth pair inside a fresh namespace."""
    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)
    try:
        with veth_loop(PREFIX, *ADDRESSES) as found:
            yield found
    except NetnsDenied as exc:
        pytest.skip(str(exc))


def _rates(ns: str, dev: str) -> dict[str, int]:
    state = TcSlices(dev, ns).read(['urllc_control', 'embb_video'])
    return {c.name: c.rate_bps for c in state.classes if c.name in GUARANTEED}


def test_the_split_becomes_htb_rates_on_the_link(link: tuple[str, str]) -> None:
    from ior_ros.nodes.slice_broker import SliceBroker

    ns, dev = link
    with InprocWorld(seed=2) as world:
        broker = world.add(SliceBroker, parameters={
            'policy': 'static', 'tc_dev': dev, 'tc_netns': ns, 'equipment_period_s': 0.1})
        policies = world.tap('/slice_policy', SlicePolicy)
        world.run(1.0)
        last = policies[-1]
        split = dict(zip(last.slice_id, last.slice_prbs, strict=True))
        share = {'urllc_control': split[1] / last.total_prbs,
                 'embb_video': split[0] / last.total_prbs}
        want = {n: max(int(GUARANTEED[n]), round(share[n] * CAPACITY_BPS / 1000) * 1000)
                for n in GUARANTEED}
        deadline = time.monotonic() + 15.0
        while _rates(ns, dev) != want and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _rates(ns, dev) == want
        state = TcSlices(dev, ns).read(['urllc_control', 'embb_video'])
        matches = {c.name: c.match for c in state.classes if c.name in GUARANTEED}
        assert matches == {'urllc_control': 'dscp 46', 'embb_video': 'dscp 34'}  # EF, AF41
        # the same split for two more seconds: nothing applied again
        sent = broker.tc.sent
        world.run(3.0)
        time.sleep(0.5)
        assert broker.tc.sent == sent == 1 and broker.tc.failures == 0


def test_a_bad_tc_device_stops_the_node_in_one_line() -> None:
    from ior_ros.nodes.slice_broker import SliceBroker

    with InprocWorld(seed=1) as world, pytest.raises(ConfigError) as caught:
        world.add(SliceBroker, parameters={'tc_dev': 'wlan0; reboot'})
    text = str(caught.value)
    assert text.startswith("parameter 'tc_dev' of node /slice_broker: tc: field 'dev' = "
                           "'wlan0; reboot'"), text
    assert '\n' not in text
