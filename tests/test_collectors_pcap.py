"""Packet captures: the tshark-based reader, the pcap parser, and `soc detect --input-format pcap`.

Captures are written in the test with dpkt (bench/pcap_data.py). tshark comes from
scripts/system-deps.sh (run by `make test`); without it these tests fail with that hint.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import dpkt
import orjson
import pytest

from bench.pcap_data import Frame, dns_exchange, http_exchange, tcp_frame, tls_hello, udp_frame, write_capture
from bench.pcap_data import dns_response as dns_response_payload
from collectors.pcap import capture_format, iter_pcap_records
from pipeline.parsers import parse_record
from soc_core.errors import InputError
from soc_core.models import DeadLetter, RawRecord

REPO = Path(__file__).resolve().parent.parent
T0 = 1_795_000_000.0  # 2026-11-18T11:06:40Z
TUNNEL_NAME = "a3f9" * 15 + ".t.evil-example.net"  # one 60-character label
TUNNEL_RULE = "78c13df5-8f37-47d1-b29f-d59cbd48c66a"
DYNDNS_RULE = "0915da79-13dd-4d96-80d9-1afca21d2674"
SMB_RULE = "223f6afa-deef-4deb-8094-8041e040bdc4"
SCANNER_RULE = "1241b526-040f-4269-a4a0-ed4165066635"


@pytest.fixture(autouse=True, scope="module")
def _tshark() -> None:
    assert shutil.which("tshark"), "tshark is missing: run scripts/system-deps.sh (make test does)"


def scenario() -> list[Frame]:
    frames = dns_exchange(
        T0, "10.20.3.4", "10.20.0.53", sport=40000, qid=7, name="www.thanhhoa.gov.vn", answer="10.20.1.10"
    )
    frames += http_exchange(
        T0 + 1, "10.20.3.4", "10.20.1.10", sport=40001, host="dichvucong.thanhhoa.gov.vn",
        uri="/tra-cuu?id=1%27--", user_agent="sqlmap/1.7.2#stable (https://sqlmap.org)",
    )  # fmt: skip
    frames += tls_hello(T0 + 2, "10.20.3.4", "203.0.113.7", sport=40002, server_name="secure.example.org")
    frames += dns_exchange(
        T0 + 3, "10.20.3.4", "10.20.0.53", sport=40003, qid=8, name=TUNNEL_NAME, answer="198.51.100.9"
    )
    frames += dns_exchange(
        T0 + 4, "10.20.3.4", "10.20.0.53", sport=40004, qid=9, name="c2.duckdns.org", answer="198.51.100.10"
    )
    frames.append(
        (T0 + 5, tcp_frame("10.20.3.4", 40005, "198.51.100.20", 445, b"", seq=1, ack=0, flags=dpkt.tcp.TH_SYN))
    )
    frames.append(
        (T0 + 6, udp_frame("10.20.0.53", 53, "10.20.3.4", 40006,
                           dns_response_payload(10, "nx.thanhhoa.gov.vn", None, dpkt.dns.DNS_RCODE_NXDOMAIN)))
    )  # fmt: skip
    return frames


def read(path: Path) -> tuple[list[RawRecord], list[DeadLetter], dict[str, int]]:
    stats: dict[str, int] = {}
    items = list(iter_pcap_records(path, stats=stats))
    return [r for r in items if isinstance(r, RawRecord)], [d for d in items if isinstance(d, DeadLetter)], stats


def by_type(records: list[RawRecord]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        rec = orjson.loads(r.data)
        out.setdefault(rec["type"], []).append(rec)
    return out


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    return write_capture(tmp_path / "sensor.pcap", scenario())


def test_magic_bytes_tell_pcap_from_pcapng(tmp_path: Path, capture: Path) -> None:
    ng = write_capture(tmp_path / "sensor.pcapng", scenario(), pcapng=True)
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"GET / HTTP/1.1\r\n")
    assert (capture_format(capture), capture_format(ng), capture_format(junk)) == ("pcap", "pcapng", None)


def test_one_record_per_application_event_and_flow(capture: Path) -> None:
    records, letters, stats = read(capture)
    assert letters == []
    assert stats == {"packets": 14, "records": len(records), "dead_letters": 0}
    kinds = by_type(records)
    assert {k: len(v) for k, v in kinds.items()} == {"dns": 7, "http": 1, "tls": 1, "flow": 7}
    assert kinds["dns"][0] == {
        "type": "dns", "frame": 1, "ts": "1795000000.000000000", "src": "10.20.3.4", "dst": "10.20.0.53",
        "transport": "udp", "sport": 40000, "dport": 53, "id": "0x0007", "query": "www.thanhhoa.gov.vn",
        "qtype": "1", "response": False,
    }  # fmt: skip
    assert all(r.kind == "pcap" and r.format == "pcap" and r.source == str(capture) for r in records)


def test_flow_summaries_count_both_directions(capture: Path) -> None:
    flows = by_type(read(capture)[0])["flow"]
    http = next(f for f in flows if f["dport"] == 80)
    assert (http["src"], http["sport"], http["dst"], http["packets"], http["protocol"]) == (
        "10.20.3.4", 40001, "10.20.1.10", 5, "http",
    )  # fmt: skip
    assert http["ts"] == "1795000001.000000000" and http["end"] == "1795000001.004000000"
    frame_lengths = [len(f) for _, f in scenario()[2:7]]
    assert http["bytes"] == sum(frame_lengths)
    assert sum(f["packets"] for f in flows) == 14


def test_ids_stable_on_reread_and_distinct_per_file(tmp_path: Path, capture: Path) -> None:
    first = [r.id for r in read(capture)[0]]
    again = [r.id for r in read(capture)[0]]
    assert first == again
    assert len(set(first)) == len(first)
    copy = tmp_path / "copy.pcap"
    shutil.copy(capture, copy)
    assert not set(first) & {r.id for r in read(copy)[0]}


def test_pcapng_gives_the_same_records(tmp_path: Path, capture: Path) -> None:
    ng = write_capture(tmp_path / "sensor.pcapng", scenario(), pcapng=True)
    assert [r.data for r in read(ng)[0]] == [r.data for r in read(capture)[0]]


def ecs(records: list[RawRecord], dataset: str, n: int = 0) -> dict[str, Any]:
    events = [e for e in map(parse_record, records) if e["event"]["dataset"] == dataset]
    return events[n]


def test_parser_dns_answer_ecs(capture: Path) -> None:
    records = read(capture)[0]
    event = ecs(records, "network.dns", 1)
    event["event"].pop("ingested")
    original = event["event"].pop("original")
    assert json.loads(original)["frame"] == 2
    assert event == {
        "@timestamp": "2026-11-18T11:06:40.002Z",
        "event": {
            "kind": "event", "module": "network", "dataset": "network.dns", "category": ["network"],
            "type": ["protocol", "info"], "outcome": "success", "id": records[1].id,
        },
        "source": {"ip": "10.20.0.53", "port": 53},
        "destination": {"ip": "10.20.3.4", "port": 40000},
        "network": {"transport": "udp", "type": "ipv4", "protocol": "dns"},
        "dns": {
            "type": "answer", "id": "7", "question": {"name": "www.thanhhoa.gov.vn", "type": "A"},
            "response_code": "NOERROR", "resolved_ip": ["10.20.1.10"],
        },
        "log": {"file": {"path": str(capture)}},
        "pcap": {"frame": 2},
        "agent": {"type": "soc-collector", "name": "pcap"},
    }  # fmt: skip
    nx = ecs(records, "network.dns", 6)
    assert (nx["dns"]["response_code"], nx["event"]["outcome"], "resolved_ip" in nx["dns"]) == (
        "NXDOMAIN",
        "failure",
        False,
    )


def test_parser_http_tls_flow_ecs(capture: Path) -> None:
    records = read(capture)[0]
    http = ecs(records, "network.http")
    assert http["http"] == {"request": {"method": "GET"}}
    assert http["url"] == {"original": "/tra-cuu?id=1%27--", "path": "/tra-cuu", "query": "id=1%27--",
                           "domain": "dichvucong.thanhhoa.gov.vn"}  # fmt: skip
    assert http["user_agent"] == {"original": "sqlmap/1.7.2#stable (https://sqlmap.org)"}
    assert (http["network"]["protocol"], http["destination"]["port"], http["@timestamp"]) == (
        "http", 80, "2026-11-18T11:06:41.003Z",
    )  # fmt: skip
    tls = ecs(records, "network.tls")
    assert tls["tls"] == {"client": {"server_name": "secure.example.org"}}
    assert tls["destination"] == {"ip": "203.0.113.7", "port": 443, "domain": "secure.example.org"}
    flow = ecs(records, "network.flow", 1)
    assert flow["event"]["type"] == ["connection"]
    assert (flow["network"]["packets"], flow["network"]["protocol"], flow["network"]["transport"]) == (5, "http", "tcp")
    assert (flow["event"]["start"], flow["event"]["end"]) == ("2026-11-18T11:06:41.000Z", "2026-11-18T11:06:41.004Z")
    assert flow["@timestamp"] == flow["event"]["start"]


def test_truncated_capture_keeps_packets_and_one_dead_letter(tmp_path: Path, capture: Path) -> None:
    data = capture.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:-20])  # the last packet (the NXDOMAIN answer) loses its tail
    records, letters, stats = read(cut)
    assert stats["packets"] == 13
    assert len(letters) == 1
    assert "cut short in the middle of a packet" in letters[0].reason
    assert "13 packets read" in letters[0].reason
    assert letters[0].source == str(cut) and letters[0].stage == "collector"
    assert len(records) == len(read(capture)[0]) - 2  # lost: the NXDOMAIN answer and its flow
    assert [r.id for r in read(cut)[1]] == [letters[0].id]  # stable too


def test_not_a_capture_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "random.pcap"
    junk.write_bytes(os.urandom(4096).replace(b"\xd4\xc3", b"\x00\x00"))
    with pytest.raises(InputError, match="not a packet capture"):
        list(iter_pcap_records(junk))


def test_capture_magic_with_garbage_body_is_a_dead_letter(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"\xd4\xc3\xb2\xa1" + b"\xff" * 60)
    records, letters, _ = read(bad)
    assert records == []
    assert len(letters) == 1 and letters[0].reason.startswith("damaged capture, 0 packets read before: ")
    assert len(letters[0].reason) > len("damaged capture, 0 packets read before: ") + 10


def test_empty_file_yields_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    assert read(empty) == ([], [], {"packets": 0, "records": 0, "dead_letters": 0})


def test_missing_tshark_is_a_clear_error(capture: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOC_TSHARK", "/nonexistent/tshark")
    with pytest.raises(InputError, match="install the Debian package `tshark`"):
        list(iter_pcap_records(capture))


def soc(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "soc_cli.main", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=300
    )


def test_soc_detect_pcap_end_to_end(tmp_path: Path) -> None:
    inputs = tmp_path / "captures"
    inputs.mkdir()
    write_capture(inputs / "a.pcap", scenario())
    write_capture(inputs / "b.pcapng", scenario()[:2], pcapng=True)
    data = (inputs / "a.pcap").read_bytes()
    (inputs / "c.pcap").write_bytes(data[:-20])
    expected_records = sum(len(list(iter_pcap_records(p))) for p in sorted(inputs.iterdir()))
    proc = soc("detect", "--rules", "detections/rules", "--input", str(inputs), "--input-format", "pcap")
    assert proc.returncode == 0, proc.stderr
    matches = [json.loads(line) for line in proc.stdout.splitlines()]
    tunnel = [m for m in matches if m["rule_id"] == TUNNEL_RULE]
    assert [(Path(m["event"]["log"]["file"]["path"]).name, m["event"]["dns"]["question"]["name"]) for m in tunnel] == [
        ("a.pcap", TUNNEL_NAME), ("c.pcap", TUNNEL_NAME),
    ]  # fmt: skip
    fired = sorted((m["rule_id"], Path(m["event"]["log"]["file"]["path"]).name) for m in matches)
    assert fired == sorted(
        (rule, f) for rule in (TUNNEL_RULE, DYNDNS_RULE, SMB_RULE, SCANNER_RULE) for f in ("a.pcap", "c.pcap")
    )
    summary = json.loads(proc.stderr.strip().splitlines()[-1])["summary"]
    assert summary["bad_records"] == 1  # the truncated c.pcap
    assert summary["events"] + summary["bad_records"] == expected_records
    assert summary["files"] == 3


def test_soc_detect_sniffs_capture_magic_without_format(tmp_path: Path) -> None:
    odd = write_capture(tmp_path / "sensor.bin", scenario())
    proc = soc("detect", "--rules", "detections/rules", "--input", str(odd))
    assert proc.returncode == 0, proc.stderr
    assert TUNNEL_RULE in {json.loads(line)["rule_id"] for line in proc.stdout.splitlines()}


def test_soc_detect_random_bytes_as_pcap_exits_with_message(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"\x13\x37" * 500)
    proc = soc("detect", "--rules", "detections/rules", "--input", str(junk), "--input-format", "pcap")
    assert proc.returncode != 0
    assert "not a packet capture" in proc.stderr and "junk.pcap" in proc.stderr


def test_live_capture_source_is_configured_from_settings(tmp_path: Path) -> None:
    from collectors.pcap_live import LiveCaptureSource

    sent: list[RawRecord] = []

    class Sink:
        def publish(self, record: RawRecord) -> None:
            sent.append(record)

    source = LiveCaptureSource(Sink(), ["lo"], bpf_filter="udp port 53", flow_interval=3600)  # type: ignore[arg-type]
    capture = source.open_capture()
    assert capture.interfaces == ["lo"] and capture.bpf_filter == "udp port 53"
    with pytest.raises(ValueError, match="no interface"):
        LiveCaptureSource(Sink(), [])  # type: ignore[arg-type]


def test_bench_pcap_compares_both_readers_on_the_same_capture() -> None:
    from bench import pcap as bench_pcap

    report = bench_pcap.run(packets=300)
    assert [f.name for f in report.figures] == ["packets/s read (tshark fields)", "records/s produced (tshark fields)"]
    assert all(f.reference_name == "pyshark FileCapture(use_ek=True)" and f.ratio is not None for f in report.figures)
    assert "ours: 301 packets" in report.notes[0] and "pyshark: 301 packets" in report.notes[0]


def test_parser_refuses_unknown_capture_record_type() -> None:
    from soc_core.errors import ParseError

    record = RawRecord(
        id="x", received=T0, collector="pcap", kind="pcap", source="s.pcap", data=b'{"type":"smtp"}', format="pcap"
    )
    with pytest.raises(ParseError, match="unknown capture record type 'smtp'"):
        parse_record(record)
