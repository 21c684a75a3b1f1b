"""
Two network namespaces joined by a veth pair, for the robot/edge test (test_netns.py).

:class:`NetnsPair` creates the namespaces ``<name>r`` (robot) and ``<name>e`` (edge) with
ip-netns(8), the veth pair with ``ip link add … netns … type veth peer name … netns …`` (both
ends are created directly inside their namespaces, so the host never sees them), one address of a
/24 on each end, and brings the ends and each namespace's ``lo`` up. :meth:`close` deletes both
namespaces (which destroys the veth); the processes started inside must be dead by then, or the
namespace lives on unnamed until they exit.

Names hold the process id and a counter, so two pytest-xdist workers (CI runs ``-n 2``) or two
tests never collide; an interface name stays within the kernel's 15 characters (IFNAMSIZ − 1).
The subnet varies the same way (10.231.<n>.0/24) although each pair's addresses are visible only
inside its two namespaces.

DDS: :meth:`cyclone_config` writes, per side, a Cyclone DDS configuration whose only network
interface is that side's veth end (``General/Interfaces/NetworkInterface``, Cyclone DDS
configuration reference), so discovery (SPDP multicast on the veth) and data go over the link,
never over loopback. Processes in the same namespace reach each other through the local route to
the veth address, which does not cross the link (and is not delayed by a qdisc on it).

The link is shaped with tc-netem(8) on one end's egress (:meth:`netem`); :meth:`netem_error`
says why it cannot be (no ``tc``, or a kernel built without ``CONFIG_NET_SCH_NETEM``).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

_COUNTER = itertools.count()
SIDES = ('robot', 'edge')


class NetnsError(RuntimeError):
    """An ``ip``/``tc`` command failed; the message is its command line and stderr."""


class NetnsDenied(NetnsError):
    """``ip netns add`` or the veth pair failed: not allowed or not built here (skip)."""


def _run(*args: str) -> str:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise NetnsError(f'{" ".join(args)}: {(done.stderr or done.stdout).strip()}')
    return done.stdout


def unavailable() -> str | None:
    """Why namespaces cannot be created here (None: they can)."""
    if sys.platform != 'linux':
        return f'network namespaces are Linux only (platform {sys.platform})'
    if shutil.which('ip') is None:
        return "'ip' (iproute2) is not installed"
    return None  # root/CAP_NET_ADMIN is checked by trying (NetnsDenied)


class NetnsPair:
    """Robot and edge namespaces joined by a veth pair (see the module docstring)."""

    def __init__(self) -> None:
        index = next(_COUNTER)
        tag = f'{os.getpid() % 1_000_000}x{index % 100}'
        self.namespaces = {'robot': f'iorns{tag}r', 'edge': f'iorns{tag}e'}
        self.interfaces = {'robot': f'iv{tag}r', 'edge': f'iv{tag}e'}
        subnet = 10 + (os.getpid() * 7 + index) % 240
        self.addresses = {'robot': f'10.231.{subnet}.1', 'edge': f'10.231.{subnet}.2'}
        self._created: list[str] = []
        try:
            for side in SIDES:
                try:
                    _run('ip', 'netns', 'add', self.namespaces[side])
                except NetnsError as exc:
                    raise NetnsDenied(str(exc)) from None
                self._created.append(self.namespaces[side])
            try:
                _run('ip', 'link', 'add', self.interfaces['robot'], 'netns',
                     self.namespaces['robot'], 'type', 'veth', 'peer', 'name',
                     self.interfaces['edge'], 'netns', self.namespaces['edge'])
            except NetnsError as exc:  # e.g. a kernel without CONFIG_VETH
                raise NetnsDenied(str(exc)) from None
            for side in SIDES:
                ns = self.namespaces[side]
                _run('ip', '-n', ns, 'addr', 'add', f'{self.addresses[side]}/24', 'dev',
                     self.interfaces[side])
                _run('ip', '-n', ns, 'link', 'set', self.interfaces[side], 'up')
                _run('ip', '-n', ns, 'link', 'set', 'lo', 'up')
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Delete the namespaces (and with them the veth); idempotent, never raises."""
        while self._created:
            subprocess.run(['ip', 'netns', 'del', self._created.pop()], capture_output=True,
                           timeout=30, check=False)

    def exec_args(self, side: str, *args: str) -> list[str]:
        """The command line running ``args`` inside ``side``'s namespace."""
        return ['ip', 'netns', 'exec', self.namespaces[side], *args]

    def cyclone_config(self, side: str, directory: Path) -> str:
        """Write ``side``'s Cyclone DDS configuration into ``directory``; its CYCLONEDDS_URI."""
        path = directory / f'cyclonedds_{side}.xml'
        path.write_text(
            '<CycloneDDS><Domain Id="any"><General><Interfaces>'
            f'<NetworkInterface name="{self.interfaces[side]}"/>'
            '</Interfaces></General></Domain></CycloneDDS>\n', encoding='utf-8')
        return path.as_uri()

    def counters(self, side: str) -> dict[str, int]:
        """``rx_bytes``, ``rx_packets``, ``tx_bytes``, ``tx_packets`` of ``side``'s veth end."""
        out = json.loads(_run('ip', '-n', self.namespaces[side], '-s', '-j', 'link', 'show',
                              'dev', self.interfaces[side]))
        stats = out[0]['stats64']
        return {f'{way}_{unit}': int(stats[way][unit]) for way in ('rx', 'tx')
                for unit in ('bytes', 'packets')}

    def netem(self, side: str, *spec: str) -> None:
        """Set tc-netem on ``side``'s egress, e.g. ``netem('edge', 'delay', '30ms')``."""
        _run('tc', '-n', self.namespaces[side], 'qdisc', 'replace', 'dev', self.interfaces[side],
             'root', 'netem', *spec)

    def unshape(self, side: str) -> None:
        """Remove ``side``'s root qdisc (back to the veth default); quiet if there is none."""
        subprocess.run(['tc', '-n', self.namespaces[side], 'qdisc', 'del', 'dev',
                        self.interfaces[side], 'root'], capture_output=True, timeout=30,
                       check=False)

    def netem_error(self) -> str | None:
        """Why netem cannot shape this link (None: it can); leaves the link unshaped."""
        if shutil.which('tc') is None:
            return "'tc' (iproute2) is not installed"
        try:
            self.netem('edge', 'delay', '0ms')
        except NetnsError as exc:
            return (f'tc netem is not available ({exc}); the kernel needs '
                    'CONFIG_NET_SCH_NETEM (sch_netem)')
        self.unshape('edge')
        return None
