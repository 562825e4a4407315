"""File tailer: appends, partial lines, rotations, restarts and crash replays, through the embedded bus."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.filetail import FileTailer, TailSpec
from collectors.publisher import Publisher
from soc_core.embedded.sqlite_bus import SqliteBus
from soc_core.errors import ConfigError
from soc_core.models import RawRecord
from tests.collectors_support import dead_letters, new_bus, raw_records, wait_for


@pytest.fixture
def bus(tmp_path: Path) -> SqliteBus:
    return new_bus(tmp_path)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    (tmp_path / "logs").mkdir()
    return tmp_path / "logs" / "app.log"


class Harness:
    def __init__(self, bus: SqliteBus, tmp_path: Path, log: Path) -> None:
        self.bus, self.tmp, self.log = bus, tmp_path, log
        self.state = tmp_path / "tail-state.json"
        self.publishers: list[Publisher] = []

    def tailer(self, **kw: object) -> FileTailer:
        pub = Publisher(self.bus.producer(), spool_dir=self.tmp / "spool")
        self.publishers.append(pub)
        spec = TailSpec(self.log, format="syslog", unit="THA-SYT")
        return FileTailer([spec], pub, state_path=self.state, **kw)  # type: ignore[arg-type]

    def records(self) -> list[RawRecord]:
        return raw_records(self.bus)

    def data(self) -> list[bytes]:
        return [r.data for r in self.records()]


@pytest.fixture
def h(bus: SqliteBus, tmp_path: Path, log: Path) -> Iterator[Harness]:
    harness = Harness(bus, tmp_path, log)
    yield harness
    for pub in harness.publishers:
        pub.close()


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as fh:
        fh.write(data)


def test_append_and_partial_line(h: Harness) -> None:
    t = h.tailer()
    h.log.write_bytes(b"one\r\ntwo\nthr")
    assert t.poll_once() == 2
    assert h.data() == [b"one", b"two"]
    assert t.poll_once() == 0  # the partial line waits
    _append(h.log, b"ee\n\nfour\n")
    assert t.poll_once() == 2
    recs = h.records()
    assert [r.data for r in recs] == [b"one", b"two", b"three", b"four"]
    assert [r.offset for r in recs] == [0, 5, 9, 16]
    r = recs[0]
    assert (r.kind, r.collector, r.source, r.format, r.unit) == ("file", "file", str(h.log), "syslog", "THA-SYT")
    state = json.loads(h.state.read_text())
    assert state["files"][str(h.log)]["current"]["offset"] == 21


def test_file_not_existing_yet(h: Harness) -> None:
    t = h.tailer()
    assert t.poll_once() == 0
    h.log.write_bytes(b"hello\n")
    assert t.poll_once() == 1
    assert h.data() == [b"hello"]


def test_rotation_rename_and_create(h: Harness) -> None:
    t = h.tailer()
    h.log.write_bytes(b"1\n2\n")
    t.poll_once()
    with h.log.open("ab") as writer:  # the writing service keeps its descriptor across the rename
        writer.write(b"3\n")
        writer.flush()
        h.log.rename(h.log.with_name("app.log.1"))
        h.log.write_bytes(b"4\n")
        t.poll_once()
        assert h.data() == [b"1", b"2", b"3", b"4"]  # old file finished first
        writer.write(b"late to the old file\npartial")  # written before the service reopens
        writer.flush()
    for _ in range(3):
        t.poll_once()
    assert h.data() == [b"1", b"2", b"3", b"4", b"late to the old file", b"partial"]
    assert len({r.id for r in h.records()}) == 6
    assert json.loads(h.state.read_text())["files"][str(h.log)]["retired"] == []


def test_copytruncate(h: Harness) -> None:
    t = h.tailer()
    h.log.write_bytes(b"alpha\nbeta\n")
    t.poll_once()
    shutil.copy(h.log, h.log.with_name("app.log.1"))
    with h.log.open("r+b") as fh:
        fh.truncate(0)
    _append(h.log, b"gamma\n")
    t.poll_once()
    recs = h.records()
    assert [r.data for r in recs] == [b"alpha", b"beta", b"gamma"]
    assert recs[2].offset == 0
    assert recs[2].id != recs[0].id


def test_truncated_and_regrown_past_offset_detected_by_fingerprint(h: Harness) -> None:
    t = h.tailer()
    h.log.write_bytes(b"short\n")
    t.poll_once()
    h.log.write_bytes(b"a completely different file\nsecond\n")  # truncate + rewrite before the next poll
    t.poll_once()
    assert h.data() == [b"short", b"a completely different file", b"second"]


def test_delete_and_recreate_with_identical_content_gets_new_ids(h: Harness) -> None:
    t = h.tailer()
    h.log.write_bytes(b"same header\nline\n")
    t.poll_once()
    h.log.unlink()
    t.poll_once()
    h.log.write_bytes(b"same header\nline\n")
    for _ in range(3):
        t.poll_once()
    recs = h.records()
    assert [r.data for r in recs] == [b"same header", b"line", b"same header", b"line"]
    assert len({r.id for r in recs}) == 4  # the idempotent store must keep all four


def test_restart_from_checkpoint_no_duplicates_no_loss(h: Harness) -> None:
    t = h.tailer()
    h.log.write_bytes(b"a\nb\nc")
    t.poll_once()
    t.stop()
    _append(h.log, b"\nd\n")
    t2 = h.tailer()
    t2.poll_once()
    recs = h.records()
    assert [r.data for r in recs] == [b"a", b"b", b"c", b"d"]
    assert len({r.id for r in recs}) == 4


def test_crash_between_publish_and_checkpoint_replays_same_ids(h: Harness) -> None:
    t = h.tailer()
    h.log.write_bytes(b"a\nb\n")
    t.poll_once()
    before = h.state.read_bytes()
    _append(h.log, b"c\nd\n")
    t.poll_once()  # c, d published ...
    h.state.write_bytes(before)  # ... but the process died before its checkpoint landed
    t2 = h.tailer()
    t2.poll_once()
    recs = h.records()
    assert [r.data for r in recs] == [b"a", b"b", b"c", b"d", b"c", b"d"]  # at-least-once on the bus
    by_data: dict[bytes, set[str]] = {}
    for r in recs:
        by_data.setdefault(r.data, set()).add(r.id)
    assert all(len(ids) == 1 for ids in by_data.values())  # replays carry the same id: the store keeps one
    assert len({r.id for r in recs}) == 4


def test_ids_stay_stable_when_a_tiny_file_outgrows_the_fingerprint(h: Harness) -> None:
    h.log.write_bytes(b"tiny\n")
    t = h.tailer()
    t.poll_once()
    _append(h.log, b"x" * 400 + b"\n")  # the file outgrows the 256-byte fingerprint window
    t.poll_once()
    h.state.unlink()  # crash with the checkpoint lost: everything is replayed from scratch
    h.tailer().poll_once()
    recs = h.records()
    assert len(recs) == 4
    assert len({r.id for r in recs}) == 2  # the fingerprint depends on content only


def test_rotated_while_stopped_is_finished_after_restart(h: Harness) -> None:
    t = h.tailer()
    h.log.write_bytes(b"1\n")
    t.poll_once()
    t.stop()
    _append(h.log, b"2\n")  # written while the tailer was down ...
    h.log.rename(h.log.with_name("app.log.1"))  # ... then rotated away
    h.log.write_bytes(b"3\n")
    h.tailer().poll_once()
    assert h.data() == [b"1", b"2", b"3"]


def test_over_long_line_dead_lettered_once_reading_continues(h: Harness) -> None:
    t = h.tailer(max_line=1000)
    h.log.write_bytes(b"ok1\n" + b"L" * 3000)  # the long line is still being written
    t.poll_once()
    _append(h.log, b"L" * 3000)
    t.poll_once()
    _append(h.log, b"\nok2\n")
    t.poll_once()
    assert h.data() == [b"ok1", b"ok2"]
    letters = dead_letters(h.bus)
    assert len(letters) == 1
    assert letters[0].data == b"L" * 6000
    assert "exceeds 1000 bytes" in letters[0].reason


def test_start_at_end_skips_existing_content(h: Harness) -> None:
    h.log.write_bytes(b"old\nold\n")
    t = h.tailer(start_at="end")
    t.poll_once()
    _append(h.log, b"new\n")
    t.poll_once()
    assert h.data() == [b"new"]


def test_background_thread(h: Harness) -> None:
    t = h.tailer(poll_interval=0.01)
    t.start()
    try:
        h.log.write_bytes(b"bg1\n")
        assert wait_for(lambda: h.data() == [b"bg1"])
        _append(h.log, b"bg2\n")
        assert wait_for(lambda: h.data() == [b"bg1", b"bg2"])
    finally:
        t.stop()
    assert os.path.exists(h.state)


def test_tail_spec_from_settings_entry(tmp_path: Path) -> None:
    spec = TailSpec.from_mapping({"path": str(tmp_path / "x.log"), "format": "nginx", "unit": "THA-SYT"})
    assert spec == TailSpec(tmp_path / "x.log", "nginx", "THA-SYT")
    assert TailSpec.from_mapping({"path": "a.log"}) == TailSpec(Path("a.log"))
    with pytest.raises(ConfigError, match="unknown format"):
        TailSpec.from_mapping({"path": "a.log", "format": "word"})
    with pytest.raises(ConfigError, match="needs a path"):
        TailSpec.from_mapping({"format": "syslog"})
