"""Syslog over TCP framing, RFC 6587 (stage "collect": syslog senders -> raw records).

Neighbours: :mod:`collectors.syslog.server` feeds it the bytes of one connection and turns its
output into raw records or dead letters for the publisher.

Per frame, either *octet counting* (``"<len> <msg>"``, chosen when the frame starts with a
non-zero digit followed by digits and a space) or *non-transparent* framing (the message ends at
LF, CRLF or NUL). A message longer than ``max_message`` is never split: it comes out whole as a
:class:`Rejected` (bytes capped at :data:`~collectors.common.DEAD_LETTER_CAP`) and decoding
resynchronises at the next frame. Input may arrive in pieces of any size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from collectors.common import DEAD_LETTER_CAP, CappedBuffer

_TERMINATOR = re.compile(rb"[\n\x00]")
_MAX_LEN_DIGITS = 10  # "9999999999 " — longer digit runs are not an octet count
_DIGITS = frozenset(b"0123456789")
_EMPTY = frozenset(b"\r\n\x00")


@dataclass(frozen=True, slots=True)
class Rejected:
    """A frame that is not a usable message; ``data`` holds (up to the cap) its bytes."""

    data: bytes
    reason: str
    length: int


Frame = bytes | Rejected


class FrameDecoder:
    """Incremental RFC 6587 decoder for one TCP stream."""

    def __init__(self, max_message: int = 1 << 20, *, dead_letter_cap: int = DEAD_LETTER_CAP) -> None:
        self.max_message = max_message
        self._cap = dead_letter_cap
        self._buf = bytearray()
        self._scan = 0  # bytes of _buf already searched for a terminator (non-transparent frame)
        self._need: int | None = None  # octet-counted frame: bytes still expected
        self._counted: int | None = None  # octet-counted frame: announced length
        self._over: CappedBuffer | None = None  # oversized frame being skipped

    def feed(self, data: bytes) -> list[Frame]:
        """Frames completed by ``data``, in order."""
        self._buf += data
        out: list[Frame] = []
        while self._step(out):
            pass
        return out

    def finish(self) -> list[Frame]:
        """Frames left at end of stream: a trailing unterminated message is still a message."""
        out: list[Frame] = []
        if self._counted is not None:
            expected = self._counted
            got = self._over.total if self._over is not None else len(self._buf)
            data = bytes(self._over.data) if self._over is not None else bytes(self._buf)
            reason = f"truncated octet-counted frame ({got} of {expected} bytes)"
            if expected > self.max_message:
                reason = self._too_long()
            out.append(Rejected(data, reason, got))
        elif self._over is not None:
            out.append(Rejected(bytes(self._over.data), self._too_long(), self._over.total))
        else:
            msg = bytes(self._buf).rstrip(b"\r")
            if msg.strip(b"\r\n\x00"):
                out.append(msg if len(msg) <= self.max_message else self._reject(msg))
        self._reset()
        self._buf.clear()
        return out

    # -- internals -----------------------------------------------------------------------
    def _too_long(self) -> str:
        return f"message exceeds {self.max_message} bytes"

    def _reject(self, msg: bytes) -> Rejected:
        return Rejected(msg[: self._cap], self._too_long(), len(msg))

    def _reset(self) -> None:
        self._scan = 0
        self._need = None
        self._counted = None
        self._over = None

    def _step(self, out: list[Frame]) -> bool:
        """Consume what can be consumed; False when more input is needed."""
        buf = self._buf
        if self._counted is not None:
            return self._step_counted(out)
        if self._over is not None:
            return self._step_oversized_line(out)
        # At a frame boundary: skip empty lines / stray terminators.
        i = 0
        while i < len(buf) and buf[i] in _EMPTY:
            i += 1
        if i:
            del buf[:i]
            self._scan = 0
        if not buf:
            return False
        if buf[0] in _DIGITS and buf[0] != ord("0") and self._scan == 0:
            j = 1
            while j < len(buf) and j <= _MAX_LEN_DIGITS and buf[j] in _DIGITS:
                j += 1
            if j == len(buf) and j <= _MAX_LEN_DIGITS:
                return False  # header not complete yet
            if j < len(buf) and buf[j] == ord(" "):
                length = int(buf[:j])
                del buf[: j + 1]
                self._counted = length
                self._need = length
                if length > self.max_message:
                    self._over = CappedBuffer(self._cap)
                return True
        return self._step_line(out)

    def _step_counted(self, out: list[Frame]) -> bool:
        buf = self._buf
        assert self._need is not None and self._counted is not None
        if self._over is not None:
            take = min(self._need, len(buf))
            self._over.add(memoryview(buf)[:take])
            del buf[:take]
            self._need -= take
            if self._need:
                return False
            out.append(Rejected(bytes(self._over.data), self._too_long(), self._over.total))
            self._reset()
            return True
        if len(buf) < self._need:
            return False
        out.append(bytes(buf[: self._need]))
        del buf[: self._need]
        self._reset()
        return True

    def _step_line(self, out: list[Frame]) -> bool:
        buf = self._buf
        match = _TERMINATOR.search(buf, self._scan)
        if match is None:
            if len(buf) > self.max_message + 1:  # +1: a CR may precede the LF still to come
                self._over = CappedBuffer(self._cap)
                self._over.add(buf)
                buf.clear()
                self._scan = 0
                return False
            self._scan = len(buf)
            return False
        end = match.start()
        msg = bytes(buf[:end])
        del buf[: end + 1]
        self._scan = 0
        if msg.endswith(b"\r"):
            msg = msg[:-1]
        if msg:
            out.append(msg if len(msg) <= self.max_message else self._reject(msg))
        return True

    def _step_oversized_line(self, out: list[Frame]) -> bool:
        buf = self._buf
        assert self._over is not None
        match = _TERMINATOR.search(buf)
        if match is None:
            self._over.add(buf)
            buf.clear()
            return False
        end = match.start()
        self._over.add(memoryview(buf)[:end])
        del buf[: end + 1]
        over = self._over
        data = bytes(over.data)
        if data.endswith(b"\r") and over.total == len(data):
            data = data[:-1]
        out.append(Rejected(data, self._too_long(), over.total))
        self._reset()
        return True
