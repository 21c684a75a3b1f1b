"""Own SAC and the twin-assisted training loop (tiny settings, Hopper-v5)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from ior_ros.core.errors import ConfigError
from ior_ros.core.rl.envs import make_env, termination_fn_for
from ior_ros.core.rl.soft_actor_critic import SacAgent, SacConfig
from ior_ros.core.rl.twin_sac import TwinSacTrainer, TwinTrainConfig
from ior_ros.core.twin.buffers import Transitions


def test_sac_learns_a_contextual_bandit() -> None:
    # one-step episodes, r = -(a - s)^2 with s ~ U(-0.8, 0.8): the optimal action is a = s
    rng = np.random.default_rng(0)
    agent = SacAgent(1, 1, [-1.0], [1.0],
                     SacConfig(hidden_sizes=(64, 64), batch_size=64, learning_rate=3e-3),
                     torch.Generator().manual_seed(0))
    for _ in range(600):
        s = rng.uniform(-0.8, 0.8, (64, 1)).astype(np.float32)
        a = agent.act(s)
        r = -((a - s) ** 2).sum(axis=1).astype(np.float32)
        agent.update(Transitions(s, a.astype(np.float32), r, s, np.ones(64, bool)))
    probe = np.linspace(-0.7, 0.7, 15, dtype=np.float32)[:, None]
    error = np.abs(agent.act(probe, deterministic=True) - probe)
    assert float(error.mean()) < 0.1


def test_actions_stay_inside_asymmetric_bounds() -> None:
    agent = SacAgent(2, 2, [0.0, -3.0], [1.0, -1.0], SacConfig(hidden_sizes=(8,)),
                     torch.Generator().manual_seed(0))
    actions = agent.act(np.random.default_rng(0).normal(size=(500, 2)).astype(np.float32))
    assert np.all(actions[:, 0] >= 0.0) and np.all(actions[:, 0] <= 1.0)
    assert np.all(actions[:, 1] >= -3.0) and np.all(actions[:, 1] <= -1.0)
    np.testing.assert_allclose(agent.to_unit(np.array([[0.5, -2.0]])), [[0.0, 0.0]], atol=1e-6)


def tiny(variant: str, **changes: Any) -> TwinTrainConfig:
    data: dict[str, Any] = {
        'variant': variant, 'seed': 3, 'epochs': 2, 'epoch_steps': 120, 'learning_starts': 60,
        'eval_episodes': 1, 'eval_max_steps': 40,
        'agent': {'hidden_sizes': [32, 32], 'batch_size': 32},
        'world_model': {'hidden_sizes': [32, 32], 'ensemble_size': 2, 'batch_size': 32},
        'gan': {'hidden_size': 16, 'batch_size': 16},
        'twin': {'start_steps': 60, 'train_every_steps': 30, 'initial_train_steps': 30,
                 'train_steps': 5, 'samples_per_refresh': 200, 'twin_buffer_size': 1000,
                 'gan_initial_iterations': 5, 'gan_iterations': 2, 'gan_moment_samples': 100,
                 'holdout_size': 100}}
    for key, value in changes.items():
        if isinstance(value, dict):
            data[key] = {**data.get(key, {}), **value}
        else:
            data[key] = value
    return TwinTrainConfig.model_validate(data)


def trainer_for(config: TwinTrainConfig) -> TwinSacTrainer:
    env = make_env(config.env_id)
    return TwinSacTrainer(config, env, make_env(config.env_id), termination_fn_for(env))


@pytest.mark.parametrize('variant', ['sac', 'twin', 'twin_gan'])
def test_epochs_count_falls_and_steps(variant: str) -> None:
    trainer = trainer_for(tiny(variant))
    rows = [trainer.run_epoch() for _ in range(2)]
    assert [r.epoch for r in rows] == [1, 2] and rows[-1].env_steps == 240
    assert sum(r.falls for r in rows) == trainer.env.counts.falls
    assert all(r.episodes == r.falls + r.truncations for r in rows)
    assert rows[0].falls > 0  # the random warm-up falls (anchor: ~45 per 1000 steps)
    assert rows[-1].updates == 240 - 60 + 1
    if variant == 'sac':
        assert trainer.twin is None and rows[-1].twin_buffer == 0
    else:
        assert np.isfinite(rows[-1].model_reward_nmse)
    if variant == 'twin_gan':
        assert np.isfinite(rows[-1].gan_mean_error)


def test_same_seed_same_run() -> None:
    first = [trainer_for(tiny('twin_gan')).run_epoch() for _ in range(1)]
    second = [trainer_for(tiny('twin_gan')).run_epoch() for _ in range(1)]
    assert first == second


def test_gate_vetoes_and_the_executed_action_is_stored() -> None:
    # trust every twin and veto every proposal: the zero action is what reaches the robot
    config = tiny('twin', gate={'reward_threshold': 1e9, 'fallback': 'zero'},
                  twin={'max_trusted_nmse': 1e9})
    trainer = trainer_for(config)
    trainer.run_epoch()
    stats = trainer.run_epoch()
    assert stats.vetoes > 0 and stats.twin_trusted
    executed = trainer.real.all().action[-stats.vetoes:]
    np.testing.assert_array_equal(executed, np.zeros_like(executed))
    assert trainer.twin_buffer is not None and trainer.twin_buffer.size > 0


def test_resume_continues_the_run() -> None:
    config = tiny('twin_gan', epochs=3)
    trainer = trainer_for(config)
    trainer.run_epoch()
    state = trainer.state_dict()
    resumed = trainer_for(config)
    resumed.load_state_dict(state)
    assert resumed.epoch == 1 and resumed.total_steps == 120
    assert resumed.real.size == trainer.real.size
    assert resumed.env.counts.falls == trainer.env.counts.falls
    stats = resumed.run_epoch()
    assert stats.epoch == 2 and stats.env_steps == 240 and len(resumed.history) == 2
    with pytest.raises(ConfigError, match="variant 'twin_gan'"):
        trainer_for(tiny('sac')).load_state_dict(state)


def test_config_file_holds_the_defaults() -> None:
    from pathlib import Path

    from ior_ros.core.config import load_config
    path = Path(__file__).resolve().parents[3] / 'config' / 'twin.yaml'
    assert load_config(TwinTrainConfig, path) == TwinTrainConfig()


def test_unknown_config_key_is_named() -> None:
    from ior_ros.core.config import load_config
    with pytest.raises(ConfigError, match="unknown field 'gate.treshold'"):
        load_config(TwinTrainConfig, None, ['gate.treshold=1'])
