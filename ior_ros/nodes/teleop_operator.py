"""
``teleop_operator``: the remote operator of seed 003. It sends velocity set-points along the
reference as ior_ros/TeleopCommand on ``cmd`` (the URLLC slice) and measures the latency of the
robot's state feedback (ior_ros/RobotState on ``state``, the eMBB slice).

* **Set-points**: ``twist.linear`` is the reference velocity at ``t`` (seconds on the node's
  clock since the first tick): the figure eight of :mod:`ior_ros.core.control.figure_eight`, or a
  straight line along +x (``reference:=line``). ``header.stamp`` and ``send_time`` are both the
  send time (the set-point applies from then on; the robot measures the command delay from
  ``send_time``); ``header.frame_id`` is ``base_link``; ``deadman`` is true while the node runs.
* **Timing** (seed 003 §III-C, eq. 2): every ``tick_s`` (τ) the node draws the number of commands
  ``k ~ Poisson(max(0, λ0 − α r_u) τ)`` with
  :func:`ior_ros.core.ran.traffic.modified_poisson_counts` (r_u counted in packets of
  ``packet_bits``, as core/ran/teleop_queues.py does) and sends k commands, so the mean rate is
  ``λ0 − α r_u`` per second. The generator is ``numpy.random.default_rng(seed)``.
* **Slips** (``slip_rate_per_s`` > 0): operator slips at the times of a Poisson process of that
  rate (exponential gaps drawn from ``default_rng([seed, 1])``, so the command timing is the
  same with and without slips). At the first tick that sends a command after a slip time, its
  first command is the slip: the reference velocity rotated by an angle drawn uniformly in
  ``[−π, π)`` and scaled by ``slip_gain`` (so the velocity jumps by at least
  ``(slip_gain − 1) |v_ref|``). Each slip is logged as one info line ``slip: command <sequence>``
  (tests and demos count the twin's vetoes against them).
* **QoS of cmd**: best effort, keep last 1. A command is superseded by the next one (the robot
  holds the newest, seed 003 / core/control/tracking_dynamics.py); a retransmitted old set-point
  would only arrive later than its successor, so reliability buys nothing but delay.
* **Feedback latency**: ``now − header.stamp`` of every RobotState; once a second the node logs
  ``feedback latency: n=<count> mean=<ms> ms max=<ms> ms`` over that second.

Parameters (descriptors with ranges; all read-only: fixed at start): see
:class:`~ior_ros.nodes._config.TeleopOperatorConfig`. Uses only ``ior_ros.runtime`` names, so it
runs on rclpy as well; the clock follows ``use_sim_time``.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ior_ros.core.control.figure_eight import FigureEight
from ior_ros.core.ran.traffic import modified_poisson_counts
from ior_ros.nodes._config import (
    TELEOP_RANGES,
    ReferenceShape,
    TeleopOperatorConfig,
    build_config,
)
from ior_ros.nodes._descriptors import describe
from ior_ros.nodes._main import spin_node
from ior_ros.runtime import (
    Node,
    QoSProfile,
    ReliabilityPolicy,
    get_message,
)

TeleopCommand = get_message('ior_ros/msg/TeleopCommand')
RobotState = get_message('ior_ros/msg/RobotState')

#: what cmd and state use: best effort, newest only (module docstring)
COMMAND_QOS_DEPTH = 1

_DESCRIPTIONS: dict[str, str] = {
    'amplitude_m': 'half-width a of the figure eight [m]',
    'period_s': 'period of the figure eight [s]',
    'line_speed_mps': 'speed along the line of reference:=line [m/s]',
    'base_rate_per_s': 'λ0: mean command rate with an idle URLLC link [1/s] (seed 003 eq. 2)',
    'alpha': 'α of λ = max(0, λ0 − α r_u) (seed 003 eq. 2)',
    'urllc_rate_bps': 'r_u: URLLC data rate [bit/s], counted in packets of packet_bits',
    'packet_bits': 'L_u: bits per command packet',
    'tick_s': 'τ: counting window; each tick draws the number of commands sent [s]',
    'slip_rate_per_s': 'mean rate of operator slips (Poisson) [1/s]; 0: none',
    'slip_gain': 'a slip commands slip_gain × the reference speed in a random direction',
}


def command_qos() -> Any:
    """Best effort, keep last 1 (module docstring: why)."""
    return QoSProfile(depth=COMMAND_QOS_DEPTH, reliability=ReliabilityPolicy.BEST_EFFORT)


def declare_config(node: Any) -> TeleopOperatorConfig:
    """Declare the parameters (read-only, with ranges) and build the config object."""
    defaults = TeleopOperatorConfig()
    values: dict[str, Any] = {}
    values['reference'] = node.declare_parameter('reference', defaults.reference.value, describe(
        'set-point trajectory: figure_eight or line', read_only=True,
        additional_constraints="one of 'figure_eight', 'line'")).value
    for name, text in _DESCRIPTIONS.items():
        values[name] = node.declare_parameter(name, float(getattr(defaults, name)), describe(
            text, read_only=True, float_range=TELEOP_RANGES[name])).value
    values['seed'] = node.declare_parameter('seed', defaults.seed, describe(
        'seed of the command-timing generator', read_only=True,
        int_range=(0, 2**63 - 1))).value
    config: TeleopOperatorConfig = build_config(TeleopOperatorConfig,
                                                node.get_fully_qualified_name(), values)
    return config


class TeleopOperator(Node):  # type: ignore[misc]
    """Sends reference set-points at modified-Poisson times; measures feedback latency."""

    def __init__(self) -> None:
        super().__init__('teleop_operator')
        self.config = declare_config(self)
        cfg = self.config
        self.figure = FigureEight(cfg.amplitude_m, cfg.period_s)
        self.rng = np.random.default_rng(cfg.seed)
        self.pub = self.create_publisher(TeleopCommand, 'cmd', command_qos())
        self.sub = self.create_subscription(RobotState, 'state', self.on_state, command_qos())
        self.sequence = 0
        self.start_ns: int | None = None
        self.latencies_s: list[float] = []
        self.report_ns = 0
        self.slip_rng = np.random.default_rng([cfg.seed, 1])
        self.next_slip_s = self.draw_slip_gap()
        self.slips = 0
        self.timer = self.create_timer(cfg.tick_s, self.tick)

    def draw_slip_gap(self) -> float:
        """Time to the next slip [s] (infinite without slips)."""
        rate = self.config.slip_rate_per_s
        return float(self.slip_rng.exponential(1.0 / rate)) if rate > 0.0 else float('inf')

    def velocity(self, t_s: float) -> tuple[float, float]:
        """The reference velocity at t [m/s]."""
        if self.config.reference is ReferenceShape.LINE:
            return self.config.line_speed_mps, 0.0
        v = self.figure.sample([t_s]).velocity_mps[0]
        return float(v[0]), float(v[1])

    def tick(self) -> None:
        now = self.get_clock().now()
        if self.start_ns is None:
            self.start_ns = self.report_ns = now.nanoseconds
        cfg = self.config
        count = int(modified_poisson_counts(cfg.base_rate_per_s, cfg.alpha, cfg.urllc_rate_bps,
                                            cfg.tick_s, 0.0, self.rng,
                                            rate_unit_bps=cfg.packet_bits))
        t_s = (now.nanoseconds - self.start_ns) * 1e-9
        vx, vy = self.velocity(t_s)
        for index in range(count):
            self.sequence += 1
            slip = index == 0 and t_s >= self.next_slip_s
            if slip:
                self.next_slip_s = t_s + self.draw_slip_gap()
                self.slips += 1
                angle = float(self.slip_rng.uniform(-np.pi, np.pi))
                cos_a, sin_a, gain = np.cos(angle), np.sin(angle), self.config.slip_gain
                vx, vy = (gain * (cos_a * vx - sin_a * vy), gain * (sin_a * vx + cos_a * vy))
                self.get_logger().info(f'slip: command {self.sequence}')
            msg = TeleopCommand()
            msg.header.stamp = now.to_msg()
            msg.header.frame_id = 'base_link'
            msg.sequence = self.sequence
            msg.send_time = now.to_msg()
            msg.twist.linear.x, msg.twist.linear.y = vx, vy
            msg.deadman = True
            self.pub.publish(msg)
            if slip:
                vx, vy = self.velocity(t_s)
        if now.nanoseconds - self.report_ns >= 1_000_000_000:
            self.report_ns = now.nanoseconds
            if self.latencies_s:
                lat = np.asarray(self.latencies_s) * 1e3
                self.get_logger().info(f'feedback latency: n={lat.size} mean={lat.mean():.2f} ms '
                                       f'max={lat.max():.2f} ms')
                self.latencies_s.clear()

    def on_state(self, msg: Any) -> None:
        now_ns = self.get_clock().now().nanoseconds
        stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self.latencies_s.append((now_ns - stamp_ns) * 1e-9)


def main(args: list[str] | None = None) -> int:
    return spin_node(TeleopOperator, args)


if __name__ == '__main__':
    sys.exit(main())
