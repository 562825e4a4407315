"""Collector source "pcap": packet capture files (pcap, pcapng) -> raw records (format ``pcap``).

Neighbours: ``soc detect`` reads capture files with it (like :mod:`collectors.evtx` for EVTX);
the pipeline's ``pcap`` parser (:mod:`pipeline.parsers.pcap`) turns each record into an ECS
event; live capture on an interface is :mod:`collectors.pcap_live` (pyshark).

Packets are dissected by ``tshark -T fields`` (one tab-separated line per packet, streamed), an
order of magnitude faster than pyshark on files (``soc bench pcap``). One record per application
event (DNS query/response, HTTP request, TLS ClientHello SNI), then one flow summary per TCP/UDP
5-tuple of the file. Record ids are ``stable_id("pcap", <resolved path>, kind, frame)`` and
``stable_id("pcap-flow", <resolved path>, 5-tuple)``: re-reading a file duplicates nothing. A
truncated or damaged capture keeps every packet tshark could read plus ONE dead letter with
tshark's reason; a file that is not a capture raises :class:`~soc_core.errors.InputError`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from collectors.pcap_fields import FIELDS, FlowTable, app_records, split_row
from soc_core.errors import InputError
from soc_core.ids import stable_id
from soc_core.models import DeadLetter, RawRecord

PCAP_MAGICS = {
    b"\xa1\xb2\xc3\xd4": "pcap",  # microsecond timestamps, big-endian writer
    b"\xd4\xc3\xb2\xa1": "pcap",  # microsecond, little-endian
    b"\xa1\xb2\x3c\x4d": "pcap",  # nanosecond, big-endian
    b"\x4d\x3c\xb2\xa1": "pcap",  # nanosecond, little-endian
    b"\x0a\x0d\x0d\x0a": "pcapng",  # section header block
}
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap")
IDLE_TIMEOUT = 120.0  # seconds without a line from tshark before it is stopped
INSTALL_HINT = "tshark is not installed: install the Debian package `tshark` (scripts/system-deps.sh does)"
# tshark's harmless notes on stderr (not errors)
_NOISE = ("Running as user", "This could be dangerous")


def capture_format(path: Path) -> str | None:
    """``"pcap"`` / ``"pcapng"`` from the file's magic bytes; ``None`` otherwise (or unreadable)."""
    try:
        with path.open("rb") as fh:
            return PCAP_MAGICS.get(fh.read(4))
    except OSError:
        return None


def is_capture(path: Path) -> bool:
    return capture_format(path) is not None


def tshark_path() -> str:
    """Absolute path of tshark (``SOC_TSHARK`` overrides); :class:`InputError` when missing."""
    override = os.environ.get("SOC_TSHARK")
    found = shutil.which(override or "tshark")
    if found is None:
        raise InputError(INSTALL_HINT, source=override)
    return found


def tshark_command(tshark: str, path: Path) -> list[str]:
    cmd = [tshark, "-n", "-r", str(path), "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"]
    for name in FIELDS:
        cmd += ["-e", name]
    return cmd


class _Watchdog:
    """Kills a process that produced no output for ``idle`` seconds (a hung dissector)."""

    def __init__(self, proc: subprocess.Popen[str], idle: float) -> None:
        self.proc = proc
        self.idle = idle
        self.ticks = 0
        self.fired = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tshark-watchdog", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seen = -1
        last_change = time.monotonic()
        while not self._stop.wait(min(1.0, self.idle)):
            if self.ticks != seen:
                seen, last_change = self.ticks, time.monotonic()
            elif time.monotonic() - last_change >= self.idle and self.proc.poll() is None:
                self.fired = True
                self.proc.kill()
                return

    def stop(self) -> None:
        self._stop.set()


def _record(rid: str, rec: dict[str, Any], source: str, now: float, unit: str | None) -> RawRecord:
    return RawRecord(
        id=rid,
        received=now,
        collector="pcap",
        kind="pcap",
        source=source,
        data=orjson.dumps(rec),
        unit=unit,
        format="pcap",
        host=None,
        offset=None,
    )


def _stderr_reason(err: IO[str]) -> str:
    err.seek(0)
    lines = [ln.strip() for ln in err.read(64 * 1024).splitlines()]
    return " ".join(ln for ln in lines if ln and not any(n in ln for n in _NOISE))


def iter_pcap_records(
    path: Path,
    *,
    unit: str | None = None,
    idle_timeout: float = IDLE_TIMEOUT,
    stats: dict[str, int] | None = None,
) -> Iterator[RawRecord | DeadLetter]:
    """Application events and flow summaries of one capture file; a damaged capture -> one dead letter.

    ``stats`` (optional) gets ``packets``, ``records`` and ``dead_letters``. Raises
    :class:`InputError` for a file that is not a capture, or when tshark is missing.
    """
    counts = stats if stats is not None else {}
    for key in ("packets", "records", "dead_letters"):
        counts.setdefault(key, 0)
    source = str(path)
    try:
        size = path.stat().st_size
        resolved = str(path.resolve())
    except OSError as exc:
        raise InputError(f"cannot open capture file: {exc.strerror or exc}", source=source) from exc
    if size == 0:
        return  # nothing captured: no records, nothing to account for
    if capture_format(path) is None:
        raise InputError("not a packet capture (no pcap or pcapng magic bytes)", source=source)
    tshark = tshark_path()
    now = time.time()
    flows = FlowTable()
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err:
        try:
            proc = subprocess.Popen(  # noqa: S603 - fixed argv: tshark and the capture path, no shell
                tshark_command(tshark, path),
                stdout=subprocess.PIPE,
                stderr=err,
                stdin=subprocess.DEVNULL,
                text=True,
                encoding="utf-8",
                errors="replace",
            )
        except OSError as exc:
            raise InputError(f"cannot run tshark: {exc}", source=source) from exc
        watchdog = _Watchdog(proc, idle_timeout)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                watchdog.ticks += 1
                pkt = split_row(line)
                if "frame.number" not in pkt:
                    continue
                counts["packets"] += 1
                flows.add(pkt)
                for rec in app_records(pkt):
                    counts["records"] += 1
                    yield _record(stable_id("pcap", resolved, rec["type"], rec["frame"]), rec, source, now, unit)
            try:
                rc = proc.wait(timeout=max(idle_timeout, 1.0))
            except subprocess.TimeoutExpired:  # output closed but the process lingers
                watchdog.fired = True
                proc.kill()
                rc = proc.wait()
        finally:
            watchdog.stop()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        reason = _stderr_reason(err)
    for flow_key, rec in flows.records():
        counts["records"] += 1
        yield _record(stable_id("pcap-flow", resolved, *flow_key), rec, source, now, unit)
    if watchdog.fired:
        reason = f"tshark produced nothing for {idle_timeout:g} s and was stopped after {counts['packets']} packets"
    elif rc == 0:
        return
    counts["dead_letters"] += 1
    yield DeadLetter(
        id=stable_id("pcap-error", resolved),
        stage="collector",
        reason=f"damaged capture, {counts['packets']} packets read before: {reason or f'tshark exit status {rc}'}",
        received=now,
        source=source,
        collector="pcap",
        data=b"",
        error_type="InputError",
    )
