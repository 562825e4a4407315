"""The loop every consuming stage runs: poll a batch, hand it downstream, commit only after success.

A handler that raises :class:`~soc_core.errors.StoreUnavailable` or
:class:`~soc_core.errors.BusUnavailable` is retried with backoff on the same batch (offsets are not
committed, so a crash meanwhile re-delivers it). Any other exception is a bug in a handler: the
batch is re-read after a pause and the error logged, never skipped silently. Handlers must be
idempotent: redelivery is how at-least-once works.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from soc_core.bus import Consumer, Message
from soc_core.errors import BusUnavailable, StoreUnavailable

log = logging.getLogger(__name__)

Handler = Callable[[Sequence[Message]], None]


class StageLoop:
    """Runs ``handler`` over batches from ``consumer`` in a background thread."""

    def __init__(
        self,
        name: str,
        consumer: Consumer,
        handler: Handler,
        *,
        batch: int = 1000,
        poll_timeout: float = 0.2,
        max_backoff: float = 5.0,
    ) -> None:
        self.name = name
        self.consumer = consumer
        self.handler = handler
        self.batch = batch
        self.poll_timeout = poll_timeout
        self.max_backoff = max_backoff
        self.processed = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Poll one batch, handle it, commit. Returns how many messages were committed."""
        messages = self.consumer.poll(self.batch, self.poll_timeout)
        if not messages:
            return 0
        backoff = 0.1
        while True:
            try:
                self.handler(messages)
                break
            except (StoreUnavailable, BusUnavailable) as exc:
                self.failures += 1
                log.warning("%s: downstream unavailable (%s); retrying in %.1fs", self.name, exc, backoff)
            except Exception:
                self.failures += 1
                log.exception("%s: handler failed; batch will be retried", self.name)
            if self._stop.wait(backoff):
                self.consumer.seek_to_committed()
                return 0
            backoff = min(backoff * 2, self.max_backoff)
        self.consumer.commit(messages)
        self.processed += len(messages)
        return len(messages)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_once()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.consumer.close()
