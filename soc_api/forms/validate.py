"""Mandatory-field and value checks of the national forms, run before any export.

The models accept drafts (every field optional); this module holds, per form, the explicit list
of fields the national form marks mandatory (*), the cross-field rules (``other`` detection
method needs its free text, report time not before detection, Mẫu 05 counts within totals),
and turns pydantic's value errors into bilingual messages naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from soc_api.forms.errors import FormIncomplete
from soc_api.forms.labels import DetectionMethod, field_label
from soc_api.forms.models import FORM_MODELS, EndReport, FormKind, InitialReport, PeriodicSummary

# Mẫu 03: the fields marked * in the national form (../shared/regulations.md).
MANDATORY_MAU03: tuple[str, ...] = (
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
)

# End-of-response report: the published form marks no field with *, so this is the project's
# set - what makes the report usable by the coordinator: which initial report it closes, whose
# system, what happened, when it was detected and how the response ended.
MANDATORY_END_REPORT: tuple[str, ...] = (
    "initial_report_number",
    "initial_report_date",
    "operator",
    "system",
    "incident_name",
    "description",
    "detected_at",
    "result",
)

# Mẫu 05: the period and who reports. Rows may be empty (a period without incidents); every
# row given must name its incident type and total.
MANDATORY_MAU05: tuple[str, ...] = ("period", "reporting_org.name")
MANDATORY_MAU05_ROW: tuple[str, ...] = ("incident_type", "total")

MANDATORY: dict[str, tuple[str, ...]] = {
    "mau03": MANDATORY_MAU03,
    "end_report": MANDATORY_END_REPORT,
    "mau05": MANDATORY_MAU05,
}

# Keys render_json adds around the model dump; accepted (and dropped) on the way back in.
ENVELOPE_KEYS = ("form", "schema_version")
VIETNAM_TZ = timezone(timedelta(hours=7), "ICT")

IssueCode = Literal["missing", "invalid"]


@dataclass(frozen=True, slots=True)
class FormIssue:
    """One problem found in a form: the field path, what is wrong, and the bilingual message."""

    path: str
    code: IssueCode
    message: str


def missing(path: str) -> FormIssue:
    label = field_label(path)
    return FormIssue(
        path,
        "missing",
        f"Thiếu trường bắt buộc: {label.vi} ({path}) / Missing mandatory field: {label.en}",
    )


def invalid(path: str, reason_vi: str, reason_en: str) -> FormIssue:
    label = field_label(path)
    return FormIssue(
        path,
        "invalid",
        f"Giá trị không hợp lệ: {label.vi} ({path}): {reason_vi} / Invalid value: {label.en}: {reason_en}",
    )


_REASONS_VI: dict[str, str] = {
    "less_than_equal": "vượt quá giá trị cho phép",
    "greater_than_equal": "nhỏ hơn giá trị cho phép",
    "int_parsing": "phải là số nguyên",
    "int_type": "phải là số nguyên",
    "int_from_float": "phải là số nguyên",
    "bool_parsing": "phải là có/không",
    "bool_type": "phải là có/không",
    "enum": "không thuộc danh sách lựa chọn",
    "extra_forbidden": "trường không có trong biểu mẫu",
    "date_parsing": "sai định dạng ngày (dd/mm/yyyy)",
    "date_from_datetime_parsing": "sai định dạng ngày (dd/mm/yyyy)",
    "date_type": "sai định dạng ngày (dd/mm/yyyy)",
    "datetime_parsing": "sai định dạng thời gian (dd/mm/yyyy hh:mm)",
    "datetime_from_date_parsing": "sai định dạng thời gian (dd/mm/yyyy hh:mm)",
    "datetime_type": "sai định dạng thời gian (dd/mm/yyyy hh:mm)",
    "time_parsing": "sai định dạng giờ (hh:mm)",
    "time_type": "sai định dạng giờ (hh:mm)",
    "string_type": "phải là văn bản",
    "string_too_long": "quá dài",
    "too_long": "quá nhiều mục",
    "list_type": "phải là danh sách",
    "model_type": "phải là một nhóm trường",
    "dict_type": "phải là một nhóm trường",
    "model_attributes_type": "phải là một nhóm trường",
}


def _from_pydantic(error: ErrorDetails) -> FormIssue:
    path = ".".join(str(part) for part in error["loc"]) or "(form)"
    if error["type"] == "value_error":
        # Our own validators write "vietnamese / english".
        text = str(error["ctx"].get("error", error["msg"])) if "ctx" in error else error["msg"]
        vi, _, en = text.partition(" / ")
        return invalid(path, vi, en or vi)
    vi = _REASONS_VI.get(error["type"], "giá trị không hợp lệ")
    return invalid(path, vi, error["msg"])


def _get(model: BaseModel, path: str) -> Any:
    value: Any = model
    for part in path.split("."):
        value = getattr(value, part, None)
    return value


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | tuple) and len(value) == 0)


def _as_vietnam_naive(moment: datetime) -> datetime:
    return moment if moment.tzinfo is None else moment.astimezone(VIETNAM_TZ).replace(tzinfo=None)


def _rules_mau03(form: InitialReport) -> list[FormIssue]:
    issues: list[FormIssue] = []
    if DetectionMethod.OTHER in form.detection_methods and _is_blank(form.detection_other):
        issues.append(missing("detection_other"))
    if form.report_time is not None and form.detected_date is not None and form.detected_time is not None:
        detected = datetime.combine(form.detected_date, form.detected_time)
        if _as_vietnam_naive(form.report_time) < detected.replace(second=0, microsecond=0):
            issues.append(
                invalid(
                    "report_time",
                    "thời gian báo cáo trước thời điểm phát hiện sự cố",
                    "report time is before the detection time",
                )
            )
    return issues


def _rules_end_report(form: EndReport) -> list[FormIssue]:
    issues: list[FormIssue] = []
    detected, initial = form.detected_at, form.initial_report_date
    if detected is not None and initial is not None and initial < _as_vietnam_naive(detected).date():
        issues.append(
            invalid(
                "initial_report_date",
                "ngày báo cáo ban đầu trước ngày phát hiện sự cố",
                "initial report date is before the detection date",
            )
        )
    return issues


def _rules_mau05(form: PeriodicSummary) -> list[FormIssue]:
    issues: list[FormIssue] = []
    seen: set[str] = set()
    for index, row in enumerate(form.rows):
        base = f"rows.{index}"
        issues.extend(missing(f"{base}.{name}") for name in MANDATORY_MAU05_ROW if _get(row, name) is None)
        if row.incident_type is not None:
            if row.incident_type in seen:
                issues.append(invalid(f"{base}.incident_type", "loại sự cố bị lặp lại", "incident type listed twice"))
            seen.add(row.incident_type)
        if row.total is None:
            continue
        for name in ("handled_in_house", "handled_with_help", "foreign_help", "referred_to_coordinator"):
            if getattr(row, name) > row.total:
                issues.append(
                    invalid(f"{base}.{name}", "lớn hơn tổng số sự cố", "greater than the total number of incidents")
                )
    return issues


def check(kind: FormKind, data: Mapping[str, Any] | BaseModel) -> list[FormIssue]:
    """All problems of a form, as structured issues (empty when it may be exported)."""
    if kind not in FORM_MODELS:
        return [FormIssue("(form)", "invalid", f"Loại biểu mẫu không hỗ trợ / Unknown form kind: {kind!r}")]
    model_cls = FORM_MODELS[kind]
    given: object = data  # callers outside the type checker may pass anything
    if not isinstance(given, BaseModel | Mapping):
        return [FormIssue("(form)", "invalid", "Dữ liệu biểu mẫu phải là một đối tượng / Form data must be an object")]
    if isinstance(data, BaseModel):
        if not isinstance(data, model_cls):
            return [
                FormIssue(
                    "(form)",
                    "invalid",
                    f"Dữ liệu không phải biểu mẫu {kind} / Data is a {type(data).__name__}, not a {model_cls.__name__}",
                )
            ]
        raw: Any = data.model_dump()  # re-validated below: model_construct() skips validation
    else:
        raw = {key: value for key, value in data.items() if key not in ENVELOPE_KEYS}
        if data.get("form", kind) != kind:
            return [
                FormIssue(
                    "form",
                    "invalid",
                    f"Dữ liệu là biểu mẫu {data.get('form')!r}, không phải {kind!r} / "
                    f"Data is form {data.get('form')!r}, not {kind!r}",
                )
            ]
    try:
        form = model_cls.model_validate(raw)
    except ValidationError as exc:
        return [_from_pydantic(error) for error in exc.errors()]
    issues = [missing(path) for path in MANDATORY[kind] if _is_blank(_get(form, path))]
    if isinstance(form, InitialReport):
        issues += _rules_mau03(form)
    elif isinstance(form, EndReport):
        issues += _rules_end_report(form)
    elif isinstance(form, PeriodicSummary):
        issues += _rules_mau05(form)
    return issues


def validate(kind: FormKind, data: Mapping[str, Any] | BaseModel) -> list[str]:
    """Bilingual messages for every missing mandatory or invalid field; empty list = exportable."""
    return [issue.message for issue in check(kind, data)]


def parse(kind: FormKind, data: Mapping[str, Any] | BaseModel) -> BaseModel:
    """The validated model of a complete form; raises :class:`FormIncomplete` otherwise."""
    issues = check(kind, data)
    if issues:
        raise FormIncomplete(kind, issues)
    if isinstance(data, BaseModel):
        return FORM_MODELS[kind].model_validate(data.model_dump())
    return FORM_MODELS[kind].model_validate({k: v for k, v in data.items() if k not in ENVELOPE_KEYS})


def mandatory_fields(kind: FormKind) -> Sequence[str]:
    """The dotted paths the form marks mandatory (*)."""
    return MANDATORY[kind]


__all__ = ["FormIssue", "check", "mandatory_fields", "parse", "validate"]
