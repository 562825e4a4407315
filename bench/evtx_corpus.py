"""Benchmark and conformance inputs: ECS events read from EVTX files (SigmaHQ regression data).

Reads with :func:`collectors.evtx.iter_evtx_records` and parses with
:func:`pipeline.parsers.parse_record`, exactly as ``soc detect`` does, and replicates the events
as fresh copies with new ids when a benchmark needs more of them than the sample holds.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from collectors.evtx import iter_evtx_records
from pipeline.parsers import parse_record
from soc_core.errors import SocError
from soc_core.models import DeadLetter

REPO = Path(__file__).resolve().parent.parent
SIGMA_CORPUS = Path(os.environ.get("SOC_SIGMA_CORPUS", REPO.parent / "shared" / "sigma"))
PROJECT_RULES = REPO / "detections" / "rules"


@dataclass
class EvtxEvents:
    """Events parsed from EVTX files, plus what could not be read or parsed."""

    events: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[str] = field(default_factory=list)  # reasons
    files: list[Path] = field(default_factory=list)


def read_evtx(paths: Iterable[Path]) -> EvtxEvents:
    """Parse every record of ``paths`` into an ECS event; unreadable ones become reasons."""
    out = EvtxEvents()
    for path in paths:
        out.files.append(path)
        for item in iter_evtx_records(path):
            if isinstance(item, DeadLetter):
                out.dead_letters.append(f"{path}: {item.reason}")
                continue
            try:
                out.events.append(parse_record(item))
            except SocError as exc:
                out.dead_letters.append(f"{path}: {exc}")
    return out


def regression_evtx_files(corpus: Path = SIGMA_CORPUS) -> list[Path]:
    """Every EVTX sample under ``corpus/regression_data``, in a stable order."""
    return sorted((corpus / "regression_data").rglob("*.evtx"))


@dataclass(frozen=True)
class RegressionCase:
    """One ``info.yml`` test: the rule it names, its EVTX sample and the expected match count."""

    info: Path
    rule_id: str
    title: str
    evtx: Path
    match_count: int | None  # None: the info.yml states no count (the sample must still match)
    provider: str = ""


def regression_cases(corpus: Path = SIGMA_CORPUS) -> list[RegressionCase]:
    """The EVTX regression tests of the corpus (info.yml entries of type ``evtx``)."""
    cases: list[RegressionCase] = []
    for info in sorted((corpus / "regression_data").rglob("info.yml")):
        meta = yaml.load(info.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        if not isinstance(meta, dict):
            continue
        rule_meta = meta.get("rule_metadata") or [{}]
        rule_id = str(rule_meta[0].get("id", ""))
        title = str(rule_meta[0].get("title", ""))
        for test in meta.get("regression_tests_info") or []:
            if not isinstance(test, dict) or test.get("type") != "evtx":
                continue
            count = test.get("match_count")
            cases.append(
                RegressionCase(
                    info=info,
                    rule_id=rule_id,
                    title=title,
                    evtx=corpus / str(test["path"]),
                    match_count=int(count) if count is not None else None,
                    provider=str(test.get("provider") or ""),
                )
            )
    return cases


def corpus_rule_dirs(corpus: Path = SIGMA_CORPUS) -> list[Path]:
    """The ``rules*`` folders of a SigmaHQ checkout (empty when absent)."""
    return sorted(p for p in corpus.glob("rules*") if p.is_dir())


def default_rule_paths() -> list[Path]:
    """``../shared/sigma/rules*`` when present, else the project's own rules."""
    return corpus_rule_dirs() or [PROJECT_RULES]


def index_rule_files(dirs: Sequence[Path]) -> dict[str, Path]:
    """Rule id -> file, from the top-level ``id:`` line of every rule file under ``dirs``."""
    found: dict[str, Path] = {}
    for folder in dirs:
        for path in sorted(folder.rglob("*.y*ml")):
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            for line in text.splitlines():
                if line.startswith("id:"):
                    found.setdefault(line[3:].strip().strip("'\""), path)
                    break
    return found


def fresh_copy(value: Any) -> Any:
    """A copy as a parser makes one: new dicts, lists and string values throughout (keys and other
    leaves are shared, as orjson's key cache shares keys).

    A shared string would carry what CPython caches on it from earlier copies (its hash, its UTF-8
    form: a 1.5 KB ``event.original`` holding "®" costs about 0.8 us to encode) and stay in the CPU
    cache, so the detection stage would be timed on warmer events than the pipeline gives it.
    """
    if isinstance(value, dict):
        return {k: fresh_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [fresh_copy(v) for v in value]
    if isinstance(value, str):
        return (value + "\0")[:-1]  # a new str of the same text (one-character ones are CPython's own)
    return value


def replicate(events: Sequence[dict[str, Any]], n: int, start: int = 0) -> Iterator[dict[str, Any]]:
    """Events ``start`` .. ``n-1`` of the cycle over ``events``, each a fresh copy with ``event.id``
    suffixed ``-r<i>`` (so replica ``i`` is base event ``i % len(events)``)."""
    if not events:
        return
    for i in range(start, n):
        event = fresh_copy(events[i % len(events)])
        meta = event.setdefault("event", {})
        if isinstance(meta, dict):
            meta["id"] = f"{meta.get('id', 'evt')}-r{i}"
        yield event


def replica_index(event_id: str) -> int | None:
    """``i`` of an id made by :func:`replicate` (None for any other id)."""
    _head, sep, tail = event_id.rpartition("-r")
    return int(tail) if sep and tail.isdigit() else None
