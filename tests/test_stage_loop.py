from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from soc_core.bus import Message
from soc_core.embedded.sqlite_bus import SqliteBus
from soc_core.errors import StoreUnavailable
from soc_core.stage import StageLoop


def test_commit_only_after_handler_succeeds(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.db")
    p = bus.producer()
    for i in range(5):
        p.send("t", bytes([i]))
    p.flush()
    calls: list[int] = []

    def flaky(messages: Sequence[Message]) -> None:
        calls.append(len(messages))
        if len(calls) < 3:
            raise StoreUnavailable("down")

    loop = StageLoop("t", bus.consumer("g", ["t"]), flaky, batch=10, poll_timeout=0.05)
    assert bus.lag("g", "t") == 5
    assert loop.run_once() == 5
    assert calls == [5, 5, 5]
    assert loop.failures == 2
    assert bus.lag("g", "t") == 0


def test_stop_during_retry_leaves_batch_uncommitted(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.db")
    p = bus.producer()
    p.send("t", b"x")
    p.flush()

    def always_down(messages: Sequence[Message]) -> None:
        raise StoreUnavailable("down")

    loop = StageLoop("t", bus.consumer("g", ["t"]), always_down, poll_timeout=0.05, max_backoff=0.05)
    loop.start()
    import time

    deadline = time.monotonic() + 10
    while loop.failures < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    loop.stop()
    assert loop.failures >= 2
    assert bus.lag("g", "t") == 1
