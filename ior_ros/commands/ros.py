"""
ROS 2 tools on the DDS runtime: ``ior launch``, ``ior topic``, ``ior node``, ``ior param``,
``ior service``, ``ior bag``.

They mirror ros2cli (``ros2 launch``, ``ros2 topic pub|echo|list|hz``, ``ros2 node list``,
``ros2 param list|get|set|describe``, ``ros2 service list|type|call``,
``ros2 bag record|play|info|reindex``)
closely enough that the same
arguments work; the differences are listed in docs/models/runtime.md. Domain and discovery
come from ``ROS_DOMAIN_ID`` and ``ROS_AUTOMATIC_DISCOVERY_RANGE`` (``LOCALHOST`` for loopback
only), as for ROS 2 itself.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ior_ros.commands.common import (
    non_negative_float,
    non_negative_int,
    number,
    positive_float,
    positive_int,
)

__all__ = ['register']

_QOS_CHOICES = {'reliability': ('reliable', 'best_effort'),
                'durability': ('volatile', 'transient_local'),
                'history': ('keep_last', 'keep_all')}


def _add_qos(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--qos-profile', default=None,
                        help='preset: system_default, sensor_data, services_default, parameters, '
                             'parameter_events, action_status_default, rosout_default, '
                             'transient_local')
    parser.add_argument('--qos-depth', type=non_negative_int, default=None,
                        help='queue depth (KEEP_LAST)')
    for name, choices in _QOS_CHOICES.items():
        parser.add_argument(f'--qos-{name}', choices=choices, default=None,
                            help=f'{name} policy')


def _qos(args: argparse.Namespace, always: bool = False) -> Any:
    from ior_ros.runtime.topic_tools import build_qos

    given = any(getattr(args, f'qos_{k}') is not None
                for k in ('profile', 'depth', 'reliability', 'durability', 'history'))
    if not given and not always:
        return None
    return build_qos(args.qos_profile, args.qos_reliability, args.qos_durability, args.qos_depth,
                     args.qos_history)


# ranges of the tools' own numbers (launch, topic list/echo/hz, node, service)
_SPIN_TIME = number(float, 0, 3600, unit='s', why='the command waits this long for discovery '
                                                  'before it answers')
_SECONDS = number(float, 0, 1e6, low_open=True, unit='s', why='about 11 days; the command runs '
                                                              'until then')
_COUNT = number(int, 1, 10**9, why='a count of messages or calls; nothing is kept per item')
_WINDOW = number(int, 1, 10**6, why='the window keeps one arrival time per message')
_CALL_RATE = number(float, 0, 1000, low_open=True, unit='Hz', why=(
    'each call waits for its reply, so a faster rate only queues requests'))


def _spin_time(parser: argparse.ArgumentParser, default: float) -> None:
    parser.add_argument('--spin-time', type=_SPIN_TIME, default=default, metavar='S',
                        help=f'seconds to wait for discovery (default {default})')


# ---------------------------------------------------------------------------- handlers
def _launch(args: argparse.Namespace) -> int:
    from ior_ros.runtime.launch_runner import run_launch
    from ior_ros.runtime.launch_yaml import parse_launch_arguments, resolve_launch_file

    items = list(args.arguments)
    second = None
    if items and ':=' not in items[0]:
        second = items.pop(0)
    path = resolve_launch_file(args.target, second)
    return run_launch(path, parse_launch_arguments(items), show_args=args.show_args)


def _topic_list(args: argparse.Namespace) -> int:
    from ior_ros.runtime.topic_tools import list_topics

    for topic, types in list_topics(args.spin_time):
        print(f"{topic} [{', '.join(types)}]" if args.show_types else topic)
    return 0


def _topic_echo(args: argparse.Namespace) -> int:
    from ior_ros.runtime.topic_tools import echo

    echo(args.topic, args.type, once=args.once, max_count=args.times, timeout_s=args.timeout,
         spin_time_s=args.spin_time, qos=_qos(args), no_arr=args.no_arr)
    return 0


def _topic_pub(args: argparse.Namespace) -> int:
    from ior_ros.runtime.topic_tools import publish

    publish(args.topic, args.type, args.values, rate_hz=args.rate, times=args.times,
            once=args.once, wait_matching=args.wait_matching_subscriptions,
            max_wait_s=args.max_wait_time_secs, keep_alive_s=args.keep_alive,
            qos=_qos(args), print_every=args.print, node_name=args.node_name,
            ack_timeout_s=args.ack_timeout)
    return 0


def _topic_hz(args: argparse.Namespace) -> int:
    from ior_ros.runtime.topic_tools import hz

    hz(args.topic, args.type, window=args.window, duration_s=args.duration,
       spin_time_s=args.spin_time)
    return 0


def _node_list(args: argparse.Namespace) -> int:
    from ior_ros.runtime.graph import SHARED_NAME_WARNING, shared_names
    from ior_ros.runtime.topic_tools import list_nodes

    names = list_nodes(args.spin_time)
    if args.count_nodes:
        print(len(names))
    else:
        if shared_names(names):  # ros2 node list's warning, word for word (ros2node/verb/list.py)
            print(f'WARNING: {SHARED_NAME_WARNING}', file=sys.stderr)
        for name in names:
            print(name)
    return 0


def _param_list(args: argparse.Namespace) -> int:
    from ior_ros.runtime.param_tools import param_list

    for name in param_list(args.node, args.timeout):
        print(f'  {name}')
    return 0


def _param_get(args: argparse.Namespace) -> int:
    from ior_ros.runtime.param_tools import param_get

    print(param_get(args.node, args.name, args.timeout))
    return 0


def _param_set(args: argparse.Namespace) -> int:
    from ior_ros.runtime.param_tools import param_set

    ok, reason = param_set(args.node, args.name, args.value, args.timeout)
    if ok:  # ros2 param set's lines (ros2param/verb/set.py); a refusal exits 2 here, 0 there
        print('Set parameter successful' + (f': {reason}' if reason else ''))
        return 0
    print('Setting parameter failed' + (f': {reason}' if reason else ''), file=sys.stderr)
    return 2


def _param_describe(args: argparse.Namespace) -> int:
    from ior_ros.runtime.param_tools import param_describe

    for line in param_describe(args.node, args.names, args.timeout):
        print(line)
    return 0


def _service_list(args: argparse.Namespace) -> int:
    from ior_ros.runtime.service_tools import list_services

    found = list_services(args.spin_time, include_hidden=args.include_hidden_services)
    if args.count_services:
        print(len(found))
        return 0
    for name, types in found:
        print(f"{name} [{', '.join(types)}]" if args.show_types else name)
    return 0


def _service_type(args: argparse.Namespace) -> int:
    from ior_ros.runtime.service_tools import service_types

    for typename in service_types(args.service_name, args.spin_time):
        print(typename)
    return 0


def _service_call(args: argparse.Namespace) -> int:
    from ior_ros.runtime.service_tools import call_service

    call_service(args.service_name, args.service_type, args.values, timeout_s=args.timeout,
                 rate_hz=args.rate, times=args.times)
    return 0


def _bag_record(args: argparse.Namespace) -> int:
    from datetime import datetime

    from ior_ros.runtime.bag_record import record

    output = args.output or datetime.now().strftime('rosbag2_%Y_%m_%d-%H_%M_%S')
    record(output, args.topics, all_topics=args.all, include_hidden=args.include_hidden_topics,
           duration_s=args.duration, max_messages=args.max_messages, qos_override=_qos(args),
           storage=args.storage, max_chunk_interval_s=args.max_chunk_interval,
           max_cache_size=args.max_cache_size, fsync=not args.no_fsync)
    return 0


def _bag_play(args: argparse.Namespace) -> int:
    from ior_ros.commands.progress import progress_enabled
    from ior_ros.runtime.bag_play import play

    clock = args.clock
    play(args.bag, rate=args.rate, topics=args.topics, loop=args.loop,
         clock_hz=clock if clock else None, delay_s=args.delay,
         start_offset_s=args.start_offset, wait_for_subscribers_s=args.wait_for_subscribers,
         progress=progress_enabled(not args.no_progress), ack_timeout_s=args.ack_timeout)
    return 0


def _bag_info(args: argparse.Namespace) -> int:
    from ior_ros.runtime.bag_info import info

    info(args.bag)
    return 0


def _bag_reindex(args: argparse.Namespace) -> int:
    from ior_ros.runtime.bag_reindex import reindex

    reindex(args.bag, keep_original=not args.delete_original)
    return 0


def _ack_timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--ack-timeout', type=non_negative_float, default=2.0, metavar='S',
                        help='at the end, wait at most S seconds for reliable subscribers to '
                             'acknowledge; one that does not is named in a warning (default 2; '
                             'ior extension)')


# ---------------------------------------------------------------------------- registration
def register(subparsers: Any) -> None:
    """Add ``launch``, ``topic``, ``node``, ``param``, ``service`` and ``bag`` to ``ior``."""
    launch = subparsers.add_parser(
        'launch', help='run a ROS 2 YAML launch file (each node its own process)',
        description='Run FILE.launch.yaml (or PKG FILE from the package share folder) like '
                    '`ros2 launch`: arguments as name:=value; Ctrl-C stops every process; a node '
                    'with on_exit: shutdown (or required: true) that exits stops the launch.')
    launch.add_argument('target', help='launch file path, or a package name followed by FILE')
    launch.add_argument('arguments', nargs='*', metavar='name:=value',
                        help='launch arguments (a FILE name first when target is a package)')
    launch.add_argument('-s', '--show-args', action='store_true',
                        help='list the launch arguments and exit')
    launch.set_defaults(handler=_launch)

    topic = subparsers.add_parser('topic', help='list, echo, publish or measure ROS 2 topics',
                                  description='ros2 topic on the DDS runtime.')
    topic_sub = topic.add_subparsers(dest='topic_command', metavar='VERB')
    topic_sub.required = True

    p = topic_sub.add_parser('list', help='topics discovery finds',
                             description='Print every topic with a publisher or subscriber.')
    p.add_argument('-t', '--show-types', action='store_true', help='also print the types')
    _spin_time(p, 1.5)
    p.set_defaults(handler=_topic_list)

    p = topic_sub.add_parser('echo', help='print messages of a topic as YAML',
                             description='Print each message as YAML followed by ---.')
    p.add_argument('topic', help='topic name')
    p.add_argument('type', nargs='?', default=None,
                   help='message type pkg/msg/Name (found by discovery when omitted)')
    p.add_argument('--once', action='store_true', help='print one message and exit')
    p.add_argument('--times', type=_COUNT, default=None, metavar='N',
                   help='exit after N messages (ior extension)')
    p.add_argument('--timeout', type=_SECONDS, default=None, metavar='S',
                   help='exit after S seconds (ior extension)')
    p.add_argument('--no-arr', action='store_true', help='print array sizes, not contents')
    _spin_time(p, 5.0)
    _add_qos(p)
    p.set_defaults(handler=_topic_echo)

    p = topic_sub.add_parser('pub', help='publish a message built from YAML values',
                             description="Publish TYPE on TOPIC, e.g. ior topic pub /chatter "
                                         "std_msgs/msg/String \"{data: 'hello'}\". Use 'now' "
                                         "for a Time field and 'auto' for a Header field.")
    p.add_argument('topic', help='topic name')
    p.add_argument('type', help='message type pkg/msg/Name')
    p.add_argument('values', nargs='?', default='{}', help='field values in YAML')
    p.add_argument('-r', '--rate', type=positive_float, default=1.0, metavar='HZ',
                   help='publishing rate (default 1 Hz)')
    p.add_argument('-1', '--once', action='store_true', help='publish one message and exit')
    p.add_argument('-t', '--times', type=positive_int, default=None, metavar='N',
                   help='publish N messages and exit')
    p.add_argument('-w', '--wait-matching-subscriptions', type=non_negative_int, default=None,
                   metavar='N', help='wait for N matching subscriptions first (default 1 with '
                                     '--once/--times, else 0)')
    p.add_argument('--max-wait-time-secs', type=positive_float, default=None, metavar='S',
                   help='give up waiting for subscriptions after S seconds')
    p.add_argument('--keep-alive', type=non_negative_float, default=0.1, metavar='S',
                   help='stay alive S seconds after the last message (default 0.1)')
    p.add_argument('-p', '--print', type=non_negative_int, default=1, metavar='N',
                   help='print every N-th message (0: never)')
    p.add_argument('-n', '--node-name', default=None, metavar='NAME',
                   help='name of the publishing node in the ROS graph (default '
                        'ior_topic_pub_<pid>)')
    _ack_timeout(p)
    _add_qos(p)
    p.set_defaults(handler=_topic_pub)

    p = topic_sub.add_parser('hz', help='print the publishing rate of a topic',
                             description='Average rate, min/max gap and std dev every second.')
    p.add_argument('topic', help='topic name')
    p.add_argument('type', nargs='?', default=None, help='message type (found when omitted)')
    p.add_argument('-w', '--window', type=_WINDOW, default=10000, metavar='N',
                   help='samples in the moving window')
    p.add_argument('--duration', type=_SECONDS, default=None, metavar='S',
                   help='stop after S seconds (ior extension)')
    _spin_time(p, 5.0)
    p.set_defaults(handler=_topic_hz)

    node = subparsers.add_parser('node', help='list ROS 2 nodes',
                                 description='ros2 node on the DDS runtime.')
    node_sub = node.add_subparsers(dest='node_command', metavar='VERB')
    node_sub.required = True
    p = node_sub.add_parser('list', help='nodes announced on ros_discovery_info',
                            description='Print the fully qualified name of every node (a '
                                        'warning on stderr when two nodes share one).')
    p.add_argument('-c', '--count-nodes', action='store_true', help='print only the count')
    _spin_time(p, 1.5)
    p.set_defaults(handler=_node_list)

    param = subparsers.add_parser('param', help="list, get, set or describe a node's parameters",
                                  description='ros2 param on the DDS runtime: calls the '
                                              "node's parameter services.")
    param_sub = param.add_subparsers(dest='param_command', metavar='VERB')
    param_sub.required = True
    for verb, helptext, handler in (
            ('list', 'parameter names of a node', _param_list),
            ('get', 'value of one parameter', _param_get),
            ('set', 'set one parameter (VALUE in YAML); a refusal prints the reason, exit 2',
             _param_set),
            ('describe', 'type, description and constraints (range, read-only) of parameters',
             _param_describe)):
        p = param_sub.add_parser(verb, help=helptext, description=helptext + '.')
        p.add_argument('node', help='fully qualified node name, e.g. /ns/talker')
        if verb == 'describe':
            p.add_argument('names', nargs='+', metavar='name', help='parameter names')
        elif verb != 'list':
            p.add_argument('name', help='parameter name')
        if verb == 'set':
            p.add_argument('value', help='new value, read as YAML (2.5, true, [1, 2], text)')
        p.add_argument('--timeout', type=positive_float, default=5.0, metavar='S',
                       help='seconds to wait for the node and its reply (default 5)')
        p.set_defaults(handler=handler)

    service = subparsers.add_parser('service', help='list, inspect or call ROS 2 services',
                                    description='ros2 service on the DDS runtime.')
    service_sub = service.add_subparsers(dest='service_command', metavar='VERB')
    service_sub.required = True
    p = service_sub.add_parser('list', help='services discovery finds',
                               description='Print every service with a server or a client.')
    p.add_argument('-t', '--show-types', action='store_true', help='also print the types')
    p.add_argument('-c', '--count-services', action='store_true',
                   help='print only the number of services')
    p.add_argument('--include-hidden-services', action='store_true',
                   help='also services with a name part starting with _')
    _spin_time(p, 1.5)
    p.set_defaults(handler=_service_list)
    p = service_sub.add_parser('type', help='the type of a service',
                               description='Print the type of SERVICE_NAME.')
    p.add_argument('service_name', help='service name, e.g. /set_enabled')
    _spin_time(p, 1.5)
    p.set_defaults(handler=_service_type)
    p = service_sub.add_parser('call', help='call a service with a request built from YAML',
                               description='Call SERVICE_NAME of SERVICE_TYPE, e.g. ior service '
                                           'call /set_enabled std_srvs/srv/SetBool "{data: '
                                           'true}", and print the response like ros2 service '
                                           'call.')
    p.add_argument('service_name', help='service name')
    p.add_argument('service_type', help='service type pkg/srv/Name')
    p.add_argument('values', nargs='?', default='{}', help='request field values in YAML')
    p.add_argument('-r', '--rate', type=_CALL_RATE, default=None, metavar='HZ',
                   help='call repeatedly at HZ until Ctrl-C (or --times calls)')
    p.add_argument('--times', type=_COUNT, default=None, metavar='N',
                   help='with --rate, stop after N calls (ior extension)')
    p.add_argument('--timeout', type=_SECONDS, default=10.0, metavar='S',
                   help='seconds to wait for the service and for each reply (default 10; ior '
                        'extension)')
    p.set_defaults(handler=_service_call)

    bag = subparsers.add_parser('bag', help='record, play, inspect or reindex rosbag2 bags',
                                description='ros2 bag on the DDS runtime (mcap and sqlite3 '
                                            'storage via rosbags).')
    bag_sub = bag.add_subparsers(dest='bag_command', metavar='VERB')
    bag_sub.required = True
    p = bag_sub.add_parser('record', help='record topics into a new bag',
                           description='Record until Ctrl-C (or --duration / --max-messages).')
    p.add_argument('topics', nargs='*', help='topics to record')
    p.add_argument('-a', '--all', action='store_true', help='record every topic discovered')
    p.add_argument('-o', '--output', default=None, metavar='DIR',
                   help='bag folder to create (default rosbag2_<date>)')
    p.add_argument('-s', '--storage', default='mcap', choices=('mcap', 'sqlite3'),
                   help='storage plugin (default mcap)')
    p.add_argument('--include-hidden-topics', action='store_true',
                   help='with -a, also /rosout and /parameter_events')
    p.add_argument('--duration', type=positive_float, default=None, metavar='S',
                   help='stop after S seconds (ior extension)')
    p.add_argument('--max-messages', type=positive_int, default=None, metavar='N',
                   help='stop after N messages (ior extension)')
    p.add_argument('--max-chunk-interval', type=positive_float, default=0.5, metavar='S',
                   help='write buffered messages to the file at least every S seconds: a '
                        'recorder that is killed loses at most that much (default 0.5; ior '
                        'extension)')
    p.add_argument('--max-cache-size', type=non_negative_int, default=1 << 20, metavar='BYTES',
                   help='also write them once BYTES are buffered (default 1048576; 0: after '
                        'every batch received)')
    p.add_argument('--no-fsync', action='store_true',
                   help='do not fsync each write (enough against a killed recorder, not '
                        'against a power cut; ior extension)')
    _add_qos(p)
    p.set_defaults(handler=_bag_record)

    p = bag_sub.add_parser('play', help='republish a bag with its timing',
                           description='Publish every message in order with the recorded gaps '
                                       '(divided by --rate).')
    p.add_argument('bag', help='bag folder')
    p.add_argument('-r', '--rate', type=positive_float, default=1.0, metavar='X',
                   help='playback speed factor (default 1)')
    p.add_argument('--topics', nargs='+', default=None, help='only these topics')
    p.add_argument('-l', '--loop', action='store_true', help='play again and again')
    p.add_argument('--clock', type=positive_float, nargs='?', const=40.0, default=None,
                   metavar='HZ', help='publish /clock at HZ (default 40) from the bag time')
    p.add_argument('-d', '--delay', type=non_negative_float, default=0.0, metavar='S',
                   help='wait S seconds before playing')
    p.add_argument('--start-offset', type=non_negative_float, default=0.0, metavar='S',
                   help='skip the first S seconds of the bag')
    p.add_argument('--wait-for-subscribers', type=positive_float, default=None, metavar='S',
                   help='wait up to S seconds until every topic has a subscriber (ior '
                        'extension)')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    _ack_timeout(p)
    p.set_defaults(handler=_bag_play)

    p = bag_sub.add_parser('info', help='summarize a bag',
                           description='ros2 bag info. A bag cut by a crash is summarized up to '
                                       'its last complete message (stderr says what was cut).')
    p.add_argument('bag', help='bag folder')
    p.set_defaults(handler=_bag_info)

    p = bag_sub.add_parser('reindex', help="rebuild a bag's metadata.yaml; repair a cut MCAP file",
                           description='ros2 bag reindex: rebuild metadata.yaml from the storage '
                                       'files (counts, times, topics with type and offered QoS). '
                                       'An MCAP file without a footer (a recording that was '
                                       'killed, a cut or garbage tail) is rewritten with every '
                                       'complete message and a summary, so that ros2 bag reads '
                                       'it; the original is kept as FILE.orig.')
    p.add_argument('bag', help='bag folder')
    p.add_argument('--delete-original', action='store_true',
                   help='replace a repaired MCAP file without keeping the original as FILE.orig')
    p.set_defaults(handler=_bag_reindex)
