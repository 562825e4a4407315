"""Synthetic provincial logs with ground truth: the demo data set and the rules' acceptance test.

Stage: none (test and demo data). Writes, for the Thanh Hóa inventory of ``soc_demo/assets.yml``,
the files a collector would read (``nginx_access.log``, ``apache_access.log``, ``auth.log``,
``windows.jsonl``) mixing :mod:`soc_demo.background` with the attacks of :mod:`soc_demo.scenarios`,
and ``ground_truth.jsonl``: every ``(rule_id, file, offset)`` the project's rules in
``detections/rules`` must report, and nothing else. ``soc up --demo`` and the live syslog demo use
the same data (:func:`iter_syslog_demo`).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from soc_core.errors import InputError
from soc_demo import background
from soc_demo.events import AUTH, CORRELATIONS, FILES, WINDOWS, Entry
from soc_demo.formats import ICT, syslog5424
from soc_demo.scenarios import SCENARIOS

GROUND_TRUTH = "ground_truth.jsonl"
DEFAULT_START = datetime(2026, 11, 20, 8, 0, 0, tzinfo=ICT)


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """One detection the shipped rules must make: rule, file (relative to the output directory),
    byte offset of the line in that file, and the scenario that produced it."""

    rule_id: str
    file: str
    offset: int
    scenario: str


def _entries(seed: int, start: datetime, hours: float, scale: float, attacks: bool = True) -> list[Entry]:
    span = hours * 3600.0
    out: list[Entry] = []
    out += background.web(random.Random(f"{seed}/web"), start, span, scale)
    out += background.auth(random.Random(f"{seed}/auth"), start, span, scale)
    out += background.windows(random.Random(f"{seed}/windows"), start, span, scale)
    for fraction, scenario in SCENARIOS if attacks else ():
        out += scenario(random.Random(f"{seed}/{scenario.__name__}"), start + timedelta(seconds=int(span * fraction)))
    return out


def _serialise(entries: list[Entry], file: str) -> list[bytes]:
    """Lines of one file in time order; Windows records get per-log ``EventRecordID`` s."""
    records: dict[tuple[str, str], int] = {}
    lines: list[bytes] = []
    for entry in entries:
        if entry.win is None:
            lines.append(entry.text.encode())
            continue
        system = entry.win["Event"]["System"]
        key = (system["Computer"], system["Channel"])
        records[key] = records.get(key, 180000 + 1000 * len(records)) + 1
        system["EventRecordID"] = records[key]
        lines.append(json.dumps(entry.win, ensure_ascii=False, separators=(",", ":")).encode())
    del file
    return lines


def _truth(file: str, entries: list[Entry], offsets: list[int]) -> list[GroundTruth]:
    """Plain rules: the labelled line. Correlations: the line completing each threshold of a group
    (the count restarts after each detection), as the engine's ``event_count`` semantics say."""
    out: list[GroundTruth] = []
    windows: dict[tuple[str, str], list[datetime]] = {}
    for entry, offset in zip(entries, offsets, strict=True):
        out.extend(GroundTruth(rule, file, offset, entry.scenario) for rule in entry.rules)
        for rule, group in entry.counts:
            corr = CORRELATIONS[rule]
            seen = [ts for ts in windows.get((rule, group), []) if entry.ts - ts <= corr.window]
            seen.append(entry.ts)
            if len(seen) >= corr.threshold:
                out.append(GroundTruth(rule, file, offset, entry.scenario))
                seen = []
            windows[(rule, group)] = seen
    return out


def generate(
    out_dir: Path,
    *,
    seed: int = 7,
    start: datetime | None = None,
    hours: float = 2.0,
    scale: float = 1.0,
    attacks: bool = True,
) -> list[GroundTruth]:
    """Write the demo logs and ``ground_truth.jsonl`` into ``out_dir``; return the ground truth.

    Deterministic for a given ``seed`` (and ``start``, default 2026-11-20 08:00 ICT). ``hours`` is
    the period covered; ``scale`` multiplies the background volume (attacks are fixed).
    ``attacks=False`` writes the benign background only (anomaly-model training data; no ground truth).
    """
    if hours <= 0 or scale < 0:
        raise InputError(f"hours must be > 0 and scale >= 0 (got hours={hours}, scale={scale})")
    start = (start or DEFAULT_START).replace(microsecond=0)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = _entries(seed, start, hours, scale, attacks)
    truth: list[GroundTruth] = []
    for file in FILES:
        mine = sorted((e for e in entries if e.file == file), key=lambda e: e.ts)
        offsets: list[int] = []
        pos = 0
        with (out_dir / file).open("wb") as fh:
            for line in _serialise(mine, file):
                offsets.append(pos)
                fh.write(line + b"\n")
                pos += len(line) + 1
        truth += _truth(file, mine, offsets)
    truth.sort(key=lambda g: (g.file, g.offset, g.rule_id))
    with (out_dir / GROUND_TRUTH).open("w", encoding="utf-8") as fh:
        for item in truth:
            fh.write(json.dumps(asdict(item), ensure_ascii=False) + "\n")
    return truth


def load_ground_truth(path: Path) -> list[GroundTruth]:
    """Read a ``ground_truth.jsonl`` written by :func:`generate`."""
    with Path(path).open(encoding="utf-8") as fh:
        return [GroundTruth(**json.loads(line)) for line in fh if line.strip()]


def iter_syslog_demo(seed: int = 7, *, start: datetime | None = None) -> Iterator[bytes]:
    """RFC 5424 auth messages for the live demo (UDP/TCP to the syslog collector).

    Administrators' key logins and cron sessions, an SSH password-guessing burst from
    45.155.205.233 against ``web-dvc-01`` (completes the brute-force threshold) and then a root
    password login from that address. Timestamps start at ``start`` (default: four minutes ago)
    so alerts look fresh; everything else is fixed by ``seed``.
    """
    rng = random.Random(f"{seed}/syslog-demo")
    t = (start or datetime.now(UTC) - timedelta(minutes=4)).astimezone(UTC)
    messages: list[tuple[datetime, bytes]] = []
    for i in range(12):
        ts = t + timedelta(seconds=rng.randrange(0, 200))
        host, ip = rng.choice(background.LINUX_HOSTS), rng.choice(background.JUMP_HOSTS)
        user, uid = rng.choice(background.ADMINS)
        pid, port = rng.randrange(2000, 60000), rng.randrange(40000, 65000)
        fp = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=43))
        messages.append(
            (
                ts,
                syslog5424(
                    ts,
                    host,
                    "sshd",
                    pid,
                    f"Accepted publickey for {user} from {ip} port {port} ssh2: ED25519 SHA256:{fp}",
                ),
            )
        )
        messages.append(
            (
                ts,
                syslog5424(
                    ts,
                    host,
                    "sshd",
                    pid,
                    f"pam_unix(sshd:session): session opened for user {user}(uid={uid}) by (uid=0)",
                    pri=86,
                ),
            )
        )
        cron = t + timedelta(seconds=20 * i)
        messages.append(
            (
                cron,
                syslog5424(
                    cron,
                    host,
                    "CRON",
                    9000 + i,
                    "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
                    pri=86,
                ),
            )
        )
    attacker = "45.155.205.233"
    ts = t + timedelta(seconds=30)
    for i in range(12):
        port = rng.randrange(30000, 60000)
        messages.append(
            (
                ts,
                syslog5424(
                    ts, "web-dvc-01", "sshd", 41000 + i, f"Failed password for root from {attacker} port {port} ssh2"
                ),
            )
        )
        ts += timedelta(seconds=rng.randrange(3, 7))
    messages.append(
        (ts, syslog5424(ts, "web-dvc-01", "sshd", 41100, f"Accepted password for root from {attacker} port 51515 ssh2"))
    )
    messages.sort(key=lambda m: m[0])
    for _ts, data in messages:
        yield data


__all__ = ["AUTH", "GROUND_TRUTH", "WINDOWS", "GroundTruth", "generate", "iter_syslog_demo", "load_ground_truth"]
