"""ORM models of the national feed: the STIX objects served over TAXII (every version kept) and
the push outbox (one row per incident bundle version and recipient).

Migration ``0006_feed`` creates exactly these tables, and the ``share_national`` flag of
incidents (a test compares the two).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from soc_api.db.base import Base, UTCDateTime, utcnow

OUTBOX_STATUSES = ("pending", "sent", "acknowledged", "failed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class FeedObject(Base):
    """One version of one STIX object in the TAXII collection; rows are only ever added.

    ``version`` is the object's ``modified`` (``created`` for marking definitions), as STIX writes
    it; ``date_added`` is when this server added the version (TAXII ``added_after`` filters on it).
    """

    __tablename__ = "feed_objects"
    __table_args__ = (UniqueConstraint("stix_id", "version", name="uq_feed_objects_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    stix_id: Mapped[str] = mapped_column(String(128), index=True)
    stix_type: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[str] = mapped_column(String(32))
    incident_id: Mapped[str | None] = mapped_column(String(32), index=True)  # None: identity, marking
    date_added: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    object: Mapped[dict[str, Any]] = mapped_column(JSON)


class FeedOutbox(Base):
    """One incident bundle version to push to one recipient, with its delivery and acknowledgement.

    ``payload`` holds the exact bytes sent on every attempt, under the same ``idempotency_key``.
    """

    __tablename__ = "feed_outbox"
    __table_args__ = (
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
        UniqueConstraint("incident_id", "recipient_id", "bundle_sha256", name="uq_feed_outbox_version"),
        Index("ix_feed_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id", ondelete="CASCADE"), index=True)
    bundle_id: Mapped[str] = mapped_column(String(64))
    bundle_sha256: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    http_status: Mapped[int | None] = mapped_column(Integer)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ack_id: Mapped[str | None] = mapped_column(String(255))
    ack_body: Mapped[str | None] = mapped_column(Text)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
