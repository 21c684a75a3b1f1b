"""
Layering of ``ior_ros.core``: no import cycle, and nothing from the layers above.

Every core module's imports are read with ``ast`` (those inside functions too: a lazy import is
still a dependency), giving two graphs:

* modules: ``ior_ros.core.slicing.env`` -> ``ior_ros.core.ran.channel``, ...;
* rooms: the subpackages of core (``ran``, ``control``, ``slicing``, ``twin``, ``rl``) and each
  top-level module (``config``, ``artifacts``, ...), with an edge when a module of one imports a
  module of the other.

Neither may have a cycle: a cycle of rooms (``rl`` -> ``slicing`` -> ``rl``) is one even when no
module imports itself back. A core module may not import tqdm or matplotlib (the core takes a
progress callback and returns values; plots live in experiments) nor anything from the layers
above it (cli, commands, experiments, runtime, nodes).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / 'ior_ros' / 'core'
FORBIDDEN_LIBRARIES = ('tqdm', 'matplotlib')
UPPER_LAYERS = ('ior_ros.cli', 'ior_ros.commands', 'ior_ros.experiments', 'ior_ros.runtime',
                'ior_ros.nodes')


def module_name(path: Path) -> str:
    """``ior_ros/core/slicing/env.py`` -> ``ior_ros.core.slicing.env`` (a package: its name)."""
    parts = list(path.relative_to(ROOT).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts.pop()
    return '.'.join(parts)


def imported_names(path: Path, name: str | None = None) -> list[str]:
    """Every absolute name a module imports: ``import a.b`` gives ``a.b``; ``from a import b``
    gives ``a`` and ``a.b`` (b may be a module); relative imports are resolved (``name``: the
    module's name, by default from its path)."""
    name = name or module_name(path)
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - (node.level - 1)]
                module = '.'.join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ''
            names.append(module)
            names.extend(f'{module}.{alias.name}' for alias in node.names)
    return names


def core_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(CORE.rglob('*.py'))}


def module_graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    """module -> the core modules it imports (the deepest name that is a module)."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in imported_names(path):
            if imported in modules and imported != name:
                targets.add(imported)
        # ``from a import b`` names both a and a.b: keep a only when b is not a module
        graph[name] = {t for t in targets
                       if not any(other.startswith(t + '.') and other in targets
                                  for other in targets)}
    return graph


def room(module: str) -> str:
    """``ior_ros.core.slicing.env`` -> ``slicing``; ``ior_ros.core.config`` -> ``config``."""
    parts = module.split('.')
    return parts[2] if len(parts) > 2 else 'core'


def room_graph(graph: Mapping[str, Iterable[str]]) -> dict[str, dict[str, list[str]]]:
    """room -> {other room: ['a imports b', ...]} (the module edges behind each room edge)."""
    rooms: dict[str, dict[str, list[str]]] = {}
    for source, targets in graph.items():
        edges = rooms.setdefault(room(source), {})
        for target in targets:
            if room(target) != room(source):
                edges.setdefault(room(target), []).append(f'{source} imports {target}')
    return rooms


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One cycle ``[a, b, ..., a]`` of a directed graph, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


MODULES = core_modules()
GRAPH = module_graph(MODULES)


def test_walker_sees_the_core() -> None:
    assert {'ior_ros.core.slicing.env', 'ior_ros.core.rl.dual_agent',
            'ior_ros.core.ran.teleop_queues'} <= set(MODULES)
    assert 'ior_ros.core.slicing.spaces' in GRAPH['ior_ros.core.slicing.policy']
    assert 'ior_ros.core.rl.dual_agent' in GRAPH['ior_ros.core.slicing.agents']
    # a lazy import inside a function counts
    assert 'ior_ros.core.slicing.teleop_tracking' in GRAPH['ior_ros.core.slicing.teleop_task']


def test_no_module_import_cycle() -> None:
    cycle = find_cycle(GRAPH)
    assert cycle is None, 'import cycle: ' + ' -> '.join(cycle or [])


def test_no_room_import_cycle() -> None:
    rooms = room_graph(GRAPH)
    cycle = find_cycle({name: set(edges) for name, edges in rooms.items()})
    if cycle is not None:
        why = [f'{a} -> {b}: {"; ".join(sorted(rooms[a][b]))}' for a, b in zip(cycle, cycle[1:])]
        pytest.fail('cycle of core rooms ' + ' -> '.join(cycle) + '\n' + '\n'.join(why))


def test_cycle_finder_finds_cycles() -> None:
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': set()}) is None
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
    # the cycle this test was written for: rl/slicing_agents -> slicing/policy -> rl/slicing_spaces
    before = {'ior_ros.core.rl.slicing_agents': {'ior_ros.core.slicing.policy'},
              'ior_ros.core.slicing.policy': {'ior_ros.core.rl.slicing_spaces'},
              'ior_ros.core.rl.slicing_spaces': set()}
    assert find_cycle(before) is None  # no module cycle ...
    rooms = room_graph(before)
    assert find_cycle({k: set(v) for k, v in rooms.items()}) == ['rl', 'slicing', 'rl']


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    source = tmp_path / 'env.py'
    source.write_text('from .spaces import assign_prbs\nfrom ..ran import channel\n')
    names = imported_names(source, 'ior_ros.core.slicing.env')
    assert {'ior_ros.core.slicing.spaces', 'ior_ros.core.ran.channel'} <= set(names)
    assert (room('ior_ros.core.slicing.env'), room('ior_ros.core.units')) == ('slicing', 'units')


@pytest.mark.parametrize('name', sorted(MODULES))
def test_core_module_imports_nothing_from_above(name: str) -> None:
    for imported in imported_names(MODULES[name]):
        assert not imported.startswith(UPPER_LAYERS), f'{name} imports {imported}'


@pytest.mark.parametrize('name', sorted(MODULES))
def test_core_module_imports_no_progress_bar_or_plotting(name: str) -> None:
    for imported in imported_names(MODULES[name]):
        assert imported.split('.')[0] not in FORBIDDEN_LIBRARIES, f'{name} imports {imported}'


CORE_TESTS = sorted((ROOT / 'test' / 'core').rglob('*.py'))


@pytest.mark.parametrize('path', CORE_TESTS, ids=[str(p.relative_to(ROOT)) for p in CORE_TESTS])
def test_core_tests_import_nothing_from_above(path: Path) -> None:
    """A test of the core (test/core/, fixtures included) tests the core alone."""
    name = str(path.relative_to(ROOT))
    for imported in imported_names(path):
        assert not imported.startswith(UPPER_LAYERS), f'{name} imports {imported}'
