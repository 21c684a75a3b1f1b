"""
Could *any* planner save the agent's falls? CEM with a perfect model (the MuJoCo simulator itself,
restored to the state) from ``N`` steps before each fall of the ungated deterministic agent.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/twin_gate_oracle.py RUN_DIR --episodes 3 \\
        --before 10 20 40 --horizon 50 > oracle.json

For every episode that ends in a fall and every ``N`` of ``--before``: the simulator is set to the
state ``N`` steps before the fall and CEM (4 rounds of 64 candidates, elites 8, offsets to the
policy's action as in ``gate.planner.parametrization: policy_offset``, σ 0.6 then floored at 0.1)
searches ``--horizon`` steps; the output says whether the best sequence found still falls within
the horizon and how many steps it survives. If it falls even with the true dynamics, the twin gate
cannot prevent that fall by acting ``N`` steps ahead, whatever its model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    import torch

    from ior_ros.core.rl.envs import make_env
    from ior_ros.core.twin.twin import TwinSpec
    from ior_ros.experiments.twin_training import load_policy
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('run', type=Path, help='a finished `ior train twin` run folder')
    parser.add_argument('--episodes', type=int, default=3)
    parser.add_argument('--before', type=int, nargs='+', default=[10, 20, 40])
    parser.add_argument('--horizon', type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    env, sim = make_env('Hopper-v5'), make_env('Hopper-v5')
    sim.reset(seed=0)
    spec = TwinSpec.from_env(env)
    agent = load_policy(args.run / 'agent.pt', spec)
    rng = np.random.default_rng(0)
    inner = sim.unwrapped

    def rollout(qpos: np.ndarray, qvel: np.ndarray, offsets: np.ndarray) -> tuple[float, bool,
                                                                                   int]:
        inner.set_state(qpos, qvel)  # type: ignore[attr-defined]
        obs = inner._get_obs()  # type: ignore[attr-defined]
        total = 0.0
        for h in range(len(offsets)):
            action = np.clip(agent.act(obs.astype(np.float32), deterministic=True) + offsets[h],
                             -1.0, 1.0)
            obs, reward, terminated, _, _ = inner.step(action)
            total += float(reward)
            if terminated:
                return total - 100.0, True, h + 1
        return total, False, len(offsets)

    rows = []
    for episode in range(args.episodes):
        obs, _ = env.reset(seed=episode)
        states = []
        while True:
            data = env.unwrapped.data  # type: ignore[attr-defined]
            states.append((data.qpos.copy(), data.qvel.copy()))
            obs, _, terminated, truncated, _ = env.step(
                agent.act(np.asarray(obs, np.float32), deterministic=True))
            if terminated or truncated:
                break
        if not terminated:
            rows.append({'episode': episode, 'fell': False, 'length': len(states)})
            continue
        for before in args.before:
            if before > len(states):
                continue
            qpos, qvel = states[len(states) - before]
            mean = np.zeros((args.horizon, 3))
            std = np.full((args.horizon, 3), 0.6)
            best = (-np.inf, True, 0)
            for _ in range(4):
                candidates = mean + std * rng.standard_normal((64, args.horizon, 3))
                candidates[0] = 0.0  # the agent itself
                results = [rollout(qpos, qvel, c) for c in candidates]
                scores = np.array([r[0] for r in results])
                order = np.argsort(-scores)
                if scores[order[0]] > best[0]:
                    best = results[order[0]]
                elite = candidates[order[:8]]
                mean, std = elite.mean(axis=0), np.maximum(elite.std(axis=0), 0.1)
            rows.append({'episode': episode, 'fell': True, 'length': len(states),
                         'steps_before_fall': before, 'best_still_falls': bool(best[1]),
                         'best_survives_steps': int(best[2]), 'horizon': args.horizon})
    print(json.dumps({'run': str(args.run), 'rows': rows}, indent=1))


if __name__ == '__main__':
    main()
