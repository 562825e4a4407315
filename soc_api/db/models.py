"""ORM models of the alert database: units, users, API tokens, alerts, alert events, audit log.

The Alembic migrations under :mod:`soc_api.migrations` create exactly these tables; a test
compares the two.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from soc_api.db.base import Base, UTCDateTime, utcnow
from soc_core.ids import new_id
from soc_core.models import ALERT_STATUSES, LEVELS, VERDICTS

ROLES = ("admin", "analyst", "unit_reporter", "feed_client")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Unit(Base):
    """An administrative unit (sở, ban, ngành, UBND huyện/xã); ``parent_code`` builds the tree."""

    __tablename__ = "units"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    parent_code: Mapped[str | None] = mapped_column(String(64), index=True)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    unit_code: Mapped[str | None] = mapped_column(String(64), ForeignKey("units.code"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled: Mapped[bool] = mapped_column(default=False)
    password_hash: Mapped[str | None] = mapped_column(String(255))  # argon2 (pwdlib); None: no login


class ApiToken(Base):
    """A bearer token; only its SHA-256 (hex) is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16), default="api", server_default="api")  # api | session


class Alert(Base):
    """Detections folded by ``dedup_key``; at most one alert per key is not closed."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(_in("status", ALERT_STATUSES), name="status"),
        CheckConstraint(f"verdict IS NULL OR {_in('verdict', VERDICTS)}", name="verdict"),
        CheckConstraint(_in("level", LEVELS), name="level"),
        Index(
            "uq_alerts_open_dedup_key_group",
            "dedup_key",
            "group_seq",
            unique=True,
            sqlite_where=text("status != 'closed'"),
            postgresql_where=text("status != 'closed'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    dedup_key: Mapped[str] = mapped_column(String(255), index=True)
    rule_id: Mapped[str] = mapped_column(String(255), index=True)
    rule_title: Mapped[str] = mapped_column(String(500))
    level: Mapped[str] = mapped_column(String(16), index=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    unit_code: Mapped[str | None] = mapped_column(String(64), index=True)
    entity: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    verdict: Mapped[str | None] = mapped_column(String(16))
    assignee: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Grouping window: a key seen again after the window opens a new group (group_seq + 1).
    group_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    security_level: Mapped[int | None] = mapped_column(Integer)  # highest soc.security_level seen
    ti_hits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # soc.threat.matched
    risk_score: Mapped[int] = mapped_column(Integer, default=0, server_default="0", index=True)
    # Why it fired beyond the rule: an anomaly model's score, threshold, window and top features
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AlertEvent(Base):
    """Link from an alert to one triggering event (the event itself lives in the event store)."""

    __tablename__ = "alert_events"

    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditLog(Base):
    """Append-only record of every change; the code has no update or delete path for it.

    Tamper-evident: ``hash = sha256(prev_hash + canonical JSON of the entry)``, entries chained
    in ``seq`` order (see :mod:`soc_api.crud.audit`).
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seq: Mapped[int | None] = mapped_column(Integer)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


Index("ix_audit_log_object", AuditLog.object_type, AuditLog.object_id)
Index("uq_audit_log_seq", AuditLog.seq, unique=True)

# The workflow tables share this metadata; importing them here keeps Base.metadata complete for
# every importer of the models (migrations, schema comparison tests).
from soc_api.db import feed_models as _feed_models  # noqa: E402,F401
from soc_api.db import workflow_models as _workflow_models  # noqa: E402,F401
