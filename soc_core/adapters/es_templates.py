"""Elasticsearch index templates for the event store, built as data from docs/ecs-contract.md.

Stage: event store (distributed mode). Neighbours: :mod:`soc_core.adapters.es_store` installs these
templates; the parse/enrich stages produce the fields listed here.

Every field the ECS contract names is listed in :data:`ECS_FIELD_TYPES` with its Elasticsearch type;
:func:`events_template` and :func:`dead_letters_template` turn that into composable index templates.
Fields outside the list are mapped dynamically (strings as ``keyword``), so parsers may add fields.
``python -m soc_core.adapters.es_templates`` writes the rendering checked in as
``soc_core/adapters/ecs_template.json`` (tests/distributed/test_es_templates.py checks it for drift).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

KEYWORD_IGNORE_ABOVE = 8191  # longer values stay in _source but are not indexed (no rejected documents)

# ECS field -> kind. Kinds: keyword, ip, date, long, text (text + .keyword), flattened, geo_point.
ECS_FIELD_TYPES: dict[str, str] = {
    # base
    "@timestamp": "date",
    "message": "text",
    "tags": "keyword",
    # event.*
    "event.id": "keyword",
    "event.original": "text",
    "event.ingested": "date",
    "event.created": "date",
    "event.kind": "keyword",
    "event.module": "keyword",
    "event.dataset": "keyword",
    "event.category": "keyword",
    "event.type": "keyword",
    "event.action": "keyword",
    "event.outcome": "keyword",
    "event.code": "keyword",
    "event.severity": "long",
    "event.start": "date",
    "event.end": "date",
    # collector
    "agent.type": "keyword",
    "agent.name": "keyword",
    "agent.id": "keyword",
    "observer.name": "keyword",
    "observer.type": "keyword",
    "log.file.path": "keyword",
    "log.offset": "long",
    "log.level": "keyword",
    # syslog envelope
    "log.syslog.priority": "long",
    "log.syslog.facility.code": "long",
    "log.syslog.facility.name": "keyword",
    "log.syslog.severity.code": "long",
    "log.syslog.severity.name": "keyword",
    "log.syslog.hostname": "keyword",
    "log.syslog.appname": "keyword",
    "log.syslog.procid": "keyword",
    "log.syslog.msgid": "keyword",
    "log.syslog.version": "keyword",
    # hosts, network endpoints
    "host.name": "keyword",
    "host.hostname": "keyword",
    "host.ip": "ip",
    "source.ip": "ip",
    "source.port": "long",
    "source.address": "keyword",
    "source.domain": "keyword",
    "source.geo.country_iso_code": "keyword",
    "source.geo.country_name": "keyword",
    "source.geo.city_name": "keyword",
    "source.geo.location": "geo_point",
    "source.as.number": "long",
    "source.as.organization.name": "keyword",
    "destination.ip": "ip",
    "destination.port": "long",
    "destination.address": "keyword",
    "destination.domain": "keyword",
    "destination.geo.country_iso_code": "keyword",
    "destination.geo.country_name": "keyword",
    "destination.geo.city_name": "keyword",
    "destination.geo.location": "geo_point",
    "destination.as.number": "long",
    "destination.as.organization.name": "keyword",
    "client.ip": "ip",
    "client.geo.country_iso_code": "keyword",
    "client.geo.country_name": "keyword",
    "client.geo.city_name": "keyword",
    "client.geo.location": "geo_point",
    "client.as.number": "long",
    "client.as.organization.name": "keyword",
    "server.ip": "ip",
    "dns.question.name": "keyword",
    # network captures (collectors/pcap.py)
    "network.protocol": "keyword",
    "network.transport": "keyword",
    "network.type": "keyword",
    "network.packets": "long",
    "network.bytes": "long",
    "dns.type": "keyword",
    "dns.id": "keyword",
    "dns.question.type": "keyword",
    "dns.response_code": "keyword",
    "dns.resolved_ip": "ip",
    "tls.client.server_name": "keyword",
    "pcap.frame": "long",
    # process / user
    "process.name": "keyword",
    "process.pid": "long",
    "process.executable": "keyword",
    "process.command_line": "keyword",
    "process.parent.executable": "keyword",
    "process.parent.command_line": "keyword",
    "process.parent.pid": "long",
    "process.hash.md5": "keyword",
    "process.hash.sha1": "keyword",
    "process.hash.sha256": "keyword",
    "file.hash.md5": "keyword",
    "file.hash.sha1": "keyword",
    "file.hash.sha256": "keyword",
    "user.name": "keyword",
    "user.domain": "keyword",
    "user.id": "keyword",
    "user.effective.name": "keyword",
    "system.auth.ssh.event": "keyword",
    "system.auth.ssh.method": "keyword",
    # web
    "http.request.method": "keyword",
    "http.request.referrer": "keyword",
    "http.response.status_code": "long",
    "http.response.body.bytes": "long",
    "http.version": "keyword",
    "url.original": "keyword",
    "url.path": "keyword",
    "url.query": "keyword",
    "url.domain": "keyword",
    "user_agent.original": "keyword",
    # windows
    "winlog.channel": "keyword",
    "winlog.event_id": "long",
    "winlog.provider_name": "keyword",
    "winlog.record_id": "long",
    "winlog.computer_name": "keyword",
    "winlog.event_data": "flattened",
    "winlog.user_data": "flattened",
    # enrichment
    "soc.unit.code": "keyword",
    "soc.unit.name": "keyword",
    "soc.unit.parent": "keyword",
    "soc.system": "keyword",
    "soc.security_level": "long",
    "soc.unit.path": "keyword",
    "soc.asset.name": "keyword",
    "soc.asset.owner.name": "keyword",  # the owner is an object (pipeline.enrich: name, email, phone)
    "soc.asset.owner.email": "keyword",
    "soc.asset.owner.phone": "keyword",
    "soc.source": "keyword",  # reconciliation key (pipeline.reconcile.source_key of the raw record's source)
    "threat.indicator.type": "keyword",
    "threat.indicator.ip": "ip",
    # threat intelligence (pipeline.enrich.threat): one entry per matching indicator
    "soc.threat.matched": "long",
    "threat.enrichments.indicator.type": "keyword",
    "threat.enrichments.indicator.provider": "keyword",
    "threat.enrichments.indicator.confidence": "keyword",
    "threat.enrichments.indicator.description": "keyword",
    "threat.enrichments.indicator.name": "keyword",
    "threat.enrichments.indicator.ip": "ip",
    "threat.enrichments.indicator.url.domain": "keyword",
    "threat.enrichments.indicator.url.full": "keyword",
    "threat.enrichments.indicator.file.hash.md5": "keyword",
    "threat.enrichments.indicator.file.hash.sha1": "keyword",
    "threat.enrichments.indicator.file.hash.sha256": "keyword",
    "threat.enrichments.matched.atomic": "keyword",
    "threat.enrichments.matched.field": "keyword",
    "threat.enrichments.matched.type": "keyword",
}

# Full-text search (EventQuery.text) runs over these.
TEXT_SEARCH_FIELDS: tuple[str, ...] = ("event.original", "message")


def field_mapping(kind: str) -> dict[str, Any]:
    """The Elasticsearch mapping of one field kind."""
    if kind == "keyword":
        return {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}
    if kind == "text":
        return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}}}
    if kind == "ip":
        return {"type": "ip", "ignore_malformed": True}  # "-" or a host name must not reject the event
    if kind == "long":
        return {"type": "long", "ignore_malformed": True}
    if kind == "date":
        return {"type": "date"}
    if kind == "boolean":
        return {"type": "boolean"}
    if kind == "geo_point":
        return {"type": "geo_point", "ignore_malformed": True}
    if kind == "flattened":
        return {"type": "flattened", "ignore_above": KEYWORD_IGNORE_ABOVE}
    raise ValueError(f"unknown field kind {kind!r}")


def nested_properties(fields: dict[str, str]) -> dict[str, Any]:
    """Turn ``{"a.b.c": kind}`` into Elasticsearch ``properties`` with object levels."""
    root: dict[str, Any] = {}
    for dotted, kind in sorted(fields.items()):
        parts = dotted.split(".") if dotted != "@timestamp" else [dotted]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {"properties": {}})["properties"]
        node[parts[-1]] = field_mapping(kind)
    return root


def term_field(field: str) -> str:
    """The field a term filter on ``field`` must target (``.keyword`` for text fields)."""
    return f"{field}.keyword" if ECS_FIELD_TYPES.get(field) == "text" else field


def _settings() -> dict[str, Any]:
    return {"number_of_shards": 1, "number_of_replicas": 0, "mapping.total_fields.limit": 5000}


def events_template(prefix: str) -> dict[str, Any]:
    """Composable index template for ``{prefix}-events-YYYY.MM.DD``."""
    return {
        "index_patterns": [f"{prefix}-events-*"],
        "priority": 200,
        "template": {
            "settings": _settings(),
            "mappings": {
                "dynamic": True,
                "date_detection": False,
                "dynamic_templates": [
                    {
                        "strings_as_keyword": {
                            "match_mapping_type": "string",
                            "mapping": {"type": "keyword", "ignore_above": 1024},
                        }
                    }
                ],
                "properties": nested_properties(ECS_FIELD_TYPES),
            },
        },
        "_meta": {"source": "soc_core.adapters.es_templates", "contract": "docs/ecs-contract.md"},
    }


DEAD_LETTER_FIELDS: dict[str, str] = {
    "id": "keyword",
    "stage": "keyword",
    "reason": "text",
    "received": "date",
    "source": "keyword",
    "collector": "keyword",
    "error_type": "keyword",
    "data_text": "text",
    "data_bytes": "long",
    "data_sha256": "keyword",
    "data_truncated": "boolean",
}


def dead_letters_template(prefix: str) -> dict[str, Any]:
    """Composable index template for ``{prefix}-dlq`` (original bytes kept as base64 in ``data``)."""
    properties = nested_properties(DEAD_LETTER_FIELDS)
    properties["data"] = {"type": "binary"}
    return {
        "index_patterns": [f"{prefix}-dlq"],
        "priority": 200,
        "template": {"settings": _settings(), "mappings": {"dynamic": False, "properties": properties}},
        "_meta": {"source": "soc_core.adapters.es_templates"},
    }


# The checked-in rendering of the templates (reviewable diff when the field list changes; the drift
# test regenerates it and compares, as elastic/ecs does with its generated/ folder).
ARTEFACT = Path(__file__).with_name("ecs_template.json")
ARTEFACT_PREFIX = "soc"


def render_artefact() -> str:
    """The templates for the default index prefix as stable, pretty JSON."""
    body = {
        "events": events_template(ARTEFACT_PREFIX),
        "dead_letters": dead_letters_template(ARTEFACT_PREFIX),
    }
    return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    """``python -m soc_core.adapters.es_templates``: regenerate :data:`ARTEFACT`."""
    ARTEFACT.write_text(render_artefact(), encoding="utf-8")
    print(f"wrote {ARTEFACT}")


if __name__ == "__main__":
    main()
