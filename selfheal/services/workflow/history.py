"""The state-by-state path of a run, from the engine's history (live) or from the error
record's attempt (durable; all that survives an Express execution)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from selfheal.domain.records import Attempt
from selfheal.services.workflow.flow import CONTINUE_STATE, CONTINUED_MARKER

_FLOW_STATES = frozenset({CONTINUE_STATE, CONTINUED_MARKER})
Outcome = Literal["succeeded", "failed", "caught", "retried", "running"]


class StepView(BaseModel):
    """One state of a run: how it ended, how many tries, how long, and why it failed."""

    state: str
    outcome: Outcome
    tries: int = 1
    duration_ms: int | None = None
    error: str | None = None
    cause: str | None = None
    artifacts: dict[str, str] = Field(default_factory=dict)

    @property
    def retries(self) -> int:
        return max(0, self.tries - 1)


def path_from_attempt(attempt: Attempt) -> list[StepView]:
    """Consecutive runs of one state are one view (retries); a failed step the workflow moved
    on from (into RecordFailure) is ``caught``. The flow-control steps of a fix that went on in
    a new execution (``ContinueFix`` and its ``Continued`` marker) are left out unless they
    failed: a state deferred by a rate limit and run again later reads as one state, two tries."""
    views: list[StepView] = []
    for step in attempt.steps:
        if step.state in _FLOW_STATES and step.outcome != "failed":
            continue
        last = views[-1] if views else None
        if last is not None and last.state == step.state and last.outcome == "retried":
            last.tries += 1
            last.outcome = step.outcome
            last.duration_ms = (last.duration_ms or 0) + (step.duration_ms or 0)
            last.error, last.cause = step.error or last.error, step.cause or last.cause
            last.artifacts.update(step.artifacts)
            continue
        views.append(StepView(state=step.state, outcome=step.outcome, duration_ms=step.duration_ms,
                              error=step.error, cause=step.cause, artifacts=dict(step.artifacts)))
    _mark_caught(views)
    return views


def _mark_caught(views: list[StepView]) -> None:
    for i, v in enumerate(views):
        later = [w.state for w in views[i + 1:]]
        if v.outcome in ("failed", "retried", "running") and "RecordFailure" in later:
            v.outcome = "caught"


def _details(event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def path_from_history(events: Iterable[dict[str, Any]]) -> list[StepView]:
    """The same view from ``GetExecutionHistory`` events (Task and Choice states)."""
    views: list[StepView] = []
    entered: dict[str, datetime] = {}
    current: StepView | None = None
    for ev in events:
        typ, det = ev.get("type", ""), _details(ev)
        if typ.endswith("StateEntered") and typ != "ExecutionStarted":
            name = det.get("name", "?")
            current = StepView(state=name, outcome="running", tries=0)
            if typ in ("ChoiceStateEntered", "PassStateEntered", "SucceedStateEntered",
                       "FailStateEntered"):
                current.tries = 1
            views.append(current)
            entered[name] = ev.get("timestamp") or datetime.min
        elif typ in ("LambdaFunctionScheduled", "TaskScheduled") and current is not None:
            current.tries += 1
        elif typ in ("LambdaFunctionFailed", "LambdaFunctionTimedOut", "TaskFailed",
                     "TaskTimedOut") and current is not None:
            current.outcome = "retried"
            current.error, current.cause = det.get("error"), _cause(det.get("cause"))
        elif typ in ("LambdaFunctionSucceeded", "TaskSucceeded") and current is not None:
            current.outcome = "running"  # the last try worked
        elif typ.endswith("StateExited") and current is not None:
            start, end = entered.get(current.state), ev.get("timestamp")
            if isinstance(start, datetime) and isinstance(end, datetime) and start != datetime.min:
                current.duration_ms = int((end - start).total_seconds() * 1000)
            current.outcome = "caught" if current.outcome == "retried" else "succeeded"
            if current.outcome == "succeeded":
                current.error = current.cause = None
        elif typ == "ExecutionFailed" and current is not None and current.outcome == "running":
            current.outcome = "failed"
            current.error, current.cause = det.get("error"), _cause(det.get("cause"))
    for v in views:
        if v.outcome == "retried":  # a Task whose error ended the execution uncaught
            v.outcome = "failed"
    return views


def _cause(raw: Any) -> str | None:
    if not isinstance(raw, str):
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return raw
    return str(data.get("errorMessage", raw)) if isinstance(data, dict) else raw


def run_status(definition: dict[str, Any], path: list[StepView], outcome: str) -> dict[str, str]:
    """State -> console colour key for the drawing: Task states from the path (``retried`` when
    a state needed more than one try), and the Pass/Choice/end states a run must have crossed."""
    status: dict[str, str] = {}
    for v in path:
        key = "retried" if v.outcome == "succeeded" and v.tries > 1 else v.outcome
        status[v.state] = key
    if not path:
        return status
    states: dict[str, dict[str, Any]] = definition.get("States", {})
    start = definition.get("StartAt")
    for name, st in states.items():  # definition order: predecessors come first
        typ = st.get("Type")
        reached = any(ps.get("Next") == name and p in status for p, ps in states.items())
        entry = typ in ("Pass", "Choice") and (name == start or reached)
        if entry or (typ == "Succeed" and reached and outcome == "abstained"):
            status[name] = "succeeded"
        elif typ == "Fail" and reached and outcome == "failed":
            status[name] = "failed"
    return status
