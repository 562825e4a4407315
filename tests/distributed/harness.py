"""Runs the real ``soc collect``/``soc worker``/``soc api`` roles as subprocesses for the distributed tests.

One :class:`Deployment` per test: its own topic prefix, index prefix and PostgreSQL database (from
the factory fixtures), its own data directories and ports. Helpers send syslog over UDP/TCP, wait
for the API and Elasticsearch, and stop the services through ``scripts/services.sh``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from elasticsearch import Elasticsearch

from tests.distributed.conftest import free_port, unique

SOC = str(Path(sys.executable).with_name("soc"))


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0, interval: float = 0.25) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception as exc:  # the thing waited for may not answer yet
            last_exc = exc
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what} (last error: {last_exc!r})")


def _ts(when: datetime | None = None) -> str:
    return (when or datetime.now(UTC)).strftime("%b %d %H:%M:%S")


def ssh_root_line(i: int, tag: str) -> bytes:
    """An RFC 3164 sshd line the shipped rule "SSH Root Login Accepted From Outside" fires on.

    ``tag`` (lowercase letters and digits) is the syslog host name: the test finds its records by it.
    """
    return (
        f"<38>{_ts()} {tag} sshd[{1000 + i}]: Accepted password for root from 203.0.113.{i % 250 + 1} "
        f"port {10000 + i} ssh2"
    ).encode()


def ssh_failed_line(i: int, attacker: str, tag: str, when: datetime | None = None) -> bytes:
    return f"<38>{_ts(when)} {tag} sshd[{2000 + i}]: Failed password for admin from {attacker} port {10000 + i} ssh2".encode()


def plain_line(i: int, tag: str) -> bytes:
    return f"<30>{_ts()} {tag} cron[{3000 + i}]: job {i} ran".encode()


def send_udp(port: int, lines: list[bytes], pace_every: int = 200) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for n, line in enumerate(lines, 1):
            s.sendto(line, ("127.0.0.1", port))
            if n % pace_every == 0:
                time.sleep(0.01)  # stay under the kernel's UDP receive buffer


def send_tcp(port: int, lines: list[bytes], source_ip: str | None = None) -> None:
    """Octet-counted framing (RFC 6587), so any byte may appear in a record.

    ``source_ip`` (any 127.x.y.z) makes the records come from another "host": the partition key.
    """
    source = (source_ip, 0) if source_ip else None
    with socket.create_connection(("127.0.0.1", port), timeout=30, source_address=source) as s:
        s.sendall(b"".join(b"%d %s" % (len(line), line) for line in lines))


@dataclass
class RoleProcess:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    metrics_port: int | None = None

    def tail(self, n: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        return ""


@dataclass
class Deployment:
    kafka: str
    es_url: str
    database_url: str
    root: Path
    topic_prefix: str = field(default_factory=lambda: unique("t") + ".")
    index_prefix: str = field(default_factory=lambda: unique("t"))
    syslog_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    procs: dict[str, RoleProcess] = field(default_factory=dict)

    def env(self, data_dir: Path, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOC_")}
        env.update(
            {
                "SOC_MODE": "distributed",
                "SOC_DATA_DIR": str(data_dir),
                "SOC_KAFKA_BOOTSTRAP": self.kafka,
                "SOC_TOPIC_PREFIX": self.topic_prefix,
                "SOC_ELASTICSEARCH_URL": self.es_url,
                "SOC_ES_INDEX_PREFIX": self.index_prefix,
                "SOC_DATABASE_URL": self.database_url,
                "SOC_SYSLOG_PORT": str(self.syslog_port),
                "SOC_API_PORT": str(self.api_port),
                "SOC_TOPIC_PARTITIONS": '{"soc.raw": 4, "soc.events": 4, "soc.alerts": 1, "soc.dlq": 2, "soc.counts": 1}',
            }
        )
        env.update(extra)
        return env

    def start(self, role: str, name: str | None = None, **extra: str) -> RoleProcess:
        name = name or role
        data_dir = self.root / name
        data_dir.mkdir(parents=True, exist_ok=True)
        metrics_port = free_port() if role != "api" else None
        if metrics_port is not None:
            extra.setdefault("SOC_METRICS_PORT", str(metrics_port))
        log = self.root / f"{name}-{uuid.uuid4().hex[:6]}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([SOC, role], env=self.env(data_dir, **extra), stdout=out, stderr=subprocess.STDOUT)
        rp = RoleProcess(name, proc, log, metrics_port)
        self.procs[name] = rp
        self.wait_healthy(rp)
        return rp

    def wait_healthy(self, rp: RoleProcess, timeout: float = 60.0) -> None:
        url = (
            f"http://127.0.0.1:{self.api_port}/api/v1/health"
            if rp.metrics_port is None
            else f"http://127.0.0.1:{rp.metrics_port}/health"
        )

        def ok() -> bool:
            if rp.proc.poll() is not None:
                raise AssertionError(f"{rp.name} exited with {rp.proc.returncode}:\n{rp.tail()}")
            return httpx.get(url, timeout=2).status_code == 200

        try:
            wait_for(ok, f"{rp.name} to answer {url}", timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- {rp.name} log ---\n{rp.tail()}") from None

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        rp = self.procs.pop(name)
        if rp.proc.poll() is None:
            rp.proc.send_signal(sig)
            try:
                rp.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                rp.proc.kill()
                rp.proc.wait(10)
        return rp.proc.returncode

    def stop_all(self) -> None:
        for name in list(self.procs):
            with contextlib.suppress(Exception):
                self.stop(name)

    def metrics(self, name: str) -> str:
        rp = self.procs[name]
        port = rp.metrics_port
        url = f"http://127.0.0.1:{self.api_port}/metrics" if port is None else f"http://127.0.0.1:{port}/metrics"
        return httpx.get(url, timeout=5).text

    def token(self, role: str = "admin") -> str:
        data_dir = self.root / "cli"
        data_dir.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(
            [SOC, "users", "add", f"{role}-{uuid.uuid4().hex[:6]}", "--role", role],
            env=self.env(data_dir),
            capture_output=True,
            check=True,
            timeout=60,
        )
        return out.stdout.decode().strip().splitlines()[-1]

    def api(self, token: str) -> httpx.Client:
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.api_port}", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )


@contextlib.contextmanager
def deployment(kafka: str, es_url: str, database_url: str, root: Path) -> Iterator[Deployment]:
    dep = Deployment(kafka, es_url, database_url, root)
    try:
        yield dep
    finally:
        dep.stop_all()


class StoreProbe:
    """Reads what the deployment stored in Elasticsearch (counts by unique tag)."""

    def __init__(self, es: Elasticsearch, prefix: str) -> None:
        self.es = es
        self.prefix = prefix

    def refresh(self) -> None:
        self.es.indices.refresh(index=f"{self.prefix}-*", allow_no_indices=True, ignore_unavailable=True)

    def event_ids_matching(self, text: str) -> list[str]:
        """The ``event.original`` values containing ``text`` (phrase), one per stored document."""
        self.refresh()
        resp = self.es.search(
            index=f"{self.prefix}-events-*",
            query={"match_phrase": {"event.original": text}},
            size=10_000,
            source=["event.original"],
            allow_no_indices=True,
            ignore_unavailable=True,
        )
        return [hit["_source"]["event"]["original"] for hit in resp["hits"]["hits"]]

    def count_events(self) -> int:
        self.refresh()
        return int(
            self.es.count(index=f"{self.prefix}-events-*", allow_no_indices=True, ignore_unavailable=True)["count"]
        )

    def dead_letters(self) -> list[dict[str, Any]]:
        self.refresh()
        try:
            resp = self.es.search(index=f"{self.prefix}-dlq", size=10_000, query={"match_all": {}})
        except Exception:
            return []
        return [hit["_source"] for hit in resp["hits"]["hits"]]

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self.es.indices.delete(index=f"{self.prefix}-*", allow_no_indices=True, ignore_unavailable=True)
        for name in (f"{self.prefix}-events", f"{self.prefix}-dlq"):
            with contextlib.suppress(Exception):
                self.es.indices.delete_index_template(name=name)
