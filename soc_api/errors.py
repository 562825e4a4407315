"""Errors raised by the SOC API's data layer; the app maps each to an HTTP status."""

from __future__ import annotations

from soc_core.errors import AuthError, SocError


class ApiError(SocError):
    """An error the API reports to its caller as JSON ``{"detail": message}``."""

    status_code = 400


class InvalidInput(ApiError, ValueError):
    """Input the data layer refuses (unknown role, missing unit, bad unit code...)."""

    status_code = 422


class NotFound(ApiError):
    """The object does not exist, or the caller may not know that it does."""

    status_code = 404


class Conflict(ApiError):
    """The change is not allowed from the object's current state (e.g. an invalid transition)."""

    status_code = 409


class PermissionDenied(ApiError, AuthError):
    """The caller is authenticated but its role may not do this."""

    status_code = 403
