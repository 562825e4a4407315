"""`soc detect` over EVTX input: one file, a folder of files, and damaged files.

Uses SigmaHQ regression samples (copied into tmp_path) with the rules they belong to.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.evtx_corpus import RegressionCase, corpus_rule_dirs, index_rule_files, regression_cases

REPO = Path(__file__).resolve().parent.parent
SAMPLES = 3
# Samples of rules in these SigmaHQ folders are Sysmon events, which the shipped mapping routes.
SYSMON_CATEGORIES = {"process_creation", "image_load", "pipe_created", "registry_set", "network_connection"}


def soc(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "soc_cli.main", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=300
    )


def _samples(corpus: Path, tmp: Path) -> list[tuple[RegressionCase, Path, Path]]:
    """(case, copied evtx, rule file) for a few single-match samples, each copied into ``tmp``."""
    rules = index_rule_files(corpus_rule_dirs(corpus))
    picked: list[tuple[RegressionCase, Path, Path]] = []
    for case in regression_cases(corpus):
        rule = rules.get(case.rule_id)
        if case.match_count != 1 or rule is None or not SYSMON_CATEGORIES & set(rule.parts):
            continue
        copy = tmp / f"{len(picked)}-{case.evtx.name}"
        shutil.copyfile(case.evtx, copy)
        picked.append((case, copy, rule))
        if len(picked) == SAMPLES:
            break
    assert len(picked) == SAMPLES, "the corpus has too few single-match EVTX samples"
    return picked


def _summary(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(proc.stderr.strip().splitlines()[-1])["summary"]
    return summary


def _matches(proc: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def _rules_args(rule_files: list[Path]) -> list[str]:
    return [a for p in rule_files for a in ("--rules", str(p))]


def test_detect_one_evtx_file(sigma_corpus: Path, tmp_path: Path) -> None:
    case, evtx, rule = _samples(sigma_corpus, tmp_path)[0]
    proc = soc("detect", *_rules_args([rule]), "--input", str(evtx))
    assert proc.returncode == 0, proc.stderr
    matches = _matches(proc)
    assert matches and {m["rule_id"] for m in matches} == {case.rule_id}
    event = matches[0]["event"]
    assert isinstance(event["winlog"]["record_id"], int)
    assert Path(event["log"]["file"]["path"]).resolve() == evtx.resolve()
    summary = _summary(proc)
    assert summary["files"] == 1 and summary["matches"] == len(matches) and summary["bad_records"] == 0
    assert summary["events"] >= 1


def test_detect_folder_of_evtx_files(sigma_corpus: Path, tmp_path: Path) -> None:
    folder = tmp_path / "evtx"
    folder.mkdir()
    picked = _samples(sigma_corpus, folder)
    proc = soc("detect", *_rules_args([r for _, _, r in picked]), "--input", str(folder))
    assert proc.returncode == 0, proc.stderr
    matches = _matches(proc)
    want = {(case.rule_id, evtx.resolve()) for case, evtx, _ in picked}
    got = {(m["rule_id"], Path(m["event"]["log"]["file"]["path"]).resolve()) for m in matches}
    assert want <= got, f"missing {want - got}"
    assert all(isinstance(m["event"]["winlog"]["record_id"], int) for m in matches)
    summary = _summary(proc)
    assert summary["files"] == SAMPLES and summary["bad_records"] == 0
    assert summary["matches"] == len(matches)


def test_damaged_evtx_gives_dead_letters_not_tracebacks(sigma_corpus: Path, tmp_path: Path) -> None:
    (case, good, rule), (_, other, _), _ = _samples(sigma_corpus, tmp_path)
    data = other.read_bytes()
    truncated = tmp_path / "truncated.evtx"
    truncated.write_bytes(data[: 4096 + 3000])  # header intact, the only chunk cut short
    garbled = tmp_path / "garbled.evtx"
    garbled.write_bytes(data[: 4096 + 600] + b"\xaa" * 2400 + data[4096 + 3000 :])  # chunk body overwritten
    proc = soc("detect", *_rules_args([rule]), "--input", str(good), "--input", str(truncated), "--input", str(garbled))
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0, proc.stderr
    summary = _summary(proc)
    assert summary["files"] == 3
    assert summary["bad_records"] >= 2, "each damaged file must leave at least one dead letter"
    matched = _matches(proc)
    assert matched and {m["rule_id"] for m in matched} == {case.rule_id}, "the intact file is still evaluated"
    assert {Path(m["event"]["log"]["file"]["path"]).name for m in matched} == {good.name}


def test_evtx_named_file_that_is_not_evtx_exits_nonzero(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.evtx"
    bogus.write_bytes(b"not an event log at all\n" * 100)
    proc = soc("detect", "--rules", "detections/rules", "--input", str(bogus), "--input-format", "evtx")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "bogus.evtx" in proc.stderr and "EVTX" in proc.stderr
