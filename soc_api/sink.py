"""Alert sink — the last stage of the detection path.

Neighbours: upstream, the pipeline's detect stage publishes :class:`~soc_core.models.Detection`
records on ``soc.alerts``; a consumer hands batches to :func:`ingest_detections`, commits the
session, and only then commits its bus offsets. Downstream, the alert routes read what it wrote.

Folding: detections with the same ``dedup_key`` (rule + entity) whose time falls within the
grouping window of an open alert join it (count, first/last seen); later ones open a new alert
(next ``group_seq``). Active suppressions are checked first: a matching detection only raises
the suppression's hit count. Each alert carries a risk score from rule level, the asset's
security level (``soc.security_level``) and threat-intel hits (``soc.threat.matched``).

Idempotent: an event is linked to an alert at most once per ``dedup_key``, so a redelivered
detection changes nothing and ``alert.count`` is the number of distinct linked events.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import false, func, select
from sqlalchemy.orm import Session

from soc_api.db.base import utcnow
from soc_api.db.models import Alert, AlertEvent
from soc_api.db.workflow_models import Suppression
from soc_api.services.config import WorkflowConfig, default_config
from soc_api.services.matching import flatten, matches
from soc_api.services.scoring import risk_score, security_level_of, ti_hits_of
from soc_core.models import LEVELS, Detection

log = logging.getLogger(__name__)

_LEVEL_RANK = {level: rank for rank, level in enumerate(LEVELS)}


_ANOMALY_KEYS = ("model", "score", "threshold", "entity", "window", "top_features")


def context_of(event: dict[str, Any]) -> dict[str, Any] | None:
    """What the alert shows beyond its rule: an anomaly model's ``soc.anomaly`` block, trimmed to the
    score, threshold, entity, window, top features and their values; ``None`` for rule matches."""
    soc = event.get("soc")
    anomaly = soc.get("anomaly") if isinstance(soc, dict) else None
    if not isinstance(anomaly, dict):
        return None
    out: dict[str, Any] = {k: anomaly[k] for k in _ANOMALY_KEYS if k in anomaly}
    features = anomaly.get("features")
    top = anomaly.get("top_features")
    if isinstance(features, dict) and isinstance(top, list):
        out["top_values"] = {name: features[name] for name in top if isinstance(name, str) and name in features}
    return {"anomaly": out}


def _parse_time(value: str) -> datetime | None:
    try:
        ts = datetime.fromisoformat(value)
    except (ValueError, TypeError):
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _clip(value: str, size: int) -> str:
    return value if len(value) <= size else value[:size]


def _already_linked(session: Session, dedup_key: str, event_id: str) -> bool:
    stmt = (
        select(AlertEvent.alert_id)
        .join(Alert, Alert.id == AlertEvent.alert_id)
        .where(AlertEvent.event_id == event_id, Alert.dedup_key == dedup_key)
        .limit(1)
    )
    return session.scalar(stmt) is not None


def _active_suppressions(session: Session, rule_ids: set[str], now: datetime) -> dict[str, list[Suppression]]:
    if not rule_ids:
        return {}
    rows = session.scalars(
        select(Suppression).where(
            Suppression.rule_id.in_(rule_ids), Suppression.disabled == false(), Suppression.expires_at > now
        )
    )
    out: dict[str, list[Suppression]] = {}
    for row in rows:
        out.setdefault(row.rule_id, []).append(row)
    return out


class _Groups:
    """Open alerts per dedup key, loaded once per batch."""

    def __init__(self, session: Session, window: timedelta | None) -> None:
        self.session = session
        self.window = window
        self.open: dict[str, list[Alert]] = {}

    def candidates(self, key: str) -> list[Alert]:
        if key not in self.open:
            stmt = select(Alert).where(Alert.dedup_key == key, Alert.status != "closed").order_by(Alert.group_seq)
            self.open[key] = list(self.session.scalars(stmt))
        return self.open[key]

    def find(self, key: str, ts: datetime | None) -> Alert | None:
        alerts = self.candidates(key)
        if not alerts:
            return None
        if ts is None or self.window is None:
            return alerts[-1]
        for alert in reversed(alerts):
            if alert.first_seen - self.window <= ts <= alert.last_seen + self.window:
                return alert
        earliest = min(alerts, key=lambda a: a.first_seen)
        # Late arrival older than every open group: it extends the earliest one backwards. Only
        # activity after a group's window opens a new alert.
        return earliest if ts < earliest.first_seen else None

    def next_seq(self, key: str) -> int:
        top = self.session.scalar(select(func.max(Alert.group_seq)).where(Alert.dedup_key == key))
        return 0 if top is None else top + 1

    def add(self, key: str, alert: Alert) -> None:
        self.candidates(key).append(alert)


def ingest_detections(session: Session, detections: Sequence[Detection], config: WorkflowConfig | None = None) -> int:
    """Fold ``detections`` into alerts; returns how many new event links were made.

    Suppressed detections make no link; they count on their suppression. Commit is the caller's.
    """
    cfg = config or default_config()
    window_minutes = cfg.alerts.grouping_window_minutes
    groups = _Groups(session, timedelta(minutes=window_minutes) if window_minutes > 0 else None)
    linked: set[tuple[str, str]] = set()
    new_links = 0
    now = utcnow()
    suppressions = _active_suppressions(session, {_clip(d.rule_id, 255) for d in detections}, now)
    for det in detections:
        dedup_key = _clip(det.dedup_key or f"{det.rule_id}:{det.event_id}", 255)
        event_id = _clip(det.event_id, 128)
        rule_id = _clip(det.rule_id, 255)
        if (dedup_key, event_id) in linked or _already_linked(session, dedup_key, event_id):
            continue
        event = det.event if isinstance(det.event, dict) else {}
        hiding = suppressions.get(rule_id)
        if hiding:
            flat = flatten(event)
            hit = next((s for s in hiding if matches(s.entity, s.fields, det.entity, flat)), None)
            if hit is not None:
                hit.hit_count += 1
                hit.last_hit_at = now
                linked.add((dedup_key, event_id))
                continue
        parsed = _parse_time(det.timestamp)
        if parsed is None:
            log.warning("detection %s/%s: unreadable timestamp %r, using now", det.rule_id, event_id, det.timestamp)
        ts = parsed or now
        level = det.level if det.level in _LEVEL_RANK else "medium"
        sec_level = security_level_of(event)
        ti_hits = ti_hits_of(event)
        context = context_of(event)
        alert = groups.find(dedup_key, parsed)
        if alert is None:
            alert = Alert(
                dedup_key=dedup_key,
                group_seq=groups.next_seq(dedup_key),
                rule_id=rule_id,
                rule_title=_clip(det.rule_title, 500),
                level=level,
                tags=list(dict.fromkeys(det.tags)),
                unit_code=_clip(det.unit, 64) if det.unit else None,
                entity=dict(det.entity),
                first_seen=ts,
                last_seen=ts,
                count=0,
                status="new",
                security_level=sec_level,
                ti_hits=ti_hits,
                context=context,
                created_at=now,
                updated_at=now,
            )
            session.add(alert)
            session.flush()
            groups.add(dedup_key, alert)
        else:
            alert.first_seen = min(alert.first_seen, ts)
            alert.last_seen = max(alert.last_seen, ts)
            if _LEVEL_RANK[level] > _LEVEL_RANK.get(alert.level, 0):
                alert.level = level
            if any(tag not in alert.tags for tag in det.tags):
                alert.tags = list(dict.fromkeys([*alert.tags, *det.tags]))
            if sec_level is not None and (alert.security_level is None or sec_level > alert.security_level):
                alert.security_level = sec_level
            alert.ti_hits = max(alert.ti_hits or 0, ti_hits)
            if context is not None:
                alert.context = context  # the latest window's explanation
            alert.updated_at = now
        alert.risk_score = risk_score(cfg, alert.level, alert.security_level, alert.ti_hits or 0)
        session.add(AlertEvent(alert_id=alert.id, event_id=event_id, timestamp=ts))
        alert.count += 1
        linked.add((dedup_key, event_id))
        new_links += 1
    session.flush()
    return new_links


__all__ = ["ingest_detections"]
