"""Lambda handler of the ``MarkDone`` state: validate the input model, run the step, return the
output model (the business logic is ``selfheal.services.workflow.steps.mark_done``)."""

from __future__ import annotations

from typing import Any

from functions import _runtime
from selfheal.services.workflow.models import MarkDoneInput, parse_input
from selfheal.services.workflow.steps import mark_done

STATE = "MarkDone"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    payload = parse_input(STATE, event)
    assert isinstance(payload, MarkDoneInput)
    return mark_done(_runtime.services(), payload).to_payload()
