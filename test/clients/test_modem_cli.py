"""
``ior modem`` (ior_ros/commands/modem.py) as a user runs it: ``ior modem emulate`` in one process
printing its device path, ``ior modem info|cell|nssai`` in others talking to it over the
pseudo-terminal.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

IOR = [sys.executable, '-m', 'ior_ros.cli']
REPO = Path(__file__).resolve().parents[2]


def _ior(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    return subprocess.run([*IOR, *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture(scope='module')
def emulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    link = tmp_path_factory.mktemp('modem') / 'ttyRM500Q'
    proc = subprocess.Popen([*IOR, 'modem', 'emulate', '--mode', 'nsa',
                             '--offer', '01.000001,02', '--link', str(link)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        path = proc.stdout.readline().strip()
        assert path == str(link) and link.is_symlink(), proc.stderr.read() if proc.stderr else ''
        yield path
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert not link.exists()  # the link is removed on the way out


def test_cell_json_is_one_object_with_the_issue_keys(emulated: str) -> None:
    result = _ior('modem', 'cell', '--port', emulated, '--json')
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert {'mode', 'rsrp_dbm', 'rsrq_db', 'sinr_db', 'band', 'pci', 'arfcn'} <= set(data)
    assert data['mode'] == 'NR5G-NSA' and data['rsrp_dbm'] == -90.0 and data['band'] == 78
    assert data['lte_anchor']['band'] == 3
    text = _ior('modem', 'cell', '--port', emulated)
    assert text.returncode == 0 and 'RSRP -90 dBm' in text.stdout


def test_info_and_nssai(emulated: str) -> None:
    info = _ior('modem', 'info', '--port', emulated, '--json')
    assert info.returncode == 0, info.stderr
    data = json.loads(info.stdout)
    assert data['model'] == 'RM500Q-GL' and data['registration']['stat'] == 1
    chosen = _ior('modem', 'nssai', '--port', emulated, '--select', '02', '--plmn', '00101',
                  '--json')
    assert chosen.returncode == 0, chosen.stderr
    state = json.loads(chosen.stdout)
    assert state['default_configured'] == ['02'] and state['allowed'] == ['02']
    assert state['configured'] == ['01.000001', '02']
    refused = _ior('modem', 'nssai', '--port', emulated, '--select', '01.000002')
    assert refused.returncode == 2
    assert refused.stderr.count('\n') == 1 and 'cause 62' in refused.stderr


@pytest.mark.parametrize(('args', 'words'), [
    (['modem', 'cell', '--port', '/dev/does-not-exist-ior'], "'/dev/does-not-exist-ior'"),
    (['modem', 'info', '--port', '/dev/null'], 'modem'),
    (['modem', 'nssai', '--port', '/dev/does-not-exist-ior', '--select', '01;+CFUN=0'],
     '--select[0]'),
    (['modem', 'nssai', '--port', '/dev/does-not-exist-ior', '--plmn', '1'], '--plmn'),
    (['modem', 'emulate', '--offer', '01.0000001'], '--offer'),
    (['modem', 'cell', '--port', '/dev/null', '--timeout', '0'], '--timeout'),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], words: str,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from ior_ros import cli

    try:
        code = cli.main(args)
    except SystemExit as exited:  # argparse's own errors
        code = exited.code
    assert code == 2
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if 'error:' in line]
    assert len(errors) == 1 and words in errors[0], stderr  # argparse adds a usage line
    assert 'Traceback' not in stderr


def test_help_of_every_command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
                               ) -> None:
    from ior_ros import cli

    parser = cli.build_parser()
    for command in ('info', 'cell', 'nssai', 'emulate'):
        with pytest.raises(SystemExit) as exited:
            parser.parse_args(['modem', command, '--help'])
        assert exited.value.code == 0
        assert f'ior modem {command}' in capsys.readouterr().out


def test_benchmark_runs_short() -> None:
    """benchmarks/bench_modem_at.py, 20 commands of each kind: it runs and prints its figures."""
    result = subprocess.run([sys.executable, str(REPO / 'benchmarks' / 'bench_modem_at.py'),
                             '--commands', '20', '--json'], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert 0 < data['at_p50_us'] <= data['at_p99_us'] and 0 < data['qeng_p50_us']
