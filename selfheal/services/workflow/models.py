"""The payload that flows between the fix workflow's states, and each state's input model.

The payload holds artifact references and small scalars only (never source, prompts or model
output), so it stays far below the Step Functions 256 KB limit. Every Task receives the whole
payload and returns it updated; ``Catch`` adds ``failure`` (``ResultPath: $.failure``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError, model_validator

from selfheal.errors import MalformedInput
from selfheal.names import Artifact
from selfheal.services.workflow.flow import FlowControl

# The marker step a queued (AWS) re-drive request leaves on the attempt it re-drives.
REDRIVE_MARKER = "RedriveRequested"

Verdict = Literal["pending", "valid", "invalid", "abstain"]


class ExecutionRef(BaseModel):
    """The execution a payload belongs to (stamped by the ASL ``Start`` state)."""

    name: str = ""
    id: str = ""


class Failure(BaseModel):
    """What ``Catch`` put at ``$.failure``: the error class name and its cause."""

    Error: str = "States.Runtime"
    Cause: str = ""


class FixState(BaseModel):
    """The workflow payload."""

    fingerprint: str = Field(min_length=1)
    attempt: int | None = None
    execution: ExecutionRef | None = None
    resume_from: str | None = None
    redrive: bool = False  # a re-drive may open a new PR where the last one was closed unmerged
    revision: str | None = None
    base_branch: str | None = None
    round: int = 0
    max_rounds: int = 3
    verdict: Verdict = "pending"
    verified: bool = False
    artifacts: dict[str, str] = Field(default_factory=dict)
    reasons: list[str] = Field(default_factory=list)
    model_id: str | None = None
    branch: str | None = None
    commit: str | None = None
    pr_url: str | None = None
    failure: Failure | None = None
    continue_at: str | None = None  # a segment boundary: the state the next execution starts at
    flow: FlowControl = Field(default_factory=FlowControl)

    model_config = {"extra": "ignore"}

    # artifacts (``artifacts`` keys) this state needs in its input; required scalar fields are
    # declared non-Optional by each input model below
    requires_artifacts: ClassVar[tuple[Artifact, ...]] = ()

    @model_validator(mode="after")
    def _check_artifacts(self) -> FixState:
        missing = [str(a) for a in self.requires_artifacts if not self.artifacts.get(a)]
        if missing:
            raise ValueError(f"{type(self).__name__} needs {', '.join(missing)}")
        return self

    @property
    def execution_name(self) -> str | None:
        return self.execution.name if self.execution and self.execution.name else None

    def to_payload(self) -> dict[str, Any]:
        """The JSON payload for the next state. ``resume_from`` is dropped once the ``ResumeAt``
        choice used it; only ``FetchSource`` sets it anew (a queued re-drive, see
        ``selfheal.services.workflow.runner.request_redrive``)."""
        return self.model_dump(mode="json", exclude_none=True)


class FetchSourceInput(FixState):
    """A fresh start (fingerprint, maybe an attempt number) or a re-drive."""


class BuildPromptInput(FixState):
    requires_artifacts = (Artifact.CONTEXT,)
    attempt: int
    revision: str = Field(min_length=1)


class InvokeModelInput(FixState):
    requires_artifacts = (Artifact.CONTEXT, Artifact.PROMPT)
    attempt: int


class ValidatePatchInput(FixState):
    requires_artifacts = (Artifact.CONTEXT, Artifact.REPLY)
    attempt: int
    revision: str = Field(min_length=1)


class CommitBranchInput(FixState):
    requires_artifacts = (Artifact.CONTEXT, Artifact.PROPOSAL, Artifact.VALIDATION)
    attempt: int
    revision: str = Field(min_length=1)


class OpenPullRequestInput(FixState):
    requires_artifacts = (Artifact.CONTEXT, Artifact.PROPOSAL, Artifact.VALIDATION)
    attempt: int
    branch: str = Field(min_length=1)
    commit: str = Field(min_length=1)


class MarkDoneInput(FixState):
    attempt: int
    branch: str = Field(min_length=1)
    pr_url: str = Field(min_length=1)


class RecordAbstainInput(FixState):
    attempt: int


class RecordFailureInput(FixState):
    failure: Failure


class ContinueFixInput(FixState):
    attempt: int


M = TypeVar("M", bound=FixState)


def parse_input(state: str, model: type[M], event: Any) -> M:
    """Validate ``event`` as ``model`` (the input of ``state``); raise ``MalformedInput`` with
    the reason."""
    if not isinstance(event, dict):
        raise MalformedInput(f"{state} input must be a JSON object, got {type(event).__name__}")
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "input"
        raise MalformedInput(f"{state} input invalid at {where}: {first.get('msg')}") from None
