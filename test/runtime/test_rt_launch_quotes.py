"""
Quoted substitution arguments in YAML launch files: what ``ior launch`` runs equals what the real
``ros2 launch`` of Jazzy runs (launch's frontend grammar: single or double quotes, substitutions
inside, the other quote as plain text). Found when ``$(eval "'$(var port)' != ''")`` — the usual
way to test an argument for emptiness — was refused by ours and run by theirs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rt_helpers import RosEnv

LAUNCH = """\
launch:
  - arg: {name: port, default: ""}
  - arg: {name: mode, default: fast}
  - arg: {name: word, default: "two words"}
  - executable: {cmd: "echo OUT port-set", name: a, output: screen,
                 if: "$(eval \\"'$(var port)' != ''\\")"}
  - executable: {cmd: "echo OUT port-empty", name: b, output: screen,
                 if: "$(eval \\"'$(var port)' == ''\\")"}
  - executable: {cmd: "echo OUT fast-mode", name: c, output: screen,
                 if: "$(equals '$(var mode)' \\"fast\\")"}
  - executable: {cmd: "echo OUT word-$(eval \\"'$(var word)' == 'x'\\")", name: d,
                 output: screen}
"""

CASES = ([], ['port:=/dev/ttyUSB2', 'mode:=slow', 'word:=x'])


def _outputs(text: str) -> list[str]:
    return sorted(m.group(1) for m in re.finditer(r'\] OUT (.+)$', text, re.MULTILINE))


def test_quoted_arguments(ros: RosEnv, tmp_path: Path) -> None:
    path = tmp_path / 'quotes.launch.yaml'
    path.write_text(LAUNCH)
    empty = ros.run_ior('launch', str(path))
    assert empty.returncode == 0, empty.stderr
    assert _outputs(empty.stdout) == ['fast-mode', 'port-empty', 'word-False']
    given = ros.run_ior('launch', str(path), *CASES[1])
    assert _outputs(given.stdout) == ['port-set', 'word-True']


@pytest.mark.ros2
def test_quoted_arguments_run_as_in_ros2_launch(ros: RosEnv, tmp_path: Path) -> None:
    path = tmp_path / 'quotes.launch.yaml'
    path.write_text(LAUNCH)
    for args in CASES:
        theirs = ros.run_ros2('launch', str(path), *args, timeout=60)
        ours = ros.run_ior('launch', str(path), *args)
        assert theirs.returncode == 0, theirs.stdout + theirs.stderr
        assert _outputs(ours.stdout) == _outputs(theirs.stdout + theirs.stderr), args
