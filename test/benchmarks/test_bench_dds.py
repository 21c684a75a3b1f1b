"""benchmarks/bench_dds.py: backend list, rclpy environment, ratios, a short run on both."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / 'benchmarks' / 'bench_dds.py'


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location('bench_dds', SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def test_compare_gives_ours_over_rclpy_and_the_verdict() -> None:
    bench = _bench()
    dds = {'latency_p50_us': 100.0, 'latency_p99_us': 300.0, 'image_throughput_mb_s': 600.0,
           'pingpong_rtt_p50_us': 200.0, 'pingpong_rtt_p99_us': 900.0}
    rclpy = {'latency_p50_us': 200.0, 'latency_p99_us': 250.0, 'image_throughput_mb_s': 300.0,
             'pingpong_rtt_p50_us': 400.0, 'pingpong_rtt_p99_us': 900.0}
    ratios, verdict = bench.compare(dds, rclpy)
    assert ratios['latency_p50'] == 0.5 and ratios['latency_p99'] == 1.2
    assert ratios['image_throughput'] == 2.0 and ratios['pingpong_rtt_p99'] == 1.0
    assert verdict['latency_p50_no_slower'] and not verdict['latency_p99_no_slower']
    assert verdict['image_throughput_no_slower'] and verdict['pingpong_rtt_p99_no_slower']
    assert verdict['target_holds'] is False
    rclpy['latency_p99_us'] = 300.0
    assert bench.compare(dds, rclpy)[1]['target_holds'] is True


def test_rclpy_children_get_the_ros_environment_and_identical_dds_settings() -> None:
    bench = _bench()
    ros = {'PATH': '/opt/ros/jazzy/bin:/usr/bin', 'CYCLONEDDS_URI': 'file:///x.xml',
           'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET', 'PYTHONPATH': '/opt/ros/lib'}
    env = bench.backend_env('rclpy', 7, ros)
    assert env['IOR_ROS_BACKEND'] == 'rclpy' and env['RMW_IMPLEMENTATION'] == 'rmw_cyclonedds_cpp'
    assert env['ROS_DOMAIN_ID'] == '7' and env['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST'
    assert 'CYCLONEDDS_URI' not in env and env['PYTHONPATH'] == '/opt/ros/lib'
    dds = bench.backend_env('dds', 6, None)
    assert dds['IOR_ROS_BACKEND'] == 'dds' and dds['ROS_DOMAIN_ID'] == '6'
    assert dds['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST' and 'CYCLONEDDS_URI' not in dds


def test_rclpy_without_ros_is_one_error_line_and_status_2(tmp_path: Path) -> None:
    proc = _run('--backend', 'dds,rclpy', '--ros-setup', str(tmp_path / 'none' / 'setup.bash'))
    assert proc.returncode == 2 and proc.stdout == ''
    assert len(proc.stderr.strip().splitlines()) == 1
    assert 'needs ROS 2' in proc.stderr and 'setup.bash not found' in proc.stderr


def test_unknown_backend_is_a_usage_error() -> None:
    proc = _run('--backend', 'dds,fastdds')
    assert proc.returncode == 2 and "'dds,fastdds'" in proc.stderr


@pytest.mark.ros2
def test_short_run_on_both_backends() -> None:
    proc = _run('--backend', 'dds,rclpy', '--json', '--latency-n', '40', '--pingpong-n', '20',
                '--image-n', '5', '--startup-repeats', '1', timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result['backends_measured'] == ['dds', 'rclpy']
    assert result['latency_samples'] == 40 and 'raw_dds_latency_p50_us' in result  # old keys
    for name, data_type in (('dds', 'ndarray'), ('rclpy', 'array')):
        figures = result['backends'][name]
        assert figures['latency_samples'] == 40 and figures['pingpong_rtt_samples'] == 20
        assert figures['images_received'] == 5 and figures['image_bytes'] == 1024 * 1024
        assert figures['image_data_type_received'] == data_type  # each ran on its own backend
    assert set(result['ratios_dds_over_rclpy']) >= {'latency_p50', 'latency_p99',
                                                    'image_throughput'}
    assert isinstance(result['vs_rclpy']['target_holds'], bool)
    assert 'on rclpy' in proc.stderr  # progress
