"""Errors a user can act on."""

from __future__ import annotations


class PiakError(Exception):
    """A problem with the user's input or configuration, named in the message (Bahasa Indonesia
    or English, whichever the audience reads). Raised before any side effect."""


class RegistryError(PiakError):
    """A malformed SOP registry file; the message names the file and the field."""


class RoleConfigError(PiakError):
    """The role-to-users mapping is missing, malformed or has no users for a role."""


class InvalidRequest(PiakError):
    """A run's parameters are refused: retrying cannot help, so the task fails without retry."""
