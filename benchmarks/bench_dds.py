"""
DDS runtime benchmark: latency, 1 MB image throughput, node start-up time and memory, on our DDS
runtime and, with ``--backend dds,rclpy``, on rclpy (ROS 2 Jazzy, rmw_cyclonedds_cpp) in the same
run.

Every figure is measured between separate processes on loopback (``ROS_AUTOMATIC_DISCOVERY_RANGE=
LOCALHOST``, a domain id of its own, no ``CYCLONEDDS_URI``), through the public node API of
``ior_ros.runtime`` (``create_publisher`` / ``create_subscription`` / ``spin_once``), i.e.
including serialization, the executor and deserialization:

* ``latency_p50_us`` / ``latency_p99_us``: one-way latency of std_msgs/Int64 (the payload is the
  sender's CLOCK_MONOTONIC time, which every process on the host shares), ``--latency-n``
  messages at ``--latency-rate-hz``, reliable KEEP_LAST(100);
* ``pingpong_rtt_p50_us`` / ``pingpong_rtt_p99_us``: round trip of std_msgs/Header (the stamp
  carries the sender's CLOCK_MONOTONIC time; the other process republishes the received message
  from its subscription callback), ``--pingpong-n`` pings at ``--pingpong-rate-hz``, reliable
  KEEP_LAST(100) both ways;
* ``image_throughput_mb_s``: ``--image-n`` sensor_msgs/Image of 1 MiB (1024 x 1024 mono8),
  published as fast as the reliable KEEP_ALL link takes them; MB/s (10^6 B/s) at the receiver
  from the first to the last image; ``image_sender_mb_s`` from the first publish to all images
  acknowledged; ``image_serialize_us`` is the cost of one serialization (on rclpy
  ``rclpy.serialization.serialize_message``, which rclpy's publish does not call: not comparable);
* ``raw_dds_latency_*`` (dds backend only): the one-way measurement with a bare reader (raw take
  + rosbags decode, no node, no executor) in the same run: the floor the machine allows, and the
  runtime's overhead by difference;
* ``startup_s``: median time from process spawn to a node with one publisher and one
  subscription constructed (python interpreter start, imports, participant, discovery info);
* ``rss_mib``: resident memory of that node process while it spins idle;
* ``startup_s_no_param_services`` / ``rss_mib_no_param_services``: the same node created with
  ``start_parameter_services=False`` (the six parameter services are 12 more DDS endpoints).

``--backend LIST`` (comma-separated, default ``dds``) runs the same child code once per backend,
with ``IOR_ROS_BACKEND`` set for the children; each figure is measured on every backend before
the next figure, so a change of load hits both alike. Both backends get the same QoS, message
types, rates and counts. ``rclpy`` needs ROS 2: the children run on this interpreter
(``sys.executable``) in the environment of ``bash -c 'source SETUP'`` started from a clean one
(HOME and PATH=/usr/local/bin:/usr/bin:/bin), SETUP being ``--ros-setup`` (default ``$ROS_SETUP``
or /opt/ros/jazzy/setup.bash), with ``RMW_IMPLEMENTATION=rmw_cyclonedds_cpp`` and a domain id of
its own (``--domain`` + 1); without ROS 2 it stops with one error line (exit status 2). The
1 MB image is built the fastest documented way on each backend, once, before the timed loop:
on ours ``data`` is a numpy uint8 array (serialized with one copy); on rclpy the message holds
an ``array.array('B')``, made by the generated constructor from ``bytes`` with one buffer copy
(the C conversion at publish copies its buffer; a numpy array or a list is converted element by
element: 140 / 35 ms per image here). The JSON keeps the
dds figures at the top level under their earlier names, has every backend's figures under
``backends`` and, when both ran, ``ratios_dds_over_rclpy`` (lower is better for latency, higher
for throughput) and ``vs_rclpy`` (target: ours no slower than rclpy on one-way latency p50 and
p99 and on image throughput). Progress goes to stderr.

``--rt-priority P`` (Linux, needs CAP_SYS_NICE) runs the latency and ping-pong processes under
SCHED_FIFO priority P, set before the DDS participant exists so Cyclone's threads inherit it, as
real-time ROS 2 deployments and ros2 performance_test do. On a machine whose cores are shared with
other work, p99 is then bounded by the runtime rather than by the scheduler; the default (0)
measures ordinary time-shared processes. ``--cpu C`` pins those processes to core C (a wake-up
then never crosses cores; under SCHED_FIFO, Linux otherwise pushes woken threads to other cores).

Targets: latency p50 <= 150 us, p99 <= 1 ms; image throughput >= 200 MB/s (the stock
typed cyclonedds path gave 14 MB/s); and ours no slower than rclpy on latency and throughput.

Rerun: ``.venv/bin/python benchmarks/bench_dds.py --backend dds,rclpy --json`` (without
``--backend``: our runtime alone, no ROS 2 needed)
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

RERUN = '.venv/bin/python benchmarks/bench_dds.py --backend dds,rclpy --json'
HERE = Path(__file__).resolve()
IMAGE_SIDE = 1024
BACKENDS = ('dds', 'rclpy')
DEFAULT_ROS_SETUP = '/opt/ros/jazzy/setup.bash'
RMW = 'rmw_cyclonedds_cpp'


# ---------------------------------------------------------------------------- child roles
def _node_env() -> None:
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    os.environ.setdefault('IOR_ROS_BACKEND', 'dds')
    cpu = int(os.environ.get('IOR_BENCH_CPU', '-1'))
    if cpu >= 0:
        os.sched_setaffinity(0, {cpu})
    priority = int(os.environ.get('IOR_BENCH_RT_PRIORITY', '0'))
    if priority > 0:  # before any DDS thread exists: they inherit the policy
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))


def role_latency_sub(n: int, timeout_s: float) -> None:
    _node_env()
    from ior_ros.runtime import (
        Node,
        QoSProfile,
        SingleThreadedExecutor,
        get_message,
        init,
        shutdown,
    )

    init(args=[])
    node = Node('bench_latency_sub')
    latencies: list[int] = []

    def on_msg(msg: Any) -> None:
        latencies.append(time.monotonic_ns() - msg.data)

    node.create_subscription(get_message('std_msgs/msg/Int64'), '/bench_latency', on_msg,
                             QoSProfile(depth=100))
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    print('READY', flush=True)
    deadline = time.monotonic() + timeout_s
    while len(latencies) < n and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.1)
    print(json.dumps({'latencies_ns': latencies}), flush=True)
    shutdown()


def role_raw_latency_sub(n: int, timeout_s: float) -> None:
    """Baseline: the same reader without node or executor (raw take + rosbags decode)."""
    _node_env()
    from ior_ros.runtime.dds import DdsContext
    from ior_ros.runtime.messages import registry
    from ior_ros.runtime.qos import QoSProfile

    reg = registry()
    ctx = DdsContext()
    reader = ctx.create_reader('/bench_latency', 'std_msgs/msg/Int64', QoSProfile(depth=100))
    latencies: list[int] = []
    print('READY', flush=True)
    deadline = time.monotonic() + timeout_s
    while len(latencies) < n and time.monotonic() < deadline:
        ctx.wait(100_000_000)
        for data, _info in reader.take():
            msg = reg.deserialize(data, 'std_msgs/msg/Int64')
            latencies.append(time.monotonic_ns() - msg.data)
    print(json.dumps({'latencies_ns': latencies}), flush=True)
    ctx.close()


def role_latency_pub(n: int, rate_hz: float) -> None:
    _node_env()
    from ior_ros.runtime import Node, QoSProfile, get_message, init, shutdown

    init(args=[])
    node = Node('bench_latency_pub')
    int64 = get_message('std_msgs/msg/Int64')
    pub = node.create_publisher(int64, '/bench_latency', QoSProfile(depth=100))
    while pub.get_subscription_count() < 1:
        time.sleep(0.01)
    time.sleep(0.5)
    period = 1.0 / rate_hz
    next_t = time.monotonic()
    msg = int64()
    for _ in range(n):
        msg.data = time.monotonic_ns()
        pub.publish(msg)
        next_t += period
        left = next_t - time.monotonic()
        if left > 0:
            time.sleep(left)
    pub.wait_for_all_acked()
    shutdown()


def role_pong(n: int, timeout_s: float) -> None:
    """Echo every std_msgs/Header from /bench_ping back on /bench_pong (from the callback)."""
    _node_env()
    from ior_ros.runtime import (
        Node,
        QoSProfile,
        SingleThreadedExecutor,
        get_message,
        init,
        shutdown,
    )

    init(args=[])
    node = Node('bench_pong')
    header = get_message('std_msgs/msg/Header')
    pub = node.create_publisher(header, '/bench_pong', QoSProfile(depth=100))
    echoed = [0]

    def on_ping(msg: Any) -> None:
        pub.publish(msg)
        echoed[0] += 1

    node.create_subscription(header, '/bench_ping', on_ping, QoSProfile(depth=100))
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    print('READY', flush=True)
    deadline = time.monotonic() + timeout_s
    while echoed[0] < n and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.1)
    pub.wait_for_all_acked()
    print(json.dumps({'echoed': echoed[0]}), flush=True)
    shutdown()


def role_ping(n: int, rate_hz: float) -> None:
    """Send std_msgs/Header stamped with CLOCK_MONOTONIC at rate_hz; time each echo."""
    _node_env()
    from ior_ros.runtime import (
        Node,
        QoSProfile,
        SingleThreadedExecutor,
        get_message,
        init,
        shutdown,
    )

    init(args=[])
    node = Node('bench_ping')
    header = get_message('std_msgs/msg/Header')
    pub = node.create_publisher(header, '/bench_ping', QoSProfile(depth=100))
    rtts: list[int] = []

    def on_pong(msg: Any) -> None:
        now = time.monotonic_ns()
        rtts.append(now - (int(msg.stamp.sec) * 1_000_000_000 + int(msg.stamp.nanosec)))

    sub = node.create_subscription(header, '/bench_pong', on_pong, QoSProfile(depth=100))
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    while pub.get_subscription_count() < 1 or sub.get_publisher_count() < 1:
        executor.spin_once(timeout_sec=0.01)
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        executor.spin_once(timeout_sec=0.05)
    period = 1.0 / rate_hz
    next_t = time.monotonic()
    msg = header()
    for _ in range(n):
        stamp = time.monotonic_ns()
        msg.stamp.sec, msg.stamp.nanosec = divmod(stamp, 1_000_000_000)
        pub.publish(msg)
        next_t += period
        while (left := next_t - time.monotonic()) > 0:
            executor.spin_once(timeout_sec=left)
    deadline = time.monotonic() + 10.0
    while len(rtts) < n and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.1)
    print(json.dumps({'rtts_ns': rtts}), flush=True)
    shutdown()


def _keep_all() -> Any:
    from ior_ros.runtime import HistoryPolicy, QoSProfile

    return QoSProfile(history=HistoryPolicy.KEEP_ALL)


def role_image_sub(n: int, timeout_s: float) -> None:
    _node_env()
    from ior_ros.runtime import Node, SingleThreadedExecutor, get_message, init, shutdown

    init(args=[])
    node = Node('bench_image_sub')
    arrivals: list[int] = []
    total = [0]
    data_type = ['']

    def on_image(msg: Any) -> None:
        arrivals.append(time.monotonic_ns())
        total[0] += len(msg.data)
        data_type[0] = type(msg.data).__name__

    node.create_subscription(get_message('sensor_msgs/msg/Image'), '/bench_image', on_image,
                             _keep_all())
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    print('READY', flush=True)
    deadline = time.monotonic() + timeout_s
    while len(arrivals) < n and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.1)
    print(json.dumps({'count': len(arrivals), 'bytes': total[0],
                      'first_ns': arrivals[0] if arrivals else 0,
                      'last_ns': arrivals[-1] if arrivals else 0,
                      'data_type': data_type[0]}), flush=True)
    shutdown()


def _image_message(image: Any, backend: str) -> tuple[Any, Any]:
    """
    The 1 MiB mono8 image, built the fastest documented way on each backend, and the backend's
    serialize function: ours takes a numpy uint8 array (one copy when serialized); rclpy's
    generated constructor turns ``bytes`` into the ``array.array('B')`` the field holds with one
    buffer copy (numpy arrays and lists go element by element) and its C conversion copies that
    buffer at publish.
    """
    import numpy as np

    pixels = np.arange(IMAGE_SIDE * IMAGE_SIDE, dtype=np.uint8)  # [h * w]
    data: Any = pixels
    if backend == 'rclpy':
        from rclpy.serialization import serialize_message as serialize

        data = pixels.tobytes()
    else:
        from ior_ros.runtime.messages import serialize
    msg = image(height=IMAGE_SIDE, width=IMAGE_SIDE, encoding='mono8', is_bigendian=0,
                step=IMAGE_SIDE, data=data)
    return msg, serialize


def role_image_pub(n: int) -> None:
    _node_env()
    from ior_ros.runtime import Node, backend_name, get_message, init, shutdown

    init(args=[])
    node = Node('bench_image_pub')
    image = get_message('sensor_msgs/msg/Image')
    pub = node.create_publisher(image, '/bench_image', _keep_all())
    msg, serialize = _image_message(image, backend_name())
    reps = []
    for _ in range(20):
        t0 = time.perf_counter_ns()
        serialize(msg)
        reps.append(time.perf_counter_ns() - t0)
    while pub.get_subscription_count() < 1:
        time.sleep(0.01)
    time.sleep(0.5)
    start = time.monotonic_ns()
    for _ in range(n):
        pub.publish(msg)
    pub.wait_for_all_acked()
    end = time.monotonic_ns()
    print(json.dumps({'serialize_ns': statistics.median(reps), 'send_s': (end - start) / 1e9}),
          flush=True)
    shutdown()


def role_startup() -> None:
    _node_env()
    from ior_ros.runtime import (
        ExternalShutdownException,
        Node,
        SingleThreadedExecutor,
        get_message,
        init,
    )

    init(args=[])
    services = os.environ.get('IOR_BENCH_PARAM_SERVICES', '1') == '1'
    node = Node('bench_startup', start_parameter_services=services)
    string = get_message('std_msgs/msg/String')
    node.create_publisher(string, 'out', 10)
    node.create_subscription(string, 'in', lambda m: None, 10)
    print('READY', flush=True)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        while True:
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass


# ---------------------------------------------------------------------------- orchestration
def _progress(text: str) -> None:
    print(f'[bench_dds {time.strftime("%H:%M:%S")}] {text}', file=sys.stderr, flush=True)


def _spawn(role: str, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(HERE), '--role', role, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_ready(proc: subprocess.Popen[str], timeout_s: float = 60.0) -> None:
    """Read the child's stdout up to its READY line; a silent child is killed at the timeout."""
    assert proc.stdout is not None
    watchdog = threading.Timer(timeout_s, proc.kill)  # readline() itself has no timeout
    watchdog.start()
    try:
        while True:
            line = proc.stdout.readline()
            if line.strip() == 'READY':
                return
            if not line and proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr else ''
                raise RuntimeError(f'child exited or was killed after {timeout_s} s before '
                                   f'READY: {err[-2000:]}')
    finally:
        watchdog.cancel()


def _communicate(proc: subprocess.Popen[str], timeout_s: float) -> tuple[str, str]:
    """Wait for the child's exit and output; kill it (and raise) past the timeout."""
    try:
        return proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=30)
        raise


def _last_json(proc: subprocess.Popen[str], timeout_s: float) -> dict[str, Any]:
    out, err = _communicate(proc, timeout_s)
    for line in reversed(out.splitlines()):
        if line.startswith('{'):
            return json.loads(line)  # type: ignore[no-any-return]
    raise RuntimeError(f'no result from child: {err[-2000:]}')


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[index]


def _summary(prefix: str, values_us: list[float]) -> dict[str, Any]:
    return {f'{prefix}_p50_us': round(statistics.median(values_us), 1),
            f'{prefix}_p90_us': round(_percentile(values_us, 90), 1),
            f'{prefix}_p99_us': round(_percentile(values_us, 99), 1),
            f'{prefix}_max_us': round(max(values_us), 1), f'{prefix}_samples': len(values_us)}


def measure_latency(env: dict[str, str], n: int, rate_hz: float,
                    role: str = 'latency-sub', prefix: str = 'latency',
                    rt_priority: int = 0, cpu: int = -1) -> dict[str, Any]:
    env = dict(env, IOR_BENCH_RT_PRIORITY=str(rt_priority), IOR_BENCH_CPU=str(cpu))
    sub = _spawn(role, '--n', str(n), env=env)
    _wait_ready(sub)
    pub = _spawn('latency-pub', '--n', str(n), '--rate', str(rate_hz), env=env)
    _communicate(pub, 120 + n / rate_hz)
    result = _last_json(sub, 60)
    lat_us = [v / 1e3 for v in result['latencies_ns']]
    if not lat_us:
        raise RuntimeError('no latency sample received')
    return _summary(prefix, lat_us)


def measure_pingpong(env: dict[str, str], n: int, rate_hz: float, rt_priority: int = 0,
                     cpu: int = -1) -> dict[str, Any]:
    env = dict(env, IOR_BENCH_RT_PRIORITY=str(rt_priority), IOR_BENCH_CPU=str(cpu))
    pong = _spawn('pong', '--n', str(n), env=env)
    _wait_ready(pong)
    ping = _spawn('ping', '--n', str(n), '--rate', str(rate_hz), env=env)
    result = _last_json(ping, 120 + n / rate_hz)
    _communicate(pong, 60)
    rtt_us = [v / 1e3 for v in result['rtts_ns']]
    if not rtt_us:
        raise RuntimeError('no ping-pong round trip completed')
    return _summary('pingpong_rtt', rtt_us)


def measure_images(env: dict[str, str], n: int) -> dict[str, Any]:
    sub = _spawn('image-sub', '--n', str(n), env=env)
    _wait_ready(sub)
    pub = _spawn('image-pub', '--n', str(n), env=env)
    pub_result = _last_json(pub, 300)
    result = _last_json(sub, 60)
    span_s = (result['last_ns'] - result['first_ns']) / 1e9
    count = result['count']
    # bytes between the first and the last arrival: count - 1 images
    per_image = result['bytes'] / max(1, count)
    mb_s = per_image * (count - 1) / span_s / 1e6 if span_s > 0 and count > 1 else 0.0
    return {'image_throughput_mb_s': round(mb_s, 1), 'images_received': count,
            'images_sent': n, 'image_bytes': int(per_image),
            'image_sender_mb_s': round(per_image * n / pub_result['send_s'] / 1e6, 1),
            'image_serialize_us': round(pub_result['serialize_ns'] / 1e3, 1),
            'image_data_type_received': result.get('data_type', '')}


def measure_startup(env: dict[str, str], repeats: int, param_services: bool = True,
                    prefix: str = 'startup') -> dict[str, Any]:
    env = dict(env, IOR_BENCH_PARAM_SERVICES='1' if param_services else '0')
    times, rss = [], []
    for _ in range(repeats):
        t0 = time.monotonic()
        proc = _spawn('startup', env=env)
        _wait_ready(proc)
        times.append(time.monotonic() - t0)
        time.sleep(0.5)
        with open(f'/proc/{proc.pid}/status', encoding='utf-8') as handle:
            for line in handle:
                if line.startswith('VmRSS:'):
                    rss.append(int(line.split()[1]) / 1024)
        proc.send_signal(2)
        _communicate(proc, 30)
    suffix = '' if param_services else '_no_param_services'
    return {f'{prefix}_s{suffix}': round(statistics.median(times), 3),
            f'{prefix}_max_s{suffix}': round(max(times), 3),
            f'rss_mib{suffix}': round(statistics.median(rss), 1)}


class RosUnavailable(Exception):
    """ROS 2 (for the rclpy backend) cannot be used here; the message says why, in one line."""


def ros_environment(setup: str) -> dict[str, str]:
    """
    The environment of ``source setup`` in a clean bash (HOME, PATH=/usr/local/bin:/usr/bin:/bin),
    checked to import rclpy with this interpreter; RosUnavailable when it cannot be had.
    """
    if not Path(setup).is_file():
        raise RosUnavailable(f'ROS 2 setup file {setup} not found (install ROS 2 Jazzy, or give '
                             '--ros-setup PATH or $ROS_SETUP)')
    clean = {'HOME': os.environ.get('HOME', '/'), 'PATH': '/usr/local/bin:/usr/bin:/bin'}
    try:
        out = subprocess.run(['bash', '-c', f'source {shlex.quote(setup)} >/dev/null && env -0'],
                             env=clean, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise RosUnavailable(f'cannot source {setup}: {exc}') from None
    if out.returncode != 0:
        last = (out.stderr.decode(errors='replace').strip().splitlines() or [''])[-1]
        raise RosUnavailable(f'sourcing {setup} failed (status {out.returncode})'
                             + (f': {last}' if last else ''))
    env = dict(item.split('=', 1) for item in out.stdout.decode().split('\0') if '=' in item)
    for key in ('_', 'SHLVL', 'PWD', 'OLDPWD'):
        env.pop(key, None)
    check = subprocess.run([sys.executable, '-c', 'import rclpy, rosidl_runtime_py'], env=env,
                           capture_output=True, text=True, timeout=60)
    if check.returncode != 0:
        last = (check.stderr.strip().splitlines() or ['?'])[-1]
        raise RosUnavailable(f'{setup} sourced but rclpy does not import with {sys.executable}: '
                             f'{last}')
    return env


def backend_env(backend: str, domain: int, ros_env: dict[str, str] | None) -> dict[str, str]:
    """The children's environment for one backend (identical DDS settings on both)."""
    if backend == 'rclpy':
        assert ros_env is not None
        env = dict(ros_env, RMW_IMPLEMENTATION=RMW,
                   OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1'))
    else:
        env = dict(os.environ)
        env.setdefault('OMP_NUM_THREADS', '1')
    env['IOR_ROS_BACKEND'] = backend
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env['ROS_DOMAIN_ID'] = str(domain)
    for key in ('CYCLONEDDS_URI', 'ROS_STATIC_PEERS', 'ROS_LOCALHOST_ONLY',
                'IOR_BENCH_RT_PRIORITY', 'IOR_BENCH_CPU', 'IOR_BENCH_PARAM_SERVICES'):
        env.pop(key, None)
    return env


def _ratio(ours: float, theirs: float) -> float | None:
    return round(ours / theirs, 3) if theirs else None


def compare(dds: dict[str, Any], rclpy: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(ratios ours/rclpy, no-slower verdicts) for the figures both backends measured."""
    names = {'latency_p50': 'latency_p50_us', 'latency_p99': 'latency_p99_us',
             'pingpong_rtt_p50': 'pingpong_rtt_p50_us', 'pingpong_rtt_p99': 'pingpong_rtt_p99_us',
             'image_throughput': 'image_throughput_mb_s', 'startup': 'startup_s',
             'rss': 'rss_mib'}
    ratios = {name: _ratio(dds[key], rclpy[key]) for name, key in names.items()
              if key in dds and key in rclpy}
    verdict: dict[str, Any] = {}
    for name in ('latency_p50', 'latency_p99', 'pingpong_rtt_p50', 'pingpong_rtt_p99'):
        if ratios.get(name) is not None:
            verdict[f'{name}_no_slower'] = dds[names[name]] <= rclpy[names[name]]
    if ratios.get('image_throughput') is not None:
        verdict['image_throughput_no_slower'] = (dds['image_throughput_mb_s']
                                                 >= rclpy['image_throughput_mb_s'])
    primary = ('latency_p50_no_slower', 'latency_p99_no_slower', 'image_throughput_no_slower')
    verdict['target'] = ('ours no slower than rclpy on one-way latency (p50 and p99) and on '
                         '1 MB image throughput')
    verdict['target_holds'] = all(verdict.get(key, False) for key in primary)
    return ratios, verdict


_TABLE = (('one-way latency p50 (us)', 'latency_p50_us', 'latency_p50'),
          ('one-way latency p99 (us)', 'latency_p99_us', 'latency_p99'),
          ('ping-pong RTT p50 (us)', 'pingpong_rtt_p50_us', 'pingpong_rtt_p50'),
          ('ping-pong RTT p99 (us)', 'pingpong_rtt_p99_us', 'pingpong_rtt_p99'),
          ('1 MB image throughput (MB/s)', 'image_throughput_mb_s', 'image_throughput'),
          ('image serialize (us)', 'image_serialize_us', ''),
          ('node start-up (s)', 'startup_s', 'startup'),
          ('resident memory (MiB)', 'rss_mib', 'rss'),
          ('raw DDS floor p50 (us)', 'raw_dds_latency_p50_us', ''),
          ('raw DDS floor p99 (us)', 'raw_dds_latency_p99_us', ''))


def format_table(result: dict[str, Any]) -> str:
    """The per-backend figures side by side (and ours/rclpy where both ran)."""
    backends = list(result['backends'])
    ratios = result.get('ratios_dds_over_rclpy', {})
    head = f'{"figure":<30}' + ''.join(f'{name:>12}' for name in backends)
    head += f'{"dds/rclpy":>12}' if ratios else ''
    lines = [head]
    for label, key, ratio in _TABLE:
        cells = [result['backends'][name].get(key) for name in backends]
        if all(cell is None for cell in cells):
            continue
        row = f'{label:<30}' + ''.join(f'{"-" if c is None else c:>12}' for c in cells)
        if ratios:
            value = ratios.get(ratio) if ratio else None
            row += f'{"" if value is None else value:>12}'
        lines.append(row)
    verdict = result.get('vs_rclpy')
    if verdict:
        lines.append(f'target: {verdict["target"]}: '
                     f'{"holds" if verdict["target_holds"] else "does NOT hold"}')
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    parser.add_argument('--backend', default='dds', metavar='LIST',
                        help='comma-separated backends to measure: dds (default), rclpy '
                             '(needs ROS 2), e.g. dds,rclpy')
    parser.add_argument('--ros-setup', default=os.environ.get('ROS_SETUP') or DEFAULT_ROS_SETUP,
                        metavar='PATH', help='ROS 2 setup file for the rclpy backend (default: '
                                             f'$ROS_SETUP or {DEFAULT_ROS_SETUP})')
    parser.add_argument('--latency-n', type=int, default=2000)
    parser.add_argument('--latency-rate-hz', type=float, default=500.0)
    parser.add_argument('--pingpong-n', type=int, default=1000,
                        help='ping-pong round trips (0: skip the measurement)')
    parser.add_argument('--pingpong-rate-hz', type=float, default=200.0)
    parser.add_argument('--image-n', type=int, default=300)
    parser.add_argument('--startup-repeats', type=int, default=5)
    parser.add_argument('--domain', type=int, default=None,
                        help='ROS_DOMAIN_ID for the dds backend (rclpy gets the next one)')
    parser.add_argument('--rt-priority', type=int, default=0, metavar='P',
                        help='run the latency and ping-pong processes under SCHED_FIFO priority '
                             'P (1..99; needs CAP_SYS_NICE); 0 (default): ordinary scheduling')
    parser.add_argument('--cpu', type=int, default=-1, metavar='C',
                        help='pin the latency and ping-pong processes to core C (default: not '
                             'pinned)')
    parser.add_argument('--role', default=None, help=argparse.SUPPRESS)
    parser.add_argument('--n', type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument('--rate', type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.role:
        roles = {'latency-sub': lambda: role_latency_sub(args.n, 120.0),
                 'latency-pub': lambda: role_latency_pub(args.n, args.rate),
                 'raw-latency-sub': lambda: role_raw_latency_sub(args.n, 120.0),
                 'ping': lambda: role_ping(args.n, args.rate),
                 'pong': lambda: role_pong(args.n, 120.0 + args.n / 100.0),
                 'image-sub': lambda: role_image_sub(args.n, 240.0),
                 'image-pub': lambda: role_image_pub(args.n),
                 'startup': role_startup}
        roles[args.role]()
        return 0

    backends = [name.strip() for name in args.backend.split(',') if name.strip()]
    unknown = [name for name in backends if name not in BACKENDS]
    if not backends or unknown or len(set(backends)) != len(backends):
        parser.error(f'--backend: expected a comma-separated list of {", ".join(BACKENDS)} '
                     f'(each once), got {args.backend!r}')
    if args.cpu >= (os.cpu_count() or 1):
        parser.error(f'--cpu must be below the number of cores ({os.cpu_count()}), '
                     f'got {args.cpu}')
    if not 0 <= args.rt_priority <= 99:
        parser.error(f'--rt-priority must be in 0..99, got {args.rt_priority}')
    domain = args.domain if args.domain is not None else 100 + os.getpid() % 100
    if not 0 <= domain <= 232:
        parser.error(f'--domain must be in 0..232, got {domain}')
    ros_env = None
    if 'rclpy' in backends:
        try:
            ros_env = ros_environment(args.ros_setup)
        except RosUnavailable as exc:
            print(f'bench_dds: --backend rclpy needs ROS 2: {exc}', file=sys.stderr)
            return 2
    domains = {'dds': domain, 'rclpy': domain + 1 if domain < 232 else domain - 1}
    envs = {name: backend_env(name, domains[name], ros_env) for name in backends}

    from ior_ros.experiments.contract import machine_info

    rerun = '.venv/bin/python benchmarks/bench_dds.py ' + ' '.join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    result: dict[str, Any] = {'benchmark': 'dds', 'machine': machine_info(),
                              'rerun': rerun.strip()}
    result['load_average_before'] = os.getloadavg()[0]
    result['backends_measured'] = backends
    result['domains'] = {name: domains[name] for name in backends}
    if ros_env is not None:
        result['ros_setup'] = args.ros_setup
        result['rmw_implementation'] = RMW
    result['rt_priority'] = args.rt_priority
    result['latency_cpu'] = args.cpu if args.cpu >= 0 else None
    figures: dict[str, dict[str, Any]] = {name: {} for name in backends}
    sched = {'rt_priority': args.rt_priority, 'cpu': args.cpu}
    started = time.monotonic()

    def step(what: str, name: str) -> None:
        _progress(f'{what} on {name} (+{time.monotonic() - started:.0f} s)')

    for name in backends:  # each figure on every backend before the next figure
        step(f'one-way latency, {args.latency_n} x std_msgs/Int64 at '
             f'{args.latency_rate_hz:g} Hz', name)
        figures[name].update(measure_latency(envs[name], args.latency_n, args.latency_rate_hz,
                                             rt_priority=args.rt_priority, cpu=args.cpu))
    if 'dds' in backends:
        step('raw DDS floor (no node, no executor)', 'dds')
        figures['dds'].update(measure_latency(envs['dds'], args.latency_n,
                                              args.latency_rate_hz, role='raw-latency-sub',
                                              prefix='raw_dds_latency', **sched))
    if args.pingpong_n > 0:
        for name in backends:
            step(f'ping-pong, {args.pingpong_n} x std_msgs/Header at '
                 f'{args.pingpong_rate_hz:g} Hz', name)
            figures[name].update(measure_pingpong(envs[name], args.pingpong_n,
                                                  args.pingpong_rate_hz, **sched))
    for name in backends:
        step(f'1 MB image throughput, {args.image_n} images', name)
        figures[name].update(measure_images(envs[name], args.image_n))
    for name in backends:
        step(f'node start-up and memory, {args.startup_repeats} x 2 processes', name)
        figures[name].update(measure_startup(envs[name], args.startup_repeats))
        figures[name].update(measure_startup(envs[name], args.startup_repeats,
                                             param_services=False))
    _progress(f'done (+{time.monotonic() - started:.0f} s)')
    result['load_average_after'] = os.getloadavg()[0]
    if 'dds' in figures:  # the keys of the dds-only benchmark, for earlier readers
        result.update(figures['dds'])
        result['targets'] = {'latency_p50_us_max': 150, 'latency_p99_us_max': 1000,
                             'image_throughput_mb_s_min': 200}
        result['meets'] = {
            'latency_p50': result['latency_p50_us'] <= 150,
            'latency_p99': result['latency_p99_us'] <= 1000,
            'image_throughput': result['image_throughput_mb_s'] >= 200}
    result['backends'] = figures
    if 'dds' in figures and 'rclpy' in figures:
        ratios, verdict = compare(figures['dds'], figures['rclpy'])
        result['ratios_dds_over_rclpy'] = ratios
        result['vs_rclpy'] = verdict
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            if key not in ('backends', 'ratios_dds_over_rclpy', 'vs_rclpy'):
                print(f'{key}: {value}')
        print(format_table(result))
        print(f'rerun: {result["rerun"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
