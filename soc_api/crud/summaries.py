"""Drafts of the periodic summary (Mẫu 05), one per reporting period; every change audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from soc_api.crud import audit
from soc_api.db.base import utcnow
from soc_api.db.workflow_models import SummaryReport


def get(session: Session, period: str) -> SummaryReport | None:
    return session.get(SummaryReport, period)


def draft_of(session: Session, period: str) -> dict[str, Any]:
    row = get(session, period)
    return dict(row.draft or {}) if row is not None else {}


def save_draft(session: Session, period: str, draft: dict[str, Any], *, actor: str) -> SummaryReport:
    """Replace the draft of ``period`` (created on first save); audited with the changed fields."""
    now = utcnow()
    row = get(session, period)
    old: dict[str, Any] = {}
    if row is None:
        row = SummaryReport(
            period=period, draft=draft, created_by=actor, created_at=now, updated_by=actor, updated_at=now
        )
        session.add(row)
    else:
        old = dict(row.draft or {})
        row.draft = draft
        row.updated_by = actor
        row.updated_at = now
    changed = sorted(k for k in set(old) | set(draft) if old.get(k) != draft.get(k))
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="summary.draft_save",
        object_type="summary",
        object_id=period,
        detail={"changed": changed, "old": {k: old.get(k) for k in changed}, "new": {k: draft.get(k) for k in changed}},
    )
    return row
