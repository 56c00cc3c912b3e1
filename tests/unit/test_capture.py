"""Capturing the failing input: each supported log form pairs the traceback with its invocation's event."""

from __future__ import annotations

import io
import json
import logging

import pytest

from selfheal.domain.capture import CaptureConfig, InvocationTracker, make_input, merge_inputs
from selfheal.domain.extract import extract_tracebacks
from selfheal.lambda_helper import lambda_helper

RID_A = "8f5a1c2e-0b7d-4c1e-9a55-1f0e3d2c1b0a"
RID_B = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
TRACE = ['Traceback (most recent call last):',
         '  File "/var/task/profiles/app.py", line 9, in handler',
         '    first = user["name"].split()[0]',
         "KeyError: 'name'"]


def _pairs(text: str, config: CaptureConfig | None = None) -> list[dict[str, object] | None]:
    tracker = InvocationTracker(config)
    out = []
    for tb in extract_tracebacks(tracker.watch(text.splitlines())):
        found = tracker.input_for(tb.first_line)
        out.append(found.value() if found else None)
    return out


def test_blueprint_print_between_start_and_end_multi_line_json() -> None:
    event = {"user": {"id": "u-1"}, "path": "/profile"}
    log = "\n".join([
        f"START RequestId: {RID_A} Version: $LATEST",
        "Received event: " + json.dumps(event, indent=2),
        f"[ERROR] KeyError: 'name'\r{chr(13).join(TRACE)}",
        f"END RequestId: {RID_A}",
        f"REPORT RequestId: {RID_A}\tDuration: 2.1 ms",
    ])
    assert _pairs(log) == [event]


def test_runtime_prefix_label_and_request_id_on_the_traceback_line() -> None:
    """Without START/END lines (a filtered export), the request id on the record pairs them; the
    other invocation's event is not taken."""
    log = "\n".join([
        f"[INFO]\t2026-12-01T10:00:00.000Z\t{RID_B}\tevent: {json.dumps({'user': 'other'})}",
        f"[INFO]\t2026-12-01T10:00:01.000Z\t{RID_A}\tincoming request: {json.dumps({'user': {'id': 'u-2'}})}",
        f"[ERROR]\t2026-12-01T10:00:01.010Z\t{RID_A}\tprofile failed",
        *TRACE,
    ])
    assert _pairs(log) == [{"user": {"id": "u-2"}}]


def test_bare_json_message_is_a_weaker_candidate_than_a_labelled_one() -> None:
    log = "\n".join([
        f"START RequestId: {RID_A} Version: $LATEST",
        f"[INFO]\t2026-12-01T10:00:01.000Z\t{RID_A}\t{json.dumps({'cache': 'warm'})}",
        f"[INFO]\t2026-12-01T10:00:01.000Z\t{RID_A}\tReceived event: {json.dumps({'id': 7})}",
        *TRACE,
        f"END RequestId: {RID_A}",
    ])
    assert _pairs(log) == [{"id": 7}]


def test_lambda_json_log_format_pairs_the_unhandled_error_document() -> None:
    error = {"timestamp": "2026-12-01T10:00:01Z", "level": "ERROR", "requestId": RID_A,
             "message": {"errorMessage": "'name'", "errorType": "KeyError", "requestId": RID_A,
                         "stackTrace": ['  File "/var/task/profiles/app.py", line 9, in handler\n'
                                        '    first = user["name"].split()[0]\n']}}
    log = "\n".join([
        json.dumps({"time": "2026-12-01T10:00:00Z", "type": "platform.start",
                    "record": {"requestId": RID_A, "version": "$LATEST"}}),
        json.dumps({"timestamp": "2026-12-01T10:00:00Z", "level": "INFO", "requestId": RID_A,
                    "message": "Received event: " + json.dumps({"user": {"id": "u-3"}})}),
        json.dumps(error),
        json.dumps({"time": "2026-12-01T10:00:02Z", "type": "platform.runtimeDone",
                    "record": {"requestId": RID_A, "status": "error"}}),
    ])
    assert _pairs(log) == [{"user": {"id": "u-3"}}]


def test_real_powertools_log_event_record_is_captured() -> None:
    from aws_lambda_powertools import Logger

    buf = io.StringIO()
    logger = Logger(service="profiles", logger_handler=logging.StreamHandler(buf))

    class Context:
        function_name = "profiles"
        memory_limit_in_mb = 128
        invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:profiles"
        aws_request_id = RID_A

    @logger.inject_lambda_context(log_event=True)
    def handler(event: dict[str, object], context: object) -> object:
        try:
            return event["name"]
        except KeyError:
            logger.exception("profile failed")
            raise

    with pytest.raises(KeyError):
        handler({"user": {"id": "u-4"}, "password": "hunter2-hunter2"}, Context())
    assert _pairs(buf.getvalue()) == [{"user": {"id": "u-4"}, "password": "[REDACTED:secret]"}]


def test_helper_logs_event_and_traceback_in_one_record() -> None:
    buf = io.StringIO()

    @lambda_helper(stream=buf)
    def handler(event: dict[str, object], context: object) -> object:
        return event["name"]

    class Context:
        aws_request_id = RID_B

    with pytest.raises(KeyError):
        handler({"id": 9}, Context())
    record = json.loads(buf.getvalue())
    assert record["requestId"] == RID_B and "KeyError" in record["exception"]
    tracker = InvocationTracker()
    found = [(tb, tracker.input_for(tb.first_line)) for tb in
             extract_tracebacks(tracker.watch(buf.getvalue().splitlines()))]
    assert len(found) == 1 and found[0][0].final.type == "KeyError"
    assert found[0][1] is not None and found[0][1].kind == "helper" and found[0][1].value() == {"id": 9}


def test_no_invocation_no_pairing_and_capture_can_be_switched_off() -> None:
    plain = "\n".join(["2026-12-01 INFO event: {\"a\": 1}", *TRACE])
    assert _pairs(plain) == [None]  # no START/END and no request id: nothing is guessed
    log = "\n".join([f"START RequestId: {RID_A}", 'event: {"a": 1}', *TRACE, f"END RequestId: {RID_A}"])
    assert _pairs(log) == [{"a": 1}]
    assert _pairs(log, CaptureConfig(enabled=False)) == [None]


def test_event_after_end_belongs_to_nobody_and_patterns_are_configurable() -> None:
    log = "\n".join([f"START RequestId: {RID_A}", "order: {\"id\": 3}", *TRACE, f"END RequestId: {RID_A}"])
    # "order" is not an event label: only a weak candidate, still the invocation's only one
    assert _pairs(log) == [{"id": 3}]
    log2 = "\n".join([f"START RequestId: {RID_A}", "order: {\"id\": 3}", "event: {\"id\": 4}", *TRACE,
                      f"END RequestId: {RID_A}"])
    assert _pairs(log2) == [{"id": 4}]
    assert _pairs(log2, CaptureConfig(labels=(r"^order$",))) == [{"id": 3}]


def test_size_cap_marks_truncated_and_merge_keeps_first_distinct() -> None:
    big = make_input({"blob": "x" * 5000}, "print", max_bytes=1000)
    assert big.truncated and len(big.event.encode()) <= 1000 and big.value() is None
    a, b, c = (make_input({"n": i}, "print") for i in range(3))
    kept = merge_inputs([a], [a, big, b, c], keep=3)
    assert [k.digest for k in kept] == [a.digest, b.digest, c.digest]  # replayable before truncated
    assert merge_inputs(kept, [make_input({"n": 9}, "print")], keep=3) == kept


def test_redaction_keeps_json_valid() -> None:
    captured = make_input({"headers": {"Authorization": "Bearer abcdefghijklmnop"},
                           "email": "someone@example.com", "note": 'quote " inside'}, "print")
    value = captured.value()
    assert value["headers"]["Authorization"] == "[REDACTED:secret]"
    assert value["email"] == "[REDACTED:email]" and value["note"] == 'quote " inside'


def test_helper_record_passes_the_stacks_default_subscription_filter() -> None:
    """On AWS only events matching TracebackFilterPattern reach ingest: the helper's one record
    (event + traceback) must match the default pattern's OR terms."""
    import re
    from pathlib import Path

    template = (Path(__file__).resolve().parents[2] / "template.yaml").read_text()
    default = re.search(r"TracebackFilterPattern:.*?Default: '([^']*)'", template, re.DOTALL)
    assert default is not None
    terms = re.findall(r'\?"([^"]+)"', default.group(1))
    assert terms
    buf = io.StringIO()

    @lambda_helper(stream=buf)
    def handler(event: dict[str, object], context: object) -> object:
        return event["name"]

    with pytest.raises(KeyError):
        handler({"id": 1}, object())
    line = buf.getvalue().strip()
    assert "\n" not in line and any(term in line for term in terms)


def test_a_printed_dict_repr_does_not_swallow_the_event_line() -> None:
    log = "\n".join([f"START RequestId: {RID_A}", "config: {'debug': True}",
                     "Received event: " + json.dumps({"id": 5}), *TRACE, f"END RequestId: {RID_A}"])
    assert _pairs(log) == [{"id": 5}]


def test_powertools_append_keys_puts_the_event_on_the_exception_record() -> None:
    """The Powertools-compatible way: ``logger.append_keys(selfheal_event=event)`` makes the record
    that carries the traceback carry the event too (one record, like the helper's)."""
    from aws_lambda_powertools import Logger

    buf = io.StringIO()
    logger = Logger(service="profiles-append-keys", logger_handler=logging.StreamHandler(buf))

    class Context:
        function_name = "profiles"
        memory_limit_in_mb = 128
        invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:profiles"
        aws_request_id = RID_B

    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, object], context: object) -> object:
        logger.append_keys(selfheal_event=event)
        try:
            return event["name"]
        except KeyError:
            logger.exception("profile failed")
            raise

    with pytest.raises(KeyError):
        handler({"id": 3}, Context())
    records = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert len(records) == 1 and "exception" in records[0]  # nothing else logged: one record
    tracker = InvocationTracker()
    found = [tracker.input_for(tb.first_line)
             for tb in extract_tracebacks(tracker.watch(buf.getvalue().splitlines()))]
    assert [f.value() if f else None for f in found] == [{"id": 3}]
    assert found[0] is not None and found[0].kind == "helper"


def test_memory_held_per_stream_is_bounded() -> None:
    """A long-lived ingest keeps the events of recent invocations only (about 2 MB per stream)."""
    tracker = InvocationTracker()
    blob = "x" * 10_000
    for i in range(400):
        rid = f"{i:08x}-0000-4000-8000-000000000000"
        tracker.observe(3 * i, f"START RequestId: {rid}")
        tracker.observe(3 * i + 1, "event: " + json.dumps({"n": i, "blob": blob}))
        tracker.observe(3 * i + 2, f"END RequestId: {rid}")
    assert tracker._held_bytes <= 2 * 1024 * 1024
    assert tracker.input_for(3 * 399 + 1) is not None  # the latest invocation's event is kept
    assert tracker.input_for(1) is None  # the first one's was let go


def test_an_event_printed_as_bare_json_inside_an_invocation() -> None:
    log = "\n".join([f"START RequestId: {RID_A}", json.dumps({"user": {"id": "u-9"}}), *TRACE,
                     f"END RequestId: {RID_A}"])
    assert _pairs(log) == [{"user": {"id": "u-9"}}]
    outside = "\n".join([json.dumps({"user": {"id": "u-9"}}), *TRACE])
    assert _pairs(outside) == [None]


def test_print_event_python_repr_is_read_as_literals_only() -> None:
    event = {"user": {"id": "u-1", "active": True, "tags": None}, "n": 2}
    log = "\n".join([f"START RequestId: {RID_A}", f"event: {event!r}", *TRACE, f"END RequestId: {RID_A}"])
    assert _pairs(log) == [event]
    hostile = "\n".join([f"START RequestId: {RID_A}", "event: {'x': __import__('os').system('true')}", *TRACE,
                         f"END RequestId: {RID_A}"])
    assert _pairs(hostile) == [None]  # not a literal: nothing is evaluated, nothing captured
