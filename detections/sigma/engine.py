"""Detect stage: the streaming Sigma engine (rule set loading, per-batch evaluation).

Neighbours: upstream the pipeline's ``enrich`` stage hands ECS events (nested dicts); this module
returns :class:`soc_core.models.Detection` objects that the pipeline publishes to ``soc.alerts``.
Inside the package: :mod:`.loader` reads and parses rule files with pySigma, :mod:`.mapping`
holds the pySigma field-mapping pipeline and the log-source router, :mod:`.compiler` and
:mod:`.matchers` turn rules into Python evaluators, :mod:`.correlation` keeps correlation state.

Each event is flattened once, routed to its log-source buckets, and meets only the rules of those
buckets (the bucket -> rules list is cached per distinct routing).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationRule
from sigma.rule import SigmaRule

from detections.sigma.compiler import Evaluator, FlatEvent, compile_rule, flatten_event
from detections.sigma.correlation import (
    SUPPORTED_TYPES,
    CorrelationSpec,
    CorrelationState,
    parse_timestamp,
)
from detections.sigma.loader import ParsedDoc, RuleFailure, _describe, error_line, iter_rule_files, read_rule_file
from detections.sigma.mapping import Bucket, SigmaMapping, iter_bucket_names, load_mapping, rule_bucket
from soc_core.ids import stable_id
from soc_core.models import Detection

__all__ = ["Detector", "RuleFailure", "RuleInfo", "RuleSet", "check_rules"]

ENTITY_FIELDS = ("source.ip", "user.name", "host.name", "destination.ip")


@dataclass
class RuleInfo:
    """What the rest of the SOC needs to know about a loaded rule."""

    id: str
    title: str
    level: str
    tags: list[str]
    path: str
    kind: str  # "detection" | "correlation"
    status: str = ""
    logsource: dict[str, str] = field(default_factory=dict)


@dataclass
class _Compiled:
    info: RuleInfo
    evaluate: Evaluator
    bucket: Bucket
    name: str | None = None  # the rule's optional ``name`` (correlations may reference it)
    emits: bool = True
    feeds: list[tuple[int, int]] = field(default_factory=list)  # (correlation index, base index)


def _info(doc: ParsedDoc, kind: str) -> RuleInfo:
    rule = doc.rule
    rule_id = str(rule.id) if rule.id else stable_id(doc.path) if doc.index == 0 else stable_id(doc.path, doc.index)
    logsource: dict[str, str] = {}
    if isinstance(rule, SigmaRule):
        for name in ("product", "category", "service"):
            value = getattr(rule.logsource, name)
            if value is not None:
                logsource[name] = str(value)
    return RuleInfo(
        id=rule_id,
        title=str(rule.title or ""),
        level=rule.level.name.lower() if rule.level else "medium",
        tags=[str(t) for t in rule.tags],
        path=doc.path,
        kind=kind,
        status=rule.status.name.lower() if rule.status else "",
        logsource=logsource,
    )


def _map_field(mapping: SigmaMapping, logsource: dict[str, str], name: str) -> tuple[str, ...]:
    """ECS paths a Sigma field name maps to under a rule's log source (then the name itself)."""
    try:
        probe = SigmaRule.from_dict(
            {"title": "probe", "logsource": logsource, "detection": {"sel": {name: "x"}, "condition": "sel"}}
        )
        mapping.new_pipeline().apply(probe)
        tree = probe.detection.parsed_condition[0].parse()
        args = getattr(tree, "args", None) or [tree]
        paths = [str(a.field) for a in args if getattr(a, "field", None)]
    except Exception:  # an odd field name: use it as written
        paths = []
    return tuple(dict.fromkeys([*paths, name]))


class RuleSet:
    """Compiled rules plus the failures met while loading them."""

    def __init__(self, mapping: SigmaMapping) -> None:
        self.mapping = mapping
        self.rules: list[RuleInfo] = []
        self.failures: list[RuleFailure] = []
        self.warnings: list[RuleFailure] = []
        self._compiled: list[_Compiled] = []
        self._correlations: list[tuple[RuleInfo, CorrelationSpec]] = []

    @classmethod
    def load(cls, paths: Sequence[Path], *, mapping: Path | None = None) -> RuleSet:
        """Load rule files and directories (recursive ``*.yml``/``*.yaml``); never raises on a bad rule.

        A bad ``mapping`` file raises :class:`soc_core.errors.ConfigError`.
        """
        self = cls(load_mapping(mapping))
        docs: list[ParsedDoc] = []
        for path in iter_rule_files([Path(p) for p in paths]):
            if not path.exists():
                self.failures.append(RuleFailure(str(path), None, "no such file or directory"))
                continue
            parsed, failures = read_rule_file(path)
            docs.extend(parsed)
            self.failures.extend(failures)
        self._compile_detections([d for d in docs if isinstance(d.rule, SigmaRule)])
        self._compile_correlations([d for d in docs if isinstance(d.rule, SigmaCorrelationRule)])
        return self

    def _compile_detections(self, docs: list[ParsedDoc]) -> None:
        pipeline = self.mapping.new_pipeline()
        reachable = self.mapping.router.reachable()
        seen: dict[str, str] = {}
        for doc in docs:
            rule = doc.rule
            assert isinstance(rule, SigmaRule)
            try:
                info = _info(doc, "detection")
                pipeline.apply(rule)
                evaluate = compile_rule(rule, self.mapping.keyword_fields)
            except Exception as exc:
                self.failures.append(
                    RuleFailure(doc.path, error_line(doc.lines, doc.line, exc, doc.raw), _describe(exc))
                )
                continue
            bucket = rule_bucket(info.logsource)
            if bucket not in reachable:
                where = ", ".join(iter_bucket_names(bucket))
                self.warnings.append(
                    RuleFailure(
                        doc.path,
                        doc.line_of("logsource"),
                        f"logsource ({where}) is not routed by {self.mapping.path.name}: the rule can never fire",
                        "warning",
                    )
                )
            if info.id in seen:
                self.warnings.append(
                    RuleFailure(
                        doc.path, doc.line_of("id"), f"duplicate rule id {info.id} (also in {seen[info.id]})", "warning"
                    )
                )
            seen.setdefault(info.id, doc.path)
            self.rules.append(info)
            name = getattr(rule, "name", None)
            self._compiled.append(
                _Compiled(info=info, evaluate=evaluate, bucket=bucket, name=str(name) if name else None)
            )

    def _compile_correlations(self, docs: list[ParsedDoc]) -> None:
        by_ref: dict[str, int] = {}
        for index, compiled in enumerate(self._compiled):
            by_ref.setdefault(compiled.info.id, index)
            if compiled.name:
                by_ref.setdefault(compiled.name, index)
        for doc in docs:
            try:
                self._compile_correlation(doc, by_ref)
            except Exception as exc:
                self.failures.append(
                    RuleFailure(doc.path, error_line(doc.lines, doc.line, exc, doc.raw), _describe(exc))
                )

    def _compile_correlation(self, doc: ParsedDoc, by_ref: dict[str, int]) -> None:
        rule = doc.rule
        assert isinstance(rule, SigmaCorrelationRule)
        info = _info(doc, "correlation")
        kind = str(rule.type.name).lower()
        if kind not in SUPPORTED_TYPES:
            self.failures.append(
                RuleFailure(
                    doc.path, doc.line_of("correlation", "type"), f"correlation type '{kind}' is not supported yet"
                )
            )
            return
        bases: list[int] = []
        for ref in rule.rules or []:
            idx = by_ref.get(str(ref.reference))
            if idx is None:
                self.failures.append(
                    RuleFailure(
                        doc.path,
                        doc.line_of("correlation", "rules"),
                        f"referenced rule '{ref.reference}' not found among loaded detection rules",
                    )
                )
                return
            bases.append(idx)
        condition = rule.condition
        if not isinstance(condition, SigmaCorrelationCondition):
            self.failures.append(
                RuleFailure(
                    doc.path,
                    doc.line_of("correlation", "condition"),
                    "extended correlation conditions are not supported",
                )
            )
            return
        op = condition.op.name.lower()
        if op not in {"gte", "gt", "lte", "lt", "eq"}:
            self.failures.append(
                RuleFailure(
                    doc.path, doc.line_of("correlation", "condition"), f"correlation condition '{op}' is not supported"
                )
            )
            return
        aliases = {a.alias: {str(r.reference): f for r, f in a.mapping.items()} for a in rule.aliases}
        group_paths: dict[int, list[tuple[str, ...]]] = {}
        value_paths: dict[int, tuple[str, ...]] = {}
        for base in bases:
            base_info = self._compiled[base].info
            paths = []
            for name in rule.group_by or []:
                per_rule = aliases.get(name)
                real = name
                if per_rule is not None:
                    real = per_rule.get(base_info.id) or next(
                        (f for ref, f in per_rule.items() if by_ref.get(ref) == base), name
                    )
                paths.append(_map_field(self.mapping, base_info.logsource, real))
            group_paths[base] = paths
            if kind == "value_count":
                fieldref = condition.fieldref
                if not isinstance(fieldref, str) or not fieldref:
                    self.failures.append(
                        RuleFailure(
                            doc.path, doc.line_of("correlation", "condition"), "value_count needs condition.field"
                        )
                    )
                    return
                value_paths[base] = _map_field(self.mapping, base_info.logsource, fieldref)
        spec = CorrelationSpec(
            kind=kind,
            timespan=float(rule.timespan.seconds),
            op=op,
            threshold=int(condition.count),
            group_paths=group_paths,
            value_paths=value_paths,
        )
        corr_index = len(self._correlations)
        self._correlations.append((info, spec))
        for base in bases:
            compiled = self._compiled[base]
            compiled.feeds.append((corr_index, base))
            if not rule.generate:
                compiled.emits = False
        self.rules.append(info)


def _entity(event: dict[str, Any], flat: FlatEvent) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in ENTITY_FIELDS:
        value = flat.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None and not isinstance(value, dict):
            out[name] = str(value)
    return out


def make_detection(info: RuleInfo, event: dict[str, Any], flat: FlatEvent | None = None) -> Detection:
    """The Detection of rule ``info`` firing on ``event``."""
    flat = flat if flat is not None else flatten_event(event)
    entity = _entity(event, flat)
    unit = flat.get("soc.unit.code")
    return Detection(
        rule_id=info.id,
        rule_title=info.title,
        level=info.level,
        tags=list(info.tags),
        event_id=str(flat.get("event.id") or ""),
        timestamp=str(flat.get("@timestamp") or ""),
        unit=str(unit) if unit is not None and not isinstance(unit, dict | list) else None,
        entity=entity,
        dedup_key=f"{info.id}|" + "|".join(f"{k}={v}" for k, v in sorted(entity.items())),
        event=event,
    )


class Detector:
    """Evaluates a rule set over batches of ECS events; keeps correlation state between batches."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        self._rules = ruleset._compiled
        self._router = ruleset.mapping.router
        self._by_bucket: dict[Bucket, list[int]] = {}
        for index, compiled in enumerate(self._rules):
            self._by_bucket.setdefault(compiled.bucket, []).append(index)
        self._candidates_cache: dict[frozenset[Bucket], tuple[int, ...]] = {}
        self._states = [CorrelationState(spec) for _, spec in ruleset._correlations]
        self._watermark: float | None = None
        self.rule_errors = 0  # evaluator exceptions (should stay 0; counted, never raised)

    def _candidates(self, flat: FlatEvent) -> tuple[int, ...]:
        # TODO(perf): a literal prefilter (Aho-Corasick over each rule's required substrings,
        # pyahocorasick) belongs here: narrow the bucket's rules before evaluating them.
        buckets = self._router.buckets(flat)
        hit = self._candidates_cache.get(buckets)
        if hit is None:
            hit = tuple(sorted(set(itertools.chain.from_iterable(self._by_bucket.get(b, ()) for b in buckets))))
            if len(self._candidates_cache) > 4096:
                self._candidates_cache.clear()
            self._candidates_cache[buckets] = hit
        return hit

    def process(self, events: Sequence[dict[str, Any]]) -> list[Detection]:
        """Detections for a batch of events, in input order (correlations fire on completion)."""
        out: list[Detection] = []
        rules = self._rules
        for event in events:
            if not isinstance(event, dict):  # defensive: decoded JSON of any shape may come in
                continue  # type: ignore[unreachable]
            flat = flatten_event(event)
            ts = parse_timestamp(flat.get("@timestamp"))
            if ts is None:
                ts = self._watermark if self._watermark is not None else time.time()
            if self._watermark is None or ts > self._watermark:
                self._watermark = ts
            for index in self._candidates(flat):
                compiled = rules[index]
                try:
                    matched = compiled.evaluate(flat)
                except Exception:
                    self.rule_errors += 1
                    continue
                if not matched:
                    continue
                if compiled.emits:
                    out.append(make_detection(compiled.info, event, flat))
                for corr_index, base in compiled.feeds:
                    for fired in self._states[corr_index].observe(base, flat, event, ts):
                        out.append(make_detection(self.ruleset._correlations[corr_index][0], fired))
        if self._watermark is not None:
            for corr_index, state in enumerate(self._states):
                for fired in state.sweep(self._watermark):
                    out.append(make_detection(self.ruleset._correlations[corr_index][0], fired))
        return out


def check_rules(paths: Sequence[Path]) -> tuple[int, list[RuleFailure]]:
    """Validate rules: (rules that loaded, failures). Warnings come after the errors, severity "warning"."""
    ruleset = RuleSet.load(paths)
    return len(ruleset.rules), [*ruleset.failures, *ruleset.warnings]
