"""Deadline clocks of a ticket (the 5-day national notification first), from the configured list.

A clock is ``met`` once a sending of its form reached one of its recipient kinds (status sent or
acknowledged), ``overdue`` after its due time, ``warning`` within ``warn_hours`` of it, else ``ok``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from soc_api.services.config import WorkflowConfig

ClockState = Literal["ok", "warning", "overdue", "met"]
DELIVERED = frozenset({"sent", "acknowledged"})


@dataclass(frozen=True, slots=True)
class Delivery:
    form_kind: str
    recipient_kind: str
    status: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Clock:
    key: str
    label_vi: str
    label_en: str
    due_at: datetime
    state: ClockState
    remaining_seconds: int
    met_at: datetime | None


def clocks(
    cfg: WorkflowConfig, *, detected_at: datetime, severity: str, deliveries: Iterable[Delivery], now: datetime
) -> list[Clock]:
    deliveries = list(deliveries)
    out: list[Clock] = []
    for d in cfg.deadlines:
        if d.applies_to == "serious" and severity != "serious":
            continue
        due = detected_at + timedelta(hours=d.hours)
        met = [
            x.at
            for x in deliveries
            if x.form_kind == d.satisfied_by.form
            and x.recipient_kind in d.satisfied_by.recipient_kinds
            and x.status in DELIVERED
        ]
        remaining = int((due - now).total_seconds())
        state: ClockState
        if met:
            state = "met"
        elif remaining <= 0:
            state = "overdue"
        elif remaining <= d.warn_hours * 3600:
            state = "warning"
        else:
            state = "ok"
        out.append(Clock(d.key, d.vi, d.en, due, state, remaining, min(met) if met else None))
    return out
