"""
``ior reproduce closed-loop`` (ior_ros/experiments/closed_loop.py): one cell of the table runs the
five node classes in one process and measures the run; the same seed gives the same metrics; the
claims compare paired runs with their noise.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from ior_ros.core.config import load_config
from ior_ros.experiments.closed_loop import ClosedLoopConfig, _claims, run_cell
from ior_ros.runtime.packages import find_package_share

pytestmark = pytest.mark.timeout(600)


def _config(**changes: Any) -> ClosedLoopConfig:
    path = find_package_share('ior_ros') / 'config' / 'closed_loop.yaml'
    base = load_config(ClosedLoopConfig, path, [], section='closed_loop')
    return base.model_copy(update=changes)


def test_one_cell_runs_the_whole_system_and_repeats_from_its_seed() -> None:
    config = _config()
    first = run_cell(config, 'dpp', 'certified', True, seed=4, duration_s=6.0)
    print({k: first[k] for k in ('urllc_violation_rate', 'tracking_rmse_m', 'vetoes',
                                 'gain_uncertified_s', 'commands_sent')})
    assert first['closed'] and first['commands_sent'] > 400  # ~100 commands/s
    assert 0.0 <= first['urllc_violation_rate'] <= 1.0
    assert math.isfinite(first['tracking_rmse_m']) and not first['diverged']
    assert first['gain_uncertified_s'] >= 0.0
    assert math.isfinite(first['video_latency_p99_ms'])  # the robot's video crossed eMBB
    again = run_cell(config, 'dpp', 'certified', True, seed=4, duration_s=6.0)
    assert again == first  # one process, virtual time: the seed decides everything
    other = run_cell(config, 'dpp', 'certified', True, seed=5, duration_s=6.0)
    assert other['seed'] == 5  # ... and another seed reaches every node: another run
    assert other['tracking_rmse_m'] != first['tracking_rmse_m']
    assert other['urllc_violation_rate'] != first['urllc_violation_rate']


def test_without_the_twin_slips_reach_the_robot() -> None:
    """The operator slips (config: 0.2/s; here 2/s to see some in 6 s): with the twin they are
    vetoed, without it they are executed and the tracking error jumps."""
    config = _config(operator={'slip_rate_per_s': 2.0},
                     emulator={'urllc_background_bps': 1e6})  # no congestion: slips alone
    on = run_cell(config, 'pf', 'certified', True, seed=2, duration_s=6.0)
    off = run_cell(config, 'pf', 'certified', False, seed=2, duration_s=6.0)
    assert on['vetoes'] > 0 and off['vetoes'] == 0
    assert off['max_tracking_error_m'] > 10 * on['max_tracking_error_m']


def _cell(policy: str, controller: str, twin: bool, rates: list[float],
          diverged: int = 0) -> dict[str, Any]:
    runs = [{'urllc_violation_rate': r, 'commands_sent': 1000} for r in rates]
    return {'policy': policy, 'controller': controller, 'twin': twin,
            'urllc_violation_rate': sum(rates) / len(rates), 'divergences': diverged,
            'vetoes': 5 if twin else 0, 'runs': runs}


def test_claims_compare_paired_runs_beyond_their_noise() -> None:
    pf = _cell('pf', 'certified', True, [0.20, 0.30, 0.25])
    close = _cell('dpp', 'certified', True, [0.21, 0.30, 0.26])  # +0.7 pp, within noise
    worse = _cell('drl', 'certified', True, [0.25, 0.35, 0.30])  # +5 pp in every pair
    claims = {c.text: c for c in _claims([pf, close, worse], seeds=3)}
    assert claims['full system (DPP): URLLC violations no more than PF (same controller, twin '
                  'on; paired runs, beyond noise)'].holds
    assert not claims['full system (DRL): URLLC violations no more than PF (same controller, '
                      'twin on; paired runs, beyond noise)'].holds
    diverging = _cell('dpp', 'certified', True, [0.2, 0.2, 0.2], diverged=1)
    claims = {c.text: c for c in _claims([pf, diverging], seeds=3)}
    assert not claims['full system (DPP broker, certified schedule, twin on): no '
                      'divergence'].holds
