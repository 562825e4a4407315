"""Safe extraction of rule-set release archives (``.zip``, ``.tar``, ``.tar.gz``/``.tgz``).

Used by :mod:`detections.rulesets.importer` for ``soc rules import``. An archive comes from
outside, so nothing in it is trusted: absolute names, ``..`` components, links (symbolic or
hard), device files and names that would land outside the destination are refused, and the
number of members, each member's size and the total unpacked size are capped (zip bombs).
Members are streamed with a running byte count, so a lying header cannot get past the caps.
Any refusal raises :class:`ArchiveError` and leaves nothing behind in the destination.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from soc_core.errors import InputError

MAX_MEMBERS = 50_000
MAX_MEMBER_BYTES = 4 * 1024 * 1024
MAX_TOTAL_BYTES = 512 * 1024 * 1024
_CHUNK = 64 * 1024


class ArchiveError(InputError):
    """The archive is unreadable or hostile; nothing was extracted."""


@dataclass(frozen=True)
class Limits:
    members: int = MAX_MEMBERS
    member_bytes: int = MAX_MEMBER_BYTES
    total_bytes: int = MAX_TOTAL_BYTES


def archive_kind(path: Path) -> str | None:
    """``"zip"``, ``"tar"`` or ``None`` (not an archive we read), by content, not by name."""
    if not path.is_file():
        return None
    if zipfile.is_zipfile(path):
        return "zip"
    try:
        if tarfile.is_tarfile(path):
            return "tar"
    except OSError:
        return None
    return None


def _safe_name(name: str, source: str) -> PurePosixPath | None:
    """The member's relative path, or ``None`` for a directory entry; raises for hostile names."""
    cleaned = name.replace("\\", "/")
    if "\x00" in cleaned:
        raise ArchiveError(f"member name with NUL byte: {name!r}", source=source)
    path = PurePosixPath(cleaned)
    if path.is_absolute() or cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        raise ArchiveError(f"absolute member path refused: {name!r}", source=source)
    parts = [p for p in path.parts if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise ArchiveError(f"path traversal refused: {name!r}", source=source)
    if not parts:
        return None
    return PurePosixPath(*parts)


class _Budget:
    def __init__(self, limits: Limits, source: str) -> None:
        self.limits = limits
        self.source = source
        self.members = 0
        self.total = 0

    def member(self, name: str) -> None:
        self.members += 1
        if self.members > self.limits.members:
            raise ArchiveError(f"too many members (limit {self.limits.members})", source=self.source)

    def copy(self, src: IO[bytes], dest: Path, name: str) -> None:
        written = 0
        with dest.open("xb") as out:
            while True:
                chunk = src.read(_CHUNK)
                if not chunk:
                    break
                written += len(chunk)
                self.total += len(chunk)
                if written > self.limits.member_bytes:
                    raise ArchiveError(
                        f"member {name!r} larger than {self.limits.member_bytes} bytes unpacked", source=self.source
                    )
                if self.total > self.limits.total_bytes:
                    raise ArchiveError(
                        f"archive larger than {self.limits.total_bytes} bytes unpacked", source=self.source
                    )
                out.write(chunk)


def _target(dest: Path, rel: PurePosixPath, source: str) -> Path:
    target = dest.joinpath(*rel.parts)
    resolved_parent = target.parent.resolve()
    root = dest.resolve()
    if resolved_parent != root and root not in resolved_parent.parents:
        raise ArchiveError(f"member {str(rel)!r} would be written outside the destination", source=source)
    return target


def _extract_zip(path: Path, dest: Path, budget: _Budget) -> None:
    source = str(path)
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            budget.member(info.filename)
            mode = (info.external_attr >> 16) & 0xFFFF
            if mode and stat.S_ISLNK(mode):
                raise ArchiveError(f"symbolic link refused: {info.filename!r}", source=source)
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: writers that set no file type
                raise ArchiveError(f"special file refused: {info.filename!r}", source=source)
            if info.flag_bits & 0x1:
                raise ArchiveError(f"encrypted member refused: {info.filename!r}", source=source)
            rel = _safe_name(info.filename, source)
            if rel is None:
                continue
            target = _target(dest, rel, source)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            if info.file_size > budget.limits.member_bytes:
                raise ArchiveError(
                    f"member {info.filename!r} larger than {budget.limits.member_bytes} bytes unpacked", source=source
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src:
                budget.copy(src, target, info.filename)


def _extract_tar(path: Path, dest: Path, budget: _Budget) -> None:
    source = str(path)
    with tarfile.open(path, mode="r:*") as tf:
        for member in tf:
            budget.member(member.name)
            if member.issym() or member.islnk():
                raise ArchiveError(f"link refused: {member.name!r} -> {member.linkname!r}", source=source)
            if not (member.isfile() or member.isdir()):
                raise ArchiveError(f"special file refused: {member.name!r}", source=source)
            rel = _safe_name(member.name, source)
            if rel is None:
                continue
            target = _target(dest, rel, source)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            if member.size > budget.limits.member_bytes:
                raise ArchiveError(
                    f"member {member.name!r} larger than {budget.limits.member_bytes} bytes unpacked", source=source
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tf.extractfile(member)
            if src is None:
                raise ArchiveError(f"unreadable member {member.name!r}", source=source)
            with src:
                budget.copy(src, target, member.name)


@contextmanager
def _cleanup_on_error(dest: Path) -> Iterator[None]:
    try:
        yield
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def safe_extract(path: Path, dest: Path, limits: Limits | None = None) -> int:
    """Extract the archive at ``path`` into the new directory ``dest``; returns the files written.

    ``dest`` must not exist yet. Raises :class:`ArchiveError` (and removes ``dest``) on any refusal.
    """
    limits = limits or Limits()
    kind = archive_kind(path)
    if kind is None:
        raise ArchiveError("not a zip or tar archive", source=str(path))
    dest.mkdir(parents=True, exist_ok=False)
    budget = _Budget(limits, str(path))
    with _cleanup_on_error(dest):
        try:
            if kind == "zip":
                _extract_zip(path, dest, budget)
            else:
                _extract_tar(path, dest, budget)
        except ArchiveError:
            raise
        except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError, ValueError) as exc:
            raise ArchiveError(f"cannot read archive: {type(exc).__name__}: {exc}", source=str(path)) from exc
    return sum(1 for p in dest.rglob("*") if p.is_file())
