"""
Errors of the equipment clients (Quectel modem over AT, srsRAN gNB remote control, Linux traffic
control). Each is an :class:`~ior_ros.core.errors.IorError`, so the CLI prints it as one line and
exits 2; each message names the equipment, what was asked, what came back and what is allowed.
"""

from __future__ import annotations

from ior_ros.core.errors import ConfigError, IorError

__all__ = ['EquipmentError', 'EquipmentValidationError', 'EquipmentTimeout',
           'EquipmentUnavailable', 'EquipmentRejected']


class EquipmentError(IorError, RuntimeError):
    """Base of every error of talking to equipment."""


class EquipmentValidationError(EquipmentError, ConfigError):
    """A value was refused before anything was sent (names the field, the value, what is
    allowed): nothing reached the equipment."""


class EquipmentTimeout(EquipmentError, TimeoutError):
    """The equipment did not answer within the time allowed for that request."""


class EquipmentUnavailable(EquipmentError, ConnectionError):
    """The equipment cannot be reached (port gone, connection refused or lost)."""


class EquipmentRejected(EquipmentError):
    """The equipment answered and refused the request (its own error text or code is kept in the
    message and in :attr:`detail`)."""

    def __init__(self, message: str, detail: str = '') -> None:
        super().__init__(message)
        self.detail = detail
