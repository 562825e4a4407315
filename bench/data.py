"""Benchmark inputs: generated provincial logs, parsed and enriched once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from collectors.files import iter_file_records
from pipeline.enrich import AssetInventory
from pipeline.parsers import parse_record
from soc_core.models import RawRecord
from soc_demo.events import FORMATS
from soc_demo.generator import generate

DEMO_ASSETS = Path(__file__).resolve().parent.parent / "soc_demo" / "assets.yml"


def demo_files(out: Path, *, scale: float) -> list[tuple[Path, str]]:
    generate(out, scale=scale)
    return [(out / name, fmt) for name, fmt in FORMATS.items() if (out / name).exists()]


def demo_records(out: Path, *, scale: float) -> list[RawRecord]:
    records: list[RawRecord] = []
    for path, fmt in demo_files(out, scale=scale):
        records.extend(r for r in iter_file_records(path, format=fmt) if isinstance(r, RawRecord))
    return records


def demo_events(out: Path, *, scale: float) -> list[dict[str, Any]]:
    inventory = AssetInventory.load(DEMO_ASSETS)
    events = []
    for record in demo_records(out, scale=scale):
        event = parse_record(record)
        inventory.enrich(event, record.unit)
        events.append(event)
    return events
