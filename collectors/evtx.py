"""Collector source "evtx": Windows event log files (.evtx) -> raw records (format ``winjson``).

Neighbours: ``soc detect`` and the file collectors read with it; the pipeline's ``winjson``
parser turns each record into an ECS event. Uses the ``evtx`` wheel (Rust), hundreds of times
faster than pure-Python readers. A damaged chunk or record becomes a dead letter with its
reason; a file that is not EVTX at all raises :class:`~soc_core.errors.InputError`.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evtx import PyEvtxParser

from soc_core.errors import InputError
from soc_core.ids import stable_id
from soc_core.models import DeadLetter, RawRecord

EVTX_MAGIC = b"ElfFile\x00"
MAX_CONSECUTIVE_ERRORS = 1000
HEADER_SIZE = 4096
CHUNK_SIZE = 65536


def is_evtx(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(8) == EVTX_MAGIC
    except OSError:
        return False


def _damaged(path: Path, letter_id: str, reason: str, exc: BaseException) -> DeadLetter:
    return DeadLetter(
        id=letter_id,
        stage="collector",
        reason=reason,
        received=time.time(),
        source=str(path),
        collector="evtx",
        data=b"",
        error_type=type(exc).__name__,
    )


def iter_evtx_records(path: Path, *, unit: str | None = None) -> Iterator[RawRecord | DeadLetter]:
    """Every record of an EVTX file as a raw record; unreadable records as dead letters."""
    if not is_evtx(path):
        raise InputError("not an EVTX file (bad magic)", source=str(path))
    resolved = str(path.resolve())
    host = socket.gethostname() or None
    try:
        parser = PyEvtxParser(str(path), number_of_threads=1)
        records = parser.records_json()
    except (OSError, RuntimeError) as exc:
        raise InputError(f"cannot open EVTX file: {exc}", source=str(path)) from exc
    now = time.time()
    index = 0
    consecutive_errors = 0
    tail = (path.stat().st_size - HEADER_SIZE) % CHUNK_SIZE
    if tail:  # the parser silently skips a partial chunk: say so instead of losing it quietly
        yield DeadLetter(
            id=stable_id("evtx-truncated", resolved),
            stage="collector",
            reason=f"truncated EVTX file: the last {tail} bytes are an incomplete chunk whose records cannot be read",
            received=now,
            source=str(path),
            collector="evtx",
            data=b"",
            error_type="InputError",
        )
    while True:
        try:
            item = next(records)
        except StopIteration:
            return
        except Exception as exc:  # the Rust parser reports damaged records as exceptions
            index += 1
            consecutive_errors += 1
            yield _damaged(path, stable_id("evtx-error", resolved, index), f"damaged EVTX record: {exc}", exc)
            if consecutive_errors >= MAX_CONSECUTIVE_ERRORS:
                reason = f"gave up on the rest of the file after {consecutive_errors} damaged records in a row"
                yield _damaged(path, stable_id("evtx-abandoned", resolved, index), reason, exc)
                return
            continue
        consecutive_errors = 0
        index += 1
        rec: dict[str, Any] = item if isinstance(item, dict) else {}
        record_id = rec.get("event_record_id", index)
        yield RawRecord(
            id=stable_id("evtx", resolved, record_id),
            received=now,
            collector="evtx",
            kind="file",
            source=str(path),
            data=str(rec.get("data", "")).encode("utf-8", "surrogatepass"),
            unit=unit,
            format="winjson",
            host=host,
            offset=None,
        )
