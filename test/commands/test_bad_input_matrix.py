"""
The bad-input matrix: hundreds of wrong command lines over every ``ior`` subcommand.

Every case runs the real ``ior`` (``ior_ros.cli.main`` in this process with stdout/stderr
captured; a sample of cases, and the permission cases, through a real subprocess) and asserts the
contract of docs/models/cli_errors.md:

* exit code 2;
* no ``Traceback`` and no uncaught exception;
* stderr is exactly one line ``ior: error: ...`` when the command refuses the input, or, when
  argparse refuses it (a number out of its range, a choice, an output folder that cannot be
  written), argparse's usage lines followed by exactly one line ``ior SUBCOMMAND: error:
  argument ...`` (argparse's convention, kept: it shows the usage beside the error);
* the error line holds the words the case expects (each case is about what it says it is);
* the case's working folder (the current directory and every ``--out``) holds exactly what it
  held before: nothing new, nothing half written.

Cases that need a ROS graph (parameters of a node that is not there, a service that does not
answer) use a private ``ROS_DOMAIN_ID`` on loopback and timeouts below a second. The totals (cases,
exit codes, tracebacks) are printed by the last test and written to ``bad_input_totals.json`` in
pytest's base temporary folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.xdist_group('bad_input_matrix'),
              pytest.mark.filterwarnings('ignore:seed000-fig4. no runs for')]

CASE_LIMIT_S = 60.0
"""A case that has not failed after this long has started real work: the test fails."""

ARGPARSE_ERROR = re.compile(r'^ior( [\w-]+)*: error: ')
TOTALS: dict[str, Any] = {'cases': 0, 'exit_codes': {}, 'tracebacks': 0, 'argparse': 0,
                          'one_line': 0, 'subprocess': 0, 'failures': []}


# --------------------------------------------------------------------------------------------
# input files


def _bomb() -> str:
    """A 'billion laughs' YAML: nine levels of ten aliases each (10^9 values when expanded)."""
    lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]']
    for level in range(1, 9):
        ref = f'*a{level - 1}'
        lines.append(f'a{level}: &a{level} [{", ".join([ref] * 10)}]')
    lines.append(f'top: [{", ".join(["*a8"] * 10)}]')
    return '\n'.join(lines) + '\n'


FILE_KINDS: dict[str, tuple[bytes | None, str]] = {
    # name: (content, None for 'not created'), words the error must hold
    'missing': (None, 'no such file'),
    'folder': (None, 'folder'),
    'binary': (b'a: 1\n\x00\x01\x02\x03', 'binary file (NUL byte at offset 5)'),
    'latin1': (b'name: caf\xe9\n', 'not UTF-8 (byte 0xe9 at line 1, column 10)'),
    'empty': (b'', 'the file is empty'),
    'comments': (b'# nothing here\n', 'holds no YAML value'),
    'huge': (b'a: 1\n' + b'#' * (1 << 20) + b'\n', 'larger than 1 MiB'),
    'syntax': (b'a: [1, 2\nb: 3\n', 'malformed YAML (column'),
    'list': (b'- 1\n- 2\n', 'the top level is a list; expected a mapping'),
    'scalar': (b'42\n', 'the top level is the number 42'),
    'deep': (b'a: ' + b'[' * 150 + b']' * 150 + b'\n', 'nested deeper than 100 levels'),
    'bomb': (_bomb().encode(), 'expands to more than 1,000,000 values'),
}


@pytest.fixture(scope='module')
def inputs() -> Iterator[Path]:
    """Every bad input file once, in a folder other users may read (the permission cases)."""
    root = Path(tempfile.mkdtemp(prefix='ior-bad-inputs-'))
    root.chmod(0o755)
    for name, (content, _) in FILE_KINDS.items():
        path = root / f'{name}.yaml'
        if name == 'folder':
            path.mkdir()
        elif content is not None:
            path.write_bytes(content)
    (root / 'unknown_key.yaml').write_text('bogus_key: 1\n')
    (root / 'secret.yaml').write_text('a: 1\n')
    (root / 'secret.yaml').chmod(0o000)
    (root / 'locked').mkdir()
    (root / 'locked').chmod(0o555)
    _launch_files(root)
    _artifacts(root)
    yield root
    (root / 'locked').chmod(0o755)
    shutil.rmtree(root, ignore_errors=True)


def _launch_files(root: Path) -> None:
    (root / 'args.launch.yaml').write_text(
        "launch:\n  - arg: {name: rate, default: '1'}\n  - arg: {name: other, default: x}\n"
        "  - log: {message: 'rate $(var rate)'}\n")
    (root / 'include_binary.launch.yaml').write_text(
        'launch:\n  - include: {file: binary.yaml}\n')
    for kind in ('binary', 'latin1', 'list', 'syntax', 'huge'):
        (root / f'params_{kind}.launch.yaml').write_text(
            'launch:\n  - node:\n      pkg: ior_ros\n      exec: talker\n      param:\n'
            f'        - from: {kind}.yaml\n')


def _artifacts(root: Path) -> None:
    runs = root / 'runs'
    # slicing policies: random bytes, a truncated zip, an npz without metadata
    for name, content in (('noise', bytes(range(256)) * 8), ('zip', b'PK\x03\x04 truncated'),
                          ('empty', b'')):
        folder = runs / f'policy_{name}'
        folder.mkdir(parents=True)
        (folder / 'policy.npz').write_bytes(content)
    folder = runs / 'policy_nometa'
    folder.mkdir()
    np.savez(folder / 'policy.npz', x=np.zeros(2))
    # torch artifacts: a twin and a trained agent that are not torch files
    (runs / 'twin_garbage').mkdir()
    (runs / 'twin_garbage' / 'twin.pt').write_bytes(b'not a torch file ' * 50)
    (runs / 'agent_garbage').mkdir()
    (runs / 'agent_garbage' / 'agent.pt').write_bytes(b'\x80\x02garbage' * 20)
    # gain files of `ior control certify`
    gains = root / 'gains'
    gains.mkdir()
    (gains / 'nan.json').write_text('[[NaN, 1.0, 2.0, 3.0]]')
    (gains / 'malformed.json').write_text('{"gain": [[1, 2,')
    (gains / 'binary.json').write_bytes(b'[[1\x00]]')
    (gains / 'latin1.json').write_bytes(b'{"gain": "\xff"}')
    (gains / 'empty.json').write_bytes(b'')
    (gains / 'words.json').write_text('"just text"')
    (gains / 'shape.json').write_text('{"gain": [[1, 2, 3]]}')
    (gains / 'entries.json').write_text('{"format": "ior_ros.gain_schedule/1", "entries": 5, '
                                        '"plant": 3}')
    (gains / 'other_format.json').write_text('{"format": "ior_ros.policy/1", "entries": []}')
    (gains / 'text_gain.json').write_text('{"gain": [["a", "b", "c", "d"]]}')
    # --from folders of reproductions
    fig2 = runs / 'slicing_run_binary_metrics'
    fig2.mkdir()
    shutil.copy(REPO / 'config' / 'policies' / 'seed003_slicing' / 'policy.npz', fig2)
    (fig2 / 'metrics.csv').write_bytes(b'episode,return\n\x00\x01\n')
    (runs / 'slicing_run_no_policy').mkdir()
    sched = runs / 'schedule_garbage'
    sched.mkdir()
    (sched / 'schedule.json').write_bytes(b'\xff\xfe garbage')
    for name, content in (('bag_binary', b'\x00\x01\x02'), ('bag_latin1', b'a: \xff\n')):
        (runs / name).mkdir()
        (runs / name / 'metadata.yaml').write_bytes(content)
    fig4 = runs / 'fig4' / 'twin' / 'seed0'
    fig4.mkdir(parents=True)
    (fig4 / 'epochs.csv').write_bytes(b'epoch,reward,falls\n1,\x00,2\n')


# --------------------------------------------------------------------------------------------
# running a case


@dataclass
class Case:
    """One wrong command line and what its error must say."""

    id: str
    argv: list[str]
    expect: str
    """Words the error line must contain (after ``{inputs}``/``{work}`` are filled in)."""
    argparse: bool = False
    """argparse refuses it (usage, then one error line) rather than the command."""
    ros: bool = False
    """It opens DDS: run in a private domain on loopback."""
    setup: str = ''
    """A preparation of the working folder (see :func:`_prepare`)."""
    subprocess: bool = False
    """Run through a real ``python -m ior_ros.cli`` process instead of in this process."""
    as_other_user: bool = False
    """A permission case: run so that file permissions apply (root without DAC override)."""


@dataclass
class Outcome:
    code: Any
    stdout: str
    stderr: str
    extra: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f'the case ran {seconds} s without failing: it started real work')

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_in_process(argv: list[str]) -> Outcome:
    """``ior ARGV`` through ``ior_ros.cli.main``; any uncaught exception becomes a traceback."""
    from ior_ros.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            with _time_limit(CASE_LIMIT_S):
                code: Any = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # noqa: BLE001  (the point: nothing may escape)
            traceback.print_exc(file=err)
            code = 'uncaught exception'
    return Outcome(code, out.getvalue(), err.getvalue())


def _without_dac_override() -> None:  # pragma: no cover  (runs in the child)
    """Drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding set before exec, so root
    obeys file permissions like any user (prctl PR_CAPBSET_DROP)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), 'prctl(PR_CAPBSET_DROP)')


def run_subprocess(argv: list[str], cwd: Path, env: dict[str, str],
                   obey_permissions: bool) -> Outcome:
    """``python -m ior_ros.cli ARGV`` in ``cwd``; as root without its permission override when
    ``obey_permissions`` (root reads and writes every file otherwise)."""
    full = {**os.environ, **env, 'OMP_NUM_THREADS': '1', 'PYTHONDONTWRITEBYTECODE': '1'}
    demote = obey_permissions and os.geteuid() == 0
    proc = subprocess.run([sys.executable, '-m', 'ior_ros.cli', *argv], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=120,
                          preexec_fn=_without_dac_override if demote else None)  # noqa: PLW1509
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def _snapshot(folder: Path) -> dict[str, str]:
    """Every path under ``folder`` with a digest of its bytes (folders: 'dir')."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob('*')):
        rel = str(path.relative_to(folder))
        if path.is_dir():
            found[rel] = 'dir'
        else:
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _prepare(setup: str, work: Path) -> None:
    """Put what a case needs into its working folder (counted in the 'before' snapshot)."""
    if setup == 'out_is_file':
        (work / 'out').write_text('a file, not a folder\n')
    elif setup == 'slicing_resume_garbage':
        run = work / 'out'
        run.mkdir()
        (run / 'checkpoint.pt').write_bytes(b'garbage, not a checkpoint' * 10)
    elif setup == 'slicing_resume_bad_state':
        run = work / 'out'
        run.mkdir()
        (run / 'checkpoint.pt').write_bytes(b'garbage')
        (run / 'train_state.json').write_bytes(b'\x00\x01')
    elif setup == 'twin_resume_garbage':
        run = work / 'out'
        run.mkdir()
        (run / 'checkpoint.pt').write_bytes(b'garbage, not a checkpoint' * 10)
    elif setup == 'twin_run_exists':
        run = work / 'out'
        run.mkdir()
        (run / 'checkpoint.pt').write_bytes(b'x')
    elif setup:
        raise AssertionError(f'unknown setup {setup!r}')


def _fill(text: str, inputs: Path, work: Path) -> str:
    return text.replace('{inputs}', str(inputs)).replace('{work}', str(work))


def check(case: Case, inputs: Path, work: Path, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    """Run one case and assert the contract (module docstring); record the totals."""
    from rt_helpers import next_domain_id

    _prepare(case.setup, work)
    argv = [_fill(arg, inputs, work) for arg in case.argv]
    env = {}
    if case.ros:
        env = {'ROS_DOMAIN_ID': str(next_domain_id()), 'ROS_AUTOMATIC_DISCOVERY_RANGE':
               'LOCALHOST', 'IOR_ROS_BACKEND': 'dds', 'ROS_LOG_DIR': str(inputs / 'ros_log')}
    before = _snapshot(work)
    started = time.perf_counter()
    if case.subprocess or case.as_other_user:
        outcome = run_subprocess(argv, work, env, case.as_other_user)
        TOTALS['subprocess'] += 1
    else:
        monkeypatch.chdir(work)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        outcome = run_in_process(argv)
    outcome.extra['wall_s'] = time.perf_counter() - started
    after = _snapshot(work)
    _record(case, outcome)
    context = f'ior {" ".join(argv)}\nexit {outcome.code}\nstderr:\n{outcome.stderr}'
    assert 'Traceback' not in outcome.stderr, context
    assert outcome.code == 2, context
    lines = outcome.stderr.rstrip('\n').split('\n')
    if case.argparse:
        assert ARGPARSE_ERROR.match(lines[-1]), context
        assert lines[0].startswith('usage: ior') and \
            all(line.startswith(' ') or line.startswith('usage:') for line in lines[:-1]), context
        assert ' argument ' in lines[-1] or 'invalid choice' in lines[-1] or \
            'required' in lines[-1], context
    else:
        assert len(lines) == 1 and lines[0].startswith('ior: error: '), context
    assert _fill(case.expect, inputs, work) in lines[-1], context
    assert after == before, f'{context}\nthe working folder changed:\n' \
                            f'new {sorted(set(after) - set(before))}'
    return outcome


def _record(case: Case, outcome: Outcome) -> None:
    TOTALS['cases'] += 1
    key = str(outcome.code)
    TOTALS['exit_codes'][key] = TOTALS['exit_codes'].get(key, 0) + 1
    if 'Traceback' in outcome.stderr:
        TOTALS['tracebacks'] += 1
    if case.argparse:
        TOTALS['argparse'] += 1
    else:
        TOTALS['one_line'] += 1
    if outcome.code != 2 or 'Traceback' in outcome.stderr:
        TOTALS['failures'].append(case.id)


# --------------------------------------------------------------------------------------------
# the cases


def _config_commands() -> dict[str, list[str]]:
    """Every command that reads ``--config``, with the other arguments it needs."""
    return {
        'sim-coexistence': ['sim', 'coexistence', '--out', '{work}/out'],
        'control-schedule': ['control', 'schedule', '--max-delay', '2', '--out', '{work}/out'],
        'control-certify': ['control', 'certify', '--gain-file', '{inputs}/gains/shape.json',
                            '--max-delay', '2'],
        'train-slicing': ['train', 'slicing', '--steps', '10', '--out', '{work}/out'],
        'train-twin': ['train', 'twin', '--env', 'ior/RobotTracking-v0', '--epochs', '1',
                       '--out', '{work}/out'],
        'eval-slicing': ['eval', 'slicing', '--policy', 'pf', '--episodes', '1', '--slots', '5',
                         '--out', '{work}/out'],
        'twin-eval-model': ['twin', 'eval-model', '--env', 'ior/RobotTracking-v0',
                            '--train-samples', '10', '--test-samples', '10', '--out',
                            '{work}/out'],
        'reproduce-fig6a': ['reproduce', 'seed000-fig6a', '--quick', '--out', '{work}/out'],
        'reproduce-table2': ['reproduce', 'seed003-table2', '--quick', '--out', '{work}/out'],
        'reproduce-fig2': ['reproduce', 'seed003-fig2', '--quick', '--out', '{work}/out'],
    }


def _file_cases() -> list[Case]:
    """Every bad file kind as ``--config`` of every command that reads one."""
    cases = []
    for command, argv in _config_commands().items():
        for kind, (_, words) in FILE_KINDS.items():
            cases.append(Case(f'config-{kind}-{command}',
                              [*argv, '--config', f'{{inputs}}/{kind}.yaml'], words))
        cases.append(Case(f'config-unknown-key-{command}',
                          [*argv, '--config', '{inputs}/unknown_key.yaml'],
                          "unknown field 'bogus_key'"))
    return cases


_SET_CASES: list[tuple[str, str, str]] = [
    # (id, --set value, words)
    ('no-equals', 'novalue', "expected 'dotted.key=value'"),
    ('empty-key', '=3', "the key must be 'name' or 'dotted.name'"),
    ('empty-part', 'a..b=3', "the key must be 'name' or 'dotted.name'"),
    ('unknown', 'bogus.key=1', "unknown field 'bogus'"),
    ('deep', 'x=' + '[' * 150 + ']' * 150, 'nested'),
    ('long', 'x=' + 'y' * 70000, 'at most 65,536'),
]
_SET_TARGETS: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    # command: (a section key that is a value, model-specific bad values)
    'sim-coexistence': ('seed', [('range', 'simulation.horizon_s=1e9', 'less than or equal to '
                                  '3600 (the simulation steps every mini-slot'),
                                 ('type', 'radio.n_ru=many', 'valid integer'),
                                 ('negative', 'radio.n_ru=-3', 'greater than or equal to 1'),
                                 ('nan', 'simulation.horizon_s=.nan', 'finite number')]),
    'control-schedule': ('lqr', [('solver', 'certificate.solver=BOGUS', 'allowed: clarabel, scs'),
                                 ('solver-lp', 'certificate.solver=HIGHS', 'semidefinite'),
                                 ('range', 'schedule.workers=1000', 'less than or equal to 64'),
                                 ('mapping', 'lqr.input_weight={a: 1}', 'valid number')]),
    'train-slicing': ('env', [('users', 'env.n_embb=1000000', 'less than or equal to 100 (every '
                                                              'user adds'),
                              ('prb', 'env.n_prb=1', 'greater than or equal to 2'),
                              ('steps', 'train.steps=1000000000000', 'less than or equal to'),
                              ('buffer', 'agent.buffer_size=10000000000', 'allocated up front')]),
    'train-twin': ('agent', [('hidden', 'agent.hidden_sizes=[100000]', 'less than or equal to '
                                                                       '4096'),
                             ('batch', 'agent.batch_size=0', 'greater than or equal to 1'),
                             ('epochs', 'epochs=1000000000', 'weeks'),
                             ('variant', 'variant=bogus', "'sac', 'twin' or 'twin_gan'")]),
    'eval-slicing': ('eval', [('episodes', 'eval.episodes=100000', 'percentiles'),
                              ('inf', 'env.slot_s=.inf', 'finite number'),
                              ('list', 'env.n_embb=[1, 2]', 'valid integer'),
                              ('seed', 'eval.first_seed=-1', 'greater than or equal to 0')]),
    'twin-eval-model': ('world_model', [('ensemble', 'world_model.ensemble_size=1000',
                                         'less than or equal to 16'),
                                        ('hidden', 'world_model.hidden_sizes=[]', 'at least 1'),
                                        ('text', 'world_model.batch_size=abc', 'valid integer'),
                                        ('bool', 'world_model.learning_rate=yes',
                                         'expected a number, got the boolean true')]),
}


def _set_cases() -> list[Case]:
    commands = _config_commands()
    cases = []
    for command, (section, specific) in _SET_TARGETS.items():
        argv = commands[command]
        for name, value, words in _SET_CASES:
            cases.append(Case(f'set-{name}-{command}', [*argv, '--set', value], words))
        cases.append(Case(f'set-section-is-value-{command}',
                          [*argv, '--set', f'{section}=1', '--set', f'{section}.x.y=2'],
                          'is a value, not a section'))
        for name, value, words in specific:
            cases.append(Case(f'set-{name}-{command}', [*argv, '--set', value], words))
    return cases


_NUMBERS: list[tuple[str, list[str], str, list[tuple[str, str]]]] = [
    # (id, argv with {} for the value, the flag, [(value, words)])
    ('schedule-max-delay', ['control', 'schedule', '--out', '{work}/out', '--max-delay', '{}'],
     '--max-delay', [('1000000000', '<= 200 samples: one LMI solve'), ('-1', '>= 0'),
                     ('nan', 'not an integer'), ('inf', 'not an integer'),
                     ('abc', 'not an integer'), ('2.5', 'not an integer')]),
    ('schedule-workers', ['control', 'schedule', '--out', '{work}/out', '--max-delay', '2',
                          '--workers', '{}'],
     '--workers', [('0', '>= 1 and <= 64'), ('100000', 'one process per worker'),
                   ('-2', '>= 1')]),
    ('certify-max-delay', ['control', 'certify', '--gain-file', '{inputs}/gains/shape.json',
                           '--max-delay', '{}'],
     '--max-delay', [('201', '<= 200'), ('-3', 'integer >= 0'), ('1e3', 'not an integer')]),
    ('certify-decay', ['control', 'certify', '--gain-file', '{inputs}/gains/shape.json',
                       '--max-delay', '2', '--decay-rate', '{}'],
     '--decay-rate', [('0', '> 0 and <= 1'), ('1.5', '> 0 and <= 1'),
                      ('nan', 'not a finite number'), ('=-inf', 'not a finite number'),
                      ('fast', 'not a number')]),
    ('certify-search', ['control', 'certify', '--gain-file', '{inputs}/gains/shape.json',
                        '--max-delay', '2', '--search-limit', '{}'],
     '--search-limit', [('100000', 'lifted matrix'), ('-1', '>= 0')]),
    ('certify-entry', ['control', 'certify', '--gain-file', '{inputs}/gains/shape.json',
                       '--max-delay', '2', '--entry', '{}'],
     '--entry', [('-1', '>= 0'), ('99999', '<= 200')]),
    ('cq-lambda', ['sim', 'compute-queue', '--lambda-embb', '1', '--mu', '10', '--discipline',
                   'fifo', '--lambda-urllc', '{}'],
     '--lambda-urllc', [('-1', '>= 0'), ('nan', 'not a finite number'),
                        ('inf', 'not a finite number'), ('1e13', 'float64 seconds'),
                        ('fast', 'not a number')]),
    ('cq-mu', ['sim', 'compute-queue', '--lambda-embb', '1', '--lambda-urllc', '1',
               '--discipline', 'fifo', '--mu', '{}'],
     '--mu', [('0', '> 0'), ('-5', '> 0'), ('inf', 'not a finite number')]),
    ('cq-packets', ['sim', 'compute-queue', '--lambda-embb', '1', '--lambda-urllc', '1',
                    '--mu', '10', '--discipline', 'fifo', '--packets', '{}'],
     '--packets', [('0', '>= 1'), ('100000000000', 'about 100 bytes of memory per packet'),
                   ('many', 'not an integer')]),
    ('cq-fraction', ['sim', 'compute-queue', '--lambda-embb', '1', '--lambda-urllc', '1',
                     '--mu', '10', '--discipline', 'fifo', '--shared-fraction', '{}'],
     '--shared-fraction', [('0', 'in (0, 1]: a fraction'), ('2', 'in (0, 1]'),
                           ('nan', 'not a finite')]),
    ('cq-seed', ['sim', 'compute-queue', '--lambda-embb', '1', '--lambda-urllc', '1', '--mu',
                 '10', '--discipline', 'fifo', '--seed', '{}'],
     '--seed', [('-1', '>= 0'), ('99999999999999999999', '32-bit seed')]),
    ('reproduce-seed', ['reproduce', 'seed000-fig6a', '--out', '{work}/out', '--seed', '{}'],
     '--seed', [('-3', '>= 0'), ('4294967296', '32-bit seed'), ('x', 'not an integer')]),
    ('train-slicing-steps', ['train', 'slicing', '--out', '{work}/out', '--steps', '{}'],
     '--steps', [('0', '>= 1'), ('1000000000000', 'more than a day'), ('-5', '>= 1'),
                 ('1.5', 'not an integer')]),
    ('train-slicing-seed', ['train', 'slicing', '--out', '{work}/out', '--seed', '{}'],
     '--seed', [('-1', '>= 0'), ('1e3', 'not an integer')]),
    ('train-twin-epochs', ['train', 'twin', '--out', '{work}/out', '--epochs', '{}'],
     '--epochs', [('0', '>= 1'), ('1000000', 'weeks')]),
    ('train-twin-epoch-steps', ['train', 'twin', '--out', '{work}/out', '--epoch-steps', '{}'],
     '--epoch-steps', [('0', '>= 1'), ('10000000', 'checkpointed only at its end')]),
    ('train-twin-eval', ['train', 'twin', '--out', '{work}/out', '--eval-episodes', '{}'],
     '--eval-episodes', [('-1', '>= 0'), ('5000', 'after every epoch')]),
    ('train-twin-ckpt', ['train', 'twin', '--out', '{work}/out', '--checkpoint-every', '{}'],
     '--checkpoint-every', [('0', '>= 1')]),
    ('eval-episodes', ['eval', 'slicing', '--policy', 'pf', '--out', '{work}/out',
                       '--episodes', '{}'],
     '--episodes', [('0', '>= 1'), ('100000', 'percentiles'), ('inf', 'not an integer')]),
    ('eval-slots', ['eval', 'slicing', '--policy', 'pf', '--out', '{work}/out', '--slots',
                    '{}'],
     '--slots', [('0', '>= 1'), ('1000000000', 'percentiles')]),
    ('twin-train-samples', ['twin', 'eval-model', '--out', '{work}/out', '--train-samples',
                            '{}'],
     '--train-samples', [('0', '>= 1'), ('1000000000', '1 GB at the limit')]),
    ('twin-test-samples', ['twin', 'eval-model', '--out', '{work}/out', '--test-samples', '{}'],
     '--test-samples', [('-1', '>= 1')]),
    ('twin-epochs', ['twin', 'eval-model', '--out', '{work}/out', '--epochs', '{}'],
     '--epochs', [('0', '>= 1'), ('100000', 'gradient steps')]),
    ('twin-seed', ['twin', 'eval-model', '--out', '{work}/out', '--seed', '{}'],
     '--seed', [('-7', '>= 0')]),
    ('topic-list-spin', ['topic', 'list', '--spin-time', '{}'],
     '--spin-time', [('-1', '>= 0'), ('1e9', 'waits this long'), ('nan', 'not a finite')]),
    ('topic-echo-times', ['topic', 'echo', '/x', 'std_msgs/msg/String', '--times', '{}'],
     '--times', [('0', '>= 1'), ('x', 'not an integer')]),
    ('topic-echo-timeout', ['topic', 'echo', '/x', 'std_msgs/msg/String', '--timeout', '{}'],
     '--timeout', [('0', '> 0'), ('inf', 'not a finite'), ('1e12', 'about 11 days')]),
    ('topic-hz-window', ['topic', 'hz', '/x', 'std_msgs/msg/String', '--window', '{}'],
     '--window', [('0', '>= 1'), ('1000000000', 'one arrival time per message')]),
    ('topic-hz-duration', ['topic', 'hz', '/x', 'std_msgs/msg/String', '--duration', '{}'],
     '--duration', [('-1', '> 0')]),
    ('node-list-spin', ['node', 'list', '--spin-time', '{}'],
     '--spin-time', [('-0.5', '>= 0'), ('inf', 'not a finite')]),
    ('service-list-spin', ['service', 'list', '--spin-time', '{}'],
     '--spin-time', [('99999', '<= 3600')]),
    ('service-type-spin', ['service', 'type', '/x', '--spin-time', '{}'],
     '--spin-time', [('abc', 'not a number')]),
    ('service-call-rate', ['service', 'call', '/x', 'std_srvs/srv/SetBool', '{data: true}',
                           '--rate', '{}'],
     '--rate', [('0', '> 0'), ('1e6', 'only queues requests'), ('nan', 'not a finite')]),
    ('service-call-times', ['service', 'call', '/x', 'std_srvs/srv/SetBool', '{data: true}',
                            '--times', '{}'],
     '--times', [('0', '>= 1')]),
    ('service-call-timeout', ['service', 'call', '/x', 'std_srvs/srv/SetBool', '{data: true}',
                              '--timeout', '{}'],
     '--timeout', [('-1', '> 0'), ('inf', 'not a finite')]),
    ('param-timeout', ['param', 'get', '/x', 'p', '--timeout', '{}'],
     '--timeout', [('-1', ''), ('abc', '')]),
    ('topic-pub-rate', ['topic', 'pub', '/x', 'std_msgs/msg/String', '--rate', '{}'],
     '-r/--rate', [('0', ''), ('-1', '')]),
    ('bag-play-rate', ['bag', 'play', '{work}', '--rate', '{}'],
     '-r/--rate', [('0', ''), ('x', '')]),
    ('bag-record-duration', ['bag', 'record', '-a', '--duration', '{}'],
     '--duration', [('-1', '')]),
    ('demo-duration', ['demo', '--out', '{work}/out', '--duration', '{}'],
     '--duration', [('=-1', 'at least one second'), ('nan', 'not a finite'),
                    ('1e9', 'at most a day')]),
    ('demo-rtf', ['demo', '--out', '{work}/out', '--rtf', '{}'],
     '--rtf', [('0', 'between 0.05x and 100x'), ('inf', 'not a finite')]),
    ('demo-deadline', ['demo', '--out', '{work}/out', '--deadline-ms', '{}'],
     '--deadline-ms', [('0', 'from 0.1 ms to 10 s'), ('x', '')]),
    ('demo-seed', ['demo', '--out', '{work}/out', '--seed', '{}'],
     '--seed', [('=-3', 'a 32-bit seed'), ('1.5', '')]),
    ('twin-train-steps', ['twin', 'train', '--bag', '{work}', '--out', '{work}/twin.pt',
                          '--steps', '{}'],
     '--steps', [('0', '>= 1'), ('1e12', '')]),
]


def _number_cases() -> list[Case]:
    """Numbers out of range, NaN, infinities and text; ``sim compute-queue`` checks its own
    numbers (one ``ior: error:`` line), every other command through argparse."""
    cases = []
    for name, argv, flag, values in _NUMBERS:
        for value, words in values:
            filled = [value if part == '{}' else part for part in argv]
            if value.startswith('='):  # a negative value argparse would take for an option
                at = filled.index(value)
                filled[at - 1:at + 1] = [filled[at - 1] + value]
            own = name.startswith('cq-')
            cases.append(Case(f'number-{name}={value}', filled,
                              words or f'argument {flag}', argparse=not own))
            if own:
                cases[-1].expect = f'{flag}'
                cases.append(Case(f'number-{name}={value}-words', filled, words))
    return cases


def _enum_cases() -> list[Case]:
    cq = ['sim', 'compute-queue', '--lambda-embb', '1', '--lambda-urllc', '1', '--mu', '10']
    return [
        Case('enum-discipline', [*cq, '--discipline', 'lifo'],
             "--discipline = 'lifo': must be one of fifo, preemptive-resume, shared-exclusive, "
             'euad'),
        Case('enum-variant', ['train', 'twin', '--out', '{work}/out', '--variant', 'ppo'],
             "invalid choice: 'ppo'", argparse=True),
        Case('enum-qos', ['topic', 'echo', '/x', '--qos-reliability', 'maybe'],
             "invalid choice: 'maybe'", argparse=True),
        Case('enum-storage', ['bag', 'record', '-a', '-s', 'zip'], "invalid choice: 'zip'",
             argparse=True),
        Case('enum-subcommand', ['sim', 'weather'], "invalid choice: 'weather'", argparse=True),
        # CPython's argparse turns a positional '--' after a first '--' into [] (cli.py refuses)
        Case('dashdash-param-set', ['param', 'set', '/n', 'p', '--', '--'],
             "argument value: '--' is not a value here", argparse=True),
        Case('dashdash-topic-pub', ['topic', 'pub', '/x', '--', '--'],
             "argument type: '--' is not a value here", argparse=True),
        Case('dashdash-service-call', ['service', 'call', '/x', '--', '--'],
             "argument service_type: '--' is not a value here", argparse=True),
        Case('enum-command', ['fly'], "invalid choice: 'fly'", argparse=True),
        Case('enum-reproduction', ['reproduce', 'seed999-fig1', '--out', '{work}/out'],
             "unknown reproduction id 'seed999-fig1'"),
        Case('enum-policy', ['eval', 'slicing', '--policy', 'best', '--out', '{work}/out'],
             "--policy 'best': no such folder or file, and not one of pf, rr, maxweight, dpp"),
        Case('enum-env', ['twin', 'eval-model', '--env', 'NoSuchEnv-v9', '--out',
                          '{work}/out'], 'NoSuchEnv-v9'),
        Case('enum-train-env', ['train', 'twin', '--env', 'NoSuchEnv-v9', '--epochs', '1',
                                '--out', '{work}/out'], 'NoSuchEnv-v9'),
        Case('missing-required', ['control', 'schedule', '--out', '{work}/out'],
             'the following arguments are required: --max-delay', argparse=True),
        Case('enum-demo-policy', ['demo', '--policy', 'best', '--out', '{work}/out'],
             "invalid choice: 'best'", argparse=True),
        Case('enum-demo-fault', ['demo', '--fault', 'meteor', '--out', '{work}/out'],
             "invalid choice: 'meteor'", argparse=True),
        Case('demo-replay-missing', ['demo', '--replay', '{work}/nope', '--out', '{work}/out'],
             "bag '{work}/nope': no such folder"),
        Case('demo-summarize-not-a-bag', ['demo', '--summarize', '{work}', '--out',
                                          '{work}/out'], 'is not a rosbag2 folder'),
        Case('twin-train-not-a-bag', ['twin', 'train', '--bag', '{work}', '--out',
                                      '{work}/twin.pt'], 'not a rosbag2 folder (no metadata'),
        Case('missing-out', ['sim', 'coexistence'], 'the following arguments are required: '
                                                    '--out', argparse=True),
    ]


_OUT_COMMANDS: dict[str, list[str]] = {
    'sim-coexistence': ['sim', 'coexistence'],
    'sim-compute-queue': ['sim', 'compute-queue', '--lambda-embb', '1', '--lambda-urllc', '1',
                          '--mu', '10', '--discipline', 'fifo'],
    'control-schedule': ['control', 'schedule', '--max-delay', '2'],
    'control-certify': ['control', 'certify', '--gain-file', '{inputs}/gains/shape.json',
                        '--max-delay', '2'],
    'reproduce': ['reproduce', 'seed000-fig6a', '--quick'],
    'train-slicing': ['train', 'slicing', '--steps', '10'],
    'train-twin': ['train', 'twin', '--epochs', '1'],
    'eval-slicing': ['eval', 'slicing', '--policy', 'pf'],
    'twin-eval-model': ['twin', 'eval-model', '--train-samples', '10'],
    'demo': ['demo', '--duration', '5'],
}


def _out_cases() -> list[Case]:
    cases = []
    for command, argv in _OUT_COMMANDS.items():
        cases.append(Case(f'out-is-file-{command}', [*argv, '--out', '{work}/out'],
                          'exists and is a file; expected a folder', argparse=True,
                          setup='out_is_file'))
        cases.append(Case(f'out-under-file-{command}', [*argv, '--out', '{work}/out/sub/dir'],
                          'is a file, so the folder cannot be created under it',
                          argparse=True, setup='out_is_file'))
        cases.append(Case(f'out-empty-{command}', [*argv, '--out', ''],
                          'empty path', argparse=True))
    return cases


def _message_cases() -> list[Case]:
    pub = ['topic', 'pub', '/x']
    call = ['service', 'call', '/x']
    return [
        Case('msg-uint8-range', [*pub, 'std_msgs/msg/UInt8', '{data: 300}'],
             'std_msgs/msg/UInt8.data (uint8): cannot use 300: outside [0, 255]'),
        Case('msg-int8-range', [*pub, 'std_msgs/msg/Int8', '{data: -129}'],
             'outside [-128, 127]'),
        Case('msg-uint64-negative', [*pub, 'std_msgs/msg/UInt64', '{data: -1}'],
             'outside [0, 18446744073709551615]'),
        Case('msg-int64-huge', [*pub, 'std_msgs/msg/Int64', '{data: 1.0e+30}'],
             'outside [-9223372036854775808'),
        Case('msg-string-list', [*pub, 'std_msgs/msg/String', '{data: [1, 2]}'],
             '(string): cannot use [1, 2]: expected text, got a list'),
        Case('msg-string-mapping', [*pub, 'std_msgs/msg/String', '{data: {a: 1}}'],
             'expected text, got a mapping'),
        Case('msg-float-mapping', [*pub, 'std_msgs/msg/Float64', '{data: {a: 1}}'],
             '(float64): cannot use {'),
        Case('msg-float-text', [*pub, 'std_msgs/msg/Float64', '{data: fast}'],
             "cannot use 'fast': not a number"),
        Case('msg-float32-range', [*pub, 'std_msgs/msg/Float32', '{data: 1e39}'],
             'outside the finite float32 range'),
        Case('msg-int-fraction', [*pub, 'std_msgs/msg/Int32', '{data: 2.5}'],
             'not an integer'),
        Case('msg-int-bool', [*pub, 'std_msgs/msg/Int32', '{data: true}'],
             'expected a number, got a boolean'),
        Case('msg-bool-number', [*pub, 'std_msgs/msg/Bool', '{data: 3}'],
             'expected true or false'),
        Case('msg-unknown-field', [*pub, 'std_msgs/msg/String', '{text: hi}'],
             "std_msgs/msg/String has no field 'text' (fields: data)"),
        Case('msg-nested-unknown', [*pub, 'geometry_msgs/msg/Twist', '{linear: {w: 1}}'],
             "geometry_msgs/msg/Vector3 has no field 'w' (fields: x, y, z) in "
             'geometry_msgs/msg/Twist.linear'),
        Case('msg-nested-scalar', [*pub, 'geometry_msgs/msg/Twist', '{linear: 5}'],
             'expected a mapping of its fields'),
        Case('msg-array-item', [*pub, 'std_msgs/msg/UInt8MultiArray', '{data: [1, 300]}'],
             'data[1] (uint8): cannot use 300'),
        Case('msg-sequence-scalar', [*pub, 'std_msgs/msg/UInt8MultiArray', '{data: 7}'],
             'expected a list'),
        Case('msg-now-wrong-field', [*pub, 'std_msgs/msg/String', '{data: [now]}'],
             'expected text, got a list'),
        Case('msg-not-mapping', [*pub, 'std_msgs/msg/Int32', '[1]'], 'expected a YAML mapping'),
        Case('msg-yaml-syntax', [*pub, 'std_msgs/msg/Int32', '{data: [1'], 'not valid YAML'),
        Case('msg-unknown-type', [*pub, 'std_msgs/msg/Strin', '{}'],
             "unknown message type 'std_msgs/msg/Strin'"),
        Case('srv-bool-text', [*call, 'std_srvs/srv/SetBool', '{data: maybe}'],
             "std_srvs/srv/SetBool_Request.data (bool): cannot use 'maybe'"),
        Case('srv-unknown-field', [*call, 'std_srvs/srv/SetBool', '{enabled: true}'],
             "has no field 'enabled' (fields: data)"),
        Case('srv-list-for-bool', [*call, 'std_srvs/srv/SetBool', '{data: [true]}'],
             'expected true or false, got a list'),
        Case('srv-unknown-type', [*call, 'std_srvs/srv/SetBoll', '{}'],
             "unknown service type 'std_srvs/srv/SetBoll'"),
    ]


def _launch_cases() -> list[Case]:
    cases = [Case(f'launch-{kind}', ['launch', f'{{inputs}}/{kind}.yaml'], words)
             for kind, (_, words) in FILE_KINDS.items() if kind not in ('list', 'scalar')]
    cases = [Case(c.id, c.argv, 'not found' if c.id == 'launch-missing' else c.expect)
             for c in cases]
    cases += [
        Case('launch-list', ['launch', '{inputs}/list.yaml'],
             "list.yaml:1: a YAML launch file is a mapping with the key 'launch'"),
        Case('launch-scalar', ['launch', '{inputs}/scalar.yaml'],
             "scalar.yaml: a YAML launch file is a mapping with the key 'launch'"),
        Case('launch-unknown-arg', ['launch', '{inputs}/args.launch.yaml', 'bogus:=1'],
             "launch argument 'bogus' not declared by the launch file or its includes; "
             'declared: [rate, other]'),
        Case('launch-unknown-args', ['launch', '{inputs}/args.launch.yaml', 'rate:=2',
                                     'rte:=3', 'x:=1'], "launch arguments 'rte', 'x' not "
                                                        'declared'),
        Case('launch-arg-syntax', ['launch', '{inputs}/args.launch.yaml', 'rate=2'],
             "expected 'name:=value'"),
        Case('launch-include-binary', ['launch', '{inputs}/include_binary.launch.yaml'],
             'binary file'),
        Case('launch-package-missing-file', ['launch', 'ior_ros', 'nope.launch.yaml'],
             "launch file 'nope.launch.yaml' not found in package 'ior_ros'"),
        Case('launch-not-yaml', ['launch', f'{REPO}/README.md'], 'only YAML launch files'),
    ]
    for kind, words in (('binary', 'binary file'), ('latin1', 'not UTF-8'),
                        ('list', 'expected a mapping of node names'),
                        ('syntax', 'malformed YAML (column'), ('huge', 'larger than 1 MiB')):
        cases.append(Case(f'launch-params-{kind}',
                          ['launch', f'{{inputs}}/params_{kind}.launch.yaml'], words))
    return cases


def _artifact_cases() -> list[Case]:
    ev = ['eval', 'slicing', '--episodes', '1', '--slots', '5', '--out', '{work}/out']
    cert = ['control', 'certify', '--max-delay', '2', '--gain-file']
    twin = ['twin', 'eval-model', '--env', 'ior/RobotTracking-v0', '--train-samples', '10',
            '--test-samples', '10', '--out', '{work}/out']
    return [
        Case('policy-noise', [*ev, '--policy', '{inputs}/runs/policy_noise'],
             'policy file'),
        Case('policy-truncated-zip', [*ev, '--policy', '{inputs}/runs/policy_zip'],
             'cannot be read'),
        Case('policy-empty', [*ev, '--policy', '{inputs}/runs/policy_empty'],
             'the file is empty'),
        Case('policy-no-metadata', [*ev, '--policy', '{inputs}/runs/policy_nometa'],
             "no 'metadata' array"),
        Case('policy-binary-file', [*ev, '--policy', '{inputs}/binary.yaml'], 'policy'),
        Case('twin-load-garbage', [*twin, '--load', '{inputs}/runs/twin_garbage'],
             'cannot be read'),
        Case('twin-load-missing', [*twin, '--load', '{inputs}/runs/nothing'], 'does not exist'),
        Case('twin-policy-garbage', [*twin, '--policy', '{inputs}/runs/agent_garbage'],
             'cannot be read'),
        Case('gain-nan', [*cert, '{inputs}/gains/nan.json'], 'NaN is not JSON'),
        Case('gain-malformed', [*cert, '{inputs}/gains/malformed.json'], 'not JSON (line 1'),
        Case('gain-binary', [*cert, '{inputs}/gains/binary.json'], 'not JSON (a binary file'),
        Case('gain-latin1', [*cert, '{inputs}/gains/latin1.json'], 'not JSON (not UTF-8'),
        Case('gain-empty', [*cert, '{inputs}/gains/empty.json'], 'the file is empty'),
        Case('gain-text', [*cert, '{inputs}/gains/words.json'], 'expected a schedule'),
        Case('gain-shape', [*cert, '{inputs}/gains/shape.json', '--set', 'plant.axes=1'],
             'K shape (1, 3) does not match'),
        Case('gain-entries', [*cert, '{inputs}/gains/entries.json'], 'malformed'),
        Case('gain-other-format', [*cert, '{inputs}/gains/other_format.json'],
             "format 'ior_ros.policy/1'"),
        Case('gain-text-entries', [*cert, '{inputs}/gains/text_gain.json'],
             'must be a numeric matrix'),
        Case('gain-folder-without', [*cert, '{inputs}/gains'], 'does not exist'),
        Case('gain-missing', [*cert, '{inputs}/gains/none.json'], 'does not exist'),
        Case('resume-slicing-garbage', ['train', 'slicing', '--steps', '10', '--resume',
                                        '--out', '{work}/out'],
             'is not a usable checkpoint of `ior train slicing`',
             setup='slicing_resume_garbage'),
        Case('resume-slicing-bad-state', ['train', 'slicing', '--steps', '10', '--resume',
                                          '--out', '{work}/out'],
             'binary file', setup='slicing_resume_bad_state'),
        Case('resume-twin-garbage', ['train', 'twin', '--env', 'ior/RobotTracking-v0',
                                     '--epochs', '1', '--resume', '--out', '{work}/out'],
             'is not a usable checkpoint of `ior train twin`', setup='twin_resume_garbage'),
        Case('twin-run-exists', ['train', 'twin', '--env', 'ior/RobotTracking-v0', '--epochs',
                                 '1', '--out', '{work}/out'], 'already holds a run',
             setup='twin_run_exists'),
        Case('from-unsupported', ['reproduce', 'seed000-fig6b', '--from', '{inputs}/runs',
                                  '--out', '{work}/out'],
             'seed000-fig6b is computed from its model alone'),
        Case('from-missing', ['reproduce', 'seed003-fig3', '--from', '{inputs}/runs/none',
                              '--out', '{work}/out'], 'no such folder (expected a finished '
                                                      '`ior train slicing` run'),
        Case('from-file', ['reproduce', 'seed003-fig3', '--from', '{inputs}/binary.yaml',
                           '--out', '{work}/out'], 'is a file; expected a folder'),
        Case('from-no-policy', ['reproduce', 'seed003-fig4', '--quick', '--from',
                                '{inputs}/runs/slicing_run_no_policy', '--out', '{work}/out'],
             'policy.npz: cannot read: no such file'),
        Case('from-binary-metrics', ['reproduce', 'seed003-fig2', '--from',
                                     '{inputs}/runs/slicing_run_binary_metrics', '--out',
                                     '{work}/out'], 'binary file'),
        Case('from-and-retrain', ['reproduce', 'seed003-fig2', '--retrain', '--from',
                                  '{inputs}/runs/slicing_run_binary_metrics', '--out',
                                  '{work}/out'], '--from and --retrain exclude each other'),
        Case('from-schedule-garbage', ['reproduce', 'seed003-table2', '--quick', '--from',
                                       '{inputs}/runs/schedule_garbage', '--out',
                                       '{work}/out'], 'cannot be read'),
        Case('from-schedule-empty-folder', ['reproduce', 'seed003-table2', '--from',
                                            '{inputs}/runs/slicing_run_no_policy', '--out',
                                            '{work}/out'], 'does not exist'),
        Case('from-fig4-binary-csv', ['reproduce', 'seed000-fig4', '--from',
                                      '{inputs}/runs/fig4', '--out', '{work}/out'],
             'binary file'),
    ]


def _graph_cases() -> list[Case]:
    return [
        Case('param-get-absent', ['param', 'get', '/nobody', 'p', '--timeout', '0.3'],
             "node '/nobody': its parameter service", ros=True),
        Case('param-list-absent', ['param', 'list', '/nobody', '--timeout', '0.3'],
             "node '/nobody'", ros=True),
        Case('param-set-absent', ['param', 'set', '/nobody', 'p', '1', '--timeout', '0.3'],
             "node '/nobody'", ros=True),
        Case('service-call-absent', ['service', 'call', '/nobody', 'std_srvs/srv/SetBool',
                                     '{data: true}', '--timeout', '0.3'],
             "service '/nobody' is not available within 0.3 s", ros=True),
        Case('service-type-absent', ['service', 'type', '/nobody', '--spin-time', '0.3'],
             "service '/nobody' not found within 0.3 s", ros=True),
        Case('param-describe-absent', ['param', 'describe', '/nobody', 'p', '--timeout', '0.3'],
             "node '/nobody'", ros=True),
        Case('bag-reindex-missing', ['bag', 'reindex', '{work}/nobag'], 'nobag'),
        Case('bag-info-missing', ['bag', 'info', '{work}/nobag'], 'nobag'),
        Case('bag-play-missing', ['bag', 'play', '{work}/nobag'], 'nobag'),
        Case('bag-info-not-bag', ['bag', 'info', '{inputs}/runs'], 'runs'),
        Case('bag-info-binary-metadata', ['bag', 'info', '{inputs}/runs/bag_binary'],
             'metadata.yaml'),
        Case('bag-play-latin1-metadata', ['bag', 'play', '{inputs}/runs/bag_latin1'],
             'metadata.yaml'),
    ]


def _permission_cases() -> list[Case]:
    return [
        Case('perm-config', ['sim', 'coexistence', '--config', '{inputs}/secret.yaml', '--out',
                             '{work}/out'], 'cannot read: permission denied',
             as_other_user=True),
        Case('perm-launch', ['launch', '{inputs}/secret.yaml'], 'permission denied',
             as_other_user=True),
        Case('perm-out', ['sim', 'coexistence', '--out', '{inputs}/locked/out'],
             'cannot write there', argparse=True, as_other_user=True),
        Case('perm-gain', ['control', 'certify', '--max-delay', '2', '--gain-file',
                           '{inputs}/secret.yaml'], 'permission denied', as_other_user=True),
    ]


def _equipment_cases() -> list[Case]:
    """The equipment clients (issue 13): refused before anything reaches a device, a gNB or
    the kernel's traffic control."""
    ws = 'ws://127.0.0.1:9'  # nothing listens there: a case that got past its checks would fail
    return [
        Case('gnb-url-not-ws', ['gnb', 'policy', 'set', '--url', 'http://gnb:8001', '--sst', '1'],
             "argument --url: 'http://gnb:8001': must be ws://HOST:PORT/", argparse=True),
        Case('gnb-min-above-max', ['gnb', 'policy', 'set', '--url', ws, '--sst', '1', '--min',
                                   '70', '--max', '60'],
             "'min_ratio' 70 <= 'max_ratio' 60 must hold (TS 28.541 RRMPolicyRatio)"),
        Case('gnb-sst-9-bits', ['gnb', 'policy', 'set', '--url', ws, '--sst', '300'],
             'argument --sst: 300: must be an integer >= 0 and <= 255', argparse=True),
        Case('gnb-metrics-count', ['gnb', 'metrics', '--url', ws, '--count', '0'],
             'argument --count: 0', argparse=True),
        Case('gnb-emulate-port', ['gnb', 'emulate', '--port', '70000'],
             'argument --port: 70000', argparse=True),
        Case('gnb-emulate-slices-missing', ['gnb', 'emulate', '--slices', '{work}/nope.yaml'],
             'nope.yaml: cannot read: no such file'),
        Case('modem-cell-no-port', ['modem', 'cell', '--port', '{work}/nope'],
             "modem port '{work}/nope': cannot open"),
        Case('modem-info-no-port', ['modem', 'info', '--port', '{work}/nope'],
             "modem port '{work}/nope': cannot open"),
        Case('modem-nssai-bad-snssai', ['modem', 'nssai', '--port', '{work}/nope', '--select',
                                        '01.zz'],
             "'01.zz' is not allowed; an S-NSSAI is two hex digits SST"),
        Case('modem-emulate-mode', ['modem', 'emulate', '--mode', '6g'],
             "invalid choice: '6g'", argparse=True),
        Case('slices-validate-missing', ['slices', 'validate', '{work}/nope'],
             'nope: cannot read: no such file'),
        Case('slices-apply-capacity', ['slices', 'apply', '--dev', 'lo', '--capacity', '1'],
             'argument --capacity: 1', argparse=True),
        Case('slices-list-no-device', ['slices', 'list', '--dev', 'nodev0'],
             'Cannot find device "nodev0"'),
        Case('slices-remove-no-device', ['slices', 'remove', '--dev', 'nodev0'],
             'Cannot find device "nodev0"'),
        Case('twin-gate-eval-not-a-run', ['twin', 'gate-eval', '--run', '{work}', '--out',
                                          '{work}/out'],
             'holds no config.resolved.yaml: not a run folder of `ior train twin`'),
    ]


def all_cases() -> list[Case]:
    """The whole matrix; every 20th case also runs through a real subprocess."""
    cases = (_file_cases() + _set_cases() + _number_cases() + _enum_cases() + _out_cases() +
             _message_cases() + _launch_cases() + _artifact_cases() + _graph_cases() +
             _equipment_cases())
    for index, case in enumerate(cases):
        if index % 20 == 7:
            case.subprocess = True
    return cases + _permission_cases()


CASES = all_cases()


@pytest.mark.parametrize('case', CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, inputs: Path, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    """One wrong command line: exit 2, one error line, no traceback, nothing written."""
    work = tmp_path / 'work'
    work.mkdir()
    work.chmod(0o777)  # the permission cases run as another user
    check(case, inputs, work, monkeypatch)


def test_matrix_covers_every_subcommand() -> None:
    """Every subcommand of `ior` appears in the matrix (a new one needs its cases)."""
    from ior_ros.cli import build_parser

    parser = build_parser()
    commands: set[str] = set()
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        for name, sub in action.choices.items():
            nested = [a for a in sub._actions if a.__class__.__name__ == '_SubParsersAction']
            if nested:
                commands.update(f'{name} {verb}' for verb in nested[0].choices)
            else:
                commands.add(name)
    covered = {f'{c.argv[0]} {c.argv[1]}' if len(c.argv) > 1 and
               f'{c.argv[0]} {c.argv[1]}' in commands else c.argv[0] for c in CASES}
    missing = sorted(commands - covered)
    assert not missing, f'subcommands without bad-input cases: {missing}'
    assert len(CASES) >= 250


def test_matrix_totals(tmp_path_factory: pytest.TempPathFactory,
                       capsys: pytest.CaptureFixture[str]) -> None:
    """Print and save the totals of the cases run in this session (the closing note quotes
    them); every case that ran exited 2 without a traceback."""
    path = tmp_path_factory.getbasetemp() / 'bad_input_totals.json'
    path.write_text(json.dumps(TOTALS, indent=2))
    with capsys.disabled():
        print(f"\nbad-input matrix: {TOTALS['cases']} cases ({TOTALS['subprocess']} through a "
              f"subprocess), exit codes {TOTALS['exit_codes']}, tracebacks "
              f"{TOTALS['tracebacks']}, one-line errors {TOTALS['one_line']}, argparse errors "
              f"{TOTALS['argparse']}; totals in {path}")
    assert TOTALS['tracebacks'] == 0 and not TOTALS['failures'], TOTALS['failures']
