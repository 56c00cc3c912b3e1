"""Ingest keeps the failing input: local log files on SQLite and CloudWatch batches through the
ingest Lambda on moto DynamoDB. The first few distinct events per error, redacted; none when off."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from functions import ingest
from selfheal.adapters.sqlite_store import SqliteErrorStore
from selfheal.compose.store import build_ingest_service
from selfheal.domain.capture import CaptureConfig
from selfheal.domain.fingerprint import FingerprintConfig
from selfheal.services.ingest import IngestService
from selfheal.services.policy import Policy
from selfheal.settings import Settings
from tests.support.tracking_aws import LambdaContext
from tests.support.tracking_logs import cloudwatch_event
from tests.support.tracking_stores import dynamodb_store


def invocation(rid: str, user: dict[str, object]) -> list[str]:
    """One blueprint-style invocation as a local log file holds it (text format, \\r-joined error)."""
    trace = "\r".join(['[ERROR] KeyError: \'name\'', "Traceback (most recent call last):",
                       '  File "/var/task/profiles/app.py", line 9, in handler',
                       '    first = event["user"]["name"].split()[0]', "KeyError: 'name'"])
    return [f"START RequestId: {rid} Version: $LATEST", "Received event: " + json.dumps({"user": user}),
            trace, f"END RequestId: {rid}", f"REPORT RequestId: {rid}\tDuration: 1.0 ms"]


def rid(i: int) -> str:
    return f"{i:08x}-0000-4000-8000-000000000000"


def test_local_file_keeps_first_three_distinct_inputs_redacted(tmp_path: Path) -> None:
    store = SqliteErrorStore(tmp_path / "errors.db")
    svc = build_ingest_service(Settings(home=tmp_path), store)
    first: dict[str, object] = {"id": "u-1", "email": "a@example.com"}
    users: list[dict[str, object]] = [first, dict(first), {"id": "u-2"}, {"id": "u-3"}, {"id": "u-4"}]
    lines = [line for i, user in enumerate(users) for line in invocation(rid(i), user)]
    report = svc.ingest_lines(lines, "app.log")
    assert report.tracebacks == 5 and report.distinct == 1 and report.captured == 5
    fp = report.new[0]
    kept = store.inputs(fp)
    assert [k.value() for k in kept] == [{"user": {"id": "u-1", "email": "[REDACTED:email]"}},
                                        {"user": {"id": "u-2"}}, {"user": {"id": "u-3"}}]
    assert [k.request_id for k in kept] == [rid(0), rid(2), rid(3)]
    # a full error costs no further input write
    again = svc.ingest_lines(invocation(rid(9), {"id": "u-9"}), "app.log")
    assert again.captured == 1 and again.input_writes == 0 and len(store.inputs(fp)) == 3


def test_capture_switched_off_stores_nothing(tmp_path: Path) -> None:
    store = SqliteErrorStore(tmp_path / "errors.db")
    svc = build_ingest_service(Settings(home=tmp_path, capture_inputs=False), store)
    report = svc.ingest_lines(invocation(rid(1), {"id": "u-1"}), "app.log")
    assert report.tracebacks == 1 and report.captured == 0 and store.inputs(report.new[0]) == []


def test_cloudwatch_batch_through_the_ingest_lambda_pairs_by_request_id() -> None:
    """A Powertools stream: the event record and the error record carry the same request id;
    another invocation's event in the same batch is not taken."""
    def record(request_id: str, **fields: object) -> str:
        return json.dumps({"level": "INFO", "service": "profiles", "function_request_id": request_id,
                           **fields})

    trace = ('Traceback (most recent call last):\n  File "/var/task/profiles/app.py", line 9, in handler\n'
             '    first = event["user"]["name"].split()[0]\nKeyError: \'name\'')
    messages = [
        record(rid(1), location="decorate:544", message={"user": {"id": "u-ok"}}),
        record(rid(2), location="decorate:544", message={"user": {"id": "u-bad"}}),
        record(rid(2), level="ERROR", location="handler:12", message="profile failed", exception=trace),
    ]
    with dynamodb_store() as store:
        svc = IngestService(store, Policy(), FingerprintConfig(app_roots=("/var/task/",)),
                            capture=CaptureConfig(), inputs=store)
        ingest.configure(svc)
        try:
            handler = ingest.logger.registered_handler
            handler.stream = sys.stdout  # type: ignore[attr-defined]
            result = ingest.handler(cloudwatch_event(messages), LambdaContext())
        finally:
            ingest.configure(None)
        assert result.get("batchItemFailures", []) == []
        records = store.list()
        assert len(records) == 1
        kept = store.inputs(records[0].fingerprint)
        assert [k.value() for k in kept] == [{"user": {"id": "u-bad"}}]
        assert kept[0].kind == "powertools" and kept[0].request_id == rid(2)


def test_a_followed_file_pairs_across_chunks(tmp_path: Path) -> None:
    """`selfheal watch` ingests a growing file chunk by chunk: START and the event may arrive in one
    chunk and the traceback in the next."""
    store = SqliteErrorStore(tmp_path / "errors.db")
    svc = build_ingest_service(Settings(home=tmp_path), store)
    lines = invocation(rid(5), {"id": "u-5"})
    first = svc.ingest_lines(lines[:2], "app.log")
    assert first.tracebacks == 0
    second = svc.ingest_lines(lines[2:], "app.log")
    assert second.tracebacks == 1 and second.captured == 1
    assert [k.value() for k in store.inputs(second.new[0])] == [{"user": {"id": "u-5"}}]
    # another source does not see this stream's invocation
    other = svc.ingest_lines(lines[2:], "other.log")
    assert other.tracebacks == 1 and other.captured == 0


def test_cloudwatch_event_and_traceback_in_consecutive_batches_of_a_stream() -> None:
    """A warm ingest function keeps the stream's invocation state between subscription batches."""
    from selfheal.domain.cloudwatch import decode_subscription
    from tests.support.tracking_logs import subscription_data

    start = f"START RequestId: {rid(7)} Version: $LATEST"
    event_line = "Received event: " + json.dumps({"user": {"id": "u-7"}})
    error = "\r".join(["[ERROR] KeyError: 'name'", "Traceback (most recent call last):",
                       '  File "/var/task/profiles/app.py", line 9, in handler',
                       '    first = event["user"]["name"].split()[0]', "KeyError: 'name'"])
    with dynamodb_store() as store:
        svc = IngestService(store, Policy(), FingerprintConfig(), capture=CaptureConfig(), inputs=store)
        first = svc.ingest_batch(decode_subscription(subscription_data([start, event_line])))
        second = svc.ingest_batch(decode_subscription(subscription_data([error, f"END RequestId: {rid(7)}"])))
        assert first.tracebacks == 0 and second.tracebacks == 1 and second.captured == 1
        assert [k.value() for k in store.inputs(second.new[0])] == [{"user": {"id": "u-7"}}]
