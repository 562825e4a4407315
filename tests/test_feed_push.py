"""National feed push: the outbox row is enqueued in the transaction of the change, the sender POSTs
the STIX bundle to a real HTTP receiver on 127.0.0.1 that first fails and then acknowledges, with
exponential backoff and the same Idempotency-Key on every attempt; a second pass sends nothing new;
refusals fail at once and can be requeued (``soc feed push --retry-failed``); the API process
sends by itself when configured; the bearer secret is never logged or stored."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import stix2
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from soc_api.crud import audit
from soc_api.db.base import utcnow
from soc_api.db.feed_models import FeedOutbox
from soc_api.db.workflow_models import Incident
from soc_api.feed.push import push_due, redact
from soc_cli.main import app as cli_app
from soc_core.settings import Settings
from tests.conftest import free_port
from tests.test_api_auth import ApiEnv, build_env

SECRET = "feed-secret-must-never-be-logged-7f3a"
STIX_MEDIA = "application/stix+json;version=2.1"


@dataclass
class Receiver:
    """A national centre's push endpoint: scripted answers, every request kept."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    script: list[int] = field(default_factory=list)  # statuses to answer before acknowledging


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
            if self.path.startswith("/reject"):
                status, answer = 422, {"error": "bundle refused"}
            elif state.script:
                status, answer = state.script.pop(0), {"error": "busy"}
            else:
                key = self.headers.get("Idempotency-Key", "")
                status, answer = 200, {"ack_id": f"ACK-{key[:8]}", "status": "received"}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiEnv]:
    monkeypatch.setenv("SOC_FEED_PUSH_TOKEN", SECRET)
    monkeypatch.setenv("SOC_FEED_PUSH_BACKOFF_SECONDS", "30")
    monkeypatch.setenv("SOC_FEED_PUSH_INTERVAL_SECONDS", "0")
    api, store = build_env(tmp_path)
    yield api
    api.client.close()
    store.close()


def _settings(env: ApiEnv) -> Settings:
    settings: Settings = env.client.app.state.settings  # type: ignore[attr-defined]
    return settings


def _recipient(env: ApiEnv, code: str, address: str | None, channel: str = "api_push", enabled: bool = True) -> int:
    body = {
        "code": code,
        "name": code,
        "kind": "national_cybersecurity_centre",
        "channel": channel,
        "address": address,
        "enabled": enabled,
    }
    resp = env.client.post("/api/v1/recipients", headers=env.auth("admin"), json=body)
    assert resp.status_code == 201, resp.text
    rid: int = resp.json()["id"]
    return rid


def _shared_incident(env: ApiEnv) -> str:
    resp = env.client.post("/api/v1/incidents", headers=env.auth("analyst"), json={"title": "Mã độc tại Sở"})
    assert resp.status_code == 201, resp.text
    incident_id: str = resp.json()["id"]
    obs = env.client.post(
        f"/api/v1/incidents/{incident_id}/observables",
        headers=env.auth("analyst"),
        json={"type": "hash", "value": "e" * 64},
    )
    assert obs.status_code == 201
    _patch(env, incident_id, share_national=True)
    return incident_id


def _patch(env: ApiEnv, incident_id: str, **changes: Any) -> None:
    resp = env.client.patch(f"/api/v1/incidents/{incident_id}", headers=env.auth("analyst"), json=changes)
    assert resp.status_code == 200, resp.text


def _rows(env: ApiEnv) -> list[FeedOutbox]:
    with env.sessions() as s:
        return list(s.scalars(select(FeedOutbox).order_by(FeedOutbox.id)))


def test_outbox_row_commits_with_the_change_or_not_at_all(env: ApiEnv, receiver: Receiver) -> None:
    _recipient(env, "NCSC", f"{receiver.url}/ingest")
    resp = env.client.post("/api/v1/incidents", headers=env.auth("analyst"), json={"title": "t"})
    incident_id = resp.json()["id"]
    with env.sessions() as s:
        incident = s.get(Incident, incident_id)
        assert incident is not None
        incident.share_national = True
        s.flush()
        s.rollback()
    assert _rows(env) == []
    with env.sessions() as s:
        incident = s.get(Incident, incident_id)
        assert incident is not None
        incident.share_national = True  # any path that changes an incident, not only the API
        s.commit()
    rows = _rows(env)
    assert len(rows) == 1 and rows[0].status == "pending" and rows[0].attempts == 0


def test_push_retries_with_backoff_then_is_acknowledged(
    env: ApiEnv, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ncsc = _recipient(env, "NCSC", f"{receiver.url}/ingest")
    _recipient(env, "OFF", f"{receiver.url}/off", enabled=False)  # disabled: nothing queued
    _recipient(env, "VNCERT", "vncert@example.vn", channel="email")  # not a push channel
    _recipient(env, "NOURL", None)  # push channel without an address
    incident_id = _shared_incident(env)
    rows = _rows(env)
    assert [(r.recipient_id, r.status) for r in rows] == [(ncsc, "pending")]
    key = rows[0].idempotency_key
    settings = _settings(env)
    receiver.script = [503, 503]

    t0 = utcnow()
    first = push_due(env.sessions, settings, now=t0)
    assert first.attempted == 1 and first.retrying == 1
    row = _rows(env)[0]
    assert row.status == "pending" and row.attempts == 1 and row.http_status == 503
    assert row.next_attempt_at == t0 + timedelta(seconds=30) and "503" in (row.last_error or "")

    assert push_due(env.sessions, settings, now=t0 + timedelta(seconds=29)).attempted == 0  # backing off
    assert len(receiver.requests) == 1

    t1 = t0 + timedelta(seconds=31)
    assert push_due(env.sessions, settings, now=t1).retrying == 1
    row = _rows(env)[0]
    assert row.attempts == 2 and row.next_attempt_at == t1 + timedelta(seconds=60)  # doubled

    t2 = t1 + timedelta(seconds=61)
    third = push_due(env.sessions, settings, now=t2)
    assert third.attempted == 1 and third.acknowledged == 1
    row = _rows(env)[0]
    assert row.status == "acknowledged" and row.attempts == 3 and row.http_status == 200
    assert row.ack_id == f"ACK-{key[:8]}" and json.loads(row.ack_body or "")["status"] == "received"
    assert row.acknowledged_at is not None and row.next_attempt_at is None

    # every attempt: same key, same bytes, the secret as bearer, the STIX media type
    assert len(receiver.requests) == 3
    assert {r["headers"]["Idempotency-Key"] for r in receiver.requests} == {key}
    assert len({r["body"] for r in receiver.requests}) == 1
    assert all(r["headers"]["Authorization"] == f"Bearer {SECRET}" for r in receiver.requests)
    assert all(r["headers"]["Content-Type"] == STIX_MEDIA and r["path"] == "/ingest" for r in receiver.requests)
    bundle = stix2.parse(receiver.requests[0]["body"].decode(), allow_custom=True)
    assert bundle.type == "bundle"
    assert {o.type for o in bundle.objects} == {
        "marking-definition",
        "identity",
        "incident",
        "indicator",
        "relationship",
    }

    # a second run sends nothing new; a change that is not part of the STIX objects neither
    assert push_due(env.sessions, settings, now=t2 + timedelta(days=1)).attempted == 0
    _patch(env, incident_id, assignee="an")
    assert len(_rows(env)) == 1
    assert push_due(env.sessions, settings).attempted == 0
    assert len(receiver.requests) == 3

    # a real change is a new bundle version: a new row, a new key, acknowledged at once
    _patch(env, incident_id, status="investigating")
    rows = _rows(env)
    assert len(rows) == 2 and rows[1].idempotency_key != key and rows[1].bundle_sha256 != rows[0].bundle_sha256
    assert push_due(env.sessions, settings).acknowledged == 1
    assert receiver.requests[-1]["headers"]["Idempotency-Key"] == rows[1].idempotency_key

    # analysts follow the deliveries; the timeline and the audit chain record the acknowledgement
    page = env.client.get("/api/v1/feed/outbox", headers=env.auth("analyst")).json()
    assert page["total"] == 2 and {i["status"] for i in page["items"]} == {"acknowledged"}
    assert {i["recipient_code"] for i in page["items"]} == {"NCSC"}
    assert env.client.get("/api/v1/feed/outbox", headers=env.auth("unit_reporter")).status_code == 403
    timeline = env.client.get(f"/api/v1/incidents/{incident_id}/timeline", headers=env.auth("analyst")).json()
    assert sum(t["kind"] == "feed_acknowledged" for t in timeline) == 2
    with env.sessions() as s:
        assert audit.verify(s).ok

    # the secret is in no log line and nowhere in the database rows
    assert "feed bundle" in caplog.text
    assert SECRET not in caplog.text
    for r in _rows(env):
        assert SECRET not in json.dumps({c.name: str(getattr(r, c.name)) for c in FeedOutbox.__table__.columns})


def test_refusal_fails_at_once_and_can_be_requeued(
    env: ApiEnv, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid = _recipient(env, "A05", f"{receiver.url}/reject")
    _shared_incident(env)
    summary = push_due(env.sessions, _settings(env))
    assert summary.failed == 1
    row = _rows(env)[0]
    assert row.status == "failed" and row.http_status == 422 and row.attempts == 1
    # the receiver is fixed; `soc feed push --retry-failed` sends again with the same key
    resp = env.client.patch(
        f"/api/v1/recipients/{rid}", headers=env.auth("admin"), json={"address": f"{receiver.url}/ingest"}
    )
    assert resp.status_code == 200
    monkeypatch.setenv("SOC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SOC_FEED_PUSH_TOKENS", '{"A05": "a05-own-secret"}')  # per recipient, over the default
    result = CliRunner().invoke(cli_app, ["feed", "push", "--data", str(tmp_path / "data"), "--retry-failed"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert out["requeued"] == 1 and out["acknowledged"] == 1
    row = _rows(env)[0]
    assert row.status == "acknowledged" and row.attempts == 1
    assert receiver.requests[0]["headers"]["Idempotency-Key"] == receiver.requests[1]["headers"]["Idempotency-Key"]
    assert receiver.requests[1]["headers"]["Authorization"] == "Bearer a05-own-secret"
    assert "a05-own-secret" not in result.output
    listing = CliRunner().invoke(cli_app, ["feed", "outbox", "--data", str(tmp_path / "data")])
    assert listing.exit_code == 0 and json.loads(listing.output.splitlines()[0])["status"] == "acknowledged"


def test_attempts_are_bounded(env: ApiEnv, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    _recipient(env, "NCSC", f"{receiver.url}/ingest")
    _shared_incident(env)
    settings = _settings(env).model_copy(update={"feed_push_max_attempts": 2})
    receiver.script = [500, 502, 503]
    t0 = utcnow()
    assert push_due(env.sessions, settings, now=t0).retrying == 1
    assert push_due(env.sessions, settings, now=t0 + timedelta(hours=1)).failed == 1
    row = _rows(env)[0]
    assert row.status == "failed" and row.attempts == 2 and row.next_attempt_at is None


def test_unreachable_receiver_is_retried_and_bad_address_fails(env: ApiEnv) -> None:
    _recipient(env, "DOWN", f"http://127.0.0.1:{free_port()}/ingest")  # nothing listens there
    _recipient(env, "BAD", "http://")
    _recipient(env, "WORSE", "https://user:pw@host:port/x")
    _shared_incident(env)
    summary = push_due(env.sessions, _settings(env))
    assert summary.attempted == 3 and summary.retrying == 1 and summary.failed == 2
    down, bad, worse = _rows(env)
    assert down.status == "pending" and down.http_status is None and "Connect" in (down.last_error or "")
    assert bad.status == worse.status == "failed" and bad.attempts == worse.attempts == 1
    assert "invalid address" in (bad.last_error or "")
    assert redact("https://user:pw@h.example:8443/in?token=x") == "https://h.example:8443/in"


def test_api_process_pushes_by_itself(tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOC_FEED_PUSH_INTERVAL_SECONDS", "0.2")
    api, store = build_env(tmp_path)
    try:
        with TestClient(api.client.app) as client:  # runs the lifespan: the sender thread starts
            api.client = client
            _recipient(api, "NCSC", f"{receiver.url}/ingest")
            _shared_incident(api)
            deadline = time.monotonic() + 15
            while _rows(api)[0].status != "acknowledged":
                assert time.monotonic() < deadline, "the API process did not push the outbox"
                time.sleep(0.1)
        assert len(receiver.requests) == 1
    finally:
        store.close()
