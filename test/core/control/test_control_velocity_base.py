"""
core/control/velocity_base.py: the velocity command of a real base (``v + u T``, its lag
compensation, the speed clip) and the planar frame conversions, against their closed forms.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ior_ros.core.control.velocity_base import rotate, velocity_command, yaw_of_quaternion

T = 0.01
finite = st.floats(-10.0, 10.0, allow_nan=False)
angles = st.floats(-math.pi, math.pi, allow_nan=False)


def test_without_lag_the_command_is_the_next_velocity_of_the_double_integrator() -> None:
    command = velocity_command((0.3, -0.2), (1.5, 2.0), T, 10.0)
    assert command == pytest.approx((0.3 + 1.5 * T, -0.2 + 2.0 * T), abs=1e-15)


@settings(max_examples=200, deadline=None)
@given(vx=finite, vy=finite, ux=finite, uy=finite, lag=st.floats(1e-4, 5.0))
def test_the_compensated_command_gives_a_lagging_base_the_asked_velocity(
        vx: float, vy: float, ux: float, uy: float, lag: float) -> None:
    """A first-order lag holding the command over T ends at ``v_cmd + (v − v_cmd) e^{−T/τ}``:
    with the compensated command that is ``v + u T``, what the double integrator does."""
    cx, cy = velocity_command((vx, vy), (ux, uy), T, 1e9, lag_s=lag)
    decay = math.exp(-T / lag)
    assert cx + (vx - cx) * decay == pytest.approx(vx + ux * T, abs=1e-9)
    assert cy + (vy - cy) * decay == pytest.approx(vy + uy * T, abs=1e-9)


def test_a_tiny_lag_is_no_lag_and_a_long_one_scales_by_about_tau_over_t() -> None:
    assert velocity_command((0.0, 0.0), (1.0, 0.0), T, 10.0, lag_s=1e-12).x == T
    slow = velocity_command((0.0, 0.0), (1.0, 0.0), T, 10.0, lag_s=1.0).x
    assert slow == pytest.approx(1.0 + T / 2, rel=1e-4)  # T / (1 - e^{-T/τ}) ≈ τ + T/2


@settings(max_examples=200, deadline=None)
@given(vx=finite, vy=finite, ux=finite, uy=finite, limit=st.floats(0.01, 5.0))
def test_the_clip_keeps_the_direction_and_caps_the_speed(vx: float, vy: float, ux: float,
                                                         uy: float, limit: float) -> None:
    wanted = (vx + ux * T, vy + uy * T)
    got = velocity_command((vx, vy), (ux, uy), T, limit)
    speed = math.hypot(*wanted)
    assert math.hypot(*got) <= limit * (1 + 1e-12)
    if speed <= limit:
        assert got == pytest.approx(wanted, abs=1e-15)
    else:
        assert got == pytest.approx((wanted[0] * limit / speed, wanted[1] * limit / speed))


@pytest.mark.parametrize(('kwargs', 'words'), [
    ({'period_s': 0.0}, 'period_s = 0.0'), ({'period_s': math.nan}, 'period_s = nan'),
    ({'max_speed_mps': -1.0}, 'max_speed_mps = -1.0'), ({'lag_s': -0.1}, 'lag_s = -0.1'),
    ({'lag_s': math.inf}, 'lag_s = inf')])
def test_bad_arguments_are_refused_naming_them(kwargs: dict[str, float], words: str) -> None:
    arguments = {'period_s': T, 'max_speed_mps': 1.0, 'lag_s': 0.0, **kwargs}
    with pytest.raises(ValueError, match=words):
        velocity_command((0.0, 0.0), (0.0, 0.0), **arguments)


@settings(max_examples=200, deadline=None)
@given(x=finite, y=finite, yaw=angles)
def test_rotate_by_yaw_then_back_is_the_identity_and_keeps_the_length(x: float, y: float,
                                                                       yaw: float) -> None:
    there = rotate(x, y, yaw)
    back = rotate(there.x, there.y, -yaw)
    assert back == pytest.approx((x, y), abs=1e-12)
    assert math.hypot(*there) == pytest.approx(math.hypot(x, y), abs=1e-12)


def test_rotate_is_counter_clockwise_about_z() -> None:
    """REP 103: x forward, y left: base_link's x axis of a base turned +90° is odom's y."""
    assert rotate(1.0, 0.0, math.pi / 2) == pytest.approx((0.0, 1.0), abs=1e-15)
    assert rotate(0.0, 1.0, math.pi / 2) == pytest.approx((-1.0, 0.0), abs=1e-15)


@settings(max_examples=200, deadline=None)
@given(yaw=st.floats(-math.pi + 1e-9, math.pi, allow_nan=False),
       roll=st.floats(-0.5, 0.5), pitch=st.floats(-0.5, 0.5))
def test_yaw_of_a_quaternion_is_its_z_euler_angle(yaw: float, roll: float, pitch: float) -> None:
    """The yaw of q = q_z(yaw) q_y(pitch) q_x(roll) (z-y-x Euler angles) is ``yaw``, the
    rotation about z alone gives it exactly, and a negated quaternion is the same rotation."""
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    q = (sr * cp * cy - cr * sp * sy, cr * sp * cy + sr * cp * sy,
         cr * cp * sy - sr * sp * cy, cr * cp * cy + sr * sp * sy)  # (x, y, z, w)
    got = yaw_of_quaternion(*q)
    assert math.remainder(got - yaw, 2 * math.pi) == pytest.approx(0.0, abs=1e-9)
    assert yaw_of_quaternion(*(-c for c in q)) == pytest.approx(got, abs=1e-12)
    assert yaw_of_quaternion(0.0, 0.0, sy, cy) == pytest.approx(
        math.remainder(yaw, 2 * math.pi), abs=1e-12)
