"""Lambda handler of the ``RecordFailure`` state: validate the input model, run the step, return the
output model (the business logic is ``selfheal.services.workflow.failure.record_failure``)."""

from __future__ import annotations

from typing import Any

from functions import _runtime
from selfheal.services.workflow.failure import record_failure
from selfheal.services.workflow.models import RecordFailureInput, parse_input

STATE = "RecordFailure"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    payload = parse_input(STATE, event)
    assert isinstance(payload, RecordFailureInput)
    return record_failure(_runtime.services(), payload).to_payload()
