"""Prometheus metrics of the roles, and the tiny HTTP endpoint the collect and worker roles serve.

Every role records into the process-wide registry :data:`REGISTRY`:

- ``soc_records_in_total{role,source}`` — records a role took in (collector: received; worker: raw
  records decoded; indexer: events handed to the store).
- ``soc_records_out_total{role,source}`` — records a role passed on (collector: published; worker:
  events published; indexer: events stored).
- ``soc_dead_letters_total{role,source,stage}`` — records turned into dead letters.
- ``soc_consumer_lag{group,topic,partition}`` — messages behind the high watermark.
- ``soc_bulk_seconds{sink}`` — latency of bulk writes to the event store.

``soc api`` exposes the same registry on ``/metrics`` (see :mod:`soc_api.routes.ops`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = [
    "BULK_SECONDS",
    "CONSUMER_LAG",
    "DEAD_LETTERS",
    "RECORDS_IN",
    "RECORDS_OUT",
    "REGISTRY",
    "MetricsServer",
    "render",
]

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

RECORDS_IN = Counter("soc_records_in", "Records a role took in.", ["role", "source"], registry=REGISTRY)
RECORDS_OUT = Counter("soc_records_out", "Records a role passed on.", ["role", "source"], registry=REGISTRY)
DEAD_LETTERS = Counter(
    "soc_dead_letters", "Records turned into dead letters.", ["role", "source", "stage"], registry=REGISTRY
)
CONSUMER_LAG = Gauge(
    "soc_consumer_lag",
    "Messages behind the partition's high watermark.",
    ["group", "topic", "partition"],
    registry=REGISTRY,
)
BULK_SECONDS = Histogram(
    "soc_bulk_seconds",
    "Latency of one bulk write to the event store.",
    ["sink"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)

HealthCheck = Callable[[], dict[str, Any]]


def render() -> tuple[bytes, str]:
    """The registry in the Prometheus text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


class MetricsServer:
    """``GET /metrics`` (Prometheus) and ``GET /health`` (JSON; 503 unless ``status`` is ``ok``)."""

    def __init__(self, host: str, port: int, health: HealthCheck) -> None:
        check = health

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics":
                    body, ctype = render()
                    code = 200
                elif self.path == "/health":
                    try:
                        state = check()
                    except Exception as exc:  # a failing check is an unhealthy role, not a crash
                        state = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
                    body, ctype = orjson.dumps(state), "application/json"
                    code = 200 if state.get("status") == "ok" else 503
                else:
                    body, ctype, code = b"not found\n", "text/plain", 404
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
