"""Lambda handler of the ``CommitBranch`` state: validate the input model, run the step, return the
output model (the business logic is ``selfheal.services.workflow.steps.commit_branch``)."""

from __future__ import annotations

from typing import Any

from functions import _runtime
from selfheal.services.workflow.models import CommitBranchInput, parse_input
from selfheal.services.workflow.steps import commit_branch

STATE = "CommitBranch"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    payload = parse_input(STATE, event)
    assert isinstance(payload, CommitBranchInput)
    return commit_branch(_runtime.services(), payload).to_payload()
