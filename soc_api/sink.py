"""Alert sink — the last stage of the detection path.

Neighbours: upstream, the pipeline's detect stage publishes :class:`~soc_core.models.Detection`
records on ``soc.alerts``; a consumer hands batches to :func:`ingest_detections`, commits the
session, and only then commits its bus offsets. Downstream, the alert routes read what it wrote.

Idempotent: an event is linked to an alert at most once per ``dedup_key``, so a redelivered
detection changes nothing and ``alert.count`` is the number of distinct linked events.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from soc_api.db.base import utcnow
from soc_api.db.models import Alert, AlertEvent
from soc_core.models import LEVELS, Detection

log = logging.getLogger(__name__)

_LEVEL_RANK = {level: rank for rank, level in enumerate(LEVELS)}


def _parse_time(value: str) -> datetime | None:
    try:
        ts = datetime.fromisoformat(value)
    except (ValueError, TypeError):
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _clip(value: str, size: int) -> str:
    return value if len(value) <= size else value[:size]


def _open_alert(session: Session, dedup_key: str) -> Alert | None:
    return session.scalar(select(Alert).where(Alert.dedup_key == dedup_key, Alert.status != "closed"))


def _already_linked(session: Session, dedup_key: str, event_id: str) -> bool:
    stmt = (
        select(AlertEvent.alert_id)
        .join(Alert, Alert.id == AlertEvent.alert_id)
        .where(AlertEvent.event_id == event_id, Alert.dedup_key == dedup_key)
        .limit(1)
    )
    return session.scalar(stmt) is not None


def ingest_detections(session: Session, detections: Sequence[Detection]) -> int:
    """Fold ``detections`` into alerts by ``dedup_key``; returns how many new event links were made.

    A detection joins the open (not closed) alert with its key, or opens a new one. Commit is the
    caller's.
    """
    linked: set[tuple[str, str]] = set()
    open_alerts: dict[str, Alert] = {}
    new_links = 0
    now = utcnow()
    for det in detections:
        dedup_key = _clip(det.dedup_key or f"{det.rule_id}:{det.event_id}", 255)
        event_id = _clip(det.event_id, 128)
        if (dedup_key, event_id) in linked or _already_linked(session, dedup_key, event_id):
            continue
        ts = _parse_time(det.timestamp)
        if ts is None:
            log.warning("detection %s/%s: unreadable timestamp %r, using now", det.rule_id, event_id, det.timestamp)
            ts = now
        level = det.level if det.level in _LEVEL_RANK else "medium"
        alert = open_alerts.get(dedup_key) or _open_alert(session, dedup_key)
        if alert is None:
            alert = Alert(
                dedup_key=dedup_key,
                rule_id=_clip(det.rule_id, 255),
                rule_title=_clip(det.rule_title, 500),
                level=level,
                tags=list(dict.fromkeys(det.tags)),
                unit_code=_clip(det.unit, 64) if det.unit else None,
                entity=dict(det.entity),
                first_seen=ts,
                last_seen=ts,
                count=0,
                status="new",
                created_at=now,
                updated_at=now,
            )
            session.add(alert)
            session.flush()
        else:
            alert.first_seen = min(alert.first_seen, ts)
            alert.last_seen = max(alert.last_seen, ts)
            if _LEVEL_RANK[level] > _LEVEL_RANK.get(alert.level, 0):
                alert.level = level
            if any(tag not in alert.tags for tag in det.tags):
                alert.tags = list(dict.fromkeys([*alert.tags, *det.tags]))
            alert.updated_at = now
        open_alerts[dedup_key] = alert
        session.add(AlertEvent(alert_id=alert.id, event_id=event_id, timestamp=ts))
        alert.count += 1
        linked.add((dedup_key, event_id))
        new_links += 1
    session.flush()
    return new_links
