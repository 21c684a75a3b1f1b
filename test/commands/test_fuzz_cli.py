"""
Hypothesis fuzzing of the ``ior`` command line and of every configuration model.

* CLI: for each subcommand, random tokens (its own flags, numbers of every size and sign, NaN,
  infinities, text, YAML fragments, paths) after the subcommand. ``ior`` must exit with 0 or 2 and
  never let an exception escape. The long computations behind the commands (simulations, LMI
  solves, training, DDS discovery, launched processes) are replaced by a stop that counts as
  "input accepted" (exit 0): what is fuzzed is every check before the work starts, not the work.
* Configurations: random YAML documents (mappings with the model's own keys and random ones,
  scalars, lists, nesting) loaded through ``load_config`` for every configuration model: the
  result is a configuration or one ConfigError line, nothing else.

The default run is short (part of ``make test``); the ``slow`` variants run many more examples.

A bare ``--`` is among the tokens: after a first one, CPython 3.11's argparse gives a positional
argument the value ``[]`` instead of a string (``ior param set N P -- --``); ``ior_ros/cli.py``
turns that into argparse's one-line error.
"""

from __future__ import annotations

import argparse
import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.xdist_group('fuzz_cli')

SHORT = settings(max_examples=25, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow,
                                        HealthCheck.function_scoped_fixture])
LONG = settings(max_examples=400, deadline=None,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])


class _Accepted(BaseException):  # noqa: N818  (a stop, not an error)
    """Raised where a command would start its real work: the input was accepted."""


def _accept(*args: Any, **kwargs: Any) -> Any:
    raise _Accepted


_WORK = [
    # where each command's long work starts (module, attribute)
    ('ior_ros.core.ran.coexistence_search', 'run_coexistence'),
    ('ior_ros.core.ran.compute_queue', 'simulate_poisson_classes'),
    ('ior_ros.core.control.schedule_build', 'schedule_from_config'),
    ('ior_ros.core.control.lk_certificate', 'certify'),
    ('ior_ros.experiments.slicing_runs', 'train_slicing'),
    ('ior_ros.experiments.slicing_runs', 'evaluate_slicing'),
    ('ior_ros.experiments.twin_training', 'run_twin_training'),
    ('ior_ros.core.twin.data', 'collect_transitions'),
    ('ior_ros.runtime.topic_tools', 'open_context'),
    ('ior_ros.runtime.launch_runner', 'LaunchRunner'),
    # equipment (issue 13): a client connects or opens a port, an emulator serves until Ctrl-C,
    # tc changes an interface: stopped once the arguments passed
    ('ior_ros.clients.srsran', 'SrsranGnb'),
    ('ior_ros.clients.srsran_yaml', 'YamlGnbConfigurator'),
    ('ior_ros.clients.gnb_emulator', 'GnbEmulator'),
    ('ior_ros.clients.quectel', 'QuectelRM500Q'),
    ('ior_ros.clients.modem_emulator', 'ModemEmulator'),
    ('ior_ros.clients.modem_emulator', 'serve'),
    ('ior_ros.clients.tc', 'TcSlices'),
    ('ior_ros.experiments.twin_gate', 'run_gate_eval'),
    ('ior_ros.experiments.twin_gate', 'run_robot_gate_eval'),
]


@contextlib.contextmanager
def no_work(folder: Path) -> Iterator[None]:
    """Stop every command where its work starts; run in ``folder``."""
    import importlib
    import os

    from ior_ros.experiments.registry import Reproduction

    saved: list[tuple[Any, str, Any]] = []
    for module_name, attribute in _WORK:
        module = importlib.import_module(module_name)
        saved.append((module, attribute, getattr(module, attribute)))
        setattr(module, attribute, _accept)
    saved.append((Reproduction, 'load', Reproduction.load))
    Reproduction.load = lambda self: _accept  # type: ignore[assignment,method-assign]
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(cwd)
        for owner, attribute, value in saved:
            setattr(owner, attribute, value)


def run_ior(argv: list[str]) -> tuple[Any, str]:
    """(exit code, stderr) of ``ior ARGV`` in this process; an escaping exception is a failure."""
    from ior_ros.cli import main

    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code: Any = main(argv)
        except _Accepted:
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
    return code, err.getvalue()


def _subcommands() -> dict[str, list[str]]:
    """``'group verb'`` (or ``'command'``) -> the option strings of that parser."""
    from ior_ros.cli import build_parser

    found: dict[str, list[str]] = {}

    def options(parser: argparse.ArgumentParser) -> list[str]:
        return [o for a in parser._actions for o in a.option_strings if o not in ('-h', '--help')]

    top = build_parser()
    for action in top._subparsers._group_actions:  # type: ignore[union-attr]
        for name, sub in action.choices.items():
            nested = [a for a in sub._actions if isinstance(a, argparse._SubParsersAction)]
            if nested:
                for verb, parser in nested[0].choices.items():
                    found[f'{name} {verb}'] = options(parser)
            else:
                found[name] = options(sub)
    return found


SUBCOMMANDS = _subcommands()

_NUMBERS = st.one_of(
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(['0', '-0', '1', '-1', '1e400', 'nan', 'inf', '-inf', '2**64', '1_000',
                     '0x10', '', ' ', '3.5', '4294967296', '99999999999999999999']))
_WORDS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(['{data: 1}', '[1, 2', 'a:=1', 'rate:=', ':=x', '-', 'fifo', 'pf',
                     'twin', 'seed000-fig6a', 'std_msgs/msg/String', '/x', '.', '..', '/',
                     '/dev/null', 'README.md', 'config/control.yaml', 'a.b=1', 'x=[[[[',
                     'nope/none.yaml']))


def _tokens(flags: list[str]) -> st.SearchStrategy[list[str]]:
    pieces = st.one_of(st.sampled_from(flags) if flags else _WORDS, _NUMBERS, _WORDS,
                       st.just('--'))
    return st.lists(pieces, max_size=8)


def _fuzz_one(subcommand: str, tokens: list[str], folder: Path) -> None:
    argv = [*subcommand.split(), *tokens]
    if any('\0' in t for t in argv):
        argv = [t.replace('\0', '') for t in argv]
    with no_work(folder):
        code, err = run_ior(argv)
    assert code in (0, 2), (argv, code, err)
    assert 'Traceback' not in err, (argv, err)


@pytest.mark.parametrize('subcommand', sorted(SUBCOMMANDS))
def test_fuzz_cli_arguments(subcommand: str, tmp_path: Path) -> None:
    """Random tokens after each subcommand: exit 0 or 2, never an escaping exception."""
    @SHORT
    @given(tokens=_tokens(SUBCOMMANDS[subcommand]))
    def run(tokens: list[str]) -> None:
        _fuzz_one(subcommand, tokens, tmp_path)

    run()


@pytest.mark.slow
@pytest.mark.parametrize('subcommand', sorted(SUBCOMMANDS))
def test_fuzz_cli_arguments_long(subcommand: str, tmp_path: Path) -> None:
    """The same with many more examples (``make test-all``)."""
    @LONG
    @given(tokens=_tokens(SUBCOMMANDS[subcommand]))
    def run(tokens: list[str]) -> None:
        _fuzz_one(subcommand, tokens, tmp_path)

    run()


# --------------------------------------------------------------------------------------------
# configuration models


def _config_models() -> dict[str, type]:
    from ior_ros.core.control.control_config import ControlConfig
    from ior_ros.core.ran.cell_config import CellConfig
    from ior_ros.core.ran.coexistence_config import CoexistenceConfig
    from ior_ros.core.rl.twin_sac import TwinTrainConfig
    from ior_ros.core.slicing.config import SlicingRunConfig

    return {m.__name__: m for m in (ControlConfig, CellConfig, CoexistenceConfig,
                                    TwinTrainConfig, SlicingRunConfig)}


MODELS = _config_models()


def _keys(model: type) -> list[str]:
    """The field names of a model and of its nested models (random documents reuse them)."""
    from typing import get_args

    from pydantic import BaseModel

    names: list[str] = []
    stack = [model]
    seen: set[type] = set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        for name, info in current.model_fields.items():
            names.append(name)
            for kind in (info.annotation, *get_args(info.annotation)):
                if isinstance(kind, type) and issubclass(kind, BaseModel):
                    stack.append(kind)
    return sorted(set(names))


def _documents(model: type) -> st.SearchStrategy[Any]:
    keys = st.one_of(st.sampled_from(_keys(model)), st.text(max_size=8), st.integers())
    scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**20, max_value=10**20),
                        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=10),
                        st.sampled_from(['fifo', 'CLARABEL', 'relu', 'twin_gan', 'seed003']))
    values = st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)), max_leaves=20)
    return st.one_of(values, st.dictionaries(keys, values, max_size=6))


def _load_one(model: type, document: Any, folder: Path) -> None:
    from ior_ros.core.config import load_config
    from ior_ros.core.errors import ConfigError

    path = folder / 'fuzz.yaml'
    try:
        text = yaml.safe_dump(document, allow_unicode=True)
    except yaml.YAMLError:
        return
    path.write_text(text, encoding='utf-8')
    try:
        load_config(model, path)
    except ConfigError as exc:
        assert '\n' not in str(exc), str(exc)


@pytest.mark.parametrize('name', sorted(MODELS))
def test_fuzz_config_documents(name: str, tmp_path: Path) -> None:
    """Random YAML documents for each configuration model: a config or one ConfigError line."""
    @SHORT
    @given(document=_documents(MODELS[name]))
    def run(document: Any) -> None:
        _load_one(MODELS[name], document, tmp_path)

    run()


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(MODELS))
def test_fuzz_config_documents_long(name: str, tmp_path: Path) -> None:
    """The same with many more examples."""
    @LONG
    @given(document=_documents(MODELS[name]))
    def run(document: Any) -> None:
        _load_one(MODELS[name], document, tmp_path)

    run()


@SHORT
@given(text=st.text(max_size=200))
def test_fuzz_config_text(text: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Any text as a --config file of a command: exit 0 or 2, never an escaping exception."""
    folder = tmp_path_factory.mktemp('cfg')
    path = folder / 'config.yaml'
    path.write_text(text, encoding='utf-8')
    with no_work(folder):
        code, err = run_ior(['control', 'schedule', '--max-delay', '1', '--config', str(path),
                             '--out', str(folder / 'out')])
    assert code in (0, 2) and 'Traceback' not in err, (text, err)
