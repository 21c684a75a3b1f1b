"""
The parameters of a node (the parameter half of rclpy.node.Node): declare, get, set, undeclare,
on-set callbacks, ``/parameter_events``.

Static typing as in Jazzy: a parameter keeps the type it was declared with unless its descriptor
allows ``dynamic_typing``; an override (``-p``, a params file, ``parameter_overrides``) of
another type is refused with one clear error. Descriptors (rcl_interfaces/ParameterDescriptor,
of this runtime or rclpy's message class) are kept per parameter and checked as rclpy does
(:mod:`~ior_ros.runtime.parameter_checks`): a set request that is read-only, of the wrong type or
outside the range is refused with rclpy's reason, since tools show it; a declared value (default
or override) outside the range raises :class:`InvalidParameterValueException` with one line
naming the parameter, the value and what is allowed (rclpy raises with its reason only).
:class:`NodeParameters` is a base class of :class:`~ior_ros.runtime.node.Node`, which owns the
state it works on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ior_ros.runtime.parameter_checks import allowed_text, check_descriptor
from ior_ros.runtime.parameters import (
    InvalidParameterTypeException,
    InvalidParameterValueException,
    Parameter,
    ParameterAlreadyDeclaredException,
    ParameterDescriptor,
    ParameterImmutableException,
    ParameterNotDeclaredException,
    ParameterType,
    ParameterUninitializedException,
    SetParametersResult,
)
from ior_ros.runtime.registry import get_message

if TYPE_CHECKING:
    from ior_ros.runtime.clock import ROSClock
    from ior_ros.runtime.publisher import Publisher

__all__ = ['NodeParameters']


class NodeParameters:
    """Parameter methods of :class:`~ior_ros.runtime.node.Node` (names and semantics of rclpy)."""

    # state set up by Node.__init__
    _parameters: dict[str, Parameter]
    _descriptors: dict[str, ParameterDescriptor]
    _overrides: dict[str, Any]
    _allow_undeclared: bool
    _set_callbacks: list[Callable[[list[Parameter]], SetParametersResult]]
    _param_events: Publisher | None
    _destroyed: bool
    _clock: ROSClock

    def get_fully_qualified_name(self) -> str:  # pragma: no cover - Node's
        raise NotImplementedError

    def _check_alive(self) -> None:  # pragma: no cover - Node's
        raise NotImplementedError

    def _set_sim_time(self, enabled: bool) -> None:  # pragma: no cover - Node's
        raise NotImplementedError

    def declare_parameter(self, name: str, value: Any = None,
                          descriptor: Any = None,
                          ignore_override: bool = False) -> Parameter:
        """
        Declare a parameter; a command-line/file override replaces ``value``.

        ``descriptor``: a :class:`ParameterDescriptor` or an rcl_interfaces/ParameterDescriptor
        message (copied; its name and type come from ``name`` and the value, as in rclpy).
        Raises :class:`InvalidParameterTypeException` for an override of another type and
        :class:`InvalidParameterValueException` for a value the descriptor's range or an on-set
        callback refuses.
        """
        self._check_alive()
        if name in self._parameters:
            raise ParameterAlreadyDeclaredException(f"parameter '{name}' is already declared "
                                                    f'on node {self.get_fully_qualified_name()}')
        descriptor = (ParameterDescriptor() if descriptor is None
                      else ParameterDescriptor.from_any(descriptor))
        overridden = False
        declared_type: ParameterType | None = None
        if isinstance(value, ParameterType):
            declared_type, value = value, None
        if isinstance(value, Parameter.Type):  # pragma: no cover - same enum
            declared_type, value = value, None
        if declared_type is None and value is not None:
            declared_type = ParameterType.from_parameter_value(value)
        if not ignore_override and name in self._overrides:
            override = self._overrides[name]
            found = ParameterType.from_parameter_value(override)
            if (declared_type is not None and declared_type != ParameterType.NOT_SET
                    and not descriptor.dynamic_typing and not declared_type.check(override)):
                raise InvalidParameterTypeException(
                    f"parameter '{name}' of node {self.get_fully_qualified_name()}: override "
                    f'{override!r} has type {found.name}, the parameter is '
                    f'{declared_type.name} (write it as the declared type, e.g. 1.0 for a '
                    'double)')
            value, overridden = override, True
            if declared_type in (None, ParameterType.NOT_SET):
                declared_type = found
        if value is None:
            param = Parameter(name, declared_type or ParameterType.NOT_SET, None)
        elif declared_type is not None and declared_type.check(value):
            param = Parameter(name, declared_type, value)
        else:
            param = Parameter(name, None, value)
        descriptor.name = name
        descriptor.type = int(param.type_)
        where = (f"parameter '{name}' of node {self.get_fully_qualified_name()}: "
                 + ('override ' if overridden else 'value '))
        if param.value is not None:
            check = check_descriptor(param, descriptor, check_read_only=False, declared=False)
            if not check.successful:
                about = f' ({descriptor.description})' if descriptor.description else ''
                raise InvalidParameterValueException(
                    f'{where}{param.value!r} is not allowed: the parameter takes '
                    f'{allowed_text(descriptor)}{about}')
        result = self._run_set_callbacks([param])
        if not result.successful:
            raise InvalidParameterValueException(f'{where}{param.value!r} was refused: '
                                                 f'{result.reason}')
        self._descriptors[name] = descriptor
        self._parameters[name] = param
        self._after_set(param, new=True)
        return param

    def declare_parameters(self, namespace: str, parameters: list[tuple[Any, ...]],
                           ignore_override: bool = False) -> list[Parameter]:
        """Declare ``[(name, value[, descriptor]), ...]`` under ``namespace.``."""
        out = []
        for item in parameters:
            pname = f'{namespace}.{item[0]}' if namespace else item[0]
            value = item[1] if len(item) > 1 else None
            descriptor = item[2] if len(item) > 2 else None
            out.append(self.declare_parameter(pname, value, descriptor, ignore_override))
        return out

    def undeclare_parameter(self, name: str) -> None:
        """Remove a declared parameter."""
        if name not in self._parameters:
            raise ParameterNotDeclaredException(f"parameter '{name}' is not declared")
        if self._descriptors.get(name, ParameterDescriptor()).read_only:
            raise ParameterImmutableException(f"parameter '{name}' is read-only")
        param = self._parameters.pop(name)
        self._descriptors.pop(name, None)
        self._publish_event(deleted=[param])

    def has_parameter(self, name: str) -> bool:
        """True when declared."""
        return name in self._parameters

    def describe_parameter(self, name: str) -> ParameterDescriptor:
        """The descriptor of a declared parameter (a default one for an undeclared parameter
        when undeclared parameters are allowed; else ParameterNotDeclaredException)."""
        if name in self._descriptors:
            return self._descriptors[name]
        if self._allow_undeclared:
            return ParameterDescriptor()
        raise ParameterNotDeclaredException(f"parameter '{name}' is not declared on node "
                                            f'{self.get_fully_qualified_name()}')

    def describe_parameters(self, names: list[str]) -> list[ParameterDescriptor]:
        """The descriptors of several parameters (see :meth:`describe_parameter`)."""
        return [self.describe_parameter(n) for n in names]

    def get_parameter(self, name: str) -> Parameter:
        """A declared parameter (raises ParameterNotDeclaredException otherwise)."""
        if name in self._parameters:
            param = self._parameters[name]
            if param.value is None and param.type_ != ParameterType.NOT_SET:
                raise ParameterUninitializedException(
                    f"parameter '{name}' was declared with type {param.type_.name} but has no "
                    'value (give one with -p or a params file)')
            return param
        if self._allow_undeclared:
            return Parameter(name, ParameterType.NOT_SET, None)
        raise ParameterNotDeclaredException(f"parameter '{name}' is not declared on node "
                                            f'{self.get_fully_qualified_name()}')

    def get_parameter_or(self, name: str, alternative_value: Parameter | None = None
                         ) -> Parameter:
        """The parameter, or ``alternative_value`` when it is not declared."""
        if name not in self._parameters:
            return alternative_value if alternative_value is not None else Parameter(
                name, ParameterType.NOT_SET, None)
        return self._parameters[name]

    def get_parameters(self, names: list[str]) -> list[Parameter]:
        """Several parameters."""
        return [self.get_parameter(n) for n in names]

    def get_parameters_by_prefix(self, prefix: str) -> dict[str, Parameter]:
        """Parameters under ``prefix.`` keyed by the rest of the name."""
        start = f'{prefix}.' if prefix else ''
        return {k[len(start):]: v for k, v in self._parameters.items() if k.startswith(start)}

    def add_on_set_parameters_callback(
            self, callback: Callable[[list[Parameter]], SetParametersResult]) -> Any:
        """Call ``callback(params)`` before parameters change; it may refuse them."""
        self._set_callbacks.insert(0, callback)
        return callback

    def remove_on_set_parameters_callback(self, callback: Any) -> None:
        """Undo add_on_set_parameters_callback."""
        self._set_callbacks.remove(callback)

    def set_parameters(self, parameter_list: list[Parameter]) -> list[SetParametersResult]:
        """Set parameters one by one; each result says whether it was applied."""
        return [self._set_one(p) for p in parameter_list]

    def set_parameters_atomically(self, parameter_list: list[Parameter]) -> SetParametersResult:
        """All or nothing."""
        for param in parameter_list:
            check = self._check_set(param)
            if not check.successful:
                return check
        result = self._run_set_callbacks(parameter_list)
        if result.successful:
            for param in parameter_list:
                self._store(param)
        return result

    def _check_set(self, param: Parameter) -> SetParametersResult:
        if param.name not in self._parameters:
            if self._allow_undeclared:
                return SetParametersResult(True)
            raise ParameterNotDeclaredException(f"parameter '{param.name}' is not declared")
        descriptor = self._descriptors.get(param.name)
        if descriptor is None:  # declared without one (not through declare_parameter)
            return SetParametersResult(True)
        # the reasons are rclpy's words (Node._apply_descriptor): tools show them
        return check_descriptor(param, descriptor, check_read_only=True, declared=True)

    def _set_one(self, param: Parameter) -> SetParametersResult:
        check = self._check_set(param)
        if not check.successful:
            return check
        result = self._run_set_callbacks([param])
        if result.successful:
            self._store(param)
        return result

    def _store(self, param: Parameter) -> None:
        new = param.name not in self._parameters
        descriptor = self._descriptors.get(param.name)
        if descriptor is None:  # an undeclared parameter (allowed): typed by its values
            descriptor = ParameterDescriptor(name=param.name, dynamic_typing=True)
            self._descriptors[param.name] = descriptor
        if param.type_ == ParameterType.NOT_SET and descriptor.dynamic_typing:
            # rclpy: setting NOT_SET undeclares a dynamically typed parameter
            self._parameters.pop(param.name, None)
            self._descriptors.pop(param.name, None)
            if not new:
                self._publish_event(deleted=[param])
            return
        if descriptor.type == ParameterType.NOT_SET:  # declared without a type: now it has one
            descriptor.type = int(param.type_)
        self._parameters[param.name] = param
        self._after_set(param, new=new)

    def _run_set_callbacks(self, params: list[Parameter]) -> SetParametersResult:
        for callback in self._set_callbacks:
            result = callback(params)
            if not getattr(result, 'successful', False):
                return SetParametersResult(False, getattr(result, 'reason', ''))
        return SetParametersResult(True)

    def _after_set(self, param: Parameter, new: bool) -> None:
        if param.name == 'use_sim_time':
            self._set_sim_time(bool(param.value))
        if new:
            self._publish_event(new=[param])
        else:
            self._publish_event(changed=[param])

    def _publish_event(self, new: list[Parameter] | None = None,
                       changed: list[Parameter] | None = None,
                       deleted: list[Parameter] | None = None) -> None:
        if self._param_events is None or self._destroyed:
            return
        cls = get_message('rcl_interfaces/msg/ParameterEvent')
        self._param_events.publish(cls(
            stamp=self._clock.now().to_msg(), node=self.get_fully_qualified_name(),
            new_parameters=[p.to_parameter_msg() for p in new or []],
            changed_parameters=[p.to_parameter_msg() for p in changed or []],
            deleted_parameters=[p.to_parameter_msg() for p in deleted or []]))
