"""
The AT response parser (ior_ros/clients/at.py) and the RM500Q response parsers and validators
(ior_ros/clients/quectel.py), on captured response strings (docs/reference: ran-equipment.md §2)
and on generated input: AtParseError is the only exception any of them may raise.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ior_ros.clients import quectel as q
from ior_ros.clients.at import (
    AtParseError,
    CmeError,
    CmeIncorrectParameters,
    CmeNoNetworkService,
    CmeOperationNotAllowed,
    CmeOperationNotSupported,
    CmeSimNotInserted,
    CmsError,
    FinalKind,
    error_for_final,
    parse_final,
    parse_info,
    split_fields,
)
from ior_ros.clients.errors import EquipmentValidationError

REPO = Path(__file__).resolve().parents[2]

SA_MANUAL = ('+QENG: "servingcell","NOCONN","NR5G-SA","TDD",460,01,9013B004,299,690E0F,633984,78,'
             '12,-107,-13,2,1,-')
SA_OAI = '+QENG: "servingcell","NOCONN","NR5G-SA","TDD",999,70,E00,0,1,641280,78,6,-67,-11,31,1,-'
SA_ROBOT = ('+QENG: "servingcell","NOCONN","NR5G-SA","TDD", 999,50,301,2,1,647232,78,3,-90,-11,11,'
            '1,3392')
NSA = ['+QENG: "servingcell","NOCONN"',
       '+QENG: "LTE","FDD",460,01,5F1EA15,12,1300,3,5,5,DE10,-95,-10,-65,15,15,-,-32768',
       '+QENG:"NR5G-NSA",460,01,747,-71,13,-11,627264,78,12,1']


def test_final_codes_in_every_cmee_mode() -> None:
    assert parse_final('OK').kind is FinalKind.OK
    assert parse_final('ERROR').kind is FinalKind.ERROR
    numeric = parse_final('+CME ERROR: 10')
    text = parse_final('+CME ERROR: SIM not inserted')
    assert numeric.code == 10 and text.code == 10 and text.text == 'SIM not inserted'
    assert parse_final('+CME ERROR: Incorrect parameters').code == 50
    assert parse_final('+CME ERROR: something new').code is None
    assert parse_final('+CMS ERROR: 500').kind is FinalKind.CMS_ERROR
    for not_final in ('OKAY', '+CMEE: 1', 'RDY', '+QENG: "servingcell"', ''):
        assert parse_final(not_final) is None


@pytest.mark.parametrize(('code', 'cls'), [(3, CmeOperationNotAllowed),
                                           (4, CmeOperationNotSupported),
                                           (10, CmeSimNotInserted), (30, CmeNoNetworkService),
                                           (50, CmeIncorrectParameters), (907, CmeError)])
def test_cme_codes_map_to_typed_errors(code: int, cls: type[CmeError]) -> None:
    error = error_for_final(parse_final(f'+CME ERROR: {code}'), 'AT+X', 'modem /dev/x')
    assert type(error) is cls or (code == 907 and isinstance(error, CmeError))
    assert error.code == code and 'AT+X' in str(error) and '\n' not in str(error)
    by_text = error_for_final(parse_final('+CME ERROR: operation not allowed'), 'AT+X', 'm')
    assert isinstance(by_text, CmeOperationNotAllowed)
    assert isinstance(error_for_final(parse_final('+CMS ERROR: 300'), 'AT+X', 'm'), CmsError)


def test_fields_quotes_spaces_and_empties() -> None:
    fields = split_fields(' "servingcell","NOCONN", 999,,"a,b" ,-')
    assert [f.text for f in fields] == ['servingcell', 'NOCONN', '999', '', 'a,b', '-']
    assert [f.quoted for f in fields] == [True, True, False, False, True, False]
    for bad in ('"open', 'a"b"', '"a"b'):
        with pytest.raises(AtParseError):
            split_fields(bad)
    info = parse_info('+QENG:"NR5G-NSA",460')
    assert info.prefix == '+QENG' and info.texts() == ('NR5G-NSA', '460')
    with pytest.raises(AtParseError):
        parse_info('Quectel')


@pytest.mark.parametrize('line', [SA_MANUAL, SA_OAI, SA_ROBOT])
def test_serving_cell_sa_captures(line: str) -> None:
    cell = q.parse_serving_cell([line])
    assert cell.mode is q.RadioMode.NR5G_SA and cell.state == 'NOCONN' and cell.duplex == 'TDD'
    nr = cell.primary
    assert nr is not None and nr.band == 78 and nr.scs_khz == 30
    assert -140 <= nr.rsrp_dbm <= -44 and -20 <= nr.rsrq_db <= -3
    if line is SA_MANUAL:
        assert (nr.mcc, nr.mnc, nr.cell_id, nr.pci, nr.tac, nr.arfcn) == (
            460, '01', 0x9013B004, 299, 0x690E0F, 633984)
        assert nr.bandwidth_mhz == 100.0 and nr.srxlev is None  # code 12; "-" is no value
    if line is SA_ROBOT:
        assert nr.mcc == 999 and nr.srxlev == 3392 and nr.sinr_db == 11.0


def test_serving_cell_en_dc_and_lte() -> None:
    cell = q.parse_serving_cell(NSA)
    assert cell.mode is q.RadioMode.NR5G_NSA and cell.nr is not None and cell.lte is not None
    assert cell.duplex == 'FDD'  # the LTE anchor's
    assert (cell.nr.pci, cell.nr.rsrp_dbm, cell.nr.sinr_db, cell.nr.rsrq_db, cell.nr.arfcn) == (
        747, -71.0, 13.0, -11.0, 627264)
    assert cell.lte.sinr_db == 10.0  # raw 15 -> 2*15 - 20 dB
    assert cell.lte.srxlev is None and cell.lte.bandwidth_mhz == 20.0  # -32768 is no value
    assert cell.as_dict()['mode'] == 'NR5G-NSA' and cell.as_dict()['pci'] == 747
    lte_only = q.parse_serving_cell(
        ['+QENG: "servingcell","NOCONN","LTE","FDD",001,01,1A2D001,123,1300,3,5,5,1,-95,-10,-65,'
         '-32768,15,-,52'])
    assert lte_only.mode is q.RadioMode.LTE and lte_only.lte.sinr_db is None
    assert lte_only.lte.rsrp_dbm == -95.0
    search = q.parse_serving_cell(['+QENG: "servingcell","SEARCH"'])
    assert search.mode is None and search.primary is None
    assert search.as_dict()['rsrp_dbm'] is None


def test_out_of_sync_sentinel_and_invalid_values_are_none() -> None:
    line = ('+QENG: "servingcell","LIMSRV","NR5G-SA","TDD",001,01,301,2,1,647232,78,3,-140,-40,'
            '-,1,-3200')
    nr = q.parse_serving_cell([line]).nr
    assert nr.out_of_sync and nr.rsrp_dbm is None and nr.rsrq_db is None and nr.sinr_db is None
    dashes = ('+QENG: "servingcell","NOCONN","NR5G-SA","TDD",001,01,301,-,1,-,-,3,-32768,-,-,-,-')
    nr = q.parse_serving_cell([dashes]).nr
    assert (nr.pci, nr.arfcn, nr.band, nr.rsrp_dbm, nr.rsrq_db, nr.sinr_db) == (None,) * 6


def test_c5greg_query_and_urc_told_apart_by_field_count() -> None:
    query = q.parse_c5greg('+C5GREG: 2,1,"690E0F","9013B004",11,4,"01.000000"')
    assert (query.n, query.stat, query.tac, query.cell_id, query.act) == (
        2, 1, 0x690E0F, 0x9013B004, 11)
    assert query.allowed_nssai == ('01.000000',) and query.registered
    urc = q.parse_c5greg('+C5GREG: 1,"690E0F","9013B004",11,4,"01.000001:02"')
    assert urc.n is None and urc.allowed_nssai == ('01.000001', '02')
    assert q.parse_c5greg('+C5GREG: 3').stat == 3 and q.parse_c5greg('+C5GREG: 2,0').n == 2
    with pytest.raises(AtParseError):
        q.parse_c5greg('+C5GREG: 1,2,3')


def test_cgdcont_real_21_field_read_and_27007_position() -> None:
    real = '+CGDCONT: 1,"IP","oai","0.0.0.0",0,0,0,0,,,,,,,,,"",,,,0'
    placed = '+CGDCONT: 2,"IP","urllc","0.0.0.0",0,0,0,0,,,,,,,,,"01.000001",,,,0'
    spec = '+CGDCONT: 3,"IPV4V6","embb",,,,,,,,,,,,,,,"02"'
    contexts = q.parse_cgdcont([real, placed, spec])
    assert [c.fields for c in contexts] == [21, 21, 18]
    assert [(c.cid, c.apn, c.snssai) for c in contexts] == [
        (1, 'oai', None), (2, 'urllc', '01.000001'), (3, 'embb', '02')]


def test_nssai_reads() -> None:
    assert q.parse_c5gnssai(['+C5GNSSAI: 0,""']) == ()
    assert q.parse_c5gnssai(['+C5GNSSAI: 9,"01.000001:02.000002"']) == ('01.000001', '02.000002')
    state = q.parse_c5gnssairdp(['+C5GNSSAIRDP: 4,"01.000002",4,"01.000002#0",0,""',
                                 '+C5GNSSAIRDP: "00101",4,"01.000001",4,"01.000001",0,""'])
    assert state.default_configured == ('01.000002',) and state.plmn == '00101'
    assert state.configured == ('01.000001',) and state.allowed == ('01.000001',)
    assert state.rejected == ('01.000002#0',)
    assert q.parse_qnetrc(['+QNETRC: "5gmm_cause",62']).fivegmm == 62
    assert q.parse_qnetrc(['+QNETRC: "5gmm_cause",0']).fivegmm is None
    assert q.parse_throughput(['+QNWCFG: "up/down",2056,384,2']) == q.Throughput(2056, 384, 2)


def test_signal_lines() -> None:
    signal = q.parse_signal(['+QRSRP: -94,-88,-44,-32768,NR5G'], ['+QRSRQ: -11,-12,-13,-14,NR5G'],
                            ['+QSINR: 10,11,12,13,NR5G'], ['+QCSQ: "NR5G",-94,10,-11'])
    chain = signal.chains[0]
    assert chain.sysmode == 'NR5G' and chain.rsrp_dbm == (-94, -88, -44, None)
    assert signal.qcsq == q.Qcsq('NR5G', (-94, 10, -11))


def test_identity() -> None:
    identity = q.parse_identity(['Quectel', 'RM500Q-GL', 'Revision: RM500QGLABR11A06M4G'],
                                ['RM500QGLABR11A06M4G'], ['+CGSN: "869710030002905"'])
    assert identity == q.ModemIdentity('Quectel', 'RM500Q-GL', 'RM500QGLABR11A06M4G',
                                       '869710030002905')


# ---- validation -------------------------------------------------------------------------------

@pytest.mark.parametrize('dnn', ['a;b', 'urllc";+CFUN=0;"', 'a\rb', 'a\nAT+CFUN=0', 'a\x00',
                                 'a,b', 'a b', 'a' * 64, '.'.join(['abcdefghij'] * 10),
                                 '-lead', 'a..b', 'ü'])
def test_dnn_refused_with_field_value_and_rule(dnn: str) -> None:
    with pytest.raises(EquipmentValidationError) as caught:
        q.validate_dnn(dnn, 'apn')
    message = str(caught.value)
    assert message.startswith('apn: ') and repr(dnn) in message and 'TS 23.003' in message
    assert '\n' not in message and '\r' not in message


@pytest.mark.parametrize('snssai', ['1', '1.000001', '01.00001', '01.000001;', '01"', 'zz',
                                    '01.000001:02', '01;02.000001', ' 01', '01.000001;02;03'])
def test_bad_snssai_refused(snssai: str) -> None:
    with pytest.raises(EquipmentValidationError, match=r'^snssai: '):
        q.validate_at_snssai(snssai)


def test_snssai_conversion_from_templates() -> None:
    from ior_ros.core.slicing.slice_templates import Snssai, load_templates

    assert q.snssai_to_at(Snssai(sst=1, sd='000001')) == '01.000001'
    assert q.snssai_to_at(Snssai(sst=2)) == '02'
    assert q.snssai_to_at(Snssai(sst=255, sd='abcdef')) == 'FF.ABCDEF'
    assert q.validate_at_snssai('01.00000a;02') == '01.00000A;02'
    for template in load_templates(REPO / 'config' / 'slices'):
        text = q.snssai_to_at(template)
        assert q.validate_at_snssai(text) == text
        assert int(text[:2], 16) == template.snssai.sst
    assert q.nssai_to_at(['01.000001']) == (4, '01.000001')
    assert q.nssai_to_at(['01.000001', '02', '01.000002;03']) == (10, '01.000001:02:01.000002;03')
    with pytest.raises(EquipmentValidationError):
        q.nssai_to_at(['01', '01'])
    with pytest.raises(EquipmentValidationError, match='plmn'):
        q.validate_plmn('001;01')


# ---- fuzz --------------------------------------------------------------------------------------

_PREFIXES = ['+QENG: ', '+QENG:', '+C5GREG: ', '+CGDCONT: ', '+C5GNSSAI: ', '+C5GNSSAIRDP: ',
             '+QNETRC: ', '+QRSRP: ', '+QCSQ: ', '+QNWCFG: ', '+CME ERROR: ', '+CMS ERROR: ', '',
             '+', 'OK', 'ERROR']
_FIELD = st.one_of(
    st.sampled_from(['"servingcell"', '"NOCONN"', '"NR5G-SA"', '"NR5G-NSA"', '"LTE"', '"TDD"',
                     '-', '-32768', '-140', '-40', '"01.000001"', '"up/down"', '"5gmm_cause"',
                     '', '"', '""', 'NR5G', 'FFFFFFFFFFFFFFFFFFFFFFFFFF', '1e5', '0x10', '٣']),
    st.integers(-10**12, 10**12).map(str),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FF), max_size=12),
)
_LINE = st.one_of(
    st.text(max_size=80),
    st.builds(lambda p, fs: p + ','.join(fs), st.sampled_from(_PREFIXES),
              st.lists(_FIELD, max_size=22)),
)
_LINES = st.lists(_LINE, max_size=4)


def _every_parser(lines: list[str]) -> None:
    for line in lines:
        parse_final(line)
        for fn in (split_fields, parse_info, q.parse_c5greg):
            try:
                fn(line)
            except AtParseError:
                pass
    for fn in (q.parse_serving_cell, q.parse_c5gnssai, q.parse_c5gnssairdp, q.parse_cgdcont,
               q.parse_qnetrc, q.parse_throughput,
               lambda ls: q.parse_signal(ls, ls, ls, ls),
               lambda ls: q.parse_identity(ls, ls[:1], ls[-1:]),
               lambda ls: [q.parse_serving_cell(ls).as_dict()]):
        try:
            fn(lines)
        except AtParseError:
            pass


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_LINES)
def test_fuzz_parsers_raise_only_the_typed_error(lines: list[str]) -> None:
    _every_parser(lines)


@pytest.mark.slow
@settings(max_examples=10000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_LINES)
def test_fuzz_parsers_10000(lines: list[str]) -> None:
    _every_parser(lines)


def test_fuzz_structured_qeng_lines_parse_or_raise_typed() -> None:
    """Mutations of the captured lines (a field dropped, doubled or blanked) parse or raise
    AtParseError: the shapes the firmware varies in."""
    started = time.monotonic()
    for base in (SA_MANUAL, SA_ROBOT, *NSA):
        head, _, payload = base.partition(':')
        fields = payload.split(',')
        for i in range(len(fields)):
            for variant in (fields[:i] + fields[i + 1:], fields[:i] + [''] + fields[i + 1:],
                            fields[:i] + [fields[i]] * 2 + fields[i + 1:]):
                try:
                    q.parse_serving_cell([head + ':' + ','.join(variant)])
                except AtParseError:
                    pass
    assert time.monotonic() - started < 5.0
