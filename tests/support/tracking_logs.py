"""Synthetic application logs for the error-tracking tests: N distinct defects, each occurring
many times with different timestamps, request ids and message parameters."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

_TYPES = ("KeyError", "ValueError", "TypeError", "ZeroDivisionError", "AttributeError")


def traceback_text(error: int, occurrence: int) -> str:
    """The traceback of defect ``error`` (0-based), varied by ``occurrence`` where a fingerprint
    must not care: the request id and the message's parameters."""
    exc = _TYPES[error % len(_TYPES)]
    return (
        "Traceback (most recent call last):\n"
        '  File "/app/orders/handler.py", line 42, in handle\n'
        "    return route(event)\n"
        f'  File "/app/orders/step{error}.py", line {10 + error}, in run_{error}\n'
        f"    value = compute_{error}(payload)\n"
        f"{exc}: bad value 'sku-{occurrence * 7919 % 10007}' in request {occurrence}"
    )


def log_lines(errors: int, occurrences: int, *, noise: bool = True) -> list[str]:
    """A log of ``errors`` defects x ``occurrences`` each, interleaved, with ordinary lines."""
    lines: list[str] = []
    for occ in range(occurrences):
        for err in range(errors):
            if noise:
                lines.append(f"2026-11-29 14:{occ % 60:02d}:{err % 60:02d},123 INFO req-{occ}-{err} start")
            lines.append(f"2026-11-29 14:{occ % 60:02d}:{err % 60:02d},456 ERROR req-{occ}-{err} failed")
            lines.extend(traceback_text(err, occ).splitlines())
    return lines


def subscription_data(messages: list[str], *, group: str = "/aws/lambda/orders",
                      stream: str = "2026/11/29/[$LATEST]abc", message_type: str = "DATA_MESSAGE",
                      start_ms: int = 1_764_424_800_000, first_id: int = 36_000_000) -> str:
    """A CloudWatch Logs subscription payload: base64 of gzip of the JSON document (event ids
    from ``first_id``: CloudWatch's are unique within a stream)."""
    doc: dict[str, Any] = {
        "messageType": message_type, "owner": "123456789012", "logGroup": group, "logStream": stream,
        "subscriptionFilters": ["selfheal"],
        "logEvents": [{"id": str(first_id + i), "timestamp": start_ms + i, "message": m}
                      for i, m in enumerate(messages)],
    }
    return base64.b64encode(gzip.compress(json.dumps(doc).encode())).decode()


def cloudwatch_event(messages: list[str], **kwargs: Any) -> dict[str, Any]:
    """The Lambda event CloudWatch Logs delivers to a subscribed function. Event ids follow the
    messages (CloudWatch's are unique within a stream): the same messages make the same delivery
    (a retry), other messages another one."""
    import zlib

    digest = zlib.crc32("\x00".join(messages).encode()) % 1_000_000
    kwargs.setdefault("first_id", 36_000_000 + 1000 * digest)
    return {"awslogs": {"data": subscription_data(messages, **kwargs)}}


def traceback_events(errors: int, occurrences: int) -> list[str]:
    """Log event messages as Lambda writes them: one whole traceback per event."""
    return [traceback_text(err, occ) for occ in range(occurrences) for err in range(errors)]
