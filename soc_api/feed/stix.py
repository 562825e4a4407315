"""Incidents of the province as STIX 2.1 objects for the national centres.

What is shared
--------------
An incident is *shareable* when one of these holds:

* an analyst marked it "share with the national centre" (``share_national``, set with
  ``PATCH /api/v1/incidents/{id}``; the flag cannot be withdrawn once set), or
* it is a **serious** incident (regulations: security level 4-5, service interruption/leak/loss of
  control, beyond the owner's capacity) that an analyst has **confirmed**, i.e. moved past
  ``open`` (``investigating``, ``contained``, ``resolved`` or ``closed``); serious incidents must
  reach the national coordinator at once, so they need no extra click (setting
  ``feed_auto_share_serious``), or
* it was shared before: from then on every change is shared too, including its merge into another
  incident (its last version is ``revoked``).

Unconfirmed (``open``) normal incidents, and incidents merged away before they were ever shared,
are never shared.

Mapping
-------
* one ``identity`` for the provincial SOC (``created_by_ref`` of every object);
* one ``incident`` per shareable incident: title, description, an external reference carrying
  the local ticket id, and ``x_soc_*`` properties where STIX 2.1 has none: the national incident
  type (key, row number, Vietnamese/English label), severity, priority, status, unit (code and
  name), security level, impacts, detection and closing times;
* one ``indicator`` per observable, with a STIX pattern: ``ipv4-addr``/``ipv6-addr``,
  ``domain-name``, ``url``, ``file:hashes`` (MD5, SHA-1, SHA-256, SHA-512 by length),
  ``user-account:account_login``; a host name becomes ``domain-name`` (STIX has no host name
  object; MISP maps hostnames the same way); the local type stays in ``x_soc_observable_type``;
  a hash of no known length yields no indicator;
* one ``related-to`` ``relationship`` indicator -> incident (``indicates`` is defined by STIX
  only towards malware, campaigns and the like, not incidents);
* every object carries the TLP marking (TLP:AMBER unless ``feed_tlp`` says otherwise).

Identifiers are UUIDv5 from the local ids (incident id; incident id + observable type and value),
so sharing again yields the same ids, and a changed incident a new *version* of the same object.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import stix2

from soc_api.db.workflow_models import Incident, Observable
from soc_core.settings import Settings

# Namespace of every UUIDv5 the feed derives (fixed forever: changing it changes every id).
NAMESPACE = uuid.UUID("5f0c3a52-7d7e-5b3c-9c1e-6f4a8d2b1e07")
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
CONFIRMED_STATUSES = frozenset({"investigating", "contained", "resolved", "closed"})
# Created time of the identity object (it never changes, whatever the configured name).
IDENTITY_CREATED = datetime(2025, 3, 1, tzinfo=UTC)
REFERENCE_SOURCE = "provincial-soc"

Tlp = Literal["white", "green", "amber", "red"]
_TLP: dict[str, stix2.MarkingDefinition] = {
    "white": stix2.TLP_WHITE,
    "green": stix2.TLP_GREEN,
    "amber": stix2.TLP_AMBER,
    "red": stix2.TLP_RED,
}
_HASHES = {32: "MD5", 40: "SHA-1", 64: "SHA-256", 128: "SHA-512"}
_HEX = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """What the mapping needs from the settings."""

    identity_name: str = "Trung tâm điều hành an toàn, an ninh mạng tỉnh"
    tlp: Tlp = "amber"
    auto_share_serious: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> FeedConfig:
        return cls(
            identity_name=settings.feed_identity_name,
            tlp=settings.feed_tlp,
            auto_share_serious=settings.feed_auto_share_serious,
        )


@dataclass(frozen=True, slots=True)
class IncidentContext:
    """Labels the mapping shows next to the codes kept on the incident."""

    type_number: int | None = None
    type_vi: str | None = None
    type_en: str | None = None
    unit_name: str | None = None


def stix_id(stix_type: str, *parts: str) -> str:
    """``<type>--<uuid5>`` of ``parts``: the same local object always gets the same STIX id."""
    return f"{stix_type}--{uuid.uuid5(NAMESPACE, '/'.join((stix_type, *parts)))}"


def incident_stix_id(incident_id: str) -> str:
    return stix_id("incident", incident_id)


IDENTITY_ID = stix_id("identity", "provincial-soc")


def timestamp(value: datetime) -> str:
    """STIX timestamp, millisecond precision (as STIX requires for created/modified), UTC."""
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def to_dict(obj: Any) -> dict[str, Any]:
    """A stix2 object as plain JSON data."""
    result: dict[str, Any] = json.loads(obj.serialize())
    return result


def marking(cfg: FeedConfig) -> dict[str, Any]:
    return to_dict(_TLP[cfg.tlp])


def identity(cfg: FeedConfig) -> dict[str, Any]:
    created = timestamp(IDENTITY_CREATED)
    return to_dict(
        stix2.Identity(
            id=IDENTITY_ID,
            created=created,
            modified=created,
            name=cfg.identity_name,
            identity_class="organization",
            sectors=["government"],
            object_marking_refs=[_TLP[cfg.tlp].id],
        )
    )


def is_shareable(incident: Incident, cfg: FeedConfig, *, already_shared: bool) -> bool:
    """The rule of the module docstring."""
    if already_shared:
        return True
    if incident.status == "merged":
        return False
    if incident.share_national:
        return True
    return cfg.auto_share_serious and incident.severity == "serious" and incident.status in CONFIRMED_STATUSES


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pattern_for(otype: str, value: str) -> str | None:
    """STIX pattern of one observable, or ``None`` when STIX cannot express it."""
    if otype == "ip":
        try:
            kind = "ipv4-addr" if ipaddress.ip_address(value).version == 4 else "ipv6-addr"
        except ValueError:
            return None
        return f"[{kind}:value = {_quote(value)}]"
    if otype in ("domain", "host"):
        return f"[domain-name:value = {_quote(value)}]"
    if otype == "url":
        return f"[url:value = {_quote(value)}]"
    if otype == "account":
        return f"[user-account:account_login = {_quote(value)}]"
    if otype == "hash":
        value = value.lower()
        algorithm = _HASHES.get(len(value))
        if algorithm is None or not _HEX.match(value):
            return None
        return f"[file:hashes.{_quote(algorithm)} = {_quote(value)}]"
    return None


def _incident(incident: Incident, cfg: FeedConfig, ctx: IncidentContext) -> dict[str, Any]:
    custom: dict[str, Any] = {
        "x_soc_incident_type": incident.incident_type,
        "x_soc_severity": incident.severity,
        "x_soc_priority": incident.priority,
        "x_soc_status": incident.status,
        "x_soc_impacts": list(incident.impacts or []),
        "x_soc_owner_can_handle": incident.owner_can_handle,
        "x_soc_detected_at": timestamp(incident.detected_at),
        "x_soc_source": incident.source,
    }
    optional: dict[str, Any] = {
        "x_soc_incident_type_number": ctx.type_number,
        "x_soc_incident_type_vi": ctx.type_vi,
        "x_soc_incident_type_en": ctx.type_en,
        "x_soc_unit": incident.unit_code,
        "x_soc_unit_name": ctx.unit_name,
        "x_soc_security_level": incident.security_level,
        "x_soc_closed_at": timestamp(incident.closed_at) if incident.closed_at else None,
        "x_soc_merged_into": incident_stix_id(incident.merged_into) if incident.merged_into else None,
    }
    custom.update({k: v for k, v in optional.items() if v is not None})
    created = timestamp(incident.created_at)
    modified = max(created, timestamp(incident.updated_at))
    kwargs: dict[str, Any] = {}
    if incident.description:
        kwargs["description"] = incident.description
    return to_dict(
        stix2.Incident(
            id=incident_stix_id(incident.id),
            created=created,
            modified=modified,
            name=incident.title,
            created_by_ref=IDENTITY_ID,
            object_marking_refs=[_TLP[cfg.tlp].id],
            external_references=[{"source_name": REFERENCE_SOURCE, "external_id": incident.id}],
            revoked=incident.status == "merged",
            custom_properties=custom,
            **kwargs,
        )
    )


def _indicator(incident: Incident, obs: Observable, pattern: str, cfg: FeedConfig) -> dict[str, Any]:
    created = timestamp(obs.created_at)
    return to_dict(
        stix2.Indicator(
            id=stix_id("indicator", incident.id, obs.type, obs.value),
            created=created,
            modified=created,
            name=f"{obs.type}: {obs.value[:200]}",
            pattern=pattern,
            pattern_type="stix",
            valid_from=created,
            created_by_ref=IDENTITY_ID,
            object_marking_refs=[_TLP[cfg.tlp].id],
            custom_properties={"x_soc_observable_type": obs.type},
        )
    )


def _relationship(incident: Incident, indicator: dict[str, Any], cfg: FeedConfig) -> dict[str, Any]:
    target = incident_stix_id(incident.id)
    return to_dict(
        stix2.Relationship(
            id=stix_id("relationship", indicator["id"], "related-to", target),
            created=indicator["created"],
            modified=indicator["created"],
            relationship_type="related-to",
            source_ref=indicator["id"],
            target_ref=target,
            created_by_ref=IDENTITY_ID,
            object_marking_refs=[_TLP[cfg.tlp].id],
        )
    )


def incident_objects(
    incident: Incident, observables: Iterable[Observable], cfg: FeedConfig, ctx: IncidentContext | None = None
) -> list[dict[str, Any]]:
    """The incident, its indicators and their relationships (identity and marking not included)."""
    objects = [_incident(incident, cfg, ctx or IncidentContext())]
    for obs in observables:
        pattern = pattern_for(obs.type, obs.value)
        if pattern is None:
            continue
        indicator = _indicator(incident, obs, pattern, cfg)
        objects += [indicator, _relationship(incident, indicator, cfg)]
    return objects


def version_of(obj: dict[str, Any]) -> str:
    """TAXII version of an object: ``modified``, or ``created`` for objects without one."""
    return str(obj.get("modified") or obj["created"])


def canonical(objects: Sequence[dict[str, Any]]) -> str:
    return json.dumps(sorted(objects, key=lambda o: o["id"]), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def bundle(incident_id: str, objects: Sequence[dict[str, Any]]) -> tuple[str, str, str]:
    """``(bundle id, sha256 of the content, bundle JSON)``; the id and hash depend on content only."""
    body = canonical(objects)
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    bundle_id = stix_id("bundle", incident_id, digest)
    payload = json.dumps(
        {"type": "bundle", "id": bundle_id, "objects": sorted(objects, key=lambda o: o["id"])},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return bundle_id, digest, payload
