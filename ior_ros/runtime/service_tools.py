"""
The ``ros2 service`` tools on the DDS runtime: ``list``, ``type`` and ``call``.

``list`` and ``type`` read the graph from DDS discovery (a bare participant, like ``ior topic
list``): a service is any request (``rq<name>Request``) or reply (``rr<name>Reply``) topic of a
``pkg::srv::dds_::<Name>_Request_``/``_Response_`` type, as rmw_dds_common demangles them, so a
service with only clients is listed too (as ``ros2 service list`` does). ``call`` sends one
request through a client that belongs to the graph node ``ior_service_call_<pid>`` and prints
what ``ros2 service call`` prints::

    waiting for service to become available...
    requester: making request: std_srvs.srv.SetBool_Request(data=True)

    response:
    std_srvs.srv.SetBool_Response(success=True, message='enabled')

Unlike ``ros2 service call`` it gives up after ``timeout_s`` (one error line, exit code 2).
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

import yaml

from ior_ros.runtime.conversions import set_message_fields
from ior_ros.runtime.errors import MessageTypeError, RosInputError
from ior_ros.runtime.names import expand_topic_name
from ior_ros.runtime.registry import get_service

__all__ = ['list_services', 'service_types', 'call_service', 'is_hidden']


def is_hidden(name: str) -> bool:
    """ros2cli's rule: a name with a token starting with ``_`` is hidden."""
    return any(token.startswith('_') for token in name.split('/'))


def list_services(spin_time_s: float = 1.5, include_hidden: bool = False,
                  ctx: Any = None) -> list[tuple[str, list[str]]]:
    """Every service (with its types) that discovery finds within ``spin_time_s``."""
    from ior_ros.runtime.topic_tools import open_context

    own = ctx is None
    ctx = ctx or open_context()
    try:
        time.sleep(max(0.0, spin_time_s))
        found = ctx.graph().service_names_and_types()
        return [(name, types) for name, types in found.items()
                if include_hidden or not is_hidden(name)]
    finally:
        if own:
            ctx.close()


def service_types(service: str, spin_time_s: float = 1.5) -> list[str]:
    """The type(s) of ``service`` (RosInputError when discovery does not find it)."""
    from ior_ros.runtime.topic_tools import open_context

    name = expand_topic_name(service, 'tool', '/')
    ctx = open_context()
    try:
        deadline = time.monotonic() + max(0.0, spin_time_s)
        while True:
            found = ctx.graph().service_names_and_types().get(name)
            if found:
                return list(found)
            if time.monotonic() >= deadline:
                raise RosInputError(f"service '{name}' not found within {spin_time_s} s (is a "
                                    'server or client running, in this ROS_DOMAIN_ID?)')
            time.sleep(0.05)
    finally:
        ctx.close()


def _request(srv: Any, values: str | None) -> Any:
    """The request built from YAML ``values`` (errors name the value or field)."""
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
                               '"{data: true}"')
    request = srv.Request()
    set_message_fields(request, parsed, now_ns=time.time_ns())
    return request


def call_service(service: str, srv_type: str, values: str | None = None, *,
                 timeout_s: float = 10.0, rate_hz: float | None = None,
                 times: int | None = None,
                 out: IO[str] | None = None, node_name: str | None = None) -> int:
    """
    ``ros2 service call``: wait for the service, send the request built from YAML ``values``,
    print request and response; with ``rate_hz`` call again at that rate, until interrupted or
    ``times`` calls (``ros2 service call -r`` repeats until Ctrl-C). Returns the
    number of responses. Raises RosInputError (one line) for an unknown type, bad values, a
    service that does not appear or answer within ``timeout_s``.
    """
    from ior_ros.runtime.client import ServiceClient
    from ior_ros.runtime.qos import qos_profile_services_default
    from ior_ros.runtime.topic_tools import open_context

    stream = out or sys.stdout
    name = expand_topic_name(service, 'tool', '/')
    srv = get_service(srv_type)  # fails on an unknown type before touching DDS
    request = _request(srv, values)
    ctx = open_context('service_call', node_name)
    try:
        client = ServiceClient(ctx, name, srv.__srvtype__, qos_profile_services_default)
        if not client.wait_for_service(0.0):
            stream.write('waiting for service to become available...\n')
            stream.flush()
            if not client.wait_for_service(timeout_s):
                raise RosInputError(f"service '{name}' is not available within {timeout_s} s (is "
                                    'a server running, in this ROS_DOMAIN_ID?)')
        period = 1.0 / rate_hz if rate_hz else None
        done = 0
        while True:
            started = time.monotonic()
            stream.write(f'requester: making request: {request!r}\n\n')
            stream.flush()
            try:
                response = client.call(request, timeout_s)
            except RosInputError:
                raise RosInputError(f"service '{name}' did not answer within {timeout_s} s (the "
                                    "server's log may say why)") from None
            stream.write(f'response:\n{response!r}\n\n')
            stream.flush()
            done += 1
            if period is None or (times is not None and done >= times):
                return done
            time.sleep(max(0.0, started + period - time.monotonic()))
    finally:
        ctx.close()
