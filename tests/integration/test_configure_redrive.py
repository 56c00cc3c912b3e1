"""bin/redrive against a moto server: errors go back to QUEUED through the DynamoDB store, and
the stream change it produces is one the dispatch function turns into a ``redrive`` fix request."""

from __future__ import annotations

import hashlib
import json
import uuid

from selfheal.adapters.dynamodb_store import TABLE_SCHEMA, DynamoDBErrorStore, create_table, record_from_image
from selfheal.domain.records import Observation, Status
from selfheal.services.dispatch import decide
from selfheal.services.policy import Policy
from tests.support.deploy_moto import client, moto_url, run_script

__all__ = ["moto_url"]  # the shared module-scoped moto server fixture


def fp(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def seeded(url: str) -> tuple[str, DynamoDBErrorStore]:
    name = f"errors-{uuid.uuid4().hex[:8]}"
    ddb = client(url, "dynamodb")
    create_table(name, client=ddb)
    store = DynamoDBErrorStore(name, client=ddb)
    for label, final in (("failed", Status.FAILED), ("abstained", Status.ABSTAINED),
                         ("running", Status.FIXING)):
        store.observe(Observation(fingerprint=fp(label), exc_type="KeyError", message="'order_items'"))
        store.transition(fp(label), Status.FIXING)
        if final != Status.FIXING:
            store.transition(fp(label), final, reason="test")
    return name, store


def last_stream_change(url: str, table: str) -> tuple[dict, dict]:
    streams = client(url, "dynamodbstreams")
    arn = client(url, "dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    change = records[-1]["dynamodb"]
    return change.get("OldImage", {}), change["NewImage"]


def test_redrive_by_prefix_queues_the_error_and_dispatch_enqueues_it(moto_url: str) -> None:
    table, store = seeded(moto_url)
    result = run_script("redrive", moto_url, fp("failed")[:12], "--table", table)
    assert result.returncode == 0, result.stderr
    assert f"{fp('failed')[:12]}  FAILED    -> QUEUED" in result.stdout
    record = store.get(fp("failed"))
    assert record is not None and record.status == Status.QUEUED
    assert record.status_reason == "re-drive requested (from FetchSource)"
    old, new = last_stream_change(moto_url, table)
    request = decide(Policy(), record_from_image(old), record_from_image(new))
    assert request is not None and request.reason == "redrive" and request.fingerprint == fp("failed")
    # The others are untouched.
    assert store.get(fp("abstained")).status == Status.ABSTAINED  # type: ignore[union-attr]


def test_dry_run_changes_nothing_and_running_fixes_are_skipped(moto_url: str) -> None:
    table, store = seeded(moto_url)
    dry = run_script("redrive", moto_url, "--all-abstained", "--dry-run", "--table", table)
    assert dry.returncode == 0, dry.stderr
    assert "ABSTAINED would be re-driven from FetchSource" in dry.stdout
    assert store.get(fp("abstained")).status == Status.ABSTAINED  # type: ignore[union-attr]
    running = run_script("redrive", moto_url, fp("running"), "--table", table)
    assert running.returncode == 1
    assert "skipped: only FAILED or ABSTAINED fixes are re-driven" in running.stdout
    assert store.get(fp("running")).status == Status.FIXING  # type: ignore[union-attr]


def test_all_failed_and_unknown_prefix(moto_url: str) -> None:
    table, store = seeded(moto_url)
    result = run_script("redrive", moto_url, "--all-failed", "--table", table)
    assert result.returncode == 0, result.stderr
    assert store.get(fp("failed")).status == Status.QUEUED  # type: ignore[union-attr]
    unknown = run_script("redrive", moto_url, "ffffffffffff", "--table", table)
    assert unknown.returncode == 1
    # the CLI's resolver and wording (issue #13: no class names; says what to do)
    assert unknown.stderr.strip() == ("error: no error matches 'ffffffffffff'; list them with: "
                                      "bin/redrive --all-failed --all-abstained --dry-run")


def test_ambiguous_and_unknown_ids_are_one_line_in_the_cli_wording(moto_url: str) -> None:
    """An id that names no error and a prefix that names two: one line each, the words the
    ``selfheal`` commands print (``selfheal.services.lookup``), and nothing is re-driven."""
    name = f"errors-{uuid.uuid4().hex[:8]}"
    ddb = client(moto_url, "dynamodb")
    create_table(name, client=ddb)
    store = DynamoDBErrorStore(name, client=ddb)
    twins = ["ab12" + fp("one")[4:], "ab12" + fp("two")[4:]]
    for fingerprint in twins:
        store.observe(Observation(fingerprint=fingerprint, exc_type="KeyError", message="'k'"))
        store.transition(fingerprint, Status.FIXING)
        store.transition(fingerprint, Status.FAILED, reason="test")
    ambiguous = run_script("redrive", moto_url, "AB12", "--table", name)
    assert ambiguous.returncode == 1 and ambiguous.stdout == ""
    assert ambiguous.stderr.strip() == (f"error: 'ab12' matches more than one error ({twins[0][:12]}, "
                                        f"{twins[1][:12]}); give more characters")
    unknown = run_script("redrive", moto_url, "ab13", "--table", name)
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert unknown.stderr.strip() == ("error: no error matches 'ab13'; list them with: "
                                      "bin/redrive --all-failed --all-abstained --dry-run")
    for line in (ambiguous.stderr, unknown.stderr):
        assert len(line.strip().splitlines()) == 1 and "Error" not in line and "Traceback" not in line
    assert all(store.get(f).status == Status.FAILED for f in twins)  # type: ignore[union-attr]
    # the longer prefix that names one of them works
    one = run_script("redrive", moto_url, twins[0][:12], "--table", name)
    assert one.returncode == 0, one.stderr
    assert store.get(twins[0]).status == Status.QUEUED  # type: ignore[union-attr]


def test_table_comes_from_the_stack_outputs(moto_url: str) -> None:
    template = {"Resources": {"ErrorsTable": {"Type": "AWS::DynamoDB::Table", "Properties": TABLE_SCHEMA}},
                "Outputs": {"ErrorsTableName": {"Value": {"Ref": "ErrorsTable"}}}}
    cf = client(moto_url, "cloudformation")
    cf.create_stack(StackName="selfheal-redrive-test", TemplateBody=json.dumps(template))
    table = cf.describe_stacks(StackName="selfheal-redrive-test")["Stacks"][0]["Outputs"][0]["OutputValue"]
    store = DynamoDBErrorStore(table, client=client(moto_url, "dynamodb"))
    store.observe(Observation(fingerprint=fp("stack"), exc_type="IndexError", message="list index"))
    store.transition(fp("stack"), Status.FIXING)
    store.transition(fp("stack"), Status.FAILED)
    result = run_script("redrive", moto_url, fp("stack"), "--stack-name", "selfheal-redrive-test")
    assert result.returncode == 0, result.stderr
    assert store.get(fp("stack")).status == Status.QUEUED  # type: ignore[union-attr]
    missing = run_script("redrive", moto_url, fp("stack"), "--stack-name", "nope")
    assert missing.returncode == 1 and "cannot read stack 'nope'" in missing.stderr


def test_redrive_with_the_bucket_resumes_at_the_failed_state(moto_url: str) -> None:
    """With the artifacts bucket, the re-drive request carries the failed state's recorded input,
    so the fresh execution resumes at OpenPullRequest instead of paying for the model again."""
    from selfheal.adapters.artifacts_s3 import S3ArtifactStore
    from selfheal.domain.records import StepRecord, utcnow

    table, store = seeded(moto_url)
    bucket = f"artifacts-{uuid.uuid4().hex[:8]}"
    s3 = client(moto_url, "s3")
    s3.create_bucket(Bucket=bucket)
    artifacts = S3ArtifactStore(bucket, client=s3)
    target = fp("pr-failed")
    store.observe(Observation(fingerprint=target, exc_type="KeyError", message="'order_items'"))
    store.transition(target, Status.FIXING)
    attempt = store.start_attempt(target, "exec-1")
    recorded = {"fingerprint": target, "attempt": attempt.number, "round": 1, "verdict": "valid",
                "artifacts": {"reply": "s3://x/reply.json"}}
    ref = artifacts.put_bytes(f"{target}/attempt-1/OpenPullRequest-input.json", json.dumps(recorded).encode())
    now = utcnow()
    store.record_step(target, attempt.number, StepRecord(
        state="OpenPullRequest", started_at=now, finished_at=now, outcome="failed",
        error="CodeHostForbidden", artifacts={"input": ref}))
    store.finish_attempt(target, attempt.number, outcome="failed", failed_state="OpenPullRequest",
                         error="CodeHostForbidden")
    store.transition(target, Status.FAILED, reason="test")

    # without the bucket it would start over and pay again: refused, the error stays FAILED
    refused = run_script("redrive", moto_url, target[:12], "--table", table)
    assert refused.returncode == 1 and "needs the artifacts bucket" in refused.stdout
    assert store.get(target).status == Status.FAILED  # type: ignore[union-attr]
    dry = run_script("redrive", moto_url, target[:12], "--table", table, "--dry-run")
    assert "from OpenPullRequest" in dry.stdout and "refused without --bucket" in dry.stdout

    result = run_script("redrive", moto_url, target[:12], "--table", table, "--bucket", bucket)
    assert result.returncode == 0, result.stdout + result.stderr
    record = store.get(target)
    assert record is not None and record.status == Status.QUEUED
    marker = record.attempts[-1].steps[-1]
    assert marker.state == "RedriveRequested"
    request = json.loads(artifacts.get_bytes(marker.artifacts["request"]))
    assert request["resume_from"] == "OpenPullRequest" and request["redrive"] is True
    assert request["artifacts"] == {"reply": "s3://x/reply.json"}  # the model's reply is reused
