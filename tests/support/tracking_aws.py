"""The AWS side of error tracking under moto: table with stream, fix queue with DLQ, a trivial
state machine, and helpers turning stream records / SQS messages into Lambda events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.support.tracking_stores import TABLE

REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/selfheal-fix"
TRIVIAL_ASL = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


@dataclass
class LambdaContext:
    """The attributes Powertools reads from a Lambda context."""

    function_name: str = "selfheal-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:selfheal-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


@dataclass
class StreamReader:
    """Reads a DynamoDB stream (every shard, from the start) as Lambda stream-event records."""

    client: Any
    stream_arn: str
    _iterators: dict[str, str | None] = field(default_factory=dict)

    def poll(self) -> list[dict[str, Any]]:
        desc = self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        records: list[dict[str, Any]] = []
        for shard in desc["Shards"]:
            sid = shard["ShardId"]
            if sid not in self._iterators:
                self._iterators[sid] = self.client.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            iterator = self._iterators[sid]
            while iterator:
                out = self.client.get_records(ShardIterator=iterator, Limit=1000)
                iterator = out.get("NextShardIterator")
                if not out["Records"]:
                    break
                records.extend(out["Records"])
            self._iterators[sid] = iterator
        for r in records:  # the shape Lambda delivers
            r.setdefault("eventSourceARN", self.stream_arn)
            r["dynamodb"].pop("ApproximateCreationDateTime", None)
        return records


@dataclass
class TrackingAws:
    ddb: Any
    streams: Any
    sqs: Any
    sfn: Any
    stream: StreamReader
    queue_url: str
    dlq_url: str
    state_machine_arn: str

    def receive_all(self, queue_url: str | None = None) -> list[dict[str, Any]]:
        """Every message currently visible on the queue (received, so hidden for 30 s)."""
        out: list[dict[str, Any]] = []
        while True:
            got = self.sqs.receive_message(QueueUrl=queue_url or self.queue_url, MaxNumberOfMessages=10,
                                           AttributeNames=["All"]).get("Messages", [])
            if not got:
                return out
            out.extend(got)

    def executions(self) -> list[dict[str, Any]]:
        return list(self.sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"])


def sqs_event(messages: list[dict[str, Any]], queue_arn: str = "arn:aws:sqs:us-east-1:123456789012:fixes"
              ) -> dict[str, Any]:
    """The Lambda event for SQS messages as ``receive_message`` returned them."""
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
        "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": REGION} for m in messages]}


def stream_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": records}


@contextmanager
def tracking_aws(max_receive_count: int = 3) -> Iterator[TrackingAws]:
    """Table + stream, fix queue + DLQ and a state machine, all under one moto mock."""
    import boto3
    from moto import mock_aws

    from selfheal.adapters.dynamodb_store import create_table

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        table = create_table(TABLE, ddb)
        sqs = boto3.client("sqs", region_name=REGION)
        dlq_url = sqs.create_queue(QueueName="selfheal-fixes-dlq")["QueueUrl"]
        attrs = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]
        dlq_arn = attrs["QueueArn"]
        queue_url = sqs.create_queue(QueueName="selfheal-fixes", Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                         "maxReceiveCount": str(max_receive_count)})})["QueueUrl"]
        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = sfn.create_state_machine(name="selfheal-fix", definition=TRIVIAL_ASL,
                                       roleArn=ROLE_ARN)["stateMachineArn"]
        streams = boto3.client("dynamodbstreams", region_name=REGION)
        yield TrackingAws(ddb=ddb, streams=streams, sqs=sqs, sfn=sfn,
                          stream=StreamReader(streams, table["LatestStreamArn"]), queue_url=queue_url,
                          dlq_url=dlq_url, state_machine_arn=arn)


def deliver(aws: TrackingAws, handler: Any) -> tuple[int, list[str]]:
    """One SQS -> Lambda delivery round as the event source mapping does it: receive what is
    visible, invoke ``handler``, delete the messages not reported as failures.
    Returns (messages delivered, failed message ids)."""
    messages = aws.receive_all()
    if not messages:
        return 0, []
    result = handler(sqs_event(messages), LambdaContext())
    failed = [f["itemIdentifier"] for f in result.get("batchItemFailures", [])]
    for m in messages:
        if m["MessageId"] in failed:  # back on the queue at once (Lambda: after the timeout)
            aws.sqs.change_message_visibility(QueueUrl=aws.queue_url, ReceiptHandle=m["ReceiptHandle"],
                                              VisibilityTimeout=0)
        else:
            aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=m["ReceiptHandle"])
    return len(messages), failed
