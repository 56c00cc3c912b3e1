"""Occurrence identity: what makes two sightings of a log event the same sighting.

On AWS a log event is identified by its log group, log stream and CloudWatch event id; a
delivered payload (a subscription batch) by its stream and the ids of all its events, so a
retried or duplicated delivery has the same key as the first (``delivery_key``). Locally a line
is identified by its file and byte offset (``selfheal.adapters.file_cursor``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def delivery_key(log_group: str, log_stream: str, event_ids: Iterable[str]) -> str:
    """The identity of one delivered payload: its log stream and the ids of its events."""
    h = hashlib.sha256()
    for part in (log_group, log_stream, *sorted(event_ids)):
        h.update(part.encode("utf-8", "replace"))
        h.update(b"\x00")
    return h.hexdigest()[:40]
