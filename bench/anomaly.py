"""Benchmark: the anomaly-model part of the detect stage (detections/models).

Measured: feature extraction (demo logs, parsed before timing, cut into 5-minute per-entity
windows), IsolationForest fit time on ``rows`` feature rows, and scoring rows/s the way the stage
does it (one ``score_samples`` call per micro-batch of 1,000 closed windows) against the reference
of one row per call (what a naive per-window loop does). Rows are sampled from the demo windows'
feature rows with jitter, so the numbers are those of the real feature list.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console

from bench.data import demo_events
from bench.report import Figure, Report, progress_bar
from detections.models.train import feature_rows, fit, rows_matrix

MICRO_BATCH = 1000


def run(rows: int = 100_000, single: int = 300, scale: float = 3.0, trees: int = 100) -> Report:
    report = Report(f"anomaly models (IsolationForest, {trees} trees, {rows:,} feature rows)")
    console = Console(stderr=True)
    progress = progress_bar(console)
    with progress, tempfile.TemporaryDirectory() as d:
        task = progress.add_task("generate and parse demo logs", total=1)
        events = demo_events(Path(d) / "logs", scale=scale)
        progress.update(task, completed=1)

        task = progress.add_task("feature extraction", total=1)
        started = time.perf_counter()
        windows = feature_rows(events)
        extract_s = time.perf_counter() - started
        progress.update(task, completed=1)

        base = rows_matrix(windows.windows)
        rng = np.random.default_rng(0)
        x = base[rng.integers(0, len(base), rows)] * rng.uniform(0.9, 1.1, (rows, base.shape[1]))
        task = progress.add_task("fit", total=1)
        started = time.perf_counter()
        model = fit(x, name="bench", trees=trees)
        fit_s = time.perf_counter() - started
        progress.update(task, completed=1)

        task = progress.add_task(f"score in batches of {MICRO_BATCH:,}", total=rows)
        started = time.perf_counter()
        for i in range(0, rows, MICRO_BATCH):
            model.score(x[i : i + MICRO_BATCH])
            progress.update(task, advance=min(MICRO_BATCH, rows - i))
        batched_rate = rows / (time.perf_counter() - started)

        task = progress.add_task("score one row per call (reference)", total=single)
        started = time.perf_counter()
        for i in range(single):
            model.score(x[i : i + 1])
            progress.update(task, advance=1)
        single_rate = single / (time.perf_counter() - started)

        started = time.perf_counter()
        model.score(x)
        one_call_rate = rows / (time.perf_counter() - started)
    report.add(Figure("scoring, batches of 1,000 (the stage)", batched_rate, "rows/s", "one row per call", single_rate))
    report.add(Figure("scoring, all rows in one call", one_call_rate, "rows/s", "one row per call", single_rate))
    report.add(Figure("fit (IsolationForest)", fit_s, "s", higher_is_better=False))
    report.add(Figure("feature extraction", windows.events / extract_s, "events/s"))
    report.notes.append(
        f"{windows.events:,} demo events -> {len(base):,} windows in {extract_s:.2f} s; "
        f"fit on {rows:,} rows x {base.shape[1]} features"
    )
    return report
