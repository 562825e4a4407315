"""Benchmark: packet captures read per second — the tshark field reader vs pyshark FileCapture(use_ek=True).

Both read the same generated capture (DNS lookups and HTTP GETs written with dpkt,
:mod:`bench.pcap_data`) in the same invocation. Ours: :func:`collectors.pcap.iter_pcap_records`
(``tshark -T fields``, application events + flow summaries). Reference: pyshark's
``FileCapture(use_ek=True)`` iterating every packet and touching the same layers, the fastest of
pyshark's file modes (see /work/shared/performance-notes.md). Figures: packets/s, records/s.
"""

from __future__ import annotations

import concurrent.futures
import tempfile
import time
from pathlib import Path

import pyshark
from rich.console import Console
from rich.progress import Progress

from bench.pcap_data import mixed_traffic, write_capture
from bench.report import Figure, Report, progress_bar
from collectors.pcap import iter_pcap_records
from collectors.pcap_live import threaded_child_watcher, use_thread_event_loop


def _ours(path: Path, progress: Progress, packets: int) -> tuple[float, int, int]:
    task = progress.add_task("tshark -T fields (ours)", total=packets)
    stats: dict[str, int] = {}
    t = time.perf_counter()
    seen = 0
    for _ in iter_pcap_records(path, stats=stats):
        if stats["packets"] - seen >= 1000:
            progress.update(task, completed=stats["packets"])
            seen = stats["packets"]
    elapsed = time.perf_counter() - t
    progress.update(task, completed=stats["packets"])
    return elapsed, stats["packets"], stats["records"]


def _pyshark(path: Path, progress: Progress, packets: int) -> tuple[float, int, int]:
    """The reference, in a thread of its own: pyshark drives its own asyncio loop, which cannot run in
    a thread where another loop is already running (an embedding application, a Playwright session)."""
    threaded_child_watcher()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="pyshark") as pool:
        return pool.submit(_pyshark_in_thread, path, progress, packets).result()


def _pyshark_in_thread(path: Path, progress: Progress, packets: int) -> tuple[float, int, int]:
    task = progress.add_task("pyshark FileCapture(use_ek=True)", total=packets)
    loop = use_thread_event_loop()
    capture = pyshark.FileCapture(str(path), use_ek=True, keep_packets=False, eventloop=loop)
    n = records = 0
    t = time.perf_counter()
    try:
        for packet in capture:
            n += 1
            if "dns" in packet or "http" in packet:
                layer = packet.dns if "dns" in packet else packet.http
                records += 1 if layer is not None else 0
            if n % 500 == 0:
                progress.update(task, completed=n)
    finally:
        capture.close()
        loop.close()
    elapsed = time.perf_counter() - t
    progress.update(task, completed=n)
    return elapsed, n, records


def run(packets: int = 20_000, console: Console | None = None) -> Report:
    report = Report(f"Packet captures: {packets:,} packets of DNS + HTTP (pcap)")
    console = console or Console(stderr=True)
    progress = progress_bar(console, "packets")
    with progress, tempfile.TemporaryDirectory() as d:
        path = write_capture(Path(d) / "bench.pcap", mixed_traffic(packets))
        ours_s, ours_packets, ours_records = _ours(path, progress, packets)
        ref_s, ref_packets, ref_records = _pyshark(path, progress, packets)
    report.add(Figure("packets/s read (tshark fields)", ours_packets / ours_s, "pkt/s",
                      "pyshark FileCapture(use_ek=True)", ref_packets / ref_s))  # fmt: skip
    report.add(Figure("records/s produced (tshark fields)", ours_records / ours_s, "rec/s",
                      "pyshark FileCapture(use_ek=True)", ref_records / ref_s))  # fmt: skip
    report.notes.append(
        f"ours: {ours_packets:,} packets -> {ours_records:,} records (application events + flow summaries) "
        f"in {ours_s:.2f} s; pyshark: {ref_packets:,} packets, {ref_records:,} DNS/HTTP packets in {ref_s:.2f} s"
    )
    return report
