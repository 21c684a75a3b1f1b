"""
Slices on a Linux interface with traffic control (tc-htb(8), tc-u32(8); iproute2): seed 000's WiFi
slices (Fig. 2b: bandwidth isolation between a video, a spider-robot and a 3D-cart slice) rebuilt
on the egress of an access point or edge router.

The tree on the interface (HTB, the Hierarchy Token Bucket qdisc; handles in hex)::

    root qdisc 1: htb default 2
    └── class 1:1  the link: rate = ceil = the plan's capacity (the interface becomes the
        │          bottleneck the slices share, as a WiFi AP's air time is)
        ├── class 1:2        unclassified traffic: rate = what the slices leave (at least
        │                    64 kbit/s), ceil = the capacity, lowest priority
        ├── class 1:10 + i   slice i (admission order): rate = guaranteed bit rate, ceil = max
        │   └── leaf qdisc   fq_codel where the kernel has it, else sfq, else bfifo sized to the
        │                    slice's delay budget (rate x budget bytes: a full queue waits the
        │                    budget)
        └── u32 filter, pref 10 + i, at 1: → 1:10 + i: the robot's IPv4 source (or destination)
            address, or the DSCP (``match ip dsfield DSCP<<2 0xfc``)

HTB gives every class its ``rate`` whatever the others do (isolation) and lends what a class
does not use to the others up to their ``ceil``. Rates are whole kbit/s (the kernel keeps bytes
per second and ``tc`` prints kbit exactly), rounded from the plan's bit/s.

:meth:`TcSlices.apply` reconciles: it reads the interface's state and runs only the commands
that make it equal the plan (the first apply creates, a changed plan modifies, the same plan
twice does nothing the second time); :meth:`TcSlices.remove` deletes the root qdisc if it is
ours (an HTB with handle 1:) and does nothing otherwise. Both return the actions run, each with
its command and wall time (create, modify, delete). :meth:`TcSlices.read` is the state as the
kernel reports it (``tc -j`` JSON for qdiscs and filters; the classes as text, since iproute2
6.1 prints HTB classes in text only), with the per-class counters.

Every command runs with :mod:`subprocess` (no shell), in a namespace with ``tc -n NS``; a failure
is one :class:`TcCommandError` line with the command and tc's stderr. The interface and namespace
names are checked before anything runs (:class:`~ior_ros.clients.errors.EquipmentValidationError`).
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ior_ros.clients.errors import (
    EquipmentRejected,
    EquipmentUnavailable,
    EquipmentValidationError,
)
from ior_ros.core.slicing.equipment_plan import Classifier, EquipmentPlan

__all__ = ['TcSlices', 'TcPlan', 'TcSliceSpec', 'TcAction', 'TcResult', 'TcState', 'TcClassState',
           'TcCommandError', 'LEAF_KINDS', 'Direction', 'tc_plan', 'parse_rate']

Direction = Literal['src', 'dst']
LeafKind = Literal['auto', 'fq_codel', 'sfq', 'bfifo', 'pfifo']
LEAF_KINDS: tuple[str, ...] = ('auto', 'fq_codel', 'sfq', 'bfifo', 'pfifo')
_AUTO_ORDER = ('fq_codel', 'sfq', 'bfifo')

ROOT_HANDLE = '1:'
LINK_CLASS = '1:1'
DEFAULT_MINOR = 0x2
FIRST_SLICE_MINOR = 0x10
FIRST_PREF = 10
MAX_SLICES = 200
MIN_RATE_BPS = 64_000
FRAME_BYTES = 1514  # Ethernet MTU frame: HTB quantum and the smallest FIFO byte limit
_TIMEOUT_S = 10.0
_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.\-]{0,14}$')
_NETNS = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$')


class TcCommandError(EquipmentRejected):
    """A ``tc`` command failed (the message names the command and tc's stderr)."""


@dataclass(frozen=True)
class TcSliceSpec:
    """One slice as tc builds it."""

    name: str
    rate_bps: int
    ceil_bps: int
    match: tuple[int, int, int]
    """u32 key (value, mask, offset in the IPv4 header) as the kernel keeps it."""
    match_text: tuple[str, ...]
    """The same as ``tc filter`` arguments after ``u32``."""
    delay_budget_s: float


@dataclass(frozen=True)
class TcPlan:
    """What :meth:`TcSlices.apply` builds (see :func:`tc_plan`)."""

    capacity_bps: int
    slices: tuple[TcSliceSpec, ...]
    leaf: LeafKind = 'auto'


def _kbit(bps: float) -> int:
    """A rate as whole kbit/s in bit/s (module docstring)."""
    return max(1000, int(round(bps / 1000.0)) * 1000)


def _u32_address(address: str, direction: Direction
                 ) -> tuple[tuple[int, int, int], tuple[str, ...]]:
    network = ipaddress.IPv4Network(address, strict=False)
    offset = 12 if direction == 'src' else 16  # RFC 791: source at byte 12, destination at 16
    return ((int(network.network_address), int(network.netmask), offset),
            ('match', 'ip', direction, str(network)))


def _u32_dscp(dscp: int) -> tuple[tuple[int, int, int], tuple[str, ...]]:
    # RFC 2474: DSCP is the upper six bits of the TOS byte, byte 1 of the first header word
    return ((dscp << 2) << 16, 0xFC << 16, 0), ('match', 'ip', 'dsfield', hex(dscp << 2), '0xfc')


def tc_plan(plan: EquipmentPlan, by: Classifier = 'addr', direction: Direction = 'src',
            leaf: LeafKind = 'auto') -> TcPlan:
    """
    The tc side of an equipment plan.

    Args:
        by: classify by the robot's address (``addr``) or by DSCP (``dscp``).
        direction: with ``addr``, match the source (uplink: robot to server, the default) or
            the destination (downlink).

    Raises:
        EquipmentValidationError: a slice without the address or DSCP the classifier needs,
            two slices with the same key, or too many slices.
    """
    if by not in ('addr', 'dscp'):
        raise EquipmentValidationError(f"tc: field 'by' = {by!r}: allowed: addr, dscp")
    if direction not in ('src', 'dst'):
        raise EquipmentValidationError(f"tc: field 'direction' = {direction!r}: allowed: src, "
                                       'dst')
    if leaf not in LEAF_KINDS:
        raise EquipmentValidationError(f"tc: field 'leaf' = {leaf!r}: allowed: "
                                       f'{", ".join(LEAF_KINDS)}')
    if len(plan.slices) > MAX_SLICES:
        raise EquipmentValidationError(f'tc: {plan.source}: {len(plan.slices)} slices: allowed: '
                                       f'at most {MAX_SLICES}')
    specs = []
    seen: dict[tuple[int, int, int], str] = {}
    for s in plan.slices:
        if by == 'addr':
            if s.tc.address is None:
                raise EquipmentValidationError(
                    f"tc: {plan.source}: slice {s.name!r}: field 'address' is not set: "
                    '--by addr needs the robot address of every slice (equipment/bindings.yaml)')
            key, text = _u32_address(s.tc.address, direction)
        else:
            if s.tc.dscp is None:
                raise EquipmentValidationError(
                    f"tc: {plan.source}: slice {s.name!r}: field 'dscp' is not set: --by dscp "
                    'needs the DSCP of every slice (equipment/bindings.yaml)')
            key, text = _u32_dscp(s.tc.dscp)
        if key in seen:
            raise EquipmentValidationError(
                f'tc: {plan.source}: slice {s.name!r}: classifier {" ".join(text[2:])} is '
                f"already slice {seen[key]!r}'s; allowed: one key per slice")
        seen[key] = s.name
        specs.append(TcSliceSpec(name=s.name, rate_bps=_kbit(s.tc.rate_bps),
                                 ceil_bps=_kbit(s.tc.ceil_bps), match=key, match_text=text,
                                 delay_budget_s=s.tc.delay_budget_s))
    return TcPlan(capacity_bps=_kbit(plan.capacity_bps), slices=tuple(specs), leaf=leaf)


@dataclass(frozen=True)
class TcAction:
    """One command run by apply or remove."""

    op: Literal['create', 'modify', 'delete']
    target: str
    """``qdisc root``, ``class 1:10 (video)``, ``leaf 1:10``, ``filter pref 10``."""
    command: tuple[str, ...]
    seconds: float


@dataclass(frozen=True)
class TcResult:
    """What an apply or a remove did."""

    actions: tuple[TcAction, ...]
    seconds: float
    """Wall time of the whole call, reading the state included [s]."""

    @property
    def changed(self) -> bool:
        """Whether anything was run."""
        return bool(self.actions)

    def count(self, op: str) -> int:
        """How many actions of ``op`` (create, modify, delete)."""
        return sum(1 for a in self.actions if a.op == op)


@dataclass(frozen=True)
class TcClassState:
    """One HTB class as the kernel reports it."""

    classid: str
    parent: str | None
    rate_bps: int
    ceil_bps: int
    prio: int
    leaf: str | None
    """The leaf qdisc's kind (None: the default FIFO)."""
    sent_bytes: int
    sent_packets: int
    dropped: int
    name: str | None = None
    """The slice it carries, when a plan was given to label it."""
    match: str | None = None
    """The filter that sends packets to it (``ip src 10.0.1.2/32``, ``dsfield 0x88/0xfc``)."""


@dataclass(frozen=True)
class TcState:
    """The interface's tree as read back."""

    dev: str
    netns: str | None
    root: str | None
    """``htb 1: default 0x2`` (ours) or the kind of another root qdisc, None when none."""
    ours: bool
    classes: tuple[TcClassState, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        """JSON form (``ior slices list --json``)."""
        return {'dev': self.dev, 'netns': self.netns, 'root': self.root, 'ours': self.ours,
                'classes': [c.__dict__.copy() for c in self.classes]}


_UNITS = {'': 1, 'k': 1000, 'm': 1000**2, 'g': 1000**3, 't': 1000**4}
_RATE = re.compile(r'^(\d+(?:\.\d+)?)([KkMmGgTt]?)(bit|bps)$')


def parse_rate(text: str) -> int:
    """A rate as ``tc`` prints it (``45Mbit``, ``64Kbit``, ``1500bit``) in bit/s."""
    m = _RATE.match(text)
    if m is None:
        raise TcCommandError(f'tc printed a rate ior cannot read: {text!r}')
    value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    return int(round(value * (8 if m.group(3) == 'bps' else 1)))


def _minor(classid: str) -> int:
    return int(classid.split(':', 1)[1] or '0', 16)


class TcSlices:
    """HTB slices on one interface (module docstring)."""

    def __init__(self, dev: str, netns: str | None = None) -> None:
        if not isinstance(dev, str) or not _NAME.match(dev):
            raise EquipmentValidationError(
                f"tc: field 'dev' = {dev!r}: allowed: an interface name of 1 to 15 letters, "
                'digits, "_", "." or "-" (IFNAMSIZ)')
        if netns is not None and (not isinstance(netns, str) or not _NETNS.match(netns)):
            raise EquipmentValidationError(
                f"tc: field 'netns' = {netns!r}: allowed: a namespace name of letters, digits, "
                '"_", "." or "-"')
        if shutil.which('tc') is None:
            raise EquipmentUnavailable("tc: 'tc' (iproute2) is not installed")
        self.dev = dev
        self.netns = netns
        self._leaf_kind: str | None = None

    # -- commands ---------------------------------------------------------------------------
    def _args(self, *args: str) -> list[str]:
        return ['tc', *(['-n', self.netns] if self.netns else []), *args]

    def _tc(self, *args: str) -> str:
        command = self._args(*args)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=_TIMEOUT_S,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise TcCommandError(f'{" ".join(command)}: no answer within {_TIMEOUT_S:g} s'
                                 ) from None
        except OSError as exc:
            raise EquipmentUnavailable(f'{" ".join(command)}: {exc.strerror or exc}') from None
        if done.returncode != 0:
            stderr = ' '.join((done.stderr or done.stdout).split()) or f'exit {done.returncode}'
            raise TcCommandError(f'{" ".join(command)}: {stderr}', detail=done.stderr)
        return done.stdout

    def _act(self, actions: list[TcAction], op: Literal['create', 'modify', 'delete'],
             target: str, *args: str) -> None:
        start = time.perf_counter()
        self._tc(*args)
        actions.append(TcAction(op, target, tuple(self._args(*args)),
                                time.perf_counter() - start))

    # -- reading ----------------------------------------------------------------------------
    def _qdiscs(self) -> list[dict[str, Any]]:
        data = json.loads(self._tc('-j', 'qdisc', 'show', 'dev', self.dev) or '[]')
        return [q for q in data if isinstance(q, dict)]

    def _root(self, qdiscs: list[dict[str, Any]]) -> dict[str, Any] | None:
        for q in qdiscs:
            if q.get('root'):
                return q
        return None

    @staticmethod
    def _is_ours(root: dict[str, Any] | None) -> bool:
        return root is not None and root.get('kind') == 'htb' and root.get('handle') == ROOT_HANDLE

    def _classes(self) -> list[dict[str, Any]]:
        """HTB classes from ``tc -s class show`` text (iproute2 6.1 has no JSON for them)."""
        out: list[dict[str, Any]] = []
        text = self._tc('-s', 'class', 'show', 'dev', self.dev)
        for line in text.splitlines():
            words = line.split()
            if len(words) >= 3 and words[0] == 'class' and words[1] == 'htb':
                entry: dict[str, Any] = {'classid': words[2], 'parent': None, 'rate': 0,
                                         'ceil': 0, 'prio': 0, 'sent_bytes': 0,
                                         'sent_packets': 0, 'dropped': 0}
                for key, value in zip(words[3:], words[4:]):
                    if key == 'parent':
                        entry['parent'] = value
                    elif key in ('rate', 'ceil'):
                        entry[key] = parse_rate(value)
                    elif key == 'prio' and value.isdigit():
                        entry['prio'] = int(value)
                out.append(entry)
            elif words[:1] == ['Sent'] and out and len(words) >= 6:
                out[-1]['sent_bytes'] = int(words[1])
                out[-1]['sent_packets'] = int(words[3])
                m = re.search(r'dropped (\d+)', line)
                out[-1]['dropped'] = int(m.group(1)) if m else 0
        return out

    def _filters(self) -> dict[int, list[dict[str, Any]]]:
        """u32 filters at 1: by pref: their leaf entries (flowid and match)."""
        data = json.loads(self._tc('-j', 'filter', 'show', 'dev', self.dev, 'parent',
                                   ROOT_HANDLE) or '[]')
        out: dict[int, list[dict[str, Any]]] = {}
        for entry in data:
            if not isinstance(entry, dict) or 'pref' not in entry:
                continue
            leaves = out.setdefault(int(entry['pref']), [])
            options = entry.get('options') or {}
            if entry.get('kind') != 'u32':
                leaves.append({'foreign': entry.get('kind')})
            elif 'flowid' in options or 'match' in options:
                leaves.append(options)
        return out

    @staticmethod
    def _match_key(options: dict[str, Any]) -> tuple[str | None, tuple[int, int, int] | None]:
        match = options.get('match')
        if not isinstance(match, dict):
            return options.get('flowid'), None
        try:
            key = (int(str(match['value']), 16), int(str(match['mask']), 16), int(match['off']))
        except (KeyError, ValueError):
            return options.get('flowid'), None
        return options.get('flowid'), key

    # -- leaf queues ------------------------------------------------------------------------
    def _leaf_args(self, kind: str, spec: TcSliceSpec) -> list[str]:
        if kind == 'bfifo':
            limit = max(2 * FRAME_BYTES, int(spec.rate_bps / 8 * spec.delay_budget_s))
            return ['bfifo', 'limit', str(limit)]
        if kind == 'pfifo':
            return ['pfifo', 'limit', '100']
        if kind == 'sfq':
            return ['sfq', 'perturb', '10']
        return [kind]

    def _pick_leaf(self, want: str, parent: str, handle: str, spec: TcSliceSpec,
                   actions: list[TcAction], target: str,
                   op: Literal['create', 'modify'] = 'create') -> None:
        """Add the leaf; with ``auto``, the first kind of fq_codel, sfq, bfifo the kernel has."""
        kinds = [self._leaf_kind] if self._leaf_kind else (
            list(_AUTO_ORDER) if want == 'auto' else [want])
        for index, kind in enumerate(kinds):
            try:
                self._act(actions, op, target, 'qdisc', 'replace', 'dev', self.dev,
                          'parent', parent, 'handle', handle, *self._leaf_args(kind, spec))
            except TcCommandError as exc:
                if 'kind is unknown' in str(exc) and index + 1 < len(kinds):
                    continue
                raise
            if want == 'auto':
                self._leaf_kind = kind
            return

    # -- apply / remove / read --------------------------------------------------------------
    def apply(self, plan: TcPlan) -> TcResult:
        """
        Make the interface's tree equal ``plan`` (module docstring); idempotent.

        Raises:
            TcCommandError: a command failed (the ones before it stay applied; applying again
                completes the tree, removing undoes it).
        """
        start = time.perf_counter()
        actions: list[TcAction] = []
        qdiscs = self._qdiscs()
        root = self._root(qdiscs)
        default = f'{DEFAULT_MINOR:x}'
        if not self._is_ours(root):
            self._act(actions, 'create', 'qdisc root', 'qdisc', 'replace', 'dev', self.dev,
                      'root', 'handle', ROOT_HANDLE, 'htb', 'default', default)
            qdiscs, classes, filters = [], [], {}
        else:
            assert root is not None
            if str((root.get('options') or {}).get('default')) != hex(DEFAULT_MINOR):
                self._act(actions, 'modify', 'qdisc root', 'qdisc', 'change', 'dev', self.dev,
                          'root', 'handle', ROOT_HANDLE, 'htb', 'default', default)
            classes = self._classes()
            filters = self._filters()
        have = {c['classid']: c for c in classes}
        leaves = {str(q.get('parent')): q for q in qdiscs if not q.get('root')}
        if plan.leaf != 'auto':
            self._leaf_kind = None
        want_prefs = {FIRST_PREF + i for i in range(len(plan.slices))}
        want_minors = {FIRST_SLICE_MINOR + i for i in range(len(plan.slices))}

        # filters that go: before their classes
        for pref in sorted(filters):
            if pref not in want_prefs:
                self._act(actions, 'delete', f'filter pref {pref}', 'filter', 'del', 'dev',
                          self.dev, 'parent', ROOT_HANDLE, 'pref', str(pref))

        slack = max(MIN_RATE_BPS, plan.capacity_bps - sum(s.rate_bps for s in plan.slices))
        wanted: list[tuple[str, str, int, int, int, str]] = [
            (LINK_CLASS, ROOT_HANDLE, plan.capacity_bps, plan.capacity_bps, 0, 'link'),
            (f'1:{DEFAULT_MINOR:x}', LINK_CLASS, _kbit(slack), plan.capacity_bps, 7,
             'unclassified')]
        for i, s in enumerate(plan.slices):
            wanted.append((f'1:{FIRST_SLICE_MINOR + i:x}', LINK_CLASS, s.rate_bps,
                           min(s.ceil_bps, plan.capacity_bps), 1, s.name))
        for classid, parent, rate, ceil, prio, label in wanted:
            spec = ['dev', self.dev, 'parent', parent, 'classid', classid, 'htb', 'rate',
                    f'{rate // 1000}kbit', 'ceil', f'{ceil // 1000}kbit', 'prio', str(prio),
                    'quantum', str(4 * FRAME_BYTES)]
            current = have.get(classid)
            if current is None:
                self._act(actions, 'create', f'class {classid} ({label})', 'class', 'add', *spec)
            elif (current['rate'], current['ceil'], current['prio'],
                  current['parent'] or ROOT_HANDLE) != (rate, ceil, prio, parent):
                self._act(actions, 'modify', f'class {classid} ({label})', 'class', 'change',
                          *spec)

        for i, s in enumerate(plan.slices):
            classid = f'1:{FIRST_SLICE_MINOR + i:x}'
            handle = f'{FIRST_SLICE_MINOR + i:x}:'
            leaf = leaves.get(classid)
            want_kind = self._leaf_kind or plan.leaf
            if leaf is not None and leaf.get('handle') == handle and (
                    want_kind == 'auto' and leaf.get('kind') in _AUTO_ORDER
                    or leaf.get('kind') == want_kind):
                kind = str(leaf.get('kind'))
                if want_kind == 'auto':
                    self._leaf_kind = kind
                expected = self._leaf_args(kind, s)
                limit = (leaf.get('options') or {}).get('limit')
                if kind != 'bfifo' or str(limit) == expected[2]:
                    continue
            self._pick_leaf(plan.leaf, classid, handle, s, actions, f'leaf {classid} ({s.name})',
                            'create' if leaf is None else 'modify')

        for i, s in enumerate(plan.slices):
            pref = FIRST_PREF + i
            flowid = f'1:{FIRST_SLICE_MINOR + i:x}'
            current_filters = filters.get(pref, [])
            keys = [self._match_key(o) for o in current_filters]
            if keys == [(flowid, s.match)]:
                continue
            op: Literal['create', 'modify'] = 'create'
            if current_filters:
                self._act(actions, 'delete', f'filter pref {pref} ({s.name})', 'filter', 'del',
                          'dev', self.dev, 'parent', ROOT_HANDLE, 'pref', str(pref))
                op = 'modify'
            self._act(actions, op, f'filter pref {pref} ({s.name})', 'filter', 'add', 'dev',
                      self.dev, 'parent', ROOT_HANDLE, 'protocol', 'ip', 'pref', str(pref),
                      'u32', *s.match_text, 'flowid', flowid)

        for classid in sorted(have, key=_minor):
            minor = _minor(classid)
            if minor >= FIRST_SLICE_MINOR and minor not in want_minors:
                self._act(actions, 'delete', f'class {classid}', 'class', 'del', 'dev',
                          self.dev, 'classid', classid)
        return TcResult(tuple(actions), time.perf_counter() - start)

    def remove(self) -> TcResult:
        """Delete our root qdisc and everything under it; nothing if there is none (or the root
        is not ours)."""
        start = time.perf_counter()
        actions: list[TcAction] = []
        if self._is_ours(self._root(self._qdiscs())):
            self._act(actions, 'delete', 'qdisc root', 'qdisc', 'del', 'dev', self.dev, 'root')
        return TcResult(tuple(actions), time.perf_counter() - start)

    def read(self, names: Sequence[str] | None = None) -> TcState:
        """The tree as the kernel reports it; with ``names`` (a plan's slices in order, e.g.
        ``[s.name for s in plan.slices]``), the slice classes labelled by name."""
        qdiscs = self._qdiscs()
        root = self._root(qdiscs)
        ours = self._is_ours(root)
        if root is None:
            return TcState(self.dev, self.netns, None, False)
        if not ours:
            return TcState(self.dev, self.netns, str(root.get('kind')), False)
        assert root is not None
        leaves = {str(q.get('parent')): str(q.get('kind')) for q in qdiscs if not q.get('root')}
        matches: dict[str, str] = {}
        for options in [o for group in self._filters().values() for o in group]:
            flowid, key = self._match_key(options)
            if flowid is not None and key is not None:
                matches[flowid] = _describe(key)
        labels = {LINK_CLASS: 'link', f'1:{DEFAULT_MINOR:x}': 'unclassified'}
        for i, name in enumerate(names or ()):
            labels[f'1:{FIRST_SLICE_MINOR + i:x}'] = name
        classes = tuple(TcClassState(
            classid=c['classid'], parent=c['parent'], rate_bps=c['rate'], ceil_bps=c['ceil'],
            prio=c['prio'], leaf=leaves.get(c['classid']), sent_bytes=c['sent_bytes'],
            sent_packets=c['sent_packets'], dropped=c['dropped'], name=labels.get(c['classid']),
            match=matches.get(c['classid'])) for c in sorted(self._classes(),
                                                             key=lambda c: _minor(c['classid'])))
        default = (root.get('options') or {}).get('default')
        return TcState(self.dev, self.netns, f'htb {ROOT_HANDLE} default {default}', True,
                       classes)


def _describe(key: tuple[int, int, int]) -> str:
    value, mask, offset = key
    if offset in (12, 16):
        prefix = bin(mask).count('1')
        return f'ip {"src" if offset == 12 else "dst"} {ipaddress.IPv4Address(value)}/{prefix}'
    if offset == 0 and mask == 0xFC << 16:
        return f'dscp {(value >> 16) >> 2}'
    return f'u32 {value:#x}/{mask:#x} at {offset}'
