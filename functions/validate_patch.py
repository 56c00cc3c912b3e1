"""Lambda handler of the ``ValidatePatch`` state: validate the input model, run the step, return the
output model (the business logic is ``selfheal.services.workflow.steps.validate_patch``)."""

from __future__ import annotations

from typing import Any

from functions import _runtime
from selfheal.services.workflow.models import ValidatePatchInput, parse_input
from selfheal.services.workflow.steps import validate_patch

STATE = "ValidatePatch"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    payload = parse_input(STATE, event)
    assert isinstance(payload, ValidatePatchInput)
    return validate_patch(_runtime.services(), payload).to_payload()
