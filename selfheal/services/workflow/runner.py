"""Start a fix execution, report its progress state by state, and read its outcome; re-drive
a failed or abstained fix from a chosen state reusing the recorded artifacts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field

from selfheal.domain.records import ErrorRecord, Status, StepRecord, utcnow
from selfheal.errors import (
    ArtifactNotFound,
    ErrorNotFound,
    InvalidTransition,
    MalformedInput,
    StepTimeout,
)
from selfheal.names import Artifact, execution_name
from selfheal.ports import ArtifactStore, ErrorStore, WorkflowEngine
from selfheal.services.dispatch import FixRequest, FixStarter, abandon
from selfheal.services.policy import Policy
from selfheal.services.workflow.catalogue import RESUMABLE_STATES
from selfheal.services.workflow.chain import follow_attempt
from selfheal.services.workflow.flow import CONTINUED_MARKER
from selfheal.services.workflow.history import StepView, path_from_attempt, path_from_history
from selfheal.services.workflow.models import REDRIVE_MARKER
from selfheal.services.workflow.recorder import artifact_key

# How long an interrupt waits for the entered state's task to record its start (a local task
# runs in this process and records within milliseconds; a loaded machine may take seconds).
STEP_RECORD_WAIT_SECONDS = 10.0

__all__ = ["FixOutcome", "ProgressEvent", "abandon", "follow_execution", "outcome_of", "redrive_payload",
           "request_redrive", "run_execution"]


class ProgressEvent(BaseModel):
    """A state change seen while a fix runs."""

    state: str
    event: str  # entered | succeeded | error | caught | failed | waiting
    detail: str = ""
    at: datetime | None = None  # the engine's event time


Progress = Callable[[ProgressEvent], None]


class HeldLease(Protocol):
    def beat(self) -> None: ...

    def release(self) -> None: ...


# (fingerprint, attempt) -> this process's claim on the attempt (selfheal.adapters.lease_files)
LeaseFactory = Callable[[str, int], HeldLease]


class FixOutcome(BaseModel):
    """How one fix run ended, read back from the error record."""

    fingerprint: str
    attempt: int
    execution_id: str
    execution_name: str
    engine_status: str
    status: Status
    pr_url: str | None = None
    branch: str | None = None
    reasons: list[str] = Field(default_factory=list)
    failed_state: str | None = None
    error: str | None = None
    cause: str | None = None
    path: list[StepView] = Field(default_factory=list)


class _ProgressTracker:
    """Turns new history events into ``ProgressEvent``s."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.seen = 0
        self.state = ""
        self.execution = ""

    def feed(self, events: list[dict[str, Any]], execution: str = "") -> None:
        if execution != self.execution:  # a continuation: a new history
            self.execution, self.seen = execution, 0
        for ev in events[self.seen:]:
            self._one(ev)
        self.seen = len(events)

    def _one(self, ev: dict[str, Any]) -> None:
        typ = ev.get("type", "")
        det = next((v for k, v in ev.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})
        at = ev.get("timestamp") if isinstance(ev.get("timestamp"), datetime) else None
        kind, detail = "", ""
        if typ == "TaskStateEntered":
            self.state, kind = det.get("name", "?"), "entered"
        elif typ == "ChoiceStateEntered":
            self.state = det.get("name", "?")
        elif typ in ("LambdaFunctionFailed", "LambdaFunctionTimedOut"):
            kind, detail = "error", det.get("error", "States.Timeout")
        elif typ == "TaskStateExited":
            caught = '"failure"' in det.get("output", "") and self.state != "RecordFailure"
            kind = "caught" if caught else "succeeded"
        elif typ == "WaitStateEntered":
            kind, detail = "waiting", f"{_wait_seconds(det.get('input'))} s (rate limit)"
        elif typ == "ExecutionFailed":
            kind, detail = "failed", det.get("error", "")
        if kind:
            self.progress(ProgressEvent(state=self.state, event=kind, detail=detail, at=at))


def _wait_seconds(state_input: Any) -> str:
    try:
        return str(json.loads(state_input)["flow"]["wait_seconds"])
    except (TypeError, ValueError, KeyError):
        return "?"


def run_execution(store: ErrorStore, engine: WorkflowEngine, fingerprint: str, *,
                  payload: dict[str, Any] | None = None, progress: Progress | None = None,
                  timeout: float = 3600.0, poll: float = 0.05, force: bool = False,
                  policy: Policy | None = None, artifacts: ArtifactStore | None = None,
                  lease: LeaseFactory | None = None,
                  sleep: Callable[[float], None] | None = None) -> FixOutcome:
    """Start a fix as a person asks for one (``FixStarter``, reason ``manual``), follow it and its
    continuations in new executions to the end, return the outcome. ``force`` replaces a run left
    FIXING by a killed process; ``lease(fingerprint, attempt)`` claims the attempt for this
    process while it runs."""
    start = FixStarter(store, engine, policy or Policy()).start(
        FixRequest(fingerprint=fingerprint, reason="manual"), force=force, payload=payload)
    if start.attempt is None or start.execution is None:
        raise InvalidTransition(f"no fix started for {fingerprint}: {start.detail or start.action}")
    return follow_execution(store, engine, fingerprint, start.attempt, start.execution,
                            progress=progress, timeout=timeout, poll=poll, artifacts=artifacts,
                            lease=lease, sleep=sleep)


def follow_execution(store: ErrorStore, engine: WorkflowEngine, fingerprint: str, attempt: int,
                     execution_id: str, *, progress: Progress | None = None, timeout: float = 3600.0,
                     poll: float = 0.05, artifacts: ArtifactStore | None = None,
                     lease: LeaseFactory | None = None,
                     sleep: Callable[[float], None] | None = None) -> FixOutcome:
    """Follow a started execution, and the executions that continue its attempt, to the end,
    reporting progress; return the outcome. A local execution dies with this process: an
    interrupt or a timeout marks the attempt failed. The wait before a continuation sleeps with
    ``sleep`` (default: scaled like the engine's retry intervals, ``retry_scale``)."""
    if sleep is None:
        scale = float(getattr(engine, "retry_scale", 1.0))
        sleep = lambda seconds: time.sleep(seconds * scale)  # noqa: E731
    name = execution_name(fingerprint, attempt)
    held = lease(fingerprint, attempt) if lease is not None else None
    tracker = _ProgressTracker(progress) if progress else None

    current = execution_id

    def on_poll(execution: str) -> None:
        nonlocal current
        current = execution
        if held is not None:
            held.beat()
        if tracker is not None:
            tracker.feed(engine.history(current), current)

    def countdown(state: str, left: float) -> None:
        if progress is not None:
            progress(ProgressEvent(state=state, event="waiting", detail=f"{left:.0f} s"))

    try:
        execution_id, info = follow_attempt(
            store, engine, fingerprint, attempt, execution_id, artifacts=artifacts,
            deadline=time.monotonic() + timeout, poll=poll, on_poll=on_poll, countdown=countdown,
            sleep=sleep, beat=held.beat if held is not None else None)
    except (KeyboardInterrupt, StepTimeout) as exc:
        _await_step_record(store, engine, fingerprint, attempt, current)
        abandon(store, fingerprint, attempt, "Interrupted" if isinstance(exc, KeyboardInterrupt)
                else type(exc).__name__, str(exc) or "interrupted by the user")
        raise
    finally:
        if held is not None:
            held.release()
    return outcome_of(store, fingerprint, attempt, execution_id, name, info.status)


def _entered_task(engine: WorkflowEngine, execution_id: str) -> str | None:
    """The Task state the engine has entered and not yet left, if any."""
    state: str | None = None
    for ev in engine.history(execution_id):
        typ = ev.get("type", "")
        if typ == "TaskStateEntered":
            state = (ev.get("stateEnteredEventDetails") or {}).get("name")
        elif typ == "TaskStateExited":
            state = None
    return state


def _await_step_record(store: ErrorStore, engine: WorkflowEngine, fingerprint: str, attempt: int,
                       execution_id: str, within: float = STEP_RECORD_WAIT_SECONDS) -> None:
    """Before an interrupted attempt is marked failed: wait (up to ``within`` seconds) until the
    state the engine has entered has recorded its start. The engine logs ``TaskStateEntered``
    before its task runs, so an interrupt in between would otherwise fail the attempt at the
    previous (finished) state, and re-drive would have no recorded input for the real one."""
    deadline = time.monotonic() + within
    try:
        state = _entered_task(engine, execution_id)
        while state is not None and time.monotonic() < deadline:
            record = store.get(fingerprint)
            att = next((a for a in record.attempts if a.number == attempt), None) if record else None
            if att is None or att.outcome != "running" or (att.steps and att.steps[-1].state == state):
                return
            time.sleep(0.02)
    except KeyboardInterrupt:  # a second Ctrl-C: stop waiting, still mark the attempt failed
        return


def outcome_of(store: ErrorStore, fingerprint: str, number: int, execution_id: str, name: str,
               engine_status: str) -> FixOutcome:
    record = store.get(fingerprint)
    if record is None:
        raise ErrorNotFound(f"no error with fingerprint {fingerprint}")
    att = next((a for a in record.attempts if a.number == number), None)
    return FixOutcome(
        fingerprint=fingerprint, attempt=number, execution_id=execution_id, execution_name=name,
        engine_status=engine_status, status=record.status, pr_url=record.pr_url, branch=record.branch,
        reasons=att.reasons if att else [], failed_state=att.failed_state if att else None,
        error=att.error if att else None, cause=att.cause if att else None,
        path=path_from_attempt(att) if att else [])


def live_path(engine: WorkflowEngine, execution_id: str) -> list[StepView]:
    return path_from_history(engine.history(execution_id))


# --- re-drive --------------------------------------------------------------------------------

def default_redrive_state(record: ErrorRecord) -> str:
    """The failed state of a FAILED fix; a fresh start for an ABSTAINED one."""
    att = record.current_attempt
    if record.status == Status.FAILED and att and att.failed_state in RESUMABLE_STATES:
        return att.failed_state
    return "FetchSource"


def check_redrivable(record: ErrorRecord, from_state: str | None) -> str:
    if record.status not in (Status.FAILED, Status.ABSTAINED):
        raise InvalidTransition(f"error {record.short_id} is {record.status}; only FAILED or "
                                "ABSTAINED fixes can be re-driven")
    state = from_state or default_redrive_state(record)
    if state not in RESUMABLE_STATES:
        raise MalformedInput(f"cannot re-drive from {state!r}; choose one of {', '.join(RESUMABLE_STATES)}")
    return state


def redrive_payload(record: ErrorRecord, artifacts: ArtifactStore, from_state: str | None = None
                    ) -> dict[str, Any]:
    """The execution input that resumes at ``from_state`` with the recorded input of that
    state's last run (so completed states, the model call included, are not paid again)."""
    state = check_redrivable(record, from_state)
    if state == "FetchSource":
        return {"fingerprint": record.fingerprint, "redrive": True}
    for att in reversed(record.attempts):
        for step in reversed(att.steps):
            data = _recorded_input(step, state, artifacts)
            if data is not None:
                for key in ("failure", "execution", "attempt", "flow", "continue_at"):
                    data.pop(key, None)
                if state == "BuildPrompt":  # a fresh repair budget, keeping the last feedback
                    data.update(round=0, reasons=[], verdict="pending")
                data["resume_from"], data["redrive"] = state, True
                return dict(data)
    raise MalformedInput(f"no recorded run of {state} for error {record.short_id}; "
                         "re-drive from an earlier state")


def _recorded_input(step: StepRecord, state: str, artifacts: ArtifactStore) -> dict[str, Any] | None:
    """The input ``state`` ran (or was to run) with: its own run's input, or the request of a
    continuation that was to start there (a lost attempt may never have run it)."""
    if step.state == state and step.artifacts.get(Artifact.INPUT):
        try:
            data = json.loads(artifacts.get_bytes(step.artifacts[Artifact.INPUT]).decode())
        except ArtifactNotFound:  # named by its start record, never stored (died in between)
            return None
        return data if isinstance(data, dict) else None
    if step.state == CONTINUED_MARKER and step.artifacts.get(Artifact.REQUEST):
        data = json.loads(artifacts.get_bytes(step.artifacts[Artifact.REQUEST]).decode())
        return data if isinstance(data, dict) and data.get("resume_from") == state else None
    return None


def request_redrive(store: ErrorStore, fingerprint: str, from_state: str | None = None,
                    artifacts: ArtifactStore | None = None) -> ErrorRecord:
    """AWS re-drive: put the error back to QUEUED; the stream and the queue start a fresh
    Express execution (Express has no native RedriveExecution). With ``artifacts``, the request
    (the recorded input of ``from_state``) is left as a marker step on the last attempt, and the
    fresh execution's FetchSource resumes there instead of starting over (no model call is paid
    again for a failure in OpenPullRequest)."""
    record = store.get(fingerprint)
    if record is None:
        raise ErrorNotFound(f"no error with fingerprint {fingerprint}")
    state = check_redrivable(record, from_state)
    last = record.current_attempt
    if artifacts is None and state != "FetchSource":
        # Without the artifacts the fresh execution cannot resume: it would silently start over
        # at FetchSource and pay for the model again.
        raise MalformedInput(
            f"re-driving {record.short_id} from {state} needs the artifacts bucket (the recorded "
            f"input of {state}); pass --bucket, or --from-state FetchSource to start over (and "
            "call the model again) on purpose")
    if artifacts is not None and last is not None:
        payload = redrive_payload(record, artifacts, state)
        payload["resume_from"] = state
        ref = artifacts.put_bytes(artifact_key(fingerprint, last.number, "redrive-request.json"),
                                  json.dumps(payload).encode())
        now = utcnow()
        store.record_step(fingerprint, last.number, StepRecord(
            state=REDRIVE_MARKER, started_at=now, finished_at=now, duration_ms=0, outcome="succeeded",
            cause=f"re-drive requested from {state}", artifacts={Artifact.REQUEST: ref}))
    return store.transition(fingerprint, Status.QUEUED, expected=[record.status],
                            reason=f"re-drive requested (from {state})")
