"""The `ior` command: help, the reproduction list, exit code 2 with one line on bad input."""

from __future__ import annotations

from pathlib import Path


def test_help_lists_groups(ior) -> None:
    proc = ior('--help')
    assert proc.returncode == 0
    assert 'reproduce' in proc.stdout


def test_reproduce_list(ior) -> None:
    proc = ior('reproduce', '--list')
    assert proc.returncode == 0
    for key in ('seed000-fig6a', 'seed000-fig6b', 'seed003-table2'):
        assert key in proc.stdout


def test_unknown_reproduction_exit_2_one_line(ior, tmp_path: Path) -> None:
    out = tmp_path / 'out'
    proc = ior('reproduce', 'seed999-fig1', '--out', str(out))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and 'seed999-fig1' in lines[0]
    assert not out.exists()


def test_bad_seed_is_argparse_error(ior) -> None:
    proc = ior('reproduce', 'seed000-fig6a', '--seed', '-3')
    assert proc.returncode == 2
    assert '-3' in proc.stderr
