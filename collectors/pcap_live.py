"""Collector source "pcap-live": packets sniffed on network interfaces (pyshark) -> raw records.

Neighbours: ``soc collect`` (:mod:`soc_cli.roles`) runs one :class:`LiveCaptureSource` when the
setting ``pcap_interfaces`` names interfaces; it publishes through a
:class:`~collectors.publisher.Publisher` like the syslog server. The records are the same compact
JSON as the file reader's (:mod:`collectors.pcap`), parsed by :mod:`pipeline.parsers.pcap`.

pyshark drives tshark/dumpcap for us (interface selection, BPF filter, ring handling) — the part
where its convenience matters; per packet it is slow (hundreds to a few thousand packets/s, see
``soc bench pcap``), which is acceptable for the application events of a sensor port but not for
bulk files. Live packets cannot be replayed, so application records get fresh ids; flow summaries
are flushed every ``flow_interval`` seconds with ids from (interfaces, window start, 5-tuple).
Capturing needs the privileges of dumpcap (root or the ``wireshark`` group).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import warnings
from collections.abc import Sequence
from typing import Any

import orjson
import pyshark

from collectors.pcap_fields import FIELDS, FlowTable, Packet, app_records
from collectors.publisher import Publisher
from soc_core.ids import new_id, stable_id
from soc_core.models import DeadLetter, RawRecord

log = logging.getLogger(__name__)

# pyshark attributes outside the protocol layers
_FRAME_ATTRS = {"frame.number": "number", "frame.time_epoch": "sniff_timestamp", "frame.len": "length"}


def packet_fields(packet: Any) -> Packet:
    """A pyshark packet as the tshark field dictionary the shared extractors read."""
    pkt: Packet = {}
    for name, attr in _FRAME_ATTRS.items():
        value = getattr(packet, attr, None)
        if value is not None:
            pkt[name] = str(value)
    frame_info = getattr(packet, "frame_info", None)
    protocols = getattr(frame_info, "protocols", None)
    if protocols:
        pkt["frame.protocols"] = str(protocols)
    for name in FIELDS:
        if name.startswith("frame."):
            continue
        layer_name, _, rest = name.partition(".")
        layer = getattr(packet, layer_name, None) if layer_name in packet else None
        value = getattr(layer, rest.replace(".", "_"), None) if layer is not None else None
        if value is not None and str(value):
            pkt[name] = str(value)
    return pkt


def threaded_child_watcher() -> None:
    """Let event loops of any thread start tshark. Call from the main thread, before the capture thread.

    pyshark, when used in the main thread, installs a ``SafeChildWatcher`` bound to the main thread's
    loop (and replacing a watcher means closing it, which only the main thread may do); subprocesses
    started from another thread's loop then fail ("child watcher is not activated"). A
    ``ThreadedChildWatcher`` serves loops in every thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # child watchers are deprecated from 3.12 on
        if not isinstance(asyncio.get_child_watcher(), asyncio.ThreadedChildWatcher):
            asyncio.set_child_watcher(asyncio.ThreadedChildWatcher())


def use_thread_event_loop() -> asyncio.AbstractEventLoop:
    """A fresh event loop, current in the calling thread (pyshark runs tshark from it)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    return loop


class LiveCaptureSource:
    """Sniffs ``interfaces`` (BPF ``bpf_filter``) in a thread and publishes capture records."""

    def __init__(
        self,
        publisher: Publisher,
        interfaces: Sequence[str],
        *,
        bpf_filter: str = "",
        flow_interval: float = 60.0,
        unit: str | None = None,
    ) -> None:
        if not interfaces:
            raise ValueError("no interface to capture on")
        self.publisher = publisher
        self.interfaces = list(interfaces)
        self.bpf_filter = bpf_filter
        self.flow_interval = flow_interval
        self.unit = unit
        self.source = "interface://" + ",".join(self.interfaces)
        self.flows = FlowTable()
        self.window_start = time.time()
        self.packets = 0
        self._capture: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def open_capture(self) -> Any:
        """The pyshark capture (nothing runs until it is iterated)."""
        return pyshark.LiveCapture(interface=self.interfaces, bpf_filter=self.bpf_filter or None)

    def start(self) -> None:
        threaded_child_watcher()
        self._thread = threading.Thread(target=self._run, name="pcap-live", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        capture = self._capture
        if capture is not None:
            try:
                capture.close()
            except Exception:  # pyshark may fail to close a capture whose loop is gone
                log.debug("closing the live capture failed", exc_info=True)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush_flows()

    def _record(self, rid: str, rec: dict[str, Any]) -> RawRecord:
        return RawRecord(
            id=rid,
            received=time.time(),
            collector="pcap-live",
            kind="pcap",
            source=self.source,
            data=orjson.dumps(rec),
            unit=self.unit,
            format="pcap",
        )

    def handle(self, packet: Any) -> None:
        """One sniffed packet: publish its application events, count it into its flow."""
        pkt = packet_fields(packet)
        self.packets += 1
        self.flows.add(pkt)
        for rec in app_records(pkt):
            self.publisher.publish(self._record(new_id(), rec))
        if time.time() - self.window_start >= self.flow_interval:
            self.flush_flows()

    def flush_flows(self) -> None:
        window = self.window_start
        self.window_start = time.time()
        for key, rec in self.flows.records():
            self.publisher.publish(self._record(stable_id("pcap-live-flow", self.source, f"{window:.6f}", *key), rec))

    def _run(self) -> None:
        use_thread_event_loop()
        try:
            self._capture = self.open_capture()
            for packet in self._capture.sniff_continuously():
                if self._stop.is_set():
                    return
                self.handle(packet)
        except Exception as exc:  # capture failures (no privileges, no interface) must be visible
            if self._stop.is_set():
                return
            log.exception("live capture on %s stopped", self.source)
            self.publisher.dead_letter(
                DeadLetter(
                    id=new_id(),
                    stage="collector",
                    reason=f"live capture on {self.source} stopped: {exc}",
                    received=time.time(),
                    source=self.source,
                    collector="pcap-live",
                    data=b"",
                    error_type=type(exc).__name__,
                )
            )
