"""The dispatch Lambda on moto: stream records -> fix requests on SQS, partial batch failures."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from functions import dispatch
from selfheal.adapters.dynamodb_store import DynamoDBErrorStore
from selfheal.compose import aws as aws_root
from selfheal.compose.aws import DispatchDeps
from selfheal.domain.fingerprint import FingerprintConfig
from selfheal.domain.records import Status
from selfheal.services.ingest import IngestService
from selfheal.services.policy import Policy
from tests.support.tracking_aws import LambdaContext, TrackingAws, stream_event, tracking_aws
from tests.support.tracking_logs import log_lines
from tests.support.tracking_stores import TABLE


@pytest.fixture
def aws() -> Iterator[TrackingAws]:
    with tracking_aws() as a:
        aws_root.configure(dispatch=DispatchDeps(Policy(), a.sqs, a.queue_url))
        yield a
    aws_root.configure(dispatch=None)


def run_dispatch(aws: TrackingAws) -> tuple[list[dict[str, str]], dict[str, object]]:
    records = aws.stream.poll()
    result = dispatch.handler(stream_event(records), LambdaContext())
    return [json.loads(m["Body"]) for m in aws.receive_all()], result


def test_enqueues_new_errors_once_and_never_on_count_updates(aws: TrackingAws) -> None:
    store = DynamoDBErrorStore(TABLE, client=aws.ddb)
    svc = IngestService(store, Policy(), FingerprintConfig())
    report = svc.ingest_lines(log_lines(3, 4), "app.log")
    bodies, result = run_dispatch(aws)
    assert result == {"batchItemFailures": []}
    assert sorted(b["fingerprint"] for b in bodies) == sorted(report.new)
    assert {b["reason"] for b in bodies} == {"new"}
    # the same log again: MODIFY records with new counts only
    svc.ingest_lines(log_lines(3, 4), "app.log")
    records = aws.stream.poll()
    assert {r["eventName"] for r in records} == {"MODIFY"} and len(records) == 3
    dispatch.handler(stream_event(records), LambdaContext())
    assert aws.receive_all() == []


def test_redrive_and_regression_are_enqueued(aws: TrackingAws) -> None:
    store = DynamoDBErrorStore(TABLE, client=aws.ddb)
    svc = IngestService(store, Policy(), FingerprintConfig())
    a, b = svc.ingest_lines(log_lines(2, 1), "app.log").new
    aws.stream.poll()
    store.transition(a, Status.FIXING)
    store.transition(a, Status.FAILED)
    store.transition(a, Status.QUEUED, reason="re-driven")
    store.transition(b, Status.RESOLVED)
    svc.ingest_lines(log_lines(2, 1), "app.log")  # b regresses
    bodies, result = run_dispatch(aws)
    assert result == {"batchItemFailures": []}
    got = sorted((x["fingerprint"], x["reason"]) for x in bodies)
    assert got == sorted([(a, "redrive"), (b, "regressed")])


def test_bad_record_is_a_partial_failure(aws: TrackingAws) -> None:
    store = DynamoDBErrorStore(TABLE, client=aws.ddb)
    IngestService(store, Policy(), FingerprintConfig()).ingest_lines(log_lines(2, 1), "app.log")
    # corrupt the first record's new image: that record fails, the rest of the batch goes on
    records = aws.stream.poll()
    bad = next(r for r in records if "status" in r["dynamodb"]["NewImage"])
    bad["dynamodb"]["NewImage"]["status"] = {"S": "BOGUS"}
    result = dispatch.handler(stream_event(records), LambdaContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": bad["dynamodb"]["SequenceNumber"]}]}
    assert len(aws.receive_all()) == 1  # the other record was still dispatched
