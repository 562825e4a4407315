"""Half-year / annual summary (Mẫu 05) from the tickets: counts per type, severity, unit and status
for exactly the period's incidents (Vietnam time), the analyst's draft, export refused until the
mandatory fields are there, PDF/DOCX carrying every mandatory value, sendings per recipient,
roles, bad periods, audit; the migration keeps existing sendings."""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import docx
import pypdf
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from soc_api.crud import audit
from soc_api.db import alembic_config, migrate
from soc_api.db.session import make_engine
from soc_api.forms.validate import MANDATORY
from soc_api.services.summary import InvalidPeriod, Period, parse_period
from tests.test_api_auth import ApiEnv, build_env
from tests.workflow_support import FULL_MAU03

ORG = {
    "name": "Trung tâm Giám sát an toàn, an ninh mạng tỉnh Thanh Hóa",
    "address": "28 Đại lộ Lê Lợi, TP Thanh Hóa",
    "phone": "0237 3855 555",
    "email": "soc@thanhhoa.gov.vn",
}
DRAFT: dict[str, Any] = {
    "reporting_org": ORG,
    "signature": "Lê Văn Bình",
    "report_date": "15/06/2026",
    "supporting_orgs": ["VNCERT/CC", "Công ty An ninh mạng Viettel"],
    "recommendations": "Tăng cường giám sát các cổng thông tin điện tử của huyện.",
    "rows": [{"incident_type": "malware", "foreign_help": 1, "estimated_damage": "50 triệu đồng"}],
}


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ApiEnv]:
    api, store = build_env(tmp_path)
    yield api
    api.client.close()
    store.close()


def _incident(env: ApiEnv, *, status: str | None = None, **body: Any) -> dict[str, Any]:
    h = env.auth("analyst")
    resp = env.client.post("/api/v1/incidents", headers=h, json={"title": "Sự cố", **body})
    assert resp.status_code == 201, resp.text
    inc: dict[str, Any] = resp.json()
    if status is not None:
        upd = env.client.patch(f"/api/v1/incidents/{inc['id']}", headers=h, json={"status": status})
        assert upd.status_code == 200, upd.text
        inc = upd.json()
    return inc


def _recipient(env: ApiEnv, code: str, kind: str) -> int:
    r = env.client.post(
        "/api/v1/recipients",
        headers=env.auth("admin"),
        json={"code": code, "name": f"Nơi nhận {code}", "kind": kind, "channel": "manual"},
    )
    assert r.status_code == 201, r.text
    rid: int = r.json()["id"]
    return rid


def _seed(env: ApiEnv) -> dict[str, dict[str, Any]]:
    """Tickets across 2025, 2026-H1 and 2026-H2 of different types, units, severities, states."""
    vncert = _recipient(env, "VNCERT", "national_coordinator")
    police = _recipient(env, "CA_TINH", "provincial_police")
    made = {
        # 2026-H1
        "h1_malware_inhouse": _incident(
            env, incident_type="malware", unit_code="SO_TTTT", detected_at="2026-02-10T03:00:00Z", status="resolved"
        ),
        "h1_malware_serious": _incident(
            env,
            incident_type="malware",
            unit_code="HUYEN_A",
            detected_at="2026-03-05T09:00:00Z",
            security_level=4,
            impacts=["service_interruption"],
            owner_can_handle=False,
            status="closed",
        ),
        "h1_defacement_open": _incident(
            env, incident_type="defacement", unit_code="SO_TTTT_TT", detected_at="2026-05-20T01:00:00Z"
        ),
        # 00:30 on 1 January 2026 in Vietnam, still 2025 in UTC: belongs to 2026-H1.
        "h1_new_year_ict": _incident(
            env, incident_type="spoofing", unit_code="HUYEN_A", detected_at="2025-12-31T17:30:00Z", status="resolved"
        ),
        # 2026-H2: 17:30 on 30 June UTC is already 00:30 on 1 July in Vietnam.
        "h2_july_ict": _incident(
            env, incident_type="unauthorised_access", unit_code="SO_TTTT", detected_at="2026-06-30T17:30:00Z"
        ),
        # 23:30 on 30 June in Vietnam: still 2026-H1.
        "h1_june_ict": _incident(
            env, incident_type="defacement", unit_code="SO_TTTT", detected_at="2026-06-30T16:30:00Z", status="closed"
        ),
        "h2_ddos": _incident(
            env, incident_type="denial_of_service", unit_code=None, detected_at="2026-10-01T02:00:00Z"
        ),
        # other years: never counted in 2026
        "y2025": _incident(env, incident_type="malware", unit_code="SO_TTTT", detected_at="2025-11-01T02:00:00Z"),
        "y2027": _incident(env, incident_type="malware", unit_code="SO_TTTT", detected_at="2027-01-01T02:00:00Z"),
    }
    # A duplicate merged into another ticket is not counted.
    dup = _incident(env, incident_type="malware", unit_code="SO_TTTT", detected_at="2026-02-11T03:00:00Z")
    target = made["h1_defacement_open"]["id"]
    merged = env.client.post(
        f"/api/v1/incidents/{target}/merge", headers=env.auth("analyst"), json={"source_ids": [dup["id"]]}
    )
    assert merged.status_code == 200, merged.text
    # The defacement was referred to the national coordinator (Mẫu 03 sent to VNCERT only).
    h = env.auth("analyst")
    url = f"/api/v1/incidents/{target}/forms/mau03"
    assert env.client.put(url, headers=h, json=FULL_MAU03).json()["ok"] is True
    sent = env.client.post(f"{url}/send", headers=h, json={"format": "json", "recipient_ids": [vncert]})
    assert sent.status_code == 201, sent.text
    # The serious one went to the provincial police only: not a referral to the coordinator.
    url = f"/api/v1/incidents/{made['h1_malware_serious']['id']}/forms/mau03"
    env.client.put(
        url, headers=h, json={**FULL_MAU03, "detected_date": "05/03/2026", "report_time": "05/03/2026 18:00"}
    )
    assert (
        env.client.post(f"{url}/send", headers=h, json={"format": "json", "recipient_ids": [police]}).status_code == 201
    )
    return made


def _row(summary: dict[str, Any], incident_type: str) -> dict[str, Any]:
    row: dict[str, Any] = next(r for r in summary["data"]["rows"] if r["incident_type"] == incident_type)
    return row


def _stat(summary: dict[str, Any], incident_type: str) -> dict[str, Any]:
    row: dict[str, Any] = next(r for r in summary["stats"]["by_type"] if r["incident_type"] == incident_type)
    return row


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text).strip()


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return normalise(" ".join(page.extract_text() for page in reader.pages))


def docx_text(data: bytes) -> str:
    document = docx.Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return normalise(" ".join(parts))


# --- periods --------------------------------------------------------------------------------------


def test_periods_parse_strictly() -> None:
    h1 = parse_period("2026-H1")
    assert (h1.key, h1.form_value, h1.due_before) == ("2026-H1", "H1-2026", date(2026, 6, 20))
    assert h1.starts_at == datetime(2025, 12, 31, 17, tzinfo=UTC)
    assert h1.ends_at == datetime(2026, 6, 30, 17, tzinfo=UTC)
    assert parse_period("2026-H2").first_day == date(2026, 7, 1) and parse_period("2026-H2").due_before is None
    year = parse_period("2026")
    assert year == Period(2026, None) and year.due_before == date(2026, 12, 15) and year.form_value == "2026"
    for bad in [
        "2026-H3",
        "2026-h1",
        "H1-2026",
        "26",
        "1999",
        "2101",
        "2026-H1 ",
        "2026-H1\n",
        "\uff12\uff10\uff12\uff16",  # fullwidth digits
        "2026-1",
        "",
    ]:
        with pytest.raises(InvalidPeriod, match="YYYY-H1"):
            parse_period(bad)


def test_bad_period_is_422_with_a_clear_message(env: ApiEnv) -> None:
    h = env.auth("analyst")
    for bad in ["2026-H3", "H1-2026", "1999", "2026-Q1", "abc"]:
        for method, path, body in [
            ("GET", f"/api/v1/summaries/{bad}", None),
            ("PUT", f"/api/v1/summaries/{bad}", {}),
            ("GET", f"/api/v1/summaries/{bad}/export?format=pdf", None),
            ("POST", f"/api/v1/summaries/{bad}/send", {}),
        ]:
            resp = env.client.request(method, path, headers=h, json=body)
            assert resp.status_code == 422, (method, path, resp.text)
            detail = resp.json()["detail"]
            assert "Kỳ báo cáo không hợp lệ" in detail and "Invalid reporting period" in detail, detail


# --- counts ---------------------------------------------------------------------------------------


def test_counts_are_exactly_the_periods_tickets(env: ApiEnv) -> None:
    made = _seed(env)
    h = env.auth("analyst")
    h1 = env.client.get("/api/v1/summaries/2026-H1", headers=h)
    assert h1.status_code == 200, h1.text
    s = h1.json()
    assert s["period"] == "2026-H1" and s["data"]["period"] == "H1-2026" and s["due_before"] == "2026-06-20"
    assert s["label_vi"] == "6 tháng đầu năm 2026"
    # one row per national type, in the form's order
    assert len(s["data"]["rows"]) == 10 and s["data"]["rows"][0]["incident_type"] == "denial_of_service"
    malware = _row(s, "malware")
    assert malware["total"] == 2 and malware["handled_in_house"] == 1 and malware["handled_with_help"] == 1
    assert malware["referred_to_coordinator"] == 0  # sent to the police only
    defacement = _row(s, "defacement")
    assert defacement["total"] == 2 and defacement["referred_to_coordinator"] == 1
    assert defacement["handled_in_house"] == 1 and defacement["handled_with_help"] == 0
    assert _row(s, "spoofing")["total"] == 1 and _row(s, "spoofing")["handled_in_house"] == 1
    assert _row(s, "unauthorised_access")["total"] == 0 and _row(s, "denial_of_service")["total"] == 0
    assert sum(r["total"] for r in s["data"]["rows"]) == 5
    stats = s["stats"]
    assert stats["total"] == 5 and stats["handled"] == 4 and stats["in_progress"] == 1
    assert stats["by_severity"] == {"normal": 4, "serious": 1}
    assert stats["by_status"] == {"closed": 2, "open": 1, "resolved": 2}
    assert _stat(s, "malware")["serious"] == 1 and _stat(s, "defacement")["in_progress"] == 1
    units = {u["unit_code"]: u for u in stats["by_unit"]}
    assert {k: u["total"] for k, u in units.items()} == {"SO_TTTT": 2, "HUYEN_A": 2, "SO_TTTT_TT": 1}
    assert units["HUYEN_A"]["serious"] == 1 and units["HUYEN_A"]["unit_name"] == "UBND huyện A"
    assert units["SO_TTTT_TT"]["in_progress"] == 1
    assert [n["id"] for n in stats["notable"]] == [made["h1_malware_serious"]["id"]]
    # the counts do not depend on a stale draft, and nothing is missing but what the tickets cannot know
    assert s["ok"] is False and s["draft"] == {} and s["sendings"] == []

    h2 = env.client.get("/api/v1/summaries/2026-H2", headers=h).json()
    assert h2["stats"]["total"] == 2 and h2["due_before"] is None
    assert _row(h2, "unauthorised_access")["total"] == 1 and _row(h2, "denial_of_service")["total"] == 1
    assert _row(h2, "malware")["total"] == 0
    assert {u["unit_code"] for u in h2["stats"]["by_unit"]} == {"SO_TTTT", None}

    year = env.client.get("/api/v1/summaries/2026", headers=h).json()
    assert year["stats"]["total"] == 7 and year["data"]["period"] == "2026" and year["due_before"] == "2026-12-15"
    for t in ("malware", "defacement", "spoofing", "unauthorised_access", "denial_of_service"):
        assert _row(year, t)["total"] == _row(s, t)["total"] + _row(h2, t)["total"], t

    empty = env.client.get("/api/v1/summaries/2030-H1", headers=h).json()
    assert empty["stats"]["total"] == 0 and all(r["total"] == 0 for r in empty["data"]["rows"])


# --- draft, refusal, export -----------------------------------------------------------------------


def test_export_refused_with_the_missing_fields_then_pdf_and_docx_carry_every_value(env: ApiEnv) -> None:
    _seed(env)
    h = env.auth("analyst")
    url = "/api/v1/summaries/2026-H1"
    for fmt in ("pdf", "docx", "json"):
        refused = env.client.get(f"{url}/export?format={fmt}", headers=h)
        assert refused.status_code == 422, refused.text
        detail = refused.json()["detail"]
        assert "Không thể xuất Mẫu 05" in detail["message"] and "cannot be exported" in detail["message"]
        assert any("(reporting_org.name)" in m and "Missing mandatory field" in m for m in detail["missing"])
    check = env.client.get(url, headers=h).json()
    assert any("(reporting_org.name)" in m for m in check["missing"])
    # Values are checked as they arrive; counts cannot be written through the draft.
    assert env.client.put(url, headers=h, json={"reporting_org": {"email": "không-phải-email"}}).status_code == 422
    assert env.client.put(url, headers=h, json={"rows": [{"incident_type": "malware", "total": 99}]}).status_code == 422
    twice = {"rows": [{"incident_type": "malware"}, {"incident_type": "malware"}]}
    assert env.client.put(url, headers=h, json=twice).status_code == 422
    # Foreign help beyond the type's total is saved as a draft but blocks export.
    over = env.client.put(url, headers=h, json={**DRAFT, "rows": [{"incident_type": "malware", "foreign_help": 3}]})
    assert over.status_code == 200 and over.json()["ok"] is False
    assert any("(rows.2.foreign_help)" in m for m in over.json()["missing"])
    assert env.client.get(f"{url}/export?format=pdf", headers=h).status_code == 422

    saved = env.client.put(url, headers=h, json=DRAFT)
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["ok"] is True and body["missing"] == [] and body["updated_by"] == "analyst"
    assert body["data"]["reporting_org"]["name"] == ORG["name"] and body["data"]["signature"] == "Lê Văn Bình"
    malware = _row(body, "malware")
    assert (malware["total"], malware["foreign_help"], malware["estimated_damage"]) == (2, 1, "50 triệu đồng")
    assert env.client.get(url, headers=h).json()["draft"]["reporting_org"]["name"] == ORG["name"]

    # Every mandatory field of Mẫu 05 must appear, with its value, in both documents.
    assert set(MANDATORY["mau05"]) == {"period", "reporting_org.name"}
    expected = {
        "period": "Kỳ báo cáo (*): 6 tháng đầu năm 2026 (H1-2026)",
        "reporting_org.name": f"Tên tổ chức báo cáo (*): {ORG['name']}",
    }
    for fmt, extract in (("pdf", pdf_text), ("docx", docx_text)):
        resp = env.client.get(f"{url}/export?format={fmt}", headers=h)
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-disposition"] == f'attachment; filename="mau05-2026-H1.{fmt}"'
        text = extract(resp.content)
        for path, line in expected.items():
            assert line in text, (fmt, path)
        for value in (*ORG.values(), "Lê Văn Bình", "50 triệu đồng", "VNCERT/CC", "15 tháng 06 năm 2026"):
            assert value in text, (fmt, value)
        assert "Tấn công sử dụng mã độc 2 1 1 1 0 50 triệu đồng" in text, fmt  # the malware row
        assert "Tổng cộng 5 3 1 1 1" in text, fmt  # totals: all, in-house, with help, foreign, referred
    js = env.client.get(f"{url}/export?format=json", headers=h)
    assert js.status_code == 200 and js.json()["form"] == "mau05" and js.json()["period"] == "H1-2026"

    with env.sessions() as db:
        actions = [e.action for e in audit.entries_for(db, "summary", "2026-H1")]
    assert actions == ["summary.draft_save", "summary.draft_save"]  # the refused PUTs changed nothing


# --- roles and sendings ---------------------------------------------------------------------------


def test_unit_reporter_and_feed_client_are_refused(env: ApiEnv) -> None:
    url = "/api/v1/summaries/2026-H1"
    for who in ("unit_reporter", "huyen_reporter", "feed_client"):
        h = env.auth(who)
        for method, path, body in [
            ("GET", url, None),
            ("PUT", url, DRAFT),
            ("GET", f"{url}/export?format=pdf", None),
            ("POST", f"{url}/send", {"format": "pdf"}),
        ]:
            resp = env.client.request(method, path, headers=h, json=body)
            assert resp.status_code == 403, (who, method, path, resp.text)
    assert env.client.get(url, headers=env.auth("admin")).status_code == 200
    with env.sessions() as db:
        assert audit.entries_for(db, "summary", "2026-H1") == []


def test_sending_records_one_row_per_recipient_and_is_audited(env: ApiEnv) -> None:
    _seed(env)  # VNCERT and CA_TINH exist
    h = env.auth("analyst")
    url = "/api/v1/summaries/2026"
    refused = env.client.post(f"{url}/send", headers=h, json={"format": "pdf"})
    assert refused.status_code == 422 and refused.json()["detail"]["missing"]
    assert env.client.put(url, headers=h, json=DRAFT).status_code == 200
    steering = _recipient(env, "BCD_TINH", "steering_committee")
    sent = env.client.post(f"{url}/send", headers=h, json={"format": "pdf"})
    assert sent.status_code == 201, sent.text
    rows = sent.json()
    assert {r["recipient_code"] for r in rows} == {"VNCERT", "CA_TINH", "BCD_TINH"}
    assert all(r["period"] == "2026" and r["incident_id"] is None and r["form_kind"] == "mau05" for r in rows)
    assert {r["status"] for r in rows} == {"pending"} and len({r["sha256"] for r in rows}) == 1
    one = env.client.post(f"{url}/send", headers=h, json={"format": "docx", "recipient_ids": [steering]})
    assert one.status_code == 201 and [r["recipient_code"] for r in one.json()] == ["BCD_TINH"]
    assert env.client.post(f"{url}/send", headers=h, json={"recipient_ids": [9999]}).status_code == 404
    # The delivery state of a summary sending is tracked like any other.
    first = rows[0]["id"]
    upd = env.client.patch(f"/api/v1/sendings/{first}", headers=h, json={"status": "sent", "note": "đã gửi"})
    assert upd.status_code == 200, upd.text
    assert upd.json()["period"] == "2026" and upd.json()["status"] == "sent"
    summary = env.client.get(url, headers=h).json()
    assert [s["id"] for s in summary["sendings"]] == [r["id"] for r in rows] + [one.json()[0]["id"]]
    # Summary sendings are the period's, not any incident's, and do not count as referrals.
    assert env.client.get("/api/v1/summaries/2026-H1", headers=h).json()["sendings"] == []
    assert _row(summary, "malware")["referred_to_coordinator"] == 0
    with env.sessions() as db:
        entries = audit.entries_for(db, "summary", "2026")
        actions = [e.action for e in entries]
        assert actions == ["summary.draft_save", "summary.send", "summary.send", "sending.update"]
        send = entries[1].detail
        assert sorted(send["recipients"]) == ["BCD_TINH", "CA_TINH", "VNCERT"] and send["format"] == "pdf"
        assert audit.verify(db).ok


def test_incidents_page_offers_the_summary(env: ApiEnv) -> None:
    page = env.client.get("/ui/incidents")
    assert page.status_code == 200
    assert "Báo cáo tổng hợp 6 tháng / năm (Mẫu số 05)" in page.text and 'id="summary-form"' in page.text
    assert 'data-format="pdf"' in page.text and 'data-format="docx"' in page.text
    english = env.client.get("/ui/incidents", params={"lang": "en"}).text
    assert "Half-year / annual summary (Form 05)" in english and "Second half-year" in english
    js = env.client.get("/static/incidents.js").text
    assert "/summaries/" in js and "/export?format=" in js


def test_migration_keeps_incident_sendings_and_requires_one_subject(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0003_counts")
            now = "2026-03-01 00:00:00"
            conn.execute(
                text(
                    "INSERT INTO incidents (id, title, description, incident_type, severity, impacts,"
                    " owner_can_handle, priority, status, source, detected_at, created_by, created_at, updated_at,"
                    " forms) VALUES ('i1', 't', '', 'malware', 'normal', '[]', 1, 'P4', 'open', 'manual',"
                    " :now, 'a', :now, :now, '{}')"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO recipients (id, code, name, kind, channel, enabled, created_at)"
                    " VALUES (1, 'VNCERT', 'VNCERT', 'national_coordinator', 'manual', 1, :now)"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO sendings (incident_id, recipient_id, form_kind, format, sha256, status,"
                    " created_by, created_at, updated_at) VALUES ('i1', 1, 'mau03', 'pdf', :sha, 'sent', 'a', :now, :now)"
                ),
                {"sha": "0" * 64, "now": now},
            )
        migrate(url)
        insert = (
            "INSERT INTO sendings (incident_id, period, recipient_id, form_kind, format, sha256, status, created_by,"
            " created_at, updated_at) VALUES (:inc, :period, 1, 'mau05', 'pdf', :sha, 'pending', 'a', :now, :now)"
        )
        values = {"sha": "1" * 64, "now": "2026-07-01 00:00:00"}
        with engine.begin() as conn:
            kept = conn.execute(text("SELECT incident_id, period, status FROM sendings")).all()
            assert [tuple(r) for r in kept] == [("i1", None, "sent")]
            conn.execute(text(insert), {**values, "inc": None, "period": "2026-H1"})
        for inc, period in ((None, None), ("i1", "2026-H1")):
            with engine.begin() as conn, pytest.raises(DatabaseError, match="CHECK"):
                conn.execute(text(insert), {**values, "inc": inc, "period": period})
    finally:
        engine.dispose()
