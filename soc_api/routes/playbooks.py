"""Response playbooks, one per national incident type; any signed-in role may read them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from soc_api.deps import CurrentUser
from soc_api.errors import NotFound
from soc_api.schemas.playbooks import PlaybookPublic, PlaybooksPublic, phases
from soc_api.services.incident_types import type_map
from soc_api.services.playbooks import registry

router = APIRouter(tags=["playbooks"])

IncidentTypeKey = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]


@router.get("/playbooks", response_model=PlaybooksPublic)
def list_playbooks(_user: CurrentUser) -> PlaybooksPublic:
    """Every playbook, in the order of the national incident types, with the phase labels."""
    reg = registry()
    items = [PlaybookPublic.of(reg[t.key]) for t in type_map().types if t.key in reg]
    return PlaybooksPublic(items=items, total=len(items), phases=phases())


@router.get("/playbooks/{incident_type}", response_model=PlaybookPublic)
def get_playbook(incident_type: IncidentTypeKey, _user: CurrentUser) -> PlaybookPublic:
    book = registry().get(incident_type)
    if book is None:
        raise NotFound(f"no playbook for incident type {incident_type!r}")
    return PlaybookPublic.of(book)
