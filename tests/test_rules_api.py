"""Rule routes: rule-health list and detail, enable/disable per rule and folder with audit, role checks.

The API runs over a migrated SQLite database (tests.test_api_auth.build_env); the rule catalog is
the real detections.rulesets.service.RulesService over small rules written here; rule health is
fed by a real worker detector through the embedded bus (soc.rule_stats) into rule_health.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import orjson
import pytest
import yaml
from sqlalchemy import select

from pipeline.rule_stats import RULE_STATS
from soc_api.db.models import AuditLog
from soc_api.db.rule_models import RuleHealth
from soc_cli.rules_roles import rule_catalog, rule_stats_sink, worker_detector
from soc_core.embedded.sqlite_bus import SqliteBus
from soc_core.settings import Settings
from tests.rules_ops_support import (
    ADMIN_ID,
    BROKEN_ID,
    KEYWORD_ID,
    PLACEHOLDER_ID,
    SQLI_ID,
    web_event,
    win_event,
    write_rules,
)
from tests.test_api_auth import ApiEnv, build_env

TS = "2026-11-20T08:00:00.000Z"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[ApiEnv, Settings]]:
    api, store = build_env(tmp_path)
    root = write_rules(tmp_path / "rules-src")
    settings = Settings(data_dir=tmp_path / "data", mode="embedded", database_url=None, rules=[root])
    api.client.app.state.rule_catalog = rule_catalog(settings, store)  # type: ignore[attr-defined]
    yield api, settings
    api.client.close()
    store.close()


def _by_id(items: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(i["id"]): i for i in items}


def test_list_shows_compiled_failed_keyword_and_placeholder_rules(env: tuple[ApiEnv, Settings]) -> None:
    api, _ = env
    body = api.client.get("/api/v1/rules", headers=api.auth("analyst")).json()
    items = _by_id(body["items"])
    assert body["total"] == 5 and set(items) == {SQLI_ID, ADMIN_ID, KEYWORD_ID, PLACEHOLDER_ID, BROKEN_ID}
    assert items[SQLI_ID]["compiled"] is True and items[SQLI_ID]["enabled"] is True
    assert items[SQLI_ID]["logsource"] == {"category": "webserver"}
    assert items[SQLI_ID]["hits"] == 0 and items[SQLI_ID]["last_fired"] is None
    broken = items[BROKEN_ID]
    assert broken["compiled"] is False
    assert broken["problems"][0]["line"] == 7 and "nosuchmodifier" in broken["problems"][0]["reason"]  # type: ignore[index]
    assert items[KEYWORD_ID]["keyword_only"] is True and "keyword-only" in items[KEYWORD_ID]["notes"][0]  # type: ignore[index]
    placeholder = items[PLACEHOLDER_ID]
    assert placeholder["compiled"] is False and placeholder["placeholders"] == ["c-ip|expand"]
    assert "placeholder" in placeholder["problems"][0]["reason"]  # type: ignore[index]

    failed = api.client.get("/api/v1/rules?status=failed", headers=api.auth("admin")).json()
    assert {i["id"] for i in failed["items"]} == {BROKEN_ID, PLACEHOLDER_ID}
    found = api.client.get("/api/v1/rules?q=administrators", headers=api.auth("admin")).json()
    assert [i["id"] for i in found["items"]] == [ADMIN_ID]


def test_detail_has_reasons_and_field_mapping(env: tuple[ApiEnv, Settings]) -> None:
    api, _ = env
    detail = api.client.get(f"/api/v1/rules/{ADMIN_ID}", headers=api.auth("analyst")).json()
    assert detail["fields"] == {
        "EventID": ["winlog.event_id"],
        "TargetUserName": ["winlog.event_data.TargetUserName"],
    }
    assert detail["unmapped_fields"] == []
    broken = api.client.get(f"/api/v1/rules/{BROKEN_ID}", headers=api.auth("analyst")).json()
    assert broken["compiled"] is False and "Unknown modifier" in broken["problems"][0]["reason"]
    assert api.client.get("/api/v1/rules/nope", headers=api.auth("analyst")).status_code == 404


def test_enable_disable_rule_and_folder_with_audit(env: tuple[ApiEnv, Settings]) -> None:
    api, settings = env
    resp = api.client.patch(f"/api/v1/rules/{SQLI_ID}", json={"enabled": False}, headers=api.auth("analyst"))
    assert resp.status_code == 200 and resp.json()["enabled"] is False
    state = yaml.safe_load((settings.data_dir / "rules-state.yml").read_text())
    assert state["rules"][SQLI_ID]["enabled"] is False
    disabled = api.client.get("/api/v1/rules?enabled=false", headers=api.auth("analyst")).json()
    assert [i["id"] for i in disabled["items"]] == [SQLI_ID]

    folder = settings.rules[0] / "rules" / "windows"
    resp = api.client.post(
        "/api/v1/rules/folders", json={"path": str(folder), "enabled": False}, headers=api.auth("admin")
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"path": str(folder.resolve()), "enabled": False, "rules": 1}
    # relative to a rule root works too
    resp = api.client.post(
        "/api/v1/rules/folders", json={"path": "rules/linux", "enabled": False}, headers=api.auth("admin")
    )
    assert resp.status_code == 200 and resp.json()["rules"] == 1
    items = _by_id(api.client.get("/api/v1/rules", headers=api.auth("analyst")).json()["items"])
    assert {k for k, v in items.items() if v["enabled"] is False} == {SQLI_ID, ADMIN_ID, KEYWORD_ID}

    for bad in ("/etc", "../../", str(settings.data_dir)):
        resp = api.client.post("/api/v1/rules/folders", json={"path": bad, "enabled": False}, headers=api.auth("admin"))
        assert resp.status_code == 422, bad
    assert api.client.patch("/api/v1/rules/nope", json={"enabled": False}, headers=api.auth("admin")).status_code == 404
    resp = api.client.patch(f"/api/v1/rules/{SQLI_ID}", json={"enabled": "yes please"}, headers=api.auth("admin"))
    assert resp.status_code == 422

    with api.sessions() as s:
        rows = list(s.scalars(select(AuditLog).where(AuditLog.action.like("rule%")).order_by(AuditLog.id)))
    assert [(r.actor, r.action, r.object_type) for r in rows] == [
        ("analyst", "rule.disable", "rule"),
        ("admin", "rule_folder.disable", "rule_folder"),
        ("admin", "rule_folder.disable", "rule_folder"),
    ]
    assert rows[0].object_id == SQLI_ID and rows[0].detail["enabled"] is False
    assert rows[1].detail["path"] == str(folder.resolve())


@pytest.mark.parametrize("who", ["unit_reporter", "feed_client"])
def test_other_roles_are_refused(env: tuple[ApiEnv, Settings], who: str) -> None:
    api, settings = env
    h = api.auth(who)
    assert api.client.get("/api/v1/rules", headers=h).status_code == 403
    assert api.client.get(f"/api/v1/rules/{SQLI_ID}", headers=h).status_code == 403
    assert api.client.patch(f"/api/v1/rules/{SQLI_ID}", json={"enabled": False}, headers=h).status_code == 403
    folder = str(settings.rules[0] / "rules" / "web")
    assert (
        api.client.post("/api/v1/rules/folders", json={"path": folder, "enabled": False}, headers=h).status_code == 403
    )
    assert api.client.post(f"/api/v1/rules/{SQLI_ID}/hunt", json={}, headers=h).status_code == 403
    assert api.client.get("/api/v1/rules").status_code == 401
    assert not (settings.data_dir / "rules-state.yml").exists()
    with api.sessions() as s:
        assert s.scalars(select(AuditLog).where(AuditLog.action.like("rule%"))).first() is None


def test_rule_health_after_a_worker_batch(env: tuple[ApiEnv, Settings], tmp_path: Path) -> None:
    api, settings = env
    bus = SqliteBus(tmp_path / "bus.db")
    try:
        detector, publisher = worker_detector(settings, bus)
        events = [
            web_event(1, "id=1 union select pass", TS),
            web_event(2, "id=2", TS),
            web_event(3, "id=3 UNION SELECT x", TS),
            win_event(4, 4624, "alice", TS),
        ]
        found = detector.process(events)
        assert sorted(d.event_id for d in found) == ["web-1", "web-3"]
        assert publisher.publish() is True
        assert publisher.publish() is False  # nothing new
        sink = rule_stats_sink(settings, bus, api.sessions)
        assert sink.run_once() == 1
        # a second batch and a redelivered old snapshot: counters are cumulative, never doubled
        old = publisher.stats.snapshot()
        detector.process([web_event(5, "q=union select 1", TS)])
        publisher.publish()
        producer = bus.producer()
        producer.send(RULE_STATS, orjson.dumps(old))
        producer.send(RULE_STATS, b"not json")
        producer.flush()
        assert sink.run_once() == 3
    finally:
        bus.close()

    items = _by_id(api.client.get("/api/v1/rules", headers=api.auth("analyst")).json()["items"])
    sqli, admin, keyword = items[SQLI_ID], items[ADMIN_ID], items[KEYWORD_ID]
    assert (sqli["evaluated"], sqli["hits"], sqli["logsource_seen"]) == (4, 3, True)
    assert isinstance(sqli["last_fired"], str) and datetime.fromisoformat(str(sqli["last_fired"]))
    assert (admin["evaluated"], admin["hits"], admin["logsource_seen"], admin["last_fired"]) == (1, 0, True, None)
    assert admin["last_evaluated"] is not None
    assert (keyword["evaluated"], keyword["logsource_seen"]) == (0, False)

    fired = api.client.get("/api/v1/rules?fired=true", headers=api.auth("analyst")).json()
    assert [i["id"] for i in fired["items"]] == [SQLI_ID]
    unseen = api.client.get("/api/v1/rules?logsource_seen=false&status=compiled", headers=api.auth("analyst")).json()
    assert [i["id"] for i in unseen["items"]] == [KEYWORD_ID]
    with api.sessions() as s:
        assert len(list(s.scalars(select(RuleHealth)))) == 2  # one worker x two rules with activity
