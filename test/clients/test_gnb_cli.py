"""
``ior gnb policy set | metrics | emulate``: the emulator as its own process (the way a user runs
it) driven by the CLI over a real WebSocket; errors are one line and exit code 2, and a refused
policy sends nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ior_ros import cli
from ior_ros.clients.gnb_emulator import GnbEmulator, GnbEmulatorThread

IOR = [sys.executable, '-m', 'ior_ros.cli']
REPO = Path(__file__).resolve().parents[2]


def ior(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run([*IOR, *args], cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=timeout)


@pytest.fixture
def main(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """``ior`` in this process."""
    return cli.main


@pytest.fixture
def emulate():  # type: ignore[no-untyped-def]
    """``ior gnb emulate`` as a process; yields its URL; stopped with Ctrl-C (SIGINT)."""
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.Popen([*IOR, 'gnb', 'emulate', '--port', '0',
                             '--period', '0.02'], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith('ws://127.0.0.1:'), proc.stderr.read() if proc.stderr else ''
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


def test_emulator_process_policy_and_metrics(emulate: str) -> None:
    done = ior('gnb', 'policy', 'set', '--url', emulate, '--sst', '1', '--sd', '0x000001',
               '--min', '20', '--max', '60', '--json')
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer['path'] == 'websocket' and answer['release'] == '25.10+'
    assert answer['policies'] == [{'plmn': '00101', 'sst': 1, 'sd': 1, 'min_ratio': 20,
                                   'max_ratio': 60, 'dedicated_ratio': 0}]
    metrics = ior('gnb', 'metrics', '--url', emulate, '--count', '2', '--json')
    assert metrics.returncode == 0, metrics.stderr
    reports = [json.loads(line) for line in metrics.stdout.splitlines()]
    assert len(reports) == 2
    # slice 1 capped at 60 % of 51 PRBs (30 PRBs at 1 Mbit/s each); slice 2 takes the other 21
    assert {ue['rnti']: ue['dl_bps'] for ue in reports[-1]['cells'][0]['ues']} == \
        {0x4601: 30e6, 0x4602: 21e6}


def test_errors_are_one_line_and_refusals_send_nothing(main, capsys) -> None:  # type: ignore
    with GnbEmulatorThread(GnbEmulator()) as emu:
        url = emu.emulator.url
        assert main(['gnb', 'policy', 'set', '--url', url, '--sst', '1', '--sd', '1', '--min',
                     '70', '--max', '60']) == 2
        err = capsys.readouterr().err
        assert err.count('\n') == 1 and "'min_ratio' 70 <= 'max_ratio' 60" in err
        assert main(['gnb', 'policy', 'set', '--url', url, '--sst', '1', '--plmn', '1']) == 2
        assert "field 'plmn' = '1'" in capsys.readouterr().err
        assert emu.call(lambda e: list(e.received)) == []  # nothing reached the gNB
        emu.call(lambda e: setattr(e, 'fail_next_apply', True))
        assert main(['gnb', 'policy', 'set', '--url', url, '--sst', '1', '--sd', '1',
                     '--max', '50']) == 2
        err = capsys.readouterr().err
        assert err == ('ior: error: gNB ' + url + ' refused the policy for plmn 00101 sst 1 sd '
                       '0x1: RRM policy ratio remote command procedure failed to be applied by '
                       'the DU\n')
        url_down = url
    assert main(['gnb', 'metrics', '--url', url_down, '--timeout', '0.5']) == 2
    assert 'connection refused' in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(['gnb', 'policy', 'set', '--url', url_down, '--sst', '1', '--min', '120'])
    assert stop.value.code == 2
    assert 'argument --min: 120: must be an integer >= 0 and <= 100' in capsys.readouterr().err


def test_release_2504_over_the_cli(main, capsys, tmp_path: Path) -> None:  # type: ignore
    config = tmp_path / 'slicing.yml'
    marker = tmp_path / 'restarted'
    restart = f'{sys.executable} -c "open({str(marker)!r}, \'w\').write(\'ok\')"'
    with GnbEmulatorThread(GnbEmulator(release='25.04')) as emu:
        url = emu.emulator.url
        assert main(['gnb', 'policy', 'set', '--url', url, '--sst', '1', '--sd', '1']) == 2
        assert 'is 24.10/25.04: it has no rrm_policy_ratio_set' in capsys.readouterr().err
        assert main(['gnb', 'metrics', '--url', url]) == 2
        assert 'has no metrics_subscribe' in capsys.readouterr().err
        assert main(['gnb', 'policy', 'set', '--url', url, '--sst', '1', '--sd', '1', '--min',
                     '25', '--max', '50', '--gnb-config', str(config), '--restart-command',
                     restart, '--json']) == 0
        answer = json.loads(capsys.readouterr().out)
    assert answer['path'] == 'yaml' and answer['release'] == '24.10/25.04'
    assert marker.read_text() == 'ok'
    assert 'max_prb_policy_ratio: 50' in config.read_text()


@pytest.mark.parametrize('argv', [['gnb'], ['gnb', 'policy', 'set'], ['gnb', 'metrics'],
                                  ['gnb', 'emulate']])
def test_help(main, capsys, argv: list[str]) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as stop:
        main([*argv, '--help'])
    assert stop.value.code == 0 and 'usage: ior gnb' in capsys.readouterr().out
