"""Streaming line splitter for file sources (stage "collect": log files -> raw records).

Neighbours: :mod:`collectors.files` (whole files, once) and :mod:`collectors.filetail` (files
that grow) feed it chunks and turn its :class:`Line` / :class:`LongLine` into raw records or
dead letters. Every line carries the byte offset where it starts. A line longer than
``max_line`` is streamed, never held in memory beyond the dead-letter cap.
"""

from __future__ import annotations

from dataclasses import dataclass

from collectors.common import DEAD_LETTER_CAP, CappedBuffer


@dataclass(frozen=True, slots=True)
class Line:
    """A complete line: ``data`` without its ``\\n`` (and without a ``\\r`` before it)."""

    offset: int
    data: bytes

    @property
    def blank(self) -> bool:
        return not self.data.strip()


@dataclass(frozen=True, slots=True)
class LongLine:
    """A line longer than the limit: ``data`` holds its first bytes (capped), ``length`` all of it."""

    offset: int
    data: bytes
    length: int


class LineSplitter:
    """Incremental splitter. ``position`` is the offset of the first byte of the pending line."""

    def __init__(self, max_line: int = 1 << 20, *, offset: int = 0, dead_letter_cap: int = DEAD_LETTER_CAP) -> None:
        self.max_line = max_line
        self._cap = dead_letter_cap
        self.position = offset
        self.read_pos = offset
        self._partial = bytearray()
        self._over: CappedBuffer | None = None

    @property
    def pending(self) -> int:
        """Bytes read past ``position`` that do not form a complete line yet."""
        return self.read_pos - self.position

    def feed(self, chunk: bytes) -> list[Line | LongLine]:
        out: list[Line | LongLine] = []
        base = self.read_pos
        view = memoryview(chunk)
        start = 0
        size = len(chunk)
        while start < size:
            nl = chunk.find(b"\n", start)
            if self._over is not None:
                if nl < 0:
                    self._over.add(view[start:])
                    break
                self._over.add(view[start:nl])
                out.append(LongLine(self.position, bytes(self._over.data), self._over.total))
                self._over = None
            elif nl < 0:
                self._partial += view[start:]
                if len(self._partial) > self.max_line + 1:  # +1: a CR may precede the LF to come
                    self._over = CappedBuffer(self._cap)
                    self._over.add(self._partial)
                    self._partial = bytearray()
                break
            else:
                if self._partial:
                    self._partial += view[start:nl]
                    data = bytes(self._partial)
                    self._partial.clear()
                else:
                    data = chunk[start:nl]
                out.append(self._line(self.position, data))
            self.position = base + nl + 1
            start = nl + 1
        self.read_pos = base + size
        return out

    def finish(self) -> list[Line | LongLine]:
        """The pending unterminated line, if any (end of a file that will not grow)."""
        out: list[Line | LongLine] = []
        if self._over is not None:
            out.append(LongLine(self.position, bytes(self._over.data), self._over.total))
        elif self._partial:
            out.append(self._line(self.position, bytes(self._partial)))
        self.reset(self.read_pos)
        return out

    def reset(self, offset: int) -> None:
        """Forget pending bytes and continue at ``offset``."""
        self.position = offset
        self.read_pos = offset
        self._partial = bytearray()
        self._over = None

    def _line(self, offset: int, data: bytes) -> Line | LongLine:
        if data.endswith(b"\r"):
            data = data[:-1]
        if len(data) > self.max_line:
            return LongLine(offset, data[: self._cap], len(data))
        return Line(offset, data)
