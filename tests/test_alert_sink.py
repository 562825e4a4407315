"""Alert sink: folding detections into alerts by dedup_key, idempotently."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from soc_api.db import migrate
from soc_api.db.models import Alert, AlertEvent
from soc_api.db.session import make_engine, make_sessionmaker
from soc_api.sink import ingest_detections
from soc_core.models import Detection


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'soc.db'}"
    migrate(url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()


def det(event_id: str, ts: str, key: str = "rule-a|10.0.0.5", **kw: object) -> Detection:
    fields: dict[str, object] = {
        "rule_id": "rule-a",
        "rule_title": "SSH brute force",
        "level": "high",
        "event_id": event_id,
        "timestamp": ts,
        "dedup_key": key,
        "tags": ["attack.t1110"],
        "unit": "SO_TTTT",
        "entity": {"source.ip": "10.0.0.5"},
    }
    fields.update(kw)
    return Detection(**fields)  # type: ignore[arg-type]


def alerts(session: Session) -> list[Alert]:
    return list(session.scalars(select(Alert).order_by(Alert.created_at, Alert.id)))


def link_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AlertEvent)) or 0


def test_groups_by_dedup_key_and_tracks_first_last_seen(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        n = ingest_detections(
            s,
            [
                det("e2", "2026-11-20T08:00:05Z"),
                det("e1", "2026-11-20T08:00:01Z"),
                det("e3", "2026-11-20T08:00:09Z"),
                det("x1", "2026-11-20T09:00:00Z", key="rule-a|10.0.0.9", entity={"source.ip": "10.0.0.9"}),
            ],
        )
        s.commit()
    assert n == 4
    with sessions() as s:
        rows = {a.dedup_key: a for a in alerts(s)}
        assert set(rows) == {"rule-a|10.0.0.5", "rule-a|10.0.0.9"}
        a = rows["rule-a|10.0.0.5"]
        assert a.count == 3
        assert a.first_seen == datetime(2026, 11, 20, 8, 0, 1, tzinfo=UTC)
        assert a.last_seen == datetime(2026, 11, 20, 8, 0, 9, tzinfo=UTC)
        assert a.status == "new"
        assert a.unit_code == "SO_TTTT"
        assert a.entity == {"source.ip": "10.0.0.5"}
        assert rows["rule-a|10.0.0.9"].count == 1
        assert link_count(s) == 4


def test_redelivered_detection_changes_nothing(sessions: sessionmaker[Session]) -> None:
    batch = [det("e1", "2026-11-20T08:00:01Z"), det("e2", "2026-11-20T08:00:02Z")]
    with sessions() as s:
        assert ingest_detections(s, batch) == 2
        s.commit()
    with sessions() as s:
        before = [(a.id, a.count, a.first_seen, a.last_seen, a.updated_at) for a in alerts(s)]
    with sessions() as s:
        # Same detections again, in a later batch and duplicated inside one batch.
        assert ingest_detections(s, [*batch, batch[0]]) == 0
        s.commit()
    with sessions() as s:
        after = [(a.id, a.count, a.first_seen, a.last_seen, a.updated_at) for a in alerts(s)]
        assert after == before
        assert after[0][1] == 2
        assert link_count(s) == 2


def test_duplicate_inside_one_batch_counts_once(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        assert ingest_detections(s, [det("e1", "2026-11-20T08:00:01Z")] * 3) == 1
        s.commit()
        assert [a.count for a in alerts(s)] == [1]


def test_closed_alert_then_new_detection_opens_new_alert(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        ingest_detections(s, [det("e1", "2026-11-20T08:00:01Z")])
        s.commit()
        first = alerts(s)[0]
        first.status = "closed"
        first.verdict = "true_positive"
        s.commit()
    with sessions() as s:
        # A redelivery of the event already linked to the closed alert is still a no-op ...
        assert ingest_detections(s, [det("e1", "2026-11-20T08:00:01Z")]) == 0
        # ... but a new event with the same key opens a fresh alert.
        assert ingest_detections(s, [det("e2", "2026-11-20T10:00:00Z")]) == 1
        s.commit()
    with sessions() as s:
        rows = alerts(s)
        assert len(rows) == 2
        closed, reopened = rows
        assert closed.status == "closed" and closed.count == 1
        assert reopened.status == "new" and reopened.count == 1
        assert reopened.id != closed.id
        assert reopened.first_seen == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def test_database_refuses_two_open_alerts_with_one_key(sessions: sessionmaker[Session]) -> None:
    now = datetime(2026, 11, 20, tzinfo=UTC)
    with sessions() as s:
        for _ in range(2):
            s.add(Alert(dedup_key="k", rule_id="r", rule_title="t", level="low", first_seen=now, last_seen=now))
        with pytest.raises(IntegrityError):
            s.commit()


def test_level_escalates_tags_merge_and_bad_timestamp_is_tolerated(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        ingest_detections(
            s,
            [
                det("e1", "2026-11-20T08:00:01Z", level="medium", tags=["a", "a"]),
                det("e2", "not a time", level="critical", tags=["b"]),
                det("e3", "2026-11-20T08:00:03+07:00", level="bogus"),
            ],
        )
        s.commit()
        (a,) = alerts(s)
        assert a.count == 3
        assert a.level == "critical"
        assert a.tags == ["a", "b", "attack.t1110"]
        # +07:00 is stored as UTC.
        assert a.first_seen == datetime(2026, 11, 20, 1, 0, 3, tzinfo=UTC)


def test_anomaly_context_is_kept_on_the_alert_and_rule_matches_have_none(sessions: sessionmaker[Session]) -> None:
    anomaly = {
        "model": "baseline",
        "score": -0.61,
        "threshold": -0.52,
        "entity": {"source.ip": "10.0.0.5"},
        "window": {"start": "2026-03-01T08:00:00Z", "end": "2026-03-01T08:05:00Z", "closed_early": False},
        "features": {"events": 40.0, "auth_failures": 38.0, "distinct_users": 12.0, "bytes": 0.0},
        "top_features": ["auth_failures", "distinct_users"],
    }
    first = det(
        "e1", "2026-03-01T08:04:00Z", key="model:baseline|source.ip=10.0.0.5", event={"soc": {"anomaly": anomaly}}
    )
    later = {**anomaly, "score": -0.7, "top_features": ["events"]}
    second = det(
        "e2", "2026-03-01T08:09:00Z", key="model:baseline|source.ip=10.0.0.5", event={"soc": {"anomaly": later}}
    )
    plain = det("e3", "2026-03-01T08:04:00Z", key="rule-a|10.0.0.9")
    with sessions() as s, s.begin():
        ingest_detections(s, [first, plain])
    with sessions() as s:
        alerts = {a.dedup_key: a for a in s.scalars(select(Alert))}
        context = alerts["model:baseline|source.ip=10.0.0.5"].context
        assert context == {
            "anomaly": {
                "model": "baseline",
                "score": -0.61,
                "threshold": -0.52,
                "entity": {"source.ip": "10.0.0.5"},
                "window": anomaly["window"],
                "top_features": ["auth_failures", "distinct_users"],
                "top_values": {"auth_failures": 38.0, "distinct_users": 12.0},
            }
        }
        assert alerts["rule-a|10.0.0.9"].context is None
    with sessions() as s, s.begin():
        ingest_detections(s, [second])
    with sessions() as s:
        alert = s.scalars(select(Alert).where(Alert.dedup_key == "model:baseline|source.ip=10.0.0.5")).one()
        assert alert.count == 2
        assert alert.context is not None
        assert alert.context["anomaly"]["score"] == -0.7  # the latest window explains the alert
        assert alert.context["anomaly"]["top_values"] == {"events": 40.0}
