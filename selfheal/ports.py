"""The small interfaces we own. Adapters in ``selfheal.adapters`` implement them, one
technology per module; services depend only on these.

Every port has a contract test suite under ``tests/`` that runs against every adapter.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from selfheal.domain.capture import CapturedInput
from selfheal.domain.fixing import ModelReply, Prompt
from selfheal.domain.records import Attempt, ErrorRecord, Observation, Status, StepRecord


class ObserveResult(BaseModel):
    """What ``ErrorStore.observe`` did: created a record, or counted onto an existing one."""

    record: ErrorRecord
    created: bool
    previous_status: Status | None = None


@runtime_checkable
class ErrorStore(Protocol):
    """Persistent error records keyed by fingerprint. Counting is atomic; status changes are
    conditional writes that enforce ``selfheal.domain.records.ALLOWED_TRANSITIONS``."""

    def observe(self, obs: Observation) -> ObserveResult:
        """Create the record (status NEW) or add ``obs.count`` to it atomically."""
        ...

    def get(self, fingerprint: str) -> ErrorRecord | None: ...

    def list(self, status: Status | None = None, limit: int = 1000) -> list[ErrorRecord]: ...

    def find(self, prefix: str) -> builtins.list[str]:
        """Fingerprints starting with ``prefix``, sorted, at most 10 (for prefix look-ups). An id
        from before a fingerprint migration matches as the id of the record it was merged into."""
        ...

    def transition(
        self,
        fingerprint: str,
        to: Status,
        *,
        expected: Sequence[Status] | None = None,
        reason: str | None = None,
        fields: dict[str, Any] | None = None,
    ) -> ErrorRecord:
        """Move to ``to`` if the current status is in ``expected`` (default: any status allowed
        to reach ``to``). ``fields`` sets branch / pr_url / previous_pr_url atomically with it.
        Raises ``InvalidTransition``, ``ConcurrentUpdate`` or ``ErrorNotFound``."""
        ...

    def start_attempt(self, fingerprint: str, execution: str | None) -> Attempt:
        """Append a new attempt (number = previous + 1) and return it."""
        ...

    def record_step(self, fingerprint: str, attempt: int, step: StepRecord, *,
                    only_running: bool = False) -> None:
        """Insert or replace (by state name and start time) a step of an attempt. With
        ``only_running`` the write is conditional on the attempt's outcome still being
        ``running`` (``AttemptFinished`` otherwise, nothing written): a step's start."""
        ...

    def finish_attempt(self, fingerprint: str, attempt: int, *, only_running: bool = False,
                       **fields: Any) -> None:
        """Set outcome / failed_state / error / cause / reasons / finished_at on an attempt. With
        ``only_running`` the write is conditional on the attempt still running
        (``AttemptFinished`` otherwise, nothing written): the one outcome of an attempt is the
        first that is written (a workflow's final state, or the sweeper's ``lost``)."""
        ...

    def add_usage(self, fingerprint: str, attempt: int, tokens_in: int, tokens_out: int,
                  cost_usd: float) -> None:
        """Add token usage and cost to the attempt and the record totals."""
        ...

    def usage_since(self, since: datetime) -> float:
        """Total cost in USD recorded since ``since`` (for the per-day cap)."""
        ...

    def count_attempts_since(self, since: datetime) -> int:
        """Number of fix attempts started since ``since`` (for the per-hour cap)."""
        ...


@runtime_checkable
class InputStore(Protocol):
    """The failing inputs captured for an error (``selfheal.domain.capture``): the first few
    distinct ones, redacted and size-capped. Both error-store adapters implement it."""

    def add_inputs(self, fingerprint: str, inputs: Sequence[CapturedInput], keep: int) -> int:
        """Keep the first ``keep`` distinct inputs (by digest); return how many are kept now."""
        ...

    def inputs(self, fingerprint: str) -> list[CapturedInput]:
        """The kept inputs, first seen first (empty when none was captured)."""
        ...


class DeliveryLedger(Protocol):
    """Which log deliveries were already counted (occurrence identity on AWS: a retried or
    duplicated CloudWatch Logs delivery carries the same log stream and event ids)."""

    def claim(self, key: str) -> set[str] | None:
        """Claim delivery ``key``: None when it was already counted (skip it), else the
        fingerprints an earlier, failed try already wrote (empty for a first delivery)."""
        ...

    def fail(self, key: str, done: set[str]) -> None:
        """The claimed delivery failed after writing ``done``: a retry writes only the rest."""
        ...


class ArtifactStore(Protocol):
    """Blobs that workflow states hand to each other by reference (S3 on AWS, a folder locally)."""

    def put_bytes(self, key: str, data: bytes) -> str:
        """Store ``data`` under ``key``; return a reference string (``s3://...`` or a path)."""
        ...

    def reference(self, key: str, data: bytes) -> str:
        """The reference ``put_bytes(key, data)`` returns, without storing anything (a record
        may name an artifact before it is written: nothing is written for a refused step)."""
        ...

    def get_bytes(self, ref: str) -> bytes:
        """Raise ``ArtifactNotFound`` when nothing is stored at ``ref``."""
        ...


class SourceRepository(Protocol):
    """Read access to the service's source at a revision."""

    def default_branch(self) -> str: ...

    def resolve(self, ref: str | None = None) -> str:
        """Commit id of ``ref`` (default: the head of the default branch)."""
        ...

    def list_files(self, revision: str) -> list[str]:
        """Repository-relative POSIX paths of every file at ``revision``."""
        ...

    def read_file(self, path: str, revision: str) -> str | None:
        """Text of ``path`` at ``revision``; None when absent or not text."""
        ...

    def checkout(self, revision: str) -> AbstractContextManager[Path]:
        """A temporary directory holding the tree at ``revision``; removed on exit. The
        caller's working tree and checked-out branch are never touched."""
        ...


class PullRequest(BaseModel):
    """A pull request (or, locally, a branch plus a PR record)."""

    url: str
    number: int | None = None
    branch: str
    base: str
    title: str = ""
    state: Literal["open", "closed", "merged"] = "open"
    draft: bool = True
    created: bool = False  # False when an existing PR was found and updated
    labels: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)  # what went wrong around an open PR (labels)


class CodeHost(Protocol):
    """Branches, commits and pull requests."""

    def commit_branch(self, branch: str, base_revision: str, files: dict[str, str],
                      message: str) -> str:
        """Point ``branch`` at one new commit on ``base_revision`` writing ``files`` (path ->
        full new text). Re-running updates the same branch. Returns the commit id."""
        ...

    def find_pull_request(self, branch: str) -> PullRequest | None:
        """The newest pull request from ``branch``, open or not."""
        ...

    def open_pull_request(self, branch: str, base: str, title: str, body: str,
                          labels: Sequence[str] = (), draft: bool = True) -> PullRequest:
        """Open a PR, or update the open one for ``branch``. Never reopens a closed PR."""
        ...


class FixModel(Protocol):
    """Something that answers a prompt with text in the edit format: an LLM provider or the
    offline ``rules`` fixer."""

    @property
    def model_id(self) -> str: ...

    def complete(self, prompt: Prompt) -> ModelReply:
        """Raise ``ModelThrottled``/``ModelUnavailable`` for transient failures."""
        ...


class Secrets(Protocol):
    """Named secrets (SSM Parameter Store SecureString on AWS, env/config locally)."""

    def get(self, name: str) -> str | None: ...


class ExecutionInfo(BaseModel):
    """A workflow execution as the engine reports it."""

    execution_id: str
    name: str
    status: str  # RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    output: dict[str, Any] | None = None
    error: str | None = None
    cause: str | None = None


class WorkflowEngine(Protocol):
    """Runs ``statemachine/fix_error.asl.json``: moto's interpreter locally, Step Functions on AWS."""

    def start(self, name: str, payload: dict[str, Any]) -> str:
        """Start an execution called ``name``; return its id. A second start with the same
        name and payload is a no-op that returns the same id."""
        ...

    def describe(self, execution_id: str) -> ExecutionInfo: ...

    def history(self, execution_id: str) -> list[dict[str, Any]]:
        """Events in the Step Functions ``GetExecutionHistory`` format."""
        ...

    def wait(self, execution_id: str, timeout: float) -> ExecutionInfo:
        """Poll until the execution stops or ``timeout`` seconds pass."""
        ...

