"""Form data of a ticket: the saved draft of a form, completed with what the ticket already knows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from soc_api.db.workflow_models import Incident

VIETNAM = timezone(timedelta(hours=7), "ICT")


def _local(moment: datetime) -> datetime:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(VIETNAM)


def _fill(draft: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    out = dict(draft)
    for key, value in defaults.items():
        if isinstance(value, dict):
            current = out.get(key)
            out[key] = _fill(current if isinstance(current, dict) else {}, value)
        elif out.get(key) in (None, "", []):
            out[key] = value
    return out


def incident_form_data(kind: str, incident: Incident, *, initial_sent_at: datetime | None = None) -> dict[str, Any]:
    """The draft saved for ``kind`` with blanks filled from the ticket (never overriding the draft)."""
    draft = dict((incident.forms or {}).get(kind) or {})
    local = _local(incident.detected_at)
    if kind == "mau03":
        defaults: dict[str, Any] = {
            "summary": incident.description or incident.title,
            "detected_date": local.date().isoformat(),
            "detected_time": local.strftime("%H:%M"),
            "incident_type": incident.incident_type,
            "system": {"security_level": incident.security_level},
        }
    else:  # end_report
        defaults = {
            "incident_name": incident.title,
            "description": incident.description or None,
            "detected_at": local.strftime("%d/%m/%Y %H:%M"),
            "security_level": incident.security_level,
        }
        if initial_sent_at is not None:
            defaults["initial_report_date"] = _local(initial_sent_at).date().isoformat()
    defaults = {k: v for k, v in defaults.items() if v is not None and v != {"security_level": None}}
    return _fill(draft, defaults)
