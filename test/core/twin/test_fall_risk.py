"""Calibrated fall risk: sampled ensemble rollouts, labels, precision/recall, threshold choice."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from twin_toys import TOY_SPEC, toy_falls

from ior_ros.core.errors import ConfigError, DimensionError
from ior_ros.core.twin.fall_risk import (
    choose_threshold,
    estimate_fall_risk,
    fall_labels,
    precision_recall,
)
from ior_ros.core.twin.twin import DigitalTwin

SPEC = TOY_SPEC


@pytest.fixture(scope='module')
def twin(toy_twin) -> DigitalTwin:  # type: ignore[no-untyped-def]
    """The toy twin (conftest.py), 800 fit steps."""
    model, data = toy_twin(800)
    assert model.evaluate(data).delta_nmse < 0.01
    return model


def push(value: float):  # noqa: ANN201 - a PolicyFn
    def policy(obs: np.ndarray) -> np.ndarray:
        return np.tile(np.array([value, 0.0], np.float32), (len(obs), 1))
    return policy


def test_certain_fall_and_certain_safety(twin: DigitalTwin) -> None:
    rng = np.random.default_rng(1)
    obs = np.array([[-0.3, 0.0], [-0.3, 0.0]], np.float32)
    proposals = np.array([[-0.8, 0.0], [0.6, 0.0]], np.float32)  # s'_0 = -0.7 | 0.0
    risk = estimate_fall_risk(twin, obs, proposals, push(0.0), 3, 16, rng)
    np.testing.assert_allclose(risk.probability, [1.0, 0.0])
    assert risk.fall_step[0] == pytest.approx(1.0) and np.isnan(risk.fall_step[1])
    assert risk.expected_return[0] < risk.expected_return[1]
    np.testing.assert_allclose(risk.policy_actions[0, 0], proposals[0])  # the proposal first
    np.testing.assert_allclose(risk.policy_actions[0, 1:], 0.0, atol=1e-6)  # then the policy


def test_the_horizon_decides_whether_a_slow_fall_is_seen(twin: DigitalTwin) -> None:
    # a policy drifting left by 0.15 per step reaches -0.5 after 4 steps from 0.0
    rng = np.random.default_rng(2)
    obs = np.zeros((1, 2), np.float32)
    proposal = np.array([[-0.3, 0.0]], np.float32)
    short = estimate_fall_risk(twin, obs, proposal, push(-0.3), 2, 8, rng)
    long = estimate_fall_risk(twin, obs, proposal, push(-0.3), 6, 8, rng)
    assert short.probability[0] == 0.0
    assert long.probability[0] == 1.0 and 3.0 <= long.fall_step[0] <= 5.0


def test_probability_is_graded_where_members_disagree(twin: DigitalTwin) -> None:
    # shift member 0's predicted state change on s_0 by -0.3 m: near the edge only member 0
    # predicts the fall, so about one particle in three falls (a probability, not 0 or 1)
    shifted = DigitalTwin(twin.spec, twin.config, toy_falls)
    shifted.model.load_state_dict(twin.model.state_dict())
    last = [m for m in shifted.model.net.body if hasattr(m, 'bias')][-1]
    with torch.no_grad():
        last.bias[0, 0, 1] -= 0.3 / float(shifted.model.target_norm.std[1])
    rng = np.random.default_rng(3)
    obs = np.array([[-0.35, 0.0]], np.float32)
    proposal = np.array([[0.0, 0.0]], np.float32)  # s'_0 = -0.35 for members 1, 2; -0.65 for 0
    risk = estimate_fall_risk(shifted, obs, proposal, None, 1, 600, rng)
    assert 0.25 < risk.probability[0] < 0.42
    assert estimate_fall_risk(twin, obs, proposal, None, 1, 600, rng).probability[0] == 0.0


def test_fall_labels_mark_the_last_k_actions_of_a_fall() -> None:
    np.testing.assert_array_equal(fall_labels(5, True, 2), [False, False, False, True, True])
    assert not fall_labels(5, False, 2).any()  # a time-limit end is not a fall
    assert fall_labels(3, True, 10).all()
    with pytest.raises(ConfigError, match='label steps K = 0'):
        fall_labels(3, True, 0)


def test_precision_recall_counts() -> None:
    flags = np.array([True, True, False, False, True])
    label = np.array([True, False, True, False, True])
    assert precision_recall(flags, label) == pytest.approx((2 / 3, 2 / 3))
    p, r = precision_recall(np.zeros(3, bool), np.zeros(3, bool))
    assert np.isnan(p) and np.isnan(r)


def test_threshold_rules() -> None:
    risk = np.array([0.0, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0])
    label = np.array([False, False, True, False, True, True, True, True])
    f1 = choose_threshold(risk, label, 'f1')
    # >= 0.2 flags 6 with 5 positives (P 5/6, R 1, F1 0.909); >= 0.6 flags 4 (P 1, R 0.8, 0.889)
    assert f1.threshold == pytest.approx(0.2) and f1.recall == 1.0
    strict = choose_threshold(risk, label, 'recall_at_precision', precision_floor=1.0)
    assert strict.threshold == pytest.approx(0.6) and strict.precision == 1.0
    assert strict.recall == pytest.approx(0.8) and strict.met_floor
    none = choose_threshold(risk, np.zeros(8, bool))
    assert none.threshold == 1.0 and none.positives == 0
    with pytest.raises(ConfigError, match='precision floor = 0'):
        choose_threshold(risk, label, 'recall_at_precision', precision_floor=0.0)


def test_a_given_first_step_is_used_and_changes_nothing(twin: DigitalTwin) -> None:
    obs = np.array([[-0.3, 0.0], [0.1, 0.0]], np.float32)
    proposals = np.array([[-0.1, 0.0], [0.2, 0.0]], np.float32)
    plain = estimate_fall_risk(twin, obs, proposals, push(-0.2), 5, 12, np.random.default_rng(4))
    first = twin.predict(obs, proposals)  # the gate's one-step prediction: every member's too
    assert first.member_reward is not None and first.member_next_obs is not None
    given = estimate_fall_risk(twin, obs, proposals, push(-0.2), 5, 12, np.random.default_rng(4),
                               first_step=(first.member_reward, first.member_next_obs))
    for name in ('probability', 'expected_return', 'fall_step', 'policy_actions'):
        np.testing.assert_allclose(getattr(given, name), getattr(plain, name), rtol=1e-6)
    # and it is really what the first step uses: members that all fall at once make it certain
    down = (first.member_reward, np.full_like(first.member_next_obs, -0.9))
    certain = estimate_fall_risk(twin, obs, proposals, push(0.0), 5, 12,
                                 np.random.default_rng(4), first_step=down)
    np.testing.assert_allclose(certain.probability, [1.0, 1.0])
    np.testing.assert_allclose(certain.fall_step, [1.0, 1.0])
    with pytest.raises(DimensionError, match='first_step'):
        estimate_fall_risk(twin, obs, proposals, push(0.0), 5, 12, np.random.default_rng(4),
                           first_step=(first.member_reward[:, :1], first.member_next_obs))
