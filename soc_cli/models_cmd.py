"""`soc models train|info` and the demo model of `soc up --demo`: anomaly-model files from log files.

Reads and parses the input with the same readers and parsers as ``soc detect``
(:func:`soc_cli.detect.read_records`, :func:`pipeline.parsers.parse_record`), then hands the ECS events
to :mod:`detections.models.train` and writes the model with :func:`detections.models.save_model`.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from collectors.files import iter_input_paths
from detections.models import AnomalyModel, WindowConfig, save_model, train
from pipeline.parsers import parse_record
from soc_cli.detect import INPUT_FORMATS, read_records
from soc_core.errors import InputError, ParseError
from soc_core.models import DeadLetter
from soc_demo.events import FORMATS

# The demo model: more trees and a 2.5 % threshold, so the demo's small web-scanning bursts show up.
DEMO_CONTAMINATION = 0.025
DEMO_TREES = 200
DEMO_FORMATS = FORMATS


@dataclass
class TrainSummary:
    files: int = 0
    events: int = 0
    bad_records: int = 0
    rows: int = 0
    fit_seconds: float = 0.0
    seconds: float = 0.0


def _events(files: Sequence[tuple[Path, str]], summary: TrainSummary) -> Iterator[dict[str, Any]]:
    for path, fmt in files:
        for item in read_records(path, fmt):
            if isinstance(item, DeadLetter):
                summary.bad_records += 1
                continue
            try:
                event = parse_record(item)
            except ParseError:
                summary.bad_records += 1
                continue
            summary.events += 1
            yield event


def train_files(
    files: Sequence[tuple[Path, str]],
    out: Path,
    *,
    name: str | None = None,
    config: WindowConfig | None = None,
    contamination: float = 0.01,
    trees: int = 100,
    random_state: int = 0,
) -> tuple[AnomalyModel, TrainSummary]:
    """Train on ``(path, input format)`` files, save to ``out``; the model and a summary."""
    summary = TrainSummary(files=len(files))
    started = time.perf_counter()
    model, summary.fit_seconds = train(
        _events(files, summary),
        name=name or out.stem,
        config=config,
        contamination=contamination,
        trees=trees,
        random_state=random_state,
        sources=[str(p) for p, _ in files],
    )
    summary.rows = model.meta.training_rows
    save_model(model, out)
    summary.seconds = time.perf_counter() - started
    return model, summary


def input_files(inputs: Sequence[Path], input_format: str) -> list[tuple[Path, str]]:
    if input_format not in INPUT_FORMATS:
        raise InputError(f"unknown input format {input_format!r}; choose one of {', '.join(INPUT_FORMATS)}")
    paths = [p for inp in inputs for p in iter_input_paths(inp)]
    if not paths:
        raise InputError("no input files found", source=", ".join(map(str, inputs)))
    return [(p, input_format) for p in paths]


def train_demo_model(out: Path, *, seed: int = 11, start: datetime | None = None) -> AnomalyModel:
    """The demo model: trained on the demo generator's benign background only (no attacks), ~0.5 s.

    A different seed from the published demo data (7), so the model has not seen those exact rows.
    """
    from soc_demo.generator import generate

    start = start or datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    with tempfile.TemporaryDirectory(prefix="soc-demo-train-") as tmp:
        root = Path(tmp)
        generate(root, seed=seed, start=start, attacks=False)
        files = [(root / name, fmt) for name, fmt in DEMO_FORMATS.items() if (root / name).exists()]
        model, _ = train_files(
            files, out, name="demo-baseline", contamination=DEMO_CONTAMINATION, trees=DEMO_TREES, random_state=0
        )
    return model


def describe(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """``soc models info`` lines: (label, value)."""
    order = (
        "name",
        "features_version",
        "window_seconds",
        "lateness_seconds",
        "entity_fields",
        "auth_entity_fields",
        "threshold",
        "high_threshold",
        "contamination",
        "trees",
        "training_rows",
        "training_events",
        "sklearn_version",
        "skops_version",
        "trained_at",
        "random_state",
        "features",
        "sources",
    )
    out: list[tuple[str, str]] = []
    for key in order:
        value = meta.get(key)
        if isinstance(value, list):
            value = ", ".join(map(str, value)) or "-"
        out.append((key, str(value)))
    return out
