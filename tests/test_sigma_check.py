"""check_rules / RuleSet.load on broken and hostile rule files: a RuleFailure with file:line, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from detections.sigma import RuleSet, check_rules
from detections.sigma.loader import MAX_FILE_BYTES

GOOD = """\
title: good rule
id: 6c1d8f0e-2b3a-4c5d-8e9f-0a1b2c3d4e5f
logsource:
  product: linux
  service: sshd
detection:
  selection:
    event.outcome: failure
  condition: selection
"""


def write(tmp_path: Path, text: str | bytes, name: str = "rule.yml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def only_failure(path: Path) -> tuple[int | None, str]:
    ok, failures = check_rules([path])
    assert ok == 0
    assert len(failures) == 1, failures
    [failure] = failures
    assert failure.path == str(path) and failure.severity == "error"
    return failure.line, failure.reason


def test_good_rule_loads(tmp_path: Path) -> None:
    assert check_rules([write(tmp_path, GOOD)]) == (1, [])


def test_broken_yaml(tmp_path: Path) -> None:
    text = GOOD.replace("    event.outcome: failure", "    event.outcome: [failure\n  oops: {")
    line, reason = only_failure(write(tmp_path, text))
    assert reason.startswith("invalid YAML")
    assert line is not None and line >= 8


def test_unknown_modifier_points_at_key(tmp_path: Path) -> None:
    text = GOOD.replace("event.outcome: failure", "event.outcome|containz: failure")
    line, reason = only_failure(write(tmp_path, text))
    assert line == 8
    assert "Unknown modifier 'containz'" in reason


def test_bad_condition_points_at_condition(tmp_path: Path) -> None:
    line, reason = only_failure(write(tmp_path, GOOD.replace("condition: selection", "condition: selection and (")))
    assert line == 9 and "SigmaConditionError" in reason


def test_undefined_identifier_in_condition(tmp_path: Path) -> None:
    line, reason = only_failure(
        write(tmp_path, GOOD.replace("condition: selection", "condition: selection and filter"))
    )
    assert line == 9 and "'filter' not defined" in reason


def test_invalid_regex(tmp_path: Path) -> None:
    line, reason = only_failure(write(tmp_path, GOOD.replace("event.outcome: failure", "event.outcome|re: '(['")))
    assert line == 8 and "invalid" in reason.lower()


def test_missing_detection_and_condition(tmp_path: Path) -> None:
    no_detection = GOOD.split("detection:", maxsplit=1)[0]
    line, reason = only_failure(write(tmp_path, no_detection, "a.yml"))
    assert line == 1 and "detection" in reason
    no_condition = GOOD.replace("  condition: selection\n", "")
    line, reason = only_failure(write(tmp_path, no_condition, "b.yml"))
    assert line == 6 and "condition" in reason


@pytest.mark.parametrize(
    ("text", "needle", "line"),
    [
        ("- just\n- a list\n", "must be a mapping", 1),
        ("42\n", "must be a mapping", 1),
        (GOOD.replace("event.outcome: failure", "event.outcome: {nested: map}"), "Unsupported type", 8),
        (GOOD.replace("event.outcome: failure", "1: x"), "keys must be strings", 8),
        ("title: [1, 2]\nlogsource: {product: linux}\ndetection: {sel: {a: 1}, condition: sel}\n", "title", 1),
        (GOOD.replace("detection:", "detection: 5\nx:"), "detection", 6),
        (GOOD.replace("id: 6c1d8f0e-2b3a-4c5d-8e9f-0a1b2c3d4e5f", "id: not-a-uuid"), "UUID", 2),
        (GOOD.replace("product: linux", "product: {a: b}"), "Sigma", 3),
        ("? [a, b]\n: 1\ntitle: x\n", "yaml", 1),
    ],
)
def test_wrong_types(tmp_path: Path, text: str, needle: str, line: int) -> None:
    got_line, reason = only_failure(write(tmp_path, text))
    assert needle.lower() in reason.lower()
    assert got_line == line


def test_binary_garbage(tmp_path: Path) -> None:
    line, reason = only_failure(write(tmp_path, b"title: x\n\x00\x01\x02\xff\xfe binary"))
    assert line == 2 and "binary" in reason


def test_invalid_utf8(tmp_path: Path) -> None:
    line, reason = only_failure(write(tmp_path, GOOD.encode() + b"# \xff\xfe\n"))
    assert line == 10 and "UTF-8" in reason


def test_huge_file(tmp_path: Path) -> None:
    text = GOOD + "#" * (MAX_FILE_BYTES + 10) + "\n"
    line, reason = only_failure(write(tmp_path, text))
    assert line is None and "too large" in reason


def test_alias_bomb(tmp_path: Path) -> None:
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        prev = f"*a{i - 1}"
        bomb.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    text = "\n".join(bomb) + "\n" + GOOD
    line, reason = only_failure(write(tmp_path, text))
    assert line == 1 and "too large" in reason


def test_recursive_alias(tmp_path: Path) -> None:
    line, reason = only_failure(write(tmp_path, "title: &t [*t]\n" + GOOD.split("\n", 1)[1]))
    assert line == 1 and ("too large" in reason or "deeper" in reason)


def test_deep_nesting(tmp_path: Path) -> None:
    text = "title: " + "[" * 200 + "]" * 200 + "\n"
    _, reason = only_failure(write(tmp_path, text))
    assert "deeper" in reason or "invalid YAML" in reason


def test_empty_file(tmp_path: Path) -> None:
    _, reason = only_failure(write(tmp_path, ""))
    assert "empty" in reason


def test_directory_recursion_and_mixed_files(tmp_path: Path) -> None:
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    write(tmp_path / "sub", GOOD, "ok.yml")
    write(tmp_path / "sub" / "deeper", GOOD.replace("6c1d8f0e", "7c1d8f0e"), "ok2.yaml")
    write(tmp_path / "sub", "title: [", "bad.yml")
    write(tmp_path, b"\x00\x00", "bin.yml")
    write(tmp_path, "not a rule", "notes.txt")
    ok, failures = check_rules([tmp_path])
    assert ok == 2
    assert sorted(Path(f.path).name for f in failures) == ["bad.yml", "bin.yml"]


def test_multi_document_file_reports_each_document(tmp_path: Path) -> None:
    second = GOOD.replace("6c1d8f0e", "8c1d8f0e").replace("event.outcome: failure", "event.outcome|nope: x")
    path = write(tmp_path, GOOD + "---\n" + second)
    ok, failures = check_rules([path])
    assert ok == 1
    [failure] = failures
    assert failure.line == 18 and "nope" in failure.reason


def test_missing_path(tmp_path: Path) -> None:
    ok, failures = check_rules([tmp_path / "nope.yml"])
    assert ok == 0 and "no such file" in failures[0].reason


def test_unroutable_logsource_is_warning_with_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("product: linux\n  service: sshd", "product: okta\n  service: okta"))
    ok, failures = check_rules([path])
    assert ok == 1
    [warning] = failures
    assert warning.severity == "warning" and warning.line == 3
    assert "not routed" in warning.reason and str(warning).startswith(f"{path}:3: warning:")


def test_loaded_rule_set_keeps_good_rules(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "good.yml")
    write(tmp_path, GOOD.replace("6c1d8f0e", "9c1d8f0e").replace("condition: selection", "condition: ("), "bad.yml")
    ruleset = RuleSet.load([tmp_path])
    assert [r.title for r in ruleset.rules] == ["good rule"]
    assert [Path(f.path).name for f in ruleset.failures] == ["bad.yml"]
