"""Lambda handler of the ``FetchSource`` state: validate the input model, run the step, return the
output model (the business logic is ``selfheal.services.workflow.steps.fetch_source``)."""

from __future__ import annotations

from typing import Any

from functions import _runtime
from selfheal.services.workflow.models import FetchSourceInput, parse_input
from selfheal.services.workflow.steps import fetch_source

STATE = "FetchSource"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    payload = parse_input(STATE, event)
    assert isinstance(payload, FetchSourceInput)
    return fetch_source(_runtime.services(), payload).to_payload()
