"""
The ROS 2 YAML launch frontend (launch_yaml + launch_ros tags): a launch file becomes a
:class:`~ior_ros.runtime.launch_plan.LaunchPlan`, no process is started.

Tags: ``arg`` (name, default, description), ``let`` (name, value), ``node`` (pkg, exec, name,
namespace, output, args, ros_args, param, remap, env, respawn, respawn_delay, on_exit, required,
exec_name), ``executable`` (cmd, name, output, args, env, cwd, on_exit, required), ``include``
(file, arg), ``group`` (scoped, forwarding, children), ``push-ros-namespace`` or
``push_ros_namespace`` (namespace), ``set_env``/``set-env``/``unset_env`` and ``log`` (message);
``if``/``unless`` on every action. Substitutions: see :mod:`ior_ros.runtime.substitutions`.

Nodes get exactly the command line ``ros2 launch`` gives them: ``--ros-args -r __node:=NAME -r
__ns:=/NS --params-file FILE ... -r FROM:=TO`` (literal ``param`` entries are written to a
temporary ``/**`` or ``/ns/name`` parameter file, as launch_ros does). Errors name the file and
line.
"""

from __future__ import annotations

import shlex
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ior_ros.core.input_files import display_path, input_file, yaml_value_or_text
from ior_ros.runtime.errors import LaunchError, RosInputError, at
from ior_ros.runtime.launch_plan import LaunchArgument, LaunchPlan, ProcessSpec
from ior_ros.runtime.names import normalize_namespace
from ior_ros.runtime.substitutions import SubstitutionContext, parse_bool, substitute
from ior_ros.runtime.yaml_lines import LineDict, line_of, load_yaml_with_lines

__all__ = ['load_launch', 'parse_launch_arguments', 'resolve_launch_file']

_CONDITION_ATTRS = ('if', 'unless')
_NODE_ATTRS = {'pkg', 'exec', 'name', 'namespace', 'output', 'args', 'ros_args', 'param', 'remap',
               'env', 'respawn', 'respawn_delay', 'on_exit', 'required', 'exec_name',
               'emulate_tty', 'launch-prefix', 'launch_prefix', *_CONDITION_ATTRS}
_EXEC_ATTRS = {'cmd', 'name', 'output', 'args', 'env', 'cwd', 'on_exit', 'required',
               'respawn', 'respawn_delay', 'emulate_tty', 'shell', *_CONDITION_ATTRS}
_OUTPUTS = ('screen', 'log', 'both')


@dataclass
class _Scope:
    variables: dict[str, str]
    namespace: str
    env: dict[str, str | None]

    def copy(self) -> _Scope:
        return _Scope(dict(self.variables), self.namespace, dict(self.env))


def parse_launch_arguments(items: list[str]) -> dict[str, str]:
    """``['a:=1', 'b:=x']`` → dict; anything without ``:=`` is a LaunchError."""
    out: dict[str, str] = {}
    for item in items:
        if ':=' not in item:
            raise LaunchError(f"launch argument {item!r}: expected 'name:=value'")
        name, value = item.split(':=', 1)
        if not name:
            raise LaunchError(f'launch argument {item!r}: empty name')
        out[name] = value
    return out


def resolve_launch_file(target: str, second: str | None = None) -> Path:
    """A path, or ``PKG FILE`` looked up under the package's share folder (like ros2 launch)."""
    if second is None:
        if not Path(target).exists():
            raise LaunchError(f'launch file {target!r} not found')
        return input_file(target, 'launch file', error=LaunchError)
    if Path(target).is_file() and (target.endswith(('.yaml', '.yml', '.py', '.xml'))):
        # `ior launch FILE rate=2`: a launch file then a malformed argument, not PKG FILE
        raise LaunchError(f"launch argument {second!r}: expected 'name:=value'")
    from ior_ros.runtime.packages import find_package_share

    share = find_package_share(target)
    # ros2 launch searches the share folder recursively; in a source tree (no install) skip
    # hidden folders and colcon's build/install/log, which hold copies of the same files
    skip = {'build', 'install', 'log', '__pycache__'}
    matches = sorted((m for m in share.rglob(second)
                      if not any(part.startswith('.') or part in skip
                                 for part in m.relative_to(share).parts[:-1])),
                     key=lambda m: (len(m.relative_to(share).parts), str(m)))
    if not matches:
        raise LaunchError(f"launch file '{second}' not found in package '{target}' ({share})")
    return matches[0]


class _Parser:
    def __init__(self, plan: LaunchPlan, temp_dir: Path) -> None:
        self.plan = plan
        self.temp_dir = temp_dir
        self.processes_started = 0
        self.param_files = 0
        self.anon: dict[str, str] = {}
        self.skipped_arguments: set[str] = set()
        """Names of ``arg`` tags in branches whose condition is false (still declared)."""

    def ctx(self, scope: _Scope, file: Path, line: int | None) -> SubstitutionContext:
        return SubstitutionContext(scope.variables, file, line, self.anon)

    def fail(self, file: Path, line: int | None, message: str) -> LaunchError:
        return LaunchError(f'{at(file, line)}{message}')

    # ------------------------------------------------------------------ files
    def load_file(self, file: Path, scope: _Scope, given: Mapping[str, str],
                  depth: int = 0) -> None:
        if depth > 20:
            raise self.fail(file, None, 'includes nested deeper than 20 levels (a loop?)')
        data = load_yaml_with_lines(file, LaunchError, what='launch file', allow_empty=False)
        if not isinstance(data, dict) or 'launch' not in data:
            raise self.fail(file, line_of(data), "a YAML launch file is a mapping with the key "
                            "'launch' holding a list of actions")
        extra = [k for k in data if k != 'launch']
        if extra:
            raise self.fail(file, line_of(data, extra[0]), f'unknown top-level key {extra[0]!r} '
                            "(only 'launch')")
        actions = data['launch'] or []
        if not isinstance(actions, list):
            raise self.fail(file, line_of(data, 'launch'), "'launch' must be a list of actions")
        scope.variables.update({k: v for k, v in given.items()})
        self.actions(actions, file, scope, given, depth)

    def actions(self, actions: list[Any], file: Path, scope: _Scope,
                given: Mapping[str, str], depth: int) -> None:
        for index, action in enumerate(actions):
            line = line_of(actions, index)
            if not isinstance(action, dict) or len(action) != 1:
                raise self.fail(file, line, 'each action is a mapping with exactly one tag (arg, '
                                'let, node, executable, include, group, push-ros-namespace, '
                                'set_env, log)')
            tag, body = next(iter(action.items()))
            line = line_of(action, tag)
            if body is None:
                body = LineDict()
                body.line, body.key_lines = line or 0, {}
            if tag in ('push-ros-namespace', 'push_ros_namespace') and isinstance(body, str):
                body = {'namespace': body}
            if not isinstance(body, dict):
                raise self.fail(file, line, f'{tag}: expected a mapping of attributes')
            if not self.condition(body, file, scope, line):
                self.skipped_arguments.update(_argument_names(tag, body))
                continue
            handler = getattr(self, 'tag_' + str(tag).replace('-', '_'), None)
            if handler is None:
                raise self.fail(file, line, f"unknown launch tag '{tag}' (known: arg, let, node, "
                                'executable, include, group, push-ros-namespace, set_env, '
                                'unset_env, log)')
            handler(body, file, scope, given, depth, line)

    def condition(self, body: dict[str, Any], file: Path, scope: _Scope, line: int | None) -> bool:
        for key in _CONDITION_ATTRS:
            if key in body:
                ctx = self.ctx(scope, file, line_of(body, key))
                value = parse_bool(substitute(str(body[key]), ctx), ctx, f"'{key}' condition")
                if value != (key == 'if'):
                    return False
        return True

    def text(self, body: dict[str, Any], key: str, file: Path, scope: _Scope,
             required: bool = False, default: Any = None) -> Any:
        if key not in body:
            if required:
                raise self.fail(file, line_of(body), f"missing required attribute '{key}'")
            return default
        value = body[key]
        ctx = self.ctx(scope, file, line_of(body, key))
        if isinstance(value, (dict, list)):
            raise self.fail(file, line_of(body, key), f"attribute '{key}' must be a scalar")
        if isinstance(value, bool):
            return str(value).lower()
        return substitute(str(value), ctx) if value is not None else default

    def check_attrs(self, body: dict[str, Any], allowed: set[str], tag: str, file: Path) -> None:
        # every launch action takes 'if'/'unless' (launch.Action.parse), let and log included
        allowed = allowed | set(_CONDITION_ATTRS)
        for key in body:
            if key not in allowed:
                raise self.fail(file, line_of(body, key), f"{tag}: unknown attribute '{key}' "
                                f"(allowed: {', '.join(sorted(allowed))})")

    # ------------------------------------------------------------------ tags
    def tag_arg(self, body: dict[str, Any], file: Path, scope: _Scope, given: Mapping[str, str],
                depth: int, line: int | None) -> None:
        self.check_attrs(body, {'name', 'default', 'description', 'choice', 'choices'}, 'arg',
                         file)
        name = self.text(body, 'name', file, scope, required=True)
        default = self.text(body, 'default', file, scope)
        description = self.text(body, 'description', file, scope, default='')
        self.plan.arguments.append(LaunchArgument(name, default, description,
                                                  f'{file}:{line}'))
        if name in given:
            scope.variables[name] = given[name]
        elif name not in scope.variables:
            if default is None:
                raise self.fail(file, line, f"launch argument '{name}' has no default and was "
                                f'not given (pass {name}:=VALUE)')
            scope.variables[name] = default

    def tag_let(self, body: dict[str, Any], file: Path, scope: _Scope, given: Mapping[str, str],
                depth: int, line: int | None) -> None:
        self.check_attrs(body, {'name', 'value'}, 'let', file)
        name = self.text(body, 'name', file, scope, required=True)
        scope.variables[name] = self.text(body, 'value', file, scope, required=True)

    def tag_log(self, body: dict[str, Any], file: Path, scope: _Scope, given: Mapping[str, str],
                depth: int, line: int | None) -> None:
        self.check_attrs(body, {'message', 'level'}, 'log', file)
        self.plan.messages.append(self.text(body, 'message', file, scope, required=True))

    def tag_set_env(self, body: dict[str, Any], file: Path, scope: _Scope,
                    given: Mapping[str, str], depth: int, line: int | None) -> None:
        self.check_attrs(body, {'name', 'value'}, 'set_env', file)
        scope.env[self.text(body, 'name', file, scope, required=True)] = \
            self.text(body, 'value', file, scope, required=True)

    def tag_unset_env(self, body: dict[str, Any], file: Path, scope: _Scope,
                      given: Mapping[str, str], depth: int, line: int | None) -> None:
        self.check_attrs(body, {'name'}, 'unset_env', file)
        scope.env[self.text(body, 'name', file, scope, required=True)] = None

    def tag_push_ros_namespace(self, body: dict[str, Any], file: Path, scope: _Scope,
                               given: Mapping[str, str], depth: int, line: int | None) -> None:
        self.check_attrs(body, {'namespace'}, 'push-ros-namespace', file)
        ns = self.text(body, 'namespace', file, scope, required=True)
        try:
            scope.namespace = _join_ns(scope.namespace, ns)
        except RosInputError as exc:
            raise self.fail(file, line, str(exc)) from None

    def tag_group(self, body: dict[str, Any], file: Path, scope: _Scope, given: Mapping[str, str],
                  depth: int, line: int | None) -> None:
        self.check_attrs(body, {'scoped', 'forwarding', 'children', *_CONDITION_ATTRS}, 'group',
                         file)
        scoped = parse_bool(self.text(body, 'scoped', file, scope, default='true'),
                            self.ctx(scope, file, line), "group 'scoped'")
        children = body.get('children') or []
        if not isinstance(children, list):
            raise self.fail(file, line_of(body, 'children'), "group 'children' must be a list")
        inner = scope.copy() if scoped else scope
        self.actions(children, file, inner, given, depth)

    def tag_include(self, body: dict[str, Any], file: Path, scope: _Scope,
                    given: Mapping[str, str], depth: int, line: int | None) -> None:
        self.check_attrs(body, {'file', 'arg', *_CONDITION_ATTRS}, 'include', file)
        target = Path(self.text(body, 'file', file, scope, required=True))
        if not target.is_absolute():
            target = file.parent / target
        if not target.is_file():
            raise self.fail(file, line_of(body, 'file'), f'included file {str(target)!r} not '
                            'found')
        if target.suffix not in ('.yaml', '.yml'):
            raise self.fail(file, line_of(body, 'file'), f'only YAML launch files can be '
                            f'included here, got {target.name}')
        args: dict[str, str] = {}
        items = body.get('arg') or []
        if not isinstance(items, list):
            raise self.fail(file, line_of(body, 'arg'), "include 'arg' must be a list of "
                            '{name, value}')
        for index, item in enumerate(items):
            item_line = line_of(items, index)
            if not isinstance(item, dict):
                raise self.fail(file, item_line, 'include arg must be a mapping {name, value}')
            self.check_attrs(item, {'name', 'value'}, 'include arg', file)
            args[self.text(item, 'name', file, scope, required=True)] = \
                self.text(item, 'value', file, scope, required=True)
        inner = scope.copy()
        self.load_file(target, inner, args, depth + 1)

    def _label(self, base: str) -> str:
        """The process label as ``launch`` gives it: ``<name>-<N>``, N counting every process of
        the launch in the order they start, whatever its name (launch's Executable keeps one
        counter per launch process)."""
        self.processes_started += 1
        return f'{base}-{self.processes_started}'

    def _env(self, body: dict[str, Any], file: Path, scope: _Scope) -> dict[str, str]:
        out: dict[str, str] = {}
        items = body.get('env') or []
        if not isinstance(items, list):
            raise self.fail(file, line_of(body, 'env'), "'env' must be a list of {name, value}")
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.fail(file, line_of(items, index), "'env' items are {name, value}")
            self.check_attrs(item, {'name', 'value'}, 'env', file)
            out[self.text(item, 'name', file, scope, required=True)] = \
                self.text(item, 'value', file, scope, required=True)
        return out

    def _flags(self, body: dict[str, Any], file: Path, scope: _Scope,
               line: int | None) -> tuple[str, bool, bool, float]:
        ctx = self.ctx(scope, file, line)
        output = self.text(body, 'output', file, scope, default='log')
        if output not in _OUTPUTS:
            raise self.fail(file, line_of(body, 'output'), f'output {output!r}: expected one of '
                            f'{", ".join(_OUTPUTS)}')
        on_exit = self.text(body, 'on_exit', file, scope)
        if on_exit not in (None, 'shutdown'):
            raise self.fail(file, line_of(body, 'on_exit'), f"on_exit {on_exit!r}: only "
                            "'shutdown' is supported")
        required = on_exit == 'shutdown' or parse_bool(
            self.text(body, 'required', file, scope, default='false'), ctx, "'required'")
        respawn = parse_bool(self.text(body, 'respawn', file, scope, default='false'), ctx,
                             "'respawn'")
        delay_text = self.text(body, 'respawn_delay', file, scope, default='0')
        try:
            delay = float(delay_text)
        except ValueError:
            raise self.fail(file, line_of(body, 'respawn_delay'), f'respawn_delay {delay_text!r} '
                            'is not a number of seconds') from None
        return output, required, respawn, delay

    def tag_node(self, body: dict[str, Any], file: Path, scope: _Scope, given: Mapping[str, str],
                 depth: int, line: int | None) -> None:
        self.check_attrs(body, _NODE_ATTRS, 'node', file)
        pkg = self.text(body, 'pkg', file, scope, required=True)
        executable = self.text(body, 'exec', file, scope, required=True)
        name = self.text(body, 'name', file, scope)
        ns_attr = self.text(body, 'namespace', file, scope)
        try:
            namespace = _join_ns(scope.namespace, ns_attr) if ns_attr else scope.namespace
        except RosInputError as exc:
            raise self.fail(file, line_of(body, 'namespace'), str(exc)) from None
        output, required, respawn, delay = self._flags(body, file, scope, line)
        from ior_ros.runtime.packages import resolve_executable

        try:
            cmd = resolve_executable(pkg, executable)
        except RosInputError as exc:
            raise self.fail(file, line, str(exc)) from None
        extra = self.text(body, 'args', file, scope)
        if extra:
            cmd += shlex.split(extra)
        ros_args = ['--ros-args']
        if name:
            ros_args += ['-r', f'__node:={name}']
        if namespace != '/':
            ros_args += ['-r', f'__ns:={namespace}']
        ros_args += self._params(body, file, scope, name, namespace)
        ros_args += self._remaps(body, file, scope)
        more = self.text(body, 'ros_args', file, scope)
        if more:
            ros_args += shlex.split(more)
        # launch_ros passes exec_name as the process name, else launch takes the executable's
        # file name: the node's name does not enter the label
        label = self._label(self.text(body, 'exec_name', file, scope) or Path(executable).name)
        env = {k: v for k, v in scope.env.items() if v is not None}
        env.update(self._env(body, file, scope))
        unset = [k for k, v in scope.env.items() if v is None]
        for key in unset:
            env[key] = '\0unset'
        self.plan.processes.append(ProcessSpec(
            label=label, cmd=cmd + ros_args, output=output, env=env, required=required,
            respawn=respawn, respawn_delay_s=delay, node_name=name or executable,
            namespace=namespace, source=f'{file}:{line}'))

    def tag_executable(self, body: dict[str, Any], file: Path, scope: _Scope,
                       given: Mapping[str, str], depth: int, line: int | None) -> None:
        self.check_attrs(body, _EXEC_ATTRS, 'executable', file)
        cmd = shlex.split(self.text(body, 'cmd', file, scope, required=True))
        if not cmd:
            raise self.fail(file, line, "executable: empty 'cmd'")
        extra = self.text(body, 'args', file, scope)
        if extra:
            cmd += shlex.split(extra)
        output, required, respawn, delay = self._flags(body, file, scope, line)
        label = self._label(self.text(body, 'name', file, scope) or Path(cmd[0]).name)
        env = {k: v for k, v in scope.env.items() if v is not None}
        env.update(self._env(body, file, scope))
        self.plan.processes.append(ProcessSpec(
            label=label, cmd=cmd, output=output, env=env, required=required, respawn=respawn,
            respawn_delay_s=delay, cwd=self.text(body, 'cwd', file, scope),
            source=f'{file}:{line}'))

    # ------------------------------------------------------------------ node parts
    def _params(self, body: dict[str, Any], file: Path, scope: _Scope, name: str | None,
                namespace: str) -> list[str]:
        items = body.get('param') or []
        if not isinstance(items, list):
            raise self.fail(file, line_of(body, 'param'), "'param' must be a list of {name, "
                            'value} or {from: FILE}')
        out: list[str] = []
        literal: dict[str, Any] = {}

        def flush() -> None:
            if not literal:
                return
            from ior_ros.core.artifacts import atomic_write_yaml

            key = '/**' if not name else (f'/{name}' if namespace == '/' else
                                          f'{namespace}/{name}')
            self.param_files += 1
            path = self.temp_dir / f'launch_params_{self.param_files}.yaml'
            atomic_write_yaml(path, {key: {'ros__parameters': dict(literal)}})
            out.extend(['--params-file', str(path)])
            literal.clear()

        for index, item in enumerate(items):
            item_line = line_of(items, index)
            if not isinstance(item, dict):
                raise self.fail(file, item_line, "'param' items are {name, value} or {from: FILE}")
            if 'from' in item:
                self.check_attrs(item, {'from', 'allow_substs'}, 'param', file)
                flush()
                path = Path(self.text(item, 'from', file, scope, required=True))
                if not path.is_absolute():
                    path = file.parent / path
                if not path.is_file():
                    raise self.fail(file, line_of(item, 'from'), f'parameter file '
                                    f'{str(path)!r} not found')
                from ior_ros.runtime.ros_args import load_params_file

                load_params_file(path)  # fail here, naming the file and line, not in the node
                out.extend(['--params-file', str(path)])
            else:
                self._param_item(item, '', file, scope, literal)
        flush()
        return out

    def _param_item(self, item: dict[str, Any], prefix: str, file: Path, scope: _Scope,
                    out: dict[str, Any]) -> None:
        self.check_attrs(item, {'name', 'value', 'param', 'type', 'value_sep'}, 'param', file)
        pname = prefix + self.text(item, 'name', file, scope, required=True)
        if 'param' in item:
            children = item['param']
            if not isinstance(children, list):
                raise self.fail(file, line_of(item, 'param'), 'nested param must be a list')
            for child in children:
                self._param_item(child, pname + '.', file, scope, out)
            return
        if 'value' not in item:
            raise self.fail(file, line_of(item), f"param '{pname}' has no value")
        raw = item['value']
        ctx = self.ctx(scope, file, line_of(item, 'value'))
        out[pname] = _param_value(raw, ctx)

    def _remaps(self, body: dict[str, Any], file: Path, scope: _Scope) -> list[str]:
        items = body.get('remap') or []
        if not isinstance(items, list):
            raise self.fail(file, line_of(body, 'remap'), "'remap' must be a list of {from, to}")
        out: list[str] = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.fail(file, line_of(items, index), "'remap' items are {from, to}")
            self.check_attrs(item, {'from', 'to'}, 'remap', file)
            source = self.text(item, 'from', file, scope, required=True)
            target = self.text(item, 'to', file, scope, required=True)
            out += ['-r', f'{source}:={target}']
        return out


def _argument_names(tag: Any, body: Any) -> list[str]:
    """The literal names of the ``arg`` tags in an action that was skipped (and its children)."""
    if not isinstance(body, dict):
        return []
    if tag == 'arg':
        name = body.get('name')
        return [name] if isinstance(name, str) else []
    names: list[str] = []
    children = body.get('children') if tag == 'group' else None
    for child in children if isinstance(children, list) else []:
        if isinstance(child, dict) and len(child) == 1:
            names += _argument_names(*next(iter(child.items())))
    return names


def _param_value(raw: Any, ctx: SubstitutionContext) -> Any:
    if isinstance(raw, list):
        return [_param_value(v, ctx) for v in raw]
    if isinstance(raw, dict):
        raise ctx.fail('a parameter value cannot be a mapping (use nested param entries)')
    if isinstance(raw, str):
        if '$(' not in raw:
            # launch_ros: a value without substitutions is one TextSubstitution, kept as text
            # (value: "true" is the string 'true'); only substituted text is typed as YAML
            return raw
        text = substitute(raw, ctx)
        value = yaml_value_or_text(text, 'parameter value', error=ctx.fail)
        if isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, list) and all(isinstance(v, (bool, int, float, str)) for v in value):
            return value
        return text
    return raw


def _join_ns(base: str, ns: str) -> str:
    if ns.startswith('/'):
        return normalize_namespace(ns)
    if base in ('', '/'):
        return normalize_namespace('/' + ns)
    return normalize_namespace(base.rstrip('/') + '/' + ns)


def load_launch(path: str | Path, arguments: Mapping[str, str] | None = None,
                temp_dir: Path | None = None) -> LaunchPlan:
    """Parse a YAML launch file into a plan (no process is started)."""
    file = Path(path)
    if file.suffix not in ('.yaml', '.yml'):
        raise LaunchError(f'{file}: only YAML launch files (*.launch.yaml) are supported here')
    plan = LaunchPlan()
    plan.temp_dir = temp_dir or Path(tempfile.mkdtemp(prefix='ior_launch_'))
    parser = _Parser(plan, plan.temp_dir)
    scope = _Scope({}, '/', {})
    given = dict(arguments or {})
    parser.load_file(file, scope, given)
    _check_arguments_declared(file, given, [a.name for a in plan.arguments] +
                              sorted(parser.skipped_arguments))
    plan.env = scope.env
    return plan


def _check_arguments_declared(file: Path, given: Mapping[str, str],
                              declared: list[str]) -> None:
    """
    Refuse a command-line argument that no ``arg`` tag of the launch (its includes, or a branch
    whose condition is false) declares: a misspelt name would otherwise be ignored silently,
    which is what ``ros2 launch`` does.
    """
    known = list(dict.fromkeys(declared))
    unknown = [name for name in given if name not in known]
    if not unknown:
        return
    names = ', '.join(repr(n) for n in unknown)
    word = 'argument' if len(unknown) == 1 else 'arguments'
    listing = f"declared: [{', '.join(known)}]" if known else 'it declares no arguments'
    raise LaunchError(f'{display_path(file)}: launch {word} {names} not declared by the launch '
                      f'file or its includes; {listing} (ior launch -s FILE lists them)')
