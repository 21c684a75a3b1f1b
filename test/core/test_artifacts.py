"""Atomic writers: the target holds the old or the new content, never half; no temp files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ior_ros.core.artifacts import (
    ArtifactFormat,
    atomic_write_bytes,
    atomic_write_csv,
    atomic_write_json,
    read_artifact,
    write_artifact,
)
from ior_ros.core.errors import ArtifactError, ConfigError, IorError

REPO = Path(__file__).resolve().parents[2]


def test_json_with_numpy_and_nan(tmp_path: Path) -> None:
    path = atomic_write_json(tmp_path / 'a' / 'b.json',
                             {'x': np.arange(3), 'y': np.float64(1.5), 'z': float('nan')})
    assert json.loads(path.read_text()) == {'x': [0, 1, 2], 'y': 1.5, 'z': None}
    assert [p.name for p in path.parent.iterdir()] == ['b.json']


def test_failed_write_keeps_old_content(tmp_path: Path) -> None:
    target = tmp_path / 'keep.txt'
    atomic_write_bytes(target, b'old')

    class Boom:
        def __bytes__(self) -> bytes:
            raise RuntimeError('boom')

    with pytest.raises(TypeError):
        atomic_write_bytes(target, Boom())  # type: ignore[arg-type]
    assert target.read_bytes() == b'old'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['keep.txt']


def test_csv(tmp_path: Path) -> None:
    path = atomic_write_csv(tmp_path / 't.csv', ['a', 'b'], [[1, None], [2, 3.5]])
    assert path.read_text() == 'a,b\n1,\n2,3.5\n'


# --------------------------------------------------------------------------------------------
# the artifact loader: file or folder -> exists -> read -> format id and version, one error each

JSON_FMT = ArtifactFormat('ior_ros.test_doc', 2, 'doc.json', 'json', 'test document',
                          made_by='`ior test`')
NPZ_FMT = ArtifactFormat('ior_ros.test_arrays', 1, 'arrays.npz', 'npz', 'test arrays')
TORCH_FMT = ArtifactFormat('ior_ros.test_torch', 1, 'model.pt', 'torch', 'test model')


def _error(path: Path | str, fmt: ArtifactFormat) -> str:
    with pytest.raises(ArtifactError) as caught:
        read_artifact(path, fmt)
    message = str(caught.value)
    assert '\n' not in message and isinstance(caught.value, ConfigError)
    return message


def test_read_from_the_file_or_the_folder(tmp_path: Path) -> None:
    file = write_artifact(tmp_path / 'run', JSON_FMT, {'a': 1, 'format': 'ignored'})
    assert file == tmp_path / 'run' / 'doc.json'
    assert json.loads(file.read_text())['format'] == 'ior_ros.test_doc/2'
    assert next(iter(json.loads(file.read_text()))) == 'format'  # the id comes first
    for path in (tmp_path / 'run', file, str(file)):
        got = read_artifact(path, JSON_FMT)
        assert got.path == file and got.document == {'format': 'ior_ros.test_doc/2', 'a': 1}
    other = write_artifact(tmp_path / 'named.json', JSON_FMT, {'a': 2})
    assert other == tmp_path / 'named.json' and read_artifact(other, JSON_FMT).document['a'] == 2


def test_npz_and_torch_round_trip(tmp_path: Path) -> None:
    arrays = {'w/0': np.arange(6.0).reshape(2, 3), 'b': np.ones(3, dtype=np.float32)}
    write_artifact(tmp_path, NPZ_FMT, {'n': 3}, arrays)
    got = read_artifact(tmp_path, NPZ_FMT)
    assert got.document == {'format': 'ior_ros.test_arrays/1', 'n': 3}
    assert sorted(got.arrays) == ['b', 'w/0'] and got.arrays['b'].dtype == np.float32
    np.testing.assert_array_equal(got.arrays['w/0'], arrays['w/0'])
    torch = pytest.importorskip('torch')
    write_artifact(tmp_path, TORCH_FMT, {'weights': {'w': torch.ones(2)}})
    loaded = read_artifact(tmp_path / 'model.pt', TORCH_FMT).document
    assert loaded['format'] == 'ior_ros.test_torch/1' and loaded['weights']['w'].tolist() == [1, 1]


def test_missing_file_and_empty_folder(tmp_path: Path) -> None:
    message = _error(tmp_path / 'nothing.json', JSON_FMT)
    assert message.startswith(f"no test document at '{tmp_path / 'nothing.json'}'")
    assert 'does not exist' in message and 'doc.json written by `ior test`' in message
    assert f"'{tmp_path / 'doc.json'}'" in _error(tmp_path, JSON_FMT)


def test_wrong_format_id(tmp_path: Path) -> None:
    write_artifact(tmp_path, NPZ_FMT, {}, {'x': np.zeros(1)})
    other = ArtifactFormat('ior_ros.other', 1, 'arrays.npz', 'npz', 'other thing')
    message = _error(tmp_path, other)
    assert str(tmp_path / 'arrays.npz') in message
    assert "format 'ior_ros.test_arrays/1'" in message and "expected 'ior_ros.other/1'" in message
    (tmp_path / 'doc.json').write_text('{"a": 1}')
    assert "has no format id; expected 'ior_ros.test_doc/2'" in _error(tmp_path, JSON_FMT)
    (tmp_path / 'doc.json').write_text('[[1, 2]]')
    assert 'holds a list' in _error(tmp_path, JSON_FMT)


def test_newer_and_older_versions(tmp_path: Path) -> None:
    (tmp_path / 'doc.json').write_text('{"format": "ior_ros.test_doc/3"}')
    message = _error(tmp_path, JSON_FMT)
    assert "'ior_ros.test_doc/3', newer than this ior_ros reads" in message
    assert "expected 'ior_ros.test_doc/2'" in message
    (tmp_path / 'doc.json').write_text('{"format": "ior_ros.test_doc/1"}')
    assert 'older than this ior_ros reads' in _error(tmp_path, JSON_FMT)
    reads_old = ArtifactFormat('ior_ros.test_doc', 2, 'doc.json', 'json', 'doc', min_version=1)
    assert read_artifact(tmp_path, reads_old).document['format'] == 'ior_ros.test_doc/1'


@pytest.mark.parametrize('content', [b'{"format": "ior_ros.test_doc/2", ', b'\xff\xfe\x00'])
def test_corrupt_json(tmp_path: Path, content: bytes) -> None:
    (tmp_path / 'doc.json').write_bytes(content)
    message = _error(tmp_path, JSON_FMT)
    assert message.startswith(f"test document file '{tmp_path / 'doc.json'}' cannot be read: "
                              'not JSON')
    assert "expected a JSON document of format 'ior_ros.test_doc/2'" in message


@pytest.mark.parametrize('content', [b'not a zip', b'PK\x03\x04 truncated'])
def test_corrupt_npz(tmp_path: Path, content: bytes) -> None:
    (tmp_path / 'arrays.npz').write_bytes(content)
    message = _error(tmp_path, NPZ_FMT)
    assert 'cannot be read' in message and 'expected a numpy .npz archive' in message


def test_npz_without_metadata_and_corrupt_torch(tmp_path: Path) -> None:
    np.savez(tmp_path / 'arrays.npz', x=np.zeros(2))
    assert "cannot be read: no 'metadata' array" in _error(tmp_path, NPZ_FMT)
    pytest.importorskip('torch')
    (tmp_path / 'model.pt').write_bytes(b'not a torch file' * 100)
    message = _error(tmp_path, TORCH_FMT)
    assert 'cannot be read' in message and len(message) < 400


def test_shipped_files_still_load() -> None:
    from ior_ros.core.control.gain_schedule import SCHEDULE_ARTIFACT
    from ior_ros.core.slicing.policy import POLICY_ARTIFACT, SlicingPolicy
    policy_dir = REPO / 'config' / 'policies' / 'seed003_slicing'
    assert read_artifact(policy_dir, POLICY_ARTIFACT).document['n_prb'] > 0
    assert SlicingPolicy.load(policy_dir).n_prb > 0
    shipped = REPO / 'ior_ros' / 'core' / 'control' / 'reference_schedule.json'
    assert len(read_artifact(shipped, SCHEDULE_ARTIFACT).document['entries']) > 1


def test_cli_one_line_exit_2(ior, tmp_path: Path) -> None:
    write_artifact(tmp_path, NPZ_FMT, {}, {'x': np.zeros(1)})
    proc = ior('control', 'certify', '--gain-file', str(tmp_path / 'none.json'),
               '--max-delay', '3')
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert 'none.json' in proc.stderr and 'does not exist' in proc.stderr
    (tmp_path / 'schedule.json').write_text('{"format": "ior_ros.gain_schedule/9", '
                                            '"entries": []}')
    proc = ior('control', 'certify', '--gain-file', str(tmp_path), '--max-delay', '3')
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert 'newer than this ior_ros reads' in proc.stderr


@pytest.mark.parametrize('damage', ['no_n_prb', 'bad_layer', 'string_scale'])
def test_policy_of_the_right_format_with_cut_contents(tmp_path: Path, damage: str) -> None:
    """A policy file of the right format and version whose contents were edited is one
    ArtifactError naming the file, not a KeyError or a shape error from inside the loader."""
    from ior_ros.core.slicing.policy import POLICY_ARTIFACT, SlicingPolicy
    saved = read_artifact(REPO / 'config' / 'policies' / 'seed003_slicing', POLICY_ARTIFACT)
    document = {k: v for k, v in saved.document.items() if k != 'format'}
    arrays = dict(saved.arrays)
    if damage == 'no_n_prb':
        del document['n_prb']
    elif damage == 'bad_layer':
        arrays['embb/W1'] = np.zeros((3, 3), dtype=np.float32)
    else:
        document['action_logit_scale'] = 'large'
    write_artifact(tmp_path, POLICY_ARTIFACT, document, arrays)
    with pytest.raises(IorError if damage == 'bad_layer' else ArtifactError) as err:
        SlicingPolicy.load(tmp_path)
    message = str(err.value)
    assert 'policy.npz' in message and '\n' not in message
    assert {'no_n_prb': "no 'n_prb' entry", 'bad_layer': 'W has shape (3, 3)',
            'string_scale': 'do not fit'}[damage] in message
