"""
``ior twin``: the digital twin on its own.

    ior twin eval-model --env Hopper-v5 --train-samples 60000 --test-samples 10000 --out DIR

trains the predict network (seed 000 §III: 60000 training and 10000 test samples) on transitions of
a behaviour policy (uniform random actions, or a trained agent with ``--policy RUN_DIR``) and
reports the held-out one-step normalized MSE of reward and state (``DIR/model_eval.json``; the twin
itself in ``DIR/twin/twin.pt``). ``--load DIR`` evaluates a saved twin instead of training one.

    ior twin train --bag DIR [--out twin.pt]

trains the digital_twin node's robot twin (:class:`~ior_ros.core.twin.robot_twin.RobotTwin`) on a
recorded run: the commands, robot states and RAN metrics of the bag (``/teleop/cmd``,
``/teleop/state``, ``/ran_metrics`` unless told otherwise) are fed to it in the order they were
recorded, then it is trained for ``--steps`` gradient steps and saved (atomically) where the
node's ``model_path`` can load it. A bag that cannot be read, or that holds no commands or no
states, stops with one line.

    ior twin gate-eval --run RUN_DIR --steps 3000 --seeds 0 1 2 --out DIR
    ior twin gate-eval --robot --episodes 20 --out DIR

measures whether the risk gate prevents falls (issue 14, :mod:`ior_ros.experiments.twin_gate`):
the fixed agent and twin of a finished ``ior train twin`` run with and without the gate (calibrated
fall risk, planning fallback) on the same episodes, or the tracking robot under delay spikes with
the certified controller as the fallback; ``DIR/summary.json``, ``command.txt``, a figure.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ior_ros.commands.common import (
    add_config_options,
    input_path,
    number,
    output_folder,
    seed_number,
)

__all__ = ['register']

MAX_SAMPLES = 10_000_000
_SAMPLES = number(int, 1, MAX_SAMPLES, why=(
    'every transition is kept in memory (about 100 bytes each for Hopper, 1 GB at the limit) and '
    'collecting one takes an environment step'))


def register(subparsers: Any) -> None:
    """Add the ``twin`` group."""
    parser = subparsers.add_parser('twin', help='digital twin: world-model evaluation',
                                   description='The digital twin of seed 000 §III.')
    group = parser.add_subparsers(dest='twin_command', metavar='SUBCOMMAND')
    group.required = True
    ev = group.add_parser(
        'eval-model', help='held-out one-step error of the world model',
        description='Collect transitions, train the world model on --train-samples and report '
                    'the normalized MSE of reward and next state on --test-samples from other '
                    'episodes. World-model settings: --set world_model.KEY=VALUE '
                    '(config/twin.yaml).',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ev.add_argument('--env', default='Hopper-v5', metavar='ID',
                    help='gymnasium environment id with Box spaces; also ior/RobotTracking-v0 '
                         '(tracking robot) and ior/TeleopSlicing-v0 (seed 003 slicing)')
    ev.add_argument('--train-samples', type=_SAMPLES, default=60000,
                    help='training transitions (seed: 60000)')
    ev.add_argument('--test-samples', type=_SAMPLES, default=10000,
                    help='held-out transitions (seed: 10000)')
    ev.add_argument('--epochs', type=number(int, 1, 10_000, why=(
        'the gradient steps are epochs x samples / batch; the limit is already days')), default=20,
                    help='passes over the training set (steps = epochs x samples / batch)')
    ev.add_argument('--policy', default='random', metavar='random|RUN_DIR',
                    help='behaviour policy: uniform random actions, or the agent of a finished '
                         '`ior train twin` run (stochastic actions)')
    ev.add_argument('--load', type=input_path, default=None, metavar='DIR',
                    help='evaluate this saved twin (twin.pt or its folder) instead of training')
    ev.add_argument('--seed', type=seed_number(), default=0, help='random seed')
    ev.add_argument('--out', type=output_folder(), required=True, metavar='DIR',
                    help='output folder')
    ev.add_argument('--no-progress', action='store_true', help='no progress bar')
    add_config_options(ev)
    ev.set_defaults(handler=_eval_model)
    tr = group.add_parser(
        'train', help="train the digital_twin node's robot twin on a bag",
        description='Feed the commands, robot states and RAN metrics of a recorded run to the '
                    "robot twin, train it and save it (load it with the digital_twin node's "
                    'model_path).', formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    tr.add_argument('--bag', type=input_path, required=True, metavar='DIR',
                    help='rosbag2 folder (mcap or sqlite3), e.g. recorded by `ior bag record`')
    tr.add_argument('--out', type=input_path, default=Path('twin.pt'), metavar='FILE',
                    help='the trained twin (a .pt file, or a folder to hold robot_twin.pt)')
    tr.add_argument('--steps', type=number(int, 1, 10_000_000, why=(
        'each step is one minibatch per member, a few ms: the limit is already hours')),
        default=2000, help='gradient steps')
    tr.add_argument('--cmd-topic', default='/teleop/cmd', metavar='TOPIC',
                    help='ior_ros/msg/TeleopCommand topic')
    tr.add_argument('--state-topic', default='/teleop/state', metavar='TOPIC',
                    help='ior_ros/msg/RobotState topic')
    tr.add_argument('--metrics-topic', default='/ran_metrics', metavar='TOPIC',
                    help='ior_ros/msg/RanMetrics topic (optional in the bag)')
    tr.add_argument('--seed', type=seed_number(), default=0, help='random seed')
    tr.add_argument('--no-progress', action='store_true', help='no progress bar')
    tr.set_defaults(handler=_train_from_bag)
    ge = group.add_parser(
        'gate-eval', help='falls with and without the risk gate (precision, recall, latency)',
        description='Run a trained agent and twin with and without the risk gate (rule=risk, '
                    'fallback=plan; threshold chosen on held-out episodes) on the same episodes, '
                    'or (--robot) the tracking robot under delay spikes with the certified '
                    'controller as the fallback. Gate settings: --set gate.KEY=VALUE '
                    '(config/twin.yaml).', formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    which = ge.add_mutually_exclusive_group(required=True)
    which.add_argument('--run', type=input_path, default=None, metavar='DIR',
                       help='a finished `ior train twin` run (agent.pt, twin/twin.pt)')
    which.add_argument('--robot', action='store_true',
                       help='ior/RobotTracking-v0 under delay spikes (nominal LQR agent, twin '
                            'trained here, certified gain-schedule fallback)')
    ge.add_argument('--steps', type=number(int, 1, 10_000_000, why=(
        'each gated step runs the risk rollouts and a counterfactual, milliseconds each')),
        default=3000, help='environment steps per arm (split over the seeds)')
    ge.add_argument('--seeds', type=number(int, 0, 999, why=(
        'episode j of seed s starts from reset seed 1000 s + j')), nargs='+', default=[0, 1, 2],
        help='evaluation seeds')
    ge.add_argument('--calibration-steps', type=number(int, 0, 10_000_000, why=(
        'held-out steps are simulated and scored by the risk rollouts')), default=3000,
        help='held-out ungated steps the risk threshold is chosen on')
    ge.add_argument('--threshold', type=number(float, 0, 1, low_open=True), default=None,
                    help='use this risk threshold instead of choosing one')
    ge.add_argument('--threshold-rule', choices=['f1', 'recall_at_precision'], default='f1',
                    help='how the threshold is chosen on the held-out steps')
    ge.add_argument('--precision-floor', type=number(float, 0, 1, low_open=True), default=0.5,
                    help='recall_at_precision: the least precision accepted')
    ge.add_argument('--label-steps', type=number(int, 1, 1000, why=(
        'every gated step runs a counterfactual of this many steps')), default=None,
        help='K: a proposal is dangerous when a fall follows within K steps (default: the risk '
             'horizon)')
    ge.add_argument('--episodes', type=number(int, 1, 10_000, why=(
        'every episode is simulated three times')), default=20,
        help='--robot: episodes per arm')
    ge.add_argument('--episode-steps', type=number(int, 1, 1_000_000, why=(
        'the samples of an episode are simulated one by one')), default=3000,
        help='--robot: samples per episode (10 ms each)')
    ge.add_argument('--seed', type=seed_number(), default=0, help='--robot: random seed')
    ge.add_argument('--out', type=output_folder(), required=True, metavar='DIR',
                    help='output folder')
    ge.add_argument('--no-progress', action='store_true', help='no progress bar')
    add_config_options(ge)
    ge.set_defaults(handler=_gate_eval)


def _gate_eval(args: argparse.Namespace) -> int:
    import sys

    from ior_ros.commands.progress import terminal_progress
    from ior_ros.core.errors import ConfigError
    from ior_ros.experiments.twin_gate import run_gate_eval, run_robot_gate_eval

    progress = terminal_progress(not args.no_progress)
    command = ['ior', *sys.argv[1:]]
    if args.robot:
        if args.config is not None or args.overrides:
            raise ConfigError('--robot takes no --config/--set (its gate settings are fixed '
                              'in ior_ros/experiments/twin_gate.py)')
        summary = run_robot_gate_eval(args.out, episodes=args.episodes,
                                      episode_steps=args.episode_steps, seed=args.seed,
                                      progress=progress, command=command)
        print(f'robot under delay spikes, {args.episodes} episodes: divergences without gate '
              f'{summary["divergences_without_gate"]}, with gate + certified fallback '
              f'{summary["divergences_with_gate"]}; wrote {args.out}/summary.json')
        return 0
    if args.config is not None:
        raise ConfigError('gate-eval reads the configuration of --run; change it with --set')
    summary = run_gate_eval(args.run, args.out, steps=args.steps, seeds=args.seeds,
                            calibration_steps=args.calibration_steps,
                            label_steps=args.label_steps, threshold_rule=args.threshold_rule,
                            precision_floor=args.precision_floor, threshold=args.threshold,
                            overrides=args.overrides, progress=progress, command=command)
    print(f'{summary["env_id"]}, {summary["steps"]} steps: falls without gate '
          f'{summary["falls_without_gate"]}, with gate {summary["falls_with_gate"]}; reward per '
          f'1000 steps {summary["reward_without_gate"]} -> {summary["reward_with_gate"]}; gate '
          f'precision {summary["gate_precision"]}, recall {summary["gate_recall"]}; wrote '
          f'{args.out}/summary.json')
    return 0


def _eval_model(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from ior_ros.commands.common import save_resolved_config
    from ior_ros.commands.progress import terminal_progress
    from ior_ros.core.artifacts import atomic_write_json, ensure_out_dir
    from ior_ros.core.config import load_config
    from ior_ros.core.rl.envs import make_env, termination_fn_for
    from ior_ros.core.rl.twin_sac import TwinTrainConfig
    from ior_ros.core.twin.data import collect_transitions, uniform_policy
    from ior_ros.core.twin.twin import DigitalTwin, TwinSpec
    from ior_ros.core.twin.world_model import one_step_errors
    from ior_ros.experiments.contract import machine_info
    from ior_ros.experiments.twin_training import load_policy

    torch.set_num_threads(1)
    config = load_config(TwinTrainConfig, args.config, args.overrides, what='--config')
    wm_config = config.world_model
    env = make_env(args.env)
    spec = TwinSpec.from_env(env)
    rng = np.random.default_rng(args.seed)
    if args.policy == 'random':
        behaviour = uniform_policy(spec, rng)
    else:
        agent = load_policy(args.policy, spec)
        behaviour = agent.act  # stochastic actions of the trained agent
        agent.generator = torch.Generator().manual_seed(args.seed)
    twin = None
    if args.load is not None:
        twin = DigitalTwin.load(args.load, expect=spec, termination_fn=termination_fn_for(env))
    out = ensure_out_dir(args.out)
    save_resolved_config(out, config)
    progress = terminal_progress(not args.no_progress)
    tick = time.perf_counter()
    n_train = 0 if twin is not None else args.train_samples
    with progress('collect', n_train + args.test_samples, unit='step') as bar:
        train = collect_transitions(env, n_train, behaviour, seed=args.seed,
                                    on_step=bar.update) if n_train else None
        test = collect_transitions(env, args.test_samples, behaviour,
                                   seed=args.seed + 1_000_000, on_step=bar.update)
    collect_s = time.perf_counter() - tick
    fit_s = 0.0
    steps = 0
    if twin is None:
        assert train is not None
        twin = DigitalTwin(spec, wm_config, termination_fn_for(env),
                           torch.Generator().manual_seed(args.seed))
        steps = max(1, args.epochs * len(train) // wm_config.batch_size)
        chunk = max(1, steps // 50)
        tick = time.perf_counter()
        twin.trainer.model.fit_normalization(train)
        with progress('fit', steps, unit='step') as bar:
            done = 0
            while done < steps:
                n = min(chunk, steps - done)
                twin.trainer.fit(train, n, rng, refit_normalization=False)
                done += n
                bar.update(n)
        fit_s = time.perf_counter() - tick
        twin.save(out / 'twin')
    errors = twin.evaluate(test)
    # context: "no change" (ŝ' = s) and mean-reward predictors on the same test set
    baseline = one_step_errors(np.full(len(test), float(np.mean(
        train.reward if train is not None else test.reward)), dtype=np.float32), test.obs, test)
    terminated_rate = float(np.mean(test.terminated))
    doc = {'env_id': args.env, 'policy': args.policy, 'train_samples': n_train,
           'test_samples': len(test), 'gradient_steps': steps, 'loaded_from': str(args.load)
           if args.load else None, 'errors': errors.as_dict(),
           'baseline_no_change_mean_reward': baseline.as_dict(),
           'test_terminal_fraction': terminated_rate,
           'world_model': wm_config.model_dump(mode='json'),
           'collect_s': round(collect_s, 2), 'fit_s': round(fit_s, 2), 'machine': machine_info()}
    atomic_write_json(out / 'model_eval.json', doc)
    print(f'{args.env}: held-out one-step normalized MSE on {len(test)} samples: reward '
          f'{errors.reward_nmse:.4f}, state {errors.state_nmse:.4f} (state change '
          f'{errors.delta_nmse:.4f}); no-change baseline: state {baseline.state_nmse:.4f}, '
          f'reward {baseline.reward_nmse:.4f}; wrote {out}/model_eval.json')
    return 0


def _train_from_bag(args: argparse.Namespace) -> int:
    import numpy as np

    from ior_ros.commands.progress import terminal_progress
    from ior_ros.core.errors import ConfigError
    from ior_ros.runtime.bag_storage import BagReader, bag_metadata
    from ior_ros.runtime.registry import deserialize

    path, info = bag_metadata(args.bag)
    wanted = {args.cmd_topic: 'ior_ros/msg/TeleopCommand', args.state_topic:
              'ior_ros/msg/RobotState', args.metrics_topic: 'ior_ros/msg/RanMetrics'}
    counts = dict.fromkeys(wanted, 0)
    queue_bits = 0.0

    def seconds(stamp: Any) -> float:
        return int(stamp.sec) + int(stamp.nanosec) * 1e-9

    progress = terminal_progress(not args.no_progress)
    with BagReader(path, info) as reader:
        connections = [c for c in reader.connections if c.topic in wanted]
        topics = sorted({c.topic for c in reader.connections})
        for conn in connections:
            if str(conn.msgtype) != wanted[conn.topic]:
                raise ConfigError(f'bag {str(args.bag)!r}: topic {conn.topic} has type '
                                  f'{conn.msgtype}, expected {wanted[conn.topic]}')
        for topic in (args.cmd_topic, args.state_topic):
            if not any(c.topic == topic for c in connections):
                raise ConfigError(f'bag {str(args.bag)!r} has no topic {topic} (it has: '
                                  f'{", ".join(topics) or "no topics"}); see --cmd-topic and '
                                  '--state-topic')
        import torch  # after the checks: a bad bag is refused without loading torch

        from ior_ros.core.twin.robot_twin import RobotTwin

        torch.set_num_threads(1)
        twin = RobotTwin(seed=args.seed)
        total = sum(int(c.msgcount) for c in connections)
        with progress('read', total, unit='msg') as bar:
            for conn, _stamp, data in reader.messages(connections=connections):
                msg = deserialize(data, wanted[conn.topic])
                counts[conn.topic] += 1
                if conn.topic == args.cmd_topic:
                    twin.observe_command(int(msg.sequence),
                                         np.array([msg.twist.linear.x, msg.twist.linear.y]))
                elif conn.topic == args.state_topic:
                    p, v = msg.pose.position, msg.twist.linear
                    twin.observe_state(seconds(msg.header.stamp), np.array([p.x, p.y]),
                                       np.array([v.x, v.y]), float(msg.tracking_error_m),
                                       int(msg.command_sequence))
                else:
                    for ue in msg.ues:
                        if int(ue.slice_id) == 1:  # the URLLC UE
                            interval = max(float(msg.interval_s), 1e-6)
                            load = max(float(ue.rate_bps) + (float(ue.queue_bits) - queue_bits)
                                       / interval, 0.0)
                            queue_bits = float(ue.queue_bits)
                            twin.observe_metrics(float(ue.prbs), queue_bits, load,
                                                 float(ue.delay_s), float(ue.rate_bps))
                bar.update(1)
    if twin.transitions < 32:
        raise ConfigError(f'bag {str(args.bag)!r}: {twin.transitions} transitions (consecutive '
                          f'states one control period apart whose command is in the bag) from '
                          f'{counts[args.cmd_topic]} commands and {counts[args.state_topic]} '
                          'states; at least 32 are needed')
    loss = float('nan')
    chunk = max(1, args.steps // 50)
    with progress('train', args.steps, unit='step') as bar:
        done = 0
        while done < args.steps:
            n = min(chunk, args.steps - done)
            result = twin.train(n)
            loss = result if result is not None else loss
            done += n
            bar.update(n)
    out = twin.save(args.out)
    print(f'robot twin: {twin.transitions} transitions from {counts[args.cmd_topic]} commands, '
          f'{counts[args.state_topic]} states, {counts[args.metrics_topic]} RAN metrics; '
          f'{twin.train_steps} steps, loss {loss:.4f}; wrote {out}')
    return 0
