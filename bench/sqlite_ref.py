"""Reference evaluator: pySigma's SQLite backend over an in-memory SQLite table (Zircolite's method).

Used by ``soc bench sigma`` (speed reference) and ``tests/test_sigma_reference.py`` (conformance
reference). Rules are converted once with ``sigma.backends.sqlite.sqliteBackend`` through the
project's own field-mapping pipeline (``detections/sigma/mapping.yml``), so the SQL names the
same ECS dotted paths our engine reads. Events are flattened into one table with one column per
dotted field path (text columns ``COLLATE NOCASE``, integer columns where every value is an
integer — as Zircolite builds its table); ``REGEXP`` is Python's :func:`re.search`, as Zircolite
registers it. The rule's log source becomes an SQL condition derived from the ``logsources``
section of the same mapping file, so both evaluators route events to rules alike.

Correlation rules and rules the backend refuses are listed in :attr:`ReferenceRules.failures`.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
import yaml
from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from detections.sigma.mapping import DEFAULT_MAPPING, load_mapping

TABLE = "logs"
_SELECT_PREFIX = f"SELECT * FROM {TABLE} WHERE "
_NO_COLUMN = re.compile(r"no such column: (.+)$")
LOGSOURCE_FIELDS = ("product", "category", "service")


def quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "'true'" if value else "'false'"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class _Route:
    when: dict[str, list[Any]]
    then: dict[str, set[str]]


def _routes(mapping_path: Path) -> list[_Route]:
    data = yaml.load(mapping_path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) or {}
    out: list[_Route] = []
    for item in data.get("logsources") or []:
        when = {str(k): (list(v) if isinstance(v, list) else [v]) for k, v in (item.get("when") or {}).items()}
        then = {
            str(k): {str(x).lower() for x in (v if isinstance(v, list) else [v])}
            for k, v in (item.get("then") or {}).items()
        }
        out.append(_Route(when, then))
    return out


def logsource_condition(logsource: Mapping[str, str], routes: Sequence[_Route]) -> str:
    """SQL true for rows whose routed log source covers ``logsource`` (mapping.yml semantics).

    Each route whose ``when`` holds adds its ``then`` values; a rule applies when each of its
    product/category/service values was added by some route. A value no route adds gives ``0``.
    """
    parts: list[str] = []
    for name in LOGSOURCE_FIELDS:
        value = logsource.get(name)
        if value is None:
            continue
        alternatives = []
        for route in routes:
            if str(value).lower() not in route.then.get(name, ()):
                continue
            tests = [
                f"{quote_ident(col)} IN ({', '.join(_literal(v) for v in vals)})" for col, vals in route.when.items()
            ]
            alternatives.append("(" + " AND ".join(tests or ["1"]) + ")")
        parts.append("(" + " OR ".join(alternatives) + ")" if alternatives else "0")
    return " AND ".join(parts) or "1"


@dataclass
class ReferenceRules:
    """SQL per rule id (rows selected by ``rowid``), and the rules the reference cannot run."""

    queries: dict[str, list[str]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # rule id -> reason
    titles: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def _rule_id(rule: Any) -> str:
    return str(rule.id) if getattr(rule, "id", None) else str(getattr(rule, "title", "?"))


def convert_collection(collection: SigmaCollection, *, mapping: Path = DEFAULT_MAPPING) -> ReferenceRules:
    """Convert every detection rule of ``collection`` to SQL (correlations are listed as failures)."""
    started = time.perf_counter()
    routes = _routes(mapping)
    sigma_mapping = load_mapping(mapping)
    out = ReferenceRules()
    backend = sqliteBackend(processing_pipeline=sigma_mapping.new_pipeline())  # type: ignore[no-untyped-call]
    for rule in collection.rules:
        rid = _rule_id(rule)
        out.titles.setdefault(rid, str(getattr(rule, "title", "")))
        if not isinstance(rule, SigmaRule):
            out.failures[rid] = "correlation rule: not evaluated by the SQLite reference"
            continue
        logsource = {
            name: str(getattr(rule.logsource, name))
            for name in LOGSOURCE_FIELDS
            if getattr(rule.logsource, name) is not None
        }
        try:
            queries = backend.convert_rule(rule)  # type: ignore[no-untyped-call]
        except Exception as exc:  # pySigma raises many kinds for a rule it cannot convert
            out.failures[rid] = f"{type(exc).__name__}: {exc}"
            continue
        route = logsource_condition(logsource, routes)
        sql: list[str] = []
        for query in queries:
            text = str(query)
            if not text.startswith(_SELECT_PREFIX):
                out.failures[rid] = f"unexpected query shape: {text[:80]}"
                break
            sql.append(f"SELECT rowid FROM {TABLE} WHERE ({route}) AND ({text[len(_SELECT_PREFIX) :]})")
        else:
            out.queries[rid] = sql
    out.seconds = time.perf_counter() - started
    return out


def rule_files(paths: Sequence[Path]) -> list[Path]:
    """Rule files given directly or found (``*.yml``/``*.yaml``, recursively) under folders."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file()))
        elif path.is_file():
            out.append(path)
    return out


def read_rule_docs(paths: Sequence[Path]) -> list[list[dict[str, Any]]]:
    """The YAML documents of every rule file, read once with libyaml (unreadable files are skipped)."""
    return [docs for _, docs in read_rule_docs_by_file(paths)]


def read_rule_docs_by_file(paths: Sequence[Path]) -> list[tuple[Path, list[dict[str, Any]]]]:
    """(file, its YAML documents) for every readable rule file under ``paths``."""
    docs: list[tuple[Path, list[dict[str, Any]]]] = []
    for path in rule_files(paths):
        try:
            loaded = list(yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        file_docs = [d for d in loaded if isinstance(d, dict)]
        if file_docs:
            docs.append((path, file_docs))
    return docs


def collection_from_docs(docs: Sequence[Sequence[dict[str, Any]]]) -> SigmaCollection:
    """A fresh pySigma collection from :func:`read_rule_docs` output (rules pySigma refuses are left out)."""
    rules: list[Any] = []
    for file_docs in docs:
        try:
            rules.extend(SigmaCollection.from_dicts(_deep_copy(list(file_docs)), collect_errors=True).rules)
        except Exception:  # pySigma raises many kinds for a malformed file
            continue
    return SigmaCollection(rules)


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def convert_rules(paths: Sequence[Path], *, mapping: Path = DEFAULT_MAPPING) -> ReferenceRules:
    """Load rule files/folders with pySigma and convert them (rules pySigma cannot parse are skipped)."""
    started = time.perf_counter()
    out = convert_collection(collection_from_docs(read_rule_docs(paths)), mapping=mapping)
    out.seconds = time.perf_counter() - started
    return out


def subset(rules: ReferenceRules, ids: set[str]) -> ReferenceRules:
    """The converted rules whose id is in ``ids`` (conversion seconds are not carried over)."""
    return ReferenceRules(
        queries={k: v for k, v in rules.queries.items() if k in ids},
        failures={k: v for k, v in rules.failures.items() if k in ids},
        titles={k: v for k, v in rules.titles.items() if k in ids},
    )


def flatten(event: Mapping[str, Any]) -> dict[str, Any]:
    """Leaf values under their dotted paths; lists become JSON text, booleans 'true'/'false'."""
    out: dict[str, Any] = {}
    stack: list[tuple[str, Mapping[str, Any]]] = [("", event)]
    while stack:
        prefix, obj = stack.pop()
        for key, value in obj.items():
            path = f"{prefix}{key}"
            if isinstance(value, Mapping):
                stack.append((path + ".", value))
            elif isinstance(value, bool):
                out[path] = "true" if value else "false"
            elif isinstance(value, list | tuple):
                out[path] = orjson.dumps(value, default=str).decode()
            elif value is None or isinstance(value, int | float | str):
                out[path] = value
            else:
                out[path] = str(value)
    return out


@lru_cache(maxsize=8192)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _regexp(pattern: str | None, value: Any) -> int:
    if pattern is None or value is None:
        return 0
    compiled = _compiled(pattern)
    return 1 if compiled is not None and compiled.search(str(value)) else 0


def connect() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.create_function("regexp", 2, _regexp, deterministic=True)
    return conn


def load_events(conn: sqlite3.Connection, events: Iterable[Mapping[str, Any]]) -> int:
    """Create table ``logs`` holding ``events`` (rowid = 1-based position); returns the row count."""
    rows = [flatten(e) for e in events]
    types: dict[str, str] = {}
    for row in rows:
        for name, value in row.items():
            if value is None or isinstance(value, int):
                types.setdefault(name, "INTEGER")
            else:
                types[name] = "TEXT COLLATE NOCASE"
    columns = sorted(types)
    conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    defs = ", ".join(f"{quote_ident(c)} {types[c]}" for c in columns) or "dummy TEXT"
    conn.execute(f"CREATE TABLE {TABLE} ({defs})")
    if columns:
        placeholders = ", ".join("?" for _ in columns)
        conn.executemany(
            f"INSERT INTO {TABLE} (rowid, {', '.join(map(quote_ident, columns))}) VALUES (?, {placeholders})",
            ([i, *(row.get(c) for c in columns)] for i, row in enumerate(rows, start=1)),
        )
    return len(rows)


def _execute(conn: sqlite3.Connection, sql: str) -> Iterator[int]:
    for _ in range(64):
        try:
            yield from (int(r[0]) for r in conn.execute(sql))
            return
        except sqlite3.OperationalError as exc:
            missing = _NO_COLUMN.search(str(exc))
            if not missing:
                raise
            # A field no event carries: add it as an all-NULL column (as Zircolite's ensure_fields).
            name = missing.group(1).strip('`"')
            conn.execute(f"ALTER TABLE {TABLE} ADD COLUMN {quote_ident(name)} TEXT COLLATE NOCASE")
    raise sqlite3.OperationalError(f"too many missing columns in {sql[:80]}")


@dataclass
class ReferenceRun:
    matches: set[tuple[str, int]]  # (rule id, rowid)
    query_errors: dict[str, str]
    seconds: float


def run_queries(conn: sqlite3.Connection, rules: ReferenceRules) -> ReferenceRun:
    """Run every converted rule; (rule id, rowid) pairs. A query SQLite refuses is an error, not a crash."""
    started = time.perf_counter()
    matches: set[tuple[str, int]] = set()
    errors: dict[str, str] = {}
    for rid, queries in rules.queries.items():
        for sql in queries:
            try:
                matches.update((rid, rowid) for rowid in _execute(conn, sql))
            except sqlite3.Error as exc:
                errors[rid] = f"{type(exc).__name__}: {exc}"
    return ReferenceRun(matches, errors, time.perf_counter() - started)


def evaluate(events: Sequence[Mapping[str, Any]], rules: ReferenceRules) -> ReferenceRun:
    """Load ``events`` into a fresh in-memory table and run ``rules``; seconds cover load + queries."""
    started = time.perf_counter()
    conn = connect()
    try:
        load_events(conn, events)
        run = run_queries(conn, rules)
    finally:
        conn.close()
    run.seconds = time.perf_counter() - started
    return run
