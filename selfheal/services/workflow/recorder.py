"""``StepRecorder``: every state's start, outcome, duration and artifact references, written to
the error record's current attempt. This is the execution history that survives Express
workflows (AWS does not let you describe an Express execution later) and that re-drive reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from selfheal.domain.records import STARTABLE, Status, StepRecord, check_running, utcnow
from selfheal.errors import ErrorNotFound, SelfhealError
from selfheal.names import Artifact
from selfheal.ports import ArtifactStore, ErrorStore
from selfheal.services.workflow.models import FixState

CAUSE_MAX_CHARS = 2000
# States that only write outcomes: they must not (re)open a fix.
_BOOKKEEPING_STATES = frozenset({"RecordFailure", "RecordAbstain", "ContinueFix"})


@dataclass
class StepHandle:
    """A running step: its state and attempt, the artifacts it stored so far (by name), and
    where to store more."""

    state: str
    fingerprint: str
    attempt: int
    started_at: datetime
    artifacts_store: ArtifactStore
    artifacts: dict[str, str] = field(default_factory=dict)

    def save_json(self, name: str, data: object) -> str:
        """Store ``data`` as the JSON artifact ``name`` of this attempt; return its reference."""
        return self.save_bytes(name, json_bytes(data))

    def save_text(self, name: str, text: str) -> str:
        return self.save_bytes(name, text.encode())

    def save_bytes(self, name: str, data: bytes) -> str:
        return self.artifacts_store.put_bytes(artifact_key(self.fingerprint, self.attempt, name), data)


def json_bytes(data: object) -> bytes:
    """How a JSON artifact is stored."""
    return json.dumps(data, ensure_ascii=False, default=str).encode()


def artifact_key(fingerprint: str, attempt: int, name: str) -> str:
    """The artifact key of ``name`` within an attempt (S3 key or relative path)."""
    return f"{fingerprint}/attempt-{attempt}/{name}"


class StepRecorder:
    """Records each state's run on ``ErrorStore`` (see module docstring)."""

    def __init__(self, store: ErrorStore, artifacts: ArtifactStore,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._artifacts = artifacts
        self._clock = clock

    def ensure_attempt(self, state_name: str, payload: FixState) -> int:
        """Make sure the payload's attempt exists on the record (a plain start input carries
        only the fingerprint and maybe a number) and the error is FIXING; set
        ``payload.attempt`` and return it. ``AttemptFinished`` (nothing written) when that
        attempt already has its outcome: a late or duplicate step Lambda, or a zombie of a
        timed-out execution, must not move a finished error back to FIXING."""
        record = self._store.get(payload.fingerprint)
        if record is None:
            raise ErrorNotFound(f"no error record for fingerprint {payload.fingerprint}")
        by_number = {a.number: a for a in record.attempts}
        attempt = payload.attempt
        appended = False
        if attempt is None or attempt not in by_number:
            if state_name in _BOOKKEEPING_STATES and record.attempts:
                attempt = record.attempts[-1].number
            else:
                attempt = self._store.start_attempt(payload.fingerprint, payload.execution_name).number
                appended = True
        payload.attempt = attempt
        if attempt in by_number:
            check_running(payload.fingerprint, attempt, by_number[attempt].outcome)
        # Starters (start_fix, the CLI) move the error to FIXING before its attempt exists; this
        # covers a bare start (a console "Start execution") that appended its own attempt. A
        # step of an existing attempt never reopens a fix (its attempt may be finishing now).
        if appended and state_name not in _BOOKKEEPING_STATES and record.status in STARTABLE:
            self._store.transition(payload.fingerprint, Status.FIXING, expected=[record.status],
                                   reason=f"fix workflow at {state_name}")
        return attempt

    @contextmanager
    def step(self, state_name: str, payload: FixState) -> Iterator[StepHandle]:
        """Record ``state_name`` running, then succeeded / retried / failed with its duration.

        The start is written only while the attempt is running (a conditional write: a step
        of a finished attempt raises ``AttemptFinished`` before its work runs). The step's
        input payload is stored as the artifact ``input``: a re-drive from this state starts
        from exactly that input. The artifact is stored first and the start record names it
        after, so a start record always names an input that exists: an interrupted local run
        fails the attempt at the state whose start it sees and is re-driven from that input at
        once. A step refused by the conditional write (its attempt finished in the moment since
        ``ensure_attempt`` looked) leaves only that unnamed input behind (retention removes it).

        The end record is an unconditional write of this step's own record: on an attempt that
        finished meanwhile (swept as lost while the step ran) it says how the step really ended,
        and changes nothing else (the attempt's outcome, failed state and the error's status
        stay what the sweeper wrote)."""
        attempt = self.ensure_attempt(state_name, payload)
        started = self._clock()
        stamp = started.strftime("%Y%m%dT%H%M%S%f")
        handle = StepHandle(state=state_name, fingerprint=payload.fingerprint, attempt=attempt,
                            started_at=started, artifacts_store=self._artifacts)
        key = artifact_key(payload.fingerprint, attempt, f"steps/{stamp}-{state_name}.input.json")
        blob = json_bytes(payload.model_dump(mode="json", exclude_none=True))
        handle.artifacts[Artifact.INPUT] = self._artifacts.put_bytes(key, blob)
        self._store.record_step(payload.fingerprint, attempt,
                                StepRecord(state=state_name, started_at=started,
                                           artifacts=dict(handle.artifacts)), only_running=True)
        payload.resume_from = None  # used by the ResumeAt choice that brought us here
        try:
            yield handle
        except Exception as exc:
            retryable = isinstance(exc, SelfhealError) and exc.retryable
            self._finish(payload, handle, "retried" if retryable else "failed",
                         error=type(exc).__name__, cause=str(exc)[:CAUSE_MAX_CHARS])
            raise
        self._finish(payload, handle, "succeeded")

    def _finish(self, payload: FixState, handle: StepHandle, outcome: str,
                error: str | None = None, cause: str | None = None) -> None:
        finished = self._clock()
        duration = int((finished - handle.started_at).total_seconds() * 1000)
        step = StepRecord(state=handle.state, started_at=handle.started_at, finished_at=finished,
                          duration_ms=duration, outcome=outcome,  # type: ignore[arg-type]
                          error=error, cause=cause, artifacts=dict(handle.artifacts))
        self._store.record_step(payload.fingerprint, handle.attempt, step)
