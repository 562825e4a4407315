"""Alert triage: grouping window, risk score, statuses/verdicts, assignment, comments, bulk actions,
search, and suppressions (scoped, expiring, audited, counting what they hid)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from soc_api.db.base import utcnow
from soc_api.db.models import Alert, AuditLog
from soc_api.db.workflow_models import Suppression
from soc_api.services.config import default_config
from soc_api.services.scoring import risk_score
from soc_api.sink import ingest_detections
from soc_core.models import Detection
from tests.test_api_auth import ApiEnv, build_env
from tests.workflow_support import seed_alert


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ApiEnv]:
    api, store = build_env(tmp_path)
    yield api
    api.client.close()
    store.close()


def _det(event_id: str, ts: str, **kw: object) -> Detection:
    fields: dict[str, object] = {
        "rule_id": "r-ssh",
        "rule_title": "SSH brute force",
        "level": "high",
        "event_id": event_id,
        "timestamp": ts,
        "dedup_key": "r-ssh|source.ip=203.0.113.7",
        "unit": "SO_TTTT",
        "entity": {"source.ip": "203.0.113.7"},
    }
    fields.update(kw)
    return Detection(**fields)  # type: ignore[arg-type]


def _alerts(env: ApiEnv) -> list[Alert]:
    with env.sessions() as s:
        return list(s.scalars(select(Alert).order_by(Alert.group_seq)))


def test_grouping_window_folds_then_opens_a_new_alert(env: ApiEnv) -> None:
    window = default_config().alerts.grouping_window_minutes
    with env.sessions() as s:
        ingest_detections(s, [_det("e1", "2026-11-20T08:00:00Z"), _det("e2", "2026-11-20T08:30:00Z")])
        # just inside the window after the last one, then far beyond it
        inside = f"2026-11-20T{8 + (30 + window - 1) // 60:02d}:{(30 + window - 1) % 60:02d}:00Z"
        ingest_detections(s, [_det("e3", inside)])
        ingest_detections(s, [_det("e4", "2026-11-21T08:00:00Z")])
        s.commit()
    rows = _alerts(env)
    assert [(a.group_seq, a.count) for a in rows] == [(0, 3), (1, 1)]
    assert rows[0].status == rows[1].status == "new"


def test_risk_score_uses_level_security_level_and_threat_intel(env: ApiEnv) -> None:
    cfg = default_config()
    plain = seed_alert(env, "plain", level="medium", event={"soc": {"security_level": 2}})
    hot = seed_alert(env, "hot", level="medium", event={"soc": {"security_level": 4, "threat": {"matched": 2}}})
    with env.sessions() as s:
        a, b = s.get(Alert, plain), s.get(Alert, hot)
        assert a is not None and b is not None
        assert (a.security_level, a.ti_hits, b.security_level, b.ti_hits) == (2, 0, 4, 2)
        assert a.risk_score == risk_score(cfg, "medium", 2, 0)
        assert b.risk_score == risk_score(cfg, "medium", 4, 2) > a.risk_score
    body = env.client.get("/api/v1/alerts?sort=risk", headers=env.auth("analyst")).json()
    assert [i["id"] for i in body["items"]][:2] == [hot, plain]
    assert env.client.get("/api/v1/alerts?min_risk=100", headers=env.auth("analyst")).json()["total"] == 0


def test_status_flow_assignment_and_search(env: ApiEnv) -> None:
    alert_id = seed_alert(env, "a1")
    h = env.auth("analyst")
    url = f"/api/v1/alerts/{alert_id}"
    assert env.client.patch(url, headers=h, json={"status": "in_progress"}).status_code == 409  # new -> in_progress
    for change in ({"status": "acknowledged", "assignee": "analyst"}, {"status": "in_progress"}):
        assert env.client.patch(url, headers=h, json=change).status_code == 200
    assert env.client.patch(url, headers=h, json={"status": "closed"}).status_code == 409  # needs a verdict
    done = env.client.patch(url, headers=h, json={"status": "closed", "verdict": "true_positive"})
    assert done.status_code == 200 and done.json()["verdict"] == "true_positive"
    found = env.client.get("/api/v1/alerts?assignee=analyst&verdict=true_positive&q=203.0.113", headers=h).json()
    assert [i["id"] for i in found["items"]] == [alert_id]


def test_comments_on_alerts(env: ApiEnv) -> None:
    alert_id = seed_alert(env, "c1")
    url = f"/api/v1/alerts/{alert_id}/comments"
    made = env.client.post(url, headers=env.auth("analyst"), json={"body": "Đã kiểm tra nguồn"})
    assert made.status_code == 201
    listed = env.client.get(url, headers=env.auth("unit_reporter")).json()
    assert [c["body"] for c in listed["items"]] == ["Đã kiểm tra nguồn"]
    assert env.client.post(url, headers=env.auth("unit_reporter"), json={"body": "x"}).status_code == 403


def test_bulk_actions_report_each_refusal(env: ApiEnv) -> None:
    ids = [seed_alert(env, f"b{i}") for i in range(3)]
    h = env.auth("analyst")
    env.client.patch(f"/api/v1/alerts/{ids[2]}", headers=h, json={"status": "closed", "verdict": "benign"})
    resp = env.client.post(
        "/api/v1/alerts/bulk", headers=h, json={"ids": [*ids, "nope"], "status": "acknowledged", "assignee": "an"}
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["updated"] == ids[:2]
    assert set(body["errors"]) == {ids[2], "nope"} and "closed" in body["errors"][ids[2]]
    with env.sessions() as s:
        assert {a.id: a.status for a in s.scalars(select(Alert))}[ids[0]] == "acknowledged"
        audited = s.scalars(select(AuditLog.object_id).where(AuditLog.action == "alert.update")).all()
        assert set(ids[:2]) <= set(audited)
    assert (
        env.client.post("/api/v1/alerts/bulk", headers=env.auth("unit_reporter"), json={"ids": ids}).status_code == 403
    )


def test_suppression_from_verdict_hides_and_counts(env: ApiEnv) -> None:
    alert_id = seed_alert(env, "fp", entity={"source.ip": "10.0.0.9", "user.name": "scanner"})
    h = env.auth("analyst")
    env.client.patch(f"/api/v1/alerts/{alert_id}", headers=h, json={"status": "closed", "verdict": "false_positive"})
    made = env.client.post(
        f"/api/v1/alerts/{alert_id}/suppress",
        headers=h,
        json={"reason": "máy quét nội bộ", "days": 7, "entity_keys": ["source.ip"]},
    )
    assert made.status_code == 201, made.text
    sup = made.json()
    assert sup["entity"] == {"source.ip": "10.0.0.9"} and sup["verdict"] == "false_positive" and sup["active"]
    same = dict(rule_id="r-ssh", dedup_key="r-ssh|fp", entity={"source.ip": "10.0.0.9", "user.name": "scanner"})
    other = dict(rule_id="r-ssh", dedup_key="r-ssh|other", entity={"source.ip": "10.0.0.10"})
    with env.sessions() as s:
        ingest_detections(s, [_det("s1", "2026-11-20T09:00:00Z", **same), _det("s2", "2026-11-20T09:01:00Z", **same)])
        ingest_detections(s, [_det("o1", "2026-11-20T09:02:00Z", **other)])
        s.commit()
        open_keys = [a.dedup_key for a in s.scalars(select(Alert).where(Alert.status != "closed"))]
    assert open_keys == ["r-ssh|other"]
    listed = env.client.get("/api/v1/suppressions?active=true", headers=h).json()
    assert listed["total"] == 1 and listed["items"][0]["hit_count"] == 2 and listed["hidden_total"] == 2
    # switched off: detections come through again; the record stays, audited
    off = env.client.delete(f"/api/v1/suppressions/{sup['id']}", headers=h)
    assert off.status_code == 200 and off.json()["active"] is False
    with env.sessions() as s:
        ingest_detections(s, [_det("s3", "2026-11-20T09:03:00Z", **same)])
        s.commit()
        assert s.scalar(select(Alert).where(Alert.dedup_key == "r-ssh|fp", Alert.status == "new")) is not None
        actions = s.scalars(select(AuditLog.action).where(AuditLog.object_id == sup["id"])).all()
        assert actions == ["suppression.create", "suppression.update"]


def test_suppression_expires_and_field_scope(env: ApiEnv) -> None:
    h = env.auth("analyst")
    resp = env.client.post(
        "/api/v1/suppressions",
        headers=h,
        json={"rule_id": "r-web", "fields": {"url.path": "/health"}, "reason": "kiểm tra sống", "days": 1},
    )
    assert resp.status_code == 201
    sup_id = resp.json()["id"]
    web = dict(rule_id="r-web", dedup_key="r-web|x", entity={"source.ip": "10.1.1.1"})
    with env.sessions() as s:
        ingest_detections(s, [_det("w1", "2026-11-20T09:00:00Z", event={"url": {"path": "/health"}}, **web)])
        ingest_detections(s, [_det("w2", "2026-11-20T09:00:01Z", event={"url": {"path": "/admin"}}, **web)])
        s.commit()
        alert = s.scalar(select(Alert).where(Alert.dedup_key == "r-web|x"))
        assert alert is not None and alert.count == 1
        row = s.get(Suppression, sup_id)
        assert row is not None and row.hit_count == 1
        row.expires_at = utcnow() - timedelta(seconds=1)
        s.commit()
    with env.sessions() as s:
        ingest_detections(s, [_det("w3", "2026-11-20T09:00:02Z", event={"url": {"path": "/health"}}, **web)])
        s.commit()
        alert = s.scalar(select(Alert).where(Alert.dedup_key == "r-web|x"))
        assert alert is not None and alert.count == 2
    # a whole rule may not be silenced, nor for longer than the maximum
    bad = [
        {"rule_id": "r-web", "reason": "all"},
        {"rule_id": "r-web", "entity": {"a": "b"}, "reason": "long", "days": 3000},
    ]
    for body in bad:
        assert env.client.post("/api/v1/suppressions", headers=h, json=body).status_code == 422
