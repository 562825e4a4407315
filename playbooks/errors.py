"""Errors of the playbook package; all derive from :class:`soc_core.errors.SocError`, so a broken
playbook names its file and line (``source:line: message``)."""

from __future__ import annotations

from soc_core.errors import SocError


class PlaybookError(SocError):
    """A playbook that cannot be read or validated (bad YAML, unknown phase, missing field, ...)."""


class PlaybookNotFound(PlaybookError):
    """No playbook for an incident type."""


class PlaybookCoverageError(PlaybookError):
    """Some incident types have no playbook (or a playbook names an unknown type)."""
