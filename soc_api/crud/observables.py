"""Observables (ip, domain, url, hash, account, host) on incidents, and the incidents sharing one."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping

from sqlalchemy import false, select
from sqlalchemy.orm import Session

from soc_api.crud import audit
from soc_api.db.base import utcnow
from soc_api.db.workflow_models import OBSERVABLE_TYPES, Incident, Observable, TimelineEntry
from soc_api.errors import InvalidInput

# ECS entity fields of alerts -> observable type.
ENTITY_TYPES: dict[str, str] = {
    "source.ip": "ip",
    "destination.ip": "ip",
    "client.ip": "ip",
    "host.ip": "ip",
    "url.domain": "domain",
    "destination.domain": "domain",
    "dns.question.name": "domain",
    "url.full": "url",
    "url.original": "url",
    "user.name": "account",
    "user.target.name": "account",
    "host.name": "host",
    "host.hostname": "host",
    "file.hash.sha256": "hash",
    "file.hash.md5": "hash",
    "file.hash.sha1": "hash",
    "process.hash.sha256": "hash",
}


def normalise(otype: str, value: str) -> str:
    if otype not in OBSERVABLE_TYPES:
        raise InvalidInput(f"unknown observable type {otype!r}; expected one of {', '.join(OBSERVABLE_TYPES)}")
    value = value.strip()
    if not value or len(value) > 2048:
        raise InvalidInput("observable value must be 1..2048 characters")
    if otype == "ip":
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise InvalidInput(f"not an IP address: {value[:60]!r}") from None
    if otype in ("domain", "hash", "host"):
        return value.lower().rstrip(".") if otype != "hash" else value.lower()
    return value


def observables_from_entity(entity: Mapping[str, str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in entity.items():
        otype = ENTITY_TYPES.get(key)
        if otype is None:
            continue
        try:
            out.append((otype, normalise(otype, value)))
        except InvalidInput:
            continue
    return out


def add_observable(
    session: Session, incident: Incident, otype: str, value: str, *, actor: str, note: str | None, quiet: bool = False
) -> Observable:
    value = normalise(otype, value)
    existing = session.scalar(
        select(Observable).where(
            Observable.incident_id == incident.id, Observable.type == otype, Observable.value == value
        )
    )
    if existing is not None:
        return existing
    row = Observable(incident_id=incident.id, type=otype, value=value, note=note, created_by=actor, created_at=utcnow())
    session.add(row)
    session.flush()
    session.add(
        TimelineEntry(
            incident_id=incident.id,
            at=utcnow(),
            actor=actor,
            kind="observable_added",
            summary=f"{otype}: {value[:900]}",
            detail={"observable_id": row.id},
        )
    )
    if not quiet:
        audit.record(
            session,
            actor=actor,
            action="incident.observable_add",
            object_type="incident",
            object_id=incident.id,
            detail={"type": otype, "value": value},
        )
    return row


def list_for_incident(session: Session, incident_id: str) -> list[Observable]:
    stmt = select(Observable).where(Observable.incident_id == incident_id).order_by(Observable.id)
    return list(session.scalars(stmt))


def incidents_with(
    session: Session, otype: str, value: str, *, scope: Collection[str] | None
) -> list[tuple[Incident, Observable]]:
    value = normalise(otype, value)
    stmt = (
        select(Incident, Observable)
        .join(Observable, Observable.incident_id == Incident.id)
        .where(Observable.type == otype, Observable.value == value)
        .order_by(Incident.created_at.desc())
    )
    if scope is not None:
        stmt = stmt.where(Incident.unit_code.in_(scope) if scope else false())
    return [(row[0], row[1]) for row in session.execute(stmt).all()]
