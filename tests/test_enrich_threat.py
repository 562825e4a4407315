"""Stage enrich, threat intelligence: indicator files, matching, hostile input, risk score end to end."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from detections.sigma import Detector, RuleSet
from pipeline.enrich import ThreatIntel
from pipeline.enrich.indicators import MAX_LINE, read_indicators
from pipeline.worker import EventProcessor
from soc_api.db import migrate
from soc_api.db.models import Alert
from soc_api.db.session import make_engine, make_sessionmaker
from soc_api.sink import ingest_detections
from soc_core.errors import ConfigError
from soc_core.ids import new_id
from soc_core.models import RawRecord
from tests.embedded_proc import EmbeddedSoc

REPO = Path(__file__).resolve().parent.parent
HEADER = "indicator,type,source,confidence,description\n"
FEED = HEADER + (
    "45.155.205.233,ip,feed-a,80,ssh brute force\n"
    "2a03:b0c0:3:d0::1a,ip,feed-a,,v6 host\n"
    "193.32.162.0/24,cidr,feed-b,60,scanning net\n"
    "2001:67c:2e8::/48,cidr,feed-b,,v6 net\n"
    "evil.example,domain,feed-a,,phishing\n"
    "HTTPS://Files.Evil.Example/a/Payload.docm?x=1,url,feed-a,,macro doc\n"
    "https://hoanghoa.thanhhoa.gov.vn/wp-content/uploads/wso.php,url,feed-a,,webshell\n"
    "00515E6617AB3CB86E2CEAF00D89B2470D476D0FAEAC4FBB8213C5CDC5CD5DA3,sha256,feed-c,95,mimikatz\n"
    "44d88612fea8a8f36de82e1278abb02f,md5,feed-c,100,eicar\n"
)


@pytest.fixture
def intel(tmp_path: Path) -> ThreatIntel:
    path = tmp_path / "feed.csv"
    path.write_text(FEED, encoding="utf-8")
    ti = ThreatIntel.load([path], strict=True)
    assert len(ti) == 9
    return ti


def hits(ti: ThreatIntel, event: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(indicator name, matched field, atomic) of each enrichment set on ``event``."""
    ti.enrich(event)
    return [
        (e["indicator"]["name"], e["matched"]["field"], e["matched"]["atomic"])
        for e in event.get("threat", {}).get("enrichments", [])
    ]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"source": {"ip": "45.155.205.233"}}, ("45.155.205.233", "source.ip")),
        ({"client": {"ip": "::ffff:45.155.205.233"}}, ("45.155.205.233", "client.ip")),  # IPv4-mapped
        ({"destination": {"ip": "2a03:b0c0:3:d0:0:0:0:1a"}}, ("2a03:b0c0:3:d0::1a", "destination.ip")),
        ({"server": {"ip": "193.32.162.77"}}, ("193.32.162.0/24", "server.ip")),
        ({"host": {"ip": ["10.0.0.1", "193.32.162.0"]}}, ("193.32.162.0/24", "host.ip")),
        ({"source": {"ip": "2001:67c:2e8:ffff::9"}}, ("2001:67c:2e8::/48", "source.ip")),
        ({"dns": {"question": {"name": "a.b.Evil.Example."}}}, ("evil.example", "dns.question.name")),
        ({"destination": {"domain": "evil.example"}}, ("evil.example", "destination.domain")),
        (
            {"url": {"full": "https://files.evil.example/a/Payload.docm?x=1"}},
            ("https://files.evil.example/a/Payload.docm?x=1", "url.full"),
        ),
        (
            {"url": {"original": "http://FILES.evil.example:80/a/Payload.docm?x=1"}},
            ("https://files.evil.example/a/Payload.docm?x=1", "url.original"),
        ),
        (
            {"url": {"domain": "HoangHoa.thanhhoa.gov.vn", "original": "/wp-content/uploads/wso.php", "port": 443}},
            ("https://hoanghoa.thanhhoa.gov.vn/wp-content/uploads/wso.php", "url.original"),
        ),
        (
            {"process": {"hash": {"sha256": "00515e6617ab3cb86e2ceaf00d89b2470d476d0faeac4fbb8213c5cdc5cd5da3"}}},
            ("00515e6617ab3cb86e2ceaf00d89b2470d476d0faeac4fbb8213c5cdc5cd5da3", "process.hash.sha256"),
        ),
        (
            {"file": {"hash": {"md5": "44D88612FEA8A8F36DE82E1278ABB02F"}}},
            ("44d88612fea8a8f36de82e1278abb02f", "file.hash.md5"),
        ),
    ],
)
def test_hits(intel: ThreatIntel, event: dict[str, Any], expected: tuple[str, str]) -> None:
    found = hits(intel, event)
    assert [(name, field) for name, field, _ in found] == [expected]
    assert event["soc"]["threat"]["matched"] == 1
    entry = event["threat"]["enrichments"][0]
    assert entry["matched"]["type"] == "indicator_match_rule"
    assert entry["indicator"]["provider"].startswith("feed-")


@pytest.mark.parametrize(
    "event",
    [
        {"source": {"ip": "45.155.205.234"}},  # the neighbour of an exact IP
        {"source": {"ip": "193.32.163.1"}},  # just outside the /24
        {"source": {"ip": "2001:67c:2e9::1"}},  # just outside the /48
        {"source": {"ip": "not-an-ip"}},
        {"dns": {"question": {"name": "notevil.example"}}},  # a suffix, not a parent domain
        {"dns": {"question": {"name": "evil.example.com"}}},
        {"url": {"full": "https://files.evil.example/a/payload.docm?x=1"}},  # path case differs
        {"url": {"original": "/wp-content/uploads/wso.php"}},  # relative and no domain
        {"url": {"domain": "other.gov.vn", "original": "/wp-content/uploads/wso.php"}},
        {"file": {"hash": {"sha256": "44d88612fea8a8f36de82e1278abb02f"}}},  # an md5 in a sha256 field
        {"process": {"hash": {"md5": "00000000000000000000000000000000"}}},
    ],
)
def test_non_hits(intel: ThreatIntel, event: dict[str, Any]) -> None:
    before = json.dumps(event, sort_keys=True)
    assert intel.enrich(event) == 0
    assert json.dumps(event, sort_keys=True) == before


def test_event_without_candidate_fields_is_untouched(intel: ThreatIntel) -> None:
    event = {"message": "45.155.205.233 evil.example", "event": {"id": "x"}, "user": {"name": "root"}}
    assert intel.matches(event) == []
    assert intel.enrich(event) == 0
    assert "threat" not in event and "soc" not in event


def test_multiple_hits_counted_and_one_indicator_counts_once(intel: ThreatIntel) -> None:
    event = {
        "source": {"ip": "45.155.205.233"},
        "client": {"ip": "45.155.205.233"},  # same indicator again: once
        "destination": {"ip": "193.32.162.5", "domain": "x.evil.example"},
        "soc": {"unit": {"code": "STTTT"}},
    }
    found = hits(intel, event)
    assert sorted(name for name, _, _ in found) == ["193.32.162.0/24", "45.155.205.233", "evil.example"]
    assert event["soc"]["threat"]["matched"] == 3
    assert event["soc"]["unit"] == {"code": "STTTT"}  # other soc fields kept


def test_ip_in_exact_and_cidr_indicators_is_two_hits(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text(HEADER + "10.9.8.7,ip,a,,\n10.9.0.0/16,cidr,b,,\n10.0.0.0/8,cidr,c,,\n", encoding="utf-8")
    ti = ThreatIntel.load([path])
    assert len(ti.ip_hits("10.9.8.7")) == 3
    assert len(ti.ip_hits("10.9.8.8")) == 2
    assert len(ti.ip_hits("10.10.0.1")) == 1


def test_ecs_indicator_shape(intel: ThreatIntel) -> None:
    event = {
        "source": {"ip": "45.155.205.233"},
        "file": {"hash": {"sha256": "00515e6617ab3cb86e2ceaf00d89b2470d476d0faeac4fbb8213c5cdc5cd5da3"}},
    }
    intel.enrich(event)
    by_type = {e["indicator"]["type"]: e for e in event["threat"]["enrichments"]}
    assert by_type["ipv4-addr"]["indicator"] == {
        "type": "ipv4-addr",
        "provider": "feed-a",
        "name": "45.155.205.233",
        "ip": "45.155.205.233",
        "confidence": "80",
        "description": "ssh brute force",
    }
    assert by_type["file"]["indicator"]["file"]["hash"]["sha256"].startswith("00515e66")
    assert by_type["file"]["matched"]["field"] == "file.hash.sha256"


# ---- files --------------------------------------------------------------------------------


def stix_bundle() -> dict[str, Any]:
    def ind(n: int, pattern: str, **extra: Any) -> dict[str, Any]:
        return {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--00000000-0000-4000-8000-00000000000{n}",
            "created": "2026-11-20T00:00:00Z",
            "modified": "2026-11-20T00:00:00Z",
            "pattern": pattern,
            "pattern_type": "stix",
            "valid_from": "2026-11-20T00:00:00Z",
            "created_by_ref": "identity--11111111-1111-4111-8111-111111111111",
            **extra,
        }

    return {
        "type": "bundle",
        "id": "bundle--22222222-2222-4222-8222-222222222222",
        "objects": [
            {
                "type": "identity",
                "spec_version": "2.1",
                "id": "identity--11111111-1111-4111-8111-111111111111",
                "name": "VNCERT/CC",
                "identity_class": "organization",
                "created": "2026-11-20T00:00:00Z",
                "modified": "2026-11-20T00:00:00Z",
            },
            ind(1, "[ipv4-addr:value = '45.155.205.233']", confidence=70, name="brute force"),
            ind(2, "[ipv6-addr:value = '2001:67c:2e8::/48'] OR [domain-name:value = 'Evil.Example']"),
            ind(3, "[url:value = 'http://files.evil.example/a.ps1']"),
            ind(4, "[file:hashes.'SHA-256' = '00515E6617AB3CB86E2CEAF00D89B2470D476D0FAEAC4FBB8213C5CDC5CD5DA3']"),
            ind(5, "[ipv4-addr:value = '1.2.3.4' AND ipv4-addr:value = '5.6.7.8']"),  # not interpretable
            ind(6, "[domain-name:value LIKE '%.evil.example']"),  # not interpretable
            ind(7, "[process:name = 'x.exe']"),  # not interpretable
            ind(8, "title: x", pattern_type="sigma"),  # not interpretable
            ind(9, "[ipv4-addr:value = "),  # broken
        ],
    }


def test_stix_bundle_loads_simple_patterns_and_reports_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(stix_bundle(), indent=2), encoding="utf-8")
    result = read_indicators(path)
    got = sorted((i.type, i.value, i.source) for i in result.indicators)
    assert got == [
        ("cidr", "2001:67c:2e8::/48", "VNCERT/CC"),
        ("domain", "evil.example", "VNCERT/CC"),
        ("ip", "45.155.205.233", "VNCERT/CC"),
        ("sha256", "00515e6617ab3cb86e2ceaf00d89b2470d476d0faeac4fbb8213c5cdc5cd5da3", "VNCERT/CC"),
        ("url", "http://files.evil.example/a.ps1", "VNCERT/CC"),
    ]
    assert [i.confidence for i in result.indicators if i.type == "ip"] == [70]
    assert len(result.problems) == 5
    lines = path.read_text().splitlines()
    for problem, n in zip(result.problems, (5, 6, 7, 8, 9), strict=True):
        assert problem.source == str(path)
        assert problem.line is not None and f"0000000{n}" in lines[problem.line - 1]
        assert str(problem).startswith(f"{path}:{problem.line}: indicator indicator--")
    ti = ThreatIntel(result.indicators)
    assert ti.enrich({"source": {"ip": "2001:67c:2e8::1"}, "dns": {"question": {"name": "a.evil.example"}}}) == 2
    with pytest.raises(ConfigError, match="AND"):
        ThreatIntel.load([path], strict=True)


def test_bad_csv_rows_are_reported_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    path.write_text(
        HEADER
        + "45.155.205.233,ip,a,80,ok\n"
        + "999.1.1.1,ip,a,,bad ip\n"
        + "10.0.0.1/8,cidr,a,,host bits set\n"
        + "x.example,fqdn,a,,unknown type\n"
        + "abc,sha256,a,,short hash\n"
        + "y.example,domain,a,101,confidence\n"
        + "z.example,domain,a\n"
        + "\n"
        + "evil.example,domain,a,,ok\n",
        encoding="utf-8",
    )
    result = read_indicators(path)
    assert [i.value for i in result.indicators] == ["45.155.205.233", "evil.example"]
    assert [p.line for p in result.problems] == [3, 4, 5, 6, 7, 8]
    assert str(result.problems[0]).startswith(f"{path}:3: ")
    assert "unknown indicator type 'fqdn'" in str(result.problems[2])
    assert "expected 5 fields" in str(result.problems[5])
    ti = ThreatIntel.load([path])  # lenient: loads the good rows, keeps the problems
    assert len(ti) == 2 and len(ti.problems) == 6
    with pytest.raises(ConfigError) as info:
        ThreatIntel.load([path], strict=True)
    assert (info.value.source, info.value.line) == (str(path), 3)


@pytest.mark.parametrize(
    ("name", "content", "message", "line"),
    [
        ("bin.csv", HEADER.encode() + b"1.2.3.4,ip,a,,\n\x00\x01\x02\xff", "binary", 3),
        ("utf8.csv", HEADER.encode() + b"a.example,domain,a,,ok\nb.example,domain,a,,caf\xe9\n", "UTF-8", 3),
        ("noheader.csv", b"1.2.3.4,ip,a,,\n", "header", 1),
        ("empty.csv", b"", "header", 1),
        ("bad.json", b'{"type": "bundle",\n "objects": [}', "invalid JSON", 2),
        ("notbundle.json", b'[{"type": "indicator"}]', "bundle", 1),
        ("feed.txt", b"1.2.3.4\n", ".csv or .json", None),
    ],
)
def test_hostile_files_give_a_clear_error(
    tmp_path: Path, name: str, content: bytes, message: str, line: int | None
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message) as info:
        ThreatIntel.load([path])
    assert (info.value.source, info.value.line) == (str(path), line)


def test_huge_line_is_reported_not_parsed(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    huge = "a" * (MAX_LINE + 10) + ".example,domain,a,,\n"
    path.write_text(HEADER + "1.2.3.4,ip,a,,\n" + huge + "5.6.7.8,ip,a,,\n", encoding="utf-8")
    ti = ThreatIntel.load([path])
    assert len(ti) == 2
    assert [(p.line, "longer than" in p.message) for p in ti.problems] == [(3, True)]


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        ThreatIntel.load([tmp_path / "nope.csv"])


def test_demo_feed_loads_cleanly() -> None:
    ti = ThreatIntel.load([REPO / "soc_demo" / "threat_intel.csv"], strict=True)
    assert len(ti) >= 15
    assert ti.ip_hits("45.155.205.233")  # ssh_bruteforce scenario's attacker


# ---- risk score end to end ------------------------------------------------------------------

ATTACKER, CLEAN = "45.155.205.233", "45.155.205.240"
LINE = "<38>1 2026-11-20T08:15:30Z web-portal-01 sshd 4242 - - Accepted password for root from {ip} port 50022 ssh2"


def raw(ip: str) -> RawRecord:
    return RawRecord(
        id=new_id(),
        received=time.time(),
        collector="test",
        kind="syslog",
        source="udp://10.0.0.9:514",
        data=LINE.format(ip=ip).encode(),
    )


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'soc.db'}"
    migrate(url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()


def test_alert_from_a_ti_listed_source_scores_higher(intel: ThreatIntel, sessions: sessionmaker[Session]) -> None:
    ruleset = RuleSet.load([REPO / "detections" / "rules"])
    processor = EventProcessor(Detector(ruleset), enrichers=[intel])
    batch = processor.process([raw(ATTACKER), raw(CLEAN)])
    assert batch.detections, "the root login must raise an alert"
    with sessions() as s:
        ingest_detections(s, batch.detections)
        s.commit()
        alerts = list(s.scalars(select(Alert)))
    by_ip: dict[str, list[Alert]] = {ATTACKER: [], CLEAN: []}
    for a in alerts:
        for ip, listed in by_ip.items():
            if ip in a.dedup_key:
                listed.append(a)
    assert by_ip[ATTACKER] and by_ip[CLEAN]
    for listed, unlisted in zip(by_ip[ATTACKER], by_ip[CLEAN], strict=True):
        assert listed.rule_id == unlisted.rule_id
        assert (listed.ti_hits, unlisted.ti_hits) == (1, 0)
        assert listed.risk_score > unlisted.risk_score


def test_soc_up_scores_ti_listed_source_higher(tmp_path: Path) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text(FEED, encoding="utf-8")
    soc = EmbeddedSoc(tmp_path / "data", env={"SOC_THREAT_INTEL_PATHS": json.dumps([str(feed)])})
    soc.start()
    try:
        soc.wait_ready()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for ip in (ATTACKER, CLEAN):
                s.sendto(LINE.format(ip=ip).encode(), ("127.0.0.1", soc.syslog_port))
        deadline = time.monotonic() + 30
        found: dict[str, list[dict[str, Any]]] = {}
        while time.monotonic() < deadline:
            items = soc.get("/api/v1/alerts", limit=500)["items"]
            found = {ip: [a for a in items if ip in str(a.get("entity"))] for ip in (ATTACKER, CLEAN)}
            if all(found.values()):
                break
            time.sleep(0.3)
        assert all(found.values()), f"no alerts for both sources:\n{soc.output()}"
        assert max(a["ti_hits"] for a in found[ATTACKER]) == 1
        assert max(a["ti_hits"] for a in found[CLEAN]) == 0
        assert max(a["risk_score"] for a in found[ATTACKER]) > max(a["risk_score"] for a in found[CLEAN])
    finally:
        soc.stop()
