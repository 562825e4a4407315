"""The half-year / annual summary (Mẫu 05) computed from the tickets of a reporting period.

A period is ``YYYY-H1`` (1 January - 30 June), ``YYYY-H2`` (1 July - 31 December) or ``YYYY``
(the calendar year), in Vietnam time (ICT, UTC+7); an incident belongs to the period in which it
was detected. Merged tickets (duplicates folded into another ticket) are not counted.

What the database knows becomes the rows of the form, one per national incident type:

- ``total``: tickets of that type detected in the period;
- ``handled_in_house``: handled (status ``resolved`` or ``closed``) and the owner could handle
  it alone (``owner_can_handle``);
- ``handled_with_help``: handled, and the owner could not handle it alone (the SOC or other
  organisations helped);
- ``referred_to_coordinator``: a form of the ticket was sent to a recipient of kind
  ``national_coordinator`` (any sending not marked failed).

What it cannot know comes from the analyst's draft (:data:`DRAFT_FIELDS`): the reporting
organisation, the signatory, report date, supporting organisations, recommendations, and per
type the number handled with foreign help and the estimated damage. Counts are never taken from
the draft, so the summary always agrees with the tickets.

Beyond the form, :class:`SummaryStats` gives the breakdowns an analyst checks before signing:
per severity, per status, per unit, handled / in progress, and the notable (serious or P1)
incidents. Deadlines (../shared/regulations.md): the half-year report is due before 20 June, the
annual one before 15 December; the second half-year has no report of its own (the annual covers it).
Both fall due before their period ends, so the figures are those of the moment of export.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from soc_api import forms
from soc_api.db.models import Unit
from soc_api.db.workflow_models import Incident, Recipient, Sending
from soc_api.errors import InvalidInput
from soc_api.forms.labels import IncidentType

VIETNAM = timezone(timedelta(hours=7), "ICT")
MIN_YEAR, MAX_YEAR = 2000, 2100  # the range the Mẫu 05 model accepts
_PERIOD = re.compile(r"([0-9]{4})(?:-H([12]))?")  # ASCII digits, whole string (fullmatch)
HANDLED_STATUSES = frozenset({"resolved", "closed"})
EXCLUDED_STATUSES = frozenset({"merged"})
REFERRED_RECIPIENT_KINDS = frozenset({"national_coordinator"})
NOTABLE_LIMIT = 50
# (month, day) the report is due *before*; None: no report of its own.
DUE: dict[int | None, tuple[int, int] | None] = {1: (6, 20), 2: None, None: (12, 15)}
# Top-level draft fields (what the tickets cannot know); rows carry per-type extras.
DRAFT_FIELDS = ("reporting_org", "signature", "report_date", "supporting_orgs", "recommendations", "rows")
ROW_DRAFT_FIELDS = ("foreign_help", "estimated_damage")
UNKNOWN_UNIT = "(không xác định / unknown)"


class InvalidPeriod(InvalidInput):
    """The period is not ``YYYY-H1``, ``YYYY-H2`` or ``YYYY`` (HTTP 422)."""


@dataclass(frozen=True, slots=True)
class Period:
    """One reporting period; ``key`` is how the API and the database name it (``2026-H1``)."""

    year: int
    half: int | None  # 1, 2, or None for the whole year

    @property
    def key(self) -> str:
        return f"{self.year}-H{self.half}" if self.half else str(self.year)

    @property
    def form_value(self) -> str:
        """The period as the Mẫu 05 model writes it (``H1-2026``, ``2026``)."""
        return f"H{self.half}-{self.year}" if self.half else str(self.year)

    @property
    def first_day(self) -> date:
        return date(self.year, 7 if self.half == 2 else 1, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, 6, 30) if self.half == 1 else date(self.year, 12, 31)

    @property
    def starts_at(self) -> datetime:
        """Start (inclusive), midnight ICT of the first day, as UTC."""
        return datetime.combine(self.first_day, datetime.min.time(), VIETNAM).astimezone(UTC)

    @property
    def ends_at(self) -> datetime:
        """End (exclusive), midnight ICT after the last day, as UTC."""
        return datetime.combine(self.last_day + timedelta(days=1), datetime.min.time(), VIETNAM).astimezone(UTC)

    @property
    def due_before(self) -> date | None:
        due = DUE[self.half]
        return date(self.year, *due) if due else None

    @property
    def label_vi(self) -> str:
        if self.half == 1:
            return f"6 tháng đầu năm {self.year}"
        if self.half == 2:
            return f"6 tháng cuối năm {self.year}"
        return f"Năm {self.year}"

    @property
    def label_en(self) -> str:
        return f"{'First' if self.half == 1 else 'Second'} half of {self.year}" if self.half else f"Year {self.year}"


def parse_period(text: str) -> Period:
    """``2026-H1`` / ``2026-H2`` / ``2026`` as a :class:`Period`; :class:`InvalidPeriod` otherwise."""
    m = _PERIOD.fullmatch(text) if isinstance(text, str) else None
    if m is None or not MIN_YEAR <= int(m.group(1)) <= MAX_YEAR:
        raise InvalidPeriod(
            f"Kỳ báo cáo không hợp lệ: {str(text)[:20]!r}; dùng YYYY-H1 (6 tháng đầu năm), YYYY-H2 (6 tháng cuối năm)"
            f" hoặc YYYY (cả năm), năm từ {MIN_YEAR} đến {MAX_YEAR} / Invalid reporting period: use YYYY-H1"
            f" (first half-year), YYYY-H2 (second half-year) or YYYY (whole year), year {MIN_YEAR}-{MAX_YEAR}"
        )
    return Period(int(m.group(1)), int(m.group(2)) if m.group(2) else None)


# --- statistics from the tickets ----------------------------------------------------------------


@dataclass(slots=True)
class TypeCounts:
    incident_type: str
    total: int = 0
    handled: int = 0
    in_progress: int = 0
    handled_in_house: int = 0
    handled_with_help: int = 0
    referred_to_coordinator: int = 0
    serious: int = 0


@dataclass(slots=True)
class UnitCounts:
    unit_code: str | None
    unit_name: str
    total: int = 0
    serious: int = 0
    handled: int = 0
    in_progress: int = 0


@dataclass(frozen=True, slots=True)
class NotableIncident:
    id: str
    title: str
    incident_type: str
    severity: str
    priority: str
    status: str
    unit_code: str | None
    detected_at: datetime
    referred_to_coordinator: bool


@dataclass(slots=True)
class SummaryStats:
    total: int
    handled: int
    in_progress: int
    by_severity: dict[str, int]
    by_status: dict[str, int]
    by_type: list[TypeCounts]
    by_unit: list[UnitCounts]
    notable: list[NotableIncident]
    notable_truncated: bool = False


def _national_type(key: str) -> str:
    """The Mẫu 05 row of a ticket's type (a type the form does not know is "other")."""
    return key if key in IncidentType._value2member_map_ else IncidentType.OTHER.value


def period_incidents(session: Session, period: Period) -> list[Incident]:
    """Tickets detected within the period (merged duplicates left out), oldest first."""
    stmt = (
        select(Incident)
        .where(
            Incident.detected_at >= period.starts_at,
            Incident.detected_at < period.ends_at,
            Incident.status.not_in(EXCLUDED_STATUSES),
        )
        .order_by(Incident.detected_at, Incident.id)
    )
    return list(session.scalars(stmt))


def referred_ids(session: Session, incident_ids: Iterable[str]) -> set[str]:
    """Which of the tickets had a form sent (not failed) to the national coordinator."""
    ids = list(incident_ids)
    referred: set[str] = set()
    for start in range(0, len(ids), 500):  # stay below bound-parameter limits
        stmt = (
            select(Sending.incident_id)
            .join(Recipient, Recipient.id == Sending.recipient_id)
            .where(
                Sending.incident_id.in_(ids[start : start + 500]),
                Recipient.kind.in_(REFERRED_RECIPIENT_KINDS),
                Sending.status != "failed",
            )
            .distinct()
        )
        referred.update(i for i in session.scalars(stmt) if i is not None)
    return referred


def compute_stats(incidents: list[Incident], referred: set[str], unit_names: Mapping[str, str]) -> SummaryStats:
    """The figures of the period: per national type (the form's rows), severity, status and unit."""
    by_type = {t.value: TypeCounts(t.value) for t in IncidentType}
    by_unit: dict[str | None, UnitCounts] = {}
    severity: Counter[str] = Counter({"normal": 0, "serious": 0})
    statuses: Counter[str] = Counter()
    notable: list[NotableIncident] = []
    for inc in incidents:
        handled = inc.status in HANDLED_STATUSES
        serious = inc.severity == "serious"
        row = by_type[_national_type(inc.incident_type)]
        row.total += 1
        row.serious += serious
        if handled:
            row.handled += 1
            if inc.owner_can_handle:
                row.handled_in_house += 1
            else:
                row.handled_with_help += 1
        else:
            row.in_progress += 1
        if inc.id in referred:
            row.referred_to_coordinator += 1
        unit = by_unit.get(inc.unit_code)
        if unit is None:
            name = unit_names.get(inc.unit_code, inc.unit_code) if inc.unit_code else UNKNOWN_UNIT
            unit = by_unit[inc.unit_code] = UnitCounts(inc.unit_code, name)
        unit.total += 1
        unit.serious += serious
        unit.handled += handled
        unit.in_progress += not handled
        severity[inc.severity] += 1
        statuses[inc.status] += 1
        if serious or inc.priority == "P1":
            notable.append(
                NotableIncident(
                    id=inc.id,
                    title=inc.title,
                    incident_type=inc.incident_type,
                    severity=inc.severity,
                    priority=inc.priority,
                    status=inc.status,
                    unit_code=inc.unit_code,
                    detected_at=inc.detected_at,
                    referred_to_coordinator=inc.id in referred,
                )
            )
    # Serious before P1-only, then by detection time.
    notable.sort(key=lambda n: (n.severity != "serious", n.priority, n.detected_at))
    handled_total = sum(r.handled for r in by_type.values())
    return SummaryStats(
        total=len(incidents),
        handled=handled_total,
        in_progress=len(incidents) - handled_total,
        by_severity=dict(severity),
        by_status=dict(sorted(statuses.items())),
        by_type=list(by_type.values()),
        by_unit=sorted(by_unit.values(), key=lambda u: (-u.total, u.unit_code or "\uffff")),
        notable=notable[:NOTABLE_LIMIT],
        notable_truncated=len(notable) > NOTABLE_LIMIT,
    )


def stats_for(session: Session, period: Period) -> SummaryStats:
    incidents = period_incidents(session, period)
    codes = {i.unit_code for i in incidents if i.unit_code}
    names = {code: name for code, name in session.execute(select(Unit.code, Unit.name).where(Unit.code.in_(codes)))}
    return compute_stats(incidents, referred_ids(session, (i.id for i in incidents)), names)


# --- the form -----------------------------------------------------------------------------------


def form_data(period: Period, stats: SummaryStats, draft: Mapping[str, Any] | None) -> dict[str, Any]:
    """Mẫu 05 data: the counts of ``stats`` completed with the draft's fields (never its counts)."""
    draft = dict(draft or {})
    extras: dict[str, dict[str, Any]] = {}
    for row in draft.get("rows") or []:
        if isinstance(row, Mapping) and isinstance(row.get("incident_type"), str):
            extras[row["incident_type"]] = {k: row[k] for k in ROW_DRAFT_FIELDS if row.get(k) is not None}
    rows = [
        {
            "incident_type": counts.incident_type,
            "total": counts.total,
            "handled_in_house": counts.handled_in_house,
            "handled_with_help": counts.handled_with_help,
            "referred_to_coordinator": counts.referred_to_coordinator,
            "foreign_help": 0,
            "estimated_damage": None,
            **extras.get(counts.incident_type, {}),
        }
        for counts in stats.by_type
    ]
    data: dict[str, Any] = {"period": period.form_value, "reporting_org": {}, "supporting_orgs": []}
    data.update({k: draft[k] for k in DRAFT_FIELDS if k != "rows" and draft.get(k) is not None})
    data["rows"] = rows
    return data


@dataclass(slots=True)
class Summary:
    """One period's Mẫu 05: the form data, what it still misses, and the statistics behind it."""

    period: Period
    stats: SummaryStats
    draft: dict[str, Any]
    data: dict[str, Any] = field(init=False)
    missing: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.data = form_data(self.period, self.stats, self.draft)
        self.missing = forms.validate("mau05", self.data)


def build(session: Session, period: Period, draft: Mapping[str, Any] | None) -> Summary:
    """The summary of ``period`` from the tickets in the database and the saved ``draft``."""
    return Summary(period, stats_for(session, period), dict(draft or {}))


__all__ = [
    "DRAFT_FIELDS",
    "InvalidPeriod",
    "NotableIncident",
    "Period",
    "Summary",
    "SummaryStats",
    "TypeCounts",
    "UnitCounts",
    "build",
    "compute_stats",
    "form_data",
    "parse_period",
    "period_incidents",
    "stats_for",
]
