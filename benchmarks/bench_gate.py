"""
Risk-gate decision latency with the calibrated risk and the fallbacks of issue 14, against the
control period the decision must fit (Hopper-v5: 8 ms; the tracking robot: 10 ms).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_gate.py --json        # ~1 min

One decision = ``RiskGate.decide`` on one state (``torch.set_num_threads(1)``, as in training):

* ``hopper_pass``: ``rule: risk`` — the fall probability of the proposal from
  ``risk_particles`` sampled ensemble rollouts over ``risk_horizon_steps`` (policy in the loop) —
  and the proposal passes;
* ``hopper_plan``: the same risk, vetoed, then the CEM planner (``gate.planner`` of
  config/twin.yaml) — the worst case, since every decision plans;
* ``hopper_plan_small``: the same with one CEM round of 12 candidates;
* ``hopper_fit_veto``: the setting that fits 8 ms (risk over 6 steps, 8 particles, fallback
  ``zero``; results/twin-gate/hopper_h6_zero: falls 31 → 21 on the committed checkpoint), every
  decision vetoed;
* ``robot_controller``: the robot twin's risk and the certified-controller fallback, vetoed.

``forward`` times the two parts of one look-ahead step on the same 8 rows (the particles of one
decision): the world-model ensemble (torch, every member) and the SAC actor both ways, through
torch (``act(deterministic=True)``) and in NumPy (``deterministic_policy``,
ior_ros/core/rl/numpy_policy.py); the ratio is measured in the same run.

Passing and vetoing are forced, not sampled: the twin's termination function is "never" or
"always", so the work per decision is the one of a real pass or veto (the rollouts and the planner
are batched and do the same arithmetic whatever they predict). The networks have the trained
sizes (ensemble 3 × 5 × 200 world model, SAC actor 3 × 256 for Hopper; 3 × 3 × 200 for the robot
twin as ``ior twin gate-eval --robot`` trains it); the weights are untrained, which does not change
the cost.
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


def _never(obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
    return np.zeros(len(np.atleast_2d(next_obs)), dtype=bool)


def _always(obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
    return np.ones(len(np.atleast_2d(next_obs)), dtype=bool)


def _time(decide: Any, states: np.ndarray, repeats: int) -> dict[str, float]:
    for state in states[:20]:  # warm-up
        decide(state)
    ms = []
    for i in range(repeats):
        started = time.perf_counter()
        decide(states[i % len(states)])
        ms.append((time.perf_counter() - started) * 1e3)
    return {'p50_ms': round(float(np.percentile(ms, 50)), 3),
            'p99_ms': round(float(np.percentile(ms, 99)), 3),
            'mean_ms': round(float(np.mean(ms)), 3), 'decisions': repeats}


def _forward(agent: Any, twin: Any, rows: np.ndarray, repeats: int) -> dict[str, Any]:
    """One look-ahead step on ``rows``, torch vs NumPy (module docstring)."""
    import torch

    obs = np.ascontiguousarray(rows, dtype=np.float32)
    act = agent.act(obs, deterministic=True).astype(np.float32)

    def torch_model() -> None:
        with torch.no_grad():
            twin.model(torch.from_numpy(obs), torch.from_numpy(act))

    out: dict[str, Any] = {'rows': len(obs)}
    for name, call in (('model_torch', torch_model),
                       ('policy_torch', lambda: agent.act(obs, deterministic=True)),
                       ('policy_numpy', lambda: agent.deterministic_policy(obs))):
        out[name] = _time(lambda _state, call=call: call(), obs, repeats)
    out['policy_speedup'] = round(out['policy_torch']['p50_ms'] / out['policy_numpy']['p50_ms'],
                                  2)
    return out


def bench_hopper(repeats: int) -> dict[str, Any]:
    import torch

    from ior_ros.core.rl.envs import make_env
    from ior_ros.core.rl.soft_actor_critic import SacAgent, SacConfig
    from ior_ros.core.rl.twin_sac import TwinTrainConfig
    from ior_ros.core.twin.risk_gate import RiskGate
    from ior_ros.core.twin.twin import DigitalTwin, TwinSpec
    config = TwinTrainConfig()
    env = make_env('Hopper-v5')
    spec = TwinSpec.from_env(env)
    gen = torch.Generator().manual_seed(0)
    agent = SacAgent(spec.obs_dim, spec.act_dim, spec.act_low, spec.act_high, SacConfig(), gen)
    rng = np.random.default_rng(0)
    states = np.stack([env.reset(seed=i)[0] for i in range(50)]).astype(np.float32)
    gate_cfg = config.gate.model_copy(update={'rule': 'risk', 'fallback': 'plan'})
    out: dict[str, Any] = {'control_period_ms': 8.0, 'gate': {
        'risk_horizon_steps': gate_cfg.risk_horizon_steps,
        'risk_particles': gate_cfg.risk_particles,
        'planner': gate_cfg.planner.model_dump(mode='json')}}
    small = gate_cfg.model_copy(update={'planner': gate_cfg.planner.model_copy(
        update={'iterations': 1, 'population': 12, 'elites': 3})})
    out['gate']['planner_small'] = {'iterations': 1, 'population': 12, 'elites': 3}
    out['forward'] = _forward(agent, DigitalTwin(spec, config.world_model, _never, gen),
                              states[:8], repeats * 10)
    fit = gate_cfg.model_copy(update={'risk_horizon_steps': 6, 'fallback': 'zero'})
    out['gate']['fit'] = {'risk_horizon_steps': 6, 'risk_particles': fit.risk_particles,
                          'fallback': 'zero'}
    for name, termination, cfg in (('hopper_pass', _never, gate_cfg),
                                   ('hopper_plan', _always, gate_cfg),
                                   ('hopper_plan_small', _always, small),
                                   ('hopper_fit_veto', _always, fit)):
        twin = DigitalTwin(spec, config.world_model, termination, gen)
        gate = RiskGate(cfg, spec, seed=0)

        def decide(state: np.ndarray, gate: RiskGate = gate, twin: DigitalTwin = twin) -> None:
            proposal = agent.act(state, deterministic=True)
            gate.decide(twin, state, proposal, policy=agent.deterministic_policy)
        out[name] = _time(decide, states + rng.normal(0, 0.01, states.shape).astype(np.float32),
                          repeats)
    return out


def bench_robot(repeats: int) -> dict[str, Any]:
    import torch

    from ior_ros.core.control.control_config import ControlConfig
    from ior_ros.core.control.gain_schedule import REFERENCE_SCHEDULE, GainSchedule
    from ior_ros.core.twin.risk_gate import RiskGate, RiskGateConfig
    from ior_ros.core.twin.twin import DigitalTwin, TwinSpec
    from ior_ros.core.twin.world_model import WorldModelConfig
    from ior_ros.experiments.twin_gate import DelaySpikeTrackingEnv, TrackingControllers
    env = DelaySpikeTrackingEnv(ControlConfig(), 'persistent', 20, 500)
    controllers = TrackingControllers(env, GainSchedule.load(REFERENCE_SCHEDULE))
    spec = TwinSpec.from_spaces(env.observation_space, env.action_space)
    states = []
    obs, _ = env.reset(seed=0)
    for _ in range(200):
        states.append(obs)
        obs, *_ = env.step(controllers.nominal(obs[None])[0])
    twin = DigitalTwin(spec, WorldModelConfig(hidden_sizes=(200, 200, 200)), _always,
                       torch.Generator().manual_seed(0))
    cfg = RiskGateConfig(rule='risk', fallback='controller', risk_horizon_steps=10,
                         risk_particles=6, max_uncertainty=1e9)
    gate = RiskGate(cfg, spec, seed=0)

    def decide(state: np.ndarray) -> None:
        proposal = controllers.nominal(state[None])[0]
        gate.decide(twin, state, proposal, policy=controllers.nominal,
                    controller=controllers.certified)
    return {'control_period_ms': 10.0, 'robot_controller': _time(decide, np.stack(states),
                                                                  repeats),
            'gate': {'risk_horizon_steps': 10, 'risk_particles': 6}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    parser.add_argument('--decisions', type=int, default=300, help='decisions timed per case')
    args = parser.parse_args()
    import torch
    torch.set_num_threads(1)
    result = {'benchmark': 'bench_gate', 'machine': machine_info(),
              'command': 'OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_gate.py --json',
              'hopper': bench_hopper(args.decisions), 'robot': bench_robot(args.decisions)}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    forward = result['hopper']['forward']
    print(f'look-ahead step, {forward["rows"]} rows: model (torch) p50 '
          f'{forward["model_torch"]["p50_ms"]:.3f} ms; policy torch '
          f'{forward["policy_torch"]["p50_ms"]:.3f} ms, NumPy '
          f'{forward["policy_numpy"]["p50_ms"]:.3f} ms (x{forward["policy_speedup"]})')
    for group in ('hopper', 'robot'):
        period = result[group]['control_period_ms']
        for name, value in result[group].items():
            if isinstance(value, dict) and 'p50_ms' in value:
                print(f'{name:18s} p50 {value["p50_ms"]:7.3f} ms  p99 {value["p99_ms"]:7.3f} ms  '
                      f'(control period {period} ms)')


if __name__ == '__main__':
    main()
