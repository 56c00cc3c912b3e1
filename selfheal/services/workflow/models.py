"""The payload that flows between the fix workflow's states, and each state's input model.

The payload holds artifact references and small scalars only (never source, prompts or model
output), so it stays far below the Step Functions 256 KB limit. Every Task receives the whole
payload and returns it updated; ``Catch`` adds ``failure`` (``ResultPath: $.failure``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from selfheal.errors import MalformedInput
from selfheal.services.workflow.flow import FlowControl

# The Task states, in workflow order (names are part of the interface: ASL, history, re-drive).
TASK_STATES: tuple[str, ...] = (
    "FetchSource", "BuildPrompt", "InvokeModel", "ValidatePatch", "CommitBranch",
    "OpenPullRequest", "MarkDone", "RecordAbstain", "RecordFailure", "ContinueFix",
)
# States a re-drive may resume from (the ASL ``ResumeAt`` choice jumps to them).
RESUMABLE_STATES: tuple[str, ...] = TASK_STATES[:7]
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

    # artifact names (``artifacts`` keys) and fields this state needs in its input
    requires_artifacts: ClassVar[tuple[str, ...]] = ()
    requires_fields: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _check_requirements(self) -> FixState:
        missing = [a for a in self.requires_artifacts if not self.artifacts.get(a)]
        missing += [f for f in self.requires_fields if getattr(self, f) in (None, "")]
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
    pass


class BuildPromptInput(FixState):
    requires_artifacts = ("context",)
    requires_fields = ("attempt", "revision")


class InvokeModelInput(FixState):
    requires_artifacts = ("context", "prompt")
    requires_fields = ("attempt",)


class ValidatePatchInput(FixState):
    requires_artifacts = ("context", "reply")
    requires_fields = ("attempt", "revision")


class CommitBranchInput(FixState):
    requires_artifacts = ("context", "proposal", "validation")
    requires_fields = ("attempt", "revision")


class OpenPullRequestInput(FixState):
    requires_artifacts = ("context", "proposal", "validation")
    requires_fields = ("attempt", "branch", "commit")


class MarkDoneInput(FixState):
    requires_fields = ("attempt", "branch", "pr_url")


class RecordAbstainInput(FixState):
    requires_fields = ("attempt",)


class RecordFailureInput(FixState):
    requires_fields = ("failure",)


class ContinueFixInput(FixState):
    requires_fields = ("attempt",)


INPUT_MODELS: dict[str, type[FixState]] = {
    "FetchSource": FetchSourceInput, "BuildPrompt": BuildPromptInput,
    "InvokeModel": InvokeModelInput, "ValidatePatch": ValidatePatchInput,
    "CommitBranch": CommitBranchInput, "OpenPullRequest": OpenPullRequestInput,
    "MarkDone": MarkDoneInput, "RecordAbstain": RecordAbstainInput,
    "RecordFailure": RecordFailureInput, "ContinueFix": ContinueFixInput,
}


def parse_input(state: str, event: Any) -> FixState:
    """Validate ``event`` as the input of ``state``; raise ``MalformedInput`` with the reason."""
    model = INPUT_MODELS[state]
    if not isinstance(event, dict):
        raise MalformedInput(f"{state} input must be a JSON object, got {type(event).__name__}")
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "input"
        raise MalformedInput(f"{state} input invalid at {where}: {first.get('msg')}") from None
