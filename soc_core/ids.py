"""Record ids: stable where the source allows a replay, unique otherwise."""

from __future__ import annotations

import hashlib
import os
import time


def stable_id(*parts: str | int) -> str:
    """Deterministic id from the identity of a record's origin (e.g. file identity + offset).

    A collector that replays the same bytes after a crash yields the same id, so the idempotent
    sinks never store it twice.
    """
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(str(part).encode())
        h.update(b"\x1f")
    return h.hexdigest()


def new_id() -> str:
    """Time-ordered unique id (48-bit ms timestamp + 80 random bits, hex), like UUIDv7."""
    ms = int(time.time() * 1000)
    return f"{ms:012x}{os.urandom(10).hex()}"
