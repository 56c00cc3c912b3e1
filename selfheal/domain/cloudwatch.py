"""CloudWatch Logs subscription payloads: decode them and find the tracebacks they carry.

A subscription filter delivers ``{"awslogs": {"data": <base64 of gzip of JSON>}}``; the JSON holds
one log stream's events. ``decode_subscription`` turns ``data`` into a typed batch and names the
stage that failed (base64, gzip, JSON, shape) in a ``MalformedInput``; an event of the wrong
shape inside a good payload is left out and named in ``SubscriptionBatch.skipped``, so the
payload's other events are still read. Outside Lambda a traceback
often arrives as one event per line; ``extract_from_batch`` feeds the events of the stream to the
extractor as consecutive lines, so such a traceback is reassembled, and each traceback is reported
with the event it starts in. Pure: no AWS calls.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from selfheal.domain.extract import TracebackScanner
from selfheal.domain.traceback import Traceback
from selfheal.errors import MalformedInput

CONTROL_MESSAGE = "CONTROL_MESSAGE"
DATA_MESSAGE = "DATA_MESSAGE"
MAX_EVENT_CHARS = 256 * 1024  # CloudWatch's own event limit; anything larger is cut, not refused
MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024  # a gzip bomb is refused, not inflated


@dataclass(slots=True)
class LogEvent:
    """One log event of the stream."""

    id: str
    timestamp: int
    message: str
    truncated: bool = False


@dataclass
class SubscriptionBatch:
    """The decoded payload: the stream's events, or a control message with none."""

    log_group: str
    log_stream: str
    events: list[LogEvent]
    control: bool
    owner: str = ""
    subscription_filters: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # events left out, and why (malformed)


def _b64(data: str | bytes) -> bytes:
    raw = data.encode("ascii", "replace") if isinstance(data, str) else data
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedInput(f"CloudWatch Logs payload: base64 decoding failed: {exc}") from exc


def _gunzip(blob: bytes) -> bytes:
    try:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        out = inflater.decompress(blob, MAX_DECOMPRESSED_BYTES)
        if inflater.unconsumed_tail:
            raise MalformedInput(
                f"CloudWatch Logs payload: gzip data inflates beyond {MAX_DECOMPRESSED_BYTES} bytes"
            )
        if not inflater.eof:
            raise MalformedInput("CloudWatch Logs payload: gzip decompression failed: truncated stream")
        return out
    except zlib.error as exc:
        raise MalformedInput(f"CloudWatch Logs payload: gzip decompression failed: {exc}") from exc


def _events(items: list[Any], skipped: list[str]) -> list[LogEvent]:
    """Validate and convert ``logEvents`` (up to ~10,000 events per payload, so a fast path)."""
    try:
        events = [LogEvent(it["id"], it["timestamp"], it["message"]) for it in items]
    except (KeyError, TypeError):
        return _events_checked(items, skipped)
    well_typed = (
        {type(e.message) for e in events} <= {str}
        and {type(e.timestamp) for e in events} <= {int}
        and {type(e.id) for e in events} <= {str}
    )
    if not well_typed:
        return _events_checked(items, skipped)
    if events and max(map(len, (e.message for e in events))) > MAX_EVENT_CHARS:
        for e in events:
            if len(e.message) > MAX_EVENT_CHARS:
                e.message = e.message[:MAX_EVENT_CHARS]
                e.truncated = True
    return events


def _events_checked(items: list[Any], skipped: list[str]) -> list[LogEvent]:
    """The careful conversion: defaults for missing fields; an event of the wrong shape is left
    out (why goes to ``skipped``) so the valid events of the payload are still ingested."""
    out: list[LogEvent] = []
    append = out.append
    for index, item in enumerate(items):
        if type(item) is not dict:
            skipped.append(f"logEvents[{index}] is not an object")
            continue
        message = item.get("message")
        if type(message) is not str:
            skipped.append(f"logEvents[{index}].message is {type(message).__name__}, not a string")
            continue
        timestamp = item.get("timestamp", 0)
        if type(timestamp) is not int:
            if isinstance(timestamp, bool) or not isinstance(timestamp, float):
                skipped.append(f"logEvents[{index}].timestamp is not a number")
                continue
            timestamp = int(timestamp)
        truncated = len(message) > MAX_EVENT_CHARS
        if truncated:
            message = message[:MAX_EVENT_CHARS]
        append(LogEvent(str(item.get("id", "")), timestamp, message, truncated))
    return out


def decode_subscription(data: object) -> SubscriptionBatch:
    """Decode a subscription ``data`` field (base64 -> gzip -> JSON) into a batch.

    Anything that is not such a payload (no data, ``None``, a number, nesting too deep for the
    parser) raises ``MalformedInput``; nothing else escapes."""
    if not isinstance(data, str | bytes):
        raise MalformedInput(f"CloudWatch Logs payload: data is {type(data).__name__}, not a base64 string")
    blob = _gunzip(_b64(data))
    try:
        doc = json.loads(blob)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedInput(f"CloudWatch Logs payload: JSON decoding failed: {exc}") from exc
    except RecursionError as exc:
        raise MalformedInput("CloudWatch Logs payload: JSON nested too deeply") from exc
    if not isinstance(doc, dict):
        raise MalformedInput("CloudWatch Logs payload: JSON document is not an object")
    filters = doc.get("subscriptionFilters") or []
    batch = SubscriptionBatch(
        log_group=str(doc.get("logGroup", "")),
        log_stream=str(doc.get("logStream", "")),
        events=[],
        control=doc.get("messageType", DATA_MESSAGE) == CONTROL_MESSAGE,
        owner=str(doc.get("owner", "")),
        subscription_filters=[str(f) for f in filters] if isinstance(filters, list) else [],
    )
    if batch.control:
        return batch
    items = doc.get("logEvents")
    if not isinstance(items, list):
        raise MalformedInput("CloudWatch Logs payload: logEvents is missing or not a list")
    batch.events = _events(items, batch.skipped)
    return batch


def _event_lines(event: LogEvent) -> list[str]:
    message = event.message.rstrip("\n")
    return message.split("\n") if "\n" in message else [message]


def batch_lines(batch: SubscriptionBatch) -> Iterator[str]:
    """The batch's text as consecutive lines, event after event (multi-line events split)."""
    for event in batch.events:
        yield from _event_lines(event)


def extract_from_batch(
    batch: SubscriptionBatch, *, max_frames: int = 1000, max_bytes: int = 256 * 1024
) -> list[tuple[Traceback, LogEvent]]:
    """Every traceback in the batch with the event it starts in (tracebacks may span events)."""
    if batch.control or not batch.events:
        return []
    scanner = TracebackScanner(max_frames, max_bytes)
    fed_starts: list[int] = []  # number of the first line of each event given to the scanner
    fed_events: list[LogEvent] = []
    found: list[tuple[Traceback, LogEvent]] = []

    def collect(tracebacks: Iterator[Traceback]) -> None:
        for tb in tracebacks:
            event = fed_events[max(0, bisect.bisect_right(fed_starts, tb.first_line) - 1)]
            if event.truncated:
                tb.truncated = True
            found.append((tb, event))

    number = 1
    for event in batch.events:
        message = event.message
        if scanner.block is None and "Trace" not in message and 'File "' not in message:
            # The common case: an ordinary record between tracebacks, skipped without splitting.
            scanner.prev = message
            number += 1 + message.count("\n", 0, len(message) - 1)
            continue
        fed_starts.append(number)
        fed_events.append(event)
        for line in _event_lines(event):
            collect(scanner.feed(line, number))
            number += 1
    collect(scanner.finish())
    return found
