"""Packet fields -> capture records: what the pcap readers extract from each packet.

Shared by the file reader (:mod:`collectors.pcap`, tshark field output) and the live source
(:mod:`collectors.pcap_live`, pyshark): both turn a packet into a :class:`Packet` (tshark field
names -> values), then :func:`app_records` gives the application events of that packet (DNS
query/response, HTTP request, TLS ClientHello SNI) and :class:`FlowTable` folds it into one
summary per TCP/UDP 5-tuple. Records are plain dicts, serialised as compact JSON into the raw
record (the pipeline's ``pcap`` parser, :mod:`pipeline.parsers.pcap`, turns them into ECS).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# tshark field names, in the order of the `-e` options (and of the tab-separated columns).
FIELDS: tuple[str, ...] = (
    "frame.number",
    "frame.time_epoch",
    "frame.len",
    "frame.protocols",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "tcp.srcport",
    "tcp.dstport",
    "udp.srcport",
    "udp.dstport",
    "dns.id",
    "dns.qry.name",
    "dns.qry.type",
    "dns.flags.response",
    "dns.flags.rcode",
    "dns.a",
    "dns.aaaa",
    "http.request.method",
    "http.host",
    "http.request.uri",
    "http.user_agent",
    "http.response.code",
    "tls.handshake.extensions_server_name",
)

Packet = dict[str, str]  # tshark field name -> value ("" or absent when the packet has none)

FlowKey = tuple[str, str, int, str, int]  # transport, initiator ip, port, responder ip, port

_TRUE = frozenset({"1", "true", "True", "TRUE"})
_APP_PROTOCOLS = ("dns", "http", "tls")


def split_row(line: str) -> Packet:
    """One line of ``tshark -T fields -E separator=/t`` output as a :data:`Packet`."""
    values = line.rstrip("\r\n").split("\t")
    return {name: value for name, value in zip(FIELDS, values, strict=False) if value}


def _endpoints(pkt: Packet) -> tuple[str, str] | None:
    src = pkt.get("ip.src") or pkt.get("ipv6.src")
    dst = pkt.get("ip.dst") or pkt.get("ipv6.dst")
    if not src or not dst:
        return None
    return src, dst


def _ports(pkt: Packet) -> tuple[str, int, int] | None:
    for transport in ("tcp", "udp"):
        sport = pkt.get(f"{transport}.srcport")
        dport = pkt.get(f"{transport}.dstport")
        if sport and dport and sport.isdigit() and dport.isdigit():
            return transport, int(sport), int(dport)
    return None


def _base(pkt: Packet, kind: str) -> dict[str, Any]:
    rec: dict[str, Any] = {"type": kind, "frame": int(pkt.get("frame.number", "0") or 0)}
    if "frame.time_epoch" in pkt:
        rec["ts"] = pkt["frame.time_epoch"]
    ends = _endpoints(pkt)
    if ends is not None:
        rec["src"], rec["dst"] = ends
    ports = _ports(pkt)
    if ports is not None:
        rec["transport"], rec["sport"], rec["dport"] = ports
    return rec


def app_records(pkt: Packet) -> Iterator[dict[str, Any]]:
    """The application events carried by one packet (most packets carry none)."""
    if "dns.qry.name" in pkt or "dns.id" in pkt:
        rec = _base(pkt, "dns")
        for key, name in (
            ("dns.id", "id"),
            ("dns.qry.name", "query"),
            ("dns.qry.type", "qtype"),
            ("dns.flags.rcode", "rcode"),
            ("dns.a", "a"),
            ("dns.aaaa", "aaaa"),
        ):
            if key in pkt:
                rec[name] = pkt[key]
        rec["response"] = pkt.get("dns.flags.response", "") in _TRUE
        yield rec
    if "http.request.method" in pkt:
        rec = _base(pkt, "http")
        for key, name in (
            ("http.request.method", "method"),
            ("http.host", "host"),
            ("http.request.uri", "uri"),
            ("http.user_agent", "user_agent"),
        ):
            if key in pkt:
                rec[name] = pkt[key]
        yield rec
    if "tls.handshake.extensions_server_name" in pkt:
        rec = _base(pkt, "tls")
        rec["sni"] = pkt["tls.handshake.extensions_server_name"]
        yield rec


def _app_protocol(pkt: Packet) -> str | None:
    layers = pkt.get("frame.protocols", "").split(":")
    for proto in _APP_PROTOCOLS:
        if proto in layers:
            return proto
    return None


@dataclass(slots=True)
class Flow:
    """Running totals of one TCP/UDP conversation (both directions)."""

    first_frame: int
    first: str
    last: str
    packets: int = 0
    bytes: int = 0
    protocol: str | None = None


class FlowTable:
    """One summary per TCP/UDP 5-tuple; the first packet's sender is the flow's source."""

    def __init__(self) -> None:
        self.flows: dict[FlowKey, Flow] = {}

    def __len__(self) -> int:
        return len(self.flows)

    def add(self, pkt: Packet) -> None:
        ends = _endpoints(pkt)
        ports = _ports(pkt)
        if ends is None or ports is None:
            return
        (src, dst), (transport, sport, dport) = ends, ports
        key: FlowKey = (transport, src, sport, dst, dport)
        flow = self.flows.get(key)
        if flow is None:
            flow = self.flows.get((transport, dst, dport, src, sport))
        ts = pkt.get("frame.time_epoch", "")
        if flow is None:
            flow = Flow(first_frame=int(pkt.get("frame.number", "0") or 0), first=ts, last=ts)
            self.flows[key] = flow
        flow.packets += 1
        size = pkt.get("frame.len", "")
        flow.bytes += int(size) if size.isdigit() else 0
        if ts:
            flow.last = ts
        if flow.protocol is None:
            flow.protocol = _app_protocol(pkt)

    def records(self) -> Iterator[tuple[FlowKey, dict[str, Any]]]:
        """``(key, record)`` of every flow, in the order of their first packet; empties the table."""
        items = sorted(self.flows.items(), key=lambda kv: kv[1].first_frame)
        self.flows = {}
        for key, flow in items:
            transport, src, sport, dst, dport = key
            rec: dict[str, Any] = {
                "type": "flow",
                "frame": flow.first_frame,
                "ts": flow.first,
                "end": flow.last,
                "src": src,
                "dst": dst,
                "transport": transport,
                "sport": sport,
                "dport": dport,
                "packets": flow.packets,
                "bytes": flow.bytes,
            }
            if flow.protocol:
                rec["protocol"] = flow.protocol
            yield key, rec
