"""
The ``ros2 topic`` / ``ros2 node`` tools on the DDS runtime: list, echo, pub, hz and node list.

The tools use a bare DDS participant (no node of their own, so they do not appear in ``node
list``) and read the graph through DDS discovery: builtin publication/subscription topics for
topics and types, ``ros_discovery_info`` for nodes. Subscriptions adapt their QoS to the
publishers found, as ros2cli does (RELIABLE only when every publisher is reliable,
TRANSIENT_LOCAL only when every publisher is).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import IO, Any

import yaml

from ior_ros.runtime.ack_wait import DEFAULT_ACK_TIMEOUT_S, wait_for_acks
from ior_ros.runtime.conversions import message_to_dict, set_message_fields
from ior_ros.runtime.errors import MessageTypeError, RosInputError
from ior_ros.runtime.names import expand_topic_name
from ior_ros.runtime.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSPresetProfiles,
    QoSProfile,
    ReliabilityPolicy,
    adapt_subscription_qos,
)
from ior_ros.runtime.registry import registry
from ior_ros.runtime.type_names import normalize_type_name

__all__ = ['open_context', 'tool_node_name', 'list_topics', 'list_nodes', 'echo', 'publish', 'hz',
           'wait_for_topic_type', 'build_qos', 'format_message']


def tool_node_name(verb: str) -> str:
    """The node name a tool shows in the ROS graph: ``ior_<verb>_<pid>`` (unique per process)."""
    return f'ior_{verb}_{os.getpid()}'


def open_context(tool: str | None = None, node_name: str | None = None) -> Any:
    """
    A DDS participant for a tool (ROS_DOMAIN_ID and discovery range from the environment).

    ``tool`` (e.g. ``topic_pub``) makes the endpoints the tool creates belong to a node of the
    ROS graph named ``node_name`` or ``ior_<tool>_<pid>``, as ros2cli's verbs run a node.
    """
    from ior_ros.runtime.dds import DdsContext

    ctx = DdsContext()
    try:
        if tool is not None or node_name is not None:
            ctx.register_tool(node_name or tool_node_name(tool or 'tool'))
        ctx.graph()  # create the discovery readers now, so that spin time is spent listening
    except BaseException:
        ctx.close()
        raise
    return ctx


def _absolute(topic: str) -> str:
    return expand_topic_name(topic, 'tool', '/')


def list_topics(spin_time_s: float = 1.5, ctx: Any = None) -> list[tuple[str, list[str]]]:
    """Every ROS topic (with types) that discovery finds within ``spin_time_s``."""
    own = ctx is None
    ctx = ctx or open_context()
    try:
        time.sleep(max(0.0, spin_time_s))
        return list(ctx.graph().topic_names_and_types().items())
    finally:
        if own:
            ctx.close()


def list_nodes(spin_time_s: float = 1.5, ctx: Any = None) -> list[str]:
    """Fully qualified names of every node announced on ros_discovery_info."""
    own = ctx is None
    ctx = ctx or open_context()
    try:
        time.sleep(max(0.0, spin_time_s))
        names = []
        for ns, name in ctx.graph().node_names():
            names.append(f'/{name}' if ns in ('', '/') else f'{ns}/{name}')
        return sorted(names)
    finally:
        if own:
            ctx.close()


def wait_for_topic_type(ctx: Any, topic: str, timeout_s: float) -> tuple[str, list[QoSProfile]]:
    """The type of ``topic`` and its publishers' QoS, waiting up to ``timeout_s`` for discovery."""
    deadline = time.monotonic() + timeout_s
    while True:
        graph = ctx.graph()
        writers = [e for e in graph.endpoints if e.topic == topic and e.is_writer]
        types = sorted({e.ros_type for e in graph.endpoints if e.topic == topic and e.ros_type})
        if types:
            return types[0], [e.qos for e in writers]
        if time.monotonic() >= deadline:
            raise RosInputError(f'could not determine the type of {topic} within {timeout_s} s '
                                '(is anything publishing it? give the type explicitly)')
        time.sleep(0.05)


def build_qos(profile: str | None = None, reliability: str | None = None,
              durability: str | None = None, depth: int | None = None,
              history: str | None = None, base: QoSProfile | None = None) -> QoSProfile:
    """A profile from ros2cli-style options (``--qos-profile sensor_data`` etc.)."""
    qos = base or QoSProfile(depth=10)
    if profile:
        try:
            qos = QoSPresetProfiles.get_from_short_key(profile)
        except KeyError:
            names = ', '.join(p.name.lower() for p in QoSPresetProfiles)
            raise RosInputError(f'--qos-profile {profile!r}: expected one of {names}') from None
    changes: dict[str, Any] = {}
    if reliability:
        changes['reliability'] = {'reliable': ReliabilityPolicy.RELIABLE,
                                  'best_effort': ReliabilityPolicy.BEST_EFFORT}[reliability]
    if durability:
        changes['durability'] = {'volatile': DurabilityPolicy.VOLATILE,
                                 'transient_local': DurabilityPolicy.TRANSIENT_LOCAL}[durability]
    if depth is not None:
        changes['depth'] = depth
    if history:
        changes['history'] = {'keep_last': HistoryPolicy.KEEP_LAST,
                              'keep_all': HistoryPolicy.KEEP_ALL}[history]
    return qos.with_(**changes) if changes else qos


def format_message(msg: Any, no_arr: bool = False) -> str:
    """YAML text of a message as ``ros2 topic echo`` prints it (without the ``---``)."""
    return yaml.safe_dump(message_to_dict(msg, no_arr), default_flow_style=False,
                          sort_keys=False, allow_unicode=True, width=1000).rstrip('\n')


def _type_and_publisher_qos(ctx: Any, topic: str, typename: str | None,
                            spin_time_s: float) -> tuple[str, list[QoSProfile]]:
    """The topic's type (given, or found by discovery within ``spin_time_s``) and the QoS of
    the publishers seen, to adapt a subscription to them as ros2cli does."""
    if typename is None:
        return wait_for_topic_type(ctx, topic, spin_time_s)
    resolved = registry().entry(normalize_type_name(typename)).typename
    return resolved, [e.qos for e in ctx.graph().endpoints if e.topic == topic and e.is_writer]


def echo(topic: str, typename: str | None = None, *, once: bool = False,
         max_count: int | None = None, timeout_s: float | None = None, spin_time_s: float = 5.0,
         qos: QoSProfile | None = None, no_arr: bool = False, out: IO[str] | None = None,
         on_ready: Callable[[], None] | None = None, err: IO[str] | None = None) -> int:
    """
    Print every message of ``topic`` as YAML followed by ``---``; returns how many.

    A sample that does not decode is dropped and reported on ``err`` (stderr) as a warning in
    rcutils' format, the first at once and then a summary at most every 5 s
    (:class:`~ior_ros.runtime.drop_report.DropReport`); when any were dropped, the last line on
    ``err`` gives the total, also after Ctrl-C.
    """
    import functools

    from ior_ros.runtime.drop_report import DropReport, WriterNames
    from ior_ros.runtime.errors import MessageDecodeError
    from ior_ros.runtime.ros_logging import get_logger

    stream = out or sys.stdout
    errors = err or sys.stderr
    topic = _absolute(topic)
    ctx = open_context('topic_echo')
    drops: DropReport | None = None
    try:
        typename, pubs = _type_and_publisher_qos(ctx, topic, typename, spin_time_s)
        profile = qos or adapt_subscription_qos(pubs)
        reader = ctx.create_reader(topic, typename, profile)
        logger = get_logger(tool_node_name('topic_echo'))

        def warn(text: str) -> None:
            if err is None:
                logger.warning(text)  # rcutils format on stderr
            else:
                errors.write(f'[WARN] [{logger.name}]: {text}\n')

        drops = DropReport(f'on {topic} ({typename})', warn)
        writer_names = WriterNames(reader.reader, ctx.graph)
        if on_ready:
            on_ready()
        limit = 1 if once else max_count
        count = 0
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        reg = registry()
        while limit is None or count < limit:
            if deadline is not None and time.monotonic() >= deadline:
                break
            ctx.wait(50_000_000)
            for data, info in reader.take():
                try:
                    msg = reg.decode(data, typename)
                except MessageDecodeError as exc:
                    drops.drop(str(exc), functools.partial(writer_names,
                                                           info.publication_handle))
                    continue
                drops.tick()
                stream.write(format_message(msg, no_arr) + '\n---\n')
                stream.flush()
                count += 1
                if limit is not None and count >= limit:
                    break
        return count
    finally:
        if drops is not None and drops.total:
            drops.flush()
            noun = 'sample' if drops.total == 1 else 'samples'
            errors.write(f'ior topic echo: dropped {drops.total} malformed {noun} on {topic} '
                         'in all\n')
            errors.flush()
        ctx.close()


def publish(topic: str, typename: str, values: str | None, *, rate_hz: float = 1.0,
            times: int | None = None, once: bool = False, wait_matching: int | None = None,
            max_wait_s: float | None = None, keep_alive_s: float = 0.1,
            qos: QoSProfile | None = None, print_every: int = 1,
            out: IO[str] | None = None, node_name: str | None = None,
            ack_timeout_s: float = DEFAULT_ACK_TIMEOUT_S, err: IO[str] | None = None) -> int:
    """
    ``ros2 topic pub``: publish a message built from YAML ``values`` at ``rate_hz`` (or
    ``times``/``once``); returns the number published. The publisher belongs to the node
    ``node_name`` (default ``ior_topic_pub_<pid>``) in the ROS graph.

    A reliable publisher then waits up to ``ack_timeout_s`` for its subscribers to acknowledge;
    one that does not (a stopped or vanished process) is named in one warning line on ``err``
    (default stderr), and publishing still counts as done.
    """
    stream = out or sys.stdout
    topic = _absolute(topic)
    reg = registry()
    name = reg.entry(normalize_type_name(typename)).typename
    cls = reg.get_class(name)
    try:
        parsed = yaml.safe_load(values) if values not in (None, '') else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None)
        where = f' (line {mark.line + 1}, column {mark.column + 1})' if mark else ''
        raise MessageTypeError(f'values {values!r} are not valid YAML{where}: '
                               f'{getattr(exc, "problem", exc)}') from None
    if parsed is None:
        parsed = {}
    if not isinstance(parsed, dict):
        raise MessageTypeError(f'values {values!r}: expected a YAML mapping like '
                               "\"{data: 'hello'}\"")

    def build() -> Any:
        return set_message_fields(cls(), parsed, now_ns=time.time_ns())

    build()  # fail on bad values before touching DDS
    count_limit = 1 if once else times
    if wait_matching is None:
        wait_matching = 1 if count_limit is not None else 0
    profile = qos or QoSProfile(depth=10)
    ctx = open_context('topic_pub', node_name)
    try:
        writer = ctx.create_writer(topic, name, profile)
        if wait_matching > 0:
            stream.write(f'Waiting for at least {wait_matching} matching subscription(s)...\n')
            stream.flush()
            deadline = None if max_wait_s is None else time.monotonic() + max_wait_s
            while writer.matched_count() < wait_matching:
                if deadline is not None and time.monotonic() > deadline:
                    raise RosInputError(f'no {wait_matching} matching subscription(s) on {topic} '
                                        f'within {max_wait_s} s')
                time.sleep(0.01)
        stream.write('publisher: beginning loop\n')
        stream.flush()
        period = 1.0 / rate_hz if rate_hz > 0 else 0.0
        count = 0
        next_time = time.monotonic()
        while count_limit is None or count < count_limit:
            msg = build()
            writer.write(reg.serialize(msg, name))
            count += 1
            if print_every and count % print_every == 0:
                stream.write(f'publishing #{count}: {msg!r}\n\n')
                stream.flush()
            if count_limit is not None and count >= count_limit:
                break
            next_time += period
            time.sleep(max(0.0, next_time - time.monotonic()))
        if profile.reliability == ReliabilityPolicy.RELIABLE:
            stalled = wait_for_acks([writer], ack_timeout_s, ctx)
            if stalled:
                errors = err or sys.stderr
                errors.write(f'[WARN] [{node_name or tool_node_name("topic_pub")}]: '
                             f'{stalled}\n')
                errors.flush()
        time.sleep(keep_alive_s)
        return count
    finally:
        ctx.close()


def hz(topic: str, typename: str | None = None, *, window: int = 10000,
       duration_s: float | None = None, spin_time_s: float = 5.0,
       out: IO[str] | None = None, report_period_s: float = 1.0) -> list[float]:
    """
    ``ros2 topic hz``: print the rate every second; returns the printed averages.

    Rates come from the samples' source timestamps (the publisher's send times), so samples
    that arrive in one batch on a loaded machine do not distort the gaps.
    """
    stream = out or sys.stdout
    topic = _absolute(topic)
    ctx = open_context('topic_hz')
    averages: list[float] = []
    try:
        typename, pubs = _type_and_publisher_qos(ctx, topic, typename, spin_time_s)
        reader = ctx.create_reader(topic, typename, adapt_subscription_qos(pubs))
        stamps: deque[float] = deque(maxlen=window + 1)
        start = time.monotonic()
        next_report = start + report_period_s
        while duration_s is None or time.monotonic() - start < duration_s:
            ctx.wait(20_000_000)
            now = time.monotonic()
            for _data, info in reader.take():  # the publisher's send time: batching-proof
                stamps.append(info.source_timestamp / 1e9)
            if now >= next_report:
                next_report += report_period_s
                if len(stamps) < 2:
                    continue
                gaps = [b - a for a, b in zip(list(stamps)[:-1], list(stamps)[1:])]
                mean = sum(gaps) / len(gaps)
                if mean <= 0:
                    continue
                std = math.sqrt(sum((g - mean) ** 2 for g in gaps) / len(gaps))
                rate = 1.0 / mean
                averages.append(rate)
                stream.write(f'average rate: {rate:.3f}\n\tmin: {min(gaps):.3f}s max: '
                             f'{max(gaps):.3f}s std dev: {std:.5f}s window: {len(gaps) + 1}\n')
                stream.flush()
        return averages
    finally:
        ctx.close()
