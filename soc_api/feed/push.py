"""Push the outbox to the national recipients: ``soc feed push`` once, or a thread in the API.

Each due ``feed_outbox`` row is claimed (one attempt, counted before sending), then its bundle is
POSTed to the recipient's address with ``Content-Type: application/stix+json;version=2.1``, its
``Idempotency-Key`` (the same on every attempt) and ``Authorization: Bearer <secret>`` when a
secret is configured (``SOC_FEED_PUSH_TOKENS`` per recipient code, else ``SOC_FEED_PUSH_TOKEN``;
the secret is never logged or stored). The answer decides the row:

* 2xx -> ``acknowledged`` when the receiver names its acknowledgement (JSON ``ack_id``,
  ``acknowledgement_id``, ``receipt_id`` or ``id``; or header ``X-Acknowledgement-Id``), else
  ``sent``; the body and time are kept;
* network errors, 5xx, 408, 409, 425, 429 -> retried: the n-th attempt waits
  ``feed_push_backoff_seconds * 2**(n-1)`` (capped by ``feed_push_backoff_max_seconds``) after
  it; after ``feed_push_max_attempts`` attempts -> ``failed``;
* any other answer (the receiver refuses the bundle), or an address that is no URL -> ``failed``
  at once.

``failed`` rows go back to ``pending`` with ``soc feed push --retry-failed``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy.orm import Session, sessionmaker

import soc_core
from soc_api.crud import feed as feed_crud
from soc_api.db.base import utcnow
from soc_api.db.feed_models import FeedOutbox
from soc_api.db.workflow_models import Recipient
from soc_api.feed.stix import STIX_MEDIA_TYPE
from soc_core.settings import Settings

log = logging.getLogger(__name__)

RETRYABLE = frozenset({408, 409, 425, 429})
ACK_FIELDS = ("ack_id", "acknowledgement_id", "acknowledgment_id", "receipt_id", "id")
ACK_HEADERS = ("x-acknowledgement-id", "x-ack-id")


@dataclass(slots=True)
class PushSummary:
    """What one pass did."""

    attempted: int = 0
    acknowledged: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "attempted": self.attempted,
            "acknowledged": self.acknowledged,
            "sent": self.sent,
            "retrying": self.retrying,
            "failed": self.failed,
        }


def backoff(settings: Settings) -> Callable[[int], timedelta]:
    """Delay after the n-th attempt: base * 2**(n-1), capped."""

    def delay(attempt: int) -> timedelta:
        seconds = settings.feed_push_backoff_seconds * 2 ** min(max(attempt - 1, 0), 40)
        return timedelta(seconds=min(seconds, settings.feed_push_backoff_max_seconds))

    return delay


def _secret(settings: Settings, recipient: Recipient) -> str | None:
    token = settings.feed_push_tokens.get(recipient.code) or settings.feed_push_token
    return token.get_secret_value() if token is not None else None


def redact(url: str) -> str:
    """The URL without user info or query (they may hold credentials) for logs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "<invalid url>"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _ack_id(response: httpx.Response) -> str | None:
    for name in ACK_HEADERS:
        if response.headers.get(name):
            return response.headers[name]
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(body, dict):
        for name in ACK_FIELDS:
            value = body.get(name)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                return str(value)
    return None


def _send(client: httpx.Client, settings: Settings, row: FeedOutbox, recipient: Recipient) -> httpx.Response:
    headers = {
        "Content-Type": STIX_MEDIA_TYPE,
        "Accept": "application/json",
        "Idempotency-Key": row.idempotency_key,
        "User-Agent": f"provincial-soc-feed/{soc_core.__version__}",
    }
    secret = _secret(settings, recipient)
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    return client.post(recipient.address or "", content=row.payload.encode("utf-8"), headers=headers)


def _attempt(
    sessions: sessionmaker[Session], settings: Settings, client: httpx.Client, row_id: int, now: datetime
) -> str | None:
    """One attempt on one row; returns its outcome or ``None`` when another sender has it."""
    with sessions() as session:
        row = feed_crud.claim(session, row_id, now, backoff(settings))
        if row is None:
            session.rollback()
            return None
        recipient = session.get(Recipient, row.recipient_id)
        session.commit()
    if recipient is None or not recipient.enabled or not recipient.address:
        with sessions() as session:
            row = session.get(FeedOutbox, row_id)
            if row is not None:
                reason = "recipient disabled or without address"
                max_attempts = settings.feed_push_max_attempts
                feed_crud.record_failure(
                    session, row, http_status=None, error=reason, permanent=True, max_attempts=max_attempts
                )
                session.commit()
        return "failed"
    where = f"{recipient.code} {redact(recipient.address)}"
    http_status: int | None = None
    unusable = False
    response: httpx.Response | None = None
    try:
        response = _send(client, settings, row, recipient)
        http_status = response.status_code
        error = None if response.is_success else f"HTTP {http_status}: {response.text[:300]}"
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:  # cannot be sent to: fix it, then requeue
        unusable, error = True, f"invalid address: {exc}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    with sessions() as session:
        current = session.get(FeedOutbox, row_id)
        if current is None:  # the incident was deleted meanwhile
            return None
        if response is not None and error is None:
            ack = _ack_id(response)
            body = response.text
            feed_crud.record_delivery(
                session, current, http_status=response.status_code, ack_id=ack, ack_body=body, now=utcnow()
            )
            outcome = current.status
            log.info("feed bundle %s for incident %s -> %s: %s", current.bundle_id, current.incident_id, where, outcome)
        else:
            refused = http_status is not None and 400 <= http_status < 500 and http_status not in RETRYABLE
            permanent = unusable or refused
            feed_crud.record_failure(
                session,
                current,
                http_status=http_status,
                error=error or "unknown error",
                permanent=permanent,
                max_attempts=settings.feed_push_max_attempts,
            )
            outcome = "failed" if current.status == "failed" else "retrying"
            log.warning(
                "feed bundle %s for incident %s -> %s: attempt %d %s (%s)",
                current.bundle_id,
                current.incident_id,
                where,
                current.attempts,
                outcome,
                (error or "")[:200],
            )
        session.commit()
    return outcome


def push_due(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    client: httpx.Client | None = None,
    now: datetime | None = None,
    limit: int = 500,
) -> PushSummary:
    """One pass over the due outbox rows (oldest first)."""
    summary = PushSummary()
    moment = now or utcnow()
    with sessions() as session:
        ids = feed_crud.due_ids(session, moment, limit)
    if not ids:
        return summary
    own = client is None
    http = client or httpx.Client(timeout=settings.feed_push_timeout_seconds, follow_redirects=False)
    try:
        for row_id in ids:
            outcome = _attempt(sessions, settings, http, row_id, now or utcnow())
            if outcome is None:
                continue
            summary.attempted += 1
            if outcome == "acknowledged":
                summary.acknowledged += 1
            elif outcome == "sent":
                summary.sent += 1
            elif outcome == "retrying":
                summary.retrying += 1
            else:
                summary.failed += 1
    finally:
        if own:
            http.close()
    return summary


class PushWorker:
    """A daemon thread running :func:`push_due` every ``feed_push_interval_seconds``."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soc-feed-push", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        interval = self._settings.feed_push_interval_seconds
        while not self._stop.is_set():
            try:
                summary = push_due(self._sessions, self._settings)
                if summary.attempted:
                    log.info("feed push: %s", json.dumps(summary.as_dict()))
            except Exception:  # keep the thread alive; the next pass retries
                log.exception("feed push pass failed")
            self._stop.wait(interval)
