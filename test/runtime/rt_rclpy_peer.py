"""
An rclpy peer for the mixed-graph tests: a real ROS 2 node that publishes, echoes or tests QoS.

Run with the ROS 2 environment (``RosEnv.ros_env``), never imported by the tests themselves
(they run without rclpy on their path)::

    python rt_rclpy_peer.py echo TOPICS_JSON
    python rt_rclpy_peer.py publish TOPICS_JSON [--default] [--rate HZ]
    python rt_rclpy_peer.py qos pub|sub TOPIC reliable|best_effort

``TOPICS_JSON`` is a file holding ``[[topic, type], ...]``. ``echo`` prints one JSON line
``{"topic", "msg"}`` per message received; ``publish`` prints ``{"topic", "sent"}`` once per
topic, then publishes the same message on every topic at ``--rate`` until interrupted. Messages
are turned into JSON by :func:`plain` (the tests apply the same normalisation to ours).
``publish`` fills every field with a value that depends on the field's position and type
(:func:`sample`), or leaves the defaults of the ``.msg`` files with ``--default``.
"""

from __future__ import annotations

import argparse
import array
import json
import sys
from typing import Any


def plain(value: Any) -> Any:
    """A message as JSON values: a dict per message, bytes and arrays become lists of ints."""
    if hasattr(value, 'get_fields_and_field_types'):
        return {key: plain(getattr(value, key)) for key in value.get_fields_and_field_types()}
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (bytes, bytearray)):
        return list(value) if len(value) != 1 else value[0]
    if isinstance(value, (list, tuple, array.array)) or hasattr(value, 'tolist'):
        items = value.tolist() if hasattr(value, 'tolist') else list(value)
        return [plain(item) for item in items]
    return value


def _scalar(kind: str, salt: int) -> Any:
    if kind == 'boolean':
        return salt % 2 == 1
    if kind == 'octet':
        return bytes([salt % 256])
    if kind in ('float', 'double'):
        return salt * 0.25 + 0.5  # exact in float32 too
    ranges = {'int8': -(salt % 100), 'uint8': (salt + 200) % 256, 'char': salt % 128,
              'int16': -1000 - salt, 'uint16': 60000 + salt % 5000,
              'int32': -100000 - salt, 'uint32': 4_000_000_000 + salt,
              'int64': -(2 ** 40) - salt, 'uint64': 2 ** 63 + salt}
    return ranges[kind]


def sample(cls: Any, salt: int = 0) -> Any:
    """An instance of ``cls`` with every field set from ``salt`` and the field's position."""
    from rosidl_parser import definition as d
    from rosidl_runtime_py.utilities import get_message

    def value(slot: Any, k: int) -> Any:
        if isinstance(slot, d.BasicType):
            return _scalar(slot.typename, k)
        if isinstance(slot, (d.AbstractString, d.AbstractWString)):
            text = f'héllo ✓ {k}'
            bound = getattr(slot, 'maximum_size', None)
            return text[:bound] if bound else text
        if isinstance(slot, d.NamespacedType):
            return sample(get_message('/'.join(slot.namespaced_name())), k)
        if isinstance(slot, d.Array):
            return [value(slot.value_type, k + j) for j in range(slot.size)]
        if isinstance(slot, d.AbstractSequence):
            size = min(3, getattr(slot, 'maximum_size', 3) or 3)
            return [value(slot.value_type, k + j) for j in range(size)]
        raise TypeError(f'unsupported slot type {slot!r}')

    msg = cls()
    for index, (name, slot) in enumerate(zip(cls.get_fields_and_field_types(), cls.SLOT_TYPES)):
        setattr(msg, name, value(slot, salt + 7 * index + 1))
    return msg


def _topics(path: str) -> list[tuple[str, Any]]:
    """The (topic, class) pairs of a TOPICS_JSON file; prints each type's field types."""
    from rosidl_runtime_py.utilities import get_message

    with open(path, encoding='utf-8') as handle:
        pairs = [(topic, typename, get_message(typename)) for topic, typename in json.load(handle)]
    for _, typename, cls in pairs:
        _out({'fields': cls.get_fields_and_field_types(), 'type': typename})
    return [(topic, cls) for topic, _, cls in pairs]


def _out(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + '\n')
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    sub = parser.add_subparsers(dest='mode', required=True)
    p = sub.add_parser('echo')
    p.add_argument('topics')
    p = sub.add_parser('publish')
    p.add_argument('topics')
    p.add_argument('--default', action='store_true')
    p.add_argument('--rate', type=float, default=5.0)
    p = sub.add_parser('qos')
    p.add_argument('role', choices=['pub', 'sub'])
    p.add_argument('topic')
    p.add_argument('reliability', choices=['reliable', 'best_effort'])
    args = parser.parse_args()

    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    rclpy.init()
    node = Node(f'rclpy_peer_{args.mode}')
    try:
        if args.mode == 'echo':
            for topic, cls in _topics(args.topics):
                node.create_subscription(
                    cls, topic, lambda msg, t=topic: _out(
                        {'topic': t, 'msg': plain(msg)}), 10)
            _out({'ready': True})
        elif args.mode == 'publish':
            pubs = []
            for index, (topic, cls) in enumerate(_topics(args.topics)):
                msg = cls() if args.default else sample(cls, 100 * index)
                pubs.append((node.create_publisher(cls, topic, 10), msg))
                _out({'topic': topic, 'sent': plain(msg)})
            node.create_timer(1.0 / args.rate, lambda: [pub.publish(m) for pub, m in pubs])
        else:
            policy = (ReliabilityPolicy.RELIABLE if args.reliability == 'reliable'
                      else ReliabilityPolicy.BEST_EFFORT)
            from std_msgs.msg import String

            qos = QoSProfile(depth=10, reliability=policy)
            if args.role == 'pub':
                pub = node.create_publisher(String, args.topic, qos)
                node.create_timer(0.2, lambda: pub.publish(String(data='qos probe')))
            else:
                node.create_subscription(String, args.topic,
                                         lambda msg: _out({'heard': msg.data}), qos)
            _out({'ready': True})
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
