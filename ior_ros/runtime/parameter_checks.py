"""
What a parameter descriptor allows: the checks of rclpy's ``Node._apply_descriptor`` (Jazzy,
``rclpy/node.py``), with its reason strings word for word, since ``ros2 param set`` and
``ior param set`` print them.

Order as in rclpy: read-only (only for a set request, not at declaration), then the type (a
statically typed parameter keeps the type of its default; NOT_SET would undeclare it and is
refused), then the range of the value's type. A floating point value at either end of its range
is accepted within a relative tolerance of 1e-6 (``Node.PARAM_REL_TOL``); NaN is never inside a
range (``min < nan < max`` is false), so a ranged double refuses NaN and ±inf. Integer steps
count from the lower end; floating point steps likewise, rounded to the nearest step and then
compared with the same tolerance.
"""

from __future__ import annotations

import math

from ior_ros.runtime.parameters import (
    FloatingPointRange,
    IntegerRange,
    Parameter,
    ParameterDescriptor,
    ParameterType,
    SetParametersResult,
)

__all__ = ['PARAM_REL_TOL', 'check_descriptor', 'allowed_text']

#: relative tolerance for a double at a range end or on a step (rclpy Node.PARAM_REL_TOL)
PARAM_REL_TOL = 1e-6


def check_descriptor(param: Parameter, descriptor: ParameterDescriptor, *,
                     check_read_only: bool, declared: bool) -> SetParametersResult:
    """
    Whether ``descriptor`` lets ``param`` be stored (rclpy's reason when not).

    Args:
        param: the new value.
        descriptor: the parameter's descriptor; with ``dynamic_typing`` its ``type`` is set to
            the value's type, as rclpy does.
        check_read_only: refuse when read-only (a set request; a declaration is not checked).
        declared: the parameter exists already (NOT_SET would undeclare a static one).
    """
    if check_read_only and descriptor.read_only:
        return SetParametersResult(False, f'Trying to set a read-only parameter: {param.name}.')
    if descriptor.dynamic_typing:
        descriptor.type = int(param.type_)
    elif declared and param.type_ == ParameterType.NOT_SET:
        return SetParametersResult(False, 'Static parameter cannot be undeclared')
    elif (param.type_ != ParameterType.NOT_SET and descriptor.type != ParameterType.NOT_SET
          and int(param.type_) != descriptor.type):
        expected, got = ParameterType(descriptor.type).name, param.type_.name
        return SetParametersResult(False, f"Wrong parameter type, expected 'Type.{expected}' "
                                          f"got 'Type.{got}'")
    if param.type_ == ParameterType.INTEGER and descriptor.integer_range:
        return _integer_in_range(param.name, int(param.value), descriptor.integer_range[0])
    if param.type_ == ParameterType.DOUBLE and descriptor.floating_point_range:
        return _double_in_range(param.name, float(param.value),
                                descriptor.floating_point_range[0])
    return SetParametersResult(True)


def _integer_in_range(name: str, value: int, limits: IntegerRange) -> SetParametersResult:
    low, high = min(limits.from_value, limits.to_value), max(limits.from_value, limits.to_value)
    if value in (low, high):
        return SetParametersResult(True)
    if not low < value < high:
        return SetParametersResult(False, f'Parameter {name} out of range. Min: {low}, Max: '
                                          f'{high}, value: {value}')
    if limits.step != 0 and (value - low) % limits.step != 0:
        return SetParametersResult(False, f'The parameter value for {name} is not a valid step. '
                                          f'Min: {low}, max: {high}, value: {value}, step: '
                                          f'{limits.step}')
    return SetParametersResult(True)


def _double_in_range(name: str, value: float, limits: FloatingPointRange) -> SetParametersResult:
    low, high = min(limits.from_value, limits.to_value), max(limits.from_value, limits.to_value)
    if (math.isclose(value, low, rel_tol=PARAM_REL_TOL)
            or math.isclose(value, high, rel_tol=PARAM_REL_TOL)):
        return SetParametersResult(True)
    if not low < value < high:
        # rclpy's words: no full stop after "range" here, unlike the integer message
        return SetParametersResult(False, f'Parameter {name} out of range Min: {low}, Max: '
                                          f'{high}, value: {value}')
    if limits.step != 0.0:
        steps = round((value - low) / limits.step)
        if not math.isclose(low + steps * limits.step, value, rel_tol=PARAM_REL_TOL):
            return SetParametersResult(
                False, f'The parameter value for {name} is not close enough to a valid step. '
                       f'Min: {low}, max: {high}, value: {value}, step: {limits.step}')
    return SetParametersResult(True)


def allowed_text(descriptor: ParameterDescriptor) -> str:
    """What the descriptor allows, for an error message: ``[0.001, 3600.0]``, ``[0, 10] in steps
    of 2``, ``any double`` (plus the type's name and the additional constraints)."""
    type_name = ParameterType(descriptor.type).name.lower().replace('_', ' ')
    limits: FloatingPointRange | IntegerRange | None = None
    if descriptor.floating_point_range and descriptor.type == ParameterType.DOUBLE:
        limits = descriptor.floating_point_range[0]
    elif descriptor.integer_range and descriptor.type == ParameterType.INTEGER:
        limits = descriptor.integer_range[0]
    if limits is None:
        text = f'any {type_name}'
    else:
        low = min(limits.from_value, limits.to_value)
        high = max(limits.from_value, limits.to_value)
        article = 'an' if type_name[:1] in 'aeiou' else 'a'
        text = f'{article} {type_name} in [{low}, {high}]'
        if limits.step:
            text += f' in steps of {limits.step} from {low}'
    if descriptor.additional_constraints:
        text += f' ({descriptor.additional_constraints})'
    return text
