"""Errors of the national forms: refused exports and missing fonts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from soc_api.errors import InvalidInput
from soc_core.errors import ConfigError

if TYPE_CHECKING:
    from soc_api.forms.validate import FormIssue


class FormIncomplete(InvalidInput):
    """Export refused: mandatory fields are missing or values are invalid (HTTP 422 in the API).

    ``problems`` holds one bilingual message per field, ``issues`` the structured form
    (``path``, ``code``, ``message``) for a UI that highlights the fields.
    """

    def __init__(self, kind: str, issues: Sequence[FormIssue]) -> None:
        self.kind = kind
        self.issues = list(issues)
        self.problems = [issue.message for issue in self.issues]
        super().__init__(
            f"Biểu mẫu {kind} chưa đủ điều kiện xuất / Form {kind} cannot be exported: " + "; ".join(self.problems)
        )


class FontMissing(ConfigError):
    """The TrueType font with Vietnamese glyphs that PDF export needs is not installed."""
