"""``RecordFailure``: the ``Catch`` target of every Task. Writes the failed state, the error
class and its cause to the error record (status FAILED) so a user can read and re-drive it."""

from __future__ import annotations

import json

from selfheal.domain.records import ALLOWED_TRANSITIONS, Attempt, Status, StepRecord, utcnow
from selfheal.services.workflow.deps import WorkflowServices
from selfheal.services.workflow.models import Failure, FixState, RecordFailureInput
from selfheal.services.workflow.recorder import CAUSE_MAX_CHARS, StepHandle


def failure_cause(failure: Failure) -> str:
    """The human part of a Catch cause: Lambda wraps it as ``{"errorType","errorMessage",...}``."""
    try:
        data = json.loads(failure.Cause)
    except (ValueError, TypeError):
        return failure.Cause[:CAUSE_MAX_CHARS]
    if isinstance(data, dict) and "errorMessage" in data:
        return str(data["errorMessage"])[:CAUSE_MAX_CHARS]
    return failure.Cause[:CAUSE_MAX_CHARS]


def failed_step(attempt: Attempt | None) -> StepRecord | None:
    """The step that did not finish well: the last one failed, retried or still running."""
    if attempt is None:
        return None
    for step in reversed(attempt.steps):
        if step.state in ("RecordFailure", "RecordAbstain"):
            continue
        if step.outcome in ("failed", "retried", "running"):
            return step
        return None
    return None


def record_failure(svc: WorkflowServices, payload: RecordFailureInput, step: StepHandle) -> FixState:
    """Write state, error and cause on the attempt; move the error to FAILED."""
    error, cause = payload.failure.Error, failure_cause(payload.failure)
    record = svc.store.get(payload.fingerprint)
    attempt = next((a for a in record.attempts if a.number == step.attempt), None) if record else None
    failed = failed_step(attempt)
    state = failed.state if failed else "unknown"
    if failed is not None and failed.outcome != "failed":
        # Retries exhausted (or the step never reported back): the last run is the failure.
        finished = failed.finished_at or utcnow()
        svc.store.record_step(payload.fingerprint, step.attempt, failed.model_copy(update={
            "outcome": "failed", "error": error, "cause": cause, "finished_at": finished,
            "duration_ms": failed.duration_ms
            if failed.duration_ms is not None else int((finished - failed.started_at).total_seconds() * 1000),
        }))
    # The failed state first, then FAILED: a re-drive acts only on FAILED, so whoever sees FAILED
    # also sees where to resume (the other order let a re-drive in between start over from
    # FetchSource and pay for the model again).
    svc.store.finish_attempt(payload.fingerprint, step.attempt, only_running=True, outcome="failed",
                             failed_state=state, error=error, cause=cause, finished_at=utcnow())
    if record is not None and Status.FAILED in ALLOWED_TRANSITIONS[record.status]:
        svc.store.transition(payload.fingerprint, Status.FAILED, expected=[record.status],
                             reason=f"{state}: {error}: {cause}"[:1000])
    return payload
