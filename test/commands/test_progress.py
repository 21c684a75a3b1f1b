"""One kind of progress bar: the core takes callbacks, the CLI draws, and only on a terminal."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest

from ior_ros.commands import progress as cli_progress
from ior_ros.core.progress import no_progress

EXPERIMENTS = Path(__file__).resolve().parents[2] / 'ior_ros' / 'experiments'


@pytest.mark.parametrize('path', sorted(EXPERIMENTS.glob('*.py')), ids=lambda p: p.name)
def test_experiments_draw_no_bars_and_import_no_command(path: Path) -> None:
    """Experiments take a Progress from the command; they import neither tqdm nor a command."""
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        names = ([alias.name for alias in node.names] if isinstance(node, ast.Import) else
                 [node.module or ''] if isinstance(node, ast.ImportFrom) else [])
        for name in names:
            assert name.split('.')[0] != 'tqdm', f'{path.name} imports {name}'
            assert not (name == 'ior_ros.cli' or name.startswith(('ior_ros.commands',
                                                                  'ior_ros.cli.'))), \
                f'{path.name} imports {name}'


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def test_no_progress_accepts_everything() -> None:
    with no_progress('x', 10, unit='slot', initial=2) as bar:
        bar.update(3)
        bar.set_postfix(reward=1.0)


@pytest.mark.parametrize(('stdout_tty', 'stderr_tty', 'requested', 'drawn'), [
    (True, True, True, True), (False, True, True, False), (True, False, True, False),
    (True, True, False, False)])
def test_bars_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch, stdout_tty: bool,
                                 stderr_tty: bool, requested: bool, drawn: bool) -> None:
    err = _Stream(stderr_tty)
    monkeypatch.setattr('sys.stdout', _Stream(stdout_tty))
    monkeypatch.setattr('sys.stderr', err)
    progress = cli_progress.terminal_progress(requested)
    assert (progress is not no_progress) == drawn
    with progress('phase', 4, unit='step') as bar:
        bar.update(4)
        bar.set_postfix(falls=0)
    assert ('phase' in err.getvalue()) == drawn


def test_cli_prints_no_bar_into_a_pipe(ior, tmp_path) -> None:
    short = ['--set', 'simulation.horizon_s=0.5', '--set', 'simulation.warmup_s=0.1',
             '--set', 'scheme.shared_fraction_grid_step=0.25', '--set', 'schemes=[proposed]']
    proc = ior('sim', 'coexistence', *short, '--out', str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert 'cell-slots' not in proc.stderr and '%|' not in proc.stderr
