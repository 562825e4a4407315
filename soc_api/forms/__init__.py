"""The national incident report forms: data models, mandatory-field checks, PDF/DOCX/JSON export.

Forms (../shared/regulations.md): ``mau03`` - Mẫu 03 initial report (báo cáo ban đầu sự cố
mạng); ``end_report`` - end-of-response report (báo cáo kết thúc ứng phó sự cố); ``mau05`` -
Mẫu 05 half-year / annual summary. A ticket keeps a draft in the models (every field optional),
:func:`validate` lists what the national form still needs, and :func:`render` refuses export
with :class:`FormIncomplete` until that list is empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel

from soc_api.forms.errors import FontMissing, FormIncomplete
from soc_api.forms.models import (
    FORM_MODELS,
    AffectedSystem,
    ContactPerson,
    DetectionMethod,
    EndReport,
    FormKind,
    IncidentStatus,
    IncidentType,
    InitialReport,
    Organisation,
    PeriodicSummary,
    Recipient,
    SummaryRow,
)
from soc_api.forms.validate import FormIssue, check, mandatory_fields, parse, validate

OutputFormat = Literal["pdf", "docx", "json"]
MEDIA_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "json": "application/json",
}


def render(kind: FormKind, data: BaseModel | Mapping[str, Any], fmt: OutputFormat) -> bytes:
    """The filled form as PDF, DOCX or JSON bytes; :class:`FormIncomplete` if it may not be exported."""
    if fmt not in MEDIA_TYPES:
        raise ValueError(f"unknown output format {fmt!r}; expected one of {sorted(MEDIA_TYPES)}")
    form = parse(kind, data)
    if fmt == "json":
        from soc_api.forms.render_json import render_json  # noqa: PLC0415 - renderers load on demand

        return render_json(kind, form)
    from soc_api.forms.layout import build  # noqa: PLC0415

    document = build(form)
    if fmt == "pdf":
        from soc_api.forms.render_pdf import render_pdf  # noqa: PLC0415

        return render_pdf(document)
    from soc_api.forms.render_docx import render_docx  # noqa: PLC0415

    return render_docx(document)


def json_schema(kind: FormKind) -> dict[str, Any]:
    """JSON Schema of a form's model (field descriptions in Vietnamese and English)."""
    return FORM_MODELS[kind].model_json_schema()


__all__ = [
    "MEDIA_TYPES",
    "AffectedSystem",
    "ContactPerson",
    "DetectionMethod",
    "EndReport",
    "FontMissing",
    "FormIncomplete",
    "FormIssue",
    "FormKind",
    "IncidentStatus",
    "IncidentType",
    "InitialReport",
    "Organisation",
    "OutputFormat",
    "PeriodicSummary",
    "Recipient",
    "SummaryRow",
    "check",
    "json_schema",
    "mandatory_fields",
    "render",
    "validate",
]
