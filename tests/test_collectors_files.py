"""collectors.files: whole-file records with exact offsets and stable ids; input path discovery."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from collectors.files import iter_file_records, iter_input_paths
from soc_core.errors import InputError
from soc_core.ids import stable_id
from soc_core.models import DeadLetter, RawRecord


def _records(items: list[RawRecord | DeadLetter]) -> list[RawRecord]:
    return [i for i in items if isinstance(i, RawRecord)]


def test_offsets_are_exact_and_data_unchanged(tmp_path: Path) -> None:
    content = b"first line\r\n\n   \nsecond \xff\xfe bytes\nthird without newline"
    path = tmp_path / "auth.log"
    path.write_bytes(content)
    stats: dict[str, int] = {}
    items = list(iter_file_records(path, format="auth", unit="THA-SYT", stats=stats))
    recs = _records(items)
    assert [r.data for r in recs] == [b"first line", b"second \xff\xfe bytes", b"third without newline"]
    for r in recs:
        assert r.offset is not None
        assert content[r.offset :].startswith(r.data)  # the offset points at the line
        assert r.id == stable_id("file", str(path.resolve()), r.offset)
        assert (r.source, r.kind, r.collector, r.format, r.unit) == (str(path), "file", "file", "auth", "THA-SYT")
    assert [r.offset for r in recs] == [0, 17, 33]
    assert stats == {"lines": 5, "records": 3, "blank": 2, "dead_letters": 0}


def test_ids_stable_across_runs_and_distinct_per_file(tmp_path: Path) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_bytes(b"x\ny\n")
    b.write_bytes(b"x\ny\n")
    ids_a1 = [r.id for r in _records(list(iter_file_records(a)))]
    ids_a2 = [r.id for r in _records(list(iter_file_records(a)))]
    ids_b = [r.id for r in _records(list(iter_file_records(b)))]
    assert ids_a1 == ids_a2
    assert len(set(ids_a1)) == 2
    assert not set(ids_a1) & set(ids_b)


def test_huge_line_becomes_dead_letter_and_reading_continues(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    huge = b"A" * (3 * 1024 * 1024 + 17)
    path.write_bytes(b"before\n" + huge + b"\nafter\n")
    stats: dict[str, int] = {}
    items = list(iter_file_records(path, max_line=1024 * 1024, stats=stats))
    assert [type(i).__name__ for i in items] == ["RawRecord", "DeadLetter", "RawRecord"]
    letter = items[1]
    assert isinstance(letter, DeadLetter)
    assert letter.data == huge and letter.stage == "collector"
    assert "exceeds 1048576 bytes" in letter.reason and letter.source == str(path)
    assert letter.id == stable_id("file", str(path.resolve()), 7)
    after = items[2]
    assert isinstance(after, RawRecord) and after.data == b"after" and after.offset == 7 + len(huge) + 1
    assert stats["dead_letters"] == 1


def test_directory_recursion_sorted_skipping_hidden_and_loops(tmp_path: Path) -> None:
    root = tmp_path / "in"
    (root / "b" / "deep").mkdir(parents=True)
    (root / "a").mkdir()
    (root / ".hidden").mkdir()
    for rel in ("z.log", "a/2.log", "a/1.log", "b/deep/x.jsonl", ".hidden/secret.log", "a/.dot.log"):
        (root / rel).write_text("line\n")
    os.symlink(root, root / "b" / "loop")  # a symbolic-link loop back to the top
    os.mkfifo(root / "fifo")  # not a regular file
    got = [p.relative_to(root).as_posix() for p in iter_input_paths(root)]
    assert got == ["a/1.log", "a/2.log", "b/deep/x.jsonl", "z.log"]
    assert list(iter_input_paths(root / "z.log")) == [root / "z.log"]


def test_missing_input_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        list(iter_input_paths(tmp_path / "nope"))
    assert "input not found" in str(exc.value) and "nope" in str(exc.value)
    with pytest.raises(InputError):
        list(iter_file_records(tmp_path / "nope.log"))
    with pytest.raises(InputError):
        list(iter_file_records(tmp_path))  # a directory is not a file
