"""Small helpers shared by the collectors (stage "collect": sources -> bus topic soc.raw)."""

from __future__ import annotations

import socket
from functools import cache

# Dead letters keep the original bytes, but never more than this much of one oversized record.
DEAD_LETTER_CAP = 16 * 1024 * 1024


@cache
def local_hostname() -> str | None:
    """This machine's host name (the ``host`` of file records), or ``None`` when unknown."""
    try:
        return socket.gethostname() or None
    except OSError:
        return None


class CappedBuffer:
    """Collects the bytes of an oversized record up to ``cap``, counting everything it was fed."""

    __slots__ = ("cap", "data", "total")

    def __init__(self, cap: int = DEAD_LETTER_CAP) -> None:
        self.cap = cap
        self.data = bytearray()
        self.total = 0

    def add(self, chunk: bytes | bytearray | memoryview) -> None:
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        self.total += len(chunk)
