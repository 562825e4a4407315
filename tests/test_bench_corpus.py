"""Replicas of benchmark events are copies as a parser makes them: equal, but no object shared with
the base event or another replica apart from keys (which orjson's key cache shares too)."""

from __future__ import annotations

from typing import Any

from bench.evtx_corpus import replica_index, replicate


def test_replicas_are_fresh_copies_with_new_ids() -> None:
    original = "<Event>Microsoft® Windows® Operating System</Event>" * 20
    base: list[dict[str, Any]] = [
        {"event": {"id": "evt-1", "original": original}, "tags": ["a-tag", {"k": "value"}], "n": 12345678901}
    ]
    first, second = replicate(base, 2)
    for i, copy in enumerate((first, second)):
        assert copy["event"]["id"] == f"evt-1-r{i}" and replica_index(copy["event"]["id"]) == i
        assert copy["event"]["original"] == original and copy["tags"] == base[0]["tags"]
        assert copy["event"]["original"] is not original
        assert copy["tags"][0] is not base[0]["tags"][0] and copy["tags"][1]["k"] is not base[0]["tags"][1]["k"]
        assert copy["tags"] is not base[0]["tags"] and copy["event"] is not base[0]["event"]
        assert next(iter(copy)) is next(iter(base[0]))  # keys stay shared
    assert first["event"]["original"] is not second["event"]["original"]
    assert base[0]["event"]["id"] == "evt-1"  # the base event is left as it was
