"""Unit reports (Mẫu 03): filing opens a ticket, drafts list what is missing, updates flow to the
ticket, SOC requests and unit responses, and password login for people."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from soc_api.crud.users import set_password
from soc_api.db.models import User
from tests.test_api_auth import ApiEnv, build_env
from tests.workflow_support import FULL_MAU03


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ApiEnv]:
    api, store = build_env(tmp_path)
    yield api
    api.client.close()
    store.close()


def test_unit_files_report_which_opens_a_ticket(env: ApiEnv) -> None:
    h = env.auth("unit_reporter")
    resp = env.client.post("/api/v1/reports", headers=h, json={"data": FULL_MAU03})
    assert resp.status_code == 201, resp.text
    report = resp.json()
    assert report["unit_code"] == "SO_TTTT" and report["missing"] == []
    ticket = env.client.get(f"/api/v1/incidents/{report['incident_id']}", headers=h).json()
    assert ticket["source"] == "report" and ticket["incident_type"] == "defacement"
    assert ticket["security_level"] == 3 and ticket["report_ids"] == [report["id"]]
    # 08:30 Vietnam time is 01:30 UTC
    assert ticket["detected_at"].startswith("2026-11-20T01:30:00")
    form = env.client.get(f"/api/v1/incidents/{report['incident_id']}/forms/mau03?format=docx", headers=h)
    assert form.status_code == 200 and form.content[:2] == b"PK"
    # the reporter files for its child unit, never for another branch
    child = env.client.post("/api/v1/reports", headers=h, json={"unit_code": "SO_TTTT_TT", "data": {"summary": "x"}})
    assert child.status_code == 201 and child.json()["missing"]
    other = env.client.post("/api/v1/reports", headers=h, json={"unit_code": "HUYEN_A", "data": {"summary": "x"}})
    assert other.status_code == 403
    listed = env.client.get("/api/v1/reports", headers=env.auth("huyen_reporter")).json()
    assert listed["total"] == 0
    assert env.client.get("/api/v1/reports", headers=env.auth("analyst")).json()["total"] == 2


def test_report_update_and_validation_errors(env: ApiEnv) -> None:
    h = env.auth("unit_reporter")
    report = env.client.post("/api/v1/reports", headers=h, json={"data": {"summary": "Nghi mã độc"}}).json()
    assert any("email" in m.lower() for m in report["missing"])
    upd = env.client.put(f"/api/v1/reports/{report['id']}", headers=h, json={"data": FULL_MAU03})
    assert upd.status_code == 200 and upd.json()["missing"] == []
    kinds = [e["kind"] for e in env.client.get(f"/api/v1/incidents/{report['incident_id']}/timeline", headers=h).json()]
    assert "report_updated" in kinds
    bad = {**FULL_MAU03, "contact": {**FULL_MAU03["contact"], "email": "not-an-email"}}
    assert env.client.put(f"/api/v1/reports/{report['id']}", headers=h, json={"data": bad}).status_code == 422
    assert env.client.post("/api/v1/reports", headers=env.auth("analyst"), json={"data": {}}).status_code == 422


def test_soc_request_and_unit_response(env: ApiEnv) -> None:
    report = env.client.post("/api/v1/reports", headers=env.auth("unit_reporter"), json={"data": FULL_MAU03}).json()
    url = f"/api/v1/incidents/{report['incident_id']}/comments"
    req = env.client.post(url, headers=env.auth("analyst"), json={"kind": "request", "body": "Gửi nhật ký web"})
    assert req.status_code == 201
    assert (
        env.client.post(url, headers=env.auth("unit_reporter"), json={"kind": "request", "body": "x"}).status_code
        == 403
    )
    assert env.client.post(url, headers=env.auth("analyst"), json={"kind": "response", "body": "x"}).status_code == 403
    ans = env.client.post(
        url,
        headers=env.auth("unit_reporter"),
        json={"kind": "response", "body": "Đã gửi", "reply_to": req.json()["id"]},
    )
    assert ans.status_code == 201
    thread = env.client.get(url, headers=env.auth("unit_reporter")).json()["items"]
    assert [(m["kind"], m["reply_to"]) for m in thread] == [("request", None), ("response", req.json()["id"])]
    assert env.client.get(url, headers=env.auth("huyen_reporter")).status_code == 404


def test_password_login_issues_short_lived_token(env: ApiEnv) -> None:
    with env.sessions() as s:
        user = s.query(User).filter_by(name="analyst").one()
        set_password(user, "mật-khẩu-dài-123")
        s.commit()
    bad = env.client.post("/api/v1/auth/token", data={"username": "analyst", "password": "wrong-password"})
    assert bad.status_code == 401
    nobody = env.client.post("/api/v1/auth/token", data={"username": "ghost", "password": "whatever-long"})
    assert nobody.status_code == 401
    ok = env.client.post("/api/v1/auth/token", data={"username": "analyst", "password": "mật-khẩu-dài-123"})
    assert ok.status_code == 200 and ok.json()["token_type"] == "bearer" and ok.json()["expires_in"] > 0
    h = {"Authorization": f"Bearer {ok.json()['access_token']}"}
    assert env.client.get("/api/v1/me", headers=h).json()["name"] == "analyst"
    assert (
        env.client.put(
            "/api/v1/auth/password", headers=h, json={"current_password": "wrong", "new_password": "x" * 12}
        ).status_code
        == 403
    )
    assert env.client.post("/api/v1/auth/logout", headers=env.auth("analyst")).status_code == 403  # API token
    assert env.client.post("/api/v1/auth/logout", headers=h).status_code == 204
    assert env.client.get("/api/v1/me", headers=h).status_code == 401
