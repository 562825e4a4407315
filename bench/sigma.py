"""``soc bench sigma``: the Sigma engine against two reference evaluators, in one run, on EVTX events.

For rule sets of 200, 1,000 and all available rules (evenly spaced rule files of the same tree):

- this engine's detection stage alone (``Detector.process``, one process, one core), with its
  compiled evaluator (``native/sigma_native``) and, as a reference, with its Python evaluator;
  each after one untimed warm-up batch of every base event (a route's prefilter plan is built when
  the route is first met: a start-up cost, given in the notes, like the rule-set compile time).
  Like the pipeline (:data:`pipeline.worker.DETECT_CHUNK`), the stage is called on chunks of
  events made just before it (the pipeline parses and enriches them, the bench copies them);
- ``soc detect`` end to end on EVTX files (read, parse, detect; rule loading excluded);
- the pySigma SQLite backend over an in-memory SQLite table (Zircolite's method): rules converted
  once, then load + all queries timed on a subset of the events;
- a straightforward per-event loop (every rule on every event, no index; :mod:`bench.naive_sigma`);
- rule-set compile time and peak memory.

Events: every record of the SigmaHQ regression EVTX samples, parsed to ECS, replicated to N as
fresh copies (new dicts, lists and string values, new ids: see :func:`bench.evtx_corpus.fresh_copy`).
The slower references run on a subset (or for a time budget) and report per-event rates; the
output says how many events each one saw. (rule, event) pairs of the three evaluators are
compared on the events all of them saw.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import TaskID

from bench import naive_sigma, sqlite_ref
from bench.evtx_corpus import (
    default_rule_paths,
    read_evtx,
    regression_evtx_files,
    replica_index,
    replicate,
)
from bench.report import Figure, Report, peak_rss_mb, progress_bar
from detections.sigma import Detector, RuleSet, settle_heap
from pipeline.worker import DETECT_CHUNK
from soc_cli.detect import run_detect
from soc_cli.launch import TUNABLE

BATCH = DETECT_CHUNK  # events per detection-stage call, as the pipeline calls the stage
SIZES: tuple[int | None, ...] = (200, 1000, None)  # None: all rules
E2E_COPIES = 4  # copies of the regression EVTX files fed to `soc detect`


@dataclass
class _Setup:
    base: list[dict[str, Any]]
    evtx_files: list[Path]
    rule_files: list[Path]
    docs: list[list[dict[str, Any]]]  # per rule file
    ids_by_file: dict[Path, set[str]]


@dataclass
class _References:
    sqlite: sqlite_ref.ReferenceRules
    naive: naive_sigma.NaiveRules


@dataclass
class _Stage:
    """``Detector.process`` timed over fresh batches."""

    rate: float  # events/s of the calls alone
    seen: int
    matches: int
    pairs: set[tuple[str, int]]  # (rule id, replica) on replicas below the pairs limit
    release_us: float  # per event, releasing a batch and its detections after the call (untimed)


@dataclass
class _EngineRun:
    """What the engine's measurements of one rule set leave for its figures (its detector is gone)."""

    files: list[Path]
    label: str
    not_loaded: int
    compile_s: float
    warm_up_s: float
    stage: _Stage
    counters: dict[str, int] | None
    python_rate: float
    e2e_rate: float | None
    e2e_events: int
    peak_mb: float


def pick(files: Sequence[Path], size: int | None) -> list[Path]:
    """``size`` evenly spaced files of ``files`` (all of them for None or a size not below the count)."""
    if size is None or size >= len(files):
        return list(files)
    step = len(files) / size
    return [files[int(i * step)] for i in range(size)]


def _batches(base: Sequence[dict[str, Any]], n: int) -> Iterator[list[dict[str, Any]]]:
    """Batches of :data:`BATCH` fresh replicas; a batch is the caller's alone (not held here while
    the caller works, so releasing it releases its events)."""
    it = replicate(base, n)
    while True:
        made = [[e for _, e in zip(range(BATCH), it, strict=False)]]
        if not made[0]:
            return
        yield made.pop()


def _pairs(dets: Sequence[Any], limit: int) -> set[tuple[str, int]]:
    out = set()
    for d in dets:
        i = replica_index(d.event_id)
        if i is not None and i < limit:
            out.add((d.rule_id, i))
    return out


def _link_copies(files: Sequence[Path], folder: Path, copies: int) -> None:
    for k in range(copies):
        for i, src in enumerate(files):
            dst = folder / f"{k:02d}-{i:04d}.evtx"
            try:
                os.link(src, dst)
            except OSError:
                dst.write_bytes(src.read_bytes())


class _Steps:
    def __init__(self, console: Console) -> None:
        self.progress = progress_bar(console)

    def task(self, description: str, total: float) -> TaskID:
        return self.progress.add_task(description, total=total)


def _setup(rules: Sequence[Path], steps: _Steps) -> _Setup:
    evtx_files = regression_evtx_files()
    task = steps.task("read EVTX samples", len(evtx_files) or 1)
    base = read_evtx(evtx_files).events if evtx_files else []
    steps.progress.update(task, completed=len(evtx_files) or 1)
    if not base:
        raise SystemExit("soc bench sigma needs the SigmaHQ regression EVTX samples (../shared/sigma/regression_data)")
    task = steps.task("read rule files (libyaml)", 1)
    by_file = sqlite_ref.read_rule_docs_by_file(rules)
    steps.progress.update(task, completed=1)
    ids_by_file = {p: {str(d.get("id")) for d in docs if d.get("id")} for p, docs in by_file}
    return _Setup(base, evtx_files, [p for p, _ in by_file], [d for _, d in by_file], ids_by_file)


def _references(setup: _Setup, steps: _Steps) -> _References:
    """Both references' rules for every rule file, built once the engine's measurements are done."""
    task = steps.task("reference: pySigma SQLite conversion (all rules, once)", 1)
    sqlite = sqlite_ref.convert_collection(sqlite_ref.collection_from_docs(setup.docs))
    steps.progress.update(task, completed=1)
    task = steps.task("reference: naive loop compilation (all rules, once)", 1)
    naive = naive_sigma.compile_collection(sqlite_ref.collection_from_docs(setup.docs))
    steps.progress.update(task, completed=1)
    return _References(sqlite, naive)


def run(
    rules: Sequence[Path] | None = None,
    *,
    events: int = 100_000,
    ref_events: int = 5_000,
    budget: float = 20.0,
    sizes: Sequence[int | None] = SIZES,
    console: Console | None = None,
) -> Report:
    """Measure everything; ``budget`` caps the seconds of each engine measurement (half of it each naive loop)."""
    console = console or Console(stderr=True)
    rules = list(rules) if rules else default_rule_paths()
    steps = _Steps(console)
    report = Report(f"Sigma detection on EVTX-derived events (rules: {', '.join(map(str, rules))})")
    with steps.progress, tempfile.TemporaryDirectory() as tmp:
        setup = _setup(rules, steps)
        evtx_dir = Path(tmp) / "evtx"
        evtx_dir.mkdir()
        _link_copies(setup.evtx_files, evtx_dir, E2E_COPIES)
        subsets: dict[int, list[Path]] = {}
        for size in sizes:
            files = pick(setup.rule_files, size)
            subsets.setdefault(len(files), files)
        largest = max(subsets)
        # the engine first, in a process holding what a worker holds (rules and events): the
        # references' millions of objects, built after, spread fresh events over more memory
        runs = [
            _engine(setup, files, events, ref_events, budget, steps, evtx_dir if count == largest else None)
            for count, files in sorted(subsets.items())
        ]
        references = _references(setup, steps)
        report.notes.append(
            f"events: {len(setup.base)} records of {len(setup.evtx_files)} regression EVTX files, replicated "
            f"to {events:,} as fresh copies (new dicts, lists and strings, with new ids); SQLite reference on "
            f"the first {ref_events:,}; engine and naive loop stop after {budget:.0f} s / {budget / 2:.0f} s "
            "each (events seen are given per row); pySigma SQLite conversion of all "
            f"{len(setup.rule_files)} rule files took {references.sqlite.seconds:.1f} s, naive compilation "
            f"{references.naive.seconds:.1f} s"
        )
        report.notes.append(
            "every engine measurement runs before the references are built (the references' rules are "
            "millions of Python objects a worker does not hold; with them in the process, fresh events spread "
            "over more memory and the stage runs slower, see docs/architecture.md); "
            "'peak memory so far' is the process's peak RSS once a rule set's engine measurements are done"
        )
        report.notes.append(
            f"soc detect end to end: {E2E_COPIES} copies of the regression EVTX files "
            f"({E2E_COPIES * len(setup.evtx_files)} files, ~1 record per 64 KiB chunk, so per-file and per-chunk "
            "overhead weighs far more than in real logs)"
        )
        for engine in runs:
            _compare(report, setup, references, engine, events, ref_events, budget, steps)
    report.add(Figure("peak memory (whole run)", peak_rss_mb(), "MiB", higher_is_better=False))
    report.notes.append("peak memory is the bench process's peak RSS (engine, references and events together)")
    report.notes.append(_malloc_note())
    return report


def _malloc_note() -> str:
    """Whether this process's malloc asks for transparent huge pages (as the `soc` launcher sets)."""
    if TUNABLE in os.environ.get("GLIBC_TUNABLES", ""):
        return f"malloc on transparent huge pages (GLIBC_TUNABLES {TUNABLE}, as the soc launcher runs it)"
    return "malloc without transparent huge pages (run through the soc command to have them, see soc_cli/launch.py)"


def _warm_up(detector: Detector, base: Sequence[dict[str, Any]]) -> float:
    """Seconds of one untimed batch of every base event (each route's plan is built on first sight)."""
    started = time.perf_counter()
    detector.process(list(replicate(base, len(base))))
    return time.perf_counter() - started


def _time_stage(  # noqa: PLR0917 - private helper, every argument is one measured dimension
    detector: Detector,
    base: Sequence[dict[str, Any]],
    events: int,
    budget: float,
    task: TaskID,
    steps: _Steps,
    pairs_below: int = 0,
) -> _Stage:
    """Time each call of the stage on batches made just before it, until ``events`` or ``budget`` s.

    A batch's detections hold its events; both are released after the timer stops, as the stages
    after detection release them in the pipeline (a detection list released inside the next timed
    call took its events along: 1.6 us per event of deallocation on all SigmaHQ rules).
    """
    done, matches, busy, released = 0, 0, 0.0, 0.0
    pairs: set[tuple[str, int]] = set()
    for batch in _batches(base, events):
        started = time.perf_counter()
        found = detector.process(batch)
        busy += time.perf_counter() - started
        if pairs_below:
            pairs |= _pairs(found, pairs_below)
        matches += len(found)
        done += len(batch)
        started = time.perf_counter()
        del found, batch
        released += time.perf_counter() - started
        steps.progress.update(task, completed=done)
        if busy > budget:
            break
    return _Stage(done / busy if busy else 0.0, done, matches, pairs, released / max(1, done) * 1e6)


def _python_evaluator_rate(
    ruleset: RuleSet, base: list[dict[str, Any]], events: int, *, budget: float, steps: _Steps, label: str
) -> float:
    """Events/s of ``Detector(native=False)``: the Python prefilter and evaluators of the same rules
    (after the same warm-up as the engine's)."""
    detector = Detector(ruleset, native=False)
    _warm_up(detector, base)
    task = steps.task(f"{label} same engine, Python evaluator", events)
    return _time_stage(detector, base, events, budget, task, steps).rate


def _engine(  # noqa: PLR0917 - private helper, every argument is one measured dimension
    setup: _Setup,
    files: list[Path],
    events: int,
    ref_events: int,
    budget: float,
    steps: _Steps,
    evtx_dir: Path | None,
) -> _EngineRun:
    """The engine on one rule set; ``soc detect`` end to end only when ``evtx_dir`` is given."""
    task = steps.task(f"{len(files)} rule files: engine compile", 1)
    started = time.perf_counter()
    ruleset = RuleSet.load(files)
    compile_s = time.perf_counter() - started
    steps.progress.update(task, completed=1)
    label = f"[{len(ruleset.rules)} rules]"

    # 1. the detection stage alone, after one warm-up batch (not timed): the engine builds the
    # prefilter plan of a log-source route when it first meets the route, a start-up cost
    detector = Detector(ruleset)
    settle_heap()  # as soc detect and the worker do
    warm_up_s = _warm_up(detector, setup.base)
    task = steps.task(f"{label} engine detection stage", events)
    stage = _time_stage(detector, setup.base, events, budget, task, steps, pairs_below=ref_events)
    counters = detector.native_counters
    del detector

    # 2. the same engine with its Python evaluator only (no compiled extension), half the budget
    python_rate = _python_evaluator_rate(ruleset, setup.base, events, budget=budget / 2, steps=steps, label=label)

    e2e_rate, e2e_events = None, 0
    if evtx_dir is not None:  # 3. soc detect end to end on EVTX files (loads the rules again, not timed)
        task = steps.task(f"{label} soc detect end to end (EVTX)", 1)
        summary = run_detect(files, [evtx_dir], out=io.BytesIO(), err=Console(file=io.StringIO()))
        steps.progress.update(task, completed=1)
        e2e_rate, e2e_events = float(summary.as_dict()["events_per_second"]), summary.events
    return _EngineRun(
        files=files,
        label=label,
        not_loaded=len(ruleset.failures),
        compile_s=compile_s,
        warm_up_s=warm_up_s,
        stage=stage,
        counters=counters,
        python_rate=python_rate,
        e2e_rate=e2e_rate,
        e2e_events=e2e_events,
        peak_mb=peak_rss_mb(),
    )


def _compare(  # noqa: PLR0917 - private helper, every argument is one measured dimension
    report: Report,
    setup: _Setup,
    references: _References,
    engine: _EngineRun,
    events: int,
    ref_events: int,
    budget: float,
    steps: _Steps,
) -> None:
    """Both references on one rule set, then the rule set's figures and (rule, event) pairs compared."""
    ids = set().union(*(setup.ids_by_file.get(p, set()) for p in engine.files))
    label = engine.label
    # 1. the pySigma SQLite reference: load + queries, on a subset
    task = steps.task(f"{label} pySigma SQLite reference", 1)
    ref_rules = sqlite_ref.subset(references.sqlite, ids)
    ref_events_list = list(replicate(setup.base, min(ref_events, events)))
    ref_run = sqlite_ref.evaluate(ref_events_list, ref_rules)
    del ref_events_list
    steps.progress.update(task, completed=1)
    sql_rate = min(ref_events, events) / ref_run.seconds if ref_run.seconds else 0.0
    sql_pairs = {(rid, row - 1) for rid, row in ref_run.matches}

    # 2. the naive per-event loop, for the time budget
    naive_rules = naive_sigma.NaiveRules(rules=[r for r in references.naive.rules if r[0] in ids])
    task = steps.task(f"{label} naive per-event loop", min(ref_events, events))
    naive_done, naive_busy = 0, 0.0
    naive_pairs: set[tuple[str, int]] = set()
    for event in replicate(setup.base, min(ref_events, events)):
        pairs, seconds = naive_sigma.run([event], naive_rules)
        naive_busy += seconds
        naive_pairs |= {(rid, naive_done) for rid, _ in pairs}
        naive_done += 1
        if naive_done % 10 == 0:
            steps.progress.update(task, completed=naive_done)
        if naive_busy > budget / 2:
            break
    naive_rate = naive_done / naive_busy if naive_busy else 0.0

    rate = engine.stage.rate
    report.add(Figure(f"{label} detection stage", rate, "events/s", "pySigma SQLite (load+queries)", sql_rate))
    report.add(Figure(f"{label} detection stage", rate, "events/s", "naive per-event loop", naive_rate))
    report.add(
        Figure(f"{label} detection stage", rate, "events/s", "same engine, Python evaluator", engine.python_rate)
    )
    if engine.e2e_rate is not None:
        report.add(
            Figure(
                f"{label} soc detect end to end (EVTX)",
                engine.e2e_rate,
                "events/s",
                "pySigma SQLite (load+queries)",
                sql_rate,
            )
        )
    report.add(Figure(f"{label} rule-set compile", engine.compile_s, "s", higher_is_better=False))
    report.add(Figure(f"{label} peak memory so far", engine.peak_mb, "MiB", higher_is_better=False))
    common = min(engine.stage.seen, ref_events, events)
    # compared over the rules both sides evaluate (the references skip placeholders, correlations, ...)
    sql_ids = set(ref_rules.queries)
    naive_ids = {r[0] for r in naive_rules.rules}
    ours_c = {p for p in engine.stage.pairs if p[1] < common and p[0] in sql_ids}
    sql_c = {p for p in sql_pairs if p[1] < common}
    naive_c = {p for p in naive_pairs if p[1] < min(common, naive_done)}
    ours_n = {p for p in engine.stage.pairs if p[1] < min(common, naive_done) and p[0] in naive_ids}
    e2e_note = f", soc detect {engine.e2e_events:,}" if engine.e2e_events else ""
    evaluator = "Python (soc_sigma_native not installed)"
    c = engine.counters
    if c is not None:
        per = max(1, c["events"])
        evaluator = (
            f"compiled (soc_sigma_native: per event {c['candidates'] / per:.1f} candidate rules, "
            f"{c['unanchored_candidates'] / per:.1f} of them without anchor, {c['scanned_bytes'] / per:,.0f} "
            f"bytes of field text scanned, {c['handed_back']} events handed to the Python engine)"
        )
    report.notes.append(
        f"{label} {len(engine.files)} files, {engine.not_loaded} not loaded; evaluator {evaluator}; "
        f"warm-up batch before timing ({len(setup.base)} events, route plans built): "
        f"{engine.warm_up_s * 1000:.0f} ms; engine saw {engine.stage.seen:,} events in calls of {BATCH} "
        f"(the pipeline's chunk) ({engine.stage.matches:,} detections; releasing each batch and its detections "
        f"after the call, untimed: {engine.stage.release_us:.2f} us per event), SQLite "
        f"{min(ref_events, events):,} ({len(ref_rules.queries)} rules converted, {len(ref_rules.failures)} not), "
        f"naive loop {naive_done:,}{e2e_note}. "
        f"(rule, event) pairs on the first {common:,} events: engine {len(ours_c)}, SQLite {len(sql_c)}, "
        f"differing {len(ours_c ^ sql_c)}; on the naive loop's {min(common, naive_done):,}: engine {len(ours_n)}, "
        f"naive {len(naive_c)}, differing {len(ours_n ^ naive_c)}"
    )
