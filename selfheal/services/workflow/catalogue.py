"""The state catalogue: every Task state of the fix workflow, defined once.

Each ``State`` names the ASL Task state, its input model, its step function, whether a re-drive
may resume there, and what it uses beyond the store and the artifacts (the AWS composition
builds exactly that for its Lambda, and the template grants exactly that; tests hold the ASL,
``template.yaml`` and ``functions/`` against this tuple). Registry, handler modules, recorder
step names and re-drive states all derive from it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from selfheal.errors import (
    AttemptFinished,
    ConcurrentUpdate,
    InvalidTransition,
    MalformedInput,
    RetryableError,
)
from selfheal.names import function_arn_substitution
from selfheal.services.workflow import steps
from selfheal.services.workflow.continuation import continue_fix, deferred
from selfheal.services.workflow.deps import WorkflowServices
from selfheal.services.workflow.failure import record_failure
from selfheal.services.workflow.flow import DEFERRABLE_STATES
from selfheal.services.workflow.models import (
    BuildPromptInput,
    CommitBranchInput,
    ContinueFixInput,
    FetchSourceInput,
    FixState,
    InvokeModelInput,
    MarkDoneInput,
    OpenPullRequestInput,
    RecordAbstainInput,
    RecordFailureInput,
    ValidatePatchInput,
    parse_input,
)
from selfheal.services.workflow.recorder import StepHandle
from selfheal.services.workflow.settle import settle_status

# What a state may use besides the store and the artifacts:
#   source     the repository (through the code host's API on AWS: the token),
#   code_host  branches and pull requests (the token),
#   model      the fix model (Bedrock on AWS),
#   parameters the non-secret settings bin/configure stored in SSM (repository, model id, ...).
Need = Literal["source", "code_host", "model", "parameters"]
StepFunction = Callable[[WorkflowServices, Any, StepHandle], FixState]


@dataclass(frozen=True)
class State:
    """One Task state of the fix workflow."""

    name: str
    input_model: type[FixState]
    step: StepFunction
    resumable: bool
    uses: frozenset[Need] = frozenset()

    @property
    def handler_module(self) -> str:
        """The module whose ``handler(event, context)`` is this state's Lambda entry point."""
        return "functions." + re.sub(r"(?<!^)(?=[A-Z])", "_", self.name).lower()

    @property
    def substitution(self) -> str:
        """The SAM ``DefinitionSubstitutions`` key of this state's function ARN."""
        return function_arn_substitution(self.name)

    @property
    def function_logical_id(self) -> str:
        """The state's Lambda in ``template.yaml``."""
        return f"{self.name}Function"

    @property
    def needs_token(self) -> bool:
        return bool(self.uses & {"source", "code_host"})


STATES: tuple[State, ...] = (
    State("FetchSource", FetchSourceInput, steps.fetch_source, True,
          frozenset({"source", "parameters"})),
    State("BuildPrompt", BuildPromptInput, steps.build_prompt, True),
    State("InvokeModel", InvokeModelInput, steps.invoke_model, True, frozenset({"model", "parameters"})),
    State("ValidatePatch", ValidatePatchInput, steps.validate_patch, True),
    State("CommitBranch", CommitBranchInput, steps.commit_branch, True,
          frozenset({"code_host", "parameters"})),
    State("OpenPullRequest", OpenPullRequestInput, steps.open_pull_request, True,
          frozenset({"source", "code_host", "parameters"})),
    State("MarkDone", MarkDoneInput, steps.mark_done, True),
    State("RecordAbstain", RecordAbstainInput, steps.record_abstain, False),
    State("RecordFailure", RecordFailureInput, record_failure, False),
    # Flow control: the fix goes on in a new execution (selfheal.services.workflow.continuation)
    State("ContinueFix", ContinueFixInput, continue_fix, False),
)

BY_NAME: dict[str, State] = {s.name: s for s in STATES}
STATE_NAMES: tuple[str, ...] = tuple(s.name for s in STATES)
RESUMABLE_STATES: tuple[str, ...] = tuple(s.name for s in STATES if s.resumable)


def state(name: str) -> State:
    """The catalogue entry of ``name`` (``KeyError`` for a name that is not a Task state)."""
    return BY_NAME[name]


# Task states after which the execution ends (a refused one has nothing left to stop).
FINAL_STATES = frozenset({"MarkDone", "RecordAbstain", "RecordFailure"})
REFUSED_KEY = "refused"  # in a refused final state's output: why nothing was done
_log = logging.getLogger(__name__)


def _settle(name: str, services: WorkflowServices, payload: FixState) -> str:
    """A refused final state may be the retry of one that finished its attempt and then failed
    to move the status (the attempt first, then the status): complete that (``settle_status``).
    What it did, for the refusal's message."""
    try:
        settled = settle_status(services.store, payload.fingerprint, payload.attempt,
                                payload.branch, payload.pr_url)
    except (ConcurrentUpdate, InvalidTransition):  # someone else moved it meanwhile
        return ""
    if settled:
        _log.warning("%s moved the error to the status of its finished attempt", name)
    return "; the error's status now follows the attempt's outcome" if settled else ""


def run_state(name: str, services: WorkflowServices, event: Any) -> dict[str, Any]:
    """Validate ``event`` as ``name``'s input, run its step inside its recorder step, return the
    payload for the next state: what every step handler does. A payload that names a state to
    resume from names a resumable one (else the ASL's ``ResumeAt`` would start over). A step of
    an attempt that is already finished is refused (``AttemptFinished``, logged; see above); a
    refused final state still completes the status of its finished attempt (``_settle``)."""
    entry = BY_NAME[name]
    payload = parse_input(name, entry.input_model, event)
    if name in DEFERRABLE_STATES:  # running again after a wait: the wait is spent
        payload.flow.wait_state = payload.flow.wait_seconds = payload.flow.wait_error = None
    try:
        with services.recorder.step(name, payload) as handle:  # records a deferral as retried
            result = entry.step(services, payload, handle)
    except AttemptFinished as exc:
        # A late or duplicate step (a zombie of a timed-out execution): nothing was written and
        # its work did not run. A final state ends its execution quietly, saying why; any other
        # raises, and the Catch ends in RecordFailure, refused the same way.
        _log.warning("%s refused: %s", name, exc)
        if name not in FINAL_STATES:
            raise
        return {**payload.to_payload(), REFUSED_KEY: f"{exc}{_settle(name, services, payload)}"}
    except RetryableError as exc:
        waiting = deferred(name, payload, exc)  # a rate limit: the ASL waits, then runs it again
        if waiting is None:
            raise
        return waiting.to_payload()
    if result.resume_from is not None and result.resume_from not in RESUMABLE_STATES:
        raise MalformedInput(f"{name} asks to resume at {result.resume_from!r}, which is not one of "
                             f"{', '.join(RESUMABLE_STATES)}")
    return result.to_payload()
