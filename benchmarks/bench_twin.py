"""
Twin-assisted SAC benchmarks (seed 000 §III): training speed per variant and twin decision latency.

    .venv/bin/python benchmarks/bench_twin.py --json          # ~3 min on 2 cores
    .venv/bin/python benchmarks/bench_twin.py --json --sb3    # + stable-baselines3 SAC, same nets

Measures, with ``torch.set_num_threads(1)`` (faster than 2 for these small networks):

* ``steps_per_s``: real Hopper-v5 steps per second of ``ior train twin`` for each variant in steady
  state (SAC updates, twin refits every 250 steps, twin-sample generation and the gate included;
  the first, warm-up epoch and the evaluation episodes excluded);
* ``decision_us``: one risk-gate decision (twin prediction with the default 3-member 5x200 ensemble
  plus the veto rule), p50/p99, for a passed action and for a vetoed one (best-of-16 fallback), and
  the bare ``twin.predict`` of one state;
* ``long_run_estimate_h``: the wall time of the Fig. 4 long run (3 variants x 2 seeds x 50 epochs
  of 1000 steps, two runs in parallel) from the measured speeds, plus 5 evaluation episodes per
  epoch at the measured evaluation speed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ior_ros.experiments.contract import machine_info  # noqa: E402


def measure_variant(variant: str, steps: int, seed: int) -> dict[str, Any]:
    from ior_ros.core.rl.twin_sac import TwinTrainConfig
    from ior_ros.experiments.twin_training import build_trainer
    config = TwinTrainConfig.model_validate({
        'variant': variant, 'seed': seed, 'epoch_steps': steps, 'learning_starts': steps,
        'eval_episodes': 1, 'twin': {'start_steps': steps}})
    trainer = build_trainer(config)
    trainer.eval_env, warm_eval = None, trainer.eval_env
    tick = time.perf_counter()
    trainer.run_epoch()  # random warm-up and the first (long) twin fit
    warmup_s = time.perf_counter() - tick
    tick = time.perf_counter()
    stats = trainer.run_epoch()
    elapsed = time.perf_counter() - tick
    trainer.eval_env = warm_eval
    eval_steps = 0
    tick = time.perf_counter()
    env = trainer.eval_env
    assert env is not None
    obs, _ = env.reset(seed=seed)
    for _ in range(500):  # evaluation speed (deterministic policy, no updates)
        obs, _, terminated, truncated, _ = env.step(trainer.agent.act(obs, deterministic=True))
        eval_steps += 1
        if terminated or truncated:
            obs, _ = env.reset()
    eval_sps = eval_steps / (time.perf_counter() - tick)
    return {'steps_per_s': round(steps / elapsed, 2), 'timed_steps': steps,
            'warmup_epoch_s': round(warmup_s, 2), 'vetoes': stats.vetoes,
            'twin_trusted': stats.twin_trusted, 'eval_steps_per_s': round(eval_sps, 1)}


def measure_decisions(n: int, seed: int) -> dict[str, Any]:
    import torch

    from ior_ros.core.rl.envs import make_env, termination_fn_for
    from ior_ros.core.rl.soft_actor_critic import SacAgent, SacConfig
    from ior_ros.core.twin.data import collect_transitions, uniform_policy
    from ior_ros.core.twin.risk_gate import RiskGate, RiskGateConfig
    from ior_ros.core.twin.twin import DigitalTwin, TwinSpec
    from ior_ros.core.twin.world_model import WorldModelConfig
    env = make_env('Hopper-v5')
    spec = TwinSpec.from_env(env)
    rng = np.random.default_rng(seed)
    data = collect_transitions(env, 3000, uniform_policy(spec, rng), seed=seed)
    twin = DigitalTwin(spec, WorldModelConfig(), termination_fn_for(env),
                       torch.Generator().manual_seed(seed))
    twin.fit(data, 200, rng)
    agent = SacAgent(spec.obs_dim, spec.act_dim, spec.act_low, spec.act_high, SacConfig(),
                     torch.Generator().manual_seed(seed))
    states = data.obs[rng.integers(0, len(data), n)]
    actions = data.action[rng.integers(0, len(data), n)]

    def timed(call: Any) -> dict[str, float]:
        out = []
        for i in range(n):
            tick = time.perf_counter_ns()
            call(states[i], actions[i])
            out.append((time.perf_counter_ns() - tick) / 1e3)
        return {'p50_us': round(float(np.percentile(out, 50)), 1),
                'p99_us': round(float(np.percentile(out, 99)), 1)}

    passing = RiskGate(RiskGateConfig(reward_threshold=-1e9, veto_on_termination=False), spec)
    vetoing = RiskGate(RiskGateConfig(reward_threshold=1e9, fallback='best_of_k'), spec)
    timed(lambda s, a: twin.predict(s, a))  # warm-up
    return {
        'twin_predict_one_state': timed(lambda s, a: twin.predict(s, a)),
        'gate_pass': timed(lambda s, a: passing.decide(twin, s, a)),
        'gate_veto_best_of_16': timed(lambda s, a: vetoing.decide(
            twin, s, a, policy=agent.deterministic_policy, sampler=agent.sample_candidates)),
        'sac_actor_one_state': timed(lambda s, a: agent.act(s)),
        'ensemble_size': twin.config.ensemble_size, 'decisions': n}


def measure_sb3(steps: int, seed: int) -> dict[str, Any]:
    from stable_baselines3 import SAC

    from ior_ros.core.rl.envs import make_env
    model = SAC('MlpPolicy', make_env('Hopper-v5'), learning_starts=steps, batch_size=256,
                learning_rate=3e-4, policy_kwargs={'net_arch': [256, 256, 256]}, seed=seed,
                verbose=0, device='cpu')
    model.learn(total_timesteps=steps)
    tick = time.perf_counter()
    model.learn(total_timesteps=steps, reset_num_timesteps=False)
    return {'steps_per_s': round(steps / (time.perf_counter() - tick), 2), 'timed_steps': steps,
            'net_arch': [256, 256, 256]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    parser.add_argument('--steps', type=int, default=500,
                        help='timed real steps per variant (after a warm-up epoch of as many)')
    parser.add_argument('--decisions', type=int, default=2000, help='gate decisions timed')
    parser.add_argument('--variants', default='sac,twin,twin_gan')
    parser.add_argument('--sb3', action='store_true', help='also time stable-baselines3 SAC')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()

    import torch
    torch.set_num_threads(1)
    result: dict[str, Any] = {'benchmark': 'twin', 'machine': machine_info(),
                              'torch_threads': torch.get_num_threads(),
                              'rerun': 'OMP_NUM_THREADS=1 .venv/bin/python '
                                       'benchmarks/bench_twin.py --json [--sb3]',
                              'variants': {}}
    for variant in args.variants.split(','):
        result['variants'][variant] = measure_variant(variant, args.steps, args.seed)
    result['decision_us'] = measure_decisions(args.decisions, args.seed)
    if args.sb3:
        result['sb3_sac'] = measure_sb3(args.steps, args.seed)
    epochs, epoch_steps, eval_steps_per_epoch, seeds, parallel = 50, 1000, 5 * 1000, 2, 2
    run_h = {}
    for variant, row in result['variants'].items():
        train_s = epochs * epoch_steps / row['steps_per_s']
        eval_s = epochs * eval_steps_per_epoch / row['eval_steps_per_s']  # upper bound
        run_h[variant] = round((train_s + eval_s) / 3600, 2)
    result['long_run_estimate_h'] = {
        'per_run_h': run_h, 'seeds': seeds, 'parallel_runs': parallel,
        'total_wall_h': round(seeds * sum(run_h.values()) / parallel, 2),
        'note': 'evaluation counted as 5 full 1000-step episodes per epoch (an upper bound); '
                'on a 2-core machine shared with other work expect more'}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for variant, row in result['variants'].items():
            print(f'{variant:9s} {row["steps_per_s"]:7.1f} steps/s')
        for name, row in result['decision_us'].items():
            if isinstance(row, dict):
                print(f'{name:24s} p50 {row["p50_us"]:8.1f} us  p99 {row["p99_us"]:8.1f} us')
        print(f'long run estimate: {result["long_run_estimate_h"]["total_wall_h"]} h')


if __name__ == '__main__':
    main()
