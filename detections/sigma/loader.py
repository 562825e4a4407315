"""Detect stage: read Sigma rule files safely and parse them with pySigma.

Neighbours: :mod:`detections.sigma.engine` (``RuleSet.load``) calls :func:`read_rule_file` for
every file and compiles what it returns with :mod:`detections.sigma.compiler`. Nothing here
raises on bad input: every problem becomes a :class:`RuleFailure` with file, line and reason.
Hostile input is bounded: file size, number of documents, YAML node count (alias bombs) and
nesting depth are capped before pySigma sees the data.

Multi-document files follow pySigma's collection actions: ``action: global`` sets a template
merged into every following rule document of the file (``reset`` clears it, ``repeat`` parses
the previous rule document updated with the current one). Documents holding ``filter:`` are
Sigma (meta-)filters, parsed as :class:`sigma.filters.SigmaFilter` and applied to the matching
rules of the whole rule set by the engine.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import deep_dict_update
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.filters import SigmaFilter
from sigma.modifiers import modifier_mapping
from sigma.rule import SigmaRule

MAX_FILE_BYTES = 1024 * 1024
MAX_DOCUMENTS = 256
MAX_NODES = 50_000
MAX_DEPTH = 40
RULE_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class RuleFailure:
    """A rule (or file) that could not be used, with where and why."""

    path: str
    line: int | None
    reason: str
    severity: str = "error"  # "error": rule not loaded; "warning": loaded but suspicious

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.severity}: {self.reason}"


@dataclass
class ParsedDoc:
    """One YAML document of a rule file, parsed by pySigma."""

    path: str
    index: int  # document number in the file (0-based)
    line: int  # first line of the document (1-based)
    rule: SigmaRule | SigmaCorrelationRule | SigmaFilter
    lines: dict[tuple[str, ...], int] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)  # the YAML document as loaded

    def line_of(self, *keys: str) -> int:
        return self.lines.get(tuple(keys), self.line)


def iter_rule_files(paths: list[Path]) -> Iterator[Path]:
    """Rule files under the given files/directories (directories recursively, sorted)."""
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in RULE_SUFFIXES and p.is_file())
            yield from found
        else:
            yield path


def _index_lines(node: yaml.Node, prefix: tuple[str, ...], out: dict[tuple[str, ...], int], depth: int) -> None:
    """Record the line of each mapping key (up to a small depth) by its key path."""
    if depth > 4 or not isinstance(node, yaml.MappingNode):
        return
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            path = (*prefix, str(key_node.value))
            out.setdefault(path, key_node.start_mark.line + 1)
            _index_lines(value_node, path, out, depth + 1)


def _check_shape(data: Any) -> str | None:
    """Reject documents too big or too deep once aliases are expanded (alias bombs, cycles)."""
    budget = MAX_NODES
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        obj, depth = stack.pop()
        budget -= 1
        if budget < 0:
            return f"document too large: more than {MAX_NODES} YAML nodes once aliases are expanded"
        if depth > MAX_DEPTH:
            return f"document nested deeper than {MAX_DEPTH} levels"
        if isinstance(obj, dict):
            for k, v in obj.items():
                stack.append((k, depth + 1))
                stack.append((v, depth + 1))
        elif isinstance(obj, list):
            stack.extend((v, depth + 1) for v in obj)
    return None


def _read_text(path: Path) -> tuple[str | None, RuleFailure | None]:
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, RuleFailure(name, None, f"file too large ({size} bytes, limit {MAX_FILE_BYTES})")
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return None, RuleFailure(name, None, f"cannot read file: {exc.strerror or exc}")
    if len(data) > MAX_FILE_BYTES:
        return None, RuleFailure(name, None, f"file too large (limit {MAX_FILE_BYTES} bytes)")
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        return None, RuleFailure(name, line, "binary content (NUL byte): not a YAML rule file")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, RuleFailure(name, line, f"invalid UTF-8 at byte {exc.start}")


def _yaml_docs(name: str, text: str) -> tuple[list[tuple[yaml.Node, Any]], RuleFailure | None]:
    loader = yaml.CSafeLoader(text)
    docs: list[tuple[yaml.Node, Any]] = []
    try:
        while loader.check_node():
            if len(docs) >= MAX_DOCUMENTS:
                return docs, RuleFailure(name, None, f"more than {MAX_DOCUMENTS} YAML documents in one file")
            node = loader.get_node()
            if node is None:
                continue
            docs.append((node, loader.construct_document(node)))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        return docs, RuleFailure(name, mark.line + 1 if mark else None, f"invalid YAML: {problem}")
    except RecursionError:
        return docs, RuleFailure(name, None, "invalid YAML: nested too deeply")
    finally:
        loader.dispose()
    return docs, None


def error_line(doc_lines: dict[tuple[str, ...], int], start: int, exc: BaseException, raw: dict[str, Any]) -> int:
    """Best line for a pySigma error: the offending key when it can be told, else the rule start."""
    source = getattr(exc, "source", None)
    if source is not None and getattr(source, "line", None):
        return int(source.line)
    kind = type(exc).__name__
    message = str(exc).lower()

    def at(*keys: str) -> int:
        # the key itself, else its closest present parent, else the rule start
        for end in range(len(keys), 0, -1):
            if keys[:end] in doc_lines:
                return doc_lines[keys[:end]]
        return start

    section = "filter" if "filter" in raw and "detection" not in raw else "detection"
    if kind.startswith("SigmaFilter"):
        part = {"SigmaFilterConditionError": "condition", "SigmaFilterRuleReferenceError": "rules"}.get(kind)
        return at("filter", part) if part else at("filter")
    found_detection = raw.get(section)
    detection: dict[str, Any] = found_detection if isinstance(found_detection, dict) else {}
    if "placeholder" in message:
        for name in getattr(exc, "names", ()):  # PlaceholderMissing: the key using the first missing one
            for path, value in _detection_values(detection):
                if f"%{name}%" in str(value) and "expand" in path[-1].split("|")[1:]:
                    return at(section, *path)
        for path, key in _detection_keys(detection):
            if "expand" in key.split("|")[1:]:
                return at(section, *path)
    if "modifier" in message or kind in {"SigmaModifierError", "SigmaTypeError", "SigmaRegularExpressionError"}:
        for found in _detection_keys(detection):
            path, key = found
            mods = key.split("|")[1:]
            if any(m not in modifier_mapping for m in mods) or (kind == "SigmaRegularExpressionError" and "re" in mods):
                return at(section, *path)
        for found in _detection_keys(detection):
            path, key = found
            if "|" in key:
                return at(section, *path)
    if "unsupported type" in message:
        for path, value in _detection_values(detection):
            if f"'{type(value).__name__}'" in message:
                return at(section, *path)
    if kind in {"SigmaTypeError", "SigmaValueError", "SigmaModifierError"}:
        return at(section)
    if kind == "SigmaConditionError" or "condition" in message:
        if "correlation" in raw:
            return at("correlation", "condition")
        return at(section, "condition")
    simple = {
        "SigmaLogsourceError": ("logsource",),
        "SigmaIdentifierError": ("id",),
        "SigmaLevelError": ("level",),
        "SigmaStatusError": ("status",),
        "SigmaTitleError": ("title",),
        "SigmaTagError": ("tags",),
        "SigmaDateError": ("date",),
        "SigmaModifiedError": ("modified",),
        "SigmaDescriptionError": ("description",),
        "SigmaReferencesError": ("references",),
        "SigmaAuthorError": ("author",),
        "SigmaFieldsError": ("fields",),
        "SigmaFalsePositivesError": ("falsepositives",),
        "SigmaRelatedError": ("related",),
        "SigmaDetectionError": ("detection",),
        "SigmaTimespanError": ("correlation", "timespan"),
        "SigmaCorrelationTypeError": ("correlation", "type"),
        "SigmaCorrelationConditionError": ("correlation", "condition"),
        "SigmaRuleNotFoundError": ("correlation", "rules"),
    }
    if kind in simple:
        return at(*simple[kind])
    if kind.startswith("SigmaCorrelation"):
        return at("correlation")
    return start


def _detection_keys(detection: dict[str, Any]) -> Iterator[tuple[tuple[str, ...], str]]:
    for name, body in detection.items():
        items = body if isinstance(body, list) else [body]
        for item in items:
            if isinstance(item, dict):
                for key in item:
                    yield (str(name), str(key)), str(key)


def _detection_values(detection: dict[str, Any]) -> Iterator[tuple[tuple[str, ...], Any]]:
    for name, body in detection.items():
        items = body if isinstance(body, list) else [body]
        for item in items:
            if isinstance(item, dict):
                for key, value in item.items():
                    for one in value if isinstance(value, list) else [value]:
                        yield (str(name), str(key)), one
            else:
                yield (str(name),), item


def _bad_detection_key(detection: Any) -> tuple[str, ...] | None:
    """Path of the first non-string key inside the detection section (pySigma crashes on them)."""
    if not isinstance(detection, dict):
        return None
    for name, body in detection.items():
        if not isinstance(name, str):
            return (str(name),)
        for item in body if isinstance(body, list) else [body]:
            if isinstance(item, dict):
                for key in item:
                    if not isinstance(key, str):
                        return (name, str(key))
    return None


# Sigma v2 modifier names pySigma 1.5 does not know, and the pySigma modifier they mean.
MODIFIER_ALIASES = {"utf16le": "wide"}


def _alias_modifiers(data: dict[str, Any], section: str) -> dict[str, Any]:
    """``data`` with spec modifier aliases (``|utf16le``) renamed to their pySigma names."""
    detection = data.get(section)
    if not isinstance(detection, dict) or not any(
        f"|{alias}" in key for alias in MODIFIER_ALIASES for _, key in _detection_keys(detection)
    ):
        return data

    def rename(key: Any) -> Any:
        if not isinstance(key, str) or "|" not in key:
            return key
        name, *mods = key.split("|")
        return "|".join([name, *(MODIFIER_ALIASES.get(m, m) for m in mods)])

    def fix(body: Any) -> Any:
        if isinstance(body, dict):
            return {rename(k): v for k, v in body.items()}
        if isinstance(body, list):
            return [fix(item) for item in body]
        return body

    new_detection = {k: v if k == "condition" else fix(v) for k, v in detection.items()}
    return {**data, section: new_detection}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SigmaError):
        text = exc.args[0] if exc.args else str(exc)
        return f"{type(exc).__name__}: {text}"
    return f"{type(exc).__name__}: {exc}"


def read_rule_file(path: Path) -> tuple[list[ParsedDoc], list[RuleFailure]]:
    """Parse every rule document of one file; never raises."""
    name = str(path)
    try:
        text, failure = _read_text(path)
        if failure is not None or text is None:
            return [], [failure or RuleFailure(name, None, "unreadable file")]
        docs, failure = _yaml_docs(name, text)
        failures = [failure] if failure else []
        parsed: list[ParsedDoc] = []
        global_rule: dict[str, Any] = {}
        prev_rule: dict[str, Any] = {}
        for index, (node, loaded) in enumerate(docs):
            if loaded is None:  # an empty document (e.g. a trailing '---')
                continue
            data, global_rule, prev_rule, failure = _collection_step(name, node, loaded, global_rule, prev_rule)
            if failure is not None:
                failures.append(failure)
            if data is None:
                continue
            doc = _parse_doc(name, index, node, data)
            if isinstance(doc, RuleFailure):
                failures.append(doc)
            else:
                parsed.append(doc)
        if not docs and not failures:
            failures.append(RuleFailure(name, None, "empty file: no rule document"))
        return parsed, failures
    except Exception as exc:  # a last guard: one bad file must never stop a rule set loading
        return [], [RuleFailure(name, None, f"unexpected error: {_describe(exc)}")]


def _collection_step(
    name: str, node: yaml.Node, data: Any, global_rule: dict[str, Any], prev_rule: dict[str, Any]
) -> tuple[Any, dict[str, Any], dict[str, Any], RuleFailure | None]:
    """pySigma collection actions: (document to parse or None, new global, new previous, failure)."""
    start = node.start_mark.line + 1
    is_rule = isinstance(data, dict) and "correlation" not in data and "filter" not in data
    action = data.get("action") if isinstance(data, dict) else None
    if action is None:
        if is_rule and global_rule:
            data = deep_dict_update(copy.deepcopy(data), copy.deepcopy(global_rule))
        return data, global_rule, data if is_rule else prev_rule, None
    shape = _check_shape(data)
    if shape is not None:
        return None, global_rule, prev_rule, RuleFailure(name, start, shape)
    rest = {k: v for k, v in data.items() if k != "action"}
    if action == "global":
        return None, rest, rest, None
    if action == "reset":
        return None, {}, prev_rule, None
    if action == "repeat":
        merged = deep_dict_update(copy.deepcopy(prev_rule), rest)
        return merged, global_rule, merged, None
    reason = f"SigmaCollectionError: unknown collection action '{action}'"
    return None, global_rule, prev_rule, RuleFailure(name, start, reason)


def _check_filter(rule: SigmaFilter) -> None:
    """Apply the filter to a probe rule of its log source, so bad filter conditions fail at load."""
    probe_filter = copy.deepcopy(rule)
    probe_filter.filter.rules = "any"
    probe = SigmaRule.from_dict(
        {
            "title": "filter probe",
            "logsource": rule.logsource.to_dict(),
            "detection": {"probe_selection": {"probe_field": "x"}, "condition": "probe_selection"},
        }
    )
    probe_filter.apply_on_rule(probe)
    for cond in probe.detection.parsed_condition:
        cond.parse()


def _parse_doc(name: str, index: int, node: yaml.Node, data: Any) -> ParsedDoc | RuleFailure:
    start = node.start_mark.line + 1
    shape = _check_shape(data)
    if shape is not None:
        return RuleFailure(name, start, shape)
    if not isinstance(data, dict):
        return RuleFailure(name, start, f"rule document must be a mapping, got {type(data).__name__}")
    lines: dict[tuple[str, ...], int] = {}
    _index_lines(node, (), lines, 0)
    bad_keys = [k for k in data if not isinstance(k, str)]
    if bad_keys:
        return RuleFailure(name, start, f"rule keys must be strings, got {bad_keys[0]!r}")
    section = "filter" if "filter" in data and "detection" not in data else "detection"
    data = _alias_modifiers(data, section)
    bad = _bad_detection_key(data.get(section))
    if bad is not None:
        line = lines.get((section, *bad), lines.get((section,), start))
        return RuleFailure(name, line, f"detection keys must be strings, got {bad[-1]!r}")
    try:
        rule: SigmaRule | SigmaCorrelationRule | SigmaFilter
        if "correlation" in data:
            rule = SigmaCorrelationRule.from_dict(data, collect_errors=True)
        elif "filter" in data and "detection" not in data:
            rule = SigmaFilter.from_dict(data, collect_errors=True)
        else:
            if "detection" not in data:
                return RuleFailure(name, start, "missing 'detection' section")
            if "logsource" not in data:
                return RuleFailure(name, start, "missing 'logsource' section")
            rule = SigmaRule.from_dict(data, collect_errors=True)
        if rule.errors:
            exc = rule.errors[0]
            return RuleFailure(name, error_line(lines, start, exc, data), _describe(exc))
        if isinstance(rule, SigmaRule):
            # Parsing the condition here surfaces bad conditions and undefined identifiers.
            for cond in rule.detection.parsed_condition:
                cond.parse()
        elif isinstance(rule, SigmaFilter):
            _check_filter(rule)
    except Exception as exc:  # pySigma raises SigmaError, but also TypeError/KeyError on odd input
        return RuleFailure(name, error_line(lines, start, exc, data), _describe(exc))
    return ParsedDoc(path=name, index=index, line=start, rule=rule, lines=lines, raw=data)
