"""Worker and indexer stages over the embedded bus: poison input is dead-lettered, counts reconcile."""

from __future__ import annotations

import time
from pathlib import Path

from detections.sigma import Detector, RuleSet
from pipeline.indexer import DeadLetterIndexer, EventIndexer
from pipeline.worker import EventProcessor, PipelineWorker
from soc_core import serde, topics
from soc_core.embedded.sqlite_bus import SqliteBus
from soc_core.embedded.sqlite_events import SqliteEventStore
from soc_core.ids import new_id
from soc_core.models import RawRecord
from soc_core.stage import StageLoop

REPO = Path(__file__).resolve().parent.parent


def raw(data: bytes, fmt: str = "auto") -> RawRecord:
    return RawRecord(
        id=new_id(),
        received=time.time(),
        collector="test",
        kind="syslog",
        source="udp://10.0.0.9:514",
        data=data,
        format=fmt,
    )


def drain(loop: StageLoop) -> None:
    while loop.run_once():
        pass


def test_poison_records_are_dead_lettered_and_counts_reconcile(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.db")
    store = SqliteEventStore(tmp_path / "events.db")
    good = [
        raw(
            b"<38>1 2026-11-20T08:15:30Z web-portal-01 sshd 42 - - Accepted password for root from 203.0.113.5 port 2 ssh2"
        ),
        raw(b'10.1.1.1 - - [20/Nov/2026:08:15:30 +0700] "GET / HTTP/1.1" 200 12 "-" "Mozilla/5.0"', "nginx"),
    ]
    poison = [
        raw(b"\x00\x01\x02\x03binary\xff\xfe"),
        raw(b"{not json", "winjson"),
        raw(b"x" * 10, "nginx"),
    ]
    p = bus.producer()
    for r in good + poison:
        p.send(topics.RAW, serde.encode_raw(r))
    p.send(topics.RAW, b"\x93not a msgpack raw record")  # not even a raw record
    p.flush()

    ruleset = RuleSet.load([REPO / "detections" / "rules"])
    worker = PipelineWorker(EventProcessor(Detector(ruleset)), bus.producer())
    loops = [
        StageLoop("worker", bus.consumer("w", [topics.RAW]), worker.handle, poll_timeout=0.05),
        StageLoop("indexer", bus.consumer("i", [topics.EVENTS]), EventIndexer(store).handle, poll_timeout=0.05),
        StageLoop("dlq", bus.consumer("d", [topics.DLQ]), DeadLetterIndexer(store).handle, poll_timeout=0.05),
    ]
    for loop in loops:
        drain(loop)

    received = len(good) + len(poison) + 1
    assert store.count() == len(good)
    assert store.count_dead_letters() == len(poison) + 1
    assert store.count() + store.count_dead_letters() == received
    letters = {d.stage: d for d in store.dead_letters()}
    assert "decode" in letters and "parse" in letters
    assert all(d.reason for d in store.dead_letters())
    binary = next(d for d in store.dead_letters() if d.data.startswith(b"\x00\x01"))
    assert binary.data == poison[0].data  # original bytes kept
    alerts = bus.consumer("a", [topics.ALERTS]).poll(100, 0.05)
    assert any("203.0.113.5" in str(serde.decode_detection(m.value).entity) for m in alerts)

    # a redelivery of the whole raw topic changes nothing in the store
    again = StageLoop("worker2", bus.consumer("w2", [topics.RAW]), worker.handle, poll_timeout=0.05)
    drain(again)
    for loop in loops[1:]:
        drain(loop)
    assert store.count() == len(good)
    assert store.count_dead_letters() == len(poison) + 1


def test_undecodable_event_on_events_topic_becomes_dead_letter(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.db")
    store = SqliteEventStore(tmp_path / "events.db")
    p = bus.producer()
    p.send(topics.EVENTS, b"[1, 2, 3]")
    p.send(topics.EVENTS, serde.encode_event({"@timestamp": "2026-11-20T08:00:00Z", "event": {"id": "ok1"}}))
    p.flush()
    drain(StageLoop("indexer", bus.consumer("i", [topics.EVENTS]), EventIndexer(store).handle, poll_timeout=0.05))
    assert store.count() == 1
    assert [d.stage for d in store.dead_letters()] == ["index"]


def test_a_batch_of_several_chunks_gives_what_its_records_give_one_by_one() -> None:
    """The processor detects in chunks of DETECT_CHUNK records: nothing lost, doubled or reordered."""
    from pipeline.worker import DETECT_CHUNK

    lines = [
        b"<38>1 2026-11-20T08:15:30Z web-portal-01 sshd 42 - - Accepted password for root from 203.0.113.5 port 2 ssh2",
        b"<38>1 2026-11-20T08:15:31Z web-portal-02 sshd 42 - - Failed password for admin from 198.51.100.7 port 2 ssh2",
        b"\x00\x01binary\xff",
        b'10.1.1.1 - - [20/Nov/2026:08:15:30 +0700] "GET /?q=<script>alert(1)</script> HTTP/1.1" 200 12 "-" "sqlmap/1.7"',
    ]
    records = [
        raw(lines[i % len(lines)], "nginx" if i % len(lines) == 3 else "auto") for i in range(2 * DETECT_CHUNK + 37)
    ]
    ruleset = RuleSet.load([REPO / "detections" / "rules"])
    batch = EventProcessor(Detector(ruleset)).process(records)
    alone = EventProcessor(Detector(ruleset))
    singles = [alone.process([r]) for r in records]

    assert [e["event"]["id"] for e in batch.events] == [e["event"]["id"] for s in singles for e in s.events]
    assert [(d.rule_id, d.event_id) for d in batch.detections] == [
        (d.rule_id, d.event_id) for s in singles for d in s.detections
    ]
    assert [d.id for d in batch.dead_letters] == [d.id for s in singles for d in s.dead_letters]
    assert len(batch.events) + len(batch.dead_letters) == len(records)
    assert batch.detections and batch.dead_letters  # the test data has both
