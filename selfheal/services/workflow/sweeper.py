"""Nothing stays FIXING: attempts past their deadline become FAILED with reason ``lost``.

Every running attempt has a deadline. On AWS (and for local attempts nobody holds a lease
on) it is time-based: the last sign of life (the attempt's start, a step's start or end, a
continuation due) plus the longest an execution can run (``execution_limit_s``: Express's 300 s)
plus a margin. Locally, a lease (``selfheal.adapters.lease_files``) names the owning process:
a dead owner or a stale heartbeat loses the attempt at once (``SweepPolicy.owner_alive``).

A lost attempt is finished as failed at the state it was in (the step that was running, or the
state a pending continuation was to run; else the last state that succeeded), *then* the error
moves FIXING -> FAILED: whoever sees FAILED sees where to resume, and ``redrive`` resumes there
from that state's recorded input, without paying for the model again.

An error still FIXING whose attempt a final state finished (the execution died between that
write and the status) gets the status the outcome names (``settle_status``), not ``lost``.

A continuation waiting longer than SQS can delay (15 minutes) is started here when due (the
scheduled re-drive); ``starter`` is the workflow engine.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from selfheal.domain.records import Attempt, ErrorRecord, Status, StepRecord, utcnow
from selfheal.errors import AttemptFinished, ConcurrentUpdate, InvalidTransition, SelfhealError
from selfheal.names import Artifact
from selfheal.ports import ArtifactStore, ErrorStore
from selfheal.services.workflow.catalogue import RESUMABLE_STATES
from selfheal.services.workflow.continuation import (
    continuation_name,
    due_at,
    load_request,
    mark_started,
    pending_marker,
)
from selfheal.services.workflow.flow import CONTINUE_STATE, SQS_MAX_DELAY_S
from selfheal.services.workflow.settle import settle_status

LOST = "lost"  # the reason on the attempt and the start of the status reason
LOST_ERROR = "AttemptLost"  # the attempt's error class name (like a caught error's)
EXPRESS_LIMIT_S = 300.0
DEFAULT_MARGIN_S = 60.0  # start latency (queue, start_fix) and clock skew


@dataclass(frozen=True)
class SweepPolicy:
    """How long an attempt may go without a sign of life."""

    execution_limit_s: float = EXPRESS_LIMIT_S
    margin_s: float = DEFAULT_MARGIN_S
    # local: (fingerprint, attempt) -> whether the attempt's owning process lives (None: no lease)
    owner_alive: Callable[[str, int], bool | None] | None = None

    @property
    def grace(self) -> timedelta:
        return timedelta(seconds=self.execution_limit_s + self.margin_s)


@dataclass
class SweepReport:
    """What one sweep did."""

    checked: int = 0
    lost: list[tuple[str, int, str]] = field(default_factory=list)  # (fingerprint, attempt, state)
    started: list[str] = field(default_factory=list)  # executions of due continuations
    pruned_worktrees: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)  # FIXING errors moved to their attempt's outcome

    @property
    def past_deadline(self) -> int:
        return len(self.lost)

    def summary(self) -> str | None:
        parts = [f"{len(self.lost)} fix(es) lost -> FAILED"] if self.lost else []
        parts += [f"{len(self.started)} continuation(s) started"] if self.started else []
        parts += [f"{len(self.settled)} finished fix(es) given their status"] if self.settled else []
        parts += [f"{len(self.pruned_worktrees)} stale worktree(s) removed"] if self.pruned_worktrees else []
        return "; ".join(parts) or None


def last_sign_of_life(attempt: Attempt) -> datetime:
    times = [attempt.started_at]
    for step in attempt.steps:
        times += [t for t in (step.started_at, step.finished_at) if t is not None]
    return max(times)


def attempt_deadline(attempt: Attempt, policy: SweepPolicy) -> datetime:
    """When a running attempt without a live owner counts as lost."""
    return last_sign_of_life(attempt) + policy.grace


def _step_state(step: StepRecord) -> str | None:
    return step.state if step.state in RESUMABLE_STATES else None


def resume_state(attempt: Attempt, artifacts: ArtifactStore | None) -> str:
    """The state a re-drive of a lost attempt resumes at (see module docstring)."""
    marker = pending_marker(attempt)
    if marker is not None and artifacts is not None:
        try:
            state = load_request(artifacts, marker).get("resume_from")
        except (SelfhealError, ValueError):
            state = None
        if state in RESUMABLE_STATES:
            return str(state)
    for step in reversed(attempt.steps):
        if step.outcome in ("running", "retried") and _step_state(step):
            return step.state
    for step in reversed(attempt.steps):
        if step.outcome == "succeeded" and _step_state(step):
            return step.state
    return "FetchSource"


def mark_lost(store: ErrorStore, record: ErrorRecord, attempt: Attempt, why: str,
              artifacts: ArtifactStore | None = None, now: datetime | None = None) -> str | None:
    """Finish ``attempt`` as failed (reason ``lost``) at its resume state, then FIXING -> FAILED.
    Returns that state, or None when the attempt ended meanwhile."""
    now = now or utcnow()
    state = resume_state(attempt, artifacts)
    cause = f"{LOST}: {why}"
    for step in reversed(attempt.steps):  # the run that never reported back
        if step.outcome == "running" and step.state != CONTINUE_STATE:
            store.record_step(record.fingerprint, attempt.number, step.model_copy(update={
                "outcome": "failed", "error": LOST_ERROR, "cause": cause, "finished_at": now,
                "duration_ms": int((now - step.started_at).total_seconds() * 1000)}))
            break
    fresh = store.get(record.fingerprint)
    current = next((a for a in fresh.attempts if a.number == attempt.number), None) if fresh else None
    if fresh is None or current is None or current.outcome != "running":
        return None
    try:  # conditional: a final state that finished it since the check above wins
        store.finish_attempt(record.fingerprint, attempt.number, only_running=True, outcome="failed",
                             failed_state=state, error=LOST_ERROR, cause=cause, reasons=[LOST],
                             finished_at=now)
    except AttemptFinished:
        return None
    if fresh.status == Status.FIXING:
        try:
            store.transition(record.fingerprint, Status.FAILED, expected=[Status.FIXING],
                             reason=f"{LOST}: {state}: {why}"[:1000])
        except (ConcurrentUpdate, InvalidTransition):
            return None
    return state


def settle_finished(store: ErrorStore, record: ErrorRecord, attempt: Attempt,
                    artifacts: ArtifactStore | None) -> bool:
    """An error left FIXING after its final state finished the attempt (the execution died
    between that write and the status): give it the status the outcome names (PR_OPEN with
    the branch and URL of MarkDone's recorded input). True when it did."""
    branch = pr_url = None
    done = next((s for s in reversed(attempt.steps)
                 if s.state == "MarkDone" and s.artifacts.get(Artifact.INPUT)), None)
    if attempt.outcome == "pr_open" and done is not None and artifacts is not None:
        try:
            data = json.loads(artifacts.get_bytes(done.artifacts[Artifact.INPUT]))
        except (SelfhealError, ValueError):
            data = {}
        branch, pr_url = data.get("branch"), data.get("pr_url")
    try:
        return settle_status(store, record.fingerprint, attempt.number, branch, pr_url)
    except (ConcurrentUpdate, InvalidTransition):  # moved meanwhile: not FIXING any more
        return False


def _owner_alive(record: ErrorRecord, attempt: Attempt, policy: SweepPolicy,
                 now: datetime) -> bool | None:
    """True/False from the attempt's lease (local), None when nobody holds one."""
    return None if policy.owner_alive is None else policy.owner_alive(record.fingerprint, attempt.number)


def sweep(store: ErrorStore, policy: SweepPolicy = SweepPolicy(), *,
          artifacts: ArtifactStore | None = None, starter: Any = None,
          now: datetime | None = None) -> SweepReport:
    """One pass over the FIXING errors (see module docstring)."""
    now = now or utcnow()
    report = SweepReport()
    for record in store.list(Status.FIXING):
        attempt = record.current_attempt
        report.checked += 1
        if attempt is None or attempt.outcome != "running":
            if now - record.updated_at <= policy.grace:
                continue
            if attempt is not None and settle_finished(store, record, attempt, artifacts):
                report.settled.append(record.fingerprint)
                continue
            # FIXING without a running attempt (nor an outcome to follow)
            store.transition(record.fingerprint, Status.FAILED, expected=[Status.FIXING],
                             reason=f"{LOST}: no running attempt")
            report.lost.append((record.fingerprint, attempt.number if attempt else 0, "FetchSource"))
            continue
        marker = pending_marker(attempt)
        if marker is not None and starter is not None and artifacts is not None \
                and (marker.duration_ms or 0) > SQS_MAX_DELAY_S * 1000 and due_at(marker) <= now:
            request = load_request(artifacts, marker)
            name = continuation_name(record, attempt.number,
                                     int((request.get("flow") or {}).get("continuations", 0)))
            execution = starter.start(name, request)
            mark_started(store, record.fingerprint, attempt.number, marker, execution)
            report.started.append(execution)
            continue
        alive = _owner_alive(record, attempt, policy, now)
        if alive is True:
            continue
        deadline = attempt_deadline(attempt, policy)
        if alive is None and now <= deadline:
            continue
        why = ("its process is gone" if alive is False
               else f"no sign of life since {last_sign_of_life(attempt).isoformat(timespec='seconds')}"
                    f" (deadline {deadline.isoformat(timespec='seconds')})")
        state = mark_lost(store, record, attempt, why, artifacts, now)
        if state is not None:
            report.lost.append((record.fingerprint, attempt.number, state))
    return report


def report_json(report: SweepReport) -> str:
    return json.dumps({"checked": report.checked, "lost": report.lost, "started": report.started,
                       "pruned_worktrees": report.pruned_worktrees,
                       "settled": report.settled})
