"""TAXII 2.1 resources (discovery, API root, collections, envelope, manifest, versions, error)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"


class Discovery(BaseModel):
    title: str
    description: str | None = None
    contact: str | None = None
    default: str | None = None
    api_roots: list[str] = Field(default_factory=list)


class ApiRootInfo(BaseModel):
    title: str
    description: str | None = None
    versions: list[str]
    max_content_length: int


class Collection(BaseModel):
    id: str
    title: str
    description: str | None = None
    alias: str | None = None
    can_read: bool
    can_write: bool
    media_types: list[str]


class Collections(BaseModel):
    collections: list[Collection] = Field(default_factory=list)


class Envelope(BaseModel):
    more: bool = False
    next: str | None = None
    objects: list[dict[str, Any]] = Field(default_factory=list)


class ManifestRecord(BaseModel):
    id: str
    date_added: str
    version: str
    media_type: str


class Manifest(BaseModel):
    more: bool = False
    next: str | None = None
    objects: list[ManifestRecord] = Field(default_factory=list)


class Versions(BaseModel):
    more: bool = False
    next: str | None = None
    versions: list[str] = Field(default_factory=list)


class TaxiiErrorMessage(BaseModel):
    title: str
    description: str | None = None
    http_status: str
