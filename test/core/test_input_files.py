"""The one way to read a file a user names (ior_ros/core/input_files.py) and output checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ior_ros.core.artifacts import OutputPathError, check_out_dir, check_out_file
from ior_ros.core.config import load_config, parse_override
from ior_ros.core.errors import ConfigError
from ior_ros.core.input_files import (
    MAX_YAML_VALUES,
    YAML_LIMIT,
    InputFileError,
    display_path,
    input_folder,
    read_input_json,
    read_input_text,
    read_input_yaml,
)


def _yaml_error(path: Path, **kwargs: object) -> str:
    with pytest.raises(InputFileError) as info:
        read_input_yaml(path, '--config', **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert '\n' not in message
    return message


@pytest.mark.parametrize('content, words', [
    (b'a: 1\n\x00', '--config {p}: a binary file (NUL byte at offset 5); expected UTF-8 YAML'),
    (b'a: 1\nb: caf\xc3\n', '--config {p}: not UTF-8 (byte 0xc3 at line 2, column 7)'),
    (b'', '--config {p}: the file is empty'),
    (b'  \n\t\n', '--config {p}: the file is empty'),
    (b'# only\n', '--config {p}: holds no YAML value'),
    (b'a: [1,\n  2\n', '{p}:1: malformed YAML (column 4): '),
    (b'a: 1\n  b: 2\n', '{p}:2: malformed YAML (column 4): mapping values are not allowed'),
    (b'- a\n', '--config {p}: the top level is a list; expected a mapping'),
    (b'text\n', "--config {p}: the top level is the text 'text'; expected a mapping"),
    (b'a: ' + b'[' * 101 + b']' * 101, '{p}: YAML nested deeper than 100 levels'),
])
def test_yaml_file_problems_are_one_line(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / 'c.yaml'
    path.write_bytes(content)
    assert _yaml_error(path).startswith(words.format(p=path))


def test_unclosed_bracket_names_the_line_where_it_opened(tmp_path: Path) -> None:
    path = tmp_path / 'c.yaml'
    path.write_text('a: 1\nb: [1, 2,\n  3,\n  4\n')
    message = _yaml_error(path)
    assert message.startswith(f'{path}:2: malformed YAML (column 4):')
    assert 'at line 2, still open at the end of the file' in message


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]']
    lines += [f'a{i}: &a{i} [{", ".join([f"*a{i - 1}"] * 10)}]' for i in range(1, 9)]
    path = tmp_path / 'bomb.yaml'
    path.write_text('\n'.join(lines) + '\n')
    assert f'expands to more than {MAX_YAML_VALUES:,} values' in _yaml_error(path)


def test_missing_folder_size_and_byte_order_mark(tmp_path: Path) -> None:
    assert _yaml_error(tmp_path / 'none.yaml').endswith('cannot read: no such file')
    assert _yaml_error(tmp_path).endswith('cannot read: it is a folder, not a file')
    big = tmp_path / 'big.yaml'
    big.write_bytes(b'a: 1\n' + b'#' * YAML_LIMIT.max_bytes)
    message = _yaml_error(big)
    assert 'larger than 1 MiB, the limit for this kind of file (PyYAML parses' in message
    bom = tmp_path / 'bom.yaml'
    bom.write_bytes('\ufeffa: 1\n'.encode())
    assert read_input_yaml(bom, '--config') == {'a': 1}
    with pytest.raises(InputFileError, match='no such file'):  # allow_empty: not for missing
        read_input_yaml(tmp_path / 'none.yaml', 'x', allow_empty=True)


@pytest.mark.skipif(os.geteuid() == 0, reason='root reads files whatever their permissions')
def test_unreadable_file(tmp_path: Path) -> None:  # pragma: no cover  (CI runs as root)
    path = tmp_path / 'secret.yaml'
    path.write_text('a: 1\n')
    path.chmod(0)
    assert _yaml_error(path).endswith('cannot read: permission denied')


def test_odd_file_names_stay_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / 'two\nlines.yaml'
    path.write_bytes(b'\x00')
    message = _yaml_error(path)
    assert repr(str(path)) in message and '\n' not in message
    assert display_path('plain/path.yaml') == 'plain/path.yaml'
    assert display_path('with space') == "'with space'"


def test_json(tmp_path: Path) -> None:
    path = tmp_path / 'g.json'
    path.write_text('{"a": [1, 2,]}')
    with pytest.raises(InputFileError, match=r'g\.json:1: malformed JSON \(column 13\)'):
        read_input_json(path, 'gain file')
    path.write_text('[NaN]')
    with pytest.raises(InputFileError, match='NaN is not JSON'):
        read_input_json(path, 'gain file')
    path.write_text('[1.5]')
    assert read_input_json(path, 'gain file') == [1.5]


def test_text_and_folder(tmp_path: Path) -> None:
    path = tmp_path / 't.txt'
    path.write_text('')
    assert read_input_text(path, 'x', allow_empty=True) == ''
    with pytest.raises(InputFileError, match='is a file; expected a folder'):
        input_folder(path, '--from')
    with pytest.raises(InputFileError, match='no such folder'):
        input_folder(tmp_path / 'none', '--from')
    assert input_folder(tmp_path, '--from') == tmp_path


def test_config_through_the_same_reader(tmp_path: Path) -> None:
    from ior_ros.core.control.control_config import ControlConfig

    path = tmp_path / 'c.yaml'
    path.write_bytes(b'\xff\xfe')
    with pytest.raises(ConfigError, match=r'^--config .*: not UTF-8'):
        load_config(ControlConfig, path, what='--config')
    with pytest.raises(ConfigError, match='nested too deeply|nested deeper'):
        parse_override('a=' + '[' * 5000 + ']' * 5000)
    assert parse_override('a=[1, 2') == (['a'], '[1, 2')  # not YAML: the text itself


def test_config_limits_say_why_and_booleans_are_not_numbers() -> None:
    from ior_ros.core.control.control_config import ControlConfig
    from ior_ros.core.rl.twin_sac import TwinTrainConfig
    from ior_ros.core.slicing.config import SlicingRunConfig

    with pytest.raises(ConfigError) as info:
        load_config(SlicingRunConfig, None, ['env.n_embb=100000'])
    assert str(info.value) == (
        "field 'env.n_embb' = 100000: input should be less than or equal to 100 (every user "
        'adds a queue, a channel per PRB and inputs to both actors; the seed has 5)')
    with pytest.raises(ConfigError, match='got the boolean true'):
        load_config(TwinTrainConfig, None, ['world_model.learning_rate=on'])
    with pytest.raises(ConfigError, match='got the boolean false'):
        load_config(ControlConfig, None, ['schedule.workers=no'])
    with pytest.raises(ConfigError, match=r"'osqp' is not an installed cvxpy solver for "
                                          r'semidefinite programs \(lmis\); allowed: clarabel'):
        load_config(ControlConfig, None, ['certificate.solver=OSQP'])
    assert load_config(ControlConfig, None, ['certificate.solver=scs']).certificate.solver == \
        'SCS'
    assert load_config(ControlConfig, None, ['certificate.per_axis=no']).certificate.per_axis \
        is False


def test_output_checks_create_nothing(tmp_path: Path) -> None:
    target = tmp_path / 'a' / 'b'
    assert check_out_dir(target) == target
    assert list(tmp_path.iterdir()) == []  # probed, nothing left
    (tmp_path / 'file').write_text('x')
    with pytest.raises(OutputPathError, match='exists and is a file; expected a folder'):
        check_out_dir(tmp_path / 'file')
    with pytest.raises(OutputPathError, match='is a file, so the folder cannot be created'):
        check_out_dir(tmp_path / 'file' / 'sub')
    with pytest.raises(OutputPathError, match='is a folder; expected a file name'):
        check_out_file(tmp_path)
    assert check_out_file(tmp_path / 'new' / 'x.json') == tmp_path / 'new' / 'x.json'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['file']
