"""ElasticsearchEventStore against a real Elasticsearch node (started by scripts/services.sh)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from soc_core.adapters.es_store import ElasticsearchEventStore
from soc_core.errors import StoreError, StoreUnavailable
from soc_core.models import DeadLetter
from soc_core.stores import EventQuery
from tests.distributed.conftest import free_port

pytestmark = pytest.mark.distributed

StoreFactory = Callable[..., ElasticsearchEventStore]


def ssh_event(n: int, ts: str, *, user: str = "root", outcome: str = "failure", ip: str = "10.1.2.3") -> dict[str, Any]:
    line = f"Failed password for {user} from {ip} port {40000 + n} ssh2"
    return {
        "@timestamp": ts,
        "message": line,
        "event": {
            "id": f"evt-{n}",
            "original": f"<38>Nov 20 08:15:30 web01 sshd[123]: {line}",
            "kind": "event",
            "module": "sshd",
            "dataset": "system.auth",
            "category": ["authentication"],
            "action": "ssh_login",
            "outcome": outcome,
            "ingested": ts,
        },
        "source": {"ip": ip, "port": 40000 + n},
        "user": {"name": user},
        "host": {"name": "web01"},
        "soc": {"unit": {"code": "STTTT"}, "security_level": 3},
    }


def test_write_is_idempotent_by_event_id(es_store_factory: StoreFactory) -> None:
    store = es_store_factory()
    events = [ssh_event(i, f"2026-11-20T08:15:{30 + i}.000Z") for i in range(3)]

    assert store.write(events) == 3
    assert store.write([*events, ssh_event(9, "2026-11-20T09:00:00.000Z")]) == 1  # replay after a crash
    assert store.write(events) == 0

    assert store.count() == 4
    got = store.get(["evt-2", "missing", "evt-0"])
    assert [e["event"]["id"] for e in got] == ["evt-2", "evt-0"]
    assert got[0] == events[2]


def test_events_go_to_dated_indices_per_security_level(es_store_factory: StoreFactory, es_client: Any) -> None:
    store = es_store_factory()
    store.write([ssh_event(1, "2026-11-20T23:59:59.000Z"), ssh_event(2, "2026-11-21T06:59:59+07:00")])
    indices = set(es_client.indices.get(index=f"{store.prefix}-events-*"))
    # +07:00 local morning is still the previous UTC day
    assert indices == {f"{store.prefix}-events-l3-2026.11.20"}
    store.write([ssh_event(3, "2026-11-21T00:00:00.000Z")])
    indices = set(es_client.indices.get(index=f"{store.prefix}-events-*"))
    assert indices == {f"{store.prefix}-events-l3-2026.11.20", f"{store.prefix}-events-l3-2026.11.21"}


def test_search_by_time_range_terms_and_text(es_store_factory: StoreFactory) -> None:
    store = es_store_factory()
    store.write(
        [
            ssh_event(1, "2026-11-20T08:00:00.000Z", user="root"),
            ssh_event(2, "2026-11-20T09:00:00.000Z", user="admin", ip="203.0.113.7"),
            ssh_event(3, "2026-11-20T10:00:00.000Z", user="root", outcome="success"),
            ssh_event(4, "2026-11-21T08:00:00.000Z", user="oracle"),
        ]
    )

    def ids(query: EventQuery) -> list[str]:
        return [e["event"]["id"] for e in store.search(query)]

    # inclusive start, exclusive end, newest first
    assert ids(EventQuery(start="2026-11-20T09:00:00Z", end="2026-11-21T08:00:00Z")) == ["evt-3", "evt-2"]
    assert ids(EventQuery(terms={"user.name": "root"})) == ["evt-3", "evt-1"]
    assert ids(EventQuery(terms={"user.name": "root", "event.outcome": "failure"})) == ["evt-1"]
    assert ids(EventQuery(terms={"source.ip": "203.0.113.7"})) == ["evt-2"]
    assert ids(EventQuery(terms={"source.port": "40004"})) == ["evt-4"]
    assert ids(EventQuery(terms={"message": "Failed password for admin from 203.0.113.7 port 40002 ssh2"})) == ["evt-2"]
    assert ids(EventQuery(text="oracle")) == ["evt-4"]
    assert ids(EventQuery(text="sshd password admin")) == ["evt-2"]  # words ANDed over event.original/message
    assert ids(EventQuery(text="nobody-like-this")) == []
    assert ids(EventQuery(limit=2, offset=1)) == ["evt-3", "evt-2"]
    assert store.count(EventQuery(terms={"soc.unit.code": "STTTT"}, start="2026-11-20T00:00:00Z")) == 4
    assert store.count(EventQuery(text='"unbalanced')) == 0  # odd user syntax is not an error


def test_index_template_maps_the_ecs_contract(es_store_factory: StoreFactory, es_client: Any) -> None:
    store = es_store_factory()
    event = ssh_event(1, "2026-11-20T08:00:00.000Z")
    event["winlog"] = {"event_id": 4625, "event_data": {"TargetUserName": "bob", "LogonType": "3"}}
    event["http"] = {"response": {"status_code": 404, "body": {"bytes": 512}}}
    event["custom"] = {"note": "dynamic"}
    store.write([event])

    mapping = es_client.indices.get_mapping(index=f"{store.prefix}-events-l3-2026.11.20")
    props = mapping[f"{store.prefix}-events-l3-2026.11.20"]["mappings"]["properties"]

    def kind(path: str) -> str:
        node: dict[str, Any] = {"properties": props}
        for part in path.split(".") if path != "@timestamp" else [path]:
            node = node["properties"][part]
        return str(node["type"])

    assert kind("@timestamp") == "date"
    assert kind("event.id") == "keyword"
    assert kind("event.category") == "keyword"
    assert kind("source.ip") == "ip"
    assert kind("source.port") == "long"
    assert kind("http.response.status_code") == "long"
    assert kind("http.response.body.bytes") == "long"
    assert kind("winlog.event_id") == "long"
    assert kind("winlog.event_data") == "flattened"
    assert kind("message") == "text"
    assert props["message"]["fields"]["keyword"]["type"] == "keyword"
    assert kind("event.original") == "text"
    assert kind("custom.note") == "keyword"  # dynamic strings become keywords
    settings = es_client.indices.get_settings(index=f"{store.prefix}-events-l3-2026.11.20")
    assert settings[f"{store.prefix}-events-l3-2026.11.20"]["settings"]["index"]["number_of_replicas"] == "0"


def test_dead_letters_are_stored_idempotently_with_original_bytes(es_store_factory: StoreFactory) -> None:
    store = es_store_factory()
    raw = b"\xff\xfe not utf-8 \x00 at all"
    letters = [
        DeadLetter(
            id="r1",
            stage="parse",
            reason="no parser matched",
            received=1795162530.5,
            source="udp://10.0.0.1:514",
            collector="syslog-udp",
            data=raw,
            error_type="ParseError",
        ),
        DeadLetter(
            id="r1",
            stage="enrich",
            reason="asset lookup failed",
            received=1795162531.0,
            source="udp://10.0.0.1:514",
            collector="syslog-udp",
            data=raw,
        ),
    ]
    assert store.count_dead_letters() == 0
    assert store.write_dead_letters(letters) == 2
    assert store.write_dead_letters(letters) == 0
    assert store.count_dead_letters() == 2
    back = {(d.id, d.stage): d for d in store.dead_letters()}
    assert back[("r1", "parse")] == letters[0]
    assert back[("r1", "enrich")].data == raw


def test_a_document_elasticsearch_refuses_becomes_a_dead_letter(es_store_factory: StoreFactory) -> None:
    store = es_store_factory()
    bad = ssh_event(1, "2026-11-20T08:00:00.000Z")
    bad["source"]["port"] = {"not": "a number"}  # object where the contract says long
    good = ssh_event(2, "2026-11-20T08:00:01.000Z")

    assert store.write([bad, good]) == 1
    assert store.count() == 1
    assert store.rejected == 1
    (letter,) = store.dead_letters()
    assert (letter.id, letter.stage) == ("evt-1", "index")
    assert "source.port" in letter.reason
    assert letter.data == bad["event"]["original"].encode()


def test_event_without_id_is_an_error(es_store_factory: StoreFactory) -> None:
    store = es_store_factory()
    event = ssh_event(1, "2026-11-20T08:00:00.000Z")
    del event["event"]["id"]
    with pytest.raises(StoreError):
        store.write([event])


def test_unreachable_elasticsearch_raises_store_unavailable_after_retries() -> None:
    sleeps: list[float] = []
    store = ElasticsearchEventStore(
        f"http://127.0.0.1:{free_port()}", retries=3, backoff_s=0.01, request_timeout=2.0, sleep=sleeps.append
    )
    with pytest.raises(StoreUnavailable):
        store.write([ssh_event(1, "2026-11-20T08:00:00.000Z")])
    assert sleeps == [0.01, 0.02, 0.04]  # exponential backoff between the 4 attempts
    store.close()
