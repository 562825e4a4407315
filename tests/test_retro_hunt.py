"""Retro-hunt in embedded mode: a rule added now, evaluated with the engine over stored events.

A populated SqliteEventStore (the project's real embedded store) holds background and attack
events over two hours; a fresh rule must find exactly the attack events of the requested range,
through the service, the API (audited, role-checked) and `soc rules hunt`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from detections.rulesets.hunt import hunt_engine, to_lucene
from detections.rulesets.service import RulesService
from soc_api.db.models import AuditLog
from soc_core.embedded.sqlite_events import SqliteEventStore
from soc_core.errors import RuleError
from soc_core.stores import EventQuery
from tests.rules_ops_support import web_event, win_event
from tests.test_api_auth import ApiEnv, build_env

REPO = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
FRESH_ID = "7c2d9a10-2222-4b7e-8c00-00000000a001"
CORR_ID = "7c2d9a10-2222-4b7e-8c00-00000000a002"
FRESH_RULE = f"""
title: Fresh rule - webshell parameter on provincial portals
id: {FRESH_ID}
status: experimental
logsource: {{category: webserver}}
detection:
  sel:
    cs-uri-query|contains: 'cmd=whoami'
    cs-host|endswith: '.thanhhoa.gov.vn'
  condition: sel
level: high
"""
CORR_RULE = f"""
title: Fresh correlation
id: {CORR_ID}
correlation:
  type: event_count
  rules: [{FRESH_ID}]
  group-by: [c-ip]
  timespan: 5m
  condition: {{gte: 3}}
level: high
"""


def _ts(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _populate(store: SqliteEventStore) -> dict[str, str]:
    """120 minutes of events; returns {event id: @timestamp} of those the fresh rule must match."""
    events: list[dict[str, Any]] = []
    expected: dict[str, str] = {}
    for i in range(240):
        ts = _ts(i / 2)
        if i % 17 == 0:  # attack on a provincial portal, varied case (Sigma matching is case-insensitive)
            query = "f=1&CMD=WhoAmI" if i % 2 else "cmd=whoami&x=2"
            events.append(web_event(i, query, ts, domain="congdichvu.thanhhoa.gov.vn"))
            expected[f"web-{i}"] = ts
        elif i % 23 == 0:  # same parameter on an outside host: not matched
            events.append(web_event(i, "cmd=whoami", ts, domain="example.com"))
        elif i % 5 == 0:
            events.append(win_event(i, 4624, "cmd=whoami", ts))  # other log source: never evaluated
        else:
            events.append(web_event(i, f"page={i}", ts, domain="sotttt.thanhhoa.gov.vn"))
    assert store.write(events) == len(events)
    return expected


@pytest.fixture
def hunt_env(tmp_path: Path) -> Iterator[tuple[ApiEnv, SqliteEventStore, RulesService, dict[str, str]]]:
    api, store = build_env(tmp_path)
    expected = _populate(store)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "fresh.yml").write_text(FRESH_RULE.lstrip())  # added after the events were stored
    (rules / "fresh_corr.yml").write_text(CORR_RULE.lstrip())
    service = RulesService([rules], tmp_path / "data" / "rules-state.yml", store)
    api.client.app.state.rule_catalog = service  # type: ignore[attr-defined]
    yield api, store, service, expected
    api.client.close()
    store.close()


def _in_range(expected: dict[str, str], since: str, until: str) -> set[str]:
    return {i for i, ts in expected.items() if since <= ts < until}


def test_engine_hunt_finds_exactly_the_matching_events(hunt_env: Any) -> None:
    _api, store, service, expected = hunt_env
    assert len(expected) == 15
    info = service.rule_info(FRESH_ID)
    since, until = _ts(10), _ts(95)
    for page in (7, 1000):  # paging must not lose or repeat events
        result = hunt_engine(store, info, since, until, limit=1000, page=page)
        got = [e["event"]["id"] for e in result.events]
        assert len(got) == len(set(got)) == result.count
        assert set(got) == _in_range(expected, since, until)
        assert result.scanned == store.count(EventQuery(start=since, end=until))
    whole = hunt_engine(store, info, None, None, limit=3)
    assert whole.count == 15 and len(whole.events) == 3 and whole.scanned == 240


def test_api_hunt_is_audited_and_validated(hunt_env: Any) -> None:
    api, _store, _service, expected = hunt_env
    body = {"since": "2026-11-20T08:30:00Z", "until": "2026-11-20T09:30:00+00:00", "limit": 100}
    resp = api.client.post(f"/api/v1/rules/{FRESH_ID}/hunt", json=body, headers=api.auth("analyst"))
    assert resp.status_code == 200, resp.text
    out = resp.json()
    want = _in_range(expected, _ts(30), _ts(90))
    assert out["backend"] == "engine" and out["count"] == len(want) == out["returned"]
    assert {e["event"]["id"] for e in out["events"]} == want
    assert out["since"] == "2026-11-20T08:30:00.000Z"
    with api.sessions() as s:
        row = s.scalars(select(AuditLog).where(AuditLog.action == "rule.hunt")).one()
    assert (row.actor, row.object_id, row.detail["count"]) == ("analyst", FRESH_ID, len(want))

    h = api.auth("admin")
    url = f"/api/v1/rules/{FRESH_ID}/hunt"
    assert (
        api.client.post(
            url, json={"since": "2026-11-20T09:00:00Z", "until": "2026-11-20T08:00:00Z"}, headers=h
        ).status_code
        == 422
    )
    assert api.client.post(url, json={"since": "2026-11-20T09:00:00"}, headers=h).status_code == 422  # no zone
    assert api.client.post(url, json={"limit": 10**6}, headers=h).status_code == 422
    assert api.client.post(url, json={"sql": "drop"}, headers=h).status_code == 422
    resp = api.client.post(f"/api/v1/rules/{CORR_ID}/hunt", json={}, headers=h)
    assert resp.status_code == 422 and "correlation" in resp.json()["detail"]
    assert api.client.post("/api/v1/rules/nope/hunt", json={}, headers=h).status_code == 404
    for who in ("unit_reporter", "feed_client"):
        assert api.client.post(url, json={}, headers=api.auth(who)).status_code == 403


def test_rule_converts_to_an_ecs_lucene_query(hunt_env: Any) -> None:
    _api, _store, service, _expected = hunt_env
    query = to_lucene(service.rule_info(FRESH_ID))
    assert "url.query:" in query and "url.domain:" in query and "cs-uri-query" not in query
    with pytest.raises(RuleError, match="correlation"):
        to_lucene(service.rule_info(CORR_ID))


def test_cli_hunt(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = SqliteEventStore(data / "events.db")
    expected = _populate(store)
    store.close()
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "fresh.yml").write_text(FRESH_RULE.lstrip())
    env = {**os.environ, "COLUMNS": "200", "SOC_DATA_DIR": str(data), "SOC_RULES": orjson.dumps([str(rules)]).decode()}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "soc_cli.main",
            "rules",
            "hunt",
            FRESH_ID,
            "--since",
            "2026-11-20T08:00:00",
            "--until",
            "2026-11-20T09:00:00Z",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    got = {orjson.loads(line)["event"]["id"] for line in proc.stdout.splitlines()}
    assert got == _in_range(expected, _ts(0), _ts(60)) and got
    summary = orjson.loads(proc.stderr.strip().splitlines()[-1])["summary"]
    assert summary["count"] == len(got) and summary["backend"] == "engine"
