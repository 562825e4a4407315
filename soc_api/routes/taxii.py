"""TAXII 2.1 server (read-only) for the national centres, under ``/taxii2/``.

One API root (``taxii_api_root`` setting, default ``feed``) holds one collection: the STIX 2.1
objects of the shared incidents (see :mod:`soc_api.feed.stix`), every version kept. Callers
authenticate with ``Authorization: Bearer`` as a ``feed_client`` (or an admin); others get 403,
no token 401. Every read of objects, manifest or versions is audited (who, collection, count).
Responses are ``application/taxii+json;version=2.1`` (or ``application/json`` when that is what
the client accepts; anything else: 406); errors are TAXII error messages.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from soc_api.crud import feed as crud
from soc_api.db.feed_models import FeedObject
from soc_api.db.models import User
from soc_api.deps import SessionDep, require_roles
from soc_api.feed import taxii
from soc_api.feed.stix import STIX_MEDIA_TYPE
from soc_api.middleware import MAX_BODY_BYTES
from soc_api.schemas.taxii import (
    TAXII_MEDIA_TYPE,
    ApiRootInfo,
    Collection,
    Collections,
    Discovery,
    Envelope,
    Manifest,
    ManifestRecord,
    TaxiiErrorMessage,
    Versions,
)
from soc_core.settings import Settings

FeedReader = Annotated[User, Depends(require_roles("admin", "feed_client"))]
MediaType = Annotated[str, Depends(taxii.negotiate)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": TaxiiErrorMessage, "description": text}
    for code, text in (
        (400, "bad filter or paging parameter"),
        (401, "no or invalid bearer token"),
        (403, "not a feed client"),
        (404, "no such API root, collection or object"),
        (406, "unsupported Accept media type"),
    )
}
router = APIRouter(prefix=taxii.TAXII_PREFIX, tags=["taxii"], responses=_ERRORS)

AddedAfter = Annotated[str | None, Query(alias="added_after", max_length=64)]
Limit = Annotated[str | None, Query(alias="limit", max_length=20)]
Next = Annotated[str | None, Query(alias="next", max_length=40)]
MatchId = Annotated[str | None, Query(alias="match[id]", max_length=20_000)]
MatchType = Annotated[str | None, Query(alias="match[type]", max_length=2_000)]
MatchVersion = Annotated[str | None, Query(alias="match[version]", max_length=4_000)]
MatchSpec = Annotated[str | None, Query(alias="match[spec_version]", max_length=200)]


def _respond(model: BaseModel, media_type: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        content=model.model_dump(mode="json", exclude_none=True), media_type=media_type, headers=headers
    )


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _root(request: Request, api_root: str) -> None:
    if api_root != _settings(request).taxii_api_root:
        raise taxii.TaxiiError(404, "Not Found", f"no API root {api_root[:64]!r}")


def _collection(request: Request, api_root: str, collection_id: str) -> Collection:
    _root(request, api_root)
    if collection_id not in (crud.COLLECTION_ID, "incidents"):
        raise taxii.TaxiiError(404, "Not Found", f"no collection {collection_id[:64]!r}")
    return Collection(
        id=crud.COLLECTION_ID,
        alias="incidents",
        title="Provincial SOC incidents and indicators",
        description="STIX 2.1 incidents, indicators and relationships shared with the national centres (read-only).",
        can_read=True,
        can_write=False,
        media_types=[STIX_MEDIA_TYPE],
    )


def _date_headers(rows: list[FeedObject]) -> dict[str, str]:
    if not rows:
        return {}
    added = [r.date_added for r in rows]
    return {
        "X-TAXII-Date-Added-First": taxii.taxii_timestamp(min(added)),
        "X-TAXII-Date-Added-Last": taxii.taxii_timestamp(max(added)),
    }


def _filter(
    added_after: str | None,
    ids: str | None,
    types: str | None,
    versions: str | None,
    spec: str | None,
) -> crud.ObjectFilter:
    return crud.ObjectFilter(
        added_after=taxii.parse_timestamp(added_after, "added_after") if added_after is not None else None,
        ids=taxii.parse_list(ids, "match[id]"),
        types=taxii.parse_list(types, "match[type]"),
        versions=taxii.parse_versions(versions),
        spec_versions=taxii.parse_list(spec, "match[spec_version]"),
    )


@router.get("/", response_model=Discovery, summary="TAXII discovery")
def discovery(request: Request, _user: FeedReader, media_type: MediaType) -> JSONResponse:
    root = f"{str(request.base_url).rstrip('/')}{taxii.TAXII_PREFIX}/{_settings(request).taxii_api_root}/"
    body = Discovery(
        title="Provincial SOC TAXII server",
        description="Incidents and indicators of the provincial SOC for the national monitoring centres.",
        contact=_settings(request).feed_identity_name,
        default=root,
        api_roots=[root],
    )
    return _respond(body, media_type)


@router.get("/{api_root}/", response_model=ApiRootInfo, summary="TAXII API root")
def api_root_info(api_root: str, request: Request, _user: FeedReader, media_type: MediaType) -> JSONResponse:
    _root(request, api_root)
    body = ApiRootInfo(
        title="National feed",
        description="STIX 2.1 objects of the incidents the provincial SOC shares.",
        versions=[TAXII_MEDIA_TYPE],
        max_content_length=MAX_BODY_BYTES,
    )
    return _respond(body, media_type)


@router.get("/{api_root}/collections/", response_model=Collections, summary="TAXII collections")
def collections(api_root: str, request: Request, _user: FeedReader, media_type: MediaType) -> JSONResponse:
    return _respond(Collections(collections=[_collection(request, api_root, crud.COLLECTION_ID)]), media_type)


@router.get("/{api_root}/collections/{collection_id}/", response_model=Collection, summary="TAXII collection")
def collection(
    api_root: str, collection_id: str, request: Request, _user: FeedReader, media_type: MediaType
) -> JSONResponse:
    return _respond(_collection(request, api_root, collection_id), media_type)


@router.get("/{api_root}/collections/{collection_id}/objects/", response_model=Envelope, summary="TAXII objects")
def get_objects(
    *,
    api_root: str,
    collection_id: str,
    request: Request,
    session: SessionDep,
    user: FeedReader,
    media_type: MediaType,
    added_after: AddedAfter = None,
    limit: Limit = None,
    next_: Next = None,
    match_id: MatchId = None,
    match_type: MatchType = None,
    match_version: MatchVersion = None,
    match_spec_version: MatchSpec = None,
) -> JSONResponse:
    """Objects of the collection, oldest added first; ``next`` pages on, ``more`` says whether to."""
    coll = _collection(request, api_root, collection_id)
    flt = _filter(added_after, match_id, match_type, match_version, match_spec_version)
    rows, more = crud.query_objects(session, flt, limit=taxii.parse_limit(limit), after=taxii.parse_next(next_))
    crud.record_fetch(
        session,
        actor=user.name,
        collection_id=coll.id,
        endpoint="objects",
        count=len(rows),
        filters={"added_after": added_after, "match[id]": match_id, "match[type]": match_type, "next": next_},
    )
    session.commit()
    body = Envelope(more=more, next=str(rows[-1].id) if more else None, objects=[r.object for r in rows])
    return _respond(body, media_type, _date_headers(rows))


@router.get(
    "/{api_root}/collections/{collection_id}/objects/{object_id}/", response_model=Envelope, summary="TAXII object"
)
def get_object(
    *,
    api_root: str,
    collection_id: str,
    object_id: str,
    request: Request,
    session: SessionDep,
    user: FeedReader,
    media_type: MediaType,
    added_after: AddedAfter = None,
    limit: Limit = None,
    next_: Next = None,
    match_version: MatchVersion = None,
    match_spec_version: MatchSpec = None,
) -> JSONResponse:
    """The versions of one object (the last by default; ``match[version]=all`` for every one)."""
    coll = _collection(request, api_root, collection_id)
    flt = _filter(added_after, None, None, match_version, match_spec_version)
    flt.ids = [object_id]
    if not crud.query_objects(session, crud.ObjectFilter(ids=[object_id], versions=["all"]), limit=1, after=None)[0]:
        raise taxii.TaxiiError(404, "Not Found", f"no object {object_id[:140]!r} in this collection")
    rows, more = crud.query_objects(session, flt, limit=taxii.parse_limit(limit), after=taxii.parse_next(next_))
    crud.record_fetch(
        session,
        actor=user.name,
        collection_id=coll.id,
        endpoint="object",
        count=len(rows),
        filters={"id": object_id, "match[version]": match_version},
    )
    session.commit()
    body = Envelope(more=more, next=str(rows[-1].id) if more else None, objects=[r.object for r in rows])
    return _respond(body, media_type, _date_headers(rows))


@router.get(
    "/{api_root}/collections/{collection_id}/objects/{object_id}/versions/",
    response_model=Versions,
    summary="TAXII object versions",
)
def get_object_versions(
    *,
    api_root: str,
    collection_id: str,
    object_id: str,
    request: Request,
    session: SessionDep,
    user: FeedReader,
    media_type: MediaType,
    added_after: AddedAfter = None,
    limit: Limit = None,
    next_: Next = None,
    match_spec_version: MatchSpec = None,
) -> JSONResponse:
    coll = _collection(request, api_root, collection_id)
    flt = _filter(added_after, None, None, "all", match_spec_version)
    flt.ids = [object_id]
    rows, more = crud.query_objects(session, flt, limit=taxii.parse_limit(limit), after=taxii.parse_next(next_))
    if not rows and next_ is None and added_after is None:
        raise taxii.TaxiiError(404, "Not Found", f"no object {object_id[:140]!r} in this collection")
    crud.record_fetch(
        session, actor=user.name, collection_id=coll.id, endpoint="versions", count=len(rows), filters={"id": object_id}
    )
    session.commit()
    body = Versions(more=more, next=str(rows[-1].id) if more else None, versions=[r.version for r in rows])
    return _respond(body, media_type, _date_headers(rows))


@router.get("/{api_root}/collections/{collection_id}/manifest/", response_model=Manifest, summary="TAXII manifest")
def get_manifest(
    *,
    api_root: str,
    collection_id: str,
    request: Request,
    session: SessionDep,
    user: FeedReader,
    media_type: MediaType,
    added_after: AddedAfter = None,
    limit: Limit = None,
    next_: Next = None,
    match_id: MatchId = None,
    match_type: MatchType = None,
    match_version: MatchVersion = None,
    match_spec_version: MatchSpec = None,
) -> JSONResponse:
    """Id, version and date added of the objects :func:`get_objects` would return."""
    coll = _collection(request, api_root, collection_id)
    flt = _filter(added_after, match_id, match_type, match_version, match_spec_version)
    rows, more = crud.query_objects(session, flt, limit=taxii.parse_limit(limit), after=taxii.parse_next(next_))
    crud.record_fetch(
        session,
        actor=user.name,
        collection_id=coll.id,
        endpoint="manifest",
        count=len(rows),
        filters={"added_after": added_after, "match[id]": match_id, "match[type]": match_type, "next": next_},
    )
    session.commit()
    records = [
        ManifestRecord(
            id=r.stix_id,
            date_added=taxii.taxii_timestamp(r.date_added),
            version=r.version,
            media_type=STIX_MEDIA_TYPE,
        )
        for r in rows
    ]
    body = Manifest(more=more, next=str(rows[-1].id) if more else None, objects=records)
    return _respond(body, media_type, _date_headers(rows))
