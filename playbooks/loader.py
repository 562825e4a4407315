"""Load playbooks from YAML (``playbooks/data/<incident_type>.yml``) into a registry.

YAML is read with ``yaml.CSafeLoader`` (libyaml, safe tags only: ``!!python/...`` is refused),
duplicate keys are an error, and every problem is a :class:`PlaybookError` carrying the file and
the line of the offending node, e.g. ``playbooks/data/malware.yml:42: step 'isolate_host': unknown
phase 'contain'``.

The registry maps an incident-type key to its :class:`Playbook`. Which types must exist is not
known here (the list lives with the API); :meth:`PlaybookRegistry.check_types` takes the keys.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import yaml

from playbooks.errors import PlaybookCoverageError, PlaybookError, PlaybookNotFound
from playbooks.models import OWNER_ROLES, PHASES, SEVERITIES, OwnerRole, Phase, Playbook, Severity, Step

DATA_DIR = Path(__file__).resolve().parent / "data"
MAX_FILE_BYTES = 256 * 1024
MAX_STEPS = 100
MAX_DUE_HOURS = 24 * 366
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TOP_KEYS = frozenset(
    {"incident_type", "title_vi", "title_en", "description_vi", "description_en", "references", "steps"}
)
_STEP_KEYS = frozenset(
    {
        "key",
        "title_vi",
        "title_en",
        "description_vi",
        "description_en",
        "phase",
        "owner",
        "due_hours",
        "applies_if",
        "deadline",
    }
)


class _Map(dict[str, Any]):
    """A YAML mapping that remembers its line and the line of each key (1-based)."""

    line: int | None = None
    key_lines: dict[str, int]


class _Loader(yaml.CSafeLoader):
    """libyaml safe loader whose mappings remember lines and refuse duplicate keys."""


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> Iterator[_Map]:
    loader.flatten_mapping(node)
    data = _Map()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    yield data
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise yaml.constructor.ConstructorError(
                None, None, f"mapping keys must be strings, not {type(key).__name__}", key_node.start_mark
            )
        if key in data:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        data.key_lines[key] = key_node.start_mark.line + 1
        data[key] = loader.construct_object(value_node, deep=False)


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)


class _Reader:
    """Validation of one parsed file, with errors located at ``source:line``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, message: str, line: int | None) -> PlaybookError:
        return PlaybookError(message, source=self.source, line=line)

    def line_of(self, m: _Map, key: str) -> int | None:
        return m.key_lines.get(key, m.line)

    def text(self, m: _Map, key: str, *, where: str, required: bool = True, max_len: int = 4000) -> str:
        if key not in m:
            if required:
                raise self.error(f"{where}missing '{key}'", m.line)
            return ""
        value = m[key]
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.error(f"{where}'{key}' must be a non-empty string", self.line_of(m, key))
        if len(value) > max_len:
            raise self.error(f"{where}'{key}' is longer than {max_len} characters", self.line_of(m, key))
        return value.strip()

    def mapping(self, value: Any, *, what: str, line: int | None) -> _Map:
        if not isinstance(value, _Map):
            raise self.error(f"{what} must be a mapping", line)
        return value

    def unknown(self, m: _Map, allowed: frozenset[str], *, where: str) -> None:
        for key in m:
            if key not in allowed:
                raise self.error(
                    f"{where}unknown field '{key}' (allowed: {', '.join(sorted(allowed))})", m.key_lines[key]
                )

    def step(self, m: _Map) -> Step:
        key = m.get("key")
        if not isinstance(key, str) or not _KEY.match(key):
            raise self.error(
                "step 'key' must be lower_snake_case (a-z, 0-9, _; at most 64 characters)", self.line_of(m, "key")
            )
        where = f"step {key!r}: "
        self.unknown(m, _STEP_KEYS, where=where)
        phase = m.get("phase")
        if phase not in PHASES:
            raise self.error(
                f"{where}unknown phase {phase!r}; expected one of {', '.join(PHASES)}", self.line_of(m, "phase")
            )
        owner = m.get("owner")
        if owner not in OWNER_ROLES:
            raise self.error(
                f"{where}unknown owner {owner!r}; expected one of {', '.join(OWNER_ROLES)}", self.line_of(m, "owner")
            )
        due = m.get("due_hours")
        if isinstance(due, bool) or not isinstance(due, int | float) or not 0 <= due <= MAX_DUE_HOURS:
            raise self.error(
                f"{where}'due_hours' must be a number of hours between 0 and {MAX_DUE_HOURS}",
                self.line_of(m, "due_hours"),
            )
        severity: Severity | None = None
        if "applies_if" in m:
            cond = self.mapping(m["applies_if"], what=f"{where}'applies_if'", line=self.line_of(m, "applies_if"))
            self.unknown(cond, frozenset({"severity"}), where=f"{where}applies_if: ")
            if cond.get("severity") not in SEVERITIES:
                raise self.error(
                    f"{where}applies_if.severity must be one of {', '.join(SEVERITIES)}",
                    self.line_of(cond, "severity"),
                )
            severity = cast(Severity, cond["severity"])
        deadline: str | None = None
        if "deadline" in m:
            deadline = m["deadline"]
            if not isinstance(deadline, str) or not _KEY.match(deadline):
                raise self.error(f"{where}'deadline' must be a deadline key", self.line_of(m, "deadline"))
        return Step(
            key=key,
            title_vi=self.text(m, "title_vi", where=where, max_len=500),
            title_en=self.text(m, "title_en", where=where, max_len=500),
            description_vi=self.text(m, "description_vi", where=where, required=False),
            description_en=self.text(m, "description_en", where=where, required=False),
            phase=cast(Phase, phase),
            owner=cast(OwnerRole, owner),
            due_hours=float(due),
            applies_if_severity=severity,
            deadline=deadline,
            line=m.line,
        )

    def playbook(self, data: Any, expected_type: str | None) -> Playbook:
        if data is None:
            raise self.error("empty playbook", None)
        top = self.mapping(data, what="a playbook", line=1)
        self.unknown(top, _TOP_KEYS, where="")
        itype = top.get("incident_type")
        if not isinstance(itype, str) or not _KEY.match(itype):
            raise self.error("'incident_type' must be an incident-type key", self.line_of(top, "incident_type"))
        if expected_type is not None and itype != expected_type:
            raise self.error(
                f"'incident_type' is {itype!r} but the file is named for {expected_type!r}",
                self.line_of(top, "incident_type"),
            )
        raw_steps = top.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            raise self.error("'steps' must be a non-empty list", self.line_of(top, "steps"))
        if len(raw_steps) > MAX_STEPS:
            raise self.error(f"more than {MAX_STEPS} steps", self.line_of(top, "steps"))
        steps: list[Step] = []
        for raw in raw_steps:
            m = self.mapping(raw, what="each step", line=self.line_of(top, "steps"))
            if any(s.key == m.get("key") for s in steps):
                raise self.error(f"duplicate step key {m['key']!r}", self.line_of(m, "key"))
            steps.append(self.step(m))
        refs = top.get("references", [])
        if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
            raise self.error("'references' must be a list of strings", self.line_of(top, "references"))
        return Playbook(
            incident_type=itype,
            title_vi=self.text(top, "title_vi", where=""),
            title_en=self.text(top, "title_en", where=""),
            description_vi=self.text(top, "description_vi", where="", required=False),
            description_en=self.text(top, "description_en", where="", required=False),
            steps=tuple(steps),
            references=tuple(refs),
            source=self.source,
        )


def load_text(text: str, *, source: str = "<string>", expected_type: str | None = None) -> Playbook:
    """Parse and validate one playbook document."""
    reader = _Reader(source)
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a CSafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or str(exc)
        if exc.context:
            problem = f"{exc.context}; {problem}"
            if exc.context_mark is not None and mark is not None and exc.context_mark.line != mark.line:
                problem += f" (opened at line {exc.context_mark.line + 1})"
        raise reader.error(f"invalid YAML: {problem}", None if mark is None else mark.line + 1) from exc
    except yaml.YAMLError as exc:
        raise reader.error(f"invalid YAML: {exc}", None) from exc
    return reader.playbook(data, expected_type)


def load_file(path: Path, *, expected_type: str | None = None) -> Playbook:
    """Load one playbook file (UTF-8, at most :data:`MAX_FILE_BYTES`)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise PlaybookError(f"file larger than {MAX_FILE_BYTES} bytes", source=str(path))
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise PlaybookError(f"cannot read playbook: {exc.strerror or exc}", source=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise PlaybookError(f"not UTF-8 at byte {exc.start}", source=str(path)) from exc
    return load_text(text, source=str(path), expected_type=expected_type)


class PlaybookRegistry(Mapping[str, Playbook]):
    """Incident-type key -> playbook (read-only)."""

    def __init__(self, playbooks: Mapping[str, Playbook]) -> None:
        self._by_type = dict(playbooks)

    def __getitem__(self, key: str) -> Playbook:
        return self._by_type[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_type)

    def __len__(self) -> int:
        return len(self._by_type)

    def require(self, incident_type: str) -> Playbook:
        try:
            return self._by_type[incident_type]
        except KeyError:
            raise PlaybookNotFound(f"no playbook for incident type {incident_type!r}") from None

    def check_types(self, keys: Collection[str]) -> None:
        """Every type in ``keys`` has a playbook and every playbook is for one of ``keys``."""
        missing = sorted(set(keys) - set(self._by_type))
        if missing:
            raise PlaybookCoverageError(f"no playbook for incident type(s): {', '.join(missing)}")
        for itype, book in self._by_type.items():
            if itype not in keys:
                raise PlaybookCoverageError(f"playbook for unknown incident type {itype!r}", source=book.source)

    def check_deadlines(self, keys: Collection[str]) -> None:
        """Every ``deadline`` a step names is one of ``keys`` (the configured legal deadlines)."""
        for book in self._by_type.values():
            for step in book.steps:
                if step.deadline is not None and step.deadline not in keys:
                    raise PlaybookError(
                        f"step {step.key!r} names unknown deadline {step.deadline!r}",
                        source=book.source,
                        line=step.line,
                    )


def load_registry(directory: Path = DATA_DIR) -> PlaybookRegistry:
    """Every ``*.yml`` of ``directory``; the file name (without suffix) is the incident type."""
    if not directory.is_dir():
        raise PlaybookError("playbook directory not found", source=str(directory))
    books: dict[str, Playbook] = {}
    for path in sorted(directory.glob("*.yml")):
        books[path.stem] = load_file(path, expected_type=path.stem)
    return PlaybookRegistry(books)


@lru_cache(maxsize=4)
def default_registry(directory: Path = DATA_DIR) -> PlaybookRegistry:
    """The packaged playbooks, loaded once."""
    return load_registry(directory)
