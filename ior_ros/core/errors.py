"""
Error hierarchy of ior_ros.

Every error a user can cause derives from :class:`IorError`; the built-in base classes let
callers catch either name (``ConfigError`` is also a ``ValueError``). The CLI turns any
``IorError`` into one line on stderr and exit code 2.
"""

from __future__ import annotations

__all__ = [
    'IorError',
    'ConfigError',
    'ArtifactError',
    'ModelError',
    'ControlError',
    'DimensionError',
    'QueueStabilityError',
]


class IorError(Exception):
    """Base of every error ior_ros raises on purpose."""


class ConfigError(IorError, ValueError):
    """A configuration value is missing, unknown or outside what is allowed."""


class ArtifactError(ConfigError):
    """
    A saved model, policy or schedule cannot be used: missing, unreadable, or of another format
    or version; the message names the path, what was found and what was expected.
    """


class ModelError(IorError, ValueError):
    """A model was asked for something it cannot compute (bad arguments at a core boundary)."""


class DimensionError(ModelError):
    """Array or matrix shapes do not agree; the message names the matrices and both shapes."""


class QueueStabilityError(ModelError):
    """A queue that must be stable was given a load of 1 or more."""


class ControlError(IorError, RuntimeError):
    """A controller could not be certified or built (for example, an infeasible LMI)."""
