"""An analyst signs in, filters the alert queue, opens an alert with its ECS events, triages it
into an incident and works the incident page — in headless Chromium against `soc up --demo`."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.conftest import UiSoc, login

pytestmark = pytest.mark.browser


def test_analyst_triages_an_alert_into_an_incident(ui_soc: UiSoc, page: Any, shot: Callable[[Any, str], Path]) -> None:
    analyst = ui_soc.add_user("ui_analyst", "analyst")

    # Without a token every page sends the browser to the login page.
    page.goto(f"{ui_soc.url}/ui/alerts")
    page.wait_for_url(re.compile(r"/ui/login\?next="))
    assert page.locator("html").get_attribute("lang") == "vi"
    assert page.locator("h1").inner_text() == "Đăng nhập"
    shot(page, "login")

    login(page, ui_soc, analyst)
    page.wait_for_selector("#alerts tbody tr[data-id]")
    shot(page, "queue")
    all_rows = page.locator("#alerts tbody tr[data-id]").count()
    assert all_rows > 0

    # Filter: high level only; every row shown is high, and the filter is kept in the address bar.
    total_all = ui_soc.api("GET", "/alerts", analyst.name).json()["total"]
    highs = ui_soc.api("GET", "/alerts", analyst.name, params={"level": "high", "limit": 500}).json()
    assert highs["total"] > 0, "the demo must produce high alerts"
    page.select_option("#filters select[name=level]", "high")
    page.wait_for_function(
        "n => document.querySelector('#page-info').textContent.includes(': ' + n)", arg=highs["total"]
    )
    assert "level=high" in page.url
    levels = page.locator("#alerts tbody tr[data-id] td:nth-child(3)").all_inner_texts()
    assert levels and set(levels) == {"Cao"}
    assert highs["total"] < total_all or all(a["level"] == "high" for a in highs["items"])
    shot(page, "queue-filtered-high")

    # Text search narrows to one rule.
    target = highs["items"][0]
    page.fill("#filters input[name=rule_id]", target["rule_id"])
    page.click("#filters button[type=submit]")
    page.wait_for_function(
        "([id, rule]) => { const rows = [...document.querySelectorAll('#alerts tbody tr[data-id]')];"
        " return rows.some(r => r.dataset.id === id)"
        " && rows.every(r => r.querySelector('td:nth-child(5)').textContent === rule); }",
        arg=[target["id"], target["rule_title"]],
    )
    assert parse_qs(urlsplit(page.url).query).get("rule_id") == [target["rule_id"]]  # the filter is in the URL
    titles = set(page.locator("#alerts tbody tr[data-id] td:nth-child(5)").all_inner_texts())
    assert titles == {target["rule_title"]}

    # Open the alert: fields and its triggering ECS events as expandable JSON.
    page.click(f"#alerts tbody tr[data-id='{target['id']}'] td:nth-child(5) a")
    page.wait_for_url(f"**/ui/alerts/{target['id']}")
    page.wait_for_selector("#alert-view:not([hidden])")
    assert target["rule_title"] in page.locator("#alert-title").inner_text()
    events = page.locator("#events details.event")
    assert events.count() > 0
    first_json = events.first.locator("pre").inner_text()
    assert '"@timestamp"' in first_json and '"event"' in first_json
    shot(page, "alert-detail")

    # Triage: acknowledge and take it, comment, then open an incident from it.
    page.select_option("#status-form select[name=status]", "acknowledged")
    page.click("#status-form button[type=submit]")
    page.wait_for_selector("#flash:has-text('Đã lưu')")
    page.click("#assign-me")
    page.wait_for_function("() => document.querySelector('#alert-fields').textContent.includes('ui_analyst')")
    after = ui_soc.api("GET", f"/alerts/{target['id']}", analyst.name).json()
    assert after["status"] == "acknowledged" and after["assignee"] == "ui_analyst"

    page.fill("#comment-body", "Đã kiểm tra: dò mật khẩu từ IP ngoài, chuyển thành sự cố.")
    page.click("#comment-form button[type=submit]")
    page.wait_for_selector("#comments li:has-text('dò mật khẩu')")
    shot(page, "alert-triaged")

    page.fill("#incident-form input[name=title]", "Dò mật khẩu SSH vào hệ thống một cửa")
    page.select_option("#incident-form select[name=incident_type]", "unauthorised_access")
    # A level-4 system whose service is interrupted and whose owner cannot cope: a serious incident.
    page.select_option("#incident-form select[name=security_level]", "4")
    page.check("#incident-form input[name=impacts][value=service_interruption]")
    page.check("#incident-form input[name=owner_cannot_handle]")
    page.click("#create-incident")
    page.wait_for_url(re.compile(r"/ui/incidents/[A-Za-z0-9_-]+$"))
    incident_id = page.url.rsplit("/", 1)[1]
    page.wait_for_selector("#incident-view:not([hidden])")
    page.wait_for_selector("#deadlines .clock.national")
    assert "Dò mật khẩu SSH" in page.locator("#incident-title").inner_text()
    fields = page.locator("#incident-fields").inner_text()
    assert "Truy cập trái phép, chiếm quyền điều khiển" in fields and "Nghiêm trọng" in fields
    assert page.locator(f"#incident-alerts a[href='/ui/alerts/{target['id']}']").count() == 1
    clock = page.locator("#deadlines .clock.national")
    assert "Còn lại" in clock.inner_text() and clock.get_attribute("data-state") in {"ok", "warning"}
    assert page.locator("#deadlines .clock").count() == 2  # the serious-incident emergency report too
    shot(page, "incident")

    page.select_option("#edit-form select[name=priority]", "P2")
    page.select_option("#edit-form select[name=status]", "investigating")
    page.click("#edit-form button[type=submit]")
    page.wait_for_function("() => document.querySelector('#incident-title').textContent.startsWith('P2')")

    # Work the ticket: a task and an observable appear on the page and in the API.
    page.fill("#task-form input[name=title]", "Chặn IP tấn công trên tường lửa")
    page.click("#task-form button[type=submit]")
    page.wait_for_selector("#tasks tbody td:has-text('Chặn IP tấn công')")
    page.select_option("#observable-form select[name=type]", "ip")
    page.fill("#observable-form input[name=value]", "203.0.113.77")
    page.click("#observable-form button[type=submit]")
    page.wait_for_selector("#observables tbody td:has-text('203.0.113.77')")
    page.wait_for_selector("#timeline li")
    shot(page, "incident-worked")

    incident = ui_soc.api("GET", f"/incidents/{incident_id}", analyst.name).json()
    assert incident["incident_type"] == "unauthorised_access" and incident["priority"] == "P2"
    assert incident["severity"] == "serious" and incident["status"] == "investigating"
    assert target["id"] in incident["alert_ids"]
    # The hand-made task next to the tasks seeded from the unauthorised-access playbook (serious:
    # the emergency report too), each listed with its state in the playbook panel.
    assert [t["title"] for t in incident["tasks"] if t["playbook_step"] is None] == ["Chặn IP tấn công trên tường lửa"]
    seeded = {t["playbook_step"] for t in incident["tasks"]} - {None}
    assert {"isolate_account", "notify_national", "emergency_report"} <= seeded
    assert page.locator("#playbook tbody tr[data-step=notify_national]").get_attribute("data-state") == "open"
    assert ("ip", "203.0.113.77") in [(o["type"], o["value"]) for o in incident["observables"]]

    # The same page in English.
    page.click("#lang-switch")
    page.wait_for_selector("#incident-view:not([hidden])")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Incident ticket"
    assert "Unauthorised access" in page.locator("#incident-fields").inner_text()
    shot(page, "incident-en")

    # Dashboards: inline SVG charts drawn from the API data, including the new incident's type.
    page.goto(f"{ui_soc.url}/ui/dashboard?lang=vi")
    for chart in ("time", "unit", "tactic", "type", "level"):
        page.wait_for_selector(f"#chart-{chart} svg rect")
    assert "Truy cập trái phép" in page.locator("#chart-type").inner_text()
    assert "Đánh cắp thông tin xác thực" in page.locator("#chart-tactic").inner_text()
    shot(page, "dashboard")
