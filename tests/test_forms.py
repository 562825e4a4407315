"""National report forms (issue 5): mandatory fields, value checks, PDF/DOCX/JSON export.

Every document is read back (pypdf for PDF, python-docx for DOCX) and searched for each
mandatory field's Vietnamese label followed by its value, diacritics intact. Page 1 of each PDF
is rasterised with pdftoppm into .test-artifacts/forms/ for a human look at the layout.
"""

from __future__ import annotations

import copy
import io
import json
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import docx
import pypdf
import pytest

from soc_api import forms
from soc_api.forms import FormIncomplete, FormKind, InitialReport, OutputFormat
from soc_api.forms.fonts import find_fonts
from soc_api.forms.labels import field_label
from soc_api.forms.validate import MANDATORY

DATA = Path(__file__).parent / "data" / "forms"
ARTIFACTS = Path(__file__).resolve().parent.parent / ".test-artifacts" / "forms"
KINDS: tuple[FormKind, ...] = ("mau03", "end_report", "mau05")

# What each mandatory field must print, written out by hand from the sample files: a plain
# string must follow "label (*):"; a list holds the ticked options (☒) of a checkbox group.
EXPECTED: dict[str, dict[str, str | list[str]]] = {
    "mau03": {
        "reporting_org.name": "Sở Khoa học và Công nghệ tỉnh Thanh Hóa",
        "reporting_org.address": "Số 15 Đại lộ Lê Lợi, phường Điện Biên, thành phố Thanh Hóa",
        "reporting_org.phone": "0237 3852 555",
        "reporting_org.email": "skhcn@thanhhoa.gov.vn",
        "contact.full_name": "Nguyễn Thị Hường",
        "contact.phone": "0912 345 678",
        "contact.email": "huong.nt@thanhhoa.gov.vn",
        "system.operator_name": "Trung tâm Dữ liệu và Công nghệ số tỉnh Thanh Hóa",
        "summary": "Trang chủ cổng dịch vụ công bị thay đổi giao diện lúc 14:30; kẻ tấn công khai thác lỗ hổng "
        "tải tệp lên. Dữ liệu hồ sơ công dân có nguy cơ bị lộ.",
        "detected_date": "05/03/2026",
        "detected_time": "14:30",
        "current_status": ["Đang khắc phục"],
        "detection_methods": ["Qua hệ thống giám sát, phát hiện xâm nhập", "Khác"],
        "notified": ["Cơ quan điều phối quốc gia (VNCERT/CC)", "Công an tỉnh", "Cơ quan chủ quản hệ thống thông tin"],
        "report_time": "06/03/2026 09:15",
    },
    "end_report": {
        "initial_report_number": "17/BC-TTDL",
        "initial_report_date": "06/03/2026",
        "operator": "Trung tâm Dữ liệu và Công nghệ số tỉnh Thanh Hóa",
        "system": "Cổng dịch vụ công trực tuyến tỉnh",
        "incident_name": "Thay đổi giao diện cổng dịch vụ công",
        "description": "Kẻ tấn công khai thác lỗ hổng tải tệp lên để cài webshell và thay trang chủ.",
        "detected_at": "05/03/2026 14:30",
        "result": "Đã gỡ webshell, vá lỗ hổng, khôi phục giao diện từ bản sao lưu; hệ thống hoạt động bình thường.",
    },
    "mau05": {
        "period": "6 tháng đầu năm 2026 (H1-2026)",
        "reporting_org.name": "Trung tâm Giám sát an toàn thông tin tỉnh Thanh Hóa",
    },
}
# The end report's "system" is printed under the system-name label.
LABEL_PATH = {("end_report", "system"): "system.system_name"}


def sample(kind: FormKind) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / f"{kind}_full.json").read_text(encoding="utf-8"))
    return data


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


def extract(fmt: OutputFormat, data: bytes) -> str:
    return pdf_text(data) if fmt == "pdf" else docx_text(data)


def label_of(kind: FormKind, path: str) -> str:
    return field_label(LABEL_PATH.get((kind, path), path)).vi


def drop(data: dict[str, Any], path: str) -> dict[str, Any]:
    """The sample without one field (nested paths supported)."""
    out = copy.deepcopy(data)
    *parents, leaf = path.split(".")
    target = out
    for part in parents:
        target = target[part]
    del target[leaf]
    return out


def test_expected_covers_every_mandatory_field() -> None:
    for kind in KINDS:
        assert set(EXPECTED[kind]) == set(MANDATORY[kind]), kind


@pytest.mark.parametrize("kind", KINDS)
def test_full_sample_is_valid(kind: FormKind) -> None:
    assert forms.validate(kind, sample(kind)) == []


@pytest.mark.parametrize("fmt", ["pdf", "docx"])
@pytest.mark.parametrize("kind", KINDS)
def test_document_shows_every_mandatory_label_and_value(kind: FormKind, fmt: OutputFormat) -> None:
    text = extract(fmt, forms.render(kind, sample(kind), fmt))
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text
    assert "Độc lập - Tự do - Hạnh phúc" in text
    for path, expected in EXPECTED[kind].items():
        head = f"{label_of(kind, path)} (*):"
        assert head in text, f"{path}: label {head!r} not in {fmt}"
        if isinstance(expected, str):
            assert f"{head} {expected}" in text, f"{path}: value {expected!r} does not follow its label in {fmt}"
        else:
            after = text[text.index(head) :]
            for option in expected:
                assert f"☒ {option}" in after, f"{path}: option {option!r} not ticked in {fmt}"


@pytest.mark.parametrize("fmt", ["pdf", "docx"])
def test_mau03_layout_and_choices(fmt: OutputFormat) -> None:
    text = extract(fmt, forms.render("mau03", sample("mau03"), fmt))
    assert "BÁO CÁO BAN ĐẦU SỰ CỐ MẠNG" in text
    assert "Mẫu số 03" in text
    numbered = [
        "1. Thông tin tổ chức báo cáo",
        "2. Thông tin người liên hệ",
        "3. Thông tin hệ thống bị sự cố",
        "4. Thông tin sự cố",
        "5. Thông tin bổ sung về hệ thống bị sự cố",
    ]
    positions = [text.index(title) for title in numbered]
    assert positions == sorted(positions)
    # single choice: exactly one status ticked, the others shown unticked
    assert "☐ Đã khắc phục" in text and "☐ Chưa khắc phục" in text
    assert "☒ Cấp độ 3" in text and "☐ Cấp độ 4" in text
    assert "☒ Thay đổi giao diện" in text and "☐ Từ chối dịch vụ" in text
    assert "Ghi rõ: Người dân gọi đường dây nóng phản ánh" in text
    assert "☐ Trung tâm An ninh mạng quốc gia (Bộ Công an)" in text
    assert "Chức vụ: Trưởng phòng Công nghệ thông tin" in text  # optional fields print without (*)


@pytest.mark.parametrize("fmt", ["pdf", "docx"])
def test_mau05_table_rows_and_totals(fmt: OutputFormat) -> None:
    text = extract(fmt, forms.render("mau05", sample("mau05"), fmt))
    assert "BÁO CÁO TỔNG HỢP TÌNH HÌNH SỰ CỐ MẠNG" in text
    # each row: number, type, total, in-house, with help, foreign help, referred (cells in order)
    assert "5 Thay đổi giao diện 3 2 1 0 1 khoảng 20 triệu đồng" in text
    assert "3 Tấn công sử dụng mã độc 7 6 1 1 0" in text
    assert "2 Tấn công giả mạo 12 12 0 0 0" in text
    assert "1 Từ chối dịch vụ 0 0 0 0 0" in text  # all 10 national types are listed
    assert "10 Các hình thức tấn công khác 0 0 0 0 0" in text
    assert "Tổng cộng 22 20 2 1 1" in text


@pytest.mark.parametrize("kind", KINDS)
def test_json_export_round_trips(kind: FormKind) -> None:
    raw = forms.render(kind, sample(kind), "json")
    assert "Thanh Hóa".encode() in raw  # Vietnamese kept as characters
    document = json.loads(raw)
    assert document["form"] == kind
    assert document["schema_version"] == 1
    assert forms.validate(kind, document) == []
    assert forms.validate("mau03" if kind != "mau03" else "mau05", document) != []  # envelope checked
    again = forms.render(kind, document, "json")
    assert json.loads(again) == document


def test_json_values_are_structured() -> None:
    document = json.loads(forms.render("mau03", sample("mau03"), "json"))
    assert document["detected_date"] == "2026-03-05"
    assert document["report_time"] == "2026-03-06T09:15:00"
    assert document["current_status"] == "in_progress"
    assert document["system"]["security_level"] == 3
    assert document["notified"] == ["national_coordinator", "provincial_police", "owner_agency"]


MISSING_CASES = [(kind, path) for kind in KINDS for path in MANDATORY[kind]]


@pytest.mark.parametrize(("kind", "path"), MISSING_CASES, ids=[f"{k}:{p}" for k, p in MISSING_CASES])
def test_missing_mandatory_field_refuses_export(kind: FormKind, path: str) -> None:
    data = drop(sample(kind), path)
    if kind == "mau03" and path == "detection_methods":
        del data["detection_other"]  # that free text belongs to the "other" method
    problems = forms.validate(kind, data)
    assert len(problems) == 1, problems
    assert f"({path})" in problems[0]
    assert field_label(path).vi in problems[0]
    assert problems[0].startswith("Thiếu trường bắt buộc:")
    assert "Missing mandatory field" in problems[0]
    fmts: tuple[OutputFormat, ...] = ("pdf", "docx", "json")
    for fmt in fmts:
        with pytest.raises(FormIncomplete) as caught:
            forms.render(kind, data, fmt)
        assert caught.value.problems == problems
        assert f"({path})" in str(caught.value)


@pytest.mark.parametrize(
    ("path", "blank"), [("summary", ""), ("summary", "   "), ("summary", None), ("notified", []), ("notified", None)]
)
def test_blank_values_count_as_missing(path: str, blank: Any) -> None:
    data = sample("mau03") | {path: blank}
    assert forms.validate("mau03", data) == [m for m in forms.validate("mau03", drop(sample("mau03"), path))]
    assert any(f"({path})" in p for p in forms.validate("mau03", data))


@pytest.mark.parametrize(
    ("kind", "change", "path"),
    [
        ("mau03", {"system": {"operator_name": "TT", "security_level": 7}}, "system.security_level"),
        ("mau03", {"system": {"operator_name": "TT", "security_level": 0}}, "system.security_level"),
        ("mau03", {"system": {"operator_name": "TT", "security_level": "cao"}}, "system.security_level"),
        ("mau03", {"report_time": "32/13/2026 25:00"}, "report_time"),
        ("mau03", {"report_time": "hôm qua"}, "report_time"),
        ("mau03", {"report_time": "2026-03-06T25:61"}, "report_time"),
        ("mau03", {"detected_time": "25:61"}, "detected_time"),
        ("mau03", {"detected_date": "31/02/2026"}, "detected_date"),
        ("mau03", {"current_status": "đã xong"}, "current_status"),
        ("mau03", {"notified": ["national_coordinator", "hàng xóm"]}, "notified.1"),
        ("mau03", {"incident_type": "ddos"}, "incident_type"),
        ("mau03", {"contact": {"full_name": "A", "phone": "0912345678", "email": "khong-co-a-cong"}}, "contact.email"),
        (
            "mau03",
            {"reporting_org": {"name": "A", "address": "B", "phone": "abc", "email": "a@b.vn"}},
            "reporting_org.phone",
        ),
        ("mau03", {"public_ips": ["999.1.1.1"]}, "public_ips.0"),
        ("mau03", {"domains": ["not a domain"]}, "domains.0"),
        ("mau03", {"unknown_field": "x"}, "unknown_field"),
        ("end_report", {"security_level": 7}, "security_level"),
        ("end_report", {"detected_at": "05/03/2026"}, "detected_at"),
        ("mau05", {"period": "H3-2026"}, "period"),
        ("mau05", {"rows": [{"incident_type": "malware", "total": -1}]}, "rows.0.total"),
    ],
)
def test_bad_values_refuse_export(kind: FormKind, change: dict[str, Any], path: str) -> None:
    data = sample(kind) | change
    problems = forms.validate(kind, data)
    assert any(f"({path})" in p and p.startswith("Giá trị không hợp lệ:") for p in problems), problems
    with pytest.raises(FormIncomplete):
        forms.render(kind, data, "pdf")


def test_cross_field_rules() -> None:
    data = sample("mau03") | {"report_time": "05/03/2026 14:00"}  # before the 14:30 detection
    assert any("(report_time)" in p for p in forms.validate("mau03", data))
    data = sample("mau03")
    del data["detection_other"]  # "other" ticked without saying what
    assert forms.validate("mau03", data) == [
        "Thiếu trường bắt buộc: Cách thức phát hiện khác (ghi rõ) (detection_other) / "
        "Missing mandatory field: Other detection method (details)"
    ]
    data = sample("end_report") | {"initial_report_date": "01/03/2026"}  # before detection on 05/03
    assert any("(initial_report_date)" in p for p in forms.validate("end_report", data))


def test_mau05_row_checks() -> None:
    base = sample("mau05")
    over = base | {"rows": [{"incident_type": "malware", "total": 2, "handled_in_house": 3}]}
    assert any("(rows.0.handled_in_house)" in p for p in forms.validate("mau05", over))
    twice = base | {"rows": [{"incident_type": "malware", "total": 1}, {"incident_type": "malware", "total": 2}]}
    assert any("(rows.1.incident_type)" in p for p in forms.validate("mau05", twice))
    no_total = base | {"rows": [{"incident_type": "malware"}]}
    assert any("Thiếu trường bắt buộc" in p and "(rows.0.total)" in p for p in forms.validate("mau05", no_total))
    empty = base | {"rows": []}  # a period without incidents is a valid report
    assert forms.validate("mau05", empty) == []
    assert "Tổng cộng 0 0 0 0 0" in pdf_text(forms.render("mau05", empty, "pdf"))


def test_drafts_are_models_and_validate_lists_everything() -> None:
    draft = InitialReport()  # a ticket can hold an empty draft
    problems = forms.validate("mau03", draft)
    assert [re.search(r"\(([^)]+)\) /", p).group(1) for p in problems] == list(MANDATORY["mau03"])  # type: ignore[union-attr]
    partial = InitialReport.model_validate({"summary": "Tấn công", "detected_date": "2026-03-05"})
    assert not any("(summary)" in p for p in forms.validate("mau03", partial))
    with pytest.raises(FormIncomplete):
        forms.render("mau03", partial, "docx")
    full = InitialReport.model_validate(sample("mau03"))
    assert forms.validate("mau03", full) == []
    assert forms.validate("end_report", full) != []  # a model of another form is refused
    bypassed = full.model_copy(update={"summary": None})  # skips validation
    assert any("(summary)" in p for p in forms.validate("mau03", bypassed))


def test_input_is_normalised() -> None:
    data = sample("mau03")
    data["summary"] = unicodedata.normalize("NFD", "  Tấn công thay đổi giao diện cổng Thanh Hóa  ")
    data["system"]["domains"] = ["DichVuCong.ThanhHoa.gov.vn."]
    text = pdf_text(forms.render("mau03", data, "pdf"))
    assert "Tóm tắt sự cố (*): Tấn công thay đổi giao diện cổng Thanh Hóa" in text
    assert "Tên miền: dichvucong.thanhhoa.gov.vn" in text
    aware = sample("mau03") | {"report_time": "2026-03-06T02:15:00+00:00"}  # 09:15 in Vietnam
    assert "Thời gian thực hiện báo cáo (*): 06/03/2026 09:15" in pdf_text(forms.render("mau03", aware, "pdf"))


def test_pdf_is_deterministic_and_embeds_the_font() -> None:
    first = forms.render("mau03", sample("mau03"), "pdf")
    assert first == forms.render("mau03", sample("mau03"), "pdf")
    reader = pypdf.PdfReader(io.BytesIO(first))
    fonts = {
        str(font["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()  # type: ignore[index]
    }
    assert fonts == {"/AAAAAA+DejaVuSans", "/AAAAAA+DejaVuSans-Bold"}, fonts  # no Latin-1-only base font


def test_missing_font_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SOC_FORMS_FONT_DIR", str(tmp_path))
    monkeypatch.setattr("soc_api.forms.fonts.FONT_DIRS", ())
    with pytest.raises(forms.FontMissing, match="fonts-dejavu-core"):
        find_fonts()


def test_unknown_kind_and_format() -> None:
    assert forms.validate("mau99", {}) != []  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown output format"):
        forms.render("mau03", sample("mau03"), "odt")  # type: ignore[arg-type]
    assert forms.validate("mau03", "not an object") != []  # type: ignore[arg-type]


def test_json_schema_has_vietnamese_descriptions() -> None:
    schema = forms.json_schema("mau03")
    assert "Tóm tắt sự cố" in schema["properties"]["summary"]["description"]


@pytest.mark.parametrize("kind", KINDS)
def test_pdf_page_renders_to_png(kind: FormKind) -> None:
    pdftoppm = shutil.which("pdftoppm")
    assert pdftoppm, "pdftoppm not found: apt-get install -y poppler-utils"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = ARTIFACTS / f"{kind}.pdf"
    pdf.write_bytes(forms.render(kind, sample(kind), "pdf"))
    (ARTIFACTS / f"{kind}.docx").write_bytes(forms.render(kind, sample(kind), "docx"))
    subprocess.run(
        [pdftoppm, "-r", "80", "-png", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(ARTIFACTS / kind)], check=True
    )
    png = ARTIFACTS / f"{kind}.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000  # a page with text, not a blank raster
