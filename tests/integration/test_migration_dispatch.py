"""Issue #12 on AWS: a fingerprint migration does not start a second fix of a known error.

Driven through the deployed path under moto: the table's stream records, filtered with the
template's ``FilterCriteria``, go to the dispatch handler, its requests to SQS, and SQS to the
start_fix handler (``FixStarter``, Step Functions). A migrated error is fixed exactly once: by
the request already sent under its old id, or, when only the merge brings it to
``min_occurrences``, by the one request the merge queues.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions import dispatch, start_fix
from selfheal.adapters.dynamodb_store import DynamoDBErrorStore, record_from_image
from selfheal.adapters.sfn_aws import AwsWorkflowEngine
from selfheal.adapters.store_migration import migrate_dynamodb, migration_write
from selfheal.compose import aws as aws_root
from selfheal.compose.aws import DispatchDeps
from selfheal.domain.extract import extract_from_text
from selfheal.domain.fingerprint import fingerprint
from selfheal.domain.records import Observation, Status
from selfheal.services.dispatch import FixStarter, decide
from selfheal.services.policy import Policy
from tests.support.deploy_sam import load_template, translate
from tests.support.iam_eval import pattern_matches
from tests.support.tracking_aws import LambdaContext, TrackingAws, deliver, stream_event, tracking_aws
from tests.support.tracking_stores import TABLE

T0 = datetime(2026, 12, 1, tzinfo=UTC)
ROOTS = {"a" * 32: "/srv/releases/20261201/", "b" * 32: "/srv/releases/20261206/"}


def trace(root: str) -> str:
    return ("Traceback (most recent call last):\n"
            f'  File "{root}calc/stats.py", line 4, in mean\n'
            "    return total / count\n"
            "ZeroDivisionError: division by zero\n")


V2_ID = fingerprint(extract_from_text(trace("/var/task/"))[0]).id


@pytest.fixture(scope="module")
def filters() -> list[Any]:
    cfn = translate(load_template())
    return [json.loads(f["Pattern"]) for f in
            cfn["Resources"]["DispatchFunctionErrorChanges"]["Properties"]["FilterCriteria"]["Filters"]]


@pytest.fixture
def aws() -> Iterator[TrackingAws]:
    with tracking_aws() as a:
        yield a
    aws_root.configure(dispatch=None, start_fix=None)


def wire(a: TrackingAws, policy: Policy) -> DynamoDBErrorStore:
    store = DynamoDBErrorStore(TABLE, client=a.ddb)
    engine = AwsWorkflowEngine(a.state_machine_arn, client=a.sfn)
    aws_root.configure(dispatch=DispatchDeps(policy, a.sqs, a.queue_url),
                       start_fix=FixStarter(store, engine, policy))
    return store


def stream_to_queue(a: TrackingAws, policy: Policy, filters: list[Any]) -> int:
    """One stream delivery as the event source mapping makes it: records the template's filters
    pass go to the dispatch handler. The filter and the handler agree: a record the filter drops
    is one the handler would not queue. Returns how many requests are on the queue now."""
    records = a.stream.poll()
    passed = [r for r in records if any(pattern_matches(f, r) for f in filters)]
    for r in records:
        if r not in passed:
            images = r["dynamodb"]
            old, new = images.get("OldImage"), images.get("NewImage")
            assert decide(policy, record_from_image(old), record_from_image(new),
                          migration_write(old, new)) is None, r
    if passed:  # Lambda invokes nothing for a batch the filters emptied
        assert dispatch.handler(stream_event(passed), LambdaContext()) == {"batchItemFailures": []}
    attrs = a.sqs.get_queue_attributes(QueueUrl=a.queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


def seed_v1(store: DynamoDBErrorStore, counts: tuple[int, ...]) -> None:
    for n, ((fp, root), count) in enumerate(zip(ROOTS.items(), counts, strict=True)):
        store.observe(Observation(fingerprint=fp, fingerprint_version="v1", exc_type="ZeroDivisionError",
                                  message="division by zero", sample_trace=trace(root), count=count,
                                  seen_at=T0 + timedelta(days=n)))


def test_requests_sent_under_old_ids_start_the_merged_error_once(aws: TrackingAws,
                                                                  filters: list[Any]) -> None:
    """Two v1 records of one defect, each queued for a fix (the requests still wait on the queue:
    the hourly cap deferred them, say). The migration's merged item queues nothing more; the two
    waiting requests start exactly one fix, on the merged error."""
    policy = Policy()
    store = wire(aws, policy)
    seed_v1(store, (2, 1))
    assert stream_to_queue(aws, policy, filters) == 2  # one "new" per v1 record
    report = migrate_dynamodb(store)
    assert (report.migrated, report.merged) == (2, 1)
    assert stream_to_queue(aws, policy, filters) == 2  # the merged item's INSERT queued nothing
    delivered, failed = deliver(aws, start_fix.handler)
    assert (delivered, failed) == (2, [])
    executions = aws.executions()
    assert [e["name"] for e in executions] == [f"{V2_ID[:12]}-1"]
    merged = store.get(V2_ID)
    assert merged is not None and merged.status == Status.FIXING and merged.count == 3
    # Later writes to the migrated item are ordinary changes: a count update queues nothing, a
    # re-drive queues one request.
    store.observe(Observation(fingerprint=V2_ID, exc_type="ZeroDivisionError", message="division by zero"))
    store.finish_attempt(V2_ID, 1, outcome="failed", failed_state="InvokeModel", error="X", cause="y")
    store.transition(V2_ID, Status.FAILED)
    store.transition(V2_ID, Status.QUEUED, reason="re-driven")
    assert stream_to_queue(aws, policy, filters) == 1
    assert json.loads(aws.receive_all()[0]["Body"]) == {"fingerprint": V2_ID, "reason": "redrive"}


def test_a_merge_that_reaches_min_occurrences_queues_one_fix(aws: TrackingAws, filters: list[Any]) -> None:
    """Below ``min_occurrences`` apart (never queued), at it together: the merge is the moment
    the error qualifies, so it queues one request (not zero), and a re-run of the migration
    none."""
    policy = Policy(min_occurrences=3)
    store = wire(aws, policy)
    seed_v1(store, (1, 2))
    assert stream_to_queue(aws, policy, filters) == 0
    migrate_dynamodb(store)
    assert stream_to_queue(aws, policy, filters) == 1
    assert migrate_dynamodb(store).migrated == 0
    assert stream_to_queue(aws, policy, filters) == 1
    delivered, failed = deliver(aws, start_fix.handler)
    assert (delivered, failed) == (1, [])
    assert [e["name"] for e in aws.executions()] == [f"{V2_ID[:12]}-1"]


def test_a_v1_record_merging_into_a_queued_v2_record_queues_nothing(aws: TrackingAws,
                                                                    filters: list[Any]) -> None:
    """Ingest (v2) created the error under its new id and queued it; the migration then folds a
    v1 record into it (a MODIFY of the v2 item): still one request, one fix."""
    policy = Policy()
    store = wire(aws, policy)
    seed_v1(store, (1, 1))
    store.observe(Observation(fingerprint=V2_ID, exc_type="ZeroDivisionError", message="division by zero",
                              sample_trace=trace("/var/task/")))
    assert stream_to_queue(aws, policy, filters) == 3
    migrate_dynamodb(store)
    assert stream_to_queue(aws, policy, filters) == 3
    delivered, failed = deliver(aws, start_fix.handler)
    assert (delivered, failed) == (3, [])
    assert [e["name"] for e in aws.executions()] == [f"{V2_ID[:12]}-1"]
