"""The rule catalog behind the API's rule routes and ``soc rules``: list, detail, enable/disable, hunt.

Neighbours: ``soc_cli`` builds one :class:`RulesService` per API process (the API itself never
imports ``detections``; it talks to this object through its ``RuleCatalog`` protocol) and the CLI
uses one for ``soc rules enable|disable|hunt``. State changes go to ``rules-state.yml``
(:mod:`detections.rulesets.state`), which the workers reload; hunts run through
:mod:`detections.rulesets.hunt` over the event store.

Every rule file is listed: rules that compiled (with warnings, and notes such as keyword-only),
and rules that failed, with their reasons (e.g. placeholder rules), never silently.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from detections.rulesets.describe import describe_file
from detections.rulesets.hunt import hunt
from detections.rulesets.state import RuleState, file_rule_ids
from detections.sigma import RuleFailure, RuleInfo, RuleSet
from soc_core.errors import ConfigError, RuleError
from soc_core.ids import stable_id
from soc_core.stores import EventStore


def _problem(f: RuleFailure) -> dict[str, Any]:
    return {"severity": f.severity, "line": f.line, "reason": f.reason}


class RulesService:
    """Catalog of the active rule paths (compiled and failed rules) plus their enabled state."""

    def __init__(
        self,
        paths: Sequence[Path],
        state_file: Path,
        store: EventStore | None = None,
        *,
        ruleset: RuleSet | None = None,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self.state_file = state_file
        self.store = store
        self.ruleset = ruleset if ruleset is not None else RuleSet.load(self.paths)
        self._lock = threading.RLock()
        self._entries: list[dict[str, Any]] | None = None
        self._by_id: dict[str, dict[str, Any]] = {}
        self._infos = {r.id: r for r in self.ruleset.rules}
        self._state = RuleState()
        self._state_mtime: float | None = -1.0

    # --------------------------------------------------------------------------- state
    def state(self) -> RuleState:
        """The state file as it is now (re-read when its mtime changed)."""
        with self._lock:
            try:
                mtime: float | None = self.state_file.stat().st_mtime_ns / 1e9
            except OSError:
                mtime = None
            if mtime != self._state_mtime:
                self._state = RuleState.load(self.state_file)
                self._state_mtime = mtime
            return self._state

    # --------------------------------------------------------------------------- catalog
    def _build(self) -> list[dict[str, Any]]:
        problems: dict[str, list[RuleFailure]] = {}
        for f in [*self.ruleset.failures, *self.ruleset.warnings]:
            problems.setdefault(f.path, []).append(f)
        facts_cache: dict[str, dict[str | None, Any]] = {}

        def facts_of(path: str) -> dict[str | None, Any]:
            if path not in facts_cache:
                facts_cache[path] = {f.id: f for f in describe_file(Path(path), with_fields=False)}
            return facts_cache[path]

        entries: list[dict[str, Any]] = []
        loaded_paths: set[str] = set()
        for r in self.ruleset.rules:
            loaded_paths.add(r.path)
            facts = facts_of(r.path)
            fact = facts.get(r.id) or (next(iter(facts.values())) if len(facts) == 1 else None)
            entries.append(
                {
                    "id": r.id,
                    "title": r.title,
                    "level": r.level,
                    "tags": list(r.tags),
                    "path": r.path,
                    "kind": r.kind,
                    "sigma_status": r.status,
                    "logsource": dict(r.logsource),
                    "compiled": True,
                    "problems": [_problem(f) for f in problems.get(r.path, []) if f.severity != "error"],
                    "notes": list(fact.notes) if fact is not None else [],
                    "keyword_only": bool(fact and fact.keyword_only),
                    "placeholders": list(fact.placeholders) if fact is not None else [],
                }
            )
        # failed rules: one entry per failing document (grouped by file when the file has one rule)
        for path, found in problems.items():
            # a file that loaded nothing is listed with every problem (placeholder rules are warnings)
            errors = found if path not in loaded_paths else [f for f in found if f.severity == "error"]
            if not errors:
                continue
            ids = file_rule_ids(Path(path))
            facts = facts_of(path)
            per_file = path not in loaded_paths and len(ids) <= 1
            groups = [errors] if per_file else [[e] for e in errors]
            for group in groups:
                first = group[0]
                rule_id = ids[0] if per_file and ids else stable_id(path, first.line or 0)
                fact = facts.get(rule_id) or (next(iter(facts.values())) if len(facts) == 1 else None)
                notes = list(fact.notes) if fact is not None else []
                entries.append(
                    {
                        "id": rule_id,
                        "title": (fact.title if fact is not None else "") or Path(path).name,
                        "level": None,
                        "tags": [],
                        "path": path,
                        "kind": "detection",
                        "sigma_status": "",
                        "logsource": {},
                        "compiled": False,
                        "problems": [_problem(f) for f in group],
                        "notes": notes,
                        "keyword_only": bool(fact and fact.keyword_only),
                        "placeholders": list(fact.placeholders) if fact is not None else [],
                    }
                )
        return entries

    def _catalog(self) -> list[dict[str, Any]]:
        with self._lock:
            if self._entries is None:
                self._entries = self._build()
                self._by_id = {}
                for e in self._entries:
                    self._by_id.setdefault(e["id"], e)
            return self._entries

    def entries(self) -> list[dict[str, Any]]:
        """Every rule (compiled or failed) with ``enabled`` as the state file says now."""
        state = self.state()
        return [{**e, "enabled": state.is_enabled(e["id"], e["path"])} for e in self._catalog()]

    def detail(self, rule_id: str) -> dict[str, Any] | None:
        self._catalog()
        entry = self._by_id.get(rule_id)
        if entry is None:
            return None
        out = {**entry, "enabled": self.state().is_enabled(entry["id"], entry["path"])}
        facts = {f.id: f for f in describe_file(Path(entry["path"]))}
        fact = facts.get(rule_id) or (next(iter(facts.values())) if len(facts) == 1 else None)
        out["fields"] = dict(fact.fields) if fact is not None else {}
        out["unmapped_fields"] = list(fact.unmapped) if fact is not None else []
        if fact is not None:
            out["notes"] = list(fact.notes)
        return out

    # --------------------------------------------------------------------------- changes
    def set_rule_enabled(self, rule_id: str, enabled: bool) -> dict[str, Any]:
        """Enable or disable one rule; raises KeyError for an unknown id."""
        self._catalog()
        entry = self._by_id.get(rule_id)
        if entry is None:
            raise KeyError(rule_id)
        with self._lock:
            state = RuleState.load(self.state_file)
            state.set_rule(rule_id, enabled, entry["path"])
            state.save(self.state_file)
        return {**entry, "enabled": enabled}

    def resolve_folder(self, folder: str) -> Path:
        """An existing folder inside (or equal to) one of the rule paths; raises ValueError otherwise."""
        raw = Path(folder).expanduser()
        candidates = [raw] if raw.is_absolute() else [*(p / raw for p in self.paths if p.is_dir()), Path.cwd() / raw]
        roots = [p.resolve() for p in self.paths if p.is_dir()]
        for cand in candidates:
            path = cand.resolve()
            if path.is_dir() and any(path == r or r in path.parents for r in roots):
                return path
        raise ValueError(f"{folder!r} is not a folder of the active rule paths")

    def set_folder_enabled(self, folder: str, enabled: bool) -> dict[str, Any]:
        path = self.resolve_folder(folder)
        with self._lock:
            state = RuleState.load(self.state_file)
            key = state.set_folder(path, enabled)
            state.save(self.state_file)
        affected = sum(1 for e in self._catalog() if Path(e["path"]).resolve().is_relative_to(path))
        return {"path": key, "enabled": enabled, "rules": affected}

    def set_enabled(self, target: str, enabled: bool) -> dict[str, Any]:
        """``target`` is a rule id or a folder (CLI ``soc rules enable|disable``)."""
        self._catalog()
        if target in self._by_id:
            return self.set_rule_enabled(target, enabled)
        try:
            return self.set_folder_enabled(target, enabled)
        except ValueError:
            raise ConfigError(f"{target!r} is neither a rule id nor a folder of the active rule paths") from None

    # --------------------------------------------------------------------------- hunt
    def rule_info(self, rule_id: str) -> RuleInfo:
        info = self._infos.get(rule_id)
        if info is None:
            self._catalog()
            if rule_id in self._by_id:
                raise RuleError(f"rule {rule_id} did not compile; it cannot be hunted with")
            raise KeyError(rule_id)
        return info

    def hunt(self, rule_id: str, since: str | None, until: str | None, limit: int = 100) -> dict[str, Any]:
        """Run the rule over stored events in ``[since, until)``; KeyError for an unknown id."""
        if self.store is None:
            raise RuleError("no event store is configured for retro-hunts")
        return hunt(self.store, self.rule_info(rule_id), since, until, limit).as_dict()
