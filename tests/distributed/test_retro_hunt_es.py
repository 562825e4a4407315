"""Retro-hunt in distributed mode against the REAL Elasticsearch started by scripts/services.sh.

The rule is converted by pySigma's Elasticsearch (Lucene) backend with the project's Sigma->ECS
pipeline and run over the ElasticsearchEventStore's indices; it must find the same events the
engine finds over the embedded store holding the same events.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from detections.rulesets.service import RulesService
from soc_core.adapters.es_store import ElasticsearchEventStore
from soc_core.embedded.sqlite_events import SqliteEventStore
from tests.rules_ops_support import web_event, win_event

pytestmark = pytest.mark.distributed

START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
RULE_ID = "7c2d9a10-2222-4b7e-8c00-00000000b001"
RULE = f"""
title: Fresh rule - webshell parameter on provincial portals (ES)
id: {RULE_ID}
status: experimental
logsource: {{category: webserver}}
detection:
  sel:
    cs-uri-query|contains: 'cmd=whoami'
    cs-host|endswith: '.thanhhoa.gov.vn'
  filter:
    sc-status: 404
  condition: sel and not filter
level: high
"""


def _ts(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _events() -> tuple[list[dict[str, Any]], dict[str, str]]:
    events: list[dict[str, Any]] = []
    expected: dict[str, str] = {}
    for i in range(200):
        ts = _ts(i / 2)
        if i % 13 == 0:
            ev = web_event(i, f"a={i}&cmd=whoami", ts, domain="congdichvu.thanhhoa.gov.vn")
            if i % 39 == 0:
                ev["http"]["response"]["status_code"] = 404  # filtered out by the rule
            else:
                expected[f"web-{i}"] = ts
            events.append(ev)
        elif i % 11 == 0:
            events.append(web_event(i, "cmd=whoami", ts, domain="example.com"))
        elif i % 7 == 0:
            events.append(win_event(i, 4624, "cmd=whoami", ts))
        else:
            events.append(web_event(i, f"page={i}", ts, domain="sotttt.thanhhoa.gov.vn"))
    return events, expected


def test_es_retro_hunt_equals_engine_hunt(
    es_store_factory: Callable[..., ElasticsearchEventStore], tmp_path: Path
) -> None:
    events, expected = _events()
    es = es_store_factory()
    assert es.write(events) == len(events)
    es.refresh()
    local = SqliteEventStore(tmp_path / "events.db")
    local.write(events)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "fresh.yml").write_text(RULE.lstrip())
    state = tmp_path / "rules-state.yml"
    try:
        since, until = _ts(20), _ts(80)
        es_result = RulesService([rules], state, es).hunt(RULE_ID, since, until, 1000)
        engine_result = RulesService([rules], state, local).hunt(RULE_ID, since, until, 1000)
    finally:
        local.close()

    want = {i for i, ts in expected.items() if since <= ts < until}
    assert len(want) >= 3
    assert es_result["backend"] == "elasticsearch" and engine_result["backend"] == "engine"
    assert "url.query:" in es_result["query"] and "url.domain:" in es_result["query"]
    assert "http.response.status_code:404" in es_result["query"]
    es_ids = [e["event"]["id"] for e in es_result["events"]]
    assert len(es_ids) == len(set(es_ids)) == es_result["count"]
    assert set(es_ids) == want
    assert {e["event"]["id"] for e in engine_result["events"]} == want

    limited = RulesService([rules], state, es).hunt(RULE_ID, None, None, 2)
    assert limited["count"] == len(expected) and len(limited["events"]) == 2
