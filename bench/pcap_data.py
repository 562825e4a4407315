"""Synthetic packet captures (DNS, HTTP, TLS ClientHello) written with dpkt, for `soc bench pcap` and tests.

Stage: none (benchmark and test data). :func:`build_frames` gives Ethernet frames,
:func:`write_capture` writes them as pcap or pcapng. dpkt is a dev dependency: importing this
module without it raises :class:`ImportError` with the install hint.
"""

from __future__ import annotations

import random
import socket
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

try:
    import dpkt
except ImportError as exc:  # pragma: no cover - dev extra missing
    raise ImportError("dpkt is needed to write captures: pip install -e '.[dev]'") from exc

Frame = tuple[float, bytes]  # (epoch seconds, Ethernet frame)

_MAC_A = b"\x02\x00\x00\x00\x00\x01"
_MAC_B = b"\x02\x00\x00\x00\x00\x02"


def _ip(src: str, dst: str, proto: int, payload: object) -> dpkt.ip.IP:
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=proto, ttl=64)
    ip.data = payload
    ip.len = len(ip)  # dpkt fills the header length and checksums when packed
    return ip


def _eth(ip: dpkt.ip.IP) -> bytes:
    return bytes(dpkt.ethernet.Ethernet(src=_MAC_A, dst=_MAC_B, type=dpkt.ethernet.ETH_TYPE_IP, data=ip))


def udp_frame(src: str, sport: int, dst: str, dport: int, payload: bytes) -> bytes:
    udp = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
    udp.ulen = len(udp)
    return _eth(_ip(src, dst, dpkt.ip.IP_PROTO_UDP, udp))


def tcp_frame(src: str, sport: int, dst: str, dport: int, payload: bytes, *, seq: int, ack: int, flags: int) -> bytes:
    tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, win=65535, data=payload)
    return _eth(_ip(src, dst, dpkt.ip.IP_PROTO_TCP, tcp))


def dns_query(qid: int, name: str, qtype: int = dpkt.dns.DNS_A) -> bytes:
    msg = dpkt.dns.DNS(id=qid, op=dpkt.dns.DNS_RD, qd=[dpkt.dns.DNS.Q(name=name, type=qtype)])
    return bytes(msg)


def dns_response(qid: int, name: str, address: str | None, rcode: int = dpkt.dns.DNS_RCODE_NOERR) -> bytes:
    msg = dpkt.dns.DNS(id=qid, op=dpkt.dns.DNS_RD | dpkt.dns.DNS_RA)
    msg.qr = dpkt.dns.DNS_R
    msg.rcode = rcode
    msg.qd = [dpkt.dns.DNS.Q(name=name, type=dpkt.dns.DNS_A)]
    if address is not None:
        msg.an = [dpkt.dns.DNS.RR(name=name, type=dpkt.dns.DNS_A, ttl=300, rdata=socket.inet_aton(address))]
    return bytes(msg)


def client_hello(server_name: str) -> bytes:
    """A minimal TLS 1.2 ClientHello record carrying the server_name extension."""
    name = server_name.encode("ascii")
    sni = struct.pack("!BH", 0, len(name)) + name
    sni_list = struct.pack("!H", len(sni)) + sni
    extensions = struct.pack("!HH", 0, len(sni_list)) + sni_list
    body = (
        b"\x03\x03"
        + bytes(32)  # random
        + b"\x00"  # session id
        + b"\x00\x02\x00\x2f"  # one cipher suite
        + b"\x01\x00"  # null compression
        + struct.pack("!H", len(extensions))
        + extensions
    )
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake


def dns_exchange(ts: float, client: str, resolver: str, *, sport: int, qid: int, name: str, answer: str) -> list[Frame]:
    return [
        (ts, udp_frame(client, sport, resolver, 53, dns_query(qid, name))),
        (ts + 0.002, udp_frame(resolver, 53, client, sport, dns_response(qid, name, answer))),
    ]


def http_exchange(
    ts: float, client: str, server: str, *, sport: int, host: str, uri: str, user_agent: str, status: int = 200
) -> list[Frame]:
    request = f"GET {uri} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\nAccept: */*\r\n\r\n".encode()
    body = b"<html>ok</html>"
    response = f"HTTP/1.1 {status} OK\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    syn, ack, psh = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK, dpkt.tcp.TH_PUSH | dpkt.tcp.TH_ACK
    c, s = 1000, 5000
    return [
        (ts, tcp_frame(client, sport, server, 80, b"", seq=c, ack=0, flags=syn)),
        (ts + 0.001, tcp_frame(server, 80, client, sport, b"", seq=s, ack=c + 1, flags=syn | ack)),
        (ts + 0.002, tcp_frame(client, sport, server, 80, b"", seq=c + 1, ack=s + 1, flags=ack)),
        (ts + 0.003, tcp_frame(client, sport, server, 80, request, seq=c + 1, ack=s + 1, flags=psh)),
        (ts + 0.004, tcp_frame(server, 80, client, sport, response, seq=s + 1, ack=c + 1 + len(request), flags=psh)),
    ]


def tls_hello(ts: float, client: str, server: str, sport: int, server_name: str) -> list[Frame]:
    hello = client_hello(server_name)
    return [(ts, tcp_frame(client, sport, server, 443, hello, seq=1, ack=1, flags=dpkt.tcp.TH_PUSH | dpkt.tcp.TH_ACK))]


def write_capture(path: Path, frames: Iterable[Frame], *, pcapng: bool = False) -> Path:
    """Write ``frames`` as a pcap (or pcapng) file with Ethernet link type."""
    with Path(path).open("wb") as fh:
        writer = dpkt.pcapng.Writer(fh) if pcapng else dpkt.pcap.Writer(fh)
        for ts, frame in frames:
            writer.writepkt(frame, ts=ts)
    return Path(path)


def mixed_traffic(packets: int, *, seed: int = 7, start: float = 1_795_000_000.0) -> Iterator[Frame]:
    """About ``packets`` frames of DNS lookups (2 packets) and HTTP GETs (5 packets), time-ordered."""
    rng = random.Random(seed)
    ts = start
    made = 0
    n = 0
    while made < packets:
        n += 1
        client = f"10.20.{rng.randrange(1, 40)}.{rng.randrange(2, 250)}"
        sport = 1024 + n % 60000
        if rng.random() < 0.6:
            name = f"host{rng.randrange(500)}.thanhhoa.gov.vn"
            frames = dns_exchange(ts, client, "10.20.0.53", sport=sport, qid=n & 0xFFFF, name=name, answer="10.20.1.10")
        else:
            uri = f"/portal/page?id={rng.randrange(10_000)}"
            host = "dichvucong.thanhhoa.gov.vn"
            frames = http_exchange(ts, client, "10.20.1.10", sport=sport, host=host, uri=uri, user_agent="Mozilla/5.0")
        made += len(frames)
        ts += 0.01
        yield from frames
