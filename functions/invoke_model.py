"""Lambda handler of the ``InvokeModel`` state: validate the input model, run the step, return the
output model (the business logic is ``selfheal.services.workflow.steps.invoke_model``)."""

from __future__ import annotations

from typing import Any

from functions import _runtime
from selfheal.services.workflow.models import InvokeModelInput, parse_input
from selfheal.services.workflow.steps import invoke_model

STATE = "InvokeModel"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    payload = parse_input(STATE, event)
    assert isinstance(payload, InvokeModelInput)
    return invoke_model(_runtime.services(), payload).to_payload()
