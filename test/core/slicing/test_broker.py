"""The slice broker's core: templates, admission, every allocator's bounds, the DI feedback and
the DPP virtual queue (ior_ros.core.slicing.broker, slice_templates)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ior_ros.core.errors import ConfigError
from ior_ros.core.slicing.broker import (
    AllocatorName,
    Broker,
    BrokerConfig,
    BrokerMetrics,
    SliceMetrics,
    admit,
    fit_counts,
    prb_bounds,
    urllc_weight,
)
from ior_ros.core.slicing.policy import SlicingPolicy
from ior_ros.core.slicing.slice_templates import (
    SliceKind,
    SliceTemplate,
    load_template,
    load_templates,
)

REPO = Path(__file__).resolve().parents[3]
SLICES = REPO / 'config' / 'slices'
POLICY = SlicingPolicy.load(REPO / 'config' / 'policies' / 'seed003_slicing')
SE = {k: 5.0 for k in SliceKind}


def template(**changes: Any) -> SliceTemplate:
    data: dict[str, Any] = {
        'name': 'urllc_control', 'kind': 'urllc', 'snssai': {'sst': 2, 'sd': '000001'},
        'five_qi': 82, 'guaranteed_bitrate_bps': 2e6, 'max_bitrate_bps': 10e6,
        'delay_budget_s': 0.01, 'prb_ratio': {'dedicated': 0.05, 'min': 0.2, 'max': 0.6},
        'priority': 0}
    data.update(changes)
    return SliceTemplate.model_validate(data)


def embb(**changes: Any) -> SliceTemplate:
    base: dict[str, Any] = {
        'name': 'embb_video', 'kind': 'embb', 'snssai': {'sst': 1}, 'five_qi': 9,
        'guaranteed_bitrate_bps': 20e6, 'max_bitrate_bps': 100e6, 'delay_budget_s': 0.3,
        'prb_ratio': {'dedicated': 0.1, 'min': 0.5, 'max': 0.9}, 'priority': 1}
    base.update(changes)
    return template(**base)


def metrics(urllc_delay_s: float = 0.004, urllc_queue: float = 4e3, embb_queue: float = 5e6,
            di: float | None = None, error: float | None = None,
            embb_rate: float = 60e6) -> BrokerMetrics:
    """A cell whose eMBB slice is saturated (seconds of video queued) unless told otherwise:
    every PRB is contested."""
    return BrokerMetrics({0: SliceMetrics(embb_rate, embb_queue, 0.02, 29.0),
                          1: SliceMetrics(0.2e6, urllc_queue, urllc_delay_s, 29.0)},
                         interval_s=0.1, dexterity_index=di, tracking_error_m=error)


# ----------------------------------------------------------------------------------------------
# templates


def test_shipped_templates_load_in_priority_order() -> None:
    templates = load_templates(SLICES)
    assert [t.name for t in templates] == ['urllc_control', 'embb_video']
    urllc, video = templates
    assert urllc.kind is SliceKind.URLLC and urllc.five_qi == 82 and urllc.snssai.sd == '000001'
    assert video.kind is SliceKind.EMBB and video.five_qi == 9
    assert video.snssai.text() == '1-000001'
    for t in templates:
        r = t.prb_ratio
        assert 0 <= r.dedicated <= r.min <= r.max <= 1


@pytest.mark.parametrize(('change', 'words'), [
    ({'five_qi': 11}, "field 'five_qi' = 11: not a standardized 5qi"),
    ({'five_qi': 9}, 'of a urllc slice must be delay-critical gbr'),
    ({'snssai': {'sst': 0}}, "field 'snssai.sst' = 0: input should be greater than or equal to 1"),
    ({'snssai': {'sst': 1, 'sd': 1}}, "field 'snssai.sd' = 1: must be six hex"),
    ({'snssai': {'sst': 1, 'sd': 'FFFFFF'}}, 'reserved "no sd" value'),
    ({'prb_ratio': {'dedicated': 0.3, 'min': 0.2, 'max': 0.6}},
     "field 'prb_ratio' = {'dedicated': 0.3, 'max': 0.6, 'min': 0.2}: dedicated 0.3 <= min 0.2 "
     '<= max 0.6 must hold (ts 28.541'),
    ({'prb_ratio': {'max': 1.5}}, "field 'prb_ratio.max' = 1.5"),
    ({'guaranteed_bitrate_bps': 2e7}, 'guaranteed_bitrate_bps 2e+07 must be <= max_bitrate_bps'),
    ({'delay_budget_s': -1}, "field 'delay_budget_s' = -1"),
    ({'colour': 'red'}, "unknown field 'colour'"),
])
def test_bad_template_is_one_line_naming_file_field_value(tmp_path: Path, change: dict[str, Any],
                                                          words: str) -> None:
    data = yaml.safe_load((SLICES / 'urllc_control.yaml').read_text(encoding='utf-8'))
    data.update(change)
    path = tmp_path / 'bad.yaml'
    path.write_text(yaml.safe_dump(data), encoding='utf-8')
    with pytest.raises(ConfigError) as info:
        load_template(path)
    text = str(info.value)
    assert '\n' not in text and text.startswith(f'slice template {path}: ')
    assert words in text.lower(), text


def test_templates_folder_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match='no such folder'):
        load_templates(tmp_path / 'missing')
    with pytest.raises(ConfigError, match='holds no slice template'):
        load_templates(tmp_path)
    text = (SLICES / 'urllc_control.yaml').read_text(encoding='utf-8')
    (tmp_path / 'a.yaml').write_text(text, encoding='utf-8')
    (tmp_path / 'b.yaml').write_text(text, encoding='utf-8')
    with pytest.raises(ConfigError, match=r"b\.yaml: field 'name' = 'urllc_control': already "
                                          r'used by .*a\.yaml'):
        load_templates(tmp_path)
    (tmp_path / 'b.yaml').write_text('name: [unclosed\n', encoding='utf-8')
    with pytest.raises(ConfigError, match=r'b\.yaml:1: malformed YAML'):
        load_templates(tmp_path)


# ----------------------------------------------------------------------------------------------
# admission


def test_admission_reasons() -> None:
    k = 50
    verdicts = admit([template(), embb()], k, 180e3, SE)
    assert [v.admitted for v in verdicts] == [True, True]
    # the min ratios would add up to 1.2
    verdicts = admit([template(), embb(prb_ratio={'min': 1.0, 'max': 1.0})], k, 180e3, SE)
    assert not verdicts[1].admitted
    assert verdicts[1].reason == 'min PRB ratios would add up to 1.2 > 1 (admitted: 0.2, this ' \
                                 'slice: 1)'
    # 20 Mbit/s cannot fit in floor(0.1 * 50) = 5 PRBs x 180 kHz x 5 bit/s/Hz = 4.5 Mbit/s
    verdicts = admit([template(), embb(prb_ratio={'min': 0.1, 'max': 0.1})], k, 180e3, SE)
    assert not verdicts[1].admitted
    assert verdicts[1].reason.startswith('guaranteed 20 Mbit/s > 4.5 Mbit/s that its max ratio '
                                         '0.1 carries (5 of 50 PRBs')
    # a second URLLC template: the cell has one URLLC slice
    verdicts = admit([template(), template(name='second')], k, 180e3, SE)
    assert verdicts[1].reason == "the cell carries one urllc slice and 'urllc_control' holds it"
    # a measured SE changes the verdict: at 1 bit/s/Hz 45 PRBs carry only 8.1 Mbit/s
    low = {SliceKind.URLLC: 5.0, SliceKind.EMBB: 1.0}
    assert not admit([template(), embb()], k, 180e3, low)[1].admitted


def test_rejected_slice_gets_nothing_and_states_follow_the_lifecycle() -> None:
    broker = Broker([template(), embb(guaranteed_bitrate_bps=90e6)],
                    BrokerConfig(policy=AllocatorName.STATIC))
    first = broker.step()
    assert first.prbs['embb_video'] == 0 and first.slice_prbs[0] == 0
    states = {s.template.name: s for s in broker.statuses()}
    assert states['embb_video'].state.value == 'rejected' and 'guaranteed 90' in \
        states['embb_video'].reason
    assert states['urllc_control'].state.value == 'admitted'
    assert math.isnan(states['urllc_control'].measured_rate_bps)
    broker.step(metrics())
    states = {s.template.name: s for s in broker.statuses()}
    assert states['urllc_control'].state.value == 'active'
    assert states['urllc_control'].measured_rate_bps == 0.2e6
    assert states['embb_video'].state.value == 'rejected'
    assert broker.last is not None and broker.last.slice_prbs[0] == 0


def test_measured_sinr_readmits_once() -> None:
    # configured SE 1 bit/s/Hz rejects eMBB; the measured 29 dB (9.6 bit/s/Hz) admits it
    broker = Broker([template(), embb()], BrokerConfig(spectral_efficiency_bps_per_hz=1.0))
    assert [a.admitted for a in broker.admissions] == [True, False]
    broker.step(metrics())
    assert [a.admitted for a in broker.admissions] == [True, True]
    # later reports do not re-run admission
    bad = BrokerMetrics({0: SliceMetrics(1e6, 0.0, 0.0, -20.0)}, 0.1)
    broker.step(bad)
    assert [a.admitted for a in broker.admissions] == [True, True]


# ----------------------------------------------------------------------------------------------
# allocations


def test_static_before_metrics_and_template_ratios() -> None:
    broker = Broker(load_templates(SLICES), BrokerConfig(policy=AllocatorName.DPP))
    first = broker.step()
    # static: shares proportional to the min ratios 0.2 : 0.5 of 50 PRBs
    assert first.slice_prbs == {0: 36, 1: 14} and first.policy == 'dpp'


def test_fit_counts_respects_bounds_and_total() -> None:
    assert fit_counts([30.0, 30.0], [10, 25], [30, 45], 50) == [25, 25]
    assert fit_counts([0.0, 0.0], [2, 3], [4, 4], 50) == [4, 4]  # max ratios cap the total
    assert fit_counts([float('nan'), 50.0], [0, 0], [50, 50], 50) == [0, 50]
    with pytest.raises(ConfigError, match='add up to more than total_prbs = 5'):
        fit_counts([1.0], [6], [6], 5)


ratios = st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)).map(sorted)
finite_or_not = st.one_of(st.floats(0, 1e9), st.just(float('nan')), st.just(float('inf')),
                          st.floats(-1e6, 0), st.none())


@settings(max_examples=60, deadline=None)
@given(policy=st.sampled_from(list(AllocatorName)), k=st.integers(1, 275),
       r_u=ratios, r_e=ratios, steps=st.lists(st.tuples(
           finite_or_not, finite_or_not, finite_or_not, st.one_of(st.floats(-30, 60),
                                                                  st.just(float('nan'))),
           finite_or_not, finite_or_not, finite_or_not, st.floats(-10, 10), finite_or_not,
           st.sampled_from([(0, 1), (0,), (1,), (), (0, 1, 7)])), min_size=1, max_size=6),
       gain=st.floats(0, 100))
def test_every_allocation_within_ratios_and_carrier(policy: AllocatorName, k: int, r_u: Any,
                                                    r_e: Any, steps: Any, gain: float) -> None:
    urllc = template(prb_ratio=dict(zip(('dedicated', 'min', 'max'), r_u, strict=True)),
                     guaranteed_bitrate_bps=0.0)
    video = embb(prb_ratio=dict(zip(('dedicated', 'min', 'max'), r_e, strict=True)),
                 guaranteed_bitrate_bps=0.0)
    broker = Broker([urllc, video], BrokerConfig(policy=policy, total_prbs=k, di_gain=gain),
                    POLICY if policy is AllocatorName.DRL else None)
    for rate, queue, delay, sinr, erate, equeue, di, err, cmd, ids in steps:
        per_id = {0: SliceMetrics(erate, equeue, delay, sinr),
                  1: SliceMetrics(rate, queue, delay, sinr),
                  7: SliceMetrics(rate, queue, delay, sinr)}
        m = BrokerMetrics({i: per_id[i] for i in ids}, 0.1, di, err, cmd)
        a = broker.step(m)
        assert sum(a.slice_prbs.values()) <= k
        assert set(a.slice_prbs) == {0, 1}
        # the bounds of this period: min while a slice has data, dedicated when idle, max
        view = broker.view(m)
        for kind, low, high in zip(view.kinds, view.low, view.high, strict=True):
            assert low <= a.slice_prbs[kind.slice_id] <= high
        for t in (urllc, video):
            ded, _, hi = prb_bounds(t, k)
            n = a.prbs[t.name]
            admitted = any(x.admitted and x.template.name == t.name for x in broker.admissions)
            if admitted:
                assert ded <= n <= hi
            else:
                assert n == 0
        assert a.urllc_weight >= 1.0 and a.urllc_weight <= broker.config.max_urllc_weight


def test_min_ratio_held_while_the_slice_has_data_dedicated_when_idle() -> None:
    broker = Broker([template(), embb(prb_ratio={'min': 0.5, 'max': 1.0})],
                    BrokerConfig(policy=AllocatorName.PUNCTURING))
    busy = broker.step(metrics(urllc_queue=0.0, embb_queue=0.0))
    assert busy.slice_prbs[1] == 10  # min 0.2 of 50: the URLLC slice delivered 0.2 Mbit/s
    idle = BrokerMetrics({0: SliceMetrics(30e6, 1e6, 0.02, 29.0),
                          1: SliceMetrics(0.0, 0.0, 0.0, 29.0)}, 0.1)
    a = broker.step(idle)
    assert a.slice_prbs == {1: 2, 0: 48}  # URLLC at its dedicated 0.05 of 50
    # eMBB capped at its max 0.9: the PRBs it cannot take go to URLLC (work conserving)
    capped = Broker(load_templates(SLICES), BrokerConfig(policy=AllocatorName.PUNCTURING))
    capped.step(idle)
    assert capped.step(idle).slice_prbs == {1: 5, 0: 45}


def test_puncturing_serves_the_urllc_backlog_first() -> None:
    broker = Broker(load_templates(SLICES), BrokerConfig(policy=AllocatorName.PUNCTURING))
    light = broker.step(metrics(urllc_queue=1e3))
    heavy = broker.step(metrics(urllc_queue=2e5))
    # 200 kbit within the 10 ms budget: 20 Mbit/s, ~13 PRBs of ~1.74 Mbit/s at 29 dB
    assert light.slice_prbs[1] == 10 and 12 <= heavy.slice_prbs[1] <= 15
    assert heavy.slice_prbs[0] == 50 - heavy.slice_prbs[1]


def test_pf_favours_the_slice_with_the_lower_average() -> None:
    broker = Broker([template(prb_ratio={'max': 1.0}), embb(prb_ratio={'max': 1.0})],
                    BrokerConfig(policy=AllocatorName.PF))
    starved = BrokerMetrics({0: SliceMetrics(60e6, 1e5, 0.02, 29.0),
                             1: SliceMetrics(1e5, 1e3, 0.004, 29.0)}, 0.1)
    for _ in range(30):
        a = broker.step(starved)
    assert a.slice_prbs[1] > a.slice_prbs[0]
    rich = BrokerMetrics({0: SliceMetrics(1e5, 1e5, 0.02, 29.0),
                          1: SliceMetrics(60e6, 1e3, 0.004, 29.0)}, 0.1)
    for _ in range(60):
        a = broker.step(rich)
    assert a.slice_prbs[1] < a.slice_prbs[0]


def test_dpp_virtual_queue_drives_urllc_prbs_up_under_violations() -> None:
    broker = Broker(load_templates(SLICES), BrokerConfig(policy=AllocatorName.DPP))
    calm = broker.step(metrics(urllc_delay_s=0.004))
    assert broker.virtual_queue == 0.0
    counts = []
    for _ in range(40):  # every period's URLLC delay 30 ms > the 10 ms budget
        counts.append(broker.step(metrics(urllc_delay_s=0.03)).slice_prbs[1])
    assert broker.virtual_queue == pytest.approx(40 * 0.95)
    assert counts == sorted(counts)  # never falls while the violations go on
    assert calm.slice_prbs[1] == 10 and counts[-1] == 25  # up to what eMBB's min ratio leaves
    # back within budget: Z drains by 1 - χ per period
    z = broker.virtual_queue
    broker.step(metrics(urllc_delay_s=0.004))
    assert broker.virtual_queue == pytest.approx(z - 0.05)
    # command delays measured by the robot count as well
    broker2 = Broker(load_templates(SLICES), BrokerConfig(policy=AllocatorName.DPP))
    broker2.step(BrokerMetrics(command_delay_s=0.05))
    assert broker2.virtual_queue == pytest.approx(0.95)


def test_di_feedback_raises_urllc_weight_and_prbs() -> None:
    cfg = BrokerConfig(di_gain=2.0)
    assert urllc_weight(cfg, 0.9, 0.01) == 1.0  # good tracking: no push
    assert urllc_weight(cfg, 0.35, None) == pytest.approx(1 + 2 * 0.5)
    assert urllc_weight(cfg, None, 0.15) == pytest.approx(1 + 2 * 2.0)
    assert urllc_weight(cfg, 0.0, 10.0) == cfg.max_urllc_weight
    assert urllc_weight(BrokerConfig(di_gain=0.0), 0.0, 10.0) == 1.0  # gain 0: off
    # monotone: a lower DI never lowers the weight
    ws = [urllc_weight(cfg, di, 0.05) for di in (0.9, 0.7, 0.5, 0.3, 0.1)]
    assert ws == sorted(ws)
    # every allocator: the same cell and load, a good and a poor DI (wide PRB bounds, so that
    # the ratios do not decide alone)
    wide = [template(prb_ratio={'min': 0.02, 'max': 0.9}), embb(prb_ratio={'min': 0.1})]
    load = BrokerMetrics({0: SliceMetrics(20e6, 5e6, 0.5, 29.0),  # eMBB backlogged
                          1: SliceMetrics(5e6, 5e4, 0.004, 29.0)}, 0.1)
    for policy in AllocatorName:
        prbs = []
        for di in (0.9, 0.1):
            broker = Broker(wide, BrokerConfig(policy=policy, di_gain=3.0),
                            POLICY if policy is AllocatorName.DRL else None)
            m = BrokerMetrics(load.slices, 0.1, dexterity_index=di, tracking_error_m=0.02)
            broker.step(m)
            prbs.append(broker.step(m).slice_prbs[1])
        assert prbs[1] > prbs[0], (policy, prbs)


def test_drl_maps_the_cell_to_the_policy_layout() -> None:
    broker = Broker(load_templates(SLICES), BrokerConfig(policy=AllocatorName.DRL), POLICY)
    broker.step(metrics())
    view = broker.view(metrics(di=0.4))
    obs = broker.allocator.observation(view)  # type: ignore[union-attr]
    lay = POLICY.layout
    assert obs.shape == (lay.size,)
    # 5 Mbit of eMBB backlog over 5 users of 12 kbit packets, reference 100 packets
    assert obs[lay.embb_queue] == pytest.approx(5e6 / 5 / 12000 / 100)
    assert obs[lay.urllc_delay] == pytest.approx(0.004 / 0.02)
    assert obs[lay.dexterity] == pytest.approx(0.4)
    a = broker.step(metrics())
    assert sum(a.slice_prbs.values()) == 50


def test_drl_needs_a_policy() -> None:
    with pytest.raises(ConfigError, match="policy 'drl' needs a slicing policy"):
        Broker(load_templates(SLICES), BrokerConfig(policy=AllocatorName.DRL))


def test_garbage_metrics_do_not_raise() -> None:
    broker = Broker(load_templates(SLICES), BrokerConfig(policy=AllocatorName.DPP))
    nan, inf = float('nan'), float('inf')
    for m in (BrokerMetrics(), BrokerMetrics({5: SliceMetrics(1.0)}),
              BrokerMetrics({1: SliceMetrics(nan, inf, -1.0, nan)}, interval_s=nan,
                            dexterity_index=nan, tracking_error_m=-inf, command_delay_s=nan),
              BrokerMetrics({0: SliceMetrics(1e300, 1e300, 1e300, 1e300)}, interval_s=0.0)):
        a = broker.step(m)
        assert sum(a.slice_prbs.values()) <= 50
