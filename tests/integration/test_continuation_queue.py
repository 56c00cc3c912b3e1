"""The AWS side of continuations: the ASL's Requeue task really sends the continuation to the
fix queue (moto's SQS inside the local engine), ``start_fix`` starts the next execution of the
same attempt once (a redelivered message is a duplicate, one after the fix ended is stale), and
a wait past SQS's 15 minutes is started by the scheduled sweeper when due."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import boto3
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions import start_fix
from selfheal.adapters.sfn_local import LOCAL_QUEUE
from selfheal.compose import aws
from selfheal.domain.records import Status
from selfheal.errors import CodeHostRateLimited
from selfheal.services.dispatch import FixStarter
from selfheal.services.policy import Policy
from selfheal.services.workflow.continuation import due_at, pending_marker
from selfheal.services.workflow.sweeper import SweepPolicy, sweep
from tests.support.tracking_aws import LambdaContext, sqs_event
from tests.support.workflow_fakes import MemoryCodeHost, local_engine, make_services, seed_error


def _finish(engine: Any, execution: str) -> str:
    deadline = time.monotonic() + 30
    while (status := engine.describe(execution).status) == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return status


def _receive(sqs: Any, url: str) -> list[dict[str, Any]]:
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])


def _status(svc: Any, fp: str) -> Status:
    return svc.store.get(fp).status  # type: ignore[no-any-return]


def test_the_queue_carries_a_fix_from_execution_to_execution_once(tmp_path: Any) -> None:
    svc = make_services(tmp_path)
    fp = seed_error(svc.store)
    with local_engine(svc) as engine:
        aws.configure(start_fix=FixStarter(svc.store, engine, Policy()))
        try:
            sqs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="local",
                               aws_secret_access_key="local")
            url = sqs.get_queue_url(QueueName=LOCAL_QUEUE)["QueueUrl"]
            execution = start_like_start_fix(svc.store, engine, fp)
            names = [execution.rsplit(":", 1)[-1]]
            while _finish(engine, execution) == "SUCCEEDED" and _status(svc, fp) == Status.FIXING:
                messages = _receive(sqs, url)
                assert len(messages) == 1
                body = json.loads(messages[0]["Body"])
                assert (body["fingerprint"], body["reason"], body["attempt"]) == (fp, "continue", 1)
                assert body["payload"]["resume_from"] in ("ValidatePatch", "CommitBranch")
                out = start_fix.handler(sqs_event(messages), LambdaContext())
                assert out == {"batchItemFailures": []}
                marker = svc.store.get(fp).attempts[-1].steps[-1]  # type: ignore[union-attr]
                execution = marker.artifacts["execution"]
                names.append(execution.rsplit(":", 1)[-1])
                # SQS delivers at least once: the same message again starts nothing
                start_fix.handler(sqs_event(messages), LambdaContext())
                last = svc.store.get(fp).attempts[-1].steps[-1]  # type: ignore[union-attr]
                assert last.artifacts["execution"] == execution
            late = start_fix.record_handler(SQSRecord({"messageId": "m", "body": messages[0]["Body"]}))
        finally:
            aws.configure(start_fix=None)
        listed = engine.client.list_executions(stateMachineArn=engine.state_machine())["executions"]
    assert svc.store.get(fp).status == Status.PR_OPEN  # type: ignore[union-attr]
    assert names == [f"{fp[:12]}-1", f"{fp[:12]}-1-c1", f"{fp[:12]}-1-c2"]
    assert len(listed) == 3  # no duplicate execution
    assert late.action == "stale"


def test_a_wait_past_the_queue_delay_is_started_by_the_sweeper_when_due(tmp_path: Any) -> None:
    host = MemoryCodeHost()
    host.fail_open = [CodeHostRateLimited("429 come back in half an hour", retry_after=1800)]
    svc = make_services(tmp_path, code_host=host)
    fp = seed_error(svc.store)
    with local_engine(svc) as engine:
        execution = start_like_start_fix(svc.store, engine, fp)
        # what the queue would do for the two segment boundaries, then the long wait
        for _ in range(3):
            assert _finish(engine, execution) == "SUCCEEDED"
            att = svc.store.get(fp).attempts[-1]  # type: ignore[union-attr]
            marker = pending_marker(att)
            assert marker is not None
            if (marker.duration_ms or 0) > 900_000:
                break
            execution = start_queued(svc, engine, marker)
        assert marker.duration_ms == 1_800_000
        due = due_at(marker)
        early = sweep(svc.store, SweepPolicy(), artifacts=svc.artifacts, starter=engine,
                      now=due - timedelta(seconds=1))
        assert early.started == [] and early.lost == []
        report = sweep(svc.store, SweepPolicy(), artifacts=svc.artifacts, starter=engine,
                       now=due + timedelta(seconds=1))
        assert len(report.started) == 1 and report.lost == []
        assert _finish(engine, report.started[0]) == "SUCCEEDED"
        again = sweep(svc.store, SweepPolicy(), artifacts=svc.artifacts, starter=engine,
                      now=due + timedelta(seconds=2))
        assert again.started == []
    assert svc.store.get(fp).status == Status.PR_OPEN  # type: ignore[union-attr]
    assert host.open_calls == 2


def start_queued(svc: Any, engine: Any, marker: Any) -> str:
    """Start a queued continuation as start_fix would (the message body's payload is the
    request the marker names)."""
    from selfheal.services.workflow.continuation import ContinuationMessage, start_continuation

    payload = json.loads(svc.artifacts.get_bytes(marker.artifacts["request"]).decode())
    payload["flow"] = {**payload.get("flow", {}), "request": marker.artifacts["request"]}
    fp = payload["fingerprint"]
    action, execution, _ = start_continuation(svc.store, engine, ContinuationMessage(
        fingerprint=fp, reason="continue", attempt=payload["attempt"], payload=payload))
    assert action == "resumed" and execution is not None
    return execution


def start_like_start_fix(store: Any, engine: Any, fp: str) -> str:
    """What start_fix does on AWS: FIXING, an attempt, an execution (nobody follows it here)."""
    from selfheal.services.dispatch import FixRequest, FixStarter
    from selfheal.services.policy import Policy

    started = FixStarter(store, engine, Policy()).start(FixRequest(fingerprint=fp, reason="new"))
    assert started.execution is not None
    return started.execution
