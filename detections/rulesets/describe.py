"""What a rule file asks of the data: detection fields and their ECS mapping, keyword-only, placeholders.

Neighbours: the rule-health view (:mod:`detections.rulesets.service`) lists each rule with these
facts, so keyword-only and placeholder rules are shown deliberately with their reason, never as
silent failures. Reads the YAML itself (libyaml) and maps fields with the same pySigma pipeline
the engine uses (:func:`detections.rulesets.logsource.mapping_pipeline`); never raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule

from detections.rulesets.logsource import mapping_pipeline

MAX_FILE_BYTES = 1024 * 1024
KEYWORD_NOTE = "keyword-only rule: evaluated as full text over message and event.original"
PLACEHOLDER_NOTE = "placeholder rule (|expand %name%): needs placeholder values supplied from configuration"


@dataclass
class RuleFacts:
    """Facts about one rule document."""

    id: str | None
    title: str = ""
    keyword_only: bool = False
    placeholders: list[str] = field(default_factory=list)
    fields: dict[str, list[str]] = field(default_factory=dict)  # Sigma field -> ECS field(s)
    unmapped: list[str] = field(default_factory=list)  # fields left as written that look non-ECS
    notes: list[str] = field(default_factory=list)


def read_docs(path: Path) -> list[dict[str, Any]]:
    """The mapping documents of a rule file ([] when unreadable or not YAML)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return []
        return [
            d for d in yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) if isinstance(d, dict)
        ]
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return []


def _search_ids(detection: dict[str, Any]) -> list[Any]:
    return [v for k, v in detection.items() if k not in ("condition", "timeframe")]


def _is_keyword_body(body: Any) -> bool:
    if isinstance(body, list):
        return all(not isinstance(v, dict) for v in body)
    return not isinstance(body, dict)


def _raw_keys(detection: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for body in _search_ids(detection):
        for item in body if isinstance(body, list) else [body]:
            if isinstance(item, dict):
                out.extend(str(k) for k in item)
    return out


def _walk_items(det: SigmaDetection | SigmaDetectionItem) -> list[SigmaDetectionItem]:
    if isinstance(det, SigmaDetectionItem):
        return [det]
    out: list[SigmaDetectionItem] = []
    for item in det.detection_items:
        out.extend(_walk_items(item))
    return out


def _looks_ecs(name: str) -> bool:
    return "." in name or name.startswith("@") or name in {"message", "tags", "labels"}


def _map_fields(doc: dict[str, Any], pipeline: ProcessingPipeline) -> tuple[dict[str, list[str]], list[str]]:
    """Sigma field -> ECS names, by applying the pipeline to a copy of the rule, one field at a time."""
    mapping: dict[str, list[str]] = {}
    logsource = doc.get("logsource") if isinstance(doc.get("logsource"), dict) else {}
    names = sorted({k.split("|", 1)[0] for k in _raw_keys(doc.get("detection") or {})} - {""})
    for name in names:
        try:
            probe = SigmaRule.from_dict(
                {"title": "probe", "logsource": logsource, "detection": {"sel": {name: "x"}, "condition": "sel"}}
            )
            pipeline.apply(probe)
            got: list[str] = []
            for det in probe.detection.detections.values():
                got.extend(str(i.field) for i in _walk_items(det) if i.field)
            mapping[name] = list(dict.fromkeys(got)) or [name]
        except Exception:  # an odd field name: used as written
            mapping[name] = [name]
    unmapped = [n for n, targets in mapping.items() if targets == [n] and not _looks_ecs(n)]
    return mapping, unmapped


def describe_file(
    path: Path, pipeline: ProcessingPipeline | None = None, *, with_fields: bool = True
) -> list[RuleFacts]:
    """Facts about every rule document of ``path``."""
    out: list[RuleFacts] = []
    for doc in read_docs(path):
        facts = RuleFacts(id=str(doc["id"]) if doc.get("id") is not None else None, title=str(doc.get("title") or ""))
        detection = doc.get("detection")
        if isinstance(detection, dict):
            bodies = _search_ids(detection)
            facts.keyword_only = bool(bodies) and all(_is_keyword_body(b) for b in bodies)
            for key in _raw_keys(detection):
                if "expand" in key.split("|")[1:]:
                    facts.placeholders.append(key)
            if facts.keyword_only:
                facts.notes.append(KEYWORD_NOTE)
            if facts.placeholders:
                facts.notes.append(PLACEHOLDER_NOTE)
            if with_fields and "correlation" not in doc:
                pipe = pipeline if pipeline is not None else mapping_pipeline()
                facts.fields, facts.unmapped = _map_fields(doc, pipe)
                if facts.unmapped:
                    facts.notes.append(
                        "fields not mapped to ECS (used as written): " + ", ".join(sorted(facts.unmapped))
                    )
        out.append(facts)
    return out
