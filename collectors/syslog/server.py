"""Syslog receiver, UDP and TCP/TLS (stage "collect": syslog senders -> bus topic ``soc.raw``).

Neighbours: network devices and servers send syslog here; records go through the
:class:`~collectors.publisher.Publisher` to ``soc.raw`` where the pipeline worker parses them.

Threads: one UDP reader, one TCP acceptor, one reader per TCP connection (up to
``max_connections``; further senders wait in the listen backlog) and one publishing thread.
Readers put records on a bounded queue; the publishing thread publishes them and flushes every
``batch_max`` records or ``flush_interval`` seconds. Backpressure: a TCP reader blocks while the
queue is full (so the sender is slowed by TCP flow control); the UDP reader never waits, it
spools the record straight to disk through the publisher instead of dropping it.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable

from collectors.common import DEAD_LETTER_CAP
from collectors.publisher import Publisher
from collectors.syslog.framing import FrameDecoder, Rejected
from soc_core.errors import ConfigError
from soc_core.ids import new_id
from soc_core.models import DeadLetter, RawRecord

log = logging.getLogger(__name__)

UDP_MAX_DATAGRAM = 65535
_POLL = 0.2  # seconds between checks of the stop flag in blocking socket calls
_STOP_RETRIES = 20

Item = RawRecord | DeadLetter


def _address(scheme: str, ip: str, port: int) -> str:
    return f"{scheme}://[{ip}]:{port}" if ":" in ip else f"{scheme}://{ip}:{port}"


class SyslogServer:
    """Receives syslog on UDP and TCP (RFC 6587 framing, optional TLS) and publishes raw records."""

    def __init__(
        self,
        publisher: Publisher,
        *,
        host: str = "127.0.0.1",
        port: int = 5514,
        udp: bool = True,
        tcp: bool = True,
        max_message: int = 1 << 20,
        unit: str | None = None,
        batch_max: int = 1000,
        flush_interval: float = 0.2,
        tls: ssl.SSLContext | None = None,
        queue_max: int = 10_000,
        max_connections: int = 1024,
    ) -> None:
        self.publisher = publisher
        self.host = host
        self.port = port
        self.udp = udp
        self.tcp = tcp
        self.max_message = max_message
        self.unit = unit
        self.batch_max = batch_max
        self.flush_interval = flush_interval
        self.tls = tls
        self.udp_port: int | None = None
        self.tcp_port: int | None = None
        self.stats: dict[str, int] = {
            "received": 0,
            "empty": 0,  # empty UDP datagrams (nothing to record)
            "dead_lettered": 0,
            "overflow_spooled": 0,
            "connections": 0,
        }
        self._family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._queue: queue.Queue[Item | None] = queue.Queue(maxsize=queue_max)
        self._slots = threading.BoundedSemaphore(max_connections)
        self._stopping = threading.Event()
        self._stats_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._conn_threads: set[threading.Thread] = set()
        self._conn_lock = threading.Lock()
        self._publisher_thread: threading.Thread | None = None
        self._udp_sock: socket.socket | None = None
        self._tcp_sock: socket.socket | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Bind the sockets (port 0: ephemeral, see ``udp_port``/``tcp_port``) and start the threads."""
        if self._publisher_thread is not None:
            raise ConfigError("syslog server already started")
        try:
            if self.udp:
                self._udp_sock = self._bind(socket.SOCK_DGRAM)
                self.udp_port = self._udp_sock.getsockname()[1]
            if self.tcp:
                self._tcp_sock = self._bind(socket.SOCK_STREAM)
                self._tcp_sock.listen(512)
                self.tcp_port = self._tcp_sock.getsockname()[1]
        except OSError as exc:
            self._close_listeners()
            raise ConfigError(f"cannot bind syslog on {self.host}:{self.port}: {exc}") from exc
        self._publisher_thread = self._spawn(self._publish_loop, "syslog-publisher")
        if self._udp_sock is not None:
            self._threads.append(self._spawn(self._udp_loop, "syslog-udp"))
        if self._tcp_sock is not None:
            self._threads.append(self._spawn(self._accept_loop, "syslog-tcp-accept"))
        log.info("syslog listening on %s udp=%s tcp=%s tls=%s", self.host, self.udp_port, self.tcp_port, bool(self.tls))

    def stop(self) -> None:
        """Stop accepting; publish and flush everything received so far."""
        if self._publisher_thread is None:
            return
        self._stopping.set()
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        with self._conn_lock:
            conns = list(self._conn_threads)
        for thread in conns:
            thread.join()
        self._close_listeners()
        self._queue.put(None)
        self._publisher_thread.join()
        self._publisher_thread = None

    def __enter__(self) -> SyslogServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- sockets -------------------------------------------------------------------------
    def _bind(self, kind: socket.SocketKind) -> socket.socket:
        sock = socket.socket(self._family, kind)
        try:
            if kind == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            else:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
            sock.bind((self.host, self.port))
            sock.settimeout(_POLL)
        except OSError:
            sock.close()
            raise
        return sock

    def _close_listeners(self) -> None:
        for sock in (self._udp_sock, self._tcp_sock):
            if sock is not None:
                sock.close()

    def _spawn(self, target: Callable[[], None], name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        return thread

    def _count(self, name: str, n: int = 1) -> None:
        with self._stats_lock:
            self.stats[name] += n

    # -- UDP -----------------------------------------------------------------------------
    def _udp_loop(self) -> None:
        sock = self._udp_sock
        assert sock is not None
        while not self._stopping.is_set():
            try:
                data, addr = sock.recvfrom(UDP_MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError as exc:
                log.warning("syslog udp receive failed: %s", exc)
                time.sleep(_POLL)
                continue
            self._udp_received(data, addr)
        # Datagrams already in the socket buffer were received: take them too.
        sock.setblocking(False)
        while True:
            try:
                data, addr = sock.recvfrom(UDP_MAX_DATAGRAM)
            except OSError:
                break
            self._udp_received(data, addr)

    def _udp_received(self, data: bytes, addr: tuple[str, int] | tuple[str, int, int, int]) -> None:
        if not data:
            self._count("empty")
            return
        ip, port = addr[0], addr[1]
        source = _address("udp", ip, port)
        item: Item
        if len(data) > self.max_message:
            item = self._too_long(data, source, "syslog-udp")
        else:
            item = self._record(data, source, ip, "syslog-udp")
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.publisher.spool(item)
            self._count("overflow_spooled")

    # -- TCP -----------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        sock = self._tcp_sock
        assert sock is not None
        while not self._stopping.is_set():
            if not self._slots.acquire(timeout=_POLL):
                continue
            try:
                conn, addr = sock.accept()
            except TimeoutError:
                self._slots.release()
                continue
            except OSError as exc:
                self._slots.release()
                log.warning("syslog tcp accept failed: %s", exc)
                time.sleep(_POLL)
                continue
            self._count("connections")
            thread = threading.Thread(target=self._serve, args=(conn, addr), name="syslog-tcp-conn", daemon=True)
            with self._conn_lock:
                self._conn_threads.add(thread)
            thread.start()

    def _serve(self, conn: socket.socket, addr: tuple[str, int] | tuple[str, int, int, int]) -> None:
        ip, port = addr[0], addr[1]
        source = _address("tcp", ip, port)
        decoder = FrameDecoder(self.max_message)
        try:
            stream = self._wrap(conn, source)
            if stream is None:
                return
            stream.settimeout(_POLL)
            while True:
                try:
                    data = stream.recv(65536)
                except TimeoutError:
                    if self._stopping.is_set():
                        break
                    continue
                except (OSError, ssl.SSLError) as exc:
                    log.info("syslog connection %s ended with an error: %s", source, exc)
                    break
                if not data:
                    break
                for frame in decoder.feed(data):
                    self._queue.put(self._tcp_item(frame, source, ip))
            for frame in decoder.finish():
                self._queue.put(self._tcp_item(frame, source, ip))
        finally:
            with contextlib.suppress(OSError):
                conn.close()
            self._slots.release()
            with self._conn_lock:
                self._conn_threads.discard(threading.current_thread())

    def _wrap(self, conn: socket.socket, source: str) -> socket.socket | None:
        if self.tls is None:
            return conn
        conn.settimeout(10.0)
        try:
            return self.tls.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError) as exc:
            log.warning("syslog TLS handshake with %s failed: %s", source, exc)
            return None

    def _tcp_item(self, frame: bytes | Rejected, source: str, ip: str) -> Item:
        if isinstance(frame, Rejected):
            return self._dead_letter(frame.data, frame.reason, source, "syslog-tcp")
        return self._record(frame, source, ip, "syslog-tcp")

    # -- records -------------------------------------------------------------------------
    def _record(self, data: bytes, source: str, ip: str, collector: str) -> RawRecord:
        self._count("received")
        return RawRecord(
            id=new_id(),
            received=time.time(),
            collector=collector,
            kind="syslog",
            source=source,
            host=ip,
            data=data,
            unit=self.unit,
            format="syslog",
        )

    def _too_long(self, data: bytes, source: str, collector: str) -> DeadLetter:
        return self._dead_letter(data[:DEAD_LETTER_CAP], f"message exceeds {self.max_message} bytes", source, collector)

    def _dead_letter(self, data: bytes, reason: str, source: str, collector: str) -> DeadLetter:
        self._count("dead_lettered")
        return DeadLetter(
            id=new_id(),
            stage="collector",
            reason=reason,
            received=time.time(),
            source=source,
            collector=collector,
            data=data,
            error_type="SyslogFraming",
        )

    # -- publishing ----------------------------------------------------------------------
    def _publish_loop(self) -> None:
        done = False
        while not done:
            try:
                first = self._queue.get(timeout=self.flush_interval)
            except queue.Empty:
                continue
            batch: list[Item] = []
            if first is None:
                done = True
            else:
                batch.append(first)
                deadline = time.monotonic() + self.flush_interval
                while len(batch) < self.batch_max:
                    remaining = deadline - time.monotonic()
                    try:
                        item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        done = True
                        break
                    batch.append(item)
            self._deliver(batch)
        # Anything still queued after the sentinel (a late put) is delivered too.
        rest: list[Item] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                rest.append(item)
        self._deliver(rest)

    def _deliver(self, batch: list[Item]) -> None:
        """Publish and flush a batch; unexpected failures (e.g. a full disk) are retried, not dropped."""
        done = 0
        attempt = 0
        while True:
            try:
                while done < len(batch):
                    item = batch[done]
                    if isinstance(item, RawRecord):
                        self.publisher.publish(item)
                    else:
                        self.publisher.dead_letter(item)
                    done += 1
                self.publisher.flush()
                return
            except Exception:
                attempt += 1
                if self._stopping.is_set() and attempt >= _STOP_RETRIES:
                    lost = len(batch) - done
                    log.exception("syslog publishing failed while stopping; %d records not delivered", lost)
                    return
                log.exception("syslog publishing failed (attempt %d); retrying", attempt)
                time.sleep(min(0.1 * attempt, 2.0))
