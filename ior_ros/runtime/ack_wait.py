"""
Waiting until reliable subscribers acknowledged what a tool published, without hanging on (or
crashing because of) one that stopped: a process paused with SIGSTOP, or killed and not yet
expired from discovery (its lease, 10 s by default in Cyclone DDS, still runs).

:func:`wait_for_acks` waits for several writers against one deadline and returns '' when every
matched reader acknowledged, else the one line to print (``subscriber /listener on /chatter did
not acknowledge within 2.0 s; continuing``), naming the nodes of the matched readers from
``ros_discovery_info`` (rmw_cyclonedds_cpp lists each node's reader GUIDs there).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

__all__ = ['DEFAULT_ACK_TIMEOUT_S', 'wait_for_acks', 'stall_text']

DEFAULT_ACK_TIMEOUT_S = 2.0


def _node_of(graph: Any, gid: bytes) -> str:
    """The fully qualified name of the node owning reader ``gid`` ('' when none says so)."""
    for entries in graph.nodes.values():
        for namespace, name, readers, _writers in entries:
            if gid in readers:
                return f'/{name}' if namespace in ('', '/') else f'{namespace}/{name}'
    return ''


def stall_text(ctx: Any, stalled: Sequence[Any], timeout_s: float) -> str:
    """The line that says which subscribers of ``stalled`` writers did not acknowledge."""
    topics = sorted({str(w.topic) for w in stalled})
    gids: list[bytes] = []
    for writer in stalled:
        gids.extend(g for g in writer.matched_reader_gids() if g not in gids)
    graph = None
    if ctx is not None and gids:
        try:
            graph = ctx.graph()
        except Exception:  # noqa: BLE001 - naming is a courtesy; the warning must still come
            graph = None
    names: list[str] = []
    for gid in gids:
        name = (_node_of(graph, gid) if graph is not None else '') or f'(reader {gid.hex()})'
        if name not in names:
            names.append(name)
    where = ', '.join(topics)
    within = f'within {timeout_s:.1f} s; continuing'
    if len(gids) == 1:
        return f'subscriber {names[0]} on {where} did not acknowledge {within}'
    if names:
        return f"a subscriber on {where} (matched: {', '.join(names)}) did not acknowledge " \
            f'{within}'
    return f'a subscriber on {where} did not acknowledge {within}'


def wait_for_acks(writers: Sequence[Any], timeout_s: float = DEFAULT_ACK_TIMEOUT_S,
                  ctx: Any = None) -> str:
    """
    Wait up to ``timeout_s`` in all for every writer's matched reliable readers to acknowledge.

    Args:
        writers: :class:`~ior_ros.runtime.dds_endpoints.RawWriter` objects (reliable ones).
        timeout_s: the deadline for all of them together [s].
        ctx: the DdsContext, to name the stalled subscribers' nodes (optional).

    Returns:
        '' when every reader acknowledged, else the line that says who did not.
    """
    deadline = time.monotonic() + timeout_s
    stalled = [w for w in writers if not w.wait_for_acks(max(0.0, deadline - time.monotonic()))]
    return stall_text(ctx, stalled, timeout_s) if stalled else ''
