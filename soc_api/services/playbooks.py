"""Response playbooks (package :mod:`playbooks`) as the API uses them: the registry checked against
the national incident types and the configured legal deadlines, and the plan of the tasks an
incident should get from its playbook. Pure computation: :mod:`soc_api.crud.incidents` stores it.

A task's owner is the incident's unit for ``unit`` steps and its assignee otherwise (``None``
until someone is assigned). It is due ``due_hours`` after the incident was created, and never
later than the legal deadline the step names (``deadline: national_notification`` -> detection
time + the configured hours), so a ticket opened late still shows the real legal due date.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from playbooks import Playbook, PlaybookRegistry, Step, default_registry
from soc_api.services.config import WorkflowConfig
from soc_api.services.incident_types import type_map


@lru_cache(maxsize=1)
def registry() -> PlaybookRegistry:
    """The packaged playbooks; every national incident type has one (a :class:`PlaybookError` if not)."""
    reg = default_registry()
    reg.check_types(type_map().keys)
    return reg


def check(cfg: WorkflowConfig) -> PlaybookRegistry:
    """Registry whose step deadlines all exist in ``cfg`` (called when the app starts)."""
    reg = registry()
    reg.check_deadlines({d.key for d in cfg.deadlines})
    return reg


def step_role(key: str) -> str | None:
    """Owner role of a step key (the same key means the same step in every playbook)."""
    return next((s.owner for book in registry().values() for s in book.steps if s.key == key), None)


@dataclass(frozen=True, slots=True)
class PlannedTask:
    step: Step
    title: str
    owner: str | None
    due_at: datetime


def task_owner(step: Step, *, unit_code: str | None, assignee: str | None) -> str | None:
    return unit_code if step.owner == "unit" else assignee


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def task_due(cfg: WorkflowConfig, step: Step, *, created_at: datetime, detected_at: datetime) -> datetime:
    due = _utc(created_at) + timedelta(hours=step.due_hours)
    legal = next((d for d in cfg.deadlines if d.key == step.deadline), None)
    if legal is not None:
        due = min(due, _utc(detected_at) + timedelta(hours=legal.hours))
    return due


def plan(
    cfg: WorkflowConfig,
    book: Playbook,
    *,
    severity: str,
    unit_code: str | None,
    assignee: str | None,
    created_at: datetime,
    detected_at: datetime,
    seeded: Collection[str] = (),
) -> list[PlannedTask]:
    """Tasks for the steps of ``book`` that apply to ``severity`` and are not in ``seeded`` yet."""
    return [
        PlannedTask(
            step=step,
            title=step.title_vi,
            owner=task_owner(step, unit_code=unit_code, assignee=assignee),
            due_at=task_due(cfg, step, created_at=created_at, detected_at=detected_at),
        )
        for step in book.steps_for(severity)
        if step.key not in seeded
    ]
