"""Lambda handler of the ``BuildPrompt`` state: validate the input model, run the step, return the
output model (the business logic is ``selfheal.services.workflow.steps.build_prompt``)."""

from __future__ import annotations

from typing import Any

from functions import _runtime
from selfheal.services.workflow.models import BuildPromptInput, parse_input
from selfheal.services.workflow.steps import build_prompt

STATE = "BuildPrompt"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    payload = parse_input(STATE, event)
    assert isinstance(payload, BuildPromptInput)
    return build_prompt(_runtime.services(), payload).to_payload()
