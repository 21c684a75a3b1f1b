"""
Offline build of the gain schedule (:mod:`~ior_ros.core.control.gain_schedule`): for every delay
bound ``h = 0..H`` the certified gain closest to the nominal LQR gain, ``K̂(h)``
(:func:`~ior_ros.core.control.gain_adjustment.adjust`), computed in parallel over h (worker
processes), with the exact lifted spectral radius and constant-delay margin of every gain.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import numpy as np

from ior_ros.core.control.control_config import ControlConfig, FallbackPolicy
from ior_ros.core.control.gain_adjustment import AdjustOptions, adjust
from ior_ros.core.control.gain_schedule import GainSchedule, ScheduleEntry
from ior_ros.core.control.lifted_stability import exact_delay_margin, spectral_radius_profile
from ior_ros.core.control.lk_functional import LmiOptions
from ior_ros.core.control.lqr_design import LqrWeights, dlqr, reference_lqr_weights
from ior_ros.core.control.robot_models import (
    DelayedPlant,
    check_gain,
    planar_double_integrator,
    validate_delay_steps,
)
from ior_ros.core.errors import ControlError, ModelError
from ior_ros.core.progress import ProgressFn

__all__ = ['build_schedule', 'schedule_from_config', 'schedule_fingerprint', 'default_workers',
           'lmi_options_from_config', 'adjust_options_from_config']


def default_workers() -> int:
    """``min(2, cpu count)``."""
    return max(1, min(2, os.cpu_count() or 1))


def _entry_job(plant_doc: dict[str, Any], nominal: list[list[float]], q: list[list[float]],
               r: list[list[float]], h: int, decay: float, lmi: LmiOptions,
               adjust_options: AdjustOptions) -> dict[str, Any]:
    """One h (runs in a worker process); returns the entry's JSON form."""
    plant = DelayedPlant.from_dict(plant_doc)
    weights = LqrWeights(np.array(q), np.array(r))
    try:
        result = adjust(np.array(nominal), h, decay, plant=plant, lqr_weights=weights,
                        options=lmi, adjust_options=adjust_options)
    except ControlError as exc:
        return ScheduleEntry(h, None, False, reason=str(exc)).to_dict()
    profile = spectral_radius_profile(plant.A, plant.B, result.gain, h)
    margin = exact_delay_margin(plant.A, plant.B, result.gain, h + 60)
    entry = ScheduleEntry(h, result.gain, True, result.certificate, result.distance,
                          result.method, result.detune_factor, float(np.max(profile)),
                          margin.margin_steps)
    return entry.to_dict()


def build_schedule(plant: DelayedPlant, nominal_gain: object, lqr_weights: LqrWeights,
                   max_delay_steps: int, decay_rate: float = 1.0, *,
                   options: LmiOptions | None = None,
                   adjust_options: AdjustOptions | None = None, workers: int | None = None,
                   progress: ProgressFn | None = None,
                   fallback: FallbackPolicy = FallbackPolicy.MOST_CONSERVATIVE,
                   metadata: Mapping[str, Any] | None = None,
                   extra_profile_steps: int = 10) -> GainSchedule:
    """
    Build ``K̂(h)`` for ``h = 0..H`` in parallel over h (worker processes).

    Each entry is :func:`adjust`'s closest certified gain; an infeasible h gives an uncertified
    entry with the ControlError's message as its reason. The result does not depend on the
    number of workers (each h is solved independently).

    Args:
        workers: processes (None: ``min(2, cpu)``); 1 runs in this process.
        progress: called with 1 each time an entry h is done (H + 1 calls).
    """
    top = validate_delay_steps(max_delay_steps)
    k = check_gain(plant, nominal_gain)
    options = options or LmiOptions()
    adjust_options = adjust_options or AdjustOptions()
    count = workers if workers is not None else default_workers()
    if count < 1:
        raise ModelError(f'workers = {count}: must be >= 1')
    args = [(plant.to_dict(), k.tolist(), lqr_weights.Q.tolist(), lqr_weights.R.tolist(), h,
             float(decay_rate), options, adjust_options) for h in range(top + 1)]
    results: dict[int, dict[str, Any]] = {}
    if count == 1:
        for job in args:
            results[job[4]] = _entry_job(*job)
            if progress is not None:
                progress(1)
    else:
        # the slowest bounds (just above the nominal margin) first
        with ProcessPoolExecutor(max_workers=count) as pool:
            futures = {pool.submit(_entry_job, *job): job[4] for job in args}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if progress is not None:
                    progress(1)
    doc = {'plant': plant.to_dict(), 'nominal_gain': k.tolist(), 'decay_rate': float(decay_rate),
           'fallback': FallbackPolicy(fallback).value,
           'entries': [results[h] for h in range(top + 1)],
           'nominal_spectral_radius': {'values': [0.0] * (top + extra_profile_steps + 1)},
           **dict(metadata or {})}
    # entries were verified in the workers; verify again here (cheap) so what we hold is checked
    return GainSchedule.from_dict(doc, verify=True)


def schedule_fingerprint(config: ControlConfig) -> str:
    """SHA-256 of everything that determines the schedule's gains (not the worker count)."""
    relevant = {
        'plant': config.plant.model_dump(mode='json'),
        'lqr': config.lqr.model_dump(mode='json'),
        'certificate': config.certificate.model_dump(mode='json'),
        'schedule': config.schedule.model_dump(mode='json', exclude={'workers', 'fallback'}),
    }
    text = json.dumps(relevant, sort_keys=True)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]


def lmi_options_from_config(config: ControlConfig) -> LmiOptions:
    """The LMI options of a configuration."""
    return LmiOptions(epsilon=config.certificate.epsilon, solver=config.certificate.solver,
                      per_axis=config.certificate.per_axis)


def adjust_options_from_config(config: ControlConfig) -> AdjustOptions:
    """The adjustment options of a configuration."""
    sched = config.schedule
    grid = tuple(float(v) for v in np.logspace(math.log10(sched.detune_min),
                                               math.log10(sched.detune_max),
                                               sched.detune_points))
    return AdjustOptions(detune_grid=grid, bisection_steps=sched.bisection_steps,
                         vk_iterations=sched.vk_iterations, vk_tolerance=sched.vk_tolerance)


def schedule_from_config(config: ControlConfig, max_delay_steps: int | None = None, *,
                         workers: int | None = None, progress: ProgressFn | None = None
                         ) -> GainSchedule:
    """
    Build the schedule of the reference robot described by ``config`` (``progress``: see
    :func:`build_schedule`).
    """
    plant = planar_double_integrator(config.plant.sample_period_s, config.plant.axes)
    weights = reference_lqr_weights(config.plant.axes, config.lqr.position_weight,
                                    config.lqr.velocity_weight, config.lqr.input_weight)
    nominal = dlqr(plant, weights).gain
    top = config.schedule.max_delay_steps if max_delay_steps is None else max_delay_steps
    metadata = {'config_fingerprint': schedule_fingerprint(config.model_copy(
        update={'schedule': config.schedule.model_copy(update={'max_delay_steps': top})})),
        'lqr_weights': {'Q': weights.Q.tolist(), 'R': weights.R.tolist()}}
    return build_schedule(plant, nominal, weights, top, config.certificate.decay_rate,
                          options=lmi_options_from_config(config),
                          adjust_options=adjust_options_from_config(config),
                          workers=workers if workers is not None else config.schedule.workers,
                          progress=progress, fallback=config.schedule.fallback,
                          metadata=metadata,
                          extra_profile_steps=config.schedule.extra_profile_steps)
