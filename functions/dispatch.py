"""Dispatch Lambda: the error table's stream -> fix requests on SQS.

Enqueues ``{"fingerprint", "reason"}`` on a new error (reaching the minimum occurrences), on a
change to QUEUED (re-drive) and on a change to REGRESSED; never on a mere count update
(``selfheal.services.dispatch.decide``); a fingerprint migration's write of a merged record
queues only when the merge itself brings the error to the minimum occurrences (a request sent
under an old id is started on the merged record). Failed records are reported as batch item failures,
so the stream retries from them instead of re-sending the whole batch.

Environment: ``SELFHEAL_QUEUE_URL`` (the fix queue); ``SELFHEAL_MIN_OCCURRENCES``,
``SELFHEAL_IGNORE_TYPES``, ``SELFHEAL_IGNORE_PATHS``, ``SELFHEAL_IGNORE_MESSAGES`` (built by
``selfheal.compose.aws.build_dispatch``). Metrics (EMF, namespace and service from the template's
environment): StreamRecords, FixRequestsQueued.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from selfheal.adapters.dynamodb_store import record_from_image
from selfheal.adapters.store_migration import migration_write
from selfheal.compose import aws
from selfheal.services.dispatch import decide

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = aws.logger()
metrics = aws.metrics()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


def record_handler(record: DynamoDBRecord) -> str | None:
    """Send the fix request this stream record calls for; return its reason (or None)."""
    metrics.add_metric(name="StreamRecords", unit=MetricUnit.Count, value=1)
    images = record.raw_event.get("dynamodb") or {}
    deps = aws.dispatch_deps()
    old_image, new_image = images.get("OldImage"), images.get("NewImage")
    merged_from = migration_write(old_image, new_image)  # a fingerprint migration's own write
    request = decide(deps.policy, record_from_image(old_image), record_from_image(new_image), merged_from)
    if merged_from is not None:
        logger.info("migrated record", fingerprint=(request.fingerprint if request else None),
                    merged=[r.id for r in merged_from], queued=request is not None)
    if request is None:
        return None
    deps.sqs.send_message(QueueUrl=deps.queue_url, MessageBody=request.body())
    logger.info("fix request queued", fingerprint=request.fingerprint, reason=request.reason)
    metrics.add_metric(name="FixRequestsQueued", unit=MetricUnit.Count, value=1)
    return request.reason


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                         context=context))
