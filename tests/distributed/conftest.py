"""Fixtures for the distributed-mode tests: real Kafka, Elasticsearch and PostgreSQL.

The servers are started by ``scripts/services.sh start`` (the Makefile does it before pytest), which
writes ``.cache/services/env``; ``SOC_TEST_KAFKA``/``SOC_TEST_ES``/``SOC_TEST_PG`` in the environment
override that file. When a server does not answer, the test FAILS (never skips) and says so.

Factory fixtures (in the style of quix-streams' test suite) give every test its own topic prefix,
index prefix or database, and clean them up afterwards.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from elasticsearch import Elasticsearch
from sqlalchemy import create_engine, text

from soc_core.adapters.es_store import ElasticsearchEventStore

if TYPE_CHECKING:
    from soc_core.adapters.confluent_bus import ConfluentBus
    from soc_core.adapters.kafka_bus import KafkaBus

    AnyKafkaBus = KafkaBus | ConfluentBus

REPO = Path(__file__).resolve().parents[2]
ENV_FILE = REPO / ".cache" / "services" / "env"
HINT = "start the test services first: scripts/services.sh start"


def service_env() -> dict[str, str]:
    values: dict[str, str] = {}
    if ENV_FILE.is_file():
        for line in ENV_FILE.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and key.startswith("SOC_TEST_"):
                values[key.strip()] = value.strip()
    values.update({k: v for k, v in os.environ.items() if k.startswith("SOC_TEST_")})
    return values


def _require(name: str) -> str:
    value = service_env().get(name)
    if not value:
        pytest.fail(f"{name} is not set and {ENV_FILE} has no value for it; {HINT}", pytrace=False)
    return value


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2.0):
            return True
    except OSError:
        return False


def _require_reachable(name: str, host: str | None, port: int | None, what: str) -> None:
    if host is None or port is None or not _reachable(host, port):
        pytest.fail(f"{what} does not answer at {host}:{port} ({name}); {HINT}", pytrace=False)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    """A loopback port nothing listens on (for "server is down" tests)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------------------ Kafka
@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    bootstrap = _require("SOC_TEST_KAFKA")
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    _require_reachable("SOC_TEST_KAFKA", host, int(port), "Kafka")
    return bootstrap


KAFKA_CLIENTS = ("kafka-python", "confluent")  # the values of settings.kafka_client


@pytest.fixture(params=KAFKA_CLIENTS)
def kafka_bus_class(request: pytest.FixtureRequest) -> type[AnyKafkaBus]:
    """The bus class of each Kafka client (every test using it runs once per client); needs no broker."""
    # imported here: the distributed extra may be missing where these tests are only collected
    if request.param == "confluent":
        from soc_core.adapters.confluent_bus import ConfluentBus

        return ConfluentBus
    from soc_core.adapters.kafka_bus import KafkaBus

    return KafkaBus


@pytest.fixture
def kafka_bus_factory(kafka_bootstrap: str, kafka_bus_class: type[AnyKafkaBus]) -> Iterator[Callable[..., AnyKafkaBus]]:
    """``make(**kwargs) -> bus`` with a fresh random topic prefix; topics are deleted afterwards.

    Parametrized over the Kafka clients (``kafka_bus_class``): each test runs with both adapters.
    """
    from kafka import KafkaAdminClient

    buses: list[AnyKafkaBus] = []

    def make(**kwargs: Any) -> AnyKafkaBus:
        kwargs.setdefault("topic_prefix", unique("test-") + ".")
        kwargs.setdefault("timeout_s", 10.0)
        bus = kafka_bus_class(kafka_bootstrap, **kwargs)
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        bus.close()
    prefixes = tuple(b.topic_prefix for b in buses if b.topic_prefix)
    if prefixes:
        with contextlib.suppress(Exception):
            admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=10000)
            try:
                doomed = [t for t in admin.list_topics() if t.startswith(prefixes)]
                if doomed:
                    admin.delete_topics(doomed)
            finally:
                admin.close()


# ---------------------------------------------------------------------------------- Elasticsearch
@pytest.fixture(scope="session")
def es_url() -> str:
    url = _require("SOC_TEST_ES")
    parts = urlsplit(url)
    _require_reachable("SOC_TEST_ES", parts.hostname, parts.port, "Elasticsearch")
    return url


@pytest.fixture
def es_client(es_url: str) -> Iterator[Elasticsearch]:
    client = Elasticsearch(es_url, request_timeout=30)
    yield client
    client.close()


@pytest.fixture
def es_store_factory(es_url: str, es_client: Elasticsearch) -> Iterator[Callable[..., ElasticsearchEventStore]]:
    """``make(**kwargs) -> ElasticsearchEventStore`` with a fresh index prefix; indices/templates dropped after."""
    stores: list[ElasticsearchEventStore] = []

    def make(**kwargs: Any) -> ElasticsearchEventStore:
        kwargs.setdefault("index_prefix", unique("test-"))
        kwargs.setdefault("refresh", True)
        store = ElasticsearchEventStore(es_url, **kwargs)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()
        with contextlib.suppress(Exception):
            es_client.indices.delete(index=f"{store.prefix}-*", allow_no_indices=True, ignore_unavailable=True)
        for name in (f"{store.prefix}-events", f"{store.prefix}-dlq"):
            with contextlib.suppress(Exception):
                es_client.indices.delete_index_template(name=name)


# ------------------------------------------------------------------------------------- PostgreSQL
@pytest.fixture(scope="session")
def pg_url() -> str:
    url = _require("SOC_TEST_PG")
    parts = urlsplit(url)
    _require_reachable("SOC_TEST_PG", parts.hostname, parts.port, "PostgreSQL")
    return url


@pytest.fixture
def pg_database_factory(pg_url: str) -> Iterator[Callable[[], str]]:
    """``make() -> url`` of a fresh empty database (dropped afterwards)."""
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    created: list[str] = []

    def make() -> str:
        name = unique("test_")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return pg_url.rsplit("/", 1)[0] + "/" + name

    yield make
    with admin.connect() as conn:
        for name in created:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
