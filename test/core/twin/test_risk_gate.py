"""Risk gate: vetoes a low predicted reward, passes a high one; fallbacks; trust."""

from __future__ import annotations

import numpy as np
import pytest
from twin_toys import TOY_SPEC

from ior_ros.core.errors import ConfigError
from ior_ros.core.twin.risk_gate import GateOutcome, RiskGate, RiskGateConfig
from ior_ros.core.twin.twin import DigitalTwin

SPEC = TOY_SPEC


@pytest.fixture(scope='module')
def twin(toy_twin) -> DigitalTwin:  # type: ignore[no-untyped-def]
    """The toy twin (twin_toys.py), 600 fit steps."""
    model, data = toy_twin(600)
    errors = model.evaluate(data)
    assert errors.reward_nmse < 0.01
    return model


def sampler(obs: np.ndarray, k: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.uniform(-1, 1, (k, 2)).astype(np.float32)


def test_vetoes_low_reward_and_passes_high(twin: DigitalTwin) -> None:
    gate = RiskGate(RiskGateConfig(reward_threshold=0.0, fallback='zero'), SPEC)
    obs = np.array([0.5, 0.0], np.float32)
    low = gate.decide(twin, obs, np.array([-0.8, 0.0], np.float32))
    assert low.outcome is GateOutcome.VETOED_REWARD and low.vetoed
    assert low.proposed_reward < -0.6
    np.testing.assert_allclose(low.action, [0.0, 0.0])  # the zero action is sent instead
    high = gate.decide(twin, obs, np.array([0.8, 0.0], np.float32))
    assert high.outcome is GateOutcome.PASSED and not high.vetoed
    np.testing.assert_allclose(high.action, np.array([0.8, 0.0], np.float32))
    assert high.proposed_reward > 0.6


def test_vetoes_a_predicted_fall(twin: DigitalTwin) -> None:
    # the reward passes the threshold (-0.6 > -1) but s'_0 = -0.45 - 0.3 < -0.5 is a fall
    gate = RiskGate(RiskGateConfig(reward_threshold=-1.0, fallback='zero'), SPEC)
    obs = np.array([-0.45, 0.0], np.float32)
    decision = gate.decide(twin, obs, np.array([-0.6, 0.0], np.float32))  # s'_0 ≈ -0.75: a fall
    assert decision.outcome is GateOutcome.VETOED_FALL and decision.proposed_fall
    off = RiskGate(RiskGateConfig(reward_threshold=-1.0, veto_on_termination=False), SPEC)
    assert off.decide(twin, obs, np.array([-0.6, 0.0], np.float32)).outcome is GateOutcome.PASSED


def test_best_of_k_sends_the_best_candidate(twin: DigitalTwin) -> None:
    gate = RiskGate(RiskGateConfig(reward_threshold=0.0, fallback='best_of_k', candidates=32),
                    SPEC)
    decision = gate.decide(twin, np.array([0.5, 0.0], np.float32),
                           np.array([-0.9, 0.0], np.float32), sampler=sampler)
    assert decision.vetoed
    candidates = np.concatenate([sampler(np.zeros(2), 32), np.zeros((1, 2), np.float32)])
    # the sent action is a candidate and among the best three by the true reward a_0
    assert np.any(np.all(np.isclose(candidates, decision.action), axis=1))
    assert decision.action[0] >= np.sort(candidates[:, 0])[-3]
    assert decision.sent_score > 0.5


def test_safe_and_previous_fallbacks(twin: DigitalTwin) -> None:
    obs, bad = np.array([0.5, 0.0], np.float32), np.array([-0.9, 0.0], np.float32)
    safe = RiskGate(RiskGateConfig(fallback='safe_action', safe_action=(0.3, -0.2)), SPEC)
    np.testing.assert_allclose(safe.decide(twin, obs, bad).action, [0.3, -0.2])
    prev = RiskGate(RiskGateConfig(fallback='previous'), SPEC)
    np.testing.assert_allclose(prev.decide(twin, obs, bad, previous_action=np.array(
        [0.7, 0.1])).action, [0.7, 0.1])
    with pytest.raises(ConfigError, match='safe_action'):
        RiskGate(RiskGateConfig(fallback='safe_action'), SPEC)


def test_untrusted_prediction_is_not_acted_on(twin: DigitalTwin) -> None:
    # far outside the training data the ensemble disagrees; with a tiny bound nothing is trusted
    gate = RiskGate(RiskGateConfig(max_uncertainty=1e-6, fallback='zero'), SPEC)
    decision = gate.decide(twin, np.array([0.5, 0.0], np.float32),
                           np.array([-0.8, 0.0], np.float32))
    assert decision.outcome is GateOutcome.UNTRUSTED
    np.testing.assert_allclose(decision.action, [-0.8, 0.0])
    strict = RiskGate(RiskGateConfig(max_uncertainty=1e-6, untrusted='fallback',
                                     fallback='zero'), SPEC)
    assert not np.any(strict.decide(twin, np.array([0.5, 0.0], np.float32),
                                    np.array([0.8, 0.0], np.float32)).action)


def test_disagreement_grows_off_the_data(twin: DigitalTwin) -> None:
    near = twin.predict(np.array([0.1, 0.2]), np.array([0.3, -0.3])).uncertainty[0]
    far = twin.predict(np.array([8.0, -9.0]), np.array([0.3, -0.3])).uncertainty[0]
    assert far > 2 * near


def test_horizon_uses_the_policy(twin: DigitalTwin) -> None:
    gate = RiskGate(RiskGateConfig(horizon_steps=3, reward_threshold=-2.0), SPEC)
    push_down = lambda obs: np.tile(np.array([[-1.0, 0.0]], np.float32), (len(obs), 1))
    # the first step is safe, the policy then walks s_0 below -0.5 within 3 steps: a fall
    decision = gate.decide(twin, np.array([0.2, 0.0], np.float32),
                           np.array([0.0, 0.0], np.float32), policy=push_down,
                           sampler=sampler)
    assert decision.proposed_fall and decision.vetoed
    with pytest.raises(ConfigError, match='policy'):
        gate.decide(twin, np.zeros(2, np.float32), np.zeros(2, np.float32))
