"""Robot models: ZOH double integrators, delay forms, shape validation, unicycle geometry."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

from ior_ros.core.control.robot_models import (
    DelayedPlant,
    DelayForm,
    check_gain,
    double_integrator_axis,
    path_geometry,
    planar_double_integrator,
    seed_state_delay_plant,
    split_identical_axes,
    unicycle_inputs,
    unicycle_step,
    validate_delay_steps,
)
from ior_ros.core.errors import DimensionError, ModelError


@pytest.mark.parametrize('period', [0.01, 0.002, 0.1])
def test_double_integrator_is_the_exact_zoh_discretisation(period: float) -> None:
    # ZOH of ẋ = [[0, 1], [0, 0]] x + [0, 1]ᵀ u via the matrix exponential of the augmented system
    aug = np.zeros((3, 3))
    aug[0, 1] = 1.0
    aug[1, 2] = 1.0
    phi = scipy.linalg.expm(aug * period)
    a, b = double_integrator_axis(period)
    np.testing.assert_allclose(a, phi[:2, :2], atol=1e-14)
    np.testing.assert_allclose(b, phi[:2, 2:], atol=1e-14)


def test_planar_base_is_two_identical_axes() -> None:
    plant = planar_double_integrator(0.01)
    a, b = double_integrator_axis(0.01)
    assert plant.A.shape == (4, 4) and plant.B.shape == (4, 2)
    np.testing.assert_array_equal(plant.A[:2, :2], a)
    np.testing.assert_array_equal(plant.A[2:, 2:], a)
    np.testing.assert_array_equal(plant.A[:2, 2:], 0.0)
    np.testing.assert_array_equal(plant.B[2:, 1:], b)
    assert plant.delay_form is DelayForm.INPUT and plant.sample_period_s == 0.01


def test_input_and_state_delay_loops() -> None:
    plant = planar_double_integrator(0.01)
    gain = np.array([[2.0, 1.0, 0, 0], [0, 0, 2.0, 1.0]])
    loop = plant.closed_loop(gain)
    np.testing.assert_array_equal(loop.A0, plant.A)
    np.testing.assert_allclose(loop.A1, -plant.B @ gain)
    a, b = double_integrator_axis(0.01)
    a_d = 0.01 * np.eye(2)
    seed = seed_state_delay_plant(a, b, a_d)
    k = np.array([[3.0, 2.0]])
    loop = seed.closed_loop(k)
    np.testing.assert_allclose(loop.A0, a - b @ k)
    np.testing.assert_array_equal(loop.A1, a_d)


def test_non_square_a_names_the_matrix_and_shape() -> None:
    with pytest.raises(DimensionError, match=r'A must be square, got shape \(2, 3\)'):
        DelayedPlant(np.zeros((2, 3)), np.zeros((2, 1)))


def test_b_rows_mismatch_names_both_shapes() -> None:
    with pytest.raises(DimensionError, match=r'B shape \(3, 1\).*A shape \(2, 2\)'):
        DelayedPlant(np.eye(2), np.zeros((3, 1)))


def test_gain_mismatch_names_k_a_and_b() -> None:
    plant = planar_double_integrator()
    with pytest.raises(DimensionError,
                       match=r'K shape \(2, 3\).*A shape \(4, 4\).*B shape \(4, 2\).*\(2, 4\)'):
        check_gain(plant, np.zeros((2, 3)))
    with pytest.raises(DimensionError, match=r'K shape \(1, 4\)'):
        plant.closed_loop(np.zeros((1, 4)))


def test_state_delay_matrix_shape_and_presence() -> None:
    with pytest.raises(DimensionError, match=r'A_d shape \(3, 3\).*A shape \(2, 2\)'):
        DelayedPlant(np.eye(2), np.ones((2, 1)), 0.01, DelayForm.STATE, np.eye(3))
    with pytest.raises(ModelError, match='needs A_d'):
        DelayedPlant(np.eye(2), np.ones((2, 1)), 0.01, DelayForm.STATE)


@pytest.mark.parametrize('period', [0.0, -0.01, float('nan'), float('inf')])
def test_sampling_period_must_be_positive(period: float) -> None:
    with pytest.raises(ModelError, match='sample_period_s'):
        planar_double_integrator(period)
    with pytest.raises(ModelError, match='sample_period_s'):
        DelayedPlant(np.eye(2), np.ones((2, 1)), period)


def test_negative_or_fractional_delay_is_rejected() -> None:
    with pytest.raises(ModelError, match='cannot be negative'):
        validate_delay_steps(-1)
    with pytest.raises(ModelError, match='integer'):
        validate_delay_steps(2.5)
    assert validate_delay_steps(3.0) == 3


def test_non_finite_matrix_rejected() -> None:
    with pytest.raises(ModelError, match='NaN or infinite'):
        DelayedPlant(np.array([[1.0, np.nan], [0, 1]]), np.ones((2, 1)))


def test_plant_round_trip() -> None:
    plant = planar_double_integrator(0.02)
    back = DelayedPlant.from_dict(plant.to_dict())
    np.testing.assert_array_equal(back.A, plant.A)
    np.testing.assert_array_equal(back.B, plant.B)
    assert back.sample_period_s == 0.02 and back.delay_form is DelayForm.INPUT
    assert plant.to_dict()['delay'] == 'input'


def test_split_identical_axes() -> None:
    plant = planar_double_integrator()
    gain = np.kron(np.eye(2), [[3.0, 1.5]])
    split = split_identical_axes(plant, gain)
    assert split is not None and split.copies == 2
    np.testing.assert_array_equal(split.K, [[3.0, 1.5]])
    uneven = gain.copy()
    uneven[1, 2] = 3.1
    assert split_identical_axes(plant, uneven) is None


def test_path_geometry_of_a_circle() -> None:
    radius, speed = 2.0, 0.7
    phase = np.linspace(0, 2 * np.pi, 50)
    vel = speed * np.stack([-np.sin(phase), np.cos(phase)], axis=-1)
    acc = -(speed ** 2 / radius) * np.stack([np.cos(phase), np.sin(phase)], axis=-1)
    geom = path_geometry(vel, acc)
    np.testing.assert_allclose(geom.curvature_per_m, 1.0 / radius)
    np.testing.assert_allclose(geom.speed_mps, speed)
    np.testing.assert_allclose(np.cos(geom.heading_rad), -np.sin(phase), atol=1e-12)
    slow = path_geometry(np.zeros((1, 2)), np.ones((1, 2)))
    assert np.isnan(slow.curvature_per_m[0])


def test_unicycle_inputs_invert_the_dynamic_extension() -> None:
    # constant speed on a circle: no longitudinal acceleration, ω = v / R
    radius, speed, heading = 2.0, 0.7, 0.3
    centripetal = (speed ** 2 / radius) * np.array([-math.sin(heading), math.cos(heading)])
    inputs = unicycle_inputs(heading, speed, centripetal)
    assert abs(float(inputs.longitudinal_acceleration_mps2)) < 1e-12
    assert float(inputs.yaw_rate_radps) == pytest.approx(speed / radius)


def test_unicycle_step_follows_the_circle() -> None:
    radius, speed, dt = 1.5, 0.5, 0.01
    state = np.array([radius, 0.0, math.pi / 2, speed])
    for _ in range(300):
        state = unicycle_step(state, 0.0, speed / radius, dt)
    angle = speed / radius * 3.0
    np.testing.assert_allclose(state[:2], [radius * math.cos(angle), radius * math.sin(angle)],
                               atol=1e-9)
    assert state[3] == pytest.approx(speed)
