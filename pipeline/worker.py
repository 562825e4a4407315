"""Pipeline stage "process": soc.raw -> parse -> enrich -> detect -> soc.events + soc.alerts (+ soc.dlq).

Enrich is the asset inventory, then the extra enrichers (threat intelligence, GeoIP) in order.
Detect is the Sigma detector, then the anomaly models (:mod:`detections.models`), each given the
whole batch so it scores the windows the batch closed in one call. A batch is parsed, enriched and
given to the Sigma detector in chunks of :data:`DETECT_CHUNK` records, so the detector reads events
that were just made while they are still in the core's cache (a batch of 1,000-2,000 ECS events is
7-14 MB; a chunk of 256 fits in a 2 MB L2 cache): measured on the SigmaHQ regression events with
all rules, the detect stage takes about 10% less time per event on chunks of 256 than on 2,000.

Neighbours: the collectors publish to ``soc.raw`` before it; the event indexer
(:mod:`pipeline.indexer`) and the SOC API's alert sink consume what it publishes. Runs inside a
:class:`soc_core.stage.StageLoop`: the raw offsets are committed only after the events, alerts and
dead letters of the batch are flushed to the bus.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from detections.models import AnomalyDetector
from detections.sigma import Detector
from pipeline.enrich import AssetInventory, Enricher
from pipeline.parsers import parse_record
from soc_core import deadletters, serde, topics
from soc_core.bus import Message, Producer
from soc_core.ecs import get_field
from soc_core.errors import ParseError
from soc_core.models import DeadLetter, Detection, RawRecord

log = logging.getLogger(__name__)

DETECT_CHUNK = 256  # records parsed, enriched and detected together (see the module notes)


@dataclass
class WorkerStats:
    received: int = 0
    parsed: int = 0
    dead_lettered: int = 0
    detections: int = 0
    model_errors: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)


@dataclass
class ProcessedBatch:
    events: list[dict[str, Any]]
    detections: list[Detection]
    dead_letters: list[DeadLetter]


class EventProcessor:
    """Parse, enrich and detect over a batch of raw records; no I/O (shared by the worker and `soc detect`)."""

    def __init__(
        self,
        detector: Detector,
        inventory: AssetInventory | None = None,
        parse: Callable[[RawRecord], dict[str, Any]] = parse_record,
        *,
        enrichers: Sequence[Enricher] = (),
        models: Sequence[AnomalyDetector] = (),
    ) -> None:
        self.detector = detector
        self.models = tuple(models)  # anomaly models, after the Sigma rules
        self.inventory = inventory or AssetInventory.empty()
        self.enrichers = tuple(enrichers)  # after the inventory: threat intel, GeoIP
        self.parse = parse
        self.stats = WorkerStats()

    def process(self, records: Sequence[RawRecord]) -> ProcessedBatch:
        events: list[dict[str, Any]] = []
        letters: list[DeadLetter] = []
        detections: list[Detection] = []
        for start in range(0, len(records), DETECT_CHUNK):
            chunk = self._prepare(records[start : start + DETECT_CHUNK], letters)
            if chunk:
                detections.extend(self.detector.process(chunk))
                events.extend(chunk)
        for model in self.models if events else ():
            try:
                detections.extend(model.process(events))
            except Exception:  # a model bug must not stop the stream: logged and counted
                self.stats.model_errors += 1
                log.exception("anomaly model %s crashed on a batch", model.name)
        self.stats.parsed += len(events)
        self.stats.dead_lettered += len(letters)
        self.stats.detections += len(detections)
        for letter in letters:
            self.stats.by_reason[letter.stage] = self.stats.by_reason.get(letter.stage, 0) + 1
        return ProcessedBatch(events, detections, letters)

    def _prepare(self, records: Sequence[RawRecord], letters: list[DeadLetter]) -> list[dict[str, Any]]:
        """Parse and enrich ``records``: their events, in order (the others' dead letters go to ``letters``)."""
        events: list[dict[str, Any]] = []
        for record in records:
            self.stats.received += 1
            try:
                event = self.parse(record)
            except ParseError as exc:
                letters.append(deadletters.from_record(record, "parse", exc))
                continue
            except Exception as exc:  # a parser bug must not lose the record
                log.exception("parser crashed on record %s", record.id)
                letters.append(deadletters.from_record(record, "parse", exc))
                continue
            try:
                self.inventory.enrich(event, record.unit)
                for enricher in self.enrichers:
                    enricher.enrich(event)
            except Exception as exc:
                log.exception("enrichment crashed on record %s", record.id)
                letters.append(deadletters.from_record(record, "enrich", exc))
                continue
            events.append(event)
        return events


class PipelineWorker:
    """The bus-facing handler: decode raw messages, process, publish, flush (then the loop commits)."""

    def __init__(self, processor: EventProcessor, producer: Producer, *, topic_prefix: str = "") -> None:
        self.processor = processor
        self.producer = producer
        self.events_topic = topic_prefix + topics.EVENTS
        self.alerts_topic = topic_prefix + topics.ALERTS
        self.dlq_topic = topic_prefix + topics.DLQ

    def handle(self, messages: Sequence[Message]) -> None:
        records: list[RawRecord] = []
        letters: list[DeadLetter] = []
        for m in messages:
            try:
                records.append(serde.decode_raw(m.value))
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                letters.append(deadletters.from_message(m, "decode", "not a raw record", exc))
        batch = self.processor.process(records)
        send = self.producer.send
        for event in batch.events:
            host = get_field(event, "host.name") or get_field(event, "source.ip")
            send(self.events_topic, serde.encode_event(event), str(host).encode() if host else None)
        for det in batch.detections:
            send(self.alerts_topic, serde.encode_detection(det), det.dedup_key.encode())
        for letter in [*letters, *batch.dead_letters]:
            send(self.dlq_topic, serde.encode_dead_letter(letter), None)
        self.producer.flush()
