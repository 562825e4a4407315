"""Incidents (tickets): create from alerts, from a unit report or by hand; read within a unit
scope; change (audited, on the timeline); merge; tasks; deadline clocks."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.orm import Session

from soc_api.crud import alerts as alerts_crud
from soc_api.crud import audit
from soc_api.crud.observables import add_observable, observables_from_entity
from soc_api.db.base import utcnow
from soc_api.db.models import Alert
from soc_api.db.workflow_models import (
    Attachment,
    Comment,
    Incident,
    IncidentAlert,
    Observable,
    Recipient,
    Sending,
    Task,
    TimelineEntry,
)
from soc_api.errors import Conflict, InvalidInput, NotFound
from soc_api.services import playbooks as playbook_service
from soc_api.services.config import WorkflowConfig
from soc_api.services.deadlines import Clock, Delivery, clocks
from soc_api.services.incident_types import type_map
from soc_api.services.scoring import is_serious, priority
from soc_core.models import LEVELS

_LEVEL_RANK = {level: rank for rank, level in enumerate(LEVELS)}
STATUS_ORDER = ("open", "investigating", "contained", "resolved", "closed")


def timeline(session: Session, incident: Incident, actor: str, kind: str, summary: str, **detail: Any) -> None:
    session.add(
        TimelineEntry(
            incident_id=incident.id, at=utcnow(), actor=actor, kind=kind, summary=summary[:1000], detail=detail
        )
    )


def _audit(session: Session, actor: str, action: str, incident: Incident, detail: dict[str, Any]) -> None:
    audit.record(session, actor=actor, action=action, object_type="incident", object_id=incident.id, detail=detail)


def check_type(incident_type: str) -> str:
    if incident_type not in type_map().keys:
        raise InvalidInput(f"unknown incident type {incident_type!r}; expected one of {sorted(type_map().keys)}")
    return incident_type


def check_impacts(cfg: WorkflowConfig, impacts: Iterable[str]) -> list[str]:
    impacts = list(dict.fromkeys(impacts))
    unknown = [i for i in impacts if i not in cfg.serious.impacts]
    if unknown:
        raise InvalidInput(f"unknown impact(s) {unknown}; expected some of {sorted(cfg.serious.impacts)}")
    return impacts


def _severity(cfg: WorkflowConfig, incident: Incident) -> str:
    return (
        "serious" if is_serious(cfg, incident.security_level, incident.impacts, incident.owner_can_handle) else "normal"
    )


def _fetch_alerts(session: Session, alert_ids: Collection[str]) -> list[Alert]:
    alerts = list(session.scalars(select(Alert).where(Alert.id.in_(list(alert_ids)))))
    missing = set(alert_ids) - {a.id for a in alerts}
    if missing:
        raise NotFound(f"alert(s) not found: {', '.join(sorted(missing))}")
    return alerts


def _link_alerts(session: Session, incident: Incident, alerts: list[Alert], actor: str) -> None:
    linked = set(session.scalars(select(IncidentAlert.alert_id).where(IncidentAlert.incident_id == incident.id)))
    for alert in alerts:
        if alert.id in linked:
            continue
        session.add(IncidentAlert(incident_id=incident.id, alert_id=alert.id))
        if alert.status != "closed":
            alerts_crud.advance_to_in_progress(session, alert, actor=actor)
        for otype, value in observables_from_entity(alert.entity):
            add_observable(session, incident, otype, value, actor=actor, note=f"alert {alert.id}", quiet=True)
        timeline(session, incident, actor, "alert_linked", f"{alert.rule_title} ({alert.count})", alert_id=alert.id)
    session.flush()


def create(
    session: Session,
    cfg: WorkflowConfig,
    *,
    actor: str,
    title: str,
    description: str = "",
    alert_ids: Collection[str] = (),
    incident_type: str | None = None,
    impacts: Iterable[str] = (),
    owner_can_handle: bool = True,
    security_level: int | None = None,
    unit_code: str | None = None,
    detected_at: datetime | None = None,
    assignee: str | None = None,
    source: str | None = None,
) -> Incident:
    alerts = _fetch_alerts(session, alert_ids) if alert_ids else []
    types = type_map()
    if incident_type is None:
        incident_type = types.for_alerts((a.rule_id, a.tags) for a in alerts) if alerts else types.default
    check_type(incident_type)
    if security_level is None:
        levels = [a.security_level for a in alerts if a.security_level is not None]
        security_level = max(levels) if levels else None
    if unit_code is None:
        units = {a.unit_code for a in alerts if a.unit_code}
        unit_code = units.pop() if len(units) == 1 else None
    top_level = max((a.level for a in alerts), key=lambda lv: _LEVEL_RANK.get(lv, 2), default="medium")
    now = utcnow()
    incident = Incident(
        title=title,
        description=description,
        incident_type=incident_type,
        impacts=check_impacts(cfg, impacts),
        owner_can_handle=owner_can_handle,
        security_level=security_level,
        priority=priority(cfg, top_level, security_level),
        status="open",
        source=source or ("alerts" if alerts else "manual"),
        unit_code=unit_code,
        assignee=assignee,
        detected_at=detected_at or min((a.first_seen for a in alerts), default=now),
        created_by=actor,
        created_at=now,
        updated_at=now,
        forms={},
    )
    incident.severity = _severity(cfg, incident)
    session.add(incident)
    session.flush()
    timeline(session, incident, actor, "created", f"{incident.source}: {title}")
    _audit(
        session,
        actor,
        "incident.create",
        incident,
        {"title": title, "type": incident_type, "alerts": sorted(a.id for a in alerts), "unit": unit_code},
    )
    _link_alerts(session, incident, alerts, actor)
    seed_playbook(session, cfg, incident, actor=actor)
    return incident


def get(session: Session, incident_id: str, *, scope: Collection[str] | None) -> Incident | None:
    incident = session.get(Incident, incident_id)
    if incident is None or (scope is not None and incident.unit_code not in scope):
        return None
    return incident


def require(session: Session, incident_id: str, *, scope: Collection[str] | None) -> Incident:
    incident = get(session, incident_id, scope=scope)
    if incident is None:
        raise NotFound(f"incident {incident_id} not found")
    return incident


@dataclass(slots=True, kw_only=True)
class IncidentFilter:
    status: str | None = None
    incident_type: str | None = None
    severity: str | None = None
    priority: str | None = None
    unit: str | None = None
    assignee: str | None = None
    q: str | None = None


def list_incidents(
    session: Session, flt: IncidentFilter, *, scope: Collection[str] | None, limit: int, offset: int
) -> tuple[list[Incident], int]:
    cond: list[ColumnElement[bool]] = []
    if scope is not None:
        cond.append(Incident.unit_code.in_(scope) if scope else false())
    for column, value in (
        (Incident.status, flt.status),
        (Incident.incident_type, flt.incident_type),
        (Incident.severity, flt.severity),
        (Incident.priority, flt.priority),
        (Incident.unit_code, flt.unit),
        (Incident.assignee, flt.assignee),
    ):
        if value is not None:
            cond.append(column == value)
    if flt.q:
        cond.append(
            or_(
                Incident.title.icontains(flt.q, autoescape=True), Incident.description.icontains(flt.q, autoescape=True)
            )
        )
    total = session.scalar(select(func.count()).select_from(Incident).where(*cond)) or 0
    stmt = select(Incident).where(*cond).order_by(Incident.created_at.desc(), Incident.id.desc())
    return list(session.scalars(stmt.limit(limit).offset(offset))), total


UPDATABLE = (
    "title",
    "description",
    "incident_type",
    "impacts",
    "owner_can_handle",
    "security_level",
    "priority",
    "status",
    "assignee",
    "unit_code",
    "detected_at",
    "share_national",
)
UNIT_REPORTER_UPDATABLE = frozenset({"description", "impacts", "owner_can_handle"})


def update(
    session: Session, cfg: WorkflowConfig, incident: Incident, changes: dict[str, Any], *, actor: str
) -> Incident:
    if incident.status in ("closed", "merged"):
        raise Conflict(f"incident {incident.id} is {incident.status} and cannot be changed")
    if "incident_type" in changes and changes["incident_type"] is not None:
        check_type(changes["incident_type"])
    if "impacts" in changes and changes["impacts"] is not None:
        changes["impacts"] = check_impacts(cfg, changes["impacts"])
    if changes.get("status") == "merged":
        raise InvalidInput("use POST /incidents/{id}/merge to merge incidents")
    if incident.share_national and changes.get("share_national") is False:
        raise Conflict("sharing with the national centres cannot be withdrawn")
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for field in UPDATABLE:
        if field in changes and changes[field] != getattr(incident, field):
            if changes[field] is None and field in (
                "title",
                "incident_type",
                "priority",
                "status",
                "detected_at",
                "share_national",
            ):
                continue
            old[field] = getattr(incident, field)
            new[field] = changes[field]
    if not new:
        return incident
    for field, value in new.items():
        setattr(incident, field, value)
    old_severity = incident.severity
    incident.severity = _severity(cfg, incident)
    now = utcnow()
    incident.updated_at = now
    if new.get("status") == "closed":
        incident.closed_at = now
    timeline(session, incident, actor, "updated", ", ".join(f"{k}: {old[k]} → {new[k]}" for k in new))
    _audit(session, actor, "incident.update", incident, {"old": old, "new": new, "severity": incident.severity})
    session.flush()
    if "assignee" in new or "unit_code" in new:
        _reown_playbook_tasks(session, incident, old, actor=actor)
    if "incident_type" in new or incident.severity != old_severity:
        seed_playbook(session, cfg, incident, actor=actor)
    return incident


def add_alerts(session: Session, incident: Incident, alert_ids: Collection[str], *, actor: str) -> Incident:
    if incident.status in ("closed", "merged"):
        raise Conflict(f"incident {incident.id} is {incident.status}")
    alerts = _fetch_alerts(session, alert_ids)
    _link_alerts(session, incident, alerts, actor)
    _audit(session, actor, "incident.add_alerts", incident, {"alerts": sorted(alert_ids)})
    return incident


def merge(session: Session, target: Incident, source_ids: Collection[str], *, actor: str) -> Incident:
    """Move alerts, observables, tasks, comments and attachments of ``source_ids`` into ``target``."""
    if target.status in ("closed", "merged"):
        raise Conflict(f"incident {target.id} is {target.status}")
    if target.id in source_ids:
        raise InvalidInput("an incident cannot be merged into itself")
    for source_id in source_ids:
        source = session.get(Incident, source_id)
        if source is None:
            raise NotFound(f"incident {source_id} not found")
        if source.status == "merged":
            raise Conflict(f"incident {source_id} is already merged into {source.merged_into}")
        alert_ids = list(session.scalars(select(IncidentAlert.alert_id).where(IncidentAlert.incident_id == source.id)))
        if alert_ids:
            _link_alerts(session, target, _fetch_alerts(session, alert_ids), actor)
        for obs in session.scalars(select(Observable).where(Observable.incident_id == source.id)):
            add_observable(session, target, obs.type, obs.value, actor=actor, note=obs.note, quiet=True)
        seeded = _seeded_steps(session, target.id)
        for task in session.scalars(select(Task).where(Task.incident_id == source.id)):
            if task.playbook_step is not None and task.playbook_step in seeded:
                continue  # the target has this playbook step already; the source keeps its copy
            task.incident_id = target.id
        for att in session.scalars(select(Attachment).where(Attachment.incident_id == source.id)):
            att.incident_id = target.id
        for comment in session.scalars(
            select(Comment).where(Comment.object_type == "incident", Comment.object_id == source.id)
        ):
            comment.object_id = target.id
        source.status = "merged"
        source.merged_into = target.id
        source.updated_at = utcnow()
        timeline(session, source, actor, "merged", f"merged into {target.id}", target=target.id)
        timeline(session, target, actor, "merged", f"{source.id} ({source.title}) merged in", source=source.id)
        _audit(session, actor, "incident.merge", source, {"into": target.id})
    target.updated_at = utcnow()
    _audit(session, actor, "incident.merge_into", target, {"sources": sorted(source_ids)})
    session.flush()
    return target


def alert_ids(session: Session, incident_id: str) -> list[str]:
    stmt = (
        select(IncidentAlert.alert_id).where(IncidentAlert.incident_id == incident_id).order_by(IncidentAlert.alert_id)
    )
    return list(session.scalars(stmt))


def list_timeline(session: Session, incident_id: str) -> list[TimelineEntry]:
    stmt = (
        select(TimelineEntry)
        .where(TimelineEntry.incident_id == incident_id)
        .order_by(TimelineEntry.at, TimelineEntry.id)
    )
    return list(session.scalars(stmt))


# --- tasks ----------------------------------------------------------------------------------


def add_task(
    session: Session, incident: Incident, *, title: str, owner: str | None, due_at: datetime | None, actor: str
) -> Task:
    task = Task(incident_id=incident.id, title=title, owner=owner, due_at=due_at, done=False, created_at=utcnow())
    session.add(task)
    session.flush()
    timeline(session, incident, actor, "task_added", title, task_id=task.id, owner=owner)
    _audit(session, actor, "incident.task_add", incident, {"task_id": task.id, "title": title, "owner": owner})
    return task


def update_task(session: Session, incident: Incident, task: Task, changes: dict[str, Any], *, actor: str) -> Task:
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for field in ("title", "owner", "due_at", "done"):
        if field in changes and changes[field] != getattr(task, field):
            if field in ("title", "done") and changes[field] is None:
                continue
            old[field], new[field] = getattr(task, field), changes[field]
    if not new:
        return task
    for field, value in new.items():
        setattr(task, field, value)
    if "done" in new:
        task.done_at = utcnow() if task.done else None
    timeline(session, incident, actor, "task_updated", f"{task.title}: {', '.join(new)}", task_id=task.id)
    _audit(session, actor, "incident.task_update", incident, {"task_id": task.id, "old": old, "new": new})
    session.flush()
    return task


def list_tasks(session: Session, incident_id: str) -> list[Task]:
    return list(session.scalars(select(Task).where(Task.incident_id == incident_id).order_by(Task.id)))


# --- deadlines ------------------------------------------------------------------------------


def deadline_clocks(
    session: Session, cfg: WorkflowConfig, incident: Incident, now: datetime | None = None
) -> list[Clock]:
    rows = session.execute(
        select(Sending.form_kind, Recipient.kind, Sending.status, Sending.updated_at)
        .join(Recipient, Recipient.id == Sending.recipient_id)
        .where(Sending.incident_id == incident.id)
    ).all()
    deliveries = [Delivery(form_kind=r[0], recipient_kind=r[1], status=r[2], at=r[3]) for r in rows]
    return clocks(
        cfg, detected_at=incident.detected_at, severity=incident.severity, deliveries=deliveries, now=now or utcnow()
    )


# --- playbooks ------------------------------------------------------------------------------


def _seeded_steps(session: Session, incident_id: str) -> set[str]:
    stmt = select(Task.playbook_step).where(Task.incident_id == incident_id, Task.playbook_step.is_not(None))
    return {key for key in session.scalars(stmt) if key is not None}


def seed_playbook(session: Session, cfg: WorkflowConfig, incident: Incident, *, actor: str) -> list[Task]:
    """Add the tasks of the playbook of the incident's type and severity not seeded yet (on the
    timeline and in the audit log); nothing when ``playbooks.seed_tasks`` is off."""
    if not cfg.playbooks.seed_tasks or incident.status in ("closed", "merged"):
        return []
    book = playbook_service.registry().get(incident.incident_type)
    if book is None:
        return []
    planned = playbook_service.plan(
        cfg,
        book,
        severity=incident.severity,
        unit_code=incident.unit_code,
        assignee=incident.assignee,
        created_at=incident.created_at,
        detected_at=incident.detected_at,
        seeded=_seeded_steps(session, incident.id),
    )
    if not planned:
        return []
    now = utcnow()
    tasks = [
        Task(
            incident_id=incident.id,
            title=p.title,
            playbook_step=p.step.key,
            owner=p.owner,
            due_at=p.due_at,
            done=False,
            created_at=now,
        )
        for p in planned
    ]
    session.add_all(tasks)
    session.flush()
    steps = [t.playbook_step for t in tasks]
    timeline(
        session,
        incident,
        actor,
        "playbook_seeded",
        f"{book.title_vi}: {len(tasks)} bước / {len(tasks)} steps",
        playbook=book.incident_type,
        severity=incident.severity,
        steps=steps,
        task_ids=[t.id for t in tasks],
    )
    _audit(
        session,
        actor,
        "incident.playbook_seed",
        incident,
        {
            "playbook": book.incident_type,
            "severity": incident.severity,
            "tasks": [
                {"task_id": t.id, "step": t.playbook_step, "owner": t.owner, "due_at": t.due_at.isoformat()}
                for t in tasks
                if t.due_at is not None
            ],
        },
    )
    return tasks


def _reown_playbook_tasks(session: Session, incident: Incident, old: dict[str, Any], *, actor: str) -> None:
    """After the assignee or unit changed, open seeded tasks that belonged to the old one follow."""
    changed: list[Task] = []
    for task in session.scalars(
        select(Task).where(Task.incident_id == incident.id, Task.playbook_step.is_not(None), Task.done.is_(False))
    ):
        role = playbook_service.step_role(task.playbook_step or "")
        if role is None:
            continue
        field, value = ("unit_code", incident.unit_code) if role == "unit" else ("assignee", incident.assignee)
        if field in old and task.owner == old[field] and task.owner != value:
            task.owner = value
            changed.append(task)
    if changed:
        session.flush()
        timeline(
            session,
            incident,
            actor,
            "tasks_reassigned",
            f"{len(changed)} task(s) → {', '.join(sorted({t.owner or '-' for t in changed}))}",
            task_ids=[t.id for t in changed],
        )
        _audit(
            session,
            actor,
            "incident.tasks_reassign",
            incident,
            {"tasks": [{"task_id": t.id, "owner": t.owner} for t in changed]},
        )
