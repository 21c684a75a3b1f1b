"""Discrete LQR (scalar closed form) and the exact lifted test (both liftings, simulation)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ior_ros.core.control.lifted_stability import (
    exact_delay_margin,
    growth_steps,
    input_buffer_lifted_matrix,
    input_delay_spectral_radius,
    lifted_spectral_radius,
    state_lifted_matrix,
)
from ior_ros.core.control.lqr_design import LqrWeights, detuned_lqr, dlqr, reference_lqr_weights
from ior_ros.core.control.robot_models import DelayedPlant, planar_double_integrator
from ior_ros.core.errors import ControlError, DimensionError, ModelError


@pytest.mark.parametrize(('a', 'b', 'q', 'r'), [(1.0, 1.0, 1.0, 1.0), (1.2, 0.5, 2.0, 0.3),
                                                (0.9, 2.0, 0.0, 1.0), (1.0, 0.01, 900.0, 1.0)])
def test_scalar_lqr_matches_the_closed_form(a: float, b: float, q: float, r: float) -> None:
    # S solves b² S² + (r - q b² - a² r) S - q r = 0 (positive root); K = a b S / (r + b² S)
    c = r - q * b * b - a * a * r
    s = (-c + math.sqrt(c * c + 4 * b * b * q * r)) / (2 * b * b)
    design = dlqr(DelayedPlant([[a]], [[b]]), LqrWeights([[q]], [[r]]))
    assert float(design.riccati[0, 0]) == pytest.approx(s, rel=1e-9)
    assert float(design.gain[0, 0]) == pytest.approx(a * b * s / (r + b * b * s), rel=1e-9)
    assert abs(complex(design.closed_loop_poles[0])) < 1.0


def test_reference_gain_solves_the_riccati_equation(plant, nominal_gain, lqr_weights) -> None:
    design = dlqr(plant, lqr_weights)
    a, b, s = plant.A, plant.B, design.riccati
    residual = a.T @ s @ a - a.T @ s @ b @ np.linalg.solve(
        lqr_weights.R + b.T @ s @ b, b.T @ s @ a) + lqr_weights.Q - s
    assert np.max(np.abs(residual)) < 1e-8 * np.max(np.abs(s))
    # the prototype's published gain (reference §7): K = I ⊗ [28.85, 7.66]
    np.testing.assert_allclose(nominal_gain[0, :2], [28.85, 7.66], atol=0.01)
    np.testing.assert_allclose(nominal_gain[1, 2:], [28.85, 7.66], atol=0.01)


def test_detuning_slows_the_gain(plant, lqr_weights) -> None:
    norms = [np.linalg.norm(detuned_lqr(plant, lqr_weights, s)) for s in (1.0, 10.0, 100.0)]
    assert norms[0] > norms[1] > norms[2]


def test_lqr_errors() -> None:
    with pytest.raises(ModelError, match='R must be positive definite'):
        LqrWeights(np.eye(2), [[0.0]])
    with pytest.raises(DimensionError, match=r'Q shape \(3, 3\).*A shape \(4, 4\)'):
        dlqr(planar_double_integrator(), LqrWeights(np.eye(3), np.eye(2)))
    with pytest.raises(ControlError, match='Riccati'):
        dlqr(DelayedPlant([[1.5]], [[0.0]]), LqrWeights([[1.0]], [[1.0]]))


def test_both_liftings_agree(rng: np.random.Generator, plant) -> None:
    for _ in range(20):
        gain = np.abs(rng.normal(size=(2, 4))) * np.array([30.0, 8.0, 30.0, 8.0])
        for d in (0, 1, 2, 7, 15, 30):
            rho_state = lifted_spectral_radius(plant.A, -plant.B @ gain, d)
            rho_input = input_delay_spectral_radius(plant.A, plant.B, gain, d)
            assert rho_state == pytest.approx(rho_input, rel=1e-9, abs=1e-12)


def test_lifting_shapes() -> None:
    a, b, k = np.eye(3), np.ones((3, 2)), np.ones((2, 3))
    assert state_lifted_matrix(a, -b @ k, 4).shape == (15, 15)
    assert input_buffer_lifted_matrix(a, b, k, 4).shape == (3 + 2 * 4, 3 + 2 * 4)
    with pytest.raises(DimensionError, match=r'K shape \(3, 3\)'):
        input_buffer_lifted_matrix(a, b, np.ones((3, 3)), 2)
    with pytest.raises(ModelError, match='>= 0'):
        state_lifted_matrix(a, a, -1)


def test_scalar_delay_closed_form() -> None:
    # x(k+1) = x(k) - c x(k-1): characteristic polynomial z² - z + c
    for c in (0.1, 0.5, 0.9, 1.1):
        roots = np.roots([1.0, -1.0, c])
        assert lifted_spectral_radius([[1.0]], [[-c]], 1) == pytest.approx(
            float(np.max(np.abs(roots))))


def _simulate_growth(plant, gain, delay, steps=6000):
    """Empirical growth per sample of x(k+1) = A x(k) - B K x(k - d): slope of log |history|."""
    rng = np.random.default_rng(3)
    history = [rng.normal(size=4) for _ in range(delay + 1)]
    logs = []
    for _ in range(steps):
        history.append(plant.A @ history[-1] - plant.B @ gain @ history[-1 - delay])
        history.pop(0)
        logs.append(math.log(np.linalg.norm(np.concatenate(history))))
    tail = np.arange(steps // 2, steps)
    slope = np.polyfit(tail, np.array(logs)[tail], 1)[0]
    return math.exp(slope)


def test_nominal_lqr_loses_stability_beyond_its_delay_margin(plant, nominal_gain) -> None:
    margin = exact_delay_margin(plant.A, plant.B, nominal_gain, 60)
    assert margin.margin_steps == 13 and margin.first_unstable_steps == 14
    assert margin.radius_at_first_unstable is not None and margin.radius_at_first_unstable > 1
    for d in range(0, 14):
        assert input_delay_spectral_radius(plant.A, plant.B, nominal_gain, d) < 1.0
    for d in (14, 20, 30):
        rho = input_delay_spectral_radius(plant.A, plant.B, nominal_gain, d)
        assert rho > 1.0
        # the exact growth rate is what a simulation of the delayed loop shows
        assert _simulate_growth(plant, nominal_gain, d) == pytest.approx(rho, abs=5e-4)
    assert _simulate_growth(plant, nominal_gain, 13) < 1.0


def test_growth_steps() -> None:
    assert growth_steps(0.99, 3.0) == math.inf
    assert growth_steps(1.01, 3.0) == pytest.approx(math.log(3.0) / math.log(1.01))
    with pytest.raises(ModelError):
        growth_steps(1.01, 1.0)


def test_reference_weights_shape() -> None:
    weights = reference_lqr_weights(axes=3)
    assert weights.Q.shape == (6, 6) and weights.R.shape == (3, 3)
