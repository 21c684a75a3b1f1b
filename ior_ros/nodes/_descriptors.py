"""
Parameter descriptors for the nodes, on either backend: :func:`describe` builds the
rcl_interfaces/ParameterDescriptor message class of the running backend (rclpy's generated
class, or this package's), so ``declare_parameter(name, default, describe(...))`` means the same
as in an rclpy node and ``ros2 param describe`` shows the same lines for both.

A range is rcl_interfaces/FloatingPointRange or IntegerRange: both ends allowed, ``step`` 0 for
any value in between. A ranged double refuses NaN and infinities (neither lies inside a range).
"""

from __future__ import annotations

from typing import Any

from ior_ros.runtime import get_message

__all__ = ['describe']


def describe(description: str, *, read_only: bool = False,
             float_range: tuple[float, float] | None = None,
             int_range: tuple[int, int] | None = None, step: float = 0,
             additional_constraints: str = '') -> Any:
    """
    A ParameterDescriptor message: ``description`` (say what the value means, its unit, and
    why the range is what it is), ``read_only`` (for a value the node reads once, at start: a
    later change would be ignored, so it is refused), at most one of ``float_range`` /
    ``int_range`` (inclusive ends, ``step`` 0 for any value) and ``additional_constraints``
    (text only, for what a range cannot say).
    """
    descriptor = get_message('rcl_interfaces/msg/ParameterDescriptor')(
        description=description, read_only=read_only,
        additional_constraints=additional_constraints)
    if float_range is not None:
        descriptor.floating_point_range = [get_message('rcl_interfaces/msg/FloatingPointRange')(
            from_value=float(float_range[0]), to_value=float(float_range[1]), step=float(step))]
    if int_range is not None:
        descriptor.integer_range = [get_message('rcl_interfaces/msg/IntegerRange')(
            from_value=int(int_range[0]), to_value=int(int_range[1]), step=int(step))]
    return descriptor
