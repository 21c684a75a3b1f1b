"""The figure eight's one-time velocity (what the teleop_operator asks every tick)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ior_ros.core.control.figure_eight import FigureEight


@settings(max_examples=300, deadline=None)
@given(t=st.floats(min_value=0.0, max_value=1e6, allow_nan=False),
       amplitude=st.floats(min_value=0.01, max_value=100.0),
       period=st.floats(min_value=0.5, max_value=3600.0))
def test_velocity_at_is_the_sampled_velocity_bit_for_bit(t: float, amplitude: float,
                                                         period: float) -> None:
    figure = FigureEight(amplitude, period)
    vx, vy = figure.velocity_at(t)
    expected = figure.sample([t]).velocity_mps[0]
    assert type(vx) is float and type(vy) is float
    assert (vx, vy) == (float(expected[0]), float(expected[1]))


def test_velocity_at_is_the_derivative_of_the_position() -> None:
    figure = FigureEight(1.0, 10.0)
    h = 1e-6
    for t in np.linspace(0.0, 10.0, 37).tolist():
        ahead, behind = figure.sample([t + h, t - h]).position_m
        np.testing.assert_allclose(figure.velocity_at(t), (ahead - behind) / (2 * h), atol=1e-7)
