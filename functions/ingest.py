"""Ingest Lambda: CloudWatch Logs subscription -> tracebacks -> error store (DynamoDB).

Accepts the event CloudWatch Logs delivers to a subscribed function (``{"awslogs": {"data":
...}}``) and, for log subscriptions routed through Kinesis, a Kinesis stream event (``Records[].
kinesis.data``). A record that cannot be decoded, a control message, an empty batch or an
oversized log event is logged (one line each) and counted; the other records are processed.
Store failures raise, so Lambda retries the invocation.

Environment: ``SELFHEAL_TABLE_NAME`` (the error table); ``SELFHEAL_IN_APP_PREFIXES``,
``SELFHEAL_APP_ROOTS``, ``SELFHEAL_MIN_OCCURRENCES``, ``SELFHEAL_IGNORE_TYPES``,
``SELFHEAL_IGNORE_PATHS``, ``SELFHEAL_IGNORE_MESSAGES`` (see ``selfheal.settings``).
Metrics (EMF, namespace and service from the template's environment): TracebacksSeen, NewErrors,
Duplicates, RegressedErrors, IgnoredErrors, StoreWrites, MalformedRecords, ControlMessages,
EmptyBatches, OversizedEvents.

Imports stay light (this runs on every log batch): boto3 and the extractor load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.cloud_watch_logs_event import CloudWatchLogsEvent

from selfheal.compose import aws

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from selfheal.services.ingest import IngestReport, IngestService

logger = Logger()
metrics = aws.metrics()


def configure(service: IngestService | None) -> None:
    """Use ``service`` (tests, local runs); ``None`` rebuilds from the environment on next use
    (``selfheal.compose.aws.configure(ingest=...)``)."""
    aws.configure(ingest=service)


def _payloads(event: dict[str, Any]) -> list[tuple[str, Any]]:
    """(record id, base64 data) for each subscription payload in the event."""
    if "awslogs" in event:
        return [("awslogs", CloudWatchLogsEvent(event).raw_logs_data)]
    return [(str(r.get("eventID", i)), (r.get("kinesis") or {}).get("data"))
            for i, r in enumerate(event.get("Records") or [])]


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from selfheal.domain.cloudwatch import decode_subscription
    from selfheal.errors import MalformedInput
    from selfheal.services.ingest import IngestReport

    total = IngestReport()
    payloads = _payloads(event)
    if not payloads:
        logger.warning("empty event: no log records to ingest")
        metrics.add_metric(name="EmptyBatches", unit=MetricUnit.Count, value=1)
    for record_id, data in payloads:
        try:
            batch = decode_subscription(data)
        except MalformedInput as exc:
            logger.error("malformed log record skipped", record=record_id, reason=str(exc))
            metrics.add_metric(name="MalformedRecords", unit=MetricUnit.Count, value=1)
            continue
        if batch.control:
            logger.info("control message skipped", record=record_id, log_group=batch.log_group)
            metrics.add_metric(name="ControlMessages", unit=MetricUnit.Count, value=1)
            continue
        if not batch.events:
            logger.warning("empty batch skipped", record=record_id, log_group=batch.log_group)
            metrics.add_metric(name="EmptyBatches", unit=MetricUnit.Count, value=1)
            continue
        report = aws.ingest_service().ingest_batch(batch)
        for problem in report.problems:
            logger.warning(problem, record=record_id)
        total.merge(report)
    _emit(total)
    logger.info("ingested", tracebacks=total.tracebacks, distinct=total.distinct, new=len(total.new),
                writes=total.writes)
    return {"tracebacks": total.tracebacks, "distinct": total.distinct, "new": total.new,
            "regressed": total.regressed, "ignored": total.ignored, "duplicates": total.duplicates,
            "writes": total.writes, "oversized": total.oversized}


def _emit(report: IngestReport) -> None:
    for name, value in (("TracebacksSeen", report.tracebacks), ("NewErrors", len(report.new)),
                        ("Duplicates", report.duplicates), ("RegressedErrors", len(report.regressed)),
                        ("IgnoredErrors", len(report.ignored)), ("StoreWrites", report.writes),
                        ("OversizedEvents", report.oversized)):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
