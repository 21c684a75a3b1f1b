"""CEM planner through the twin, and the gate's plan fallback and risk rule."""

from __future__ import annotations

import numpy as np
import pytest
from twin_toys import TOY_SPEC

from ior_ros.core.errors import ConfigError
from ior_ros.core.twin.fall_risk import member_predictions
from ior_ros.core.twin.planner import CemPlanner, PlannerConfig, score_sequences
from ior_ros.core.twin.risk_gate import GateOutcome, RiskGate, RiskGateConfig
from ior_ros.core.twin.twin import DigitalTwin

SPEC = TOY_SPEC


@pytest.fixture(scope='module')
def twin(toy_twin) -> DigitalTwin:  # type: ignore[no-untyped-def]
    """The toy twin (conftest.py), 800 fit steps."""
    model, _ = toy_twin(800)
    return model


def leftward(obs: np.ndarray) -> np.ndarray:
    """A policy that walks into the fall: a_0 = -0.6 in every state."""
    return np.tile(np.array([-0.6, 0.0], np.float32), (len(np.atleast_2d(obs)), 1))


def test_vectorised_score_matches_a_member_by_member_rollout(twin: DigitalTwin) -> None:
    rng = np.random.default_rng(4)
    obs = np.array([0.2, -0.1], np.float32)
    seqs = rng.uniform(-1, 1, (5, 4, 2)).astype(np.float32)
    score, fall = score_sequences(twin, obs, seqs, 'all', 0.9, 100.0)
    expected = np.zeros(5)
    expected_fall = np.zeros(5)
    for i in range(5):
        for k in range(3):
            s, total, down = obs[None, :], 0.0, False
            for h in range(4):
                r, nxt = member_predictions(twin, s, seqs[i, h][None, :])
                total += 0.9 ** h * float(r[k, 0])
                s = nxt[k]
                if s[0, 0] < -0.5:
                    down = True
                    break
            expected[i] += total / 3
            expected_fall[i] += down / 3
    np.testing.assert_allclose(fall, expected_fall)
    np.testing.assert_allclose(score, expected - 100.0 * expected_fall, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('parametrization', ['open_loop', 'policy_offset'])
def test_planner_escapes_the_fall_the_policy_walks_into(twin: DigitalTwin,
                                                        parametrization: str) -> None:
    cfg = PlannerConfig(horizon_steps=4, iterations=3, population=48, elites=6, members='all',
                        initial_std=1.0, parametrization=parametrization)
    planner = CemPlanner(cfg, np.array(SPEC.act_low), np.array(SPEC.act_high))
    obs = np.array([0.0, 0.0], np.float32)
    warm = leftward(np.zeros((4, 2)))  # the policy's own sequence falls at step 2
    warm_score, warm_fall = score_sequences(twin, obs, warm[None], 'all', 0.99, 100.0)
    assert warm_fall[0] == 1.0
    plan = planner.plan(twin, obs, warm, policy=leftward)
    assert plan.fall_probability == 0.0 and plan.score > warm_score[0] + 50.0
    assert plan.action[0] > -0.4  # the first action pushes less towards the edge
    assert plan.candidates == 3 * 48


def test_gate_plans_on_a_risky_proposal_and_hands_back_on_a_safe_one(twin: DigitalTwin) -> None:
    cfg = RiskGateConfig(rule='risk', fallback='plan', risk_threshold=0.5, risk_horizon_steps=4,
                         risk_particles=8, planner=PlannerConfig(
                             horizon_steps=4, iterations=2, population=32,
                             parametrization='open_loop'))
    gate = RiskGate(cfg, SPEC, seed=1)
    risky = gate.decide(twin, np.array([-0.2, 0.0], np.float32),
                        np.array([-0.6, 0.0], np.float32), policy=leftward)
    assert risky.outcome is GateOutcome.VETOED_FALL and risky.fall_probability == 1.0
    sent_next = twin.predict(np.array([-0.2, 0.0], np.float32), risky.action).next_obs[0]
    assert sent_next[0] > -0.5  # the planned action does not fall
    assert gate.planner is not None and gate.planner._previous is not None
    safe = gate.decide(twin, np.array([0.6, 0.0], np.float32), np.array([0.5, 0.0], np.float32),
                       policy=lambda o: np.zeros((len(o), 2), np.float32))
    assert safe.outcome is GateOutcome.PASSED and safe.fall_probability == 0.0
    np.testing.assert_allclose(safe.action, [0.5, 0.0])
    assert gate.planner._previous is None  # control is back with the agent


def test_controller_fallback_sends_the_controllers_action(twin: DigitalTwin) -> None:
    gate = RiskGate(RiskGateConfig(rule='risk', fallback='controller', risk_horizon_steps=2),
                    SPEC)
    decision = gate.decide(twin, np.array([-0.3, 0.0], np.float32),
                           np.array([-0.9, 0.0], np.float32), policy=leftward,
                           controller=lambda o: np.tile([0.4, 0.1], (len(o), 1)))
    assert decision.vetoed
    np.testing.assert_allclose(decision.action, [0.4, 0.1])
    with pytest.raises(ConfigError, match='needs a fallback controller'):
        gate.decide(twin, np.array([-0.3, 0.0], np.float32), np.array([-0.9, 0.0], np.float32),
                    policy=leftward)


def test_planner_config_errors_are_one_line() -> None:
    with pytest.raises(ConfigError, match='elites = 40 exceeds population = 32'):
        CemPlanner(PlannerConfig(elites=40, population=32), np.zeros(2) - 1, np.ones(2))
    with pytest.raises(ConfigError, match='needs the policy'):
        CemPlanner(PlannerConfig(), np.zeros(2) - 1, np.ones(2)).plan(
            None, np.zeros(2, np.float32), np.zeros((3, 2), np.float32))  # type: ignore[arg-type]
