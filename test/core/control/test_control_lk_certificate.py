"""LK certificates (LMI (a)), each checked with the independent lifted test."""

from __future__ import annotations

import numpy as np
import pytest

from ior_ros.core.control.gain_adjustment import AdjustOptions, adjust
from ior_ros.core.control.lifted_stability import (
    input_delay_spectral_radius,
    lifted_spectral_radius,
    spectral_radius_profile,
)
from ior_ros.core.control.lk_certificate import (
    LkCertificate,
    certified_delay_bound,
    certify,
    certify_constant,
    certify_interval,
    is_certified,
    verify_certificate,
)
from ior_ros.core.control.lk_functional import CertificateKind, LmiOptions
from ior_ros.core.control.lqr_design import LqrWeights, dlqr
from ior_ros.core.control.robot_models import (
    DelayedPlant,
    double_integrator_axis,
    seed_state_delay_plant,
)
from ior_ros.core.errors import ControlError, DimensionError, ModelError


def test_certify_accepts_a_known_stable_case(plant, nominal_gain) -> None:
    cert = certify(nominal_gain, 12, plant=plant)
    assert cert.kind is CertificateKind.INTERVAL
    assert (cert.min_delay_steps, cert.max_delay_steps) == (0, 12)
    assert all(v < 0 for v in cert.psi_max_eigenvalues) and cert.normalized_margin > 0
    assert float(np.min(np.linalg.eigvalsh(cert.multipliers['P']))) >= 1.0 - 1e-6
    # the independent exact test agrees for every constant delay in the certified range
    assert spectral_radius_profile(plant.A, plant.B, nominal_gain, 12).max() < 1.0


def test_certify_rejects_a_known_unstable_case(plant, nominal_gain) -> None:
    # the nominal loop is exactly unstable at the constant delay 14 (rho > 1): no certificate
    assert input_delay_spectral_radius(plant.A, plant.B, nominal_gain, 14) > 1.0
    with pytest.raises(ControlError, match=r'h=14.*infeasible'):
        certify(nominal_gain, 14, plant=plant)
    assert not is_certified(nominal_gain, 14, plant=plant)


def test_certified_bound_of_the_nominal_gain(plant, nominal_gain) -> None:
    # certified on [0, 12]; exact constant-delay margin 13: a gap of one sample
    assert certified_delay_bound(nominal_gain, 20, plant=plant) == 12


def test_per_axis_and_full_size_agree(plant, nominal_gain) -> None:
    full = LmiOptions(per_axis=False)
    assert is_certified(nominal_gain, 12, plant=plant, options=full)
    assert not is_certified(nominal_gain, 13, plant=plant, options=full)
    assert is_certified(nominal_gain, 12, plant=plant)
    assert not is_certified(nominal_gain, 13, plant=plant)


@pytest.mark.parametrize(('delay', 'decay'), [(5, 0.99), (10, 0.995), (0, 0.97)])
def test_constant_delay_certificate_implies_the_exact_decay(plant, nominal_gain, delay,
                                                            decay) -> None:
    cert = certify_constant(nominal_gain, delay, decay, plant=plant)
    assert cert.kind is CertificateKind.CONSTANT
    loop = plant.closed_loop(nominal_gain)
    assert lifted_spectral_radius(loop.A0, loop.A1, delay) < decay


def test_decay_rate_shrinks_the_certified_range(plant, nominal_gain) -> None:
    assert is_certified(nominal_gain, 11, 0.995, plant=plant)
    assert not is_certified(nominal_gain, 12, 0.995, plant=plant)


def test_interval_certificate(plant, lqr_weights) -> None:
    gain = adjust(dlqr(plant, lqr_weights).gain, 20, plant=plant, lqr_weights=lqr_weights,
                  adjust_options=AdjustOptions(vk_iterations=0)).gain
    cert = certify_interval(gain, 10, 20, plant=plant)
    assert (cert.min_delay_steps, cert.max_delay_steps) == (10, 20)
    assert set(cert.multipliers) == {'P', 'Q', 'R', 'Q2', 'R2', 'S'}
    loop = plant.closed_loop(gain)
    assert max(lifted_spectral_radius(loop.A0, loop.A1, d) for d in range(10, 21)) < 1.0


def test_every_certificate_is_reverified(plant, nominal_gain) -> None:
    cert = certify(nominal_gain, 10, plant=plant)
    again = verify_certificate(plant, cert.gain, cert.kind, 0, 10, 1.0, cert.multipliers)
    assert again.psi_max_eigenvalues == pytest.approx(cert.psi_max_eigenvalues)
    # the same matrices do not certify a gain that is exactly unstable within the range
    with pytest.raises(ControlError, match='h=10.*re-verification'):
        verify_certificate(plant, 3.0 * nominal_gain, cert.kind, 0, 10, 1.0, cert.multipliers)
    # nor a wider range
    with pytest.raises(ControlError, match='re-verification'):
        verify_certificate(plant, cert.gain, cert.kind, 0, 16, 1.0, cert.multipliers)
    # a multiplier that is not PSD is caught
    broken = dict(cert.multipliers)
    broken['Q'] = -np.eye(4)
    with pytest.raises(ControlError, match='Q is not positive semidefinite'):
        verify_certificate(plant, cert.gain, cert.kind, 0, 10, 1.0, broken)


def test_certificate_round_trip_verifies(plant, nominal_gain) -> None:
    cert = certify(nominal_gain, 8, plant=plant)
    doc = cert.to_dict()
    back = LkCertificate.from_dict(doc, plant)
    np.testing.assert_array_equal(back.gain, cert.gain)
    doc['multipliers']['P'] = (-np.eye(4)).tolist()
    with pytest.raises(ControlError, match='P is not positive definite'):
        LkCertificate.from_dict(doc, plant)


def test_bad_inputs(plant, nominal_gain) -> None:
    with pytest.raises(DimensionError, match=r'K shape \(2, 3\).*A shape \(4, 4\)'):
        certify(np.zeros((2, 3)), 5, plant=plant)
    with pytest.raises(ModelError, match='negative'):
        certify(nominal_gain, -1, plant=plant)
    with pytest.raises(ModelError, match='decay_rate'):
        certify(nominal_gain, 5, 1.5, plant=plant)
    with pytest.raises(ModelError, match='min_delay_steps = 6 > max_delay_steps = 5'):
        certify_interval(nominal_gain, 6, 5, plant=plant)


def test_seed_state_delay_form() -> None:
    a, b = double_integrator_axis(0.01)
    a_d = 0.002 * np.eye(2)
    seed = seed_state_delay_plant(a, b, a_d)
    gain = dlqr(DelayedPlant(a, b), LqrWeights(np.diag([900.0, 1.0]), np.eye(1))).gain
    cert = certify(gain, 30, plant=seed)
    assert cert.max_delay_steps == 30
    loop = seed.closed_loop(gain)
    assert max(lifted_spectral_radius(loop.A0, loop.A1, d) for d in range(31)) < 1.0
    # a strongly coupled delayed state that is exactly unstable at d = 5 cannot be certified
    bad = seed_state_delay_plant(a, b, np.array([[0.0, 0.0], [-3.0, 0.0]]))
    loop = bad.closed_loop(gain)
    assert lifted_spectral_radius(loop.A0, loop.A1, 5) > 1.0
    with pytest.raises(ControlError, match='h=5'):
        certify(gain, 5, plant=bad)
