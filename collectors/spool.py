"""On-disk spool of bus messages the bus would not take (stage "collect", used by the publisher).

Neighbours: :mod:`collectors.publisher` writes here when the bus raises ``BusError`` and replays
from here, oldest first, once the bus accepts again.

Layout: ``spool_dir/spool-<seq>.bin`` segments; each holds length-prefixed frames
(4-byte big-endian length, then a msgpack array ``[topic, key, value]``). A segment is deleted
only after all its frames were flushed to the bus, so a crash during replay re-sends at most one
segment (at-least-once; the sinks are idempotent by record id). A torn last frame (crash while
appending, before ``sync``) is ignored: only synced frames were ever promised durable.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec

from soc_core.errors import SocError

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">I")
_SEGMENT_RE = re.compile(r"^spool-(\d{12})\.bin$")
SEGMENT_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SpoolFrame:
    topic: str
    key: bytes | None
    value: bytes


@dataclass(frozen=True, slots=True)
class CorruptFrame:
    """A frame whose payload cannot be decoded; its bytes are handed back for a dead letter."""

    segment: Path
    position: int
    payload: bytes


class Spool:
    """Append-only segmented spool. Thread-safe; appends never wait for the bus."""

    def __init__(self, directory: Path, *, segment_max_bytes: int = SEGMENT_MAX_BYTES) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._segment_max = segment_max_bytes
        self._lock = threading.Lock()
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(tuple[str, bytes | None, bytes])
        self._fh: _Writer | None = None
        existing = self._segments()
        self._next_seq = (_seq(existing[-1]) + 1) if existing else 0
        self._frames_unsynced = 0
        self._nonempty = any(p.stat().st_size > 0 for p in existing)

    # -- writing -------------------------------------------------------------------------
    def append(self, frames: list[SpoolFrame]) -> None:
        """Append frames in order (buffered; durable after :meth:`sync`)."""
        if not frames:
            return
        with self._lock:
            for frame in frames:
                payload = self._encoder.encode((frame.topic, frame.key, frame.value))
                if len(payload) > 0xFFFFFFFF:
                    raise SocError(f"spool frame too large ({len(payload)} bytes)", source=str(self.directory))
                writer = self._writer(len(payload) + _HEADER.size)
                writer.write(_HEADER.pack(len(payload)) + payload)
            self._frames_unsynced += len(frames)
            self._nonempty = True

    def sync(self) -> None:
        """fsync the open segment: every appended frame is on disk when this returns."""
        with self._lock:
            if self._fh is not None and self._frames_unsynced:
                self._fh.sync()
            self._frames_unsynced = 0

    def has_data(self) -> bool:
        with self._lock:
            return self._nonempty

    def close(self) -> None:
        with self._lock:
            self._close_writer()

    # -- replay --------------------------------------------------------------------------
    def seal(self) -> list[Path]:
        """Close the open segment and return every segment to replay, oldest first."""
        with self._lock:
            self._close_writer()
            return self._segments()

    def read(self, segment: Path) -> Iterator[SpoolFrame | CorruptFrame]:
        """Frames of one sealed segment, in order. A torn tail ends the segment."""
        with segment.open("rb") as fh:
            position = 0
            while True:
                header = fh.read(_HEADER.size)
                if len(header) < _HEADER.size:
                    if header:
                        log.warning("spool segment %s: torn frame header at byte %d ignored", segment, position)
                    return
                (length,) = _HEADER.unpack(header)
                payload = fh.read(length)
                if len(payload) < length:
                    log.warning("spool segment %s: torn frame at byte %d ignored (never synced)", segment, position)
                    return
                try:
                    topic, key, value = self._decoder.decode(payload)
                except msgspec.DecodeError:
                    yield CorruptFrame(segment, position, payload)
                else:
                    yield SpoolFrame(topic, key, value)
                position += _HEADER.size + length

    def remove(self, segment: Path) -> None:
        """Delete a segment whose frames are all on the bus."""
        with self._lock:
            segment.unlink(missing_ok=True)
            if not self._segments():
                self._nonempty = False

    # -- internals -----------------------------------------------------------------------
    def _segments(self) -> list[Path]:
        return sorted(p for p in self.directory.iterdir() if _SEGMENT_RE.match(p.name))

    def _writer(self, incoming: int) -> _Writer:
        if self._fh is not None and self._fh.size + incoming > self._segment_max and self._fh.size > 0:
            self._close_writer()
        if self._fh is None:
            path = self.directory / f"spool-{self._next_seq:012d}.bin"
            self._next_seq += 1
            self._fh = _Writer(path)
        return self._fh

    def _close_writer(self) -> None:
        if self._fh is not None:
            self._fh.sync()
            self._fh.close()
            self._fh = None
            self._frames_unsynced = 0


class _Writer:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = path.open("ab")
        self.size = self._fh.tell()
        _fsync_dir(path.parent)

    def write(self, data: bytes) -> None:
        self._fh.write(data)
        self.size += len(data)

    def sync(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


def _seq(path: Path) -> int:
    match = _SEGMENT_RE.match(path.name)
    return int(match.group(1)) if match else -1


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
