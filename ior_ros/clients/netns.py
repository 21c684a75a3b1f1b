"""
Linux network namespaces and veth links with iproute2, for the tc slices' tests and the seed 000
Fig. 2b reproduction.

:class:`Netns` owns what it creates: namespaces (``ip netns add``, ip-netns(8)), veth pairs
created directly inside their namespaces (``ip link add … netns A type veth peer name … netns
B``, so the host never sees them), addresses, routes and sysctls. :meth:`Netns.close` deletes
every namespace it created (which destroys their veths); it runs on leaving the ``with`` block,
on an exception and on Ctrl-C (KeyboardInterrupt passes through ``__exit__``), and never raises.
Processes started inside a namespace must be dead by then, or it lives on unnamed until they
exit.

Names carry the process id and a counter, so two runs (two pytest workers, a test and a CLI
run) never collide; an interface name stays within the kernel's 15 characters (IFNAMSIZ - 1).
Every command runs with :mod:`subprocess` (no shell); a failure is one
:class:`NetnsError` line with the command and its stderr, and a refusal to create a namespace or
a veth (not root, no CAP_NET_ADMIN, a kernel without veth) is :class:`NetnsDenied`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from types import TracebackType

from ior_ros.clients.errors import EquipmentError, EquipmentUnavailable

__all__ = ['Netns', 'NetnsError', 'NetnsDenied', 'unavailable', 'run_ip', 'veth_loop']

_COUNTER = itertools.count()
_TIMEOUT_S = 30.0


class NetnsError(EquipmentError):
    """An ``ip``/``sysctl`` command failed; the message is its command line and stderr."""


class NetnsDenied(NetnsError, EquipmentUnavailable):
    """A namespace or veth cannot be created here (not allowed, or not built into the kernel)."""


def run_ip(*args: str) -> str:
    """
    Run one command (``ip …``), its stdout.

    Raises:
        NetnsError: non-zero exit or timeout, with the command line and stderr.
    """
    try:
        done = subprocess.run(list(args), capture_output=True, text=True, timeout=_TIMEOUT_S,
                              check=False)
    except subprocess.TimeoutExpired:
        raise NetnsError(f'{" ".join(args)}: no answer within {_TIMEOUT_S:g} s') from None
    except OSError as exc:
        raise NetnsError(f'{" ".join(args)}: {exc.strerror or exc}') from None
    if done.returncode != 0:
        raise NetnsError(f'{" ".join(args)}: '
                         f'{(done.stderr or done.stdout).strip() or f"exit {done.returncode}"}')
    return done.stdout


def unavailable() -> str | None:
    """Why namespaces cannot be used here (None: try; root/CAP_NET_ADMIN is found by trying)."""
    if sys.platform != 'linux':
        return f'network namespaces are Linux only (platform {sys.platform})'
    for tool in ('ip', 'tc'):
        if shutil.which(tool) is None:
            return f"'{tool}' (iproute2) is not installed"
    return None


class Netns:
    """A group of namespaces and links this object creates and deletes (module docstring)."""

    def __init__(self, prefix: str = 'ior') -> None:
        self.tag = f'{prefix}{os.getpid() % 1_000_000}x{next(_COUNTER) % 1000}'
        self._created: list[str] = []
        self._links = itertools.count()

    # -- namespaces -------------------------------------------------------------------------
    def add(self, role: str) -> str:
        """
        Create the namespace for ``role`` (``'ap'``, ``'robot1'``) with ``lo`` up; its name.

        Raises:
            NetnsDenied: ``ip netns add`` refused (not root, no CAP_NET_ADMIN).
        """
        name = f'{self.tag}-{role}'
        try:
            run_ip('ip', 'netns', 'add', name)
        except NetnsError as exc:
            raise NetnsDenied(f'cannot create a network namespace: {exc} (needs root or '
                              'CAP_NET_ADMIN)') from None
        self._created.append(name)
        run_ip('ip', '-n', name, 'link', 'set', 'lo', 'up')
        return name

    @property
    def namespaces(self) -> list[str]:
        """The namespaces created and not yet deleted."""
        return list(self._created)

    def link(self, ns_a: str, ns_b: str, addr_a: str, addr_b: str, mtu: int = 1500
             ) -> tuple[str, str]:
        """
        A veth pair between ``ns_a`` and ``ns_b``, up, with ``addr_a``/``addr_b``
        (``10.0.1.1/24``); the two interface names.

        Raises:
            NetnsDenied: the kernel refused the veth (e.g. built without CONFIG_VETH).
        """
        index = next(self._links)
        short = self.tag[-8:]
        if_a, if_b = f'v{short}{index}a', f'v{short}{index}b'
        try:
            run_ip('ip', 'link', 'add', if_a, 'netns', ns_a, 'mtu', str(mtu), 'type', 'veth',
                   'peer', 'name', if_b, 'netns', ns_b, 'mtu', str(mtu))
        except NetnsError as exc:
            raise NetnsDenied(f'cannot create a veth pair: {exc}') from None
        for ns, dev, addr in ((ns_a, if_a, addr_a), (ns_b, if_b, addr_b)):
            run_ip('ip', '-n', ns, 'addr', 'add', addr, 'dev', dev)
            run_ip('ip', '-n', ns, 'link', 'set', dev, 'up')
        return if_a, if_b

    def route(self, ns: str, destination: str, via: str) -> None:
        """``ip route replace DESTINATION via VIA`` in ``ns`` (``default`` for the default)."""
        run_ip('ip', '-n', ns, 'route', 'replace', destination, 'via', via)

    def forwarding(self, ns: str) -> None:
        """Let ``ns`` route IPv4 between its interfaces (the AP)."""
        run_ip(*self.exec_args(ns, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'))

    def exec_args(self, ns: str, *args: str) -> list[str]:
        """The command line running ``args`` inside ``ns``."""
        return ['ip', 'netns', 'exec', ns, *args]

    def popen(self, ns: str, *args: str, env: dict[str, str] | None = None
              ) -> subprocess.Popen[str]:
        """Start ``args`` inside ``ns`` (stdout and stderr piped, text)."""
        return subprocess.Popen(self.exec_args(ns, *args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)

    # -- teardown ---------------------------------------------------------------------------
    def close(self) -> None:
        """Delete every namespace created (and with them their veths); idempotent, never
        raises."""
        while self._created:
            name = self._created.pop()
            try:
                subprocess.run(['ip', 'netns', 'del', name], capture_output=True,
                               timeout=_TIMEOUT_S, check=False)
            except (OSError, subprocess.SubprocessError):
                pass

    def __enter__(self) -> Netns:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


@contextlib.contextmanager
def veth_loop(prefix: str, addr_a: str = '10.88.0.1/24', addr_b: str = '10.88.0.2/24'
              ) -> Iterator[tuple[str, str]]:
    """
    ``(namespace, interface)``: a fresh namespace holding both ends of a veth pair, up and
    addressed; removed on exit. What a test of traffic control on one interface needs.

    Raises:
        NetnsDenied: namespaces or veth pairs are not allowed here (:func:`unavailable` says
            why before anything is tried).
    """
    ns = Netns(prefix)
    try:
        name = ns.add('a')
        dev, _ = ns.link(name, name, addr_a, addr_b)
        yield name, dev
    finally:
        ns.close()
