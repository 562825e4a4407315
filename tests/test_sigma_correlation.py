"""Sigma correlation rules (event_count, value_count): windows, groups, reset, generate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from detections.sigma import Detector, RuleSet

BASE_ID = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
CORR_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
T0 = datetime(2026, 11, 20, 8, 0, 0, tzinfo=UTC)

BASE = f"""\
title: SSH failed login
id: {BASE_ID}
name: ssh_failed
level: low
logsource: {{product: linux, service: sshd}}
detection:
  sel:
    event.action: ssh_login
    event.outcome: failure
  condition: sel
"""


def correlation(
    *,
    kind: str = "event_count",
    rules: str = "ssh_failed",
    group_by: str = "[source.ip]",
    timespan: str = "60s",
    condition: str = "{gte: 5}",
    generate: bool = False,
) -> str:
    return f"""\
title: SSH brute force
id: {CORR_ID}
level: high
tags: [attack.t1110.001]
correlation:
  type: {kind}
  rules: [{rules}]
  group-by: {group_by}
  timespan: {timespan}
  condition: {condition}
  generate: {"true" if generate else "false"}
"""


def load(tmp_path: Path, corr: str) -> RuleSet:
    (tmp_path / "base.yml").write_text(BASE, encoding="utf-8")
    (tmp_path / "corr.yml").write_text(corr, encoding="utf-8")
    ruleset = RuleSet.load([tmp_path])
    assert ruleset.failures == [], ruleset.failures
    return ruleset


def failed(ip: str, seconds: float, user: str = "root", outcome: str = "failure") -> dict[str, Any]:
    ts = (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")
    return {
        "@timestamp": ts,
        "event": {
            "id": f"{ip}-{seconds}-{user}",
            "dataset": "system.auth",
            "module": "sshd",
            "action": "ssh_login",
            "outcome": outcome,
        },
        "source": {"ip": ip},
        "user": {"name": user},
    }


def test_event_count_fires_once_per_threshold_and_resets(tmp_path: Path) -> None:
    det = Detector(load(tmp_path, correlation()))
    out = det.process([failed("1.2.3.4", i) for i in range(12)])
    # 12 attempts, threshold 5 -> fires at the 5th and the 10th; the base rule emits nothing
    assert [d.rule_id for d in out] == [CORR_ID, CORR_ID]
    assert [d.event["event"]["id"] for d in out] == ["1.2.3.4-4-root", "1.2.3.4-9-root"]
    first = out[0]
    assert first.level == "high" and first.tags == ("attack.t1110.001",) and first.rule_title == "SSH brute force"
    assert first.entity == {"source.ip": "1.2.3.4", "user.name": "root"}
    assert first.dedup_key == f"{CORR_ID}|source.ip=1.2.3.4|user.name=root"


def test_state_carries_across_batches(tmp_path: Path) -> None:
    det = Detector(load(tmp_path, correlation()))
    assert det.process([failed("1.2.3.4", 0), failed("1.2.3.4", 1)]) == []
    assert det.process([failed("1.2.3.4", 2), failed("1.2.3.4", 3)]) == []
    out = det.process([failed("1.2.3.4", 4)])
    assert len(out) == 1 and out[0].timestamp == "2026-11-20T08:00:04Z"


def test_window_expiry(tmp_path: Path) -> None:
    det = Detector(load(tmp_path, correlation()))
    # one attempt every 20 s: never 5 within 60 s
    assert det.process([failed("1.2.3.4", i * 20) for i in range(20)]) == []
    # 4 old ones, then 5 fast ones later: only the fast burst counts
    det2 = Detector(load(tmp_path, correlation()))
    events = [failed("5.5.5.5", i) for i in range(4)] + [failed("5.5.5.5", 300 + i) for i in range(5)]
    out = det2.process(events)
    assert [d.event["event"]["id"] for d in out] == ["5.5.5.5-304-root"]


def test_group_by_separates_sources(tmp_path: Path) -> None:
    det = Detector(load(tmp_path, correlation()))
    events = []
    for i in range(5):
        events.append(failed("10.0.0.1", i))
        events.append(failed("10.0.0.2", i + 0.5))
    events.append(failed("10.0.0.3", 10))
    out = det.process(events)
    assert [d.entity["source.ip"] for d in out] == ["10.0.0.1", "10.0.0.2"]


def test_only_base_rule_matches_count(tmp_path: Path) -> None:
    det = Detector(load(tmp_path, correlation()))
    events = [failed("1.2.3.4", i, outcome="success") for i in range(10)]
    assert det.process(events) == []


def test_generate_true_lets_base_rule_emit(tmp_path: Path) -> None:
    det = Detector(load(tmp_path, correlation(generate=True, condition="{gte: 3}")))
    out = det.process([failed("1.2.3.4", i) for i in range(3)])
    assert [d.rule_id for d in out] == [BASE_ID, BASE_ID, BASE_ID, CORR_ID]
    assert out[0].level == "low"


def test_reference_by_id_and_gt(tmp_path: Path) -> None:
    det = Detector(load(tmp_path, correlation(rules=BASE_ID, condition="{gt: 3}")))
    out = det.process([failed("1.2.3.4", i) for i in range(8)])
    assert [d.event["event"]["id"] for d in out] == ["1.2.3.4-3-root", "1.2.3.4-7-root"]


def test_group_by_several_fields(tmp_path: Path) -> None:
    det = Detector(load(tmp_path, correlation(group_by="[source.ip, user.name]", condition="{gte: 2}")))
    out = det.process([failed("1.1.1.1", 0, "a"), failed("1.1.1.1", 1, "b"), failed("1.1.1.1", 2, "a")])
    assert [d.event["event"]["id"] for d in out] == ["1.1.1.1-2-a"]


def test_value_count_distinct_users(tmp_path: Path) -> None:
    corr = correlation(kind="value_count", condition="{gte: 3, field: user.name}", timespan="5m")
    det = Detector(load(tmp_path, corr))
    users = ["root", "root", "admin", "root", "oracle", "x"]
    out = det.process([failed("9.9.9.9", i, u) for i, u in enumerate(users)])
    assert [d.event["user"]["name"] for d in out] == ["oracle"]


def test_lt_fires_when_window_closes(tmp_path: Path) -> None:
    det = Detector(load(tmp_path, correlation(condition="{lt: 3}", timespan="60s")))
    # two attempts, then time moves on (another source's event 10 minutes later)
    assert det.process([failed("1.1.1.1", 0), failed("1.1.1.1", 5)]) == []
    out = det.process([failed("2.2.2.2", 600)])
    assert [d.event["event"]["id"] for d in out] == ["1.1.1.1-5-root"]
    # a window with 3 attempts does not satisfy lt 3
    det2 = Detector(load(tmp_path, correlation(condition="{lt: 3}", timespan="60s")))
    assert det2.process([failed("1.1.1.1", i) for i in range(3)] + [failed("2.2.2.2", 600)]) == []


def test_unknown_reference_and_unsupported_type_are_failures(tmp_path: Path) -> None:
    (tmp_path / "base.yml").write_text(BASE, encoding="utf-8")
    (tmp_path / "corr.yml").write_text(correlation(rules="no_such_rule"), encoding="utf-8")
    ruleset = RuleSet.load([tmp_path])
    [failure] = ruleset.failures
    assert failure.path.endswith("corr.yml") and failure.line is not None
    assert "no_such_rule" in failure.reason
    (tmp_path / "corr.yml").write_text(
        correlation(kind="value_percentile", condition="{gte: 2, field: user.name}"), encoding="utf-8"
    )
    ruleset = RuleSet.load([tmp_path])
    assert len(ruleset.failures) == 1 and "percentile" in ruleset.failures[0].reason
    # the base rule is then an ordinary rule again
    assert len(Detector(ruleset).process([failed("1.2.3.4", 0)])) == 1


def test_rule_infos_list_both_kinds(tmp_path: Path) -> None:
    ruleset = load(tmp_path, correlation())
    assert sorted((r.kind, r.id) for r in ruleset.rules) == [("correlation", CORR_ID), ("detection", BASE_ID)]


def test_group_by_sigma_field_is_mapped(tmp_path: Path) -> None:
    base = """\
title: wp login
id: 1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9
name: wp_login
logsource: {category: webserver}
detection:
  sel: {c-uri|contains: wp-login.php}
  condition: sel
"""
    corr = correlation(rules="wp_login", group_by="[c-ip]", condition="{gte: 2}")
    (tmp_path / "b.yml").write_text(base, encoding="utf-8")
    (tmp_path / "c.yml").write_text(corr, encoding="utf-8")
    ruleset = RuleSet.load([tmp_path])
    assert ruleset.failures == []

    def hit(ip: str, n: int) -> dict[str, Any]:
        return {
            "@timestamp": f"2026-11-20T08:00:0{n}Z",
            "event": {"id": f"{ip}-{n}", "dataset": "nginx.access"},
            "url": {"original": "/wp-login.php"},
            "source": {"ip": ip},
        }

    out = Detector(ruleset).process([hit("1.1.1.1", 0), hit("2.2.2.2", 1), hit("1.1.1.1", 2)])
    assert [d.event["event"]["id"] for d in out] == ["1.1.1.1-2"]
