"""
The srsRAN gNB client against the emulator over a real WebSocket on loopback (issue 13):
policies and the PRB state they give, the gNB's exact error strings, validation that sends
nothing, metrics interleaved with commands, reconnection after a restart with the last good
policy re-applied, 25.04 detection and the YAML path.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ior_ros.clients.errors import (
    EquipmentRejected,
    EquipmentTimeout,
    EquipmentUnavailable,
    EquipmentValidationError,
)
from ior_ros.clients.gnb_emulator import (
    TEXT_ONLY_ERROR,
    GnbEmulator,
    GnbEmulatorThread,
)
from ior_ros.clients.srsran import (
    SlicePolicy,
    SrsranClient,
    SrsranGnb,
    parse_metrics_frame,
    policy_from_template,
)
from ior_ros.clients.srsran_yaml import (
    CellConfig,
    SliceEntry,
    YamlGnbConfigurator,
    read_gnb_cells,
    read_policies,
    slicing_entries,
    write_slicing_yaml,
)
from ior_ros.core.slicing.slice_templates import load_template

REPO = Path(__file__).resolve().parents[2]
S1 = SlicePolicy(sst=1, sd=1, min_ratio=20, max_ratio=60)


def run(body: Callable[..., Awaitable[Any]], *args: Any, **emulator: Any) -> Any:
    """Start an emulator (keyword arguments) and a connected client, run ``body(emu, client,
    *args)``, close both; the whole test is bounded to 20 s."""
    async def main() -> Any:
        emu = GnbEmulator(**emulator)
        url = await emu.start()
        client = SrsranClient(url, timeout_s=1.0, backoff_s=0.02, backoff_max_s=0.1)
        try:
            await client.connect()
            return await body(emu, client, *args)
        finally:
            await client.close()
            await emu.stop()

    return asyncio.run(asyncio.wait_for(main(), 20.0))


async def _until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while not predicate():
        if loop.time() > end:
            raise AssertionError('condition not met in time')
        await asyncio.sleep(0.01)


def test_policy_reaches_every_cell_truncated_to_prbs() -> None:
    cells = [CellConfig(pci=1, plmn='00101', nof_prbs=51, slices=(SliceEntry(1, 1),
                                                                   SliceEntry(2, 1))),
             CellConfig(pci=2, plmn='00101', nof_prbs=106, slices=(SliceEntry(1, 1),))]

    async def body(emu: GnbEmulator, client: SrsranClient) -> None:
        assert client.capabilities is not None and client.capabilities.runtime_policy
        result = await client.apply_slice_policy(
            SlicePolicy(sst=1, sd=1, min_ratio=20, max_ratio=60, dedicated_ratio=10))
        assert result.path == 'websocket' and len(result.seconds) == 1
        assert 'dedicated_ratio 10' in result.notes[0]
        # 51 PRBs: 20 % -> 10, 60 % -> 30; 106 PRBs: 21.2 -> 21, 63.6 -> 63 (truncation)
        first, second = emu.slice_state(1, 1, cell=0), emu.slice_state(1, 1, cell=1)
        assert (first.min_prb, first.max_prb) == (10, 30)
        assert (second.min_prb, second.max_prb) == (21, 63)
        assert first.dedicated_ratio == 0  # the DU resets the dedicated ratio
        await client.apply_slice_policy(SlicePolicy(sst=2, sd=1, min_ratio=10, max_ratio=29))
        other = emu.slice_state(2, 1)
        assert (other.min_prb, other.max_prb) == (5, 14)  # 5.1 -> 5, 14.79 -> 14
        assert client.applied[('00101', 2, 1)].max_ratio == 29
        assert emu.log[-1] == 'DU reconfiguration procedure for RRM policy update completed'

    run(body, cells=cells)


RAW_ERRORS = [
    ({'cmd': 'rrm_policy_ratio_set'}, "'policies' object is missing and it is mandatory"),
    ({'cmd': 'rrm_policy_ratio_set', 'policies': {}},
     "'resourceType' object is missing and it is mandatory"),
    ({'cmd': 'rrm_policy_ratio_set', 'policies': {'resourceType': 1}},
     "'resourceType' object value type should be a string"),
    ({'cmd': 'rrm_policy_ratio_set', 'policies': {'resourceType': 'DRB'}},
     "Only 'resourceType' PRB value is supported"),
    ({'cmd': 'rrm_policy_ratio_set', 'policies': {'resourceType': 'PRB'}},
     "'rRMPolicyMemberList' object is missing and it is mandatory"),
    ({'cmd': 'rrm_policy_ratio_set', 'policies': {'resourceType': 'PRB',
                                                  'rRMPolicyMemberList': {}}},
     "'rRMPolicyMemberList' object value type should be an array"),
    ({'cmd': 'rrm_policy_ratio_set', 'policies': {'resourceType': 'PRB',
                                                  'rRMPolicyMemberList': [{'sst': 1}]}},
     "'plmn' object is missing and it is mandatory"),
    ({'cmd': 'rrm_policy_ratio_set', 'policies': {
        'resourceType': 'PRB', 'rRMPolicyMemberList': [{'plmn': '0010', 'sst': 1}]}},
     'Invalid PLMN identity value'),
    ({'cmd': 'rrm_policy_ratio_set', 'policies': {
        'resourceType': 'PRB', 'rRMPolicyMemberList': [{'plmn': '00101', 'sst': '1'}]}},
     "'sst' object value type should be an integer"),
    ({'cmd': 'rrm_policy_ratio_set', 'policies': {
        'resourceType': 'PRB', 'rRMPolicyMemberList': [{'plmn': '00101', 'sst': 1,
                                                        'sd': 0x1000000}]}},
     'Invalid slice differentiator value'),
    ({'cmd': 'rrm_policy_ratio_set', 'policies': {
        'resourceType': 'PRB', 'rRMPolicyMemberList': [{'plmn': '00101', 'sst': 1}],
        'min_prb_policy_ratio': 120}},
     "'min_prb_policy_ratio' value out of range, received '120', valid range is from 0 to 100"),
    ({'cmd': 'rrm_policy_ratio_set', 'policies': {
        'resourceType': 'PRB', 'rRMPolicyMemberList': [{'plmn': '00101', 'sst': 1}],
        'max_prb_policy_ratio': -1}},
     "'max_prb_policy_ratio' value out of range, received '4294967295', valid range is from 0 "
     'to 100'),
    ({'cmd': 'rrm_policy_ratio_set', 'policies': {
        'resourceType': 'PRB', 'rRMPolicyMemberList': [], 'dedicated_ratio': 5.0}},
     "'dedicated_ratio' object value type should be an integer"),
    ({'cmd': 'nope'}, 'Unknown command type: nope'),
    ({'cmd': 7}, "'cmd' object value type should be a string"),
    ({'policies': {}}, "'cmd' object is missing and it is mandatory"),
]


def test_gnb_error_strings_exact_and_in_order() -> None:
    async def body(emu: GnbEmulator, client: SrsranClient) -> None:
        for payload, expected in RAW_ERRORS:
            answer = await client.request(payload)
            assert answer['error'] == expected, payload
            assert ('cmd' in answer) == isinstance(payload.get('cmd'), str)
        assert (await client.request(b'{"cmd":"quit"}'))['error'] == TEXT_ONLY_ERROR
        parse = await client.request('{"cmd": ')
        assert parse['error'].startswith('[json.exception.parse_error.101] parse error at line 1')
        # the last answer of the gNB's own failure is raised with its exact text
        emu.fail_next_apply = True
        with pytest.raises(EquipmentRejected) as caught:
            await client.apply_slice_policy(S1)
        assert caught.value.detail == ('RRM policy ratio remote command procedure failed to be '
                                       'applied by the DU')
        assert str(caught.value).endswith(caught.value.detail)
        assert ('00101', 1, 1) not in client.applied  # only accepted policies are kept
        assert emu.slice_state(1, 1).max_prb == 51

    run(body)


def test_silent_success_quirks_and_configured_slices() -> None:
    async def body(emu: GnbEmulator, client: SrsranClient) -> None:
        # a slice the cell does not have: success, only logged (the reason to validate first)
        await client.apply_slice_policy(SlicePolicy(sst=9, min_ratio=10, max_ratio=50))
        assert emu.log[-2] == 'No RRM policy member found for {plmn=00101 sst=9 sd=0xffffff} ' \
                              'in cell 0'
        # min_prb > max_prb after truncation cannot come from min <= max; sent raw it is skipped
        answer = await client.request({'cmd': 'rrm_policy_ratio_set', 'policies': {
            'resourceType': 'PRB', 'rRMPolicyMemberList': [{'plmn': '00101', 'sst': 1, 'sd': 1}],
            'min_prb_policy_ratio': 80, 'max_prb_policy_ratio': 20}})
        assert 'error' not in answer
        assert 'min_prb=40 > max_prb=10. Skipping update.' in emu.log[-2]
        assert emu.slice_state(1, 1).max_prb == 51
        # absent max = 100, neither present = no-op
        await client.request({'cmd': 'rrm_policy_ratio_set', 'policies': {
            'resourceType': 'PRB', 'rRMPolicyMemberList': [{'plmn': '00101', 'sst': 2, 'sd': 1}],
            'min_prb_policy_ratio': 30}})
        assert (emu.slice_state(2, 1).min_prb, emu.slice_state(2, 1).max_prb) == (15, 51)
        # a client told the configured slices refuses the unknown one before sending
        strict = SrsranClient(client.url, configured_slices=[('00101', 1, 1), ('00101', 2, 1)])
        sent = len(emu.received)
        with pytest.raises(EquipmentValidationError, match="not a slice of the gNB's cell_cfg"):
            await strict.apply_slice_policy(SlicePolicy(sst=9, min_ratio=10))
        assert len(emu.received) == sent

    run(body)


@pytest.mark.parametrize('make, words', [
    (lambda: SlicePolicy(sst=1, min_ratio=70, max_ratio=60), "'min_ratio' 70 <= 'max_ratio' 60"),
    (lambda: SlicePolicy(sst=1, min_ratio=5, dedicated_ratio=10), "'dedicated_ratio' 10"),
    (lambda: SlicePolicy(sst=256), "field 'sst' = 256: allowed an integer 0..255"),
    (lambda: SlicePolicy(sst=1, sd=0xFFFFFF), "field 'sd' = 16777215"),
    (lambda: SlicePolicy(sst=1, max_ratio=101), "field 'max_ratio' = 101"),
    (lambda: SlicePolicy(sst=1, min_ratio=True), "field 'min_ratio' = True"),
    (lambda: SlicePolicy(sst=1, plmn='001-01'), "field 'plmn' = '001-01'"),
])
def test_bad_policy_values_refused(make: Callable[[], SlicePolicy], words: str) -> None:
    with pytest.raises(EquipmentValidationError, match=words.replace('(', r'\(')):
        make()


def test_set_rules_refused_with_nothing_sent() -> None:
    async def body(emu: GnbEmulator, client: SrsranClient) -> None:
        await client.apply_slice_policy(SlicePolicy(sst=1, sd=1, min_ratio=60, max_ratio=80))
        sent = len(emu.received)
        # with the applied 60 %, another 50 % of minimum breaks sum(min) <= 100
        with pytest.raises(EquipmentValidationError, match=r"sum of 'min_ratio' = 60 .* = 110 %"):
            await client.apply_slice_policy(SlicePolicy(sst=2, sd=1, min_ratio=50))
        with pytest.raises(EquipmentValidationError, match='is given twice'):
            await client.apply_slice_policy([S1, S1])
        assert len(emu.received) == sent  # nothing reached the gNB
        assert emu.slice_state(2, 1).max_prb == 51

    run(body)


def test_metrics_stream_interleaves_with_commands_and_follows_policy() -> None:
    async def body(emu: GnbEmulator, client: SrsranClient) -> None:
        await client.metrics_subscribe()
        first = await client.next_metrics()
        assert {ue.rnti for ue in first.ues} == {0x4601, 0x4602}
        # each answer comes 20 ms after its request while frames are pushed every 5 ms: the
        # frames land between every request and its answer
        emu.reply_delay_s = 0.02
        before = client.stats.metrics_frames
        for i in range(10):
            await client.apply_slice_policy(SlicePolicy(sst=1, sd=1, min_ratio=i, max_ratio=50))
            assert emu.slice_state(1, 1).min_ratio == i
        await client.apply_slice_policy(SlicePolicy(sst=1, sd=1, min_ratio=10, max_ratio=20))
        assert client.stats.metrics_frames - before >= 20
        assert client.stats.dropped_frames == 0
        # slice 1 capped at 20 % of 51 PRBs = 10 PRBs, slice 2 takes the other 41
        await _until(lambda: client.latest_metrics is not None and {
            ue.rnti: ue.dl_bps for ue in client.latest_metrics.ues} == {
            0x4601: 10e6, 0x4602: 41e6})
        ue = client.latest_metrics.ues[0] if client.latest_metrics else None
        assert ue is not None and ue.cqi == 15 and ue.pusch_snr_db == 25.0
        assert ue.ul_buffer_bytes == 20000 and ue.dl_buffer_bytes == 100000

    run(body, metrics_period_s=0.005)


def test_reconnects_after_restart_and_reapplies_last_good_policy() -> None:
    async def body(emu: GnbEmulator, client: SrsranClient) -> None:
        await client.metrics_subscribe()
        await client.apply_slice_policy(S1)
        await client.apply_slice_policy(SlicePolicy(sst=2, sd=1, min_ratio=10, max_ratio=40))
        port = emu.port
        await emu.restart(down_s=0.3)  # a restart reverts the gNB to its YAML
        assert emu.port == port
        await _until(lambda: client.stats.reconnects == 1)
        assert (emu.slice_state(1, 1).min_prb, emu.slice_state(1, 1).max_prb) == (10, 30)
        assert (emu.slice_state(2, 1).min_prb, emu.slice_state(2, 1).max_prb) == (5, 20)
        assert client.stats.reapplied == 2
        while not client._metrics.empty():
            client._metrics.get_nowait()
        report = await client.next_metrics()  # re-subscribed
        assert report.ues[0].dl_bps == 30e6
        # a request made while the gNB is down waits for the reconnection, then goes through
        await emu.stop()
        task = asyncio.ensure_future(client.apply_slice_policy(
            SlicePolicy(sst=1, sd=1, min_ratio=0, max_ratio=100)))
        await asyncio.sleep(0.2)
        emu.reset_state()
        await emu.start()
        await task
        assert emu.slice_state(1, 1).max_prb == 51 and emu.slice_state(2, 1).max_prb == 20

    run(body, metrics_period_s=0.01)


def test_timeout_then_recovery_and_unavailable() -> None:
    async def body(emu: GnbEmulator, client: SrsranClient) -> None:
        emu.reply_delay_s = 1.5
        with pytest.raises(EquipmentTimeout, match='no answer within 1 s to rrm_policy_ratio_set'):
            await client.apply_slice_policy(S1)
        emu.reply_delay_s = 0.0
        await _until(lambda: client.connected)
        await client.apply_slice_policy(S1)  # a clean connection: no late answer mismatched
        assert emu.slice_state(1, 1).max_prb == 30
        # more than 16 KiB in one frame: the server closes the connection (1009)
        with pytest.raises(EquipmentUnavailable, match='connection lost'):
            await client.request('{"cmd":"quit","pad":"' + 'x' * 17000 + '"}')

    run(body)

    async def refused() -> None:
        emu = GnbEmulator()
        await emu.start()
        url = emu.url
        await emu.stop()
        with pytest.raises(EquipmentUnavailable, match='connection refused'):
            await SrsranClient(url).connect()

    asyncio.run(refused())


def test_release_2504_detected_and_yaml_path_used(tmp_path: Path) -> None:
    config = tmp_path / 'slicing.yml'
    config.write_text('cell_cfg:\n  plmn: "00101"\n  channel_bandwidth_MHz: 20\n  '
                      'common_scs: 30\n  slicing:\n    - {sst: 1, sd: 1}\n    - {sst: 2, sd: 1}\n')
    marker = tmp_path / 'restarted'
    restart = [sys.executable, '-c', f'open({str(marker)!r}, "a").write("x")']

    async def body(emu: GnbEmulator, client: SrsranClient) -> None:
        caps = client.capabilities
        assert caps is not None and caps.release == '24.10/25.04'
        assert not caps.runtime_policy and not caps.metrics
        with pytest.raises(EquipmentRejected, match='has no rrm_policy_ratio_set'):
            await client.apply_slice_policy(S1)
        client.yaml_fallback = YamlGnbConfigurator(config, restart, release='25.04')
        sent = len(emu.received)
        result = await client.apply_slice_policy(
            SlicePolicy(sst=1, sd=1, min_ratio=20, max_ratio=60, priority=10))
        assert result.path == 'yaml' and result.seconds[0] > 0
        assert len(emu.received) == sent and marker.read_text() == 'x'
        await client.apply_slice_policy(SlicePolicy(sst=2, sd=1, min_ratio=10, max_ratio=100))
        assert marker.read_text() == 'xx'
        data = yaml.safe_load(config.read_text())
        assert data['cell_cfg']['plmn'] == '00101'  # the other keys are kept
        assert data['cell_cfg']['slicing'] == [
            {'sst': 1, 'sd': 1, 'sched_cfg': {'min_prb_policy_ratio': 20,
                                              'max_prb_policy_ratio': 60, 'priority': 10}},
            {'sst': 2, 'sd': 1, 'sched_cfg': {'min_prb_policy_ratio': 10}}]
        assert {p.key: p for p in read_policies(config)} == client.applied
        # a gNB started from the written YAML holds the policy
        restarted = GnbEmulator(read_gnb_cells(data, 'slicing.yml'))
        assert (restarted.slice_state(1, 1).min_prb, restarted.slice_state(1, 1).max_prb) == \
            (10, 30)

    run(body, release='25.04')


def test_yaml_rendering_and_restart_failures(tmp_path: Path) -> None:
    policy = SlicePolicy(sst=1, sd=None, min_ratio=10, max_ratio=100, dedicated_ratio=5,
                         priority=3)
    assert slicing_entries([policy], '24.10') == [
        {'sst': 1, 'sched_cfg': {'min_prb_policy_ratio': 10}}]
    assert slicing_entries([policy], '25.10') == [
        {'sst': 1, 'sched_cfg': {'min_prb_policy_ratio': 10, 'ded_prb_policy_ratio': 5,
                                 'priority': 3}}]
    with pytest.raises(EquipmentValidationError, match="'max_ratio' = 0: the gNB YAML takes"):
        slicing_entries([SlicePolicy(sst=1, max_ratio=0)])
    target = tmp_path / 'gnb.yml'
    target.write_text('ru_sdr: {device_driver: uhd}\n')
    before = target.read_text()
    with pytest.raises(EquipmentValidationError):
        write_slicing_yaml(target, [SlicePolicy(sst=1, min_ratio=60),
                                    SlicePolicy(sst=2, min_ratio=60)])
    assert target.read_text() == before and list(tmp_path.iterdir()) == [target]
    failing = YamlGnbConfigurator(target, [sys.executable, '-c',
                                           'import sys; sys.exit("gnb: unit failed")'])
    with pytest.raises(EquipmentRejected, match='exited with 1: gnb: unit failed'):
        failing.apply([policy])
    assert yaml.safe_load(target.read_text())['ru_sdr'] == {'device_driver': 'uhd'}
    with pytest.raises(EquipmentUnavailable, match='not found'):
        YamlGnbConfigurator(target, 'no-such-gnb-restart-tool --now').restart()
    with pytest.raises(EquipmentValidationError, match='No closing quotation'):
        YamlGnbConfigurator(target, 'systemctl "restart')


def test_blocking_facade_against_threaded_emulator() -> None:
    with GnbEmulatorThread(GnbEmulator(metrics_period_s=0.01)) as emu, \
            SrsranGnb(emu.emulator.url, timeout_s=1.0) as gnb:
        assert gnb.connect().runtime_policy
        gnb.apply_slice_policy([S1, SlicePolicy(sst=2, sd=1, min_ratio=30, max_ratio=70)])
        assert emu.call(lambda e: (e.slice_state(2, 1).min_prb, e.slice_state(2, 1).max_prb)) \
            == (15, 35)
        gnb.metrics_subscribe()
        assert len(gnb.next_metrics(2.0).ues) == 2
        gnb.release_slice(('00101', 1, 1))
        assert emu.call(lambda e: e.slice_state(1, 1).max_prb) == 51
        assert set(gnb.applied) == {('00101', 2, 1)}


def test_template_mapping_and_metrics_parsing() -> None:
    urllc = policy_from_template(load_template(REPO / 'config/slices/urllc_control.yaml'))
    assert (urllc.sst, urllc.sd, urllc.dedicated_ratio, urllc.min_ratio, urllc.max_ratio) == \
        (2, 1, 5, 20, 60)
    template = load_template(REPO / 'config/slices/embb_video.yaml')
    odd = template.model_copy(update={'prb_ratio': template.prb_ratio.model_copy(
        update={'min': 0.205})})
    with pytest.raises(EquipmentValidationError, match=r"prb_ratio.min' = 0.205 is 20.5 %"):
        policy_from_template(odd)
    old = parse_metrics_frame(json.loads(
        '{"timestamp": 1.5, "cell_metrics": {"pci": 3}, "ue_list": [{"ue_container": '
        '{"rnti": 17921, "dl_brate": 1e6, "ul_brate": 2e5, "pusch_snr_db": null}}, {"x": 1}]}'))
    assert old is not None and old.cells[0].pci == 3
    assert old.ues[0].rnti == 17921 and old.ues[0].pusch_snr_db is None
    assert parse_metrics_frame({'du': {}}) is None
