"""The AWS front half on moto, end to end: CloudWatch payload -> ingest -> DynamoDB stream ->
dispatch -> SQS -> start_fix -> Step Functions. Exactly one message and one execution per new
error; re-ingesting, duplicate deliveries and the stream's own updates start nothing more."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from functions import dispatch, ingest, start_fix
from selfheal.adapters.dynamodb_store import DynamoDBErrorStore
from selfheal.adapters.sfn_aws import AwsWorkflowEngine
from selfheal.compose import aws as aws_root
from selfheal.compose.aws import DispatchDeps
from selfheal.domain.fingerprint import FingerprintConfig
from selfheal.domain.records import Status
from selfheal.services.dispatch import FixStarter
from selfheal.services.ingest import IngestService
from selfheal.services.policy import Policy
from tests.support.tracking_aws import (
    LambdaContext,
    TrackingAws,
    deliver,
    sqs_event,
    stream_event,
    tracking_aws,
)
from tests.support.tracking_logs import cloudwatch_event, traceback_events
from tests.support.tracking_stores import TABLE


@pytest.fixture
def aws() -> Iterator[TrackingAws]:
    with tracking_aws() as a:
        store = DynamoDBErrorStore(TABLE, client=a.ddb)
        aws_root.configure(ingest=IngestService(store, Policy(), FingerprintConfig()))
        aws_root.configure(dispatch=DispatchDeps(Policy(), a.sqs, a.queue_url))
        aws_root.configure(start_fix=FixStarter(store, AwsWorkflowEngine(a.state_machine_arn, client=a.sfn),
                                       Policy()))
        yield a
    aws_root.configure(ingest=None)
    aws_root.configure(dispatch=None)
    aws_root.configure(start_fix=None)


def pump_stream(aws: TrackingAws) -> int:
    """Feed every new stream record to the dispatch function; return how many there were."""
    records = aws.stream.poll()
    if records:
        assert dispatch.handler(stream_event(records), LambdaContext()) == {"batchItemFailures": []}
    return len(records)


def test_one_execution_per_new_error(aws: TrackingAws) -> None:
    event = cloudwatch_event(traceback_events(3, 4))  # 3 errors x 4 occurrences in one batch
    result = ingest.handler(event, LambdaContext())
    assert (result["tracebacks"], result["distinct"], len(result["new"]), result["writes"]) == (12, 3, 3, 3)
    assert pump_stream(aws) > 0
    messages = aws.receive_all()
    assert sorted(json.loads(m["Body"])["fingerprint"] for m in messages) == sorted(result["new"])
    out = start_fix.handler(sqs_event(messages), LambdaContext())
    assert out == {"batchItemFailures": []}
    executions = aws.executions()
    assert sorted(e["name"] for e in executions) == sorted(f"{fp[:12]}-1" for fp in result["new"])
    store = DynamoDBErrorStore(TABLE, client=aws.ddb)
    for fp in result["new"]:
        rec = store.get(fp)
        assert rec is not None and rec.status == Status.FIXING and rec.count == 4
        assert len(rec.attempts) == 1 and rec.attempts[0].execution in {e["executionArn"] for e in executions}
        described = aws.sfn.describe_execution(executionArn=rec.attempts[0].execution)
        assert json.loads(described["input"]) == {"fingerprint": fp, "attempt": 1}

    # the start_fix updates (FIXING, attempts) and a second ingest of the same payload go through
    # the stream too: none of them queues anything
    ingest.handler(event, LambdaContext())
    assert pump_stream(aws) > 0
    assert aws.receive_all() == []
    # a duplicate delivery of the original messages starts nothing
    assert start_fix.handler(sqs_event(messages), LambdaContext()) == {"batchItemFailures": []}
    assert len(aws.executions()) == 3
    assert all(r.count == 8 for r in store.list())


def test_poison_message_reaches_the_dlq_and_the_rest_starts(aws: TrackingAws) -> None:
    result = ingest.handler(cloudwatch_event(traceback_events(2, 1)), LambdaContext())
    pump_stream(aws)
    aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody="{not a fix request")
    delivered, failed = deliver(aws, start_fix.handler)
    assert delivered == 3 and len(failed) == 1
    assert sorted(e["name"] for e in aws.executions()) == sorted(f"{fp[:12]}-1" for fp in result["new"])
    rounds = 0
    while aws.receive_all(aws.dlq_url) == [] and rounds < 10:  # bounded: maxReceiveCount is 3
        deliver(aws, start_fix.handler)
        rounds += 1
    assert rounds < 10
    assert aws.receive_all() == []
    assert len(aws.executions()) == 2


def test_hourly_cap_leaves_the_rest_on_the_queue(aws: TrackingAws) -> None:
    store = DynamoDBErrorStore(TABLE, client=aws.ddb)
    aws_root.configure(start_fix=FixStarter(store, AwsWorkflowEngine(aws.state_machine_arn, client=aws.sfn),
                                   Policy(max_fixes_per_hour=1)))
    ingest.handler(cloudwatch_event(traceback_events(2, 1)), LambdaContext())
    pump_stream(aws)
    delivered, failed = deliver(aws, start_fix.handler)
    assert delivered == 2 and len(failed) == 1 and len(aws.executions()) == 1
    waiting = aws.receive_all()
    assert [m["MessageId"] for m in waiting] == failed  # deferred, still queued, not lost
    fp = json.loads(waiting[0]["Body"])["fingerprint"]
    rec = store.get(fp)
    assert rec is not None and rec.status == Status.NEW
