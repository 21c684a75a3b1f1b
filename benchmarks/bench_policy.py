"""
Benchmark of the deployable slicing decision and of slicing training.

Measures, in one run:

* ``decision_p50_us`` / ``decision_p99_us``:
  :meth:`ior_ros.core.slicing.policy.SlicingPolicy.decide`
  (numpy forward pass of both actors + PRB counts) for 9 users (4 eMBB, 5 URLLC) x 25 PRBs, on
  observations of a real rollout; target p99 <= 100 µs;
* ``torch_p99_us``: the same actors (same weights) called through torch (``no_grad``, one thread)
  plus the same count mapping (with its own rounding carry); ``torch_forward_p99_us``: the torch
  forward alone;
* ``env_steps_per_s``: environment slots per second (random actions);
* ``train_steps_per_s``: dual-agent TD3 training slots per second (updates every
  ``agent.train_every`` slots);
* ``shipped_train_wall_s``: the training wall time recorded with the shipped policy.

The shipped policy's weights are used when present (the actors are shared per user, so the same
weights serve 9 users); otherwise freshly initialised actors of the same size.

Rerun: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_policy.py --json``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _percentiles(samples_ns: list[int]) -> tuple[float, float]:
    arr = np.asarray(samples_ns, dtype=float) / 1e3
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    parser.add_argument('--calls', type=int, default=5000, help='timed decisions')
    parser.add_argument('--train-steps', type=int, default=3000,
                        help='training slots for the throughput figure')
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from ior_ros.core.rl.dual_agent_config import DualAgentConfig
    from ior_ros.core.slicing.agents import DualAgentSlicer, SliceActor
    from ior_ros.core.slicing.env import TeleopSlicingEnv
    from ior_ros.core.slicing.policy import SlicingPolicy
    from ior_ros.core.slicing.spaces import action_to_prb_counts
    from ior_ros.experiments.contract import machine_info
    from ior_ros.experiments.slicing_runs import shipped_policy_dir

    shipped = shipped_policy_dir()
    env = TeleopSlicingEnv(n_embb=4, n_urllc=5, n_prb=25, episode_slots=args.calls + 10)
    if (shipped / 'policy.npz').is_file():
        base = SlicingPolicy.load(shipped)
        source = str(shipped.relative_to(REPO))
        wall = json.loads((shipped / 'policy.json').read_text()).get('train_wall_s')
    else:
        base = DualAgentSlicer(env, DualAgentConfig(), seed=0).policy()
        source = 'fresh actors (no shipped policy)'
        wall = None
    policy = SlicingPolicy(base.embb_layers, base.urllc_layers, 4, 5, 25,
                           base.action_logit_scale, base.metadata,
                           rounding_carry=base.rounding_carry)

    # realistic observations: a rollout of the policy itself
    obs, _ = env.reset(seed=123)
    observations = []
    for _ in range(args.calls):
        observations.append(obs.astype(np.float64))
        obs, *_ = env.step(policy.action(obs).astype(np.float32))

    # torch twins with the same weights
    actors = []
    for name, layers in (('embb', policy.embb_layers), ('urllc', policy.urllc_layers)):
        actor = SliceActor(env.layout, name, [w.shape[1] for w, _ in layers[:-1]])
        linears = [m for m in actor.net if isinstance(m, torch.nn.Linear)]
        with torch.no_grad():
            for linear, (w, b) in zip(linears, layers):
                linear.weight.copy_(torch.as_tensor(w.T, dtype=torch.float32))
                linear.bias.copy_(torch.as_tensor(b, dtype=torch.float32))
        actor.eval()
        actors.append(actor)
    scale = policy.action_logit_scale
    carry = np.zeros(9) if policy.rounding_carry else None

    def torch_decide(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            t = torch.as_tensor(x, dtype=torch.float32).unsqueeze(0)
            a = torch.cat([actors[0](t), actors[1](t)], dim=1)[0].numpy().astype(np.float64)
        return action_to_prb_counts(a, 25, scale, carry)

    def torch_forward(x: np.ndarray) -> None:
        with torch.no_grad():
            t = torch.as_tensor(x, dtype=torch.float32).unsqueeze(0)
            actors[0](t)
            actors[1](t)

    policy.reset()
    agree = all(np.array_equal(policy.decide(o), torch_decide(o)) for o in observations[:200])
    results = {}
    for label, fn in (('decision', policy.decide), ('torch', torch_decide),
                      ('torch_forward', torch_forward)):
        for o in observations[:200]:
            fn(o)
        samples = []
        for o in observations:
            t0 = time.perf_counter_ns()
            fn(o)
            samples.append(time.perf_counter_ns() - t0)
        results[label] = _percentiles(samples)

    # throughputs
    env_bench = TeleopSlicingEnv()
    env_bench.reset(seed=0)
    rng = np.random.default_rng(0)
    n_env = 2000
    t0 = time.perf_counter()
    for _ in range(n_env):
        _, _, _, truncated, _ = env_bench.step(rng.uniform(-1, 1, 10).astype(np.float32))
        if truncated:
            env_bench.reset()
    env_rate = n_env / (time.perf_counter() - t0)
    train_env = TeleopSlicingEnv()
    agent = DualAgentSlicer(train_env, DualAgentConfig(learning_starts=500), seed=0)
    t0 = time.perf_counter()
    while agent.total_steps < args.train_steps:
        agent.run_episode(args.train_steps)
    train_rate = agent.total_steps / (time.perf_counter() - t0)

    out = {
        'benchmark': 'bench_policy',
        'users': 9, 'prbs': 25, 'policy': source,
        'decision_p50_us': round(results['decision'][0], 2),
        'decision_p99_us': round(results['decision'][1], 2),
        'decision_target_p99_us': 100.0,
        'decision_meets_target': results['decision'][1] <= 100.0,
        'torch_p50_us': round(results['torch'][0], 2),
        'torch_p99_us': round(results['torch'][1], 2),
        'torch_forward_p99_us': round(results['torch_forward'][1], 2),
        'numpy_vs_torch_p99_ratio': round(results['torch'][1] / results['decision'][1], 2),
        'numpy_and_torch_decisions_agree': bool(agree),
        'env_steps_per_s': round(env_rate, 1),
        'train_steps_per_s': round(train_rate, 1),
        'train_steps_measured': agent.total_steps,
        'shipped_train_wall_s': wall,
        'calls': args.calls,
        'machine': machine_info(),
        'rerun': 'OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_policy.py --json',
    }
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            print(f'{key:32s} {value}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
