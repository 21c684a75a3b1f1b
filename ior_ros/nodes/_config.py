"""
The frozen configuration objects of the teleoperation nodes: one per node, field by field the
node's ROS parameters (same names, same units, same ranges), so that a node is
``parameters → config → core objects → publishers/subscriptions`` and the checks live in one
place (:class:`~ior_ros.core.config.FrozenModel`: unknown keys, NaN and infinities refused).

The ranges are also the parameter descriptors' ranges (:data:`TELEOP_RANGES`,
:data:`CONTROLLER_RANGES`), so ``ros2 param describe`` shows what the model checks.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from pydantic import Field, ValidationError

from ior_ros.core.config import FrozenModel
from ior_ros.core.control.control_config import FallbackPolicy
from ior_ros.core.errors import ConfigError
from ior_ros.core.ran.video_frames import mean_frame_bytes
from ior_ros.core.slicing.config import SlicingEnvConfig

__all__ = ['ReferenceShape', 'OperatorInput', 'RobotKind', 'CmdVelFrame', 'TeleopOperatorConfig',
           'RobotControllerConfig', 'TELEOP_RANGES', 'CONTROLLER_RANGES', 'build_config']


class ReferenceShape(str, Enum):
    """The set-point trajectory the operator follows."""

    FIGURE_EIGHT = 'figure_eight'
    """:class:`~ior_ros.core.control.figure_eight.FigureEight` (the one reference of the core)."""
    LINE = 'line'
    """A straight line along +x at ``line_speed_mps`` (a constant-velocity set-point)."""


class OperatorInput(str, Enum):
    """Where the operator's set-point velocities come from."""

    REFERENCE = 'reference'
    """The reference trajectory (``reference``), with its slips."""
    JOY = 'joy'
    """A joystick: sensor_msgs/Joy on ``joy``, two axes scaled by ``joy_max_speed_mps``."""


class RobotKind(str, Enum):
    """The robot the controller drives."""

    SIMULATED = 'simulated'
    """The tracking dynamics of the core, stepped by the node."""
    CMD_VEL = 'cmd_vel'
    """A real velocity-controlled base: Odometry in on ``odom_in``, Twist out on ``cmd_vel``."""


class CmdVelFrame(str, Enum):
    """The frame of the Twist sent on ``cmd_vel``."""

    BASE_LINK = 'base_link'
    """The base's own frame (what a base expects of ``cmd_vel``): the command rotated by −yaw."""
    ODOM = 'odom'
    """The odometry frame, unrotated (a base that takes world-frame velocities)."""


#: parameter ranges of teleop_operator (inclusive ends), shared with its descriptors
TELEOP_RANGES: dict[str, tuple[float, float]] = {
    'amplitude_m': (0.01, 100.0),
    'period_s': (0.5, 3600.0),
    'line_speed_mps': (0.0, 10.0),
    'base_rate_per_s': (1.0, 1000.0),
    'alpha': (0.0, 1.0),
    'urllc_rate_bps': (0.0, 1e10),
    'packet_bits': (8.0, 1e6),
    'tick_s': (0.001, 1.0),
    'slip_rate_per_s': (0.0, 100.0),
    'slip_gain': (0.0, 100.0),
    'joy_axis_x': (0, 255),
    'joy_axis_y': (0, 255),
    'joy_deadman_button': (-1, 255),
    'joy_max_speed_mps': (0.001, 10.0),
    'joy_timeout_s': (0.01, 60.0),
}

#: parameter ranges of robot_controller (inclusive ends), shared with its descriptors
CONTROLLER_RANGES: dict[str, tuple[float, float]] = {
    'command_timeout_s': (0.01, 60.0),
    'tolerated_growth': (1.0001, 1e6),
    'dwell_time_s': (0.0, 60.0),
    'disturbance_std_mps2': (0.0, 10.0),
    'noise_std_mps2': (0.0, 10.0),
    'stop_brake_per_s': (0.1, 100.0),
    'path_length': (2, 100_000),
    'twin_wait_s': (0.0, 1.0),
    'twin_silence_s': (0.01, 60.0),
    'video_fps': (0, 120),
    'video_packet_rate_pps': (0.0, 100_000.0),
    'video_packet_bits': (8.0, 1e6),
    'video_frame_cv': (0.0, 3.0),
    'max_speed_mps': (0.01, 100.0),
    'odom_timeout_s': (0.01, 60.0),
    'base_lag_s': (0.0, 10.0),
}

#: the eMBB traffic model the robot's video follows: seed 003 eq. 6 as the slicing environment
#: calibrates it (docs/models/slicing.md §2), so the node and the slicing model are one model
_EMBB_RATE_PPS: float = SlicingEnvConfig.model_fields['embb_arrival_rate_pps'].default
_EMBB_PACKET_BITS: float = SlicingEnvConfig.model_fields['embb_packet_bits'].default


def _in(name: str, ranges: dict[str, tuple[float, float]]) -> Any:
    low, high = ranges[name]
    return Field(ge=low, le=high)


class TeleopOperatorConfig(FrozenModel):
    """teleop_operator: the set-points it sends and when (seed 003 §III-C, eq. 2)."""

    reference: ReferenceShape = ReferenceShape.FIGURE_EIGHT
    """Trajectory of the set-points."""
    amplitude_m: Annotated[float, _in('amplitude_m', TELEOP_RANGES)] = 1.0
    """Half-width a of the figure eight [m]."""
    period_s: Annotated[float, _in('period_s', TELEOP_RANGES)] = 10.0
    """Period of the figure eight [s]."""
    line_speed_mps: Annotated[float, _in('line_speed_mps', TELEOP_RANGES)] = 0.3
    """Speed along the line [m/s] (reference ``line``)."""
    base_rate_per_s: Annotated[float, _in('base_rate_per_s', TELEOP_RANGES)] = 100.0
    """λ0 of the modified Poisson law: the mean command rate with an idle URLLC link [1/s]."""
    alpha: Annotated[float, _in('alpha', TELEOP_RANGES)] = 0.1
    """α of ``λ = max(0, λ0 − α r_u)`` (seed 003 eq. 2) [-]."""
    urllc_rate_bps: Annotated[float, _in('urllc_rate_bps', TELEOP_RANGES)] = 0.0
    """r_u, the URLLC data rate the operator's traffic sees [bit/s] (0: λ = λ0)."""
    packet_bits: Annotated[float, _in('packet_bits', TELEOP_RANGES)] = 800.0
    """L_u, bits per command packet: r_u is counted in packets/s (core/ran/teleop_queues.py)."""
    tick_s: Annotated[float, _in('tick_s', TELEOP_RANGES)] = 0.005
    """τ, the counting window: every tick draws the number of commands of eq. 2 [s]."""
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 3
    """Seed of the command-timing generator (numpy default_rng)."""
    slip_rate_per_s: Annotated[float, _in('slip_rate_per_s', TELEOP_RANGES)] = 0.0
    """Mean rate of operator slips, a Poisson process [1/s] (0: none)."""
    slip_gain: Annotated[float, _in('slip_gain', TELEOP_RANGES)] = 5.0
    """A slip commands slip_gain × the reference speed in a random direction [-]."""
    input: OperatorInput = OperatorInput.REFERENCE
    """Source of the set-points: the reference, or a joystick on ``joy``."""
    joy_axis_x: Annotated[int, _in('joy_axis_x', TELEOP_RANGES)] = 1
    """Joy axis giving the x velocity (1: left stick up/down, teleop_twist_joy's convention)."""
    joy_axis_y: Annotated[int, _in('joy_axis_y', TELEOP_RANGES)] = 0
    """Joy axis giving the y velocity (0: left stick left/right; left is +y, REP 103)."""
    joy_deadman_button: Annotated[int, _in('joy_deadman_button', TELEOP_RANGES)] = 0
    """Joy button that must be held for the robot to move (−1: none)."""
    joy_max_speed_mps: Annotated[float, _in('joy_max_speed_mps', TELEOP_RANGES)] = 0.5
    """Set-point speed per axis at full deflection (axis value ±1) [m/s]."""
    joy_timeout_s: Annotated[float, _in('joy_timeout_s', TELEOP_RANGES)] = 0.5
    """Without a Joy message for this long the commands say stop (deadman false) [s]."""


class RobotControllerConfig(FrozenModel):
    """robot_controller: the delayed robot (simulated, or a real base through cmd_vel) and its
    gain switching."""

    schedule_path: str = ''
    """Certified gain schedule (JSON); empty: the shipped core/control/reference_schedule.json.
    Its plant's sample period is the control period."""
    command_timeout_s: Annotated[float, _in('command_timeout_s', CONTROLLER_RANGES)] = 0.5
    """Without a command for this long the robot stops (brakes) [s]."""
    tolerated_growth: Annotated[float, _in('tolerated_growth', CONTROLLER_RANGES)] = 3.0
    """G_max of the switching policy [-]."""
    dwell_time_s: Annotated[float, _in('dwell_time_s', CONTROLLER_RANGES)] = 0.5
    """Time within the nominal bound before the nominal gain returns [s]."""
    always_switch: bool = False
    """Switch to the scheduled gain at every violation (no growth test)."""
    schedule_fallback: FallbackPolicy = FallbackPolicy.MOST_CONSERVATIVE
    """Beyond the delays the schedule certifies: the certified gain of the widest range (not
    certified for that delay; ControllerStatus says so) or a local stop (no network in the loop:
    safe, but the robot halts until the delay falls back)."""
    disturbance_std_mps2: Annotated[float, _in('disturbance_std_mps2', CONTROLLER_RANGES)] = 0.0
    """σ_w of the piecewise-constant acceleration disturbance [m/s²]."""
    noise_std_mps2: Annotated[float, _in('noise_std_mps2', CONTROLLER_RANGES)] = 0.0
    """σ_n of the per-sample acceleration noise [m/s²]."""
    stop_brake_per_s: Annotated[float, _in('stop_brake_per_s', CONTROLLER_RANGES)] = 2.0
    """Braking gain c of the stop command, ``a = −c v`` [1/s]."""
    path_length: Annotated[int, _in('path_length', CONTROLLER_RANGES)] = 1000
    """Poses kept in the published nav_msgs/Path."""
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    """Seed of the disturbance generator."""
    twin_gate: bool = False
    """Hold each command for the digital twin's verdict; drop the vetoed ones."""
    twin_wait_s: Annotated[float, _in('twin_wait_s', CONTROLLER_RANGES)] = 0.02
    """Longest a command waits for its verdict before it is applied anyway [s]."""
    twin_silence_s: Annotated[float, _in('twin_silence_s', CONTROLLER_RANGES)] = 1.0
    """No verdict for this long: the twin is silent and commands pass at once [s]."""
    video_fps: Annotated[int, _in('video_fps', CONTROLLER_RANGES)] = 30
    """Camera frames per second published on ``video`` [1/s] (0: no video)."""
    video_packet_rate_pps: Annotated[float, _in('video_packet_rate_pps',
                                                CONTROLLER_RANGES)] = _EMBB_RATE_PPS
    """λ_e of the eMBB traffic model the video carries [packets/s] (SlicingEnvConfig)."""
    video_packet_bits: Annotated[float, _in('video_packet_bits',
                                            CONTROLLER_RANGES)] = _EMBB_PACKET_BITS
    """L_e of the eMBB traffic model [bit]: frames carry ``λ_e L_e`` bit/s on average."""
    video_frame_cv: Annotated[float, _in('video_frame_cv', CONTROLLER_RANGES)] = 0.3
    """Coefficient of variation of the (lognormal) frame sizes [-] (0: constant frames)."""
    robot: RobotKind = RobotKind.SIMULATED
    """The robot driven: the simulated dynamics, or a real base through ``cmd_vel``."""
    cmd_vel_frame: CmdVelFrame = CmdVelFrame.BASE_LINK
    """With robot cmd_vel: the frame of the Twist sent."""
    max_speed_mps: Annotated[float, _in('max_speed_mps', CONTROLLER_RANGES)] = 1.5
    """With robot cmd_vel: the speed the velocity command is clipped to [m/s]."""
    odom_timeout_s: Annotated[float, _in('odom_timeout_s', CONTROLLER_RANGES)] = 0.25
    """With robot cmd_vel: without odometry for this long the base gets zero twist [s]."""
    base_lag_s: Annotated[float, _in('base_lag_s', CONTROLLER_RANGES)] = 0.0
    """With robot cmd_vel: time constant of the base's velocity lag, compensated in the
    command (core/control/velocity_base.py) [s] (0: the base follows within a period)."""

    @property
    def video_mean_frame_bytes(self) -> float:
        """``λ_e L_e / (8 fps)`` [byte] (core/ran/video_frames.py); 0 without video."""
        if self.video_fps == 0:
            return 0.0
        return mean_frame_bytes(self.video_packet_rate_pps, self.video_packet_bits,
                                self.video_fps)


def build_config(model: type[FrozenModel], node_name: str, values: dict[str, Any]) -> Any:
    """
    ``model(**values)``; a refused value raises ConfigError, one line naming the node, the
    parameter, the value and what is allowed.
    """
    try:
        return model(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = '.'.join(str(p) for p in error['loc']) or '?'
        raise ConfigError(f'parameter {field!r} of node {node_name}: '
                          f'{values.get(field)!r}: {error["msg"]}') from None
