"""Lambda handler of the ``RecordAbstain`` state: validate the input model, run the step, return the
output model (the business logic is ``selfheal.services.workflow.steps.record_abstain``)."""

from __future__ import annotations

from typing import Any

from functions import _runtime
from selfheal.services.workflow.models import RecordAbstainInput, parse_input
from selfheal.services.workflow.steps import record_abstain

STATE = "RecordAbstain"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    payload = parse_input(STATE, event)
    assert isinstance(payload, RecordAbstainInput)
    return record_abstain(_runtime.services(), payload).to_payload()
