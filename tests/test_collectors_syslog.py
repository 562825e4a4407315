"""Syslog collector: RFC 6587 framing and the UDP/TCP/TLS server publishing to the embedded bus."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.publisher import Publisher
from collectors.syslog import FrameDecoder, Rejected, SyslogServer
from soc_core.embedded.sqlite_bus import SqliteBus
from tests.collectors_support import dead_letters, new_bus, raw_records, wait_for

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    HAVE_CRYPTOGRAPHY = True
except ImportError:  # optional: only the TLS test needs it
    HAVE_CRYPTOGRAPHY = False

# --- framing (pure) ---------------------------------------------------------------------

MIXED = b"<13>plain LF\n<14>with CRLF\r\n<15>with NUL\x0016 <16>counted\nline\n\n\r\n<17>last\n"
MIXED_EXPECTED = [b"<13>plain LF", b"<14>with CRLF", b"<15>with NUL", b"<16>counted\nline", b"<17>last"]


def _decode_in_pieces(data: bytes, cuts: list[int], max_message: int = 1 << 20) -> list[bytes | Rejected]:
    dec = FrameDecoder(max_message)
    out: list[bytes | Rejected] = []
    prev = 0
    for cut in [*cuts, len(data)]:
        out.extend(dec.feed(data[prev:cut]))
        prev = cut
    out.extend(dec.finish())
    return out


def test_framing_mixed_terminators_and_octet_counting() -> None:
    assert _decode_in_pieces(MIXED, []) == MIXED_EXPECTED


def test_framing_every_split_point() -> None:
    for i in range(1, len(MIXED)):
        assert _decode_in_pieces(MIXED, [i]) == MIXED_EXPECTED, i
    assert _decode_in_pieces(MIXED, list(range(1, len(MIXED)))) == MIXED_EXPECTED  # byte by byte


def test_framing_oversized_line_is_rejected_whole_then_resyncs() -> None:
    big = b"<13>" + b"x" * 300
    for cuts in ([], [50, 120, 290], list(range(7, len(big), 7))):
        out = _decode_in_pieces(big + b"\n<13>next\n", cuts, max_message=100)
        assert len(out) == 2
        assert isinstance(out[0], Rejected)
        assert out[0].reason == "message exceeds 100 bytes"
        assert out[0].data == big
        assert out[1] == b"<13>next"


def test_framing_oversized_counted_frame_skipped_exactly() -> None:
    body = b"<13>" + b"\n" * 150  # newlines inside a counted frame are data, not terminators
    stream = f"{len(body)} ".encode() + body + b"8 <13>next"
    out = _decode_in_pieces(stream, [10, 80], max_message=100)
    assert isinstance(out[0], Rejected) and out[0].data == body and out[0].length == len(body)
    assert out[1:] == [b"<13>next"]


def test_framing_truncated_counted_frame_and_unterminated_tail() -> None:
    out = _decode_in_pieces(b"20 <13>short", [])
    assert len(out) == 1 and isinstance(out[0], Rejected)
    assert "truncated octet-counted frame (9 of 20 bytes)" in out[0].reason
    assert _decode_in_pieces(b"<13>no newline at the end", []) == [b"<13>no newline at the end"]


def test_framing_digits_without_space_are_a_plain_message() -> None:
    assert _decode_in_pieces(b"12345abc\n", [3]) == [b"12345abc"]
    assert _decode_in_pieces(b"12345678901234567890\n", [5]) == [b"12345678901234567890"]


# --- server -----------------------------------------------------------------------------


@pytest.fixture
def bus(tmp_path: Path) -> SqliteBus:
    return new_bus(tmp_path)


@pytest.fixture
def server(bus: SqliteBus, tmp_path: Path) -> Iterator[SyslogServer]:
    pub = Publisher(bus.producer(), spool_dir=tmp_path / "spool")
    srv = SyslogServer(pub, port=0, unit="THA-STTTT", max_message=1000, flush_interval=0.05)
    srv.start()
    yield srv
    srv.stop()
    pub.close()


def _tcp(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _wait_records(bus: SqliteBus, n: int) -> list[bytes]:
    wait_for(lambda: len(raw_records(bus)) >= n)
    return [r.data for r in raw_records(bus)]


def test_udp_datagrams_become_raw_records(server: SyslogServer, bus: SqliteBus) -> None:
    assert server.udp_port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        client_port = sock.getsockname()[1]
        msgs = [b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed\n", b"<13>\xff\xfe invalid utf-8", b"<13>x"]
        for m in msgs:
            sock.sendto(m, ("127.0.0.1", server.udp_port))
    assert wait_for(lambda: len(raw_records(bus)) >= 3)
    records = raw_records(bus)
    assert sorted(r.data for r in records) == sorted(msgs)  # bytes exactly as received
    for r in records:
        assert r.collector == "syslog-udp" and r.kind == "syslog" and r.format == "syslog"
        assert r.source == f"udp://127.0.0.1:{client_port}" and r.host == "127.0.0.1"
        assert r.unit == "THA-STTTT"
    assert len({r.id for r in records}) == 3


def test_udp_oversized_datagram_is_dead_lettered(server: SyslogServer, bus: SqliteBus) -> None:
    assert server.udp_port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"<13>" + b"y" * 2000, ("127.0.0.1", server.udp_port))
        sock.sendto(b"<13>fine", ("127.0.0.1", server.udp_port))
    assert wait_for(lambda: len(dead_letters(bus)) == 1 and len(raw_records(bus)) == 1)
    letter = dead_letters(bus)[0]
    assert letter.reason == "message exceeds 1000 bytes" and letter.stage == "collector"
    assert letter.data == b"<13>" + b"y" * 2000
    assert [r.data for r in raw_records(bus)] == [b"<13>fine"]


def test_tcp_both_framings_split_across_sends(server: SyslogServer, bus: SqliteBus) -> None:
    assert server.tcp_port
    with _tcp(server.tcp_port) as sock:
        for i in range(0, len(MIXED), 5):
            sock.sendall(MIXED[i : i + 5])
            time.sleep(0.002)
    got = _wait_records(bus, len(MIXED_EXPECTED))
    assert got == MIXED_EXPECTED
    rec = raw_records(bus)[0]
    assert rec.collector == "syslog-tcp" and rec.source.startswith("tcp://127.0.0.1:") and rec.unit == "THA-STTTT"


def test_tcp_huge_message_dead_lettered_then_next_fine(server: SyslogServer, bus: SqliteBus) -> None:
    assert server.tcp_port
    huge = b"<13>" + b"z" * 50_000
    with _tcp(server.tcp_port) as sock:
        sock.sendall(b"<13>before\n" + huge + b"\r\n<13>after\n")
        sock.sendall(f"{len(huge)} ".encode() + huge + b"11 <13>counted")
    assert _wait_records(bus, 3) == [b"<13>before", b"<13>after", b"<13>counted"]
    letters = dead_letters(bus)
    assert [dl.reason for dl in letters] == ["message exceeds 1000 bytes"] * 2
    assert [dl.data for dl in letters] == [huge, huge]
    assert all(dl.collector == "syslog-tcp" for dl in letters)


def test_many_concurrent_connections_mixed_framings(server: SyslogServer, bus: SqliteBus) -> None:
    assert server.tcp_port
    port = server.tcp_port
    conns, per_conn = 40, 25

    def client(c: int) -> None:
        with _tcp(port) as sock:
            for i in range(per_conn):
                msg = f"<13>conn{c} msg{i}".encode()
                sock.sendall(f"{len(msg)} ".encode() + msg if c % 2 else msg + b"\n")

    threads = [threading.Thread(target=client, args=(c,)) for c in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = _wait_records(bus, conns * per_conn)
    assert len(got) == conns * per_conn
    for c in range(conns):  # each connection's messages arrive complete and in order
        mine = [g for g in got if g.startswith(f"<13>conn{c} ".encode())]
        assert mine == [f"<13>conn{c} msg{i}".encode() for i in range(per_conn)]


def test_stop_flushes_everything_received(bus: SqliteBus, tmp_path: Path) -> None:
    pub = Publisher(bus.producer(), spool_dir=tmp_path / "spool")
    srv = SyslogServer(pub, port=0, flush_interval=5.0, batch_max=100_000)
    srv.start()
    assert srv.udp_port and srv.tcp_port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for i in range(200):
            sock.sendto(f"<13>udp {i}".encode(), ("127.0.0.1", srv.udp_port))
    with _tcp(srv.tcp_port) as sock:
        sock.sendall(b"".join(f"<13>tcp {i}\n".encode() for i in range(200)) + b"<13>unterminated")
        assert wait_for(lambda: srv.stats["received"] >= 400)
        srv.stop()  # the connection is still open: its unterminated last message is delivered too
    pub.close()
    got = [r.data for r in raw_records(bus)]
    assert len(got) == 401
    assert b"<13>unterminated" in got


class _SlowProducer:
    """A real embedded-bus producer that stalls until released (a bus that is slow to answer)."""

    def __init__(self, bus: SqliteBus) -> None:
        self.inner = bus.producer()
        self.release = threading.Event()
        self.stalled = threading.Event()  # set once a send is waiting for release

    def send(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        self.stalled.set()
        self.release.wait()
        self.inner.send(topic, value, key)

    def flush(self) -> None:
        self.inner.flush()

    def close(self) -> None:
        self.inner.close()


def test_udp_never_blocks_when_queue_full_it_spools(bus: SqliteBus, tmp_path: Path) -> None:
    producer = _SlowProducer(bus)
    pub = Publisher(producer, spool_dir=tmp_path / "spool")
    srv = SyslogServer(pub, port=0, tcp=False, queue_max=5, flush_interval=0.01)
    srv.start()
    assert srv.udp_port
    n = 60
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"<13>burst 0", ("127.0.0.1", srv.udp_port))
        # the publishing thread is stuck in the bus before the burst: otherwise it could take the whole
        # burst into its batch within one flush interval and the queue would never fill
        assert producer.stalled.wait(30)
        for i in range(1, n):
            sock.sendto(f"<13>burst {i}".encode(), ("127.0.0.1", srv.udp_port))
    assert wait_for(lambda: srv.stats["received"] == n, timeout=60), (
        srv.stats
    )  # each overflow is an fsynced spool write
    assert srv.stats["overflow_spooled"] > 0  # the reader went on while the bus stalled
    assert list((tmp_path / "spool").glob("spool-*.bin"))
    producer.release.set()
    srv.stop()
    pub.close()
    got = sorted(r.data for r in raw_records(bus))
    assert got == sorted(f"<13>burst {i}".encode() for i in range(n))


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.mark.skipif(not HAVE_CRYPTOGRAPHY, reason="cryptography is not installed: cannot make a test certificate")
def test_tls_syslog(bus: SqliteBus, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    pub = Publisher(bus.producer(), spool_dir=tmp_path / "spool")
    srv = SyslogServer(pub, port=0, udp=False, tls=server_ctx, flush_interval=0.05)
    srv.start()
    assert srv.tcp_port and srv.udp_port is None
    client_ctx = ssl.create_default_context(cafile=str(cert))
    with (
        socket.create_connection(("127.0.0.1", srv.tcp_port)) as raw,
        client_ctx.wrap_socket(raw, server_hostname="localhost") as sock,
    ):
        counted = b"<13>counted\nover tls"
        sock.sendall(b"<13>over tls\n" + f"{len(counted)} ".encode() + counted)
    # A plain-text client on the TLS port is refused without harming the server.
    with socket.create_connection(("127.0.0.1", srv.tcp_port)) as plain:
        plain.sendall(b"<13>not tls\n")
    assert wait_for(lambda: len(raw_records(bus)) >= 2)
    srv.stop()
    pub.close()
    assert [r.data for r in raw_records(bus)] == [b"<13>over tls", b"<13>counted\nover tls"]
