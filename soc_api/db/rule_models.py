"""ORM models of the rule-health view: per-worker rule counters and log sources seen.

Filled by the API role's rule-stats sink (:func:`soc_api.crud.rules.ingest_rule_stats`) from the
snapshots workers publish to ``soc.rule_stats``; counters are cumulative per worker run, so rows
are replaced (never added to) and the view sums over workers. Migration ``0002_rules``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from soc_api.db.base import Base, UTCDateTime, utcnow


class RuleHealth(Base):
    """Counters of one rule in one worker run."""

    __tablename__ = "rule_health"

    worker: Mapped[str] = mapped_column(String(100), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)
    evaluated: Mapped[int] = mapped_column(BigInteger, default=0)
    hits: Mapped[int] = mapped_column(BigInteger, default=0)
    last_evaluated: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_fired: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RuleLogsourceSeen(Base):
    """A log source (product/category/service values) present in one worker run's data."""

    __tablename__ = "rule_logsources_seen"

    worker: Mapped[str] = mapped_column(String(100), primary_key=True)
    label: Mapped[str] = mapped_column(String(255), primary_key=True)
    sources: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    events: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
