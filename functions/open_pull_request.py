"""Lambda handler of the ``OpenPullRequest`` state: validate the input model, run the step, return the
output model (the business logic is ``selfheal.services.workflow.steps.open_pull_request``)."""

from __future__ import annotations

from typing import Any

from functions import _runtime
from selfheal.services.workflow.models import OpenPullRequestInput, parse_input
from selfheal.services.workflow.steps import open_pull_request

STATE = "OpenPullRequest"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    payload = parse_input(STATE, event)
    assert isinstance(payload, OpenPullRequestInput)
    return open_pull_request(_runtime.services(), payload).to_payload()
