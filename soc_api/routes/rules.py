"""Detection rules (analysts and admins): rule health, enable/disable per rule and folder, retro-hunt.

The rule catalog is a :class:`RuleCatalog` that the composition root (``soc_cli``) puts on
``app.state.rule_catalog``; the API never imports the detection engine itself. Without a catalog
the list falls back to the plain ``rules_provider`` and the other routes answer 503. Health
counters come from the ``rule_health`` table (:mod:`soc_api.crud.rules`). Every change and every
hunt is written to the audit log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from soc_api.crud import rules as crud
from soc_api.deps import AnalystUser, RulesProviderDep, SessionDep
from soc_api.errors import InvalidInput, NotFound
from soc_api.schemas.rules import (
    FolderEnable,
    FolderState,
    HuntRequest,
    HuntResult,
    RuleDetail,
    RuleEnable,
    RuleHealthList,
    RuleHealthPublic,
)
from soc_core.errors import SocError, StoreUnavailable

router = APIRouter(prefix="/rules", tags=["rules"])


class RuleCatalog(Protocol):
    """What the rule routes need from the detection side (``detections.rulesets.service.RulesService``)."""

    def entries(self) -> list[dict[str, Any]]: ...

    def detail(self, rule_id: str) -> dict[str, Any] | None: ...

    def set_rule_enabled(self, rule_id: str, enabled: bool) -> dict[str, Any]: ...

    def set_folder_enabled(self, folder: str, enabled: bool) -> dict[str, Any]: ...

    def hunt(self, rule_id: str, since: str | None, until: str | None, limit: int = 100) -> dict[str, Any]: ...


def get_catalog(request: Request) -> RuleCatalog | None:
    catalog: RuleCatalog | None = getattr(request.app.state, "rule_catalog", None)
    return catalog


CatalogDep = Annotated[RuleCatalog | None, Depends(get_catalog)]


def _need(catalog: RuleCatalog | None) -> RuleCatalog:
    if catalog is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "rule operations are not available in this process")
    return catalog


def _with_health(
    session: SessionDep, entries: list[dict[str, Any]], seen: list[dict[str, list[str]]] | None = None
) -> list[dict[str, Any]]:
    health = crud.health_by_rule(session, [e["id"] for e in entries] if len(entries) <= 500 else None)
    seen = crud.logsources_seen(session) if seen is None else seen
    out = []
    for e in entries:
        h = health.get(e["id"], crud.Health())
        accepted = crud.logsource_accepted(e.get("logsource") or {}, seen) if e.get("kind") == "detection" else None
        out.append(
            {
                **e,
                "evaluated": h.evaluated,
                "hits": h.hits,
                "last_evaluated": h.last_evaluated,
                "last_fired": h.last_fired,
                "logsource_seen": None
                if accepted is None and h.evaluated == 0
                else (h.evaluated > 0 or bool(accepted)),
            }
        )
    return out


@router.get("", response_model=RuleHealthList)
def list_rules(
    *,
    _user: AnalystUser,
    session: SessionDep,
    provider: RulesProviderDep,
    catalog: CatalogDep,
    enabled: Annotated[bool | None, Query(description="Only enabled (true) or disabled (false) rules.")] = None,
    state: Annotated[Literal["compiled", "failed"] | None, Query(alias="status")] = None,
    logsource_seen: Annotated[bool | None, Query(description="Log source present in received data.")] = None,
    fired: Annotated[bool | None, Query(description="Rules that fired at least once (true) or never.")] = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in id, title or path.")] = None,
    level: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> RuleHealthList:
    """Every rule with its health: compiled or failed (and why), enabled, log source seen, counters."""
    if catalog is None:
        items = [RuleHealthPublic.model_validate(r) for r in (provider() if provider is not None else [])]
        return RuleHealthList(items=items[offset : offset + limit], total=len(items))
    entries = catalog.entries()
    if enabled is not None:
        entries = [e for e in entries if e.get("enabled") is enabled]
    if state is not None:
        entries = [e for e in entries if e.get("compiled") is (state == "compiled")]
    if level is not None:
        entries = [e for e in entries if e.get("level") == level]
    if q:
        needle = q.lower()
        entries = [e for e in entries if any(needle in str(e.get(k) or "").lower() for k in ("id", "title", "path"))]
    rows = _with_health(session, entries)
    if logsource_seen is not None:
        rows = [r for r in rows if bool(r["logsource_seen"]) is logsource_seen]
    if fired is not None:
        rows = [r for r in rows if (r["hits"] > 0) is fired]
    page = rows[offset : offset + limit]
    return RuleHealthList(items=[RuleHealthPublic.model_validate(r) for r in page], total=len(rows))


@router.get("/{rule_id}", response_model=RuleDetail)
def get_rule(rule_id: str, _user: AnalystUser, session: SessionDep, catalog: CatalogDep) -> RuleDetail:
    """One rule: health, failure reasons and warnings, notes, Sigma fields and their ECS mapping."""
    found = _need(catalog).detail(rule_id)
    if found is None:
        raise NotFound(f"rule {rule_id} not found")
    return RuleDetail.model_validate(_with_health(session, [found])[0])


@router.patch("/{rule_id}", response_model=RuleHealthPublic)
def set_rule_enabled(
    rule_id: str, body: RuleEnable, user: AnalystUser, session: SessionDep, catalog: CatalogDep
) -> RuleHealthPublic:
    """Enable or disable one rule (kept in rules-state.yml; workers reload it). Audited."""
    try:
        entry = _need(catalog).set_rule_enabled(rule_id, body.enabled)
    except KeyError:
        raise NotFound(f"rule {rule_id} not found") from None
    crud.record_change(
        session,
        actor=user.name,
        action="rule.enable" if body.enabled else "rule.disable",
        object_type="rule",
        object_id=rule_id,
        detail={"enabled": body.enabled, "path": entry.get("path"), "title": entry.get("title")},
    )
    session.commit()
    return RuleHealthPublic.model_validate(_with_health(session, [entry])[0])


@router.post("/folders", response_model=FolderState)
def set_folder_enabled(body: FolderEnable, user: AnalystUser, session: SessionDep, catalog: CatalogDep) -> FolderState:
    """Enable or disable every rule under a folder of the active rule paths. Audited."""
    try:
        result = _need(catalog).set_folder_enabled(body.path, body.enabled)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    crud.record_change(
        session,
        actor=user.name,
        action="rule_folder.enable" if body.enabled else "rule_folder.disable",
        object_type="rule_folder",
        object_id=str(result["path"]),
        detail={"path": result["path"], "enabled": body.enabled, "rules": result.get("rules")},
    )
    session.commit()
    return FolderState.model_validate(result)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@router.post("/{rule_id}/hunt", response_model=HuntResult)
def hunt_rule(
    rule_id: str, body: HuntRequest, user: AnalystUser, session: SessionDep, catalog: CatalogDep
) -> HuntResult:
    """Retro-hunt: run the rule over stored events in [since, until). Audited."""
    if body.since is not None and body.until is not None and body.since >= body.until:
        raise InvalidInput("'since' must be before 'until'")
    try:
        result = _need(catalog).hunt(rule_id, _iso(body.since), _iso(body.until), body.limit)
    except KeyError:
        raise NotFound(f"rule {rule_id} not found") from None
    except StoreUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"event store unavailable: {exc.message}") from exc
    except SocError as exc:
        raise InvalidInput(exc.message) from exc
    crud.record_change(
        session,
        actor=user.name,
        action="rule.hunt",
        object_type="rule",
        object_id=rule_id,
        detail={
            "since": result.get("since"),
            "until": result.get("until"),
            "limit": body.limit,
            "backend": result.get("backend"),
            "count": result.get("count"),
            "query": result.get("query"),
        },
    )
    session.commit()
    return HuntResult.model_validate(result)
