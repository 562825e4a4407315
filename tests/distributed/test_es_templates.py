"""Index templates: the checked-in artefact matches the generator (drift), covers the ECS contract,
and dated per-level indices are pruned by the retention of their security level (real Elasticsearch)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from soc_core.adapters.es_store import ElasticsearchEventStore
from soc_core.adapters.es_templates import ARTEFACT, ECS_FIELD_TYPES, events_template, render_artefact

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "ecs-contract.md"


def test_checked_in_template_has_not_drifted_from_the_generator() -> None:
    assert ARTEFACT.read_text(encoding="utf-8") == render_artefact(), (
        "soc_core/adapters/ecs_template.json is stale: run `python -m soc_core.adapters.es_templates`"
    )


def test_every_dotted_field_of_the_ecs_contract_is_mapped() -> None:
    fields: set[str] = set()
    for line in CONTRACT.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            fields |= set(re.findall(r"`([a-z@][a-z0-9_]*(?:\.[a-z0-9_]+)+|@timestamp)`", line.split("|")[1]))
    assert fields, "no field table found in docs/ecs-contract.md"
    assert sorted(f for f in fields if f not in ECS_FIELD_TYPES) == []
    props = events_template("x")["template"]["mappings"]["properties"]
    assert props["source"]["properties"]["ip"]["type"] == "ip"
    assert props["soc"]["properties"]["source"]["type"] == "keyword"


def _event(event_id: str, day: str, level: int | None) -> dict[str, object]:
    event: dict[str, object] = {"@timestamp": f"{day}T10:00:00Z", "event": {"id": event_id}, "message": "m"}
    if level is not None:
        event["soc"] = {"security_level": level}
    return event


@pytest.mark.distributed
def test_events_go_to_per_level_day_indices_and_retention_prunes_by_level(
    es_store_factory: Callable[..., ElasticsearchEventStore], es_client: Elasticsearch
) -> None:
    store = es_store_factory(retention_days={2: 31, 3: 92, 4: 183, 5: 366})
    store.write(
        [
            _event("a", "2026-01-01", 2),  # level 2, 40 days old on 2026-02-10 -> pruned
            _event("b", "2026-01-01", 3),  # level 3 keeps 92 days -> kept
            _event("c", "2026-02-09", 2),  # level 2, recent -> kept
            _event("d", "2025-12-01", None),  # no level: the longest retention (366 days) -> kept
            _event("e", "2025-08-01", 4),  # level 4, 193 days old -> pruned
        ]
    )
    names = set(es_client.indices.get(index=f"{store.prefix}-events-*"))
    p = store.prefix
    assert names == {
        f"{p}-events-l2-2026.01.01",
        f"{p}-events-l3-2026.01.01",
        f"{p}-events-l2-2026.02.09",
        f"{p}-events-2025.12.01",
        f"{p}-events-l4-2025.08.01",
    }
    now = datetime(2026, 2, 10, 12, tzinfo=UTC).timestamp()
    deleted = store.prune(now)
    assert deleted == [f"{p}-events-l2-2026.01.01", f"{p}-events-l4-2025.08.01"]
    assert sorted(e["event"]["id"] for e in store.get(["a", "b", "c", "d", "e"])) == ["b", "c", "d"]
    assert store.prune(now) == []


@pytest.mark.distributed
def test_enriched_demo_events_are_accepted_by_the_template(
    es_store_factory: Callable[..., ElasticsearchEventStore], tmp_path: Path
) -> None:
    """Events shaped by the real parsers and the demo asset inventory map without refusals."""
    from bench.data import DEMO_ASSETS, demo_records
    from pipeline.enrich import AssetInventory
    from pipeline.parsers import parse_record

    inventory = AssetInventory.load(DEMO_ASSETS)
    events = []
    for record in demo_records(tmp_path, scale=0.05):
        event = parse_record(record)
        inventory.enrich(event, record.unit)
        events.append(event)
    assert any(isinstance(e.get("soc", {}).get("asset"), dict) for e in events)
    store = es_store_factory()
    assert store.write(events) == len(events)
    assert store.rejected == 0
    assert store.count_dead_letters() == 0
