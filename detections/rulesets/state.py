"""Rule operations: which rules are enabled, kept in ``<data_dir>/rules-state.yml``.

Neighbours: ``soc rules enable|disable`` and the API's rule routes write the file (through
:meth:`RuleState.save`, atomically); the worker reads it at start (:func:`load_active_ruleset`)
and :class:`detections.rulesets.gate.ActiveDetector` reloads it when its mtime changes.

The file is data an operator may edit by hand::

    rules:                      # per rule id: enabled flag, and where the rule was seen
      5f0c...-uuid: {enabled: false, path: /srv/soc/rules/web/sqli.yml}
    folders:                    # per folder (absolute path): enabled flag
      /srv/soc/.soc-data/rules/sigma/rules/windows/builtin: false

A rule's own entry wins over folders; among folders the deepest one containing the rule wins;
everything else is enabled.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from detections.sigma import RuleSet
from soc_core.errors import ConfigError

RULE_SUFFIXES = (".yml", ".yaml")
STATE_FILE = "rules-state.yml"
IMPORTS_DIR = "rules"
_ID_LINE = re.compile(r"^id:\s*['\"]?([^\s'\"#]+)", re.MULTILINE)
_MAX_STATE_BYTES = 8 * 1024 * 1024


def _abs(path: str | Path) -> str:
    return str(Path(path).expanduser().resolve())


@dataclass
class RuleState:
    """Enabled/disabled flags per rule id and per folder (see the module docstring)."""

    rules: dict[str, bool] = field(default_factory=dict)
    rule_paths: dict[str, str] = field(default_factory=dict)
    folders: dict[str, bool] = field(default_factory=dict)

    # ------------------------------------------------------------------------- file I/O
    @classmethod
    def load(cls, path: Path | None) -> RuleState:
        """Read the state file; a missing file means "everything enabled". Bad content raises ConfigError."""
        if path is None or not path.exists():
            return cls()
        source = str(path)
        try:
            if path.stat().st_size > _MAX_STATE_BYTES:
                raise ConfigError(f"state file larger than {_MAX_STATE_BYTES} bytes", source=source)
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read rule state: {exc}", source=source) from exc
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise ConfigError(f"invalid YAML: {exc}", source=source, line=mark.line + 1 if mark else None) from exc
        return cls.from_dict(data or {}, source)

    @classmethod
    def from_dict(cls, data: Any, source: str = "<state>") -> RuleState:
        if not isinstance(data, dict):
            raise ConfigError("rule state must be a mapping with 'rules' and 'folders'", source=source)
        state = cls()
        rules = data.get("rules") or {}
        folders = data.get("folders") or {}
        if not isinstance(rules, dict) or not isinstance(folders, dict):
            raise ConfigError("'rules' and 'folders' must be mappings", source=source)
        for rule_id, value in rules.items():
            if isinstance(value, bool):
                state.rules[str(rule_id)] = value
            elif isinstance(value, dict) and isinstance(value.get("enabled"), bool):
                state.rules[str(rule_id)] = value["enabled"]
                if isinstance(value.get("path"), str):
                    state.rule_paths[str(rule_id)] = value["path"]
            else:
                raise ConfigError(f"rules.{rule_id}: expected true/false or {{enabled: bool}}", source=source)
        for folder, value in folders.items():
            if not isinstance(value, bool):
                raise ConfigError(f"folders.{folder}: expected true or false", source=source)
            state.folders[_abs(str(folder))] = value
        return state

    def to_dict(self) -> dict[str, Any]:
        rules: dict[str, Any] = {}
        for rule_id in sorted(self.rules):
            entry: dict[str, Any] = {"enabled": self.rules[rule_id]}
            if rule_id in self.rule_paths:
                entry["path"] = self.rule_paths[rule_id]
            rules[rule_id] = entry
        return {"rules": rules, "folders": {k: self.folders[k] for k in sorted(self.folders)}}

    def save(self, path: Path) -> None:
        """Write atomically (temp file + rename), so a reader never sees half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "# Rule enable/disable state: `soc rules enable|disable` and PATCH /api/v1/rules keep it.\n"
        text += yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
        fd, tmp = tempfile.mkstemp(prefix=".rules-state.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # ------------------------------------------------------------------------- queries
    def folder_enabled(self, path: str) -> bool | None:
        """The flag of the deepest configured folder containing ``path`` (``None``: no folder says)."""
        p = Path(_abs(path))
        best: tuple[int, bool] | None = None
        for folder, enabled in self.folders.items():
            fp = Path(folder)
            if (p == fp or fp in p.parents) and (best is None or len(fp.parts) > best[0]):
                best = (len(fp.parts), enabled)
        return None if best is None else best[1]

    def is_enabled(self, rule_id: str, path: str) -> bool:
        own = self.rules.get(rule_id)
        if own is not None:
            return own
        folder = self.folder_enabled(path)
        return True if folder is None else folder

    def disabled_ids(self) -> frozenset[str]:
        return frozenset(r for r, on in self.rules.items() if not on)

    # ------------------------------------------------------------------------- changes
    def set_rule(self, rule_id: str, enabled: bool, path: str | None = None) -> None:
        self.rules[rule_id] = enabled
        if path:
            self.rule_paths[rule_id] = _abs(path)

    def set_folder(self, folder: str | Path, enabled: bool) -> str:
        key = _abs(folder)
        self.folders[key] = enabled
        return key


def iter_rule_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Rule files under the given files/folders (recursive, sorted; hidden entries skipped)."""
    for path in paths:
        if path.is_dir():
            found = [
                p
                for p in path.rglob("*")
                if p.suffix.lower() in RULE_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            ]
            yield from sorted(found)
        elif path.exists():
            yield path


def file_rule_ids(path: Path) -> list[str]:
    """The ``id:`` of every document of a rule file (cheap text scan; no id -> not listed)."""
    try:
        return _ID_LINE.findall(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return []


def active_rule_files(paths: Sequence[Path], state: RuleState) -> list[Path]:
    """The rule files to load: folder-disabled files and files whose every rule is disabled are left out."""
    disabled = state.disabled_ids()
    files: list[Path] = []
    for path in iter_rule_files(paths):
        name = str(path)
        folder = state.folder_enabled(name)
        if folder is False:
            # a rule explicitly enabled inside a disabled folder keeps its file
            ids = file_rule_ids(path) if any(state.rules.values()) else []
            if not any(state.rules.get(i) for i in ids):
                continue
        elif disabled:
            ids = file_rule_ids(path)
            if ids and all(i in disabled for i in ids):
                continue
        files.append(path)
    return files


def load_active_ruleset(paths: Sequence[Path], state_file: Path | None) -> RuleSet:
    """Load the enabled rules only (the composition root's rule set for the worker).

    Rules disabled by id inside a file that also holds enabled rules are still loaded; the
    worker's :class:`~detections.rulesets.gate.ActiveDetector` drops their detections.
    """
    state = RuleState.load(state_file)
    missing = [p for p in paths if not p.exists()]
    ruleset = RuleSet.load([*active_rule_files(paths, state), *missing])
    return ruleset


def imported_sets(data_dir: Path) -> list[Path]:
    """The imported rule sets: every folder ``<data_dir>/rules/<name>/`` (sorted, hidden ones skipped)."""
    root = data_dir / IMPORTS_DIR
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def rule_paths(project_rules: Sequence[Path], data_dir: Path) -> list[Path]:
    """The active rule paths: the configured (project) rules plus every imported set."""
    out = list(project_rules)
    for extra in imported_sets(data_dir):
        if extra not in out:
            out.append(extra)
    return out
