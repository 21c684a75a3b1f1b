"""
ROS 2 names: validation, expansion and remapping (the rules of rcl and design article 140).

* A node name is ``[A-Za-z_][A-Za-z0-9_]*``; a namespace is ``/`` or ``/tok/tok`` of such tokens.
* A topic name is expanded against its node: ``~`` is the node's fully qualified name, a relative
  name gets the namespace in front, ``{node}``/``{ns}`` are substituted; the result is absolute.
* A remap rule ``[node:]from:=to`` applies when its (expanded) ``from`` equals the expanded name;
  the first matching rule wins, as in rcl_remap_topic_name.
* On DDS a topic ``/a/b`` is ``rt/a/b`` (rmw_cyclonedds namespace_prefix.hpp).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ior_ros.runtime.errors import NameError_

__all__ = ['RemapRule', 'validate_node_name', 'normalize_namespace', 'expand_topic_name',
           'remap_topic_name', 'fully_qualified_node_name', 'ros_topic_to_dds', 'dds_topic_to_ros',
           'dds_topic_to_service', 'TOPIC_PREFIX']

TOPIC_PREFIX = 'rt'
_TOKEN = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')
_TOPIC_TOKEN = re.compile(r'[A-Za-z0-9_]+')


@dataclass(frozen=True)
class RemapRule:
    """One ``[node:]from:=to`` rule; ``node`` limits it to the node with that (original) name."""

    source: str
    target: str
    node: str | None = None


def validate_node_name(name: str) -> str:
    """Return ``name`` if it is a valid node name, else raise NameError_."""
    if not _TOKEN.fullmatch(name or ''):
        raise NameError_(f'invalid node name {name!r}: use letters, digits and underscores, not '
                         'starting with a digit')
    return name


def normalize_namespace(namespace: str | None) -> str:
    """``''``/None → ``/``; ``ns`` → ``/ns``; checks every token; strips a trailing slash."""
    if not namespace:
        return '/'
    ns = namespace if namespace.startswith('/') else '/' + namespace
    if len(ns) > 1 and ns.endswith('/'):
        ns = ns.rstrip('/') or '/'
    if ns == '/':
        return ns
    for token in ns[1:].split('/'):
        if not _TOKEN.fullmatch(token):
            raise NameError_(f'invalid namespace {namespace!r}: token {token!r} must be letters, '
                             'digits and underscores, not starting with a digit')
    return ns


def fully_qualified_node_name(namespace: str, name: str) -> str:
    """``/ns`` + ``node`` → ``/ns/node``."""
    ns = normalize_namespace(namespace)
    return f'/{name}' if ns == '/' else f'{ns}/{name}'


def expand_topic_name(topic: str, node_name: str, namespace: str) -> str:
    """Expand ``topic`` (relative, absolute or private ``~``) to an absolute, validated name."""
    if not topic:
        raise NameError_('empty topic name')
    ns = normalize_namespace(namespace)
    fqn = fully_qualified_node_name(ns, node_name)
    name = topic.replace('{node}', node_name).replace('{ns}', ns.rstrip('/') or '')
    if name.startswith('~'):
        rest = name[1:]
        if rest and not rest.startswith('/'):
            raise NameError_(f"invalid topic name {topic!r}: '~' must be followed by '/' or "
                             'nothing')
        name = fqn + rest
    elif not name.startswith('/'):
        name = (ns.rstrip('/') + '/' + name) if ns != '/' else '/' + name
    if '{' in name or '}' in name:
        raise NameError_(f'invalid topic name {topic!r}: unknown substitution (use {{node}} or '
                         '{ns})')
    if name != '/' and name.endswith('/'):
        raise NameError_(f'invalid topic name {topic!r}: must not end with /')
    for token in name[1:].split('/'):
        if not _TOPIC_TOKEN.fullmatch(token) or token[0].isdigit():
            raise NameError_(f'invalid topic name {topic!r}: token {token!r} must be letters, '
                             'digits and underscores, not starting with a digit')
    return name


def remap_topic_name(topic: str, node_name: str, namespace: str, rules: list[RemapRule],
                     original_node_name: str | None = None) -> str:
    """Expand ``topic`` and apply the first matching remap rule (rcl semantics)."""
    expanded = expand_topic_name(topic, node_name, namespace)
    owner = original_node_name or node_name
    for rule in rules:
        if rule.source.startswith('__'):
            continue
        if rule.node is not None and rule.node not in (owner, node_name):
            continue
        if expand_topic_name(rule.source, node_name, namespace) == expanded:
            return expand_topic_name(rule.target, node_name, namespace)
    return expanded


def ros_topic_to_dds(topic: str) -> str:
    """``/a/b`` → ``rt/a/b``."""
    return TOPIC_PREFIX + topic


def dds_topic_to_service(dds_topic: str) -> tuple[str, str] | None:
    """``rq/a/bRequest`` → ``('/a/b', 'request')``, ``rr/a/bReply`` → ``('/a/b', 'reply')``
    (rmw's service topic mangling); None for any other DDS topic."""
    for prefix, suffix, kind in (('rq/', 'Request', 'request'), ('rr/', 'Reply', 'reply')):
        if dds_topic.startswith(prefix) and dds_topic.endswith(suffix) \
                and len(dds_topic) > len(prefix) + len(suffix):
            return dds_topic[len(prefix) - 1:-len(suffix)], kind
    return None


def dds_topic_to_ros(dds_topic: str) -> str | None:
    """``rt/a/b`` → ``/a/b``; None for a DDS topic that is not a ROS topic."""
    if dds_topic.startswith(TOPIC_PREFIX + '/'):
        return dds_topic[len(TOPIC_PREFIX):]
    return None
