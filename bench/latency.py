"""Benchmark: end-to-end latency from a raw syslog record to its alert visible in the API.

Starts the real embedded SOC (`soc up` in a subprocess, fresh data directory, free ports), sends
probe lines over UDP that each raise a new alert (a root login from a distinct outside address)
and polls `GET /api/v1/alerts` until each probe's alert is listed. Latency = first seen in the
API - sent. Reported as p50/p99:

- reference: the idle SOC (only probes);
- figure: the same probes while a background stream of benign web-server lines is sent at
  ``load_rate`` messages/s, so parse, enrich, detect, index and the alert sink are all busy.

Also the SOC process's peak resident memory (every stage in one process in embedded mode).
The poll interval (``POLL_S``) bounds the resolution; it is printed with the figures.
"""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.report import Figure, Report

POLL_S = 0.05
PROBE = "<38>1 {ts} web-portal-01 sshd 4242 - - Accepted password for root from {ip} port 50022 ssh2"
BENIGN = (
    '<190>1 {ts} portal-01 nginx - - - 10.20.{a}.{b} - - [20/Nov/2026:08:15:30 +0700] "GET /tin-tuc/{n} HTTP/1.1" '
    '200 5120 "-" "Mozilla/5.0"'
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class _Soc:
    """`soc up` in a subprocess with its own data directory and ports."""

    def __init__(self, data: Path) -> None:
        self.api_port, self.syslog_port = _free_port(), _free_port()
        env = {
            **os.environ,
            "SOC_DATA_DIR": str(data),
            "SOC_API_PORT": str(self.api_port),
            "SOC_SYSLOG_PORT": str(self.syslog_port),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "soc_cli.main", "up", "--data", str(data)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.token = self._wait_token()
        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{self.api_port}", headers={"Authorization": f"Bearer {self.token}"}
        )
        self._wait_api()

    def _wait_token(self, timeout: float = 120.0) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        for line in self.proc.stdout:
            seen.append(line)
            if m := re.search(r"Admin token:\s+(\S+)", line):
                threading.Thread(target=self._drain, daemon=True).start()
                return m.group(1)
            if time.monotonic() > deadline:
                break
        raise RuntimeError("soc up did not print its token:\n" + "".join(seen[-30:]))

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for _ in self.proc.stdout:
            pass

    def _wait_api(self) -> None:
        for _ in range(200):
            try:
                if self.client.get("/api/v1/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the API did not answer")

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
        return 0.0

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _probe_round(soc: _Soc, ips: list[str], gap_s: float) -> list[float]:
    """Send one probe per address, ``gap_s`` apart; return each alert's latency in seconds."""
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            try:
                items = soc.client.get("/api/v1/alerts", params={"limit": 500}).json()["items"]
            except (httpx.HTTPError, ValueError, KeyError):
                items = []
            now = time.perf_counter()
            for alert in items:
                text = str(alert.get("entity"))
                for ip in ips:
                    if ip not in seen and ip in sent and ip in text:
                        seen[ip] = now
            if len(seen) == len(ips):
                return
            time.sleep(POLL_S)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for ip in ips:
            sent[ip] = time.perf_counter()
            s.sendto(PROBE.format(ts=_now(), ip=ip).encode(), ("127.0.0.1", soc.syslog_port))
            time.sleep(gap_s)
    poller.join(timeout=60)
    done.set()
    missing = [ip for ip in ips if ip not in seen]
    if missing:
        raise RuntimeError(f"{len(missing)} probe alerts never appeared in the API (e.g. {missing[0]})")
    return [seen[ip] - sent[ip] for ip in ips]


def _background(port: int, rate: int, stop: threading.Event, counter: list[int]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        start, n = time.perf_counter(), 0
        while not stop.is_set():
            ahead = start + n / rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
            for _ in range(50):
                line = BENIGN.format(ts=_now(), a=(n >> 8) & 255, b=n & 255, n=n)
                s.sendto(line.encode(), ("127.0.0.1", port))
                n += 1
        counter.append(n)


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def run(probes: int = 60, load_rate: int = 1_000, gap_s: float = 0.1) -> Report:
    report = Report(f"End-to-end latency: syslog record -> alert listed by the API (embedded, {probes} probes)")
    with tempfile.TemporaryDirectory(prefix="soc-bench-latency-") as d:
        soc = _Soc(Path(d) / "data")
        try:
            idle = _probe_round(soc, [f"203.0.113.{i + 1}" for i in range(probes)], gap_s)
            stop, counter = threading.Event(), []  # type: ignore[var-annotated]
            bg = threading.Thread(target=_background, args=(soc.syslog_port, load_rate, stop, counter), daemon=True)
            bg.start()
            time.sleep(2.0)  # let the background stream reach steady state
            try:
                loaded = _probe_round(soc, [f"198.51.100.{i + 1}" for i in range(probes)], gap_s)
            finally:
                stop.set()
                bg.join(timeout=10)
            rss = soc.peak_rss_mb()
        finally:
            soc.stop()
    for q in (50, 99):
        report.add(
            Figure(
                f"latency p{q} under {load_rate:,} msg/s background",
                _pct(loaded, q) * 1000,
                "ms",
                reference_name=f"latency p{q}, idle SOC",
                reference_value=_pct(idle, q) * 1000,
                higher_is_better=False,
            )
        )
    report.add(Figure("peak memory of the embedded SOC process (all stages)", rss, "MB", higher_is_better=False))
    report.notes.append(
        f"API polled every {POLL_S * 1000:.0f} ms (resolution); background lines sent: {counter[0] if counter else 0:,}"
    )
    return report
