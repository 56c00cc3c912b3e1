"""A fix that goes on in a new execution: waits asked for by a service, and segment
boundaries (an Express execution ends after 5 minutes, uncatchably).

* ``deferred(state, payload, exc)``: in a ``DEFERRABLE_STATES`` step, a rate limit (any error
  carrying ``retry_after``) or, for the model call, any transient error becomes
  ``payload.flow.wait_*`` instead of an exception (``catalogue.run_state``); the ASL routes it
  to a wait or to ``ContinueFix``.
* A short wait of a short state happens inside the execution (the ASL's ``WaitHere`` choice and
  ``RateLimitWait`` state, once per execution).
* ``continue_fix`` is the ``ContinueFix`` state: it ends the execution and leaves a ``Continued``
  marker step on the attempt whose ``request`` artifact is the next
  execution's input. On AWS the ASL's ``Requeue`` task sends it to the fix queue with
  ``DelaySeconds`` (up to 15 minutes; a longer wait is started by the sweeper when due);
  locally the runner starts it (``selfheal.services.workflow.chain``).
* ``start_continuation`` is what ``start_fix`` does with such a queue message.

Finished states are never paid twice: the next execution starts at the state that was to run,
with the payload (artifact references) the finished ones produced.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from selfheal.domain.records import Attempt, ErrorRecord, Status, StepRecord, utcnow
from selfheal.errors import MalformedInput, PermanentError, RetryableError
from selfheal.names import Artifact
from selfheal.ports import ArtifactStore, ErrorStore
from selfheal.services.workflow.deps import WorkflowServices
from selfheal.services.workflow.flow import (
    CONTINUE_REASON,
    CONTINUED_MARKER,
    DEFERRABLE_STATES,
    MAX_CONTINUATIONS,
    SQS_MAX_DELAY_S,
    FlowControl,
)
from selfheal.services.workflow.models import ContinueFixInput, FixState
from selfheal.services.workflow.recorder import StepHandle

_NO_WAIT = object()
# On a Continued marker: the execution that took it up (not an artifact: an execution id).
STARTED_EXECUTION = "execution"


class ContinuationsExhausted(PermanentError):
    """A fix was continued ``MAX_CONTINUATIONS`` times (a service that never recovers)."""


def backoff_seconds(continuations: int) -> float:
    """The wait before a transient failure is tried again when the service named none."""
    return float(min(SQS_MAX_DELAY_S, 15 * 2 ** min(continuations, 10)))


def asked_wait(state: str, exc: Exception, continuations: int) -> float | None:
    """The wait ``exc`` calls for in ``state``, or None when it is not deferred."""
    retry_after: Any = getattr(exc, "retry_after", _NO_WAIT)
    if retry_after is not _NO_WAIT:  # a rate limit: wait as the service told (or back off)
        return float(retry_after) if retry_after is not None else backoff_seconds(continuations)
    if state == "InvokeModel" and isinstance(exc, RetryableError):
        return backoff_seconds(continuations)  # the long model call is never retried inline
    return None


def deferred(state: str, payload: FixState, exc: RetryableError) -> FixState | None:
    """``payload`` asking for ``state`` to run again after the wait ``exc`` calls for (set on
    ``payload.flow``), or None when ``exc`` is not deferred (``DEFERRABLE_STATES`` only)."""
    if state not in DEFERRABLE_STATES:
        return None
    wait = asked_wait(state, exc, payload.flow.continuations)
    if wait is None:
        return None
    payload.flow.wait_state, payload.flow.wait_seconds = state, max(1, math.ceil(wait))
    payload.flow.wait_error = type(exc).__name__
    return payload


def next_input(payload: dict[str, Any]) -> dict[str, Any]:
    """The input of the execution that continues ``payload`` (a ``ContinueFix`` output)."""
    data = {k: v for k, v in payload.items()
            if k not in ("execution", "failure", "continue_at", "flow")}
    flow = payload.get("flow") or {}
    data["flow"] = {"continuations": int(flow.get("continuations", 0))}
    return data


def _target(payload: FixState) -> tuple[str, float, str]:
    """(state to continue at, seconds to wait, why)."""
    flow = payload.flow
    if flow.wait_state:
        why = f"{flow.wait_error or 'wait'} in {flow.wait_state}"
        return flow.wait_state, float(flow.wait_seconds or 0), why
    if payload.continue_at:  # a segment boundary, or a queued re-drive's state (AfterFetch)
        return payload.continue_at, 0.0, "segment boundary"
    raise MalformedInput("ContinueFix needs flow.wait_state or continue_at")


def continue_fix(svc: WorkflowServices, payload: ContinueFixInput, step: StepHandle) -> FixState:
    """The ``ContinueFix`` state (see module docstring)."""
    state, seconds, why = _target(payload)
    flow = payload.flow
    payload.flow = FlowControl(inline_waits=flow.inline_waits, continuations=flow.continuations + 1)
    payload.continue_at, payload.failure = None, None
    payload.resume_from = state
    if payload.flow.continuations > MAX_CONTINUATIONS:
        raise ContinuationsExhausted(f"{why}: continued {MAX_CONTINUATIONS} times; giving up")
    wait = max(0, math.ceil(seconds))
    ref = step.save_json(f"continue-{payload.flow.continuations}.json", next_input(payload.to_payload()))
    step.artifacts[Artifact.REQUEST] = ref
    payload.flow.request = ref
    if wait <= SQS_MAX_DELAY_S:  # else: no Requeue; the sweeper starts it when due
        payload.flow.delay_seconds = wait
    now = utcnow()
    svc.store.record_step(payload.fingerprint, step.attempt, StepRecord(
        state=CONTINUED_MARKER, started_at=now, finished_at=now + timedelta(seconds=wait),
        duration_ms=wait * 1000, outcome="succeeded", cause=f"continue at {state} in {wait} s ({why})",
        artifacts={Artifact.REQUEST: ref}))
    return payload


# --- reading and starting continuations ------------------------------------------------------

def pending_marker(attempt: Attempt | None) -> StepRecord | None:
    """The ``Continued`` marker of a running attempt whose next execution has not started."""
    if attempt is None or attempt.outcome != "running" or not attempt.steps:
        return None
    last = attempt.steps[-1]
    if last.state != CONTINUED_MARKER or not last.artifacts.get(Artifact.REQUEST):
        return None
    return None if last.artifacts.get(STARTED_EXECUTION) else last


def mark_started(store: ErrorStore, fingerprint: str, attempt: int, marker: StepRecord,
                 execution: str) -> None:
    """Note on the marker that its execution started (a repeated message is then a duplicate)."""
    store.record_step(fingerprint, attempt, marker.model_copy(
        update={"artifacts": {**marker.artifacts, STARTED_EXECUTION: execution}}))


def due_at(marker: StepRecord) -> datetime:
    return marker.finished_at or marker.started_at


def continuation_name(record: ErrorRecord | str, attempt: int, continuations: int) -> str:
    """``<fingerprint prefix>-<attempt>-c<k>``: unique per attempt (STANDARD dedupes names)."""
    fp = record if isinstance(record, str) else record.fingerprint
    return f"{fp[:12]}-{attempt}-c{continuations}"


def load_request(artifacts: ArtifactStore, marker: StepRecord) -> dict[str, Any]:
    data = json.loads(artifacts.get_bytes(marker.artifacts[Artifact.REQUEST]).decode())
    if not isinstance(data, dict):
        raise MalformedInput("a continuation request must be a JSON object")
    return data


class ContinuationMessage(BaseModel):
    """The queue message the ASL's ``Requeue`` task sends."""

    fingerprint: str
    reason: str
    attempt: int
    payload: dict[str, Any]


def parse_continuation(body: str | bytes | None) -> ContinuationMessage | None:
    """A continuation message, or None for any other body (a fix request)."""
    try:
        data = json.loads(body or "")
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("reason") != CONTINUE_REASON:
        return None
    try:
        return ContinuationMessage.model_validate(data)
    except ValidationError as exc:
        raise MalformedInput(f"not a continuation: {str(body)[:200]!r}") from exc


ContinuationAction = Literal["resumed", "duplicate", "stale"]


def start_continuation(store: ErrorStore, starter: Any, message: ContinuationMessage
                       ) -> tuple[ContinuationAction, str | None, str]:
    """Start the execution a continuation message asks for, once: (action, execution, detail)
    with action ``resumed``, ``duplicate`` (already started) or ``stale`` (the fix ended)."""
    record = store.get(message.fingerprint)
    att = next((a for a in record.attempts if a.number == message.attempt), None) if record else None
    if record is None or att is None or record.status != Status.FIXING or att.outcome != "running":
        status = record.status if record else "missing"
        return "stale", None, f"continuation of attempt {message.attempt} but the error is {status}"
    marker = pending_marker(att)
    request = (message.payload.get("flow") or {}).get("request")
    if marker is None or marker.artifacts.get(Artifact.REQUEST) != request:
        return "duplicate", None, "continuation already started"
    data = next_input(message.payload)
    name = continuation_name(record, att.number, int(data["flow"]["continuations"]))
    execution = starter.start(name, data)
    mark_started(store, record.fingerprint, att.number, marker, execution)
    return "resumed", execution, f"continued at {data.get('resume_from')}"
