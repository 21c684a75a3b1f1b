"""
The robot twin of the digital_twin node (core/twin/robot_twin.py): transitions from what the edge
hears, the physical-limit rule before it learned, the learned risk, the network twin's
regression, and saving.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ior_ros.core.errors import ArtifactError
from ior_ros.core.twin.robot_twin import NetworkTwin, RobotTwin, RobotTwinConfig

T = 0.01


def _reference(t: float) -> np.ndarray:
    """Figure-eight velocity (a = 1 m, 10 s) [m/s]."""
    w = 2 * np.pi / 10
    return np.array([w * np.cos(w * t), w * np.cos(2 * w * t)])


def _feed(twin: RobotTwin, steps: int, seed: int = 0) -> int:
    """
    A robot that follows the set-point velocity with a lag (the error integrates the velocity
    difference); one command in 20 is off the reference by N(0, 1) m/s per axis. Returns the
    last sequence.
    """
    rng = np.random.default_rng(seed)
    v, err, pos = np.zeros(2), np.zeros(2), np.zeros(2)
    for k in range(steps):
        c = _reference(k * T)
        if rng.random() < 0.05:
            c = c + rng.normal(0.0, 1.0, 2)
        twin.observe_command(k + 1, c)
        v = v + 0.5 * (c - v) + rng.normal(0.0, 0.005, 2)
        err = err + (v - c) * T
        pos = pos + v * T
        twin.observe_state(k * T, pos, v, float(np.linalg.norm(err)), k + 1)
    return steps


def test_transitions_pair_consecutive_states_with_the_applied_command() -> None:
    twin = RobotTwin(seed=0)
    twin.observe_command(1, np.array([0.5, 0.0]))
    assert not twin.observe_state(0.0, np.zeros(2), np.zeros(2), 0.0, 1)
    assert twin.observe_state(T, np.zeros(2), np.array([0.2, 0.0]), 0.01, 1)
    assert not twin.observe_state(T, np.zeros(2), np.zeros(2), 0.0, 1)  # repeated stamp
    assert not twin.observe_state(2 * T, np.zeros(2), np.zeros(2), 0.0, 7)  # unknown command
    assert not twin.observe_state(5 * T, np.zeros(2), np.zeros(2), 0.0, 1)  # a gap
    data = twin.buffer.all()
    assert len(data) == 1
    np.testing.assert_allclose(data.action[0], [0.5, 0.0])
    np.testing.assert_allclose(data.next_obs[0], [0.2, 0.0, 0.01])
    assert data.reward[0] == pytest.approx(-0.01)


def test_before_learning_only_the_acceleration_limit_vetoes_and_says_so() -> None:
    twin = RobotTwin(RobotTwinConfig(max_accel_mps2=10.0), seed=0)
    first = twin.judge(1, 0.0, np.array([0.6, 0.0]), 0.0)
    smooth = twin.judge(2, 0.01, np.array([0.61, 0.0]), 0.0)  # 1 m/s²
    slip = twin.judge(3, 0.02, np.array([-3.0, 0.0]), 0.005)  # 361 m/s²
    after = twin.judge(4, 0.03, np.array([0.62, 0.0]), 0.0)  # against command 2: 0.5 m/s²
    assert not twin.learned and not first.veto and not smooth.veto and not after.veto
    assert smooth.accel_mps2 == pytest.approx(1.0)
    assert slip.veto and slip.risk == 1.0
    assert slip.reason.startswith('commanded acceleration 361 m/s² > max_accel_mps2 10 m/s²')
    assert 'twin still learning (0/300 transitions' in slip.reason
    assert 'predicted delay 5.0 ms' in slip.reason


def test_a_lasting_change_is_rebased_after_three_vetoes() -> None:
    twin = RobotTwin(seed=0)
    twin.judge(1, 0.0, np.zeros(2), 0.0)
    verdicts = [twin.judge(k, 0.01 * k, np.array([2.0, 0.0]), 0.0).veto for k in range(2, 7)]
    assert verdicts == [True, True, True, False, False]


def test_the_learned_model_judges_the_tracking_error() -> None:
    torch.manual_seed(0)
    twin = RobotTwin(RobotTwinConfig(min_transitions=500, min_train_steps=300), seed=1)
    last = _feed(twin, 1500)
    assert not twin.learned
    twin.train(300)
    assert twin.learned and twin.validation_error_m < 0.01
    normal = twin.judge(last + 1, last * T, _reference(last * T), 0.02)
    assert normal.learned and not normal.veto and normal.risk == 0.0
    assert len(normal.predicted_state) == 5 and normal.predicted_reward <= 0.0
    # 3 m/s off the reference for 3 samples adds about 2 cm of error: vetoed with a 1.5 cm limit
    # (the acceleration is below its limit: 30 s since the last passed command)
    twin.config = twin.config.model_copy(update={'max_error_m': 0.015})
    off = _reference(last * T) + np.array([3.0, 0.0])
    tight = twin.judge(last + 2, last * T + 30.0, off, 0.02)
    assert tight.veto and tight.risk > 0.5 and tight.accel_mps2 < 1.0
    assert tight.reason.startswith('predicted tracking error ')
    assert '> max_error_m 0.015 m' in tight.reason and 'still learning' not in tight.reason
    assert not twin.judge(last + 3, last * T + 30.0, _reference(last * T), 0.02).veto


def test_save_and_load_give_the_same_verdicts(tmp_path: Path) -> None:
    twin = RobotTwin(RobotTwinConfig(min_transitions=200, min_train_steps=50), seed=2)
    last = _feed(twin, 1000)
    twin.train(200)
    path = twin.save(tmp_path / 'twin.pt')
    loaded = RobotTwin.load(path)
    assert loaded.transitions == twin.transitions and loaded.train_steps == 200
    assert loaded.learned and twin.learned
    for t in (twin, loaded):  # the same newest state for both (a loaded twin has none yet)
        t.observe_command(last + 1, _reference(last * T))
        t.observe_state(last * T, np.array([0.3, 0.1]), _reference(last * T), 0.002, last + 1)
    a = twin.judge(last + 1, last * T, _reference(last * T), 0.01)
    b = loaded.judge(last + 1, last * T, _reference(last * T), 0.01)
    assert a.learned and b.learned and (a.risk, a.veto) == (b.risk, b.veto)
    assert a.predicted_state == pytest.approx(b.predicted_state, abs=1e-6)


def test_a_bad_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / 'twin.pt'
    bad.write_bytes(b'not a twin')
    with pytest.raises(ArtifactError) as info:
        RobotTwin.load(bad)
    assert str(bad) in str(info.value) and '\n' not in str(info.value)
    with pytest.raises(ArtifactError, match='does not exist'):
        RobotTwin.load(tmp_path / 'missing.pt')


def test_network_twin_recovers_a_queue_law() -> None:
    """delay = 1 ms + 2 ms/PRB + 0.5 ms per (kbit/PRB) of queue; rate = 0.9 x load: the
    regression finds the law from the previous interval's features."""
    rng = np.random.default_rng(0)
    net = NetworkTwin()
    assert net.predict(10, 0, 0) == (0.0, 0.0)
    features = None
    for _ in range(400):
        prbs, queue, load = rng.integers(2, 40), rng.uniform(0, 2e4), rng.uniform(0, 5e6)
        if features is not None:
            p, q, lam = features
            delay = 1e-3 + 2e-3 / p + 0.5e-3 * (q / 1e3) / p
            net.observe(prbs, queue, load, delay, 0.9 * lam)
        else:
            net.observe(prbs, queue, load, 0.0, 0.0)
        features = (prbs, queue, load)
    delay, rate = net.predict(10, 5e3, 2e6)
    assert delay == pytest.approx(1e-3 + 2e-4 + 0.25e-3, rel=1e-3)
    assert rate == pytest.approx(1.8e6, rel=1e-3)


def test_the_numpy_rollout_is_the_world_model() -> None:
    """The judge's numpy forward pass gives every member's torch prediction."""
    twin = RobotTwin(RobotTwinConfig(horizon_steps=1), seed=3)
    _feed(twin, 300)
    twin.train(20)
    obs = np.array([0.4, -0.2, 0.003], np.float32)
    proposal, held = np.array([0.5, 0.1]), np.array([0.45, -0.1])
    ours = twin._rollout(obs, held, proposal, 0)  # [K, 2, 1, 3]
    with torch.no_grad():
        theirs = twin.twin.model(torch.as_tensor(np.stack([obs, obs])),
                                 torch.as_tensor(np.stack([proposal, held]), dtype=torch.float32))
    expected = theirs.next_obs.numpy()  # [K, 2, 3]
    expected[..., 2] = np.maximum(expected[..., 2], 0.0)
    np.testing.assert_allclose(ours[:, :, 0], expected, rtol=1e-4, atol=1e-6)


def _plain_rollout(twin: RobotTwin, obs: np.ndarray, held: np.ndarray, proposal: np.ndarray,
                   delay_steps: int) -> np.ndarray:
    """The judge's rollout written plainly (the input concatenated and standardized at every
    step): what RobotTwin._rollout must give, bit for bit."""
    net = twin._numpy_model()
    k = twin.twin.model.members
    state = np.broadcast_to(np.asarray(obs, np.float64), (k, 2, 3)).copy()
    hold = twin.spec.clip_action(held).astype(np.float64)
    waiting = np.broadcast_to(hold, (k, 2, 2))
    acting = np.broadcast_to(np.stack([twin.spec.clip_action(proposal), hold]), (k, 2, 2))
    out = np.empty((k, 2, delay_steps + twin.config.horizon_steps, 3))
    for step in range(out.shape[2]):
        a = waiting if step < delay_steps else acting
        h = (np.concatenate([state, a], axis=2) - net.in_mean) / net.in_std
        for index, (weight, bias) in enumerate(net.layers):
            h = h @ weight + bias
            if index < len(net.layers) - 1:
                h = net.activation(h)
        y = h * net.out_std + net.out_mean
        state = state + y[..., 1:] if net.predict_delta else y[..., 1:].copy()
        state[..., 2] = np.maximum(state[..., 2], 0.0)
        out[:, :, step] = state
    return out


@pytest.mark.parametrize('delay_steps', [0, 1, 7])
def test_the_rollout_is_the_plain_forward_pass_bit_for_bit(delay_steps: int) -> None:
    """The rollout standardizes the action once per phase into a preallocated input: the same
    numbers as concatenating and standardizing the whole input at every step."""
    twin = RobotTwin(RobotTwinConfig(horizon_steps=3), seed=5)
    _feed(twin, 300, seed=2)
    twin.train(20)
    rng = np.random.default_rng(delay_steps)
    for _ in range(5):
        obs = rng.normal(0.0, 0.5, 3).astype(np.float32)
        obs[2] = abs(obs[2])
        held, proposal = rng.normal(0.0, 1.0, 2), rng.normal(0.0, 1.0, 2)
        ours = twin._rollout(obs, held, proposal, delay_steps)
        plain = _plain_rollout(twin, obs, held, proposal, delay_steps)
        assert ours.shape == (twin.twin.model.members, 2, delay_steps + 3, 3)
        assert np.array_equal(ours, plain)


def test_the_sample_period_is_the_median_of_the_state_intervals() -> None:
    """Cached between states, computed in Python: always numpy's median of the last 101
    intervals (odd and even counts), the configured period before 10 intervals."""
    twin = RobotTwin(RobotTwinConfig(sample_period_s=0.02))
    rng = np.random.default_rng(4)
    t = 0.0
    for k in range(160):
        t += float(rng.uniform(0.005, 0.015))
        twin.observe_state(t, np.zeros(2), np.zeros(2), 0.0, k)
        intervals = np.asarray(twin.intervals)
        expected = 0.02 if intervals.size < 10 else float(np.median(intervals))
        assert twin.sample_period_s == expected
        assert twin.sample_period_s == expected  # the cached value
