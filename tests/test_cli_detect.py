"""`soc detect` as a user runs it: the installed CLI over generated provincial logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from soc_demo.generator import generate

REPO = Path(__file__).resolve().parent.parent


def soc(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "soc_cli.main", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=300
    )


def test_detect_matches_equal_generator_ground_truth(tmp_path: Path) -> None:
    out = tmp_path / "logs"
    truth = generate(out, seed=11)
    assert truth, "generator produced no attack scenarios"
    logs = sorted(p for p in out.iterdir() if p.name != "ground_truth.jsonl")
    proc = soc("detect", "--rules", "detections/rules", *(a for p in logs for a in ("--input", str(p))))
    assert proc.returncode == 0, proc.stderr
    matches = [json.loads(line) for line in proc.stdout.splitlines()]
    for m in matches:
        assert {"rule_id", "rule_title", "level", "event_id", "@timestamp", "event"} <= set(m)
        assert m["event"]["event"]["id"] == m["event_id"]
        assert "log" in m["event"] and "file" in m["event"]["log"]
    got = {(m["rule_id"], Path(m["event"]["log"]["file"]["path"]).name, m["event"]["log"]["offset"]) for m in matches}
    want = {(t.rule_id, Path(t.file).name, t.offset) for t in truth}
    assert got == want, f"missing: {sorted(want - got)[:10]}\nunexpected: {sorted(got - want)[:10]}"
    summary = json.loads(proc.stderr.strip().splitlines()[-1])["summary"]
    assert summary["matches"] == len(matches)
    assert summary["rules_loaded"] >= 15 and summary["rules_failed"] == 0
    assert summary["events"] > len(matches)


def test_detect_counts_bad_records_instead_of_crashing(tmp_path: Path) -> None:
    f = tmp_path / "mixed.log"
    good = b'203.0.113.5 - - [20/Nov/2026:08:15:30 +0700] "GET /?id=1%20union%20select%20password%20from%20users HTTP/1.1" 200 512 "-" "sqlmap/1.7"\n'
    f.write_bytes(b"\x00\x01\x02\xff\xfe binary junk\n" + good + b"\xff" * 100 + b"\n")
    proc = soc("detect", "--rules", "detections/rules", "--input", str(f), "--input-format", "nginx")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stderr.strip().splitlines()[-1])["summary"]
    assert summary["bad_records"] >= 1
    assert summary["events"] >= 1
    assert proc.stdout.strip(), "the valid SQL-injection line must still match"


def test_detect_unusable_input_exits_nonzero_with_message(tmp_path: Path) -> None:
    proc = soc("detect", "--rules", "detections/rules", "--input", str(tmp_path / "nope.log"))
    assert proc.returncode != 0
    assert "nope.log" in proc.stderr
    proc = soc("detect", "--rules", "detections/rules", "--input", str(tmp_path), "--input-format", "bogus")
    assert proc.returncode != 0
    assert "bogus" in proc.stderr


def test_rules_check_reports_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "title: broken\nlogsource:\n  product: linux\ndetection:\n  sel:\n    a|nosuchmodifier: x\n  condition: sel\n"
    )
    proc = soc("rules", "check", str(bad))
    assert proc.returncode == 1
    assert str(bad) in proc.stdout
    proc = soc("rules", "check", "detections/rules")
    assert proc.returncode == 0, proc.stdout
