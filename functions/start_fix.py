"""Start-fix Lambda: fix requests from SQS -> one Step Functions execution per attempt.

Each message ``{"fingerprint", "reason"}`` goes through ``selfheal.services.dispatch.FixStarter``:
status to FIXING by a conditional update, a new attempt, then ``StartExecution`` named
``<fingerprint[:12]>-<attempt>`` (``ExecutionAlreadyExists`` counts as started), so a duplicate
delivery is a no-op. A malformed body (poison message), an unknown error or a deferred start
(hourly cap, a start in flight elsewhere) is reported as a batch item failure: SQS delivers it
again later and, after ``maxReceiveCount``, moves it to the dead-letter queue.

Environment: ``SELFHEAL_TABLE_NAME``, ``SELFHEAL_STATE_MACHINE_ARN``; ``SELFHEAL_MAX_FIXES_PER_HOUR``
(built by ``selfheal.compose.aws.build_start_fix``). Metrics (EMF, namespace and service from the
template's environment): FixesStarted, FixesResumed, DuplicateRequests, StaleRequests,
FixesDeferred, PoisonMessages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from selfheal.compose import aws
from selfheal.errors import FixDeferred, MalformedInput
from selfheal.services.dispatch import StartOutcome, parse_fix_request
from selfheal.services.workflow.continuation import parse_continuation, start_continuation

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = aws.logger()
metrics = aws.metrics()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
_METRIC = {"started": "FixesStarted", "resumed": "FixesResumed", "duplicate": "DuplicateRequests",
           "stale": "StaleRequests"}


def record_handler(record: SQSRecord) -> StartOutcome:
    continuation = parse_continuation(record.body)  # the ASL's Requeue: the next execution
    if continuation is not None:
        starter = aws.fix_starter()
        action, execution, detail = start_continuation(starter.store, starter.starter, continuation)
        outcome = StartOutcome(continuation.fingerprint, action, continuation.attempt, execution, detail)
        logger.info("continuation handled", fingerprint=outcome.fingerprint, action=action,
                    attempt=outcome.attempt, execution=execution, detail=detail)
        metrics.add_metric(name=_METRIC[action], unit=MetricUnit.Count, value=1)
        return outcome
    try:
        request = parse_fix_request(record.body)
    except MalformedInput as exc:
        logger.error("poison message: not a fix request", message_id=record.message_id, reason=str(exc))
        metrics.add_metric(name="PoisonMessages", unit=MetricUnit.Count, value=1)
        raise
    try:
        outcome = aws.fix_starter().start(request)
    except FixDeferred as exc:
        logger.info("fix deferred", fingerprint=request.fingerprint, reason=str(exc))
        metrics.add_metric(name="FixesDeferred", unit=MetricUnit.Count, value=1)
        raise
    logger.info("fix request handled", fingerprint=outcome.fingerprint, action=outcome.action,
                attempt=outcome.attempt, execution=outcome.execution, detail=outcome.detail)
    metrics.add_metric(name=_METRIC[outcome.action], unit=MetricUnit.Count, value=1)
    return outcome


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                         context=context))
