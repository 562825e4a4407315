"""Periodic summary (Mẫu 05) models: the draft an analyst edits, the computed summary, sending."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from soc_api.forms.models import Count, IncidentType, Organisation, Text, TextList, VnDate
from soc_api.schemas.incidents import SendingPublic


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SummaryRowDraft(_In):
    """What the tickets cannot tell about one incident type: foreign help and estimated damage."""

    incident_type: IncidentType
    foreign_help: Count = Field(default=0, description="Có sự hỗ trợ của nước ngoài / handled with foreign help")
    estimated_damage: Text = Field(default=None, description="Ước tính thiệt hại / estimated damage")


class SummaryDraftUpdate(_In):
    """The analyst's part of Mẫu 05 (replaces the saved draft); counts always come from the tickets."""

    reporting_org: Organisation = Field(
        default_factory=Organisation, description="Tổ chức báo cáo / reporting organisation"
    )
    signature: Text = Field(default=None, description="Người ký (thủ trưởng đơn vị) / signatory")
    report_date: VnDate = Field(default=None, description="Ngày báo cáo (dd/mm/yyyy) / report date")
    supporting_orgs: TextList = Field(
        default_factory=list, max_length=50, description="Các tổ chức đã hỗ trợ xử lý sự cố / supporting organisations"
    )
    recommendations: Text = Field(default=None, description="Đề xuất, kiến nghị / recommendations")
    rows: list[SummaryRowDraft] = Field(default_factory=list, max_length=10)

    @field_validator("rows")
    @classmethod
    def _one_row_per_type(cls, rows: list[SummaryRowDraft]) -> list[SummaryRowDraft]:
        types = [r.incident_type for r in rows]
        if len(set(types)) != len(types):
            raise ValueError("loại sự cố bị lặp lại / incident type listed twice")
        return rows


class TypeCountsPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    incident_type: str
    total: int
    handled: int
    in_progress: int
    handled_in_house: int
    handled_with_help: int
    referred_to_coordinator: int
    serious: int


class UnitCountsPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    unit_code: str | None
    unit_name: str
    total: int
    serious: int
    handled: int
    in_progress: int


class NotableIncidentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    incident_type: str
    severity: str
    priority: str
    status: str
    unit_code: str | None
    detected_at: datetime
    referred_to_coordinator: bool


class SummaryStatsPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    total: int
    handled: int = Field(description="resolved or closed")
    in_progress: int = Field(description="open, investigating or contained")
    by_severity: dict[str, int]
    by_status: dict[str, int]
    by_type: list[TypeCountsPublic]
    by_unit: list[UnitCountsPublic]
    notable: list[NotableIncidentPublic] = Field(description="serious or P1 incidents of the period")
    notable_truncated: bool


class SummaryPublic(BaseModel):
    """One period's Mẫu 05 as it would be exported, what it still misses, and the figures behind it."""

    period: str = Field(description="2026-H1, 2026-H2 or 2026")
    label_vi: str
    label_en: str
    starts_at: datetime = Field(description="start of the period (inclusive, midnight Vietnam time)")
    ends_at: datetime = Field(description="end of the period (exclusive)")
    due_before: date | None = Field(description="statutory deadline (half-year: 20 June; annual: 15 December)")
    ok: bool = Field(description="true when the form may be exported")
    missing: list[str] = Field(description="missing mandatory / invalid fields (Vietnamese / English)")
    data: dict[str, Any] = Field(description="the Mẫu 05 data (counts from the tickets, the rest from the draft)")
    draft: dict[str, Any]
    stats: SummaryStatsPublic
    updated_by: str | None
    updated_at: datetime | None
    sendings: list[SendingPublic]
