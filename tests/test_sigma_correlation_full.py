"""Sigma correlation rules, every type, on written-out event sequences.

For each type: in order, out of order within the lateness, late beyond it (dropped and
counted), across window boundaries, group-by separation; plus aliases, chained correlations,
extended conditions and ``generate``. Firing semantics: see detections/sigma/correlation.py.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from detections.sigma import Detector, RuleSet
from detections.sigma.correlation import CorrelationConfig

T0 = datetime(2026, 11, 20, 8, 0, 0, tzinfo=UTC)

BASES = """\
title: failed login
id: 11111111-1111-4111-8111-111111111111
name: fail
logsource: {product: linux, service: syslog}
detection:
  sel: {x.act: fail}
  condition: sel
---
title: successful login
id: 22222222-2222-4222-8222-222222222222
name: ok
logsource: {product: linux, service: syslog}
detection:
  sel: {x.act: ok}
  condition: sel
---
title: data transfer
id: 33333333-3333-4333-8333-333333333333
name: xfer
logsource: {product: linux, service: syslog}
detection:
  sel: {x.act: xfer}
  condition: sel
---
title: remote session by destination
id: 44444444-4444-4444-8444-444444444444
name: session
logsource: {product: linux, service: syslog}
detection:
  sel: {x.act: session}
  condition: sel
"""


def ev(eid: str, t: float, act: str, ip: str = "10.0.0.1", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "@timestamp": (T0 + timedelta(seconds=t)).isoformat().replace("+00:00", "Z"),
        "event": {"id": eid, "dataset": "syslog.generic"},
        "x": {"act": act, **extra},
        "source": {"ip": ip},
    }
    return out


def corr(body: str, *, title: str = "corr", cid: str = "aaaaaaaa-0000-4000-8000-000000000001", name: str = "") -> str:
    head = f"title: {title}\nid: {cid}\n" + (f"name: {name}\n" if name else "")
    return head + "level: high\ncorrelation:\n" + body


def load(tmp_path: Path, *corrs: str) -> RuleSet:
    (tmp_path / "bases.yml").write_text(BASES, encoding="utf-8")
    (tmp_path / "corr.yml").write_text("\n---\n".join(corrs), encoding="utf-8")
    ruleset = RuleSet.load([tmp_path])
    assert ruleset.failures == [], ruleset.failures
    return ruleset


def run(ruleset: RuleSet, events: list[dict[str, Any]], lateness: float = 0.0, batch: int = 3) -> list[tuple[str, str]]:
    """(rule title, event id) of every detection, feeding ``events`` in batches then flushing."""
    det = Detector(ruleset, lateness_seconds=lateness, prefilter=False)  # correlation state is what is tested
    out = []
    for i in range(0, len(events), batch):
        out.extend(det.process(events[i : i + batch]))
    out.extend(det.flush())
    return [(d.rule_title, d.event_id) for d in out]


def fired(ruleset: RuleSet, events: list[dict[str, Any]], lateness: float = 0.0) -> list[str]:
    return [eid for title, eid in run(ruleset, events, lateness) if title == "corr"]


def shuffled_within(events: list[dict[str, Any]], seconds: float, seed: int) -> list[dict[str, Any]]:
    """The events in an arrival order where none comes more than ``seconds`` after a later one."""
    rng = random.Random(seed)

    def t(e: dict[str, Any]) -> float:
        return datetime.fromisoformat(e["@timestamp"].replace("Z", "+00:00")).timestamp()

    return sorted(events, key=lambda e: t(e) + rng.uniform(0, seconds))


def same_under_disorder(ruleset: RuleSet, events: list[dict[str, Any]], want: list[str]) -> None:
    """In order with lateness 0, and shuffled within 30 s with lateness 30: the same firings."""
    assert sorted(fired(ruleset, events)) == sorted(want)
    for seed in range(5):
        disordered = shuffled_within(events, 30, seed)
        assert sorted(fired(ruleset, disordered, lateness=30)) == sorted(want), seed


EVENT_COUNT = corr(
    "  type: event_count\n  rules: [fail]\n  group-by: [source.ip]\n  timespan: 1m\n  condition: {gte: 3}\n"
)


def test_event_count_in_order_out_of_order_and_boundaries(tmp_path: Path) -> None:
    ruleset = load(tmp_path, EVENT_COUNT)
    events = [
        ev("a1", 0, "fail"),
        ev("b1", 5, "fail", ip="10.0.0.2"),
        ev("a2", 10, "fail"),
        ev("a3", 20, "fail"),  # 3 within 60 s: fires, group resets
        ev("a4", 25, "fail"),
        ev("a5", 30, "fail"),
        ev("a6", 86, "fail"),  # a4 at 25 is outside [26, 86]; a5, a6 only two
        ev("a7", 90, "fail"),  # a5 at 30 in [30, 90] (bounds included): fires
        ev("b2", 100, "fail", ip="10.0.0.2"),
        ev("b3", 200, "fail", ip="10.0.0.2"),
    ]
    same_under_disorder(ruleset, events, ["a3", "a7"])
    # the base rule does not emit (generate: false)
    assert {t for t, _ in run(ruleset, events)} == {"corr"}


def test_late_event_beyond_lateness_is_dropped_and_counted(tmp_path: Path) -> None:
    ruleset = load(tmp_path, EVENT_COUNT)
    det = Detector(ruleset, lateness_seconds=10)
    assert det.process([ev("a1", 100, "fail"), ev("a2", 101, "fail"), ev("z", 200, "fail", ip="9.9.9.9")]) == []
    # time of this correlation is 200, watermark 190: an event at 102 is too late, whatever it completes
    assert det.process([ev("late", 102, "fail")]) == []
    assert det.correlation is not None and det.correlation.late_dropped == 1
    assert det.flush() == []
    # within the lateness it is accepted and fires at its event time
    det = Detector(ruleset, lateness_seconds=200)
    det.process([ev("a1", 100, "fail"), ev("a2", 101, "fail"), ev("z", 200, "fail", ip="9.9.9.9")])
    out = det.process([ev("ok", 102, "fail")]) + det.flush()
    assert [d.event_id for d in out] == ["ok"] and det.correlation is not None
    assert det.correlation.late_dropped == 0


def test_lateness_delays_emission_until_watermark(tmp_path: Path) -> None:
    det = Detector(load(tmp_path, EVENT_COUNT), lateness_seconds=60)
    assert det.process([ev("a1", 0, "fail"), ev("a2", 1, "fail"), ev("a3", 2, "fail")]) == []
    assert det.correlation is not None and det.correlation.pending == 3
    out = det.process([ev("b", 62, "fail", ip="10.9.9.9")])  # watermark 2: a3 is applied now
    assert [d.event_id for d in out] == ["a3"]


def test_unrelated_skewed_source_does_not_make_events_late(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path,
        EVENT_COUNT,
        corr(
            "  type: event_count\n  rules: [ok]\n  timespan: 1m\n  condition: {gte: 1}\n",
            title="other",
            cid="aaaaaaaa-0000-4000-8000-000000000009",
        ),
    )
    det = Detector(ruleset)
    det.process([ev("future", 10_000, "ok")])  # a source one clock-skew ahead feeds another correlation
    out = det.process([ev("a1", 0, "fail"), ev("a2", 1, "fail"), ev("a3", 2, "fail")])
    assert [d.event_id for d in out] == ["a3"]


def test_event_count_lt_is_decided_at_window_close(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path,
        corr("  type: event_count\n  rules: [ok]\n  group-by: [source.ip]\n  timespan: 1m\n  condition: {lt: 2}\n"),
    )
    events = [
        ev("one", 0, "ok"),  # window [0, 60) of .1 holds one event: fires at close
        ev("b1", 10, "ok", ip="10.0.0.2"),
        ev("b2", 20, "ok", ip="10.0.0.2"),  # .2 holds two: no
        ev("edge", 60, "ok"),  # t = 60 opens the next window of .1: [60, 120), one event: fires
        ev("late_clock", 500, "ok", ip="10.0.0.3"),  # closes .3 only at flush: fires
    ]
    same_under_disorder(ruleset, events, ["one", "edge", "late_clock"])


def test_value_count_distinct_and_group_by(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path,
        corr(
            "  type: value_count\n  rules: [fail]\n  group-by: [source.ip]\n  timespan: 5m\n"
            "  condition: {gte: 3, field: x.user}\n"
        ),
    )
    events = [
        ev("u1", 0, "fail", user="root"),
        ev("u1b", 1, "fail", user="root"),
        ev("other_ip", 2, "fail", ip="10.0.0.2", user="admin"),
        ev("u2", 3, "fail", user="admin"),
        ev("nouser", 4, "fail"),  # no value: not counted
        ev("u3", 5, "fail", user="oracle"),  # third distinct user: fires
        ev("old", 400, "fail", user="a"),
        ev("old2", 401, "fail", user="b"),
        ev("far", 800, "fail", user="c"),  # 'a', 'b' are out of the 5 min window
    ]
    same_under_disorder(ruleset, events, ["u3"])


def test_value_count_neq_and_eq_at_close(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path,
        corr("  type: value_count\n  rules: [ok]\n  timespan: 1m\n  condition: {eq: 1, field: x.user}\n"),
    )
    events = [
        ev("a", 0, "ok", user="u"),
        ev("b", 30, "ok", user="u"),
        ev("c", 70, "ok", user="u"),
        ev("d", 80, "ok", user="v"),
    ]
    same_under_disorder(ruleset, events, ["b"])


def test_temporal_all_rules_within_timespan(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path,
        corr("  type: temporal\n  rules: [fail, ok]\n  group-by: [source.ip]\n  timespan: 1m\n"),
    )
    events = [
        ev("f1", 0, "fail"),
        ev("o_other", 10, "ok", ip="10.0.0.2"),  # another group
        ev("o1", 30, "ok"),  # fail + ok within 60 s: fires
        ev("o2", 100, "ok"),
        ev("f2", 200, "fail"),  # o2 is 100 s before: no
        ev("o3", 210, "ok"),  # f2 + o3: fires (order does not matter for temporal)
    ]
    same_under_disorder(ruleset, events, ["o1", "o3"])
    reversed_order = [ev("o", 0, "ok"), ev("f", 5, "fail")]
    assert fired(ruleset, reversed_order) == ["f"]


def test_temporal_ordered(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path,
        corr("  type: temporal_ordered\n  rules: [fail, ok, xfer]\n  group-by: [source.ip]\n  timespan: 2m\n"),
    )
    events = [
        ev("x0", 0, "xfer"),  # out of sequence: ignored
        ev("o0", 1, "ok"),
        ev("f1", 10, "fail"),
        ev("o1", 20, "ok"),
        ev("x1", 30, "xfer"),  # fail -> ok -> xfer within 2 min: fires
        ev("o2", 200, "ok"),
        ev("f2", 210, "fail"),
        ev("x2", 220, "xfer"),  # ok came before fail: no
        ev("f3", 400, "fail"),
        ev("o3", 450, "ok"),
        ev("x3", 530, "xfer"),  # 130 s after f3: outside 2 min, no
    ]
    same_under_disorder(ruleset, events, ["x1"])


def test_temporal_ordered_partial_count(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path,
        corr("  type: temporal_ordered\n  rules: [fail, ok, xfer]\n  timespan: 1m\n  condition: {gte: 2}\n"),
    )
    assert fired(ruleset, [ev("o", 0, "ok"), ev("f", 1, "fail"), ev("o2", 2, "ok")]) == ["o2"]


def test_extended_conditions(tmp_path: Path) -> None:
    and_or = corr(
        "  type: temporal\n  rules: [fail, ok, xfer]\n  group-by: [source.ip]\n  timespan: 1m\n"
        "  condition: fail and (ok or xfer)\n"
    )
    ruleset = load(tmp_path, and_or)
    events = [ev("f", 0, "fail"), ev("x", 10, "xfer"), ev("o_alone", 100, "ok"), ev("x_alone", 200, "xfer")]
    same_under_disorder(ruleset, events, ["x"])
    # with 'not' the window must be complete: decided at close, fires with the window's last event
    with_not = corr(
        "  type: temporal\n  rules: [fail, ok]\n  group-by: [source.ip]\n  timespan: 1m\n  condition: fail and not ok\n"
    )
    ruleset = load(tmp_path, with_not)
    events = [
        ev("f_only", 0, "fail"),
        ev("f_then_ok", 100, "fail"),
        ev("ok", 130, "ok"),
        ev("f_only2", 300, "fail", ip="10.0.0.2"),
    ]
    same_under_disorder(ruleset, events, ["f_only", "f_only2"])


def test_extended_condition_without_rules_list(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path, corr("  type: temporal_ordered\n  group-by: [source.ip]\n  timespan: 1m\n  condition: fail and ok\n")
    )
    assert fired(ruleset, [ev("o", 0, "ok"), ev("f", 1, "fail"), ev("o2", 2, "ok")]) == ["o2"]


def test_value_sum_avg_median_percentile(tmp_path: Path) -> None:
    def make(kind: str, cond: str) -> RuleSet:
        return load(
            tmp_path,
            corr(f"  type: {kind}\n  rules: [xfer]\n  group-by: [source.ip]\n  timespan: 1m\n  condition: {cond}\n"),
        )

    events = [
        ev("s1", 0, "xfer", bytes=400),
        ev("s2", 10, "xfer", bytes="500"),
        ev("bad", 15, "xfer", bytes="lots"),  # not a number: skipped
        ev("s3", 20, "xfer", bytes=200),  # sum 1100 >= 1000: fires (sliding)
        ev("t1", 100, "xfer", bytes=10),
        ev("t2", 110, "xfer", bytes=20),
        ev("t3", 120, "xfer", bytes=900),
        ev("other", 130, "xfer", ip="10.0.0.2", bytes=5000),  # alone in its group
    ]
    same_under_disorder(make("value_sum", "{gte: 1000, field: x.bytes}"), events, ["s3", "other"])
    # averages per tumbling window of each group: [0,60): 366.7; [100,160): 310; other 5000
    same_under_disorder(make("value_avg", "{gt: 350, field: x.bytes}"), events, ["s3", "other"])
    same_under_disorder(make("value_avg", "{lt: 350, field: x.bytes}"), events, ["t3"])
    # medians: 400, 20, 5000
    same_under_disorder(make("value_median", "{lte: 20, field: x.bytes}"), events, ["t3"])
    # 90th percentile (linear): [200, 400, 500] -> 480; [10, 20, 900] -> 724; [5000] -> 5000
    same_under_disorder(make("value_percentile", "{gte: 700, field: x.bytes, percentile: 90}"), events, ["t3", "other"])
    same_under_disorder(make("value_percentile", "{lt: 500, field: x.bytes, percentile: 90}"), events, ["s3"])


def test_aliases_group_different_field_names(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path,
        corr(
            "  type: temporal\n  rules: [fail, session]\n  group-by: [host]\n  timespan: 1m\n"
            "  aliases:\n    host:\n      fail: source.ip\n      session: x.dest\n"
        ),
    )
    events = [
        ev("f", 0, "fail", ip="10.0.0.7"),
        ev("s_other", 5, "session", ip="10.0.0.1", dest="10.0.0.8"),
        ev("s", 10, "session", ip="10.0.0.1", dest="10.0.0.7"),  # same host value 10.0.0.7: fires
    ]
    same_under_disorder(ruleset, events, ["s"])


def test_chained_correlations_and_generate(tmp_path: Path) -> None:
    brute = corr(
        "  type: event_count\n  rules: [fail]\n  group-by: [source.ip]\n  timespan: 1m\n  condition: {gte: 3}\n"
        "  generate: true\n",
        title="brute force",
        cid="aaaaaaaa-0000-4000-8000-000000000002",
        name="brute",
    )
    success_after = corr(
        "  type: temporal_ordered\n  rules: [brute, ok]\n  group-by: [source.ip]\n  timespan: 5m\n",
        title="corr",
    )
    ruleset = load(tmp_path, success_after, brute)  # the parent is listed first: order does not matter
    events = [
        ev("f1", 0, "fail"),
        ev("f2", 1, "fail"),
        ev("f3", 2, "fail"),  # brute force fires (a child of 'corr': it does not emit, corr.generate is false)
        ev("o_other", 3, "ok", ip="10.0.0.2"),
        ev("o1", 30, "ok"),  # success after brute force from the same source: fires
    ]
    got = run(ruleset, events)
    # 'brute' has generate: true, so its base rule emits; 'corr' has not, so 'brute' itself does not
    assert sorted(got) == sorted(
        [("failed login", "f1"), ("failed login", "f2"), ("failed login", "f3"), ("corr", "o1")]
    )
    for seed in range(3):
        assert sorted(run(ruleset, shuffled_within(events, 30, seed), lateness=30)) == sorted(got)


def test_reference_errors_and_cycles_are_failures(tmp_path: Path) -> None:
    (tmp_path / "bases.yml").write_text(BASES, encoding="utf-8")
    (tmp_path / "corr.yml").write_text(
        corr("  type: event_count\n  rules: [b_corr]\n  timespan: 1m\n  condition: {gte: 1}\n", name="a_corr")
        + "\n---\n"
        + corr(
            "  type: event_count\n  rules: [a_corr]\n  timespan: 1m\n  condition: {gte: 1}\n",
            cid="aaaaaaaa-0000-4000-8000-000000000003",
            name="b_corr",
        )
        + "\n---\n"
        + corr(
            "  type: event_count\n  rules: [nope]\n  timespan: 1m\n  condition: {gte: 1}\n",
            cid="aaaaaaaa-0000-4000-8000-000000000004",
        ),
        encoding="utf-8",
    )
    ruleset = RuleSet.load([tmp_path])
    reasons = sorted(f.reason for f in ruleset.failures)
    assert len(reasons) == 3
    assert sum("cycle" in r for r in reasons) == 2 and any("'nope' not found" in r for r in reasons)
    assert all(f.line == 7 or f.line is not None for f in ruleset.failures)
    assert [r.kind for r in ruleset.rules] == ["detection"] * 4


def test_memory_stays_bounded(tmp_path: Path) -> None:
    ruleset = load(tmp_path, EVENT_COUNT)
    det = Detector(ruleset, correlation=CorrelationConfig(max_groups=50, max_entries_per_group=5))
    # 1,000 distinct sources, one failure each, then 20 failures of one source spread over 10 min
    det.process([ev(f"s{i}", i * 0.01, "fail", ip=f"10.1.{i // 250}.{i % 250}") for i in range(1000)])
    assert det.correlation is not None and det.correlation.group_count() <= 50
    assert det.correlation.groups_evicted >= 950
    det.process([ev(f"r{i}", 20 + i * 30, "fail", ip="10.9.9.9") for i in range(20)])
    assert det.correlation.group_count() <= 50


def test_invalid_config_is_refused() -> None:
    with pytest.raises(ValueError, match="lateness"):
        CorrelationConfig(lateness_seconds=-1)
    with pytest.raises(ValueError, match="lateness"):
        CorrelationConfig(lateness_seconds=math.nan)


def test_infinite_lateness_decides_at_flush_in_event_time_order(tmp_path: Path) -> None:
    ruleset = load(tmp_path, EVENT_COUNT)
    events = [ev(f"a{i}", t, "fail") for i, t in enumerate([50, 40, 30, 20, 10, 0])]  # fully reversed
    det = Detector(ruleset, lateness_seconds=math.inf)
    assert det.process(events) == []
    assert [d.event_id for d in det.flush()] == ["a3", "a0"]  # t=20 completes 0,10,20; t=50 completes 30,40,50
