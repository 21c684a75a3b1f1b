"""
The RM500Q driver (ior_ros/clients/quectel.py, ior_ros/clients/at.py) against the emulator
(ior_ros/clients/modem_emulator.py) through a real pseudo-terminal: pyserial on the device path,
the emulator answering on the master side.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ior_ros.clients.at import (
    AtCommandError,
    CmeError,
    CmeIncorrectParameters,
    CmeSimNotInserted,
)
from ior_ros.clients.errors import (
    EquipmentTimeout,
    EquipmentUnavailable,
    EquipmentValidationError,
)
from ior_ros.clients.modem_emulator import FIRMWARE, IMEI, ModemEmulator
from ior_ros.clients.quectel import QuectelRM500Q, RadioMode, ServingCell, SliceRejected

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[ModemEmulator]:
    emu = ModemEmulator(link=tmp_path / 'ttyRM500Q', register_delay_s=0.02,
                        offered=('01.000001', '02'))
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def modem(emulator: ModemEmulator) -> Iterator[QuectelRM500Q]:
    driver = QuectelRM500Q(emulator.path, timeout_s=1.0, reconnect_timeout_s=3.0).open()
    _wait_registered(driver)
    yield driver
    driver.close()


def _wait_registered(driver: QuectelRM500Q, timeout_s: float = 3.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not driver.registration_5gs().registered:
        assert time.monotonic() < deadline, 'the emulator did not register'
        time.sleep(0.02)


def test_every_typed_method(emulator: ModemEmulator, modem: QuectelRM500Q) -> None:
    identity = modem.identify()
    assert (identity.manufacturer, identity.model, identity.revision, identity.imei) == (
        'Quectel', 'RM500Q-GL', FIRMWARE, IMEI)
    registration = modem.registration_5gs()
    assert registration.stat == 1 and registration.n == 2 and registration.act == 11
    assert registration.allowed_nssai == ('01.000001',)  # no default NSSAI: the network's first
    cell = modem.serving_cell()
    assert cell.mode is RadioMode.NR5G_SA and cell.state == 'NOCONN'
    assert (cell.nr.rsrp_dbm, cell.nr.rsrq_db, cell.nr.sinr_db, cell.nr.band, cell.nr.pci,
            cell.nr.arfcn) == (-90.0, -11.0, 11.0, 78, 2, 647232)
    emulator.cell.rsrp_dbm = -101  # the 'radio' moves: the driver reads the new value
    assert modem.serving_cell().nr.rsrp_dbm == -101.0
    signal = modem.signal()
    assert signal.chains[0].sysmode == 'NR5G' and signal.chains[0].rsrp_dbm[0] == -101
    assert signal.chains[0].rsrp_dbm[2] is None and signal.qcsq.sysmode == 'NR5G'
    emulator.ul_bps, emulator.dl_bps = 1_000_000, 25_000_000
    assert (modem.throughput().ul_bps, modem.throughput().dl_bps) == (1_000_000, 25_000_000)
    assert modem.default_nssai() == ()
    state = modem.nssai('00101')
    assert state.plmn == '00101' and state.configured == ('01.000001', '02')
    assert state.allowed == ('01.000001',)
    assert modem.reject_causes().fivegmm is None
    contexts = modem.pdp_contexts()
    assert [(c.cid, c.apn, c.snssai, c.fields) for c in contexts] == [(1, 'internet', None, 21)]
    # read-compare-write: written once, the second call only reads
    assert modem.set_pdp_context(2, 'urllc', snssai='01.000001') is True
    assert modem.set_pdp_context(2, 'urllc', snssai='01.000001') is False
    writes = [c for c in emulator.received if c.startswith('AT+CGDCONT=')]
    assert writes == ['AT+CGDCONT=2,"IP","urllc",,,,,,,,,,,,,,,"01.000001"']
    assert modem.pdp_contexts()[1].snssai == '01.000001'
    assert modem.set_default_nssai(['01.000001', '02']) is True
    assert modem.set_default_nssai(['01.000001', '02']) is False
    assert modem.default_nssai() == ('01.000001', '02')
    registration = modem.reattach(timeout_s=5.0)
    assert registration.registered and registration.allowed_nssai == ('01.000001', '02')
    assert modem.registration_5gs().allowed_nssai == ('01.000001', '02')


def test_template_slice_goes_into_the_pdp_context(emulator: ModemEmulator,
                                                  modem: QuectelRM500Q) -> None:
    from ior_ros.core.slicing.slice_templates import load_templates

    template = load_templates(REPO / 'config' / 'slices')[0]
    assert modem.set_pdp_context(3, 'robots', snssai=template) is True
    sd = template.snssai.sd
    expected = f'{template.snssai.sst:02X}' + (f'.{sd.upper()}' if sd else '')
    assert modem.pdp_contexts()[-1].snssai == expected


@pytest.mark.parametrize('mode', ['nsa', 'lte'])
def test_serving_cell_other_modes(tmp_path: Path, mode: str) -> None:
    with ModemEmulator(mode=mode, link=tmp_path / 'tty', register_delay_s=0.02) as emu:
        emu.cell.lte_sinr_db = 12  # written raw as (12 + 20) / 2 = 16, read back as 2*16 - 20
        with QuectelRM500Q(emu.path, timeout_s=1.0) as modem:
            _wait_registered(modem)
            cell = modem.serving_cell()
            assert cell.lte is not None and cell.lte.sinr_db == 12.0 and cell.lte.srxlev is None
            if mode == 'nsa':
                assert cell.mode is RadioMode.NR5G_NSA and cell.nr.rsrp_dbm == -90.0
                assert cell.as_dict()['lte_anchor']['pci'] == 123
                assert {c.sysmode for c in modem.signal().chains} == {'LTE', 'NR5G'}
            else:
                assert cell.mode is RadioMode.LTE and cell.nr is None
                assert cell.as_dict()['rsrp_dbm'] == -95.0


def test_urcs_between_response_lines_are_separated(emulator: ModemEmulator,
                                                   modem: QuectelRM500Q) -> None:
    before = modem.channel.urcs.last_seq
    # between the information lines and OK, a URC sharing the response's prefix included
    emulator.inject_urcs(['+QIND: "csq",20,99',
                          '+C5GREG: 1,"000001","00000301",11,4,"01.000001"'])
    registration = modem.registration_5gs()
    assert registration.n == 2 and registration.stat == 1
    # between the lines of a prefix-less answer (ATI)
    emulator.inject_urcs(['RDY', '+CPIN: READY'])
    assert modem.identify().model == 'RM500Q-GL'
    # a URC in the middle of a multi-line EN-DC answer
    emulator.mode = 'nsa'
    emulator.inject_urcs(['+CGEV: PDN ACT 1'])
    assert modem.serving_cell().mode is RadioMode.NR5G_NSA
    # and one on its own between two commands
    emulator.send_urc('POWERED DOWN')
    assert modem.throughput().interval_s == 2
    lines = [u.line for u in modem.channel.urcs.since(before)]
    assert lines == ['+QIND: "csq",20,99', '+C5GREG: 1,"000001","00000301",11,4,"01.000001"',
                     'RDY', '+CPIN: READY', '+CGEV: PDN ACT 1', 'POWERED DOWN']


def test_echo_on_and_cme_error_in_every_cmee_mode(tmp_path: Path) -> None:
    with ModemEmulator(link=tmp_path / 'tty', sim_inserted=False) as emu:
        # configure=False: the modem keeps its factory echo (ATE1); echo lines are dropped
        with QuectelRM500Q(emu.path, timeout_s=1.0, configure=False) as modem:
            assert emu.echo and modem.identify().imei == IMEI
            with pytest.raises(CmeSimNotInserted) as numeric:
                modem.channel.command('AT+CPIN?', prefix='+CPIN')
            assert numeric.value.code == 10 and numeric.value.final == '+CME ERROR: 10'
            modem.channel.command('AT+CMEE=2')
            with pytest.raises(CmeSimNotInserted) as text:
                modem.channel.command('AT+CPIN?', prefix='+CPIN')
            assert text.value.final == '+CME ERROR: SIM not inserted' and text.value.code == 10
            with pytest.raises(CmeIncorrectParameters):
                modem.channel.command('AT+C5GNSSAI=9,"01.000001"')  # wrong octet length
            modem.channel.command('AT+CMEE=0')
            with pytest.raises(AtCommandError) as plain:
                modem.channel.command('AT+CPIN?', prefix='+CPIN')
            assert not isinstance(plain.value, CmeError) and plain.value.final == 'ERROR'
            with pytest.raises(AtCommandError, match='AT\\+NOPE'):
                modem.channel.command('AT+NOPE')
            # chaining: both answers in one response; a failure stops the rest
            both = modem.channel.command('AT+QNWINFO;+QENG="servingcell"',
                                         prefix=('+QNWINFO', '+QENG'))
            assert [line.split(':')[0] for line in both.lines] == ['+QNWINFO', '+QENG']
            assert modem.identify().model == 'RM500Q-GL'


def test_timeout_then_next_command_answered(emulator: ModemEmulator,
                                            modem: QuectelRM500Q) -> None:
    modem.channel.retries = 0
    emulator.silent = True
    started = time.monotonic()
    with pytest.raises(EquipmentTimeout, match=r'AT\+QNWCFG="up/down" within 0.2 s'):
        modem.channel.command('AT+QNWCFG="up/down"', prefix='+QNWCFG', timeout_s=0.2)
    assert time.monotonic() - started < 1.0
    emulator.silent = False
    assert modem.identify().imei == IMEI
    assert modem.serving_cell().mode is RadioMode.NR5G_SA


def test_late_answer_is_not_given_to_the_next_command(emulator: ModemEmulator,
                                                      modem: QuectelRM500Q) -> None:
    """A slow modem answers a timed-out query after the timeout: that answer is discarded and
    the next commands get their own answers."""
    modem.channel.retries = 0
    emulator.answer_delay_s = 0.4
    with pytest.raises(EquipmentTimeout):
        modem.channel.command('AT+QENG="servingcell"', prefix='+QENG', timeout_s=0.1)
    emulator.answer_delay_s = 0.0
    assert modem.throughput().ul_bps == emulator.ul_bps
    assert modem.identify().imei == IMEI
    assert modem.registration_5gs().stat == 1
    assert any(line.startswith('+QENG:') for line in modem.channel.discarded)
    assert not any(u.line.startswith('+QENG') for u in modem.urcs)


def test_slice_rejection_cause_62(emulator: ModemEmulator, modem: QuectelRM500Q) -> None:
    with pytest.raises(SliceRejected) as caught:
        modem.select_slices(['01.000002'], timeout_s=5.0)
    assert caught.value.cause == 62 and 'no network slices available' in str(caught.value)
    assert modem.registration_5gs().stat == 3
    assert modem.reject_causes().fivegmm == 62
    assert modem.nssai('00101').default_configured == ('01.000002',)
    assert modem.serving_cell().state == 'LIMSRV'
    registration = modem.select_slices(['02'], timeout_s=5.0)  # an offered slice: back again
    assert registration.registered and registration.allowed_nssai == ('02',)
    assert modem.reject_causes().fivegmm is None


def test_unplug_replug_reconnects_without_losing_a_response(emulator: ModemEmulator,
                                                            modem: QuectelRM500Q) -> None:
    emulator.answer_delay_s = 0.3
    result: dict[str, object] = {}

    def query() -> None:
        try:
            result['cell'] = modem.serving_cell()
        except Exception as exc:  # noqa: BLE001 - reported below
            result['error'] = exc

    worker = threading.Thread(target=query)
    worker.start()
    time.sleep(0.1)  # the query is in flight
    emulator.unplug()
    assert not Path(emulator.path).exists()
    time.sleep(0.3)
    emulator.answer_delay_s = 0.0
    emulator.replug()
    worker.join(timeout=10.0)
    assert not worker.is_alive()
    assert 'error' not in result, result.get('error')
    # the query was sent again and answered by the rebooted modem (still searching, or already
    # registered): a +QENG answer, not a stale or foreign line
    cell = result['cell']
    assert isinstance(cell, ServingCell) and cell.state in ('SEARCH', 'NOCONN')
    assert modem.channel.reconnects == 1
    assert emulator.received.count('ATE0') == 2  # start-up settings applied to the new device
    _wait_registered(modem)
    for _ in range(10):  # every later answer is the one asked for
        assert modem.identify().imei == IMEI
        assert modem.serving_cell().nr.pci == 2
        assert modem.throughput().interval_s == 2
        assert modem.registration_5gs().n == 2


def test_port_gone_for_good_is_unavailable_quickly(emulator: ModemEmulator) -> None:
    modem = QuectelRM500Q(emulator.path, timeout_s=0.5, reconnect_timeout_s=0.3).open()
    try:
        emulator.unplug()
        started = time.monotonic()
        with pytest.raises(EquipmentUnavailable, match='not back within 0.3 s'):
            modem.identify()
        assert time.monotonic() - started < 2.0
    finally:
        modem.close()


def test_bad_port_is_one_line() -> None:
    with pytest.raises(EquipmentUnavailable) as caught:
        QuectelRM500Q('/dev/does-not-exist-ior').open()
    assert "'/dev/does-not-exist-ior'" in str(caught.value) and '\n' not in str(caught.value)


@pytest.mark.parametrize(('call', 'field'), [
    (lambda m: m.set_pdp_context(2, 'urllc;+CFUN=0'), 'apn'),
    (lambda m: m.set_pdp_context(2, 'a"b'), 'apn'),
    (lambda m: m.set_pdp_context(2, 'internet\r\nAT+CFUN=0'), 'apn'),
    (lambda m: m.set_pdp_context(2, 'in\x07ternet'), 'apn'),
    (lambda m: m.set_pdp_context(2, 'ok', snssai='01.000001";+CFUN=0'), 'snssai'),
    (lambda m: m.set_pdp_context(2, 'ok', snssai='1.1'), 'snssai'),
    (lambda m: m.set_pdp_context(43, 'ok'), 'cid'),
    (lambda m: m.set_pdp_context(2, 'ok', pdp_type='IP";'), 'pdp_type'),
    (lambda m: m.set_default_nssai(['01.000001', '02;+CFUN=0']), 'nssai[1]'),
    (lambda m: m.select_slices(['01.0000001']), 'nssai[0]'),
    (lambda m: m.nssai('00101";+CFUN=0'), 'plmn'),
])
def test_refused_values_never_reach_the_port(emulator: ModemEmulator, modem: QuectelRM500Q,
                                             call: object, field: str) -> None:
    received, received_bytes = len(emulator.received), emulator.received_bytes
    with pytest.raises(EquipmentValidationError) as caught:
        call(modem)  # type: ignore[operator]
    message = str(caught.value)
    assert message.startswith(f'{field}') and 'nothing was sent' in message
    assert '\n' not in message and '\r' not in message
    time.sleep(0.05)
    assert emulator.received_bytes == received_bytes and len(emulator.received) == received


def test_split_writes_and_replayed_capture(tmp_path: Path) -> None:
    capture = ['+QENG: "servingcell","NOCONN","NR5G-SA","TDD",999,70,E00,0,1,641280,78,6,-67,-11,'
               '31,1,-']
    with ModemEmulator(link=tmp_path / 'tty', chunk_size=3, qeng_lines=capture) as emu:
        with QuectelRM500Q(emu.path, timeout_s=1.0) as modem:
            cell = modem.serving_cell()
            assert (cell.nr.mcc, cell.nr.mnc, cell.nr.arfcn, cell.nr.sinr_db) == (
                999, '70', 641280, 31.0)
            assert modem.identify().revision == FIRMWARE
