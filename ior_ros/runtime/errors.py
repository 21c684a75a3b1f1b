"""
Errors of the ROS 2 runtime layer.

Everything a user can get wrong (a message type that does not exist, a malformed launch or
parameter file, an unknown substitution, a ``.msg`` syntax error) is a
:class:`~ior_ros.core.errors.ConfigError` subclass whose message names the file and line
(``path:line: what is wrong``), so the CLI prints one clear line and exits with code 2.
"""

from __future__ import annotations

from pathlib import Path

from ior_ros.core.errors import ConfigError, IorError

__all__ = ['RosInputError', 'MessageTypeError', 'MessageDefinitionError', 'LaunchError',
           'ParameterFileError', 'RosArgsError', 'DdsError', 'NameError_', 'MessageDecodeError',
           'at']


def at(path: str | Path | None, line: int | None) -> str:
    """Format a location prefix ``path:line: `` (either part may be missing)."""
    if path is None:
        return ''
    return f'{path}:{line}: ' if line is not None else f'{path}: '


class RosInputError(ConfigError):
    """Bad input to the ROS layer (names, types, files)."""


class MessageTypeError(RosInputError):
    """A message type that is unknown or malformed (``pkg/msg/Name``)."""


class MessageDefinitionError(RosInputError):
    """A ``.msg`` file that does not parse; the message names the file and line."""


class LaunchError(RosInputError):
    """A launch file that is malformed or uses an unknown tag, attribute or substitution."""


class ParameterFileError(RosInputError):
    """A parameter YAML file (``node: ros__parameters:``) that is malformed."""


class RosArgsError(RosInputError):
    """A malformed ``--ros-args`` section."""


class NameError_(RosInputError):  # noqa: N801  (a ROS name error, not Python's NameError)
    """An invalid node name, namespace or topic name."""


class DdsError(IorError, RuntimeError):
    """The DDS layer refused an operation (participant, topic, writer or reader creation)."""


class MessageDecodeError(IorError, ValueError):
    """
    Bytes that are not a sample of the expected type (a peer's malformed sample, a damaged bag
    record); the message is one line naming the type, the field, the offset and what is wrong
    (:mod:`ior_ros.runtime.cdr_decode`).
    """
