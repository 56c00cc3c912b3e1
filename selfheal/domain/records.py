"""The error record and its status machine.

One record per fingerprint. Status changes go through ``check_transition`` so every store
adapter enforces the same rules; stores make the change a conditional write on the status they
read, so two workers can never both move an error to ``FIXING``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from selfheal.domain.fingerprint import VERSION as FINGERPRINT_VERSION
from selfheal.domain.frame_ref import FrameRef
from selfheal.errors import AttemptFinished, InvalidTransition

SAMPLE_TRACE_MAX_BYTES = 8 * 1024
MESSAGE_MAX_CHARS = 1000


class Status(StrEnum):
    NEW = "NEW"
    QUEUED = "QUEUED"
    FIXING = "FIXING"
    PR_OPEN = "PR_OPEN"
    ABSTAINED = "ABSTAINED"
    FAILED = "FAILED"
    IGNORED = "IGNORED"
    RESOLVED = "RESOLVED"
    REGRESSED = "REGRESSED"


S = Status
ALLOWED_TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.NEW: frozenset({S.QUEUED, S.FIXING, S.IGNORED, S.RESOLVED}),
    S.QUEUED: frozenset({S.FIXING, S.IGNORED, S.RESOLVED, S.FAILED}),
    S.FIXING: frozenset({S.PR_OPEN, S.ABSTAINED, S.FAILED, S.IGNORED}),
    # PR_OPEN -> FAILED: a reviewer closed the fix PR without merging (selfheal.services.pr_sync).
    S.PR_OPEN: frozenset({S.RESOLVED, S.QUEUED, S.IGNORED, S.REGRESSED, S.FIXING, S.FAILED}),
    S.ABSTAINED: frozenset({S.QUEUED, S.FIXING, S.IGNORED, S.RESOLVED}),
    S.FAILED: frozenset({S.QUEUED, S.FIXING, S.IGNORED, S.RESOLVED}),
    S.IGNORED: frozenset({S.NEW, S.QUEUED, S.RESOLVED}),
    S.RESOLVED: frozenset({S.REGRESSED, S.QUEUED, S.IGNORED}),
    S.REGRESSED: frozenset({S.QUEUED, S.FIXING, S.IGNORED, S.RESOLVED}),
}
# Statuses from which a fix may (re)start.
STARTABLE = frozenset({S.NEW, S.QUEUED, S.REGRESSED, S.ABSTAINED, S.FAILED})
TERMINAL_FIX_OUTCOMES = frozenset({S.PR_OPEN, S.ABSTAINED, S.FAILED})


def check_transition(current: Status, new: Status) -> None:
    """Raise ``InvalidTransition`` unless ``current -> new`` is allowed."""
    if new not in ALLOWED_TRANSITIONS[current]:
        raise InvalidTransition(f"status {current} cannot change to {new}")


def check_running(fingerprint: str, attempt: int, outcome: str) -> None:
    """Raise ``AttemptFinished`` unless the attempt's ``outcome`` is still ``running`` (the rule of
    ``ErrorStore.record_step(..., only_running=True)``: a step may start only on a running attempt)."""
    if outcome != "running":
        raise AttemptFinished(f"attempt {attempt} of error {fingerprint} is finished ({outcome}); "
                              "a late or duplicate step is refused")


def utcnow() -> datetime:
    return datetime.now(UTC)


class StepRecord(BaseModel):
    """One workflow state's run within an attempt (the history that survives Express)."""

    state: str
    started_at: datetime
    finished_at: datetime | None = None
    duration_ms: int | None = None
    outcome: Literal["running", "succeeded", "failed", "retried"] = "running"
    error: str | None = None
    cause: str | None = None
    artifacts: dict[str, str] = Field(default_factory=dict)


class Attempt(BaseModel):
    """One run of the fix workflow for an error."""

    number: int
    execution: str | None = None
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    outcome: Literal["running", "pr_open", "abstained", "failed"] = "running"
    steps: list[StepRecord] = Field(default_factory=list)
    failed_state: str | None = None
    error: str | None = None
    cause: str | None = None
    reasons: list[str] = Field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


class Observation(BaseModel):
    """What ingest learned about one distinct error in one batch; the store merges it."""

    fingerprint: str
    fingerprint_version: str = FINGERPRINT_VERSION
    full_hash: str = ""
    exc_type: str
    message: str
    frames: list[FrameRef] = Field(default_factory=list)
    sample_trace: str = ""
    source: str = ""
    count: int = 1
    seen_at: datetime = Field(default_factory=utcnow)


class ErrorRecord(BaseModel):
    """The tracked state of one distinct error (fingerprint)."""

    fingerprint: str
    fingerprint_version: str = FINGERPRINT_VERSION
    full_hash: str = ""
    status: Status = Status.NEW
    status_reason: str | None = None
    count: int = 0
    first_seen: datetime = Field(default_factory=utcnow)
    last_seen: datetime = Field(default_factory=utcnow)
    exc_type: str = ""
    message: str = ""
    frames: list[FrameRef] = Field(default_factory=list)
    sample_trace: str = ""
    source: str = ""
    attempts: list[Attempt] = Field(default_factory=list)
    branch: str | None = None
    pr_url: str | None = None
    previous_pr_url: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def short_id(self) -> str:
        """The fingerprint prefix used in branch and execution names."""
        return self.fingerprint[:12]

    @property
    def location(self) -> str:
        """``file:function`` of the innermost in-app frame, or ``-``."""
        if not self.frames:
            return "-"
        f = self.frames[-1]
        return f"{f.file}:{f.line}" if f.line else f.file

    @property
    def current_attempt(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None


def cap_text(text: str, max_bytes: int = SAMPLE_TRACE_MAX_BYTES) -> str:
    """Cap ``text`` to ``max_bytes`` of UTF-8, keeping head and tail (the exception line is last)."""
    data = text.encode("utf-8", "replace")
    if len(data) <= max_bytes:
        return text
    half = (max_bytes - 40) // 2
    head = data[:half].decode("utf-8", "ignore")
    tail = data[-half:].decode("utf-8", "ignore")
    return f"{head}\n... [{len(data) - 2 * half} bytes cut] ...\n{tail}"
