"""`soc detect`: offline detection over files — read, parse, enrich, evaluate rules, print matches.

Runs the same :class:`pipeline.worker.EventProcessor` as the streaming worker, without a bus.
Matches go to stdout as JSON lines; the summary and progress go to stderr.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from collectors.evtx import is_evtx, iter_evtx_records
from collectors.files import iter_file_records, iter_input_paths
from collectors.pcap import CAPTURE_SUFFIXES, is_capture, iter_pcap_records
from detections.models import AnomalyDetector, load_model
from detections.sigma import Detector, RuleSet, settle_heap
from detections.sigma.values import load_placeholders
from pipeline.enrich import AssetInventory, Enricher, GeoIP, ThreatIntel
from pipeline.worker import EventProcessor
from soc_core.errors import InputError
from soc_core.models import DeadLetter, Detection, RawRecord

INPUT_FORMATS = ("auto", "jsonl", "evtx", "syslog", "auth", "nginx", "apache", "winjson", "pcap")
BATCH = 2000


@dataclass
class DetectSummary:
    files: int = 0
    events: int = 0
    bad_records: int = 0
    matches: int = 0
    rules_loaded: int = 0
    rules_failed: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        rate = self.events / self.seconds if self.seconds > 0 else 0.0
        return {**self.__dict__, "events_per_second": round(rate, 1)}


def read_records(path: Path, fmt: str) -> Iterator[RawRecord | DeadLetter]:
    """Raw records of one input file: EVTX, pcap/pcapng or text/JSON lines (by ``fmt`` or sniffed)."""
    if fmt == "evtx" or (fmt == "auto" and (path.suffix.lower() == ".evtx" or is_evtx(path))):
        yield from iter_evtx_records(path)
        return
    if fmt == "pcap" or (fmt == "auto" and (path.suffix.lower() in CAPTURE_SUFFIXES or is_capture(path))):
        yield from iter_pcap_records(path)
        return
    yield from iter_file_records(path, format=fmt)


def match_json(det: Detection) -> bytes:
    return orjson.dumps(
        {
            "rule_id": det.rule_id,
            "rule_title": det.rule_title,
            "level": det.level,
            "tags": det.tags,
            "event_id": det.event_id,
            "@timestamp": det.timestamp,
            "event": det.event,
        }
    )


def run_detect(
    rules: Sequence[Path],
    inputs: Sequence[Path],
    *,
    input_format: str = "auto",
    assets: Path | None = None,
    placeholders: Path | None = None,
    enrichers: Sequence[Enricher] = (),
    models: Sequence[Path] = (),
    out: IO[bytes] | None = None,
    err: Console | None = None,
) -> DetectSummary:
    """Evaluate ``rules`` over ``inputs``; write matches to ``out``; return the summary.

    ``enrichers`` run after the asset inventory (see :func:`detect_enrichers`). ``models``: anomaly
    model files; their windows are decided at the end of the input (file order does not matter).
    """
    if input_format not in INPUT_FORMATS:
        raise InputError(f"unknown input format {input_format!r}; choose one of {', '.join(INPUT_FORMATS)}")
    out = out if out is not None else sys.stdout.buffer
    err = err if err is not None else Console(stderr=True)
    paths = [p for inp in inputs for p in iter_input_paths(inp)]
    if not paths:
        raise InputError("no input files found", source=", ".join(map(str, inputs)))
    ruleset = RuleSet.load(list(rules), placeholders=load_placeholders(placeholders) if placeholders else None)
    summary = DetectSummary(files=len(paths), rules_loaded=len(ruleset.rules), rules_failed=len(ruleset.failures))
    for failure in ruleset.failures[:20]:
        where = failure.path if failure.line is None else f"{failure.path}:{failure.line}"
        err.print(f"[yellow]rule not loaded[/]: {where}: {failure.reason}", highlight=False)
    if len(ruleset.failures) > 20:
        err.print(f"[yellow]… and {len(ruleset.failures) - 20} more rules not loaded[/] (see `soc rules check`)")
    if not ruleset.rules:
        raise InputError("no usable rules loaded", source=", ".join(map(str, rules)))
    # Offline input: files may overlap in time, so correlations are decided in event-time order
    # once everything is read (detector.flush() below), whatever the file order.
    detector = Detector(ruleset, lateness_seconds=math.inf)
    settle_heap()
    anomaly = [AnomalyDetector(load_model(Path(m)), lateness_seconds=math.inf, max_open=10_000_000) for m in models]
    processor = EventProcessor(
        detector, AssetInventory.load(assets) if assets else None, enrichers=enrichers, models=anomaly
    )
    started = time.perf_counter()
    total_bytes = sum(p.stat().st_size for p in paths)
    with Progress(
        TextColumn("[bold]detect[/]"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}% {task.fields[events]} events, {task.fields[matches]} matches"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("detect", total=total_bytes or 1, events=0, matches=0)
        for path in paths:
            batch: list[RawRecord] = []
            for item in read_records(path, input_format):
                if isinstance(item, DeadLetter):
                    summary.bad_records += 1
                    continue
                batch.append(item)
                if len(batch) >= BATCH:
                    _flush(processor, batch, out, summary)
                    batch = []
                    progress.update(task, events=summary.events, matches=summary.matches)
            _flush(processor, batch, out, summary)
            progress.update(task, advance=path.stat().st_size, events=summary.events, matches=summary.matches)
    late = detector.flush()
    for model in anomaly:
        late.extend(model.flush())
    for det in late:
        out.write(match_json(det) + b"\n")
    summary.matches += len(late)
    out.flush()
    for letter_stage, n in processor.stats.by_reason.items():
        err.print(f"[yellow]{n} records could not be handled at stage {letter_stage}[/]")
    summary.seconds = time.perf_counter() - started
    return summary


def detect_enrichers(
    threat_intel: Sequence[Path] = (),
    geoip_city: Path | None = None,
    geoip_asn: Path | None = None,
    *,
    geo_fallback: bool = True,
) -> list[Enricher]:
    """Threat intel from ``threat_intel`` files, then GeoIP (databases, else the offline country fallback)."""
    enrichers: list[Enricher] = []
    if threat_intel:
        enrichers.append(ThreatIntel.load(list(threat_intel)))
    geo = GeoIP.open(geoip_city, geoip_asn, fallback_country=geo_fallback)
    if geo.active:
        enrichers.append(geo)
    return enrichers


def _flush(processor: EventProcessor, batch: list[RawRecord], out: IO[bytes], summary: DetectSummary) -> None:
    if not batch:
        return
    result = processor.process(batch)
    summary.events += len(result.events)
    summary.bad_records += len(result.dead_letters)
    for det in result.detections:
        out.write(match_json(det) + b"\n")
    summary.matches += len(result.detections)
    out.flush()
