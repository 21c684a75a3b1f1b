"""
``digital_twin``: judges every operator command before the robot executes it (issue 12).

The twin is :class:`~ior_ros.core.twin.robot_twin.RobotTwin` (robot model, network model, risk;
the module docstring there says what is learned and how risk is computed). This node only feeds
it and publishes its verdicts:

* **Hears** ior_ros/TeleopCommand on ``cmd`` (each command is remembered and judged at once),
  ior_ros/RobotState on ``state`` (transitions for the robot model), ior_ros/RanMetrics on
  ``ran_metrics`` (the URLLC UE: queue, delay, rate, for the network model) and
  ior_ros/SlicePolicy on ``slice_policy`` (the URLLC slice's PRBs). All four subscriptions are
  best effort, so they match reliable and best-effort publishers alike.
* **Publishes** one ior_ros/TwinPrediction per command on ``twin_prediction`` (reliable, keep
  last 100: robot_controller matches it to the command by ``command_sequence``; with its
  ``twin_gate`` on, a vetoed command is not executed), with ``predicted_state`` =
  ``(p_x, p_y, v_x, v_y, e)`` after the look-ahead and ``predicted_reward`` = ``−e``; and
  visualization_msgs/MarkerArray on ``twin_markers`` (frame ``odom``): the predicted position as a
  sphere, green when passed, red when vetoed (every veto; passed ones at most every
  ``MARKER_PERIOD_S`` of node time).
* **Learns** ``train_budget_s`` of CPU every ``train_period_s`` (one thread), spread over
  callbacks of at most ``TRAIN_CHUNK_S`` each (as many gradient steps as fit at the step cost
  measured so far), so the node's CPU use stays bounded and a command never waits long behind
  training (callbacks run one at a time).
* **Logs** at shutdown the commands judged, the vetoes and the judge latency (p50/p99 of the
  wall time from receiving a command to publishing its verdict).
* **Model**: ``model_path`` loads a saved twin (empty: learn from scratch); ``save_path`` saves it
  at shutdown (atomically: temporary file and rename); ``ior twin train --bag DIR`` trains one
  from a recorded run.

Parameters (descriptors with ranges, all read-only): see :class:`DigitalTwinConfig`; a refused
value stops the node with one line naming it (exit code 2). Uses only ``ior_ros.runtime`` names.
"""

from __future__ import annotations

import math
import sys
import time
from collections import deque
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from ior_ros.core.config import FrozenModel
from ior_ros.core.twin.robot_twin import RobotTwin, RobotTwinConfig, Verdict
from ior_ros.nodes._config import build_config
from ior_ros.nodes._descriptors import describe
from ior_ros.nodes._main import spin_node
from ior_ros.runtime import Node, QoSProfile, ReliabilityPolicy, get_message

TeleopCommand = get_message('ior_ros/msg/TeleopCommand')
RobotState = get_message('ior_ros/msg/RobotState')
RanMetrics = get_message('ior_ros/msg/RanMetrics')
SlicePolicy = get_message('ior_ros/msg/SlicePolicy')
TwinPredictionMsg = get_message('ior_ros/msg/TwinPrediction')
Marker = get_message('visualization_msgs/msg/Marker')
MarkerArray = get_message('visualization_msgs/msg/MarkerArray')

#: CPU time of one training callback at most [s]: the budget of a period is spread over several
#: callbacks, so that a command waits behind training for about this long at most
TRAIN_CHUNK_S = 0.01
#: the URLLC slice id of UeMetrics / SlicePolicy
SLICE_URLLC = 1
#: passed predictions are drawn at most this often [s of node time]; vetoes always
MARKER_PERIOD_S = 0.1
#: vetoes keep their own marker ids (cycling) so that recent ones stay visible this long [s]
VETO_MARKER_LIFETIME_S = 2.0
VETO_MARKER_IDS = 20

RANGES: dict[str, tuple[float, float]] = {
    'max_error_m': (1e-4, 100.0),
    'max_accel_mps2': (1e-3, 1e4),
    'risk_threshold': (0.0, 0.99),
    'train_period_s': (0.01, 60.0),
    'train_budget_s': (0.0, 10.0),
}


def _in(name: str) -> Any:
    low, high = RANGES[name]
    return Field(ge=low, le=high)


class DigitalTwinConfig(FrozenModel):
    """digital_twin: its parameters, one field each (same names, units, ranges)."""

    max_error_m: Annotated[float, _in('max_error_m')] = 0.1
    """Veto when the predicted tracking error exceeds this [m]."""
    max_accel_mps2: Annotated[float, _in('max_accel_mps2')] = 10.0
    """Veto when the commanded acceleration exceeds this [m/s²]."""
    risk_threshold: Annotated[float, _in('risk_threshold')] = 0.5
    """Veto when the risk exceeds this [1]."""
    horizon_steps: Annotated[int, Field(ge=1, le=100)] = 3
    """Control samples predicted under the proposed command."""
    min_transitions: Annotated[int, Field(ge=1, le=10_000_000)] = 300
    """Transitions heard before the learned model is used."""
    model_path: str = ''
    """Saved twin to start from (robot_twin.pt or its folder); empty: learn from scratch."""
    save_path: str = ''
    """Where the twin is saved at shutdown; empty: not saved."""
    train_period_s: Annotated[float, _in('train_period_s')] = 0.5
    """Node time between two training calls [s]."""
    train_budget_s: Annotated[float, _in('train_budget_s')] = 0.05
    """CPU time of one training call [s] (0: no online training)."""
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    """Seed of the weights and minibatches."""

    def twin_config(self) -> RobotTwinConfig:
        """The core twin's configuration."""
        return RobotTwinConfig(max_error_m=self.max_error_m, max_accel_mps2=self.max_accel_mps2,
                               risk_threshold=self.risk_threshold,
                               horizon_steps=self.horizon_steps,
                               min_transitions=self.min_transitions)


_TEXT: dict[str, str] = {
    'max_error_m': 'veto when the predicted tracking error exceeds this [m]',
    'max_accel_mps2': 'veto when the commanded acceleration (velocity jump over the command '
                      'interval) exceeds this [m/s²]',
    'risk_threshold': 'veto when the risk (share of ensemble members predicting a violation) '
                      'exceeds this',
    'train_period_s': 'time between two training calls [s]',
    'train_budget_s': 'CPU time of one training call [s]; 0: no online training',
}


def declare_config(node: Any) -> DigitalTwinConfig:
    """Declare the parameters (read-only, with ranges) and build the config object."""
    defaults = DigitalTwinConfig()
    values: dict[str, Any] = {}
    for name, text in _TEXT.items():
        values[name] = node.declare_parameter(name, float(getattr(defaults, name)), describe(
            text, read_only=True, float_range=RANGES[name])).value
    values['horizon_steps'] = node.declare_parameter('horizon_steps', defaults.horizon_steps,
                                                     describe(
        'control samples predicted under the proposed command', read_only=True,
        int_range=(1, 100))).value
    values['min_transitions'] = node.declare_parameter(
        'min_transitions', defaults.min_transitions, describe(
            'transitions heard before the learned model is used (before: physical limits only)',
            read_only=True, int_range=(1, 10_000_000))).value
    values['model_path'] = node.declare_parameter('model_path', '', describe(
        'saved twin to start from (robot_twin.pt); empty: learn from scratch',
        read_only=True)).value
    values['save_path'] = node.declare_parameter('save_path', '', describe(
        'file the twin is saved to at shutdown (atomically); empty: not saved',
        read_only=True)).value
    values['seed'] = node.declare_parameter('seed', 0, describe(
        'seed of the initial weights and minibatches', read_only=True,
        int_range=(0, 2**63 - 1))).value
    config: DigitalTwinConfig = build_config(DigitalTwinConfig, node.get_fully_qualified_name(),
                                             values)
    return config


def _seconds(stamp: Any) -> float:
    return int(stamp.sec) + int(stamp.nanosec) * 1e-9


class DigitalTwinNode(Node):  # type: ignore[misc]
    """Feeds the robot twin and publishes one verdict per command."""

    def __init__(self) -> None:
        super().__init__('digital_twin')
        import torch

        torch.set_num_threads(1)
        cfg = self.config = declare_config(self)
        if cfg.model_path:
            self.twin = RobotTwin.load(cfg.model_path, cfg.twin_config(), cfg.seed)
        else:
            self.twin = RobotTwin(cfg.twin_config(), cfg.seed)
        listen = QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.pred_pub = self.create_publisher(TwinPredictionMsg, 'twin_prediction', QoSProfile(
            depth=100, reliability=ReliabilityPolicy.RELIABLE))
        self.marker_pub = self.create_publisher(MarkerArray, 'twin_markers', 10)
        self.create_subscription(TeleopCommand, 'cmd', self.on_command, listen)
        self.create_subscription(RobotState, 'state', self.on_state, listen)
        self.create_subscription(RanMetrics, 'ran_metrics', self.on_metrics, listen)
        self.create_subscription(SlicePolicy, 'slice_policy', self.on_policy, listen)
        self.urllc_prbs: float | None = None
        self.queue_bits = 0.0
        self.load_bps = 0.0
        self.judged = 0
        self.judge_s: deque[float] = deque(maxlen=100_000)  # wall time per command [s]
        self.vetoes = 0
        self.marker_ns = 0
        self.step_cost_s = 2e-3  # first guess of one gradient step's CPU time [s]
        self.was_learned = self.twin.learned
        chunks = max(1, math.ceil(cfg.train_budget_s / TRAIN_CHUNK_S))
        self.chunk_budget_s = cfg.train_budget_s / chunks
        self.timer = (self.create_timer(cfg.train_period_s / chunks, self.train)
                      if cfg.train_budget_s > 0 else None)
        self.get_logger().info(
            f'digital twin: {"loaded " + cfg.model_path if cfg.model_path else "learning"}, '
            f'{self.twin.transitions} transitions, {self.twin.train_steps} steps; veto above '
            f'risk {cfg.risk_threshold:g} (error > {cfg.max_error_m:g} m or acceleration > '
            f'{cfg.max_accel_mps2:g} m/s²)')

    # ---- inputs
    def on_command(self, msg: Any) -> None:
        start = time.perf_counter()
        velocity = np.array([msg.twist.linear.x, msg.twist.linear.y])
        self.twin.observe_command(int(msg.sequence), velocity)
        prbs = self.urllc_prbs if self.urllc_prbs is not None else 1.0
        delay_s = self.twin.predicted_delay_s(prbs, self.queue_bits, self.load_bps)
        verdict = self.twin.judge(int(msg.sequence), _seconds(msg.send_time), velocity, delay_s)
        self.publish(verdict)
        self.judge_s.append(time.perf_counter() - start)

    def on_state(self, msg: Any) -> None:
        p, v = msg.pose.position, msg.twist.linear
        self.twin.observe_state(_seconds(msg.header.stamp), np.array([p.x, p.y]),
                                np.array([v.x, v.y]), float(msg.tracking_error_m),
                                int(msg.command_sequence))

    def on_metrics(self, msg: Any) -> None:
        for ue in msg.ues:
            if int(ue.slice_id) != SLICE_URLLC:
                continue
            interval = max(float(msg.interval_s), 1e-6)
            load = max(float(ue.rate_bps) + (float(ue.queue_bits) - self.queue_bits) / interval,
                       0.0)
            prbs = self.urllc_prbs if self.urllc_prbs is not None else float(ue.prbs)
            self.queue_bits, self.load_bps = float(ue.queue_bits), load
            self.twin.observe_metrics(prbs, self.queue_bits, load, float(ue.delay_s),
                                      float(ue.rate_bps))
            return

    def on_policy(self, msg: Any) -> None:
        for slice_id, prbs in zip(msg.slice_id, msg.slice_prbs, strict=False):
            if int(slice_id) == SLICE_URLLC:
                self.urllc_prbs = float(prbs)

    # ---- learning
    def train(self) -> None:
        steps = max(1, int(self.chunk_budget_s / self.step_cost_s))
        start = time.process_time()
        loss = self.twin.train(steps)
        if loss is None:
            return
        spent = time.process_time() - start
        if spent > 0.0:  # a moving estimate of one step's CPU cost
            self.step_cost_s = 0.7 * self.step_cost_s + 0.3 * spent / steps
        if self.twin.learned and not self.was_learned:
            self.was_learned = True
            self.get_logger().info(
                f'twin learned: {self.twin.transitions} transitions, {self.twin.train_steps} '
                f'steps, loss {loss:.4f}, one-step error of the tracking error '
                f'{self.twin.validation_error_m * 1e3:.2f} mm; judging with the learned model')

    # ---- outputs
    def publish(self, verdict: Verdict) -> None:
        now = self.get_clock().now()
        stamp = now.to_msg()
        msg = TwinPredictionMsg()
        msg.header.stamp = stamp
        msg.header.frame_id = 'odom'
        msg.command_sequence = verdict.sequence
        msg.predicted_reward = verdict.predicted_reward
        msg.predicted_state = list(verdict.predicted_state)
        msg.risk = verdict.risk
        msg.veto = verdict.veto
        msg.reason = verdict.reason
        self.pred_pub.publish(msg)
        self.judged += 1
        if verdict.veto:
            self.vetoes += 1
        elif now.nanoseconds - self.marker_ns < MARKER_PERIOD_S * 1e9:
            return
        self.marker_ns = now.nanoseconds
        marker = Marker()
        marker.header.stamp = stamp
        marker.header.frame_id = 'odom'
        marker.ns = 'twin_veto' if verdict.veto else 'twin_prediction'
        marker.id = self.vetoes % VETO_MARKER_IDS if verdict.veto else 0
        marker.type = Marker.SPHERE
        marker.action = Marker.ADD
        marker.pose.position.x, marker.pose.position.y = verdict.predicted_state[:2]
        marker.pose.orientation.w = 1.0
        marker.scale.x = marker.scale.y = marker.scale.z = 0.08
        marker.color.a = 0.9
        if verdict.veto:
            marker.color.r = 1.0
            marker.lifetime.sec = int(VETO_MARKER_LIFETIME_S)
        else:
            marker.color.g = 1.0
        self.marker_pub.publish(MarkerArray(markers=[marker]))

    def destroy_node(self) -> Any:
        if self.config.save_path:
            path = self.twin.save(self.config.save_path)
            self.get_logger().info(f'twin saved to {path} ({self.twin.transitions} transitions, '
                                   f'{self.twin.train_steps} steps)')
        latency = np.asarray(self.judge_s) * 1e3
        if latency.size:
            self.get_logger().info(
                f'judged {self.judged} commands, vetoed {self.vetoes} (learned model: '
                f'{"yes" if self.twin.learned else "no"}); judge latency p50 '
                f'{np.percentile(latency, 50):.3f} ms, p99 {np.percentile(latency, 99):.3f} ms')
        return super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return spin_node(DigitalTwinNode, args)


if __name__ == '__main__':
    sys.exit(main())
