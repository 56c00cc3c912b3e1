"""Hand-off from error records to fix executions: which changes queue a fix, and starting one.

AWS: the table's stream -> ``decide`` (dispatch Lambda) -> SQS -> ``FixStarter.start``
(start_fix Lambda) -> Step Functions. Locally: ``IngestReport.to_fix`` -> ``LocalDispatcher``
(an in-process queue) -> the same ``FixStarter`` -> the local workflow engine.

Starting is safe against duplicate delivery and crashes. The order is: (1) conditional status
change to FIXING (the claim: only one worker wins), (2) ``start_attempt`` (attempt ``n``),
(3) start the execution named ``<fingerprint[:12]>-<n>`` (an existing one counts as started),
(4) record the execution id on the attempt. A redelivered request finds FIXING and finishes
whatever step is missing; one whose start is complete is a no-op. A start younger than
``IN_FLIGHT_GRACE`` that looks incomplete may still be running in another worker: the request
is deferred (``FixDeferred``, retried later) instead of racing it.

The same ``FixStarter`` starts every fix: the queue's requests (start_fix Lambda), the local
dispatcher (``selfheal watch``, the demo) and a person's ``selfheal fix`` (reason ``manual``,
optionally ``force`` to replace a run left FIXING by a killed process).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from selfheal.domain.fingerprint_migration import MergedRecord
from selfheal.domain.records import STARTABLE, Attempt, ErrorRecord, Status, utcnow
from selfheal.errors import (
    AttemptFinished,
    ConcurrentUpdate,
    ErrorNotFound,
    FixDeferred,
    InvalidTransition,
    MalformedInput,
)
from selfheal.names import execution_name
from selfheal.ports import ErrorStore
from selfheal.services.policy import EXPECTED_STATUS, EnqueueReason, Policy

IN_FLIGHT_GRACE = timedelta(seconds=60)
HOUR = timedelta(hours=1)


# Why a fix starts: a queued reason (``EnqueueReason``), or a person asked for it.
StartReason = Literal["new", "redrive", "regressed", "manual"]
# Statuses a person may start a fix from (a PR_OPEN error may be fixed again).
MANUAL_STARTABLE = frozenset(STARTABLE | {Status.PR_OPEN})


class FixRequest(BaseModel):
    """The queue message body: ``{"fingerprint": ..., "reason": "new|redrive|regressed"}``
    (``manual`` for a start a person asked for)."""

    model_config = ConfigDict(extra="ignore")
    fingerprint: str = Field(pattern=r"^[0-9a-f]{8,64}$")
    reason: StartReason

    def body(self) -> str:
        return self.model_dump_json()


def parse_fix_request(body: str | bytes | None) -> FixRequest:
    """Validate a queue message body; ``MalformedInput`` (a poison message) otherwise."""
    try:
        return FixRequest.model_validate(json.loads(body or ""))
    except (ValueError, ValidationError) as exc:
        raise MalformedInput(f"not a fix request: {str(body)[:200]!r}") from exc


def decide(policy: Policy, old: ErrorRecord | None, new: ErrorRecord | None,
           merged_from: Sequence[MergedRecord] | None = None) -> FixRequest | None:
    """The fix request a record change calls for (see ``Policy.enqueue_reason``), or None.

    ``merged_from``: the change is a fingerprint migration's write of a merged record (the
    records it merged, as they were). A record that called for a fix itself had its request
    sent under its own id (``start`` follows the alias), so the merge queues nothing; only a
    merge that brings the error to ``min_occurrences`` (no record did alone) queues ``new``."""
    if merged_from is not None and new is not None:
        if any(policy.enqueue_reason(None, new.model_copy(update={"status": r.status, "count": r.count}))
               for r in merged_from):
            return None
        old = None  # the merged record is judged as a record that appears now
    reason = policy.enqueue_reason(old, new)
    if reason is None or new is None:
        return None
    return FixRequest(fingerprint=new.fingerprint, reason=reason)


class ExecutionStarter(Protocol):
    """Starts a workflow execution by name (``WorkflowEngine.start`` has this shape). Starting a
    name that already exists must return that execution's id, not start a second one."""

    def start(self, name: str, payload: dict[str, Any]) -> str: ...


StartAction = Literal["started", "resumed", "duplicate", "stale"]


@dataclass(frozen=True)
class StartOutcome:
    """What ``FixStarter.start`` did for one request."""

    fingerprint: str
    action: StartAction
    attempt: int | None = None
    execution: str | None = None
    detail: str = ""


class FixStarter:
    """The start-fix service (see module docstring for the ordering)."""

    def __init__(self, store: ErrorStore, starter: ExecutionStarter, policy: Policy,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.starter = starter
        self.policy = policy
        self.clock = clock

    def start(self, request: FixRequest, *, force: bool = False,
              payload: dict[str, Any] | None = None) -> StartOutcome:
        """Start (or finish starting) a fix. Raises ``ErrorNotFound`` for an unknown error and
        ``FixDeferred`` when the hourly cap is reached or another worker is mid-start.

        A ``manual`` request starts from any of ``MANUAL_STARTABLE`` and raises
        ``InvalidTransition`` otherwise; ``force`` first marks a run left FIXING as failed and
        skips the hourly cap. ``payload`` is merged into the execution input (a re-drive's)."""
        fp = request.fingerprint
        manual = request.reason == "manual"
        for _ in range(3):
            rec = self.store.get(fp)
            if rec is None:
                raise ErrorNotFound(f"no error {fp}")
            fp = rec.fingerprint  # an id from before a fingerprint migration: its merged record
            if rec.status == Status.FIXING and force:
                self._replace_running(rec)
                continue
            if rec.status == Status.FIXING and not manual:
                return self._continue(rec, payload)
            if manual and rec.status not in MANUAL_STARTABLE:
                hint = " (a run that was killed? use --force)" if rec.status == Status.FIXING else ""
                raise InvalidTransition(f"error {rec.short_id} is {rec.status}; a fix starts from "
                                        f"{', '.join(sorted(STARTABLE))} or PR_OPEN{hint}")
            if not manual and rec.status != EXPECTED_STATUS[request.reason]:
                return StartOutcome(fp, "stale", detail=f"{request.reason} request but error is {rec.status}")
            started = self.store.count_attempts_since(self.clock() - HOUR)
            if not force and self.policy.cap_reached(started):
                raise FixDeferred(f"{started} fixes started in the last hour "
                                  f"(cap {self.policy.max_fixes_per_hour}); {fp} waits")
            try:
                self.store.transition(fp, Status.FIXING, expected=[rec.status],
                                      reason=f"fix started ({request.reason})")
            except ConcurrentUpdate:
                continue  # someone changed it between our read and write: look again
            attempt = self.store.start_attempt(fp, None)
            return self._launch(fp, attempt, "started", payload)
        raise FixDeferred(f"error {fp} keeps changing; retry later")

    def _replace_running(self, rec: ErrorRecord) -> None:
        """A forced start: the run left FIXING is marked failed, and the error FAILED."""
        current = rec.current_attempt
        if current is not None:
            abandon(self.store, rec.fingerprint, current.number, "Abandoned",
                    "a forced start replaced this run")
        fresh = self.store.get(rec.fingerprint) or rec
        if fresh.status == Status.FIXING:
            self.store.transition(rec.fingerprint, Status.FAILED, expected=[Status.FIXING],
                                  reason="a forced start replaced this run")

    def _continue(self, rec: ErrorRecord, payload: dict[str, Any] | None = None) -> StartOutcome:
        """The record is FIXING: a duplicate, or a start that stopped part-way."""
        fp = rec.fingerprint
        att = rec.current_attempt
        now = self.clock()
        if att is not None and att.outcome == "running" and att.execution:
            return StartOutcome(fp, "duplicate", att.number, att.execution, "fix already running")
        if att is not None and att.outcome == "running":
            if now - att.started_at < IN_FLIGHT_GRACE:
                raise FixDeferred(f"attempt {att.number} of {fp} is being started; retry later")
            return self._launch(fp, att, "resumed", payload)
        if now - rec.updated_at < IN_FLIGHT_GRACE:
            raise FixDeferred(f"a fix of {fp} is being started; retry later")
        attempt = self.store.start_attempt(fp, None)
        return self._launch(fp, attempt, "resumed", payload)

    def _launch(self, fp: str, attempt: Attempt, action: StartAction,
                payload: dict[str, Any] | None = None) -> StartOutcome:
        name = execution_name(fp, attempt.number)
        body = {**(payload or {}), "fingerprint": fp, "attempt": attempt.number}
        execution = self.starter.start(name, body)
        self.store.finish_attempt(fp, attempt.number, execution=execution)
        return StartOutcome(fp, action, attempt.number, execution)


def abandon(store: ErrorStore, fingerprint: str, number: int, error: str, cause: str) -> None:
    """Mark a still-running attempt failed at its running state and the error FAILED."""
    record = store.get(fingerprint)
    att = next((a for a in record.attempts if a.number == number), None) if record else None
    if record is None or att is None or att.outcome != "running":
        return
    running = [s for s in att.steps if s.outcome in ("running", "retried")]
    state = running[-1].state if running else (att.steps[-1].state if att.steps else "Start")
    try:  # conditional: an outcome written since the check above stays
        store.finish_attempt(fingerprint, number, only_running=True, outcome="failed",
                             failed_state=state, error=error, cause=cause, finished_at=utcnow())
    except AttemptFinished:
        return
    if record.status == Status.FIXING:
        store.transition(fingerprint, Status.FAILED, expected=[Status.FIXING],
                         reason=f"{state}: {error}: {cause}"[:1000])


@dataclass
class LocalDispatcher:
    """The local in-process queue: fingerprints whose fix should start, started in order.

    Requests deferred by the hourly cap stay queued for a later ``drain``.
    """

    fix_starter: FixStarter
    pending: list[FixRequest] = field(default_factory=list)

    def submit(self, fingerprint: str, reason: EnqueueReason = "new") -> None:
        if not any(r.fingerprint == fingerprint for r in self.pending):
            self.pending.append(FixRequest(fingerprint=fingerprint, reason=reason))

    def submit_report(self, report: Any) -> None:
        """Queue every ``to_fix`` entry of an ``IngestReport``."""
        for fp in report.to_fix:
            self.submit(fp, report.reasons.get(fp, "new"))

    def collect_queued(self) -> int:
        """Queue errors a person re-drove (QUEUED) or that regressed; returns how many."""
        before = len(self.pending)
        store = self.fix_starter.store
        for status, reason in ((Status.QUEUED, "redrive"), (Status.REGRESSED, "regressed")):
            for rec in store.list(status):
                self.submit(rec.fingerprint, reason)  # type: ignore[arg-type]
        return len(self.pending) - before

    def drain(self) -> list[StartOutcome]:
        """Start every pending fix until the queue is empty or the cap defers one."""
        outcomes: list[StartOutcome] = []
        while self.pending:
            request = self.pending[0]
            try:
                outcomes.append(self.fix_starter.start(request))
            except FixDeferred:
                break
            except ErrorNotFound:
                pass
            self.pending.pop(0)
        return outcomes
