"""The certified gain schedule: build, exact check of every gain, lookup, persistence."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from ior_ros.core.control.control_config import ControlConfig, FallbackPolicy
from ior_ros.core.control.gain_adjustment import AdjustOptions
from ior_ros.core.control.gain_schedule import GainSchedule
from ior_ros.core.control.lifted_stability import (
    input_delay_spectral_radius,
    lifted_spectral_radius,
)
from ior_ros.core.control.lk_functional import LmiOptions
from ior_ros.core.control.schedule_build import (
    _entry_job,
    build_schedule,
    schedule_fingerprint,
)
from ior_ros.core.errors import ControlError, ModelError

SMALL_H = 14


@pytest.fixture(scope='module')
def small_schedule(plant, nominal_gain, lqr_weights) -> GainSchedule:
    """h = 0..14 built in this process (cheap V-K settings)."""
    return build_schedule(plant, nominal_gain, lqr_weights, SMALL_H, workers=1,
                          adjust_options=AdjustOptions(vk_iterations=8))


def _assert_exactly_stable(schedule: GainSchedule) -> None:
    """Every certified gain is exactly stable for every constant delay 0..h, both liftings."""
    plant = schedule.plant
    for entry in schedule.entries:
        assert entry.certified, entry.reason
        for d in range(entry.max_delay_steps + 1):
            rho_input = input_delay_spectral_radius(plant.A, plant.B, entry.gain, d)
            rho_state = lifted_spectral_radius(plant.A, -plant.B @ entry.gain, d)
            assert rho_input == pytest.approx(rho_state, rel=1e-9, abs=1e-12)
            assert rho_input < 1.0 - 1e-9, (entry.max_delay_steps, d, rho_input)


def test_small_schedule_passes_the_exact_test(small_schedule) -> None:
    assert small_schedule.max_delay_steps == SMALL_H
    assert small_schedule.nominal_certified_steps == 12
    assert [e.method for e in small_schedule.entries[:13]] == ['nominal'] * 13
    assert all(e.method in ('vk', 'detuned_lqr') for e in small_schedule.entries[13:])
    _assert_exactly_stable(small_schedule)


def test_shipped_schedule_passes_the_exact_test(shipped_schedule) -> None:
    assert shipped_schedule.max_delay_steps == 30
    _assert_exactly_stable(shipped_schedule)
    # the adjusted gains move away from the nominal one as h grows
    distances = [e.distance_to_nominal for e in shipped_schedule.entries]
    assert distances[12] == 0.0 and distances[13] > 0.0
    assert distances[30] > distances[20] > distances[13]


def test_shipped_schedule_matches_the_default_config(shipped_schedule) -> None:
    assert shipped_schedule.metadata['config_fingerprint'] == schedule_fingerprint(ControlConfig())


def test_parallel_build_equals_serial_build(plant, nominal_gain, lqr_weights,
                                            small_schedule) -> None:
    parallel = build_schedule(plant, nominal_gain, lqr_weights, SMALL_H, workers=2,
                              adjust_options=AdjustOptions(vk_iterations=8))
    for a, b in zip(parallel.entries, small_schedule.entries):
        np.testing.assert_allclose(a.gain, b.gain, rtol=1e-9, atol=1e-12)


def test_lookup_semantics(small_schedule, nominal_gain) -> None:
    for h in range(13):
        found = small_schedule.lookup(h)
        np.testing.assert_array_equal(found.gain, nominal_gain)
        assert found.certified_for_bound and found.source_delay_steps == h
    found = small_schedule.lookup(14)
    np.testing.assert_array_equal(found.gain, small_schedule.entries[14].gain)
    # beyond H: the most conservative certified gain, flagged as not certified for that bound
    beyond = small_schedule.lookup(40)
    assert beyond.source_delay_steps == 14 and not beyond.certified_for_bound
    # O(1): answers are precomputed, the same object is returned every time
    assert small_schedule.lookup(7) is small_schedule.lookup(7)
    assert small_schedule.lookup(10 ** 6) is small_schedule.lookup(41)
    with pytest.raises(ModelError, match='>= 0'):
        small_schedule.lookup(-1)


def _with_failures(schedule: GainSchedule, failed: range) -> dict:
    doc = copy.deepcopy(schedule.to_dict())
    for h in failed:
        entry = doc['entries'][h]
        entry.update(certified=False, gain=None, certificate=None, method='failed',
                     reason=f'no certified gain for h={h}: test')
    return doc


def test_uncertified_entries_are_never_used(shipped_schedule) -> None:
    doc = _with_failures(shipped_schedule, range(21, 31))
    doc['entries'][16].update(certified=False, gain=None, certificate=None, method='failed',
                              reason='no certified gain for h=16: test')
    schedule = GainSchedule.from_dict(doc)
    # a hole is filled by the next certified entry, which covers the bound
    hole = schedule.lookup(16)
    assert hole.source_delay_steps == 17 and hole.certified_for_bound
    # above every certified entry: the most conservative certified gain, or a stop command
    top = schedule.lookup(25)
    assert top.source_delay_steps == 20 and not top.certified_for_bound
    np.testing.assert_array_equal(top.gain, shipped_schedule.entries[20].gain)
    stop = schedule.with_fallback(FallbackPolicy.STOP).lookup(25)
    assert stop.gain is None and stop.source_delay_steps == -1
    certified_gains = [e.gain for e in schedule.entries if e.certified]
    for h in range(0, 40):
        gain = schedule.lookup(h).gain
        assert any(np.array_equal(gain, g) for g in certified_gains)


def test_infeasible_entry_job_names_h(plant, nominal_gain, lqr_weights) -> None:
    doc = _entry_job(plant.to_dict(), nominal_gain.tolist(), lqr_weights.Q.tolist(),
                     lqr_weights.R.tolist(), 20, 0.9, LmiOptions(),
                     AdjustOptions(detune_grid=(10.0, 1e4), vk_iterations=0))
    assert doc['certified'] is False and doc['gain'] is None
    assert 'h=20' in doc['reason']


def test_save_load_round_trip_and_tampering(small_schedule, tmp_path) -> None:
    path = small_schedule.save(tmp_path / 'schedule.json')
    back = GainSchedule.load(path)
    for a, b in zip(back.entries, small_schedule.entries):
        np.testing.assert_array_equal(a.gain, b.gain)
    np.testing.assert_allclose(back.nominal_spectral_radius,
                               small_schedule.nominal_spectral_radius)
    doc = json.loads(path.read_text())
    # swapping in the nominal gain under the certificate of K(14) must not load
    doc['entries'][14]['gain'] = doc['nominal_gain']
    with pytest.raises(ControlError, match='h=14'):
        GainSchedule.from_dict(doc)
    doc = json.loads(path.read_text())
    doc['entries'][14]['certificate']['multipliers']['S'] = (
        10 * np.array(doc['entries'][14]['certificate']['multipliers']['S'])).tolist()
    with pytest.raises(ControlError, match='h=14'):
        GainSchedule.from_dict(doc)


@pytest.mark.slow
def test_rebuilding_the_default_schedule_reproduces_the_shipped_one(shipped_schedule) -> None:
    from ior_ros.core.control.schedule_build import schedule_from_config
    rebuilt = schedule_from_config(ControlConfig())
    fingerprint = shipped_schedule.metadata['config_fingerprint']
    assert rebuilt.metadata['config_fingerprint'] == fingerprint
    _assert_exactly_stable(rebuilt)
    for a, b in zip(rebuilt.entries, shipped_schedule.entries):
        np.testing.assert_allclose(a.gain, b.gain, rtol=1e-6, atol=1e-8)
