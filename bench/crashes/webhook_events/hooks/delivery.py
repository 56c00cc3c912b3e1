"""Delivery bookkeeping for outgoing webhook events (the HTTP call itself is injected)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

MAX_ATTEMPTS = 5
BACKOFF = [timedelta(seconds=s) for s in (10, 60, 300, 1800)]


@dataclass
class Event:
    event_id: str
    url: str
    payload: dict[str, object]
    received_at: datetime
    attempts: int = 0
    last_error: str | None = None
    history: list[str] = field(default_factory=list)


def next_retry(event: Event) -> datetime | None:
    """When to try again, or None when the event has used all its attempts."""
    if event.attempts >= MAX_ATTEMPTS:
        return None
    delay = BACKOFF[min(event.attempts - 1, len(BACKOFF) - 1)]
    return event.recieved_at + delay * event.attempts


def deliver(event: Event, send: Callable[[str, dict[str, object]], int]) -> dict[str, object]:
    """Try once; on failure schedule the retry."""
    event.attempts += 1
    status = send(event.url, event.payload)
    event.history.append(f"attempt {event.attempts}: HTTP {status}")
    if 200 <= status < 300:
        return {"event": event.event_id, "delivered": True}
    event.last_error = f"HTTP {status}"
    retry = next_retry(event)
    return {"event": event.event_id, "delivered": False,
            "retry_at": retry.isoformat() if retry else None}
