from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

from soc_core.embedded.sqlite_bus import SqliteBus


def test_round_trip_in_order_with_keys(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.db")
    p = bus.producer()
    for i in range(250):
        p.send("t", f"v{i}".encode(), f"k{i % 3}".encode())
    p.flush()
    c = bus.consumer("g", ["t"])
    got = []
    while batch := c.poll(100, 0.05):
        got.extend(batch)
    assert [m.value for m in got] == [f"v{i}".encode() for i in range(250)]
    assert [m.offset for m in got] == list(range(250))
    assert got[4].key == b"k1"


def test_unflushed_messages_are_invisible(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.db")
    p = bus.producer()
    p.send("t", b"x")
    assert bus.consumer("g", ["t"]).poll(10, 0.01) == []
    p.flush()
    assert len(bus.consumer("g", ["t"]).poll(10, 0.01)) == 1


def test_uncommitted_messages_are_redelivered_committed_are_not(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.db")
    p = bus.producer()
    for i in range(10):
        p.send("t", bytes([i]))
    p.flush()
    c1 = bus.consumer("g", ["t"])
    first = c1.poll(4, 0.05)
    c1.commit(first)
    c1.poll(4, 0.05)  # read but never committed
    c1.close()
    c2 = bus.consumer("g", ["t"])
    again = c2.poll(100, 0.05)
    assert [m.offset for m in again] == list(range(4, 10))
    assert bus.lag("g", "t") == 6
    c2.commit()
    assert bus.lag("g", "t") == 0


def test_groups_are_independent_and_seek_to_committed(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.db")
    p = bus.producer()
    p.send("a", b"1")
    p.send("b", b"2")
    p.flush()
    g1 = bus.consumer("g1", ["a", "b"])
    assert sorted(m.value for m in g1.poll(10, 0.05)) == [b"1", b"2"]
    g1.seek_to_committed()
    assert len(g1.poll(10, 0.05)) == 2
    assert len(bus.consumer("g2", ["b"]).poll(10, 0.05)) == 1


def test_prune_keeps_uncommitted(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.db")
    p = bus.producer()
    for i in range(5):
        p.send("t", bytes([i]))
    p.flush()
    c = bus.consumer("g", ["t"])
    c.commit(c.poll(3, 0.05))
    assert bus.prune(keep_seconds=0) == 3
    assert [m.offset for m in bus.consumer("g", ["t"]).poll(10, 0.05)] == [3, 4]


def _produce_forever(path: str, ready: multiprocessing.synchronize.Event) -> None:
    bus = SqliteBus(Path(path))
    p = bus.producer()
    i = 0
    while True:
        for _ in range(50):
            p.send("t", str(i).encode())
            i += 1
        p.flush()
        ready.set()


def test_sigkill_during_flush_leaves_a_dense_consistent_log(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_produce_forever, args=(str(tmp_path / "bus.db"), ready))
    proc.start()
    assert ready.wait(30)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    bus = SqliteBus(tmp_path / "bus.db")
    c = bus.consumer("g", ["t"])
    values = []
    while batch := c.poll(5000, 0.05):
        values.extend(int(m.value) for m in batch)
    # every flushed batch is whole: values are exactly 0..n-1 with n a multiple of the batch size
    assert values == list(range(len(values)))
    assert len(values) % 50 == 0 and len(values) >= 50
    assert bus.end_offsets(["t"])["t"] == len(values)
