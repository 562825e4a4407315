"""ORM models of the analyst and unit workflow: suppressions, comments, incidents (tickets) with
their alerts, tasks, observables, timeline and attachments, unit reports, national recipients and
sendings, periodic summary drafts, and the head of the audit hash chain.

Migration ``0002_workflow`` creates these tables, ``0004_summary`` adds the summary drafts and
lets a sending belong to a reporting period (a test compares the migrations with the models). Enumerations
that the law may change (incident types, recipient kinds) are validated at the API edge against
data files, not pinned by CHECK constraints.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from soc_api.db import models as _models  # noqa: F401 - alerts table, target of incident_alerts
from soc_api.db.base import Base, UTCDateTime, utcnow
from soc_core.ids import new_id

SEVERITIES = ("normal", "serious")
PRIORITIES = ("P1", "P2", "P3", "P4")
INCIDENT_STATUSES = ("open", "investigating", "contained", "resolved", "closed", "merged")
INCIDENT_SOURCES = ("alerts", "report", "manual")
COMMENT_KINDS = ("comment", "request", "response")
CHANNELS = ("api_push", "taxii", "email", "manual")
SENDING_STATUSES = ("pending", "sent", "acknowledged", "failed")
FORM_KINDS = ("mau03", "end_report", "mau05")
OBSERVABLE_TYPES = ("ip", "domain", "url", "hash", "account", "host")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Suppression(Base):
    """Hides future detections of ``rule_id`` whose entity / event fields match, until it expires."""

    __tablename__ = "suppressions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    rule_id: Mapped[str] = mapped_column(String(255), index=True)
    entity: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # subset of the alert entity
    fields: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # flattened ECS field -> value
    reason: Mapped[str] = mapped_column(String(1000))
    verdict: Mapped[str | None] = mapped_column(String(16))
    source_alert_id: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    disabled: Mapped[bool] = mapped_column(default=False)
    hit_count: Mapped[int] = mapped_column(Integer, default=0)
    last_hit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Comment(Base):
    """A comment on an alert or incident; ``request``/``response`` are SOC <-> unit messages."""

    __tablename__ = "comments"
    __table_args__ = (
        CheckConstraint(_in("kind", COMMENT_KINDS), name="kind"),
        CheckConstraint(_in("object_type", ("alert", "incident")), name="object_type"),
        Index("ix_comments_object", "object_type", "object_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    object_type: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16), default="comment")
    author: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    reply_to: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Incident(Base):
    """A ticket: created from alerts, from a unit's report, or by hand."""

    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint(_in("severity", SEVERITIES), name="severity"),
        CheckConstraint(_in("priority", PRIORITIES), name="priority"),
        CheckConstraint(_in("status", INCIDENT_STATUSES), name="status"),
        CheckConstraint(_in("source", INCIDENT_SOURCES), name="source"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    incident_type: Mapped[str] = mapped_column(String(32), index=True)
    severity: Mapped[str] = mapped_column(String(16), default="normal")
    impacts: Mapped[list[str]] = mapped_column(JSON, default=list)
    owner_can_handle: Mapped[bool] = mapped_column(default=True)
    security_level: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[str] = mapped_column(String(2), default="P4", index=True)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    source: Mapped[str] = mapped_column(String(16), default="manual")
    unit_code: Mapped[str | None] = mapped_column(String(64), index=True)
    assignee: Mapped[str | None] = mapped_column(String(100))
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    merged_into: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    forms: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # form kind -> saved draft
    # An analyst's "share with the national centre" (migration 0006_feed; see soc_api.feed.stix).
    share_national: Mapped[bool] = mapped_column(default=False, server_default=false())


class IncidentAlert(Base):
    __tablename__ = "incident_alerts"

    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True, index=True)


class Task(Base):
    """A task of an incident; ``playbook_step`` is the key of the playbook step that seeded it (at
    most one task per step and incident), ``None`` for a task added by hand."""

    __tablename__ = "incident_tasks"
    __table_args__ = (UniqueConstraint("incident_id", "playbook_step", name="uq_incident_tasks_playbook_step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    playbook_step: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(100))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Observable(Base):
    """An indicator on one incident; the same ``(type, value)`` on several incidents links them."""

    __tablename__ = "incident_observables"
    __table_args__ = (
        CheckConstraint(_in("type", OBSERVABLE_TYPES), name="type"),
        UniqueConstraint("incident_id", "type", "value", name="uq_incident_observables_item"),
        Index("ix_incident_observables_type_value", "type", "value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(2048))
    note: Mapped[str | None] = mapped_column(String(1000))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TimelineEntry(Base):
    """Everything that happened to an incident, in order."""

    __tablename__ = "incident_timeline"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(String(1000))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Attachment(Base):
    """An uploaded file; content kept in the database, identified by its SHA-256."""

    __tablename__ = "incident_attachments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UnitReport(Base):
    """A unit's incident report (fields of Mẫu 03 in ``data``); it opens a ticket."""

    __tablename__ = "unit_reports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    unit_code: Mapped[str] = mapped_column(String(64), index=True)
    incident_id: Mapped[str | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Recipient(Base):
    """A national or provincial recipient of reports, with its channel."""

    __tablename__ = "recipients"
    __table_args__ = (CheckConstraint(_in("channel", CHANNELS), name="channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(1000))
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Sending(Base):
    """One form sent (or to be sent) to one recipient, with its delivery state.

    A sending belongs to one incident (Mẫu 03, end-of-response report) or to one reporting
    period (Mẫu 05 summary, ``period`` such as ``2026-H1``): exactly one of the two is set.
    """

    __tablename__ = "sendings"
    __table_args__ = (
        CheckConstraint(_in("status", SENDING_STATUSES), name="status"),
        CheckConstraint(_in("form_kind", FORM_KINDS), name="form_kind"),
        CheckConstraint("(incident_id IS NULL) <> (period IS NULL)", name="subject"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    period: Mapped[str | None] = mapped_column(String(7), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id", ondelete="CASCADE"), index=True)
    form_kind: Mapped[str] = mapped_column(String(16))
    format: Mapped[str] = mapped_column(String(8))
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    note: Mapped[str | None] = mapped_column(String(1000))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SummaryReport(Base):
    """The analyst's draft of one periodic summary (Mẫu 05): what the tickets cannot tell.

    ``period`` is ``YYYY-H1``, ``YYYY-H2`` or ``YYYY``; the counts are computed from the incidents
    every time (:mod:`soc_api.services.summary`), only the reporting organisation, signatory,
    supporting organisations, recommendations and per-type extras are kept in ``draft``.
    """

    __tablename__ = "summary_reports"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    draft: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditHead(Base):
    """Single row: the last sequence number and hash of the audit chain (a lock point for appends)."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
