"""Server side of the web UI: every page renders without data, in Vietnamese by default, in
English with ?lang=en (remembered in a cookie); catalogues agree; static files are self-contained."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from soc_api.app import create_app
from soc_api.routes.ui import LANG_COOKIE, REPORT_SECTIONS
from soc_core.embedded.sqlite_events import SqliteEventStore
from soc_core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PAGES = {
    "/": "Hàng đợi cảnh báo",
    "/ui/login": "Đăng nhập",
    "/ui/alerts": "Hàng đợi cảnh báo",
    "/ui/alerts/abc123": "Chi tiết cảnh báo",
    "/ui/incidents": "Danh sách sự cố",
    "/ui/incidents/abc123": "Phiếu sự cố",
    "/ui/reports/new": "Báo cáo ban đầu sự cố mạng (Mẫu số 03)",
    "/ui/tickets": "Phiếu và báo cáo của đơn vị tôi",
    "/ui/dashboard": "Thống kê cảnh báo và sự cố",
}
ENGLISH = {
    "/ui/alerts": "Alert queue",
    "/ui/incidents/abc123": "Incident ticket",
    "/ui/reports/new": "Initial cyber incident report (Form 03)",
    "/ui/tickets": "My unit's tickets and reports",
    "/ui/dashboard": "Alert and incident dashboards",
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    store = SqliteEventStore(tmp_path / "events.db")
    app = create_app(Settings(data_dir=tmp_path / "data", mode="embedded", database_url=None), event_store=store)
    with TestClient(app) as c:
        yield c
    store.close()


def h1(html: str) -> str:
    match = re.search(r"<h1>(.*?)</h1>", html, re.S)
    assert match, "page without <h1>"
    return match.group(1).strip().replace("&#39;", "'")


@pytest.mark.parametrize(("path", "title"), PAGES.items())
def test_every_page_renders_in_vietnamese_without_data(client: TestClient, path: str, title: str) -> None:
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<html lang="vi">' in r.text and h1(r.text) == title
    assert "Trung tâm giám sát an toàn, an ninh mạng tỉnh Thanh Hóa" in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert LANG_COOKIE not in r.headers.get("set-cookie", "")
    # No data is rendered: the page only holds placeholders filled by authenticated API calls.
    assert "soc_" not in r.text.replace("soc-i18n", "")
    for src in re.findall(r'(?:src|href)="([^"]+)"', r.text):
        assert src.startswith(("/", "?")) or src.startswith("#"), src
        if src.startswith("/static/"):
            assert client.get(src).status_code == 200, src


@pytest.mark.parametrize(("path", "title"), ENGLISH.items())
def test_english_by_query_then_by_cookie(client: TestClient, path: str, title: str) -> None:
    r = client.get(path, params={"lang": "en"})
    assert r.status_code == 200 and '<html lang="en">' in r.text and h1(r.text) == title
    assert f"{LANG_COOKIE}=en" in r.headers["set-cookie"]
    assert "Tiếng Việt" in r.text  # the switch back
    again = client.get(path)  # the client keeps the cookie
    assert '<html lang="en">' in again.text and h1(again.text) == title
    back = client.get(path, params={"lang": "vi"})
    assert '<html lang="vi">' in back.text and h1(back.text) == PAGES[path]


def test_unknown_language_falls_back_to_vietnamese(client: TestClient) -> None:
    client.cookies.set(LANG_COOKIE, "fr")
    r = client.get("/ui/alerts", params={"lang": "<script>"})
    assert '<html lang="vi">' in r.text and '<script>"' not in r.text


def test_bad_object_ids_are_refused(client: TestClient) -> None:
    assert client.get("/ui/alerts/bad%20id!").status_code == 422
    assert client.get("/ui/incidents/" + "x" * 65).status_code == 422


def test_catalogues_have_the_same_keys_and_full_vietnamese() -> None:
    vi = json.loads((ROOT / "soc_api/i18n/vi.json").read_text(encoding="utf-8"))
    en = json.loads((ROOT / "soc_api/i18n/en.json").read_text(encoding="utf-8"))
    assert set(vi) == set(en)
    assert all(isinstance(v, str) and v for v in [*vi.values(), *en.values()])
    # Vietnamese with its diacritics, not ASCII transliteration.
    assert vi["itype.unauthorised_access"] == "Truy cập trái phép, chiếm quyền điều khiển"
    assert (
        sum(1 for v in vi.values() if re.search(r"[ăâđêôơưáàảãạéèẻẽẹíìỉĩịóòỏõọúùủũụýỳỷỹỵ]", v.lower())) > len(vi) // 2
    )


def test_templates_only_use_catalogue_keys(client: TestClient) -> None:
    vi = json.loads((ROOT / "soc_api/i18n/vi.json").read_text(encoding="utf-8"))
    used: set[str] = set()
    for tpl in (ROOT / "soc_api/templates").glob("*.html"):
        used |= set(re.findall(r't\("([a-z_]+\.[a-z0-9_]+)"\)', tpl.read_text(encoding="utf-8")))
    for js in (ROOT / "soc_api/static").glob("*.js"):
        used |= set(re.findall(r't\("([a-z_]+\.[a-z0-9_]+)"', js.read_text(encoding="utf-8")))
    assert used and used <= set(vi), sorted(used - set(vi))


def test_report_form_marks_every_mandatory_field(client: TestClient) -> None:
    html = client.get("/ui/reports/new").text
    required = [f.path for _section, fields in REPORT_SECTIONS for f in fields if f.required]
    for path in required:
        block = re.search(rf'<div class="field required" data-path="{re.escape(path)}".*?</div>', html, re.S)
        assert block and "<abbr" in block.group(0) and "*</abbr>" in block.group(0), path
    mandatory = {
        "reporting_org.name",
        "reporting_org.address",
        "reporting_org.phone",
        "reporting_org.email",
        "contact.full_name",
        "contact.phone",
        "contact.email",
        "system.operator_name",
        "summary",
        "detected_date",
        "detected_time",
        "current_status",
        "detection_methods",
        "notified",
        "report_time",
    }
    assert set(required) == mandatory
    assert "Tên tổ chức báo cáo" in html and "Cách thức phát hiện" in html
    assert html.count('name="notified"') >= 4


def test_static_scripts_are_self_contained_and_never_write_markup() -> None:
    for js in (ROOT / "soc_api/static").glob("*.js"):
        text = js.read_text(encoding="utf-8")
        assert "innerHTML" not in text and "outerHTML" not in text and "insertAdjacentHTML" not in text, js.name
        assert "eval(" not in text and "document.write" not in text, js.name
        urls = re.findall(r"[a-z]+://[^\s\"']+", text)
        assert set(urls) <= {"http://www.w3.org/2000/svg"}, (js.name, urls)
        assert "localStorage" not in text, js.name  # the token lives in sessionStorage only
