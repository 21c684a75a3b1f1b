"""
HTB slices on a real interface (ior_ros/clients/tc.py, issue 13), in a network namespace of the
test's own (a veth pair inside it): apply creates the tree, applying the same plan again runs
nothing, a changed plan is modified in place (rates, classifier, a slice fewer), remove deletes
it and removing again runs nothing; every step is checked by reading the kernel back with `tc`
itself, not through the client. A refused slice set (`ior slices apply`) leaves the interface
exactly as it was; a failing tc command is one line with the command and tc's stderr.

Skipped, with the reason, where namespaces cannot be created (not root, no CAP_NET_ADMIN, no
iproute2). That the classes shape real traffic is test_seed000_fig2b.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ior_ros import cli
from ior_ros.clients.errors import EquipmentValidationError
from ior_ros.clients.netns import NetnsDenied, unavailable, veth_loop
from ior_ros.clients.tc import TcCommandError, TcSlices, tc_plan
from ior_ros.core.slicing.equipment_plan import load_slice_set

REPO = Path(__file__).resolve().parents[2]
WIFI = REPO / 'config' / 'slices_wifi'

PREFIX = 'tct'
ADDRESSES = ('10.88.0.1/24', '10.88.0.2/24')


@pytest.fixture
def link() -> Iterator[tuple[str, str]]:
    """(namespace, interface): one end of a veth pair inside a fresh namespace."""
    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)
    try:
        with veth_loop(PREFIX, *ADDRESSES) as found:
            yield found
    except NetnsDenied as exc:
        pytest.skip(str(exc))


def _kernel(ns: str, dev: str) -> dict[str, object]:
    """The tree as `tc` prints it: root kind, {classid: (rate, ceil)} and {pref: flowid}."""
    def tc(*args: str) -> str:
        return subprocess.run(['tc', '-n', ns, *args], capture_output=True, text=True,
                              check=True).stdout
    qdiscs = json.loads(tc('-j', 'qdisc', 'show', 'dev', dev))
    root = next((q for q in qdiscs if q.get('root')), {})
    classes = {}
    for line in tc('class', 'show', 'dev', dev).splitlines():
        w = line.split()
        if w[:2] == ['class', 'htb']:
            classes[w[2]] = (w[w.index('rate') + 1], w[w.index('ceil') + 1])
    filters = {}
    for f in json.loads(tc('-j', 'filter', 'show', 'dev', dev, 'parent', '1:') or '[]'):
        if 'flowid' in (f.get('options') or {}):
            filters[f['pref']] = (f['options']['flowid'], f['options']['match']['value'])
    return {'root': root.get('kind'), 'classes': classes, 'filters': filters,
            'leaves': sorted(q['parent'] for q in qdiscs if not q.get('root'))}


def test_apply_is_idempotent_modifies_in_place_and_removes(link: tuple[str, str],
                                                          tmp_path: Path) -> None:
    ns, dev = link
    tc = TcSlices(dev, ns)
    plan = tc_plan(load_slice_set([WIFI]))
    assert _kernel(ns, dev)['root'] == 'noqueue'  # veth's default

    first = tc.apply(plan)
    assert first.count('create') == 12 and first.count('modify') == first.count('delete') == 0
    print({a.target: round(a.seconds * 1e3, 2) for a in first.actions})
    state = _kernel(ns, dev)
    assert state['root'] == 'htb'
    assert state['classes'] == {'1:1': ('100Mbit', '100Mbit'), '1:2': ('5Mbit', '100Mbit'),
                                '1:10': ('15Mbit', '15Mbit'), '1:11': ('35Mbit', '35Mbit'),
                                '1:12': ('45Mbit', '45Mbit')}
    # cart 10.77.3.2, spider 10.77.2.2, video 10.77.1.2 as source addresses
    assert state['filters'] == {10: ('1:10', 'a4d0302'), 11: ('1:11', 'a4d0202'),
                                12: ('1:12', 'a4d0102')}
    assert state['leaves'] == ['1:10', '1:11', '1:12']

    again = tc.apply(plan)
    assert not again.changed and _kernel(ns, dev) == state  # same plan: nothing runs

    # a changed set: video down to 40 Mb/s with a 60 Mb/s ceil, classified by DSCP
    folder = tmp_path / 'slices'
    shutil.copytree(WIFI, folder)
    video = yaml.safe_load((folder / 'video.yaml').read_text())
    video.update(guaranteed_bitrate_bps=40e6, max_bitrate_bps=60e6,
                 prb_ratio={'dedicated': 0.0, 'min': 0.4, 'max': 0.6})
    (folder / 'video.yaml').write_text(yaml.safe_dump(video))
    changed = tc_plan(load_slice_set([folder]), by='dscp')
    modified = tc.apply(changed)
    assert modified.count('create') == 0
    # the video class, the unclassified class's share, the three filters (each deleted and
    # added with its new key) and, where the leaf is a bfifo sized to rate x delay budget,
    # the video's leaf queue
    bfifo = {c.leaf for c in tc.read().classes if c.leaf} == {'bfifo'}
    assert {a.target for a in modified.actions if a.op == 'modify'} == {
        'class 1:2 (unclassified)', 'class 1:12 (video)', 'filter pref 10 (cart_3d)',
        'filter pref 11 (spider_robot)', 'filter pref 12 (video)'} | (
        {'leaf 1:12 (video)'} if bfifo else set())
    state = _kernel(ns, dev)
    assert state['classes']['1:12'] == ('40Mbit', '60Mbit')
    assert state['classes']['1:2'] == ('10Mbit', '100Mbit')  # what the slices leave
    assert state['filters'][12] == ('1:12', '880000')  # DSCP 34 << 2 in the TOS byte
    assert not tc.apply(changed).changed

    # a slice fewer: its filter and class go, the others stay untouched
    (folder / 'video.yaml').unlink()
    bindings = yaml.safe_load((folder / 'equipment' / 'bindings.yaml').read_text())
    del bindings['slices']['video']
    (folder / 'equipment' / 'bindings.yaml').write_text(yaml.safe_dump(bindings))
    fewer = tc.apply(tc_plan(load_slice_set([folder]), by='dscp'))
    assert {(a.op, a.target) for a in fewer.actions} == {
        ('delete', 'filter pref 12'), ('delete', 'class 1:12'),
        ('modify', 'class 1:2 (unclassified)')}
    state = _kernel(ns, dev)
    assert '1:12' not in state['classes'] and 12 not in state['filters']
    listed = tc.read(['cart_3d', 'spider_robot'])
    assert [(c.classid, c.name, c.match) for c in listed.classes] == [
        ('1:1', 'link', None), ('1:2', 'unclassified', None),
        ('1:10', 'cart_3d', 'dscp 46'), ('1:11', 'spider_robot', 'dscp 26')]

    removed = tc.remove()
    assert [(a.op, a.target) for a in removed.actions] == [('delete', 'qdisc root')]
    assert _kernel(ns, dev)['root'] == 'noqueue'
    assert not tc.remove().changed and not tc.read().ours


def test_refused_set_applies_nothing(link: tuple[str, str], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    ns, dev = link
    if 'ior_ros.commands.slices' not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, 'COMMAND_MODULES',
                            (*cli.COMMAND_MODULES, 'ior_ros.commands.slices'))
    assert cli.main(['slices', 'apply', '--dev', dev, '--netns', ns]) == 0
    applied = _kernel(ns, dev)
    capsys.readouterr()
    folder = tmp_path / 'slices'
    shutil.copytree(WIFI, folder)
    bindings = yaml.safe_load((folder / 'equipment' / 'bindings.yaml').read_text())
    bindings['slices']['video']['dnn'] = 'video\r\nAT+CFUN=0'
    (folder / 'equipment' / 'bindings.yaml').write_text(yaml.safe_dump(bindings))
    cases = [
        (['--dir', str(folder)], "field 'slices.video.dnn'"),
        (['--capacity', '95e6'], "slice 'cart_3d' not admitted"),
        (['--dir', str(REPO / 'config' / 'slices'), '--capacity', '100e6'],
         "slice 'urllc_control': field 'address' is not set"),
    ]
    for extra, expected in cases:
        code = cli.main(['slices', 'apply', '--dev', dev, '--netns', ns, *extra])
        err = capsys.readouterr().err
        assert code == 2 and err.count('\n') == 1 and expected in err, err
        assert _kernel(ns, dev) == applied  # untouched
    assert cli.main(['slices', 'list', '--dev', dev, '--netns', ns, '--json',
                     '--dir', str(WIFI)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [c['name'] for c in listed['classes']][2:] == ['cart_3d', 'spider_robot', 'video']
    assert cli.main(['slices', 'apply', '--dev', dev, '--netns', ns, '--remove']) == 0
    assert cli.main(['slices', 'remove', '--dev', dev, '--netns', ns]) == 0
    assert 'nothing to remove' in capsys.readouterr().out
    assert _kernel(ns, dev)['root'] == 'noqueue'


def test_failures_are_one_line_with_the_command() -> None:
    if unavailable() is not None:
        pytest.skip(str(unavailable()))
    with pytest.raises(TcCommandError, match=r'^tc -j qdisc show dev ior0nosuch: Cannot find '
                                             r'device "ior0nosuch"$'):
        TcSlices('ior0nosuch').read()
    for bad in ('eth0; reboot', 'a' * 16, '', '../x'):
        with pytest.raises(EquipmentValidationError, match="field 'dev'"):
            TcSlices(bad)
    with pytest.raises(EquipmentValidationError, match="field 'netns' = 'a b'"):
        TcSlices('eth0', 'a b')
