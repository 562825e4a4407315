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


PLACEHOLDER_RULE = """\
title: Login by a provincial admin account
id: 0b7e8a52-5c1e-4c3f-9d0e-5f1f5b3c2a10
status: experimental
logsource:
  product: linux
  service: sshd
detection:
  selection:
    user.name|expand: '%admin_accounts%'
  condition: selection
level: medium
"""


def test_placeholders_option_fills_expand_rules_for_check_and_detect(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "admins.yml").write_text(PLACEHOLDER_RULE, encoding="utf-8")
    values = tmp_path / "placeholders.yml"
    values.write_text("admin_accounts: [quantri, root]\n", encoding="utf-8")
    logs = tmp_path / "auth.log"
    logs.write_text(
        "Nov 20 08:15:30 web01 sshd[42]: Accepted password for quantri from 10.1.2.3 port 50022 ssh2\n"
        "Nov 20 08:15:31 web01 sshd[43]: Accepted password for nguyenvana from 10.1.2.4 port 50023 ssh2\n",
        encoding="utf-8",
    )

    unset = soc("rules", "check", str(rules))
    assert "admin_accounts" in unset.stdout, unset.stdout  # listed with its reason, not silently dead
    filled = soc("rules", "check", str(rules), "--placeholders", str(values))
    assert filled.returncode == 0 and "admin_accounts" not in filled.stdout, filled.stdout + filled.stderr

    proc = soc("detect", "--rules", str(rules), "--input", str(logs), "--placeholders", str(values))
    assert proc.returncode == 0, proc.stderr
    users = [json.loads(line)["event"]["user"]["name"] for line in proc.stdout.splitlines()]
    assert users == ["quantri"]

    bad = tmp_path / "bad.yml"
    bad.write_text("admin_accounts: [quantri\n", encoding="utf-8")
    broken = soc("rules", "check", str(rules), "--placeholders", str(bad))
    assert broken.returncode != 0 and "bad.yml" in broken.stderr
