"""Whole-file reader (stage "collect": log files read once -> raw records).

Neighbours: ``soc detect`` and the demo loader read input files with it and hand the records
to the pipeline's parsers (the same code path the bus consumer uses).

Records are newline-delimited. Each :class:`~soc_core.models.RawRecord` carries its byte offset
in ``RawRecord.offset`` (the parser sets ``log.offset`` from it), ``source`` is the path as given
(``log.file.path``), and the id is ``stable_id("file", <resolved path>, offset)``, the same on
every run. Blank lines are skipped and counted; over-long lines become dead letters. Binary
formats (EVTX, pcap) have their own readers (e.g. :mod:`collectors.evtx`).
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from collectors.common import local_hostname
from collectors.lines import LineSplitter, LongLine
from soc_core.errors import InputError
from soc_core.ids import stable_id
from soc_core.models import DeadLetter, RawRecord

log = logging.getLogger(__name__)

READ_CHUNK = 1 << 20


def iter_file_records(
    path: Path,
    *,
    format: str = "auto",
    unit: str | None = None,
    max_line: int = 1 << 20,
    stats: dict[str, int] | None = None,
) -> Iterator[RawRecord | DeadLetter]:
    """Records of one newline-delimited file, in file order.

    ``stats`` (optional) is updated with ``lines``, ``records``, ``blank`` and ``dead_letters``.
    Raises :class:`InputError` when the file cannot be opened or read.
    """
    counts = stats if stats is not None else {}
    for key in ("lines", "records", "blank", "dead_letters"):
        counts.setdefault(key, 0)
    source = str(path)
    try:
        identity = str(path.resolve())
        fh = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot open input file: {exc.strerror or exc}", source=source) from exc
    host = local_hostname()
    with fh:
        splitter = LineSplitter(max_line)
        while True:
            try:
                chunk = fh.read(READ_CHUNK)
            except OSError as exc:
                raise InputError(f"cannot read input file: {exc.strerror or exc}", source=source) from exc
            items = splitter.feed(chunk) if chunk else splitter.finish()
            for item in items:
                counts["lines"] += 1
                if isinstance(item, LongLine):
                    counts["dead_letters"] += 1
                    yield DeadLetter(
                        id=stable_id("file", identity, item.offset),
                        stage="collector",
                        reason=f"line at byte {item.offset} exceeds {max_line} bytes ({item.length} bytes)",
                        received=time.time(),
                        source=source,
                        collector="file",
                        data=item.data,
                        error_type="LineTooLong",
                    )
                elif item.blank:
                    counts["blank"] += 1
                else:
                    counts["records"] += 1
                    yield RawRecord(
                        id=stable_id("file", identity, item.offset),
                        received=time.time(),
                        collector="file",
                        kind="file",
                        source=source,
                        data=item.data,
                        unit=unit,
                        format=format,
                        host=host,
                        offset=item.offset,
                    )
            if not chunk:
                return


def iter_input_paths(path: Path) -> Iterator[Path]:
    """``path`` itself if it is a file, else every regular file below it (sorted, recursive).

    Hidden entries (names starting with ``.``) are skipped below the top; symbolic links to
    directories are followed once (loops are cut). Raises :class:`InputError` for a missing or
    unreadable path.
    """
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise InputError("input not found", source=str(path)) from exc
    except OSError as exc:
        raise InputError(f"cannot access input: {exc.strerror or exc}", source=str(path)) from exc
    if stat.S_ISREG(st.st_mode):
        if not os.access(path, os.R_OK):
            raise InputError("input file is not readable", source=str(path))
        yield path
        return
    if not stat.S_ISDIR(st.st_mode):
        raise InputError("input is neither a regular file nor a directory", source=str(path))
    yield from _walk(path, {(st.st_dev, st.st_ino)})


def _walk(directory: Path, seen: set[tuple[int, int]]) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as exc:
        raise InputError(f"cannot list input directory: {exc.strerror or exc}", source=str(directory)) from exc
    for entry in entries:
        if entry.name.startswith("."):
            continue
        child = Path(entry.path)
        try:
            st = entry.stat()  # follows symbolic links
        except OSError as exc:
            log.warning("skipping %s: %s", child, exc.strerror or exc)  # e.g. a dangling symbolic link
            continue
        if stat.S_ISDIR(st.st_mode):
            ident = (st.st_dev, st.st_ino)
            if ident in seen:
                continue  # symbolic-link loop or a directory reached twice
            seen.add(ident)
            yield from _walk(child, seen)
        elif stat.S_ISREG(st.st_mode):
            if not os.access(child, os.R_OK):
                raise InputError("input file is not readable", source=str(child))
            yield child
