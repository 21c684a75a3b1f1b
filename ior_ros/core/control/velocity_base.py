"""
The real robot behind a velocity interface (``cmd_vel``): how the tracking controller's
acceleration becomes a velocity command, and the planar frame conversions that go with it.

A velocity-controlled base (its own wheel loop tracks the commanded twist, the usual ROS 2 base:
REP 105 frames, geometry_msgs/Twist in, nav_msgs/Odometry out) looks like the plant of the gain
schedule (two double integrators sampled at T, :mod:`~ior_ros.core.control.tracking_dynamics`)
when its velocity loop settles within a control period: commanding

    v_cmd(k) = v(k) + u(k) T

from the measured velocity ``v(k)`` makes ``v(k+1) ≈ v(k) + u(k) T``, the velocity update of the
double integrator, so the law ``u = a_ff − K (x − r)`` and its certified gain schedule carry over
unchanged. A real base's velocity loop lags: as a first-order lag of time constant τ holding
``v_cmd`` over the period, ``v(k+1) = v_cmd + (v(k) − v_cmd) e^{−T/τ}``, so the command above
gives ``v(k+1) = v(k) + (1 − e^{−T/τ}) u(k) T``: the loop gain, feed-forward included, shrinks by
``1 − e^{−T/τ}`` (0.63 at τ = T, 0.10 at τ = 10 T) and the robot lags the set-point. Given τ
(``lag_s``, measured on the base), the command that restores ``v(k+1) = v(k) + u(k) T`` exactly is

    v_cmd(k) = v(k) + u(k) T / (1 − e^{−T/τ})

which is the one above as τ → 0 (the default, τ = 0). What remains is the position update: a
velocity step integrates ``u T²`` where the zero-order-hold acceleration gives ``u T²/2``. The
command is clipped to a speed (its norm, direction kept), as every base limits it.

Frames (REP 103: x forward, y left, z up; REP 105: odom → base_link): odometry gives the twist in
the child frame (base_link), rotated by the pose's yaw into odom; a holonomic base takes
``linear.x``/``linear.y`` in base_link, the odom-frame command rotated by −yaw.
"""

from __future__ import annotations

import math
from typing import NamedTuple

__all__ = ['PlanarVector', 'velocity_command', 'rotate', 'yaw_of_quaternion']


class PlanarVector(NamedTuple):
    """A vector in the plane: ``(x, y)`` in the frame its user names."""

    x: float
    y: float


def velocity_command(velocity_mps: tuple[float, float], accel_mps2: tuple[float, float],
                     period_s: float, max_speed_mps: float, lag_s: float = 0.0) -> PlanarVector:
    """
    ``v_cmd = v + u T / (1 − e^{−T/τ})`` (``v + u T`` for τ = 0), clipped to ``max_speed_mps``
    (module docstring).

    Args:
        velocity_mps: measured velocity ``v`` [m/s], (x, y) in odom.
        accel_mps2: the controller's acceleration ``u`` [m/s²], (x, y) in odom.
        period_s: control period T [s], > 0.
        max_speed_mps: largest speed commanded [m/s], > 0: a longer command is scaled down to it,
            its direction kept.
        lag_s: time constant τ of the base's first-order velocity lag [s], >= 0 (0: none).

    Returns:
        The velocity command [m/s], (x, y) in odom.

    Raises:
        ValueError: ``period_s`` or ``max_speed_mps`` not a positive finite number, or ``lag_s``
            not a finite number >= 0.
    """
    if not (math.isfinite(period_s) and period_s > 0.0):
        raise ValueError(f'period_s = {period_s!r}: a positive finite number of seconds')
    if not (math.isfinite(max_speed_mps) and max_speed_mps > 0.0):
        raise ValueError(f'max_speed_mps = {max_speed_mps!r}: a positive finite speed')
    if not (math.isfinite(lag_s) and lag_s >= 0.0):
        raise ValueError(f'lag_s = {lag_s!r}: a finite time constant >= 0 s')
    # T / (1 − e^{−T/τ}) written with expm1: exact for small T/τ, T itself at τ = 0
    step_s = period_s if lag_s == 0.0 else -period_s / math.expm1(-period_s / lag_s)
    vx = velocity_mps[0] + accel_mps2[0] * step_s
    vy = velocity_mps[1] + accel_mps2[1] * step_s
    speed = math.hypot(vx, vy)
    if speed > max_speed_mps:
        scale = max_speed_mps / speed
        vx, vy = vx * scale, vy * scale
    return PlanarVector(vx, vy)


def rotate(x: float, y: float, angle_rad: float) -> PlanarVector:
    """The vector ``(x, y)`` rotated by ``angle_rad`` about z (counter-clockwise, REP 103):
    a child-frame vector into its parent frame for the child's yaw, the converse for −yaw."""
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return PlanarVector(c * x - s * y, s * x + c * y)


def yaw_of_quaternion(x: float, y: float, z: float, w: float) -> float:
    """
    The yaw [rad] in (−π, π] of the unit quaternion ``(x, y, z, w)``: the z angle of its
    z-y-x (yaw, pitch, roll) Euler angles, ``atan2(2 (w z + x y), 1 − 2 (y² + z²))``.
    """
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
