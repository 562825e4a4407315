"""Every workflow route, each role: allowed and refused actions, and unit scoping route by route.

Each case runs on fresh objects: one set inside the unit reporter's subtree (SO_TTTT) and one
outside it (HUYEN_A). A unit reporter must get its success code on its own objects where its
role may act, and 403/404 on the objects of another unit; analyst-only routes give it 403.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from soc_api.crud import attachments, incidents, recipients, reports, suppressions
from soc_api.forms.models import InitialReport
from soc_api.services.config import default_config
from tests.test_api_auth import ApiEnv, build_env
from tests.workflow_support import FULL_MAU03, seed_alert

ROLES = ("admin", "analyst", "unit_reporter", "feed_client")
READERS = frozenset({"admin", "analyst", "unit_reporter"})
ANALYSTS = frozenset({"admin", "analyst"})
ADMINS = frozenset({"admin"})
EVERYONE = frozenset(ROLES)
_counter = itertools.count()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    api, store = build_env(tmp_path_factory.mktemp("scoping"))
    yield api
    api.client.close()
    store.close()


def _objects(env: ApiEnv, unit: str) -> dict[str, str]:
    """Fresh alert, incident (with task, attachment, sending), report and suppression in ``unit``."""
    n = next(_counter)
    cfg = default_config()
    alert = seed_alert(env, f"{unit}-{n}", unit=unit, entity={"source.ip": f"10.9.{n % 250}.1"})
    with env.sessions() as s:
        inc = incidents.create(s, cfg, actor="t", title=f"inc {n}", unit_code=unit)
        inc.forms = {"mau03": FULL_MAU03}
        other = incidents.create(s, cfg, actor="t", title=f"merge me {n}", unit_code=unit)
        task = incidents.add_task(s, inc, title="t", owner=None, due_at=None, actor="t")
        att = attachments.add(
            s, inc, filename="a.txt", content_type="text/plain", content=b"abc", max_bytes=10, actor="t"
        )
        rcp = recipients.create(s, cfg, {"code": f"R{n}", "name": "r", "kind": "other", "channel": "manual"}, actor="t")
        (sending,) = recipients.record_sendings(
            s, inc, form_kind="mau03", fmt="pdf", sha256="0" * 64, recipient_ids=[rcp.id], actor="t"
        )
        rep = reports.create(s, cfg, unit_code=unit, report=InitialReport.model_validate({"summary": "x"}), actor="t")
        sup = suppressions.create(s, cfg, rule_id="r", entity={"a": "b"}, fields={}, reason="r", days=1, actor="t")
        s.commit()
        return {
            "alert": alert,
            "inc": inc.id,
            "inc2": other.id,
            "task": str(task.id),
            "att": att.id,
            "rcp": str(rcp.id),
            "sending": str(sending.id),
            "rep": rep.id,
            "sup": sup.id,
            "unit": unit,
            "n": str(n),
        }


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    roles: frozenset[str]
    ok: int = 200
    body: Any = None
    scoped: bool = False  # per-object route where a unit reporter's scope applies
    files: bool = False


CASES = [
    Case("GET", "/api/v1/alerts", READERS),
    Case("POST", "/api/v1/alerts/bulk", ANALYSTS, body={"ids": ["{alert}"], "assignee": "x"}),
    Case("GET", "/api/v1/alerts/{alert}", READERS, scoped=True),
    Case("PATCH", "/api/v1/alerts/{alert}", ANALYSTS, body={"assignee": "x"}, scoped=True),
    Case("GET", "/api/v1/alerts/{alert}/comments", READERS, scoped=True),
    Case("POST", "/api/v1/alerts/{alert}/comments", ANALYSTS, 201, {"body": "b"}, scoped=True),
    Case("POST", "/api/v1/alerts/{alert}/suppress", ANALYSTS, 201, {"reason": "r"}, scoped=True),
    Case("GET", "/api/v1/suppressions", ANALYSTS),
    Case("POST", "/api/v1/suppressions", ANALYSTS, 201, {"rule_id": "r", "entity": {"a": "b"}, "reason": "r"}),
    Case("GET", "/api/v1/suppressions/{sup}", ANALYSTS),
    Case("PATCH", "/api/v1/suppressions/{sup}", ANALYSTS, body={"reason": "r2"}),
    Case("DELETE", "/api/v1/suppressions/{sup}", ANALYSTS),
    Case("GET", "/api/v1/incident-types", READERS),
    Case("GET", "/api/v1/playbooks", EVERYONE),
    Case("GET", "/api/v1/playbooks/malware", EVERYONE),
    Case("GET", "/api/v1/incidents", READERS),
    Case("POST", "/api/v1/incidents", ANALYSTS, 201, {"title": "t"}),
    Case("GET", "/api/v1/incidents/{inc}", READERS, scoped=True),
    Case("PATCH", "/api/v1/incidents/{inc}", READERS, body={"description": "d"}, scoped=True),
    Case("POST", "/api/v1/incidents/{inc}/alerts", ANALYSTS, body={"alert_ids": ["{alert}"]}, scoped=True),
    Case("POST", "/api/v1/incidents/{inc}/merge", ANALYSTS, body={"source_ids": ["{inc2}"]}, scoped=True),
    Case("GET", "/api/v1/incidents/{inc}/timeline", READERS, scoped=True),
    Case("GET", "/api/v1/incidents/{inc}/deadlines", READERS, scoped=True),
    Case("POST", "/api/v1/incidents/{inc}/tasks", ANALYSTS, 201, {"title": "t"}, scoped=True),
    Case("PATCH", "/api/v1/incidents/{inc}/tasks/{task}", ANALYSTS, body={"done": True}, scoped=True),
    Case("POST", "/api/v1/incidents/{inc}/observables", ANALYSTS, 201, {"type": "host", "value": "h1"}, scoped=True),
    Case("GET", "/api/v1/observables/ip/10.9.0.1", ANALYSTS),
    Case("GET", "/api/v1/incidents/{inc}/comments", READERS, scoped=True),
    Case("POST", "/api/v1/incidents/{inc}/comments", READERS, 201, {"body": "b"}, scoped=True),
    Case("POST", "/api/v1/incidents/{inc}/attachments", READERS, 201, scoped=True, files=True),
    Case("GET", "/api/v1/incidents/{inc}/attachments", READERS, scoped=True),
    Case("GET", "/api/v1/incidents/{inc}/attachments/{att}", READERS, scoped=True),
    Case("GET", "/api/v1/incidents/{inc}/forms/{kind}/check", READERS, scoped=True),
    Case("PUT", "/api/v1/incidents/{inc}/forms/{kind}", READERS, body=FULL_MAU03, scoped=True),
    Case("GET", "/api/v1/incidents/{inc}/forms/{kind}?format=json", READERS, scoped=True),
    Case("POST", "/api/v1/incidents/{inc}/forms/{kind}/send", ANALYSTS, 201, {"format": "json"}, scoped=True),
    Case("GET", "/api/v1/incidents/{inc}/sendings", READERS, scoped=True),
    Case("PATCH", "/api/v1/sendings/{sending}", ANALYSTS, body={"status": "sent"}, scoped=True),
    Case("GET", "/api/v1/reports", READERS),
    Case("POST", "/api/v1/reports", READERS, 201, {"unit_code": "{unit}", "data": {"summary": "s"}}, scoped=True),
    Case("GET", "/api/v1/reports/{rep}", READERS, scoped=True),
    Case("PUT", "/api/v1/reports/{rep}", READERS, body={"data": {"summary": "s2"}}, scoped=True),
    Case("GET", "/api/v1/recipients", ANALYSTS),
    Case("POST", "/api/v1/recipients", ADMINS, 201, {"code": "N{n}", "name": "n", "kind": "other", "channel": "email"}),
    Case("GET", "/api/v1/recipients/{rcp}", ANALYSTS),
    Case("PATCH", "/api/v1/recipients/{rcp}", ADMINS, body={"enabled": False}),
    Case("DELETE", "/api/v1/recipients/{rcp}", ADMINS),
    Case("PUT", "/api/v1/auth/password", EVERYONE, 204, {"new_password": "a-long-password-1"}),
    Case("GET", "/api/v1/audit", ADMINS),
    Case("GET", "/api/v1/audit/verify", ADMINS),
]
# Routes tested in their own modules (login/logout in test_api_reports, the rest in test_api_auth).
ELSEWHERE = {
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("GET", "/api/v1/health"),
}


def _fill(value: Any, objs: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(kind="mau03", **objs)
    if isinstance(value, dict):
        return {k: _fill(v, objs) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, objs) for v in value]
    return value


def _call(env: ApiEnv, case: Case, who: str, objs: dict[str, str]) -> int:
    kwargs: dict[str, Any] = {"headers": env.auth(who)}
    if case.files:
        kwargs["files"] = {"file": ("e.txt", b"evidence", "text/plain")}
    elif case.body is not None:
        kwargs["json"] = _fill(case.body, objs)
    status: int = env.client.request(case.method, _fill(case.path, objs), **kwargs).status_code
    return status


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.path}")
def test_role_and_scope(env: ApiEnv, case: Case) -> None:
    for role in ROLES:
        if role == "unit_reporter":
            continue
        objs = _objects(env, "HUYEN_A")
        want = case.ok if role in case.roles else 403
        assert _call(env, case, role, objs) == want, (role, case)
    # the unit reporter of SO_TTTT: its own subtree (a child unit counts) ...
    own = _objects(env, "SO_TTTT_TT")
    want_own = case.ok if "unit_reporter" in case.roles else 403
    assert _call(env, case, "unit_reporter", own) == want_own, ("own", case)
    # ... and another unit's objects
    if case.scoped:
        other = _objects(env, "HUYEN_A")
        got = _call(env, case, "unit_reporter", other)
        if "unit_reporter" in case.roles:
            assert got in (403, 404), ("other", case, got)
        else:
            assert got == 403, ("other", case, got)


def test_matrix_covers_every_route(env: ApiEnv) -> None:
    paths = env.client.get("/openapi.json").json()["paths"]
    ours = {"/api/v1/" + p.split("/")[3] for p in (c.path for c in CASES)}
    routes = {
        (m.upper(), p)
        for p, ops in paths.items()
        for m in ops
        if p.startswith("/api/v1/")
        and "/api/v1/" + p.split("/")[3] in ours | {"/api/v1/observables", "/api/v1/sendings"}
    }
    normalised = {
        (
            c.method,
            c.path.split("?")[0]
            .replace("{alert}", "{alert_id}")
            .replace("{inc}", "{incident_id}")
            .replace("{task}", "{task_id}")
            .replace("{att}", "{attachment_id}")
            .replace("{rep}", "{report_id}")
            .replace("{rcp}", "{recipient_id}")
            .replace("{sending}", "{sending_id}")
            .replace("{sup}", "{suppression_id}")
            .replace("/observables/ip/10.9.0.1", "/observables/{otype}/{value}")
            .replace("/playbooks/malware", "/playbooks/{incident_type}"),
        )
        for c in CASES
    }
    assert routes - ELSEWHERE <= normalised, sorted(routes - ELSEWHERE - normalised)


def test_lists_hide_other_units(env: ApiEnv) -> None:
    own, other = _objects(env, "SO_TTTT"), _objects(env, "HUYEN_A")
    h = env.auth("unit_reporter")
    for path, key in [
        ("/api/v1/alerts?limit=500", "alert"),
        ("/api/v1/incidents?limit=500", "inc"),
        ("/api/v1/reports?limit=500", "rep"),
    ]:
        ids = {i["id"] for i in env.client.get(path, headers=h).json()["items"]}
        assert own[key] in ids and other[key] not in ids, path
