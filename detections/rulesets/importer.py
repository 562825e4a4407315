"""``soc rules import``: bring a SigmaHQ checkout or release archive into ``<data_dir>/rules/<name>/``.

Neighbours: :mod:`detections.rulesets.archive` unpacks archives safely; :func:`detections.sigma.check_rules`
validates what was imported; :func:`detections.rulesets.state.rule_paths` makes every imported set
part of the active rule set (the worker loads it at its next start). Each import is recorded in
``<data_dir>/rule-imports.json`` (source, time, counts).

Only rule files are taken: in a SigmaHQ layout (top-level ``rules*`` folders) those folders, else
every ``*.yml``/``*.yaml`` under the source; hidden folders (``.github``...), symbolic links and
oversized files are skipped and reported. Re-importing under the same name replaces the set.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from detections.rulesets.archive import Limits, archive_kind, safe_extract
from detections.rulesets.state import IMPORTS_DIR, RULE_SUFFIXES
from detections.sigma import RuleFailure, check_rules
from soc_core.errors import InputError

IMPORTS_FILE = "rule-imports.json"
MAX_RULE_BYTES = 1024 * 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SKIP_TOP = {"deprecated", "unsupported", "regression_data", "tests", "tools"}


@dataclass
class ImportReport:
    name: str
    source: str
    dest: str
    imported_at: float
    files: int = 0
    loaded: int = 0
    failures: list[RuleFailure] = field(default_factory=list)
    warnings: list[RuleFailure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "path: reason"

    def record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "dest": self.dest,
            "imported_at": self.imported_at,
            "files": self.files,
            "loaded": self.loaded,
            "failed": len(self.failures),
            "warnings": len(self.warnings),
            "skipped": len(self.skipped),
        }


def default_name(source: Path) -> str:
    name = source.name
    for suffix in (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._") or "imported"
    return name[:64]


def _rule_roots(root: Path) -> tuple[Path, list[Path]]:
    """Where the rules are inside an unpacked source (SigmaHQ layout aware)."""
    entries = [p for p in root.iterdir() if not p.name.startswith(".")]
    # a release archive often wraps everything in one top folder
    while len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        if entries[0].name.startswith("rules"):
            break
        root = entries[0]
        entries = [p for p in root.iterdir() if not p.name.startswith(".")]
    sigma_dirs = [p for p in entries if p.is_dir() and not p.is_symlink() and p.name.startswith("rules")]
    if sigma_dirs:
        return root, sorted(sigma_dirs)
    return root, [root]


def _copy_rules(root: Path, out: Path, report: ImportReport, limits: Limits) -> None:
    total = 0
    root, bases = _rule_roots(root)
    for base in bases:
        prefix = base.relative_to(root) if base != root else Path()
        for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
            here = Path(dirpath)
            keep = []
            for d in sorted(dirnames):
                if d.startswith(".") or (here == root and d in _SKIP_TOP):
                    continue
                if (here / d).is_symlink():
                    report.skipped.append(f"{here / d}: symbolic link refused")
                    continue
                keep.append(d)
            dirnames[:] = keep
            for name in sorted(filenames):
                src = here / name
                if name.startswith(".") or src.suffix.lower() not in RULE_SUFFIXES:
                    continue
                if src.is_symlink():
                    report.skipped.append(f"{src}: symbolic link refused")
                    continue
                size = src.stat().st_size
                if size > MAX_RULE_BYTES:
                    report.skipped.append(f"{src}: file too large ({size} bytes, limit {MAX_RULE_BYTES})")
                    continue
                total += size
                if total > limits.total_bytes:
                    raise InputError(f"rule files larger than {limits.total_bytes} bytes in total", source=str(root))
                if report.files >= limits.members:
                    raise InputError(f"more than {limits.members} rule files", source=str(root))
                dest = out / prefix / src.relative_to(base)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest, follow_symlinks=False)
                report.files += 1


def import_rules(
    source: Path, data_dir: Path, name: str | None = None, *, limits: Limits | None = None
) -> ImportReport:
    """Import a checkout folder or a ``.zip``/``.tar(.gz)`` archive; raises InputError when unusable."""
    limits = limits or Limits()
    if not source.exists():
        raise InputError("no such file or directory", source=str(source))
    name = name or default_name(source)
    if not _NAME.match(name) or name in {".", ".."}:
        raise InputError(f"invalid rule set name {name!r}: letters, digits, '.', '_' and '-' (max 64)")
    rules_root = data_dir / IMPORTS_DIR
    rules_root.mkdir(parents=True, exist_ok=True)
    dest = rules_root / name
    report = ImportReport(name, str(source.resolve()), str(dest.resolve()), time.time())
    staging = Path(tempfile.mkdtemp(prefix=f".import-{name}-", dir=rules_root))
    try:
        if source.is_dir():
            tree = source
        else:
            if archive_kind(source) is None:
                raise InputError("not a folder, zip or tar archive", source=str(source))
            tree = staging / "unpacked"
            safe_extract(source, tree, limits)
        out = staging / "rules"
        out.mkdir()
        _copy_rules(tree, out, report, limits)
        if report.files == 0:
            raise InputError("no rule files (*.yml, *.yaml) found", source=str(source))
        old = rules_root / f".old-{name}-{os.getpid()}"
        if dest.exists():
            dest.rename(old)
        out.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    loaded, problems = check_rules([dest])
    report.loaded = loaded
    report.failures = [p for p in problems if p.severity == "error"]
    report.warnings = [p for p in problems if p.severity != "error"]
    _record(data_dir, report)
    return report


def _record(data_dir: Path, report: ImportReport) -> None:
    path = data_dir / IMPORTS_FILE
    history = list_imports(data_dir)
    history.append(report.record())
    tmp = path.with_suffix(".json.tmp")
    tmp.write_bytes(orjson.dumps(history, option=orjson.OPT_INDENT_2))
    os.replace(tmp, path)


def list_imports(data_dir: Path) -> list[dict[str, Any]]:
    """Every recorded import, oldest first."""
    path = data_dir / IMPORTS_FILE
    if not path.is_file():
        return []
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return []
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []
