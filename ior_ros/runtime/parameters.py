"""
Parameters with rclpy's names: :class:`Parameter` (with ``Parameter.Type``), the exceptions, and
the conversion to rcl_interfaces messages (for ``/parameter_events``).

Typing follows rclpy (Jazzy) static typing: a parameter's type is fixed by its declared default (or
by the override given on the command line); a value of another type is refused (``set_parameters``
returns ``successful=False``; a mismatching override at declaration raises
:class:`InvalidParameterTypeException`).

Descriptors are rcl_interfaces/ParameterDescriptor with its ranges (:class:`FloatingPointRange`,
:class:`IntegerRange`); :meth:`ParameterDescriptor.from_any` also takes the message class of
either backend (``get_message('rcl_interfaces/msg/ParameterDescriptor')``), so a node written
for rclpy passes its descriptor unchanged. The checks a descriptor implies live in
:mod:`ior_ros.runtime.parameter_checks`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from ior_ros.runtime.errors import RosInputError

__all__ = ['Parameter', 'ParameterType', 'SetParametersResult', 'ParameterDescriptor',
           'FloatingPointRange', 'IntegerRange',
           'ParameterNotDeclaredException', 'ParameterAlreadyDeclaredException',
           'InvalidParameterTypeException', 'InvalidParameterValueException',
           'ParameterUninitializedException', 'ParameterImmutableException',
           'parameter_value_msg']


class ParameterNotDeclaredException(RosInputError):
    """get/set of a parameter that was never declared."""


class ParameterAlreadyDeclaredException(RosInputError):
    """declare_parameter of a name that already exists."""


class InvalidParameterTypeException(RosInputError):
    """A value whose type differs from the parameter's type."""


class InvalidParameterValueException(RosInputError):
    """A value its descriptor (range, read-only) or an on-set callback refuses (rclpy's name)."""


class ParameterUninitializedException(RosInputError):
    """A parameter declared by type only, read before it got a value."""


class ParameterImmutableException(RosInputError):
    """A read-only parameter was set."""


class ParameterType(IntEnum):
    """rcl_interfaces/ParameterType values."""

    NOT_SET = 0
    BOOL = 1
    INTEGER = 2
    DOUBLE = 3
    STRING = 4
    BYTE_ARRAY = 5
    BOOL_ARRAY = 6
    INTEGER_ARRAY = 7
    DOUBLE_ARRAY = 8
    STRING_ARRAY = 9

    @classmethod
    def from_parameter_value(cls, value: Any) -> ParameterType:
        """The type of a Python value (raises TypeError for an unsupported one)."""
        if value is None:
            return cls.NOT_SET
        if isinstance(value, bool):
            return cls.BOOL
        if isinstance(value, int):
            return cls.INTEGER
        if isinstance(value, float):
            return cls.DOUBLE
        if isinstance(value, str):
            return cls.STRING
        if isinstance(value, (bytes, bytearray)):
            return cls.BYTE_ARRAY
        if isinstance(value, (list, tuple)) or hasattr(value, 'tolist'):
            items = list(value.tolist() if hasattr(value, 'tolist') else value)
            if all(isinstance(v, bytes) for v in items) and items:
                return cls.BYTE_ARRAY
            if all(isinstance(v, bool) for v in items) and items:
                return cls.BOOL_ARRAY
            if all(isinstance(v, int) and not isinstance(v, bool) for v in items) and items:
                return cls.INTEGER_ARRAY
            if all(isinstance(v, float) for v in items) and items:
                return cls.DOUBLE_ARRAY
            if all(isinstance(v, str) for v in items) and items:
                return cls.STRING_ARRAY
            if not items:
                return cls.STRING_ARRAY  # rclpy gives [] the STRING_ARRAY type too
            raise TypeError(f'mixed-type list {value!r} is not a ROS parameter value')
        raise TypeError(f'{type(value).__name__} {value!r} is not a ROS parameter value')

    def check(self, value: Any) -> bool:
        """True when ``value`` has this type."""
        try:
            found = ParameterType.from_parameter_value(value)
        except TypeError:
            return False
        if found == self:
            return True
        return self in _ARRAY_TYPES and isinstance(value, (list, tuple)) and not value


_ARRAY_TYPES = {ParameterType.BYTE_ARRAY, ParameterType.BOOL_ARRAY, ParameterType.INTEGER_ARRAY,
                ParameterType.DOUBLE_ARRAY, ParameterType.STRING_ARRAY}


@dataclass
class FloatingPointRange:
    """rcl_interfaces/FloatingPointRange: ``from_value`` ≤ value ≤ ``to_value``; ``step`` 0.0:
    any value, else ``from_value + k * step`` (both ends always allowed)."""

    from_value: float = 0.0
    to_value: float = 0.0
    step: float = 0.0


@dataclass
class IntegerRange:
    """rcl_interfaces/IntegerRange: as :class:`FloatingPointRange` for integers (``step`` 0:
    any integer in the range)."""

    from_value: int = 0
    to_value: int = 0
    step: int = 0


@dataclass
class ParameterDescriptor:
    """
    rcl_interfaces/ParameterDescriptor: what ``ros2 param describe`` shows and what a set
    request is checked against. At most one range applies (the message bounds each list to one
    element); ``additional_constraints`` is text for people, not checked.
    """

    name: str = ''
    type: int = 0
    description: str = ''
    additional_constraints: str = ''
    read_only: bool = False
    dynamic_typing: bool = False
    floating_point_range: list[FloatingPointRange] = field(default_factory=list)
    integer_range: list[IntegerRange] = field(default_factory=list)

    @classmethod
    def from_any(cls, descriptor: Any) -> ParameterDescriptor:
        """
        A copy of ``descriptor``: this class, or an rcl_interfaces/ParameterDescriptor message
        of either backend (anything with the message's fields; missing ones keep defaults).
        """
        if isinstance(descriptor, cls):
            return cls(descriptor.name, descriptor.type, descriptor.description,
                       descriptor.additional_constraints, descriptor.read_only,
                       descriptor.dynamic_typing,
                       [FloatingPointRange(r.from_value, r.to_value, r.step)
                        for r in descriptor.floating_point_range],
                       [IntegerRange(r.from_value, r.to_value, r.step)
                        for r in descriptor.integer_range])
        out = cls(name=str(getattr(descriptor, 'name', '')),
                  type=int(getattr(descriptor, 'type', 0)),
                  description=str(getattr(descriptor, 'description', '')),
                  additional_constraints=str(getattr(descriptor, 'additional_constraints', '')),
                  read_only=bool(getattr(descriptor, 'read_only', False)),
                  dynamic_typing=bool(getattr(descriptor, 'dynamic_typing', False)))
        out.floating_point_range = [
            FloatingPointRange(float(r.from_value), float(r.to_value), float(r.step))
            for r in list(getattr(descriptor, 'floating_point_range', []))[:1]]
        out.integer_range = [IntegerRange(int(r.from_value), int(r.to_value), int(r.step))
                             for r in list(getattr(descriptor, 'integer_range', []))[:1]]
        return out

    def to_msg(self) -> Any:
        """The rcl_interfaces/ParameterDescriptor message (what describe_parameters answers)."""
        from ior_ros.runtime.registry import get_message

        floating = get_message('rcl_interfaces/msg/FloatingPointRange')
        integer = get_message('rcl_interfaces/msg/IntegerRange')
        return get_message('rcl_interfaces/msg/ParameterDescriptor')(
            name=self.name, type=int(self.type), description=self.description,
            additional_constraints=self.additional_constraints, read_only=self.read_only,
            dynamic_typing=self.dynamic_typing,
            floating_point_range=[floating(from_value=float(r.from_value),
                                           to_value=float(r.to_value), step=float(r.step))
                                  for r in self.floating_point_range],
            integer_range=[integer(from_value=int(r.from_value), to_value=int(r.to_value),
                                   step=int(r.step)) for r in self.integer_range])


class Parameter:
    """A named, typed parameter value (rclpy.parameter.Parameter)."""

    Type = ParameterType

    def __init__(self, name: str, type_: ParameterType | None = None, value: Any = None) -> None:
        if type_ is None:
            type_ = ParameterType.from_parameter_value(value)
        type_ = ParameterType(type_)
        if value is not None and not type_.check(value):
            raise ValueError(f'type {type_.name} and value {value!r} of parameter {name!r} do '
                             'not agree')
        self._name = name
        self._type = type_
        self._value = list(value) if isinstance(value, tuple) else value

    @property
    def name(self) -> str:
        """The parameter's name."""
        return self._name

    @property
    def type_(self) -> ParameterType:
        """The parameter's type."""
        return self._type

    @property
    def value(self) -> Any:
        """The parameter's value (None when NOT_SET)."""
        return self._value

    def get_parameter_value(self) -> Any:
        """rcl_interfaces/ParameterValue message of this parameter."""
        return parameter_value_msg(self._type, self._value)

    def to_parameter_msg(self) -> Any:
        """rcl_interfaces/Parameter message."""
        from ior_ros.runtime.registry import get_message

        return get_message('rcl_interfaces/msg/Parameter')(name=self._name,
                                                           value=self.get_parameter_value())

    def __repr__(self) -> str:
        return f'Parameter(name={self._name!r}, type_={self._type.name}, value={self._value!r})'

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Parameter) and other.name == self.name
                and other.type_ == self.type_ and other.value == self.value)

    __hash__ = None  # type: ignore[assignment]


@dataclass
class SetParametersResult:
    """rcl_interfaces/SetParametersResult."""

    successful: bool
    reason: str = ''


def parameter_value_msg(type_: ParameterType, value: Any) -> Any:
    """rcl_interfaces/ParameterValue with the field of ``type_`` set."""
    from ior_ros.runtime.registry import get_message

    msg = get_message('rcl_interfaces/msg/ParameterValue')(type=int(type_))
    if value is None:
        return msg
    field = {ParameterType.BOOL: 'bool_value', ParameterType.INTEGER: 'integer_value',
             ParameterType.DOUBLE: 'double_value', ParameterType.STRING: 'string_value',
             ParameterType.BYTE_ARRAY: 'byte_array_value',
             ParameterType.BOOL_ARRAY: 'bool_array_value',
             ParameterType.INTEGER_ARRAY: 'integer_array_value',
             ParameterType.DOUBLE_ARRAY: 'double_array_value',
             ParameterType.STRING_ARRAY: 'string_array_value'}.get(type_)
    if type_ == ParameterType.BYTE_ARRAY:
        value = b''.join(v if isinstance(v, bytes) else bytes([v]) for v in value)
    if field is not None:
        setattr(msg, field, list(value) if isinstance(value, (list, tuple)) else value)
    return msg
