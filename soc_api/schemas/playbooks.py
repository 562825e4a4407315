"""Response playbooks as the API shows them (read-only)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from playbooks import PHASE_LABELS, PHASES, Playbook, Step


class PhasePublic(BaseModel):
    key: str
    vi: str
    en: str


class AppliesIf(BaseModel):
    severity: Literal["normal", "serious"]


class StepPublic(BaseModel):
    key: str
    title_vi: str
    title_en: str
    description_vi: str
    description_en: str
    phase: Literal["preparation", "detection_analysis", "containment", "eradication", "recovery", "post_incident"]
    owner: Literal["analyst", "unit", "admin"] = Field(description="role that carries the step out")
    due_hours: float = Field(description="hours after the incident is created")
    applies_if: AppliesIf | None = Field(default=None, description="only for incidents of this severity")
    deadline: str | None = Field(default=None, description="legal deadline the step is bound to (never due later)")

    @classmethod
    def of(cls, step: Step) -> StepPublic:
        return cls(
            key=step.key,
            title_vi=step.title_vi,
            title_en=step.title_en,
            description_vi=step.description_vi,
            description_en=step.description_en,
            phase=step.phase,
            owner=step.owner,
            due_hours=step.due_hours,
            applies_if=None if step.applies_if_severity is None else AppliesIf(severity=step.applies_if_severity),
            deadline=step.deadline,
        )


class PlaybookPublic(BaseModel):
    incident_type: str
    title_vi: str
    title_en: str
    description_vi: str
    description_en: str
    references: list[str]
    steps: list[StepPublic]

    @classmethod
    def of(cls, book: Playbook) -> PlaybookPublic:
        return cls(
            incident_type=book.incident_type,
            title_vi=book.title_vi,
            title_en=book.title_en,
            description_vi=book.description_vi,
            description_en=book.description_en,
            references=list(book.references),
            steps=[StepPublic.of(s) for s in book.steps],
        )


class PlaybooksPublic(BaseModel):
    items: list[PlaybookPublic]
    total: int
    phases: list[PhasePublic]


def phases() -> list[PhasePublic]:
    return [PhasePublic(key=p, vi=PHASE_LABELS[p][0], en=PHASE_LABELS[p][1]) for p in PHASES]
