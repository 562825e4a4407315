"""SOC API authentication, role matrix, input limits, health, OpenAPI and the web page.

The event store is the project's real embedded store (soc_core.embedded.sqlite_events).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import soc_core
from soc_api.app import create_app
from soc_api.crud.units import sync_units
from soc_api.crud.users import create_user, issue_token
from soc_api.db.models import Alert, ApiToken, User
from soc_api.errors import InvalidInput
from soc_api.sink import ingest_detections
from soc_core.embedded.sqlite_events import SqliteEventStore
from soc_core.errors import SocError
from soc_core.models import Detection
from soc_core.settings import Settings

UNITS = [
    ("PROV", "UBND tỉnh Thanh Hóa", None),
    ("SO_TTTT", "Sở Thông tin và Truyền thông", "PROV"),
    ("SO_TTTT_TT", "Trung tâm CNTT-TT", "SO_TTTT"),
    ("HUYEN_A", "UBND huyện A", "PROV"),
]
RULES = [{"id": "r-1", "title": "SSH brute force", "level": "high", "tags": ["t1110"], "path": "a.yml", "x": 1}]


@dataclass
class ApiEnv:
    client: TestClient
    sessions: sessionmaker[Session]
    store: SqliteEventStore
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def build_env(tmp_path: Path) -> tuple[ApiEnv, SqliteEventStore]:
    store = SqliteEventStore(tmp_path / "events.db")
    settings = Settings(data_dir=tmp_path / "data", mode="embedded", database_url=None)
    app = create_app(settings, event_store=store, rules_provider=lambda: RULES)
    sessions: sessionmaker[Session] = app.state.sessionmaker
    tokens: dict[str, str] = {}
    with sessions() as s:
        sync_units(s, UNITS)
        for name, role, unit in [
            ("admin", "admin", None),
            ("analyst", "analyst", None),
            ("unit_reporter", "unit_reporter", "SO_TTTT"),
            ("huyen_reporter", "unit_reporter", "HUYEN_A"),
            ("feed_client", "feed_client", None),
        ]:
            _user, tokens[name] = create_user(s, name, role, unit)
        s.commit()
    return ApiEnv(TestClient(app), sessions, store, tokens), store


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ApiEnv]:
    api, store = build_env(tmp_path)
    yield api
    api.client.close()
    store.close()


def _seed_alert(env: ApiEnv, unit: str = "SO_TTTT") -> str:
    d = Detection(
        rule_id="r-1",
        rule_title="SSH brute force",
        level="high",
        event_id="ev-1",
        timestamp="2026-11-20T08:00:00Z",
        dedup_key=f"r-1|{unit}",
        unit=unit,
    )
    with env.sessions() as s:
        ingest_detections(s, [d])
        s.commit()
        return s.scalars(select(Alert.id).where(Alert.dedup_key == f"r-1|{unit}")).one()


# --- authentication ---------------------------------------------------------------------------


def _api_routes(env: ApiEnv) -> list[tuple[str, str]]:
    """Every operation the OpenAPI document lists under /api/v1, except health and the login itself."""
    paths: dict[str, dict[str, Any]] = env.client.get("/openapi.json").json()["paths"]
    return [
        (method.upper(), path)
        for path, ops in paths.items()
        if path.startswith("/api/v1") and path not in ("/api/v1/health", "/api/v1/auth/token")
        for method in ops
    ]


def test_every_api_route_but_health_needs_a_valid_token(env: ApiEnv) -> None:
    alert_id = _seed_alert(env)
    routes = _api_routes(env)
    assert {("GET", "/api/v1/alerts"), ("PATCH", "/api/v1/alerts/{alert_id}"), ("GET", "/api/v1/rules")} <= set(routes)
    bad_headers: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer soc_not-a-real-token"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Basic {env.tokens['admin']}"},
        {"Authorization": "Bearer " + "x" * 5000},
    ]
    for method, path in routes:
        url = path.replace("{alert_id}", alert_id)
        for headers in bad_headers:
            resp = env.client.request(method, url, headers=headers, json={})
            assert resp.status_code == 401, (method, path, headers.keys(), resp.text)
            assert resp.headers["www-authenticate"] == "Bearer"


def test_disabled_user_and_expired_token_are_refused(env: ApiEnv) -> None:
    with env.sessions() as s:
        user, token = create_user(s, "temp", "analyst", None)
        expired = issue_token(s, user, expires_at=datetime.now(UTC) - timedelta(seconds=1))
        s.commit()
    assert env.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert env.client.get("/api/v1/me", headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    with env.sessions() as s:
        s.scalars(select(User).where(User.name == "temp")).one().disabled = True
        s.commit()
    assert env.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_only_token_hashes_are_stored_and_tokens_are_not_logged(env: ApiEnv, caplog: pytest.LogCaptureFixture) -> None:
    token = env.tokens["analyst"]
    assert token.startswith("soc_") and len(token) > 40
    with env.sessions() as s:
        hashes = set(s.scalars(select(ApiToken.token_hash)))
    assert hashlib.sha256(token.encode()).hexdigest() in hashes
    assert token not in hashes
    caplog.set_level(logging.DEBUG)
    bogus = "soc_this-token-must-not-appear-in-logs"
    env.client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {bogus}"})
    env.client.get("/api/v1/alerts", headers=env.auth("analyst"))
    assert "rejected API token" in caplog.text
    assert bogus not in caplog.text and token not in caplog.text


def test_me_reports_the_caller(env: ApiEnv) -> None:
    body = env.client.get("/api/v1/me", headers=env.auth("unit_reporter")).json()
    assert body["name"] == "unit_reporter" and body["role"] == "unit_reporter" and body["unit_code"] == "SO_TTTT"
    with env.sessions() as s:
        used = s.scalars(
            select(ApiToken.last_used_at).join(User, User.id == ApiToken.user_id).where(User.name == "unit_reporter")
        ).one()
    assert used is not None


# --- role matrix ------------------------------------------------------------------------------

ROLES = ["admin", "analyst", "unit_reporter", "feed_client"]
# (method, path, body, expected status for admin, analyst, unit_reporter, feed_client)
MATRIX: list[tuple[str, str, Any, tuple[int, int, int, int]]] = [
    ("GET", "/api/v1/alerts", None, (200, 200, 200, 403)),
    ("GET", "/api/v1/alerts/{id}", None, (200, 200, 200, 403)),
    ("PATCH", "/api/v1/alerts/{id}", {"assignee": "someone"}, (200, 200, 403, 403)),
    ("GET", "/api/v1/rules", None, (200, 200, 403, 403)),
    ("GET", "/api/v1/me", None, (200, 200, 200, 200)),
    ("GET", "/api/v1/users", None, (200, 403, 403, 403)),
    ("POST", "/api/v1/users", {"name": "new_{role}", "role": "analyst"}, (201, 403, 403, 403)),
    ("GET", "/api/v1/health", None, (200, 200, 200, 200)),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), MATRIX)
def test_role_matrix(env: ApiEnv, method: str, path: str, body: Any, expected: tuple[int, ...]) -> None:
    alert_id = _seed_alert(env, "SO_TTTT")
    for role, want in zip(ROLES, expected, strict=True):
        payload = {k: v.format(role=role) if isinstance(v, str) else v for k, v in body.items()} if body else None
        resp = env.client.request(method, path.replace("{id}", alert_id), headers=env.auth(role), json=payload)
        assert resp.status_code == want, (role, method, path, resp.text)


def test_rules_come_from_the_provider(env: ApiEnv) -> None:
    body = env.client.get("/api/v1/rules", headers=env.auth("analyst")).json()
    assert body["total"] == 1
    assert body["items"][0]["id"] == "r-1" and body["items"][0]["path"] == "a.yml" and body["items"][0]["x"] == 1


def test_admin_creates_user_and_new_token_works(env: ApiEnv) -> None:
    resp = env.client.post(
        "/api/v1/users", headers=env.auth("admin"), json={"name": "rep2", "role": "unit_reporter", "unit": "HUYEN_A"}
    )
    assert resp.status_code == 201, resp.text
    token = resp.json()["token"]
    me = env.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["unit_code"] == "HUYEN_A"
    bad = env.client.post("/api/v1/users", headers=env.auth("admin"), json={"name": "rep3", "role": "unit_reporter"})
    assert bad.status_code == 422 and "unit" in bad.json()["detail"]


def test_create_user_validates_input(env: ApiEnv) -> None:
    with env.sessions() as s:
        for name, role, unit, message in [
            ("u1", "unit_reporter", None, "needs a unit"),
            ("u2", "unit_reporter", "NOPE", "unknown unit"),
            ("u3", "root", None, "unknown role"),
            ("admin", "analyst", None, "already exists"),
            ("", "analyst", None, "user name"),
        ]:
            with pytest.raises(InvalidInput, match=message) as info:
                create_user(s, name, role, unit)
            assert isinstance(info.value, SocError) and isinstance(info.value, ValueError)


# --- input limits, health, OpenAPI, UI --------------------------------------------------------


def test_oversized_bodies_get_413(env: ApiEnv) -> None:
    alert_id = _seed_alert(env)
    big = b'{"assignee": "' + b"a" * (1024 * 1024 + 10) + b'"}'
    url = f"/api/v1/alerts/{alert_id}"
    headers = {**env.auth("analyst"), "content-type": "application/json"}
    assert env.client.patch(url, headers=headers, content=big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted while reading
        for i in range(0, len(big), 64 * 1024):
            yield big[i : i + 64 * 1024]

    assert env.client.patch(url, headers=headers, content=chunks()).status_code == 413
    ok = env.client.patch(url, headers=headers, json={"assignee": "an"})
    assert ok.status_code == 200 and ok.json()["assignee"] == "an"


def test_unknown_fields_and_bad_parameters_get_422(env: ApiEnv) -> None:
    alert_id = _seed_alert(env)
    h = env.auth("analyst")
    assert env.client.patch(f"/api/v1/alerts/{alert_id}", headers=h, json={"count": 0}).status_code == 422
    assert env.client.patch(f"/api/v1/alerts/{alert_id}", headers=h, json={"status": "done"}).status_code == 422
    assert env.client.patch(f"/api/v1/alerts/{alert_id}", headers=h, content=b"\xff\xfe").status_code == 422
    for query in ["limit=0", "limit=501", "offset=-1", "level=extreme", "since=yesterday", "bogus=1"]:
        assert env.client.get(f"/api/v1/alerts?{query}", headers=h).status_code == 422, query
    assert env.client.get("/api/v1/alerts/bad%20id!", headers=h).status_code == 422


def test_health_needs_no_token(env: ApiEnv) -> None:
    resp = env.client.get("/api/v1/health")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "version": soc_core.__version__, "mode": "embedded"}


def test_openapi_document(env: ApiEnv) -> None:
    doc = env.client.get("/openapi.json").json()
    assert {"/api/v1/alerts", "/api/v1/alerts/{alert_id}", "/api/v1/rules", "/api/v1/health"} <= set(doc["paths"])
    assert any(s.get("scheme") == "bearer" for s in doc["components"]["securitySchemes"].values())


def test_web_page_is_static_and_self_contained(env: ApiEnv) -> None:
    page = env.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Cảnh báo" in page.text and 'lang="vi"' in page.text
    assert "http://" not in page.text and "https://" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    js = env.client.get("/static/app.js")
    assert "English" in page.text  # the language switch (messages come from soc_api/i18n)
    assert js.status_code == 200 and "sessionStorage" in js.text
    assert ".innerHTML" not in js.text and "http" not in js.text.replace("/api/v1", "")
