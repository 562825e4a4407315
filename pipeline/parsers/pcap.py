"""Parser ``"pcap"``: records extracted from packet captures (DNS, HTTP, TLS SNI, flow summaries).

Part of stage ``parse``. Input: the compact JSON written by :mod:`collectors.pcap` (capture
files, through tshark) or :mod:`collectors.pcap_live` (pyshark), one application event or flow
summary per record. Output goes on to ``enrich`` (:mod:`pipeline.enrich`): ECS ``network.*``,
``source.*``/``destination.*``, ``dns.*``, ``http.*``/``url.*``/``user_agent.*``,
``tls.client.server_name``, with ``event.dataset`` ``network.dns|http|tls|flow`` (the datasets
the Sigma log-source routing of ``detections/sigma/mapping.yml`` knows).
"""

from __future__ import annotations

from typing import Any

from pipeline.parsers.text import as_ip, int_or_none, iso_epoch, load_object
from pipeline.parsers.weblog import url_fields
from soc_core.errors import ParseError
from soc_core.models import RawRecord

# DNS query types (IANA) and response codes (RFC 1035/2136) by number.
QTYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV", 65: "HTTPS",
          255: "ANY", 10: "NULL", 99: "SPF", 257: "CAA"}  # fmt: skip
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED", 6: "YXDOMAIN",
          7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE"}  # fmt: skip


def _timestamp(value: Any) -> str | None:
    try:
        return iso_epoch(float(value))
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _endpoints(rec: dict[str, Any], event: dict[str, Any]) -> None:
    network: dict[str, Any] = event.setdefault("network", {})
    for side, ip_key, port_key in (("source", "src", "sport"), ("destination", "dst", "dport")):
        ep: dict[str, Any] = {}
        ip = as_ip(rec.get(ip_key))
        if ip is not None:
            ep["ip"] = ip
        port = int_or_none(rec.get(port_key))
        if port is not None:
            ep["port"] = port
        if ep:
            event[side] = ep
    transport = rec.get("transport")
    if transport in ("tcp", "udp"):
        network["transport"] = transport
    src = event.get("source", {}).get("ip", "")
    if src:
        network["type"] = "ipv6" if ":" in src else "ipv4"


def _dns(rec: dict[str, Any], event: dict[str, Any]) -> None:
    response = rec.get("response") is True
    dns: dict[str, Any] = {"type": "answer" if response else "query"}
    qid = int_or_none(rec.get("id"))
    if qid is not None:
        dns["id"] = str(qid)
    question: dict[str, Any] = {}
    if isinstance(rec.get("query"), str):
        question["name"] = rec["query"]
    qtype = int_or_none(rec.get("qtype"))
    if qtype is not None:
        question["type"] = QTYPES.get(qtype, str(qtype))
    if question:
        dns["question"] = question
    rcode = int_or_none(rec.get("rcode"))
    if response and rcode is not None:
        dns["response_code"] = RCODES.get(rcode, str(rcode))
    resolved = [ip for ip in (as_ip(rec.get("a")), as_ip(rec.get("aaaa"))) if ip is not None]
    if resolved:
        dns["resolved_ip"] = resolved
    event["dns"] = dns
    event["event"]["type"] = ["protocol", "info"]
    if response and rcode is not None:
        event["event"]["outcome"] = "success" if rcode == 0 else "failure"


def _http(rec: dict[str, Any], event: dict[str, Any]) -> None:
    method = rec.get("method")
    if isinstance(method, str):
        event["http"] = {"request": {"method": method}}
    uri = rec.get("uri")
    url: dict[str, Any] = url_fields(uri) if isinstance(uri, str) else {}
    host = rec.get("host")
    if isinstance(host, str) and host:
        url["domain"] = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if url:
        event["url"] = url
    agent = rec.get("user_agent")
    if isinstance(agent, str):
        event["user_agent"] = {"original": agent}
    status = int_or_none(rec.get("status"))
    if status is not None:
        event.setdefault("http", {})["response"] = {"status_code": status}
    event["event"]["type"] = ["protocol", "access"]


def _tls(rec: dict[str, Any], event: dict[str, Any]) -> None:
    sni = rec.get("sni")
    if isinstance(sni, str):
        event["tls"] = {"client": {"server_name": sni}}
        event.setdefault("destination", {})["domain"] = sni
    event["event"]["type"] = ["protocol"]


def _flow(rec: dict[str, Any], event: dict[str, Any]) -> None:
    network = event["network"]
    for key in ("packets", "bytes"):
        value = int_or_none(rec.get(key))
        if value is not None:
            network[key] = value
    start, end = _timestamp(rec.get("ts")), _timestamp(rec.get("end"))
    if start:
        event["event"]["start"] = start
    if end:
        event["event"]["end"] = end
    event["event"]["type"] = ["connection"]


_KINDS = {"dns": _dns, "http": _http, "tls": _tls, "flow": _flow}
_PROTOCOLS = {"dns": "dns", "http": "http", "tls": "tls"}


def parse_pcap(text: str, record: RawRecord) -> dict[str, Any]:
    """Parser ``"pcap"``: one capture record (application event or flow summary) -> ECS."""
    rec = load_object(text, source=record.source)
    kind = rec.get("type")
    handler = _KINDS.get(kind) if isinstance(kind, str) else None
    if handler is None or not isinstance(kind, str):
        raise ParseError(f"unknown capture record type {kind!r}", source=record.source)
    ev: dict[str, Any] = {"kind": "event", "module": "network", "dataset": f"network.{kind}", "category": ["network"]}
    event: dict[str, Any] = {"event": ev}
    ts = _timestamp(rec.get("ts"))
    if ts is not None:
        event["@timestamp"] = ts
    _endpoints(rec, event)
    handler(rec, event)
    protocol = _PROTOCOLS.get(kind) or rec.get("protocol")
    if isinstance(protocol, str):
        event["network"]["protocol"] = protocol
    if record.collector == "pcap":  # read from a capture file: trace the event to it
        event["log"] = {"file": {"path": record.source}}
    frame = int_or_none(rec.get("frame"))
    if frame is not None:
        event.setdefault("pcap", {})["frame"] = frame
    return event
