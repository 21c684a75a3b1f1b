"""
The three simulators of the delayed figure-eight loop are one model: the whole-run tracking
simulation (control), the slicing task's robots (slicing) and the twin's robot env (twin) give the
same trajectory for the same delays, disturbances and commands.

Each wrapper is also checked bit for bit against a replay through the bare transition in its own
room's tests; here the three run side by side on a common scenario (no disturbance, a constant
4-sample delay, the nominal LQR, the 1 m / 10 s figure eight from phase 0). They differ only in
what the actuator holds before the first command arrives (the feed-forward of sample -1, of
sample 0, or of the commands' send times) and in the last digits of the LQR gain (the shipped
schedule's vs one solved here): tens of micrometres in the first samples, which the loop forgets
within 3 s; after that the three agree to 1e-9 m.
"""

from __future__ import annotations

import numpy as np

from ior_ros.core.control.control_config import ControlConfig, TrackingConfig
from ior_ros.core.control.figure_eight import FigureEight
from ior_ros.core.control.gain_schedule import REFERENCE_SCHEDULE, GainSchedule
from ior_ros.core.control.tracking_dynamics import position_error, tracking_error
from ior_ros.core.control.tracking_sim import ControllerKind, DelayPattern, simulate_tracking
from ior_ros.core.slicing.config import make_slicing_config
from ior_ros.core.slicing.teleop_tracking import TrackingDexterity
from ior_ros.core.twin.envs import RobotTrackingEnv

DELAY = 4
SLOTS = 20  # of 0.5 s: 1000 samples
QUIET = {'disturbance_std_mps2': 0.0, 'noise_std_mps2': 0.0}
SETTLED = 300  # samples


def test_the_three_wrappers_give_the_same_trajectory() -> None:
    schedule = GainSchedule.load(REFERENCE_SCHEDULE, verify=False)
    gain = schedule.nominal_gain
    steps = SLOTS * 50

    tracking = TrackingConfig(n_slots=SLOTS, nominal_delay_steps=(DELAY, DELAY),
                              delay_jitter_steps=0, **QUIET)
    whole_run = simulate_tracking(ControlConfig(tracking=tracking), schedule,
                                  ControllerKind.NOMINAL, DelayPattern.NOMINAL, 0,
                                  [np.random.default_rng(0)], record=True)
    assert whole_run.tracking_error_trace_m is not None
    simulation = whole_run.tracking_error_trace_m[0]

    robots = TrackingDexterity(make_slicing_config(n_urllc=1, task={'reference': {
        'period_s': 10.0}}), tracking=TrackingConfig(**QUIET))
    robots.reset(np.random.default_rng(0))
    slicing = []
    for _ in range(steps):
        slicing.append(float(position_error(robots.state.x
                                            - _reference(robots.state.step))[0]))
        robots.advance(np.array([DELAY * 0.01]))

    env = RobotTrackingEnv(command_delay_steps=DELAY, initial_error_std_m=0.0, **QUIET)
    env.reset(seed=0, options={'time_offset_s': 0.0})
    params = env.config.dynamics()
    twin = []
    for k in range(steps):
        error = tracking_error(env.state, params)
        twin.append(float(position_error(error)[0]))
        _, acc = params.reference.state([k * 0.01])
        env.step((acc - error @ gain.T)[0].astype(np.float32))

    slicing_errors, twin_errors = np.array(slicing), np.array(twin)
    assert simulation.max() > 1e-3  # the delay costs millimetres: the comparison is not trivial
    # the start differs by what the actuator holds before the first command arrives ...
    for errors in (slicing_errors, twin_errors):
        np.testing.assert_allclose(errors[:SETTLED], simulation[:SETTLED], rtol=0, atol=1e-4)
    # ... which the loop forgets within 3 s: then the same trajectory, to the gain's last digits
    # (and the twin's float32 actions)
    for errors in (slicing_errors, twin_errors):
        np.testing.assert_allclose(errors[SETTLED:], simulation[SETTLED:], rtol=0, atol=1e-9)


def _reference(step: int) -> np.ndarray:
    """The 1 m / 10 s reference state at a sample ``[1, 4]``."""
    return FigureEight(1.0, 10.0).state([step * 0.01])[0]
