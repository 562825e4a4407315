"""Incidents: from alerts (type, priority, observables derived), merge, tasks, observables across
incidents, messages, attachments (SHA-256, cap), timeline, serious test, deadline clocks,
recipients and sendings, national form export with mandatory-field refusal."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soc_api.services.config import default_config
from soc_api.services.deadlines import Delivery, clocks
from soc_api.services.scoring import is_serious, priority
from tests.test_api_auth import ApiEnv, build_env
from tests.workflow_support import FULL_MAU03, seed_alert


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ApiEnv]:
    api, store = build_env(tmp_path)
    yield api
    api.client.close()
    store.close()


def _incident(env: ApiEnv, **body: Any) -> dict[str, Any]:
    resp = env.client.post("/api/v1/incidents", headers=env.auth("analyst"), json={"title": "Sự cố", **body})
    assert resp.status_code == 201, resp.text
    result: dict[str, Any] = resp.json()
    return result


def test_incident_from_alerts_derives_type_priority_and_observables(env: ApiEnv) -> None:
    a1 = seed_alert(
        env,
        "x1",
        tags=["attack.t1491.001"],
        level="critical",
        event={"soc": {"security_level": 4}},
        entity={"url.domain": "DichVuCong.ThanhHoa.gov.vn", "source.ip": "198.51.100.4"},
    )
    inc = _incident(env, alert_ids=[a1])
    assert inc["incident_type"] == "defacement" and inc["source"] == "alerts"
    assert inc["security_level"] == 4 and inc["priority"] == "P1" and inc["unit_code"] == "SO_TTTT"
    detail = env.client.get(f"/api/v1/incidents/{inc['id']}", headers=env.auth("analyst")).json()
    assert detail["alert_ids"] == [a1]
    assert {(o["type"], o["value"]) for o in detail["observables"]} == {
        ("domain", "dichvucong.thanhhoa.gov.vn"),
        ("ip", "198.51.100.4"),
    }
    alert = env.client.get(f"/api/v1/alerts/{a1}", headers=env.auth("analyst")).json()
    assert alert["status"] == "in_progress"
    # two different specific types -> combined
    a2 = seed_alert(env, "x2", tags=["attack.t1486"])
    a3 = seed_alert(env, "x3", tags=["attack.t1110"])
    assert _incident(env, alert_ids=[a2, a3])["incident_type"] == "combined"
    assert (
        env.client.post(
            "/api/v1/incidents", headers=env.auth("analyst"), json={"title": "t", "alert_ids": ["missing"]}
        ).status_code
        == 404
    )
    assert (
        env.client.post(
            "/api/v1/incidents", headers=env.auth("analyst"), json={"title": "t", "incident_type": "bogus"}
        ).status_code
        == 422
    )


def test_serious_incident_test_and_priority() -> None:
    cfg = default_config()
    assert is_serious(cfg, 4, ["service_interruption"], owner_can_handle=False)
    assert not is_serious(cfg, 3, ["service_interruption"], owner_can_handle=False)
    assert not is_serious(cfg, 5, [], owner_can_handle=False)
    assert not is_serious(cfg, 5, ["loss_of_control"], owner_can_handle=True)
    assert priority(cfg, "critical", 5) == "P1" and priority(cfg, "low", 1) == "P4"
    assert priority(cfg, "medium", 3) == "P2" and priority(cfg, "low", 2) == "P3"


def test_severity_follows_updates_and_emergency_clock_appears(env: ApiEnv) -> None:
    inc = _incident(env, security_level=4)
    assert inc["severity"] == "normal" and [c["key"] for c in inc["deadlines"]] == ["national_notification"]
    url = f"/api/v1/incidents/{inc['id']}"
    upd = env.client.patch(
        url, headers=env.auth("analyst"), json={"impacts": ["secret_data_leak"], "owner_can_handle": False}
    )
    assert upd.status_code == 200 and upd.json()["severity"] == "serious"
    assert [c["key"] for c in upd.json()["deadlines"]] == ["national_notification", "emergency_report"]
    assert env.client.patch(url, headers=env.auth("analyst"), json={"impacts": ["meteor"]}).status_code == 422


def test_deadline_clock_states() -> None:
    cfg = default_config()
    detected = datetime(2026, 11, 20, tzinfo=UTC)
    nat = cfg.deadlines[0]

    def state(now: datetime, deliveries: list[Delivery] = []) -> str:
        return clocks(cfg, detected_at=detected, severity="normal", deliveries=deliveries, now=now)[0].state

    due = detected + timedelta(hours=nat.hours)
    assert state(detected) == "ok"
    assert state(due - timedelta(hours=nat.warn_hours) + timedelta(minutes=1)) == "warning"
    assert state(due + timedelta(seconds=1)) == "overdue"
    sent = Delivery(form_kind="mau03", recipient_kind="national_coordinator", status="sent", at=detected)
    pending = Delivery(form_kind="mau03", recipient_kind="national_coordinator", status="pending", at=detected)
    police = Delivery(form_kind="mau03", recipient_kind="provincial_police", status="sent", at=detected)
    assert state(due + timedelta(days=1), [sent]) == "met"
    assert state(due + timedelta(days=1), [pending, police]) == "overdue"


def test_merge_tasks_observables_messages_timeline(env: ApiEnv) -> None:
    shared = {"source.ip": "203.0.113.50"}
    i1 = _incident(env, alert_ids=[seed_alert(env, "m1", entity=shared)])
    i2 = _incident(env, alert_ids=[seed_alert(env, "m2", entity=shared, unit="HUYEN_A")])
    h = env.auth("analyst")
    linked = env.client.get("/api/v1/observables/ip/203.0.113.50", headers=h).json()
    assert {i["id"] for i in linked["incidents"]} == {i1["id"], i2["id"]}
    task = env.client.post(
        f"/api/v1/incidents/{i2['id']}/tasks",
        headers=h,
        json={"title": "Chặn IP", "owner": "analyst", "due_at": "2026-11-21T00:00:00Z"},
    )
    assert task.status_code == 201
    merged = env.client.post(f"/api/v1/incidents/{i1['id']}/merge", headers=h, json={"source_ids": [i2["id"]]})
    assert merged.status_code == 200, merged.text
    body = merged.json()
    assert len(body["alert_ids"]) == 2
    # Hand-made tasks move; both incidents were seeded from the same playbook, so the source's
    # playbook tasks stay with it instead of duplicating the target's.
    assert [t["title"] for t in body["tasks"] if t["playbook_step"] is None] == ["Chặn IP"]
    steps = [t["playbook_step"] for t in body["tasks"] if t["playbook_step"] is not None]
    assert steps and len(steps) == len(set(steps))
    src = env.client.get(f"/api/v1/incidents/{i2['id']}", headers=h).json()
    assert src["status"] == "merged" and src["merged_into"] == i1["id"]
    assert {t["playbook_step"] for t in src["tasks"]} == set(steps)
    assert env.client.patch(f"/api/v1/incidents/{i2['id']}", headers=h, json={"title": "x"}).status_code == 409
    done = env.client.patch(f"/api/v1/incidents/{i1['id']}/tasks/{task.json()['id']}", headers=h, json={"done": True})
    assert done.status_code == 200 and done.json()["done_at"] is not None
    kinds = [e["kind"] for e in env.client.get(f"/api/v1/incidents/{i1['id']}/timeline", headers=h).json()]
    assert kinds[0] == "created" and {"alert_linked", "merged", "task_updated", "observable_added"} <= set(kinds)
    bad = env.client.post(f"/api/v1/incidents/{i1['id']}/observables", headers=h, json={"type": "ip", "value": "x"})
    assert bad.status_code == 422


def test_attachments_sha256_and_cap(env: ApiEnv) -> None:
    inc = _incident(env, unit_code="SO_TTTT")
    url = f"/api/v1/incidents/{inc['id']}/attachments"
    content = "nhật ký truy cập\n".encode() * 100
    up = env.client.post(
        url, headers=env.auth("unit_reporter"), files={"file": ("../../etc/log.txt", content, "text/plain")}
    )
    assert up.status_code == 201, up.text
    meta = up.json()
    assert meta["sha256"] == hashlib.sha256(content).hexdigest() and meta["size"] == len(content)
    assert "/" not in meta["filename"]
    got = env.client.get(f"{url}/{meta['id']}", headers=env.auth("analyst"))
    assert got.status_code == 200 and got.content == content and got.headers["x-content-sha256"] == meta["sha256"]
    cap = default_config().attachments.max_bytes
    big = env.client.post(url, headers=env.auth("analyst"), files={"file": ("big.bin", b"x" * (cap + 1))})
    assert big.status_code == 422


def test_forms_refuse_missing_fields_then_export_and_record_sendings(env: ApiEnv) -> None:
    h, admin = env.auth("analyst"), env.auth("admin")
    inc = _incident(env, unit_code="SO_TTTT", description="Trang chủ bị thay đổi")
    url = f"/api/v1/incidents/{inc['id']}/forms/mau03"
    refused = env.client.get(f"{url}?format=json", headers=h)
    assert refused.status_code == 422
    missing = refused.json()["detail"]["missing"]
    assert any("Email" in m or "email" in m for m in missing) and len(missing) >= 5
    assert env.client.put(url, headers=h, json=FULL_MAU03).json()["ok"] is True
    pdf = env.client.get(f"{url}?format=pdf", headers=h)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    js = env.client.get(f"{url}?format=json", headers=h)
    assert js.status_code == 200 and "Nguyễn Văn An" in js.content.decode()
    ids = []
    for code, kind in [("VNCERT", "national_coordinator"), ("CA_TINH", "provincial_police")]:
        r = env.client.post(
            "/api/v1/recipients", headers=admin, json={"code": code, "name": code, "kind": kind, "channel": "manual"}
        )
        assert r.status_code == 201
        ids.append(r.json()["id"])
    assert (
        env.client.post(
            "/api/v1/recipients", headers=h, json={"code": "X", "name": "X", "kind": "other", "channel": "email"}
        ).status_code
        == 403
    )
    sent = env.client.post(f"{url}/send", headers=h, json={"format": "pdf"})
    assert sent.status_code == 201, sent.text
    rows = sent.json()
    assert {r["recipient_code"] for r in rows} == {"VNCERT", "CA_TINH"} and {r["status"] for r in rows} == {"pending"}
    vncert = next(r for r in rows if r["recipient_code"] == "VNCERT")
    assert (
        env.client.patch(f"/api/v1/sendings/{vncert['id']}", headers=h, json={"status": "acknowledged"}).status_code
        == 409
    )
    assert env.client.patch(f"/api/v1/sendings/{vncert['id']}", headers=h, json={"status": "sent"}).status_code == 200
    clock = env.client.get(f"/api/v1/incidents/{inc['id']}/deadlines", headers=h).json()[0]
    assert clock["key"] == "national_notification" and clock["state"] == "met"
