"""Ingest Lambda: CloudWatch Logs subscription -> tracebacks -> error store (DynamoDB).

Accepts the event CloudWatch Logs delivers to a subscribed function (``{"awslogs": {"data":
...}}``) and, for log subscriptions routed through Kinesis or SQS, a stream or queue event
(``Records[].kinesis.data`` / ``Records[].body``). Nothing in the event crashes the handler: a
record that cannot be decoded (no data, not base64/gzip/JSON, nested too deeply, not an object),
an event of the wrong shape inside a payload, a control message, an empty batch or an oversized
log event is logged (one line each) and counted; the rest is ingested. On the awslogs path a
store failure raises, so Lambda retries the invocation. Records go through Powertools' batch
processor and report failures per record (``batchItemFailures``; the event source mapping needs
``ReportBatchItemFailures``): an SQS message alone; in a Kinesis batch the failed record and every
record after it (Lambda resumes the shard from the lowest failed sequence number, so a record
processed after the failure would be counted twice).

Environment: ``SELFHEAL_TABLE_NAME`` (the error table); ``SELFHEAL_IN_APP_PREFIXES``,
``SELFHEAL_APP_ROOTS``, ``SELFHEAL_MIN_OCCURRENCES``, ``SELFHEAL_IGNORE_TYPES``,
``SELFHEAL_IGNORE_PATHS``, ``SELFHEAL_IGNORE_MESSAGES`` (see ``selfheal.settings``).
Metrics (EMF, namespace and service from the template's environment): TracebacksSeen, NewErrors,
Duplicates, RegressedErrors, IgnoredErrors, StoreWrites, MalformedRecords, MalformedEvents,
ControlMessages, EmptyBatches, OversizedEvents, RedeliveredBatches (a delivery already counted,
skipped: each log event is counted once).

Imports stay light (this runs on every log batch): boto3 and the extractor load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from selfheal.compose import aws

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from selfheal.services.ingest import IngestReport, IngestService

logger = aws.logger()
metrics = aws.metrics()


def configure(service: IngestService | None) -> None:
    """Use ``service`` (tests, local runs); ``None`` rebuilds from the environment on next use
    (``selfheal.compose.aws.configure(ingest=...)``)."""
    aws.configure(ingest=service)


class ShardBlocked(Exception):
    """A record after a failed one in the same Kinesis batch (see ``InOrderProcessor``)."""


class InOrderProcessor(BatchProcessor):
    """Kinesis: Lambda resumes a shard from the lowest failed sequence number, so a record after a
    failure is not processed now; it is reported failed and counted once, on the retry."""

    def _process_record(self, record: dict[str, Any]) -> Any:
        if self.fail_messages:
            blocked = ShardBlocked("an earlier record of this batch failed; retried from there")
            return self.failure_handler(record=self._to_batch_type(record, event_type=self.event_type),
                                        exception=(ShardBlocked, blocked, None))
        return super()._process_record(record)


class _Run:
    """One invocation: the payloads ingested, the records skipped, the totals."""

    def __init__(self) -> None:
        from selfheal.services.ingest import IngestReport

        self.total = IngestReport()
        self.failures: list[dict[str, Any]] = []

    def skip(self, record_id: str, reason: str) -> None:
        """A record that can never be ingested: logged and counted, never retried."""
        logger.error("malformed log record skipped", record=record_id, reason=reason)
        metrics.add_metric(name="MalformedRecords", unit=MetricUnit.Count, value=1)

    def payload(self, record_id: str, data: object) -> None:
        """Decode and ingest one subscription payload (store failures raise: retried)."""
        from selfheal.domain.cloudwatch import decode_subscription
        from selfheal.errors import MalformedInput

        try:
            batch = decode_subscription(data)
        except MalformedInput as exc:
            self.skip(record_id, str(exc))
            return
        for reason in batch.skipped:
            logger.error("malformed log event skipped", record=record_id, reason=reason)
            metrics.add_metric(name="MalformedEvents", unit=MetricUnit.Count, value=1)
        if batch.control:
            logger.info("control message skipped", record=record_id, log_group=batch.log_group)
            metrics.add_metric(name="ControlMessages", unit=MetricUnit.Count, value=1)
            return
        if not batch.events:
            logger.warning("empty batch skipped", record=record_id, log_group=batch.log_group)
            metrics.add_metric(name="EmptyBatches", unit=MetricUnit.Count, value=1)
            return
        report = aws.ingest_service().ingest_batch(batch)
        for problem in report.problems:
            logger.warning(problem, record=record_id)
        self.total.merge(report)

    def records(self, records: list[Any], context: Any) -> None:
        """Kinesis or SQS records: the malformed skipped, the rest through Powertools' batch
        processor so a failure is reported per record (``batchItemFailures``)."""
        kinesis: list[dict[str, Any]] = []
        sqs: list[dict[str, Any]] = []
        for index, record in enumerate(records):
            rid = str(record.get("eventID") or record.get("messageId") or index) if isinstance(record, dict) \
                else str(index)
            if not isinstance(record, dict):
                self.skip(rid, f"Records[{index}] is {type(record).__name__}, not an object")
            elif isinstance(record.get("kinesis"), dict) and isinstance(record["kinesis"].get("data"), str):
                kinesis.append(record)
            elif isinstance(record.get("body"), str) and "kinesis" not in record:
                sqs.append(record)
            else:
                self.skip(rid, f"Records[{index}] is neither a Kinesis record with data nor an SQS message")
        for items, processor, data_of in (
                # Every record failing is reported like a partial failure, not raised: same retry.
                (kinesis, InOrderProcessor(EventType.KinesisDataStreams, raise_on_entire_batch_failure=False),
                 lambda r: r.kinesis.data),
                (sqs, BatchProcessor(EventType.SQS, raise_on_entire_batch_failure=False), lambda r: r.body)):
            if items:
                def handle(record: Any, data_of: Any = data_of) -> None:
                    self.payload(str(record.raw_event.get("eventID") or record.raw_event.get("messageId")),
                                 data_of(record))

                response = process_partial_response(event={"Records": items}, record_handler=handle,
                                                    processor=processor, context=context)
                self.failures += [dict(f) for f in response.get("batchItemFailures") or []]


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run = _Run()
    if isinstance(event, dict) and "awslogs" in event:
        awslogs = event["awslogs"]
        run.payload("awslogs", awslogs.get("data") if isinstance(awslogs, dict) else awslogs)
    else:
        records = event.get("Records") if isinstance(event, dict) else None
        if isinstance(records, list) and records:
            run.records(records, context)
        elif records is None or records == []:
            logger.warning("empty event: no log records to ingest")
            metrics.add_metric(name="EmptyBatches", unit=MetricUnit.Count, value=1)
        else:
            run.skip("Records", f"Records is {type(records).__name__}, not a list")
    total = run.total
    _emit(total)
    logger.info("ingested", tracebacks=total.tracebacks, distinct=total.distinct, new=len(total.new),
                writes=total.writes, failed_records=len(run.failures))
    return {"tracebacks": total.tracebacks, "distinct": total.distinct, "new": total.new,
            "regressed": total.regressed, "ignored": total.ignored, "duplicates": total.duplicates,
            "writes": total.writes, "oversized": total.oversized, "redelivered": total.redelivered,
            "batchItemFailures": run.failures}


def _emit(report: IngestReport) -> None:
    for name, value in (("TracebacksSeen", report.tracebacks), ("NewErrors", len(report.new)),
                        ("Duplicates", report.duplicates), ("RegressedErrors", len(report.regressed)),
                        ("IgnoredErrors", len(report.ignored)), ("StoreWrites", report.writes),
                        ("OversizedEvents", report.oversized), ("RedeliveredBatches", report.redelivered)):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
