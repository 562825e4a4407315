"""File tailer (stage "collect": growing log files -> bus topic ``soc.raw``).

Neighbours: log files written by local services come in; raw records go out through the
:class:`~collectors.publisher.Publisher` to the pipeline worker.

Each poll reads every new complete line, publishes, flushes the publisher and only then writes
the checkpoints (atomically: temporary file, fsync, rename). A checkpoint per path holds the
file's device, inode, committed offset, a fingerprint of its first bytes (the first 256 bytes,
or the first line when that is shorter) and the *seed* of its record ids. Record ids are
``stable_id("file", seed, offset)``: after a crash between publish and checkpoint the replayed
lines get the same ids, so the idempotent store keeps each once. The seed is the fingerprint of
the first file seen at a path; a later file at the same path (rotation, truncation, inode reuse)
gets ``hash(fingerprint, previous seed)`` so identical headers never produce colliding ids.
A new seed is checkpointed before any line using it is published.

Rotation: rename+create (the old inode is read to EOF and kept open until it stays idle for a
poll, then its unterminated last line, if any, is published), copytruncate (size below the read
position, or a changed fingerprint: restart at 0), delete+recreate, and files that do not exist
yet. After a restart, a rotated file still holding unread lines is found again by inode among
its siblings.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from collectors.common import local_hostname
from collectors.lines import Line, LineSplitter, LongLine
from collectors.publisher import Publisher
from soc_core.errors import ConfigError, InputError
from soc_core.ids import stable_id
from soc_core.models import FORMATS, DeadLetter, RawRecord

log = logging.getLogger(__name__)

FINGERPRINT_BYTES = 256
READ_CHUNK = 1 << 20
STATE_VERSION = 1
RETIRE_IDLE_POLLS = 2


@dataclass(frozen=True)
class TailSpec:
    path: Path
    format: str = "auto"
    unit: str | None = None

    @classmethod
    def from_mapping(cls, item: Mapping[str, Any]) -> TailSpec:
        """From a settings entry ``{path: ..., format: ..., unit: ...}`` (``Settings.tail``)."""
        if not isinstance(item, Mapping) or not item.get("path"):
            raise ConfigError(f"a tail entry needs a path: {item!r}")
        fmt = str(item.get("format") or "auto")
        if fmt not in FORMATS:
            raise ConfigError(f"unknown format {fmt!r} for {item['path']}; one of {', '.join(FORMATS)}")
        unit = item.get("unit")
        return cls(Path(str(item["path"])), fmt, None if unit is None else str(unit))


@dataclass
class _Cursor:
    """One open file (the current file of a path, or a rotated one being finished)."""

    dev: int
    ino: int
    fh: BinaryIO
    splitter: LineSplitter
    committed: int  # offset whose preceding lines are durable on the bus
    fingerprint: str | None = None
    fp_len: int = 0
    seed: str | None = None
    idle: int = 0

    def state(self) -> dict[str, Any]:
        return {
            "dev": self.dev,
            "ino": self.ino,
            "offset": self.committed,
            "fingerprint": self.fingerprint,
            "fp_len": self.fp_len,
            "seed": self.seed,
        }


@dataclass
class _Tail:
    spec: TailSpec
    current: _Cursor | None = None
    retired: list[_Cursor] = field(default_factory=list)
    last_seed: str | None = None
    restored: dict[str, Any] | None = None  # checkpoint entry not yet applied (first poll)
    fresh: bool = True  # no checkpoint and never polled: ``start_at`` applies


class FileTailer:
    """Tails files, publishing each complete line as a raw record (see module docstring)."""

    def __init__(
        self,
        specs: Sequence[TailSpec],
        publisher: Publisher,
        *,
        state_path: Path,
        poll_interval: float = 0.2,
        max_line: int = 1 << 20,
        start_at: str = "beginning",
    ) -> None:
        if start_at not in ("beginning", "end"):
            raise InputError(f"start_at must be 'beginning' or 'end', not {start_at!r}")
        self.publisher = publisher
        self.state_path = Path(state_path)
        self.poll_interval = poll_interval
        self.max_line = max_line
        self.start_at = start_at
        self.stats: dict[str, int] = {"records": 0, "dead_letters": 0, "blank": 0, "rotations": 0, "truncations": 0}
        self._host = local_hostname()
        self._saved: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tails = [_Tail(spec) for spec in specs]
        self._apply_state(self._load_state())

    # -- public API ----------------------------------------------------------------------
    def poll_once(self) -> int:
        """Publish every new complete line, flush, then checkpoint. Returns records published."""
        with self._lock:
            published = 0
            for tail in self._tails:
                try:
                    published += self._poll_tail(tail)
                except OSError as exc:
                    log.warning("tailing %s failed: %s", tail.spec.path, exc)
            self.publisher.flush()
            for tail in self._tails:
                for cursor in self._cursors(tail):
                    cursor.committed = cursor.splitter.position
                for cursor in [c for c in tail.retired if c.idle >= RETIRE_IDLE_POLLS]:
                    tail.retired.remove(cursor)
                    cursor.fh.close()
            self._save_state()
            return published

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="file-tailer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread after a last poll; close the files."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        with self._lock:
            for tail in self._tails:
                for cursor in self._cursors(tail):
                    cursor.fh.close()
                tail.current = None
                tail.retired.clear()
            # A later poll_once/start resumes from the checkpoint, like a restart.
            self._apply_state(self._load_state())

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("file tail poll failed")
            self._stop.wait(self.poll_interval)
        try:
            self.poll_once()
        except Exception:
            log.exception("last file tail poll failed")

    # -- one path ------------------------------------------------------------------------
    @staticmethod
    def _cursors(tail: _Tail) -> list[_Cursor]:
        return [*tail.retired, *([tail.current] if tail.current is not None else [])]

    def _poll_tail(self, tail: _Tail) -> int:
        path = tail.spec.path
        try:
            st: os.stat_result | None = os.stat(path)
        except FileNotFoundError:
            st = None
        if tail.restored is not None:
            self._restore(tail, st)
        fresh, tail.fresh = tail.fresh, False
        current = tail.current
        if current is not None and (st is None or (st.st_dev, st.st_ino) != (current.dev, current.ino)):
            log.info("%s was rotated or removed; finishing the old file", path)
            self.stats["rotations"] += 1
            tail.retired.append(current)
            tail.current = None
        published = 0
        for cursor in tail.retired:  # older lines first
            before = cursor.splitter.read_pos
            published += self._read(tail, cursor)
            if cursor.splitter.read_pos == before:
                cursor.idle += 1
                if cursor.idle >= RETIRE_IDLE_POLLS:
                    published += self._emit(tail, cursor, cursor.splitter.finish())
            else:
                cursor.idle = 0
        if tail.current is None and st is not None:
            start = 0
            if fresh and self.start_at == "end":
                start = st.st_size
            tail.current = self._open(path, start)
        if tail.current is not None:
            published += self._check_truncation(tail, tail.current)
            published += self._read(tail, tail.current)
        return published

    def _open(self, path: Path, offset: int, *, expect: tuple[int, int] | None = None) -> _Cursor | None:
        try:
            fh = path.open("rb")
        except (FileNotFoundError, IsADirectoryError):
            return None
        except OSError as exc:
            log.warning("cannot open %s: %s", path, exc)
            return None
        fst = os.fstat(fh.fileno())
        if expect is not None and (fst.st_dev, fst.st_ino) != expect:
            fh.close()
            return None
        offset = min(offset, fst.st_size)
        return _Cursor(fst.st_dev, fst.st_ino, fh, LineSplitter(self.max_line, offset=offset), committed=offset)

    def _restore(self, tail: _Tail, st: os.stat_result | None) -> None:
        """Apply the checkpoint on the first poll: reopen the current file and any rotated ones."""
        entry = tail.restored or {}
        tail.restored = None
        for saved in [*entry.get("retired", []), *([entry["current"]] if entry.get("current") else [])]:
            ident = (int(saved["dev"]), int(saved["ino"]))
            at_path = st is not None and (st.st_dev, st.st_ino) == ident
            where = tail.spec.path if at_path else _find_inode(tail.spec.path.parent, ident)
            if where is None:
                log.warning(
                    "%s: rotated file (inode %d) not found; lines after byte %s of it may be missing",
                    tail.spec.path,
                    ident[1],
                    saved.get("offset"),
                )
                continue
            offset = int(saved["offset"])
            cursor = self._open(where, offset, expect=ident)
            if cursor is None:
                continue
            fp = _fingerprint(cursor.fh, int(saved.get("fp_len") or 0))
            if saved.get("fingerprint") and fp is not None and fp[0] != saved["fingerprint"]:
                log.info("%s: inode %d holds another file now; starting it at 0", where, ident[1])
                cursor.fh.close()
                continue  # the path itself is reopened at 0 below, with a new seed
            cursor.fingerprint = saved.get("fingerprint")
            cursor.fp_len = int(saved.get("fp_len") or 0)
            cursor.seed = saved.get("seed")
            if cursor.splitter.position < offset:  # shorter than the checkpoint: truncated meanwhile
                self._restart(tail, cursor, "truncated while stopped")
            if where == tail.spec.path and tail.current is None:
                tail.current = cursor
            else:
                tail.retired.append(cursor)

    def _check_truncation(self, tail: _Tail, cursor: _Cursor) -> int:
        size = os.fstat(cursor.fh.fileno()).st_size
        if size < cursor.splitter.read_pos:
            published = self._emit(tail, cursor, cursor.splitter.finish())
            self._restart(tail, cursor, "truncated")
            return published
        if cursor.fingerprint is not None:
            fp = _fingerprint(cursor.fh, cursor.fp_len)
            if fp is not None and fp[0] != cursor.fingerprint:
                published = self._emit(tail, cursor, cursor.splitter.finish())
                self._restart(tail, cursor, "rewritten")
                return published
        return 0

    def _restart(self, tail: _Tail, cursor: _Cursor, why: str) -> None:
        log.info("%s was %s; reading it again from the start", tail.spec.path, why)
        self.stats["truncations"] += 1
        cursor.splitter.reset(0)
        cursor.committed = 0
        cursor.fingerprint = None
        cursor.fp_len = 0
        cursor.seed = None

    def _read(self, tail: _Tail, cursor: _Cursor) -> int:
        """Read ``cursor`` up to the size it has now; publish its complete lines."""
        fh = cursor.fh
        limit = os.fstat(fh.fileno()).st_size
        fh.seek(cursor.splitter.read_pos)
        published = 0
        while cursor.splitter.read_pos < limit:
            chunk = fh.read(min(READ_CHUNK, limit - cursor.splitter.read_pos))
            if not chunk:
                break
            published += self._emit(tail, cursor, cursor.splitter.feed(chunk))
        return published

    # -- records -------------------------------------------------------------------------
    def _emit(self, tail: _Tail, cursor: _Cursor, items: list[Line | LongLine]) -> int:
        if not items:
            return 0
        seed = cursor.seed or self._new_seed(tail, cursor)
        spec = tail.spec
        published = 0
        for item in items:
            rid = stable_id("file", seed, item.offset)
            if isinstance(item, LongLine):
                self.stats["dead_letters"] += 1
                self.publisher.dead_letter(
                    DeadLetter(
                        id=rid,
                        stage="collector",
                        reason=f"line at byte {item.offset} exceeds {self.max_line} bytes ({item.length} bytes)",
                        received=time.time(),
                        source=str(spec.path),
                        collector="file",
                        data=item.data,
                        error_type="LineTooLong",
                    )
                )
            elif item.blank:
                self.stats["blank"] += 1
            else:
                self.publisher.publish(
                    RawRecord(
                        id=rid,
                        received=time.time(),
                        collector="file",
                        kind="file",
                        source=str(spec.path),
                        data=item.data,
                        unit=spec.unit,
                        format=spec.format,
                        host=self._host,
                        offset=item.offset,
                    )
                )
                self.stats["records"] += 1
                published += 1
        return published

    def _new_seed(self, tail: _Tail, cursor: _Cursor) -> str:
        """Fingerprint the file and derive its id seed; checkpoint it before any line is published."""
        fp = _fingerprint(cursor.fh, 0) or _fingerprint(cursor.fh, 0, partial=True)
        assert fp is not None
        cursor.fingerprint, cursor.fp_len = fp
        if tail.last_seed is None:
            cursor.seed = fp[0]
        else:
            cursor.seed = hashlib.blake2b(f"{fp[0]}:{tail.last_seed}".encode(), digest_size=16).hexdigest()
        tail.last_seed = cursor.seed
        self._save_state()
        return cursor.seed

    # -- checkpoint ----------------------------------------------------------------------
    def _apply_state(self, state: dict[str, Any]) -> None:
        for tail in self._tails:
            entry = state.get(str(tail.spec.path))
            tail.restored = entry if isinstance(entry, dict) else None
            tail.fresh = tail.restored is None
            if tail.restored is not None:
                tail.last_seed = tail.restored.get("last_seed")

    def _load_state(self) -> dict[str, Any]:
        try:
            raw = self.state_path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise InputError(
                f"cannot read tail checkpoint: {exc.strerror or exc}", source=str(self.state_path)
            ) from exc
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"tail checkpoint is not valid JSON: {exc}", source=str(self.state_path)) from exc
        if (
            not isinstance(data, dict)
            or data.get("version") != STATE_VERSION
            or not isinstance(data.get("files"), dict)
        ):
            raise InputError("tail checkpoint has an unknown layout", source=str(self.state_path))
        files: dict[str, Any] = data["files"]
        return files

    def _save_state(self) -> None:
        files: dict[str, Any] = {}
        for tail in self._tails:
            if tail.restored is not None:  # not polled yet: keep what was saved
                files[str(tail.spec.path)] = tail.restored
                continue
            files[str(tail.spec.path)] = {
                "current": tail.current.state() if tail.current is not None else None,
                "retired": [c.state() for c in tail.retired if c.idle < RETIRE_IDLE_POLLS],
                "last_seed": tail.last_seed,
            }
        text = json.dumps({"version": STATE_VERSION, "files": files}, sort_keys=True)
        if text == self._saved:
            return
        _atomic_write(self.state_path, text.encode())
        self._saved = text


def _fingerprint(fh: BinaryIO, length: int, *, partial: bool = False) -> tuple[str, int] | None:
    """Hash of the first ``length`` bytes (0: the first 256 bytes or first line, whichever is shorter).

    ``None`` while the file does not hold those bytes yet; with ``partial`` whatever it holds.
    """
    want = length or FINGERPRINT_BYTES
    head = os.pread(fh.fileno(), want, 0)
    if length == 0:
        nl = head.find(b"\n")
        if nl >= 0:
            head = head[: nl + 1]
        elif len(head) < FINGERPRINT_BYTES and not partial:
            return None
    elif len(head) < length:
        return None
    if not head:
        return None
    return hashlib.blake2b(head, digest_size=16).hexdigest(), len(head)


def _find_inode(directory: Path, ident: tuple[int, int]) -> Path | None:
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                st = entry.stat(follow_symlinks=False)
                if (st.st_dev, st.st_ino) == ident and entry.is_file(follow_symlinks=False):
                    return Path(entry.path)
    return None


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
