"""What each national form prints, in order, independent of the file format.

A form model becomes a :class:`Document` (header, title, numbered sections of labelled values,
checkbox groups and tables, signature block); the PDF and DOCX renderers only lay that out,
so both formats always carry the same words. Dates print as ``dd/mm/yyyy``, times as
``hh:mm``, checkboxes as ☒ (chosen) / ☐.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import TypeVar

from pydantic import BaseModel

from soc_api.forms.labels import (
    CHECKED,
    DETECTION_LABELS,
    EMPTY_VALUE,
    FORM_TITLES,
    INCIDENT_TYPE_LABELS,
    MANDATORY_MARK,
    RECIPIENT_LABELS,
    STATUS_LABELS,
    UNCHECKED,
    YES_NO,
    DetectionMethod,
    IncidentType,
    Label,
    Recipient,
    field_label,
)
from soc_api.forms.models import EndReport, InitialReport, PeriodicSummary, SummaryRow
from soc_api.forms.validate import MANDATORY

VIETNAM_TZ = timezone(timedelta(hours=7), "ICT")
E = TypeVar("E", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Line:
    """``label (*): value``; ``block`` values (long free text) go on their own lines."""

    label: str
    value: str
    mandatory: bool = False
    block: bool = False


@dataclass(frozen=True, slots=True)
class Choices:
    """A checkbox group: every option printed, the chosen ones ticked."""

    label: str
    options: tuple[tuple[str, bool], ...]
    mandatory: bool = False
    inline: bool = True  # short options side by side; long ones one per line
    extra: str | None = None  # free text that goes with the group ("Khác: ...")


@dataclass(frozen=True, slots=True)
class Grid:
    """A table with a header row; ``widths`` are fractions of the text width."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...]
    footer: tuple[str, ...] | None = None


Item = Line | Choices | Grid


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    items: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class Document:
    kind: str
    form_code: str
    title: str
    title_en: str
    issuer: str  # top-left of the national header
    place_date: str
    sections: tuple[Section, ...]
    subtitle: str | None = None
    recipients: str | None = None  # "Kính gửi: ..."
    signer_title: str = "NGƯỜI BÁO CÁO"
    signer_note: str = "(Ký, ghi rõ họ tên hoặc ký số)"
    signer_name: str = ""
    footnote: str = f"Ghi chú: các trường đánh dấu {MANDATORY_MARK} là bắt buộc."
    metadata: dict[str, str] = field(default_factory=dict)


def fmt_date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value is not None else EMPTY_VALUE


def fmt_time(value: time | None) -> str:
    return value.strftime("%H:%M") if value is not None else EMPTY_VALUE


def fmt_datetime(value: datetime | None) -> str:
    if value is None:
        return EMPTY_VALUE
    if value.tzinfo is not None:
        value = value.astimezone(VIETNAM_TZ)
    return value.strftime("%d/%m/%Y %H:%M")


def fmt_text(value: str | None) -> str:
    return value if value else EMPTY_VALUE


def fmt_list(values: Iterable[str]) -> str:
    items = list(values)
    return ", ".join(items) if items else EMPTY_VALUE


def _line(kind: str, path: str, value: str, *, block: bool = False) -> Line:
    return Line(field_label(path).vi, value, mandatory=path in MANDATORY[kind], block=block)


def _choices(
    kind: str,
    path: str,
    labels: Mapping[E, Label],
    chosen: Iterable[E],
    *,
    inline: bool = True,
    extra: str | None = None,
) -> Choices:
    picked = set(chosen)
    return Choices(
        field_label(path).vi,
        tuple((label.vi, option in picked) for option, label in labels.items()),
        mandatory=path in MANDATORY[kind],
        inline=inline,
        extra=extra,
    )


def _level_choices(kind: str, path: str, level: int | None) -> Choices:
    options = tuple((f"Cấp độ {n}", n == level) for n in range(1, 6))
    return Choices(field_label(path).vi, options, mandatory=path in MANDATORY[kind])


def _place_date(moment: date | None) -> str:
    if moment is None:
        return "……, ngày …… tháng …… năm ……"
    return f"ngày {moment.day:02d} tháng {moment.month:02d} năm {moment.year}"


def checkbox(chosen: bool) -> str:
    return CHECKED if chosen else UNCHECKED


def _meta(kind: str, subject: str) -> dict[str, str]:
    title = FORM_TITLES[kind]
    return {"title": f"{title.title} — {subject}" if subject else title.title, "subject": title.en}


def initial_report(form: InitialReport) -> Document:
    k = "mau03"
    org, contact, system = form.reporting_org, form.contact, form.system
    recipients = [RECIPIENT_LABELS[r].vi for r in form.notified] or [
        RECIPIENT_LABELS[Recipient.NATIONAL_COORDINATOR].vi
    ]
    sections = (
        Section(
            "1. Thông tin tổ chức báo cáo",
            (
                _line(k, "reporting_org.name", fmt_text(org.name)),
                _line(k, "reporting_org.address", fmt_text(org.address)),
                _line(k, "reporting_org.phone", fmt_text(org.phone)),
                _line(k, "reporting_org.email", fmt_text(org.email)),
            ),
        ),
        Section(
            "2. Thông tin người liên hệ",
            (
                _line(k, "contact.full_name", fmt_text(contact.full_name)),
                _line(k, "contact.position", fmt_text(contact.position)),
                _line(k, "contact.phone", fmt_text(contact.phone)),
                _line(k, "contact.email", fmt_text(contact.email)),
            ),
        ),
        Section(
            "3. Thông tin hệ thống bị sự cố",
            (
                _line(k, "system.operator_name", fmt_text(system.operator_name)),
                _line(k, "system.owner_agency", fmt_text(system.owner_agency)),
                _line(k, "system.system_name", fmt_text(system.system_name)),
                _line(k, "system.domains", fmt_list(system.domains)),
                _line(k, "system.ips", fmt_list(system.ips)),
                _level_choices(k, "system.security_level", system.security_level),
                _line(k, "system.security_provider", fmt_text(system.security_provider)),
                _line(k, "system.connectivity_provider", fmt_text(system.connectivity_provider)),
            ),
        ),
        Section(
            "4. Thông tin sự cố",
            (
                _choices(
                    k,
                    "incident_type",
                    INCIDENT_TYPE_LABELS,
                    [form.incident_type] if form.incident_type else [],
                    inline=False,
                ),
                _line(k, "summary", fmt_text(form.summary), block=True),
                _line(k, "detected_date", fmt_date(form.detected_date)),
                _line(k, "detected_time", fmt_time(form.detected_time)),
                _choices(k, "current_status", STATUS_LABELS, [form.current_status] if form.current_status else []),
                _choices(
                    k,
                    "detection_methods",
                    DETECTION_LABELS,
                    form.detection_methods,
                    inline=False,
                    extra=form.detection_other if DetectionMethod.OTHER in form.detection_methods else None,
                ),
                _choices(k, "notified", RECIPIENT_LABELS, form.notified, inline=False),
            ),
        ),
        Section(
            "5. Thông tin bổ sung về hệ thống bị sự cố",
            (
                _line(k, "os_version", fmt_text(form.os_version)),
                _line(k, "services", fmt_text(form.services)),
                _line(k, "security_measures", fmt_text(form.security_measures), block=True),
                _line(k, "public_ips", fmt_list(form.public_ips)),
                _line(k, "domains", fmt_list(form.domains)),
                _line(k, "system_purpose", fmt_text(form.system_purpose)),
                _line(k, "attachments", fmt_list(form.attachments)),
                _choices(k, "keep_confidential", YES_NO, [form.keep_confidential]),
            ),
        ),
        Section("6. Đề nghị hỗ trợ, kiến nghị", (_line(k, "support_requested", fmt_text(form.support_requested)),)),
        Section("7. Thời gian báo cáo", (_line(k, "report_time", fmt_datetime(form.report_time)),)),
    )
    reported = form.report_time.astimezone(VIETNAM_TZ) if form.report_time and form.report_time.tzinfo else None
    return Document(
        kind=k,
        form_code=FORM_TITLES[k].code,
        title=FORM_TITLES[k].title,
        title_en=FORM_TITLES[k].en,
        issuer=org.name or "TÊN TỔ CHỨC BÁO CÁO",
        place_date=_place_date((reported or form.report_time).date() if form.report_time else None),
        recipients="Kính gửi: " + "; ".join(recipients),
        sections=sections,
        signer_name=form.signature or contact.full_name or "",
        metadata=_meta(k, org.name or ""),
    )


def end_report(form: EndReport) -> Document:
    k = "end_report"
    sections = (
        Section(
            "1. Thông tin báo cáo ban đầu",
            (
                _line(k, "initial_report_number", fmt_text(form.initial_report_number)),
                _line(k, "initial_report_date", fmt_date(form.initial_report_date)),
            ),
        ),
        Section(
            "2. Thông tin hệ thống bị sự cố",
            (
                _line(k, "operator", fmt_text(form.operator)),
                _line(k, "owner", fmt_text(form.owner)),
                Line(field_label("system.system_name").vi, fmt_text(form.system), mandatory="system" in MANDATORY[k]),
                _level_choices(k, "security_level", form.security_level),
            ),
        ),
        Section(
            "3. Thông tin sự cố",
            (
                _line(k, "incident_name", fmt_text(form.incident_name)),
                _line(k, "description", fmt_text(form.description), block=True),
                _line(k, "detected_at", fmt_datetime(form.detected_at)),
            ),
        ),
        Section(
            "4. Kết quả ứng phó sự cố",
            (
                _line(k, "result", fmt_text(form.result), block=True),
                _line(k, "attachments", fmt_list(form.attachments)),
            ),
        ),
        Section("5. Thời gian báo cáo", (_line(k, "report_time", fmt_datetime(form.report_time)),)),
    )
    return Document(
        kind=k,
        form_code=FORM_TITLES[k].code,
        title=FORM_TITLES[k].title,
        title_en=FORM_TITLES[k].en,
        issuer=form.operator or "ĐƠN VỊ VẬN HÀNH HỆ THỐNG",
        place_date=_place_date(form.report_time.date() if form.report_time else None),
        recipients="Kính gửi: " + RECIPIENT_LABELS[Recipient.NATIONAL_COORDINATOR].vi,
        subtitle=f"(Kèm theo báo cáo ban đầu số {fmt_text(form.initial_report_number)}"
        f" ngày {fmt_date(form.initial_report_date)})",
        sections=sections,
        signer_title="ĐƠN VỊ VẬN HÀNH HỆ THỐNG",
        signer_name=form.signature or "",
        metadata=_meta(k, form.incident_name or ""),
    )


def period_words(period: str | None) -> str:
    if not period:
        return EMPTY_VALUE
    if period.startswith("H1-"):
        return f"6 tháng đầu năm {period[3:]} ({period})"
    if period.startswith("H2-"):
        return f"6 tháng cuối năm {period[3:]} ({period})"
    return f"năm {period} ({period})"


SUMMARY_COLUMNS: tuple[tuple[str, float], ...] = (
    ("TT", 0.05),
    (field_label("rows.incident_type").vi, 0.25),
    (field_label("rows.total").vi, 0.09),
    (field_label("rows.handled_in_house").vi, 0.09),
    (field_label("rows.handled_with_help").vi, 0.12),
    (field_label("rows.foreign_help").vi, 0.11),
    (field_label("rows.referred_to_coordinator").vi, 0.12),
    (field_label("rows.estimated_damage").vi, 0.17),
)


def summary_rows(rows: Sequence[SummaryRow]) -> list[tuple[IncidentType, SummaryRow]]:
    """One row per national incident type in the form's order; types not given count zero."""
    given = {row.incident_type: row for row in rows if row.incident_type is not None}
    return [(t, given.get(t) or SummaryRow(incident_type=t, total=0)) for t in IncidentType]


def periodic_summary(form: PeriodicSummary) -> Document:
    k = "mau05"
    org = form.reporting_org
    body: list[tuple[str, ...]] = []
    sums = [0, 0, 0, 0, 0]
    for number, (incident_type, row) in enumerate(summary_rows(form.rows), start=1):
        counts = [
            row.total or 0,
            row.handled_in_house,
            row.handled_with_help,
            row.foreign_help,
            row.referred_to_coordinator,
        ]
        sums = [a + b for a, b in zip(sums, counts, strict=True)]
        body.append(
            (
                str(number),
                INCIDENT_TYPE_LABELS[incident_type].vi,
                *(str(c) for c in counts),
                row.estimated_damage or "",
            )
        )
    sections = (
        Section(
            "1. Thông tin tổ chức báo cáo",
            (
                _line(k, "reporting_org.name", fmt_text(org.name)),
                _line(k, "reporting_org.address", fmt_text(org.address)),
                _line(k, "reporting_org.phone", fmt_text(org.phone)),
                _line(k, "reporting_org.email", fmt_text(org.email)),
                _line(k, "period", period_words(form.period)),
            ),
        ),
        Section(
            "2. Tình hình sự cố theo loại",
            (
                Grid(
                    header=tuple(name for name, _ in SUMMARY_COLUMNS),
                    rows=tuple(body),
                    widths=tuple(width for _, width in SUMMARY_COLUMNS),
                    footer=("", "Tổng cộng", *(str(s) for s in sums), ""),
                ),
            ),
        ),
        Section("3. Các tổ chức đã hỗ trợ xử lý sự cố", (_line(k, "supporting_orgs", fmt_list(form.supporting_orgs)),)),
        Section("4. Đề xuất, kiến nghị", (_line(k, "recommendations", fmt_text(form.recommendations), block=True),)),
    )
    return Document(
        kind=k,
        form_code=FORM_TITLES[k].code,
        title=FORM_TITLES[k].title,
        title_en=FORM_TITLES[k].en,
        subtitle=f"Kỳ báo cáo: {period_words(form.period)}",
        issuer=org.name or "TÊN TỔ CHỨC BÁO CÁO",
        place_date=_place_date(form.report_date),
        recipients="Kính gửi: " + RECIPIENT_LABELS[Recipient.NATIONAL_COORDINATOR].vi,
        sections=sections,
        signer_title="THỦ TRƯỞNG ĐƠN VỊ",
        signer_note="(Ký, ghi rõ họ tên, đóng dấu hoặc ký số)",
        signer_name=form.signature or "",
        metadata=_meta(k, form.period or ""),
    )


def build(form: BaseModel) -> Document:
    """The printable document of a validated form model."""
    if isinstance(form, InitialReport):
        return initial_report(form)
    if isinstance(form, EndReport):
        return end_report(form)
    if isinstance(form, PeriodicSummary):
        return periodic_summary(form)
    raise TypeError(f"not a national form model: {type(form).__name__}")
