"""Benchmark: embedded bus produce/consume rate vs a per-message-commit reference."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.report import Figure, Report
from soc_core.embedded.sqlite_bus import SqliteBus


def _produce(bus: SqliteBus, n: int, batch: int) -> float:
    p = bus.producer()
    value = b"x" * 600
    t = time.perf_counter()
    for i in range(n):
        p.send("bench", value, b"host")
        if (i + 1) % batch == 0:
            p.flush()
    p.flush()
    return n / (time.perf_counter() - t)


def run(n: int = 100_000) -> Report:
    report = Report("embedded bus (600-byte messages)")
    with tempfile.TemporaryDirectory() as d:
        bus = SqliteBus(Path(d) / "bus.db")
        batched = _produce(bus, n, 1000)
        ref_n = max(500, n // 100)
        ref_bus = SqliteBus(Path(d) / "ref.db")
        per_message = _produce(ref_bus, ref_n, 1)
        c = bus.consumer("bench", ["bench"])
        t = time.perf_counter()
        got = 0
        while batch := c.poll(1000, 0.01):
            got += len(batch)
            c.commit()
        consume = got / (time.perf_counter() - t)
    report.add(Figure("produce, batches of 1,000", batched, "msg/s", "produce, commit per message", per_message))
    report.add(Figure("consume + commit, batches of 1,000", consume, "msg/s"))
    return report
