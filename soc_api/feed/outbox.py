"""Enqueue the feed in the transaction of the change.

:func:`install` hooks a session factory: every flush notes the incidents it touches (the incident
row, its observables, its linked alerts), and just before the commit
:func:`soc_api.crud.feed.sync_incident` runs for each of them, inside the same transaction. So
whatever path changes an incident (API, unit report, merge, CLI), its new STIX versions and outbox
rows commit with the change or not at all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, UOWTransaction, sessionmaker

from soc_api.crud import feed as feed_crud
from soc_api.db.workflow_models import Incident, IncidentAlert, Observable
from soc_api.feed.stix import FeedConfig

CONFIG_KEY = "soc_feed_config"
_TOUCHED = "soc_feed_touched"


def _touched(session: Session) -> list[Any]:
    touched: list[Any] = session.info.setdefault(_TOUCHED, [])
    return touched


def _collect(session: Session, _flush_context: UOWTransaction, _instances: object) -> None:
    touched = _touched(session)
    for obj in session.new:
        if isinstance(obj, Incident):
            touched.append(obj)  # its id is assigned by this flush; read at commit
        elif isinstance(obj, Observable | IncidentAlert):
            touched.append(obj.incident_id)
    for obj in session.dirty:
        if isinstance(obj, Incident) and session.is_modified(obj):
            touched.append(obj)


def _enqueue(session: Session) -> None:
    if session.new or session.dirty or session.deleted:
        session.flush()
    touched = session.info.pop(_TOUCHED, None)
    if not touched:
        return
    cfg = session.info.get(CONFIG_KEY) or FeedConfig()
    ids = {item.id if isinstance(item, Incident) else item for item in touched}
    for incident_id in sorted(i for i in ids if isinstance(i, str)):
        feed_crud.sync_incident(session, cfg, incident_id)


def _forget(session: Session, *_args: object) -> None:
    session.info.pop(_TOUCHED, None)


def install(factory: sessionmaker[Session], cfg: FeedConfig) -> None:
    """Hook ``factory`` (idempotent); its sessions share with the national centres per ``cfg``."""
    factory.configure(info={**(factory.kw.get("info") or {}), CONFIG_KEY: cfg})
    for name, fn in (("before_flush", _collect), ("before_commit", _enqueue), ("after_rollback", _forget)):
        if not event.contains(factory, name, fn):
            event.listen(factory, name, fn)
