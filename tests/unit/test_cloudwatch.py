"""CloudWatch Logs subscription payloads: decoding, control messages, reassembly, bad input."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest

from selfheal.domain.cloudwatch import (
    MAX_EVENT_CHARS,
    LogEvent,
    SubscriptionBatch,
    batch_lines,
    decode_subscription,
    extract_from_batch,
)
from selfheal.errors import MalformedInput

TB_LINES = [
    "Traceback (most recent call last):",
    '  File "/var/task/app.py", line 9, in handler',
    '    return event["order_id"]',
    "KeyError: 'order_id'",
]


def payload(messages: list[str], **extra: Any) -> str:
    doc = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/aws/lambda/orders",
        "logStream": "2024/05/01/[$LATEST]abc",
        "subscriptionFilters": ["selfheal"],
        "logEvents": [
            {"id": str(i), "timestamp": 1714550400000 + i, "message": m} for i, m in enumerate(messages)
        ],
        **extra,
    }
    return base64.b64encode(gzip.compress(json.dumps(doc).encode())).decode()


def test_decode_data_message() -> None:
    batch = decode_subscription(payload(["hello\n", "world"]))
    assert isinstance(batch, SubscriptionBatch)
    assert (batch.log_group, batch.log_stream) == ("/aws/lambda/orders", "2024/05/01/[$LATEST]abc")
    assert batch.control is False
    assert batch.owner == "123456789012" and batch.subscription_filters == ["selfheal"]
    assert batch.events[1] == LogEvent(id="1", timestamp=1714550400001, message="world")
    assert decode_subscription(payload(["x"]).encode()).events[0].message == "x"  # bytes accepted


def test_control_message_has_no_events() -> None:
    doc = {"messageType": "CONTROL_MESSAGE", "logGroup": "", "logStream": "", "logEvents": [
        {"id": "", "timestamp": 1, "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}
    ]}
    data = base64.b64encode(gzip.compress(json.dumps(doc).encode()))
    batch = decode_subscription(data)
    assert batch.control and batch.events == []
    assert extract_from_batch(batch) == []


@pytest.mark.parametrize(
    ("data", "stage"),
    [
        ("not base64 at all!!", "base64"),
        (base64.b64encode(b"plain bytes, not gzip").decode(), "gzip"),
        (base64.b64encode(gzip.compress(b"\x1f\x8b")[:12]).decode(), "gzip"),
        (base64.b64encode(gzip.compress(b"{not json")).decode(), "JSON"),
        (base64.b64encode(gzip.compress(b"\xff\xfe")).decode(), "JSON"),
        (base64.b64encode(gzip.compress(b"[1, 2]")).decode(), "not an object"),
        (base64.b64encode(gzip.compress(b'{"messageType": "DATA_MESSAGE"}')).decode(), "logEvents"),
    ],
)
def test_malformed_payloads_name_the_failing_stage(data: str, stage: str) -> None:
    with pytest.raises(MalformedInput, match=stage):
        decode_subscription(data)


def test_gzip_bomb_is_refused() -> None:
    bomb = base64.b64encode(gzip.compress(b" " * (70 * 1024 * 1024)))
    with pytest.raises(MalformedInput, match="inflates beyond"):
        decode_subscription(bomb)


def test_traceback_spread_over_one_event_per_line_is_reassembled() -> None:
    messages = ["INFO start", *TB_LINES, "INFO next request"]
    batch = decode_subscription(payload(messages))
    ((tb, event),) = extract_from_batch(batch)
    assert tb.final.type == "KeyError"
    assert [(f.file, f.line, f.function) for f in tb.final.frames] == [("/var/task/app.py", 9, "handler")]
    assert event.id == "1"  # the event holding the header line


def test_multi_line_events_and_several_tracebacks() -> None:
    lambda_event = "[ERROR] KeyError: 'order_id'\rTraceback (most recent call last):\r" + (
        '\u00a0\u00a0File "/var/task/app.py", line 9, in handler\r\u00a0\u00a0\u00a0\u00a0return x\n'
    )
    messages = ["START RequestId: 1", "\n".join(TB_LINES) + "\n", "END RequestId: 1", lambda_event]
    found = extract_from_batch(decode_subscription(payload(messages)))
    assert [(tb.final.type, ev.id) for tb, ev in found] == [("KeyError", "1"), ("KeyError", "3")]
    assert found[1][0].final.message == "'order_id'"
    assert list(batch_lines(decode_subscription(payload(["a\nb", "c"])))) == ["a", "b", "c"]


def test_oversized_event_is_capped_and_marked_truncated() -> None:
    huge = "\n".join(TB_LINES[:3]) + "\n" + "    " + "x" * (MAX_EVENT_CHARS + 10)
    batch = decode_subscription(payload([huge]))
    assert batch.events[0].truncated and len(batch.events[0].message) == MAX_EVENT_CHARS
    ((tb, _),) = extract_from_batch(batch)
    assert tb.truncated


def test_events_of_the_wrong_shape_are_skipped_not_the_payload() -> None:
    """#16: one event whose message is not a string must not drop the valid events beside it."""
    good = {"id": "1", "timestamp": 1, "message": "ok"}
    doc = {"logEvents": [{"message": 3}, 7, good, {"message": "x", "timestamp": "late"}]}
    batch = decode_subscription(base64.b64encode(gzip.compress(json.dumps(doc).encode())).decode())
    assert [e.message for e in batch.events] == ["ok"]
    assert batch.skipped == ["logEvents[0].message is int, not a string", "logEvents[1] is not an object",
                             "logEvents[3].timestamp is not a number"]
