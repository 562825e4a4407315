"""Benchmark: detection stage and `soc detect` end to end, against a naive all-rules-per-event loop.

The reference is the same compiled rules evaluated without log-source routing (every rule on every
event): the "straightforward per-event evaluator" of the design map. The pySigma SQLite reference
(Zircolite's method) comes with the full Sigma engine work.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.data import demo_events, demo_files
from bench.report import Figure, Report, peak_rss_mb
from detections.sigma import Detector, RuleSet
from detections.sigma.compiler import FlatEvent
from soc_cli.detect import run_detect

PROJECT_RULES = Path(__file__).resolve().parent.parent / "detections" / "rules"


class NaiveDetector(Detector):
    """Every rule on every event: no log-source buckets."""

    def _candidates(self, flat: FlatEvent) -> tuple[int, ...]:
        return tuple(range(len(self._rules)))


def _rate(detector: Detector, events: Sequence[dict[str, Any]], batch: int = 2000) -> tuple[float, int]:
    matches = 0
    t = time.perf_counter()
    for i in range(0, len(events), batch):
        matches += len(detector.process(events[i : i + batch]))
    return len(events) / (time.perf_counter() - t), matches


def run(scale: float = 3.0, rules: Sequence[Path] = (PROJECT_RULES,), reference_events: int = 5000) -> Report:
    report = Report(f"detection (rules: {', '.join(map(str, rules))})")
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        ruleset = RuleSet.load(list(rules))
        compile_s = time.perf_counter() - t
        events = demo_events(Path(d) / "events", scale=scale)
        engine_rate, engine_matches = _rate(Detector(ruleset), events)
        ref = events[:reference_events]
        naive_rate, naive_matches = _rate(NaiveDetector(ruleset), ref)
        engine_ref_matches = sum(len(Detector(ruleset).process(ref[i : i + 2000])) for i in range(0, len(ref), 2000))
        files = demo_files(Path(d) / "files", scale=scale)
        summary = run_detect(list(rules), [p for p, _ in files], out=io.BytesIO(), err=Console(file=io.StringIO()))
    report.add(Figure("detection stage", engine_rate, "events/s", "naive: every rule on every event", naive_rate))
    report.add(
        Figure("soc detect end to end", summary.as_dict()["events_per_second"], "events/s", "naive stage", naive_rate)
    )
    report.add(Figure("rule-set compile", compile_s, "s", higher_is_better=False))
    report.add(Figure("peak memory", peak_rss_mb(), "MiB", higher_is_better=False))
    report.notes.append(
        f"{len(ruleset.rules)} rules ({len(ruleset.failures)} failed), {len(events)} events, {engine_matches} matches; "
        f"on the first {len(ref)} events the engine found {engine_ref_matches} and the naive loop {naive_matches}"
    )
    if engine_ref_matches != naive_matches:
        report.notes.append("WARNING: engine and naive reference disagree on the same events")
    return report
