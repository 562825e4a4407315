"""Attachments of incidents: size-capped, identified by SHA-256, content kept in the database."""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from soc_api.crud import audit
from soc_api.crud.incidents import timeline
from soc_api.db.base import utcnow
from soc_api.db.workflow_models import Attachment, Incident
from soc_api.errors import InvalidInput

_UNSAFE = re.compile(r"[^\w.\- ()\[\]]+", re.UNICODE)


def safe_filename(name: str | None) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip(" .")
    return base[:200] or "attachment"


def add(
    session: Session,
    incident: Incident,
    *,
    filename: str | None,
    content_type: str | None,
    content: bytes,
    max_bytes: int,
    actor: str,
) -> Attachment:
    if len(content) > max_bytes:
        raise InvalidInput(f"attachment larger than {max_bytes} bytes")
    if not content:
        raise InvalidInput("attachment is empty")
    digest = hashlib.sha256(content).hexdigest()
    row = Attachment(
        incident_id=incident.id,
        filename=safe_filename(filename),
        content_type=(content_type or "application/octet-stream")[:255],
        size=len(content),
        sha256=digest,
        content=content,
        uploaded_by=actor,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    timeline(session, incident, actor, "attachment_added", f"{row.filename} ({row.size} B)", sha256=digest)
    audit.record(
        session,
        actor=actor,
        action="incident.attachment_add",
        object_type="incident",
        object_id=incident.id,
        detail={"attachment_id": row.id, "filename": row.filename, "size": row.size, "sha256": digest},
    )
    return row


def list_for_incident(session: Session, incident_id: str) -> list[Attachment]:
    stmt = (
        select(Attachment)
        .options(defer(Attachment.content))
        .where(Attachment.incident_id == incident_id)
        .order_by(Attachment.created_at, Attachment.id)
    )
    return list(session.scalars(stmt))
