"""Elasticsearch adapter of the event store (distributed mode): implements :class:`soc_core.stores.EventStore`.

Neighbours: pipeline workers call :meth:`ElasticsearchEventStore.write` with the ECS events they
consumed and commit their Kafka offsets only after it returned; soc_api searches through
:meth:`search`/:meth:`count`/:meth:`get`.

- Events go to dated indices ``{prefix}-events-l{level}-YYYY.MM.DD`` (UTC day of ``@timestamp``,
  security level of the system from ``soc.security_level``; ``{prefix}-events-YYYY.MM.DD`` when
  unknown), shaped by the index template of :mod:`soc_core.adapters.es_templates`; dead letters
  to ``{prefix}-dlq``. :meth:`ElasticsearchEventStore.prune` deletes day indices past the
  retention of their level (the integ-test distribution has no ILM, so retention is a job).
- Writes are idempotent: ``_id`` is ``event.id`` (dead letters: ``"{id}:{stage}"``) with
  ``op_type=create``; a 409 conflict means "already stored" and is not counted as new.
- 429, 5xx and connection errors are retried with exponential backoff; when retries run out the
  call raises :class:`~soc_core.errors.StoreUnavailable` (the caller must not commit offsets).
- A document Elasticsearch refuses (e.g. a field whose type conflicts with the mapping) is not
  lost: it becomes a dead letter of stage ``index`` with the reason, and is not counted as new.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import orjson
from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError

from soc_core.adapters.es_templates import TEXT_SEARCH_FIELDS, dead_letters_template, events_template, term_field
from soc_core.ecs import get_field
from soc_core.errors import StoreError, StoreUnavailable
from soc_core.metrics import BULK_SECONDS
from soc_core.models import DeadLetter
from soc_core.stores import EventQuery

__all__ = ["ElasticsearchEventStore"]

T = TypeVar("T")

_RETRY_STATUSES = frozenset({429, *range(500, 600)})
_BULK_DOCS = 1000
_BULK_BYTES = 8 * 1024 * 1024
_DLQ_TEXT_CHARS = 32 * 1024
# Original bytes kept in the dead-letter index. Larger records (a collector keeps up to 16 MiB) are cut
# here, with their size and SHA-256 kept; the whole bytes stay on the Kafka dead-letter topic. (A 16 MiB
# base64 document trips the circuit breakers of a small Elasticsearch node and would stall the stage.)
_DLQ_DATA_BYTES = 1024 * 1024
# Days kept per security level (Decree 85/2016 levels 1-5); Settings.retention_days_by_level overrides.
DEFAULT_RETENTION_DAYS: dict[int, int] = {1: 31, 2: 31, 3: 92, 4: 183, 5: 366}


def _index_day(event: dict[str, Any]) -> str:
    """``YYYY.MM.DD`` (UTC) of the event's ``@timestamp`` (then ``event.ingested``), or ``undated``."""
    for field in ("@timestamp", "event.ingested"):
        value = get_field(event, field)
        if isinstance(value, str) and value:
            try:
                ts = datetime.fromisoformat(value)
            except ValueError:
                continue
            if ts.tzinfo is not None:
                ts = ts.astimezone(UTC)
            return ts.strftime("%Y.%m.%d")
    return "undated"


def _index_level(event: dict[str, Any]) -> int | None:
    """The security level (1-5) of the event's system, when enrichment set one."""
    value = get_field(event, "soc.security_level")
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5:
        return value
    return None


def _epoch(value: Any) -> float:
    if isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            return time.time()
        return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).timestamp()
    return time.time()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ElasticsearchEventStore:
    """Event store on an Elasticsearch cluster (implements :class:`soc_core.stores.EventStore`).

    ``refresh=True`` makes every write visible to search at once (tests, demos); in production leave
    it off and let the index refresh interval (1 s) do it, or call :meth:`refresh`.
    """

    def __init__(
        self,
        url: str,
        *,
        index_prefix: str = "soc",
        request_timeout: float = 30.0,
        retries: int = 5,
        backoff_s: float = 0.2,
        refresh: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        retention_days: dict[int, int] | None = None,
    ) -> None:
        self.url = url
        self.prefix = index_prefix
        # security level -> days kept (see :meth:`prune`); indices without a level keep the longest
        self.retention_days = dict(retention_days or DEFAULT_RETENTION_DAYS)
        self.events_pattern = f"{index_prefix}-events-*"
        self.dlq_index = f"{index_prefix}-dlq"
        self._retries = retries
        self._backoff_s = backoff_s
        self._refresh = refresh
        self._sleep = sleep
        self._es = Elasticsearch(url, request_timeout=request_timeout, max_retries=0, retry_on_timeout=False)
        self._templates_ready = False
        self.rejected = 0  # documents Elasticsearch refused (turned into dead letters)

    # ----------------------------------------------------------------------------- plumbing
    def _call(self, action: str, fn: Callable[[], T]) -> T:
        """Run one request, retrying 429/5xx/connection errors with backoff."""
        delay = self._backoff_s
        for attempt in range(self._retries + 1):
            try:
                return fn()
            except ApiError as exc:
                if exc.meta.status not in _RETRY_STATUSES:
                    raise StoreError(f"{action}: HTTP {exc.meta.status} {exc.message}", source=self.url) from exc
                last: Exception = exc
            except TransportError as exc:
                last = exc
            if attempt < self._retries:
                self._sleep(delay)
                delay = min(delay * 2, 5.0)
        raise StoreUnavailable(
            f"{action}: Elasticsearch unavailable after {self._retries + 1} attempts: {type(last).__name__}: {last}",
            source=self.url,
        ) from last

    def ensure_templates(self) -> None:
        """Install (or update) the index templates; done once before the first write."""
        if self._templates_ready:
            return
        for name, body in (
            (f"{self.prefix}-events", events_template(self.prefix)),
            (f"{self.prefix}-dlq", dead_letters_template(self.prefix)),
        ):
            self._call(f"put index template {name}", partial(self._es.indices.put_index_template, name=name, **body))
        self._templates_ready = True

    def _bulk_create(
        self, docs: Sequence[tuple[str, str, dict[str, Any]]], action: str
    ) -> tuple[int, list[tuple[int, str]]]:
        """Create ``(index, _id, source)`` documents; returns (new, [(position, refusal reason)])."""
        self.ensure_templates()
        new = 0
        refused: list[tuple[int, str]] = []
        for chunk_start, chunk in self._chunks(docs):
            todo = list(range(len(chunk)))
            delay = self._backoff_s
            for attempt in range(self._retries + 1):
                ops: list[dict[str, Any]] = []
                for i in todo:
                    index, doc_id, source = chunk[i]
                    ops.append({"create": {"_index": index, "_id": doc_id}})
                    ops.append(source)
                with BULK_SECONDS.labels("elasticsearch").time():
                    resp = self._call(action, partial(self._es.bulk, operations=ops, refresh=self._refresh))
                retry: list[int] = []
                for i, item in zip(todo, resp["items"], strict=True):
                    result = item["create"]
                    status = int(result.get("status", 0))
                    if status == 201:
                        new += 1
                    elif status == 409:
                        pass  # already stored: idempotent replay
                    elif status in _RETRY_STATUSES:
                        retry.append(i)
                    else:
                        err = result.get("error") or {}
                        reason = f"{err.get('type', 'error')}: {err.get('reason', status)}"
                        caused = err.get("caused_by")
                        if isinstance(caused, dict):
                            reason += f" (caused by {caused.get('type')}: {caused.get('reason')})"
                        refused.append((chunk_start + i, reason))
                if not retry:
                    break
                todo = retry
                if attempt == self._retries:
                    raise StoreUnavailable(
                        f"{action}: {len(retry)} documents still rejected with 429/5xx after {attempt + 1} attempts",
                        source=self.url,
                    )
                self._sleep(delay)
                delay = min(delay * 2, 5.0)
        return new, refused

    @staticmethod
    def _chunks(
        docs: Sequence[tuple[str, str, dict[str, Any]]],
    ) -> Iterator[tuple[int, list[tuple[str, str, dict[str, Any]]]]]:
        start, size = 0, 0
        chunk: list[tuple[str, str, dict[str, Any]]] = []
        for pos, doc in enumerate(docs):
            est = len(orjson.dumps(doc[2])) + 100
            if chunk and (len(chunk) >= _BULK_DOCS or size + est > _BULK_BYTES):
                yield start, chunk
                start, size, chunk = pos, 0, []
            chunk.append(doc)
            size += est
        if chunk:
            yield start, chunk

    # ------------------------------------------------------------------------------- writes
    def write(self, events: Sequence[dict[str, Any]]) -> int:
        """Store events idempotently by ``event.id``; returns how many were new."""
        if not events:
            return 0
        docs: list[tuple[str, str, dict[str, Any]]] = []
        for ev in events:
            event_id = get_field(ev, "event.id")
            if not isinstance(event_id, str) or not event_id:
                raise StoreError("event without event.id cannot be stored idempotently", source=self.url)
            docs.append((self.index_for(ev), event_id, ev))
        new, refused = self._bulk_create(docs, "index events")
        if refused:
            self.rejected += len(refused)
            self.write_dead_letters([self._refused_letter(docs[pos][2], reason) for pos, reason in refused])
        return new

    def index_for(self, event: dict[str, Any]) -> str:
        """``{prefix}-events-l{level}-YYYY.MM.DD`` (``soc.security_level``), else ``{prefix}-events-YYYY.MM.DD``."""
        level = _index_level(event)
        if level is None:
            return f"{self.prefix}-events-{_index_day(event)}"
        return f"{self.prefix}-events-l{level}-{_index_day(event)}"

    def prune(self, now: float | None = None) -> list[str]:
        """Delete event indices older than the retention of their security level; returns their names.

        A day index is deleted once its whole day is older than the retention (so a level-2 index of
        1 March with 31 days goes on 2 April). Indices without a level keep the longest retention;
        ``undated`` indices are never deleted.
        """
        now = time.time() if now is None else now
        longest = max(self.retention_days.values(), default=366)
        names = self._call(
            "list event indices",
            lambda: self._es.indices.get(index=self.events_pattern, allow_no_indices=True, ignore_unavailable=True),
        )
        doomed: list[str] = []
        for name in names:
            rest = name[len(f"{self.prefix}-events-") :]
            level: int | None = None
            if rest.startswith("l") and "-" in rest:
                level_s, _, rest = rest.partition("-")
                level = int(level_s[1:]) if level_s[1:].isdigit() else None
            try:
                day = datetime.strptime(rest, "%Y.%m.%d").replace(tzinfo=UTC)
            except ValueError:
                continue
            keep = self.retention_days.get(level, longest) if level is not None else longest
            if now - (day.timestamp() + 86400) >= keep * 86400:
                doomed.append(name)
        for name in sorted(doomed):
            self._call(f"delete index {name}", partial(self._es.indices.delete, index=name))
        return sorted(doomed)

    def _refused_letter(self, event: dict[str, Any], reason: str) -> DeadLetter:
        original = get_field(event, "event.original")
        data = original.encode("utf-8", "replace") if isinstance(original, str) else orjson.dumps(event)
        source = get_field(event, "log.file.path") or get_field(event, "host.name") or "unknown"
        collector = get_field(event, "agent.name") or "unknown"
        return DeadLetter(
            id=str(get_field(event, "event.id")),
            stage="index",
            reason=f"Elasticsearch refused the event: {reason}",
            received=_epoch(get_field(event, "event.ingested")),
            source=str(source),
            collector=str(collector),
            data=data,
            error_type="StoreError",
        )

    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Store dead letters idempotently by ``(id, stage)``; returns how many were new."""
        if not letters:
            return 0
        docs = [
            (
                self.dlq_index,
                f"{d.id}:{d.stage}",
                {
                    "id": d.id,
                    "stage": d.stage,
                    "reason": d.reason,
                    "received": _iso(d.received),
                    "source": d.source,
                    "collector": d.collector,
                    "error_type": d.error_type,
                    "data": base64.b64encode(d.data[:_DLQ_DATA_BYTES]).decode("ascii"),
                    "data_bytes": len(d.data),
                    "data_sha256": hashlib.sha256(d.data).hexdigest(),
                    "data_truncated": len(d.data) > _DLQ_DATA_BYTES,
                    "data_text": d.data[: _DLQ_TEXT_CHARS * 4].decode("utf-8", "replace")[:_DLQ_TEXT_CHARS],
                },
            )
            for d in letters
        ]
        new, refused = self._bulk_create(docs, "index dead letters")
        if refused:
            pos, reason = refused[0]
            raise StoreError(f"dead letter {docs[pos][1]} refused: {reason}", source=self.url)
        return new

    def refresh(self) -> None:
        """Make everything written so far visible to search."""
        self._call(
            "refresh",
            lambda: self._es.indices.refresh(
                index=f"{self.events_pattern},{self.dlq_index}", allow_no_indices=True, ignore_unavailable=True
            ),
        )

    # -------------------------------------------------------------------------------- reads
    @staticmethod
    def _query(query: EventQuery) -> dict[str, Any]:
        filters: list[dict[str, Any]] = []
        if query.start or query.end:
            bounds: dict[str, str] = {}
            if query.start:
                bounds["gte"] = query.start
            if query.end:
                bounds["lt"] = query.end
            filters.append({"range": {"@timestamp": bounds}})
        for field, value in query.terms.items():
            filters.append({"term": {term_field(field): value}})
        must: list[dict[str, Any]] = []
        if query.text and query.text.strip():
            must.append(
                {
                    "simple_query_string": {
                        "query": query.text,
                        "fields": list(TEXT_SEARCH_FIELDS),
                        "default_operator": "and",
                        "lenient": True,
                    }
                }
            )
        if not filters and not must:
            return {"match_all": {}}
        return {"bool": {"filter": filters, "must": must}}

    def search(self, query: EventQuery) -> list[dict[str, Any]]:
        """Matching events, newest first."""
        resp = self._call(
            "search events",
            lambda: self._es.search(
                index=self.events_pattern,
                query=self._query(query),
                sort=[
                    {"@timestamp": {"order": "desc", "unmapped_type": "date"}},
                    {"event.id": {"order": "asc", "unmapped_type": "keyword"}},
                ],
                from_=query.offset,
                size=query.limit,
                allow_no_indices=True,
                ignore_unavailable=True,
            ),
        )
        return [hit["_source"] for hit in resp["hits"]["hits"]]

    def count(self, query: EventQuery | None = None) -> int:
        resp = self._call(
            "count events",
            lambda: self._es.count(
                index=self.events_pattern,
                query=self._query(query or EventQuery()),
                allow_no_indices=True,
                ignore_unavailable=True,
            ),
        )
        return int(resp["count"])

    def query_lucene(
        self, query: str, start: str | None = None, end: str | None = None, limit: int = 100
    ) -> tuple[int, list[dict[str, Any]]]:
        """Events matching a Lucene query string (e.g. a Sigma rule converted by pySigma's Elasticsearch
        backend, for retro-hunts) in ``[start, end)``: (total, the first ``limit`` newest first)."""
        bounds: dict[str, str] = {}
        if start:
            bounds["gte"] = start
        if end:
            bounds["lt"] = end
        body: dict[str, Any] = {
            "bool": {
                "must": [{"query_string": {"query": query, "analyze_wildcard": True, "lenient": True}}],
                "filter": [{"range": {"@timestamp": bounds}}] if bounds else [],
            }
        }
        resp = self._call(
            "lucene search",
            lambda: self._es.search(
                index=self.events_pattern,
                query=body,
                sort=[
                    {"@timestamp": {"order": "desc", "unmapped_type": "date"}},
                    {"event.id": {"order": "asc", "unmapped_type": "keyword"}},
                ],
                size=limit,
                track_total_hits=True,
                allow_no_indices=True,
                ignore_unavailable=True,
            ),
        )
        return int(resp["hits"]["total"]["value"]), [hit["_source"] for hit in resp["hits"]["hits"]]

    def get(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The stored events with these ids (missing ids are left out), in the order asked."""
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(ids))
        for i in range(0, len(unique), 1000):
            chunk = unique[i : i + 1000]
            resp = self._call(
                "get events",
                partial(
                    self._es.search,
                    index=self.events_pattern,
                    query={"ids": {"values": chunk}},
                    size=len(chunk),
                    allow_no_indices=True,
                    ignore_unavailable=True,
                ),
            )
            for hit in resp["hits"]["hits"]:
                found[hit["_id"]] = hit["_source"]
        return [found[i] for i in unique if i in found]

    def count_dead_letters(self) -> int:
        try:
            resp = self._call("count dead letters", lambda: self._es.count(index=self.dlq_index))
        except StoreError as exc:
            if isinstance(exc.__cause__, NotFoundError):
                return 0
            raise
        return int(resp["count"])

    def dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        """Stored dead letters, newest first (``data`` cut to its first MiB for records larger than that)."""
        try:
            resp = self._call(
                "search dead letters",
                lambda: self._es.search(
                    index=self.dlq_index, sort=[{"received": "desc"}], from_=offset, size=limit, query={"match_all": {}}
                ),
            )
        except StoreError as exc:
            if isinstance(exc.__cause__, NotFoundError):
                return []
            raise
        out: list[DeadLetter] = []
        for hit in resp["hits"]["hits"]:
            src = hit["_source"]
            out.append(
                DeadLetter(
                    id=src["id"],
                    stage=src["stage"],
                    reason=src["reason"],
                    received=_epoch(src["received"]),
                    source=src["source"],
                    collector=src["collector"],
                    data=base64.b64decode(src["data"]),
                    error_type=src.get("error_type", ""),
                )
            )
        return out

    def close(self) -> None:
        self._es.close()
