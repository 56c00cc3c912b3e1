"""State name -> step function and Lambda handler module (names match the ASL Task states)."""

from __future__ import annotations

from collections.abc import Callable

from selfheal.services.workflow import steps
from selfheal.services.workflow.continuation import continue_fix, deferrable
from selfheal.services.workflow.deps import WorkflowServices
from selfheal.services.workflow.failure import record_failure
from selfheal.services.workflow.models import FixState

StepFunction = Callable[[WorkflowServices, FixState], FixState]

STEP_FUNCTIONS: dict[str, StepFunction] = {
    "FetchSource": steps.fetch_source,
    "BuildPrompt": steps.build_prompt,
    "InvokeModel": deferrable("InvokeModel", steps.invoke_model),
    "ValidatePatch": steps.validate_patch,
    "CommitBranch": deferrable("CommitBranch", steps.commit_branch),
    "OpenPullRequest": deferrable("OpenPullRequest", steps.open_pull_request),
    "MarkDone": steps.mark_done,
    "RecordAbstain": steps.record_abstain,
    "RecordFailure": record_failure,
    "ContinueFix": continue_fix,
}

# state -> "module" whose ``handler(event, context)`` is the Lambda entry point
HANDLER_MODULES: dict[str, str] = {
    "FetchSource": "functions.fetch_source",
    "BuildPrompt": "functions.build_prompt",
    "InvokeModel": "functions.invoke_model",
    "ValidatePatch": "functions.validate_patch",
    "CommitBranch": "functions.commit_branch",
    "OpenPullRequest": "functions.open_pull_request",
    "MarkDone": "functions.mark_done",
    "RecordAbstain": "functions.record_abstain",
    "RecordFailure": "functions.record_failure",
    "ContinueFix": "functions.continue_fix",
}


def substitution_name(state: str) -> str:
    """The SAM ``DefinitionSubstitutions`` key of a Task state's function ARN."""
    return f"{state}FunctionArn"
