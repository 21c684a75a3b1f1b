"""
slice_broker with ``gnb_url``: its PRB split reaches a gNB as TS 28.541 PRB quotas over the srsRAN
remote-control WebSocket (the package's gNB emulator on loopback, a real WebSocket server), and a
gNB that is down when the broker starts gets the policies once it is up. The broker runs in one
process (runtime/inproc.py); the link to the gNB works on wall time from a thread of its own.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from ior_ros.clients.gnb_emulator import GnbEmulator, GnbEmulatorThread
from ior_ros.core.errors import ConfigError
from ior_ros.runtime.inproc import InprocWorld
from ior_ros.runtime.registry import get_message

SlicePolicy = get_message('ior_ros/msg/SlicePolicy')
EMBB, URLLC = (1, 1), (2, 1)  # (sst, sd) of config/slices/


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return int(s.getsockname()[1])


def _wait_state(gnb: GnbEmulatorThread, want: dict[tuple[int, int], tuple[int, int]],
                timeout_s: float = 15.0) -> dict[tuple[int, int], tuple[int, int]]:
    """(sst, sd) → (min %, max %) on the gNB once it equals ``want`` (or at the deadline)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = {key: gnb.call(lambda e, k=key: (e.slice_state(*k).min_ratio,
                                               e.slice_state(*k).max_ratio)) for key in want}
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def _broker(world: InprocWorld, url: str, policy: str = 'static') -> Any:
    from ior_ros.nodes.slice_broker import SliceBroker

    return world.add(SliceBroker, parameters={'policy': policy, 'gnb_url': url,
                                               'equipment_period_s': 0.1})


def test_the_split_reaches_the_gnb_as_prb_quotas() -> None:
    with GnbEmulatorThread(GnbEmulator()) as gnb, InprocWorld(seed=2) as world:
        broker = _broker(world, gnb.emulator.url)
        policies = world.tap('/slice_policy', SlicePolicy)
        world.run(1.0)
        last = policies[-1]
        split = dict(zip(last.slice_id, last.slice_prbs, strict=True))
        total = last.total_prbs
        # static: the templates' ratios; min = the share in whole percent (rounded down), max =
        # the template's cap (config/slices: eMBB 0.9, URLLC 0.6)
        want = {EMBB: (100 * split[0] // total, 90), URLLC: (100 * split[1] // total, 60)}
        got = _wait_state(gnb, want)
        assert got == want
        # the gNB truncates ratios to its 51 PRBs (du_cell_manager.cpp)
        state = gnb.call(lambda e: e.slice_state(*URLLC))
        assert state.min_prb == int(want[URLLC][0] / 100 * 51)
        sent = [f for f in gnb.emulator.received if 'rrm_policy_ratio_set' in str(f)]
        assert broker.gnb.failures == 0 and len(sent) >= 2


def test_a_gnb_that_comes_up_later_gets_the_policies_and_the_broker_never_stopped() -> None:
    port = _free_port()
    url = f'ws://127.0.0.1:{port}'
    with InprocWorld(seed=2) as world:
        broker = _broker(world, url)
        policies = world.tap('/slice_policy', SlicePolicy)
        world.run(1.0)
        assert len(policies) >= 9  # deciding every 100 ms with no gNB
        deadline = time.monotonic() + 10.0
        while broker.gnb.failures == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert broker.gnb.failures >= 1 and not broker.gnb.applied
        with GnbEmulatorThread(GnbEmulator(port=port)) as gnb:
            world.run(1.5)
            last = policies[-1]
            split = dict(zip(last.slice_id, last.slice_prbs, strict=True))
            want = {URLLC: (100 * split[1] // last.total_prbs, 60)}
            assert _wait_state(gnb, want) == want
            assert broker.gnb.applied


def test_a_bad_gnb_url_stops_the_node_in_one_line() -> None:
    from ior_ros.nodes.slice_broker import SliceBroker

    with InprocWorld(seed=1) as world, pytest.raises(ConfigError) as caught:
        world.add(SliceBroker, parameters={'gnb_url': 'http://gnb:8001'})
    assert str(caught.value) == ("parameter 'gnb_url' of node /slice_broker: 'http://gnb:8001' is "
                                 "not a WebSocket URL: give ws://host:port (or wss://), or '' for "
                                 "no gNB")
