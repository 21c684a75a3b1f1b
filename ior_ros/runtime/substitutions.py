"""
Launch substitutions ``$(name args...)`` as the ROS 2 launch frontends write them.

Supported: ``var``, ``env NAME [default]``, ``optenv NAME [default]``, ``find-pkg-share PKG``,
``find-pkg-prefix PKG``, ``dirname``, ``filename``, ``anon NAME``, ``eval EXPR`` (arithmetic and
comparisons only), ``not``, ``and``, ``or``, ``equals``, ``not-equals``. Substitutions nest
(``$(var $(var which))``); quoted arguments (single or double quotes, with substitutions
inside and the other quote as plain text) keep their spaces. Anything else is a
:class:`~ior_ros.runtime.errors.LaunchError` naming the file and line.
"""

from __future__ import annotations

import ast
import math
import operator
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ior_ros.runtime.errors import LaunchError, RosInputError, at

__all__ = ['SubstitutionContext', 'substitute', 'KNOWN_SUBSTITUTIONS', 'parse_bool']

KNOWN_SUBSTITUTIONS = ('var', 'env', 'optenv', 'find-pkg-share', 'find-pkg-prefix', 'dirname',
                       'filename', 'anon', 'eval', 'not', 'and', 'or', 'equals', 'not-equals')


@dataclass
class SubstitutionContext:
    """Launch configurations (``var``) and where we are (for ``dirname`` and errors)."""

    variables: dict[str, str] = field(default_factory=dict)
    file: Path | None = None
    line: int | None = None
    anon: dict[str, str] = field(default_factory=dict)

    def fail(self, message: str) -> LaunchError:
        """A LaunchError prefixed with file:line."""
        return LaunchError(f'{at(self.file, self.line)}{message}')


def parse_bool(text: str, ctx: SubstitutionContext, what: str) -> bool:
    """'true'/'false'/'1'/'0' (any case) → bool, as launch conditions read them."""
    value = str(text).strip().lower()
    if value in ('true', '1'):
        return True
    if value in ('false', '0'):
        return False
    raise ctx.fail(f"{what}: {text!r} is not a boolean (use 'true' or 'false')")


def substitute(text: Any, ctx: SubstitutionContext) -> Any:
    """Apply every substitution in ``text`` (non-strings are returned unchanged)."""
    if not isinstance(text, str) or '$(' not in text:
        return text
    value, pos = _parse_text(text, 0, ctx, top=True)
    return value


def _parse_text(text: str, pos: int, ctx: SubstitutionContext, top: bool) -> tuple[str, int]:
    out: list[str] = []
    while pos < len(text):
        if text.startswith('$(', pos):
            value, pos = _parse_call(text, pos + 2, ctx)
            out.append(value)
        elif not top and text[pos] == ')':
            break
        else:
            out.append(text[pos])
            pos += 1
    return ''.join(out), pos


def _parse_call(text: str, pos: int, ctx: SubstitutionContext) -> tuple[str, int]:
    start = pos
    while pos < len(text) and not text[pos].isspace() and text[pos] != ')':
        pos += 1
    name = text[start:pos]
    args: list[str] = []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            raise ctx.fail(f"unterminated substitution '$({text[start:]}' (missing ')')")
        if text[pos] == ')':
            pos += 1
            break
        arg: list[str] = []
        while pos < len(text) and not text[pos].isspace() and text[pos] != ')':
            if text.startswith('$(', pos):
                value, pos = _parse_call(text, pos + 2, ctx)
                arg.append(value)
            elif text[pos] in '\'"':
                inner, pos = _parse_quoted(text, pos, ctx)
                arg.append(inner)
            else:
                arg.append(text[pos])
                pos += 1
        args.append(''.join(arg))
    return _evaluate(name, args, ctx), pos


def _parse_quoted(text: str, pos: int, ctx: SubstitutionContext) -> tuple[str, int]:
    """
    A quoted argument starting at ``text[pos]`` (``'`` or ``"``), as launch's frontend grammar
    reads it: substitutions inside are applied, the other quote character is plain text (so
    ``$(eval "'$(var x)' != ''")`` works), a backslash before the closing quote keeps it; returns
    the argument and the position after the closing quote.
    """
    quote = text[pos]
    pos += 1
    out: list[str] = []
    while pos < len(text):
        if text.startswith('$(', pos):
            value, pos = _parse_call(text, pos + 2, ctx)
            out.append(value)
        elif text[pos] == '\\' and text.startswith(quote, pos + 1):
            out.append(quote)
            pos += 2
        elif text[pos] == quote:
            return ''.join(out), pos + 1
        else:
            out.append(text[pos])
            pos += 1
    raise ctx.fail(f'unterminated quote in substitution {text!r}')


def _evaluate(name: str, args: list[str], ctx: SubstitutionContext) -> str:
    def need(count: int, optional: int = 0) -> None:
        if not count <= len(args) <= count + optional:
            want = f'{count}' if not optional else f'{count} to {count + optional}'
            raise ctx.fail(f'$({name}) takes {want} argument(s), got {len(args)}: {args}')

    if name == 'var':
        need(1)
        if args[0] not in ctx.variables:
            known = ', '.join(sorted(ctx.variables)) or 'none'
            raise ctx.fail(f"$(var {args[0]}): launch argument '{args[0]}' is not declared "
                           f'(declared: {known})')
        return ctx.variables[args[0]]
    if name in ('env', 'optenv'):
        need(1, 1)
        value = os.environ.get(args[0])
        if value is not None:
            return value
        if len(args) > 1:
            return args[1]
        if name == 'optenv':
            return ''
        raise ctx.fail(f"$(env {args[0]}): environment variable '{args[0]}' is not set (give a "
                       'default: $(env NAME default))')
    if name in ('find-pkg-share', 'find-pkg-prefix'):
        need(1)
        from ior_ros.runtime.packages import find_package_prefix, find_package_share

        try:
            found = find_package_share(args[0]) if name == 'find-pkg-share' else \
                find_package_prefix(args[0])
        except RosInputError as exc:
            raise ctx.fail(f'$({name} {args[0]}): {exc}') from None
        return str(found)
    if name in ('dirname', 'filename'):
        need(0)
        if ctx.file is None:
            raise ctx.fail(f'$({name}) needs a launch file')
        return str(ctx.file.resolve().parent if name == 'dirname' else ctx.file.resolve())
    if name == 'anon':
        need(1)
        if args[0] not in ctx.anon:
            ctx.anon[args[0]] = f'{args[0]}_{os.getpid()}_{secrets.randbelow(10**9)}'
        return ctx.anon[args[0]]
    if name == 'eval':
        need(1)
        return str(_safe_eval(args[0], ctx))
    if name == 'not':
        need(1)
        return str(not parse_bool(args[0], ctx, '$(not)')).lower()
    if name in ('and', 'or'):
        if len(args) < 2:
            raise ctx.fail(f'$({name}) takes at least 2 arguments, got {len(args)}')
        values = [parse_bool(a, ctx, f'$({name})') for a in args]
        return str(all(values) if name == 'and' else any(values)).lower()
    if name in ('equals', 'not-equals'):
        need(2)
        same = args[0] == args[1]
        return str(same if name == 'equals' else not same).lower()
    raise ctx.fail(f"unknown substitution '$({' '.join([name, *args])})' (known: "
                   f"{', '.join(KNOWN_SUBSTITUTIONS)})")


_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
           ast.Pow: operator.pow}
_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
            ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}
_NAMES: dict[str, Any] = {'pi': math.pi, 'e': math.e, 'True': True, 'False': False,
                          'true': True, 'false': False}
_FUNCS: dict[str, Any] = {'min': min, 'max': max, 'abs': abs, 'round': round, 'int': int,
                          'float': float, 'sqrt': math.sqrt}


def _safe_eval(expr: str, ctx: SubstitutionContext) -> Any:
    try:
        tree = ast.parse(expr, mode='eval')
    except SyntaxError as exc:
        raise ctx.fail(f'$(eval {expr!r}): {exc.msg}') from None

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
            return node.value
        if isinstance(node, ast.Name) and node.id in _NAMES:
            return _NAMES[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
            value = ev(node.operand)
            return -value if isinstance(node.op, ast.USub) else (
                not value if isinstance(node.op, ast.Not) else value)
        if isinstance(node, ast.BoolOp):
            values = [ev(v) for v in node.values]
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
            left = ev(node.left)
            for op, right_node in zip(node.ops, node.comparators):
                right = ev(right_node)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return ev(node.body) if ev(node.test) else ev(node.orelse)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in _FUNCS and not node.keywords:
            return _FUNCS[node.func.id](*[ev(a) for a in node.args])
        raise ctx.fail(f'$(eval {expr!r}): only arithmetic, comparisons and min/max/abs/round/'
                       'int/float/sqrt are allowed')

    try:
        return ev(tree)
    except LaunchError:
        raise
    except Exception as exc:
        raise ctx.fail(f'$(eval {expr!r}): {exc}') from None
