"""SOC API alert routes: filters, pagination, unit scoping, detail with events, transitions + audit.

Uses the project's real embedded event store (soc_core.embedded.sqlite_events) and a migrated
temporary SQLite database, through tests.test_api_auth.build_env.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from soc_api.crud import audit
from soc_api.db.models import Alert, AuditLog
from soc_api.sink import ingest_detections
from soc_core.models import Detection
from tests.test_api_auth import ApiEnv, build_env

# name -> (rule_id, title, level, unit, entity, timestamps)
SEED: dict[str, tuple[str, str, str, str | None, dict[str, str], list[str]]] = {
    "A1": (
        "r-ssh",
        "SSH brute force",
        "high",
        "SO_TTTT",
        {"source.ip": "10.0.0.5", "user.name": "nguyễn văn a"},
        ["2026-11-20T08:00:01Z", "2026-11-20T08:00:03Z", "2026-11-20T08:00:02Z"],
    ),
    "A2": (
        "r-web",
        "Web shell upload",
        "medium",
        "SO_TTTT_TT",
        {"url.domain": "dichvucong.thanhhoa.gov.vn"},
        ["2026-11-21T10:00:00Z"],
    ),
    "A3": (
        "r-web",
        "Web shell upload",
        "critical",
        "HUYEN_A",
        {"url.domain": "huyena.gov.vn"},
        ["2026-11-22T00:00:00Z"],
    ),
    "A4": ("r-ssh", "SSH brute force 100%", "low", None, {"source.ip": "10.9.9.9"}, ["2026-11-19T00:00:00Z"]),
}


def _seed(env: ApiEnv, name: str, spec: tuple[str, str, str, str | None, dict[str, str], list[str]]) -> str:
    rule_id, title, level, unit, entity, stamps = spec
    events: list[dict[str, Any]] = []
    detections = []
    for i, ts in enumerate(stamps):
        event_id = f"{name}-ev{i}"
        events.append({"@timestamp": ts, "event": {"id": event_id, "original": f"line {i}"}, "message": name})
        detections.append(
            Detection(
                rule_id=rule_id,
                rule_title=title,
                level=level,
                event_id=event_id,
                timestamp=ts,
                dedup_key=f"{rule_id}|{name}",
                unit=unit,
                entity=entity,
            )
        )
    env.store.write(events)
    with env.sessions() as s:
        ingest_detections(s, detections)
        s.commit()
        return s.scalars(select(Alert.id).where(Alert.dedup_key == f"{rule_id}|{name}")).one()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ApiEnv]:
    api, store = build_env(tmp_path)
    yield api
    api.client.close()
    store.close()


@pytest.fixture
def ids(env: ApiEnv) -> dict[str, str]:
    return {name: _seed(env, name, spec) for name, spec in SEED.items()}


def _names(env: ApiEnv, ids: dict[str, str], query: str = "", who: str = "analyst") -> list[str]:
    resp = env.client.get(f"/api/v1/alerts?{query}", headers=env.auth(who))
    assert resp.status_code == 200, resp.text
    by_id = {v: k for k, v in ids.items()}
    body = resp.json()
    assert body["total"] >= len(body["items"])
    return [by_id[item["id"]] for item in body["items"]]


def test_list_is_newest_first_with_public_fields(env: ApiEnv, ids: dict[str, str]) -> None:
    resp = env.client.get("/api/v1/alerts", headers=env.auth("analyst")).json()
    assert resp["total"] == 4
    assert _names(env, ids) == ["A3", "A2", "A1", "A4"]
    a1 = next(i for i in resp["items"] if i["id"] == ids["A1"])
    assert a1["count"] == 3 and a1["status"] == "new" and a1["unit_code"] == "SO_TTTT"
    assert a1["first_seen"].startswith("2026-11-20T08:00:01") and a1["last_seen"].startswith("2026-11-20T08:00:03")
    assert a1["entity"]["user.name"] == "nguyễn văn a"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("level=critical", ["A3"]),
        ("rule_id=r-web", ["A3", "A2"]),
        ("unit=SO_TTTT", ["A1"]),
        ("status=new", ["A3", "A2", "A1", "A4"]),
        ("status=closed", []),
        ("since=2026-11-21T00:00:00Z", ["A3", "A2"]),
        ("until=2026-11-20T00:00:00%2B00:00", ["A4"]),
        ("since=2026-11-20T00:00:00Z&until=2026-11-21T12:00:00Z", ["A2", "A1"]),
        ("q=nguy%E1%BB%85n", ["A1"]),
        ("q=DICHVUCONG", ["A2"]),
        ("q=brute", ["A1", "A4"]),
        ("q=100%25", ["A4"]),
        ("q=%25", ["A4"]),
        ("q=_", []),
        ("level=high&rule_id=r-web", []),
    ],
)
def test_filters(env: ApiEnv, ids: dict[str, str], query: str, expected: list[str]) -> None:
    assert _names(env, ids, query) == expected


def test_pagination(env: ApiEnv, ids: dict[str, str]) -> None:
    pages: list[str] = []
    for offset in (0, 2):
        body = env.client.get(f"/api/v1/alerts?limit=2&offset={offset}", headers=env.auth("admin")).json()
        assert body["total"] == 4 and len(body["items"]) == 2
        pages.extend(item["id"] for item in body["items"])
    assert pages == [ids[n] for n in ("A3", "A2", "A1", "A4")]
    empty = env.client.get("/api/v1/alerts?limit=2&offset=10", headers=env.auth("admin")).json()
    assert empty == {"items": [], "total": 4}


def test_unit_reporter_sees_only_its_subtree(env: ApiEnv, ids: dict[str, str]) -> None:
    # SO_TTTT and its child SO_TTTT_TT; not the sibling HUYEN_A, not unit-less alerts.
    assert _names(env, ids, who="unit_reporter") == ["A2", "A1"]
    body = env.client.get("/api/v1/alerts", headers=env.auth("unit_reporter")).json()
    assert body["total"] == 2
    assert _names(env, ids, "unit=HUYEN_A", who="unit_reporter") == []
    assert _names(env, ids, "level=critical", who="unit_reporter") == []
    assert _names(env, ids, who="huyen_reporter") == ["A3"]
    h = env.auth("unit_reporter")
    assert env.client.get(f"/api/v1/alerts/{ids['A2']}", headers=h).status_code == 200  # child unit
    assert env.client.get(f"/api/v1/alerts/{ids['A1']}", headers=h).status_code == 200
    for outside in ("A3", "A4"):
        resp = env.client.get(f"/api/v1/alerts/{ids[outside]}", headers=h)
        assert resp.status_code == 404, outside
    assert (
        env.client.patch(f"/api/v1/alerts/{ids['A1']}", headers=h, json={"status": "acknowledged"}).status_code == 403
    )
    with env.sessions() as s:
        assert s.get(Alert, ids["A1"]).status == "new"  # type: ignore[union-attr]


def test_detail_has_events_newest_first(env: ApiEnv, ids: dict[str, str]) -> None:
    body = env.client.get(f"/api/v1/alerts/{ids['A1']}", headers=env.auth("analyst")).json()
    assert body["id"] == ids["A1"] and body["events_error"] is None
    assert [e["@timestamp"] for e in body["events"]] == [
        "2026-11-20T08:00:03Z",
        "2026-11-20T08:00:02Z",
        "2026-11-20T08:00:01Z",
    ]
    assert {e["event"]["id"] for e in body["events"]} == {"A1-ev0", "A1-ev1", "A1-ev2"}
    assert env.client.get("/api/v1/alerts/doesnotexist", headers=env.auth("analyst")).status_code == 404


def test_detail_caps_events_at_100(env: ApiEnv) -> None:
    stamps = [f"2026-11-20T09:{i // 60:02d}:{i % 60:02d}Z" for i in range(105)]
    alert_id = _seed(env, "BIG", ("r-big", "Many", "low", "SO_TTTT", {}, stamps))
    body = env.client.get(f"/api/v1/alerts/{alert_id}", headers=env.auth("analyst")).json()
    assert body["count"] == 105
    assert len(body["events"]) == 100
    got = [e["@timestamp"] for e in body["events"]]
    assert got == sorted(stamps, reverse=True)[:100]


def _patch(env: ApiEnv, alert_id: str, body: dict[str, Any], who: str = "analyst") -> tuple[int, Any]:
    resp = env.client.patch(f"/api/v1/alerts/{alert_id}", headers=env.auth(who), json=body)
    return resp.status_code, resp.json()


def test_acknowledged_alert_closes_with_verdict(env: ApiEnv, ids: dict[str, str]) -> None:
    a2 = ids["A2"]
    assert _patch(env, a2, {"status": "acknowledged"})[0] == 200
    code, body = _patch(env, a2, {"status": "closed", "verdict": "false_positive"})
    assert code == 200 and body["status"] == "closed" and body["verdict"] == "false_positive"


def test_status_transitions_and_audit(env: ApiEnv, ids: dict[str, str]) -> None:
    a1 = ids["A1"]
    code, body = _patch(env, a1, {"status": "in_progress"})
    assert code == 409 and "new -> in_progress" in body["detail"]
    assert _patch(env, a1, {"status": "acknowledged", "assignee": "an.nv"})[0] == 200
    code, body = _patch(env, a1, {"status": "closed"})
    assert code == 409 and "verdict" in body["detail"]
    assert _patch(env, a1, {"status": "in_progress"})[0] == 200
    code, body = _patch(env, a1, {"status": "closed"})
    assert code == 409 and "verdict" in body["detail"]
    code, body = _patch(env, a1, {"status": "closed", "verdict": "true_positive"})
    assert code == 200 and body["status"] == "closed" and body["verdict"] == "true_positive"
    assert body["assignee"] == "an.nv"
    code, body = _patch(env, a1, {"status": "new"})
    assert code == 409 and "closed" in body["detail"]
    assert _patch(env, a1, {"assignee": "other"})[0] == 409

    with env.sessions() as s:
        rows = audit.entries_for(s, "alert", a1)
        assert [(r.actor, r.action) for r in rows] == [("analyst", "alert.update")] * 3
        assert rows[0].detail == {
            "old": {"status": "new", "assignee": None},
            "new": {"status": "acknowledged", "assignee": "an.nv"},
        }
        assert rows[1].detail == {"old": {"status": "acknowledged"}, "new": {"status": "in_progress"}}
        assert rows[2].detail == {
            "old": {"status": "in_progress", "verdict": None},
            "new": {"status": "closed", "verdict": "true_positive"},
        }
        assert rows[0].at <= rows[1].at <= rows[2].at
    listed = env.client.get("/api/v1/alerts?status=closed", headers=env.auth("analyst")).json()
    assert [i["id"] for i in listed["items"]] == [a1]


def test_new_to_closed_and_noop_updates(env: ApiEnv, ids: dict[str, str]) -> None:
    a2 = ids["A2"]
    code, body = _patch(env, a2, {})
    assert code == 200 and body["status"] == "new"
    assert _patch(env, a2, {"status": "new"})[0] == 200  # unchanged: no audit row
    code, body = _patch(env, a2, {"status": "closed", "verdict": "false_positive"}, who="admin")
    assert code == 200 and body["status"] == "closed"
    with env.sessions() as s:
        rows = audit.entries_for(s, "alert", a2)
        assert [(r.actor, r.detail["new"]) for r in rows] == [
            ("admin", {"status": "closed", "verdict": "false_positive"})
        ]
        total = s.scalar(select(func.count()).select_from(AuditLog))
    assert total == 1
    assert _patch(env, "nosuchalert", {"status": "acknowledged"})[0] == 404
