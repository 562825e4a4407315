"""Benchmark: syslog messages/s accepted without loss (UDP at paced rates, TCP flat out).

Reference: a bare UDP socket that only counts datagrams, receiving the same paced streams in the
same invocation; its loss-free ceiling is what the kernel and Python allow at all.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from pathlib import Path

from bench.report import Figure, Report
from collectors.publisher import Publisher
from collectors.syslog import SyslogServer
from soc_core.embedded.sqlite_bus import SqliteBus

LINE = (
    b"<38>1 2026-11-20T08:15:30Z web-portal-01 sshd 4242 - - Failed password for root from 203.0.113.9 port 4242 ssh2"
)
RATES = (5_000, 10_000, 20_000, 40_000, 80_000)


def _send_paced(port: int, n: int, rate: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        start = time.perf_counter()
        for i in range(n):
            if i % 100 == 0:
                ahead = start + i / rate - time.perf_counter()
                if ahead > 0:
                    time.sleep(ahead)
            s.sendto(LINE, ("127.0.0.1", port))


def _count_bus(bus: SqliteBus) -> int:
    return bus.end_offsets(["soc.raw"])["soc.raw"]


def _soc_udp(rate: int, n: int) -> int:
    with tempfile.TemporaryDirectory() as d:
        bus = SqliteBus(Path(d) / "bus.db")
        publisher = Publisher(bus.producer(), spool_dir=Path(d) / "spool")
        server = SyslogServer(publisher, port=0, tcp=False)
        server.start()
        assert server.udp_port is not None
        _send_paced(server.udp_port, n, rate)
        time.sleep(0.5)
        server.stop()
        publisher.close()
        return _count_bus(bus)


def _bare_udp(rate: int, n: int) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.5)
    got = 0

    def recv() -> None:
        nonlocal got
        try:
            while True:
                sock.recv(65535)
                got += 1
        except TimeoutError:
            return

    t = threading.Thread(target=recv)
    t.start()
    _send_paced(sock.getsockname()[1], n, rate)
    t.join()
    sock.close()
    return got


def _soc_tcp(n: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        bus = SqliteBus(Path(d) / "bus.db")
        publisher = Publisher(bus.producer(), spool_dir=Path(d) / "spool")
        server = SyslogServer(publisher, port=0, udp=False)
        server.start()
        assert server.tcp_port is not None
        frame = LINE + b"\n"
        t = time.perf_counter()
        with socket.create_connection(("127.0.0.1", server.tcp_port)) as s:
            for i in range(0, n, 1000):
                s.sendall(frame * min(1000, n - i))
        while _count_bus(bus) < n and time.perf_counter() - t < 120:
            time.sleep(0.05)
        rate = _count_bus(bus) / (time.perf_counter() - t)
        server.stop()
        publisher.close()
        return rate


def run(seconds_per_rate: float = 1.0) -> Report:
    report = Report("syslog intake (messages accepted without loss)")
    best_soc = best_bare = 0
    for rate in RATES:
        n = int(rate * seconds_per_rate)
        soc_got = _soc_udp(rate, n)
        bare_got = _bare_udp(rate, n)
        report.notes.append(f"UDP at {rate:,}/s: soc stored {soc_got:,}/{n:,}, bare socket received {bare_got:,}/{n:,}")
        if soc_got == n:
            best_soc = rate
        if bare_got == n:
            best_bare = rate
    report.add(Figure("UDP, highest loss-free paced rate", best_soc, "msg/s", "bare UDP socket", best_bare))
    report.add(Figure("TCP, one connection, durable on the bus", _soc_tcp(100_000), "msg/s"))
    return report
