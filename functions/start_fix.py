"""Start-fix Lambda: fix requests from SQS -> one Step Functions execution per attempt.

Each message ``{"fingerprint", "reason"}`` goes through ``selfheal.services.dispatch.FixStarter``:
status to FIXING by a conditional update, a new attempt, then ``StartExecution`` named
``<fingerprint[:12]>-<attempt>`` (``ExecutionAlreadyExists`` counts as started), so a duplicate
delivery is a no-op. A malformed body (poison message), an unknown error or a deferred start
(hourly cap, a start in flight elsewhere) is reported as a batch item failure: SQS delivers it
again later and, after ``maxReceiveCount``, moves it to the dead-letter queue.

Environment: ``TABLE_NAME``, ``STATE_MACHINE_ARN``; ``SELFHEAL_MAX_FIXES_PER_HOUR``.
Metrics (EMF, namespace ``selfheal``): FixesStarted, FixesResumed, DuplicateRequests,
StaleRequests, FixesDeferred, PoisonMessages.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from selfheal.adapters.sfn_aws import AwsWorkflowEngine
from selfheal.errors import FixDeferred, MalformedInput
from selfheal.services.dispatch import FixStarter, StartOutcome, parse_fix_request
from selfheal.services.workflow.continuation import parse_continuation, start_continuation

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="selfheal-start-fix")
metrics = Metrics(namespace="selfheal", service="start_fix")
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
_starter: FixStarter | None = None
_METRIC = {"started": "FixesStarted", "resumed": "FixesResumed", "duplicate": "DuplicateRequests",
           "stale": "StaleRequests"}


class StepFunctionsStarter(AwsWorkflowEngine):
    """``ExecutionStarter`` on Step Functions: the AWS engine's ``start`` (an existing execution
    name counts as started)."""

    def __init__(self, state_machine_arn: str, client: Any = None) -> None:
        super().__init__(state_machine_arn, client=client)


def configure(starter: FixStarter | None) -> None:
    """Use ``starter`` (tests); ``None`` rebuilds from the environment on next use."""
    global _starter
    _starter = starter


def _get_starter() -> FixStarter:
    global _starter
    if _starter is None:
        from selfheal.compose.store import build_dynamodb_store, build_policy
        from selfheal.settings import load_settings

        _starter = FixStarter(build_dynamodb_store(os.environ["TABLE_NAME"]),
                              StepFunctionsStarter(os.environ["STATE_MACHINE_ARN"]),
                              build_policy(load_settings()))
    return _starter


def record_handler(record: SQSRecord) -> StartOutcome:
    continuation = parse_continuation(record.body)  # the ASL's Requeue: the next execution
    if continuation is not None:
        starter = _get_starter()
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
        outcome = _get_starter().start(request)
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
