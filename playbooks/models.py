"""The playbook model: a :class:`Playbook` of ordered :class:`Step` for one national incident type.

Phases follow the incident-response cycle used by the national guidance (chuẩn bị, phát hiện và
phân tích, ngăn chặn, loại bỏ, khôi phục, sau sự cố). Owner roles say *who* does a step: the SOC
analyst on duty, the unit that owns/operates the system, or the SOC leadership (admin).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Phase = Literal["preparation", "detection_analysis", "containment", "eradication", "recovery", "post_incident"]
OwnerRole = Literal["analyst", "unit", "admin"]
Severity = Literal["normal", "serious"]

PHASES: tuple[Phase, ...] = get_args(Phase)
OWNER_ROLES: tuple[OwnerRole, ...] = get_args(OwnerRole)
SEVERITIES: tuple[Severity, ...] = get_args(Severity)

PHASE_LABELS: dict[Phase, tuple[str, str]] = {
    "preparation": ("Chuẩn bị", "Preparation"),
    "detection_analysis": ("Phát hiện và phân tích", "Detection and analysis"),
    "containment": ("Ngăn chặn", "Containment"),
    "eradication": ("Loại bỏ nguyên nhân", "Eradication"),
    "recovery": ("Khôi phục", "Recovery"),
    "post_incident": ("Sau sự cố", "Post-incident"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One response step; seeded as a task ``due_hours`` after the incident was created.

    ``applies_if_severity`` limits the step to incidents of that severity (``None``: always).
    ``deadline`` names a legal deadline of the workflow configuration (e.g.
    ``national_notification``): the task is then due no later than that deadline.
    """

    key: str
    title_vi: str
    title_en: str
    description_vi: str
    description_en: str
    phase: Phase
    owner: OwnerRole
    due_hours: float
    applies_if_severity: Severity | None = None
    deadline: str | None = None
    line: int | None = None

    def applies_to(self, severity: str) -> bool:
        return self.applies_if_severity is None or self.applies_if_severity == severity


@dataclass(frozen=True, slots=True, kw_only=True)
class Playbook:
    """The response playbook of one national incident type."""

    incident_type: str
    title_vi: str
    title_en: str
    description_vi: str
    description_en: str
    steps: tuple[Step, ...]
    references: tuple[str, ...] = ()
    source: str | None = None

    def steps_for(self, severity: str) -> tuple[Step, ...]:
        """The steps that apply to an incident of ``severity`` (``normal`` or ``serious``)."""
        return tuple(s for s in self.steps if s.applies_to(severity))

    def step(self, key: str) -> Step | None:
        return next((s for s in self.steps if s.key == key), None)

    @property
    def deadlines(self) -> frozenset[str]:
        return frozenset(s.deadline for s in self.steps if s.deadline)

    @property
    def step_keys(self) -> frozenset[str]:
        return frozenset(s.key for s in self.steps)
