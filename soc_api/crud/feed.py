"""National feed data: the STIX object versions of the TAXII collection and the push outbox.

:func:`sync_incident` runs in the transaction that changed an incident (see
:mod:`soc_api.feed.outbox`): when the incident is shareable it adds the new versions of its STIX
objects to ``feed_objects`` and one ``feed_outbox`` row per push recipient for that bundle
version. A bundle version is the SHA-256 of its content, so the same content is never queued
twice for a recipient, and the idempotency key (UUIDv5 of recipient, incident and version) is
the same on every attempt.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select, true, update
from sqlalchemy.orm import Session, aliased
from stix2.exceptions import STIXError

from soc_api.crud import audit
from soc_api.crud.incidents import timeline
from soc_api.db.base import utcnow
from soc_api.db.feed_models import FeedObject, FeedOutbox
from soc_api.db.models import Unit
from soc_api.db.workflow_models import Incident, Observable, Recipient
from soc_api.feed import stix
from soc_api.services.incident_types import type_map

log = logging.getLogger(__name__)

COLLECTION_ID = str(uuid.uuid5(stix.NAMESPACE, "taxii-collection/incidents"))
FEED_ACTOR = "feed"
PUSH_CHANNEL = "api_push"
MAX_ACK_BODY = 64 * 1024


# --- STIX object versions ---------------------------------------------------------------------


def _parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _without_modified(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "modified"}


def _store(session: Session, obj: dict[str, Any], incident_id: str | None, date_added: datetime) -> dict[str, Any]:
    """The current version of ``obj``: the stored one if only ``modified`` differs, else a new row.

    A changed object whose ``modified`` is not newer than the stored version (the content changed
    without the incident's ``updated_at``) gets ``modified`` one millisecond past it, so versions
    stay strictly ordered as STIX requires.
    """
    latest = session.scalars(
        select(FeedObject).where(FeedObject.stix_id == obj["id"]).order_by(FeedObject.version.desc()).limit(1)
    ).first()
    if latest is not None:
        if _without_modified(latest.object) == _without_modified(obj):
            return latest.object
        if stix.version_of(obj) <= latest.version:
            bumped = max(date_added, _parse_ts(latest.version) + timedelta(milliseconds=1))
            obj = {**obj, "modified": stix.timestamp(bumped)}
    session.add(
        FeedObject(
            stix_id=obj["id"],
            stix_type=obj["type"],
            version=stix.version_of(obj),
            incident_id=incident_id,
            date_added=date_added,
            object=obj,
        )
    )
    return obj


def is_shared(session: Session, incident_id: str) -> bool:
    sid = stix.incident_stix_id(incident_id)
    return session.scalar(select(FeedObject.id).where(FeedObject.stix_id == sid).limit(1)) is not None


def _context(session: Session, incident: Incident) -> stix.IncidentContext:
    itype = type_map().get(incident.incident_type)
    unit = session.get(Unit, incident.unit_code) if incident.unit_code else None
    return stix.IncidentContext(
        type_number=itype.number if itype else None,
        type_vi=itype.vi if itype else None,
        type_en=itype.en if itype else None,
        unit_name=unit.name if unit else None,
    )


def push_recipients(session: Session) -> list[Recipient]:
    """Enabled recipients on the API push channel whose address is an HTTP(S) URL."""
    rows = session.scalars(
        select(Recipient).where(Recipient.enabled.is_(True), Recipient.channel == PUSH_CHANNEL).order_by(Recipient.id)
    )
    return [r for r in rows if r.address and r.address.lower().startswith(("http://", "https://"))]


def idempotency_key(recipient_id: int, incident_id: str, bundle_sha256: str) -> str:
    return str(uuid.uuid5(stix.NAMESPACE, f"outbox/{recipient_id}/{incident_id}/{bundle_sha256}"))


def sync_incident(session: Session, cfg: stix.FeedConfig, incident_id: str) -> list[FeedOutbox]:
    """Share the incident's current state if it is shareable; returns the outbox rows queued."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        return []
    first_time = not is_shared(session, incident.id)
    if not stix.is_shareable(incident, cfg, already_shared=not first_time):
        return []
    observables = session.scalars(
        select(Observable).where(Observable.incident_id == incident.id).order_by(Observable.id)
    )
    try:
        objects = [
            (stix.marking(cfg), None),
            (stix.identity(cfg), None),
            *((o, incident.id) for o in stix.incident_objects(incident, observables, cfg, _context(session, incident))),
        ]
    except (STIXError, ValueError, TypeError):
        # A mapping defect must not block the analyst's change; the next change shares again.
        log.exception("incident %s could not be mapped to STIX; not shared this time", incident.id)
        return []
    now = utcnow()
    # Distinct date_added per object, so a TAXII client paging with added_after loses nothing.
    current = [_store(session, obj, owner, now + timedelta(microseconds=i)) for i, (obj, owner) in enumerate(objects)]
    bundle_id, digest, payload = stix.bundle(incident.id, current)
    if first_time:
        reason = "flag" if incident.share_national else "serious"
        audit.record(
            session,
            actor=FEED_ACTOR,
            action="incident.feed_share",
            object_type="incident",
            object_id=incident.id,
            detail={"reason": reason, "stix_id": stix.incident_stix_id(incident.id), "tlp": cfg.tlp},
        )
        timeline(session, incident, FEED_ACTOR, "feed_shared", f"shared with the national centres ({reason})")
    queued: list[FeedOutbox] = []
    names: list[str] = []
    for recipient in push_recipients(session):
        exists = session.scalar(
            select(FeedOutbox.id).where(
                FeedOutbox.incident_id == incident.id,
                FeedOutbox.recipient_id == recipient.id,
                FeedOutbox.bundle_sha256 == digest,
            )
        )
        if exists is not None:
            continue
        row = FeedOutbox(
            incident_id=incident.id,
            recipient_id=recipient.id,
            bundle_id=bundle_id,
            bundle_sha256=digest,
            payload=payload,
            idempotency_key=idempotency_key(recipient.id, incident.id, digest),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        queued.append(row)
        names.append(recipient.code)
    if queued:
        summary = f"STIX bundle {digest[:12]} → {', '.join(names)}"
        timeline(session, incident, FEED_ACTOR, "feed_queued", summary, bundle=bundle_id)
    session.flush()
    return queued


# --- TAXII queries ----------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class ObjectFilter:
    """TAXII 2.1 filters: ``added_after``, ``match[id]``, ``match[type]``, ``match[version]``,
    ``match[spec_version]`` (versions: ``last``, ``first``, ``all`` or exact timestamps)."""

    added_after: datetime | None = None
    ids: list[str] | None = None
    types: list[str] | None = None
    versions: list[str] = field(default_factory=lambda: ["last"])
    spec_versions: list[str] | None = None


def _version_condition(versions: Sequence[str]) -> ColumnElement[bool]:
    other = aliased(FeedObject)
    parts: list[ColumnElement[bool]] = []
    for v in versions:
        if v == "all":
            return true()
        if v in ("last", "first"):
            agg = func.max(other.version) if v == "last" else func.min(other.version)
            parts.append(FeedObject.version == select(agg).where(other.stix_id == FeedObject.stix_id).scalar_subquery())
        else:
            parts.append(FeedObject.version == v)
    return or_(*parts) if parts else false()


def query_objects(
    session: Session, flt: ObjectFilter, *, limit: int, after: int | None
) -> tuple[list[FeedObject], bool]:
    """One page of matching object versions in the order added; ``after`` is the ``next`` cursor."""
    cond: list[ColumnElement[bool]] = [_version_condition(flt.versions)]
    if flt.spec_versions is not None and "2.1" not in flt.spec_versions:
        cond.append(false())
    if flt.added_after is not None:
        cond.append(FeedObject.date_added > flt.added_after)
    if flt.ids is not None:
        cond.append(FeedObject.stix_id.in_(flt.ids))
    if flt.types is not None:
        cond.append(FeedObject.stix_type.in_(flt.types))
    if after is not None:
        cond.append(FeedObject.id > after)
    rows = list(session.scalars(select(FeedObject).where(*cond).order_by(FeedObject.id).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def record_fetch(
    session: Session, *, actor: str, collection_id: str, endpoint: str, count: int, filters: dict[str, Any]
) -> None:
    """Audit one read of the collection by a feed client (who, what, how many objects)."""
    audit.record(
        session,
        actor=actor,
        action=f"taxii.{endpoint}",
        object_type="collection",
        object_id=collection_id,
        detail={"count": count, "filters": {k: v for k, v in filters.items() if v is not None}},
    )


# --- outbox -----------------------------------------------------------------------------------


def due_ids(session: Session, now: datetime, limit: int) -> list[int]:
    stmt = (
        select(FeedOutbox.id)
        .where(
            FeedOutbox.status == "pending",
            or_(FeedOutbox.next_attempt_at.is_(None), FeedOutbox.next_attempt_at <= now),
        )
        .order_by(FeedOutbox.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def claim(session: Session, row_id: int, now: datetime, delay: Callable[[int], timedelta]) -> FeedOutbox | None:
    """Take a due row for one attempt (compare-and-set on ``attempts``, so two senders never both
    send it); ``next_attempt_at`` moves to the retry time at once, so an attempt cut short by a
    crash is retried after the backoff, with the same idempotency key."""
    row = session.get(FeedOutbox, row_id, populate_existing=True)
    if row is None or row.status != "pending" or (row.next_attempt_at is not None and row.next_attempt_at > now):
        return None
    attempt = row.attempts + 1
    result = session.execute(
        update(FeedOutbox)
        .where(FeedOutbox.id == row_id, FeedOutbox.status == "pending", FeedOutbox.attempts == row.attempts)
        .values(attempts=attempt, last_attempt_at=now, next_attempt_at=now + delay(attempt), updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    session.refresh(row)
    return row


def record_delivery(
    session: Session, row: FeedOutbox, *, http_status: int, ack_id: str | None, ack_body: str, now: datetime
) -> None:
    """A 2xx answer: ``acknowledged`` when the receiver gave an acknowledgement id, else ``sent``."""
    row.status = "acknowledged" if ack_id else "sent"
    row.http_status = http_status
    row.sent_at = now
    row.next_attempt_at = None
    row.last_error = None
    row.ack_body = ack_body[:MAX_ACK_BODY]
    row.updated_at = now
    recipient = session.get(Recipient, row.recipient_id)
    code = recipient.code if recipient else str(row.recipient_id)
    if ack_id:
        row.ack_id = ack_id[:255]
        row.acknowledged_at = now
    incident = session.get(Incident, row.incident_id)
    if incident is not None:
        what = f"acknowledged by {code} ({row.ack_id})" if ack_id else f"delivered to {code} (no acknowledgement id)"
        timeline(session, incident, FEED_ACTOR, "feed_" + row.status, f"STIX bundle {row.bundle_sha256[:12]} {what}")
    audit.record(
        session,
        actor=FEED_ACTOR,
        action=f"feed.{row.status}",
        object_type="incident",
        object_id=row.incident_id,
        detail={"outbox_id": row.id, "recipient": code, "bundle": row.bundle_id, "ack_id": row.ack_id},
    )
    session.flush()


def record_failure(
    session: Session, row: FeedOutbox, *, http_status: int | None, error: str, permanent: bool, max_attempts: int
) -> None:
    """A failed attempt: stays ``pending`` (retried at ``next_attempt_at``) unless it cannot succeed
    (a refusal other than 408/409/425/429) or the attempts are used up: then ``failed``."""
    row.http_status = http_status
    row.last_error = error[:1000]
    row.updated_at = utcnow()
    if permanent or row.attempts >= max_attempts:
        row.status = "failed"
        row.next_attempt_at = None
        audit.record(
            session,
            actor=FEED_ACTOR,
            action="feed.failed",
            object_type="incident",
            object_id=row.incident_id,
            detail={"outbox_id": row.id, "attempts": row.attempts, "http_status": http_status, "error": error[:300]},
        )
    session.flush()


def requeue_failed(session: Session, *, actor: str) -> int:
    """Put failed rows back to ``pending`` (a fresh series of attempts, same idempotency key)."""
    rows = list(session.scalars(select(FeedOutbox).where(FeedOutbox.status == "failed")))
    now = utcnow()
    for row in rows:
        row.status, row.attempts, row.next_attempt_at, row.updated_at = "pending", 0, now, now
        audit.record(
            session,
            actor=actor,
            action="feed.requeue",
            object_type="incident",
            object_id=row.incident_id,
            detail={"outbox_id": row.id},
        )
    session.flush()
    return len(rows)


def list_outbox(
    session: Session, *, status: str | None = None, incident_id: str | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[tuple[FeedOutbox, Recipient]], int]:
    cond: list[ColumnElement[bool]] = []
    if status is not None:
        cond.append(FeedOutbox.status == status)
    if incident_id is not None:
        cond.append(FeedOutbox.incident_id == incident_id)
    total = session.scalar(select(func.count()).select_from(FeedOutbox).where(*cond)) or 0
    stmt = (
        select(FeedOutbox, Recipient)
        .join(Recipient, Recipient.id == FeedOutbox.recipient_id)
        .where(*cond)
        .order_by(FeedOutbox.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [(r[0], r[1]) for r in session.execute(stmt).all()], total
