"""
Helpers of the wire-tolerance tests: the message types the nodes use, random valid messages of
any registered type, and mutations of their CDR bytes (bit flips, truncations, extensions,
length rewrites, other encapsulations, bad bytes).

Also a script: ``python rt_wire_helpers.py sink SPEC ...`` runs a node (the ior runtime, every
endpoint reliable and keep-all) with, per SPEC, a subscription (``TOPIC=TYPE``), a
std_srvs/SetBool server (``service:NAME``) or a SetBool client that calls COUNT times, a few
calls in flight at a time (``client:NAME:COUNT``, printing ``CALLED NAME COUNT`` when every call
was answered or dropped); it prints ``READY``, and on SIGINT one line ``COUNTS {json}``: per
endpoint the samples delivered (messages, requests handled, replies) and ``dropped_samples``.
"""

from __future__ import annotations

import random
import struct
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

# the message types the nodes of this package use, and every msg/*.msg of the package
NODE_TYPES = [
    'std_msgs/msg/String', 'std_msgs/msg/Header', 'std_msgs/msg/Bool',
    'sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage', 'sensor_msgs/msg/Joy',
    'geometry_msgs/msg/Twist', 'geometry_msgs/msg/PoseStamped', 'nav_msgs/msg/Odometry',
    'nav_msgs/msg/Path', 'tf2_msgs/msg/TFMessage', 'rosgraph_msgs/msg/Clock',
    'visualization_msgs/msg/MarkerArray', 'rcl_interfaces/msg/ParameterEvent',
    'std_srvs/srv/SetBool_Request', 'std_srvs/srv/SetBool_Response',
]
PACKAGE_TYPES = sorted(f'ior_ros/msg/{path.stem}' for path in (REPO / 'msg').glob('*.msg'))
FUZZED_TYPES = NODE_TYPES + PACKAGE_TYPES

_INT_RANGES = {'int8': (-2**7, 2**7 - 1), 'uint8': (0, 2**8 - 1), 'char': (0, 2**8 - 1),
               'byte': (-2**7, 2**7 - 1), 'int16': (-2**15, 2**15 - 1),
               'uint16': (0, 2**16 - 1), 'int32': (-2**31, 2**31 - 1),
               'uint32': (0, 2**32 - 1), 'int64': (-2**63, 2**63 - 1), 'uint64': (0, 2**64 - 1)}
_TEXT = 'abcxyz ÄÖü€日本-_/:0123456789'


def registry_with_services() -> Any:
    """The process registry, with the std_srvs/SetBool halves registered."""
    from ior_ros.runtime.registry import get_service, registry

    get_service('std_srvs/srv/SetBool')
    return registry()


def random_value(reg: Any, desc: Any, rng: random.Random, seq_max: int = 3) -> Any:
    """A random valid value of one field description (rosbags' nested tuple)."""
    import numpy as np

    from ior_ros.runtime.field_types import ARRAY, BASE, DTYPES, NAME

    kind = desc[0]
    if kind == BASE:
        base, bound = desc[1]
        if base == 'string':
            return ''.join(rng.choice(_TEXT) for _ in range(rng.randint(0, bound or 12)))
        if base == 'bool':
            return rng.random() < 0.5
        if base == 'float32':
            return float(np.float32(rng.uniform(-1e3, 1e3)))
        if base == 'float64':
            return rng.uniform(-1e6, 1e6)
        low, high = _INT_RANGES[base]
        return rng.randint(low, high)
    if kind == NAME:
        return random_message(reg, desc[1], rng, seq_max)
    sub, count = desc[1]
    if kind != ARRAY:
        count = rng.randint(0, min(count, seq_max) if count else seq_max)
    items = [random_value(reg, sub, rng, seq_max) for _ in range(count)]
    if sub[0] == BASE and sub[1][0] in DTYPES:
        return np.array(items, dtype=DTYPES[sub[1][0]])
    return items


def random_message(reg: Any, typename: str, rng: random.Random, seq_max: int = 3) -> Any:
    """A random valid message of ``typename``."""
    values = {name: random_value(reg, desc, rng, seq_max) for name, desc in reg.fields(typename)}
    return reg.get_class(typename)(**values)


MUTATIONS = ('flip', 'truncate', 'extend', 'length', 'header', 'badbyte')
_HEADERS = (b'\x00\x00', b'\x00\x07', b'\x00\x09', b'\x00\x0b', b'\x00\x03', b'\x01\x01',
            b'\x00\x02')
# Encapsulation ids (second byte) that Cyclone knows. A sample with another one (00 05, 00 11,
# 00 21, ...) passes cyclonedds-python's writer check but silences that writer for every
# Cyclone receiver, rclpy's included: its later packets are dropped as malformed, nothing more
# arrives and nothing is acknowledged. That happens below any decoder (the subscriber lives on),
# and it would stop a count of delivered samples, so the mutations leave it out.
_CYCLONE_IDS = frozenset((0x00, 0x01, 0x02, 0x03, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b))


def mutate(data: bytes, rng: random.Random, kind: str | None = None) -> bytes:
    """One mutation of a sample: ``kind`` one of MUTATIONS (random when None)."""
    kind = kind or rng.choice(MUTATIONS)
    out = bytearray(data)
    if not out and kind in ('flip', 'truncate'):
        kind = 'extend'
    if kind == 'flip':
        for _ in range(rng.randint(1, 3)):
            bit = rng.randrange(8 * len(out))
            out[bit // 8] ^= 1 << (bit % 8)
    elif kind == 'truncate':
        del out[rng.randrange(len(out)):]
    elif kind == 'extend':
        out += bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    elif kind == 'length' and len(out) >= 8:  # every 4-aligned word may be a length field
        at = 4 + 4 * rng.randrange((len(out) - 4) // 4)
        value = rng.choice((0, 1, 2, 3, 5, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, len(out),
                            len(out) + 1, rng.randrange(2**32)))
        struct.pack_into('<I', out, at, value)
    elif kind == 'header':
        out[:2] = rng.choice(_HEADERS)
    elif len(out) > 4:  # badbyte: a byte UTF-8 does not allow alone, or a NUL
        out[rng.randrange(4, len(out))] = rng.choice((0x80, 0xC3, 0xFF, 0x00, 0xFE))
    if len(out) >= 2 and len(data) >= 2 and out[1] not in _CYCLONE_IDS:
        out[1] = data[1]
    return bytes(out)


def pad4(data: bytes) -> bytes:
    """Zero padding to a multiple of 4 (what a DDS writer of rmw_cyclonedds puts on the wire)."""
    return data + b'\0' * (-len(data) % 4)


def _sink(specs: list[str]) -> int:
    import json
    import threading
    import time

    from ior_ros.runtime import (
        ExternalShutdownException,
        Node,
        SingleThreadedExecutor,
        get_service,
        init,
        try_shutdown,
    )
    from ior_ros.runtime.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

    init([])
    node = Node('wire_sink')
    qos = QoSProfile(depth=1, history=HistoryPolicy.KEEP_ALL,
                     reliability=ReliabilityPolicy.RELIABLE)
    set_bool = get_service('std_srvs/srv/SetBool')
    delivered: dict[str, int] = {}
    endpoints: dict[str, Any] = {}
    clients: list[tuple[str, Any, int]] = []
    reg = registry_with_services()
    for spec in specs:
        kind, _, rest = spec.partition(':')
        if kind == 'service':  # service:NAME serves SetBool; delivered = requests handled
            delivered[rest] = 0

            def serve(_request: Any, response: Any, name: str = rest) -> Any:
                delivered[name] += 1
                return response

            endpoints[rest] = node.create_service(set_bool, rest, serve, qos_profile=qos)
        elif kind == 'client':  # client:NAME:COUNT calls COUNT times; delivered = replies
            name, count = rest.rsplit(':', 1)
            delivered[name] = 0
            endpoints[name] = node.create_client(set_bool, name, qos_profile=qos)
            clients.append((name, endpoints[name], int(count)))
        else:  # TOPIC=TYPE
            topic, typename = spec.split('=')
            delivered[topic] = 0

            def on_msg(_msg: Any, topic: str = topic) -> None:
                delivered[topic] += 1

            endpoints[topic] = node.create_subscription(reg.get_class(typename), topic, on_msg,
                                                        qos)
    executor = SingleThreadedExecutor()
    executor.add_node(node)

    def spin() -> None:
        try:
            executor.spin()
        except ExternalShutdownException:  # the main thread shut the context down: done
            pass

    threading.Thread(target=spin, daemon=True).start()
    print('READY', flush=True)
    try:
        for name, client, count in clients:  # a few calls in flight at a time
            assert client.wait_for_service(None)  # the fake server comes last

            def done(_future: Any, name: str = name) -> None:
                delivered[name] += 1

            sent = 0
            while sent < count:
                for _ in range(min(8, count - sent)):
                    client.call_async(set_bool.Request(data=True)).add_done_callback(done)
                    sent += 1
                deadline = time.monotonic() + 120
                while delivered[name] + client.dropped_samples < sent:
                    assert time.monotonic() < deadline, f'{name}: replies stopped at {sent}'
                    time.sleep(0.001)
            print(f'CALLED {name} {sent}', flush=True)
        while True:
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    counts = {name: {'delivered': delivered[name],
                     'dropped': endpoints[name].dropped_samples} for name in endpoints}
    print('COUNTS ' + json.dumps(counts), flush=True)
    executor.shutdown()
    node.destroy_node()
    try_shutdown()
    return 0


if __name__ == '__main__':
    if sys.argv[1:2] == ['sink']:
        sys.exit(_sink(sys.argv[2:]))
    sys.exit(f'usage: {sys.argv[0]} sink TOPIC=TYPE ...')
