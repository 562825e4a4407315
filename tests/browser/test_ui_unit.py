"""Unit reporters file the national initial report (Mẫu 03) through the web form and follow only
their own unit's tickets — in headless Chromium against `soc up --demo`."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Person, UiSoc, login

pytestmark = pytest.mark.browser

CITY = "TH.TPTH"  # UBND thành phố Thanh Hóa (with its wards below it)
DISTRICT = "TH.HHH"  # UBND huyện Hoằng Hóa: another branch of the province


def fill_report(page: Any, summary: str, org: str) -> None:
    page.fill("#f-reporting_org-name", org)
    page.fill("#f-reporting_org-address", "35 Đại lộ Lê Lợi, phường Lam Sơn, TP Thanh Hóa")
    page.fill("#f-reporting_org-phone", "0237 385 2345")
    page.fill("#f-reporting_org-email", "cntt@thanhhoa.gov.vn")
    page.fill("#f-contact-full_name", "Lê Thị Hương")
    page.fill("#f-contact-position", "Chuyên viên CNTT")
    page.fill("#f-contact-phone", "0912 345 678")
    page.fill("#f-contact-email", "huong.lt@thanhhoa.gov.vn")
    page.fill("#f-system-operator_name", "Trung tâm Dữ liệu và Chuyển đổi số")
    page.fill("#f-system-system_name", "Cổng dịch vụ công")
    page.fill("#f-system-domains", "dichvucong.thanhhoa.gov.vn")
    page.select_option("#f-system-security_level", "3")
    page.select_option("#f-incident_type", "defacement")
    page.fill("#f-summary", summary)
    page.fill("#f-detected_date", "2026-11-20")
    page.fill("#f-detected_time", "08:15")
    page.check("input[name=current_status][value=in_progress]")
    page.check("input[name=detection_methods][value=user_report]")
    page.check("input[name=notified][value=specialised_unit]")


def file_report(page: Any, soc: UiSoc, person: Person, summary: str, org: str) -> None:
    login(page, soc, person)
    page.click("#nav a[href='/ui/reports/new']")
    page.wait_for_url("**/ui/reports/new")
    fill_report(page, summary, org)
    page.click("#submit-report")
    page.wait_for_url(re.compile(r"/ui/tickets\?created="))
    page.wait_for_selector(f"#reports tbody td:has-text('{summary[:30]}')")


def test_unit_reporter_files_a_report_and_sees_only_its_units_tickets(
    ui_soc: UiSoc, browser: Any, page: Any, shot: Callable[[Any, str], Path]
) -> None:
    mine = ui_soc.add_user("ui_bao_cao_tp", "unit_reporter", CITY)
    other = ui_soc.add_user("ui_bao_cao_huyen", "unit_reporter", DISTRICT)

    # Another unit files first (its own browser session).
    other_ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        other_page = other_ctx.new_page()
        file_report(other_page, ui_soc, other, "Trang xã Hoằng Đạo bị thay đổi giao diện", "UBND huyện Hoằng Hóa")
    finally:
        other_ctx.close()
    other_reports = ui_soc.api("GET", "/reports", other.name).json()["items"]
    assert len(other_reports) == 1 and other_reports[0]["incident_id"]
    other_incident = other_reports[0]["incident_id"]

    login(page, ui_soc, mine)
    assert "/ui/tickets" in page.url  # a unit reporter lands on its tickets
    assert page.locator("#nav a[href='/ui/alerts']").is_hidden()
    shot(page, "tickets-empty")

    # The form marks mandatory fields and refuses to send without them.
    page.click("#nav a[href='/ui/reports/new']")
    page.wait_for_url("**/ui/reports/new")
    assert page.locator("h1").inner_text() == "Báo cáo ban đầu sự cố mạng (Mẫu số 03)"
    required = page.locator("#report-form .field.required")
    assert required.count() >= 14
    captions = required.locator(":scope > label, :scope > .label").all_inner_texts()
    assert len(captions) == required.count() and all(text.rstrip().endswith("*") for text in captions)
    page.click("#submit-report")
    error = page.locator("#report-error")
    error.wait_for(state="visible")
    assert "Còn thiếu trường bắt buộc" in error.inner_text() and "Tên tổ chức báo cáo" in error.inner_text()
    shot(page, "report-missing-fields")

    summary = "Cổng dịch vụ công thành phố hiển thị nội dung lạ, nghi bị thay đổi giao diện"
    fill_report(page, summary, "UBND thành phố Thanh Hóa")
    shot(page, "report-filled")
    page.click("#submit-report")
    page.wait_for_url(re.compile(r"/ui/tickets\?created="))
    page.wait_for_selector(f"#reports tbody td:has-text('{summary[:40]}')")
    page.wait_for_selector("#tickets tbody tr[data-id]")
    shot(page, "tickets-after-report")

    my_reports = ui_soc.api("GET", "/reports", mine.name).json()["items"]
    assert len(my_reports) == 1
    my_incident = my_reports[0]["incident_id"]
    shown_tickets = page.locator("#tickets tbody tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)")
    shown_reports = page.locator("#reports tbody tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert my_incident in shown_tickets
    assert other_incident not in shown_tickets and other_reports[0]["id"] not in shown_reports
    units = set(page.locator("#tickets tbody tr[data-id] td:nth-child(5)").all_inner_texts())
    assert units and all(u == CITY or u.startswith(CITY + ".") for u in units)

    # Its own ticket opens; another unit's ticket, even by direct URL, shows a refusal.
    page.click(f"#tickets a[href='/ui/incidents/{my_incident}']")
    page.wait_for_selector("#incident-view:not([hidden])")
    page.wait_for_selector("#deadlines .clock.national")
    assert page.locator("#edit-form").is_hidden()  # reporters do not triage
    shot(page, "own-ticket")

    page.goto(f"{ui_soc.url}/ui/incidents/{other_incident}")
    page.wait_for_selector("#denied:not([hidden])")
    assert page.locator("#incident-view").is_hidden()
    assert "không có quyền" in page.locator("#denied").inner_text()
    shot(page, "other-unit-ticket-refused")
