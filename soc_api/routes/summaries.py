"""Half-year / annual summary (Mẫu 05) of a reporting period, computed from the tickets.

``{period}`` is ``2026-H1``, ``2026-H2`` or ``2026``. The counts come from the incidents every
time (:mod:`soc_api.services.summary`); the analyst's draft holds what the tickets cannot know.
Analysts and admins only: the summary covers every unit of the province.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, status
from fastapi.responses import Response

from soc_api import forms
from soc_api.crud import recipients as recipients_crud
from soc_api.crud import summaries as crud
from soc_api.deps import AnalystUser, SessionDep
from soc_api.forms import MEDIA_TYPES
from soc_api.routes.incidents import sending_public
from soc_api.schemas.incidents import SendingPublic, SendRequest
from soc_api.schemas.summaries import SummaryDraftUpdate, SummaryPublic, SummaryStatsPublic
from soc_api.services import summary as service

router = APIRouter(prefix="/summaries", tags=["summaries"])

PeriodKey = Annotated[
    str,
    Path(
        min_length=1,
        max_length=20,
        description="Kỳ báo cáo / reporting period: YYYY-H1 (Jan-Jun), YYYY-H2 (Jul-Dec) or YYYY (whole year)",
        examples=["2026-H1", "2026-H2", "2026"],
    ),
]


def _public(session: SessionDep, summary: service.Summary) -> SummaryPublic:
    period = summary.period
    row = crud.get(session, period.key)
    return SummaryPublic(
        period=period.key,
        label_vi=period.label_vi,
        label_en=period.label_en,
        starts_at=period.starts_at,
        ends_at=period.ends_at,
        due_before=period.due_before,
        ok=not summary.missing,
        missing=summary.missing,
        data=summary.data,
        draft=summary.draft,
        stats=SummaryStatsPublic.model_validate(summary.stats),
        updated_by=row.updated_by if row is not None else None,
        updated_at=row.updated_at if row is not None else None,
        sendings=[sending_public(s, r) for s, r in recipients_crud.list_period_sendings(session, period.key)],
    )


def _summary(session: SessionDep, period_key: str) -> service.Summary:
    period = service.parse_period(period_key)
    return service.build(session, period, crud.draft_of(session, period.key))


def _render(summary: service.Summary, fmt: Literal["pdf", "docx", "json"]) -> bytes:
    """The filled form; 422 with the bilingual list of missing mandatory fields if incomplete."""
    key = summary.period.key
    message = (
        f"Không thể xuất Mẫu 05 kỳ {key}: thiếu hoặc sai thông tin bắt buộc / "
        f"Mẫu 05 for {key} cannot be exported: mandatory fields are missing or invalid"
    )
    if summary.missing:
        raise HTTPException(status_code=422, detail={"message": message, "missing": summary.missing})
    try:
        return forms.render("mau05", summary.data, fmt)
    except forms.FormIncomplete as exc:
        raise HTTPException(status_code=422, detail={"message": message, "missing": exc.problems}) from exc


@router.get("/{period}", response_model=SummaryPublic)
def get_summary(period: PeriodKey, session: SessionDep, _user: AnalystUser) -> SummaryPublic:
    """The period's Mẫu 05 computed from the tickets, the saved draft, and what it still misses.

    Per national incident type: ``total`` tickets detected in the period (Vietnam time, merged
    duplicates excluded); ``handled_in_house`` / ``handled_with_help``: resolved or closed, the
    owner could / could not handle it alone; ``referred_to_coordinator``: a form of the ticket was
    sent to a ``national_coordinator`` recipient (not failed). ``stats`` adds severity, status and
    unit breakdowns and the notable (serious or P1) incidents.
    """
    return _public(session, _summary(session, period))


@router.put("/{period}", response_model=SummaryPublic)
def save_summary_draft(
    period: PeriodKey, body: SummaryDraftUpdate, session: SessionDep, user: AnalystUser
) -> SummaryPublic:
    """Replace the draft (organisation, signatory, report date, supporting organisations,
    recommendations, per-type foreign help and damage); counts stay computed from the tickets."""
    parsed = service.parse_period(period)
    crud.save_draft(session, parsed.key, body.model_dump(mode="json"), actor=user.name)
    session.commit()
    return _public(session, _summary(session, parsed.key))


@router.get(
    "/{period}/export",
    response_class=Response,
    responses={
        200: {"content": {m: {} for m in MEDIA_TYPES.values()}},
        422: {"description": "mandatory fields missing: detail.missing lists them (Vietnamese / English)"},
    },
)
def export_summary(
    period: PeriodKey, session: SessionDep, _user: AnalystUser, format: Literal["pdf", "docx", "json"] = "pdf"
) -> Response:
    """Mẫu 05 as PDF, DOCX or JSON; refused (422) with the list of missing mandatory fields."""
    summary = _summary(session, period)
    content = _render(summary, format)
    return Response(
        content=content,
        media_type=MEDIA_TYPES[format],
        headers={
            "Content-Disposition": f'attachment; filename="mau05-{summary.period.key}.{format}"',
            "X-Content-SHA256": hashlib.sha256(content).hexdigest(),
        },
    )


@router.post("/{period}/send", response_model=list[SendingPublic], status_code=status.HTTP_201_CREATED)
def send_summary(period: PeriodKey, body: SendRequest, session: SessionDep, user: AnalystUser) -> list[SendingPublic]:
    """Export Mẫu 05 and record one sending per recipient (the given ones, or every enabled one)."""
    summary = _summary(session, period)
    content = _render(summary, body.format)
    rows = recipients_crud.record_period_sendings(
        session,
        summary.period.key,
        form_kind="mau05",
        fmt=body.format,
        sha256=hashlib.sha256(content).hexdigest(),
        recipient_ids=body.recipient_ids,
        actor=user.name,
    )
    session.commit()
    by_sending = dict(recipients_crud.list_period_sendings(session, summary.period.key))
    return [sending_public(r, by_sending[r]) for r in rows]


__all__ = ["router"]
