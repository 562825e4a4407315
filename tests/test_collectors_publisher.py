"""Publisher: records and dead letters reach the embedded bus; spool on BusUnavailable, replay in order."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from collectors.publisher import Publisher
from soc_core import topics
from soc_core.bus import Producer
from soc_core.errors import BusError
from soc_core.ids import new_id
from soc_core.models import DeadLetter, RawRecord
from tests.collectors_support import SwitchableProducer, dead_letters, new_bus, raw_records, read_topic


def _record(n: int, host: str | None = "10.0.0.1") -> RawRecord:
    return RawRecord(
        id=f"r{n:04d}",
        received=time.time(),
        collector="test",
        kind="syslog",
        source="udp://10.0.0.1:514",
        data=f"message {n}".encode(),
        host=host,
    )


def _spool_files(spool: Path) -> list[Path]:
    return sorted(spool.glob("spool-*.bin"))


def test_publish_and_dead_letter_reach_bus(tmp_path: Path) -> None:
    bus = new_bus(tmp_path)
    pub = Publisher(bus.producer(), spool_dir=tmp_path / "spool")
    pub.publish(_record(1))
    pub.publish(_record(2, host=None))
    letter = DeadLetter(
        id=new_id(), stage="collector", reason="bad", received=1.0, source="tcp://1.2.3.4:9", collector="t", data=b"x"
    )
    pub.dead_letter(letter)
    pub.flush()
    msgs = read_topic(bus, topics.RAW)
    assert [m.key for m in msgs] == [b"10.0.0.1", b"udp://10.0.0.1:514"]  # host, else source
    assert [r.data for r in raw_records(bus)] == [b"message 1", b"message 2"]
    assert dead_letters(bus) == [letter]
    assert pub.stats == {"published": 2, "dead_lettered": 1, "spooled": 0, "replayed": 0, "rejected": 0}
    pub.close()


@pytest.mark.parametrize("fail_on", ["send", "flush"])
def test_spool_while_bus_down_then_replay_in_order(tmp_path: Path, fail_on: str) -> None:
    bus = new_bus(tmp_path)
    producer = SwitchableProducer(bus.producer(), fail_on=fail_on)
    pub = Publisher(producer, spool_dir=tmp_path / "spool", retry_interval=0.0)
    for n in range(3):
        pub.publish(_record(n))
    pub.flush()
    producer.down = True
    for n in range(3, 10):
        pub.publish(_record(n))
    pub.flush()  # must not raise: the records are durable in the spool
    assert [r.id for r in raw_records(bus, "g1")] == [f"r{n:04d}" for n in range(3)]
    assert pub.spooling
    assert _spool_files(tmp_path / "spool")
    assert pub.stats["spooled"] == 7

    producer.down = False
    for n in range(10, 13):
        pub.publish(_record(n))  # newer records only after the spool
    pub.flush()
    ids = [r.id for r in raw_records(bus, "g2")]
    assert ids == [f"r{n:04d}" for n in range(13)]
    assert _spool_files(tmp_path / "spool") == []
    assert pub.stats["replayed"] == 7
    pub.close()


def test_retry_interval_keeps_spooling_without_hammering_the_bus(tmp_path: Path) -> None:
    bus = new_bus(tmp_path)
    producer = SwitchableProducer(bus.producer())
    pub = Publisher(producer, spool_dir=tmp_path / "spool", retry_interval=3600.0)
    producer.down = True
    pub.publish(_record(0))
    producer.down = False
    pub.publish(_record(1))  # the bus is back, but the retry is not due: keep order via the spool
    pub.flush()
    assert raw_records(bus, "g1") == []
    assert pub.replay() is True
    assert [r.id for r in raw_records(bus, "g2")] == ["r0000", "r0001"]
    pub.close()


def test_spool_survives_restart(tmp_path: Path) -> None:
    bus = new_bus(tmp_path)
    producer = SwitchableProducer(bus.producer())
    producer.down = True
    pub = Publisher(producer, spool_dir=tmp_path / "spool")
    for n in range(5):
        pub.publish(_record(n))
    pub.flush()
    # The process dies here (no close): the spool is on disk.
    pub2 = Publisher(bus.producer(), spool_dir=tmp_path / "spool", retry_interval=0.0)
    assert pub2.spooling
    pub2.publish(_record(5))
    pub2.flush()
    assert [r.id for r in raw_records(bus)] == [f"r{n:04d}" for n in range(6)]
    pub2.close()


def test_torn_spool_tail_is_ignored_and_corrupt_frame_dead_lettered(tmp_path: Path) -> None:
    bus = new_bus(tmp_path)
    producer = SwitchableProducer(bus.producer())
    producer.down = True
    pub = Publisher(producer, spool_dir=tmp_path / "spool")
    pub.publish(_record(0))
    pub.flush()
    pub._spool.close()  # as after a crash
    segment = _spool_files(tmp_path / "spool")[0]
    with segment.open("ab") as fh:
        fh.write((5).to_bytes(4, "big") + b"\xc1\xc1\xc1\xc1\xc1")  # complete frame, not msgpack
        fh.write((100).to_bytes(4, "big") + b"torn")  # crash mid-append
    pub2 = Publisher(bus.producer(), spool_dir=tmp_path / "spool", retry_interval=0.0)
    pub2.flush()
    assert [r.id for r in raw_records(bus)] == ["r0000"]
    letters = dead_letters(bus)
    assert len(letters) == 1
    assert "corrupt spool frame" in letters[0].reason
    assert letters[0].data == b"\xc1\xc1\xc1\xc1\xc1"
    pub2.close()


def test_direct_spool_is_replayed_before_newer_records(tmp_path: Path) -> None:
    bus = new_bus(tmp_path)
    pub = Publisher(bus.producer(), spool_dir=tmp_path / "spool")
    pub.spool(_record(0))  # e.g. the UDP reader when its queue is full
    pub.publish(_record(1))
    pub.flush()
    assert [r.id for r in raw_records(bus)] == ["r0000", "r0001"]
    assert pub.stats["spooled"] == 1 and pub.stats["replayed"] == 1
    pub.close()


class RefusingProducer:
    """A real embedded-bus producer that refuses one payload for good, like a broker's size limit.

    ``at`` is where the refusal surfaces: at ``send`` (kafka-python's own size check) or at
    ``flush`` (the broker's answer, which does not say which message of the batch it was).
    """

    def __init__(self, inner: Producer, poison: bytes, *, at: str) -> None:
        self.inner, self.poison, self.at = inner, poison, at
        self.batch: list[tuple[str, bytes, bytes | None]] = []

    def send(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        if self.poison in value and topic == topics.RAW and self.at == "send":
            raise BusError("MessageSizeTooLargeError (test)")
        self.batch.append((topic, value, key))

    def flush(self) -> None:
        batch, self.batch = self.batch, []
        if self.at == "flush" and any(self.poison in v and t == topics.RAW for t, v, _ in batch):
            raise BusError("RecordTooLargeError from broker (test)")
        for t, v, k in batch:
            self.inner.send(t, v, k)
        self.inner.flush()

    def close(self) -> None:
        self.inner.close()


@pytest.mark.parametrize("at", ["send", "flush"])
def test_message_refused_for_good_is_dead_lettered_not_replayed_forever(tmp_path: Path, at: str) -> None:
    bus = new_bus(tmp_path)
    producer = RefusingProducer(bus.producer(), b"POISON", at=at)
    pub = Publisher(producer, spool_dir=tmp_path / "spool", retry_interval=0.0)
    pub.publish(_record(0))
    poison = RawRecord(
        id="poison", received=time.time(), collector="test", kind="syslog", source="s", data=b"POISON" * 10
    )
    pub.publish(poison)
    for n in range(1, 4):
        pub.publish(_record(n))
    pub.flush()
    pub.publish(_record(4))
    pub.flush()
    assert not pub.spooling
    assert _spool_files(tmp_path / "spool") == []
    assert [r.id for r in raw_records(bus)] == [f"r{n:04d}" for n in range(5)]
    letters = dead_letters(bus)
    assert len(letters) == 1 and letters[0].error_type == "BusRejected"
    assert "refused" in letters[0].reason and letters[0].data == poison.data
    assert (letters[0].id, letters[0].source) == ("poison", "s")  # counts reconcile per source
    assert pub.stats["rejected"] == 1
    pub.close()
