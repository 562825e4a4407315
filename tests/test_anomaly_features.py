"""Anomaly models: exact features on a written-out event list, window closing, lateness, memory cap."""

from __future__ import annotations

from typing import Any

import pytest

from detections.models.features import FEATURE_NAMES, model_input
from detections.models.train import feature_rows
from detections.models.windows import WindowConfig, WindowTracker


def ev(ts: str, ip: str = "203.0.113.9", **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "@timestamp": ts,
        "event": {"dataset": extra.pop("dataset", "nginx.access"), "id": extra.pop("id", ts + ip)},
        "source": {"ip": ip},
    }
    for path, value in extra.items():
        node = event
        *parents, leaf = path.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return event


EVENTS = [
    # 2026-11-20 15:00Z = 22:00 ICT (night); 15:01 and 15:02 too; the window is [15:00, 15:05)
    ev(
        "2026-11-20T15:00:10Z",
        url__path="/a",
        url__original="/a",
        url__domain="portal",
        http__response__status_code=200,
        http__request__method="GET",
        http__response__body__bytes=100,
    ),
    ev(
        "2026-11-20T15:01:00Z",
        url__path="/b",
        url__original="/b?id=1'--",
        url__query="id=1'--",
        url__domain="portal",
        http__response__status_code=404,
        http__request__method="GET",
        http__response__body__bytes=50,
    ),
    ev(
        "2026-11-20T15:02:00Z",
        url__path="/b",
        url__original="/b",
        url__domain="dvc",
        http__response__status_code=500,
        http__request__method="POST",
        http__response__body__bytes=25,
    ),
    # auth events from the same address: counted for the IP and for each user name
    ev(
        "2026-11-20T15:03:00Z",
        dataset="nginx.access",
        event__category=["authentication"],
        event__outcome="failure",
        event__action="ssh_login",
        user__name="root",
        destination__port=22,
        destination__ip="10.0.0.5",
    ),
    ev(
        "2026-11-20T15:04:00Z",
        dataset="nginx.access",
        event__category=["authentication"],
        event__outcome="success",
        event__action="ssh_login",
        user__name="admin",
        destination__port=2222,
        destination__ip="10.0.0.5",
    ),
]


def test_features_exact() -> None:
    rows = feature_rows(EVENTS)
    by_entity = {(w.key.entity_field, w.key.entity): w.features.row() for w in rows.windows}
    assert set(by_entity) == {("source.ip", "203.0.113.9"), ("user.name", "root"), ("user.name", "admin")}
    row = by_entity[("source.ip", "203.0.113.9")]
    assert list(row) == list(FEATURE_NAMES)
    assert row == {
        "events": 5.0,
        "auth_events": 2.0,
        "auth_failures": 1.0,
        "auth_failure_ratio": 0.5,
        "distinct_destination_ports": 2.0,
        "distinct_destinations": 3.0,  # portal, dvc, 10.0.0.5
        "distinct_url_paths": 2.0,
        "http_requests": 3.0,
        "http_4xx": 1.0,
        "http_4xx_ratio": 1 / 3,
        "distinct_4xx_paths": 1.0,
        "http_5xx_ratio": 1 / 3,
        "http_post_ratio": 1 / 3,
        "distinct_url_queries": 1.0,
        "url_length_max": float(len("/b?id=1'--")),
        "bytes_sum": 175.0,
        "distinct_user_names": 2.0,
        "distinct_source_ips": 1.0,
        "distinct_actions": 1.0,
        "night_share": 1.0,
    }
    root = by_entity[("user.name", "root")]
    assert root["events"] == 1 and root["auth_failures"] == 1 and root["auth_failure_ratio"] == 1.0
    vector = model_input(row)
    assert vector[FEATURE_NAMES.index("events")] == pytest.approx(1.791759, rel=1e-6)  # log1p(5)
    assert vector[FEATURE_NAMES.index("http_4xx_ratio")] == pytest.approx(1 / 3)


def test_day_events_are_not_night() -> None:
    rows = feature_rows([ev("2026-11-20T03:00:00Z")])  # 10:00 ICT
    assert rows.windows[0].features.row()["night_share"] == 0.0


def test_windows_close_across_boundaries_and_accept_late_events_within_lateness() -> None:
    tracker = WindowTracker(WindowConfig(window_seconds=300, lateness_seconds=60))
    assert tracker.add([ev("2026-11-20T08:04:00Z", "1.1.1.1")]) == []
    # next window starts; the first [08:00, 08:05) stays open until the watermark passes 08:06
    assert tracker.add([ev("2026-11-20T08:05:30Z", "2.2.2.2")]) == []
    # out of order but within lateness: still counted in the first window
    assert tracker.add([ev("2026-11-20T08:04:50Z", "1.1.1.1")]) == []
    closed = tracker.add([ev("2026-11-20T08:06:00Z", "2.2.2.2")])
    assert [(w.key.entity, w.features.events) for w in closed] == [("1.1.1.1", 2)]
    # too late now: the window is closed; dropped and counted
    assert tracker.add([ev("2026-11-20T08:03:00Z", "1.1.1.1")]) == []
    assert tracker.late_dropped == 1
    closed = tracker.add([ev("2026-11-20T08:11:00Z", "3.3.3.3")])
    assert [(w.key.entity, w.features.events) for w in closed] == [("2.2.2.2", 2)]
    assert [w.key.entity for w in tracker.flush()] == ["3.3.3.3"]
    assert tracker.open_windows == 0


def test_streams_keep_their_own_watermark() -> None:
    tracker = WindowTracker(WindowConfig(window_seconds=300, lateness_seconds=0))
    tracker.add([ev("2026-11-20T10:00:00Z", "1.1.1.1", dataset="nginx.access")])
    # another source replayed after: two hours behind, still not late for its own stream
    assert tracker.add([ev("2026-11-20T08:00:00Z", "1.1.1.1", dataset="system.auth")]) == []
    assert tracker.late_dropped == 0
    assert tracker.open_windows == 2


def test_memory_cap_evicts_oldest_and_counts() -> None:
    tracker = WindowTracker(WindowConfig(window_seconds=300, lateness_seconds=60, max_open=3))
    closed = tracker.add([ev("2026-11-20T08:00:00Z", f"10.0.0.{i}") for i in range(5)])
    assert tracker.open_windows == 3
    assert tracker.evicted == 2
    assert [w.key.entity for w in closed] == ["10.0.0.0", "10.0.0.1"]
    assert all(w.early for w in closed)
