"""
A slice set checked as a whole and mapped onto equipment (ior_ros/core/slicing/equipment_plan.py,
issue 13): the TS 28.541 set rules, admission against a capacity with the slice that does not fit
and by how much, names and DNNs with control characters, the mapping onto a gNB, a modem and tc,
and the refusals through `ior slices validate` (one line, exit 2). That nothing reaches tc when a
set is refused is shown on a real interface in test_tc.py.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ior_ros import cli
from ior_ros.core.errors import ConfigError
from ior_ros.core.slicing.equipment_plan import (
    SliceBinding,
    admission,
    load_slice_set,
    plan_equipment,
    snssai_at,
)
from ior_ros.core.slicing.slice_templates import SliceTemplate

REPO = Path(__file__).resolve().parents[2]
WIFI = REPO / 'config' / 'slices_wifi'


def _template(name: str, gbr: float = 1e6, mbr: float = 10e6, ded: float = 0.0,
              low: float = 0.1, high: float = 0.5, sd: str | None = '000001', sst: int = 1,
              priority: int = 0) -> SliceTemplate:
    return SliceTemplate.model_validate({
        'name': name, 'kind': 'embb', 'snssai': {'sst': sst, 'sd': sd}, 'five_qi': 9,
        'guaranteed_bitrate_bps': gbr, 'max_bitrate_bps': mbr, 'delay_budget_s': 0.1,
        'prb_ratio': {'dedicated': ded, 'min': low, 'max': high}, 'priority': priority})


def _copy_wifi(tmp_path: Path) -> Path:
    folder = tmp_path / 'slices'
    shutil.copytree(WIFI, folder)
    return folder


def _edit(path: Path, **changes: Any) -> None:
    data = yaml.safe_load(path.read_text())
    for dotted, value in changes.items():
        node = data
        keys = dotted.split('__')
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    path.write_text(yaml.safe_dump(data))


def test_fig2b_set_maps_onto_gnb_modem_and_tc() -> None:
    plan = load_slice_set([WIFI])
    assert plan.names() == ['cart_3d', 'spider_robot', 'video']  # admission order: priority
    assert plan.capacity_bps == 100e6
    video = plan.slices[2]
    assert (video.gnb.min_percent, video.gnb.max_percent, video.gnb.dedicated_percent) == (45, 45,
                                                                                           0)
    assert (video.gnb.sst, video.gnb.sd) == (1, 0x11)
    assert video.modem.snssai == '01.000011' and video.modem.dnn == 'video'
    assert (video.tc.rate_bps, video.tc.ceil_bps) == (45_000_000, 45_000_000)
    assert video.tc.address == '10.77.1.2/32' and video.tc.dscp == 34
    assert [s.tc.rate_bps for s in plan.slices] == [15_000_000, 35_000_000, 45_000_000]


def test_shared_templates_map_with_a_given_capacity() -> None:
    plan = load_slice_set([REPO / 'config' / 'slices'], capacity_bps=100e6)
    urllc = plan.slices[0]
    assert urllc.name == 'urllc_control'
    assert (urllc.gnb.min_percent, urllc.gnb.max_percent, urllc.gnb.dedicated_percent) == (20, 60,
                                                                                           5)
    assert urllc.modem.snssai == '02.000001'
    # ceil: the smaller of the max bit rate (10 Mb/s) and max ratio x capacity (60 Mb/s)
    assert (urllc.tc.rate_bps, urllc.tc.ceil_bps) == (2_000_000, 10_000_000)
    assert plan.slices[1].tc.ceil_bps == 90_000_000  # 0.9 x 100 Mb/s < its 100 Mb/s max
    assert snssai_at(1, None) == '01' and snssai_at(255, 'abcdef') == 'FF.ABCDEF'


@pytest.mark.parametrize('templates, match', [
    ([_template('a', low=0.6, high=0.7), _template('b', low=0.5, high=0.9, sd='000002')],
     r"slice 'b'.*'prb_ratio.min' = 50 %: the minimums of the set add up to 110 % > 100 %"),
    ([_template('a', low=0.125)], r"'prb_ratio.min' = 0.125: allowed: a whole percent"),
    ([_template('a', low=0.0, high=0.0)], r"'prb_ratio.max' = 0: allowed: 0.01 to 1"),
    ([_template('a'), _template('b')], r"slice 'b': field 'snssai' = 1-000001: already used by "
                                       r"slice 'a'"),
])
def test_set_rules_of_ts_28_541_refuse_with_the_slice_and_field(
        templates: list[SliceTemplate], match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        plan_equipment(templates, 100e6)
    assert '\n' not in str(info.value)


def test_over_subscribed_admission_names_the_slice_and_by_how_much() -> None:
    folder_templates = [_template('cart_3d', gbr=15e6, mbr=15e6, low=0.15, high=1.0,
                                  sd='000013', priority=0),
                        _template('spider_robot', gbr=35e6, mbr=35e6, low=0.35, high=1.0,
                                  sd='000012', priority=1),
                        _template('video', gbr=45e6, mbr=45e6, low=0.45, high=1.0,
                                  sd='000011', priority=2)]
    verdicts = admission(folder_templates, 90e6)
    assert [v.admitted for v in verdicts] == [True, True, False]
    assert 'short by 5 Mbit/s' in verdicts[2].reason
    with pytest.raises(ConfigError, match=r"slice 'video' not admitted: over-subscribed: "
                                          r'guaranteed 45 Mbit/s does not fit beside the 50 '
                                          r'Mbit/s admitted .* \(short by 5 Mbit/s\)'):
        plan_equipment(folder_templates, 90e6)


def test_guaranteed_rate_beyond_the_max_ratio_is_rejected_with_the_reason() -> None:
    t = _template('video', gbr=45e6, mbr=50e6, low=0.3, high=0.4)
    with pytest.raises(ConfigError, match=r"slice 'video' not admitted: guaranteed 45 Mbit/s "
                                          r'cannot be served: its max ratio 0.4 of the capacity '
                                          r'100 Mbit/s carries 40 Mbit/s'):
        plan_equipment([t], 100e6)


@pytest.mark.parametrize('dnn', ['vid\x07eo', 'video\r\nAT+CFUN=0', 'a"b', 'two words', '',
                                 '-video', 'x' * 101, 'video..x'])
def test_dnn_with_control_characters_or_quotes_is_refused(tmp_path: Path, dnn: str) -> None:
    folder = _copy_wifi(tmp_path)
    _edit(folder / 'equipment' / 'bindings.yaml', slices__video__dnn=dnn)
    with pytest.raises(ConfigError, match=r"bindings .*bindings.yaml: field 'slices.video.dnn' "
                                          r'= .*allowed: labels of letters') as info:
        load_slice_set([folder])
    assert '\n' not in str(info.value)
    assert SliceBinding(dnn='internet.mnc001.mcc001.gprs').dnn  # TS 23.003 form passes


def test_slice_name_with_control_characters_is_refused(tmp_path: Path) -> None:
    folder = _copy_wifi(tmp_path)
    _edit(folder / 'video.yaml', name='vid\x07eo')
    with pytest.raises(ConfigError, match=r"video.yaml: field 'name' = 'vid\\x07eo'") as info:
        load_slice_set([folder])
    assert '\n' not in str(info.value)
    # built without validation (model_construct): the plan checks the name itself
    bad = SliceTemplate.model_construct(**{**_template('x').__dict__, 'name': 'a\nb'})
    with pytest.raises(ConfigError, match=r"field 'name' = 'a\\nb': allowed: a letter"):
        plan_equipment([bad], 100e6)
    # a bindings key that is no slice of the set, or carries a control character
    _edit(folder / 'video.yaml', name='video')
    _edit(folder / 'equipment' / 'bindings.yaml', slices__cart3d={'dscp': 1})
    with pytest.raises(ConfigError, match=r"bindings field 'slices.'cart3d'': not a slice"):
        load_slice_set([folder])


def test_template_file_violating_the_ratio_order_names_the_file(tmp_path: Path) -> None:
    folder = _copy_wifi(tmp_path)
    _edit(folder / 'cart_3d.yaml', prb_ratio={'dedicated': 0.2, 'min': 0.15, 'max': 0.15})
    with pytest.raises(ConfigError, match=r'(?i)cart_3d.yaml: field .prb_ratio.* dedicated 0.2 '
                                          r'<= min 0.15 <= max 0.15 must hold \(TS 28.541'):
        load_slice_set([folder])


def _over_subscribed(tmp_path: Path) -> Path:
    """The Fig. 2b set plus a 10 Mb/s teleop slice: 105 Mb/s guaranteed in 100 Mb/s (its min
    ratio is 0, so the TS 28.541 minimum sum, 95 %, still holds: admission refuses it)."""
    folder = _copy_wifi(tmp_path)
    data = yaml.safe_load((folder / 'cart_3d.yaml').read_text())
    data.update(name='teleop', snssai={'sst': 1, 'sd': '000014'}, guaranteed_bitrate_bps=10e6,
                max_bitrate_bps=10e6, prb_ratio={'dedicated': 0.0, 'min': 0.0, 'max': 0.1},
                priority=3)
    (folder / 'teleop.yaml').write_text(yaml.safe_dump(data))
    return folder


def _ior(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
         *args: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(args))
    except SystemExit as exc:  # argparse errors
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_validate_prints_the_mapping_and_refuses_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _ior(monkeypatch, capsys, 'slices', 'validate')
    assert code == 0 and '01.000011' in out and '45/45/0' in out and '10.77.1.2/32' in out
    code, out, _ = _ior(monkeypatch, capsys, 'slices', 'validate', '--json', str(WIFI))
    assert code == 0 and '"snssai": "01.000012"' in out
    code, _, err = _ior(monkeypatch, capsys, 'slices', 'validate', str(WIFI), '--capacity', '90e6')
    assert code == 2 and err.count('\n') == 1 and "slice 'cart_3d' not admitted" in err
    assert 'its max ratio 0.15 of the capacity 90 Mbit/s carries 13.5 Mbit/s' in err
    folder = _over_subscribed(tmp_path)
    code, _, err = _ior(monkeypatch, capsys, 'slices', 'validate', str(folder))
    assert code == 2 and err.count('\n') == 1
    assert "slice 'teleop' not admitted: over-subscribed" in err and 'short by 5 Mbit/s' in err
    code, out, _ = _ior(monkeypatch, capsys, 'slices', 'validate', str(REPO / 'config' / 'slices'))
    assert code == 0 and '2 slices admitted in 45 Mbit/s' in out  # its bindings' capacity
    bare = tmp_path / 'bare'  # templates without bindings: no capacity to admit against
    bare.mkdir()
    for name in ('urllc_control.yaml', 'embb_video.yaml'):
        (bare / name).write_text((REPO / 'config' / 'slices' / name).read_text())
    code, _, err = _ior(monkeypatch, capsys, 'slices', 'validate', str(bare))
    assert code == 2 and 'no capacity' in err


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 100), st.integers(0, 100), st.integers(0, 100),
                          st.floats(0, 200e6)), min_size=1, max_size=5),
       st.floats(1e6, 300e6))
def test_any_ratio_set_is_planned_or_refused_with_config_error(
        rows: list[tuple[int, int, int, float]], capacity: float) -> None:
    templates = []
    for i, (a, b, c, gbr) in enumerate(rows):
        ded, low, high = sorted((a, b, c))
        templates.append(_template(f's{i}', gbr=gbr, mbr=200e6, ded=ded / 100, low=low / 100,
                                   high=high / 100, sd=f'{i + 1:06X}', priority=i))
    try:
        plan = plan_equipment(templates, capacity)
    except ConfigError as exc:
        assert '\n' not in str(exc)
        return
    assert sum(s.gnb.min_percent for s in plan.slices) <= 100
    assert sum(s.gnb.dedicated_percent for s in plan.slices) <= 100
    assert sum(s.tc.rate_bps for s in plan.slices) <= capacity + len(plan.slices)
    for s in plan.slices:
        assert s.gnb.dedicated_percent <= s.gnb.min_percent <= s.gnb.max_percent <= 100
        assert s.tc.rate_bps <= s.tc.ceil_bps


if __name__ == '__main__':
    sys.exit(pytest.main([__file__, '-q']))
